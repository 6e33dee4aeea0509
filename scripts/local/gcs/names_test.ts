import assert from "node:assert/strict";
import { bucketNameProblem, compareNames, objectNameProblem } from "./names.ts";

Deno.test("bucket names follow GCS's rules", () => {
  for (const ok of ["abc", "a-b_c.d", "0bucket", "a".repeat(63), `${"a".repeat(63)}.${"b".repeat(63)}.example`]) {
    assert.equal(bucketNameProblem(ok), undefined, ok);
  }
  const bad: [string, RegExp][] = [
    ["ab", /shorter/],
    ["a".repeat(64), /longer than 63/],
    [`${"a".repeat(64)}.com`, /component/],
    ["Abc", /lowercase/],
    ["_abc", /starting and ending/],
    ["abc.", /empty|starting and ending/],
    ["10.0.0.1", /IP address/],
    ["goog-stuff", /goog/],
    ["my-google-files", /google/],
    ["my-g00gle-files", /google/],
    ["a..b", /empty/],
  ];
  for (const [name, why] of bad) assert.match(bucketNameProblem(name) ?? "", why, name);
});

Deno.test("object names: 1–1024 UTF-8 bytes, no CR/LF, not . or .., no ACME challenge prefix", () => {
  assert.equal(objectNameProblem("folder/ü file (1).jpg"), undefined);
  assert.equal(objectNameProblem(""), "empty");
  assert.match(objectNameProblem("é".repeat(513)) ?? "", /1024 bytes/);
  assert.match(objectNameProblem("a\nb") ?? "", /line feed/);
  assert.match(objectNameProblem("..") ?? "", /"\."/);
  assert.match(objectNameProblem(".well-known/acme-challenge/x") ?? "", /acme/);
});

Deno.test("names sort by code point, as GCS lists them (UTF-8 byte order)", () => {
  const names = ["b", "a/b", "a", "\u{1F600}", "\uFFFD", "a-b", "A"];
  assert.deepEqual(names.sort(compareNames), ["A", "a", "a-b", "a/b", "b", "\uFFFD", "\u{1F600}"]);
});
