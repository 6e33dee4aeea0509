import assert from "node:assert/strict";
import { isPrivateAddress, webhookTargetWarning } from "./webhook_target.ts";

Deno.test("private: loopback, RFC 1918, CGNAT, link-local, ULA, unspecified, mapped v4; public: unicast", () => {
  const priv = ["127.0.0.1", "10.0.0.1", "172.31.255.1", "192.168.0.10", "100.100.0.1", "169.254.169.254", "0.0.0.0"];
  for (const ip of [...priv, "::1", "fc00::1", "fd12::1", "fe80::1", "::", "::ffff:192.168.1.1"]) {
    assert.equal(isPrivateAddress(ip), true, ip);
  }
  for (const ip of ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"]) {
    assert.equal(isPrivateAddress(ip), false, ip);
  }
});

Deno.test("the warning needs every address private; an unknown name warns; a runtime without DNS says nothing", async () => {
  const url = "https://fn.example.com/functions/v1/chatwoot-webhook/x";
  assert.equal(await webhookTargetWarning(url, () => Promise.resolve(["10.0.0.1", "93.184.216.34"])), null);
  assert.match(
    (await webhookTargetWarning(url, () => Promise.resolve(["10.0.0.1"]))) ?? "",
    /resolves only to private addresses \(10\.0\.0\.1\)/,
  );
  assert.match((await webhookTargetWarning(url, () => Promise.resolve([]))) ?? "", /does not resolve from here/);
  assert.equal(await webhookTargetWarning(url, () => Promise.resolve(null)), null);
  assert.match((await webhookTargetWarning("http://[::1]:54321/functions/v1")) ?? "", /\(::1\)/);
});
