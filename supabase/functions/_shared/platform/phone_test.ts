// One person, one number: the spellings WhatsApp, Twilio and people use all reduce to one E.164.

import assert from "node:assert/strict";
import { normalizePhoneE164, phoneVariants } from "./phone.ts";

Deno.test("E.164 from phone numbers, WhatsApp ids and Twilio source ids", () => {
  assert.equal(normalizePhoneE164("+5511987654321"), "+5511987654321");
  assert.equal(normalizePhoneE164("5511987654321"), "+5511987654321", "a wa_id has no +");
  assert.equal(normalizePhoneE164("whatsapp:+14155550101"), "+14155550101");
  assert.equal(normalizePhoneE164("(415) 555-0101", "US"), "+14155550101");
  assert.equal(normalizePhoneE164("+44 7700 900123"), null, "a reserved drama number is not valid");
  assert.equal(normalizePhoneE164("not a phone"), null);
  assert.equal(normalizePhoneE164(""), null);
  assert.equal(normalizePhoneE164(null), null);
});

Deno.test("Brazil's 9th digit and Mexico's +52 1 are the same person", () => {
  assert.equal(normalizePhoneE164("+551187654321"), "+5511987654321", "BR mobile without the 9th digit");
  assert.equal(normalizePhoneE164("551187654321"), "+5511987654321", "… as a WhatsApp id");
  assert.equal(normalizePhoneE164("+5215512345678"), "+525512345678", "MX with the retired mobile 1");
  assert.equal(normalizePhoneE164("5215512345678"), "+525512345678");
  assert.equal(normalizePhoneE164("+525512345678"), "+525512345678");
  assert.deepEqual(phoneVariants("+5511987654321"), ["+5511987654321", "+551187654321"]);
  assert.deepEqual(phoneVariants("+525512345678"), ["+525512345678", "+5215512345678"]);
  assert.deepEqual(phoneVariants("+14155550101"), ["+14155550101"]);
});

Deno.test("a Brazilian landline is not given a 9th digit", () => {
  // 8-digit numbers starting 2-5 are landlines: valid as they are, and never rewritten.
  assert.equal(normalizePhoneE164("+551133334444"), "+551133334444");
});
