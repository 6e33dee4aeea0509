// The reading of text shared by embeddings and the test chat model: accents, stopwords and the light stemmer.

import assert from "node:assert/strict";
import { contentStems, estimateTokens, normalizeText, stem } from "./text_features.ts";

Deno.test("plurals and -ing/-ed forms of a word share a stem, in English, Spanish and Portuguese", () => {
  const same: [string, string][] = [
    ["shipping", "ships"],
    ["shipped", "ship"],
    ["policies", "policy"],
    ["boxes", "box"],
    ["envios", "envio"],
    ["horas", "hora"],
    ["meses", "mes"],
  ];
  for (const [a, b] of same) assert.equal(stem(a), stem(b), `${a} ~ ${b}`);
  for (const kept of ["business", "status", "analysis", "bus", "2024s"]) assert.equal(stem(kept), kept);
});

Deno.test("accents, case and function words do not count", () => {
  assert.equal(normalizeText("Envíos ÁGILES São"), "envios agiles sao");
  assert.deepEqual(contentStems("How long does shipping take?"), ["long", "ship", "take"]);
  assert.deepEqual(contentStems("¿Cuánto tardan los envíos?"), ["tardan", "envio"]);
  assert.deepEqual(contentStems("Quanto tempo demora a entrega?"), ["tempo", "demora", "entrega"]);
});

Deno.test("token counts are words × 1.3 rounded up", () => {
  assert.equal(estimateTokens("one two three"), 4);
  assert.equal(estimateTokens("  "), 0);
});
