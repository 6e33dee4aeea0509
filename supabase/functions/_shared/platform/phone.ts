// Phone numbers as people write them and as WhatsApp reports them, reduced to one E.164 form so
// a contact's number matches a user's profile. libphonenumber-js does the parsing; two national
// quirks are folded in on top: Brazil's added 9th mobile digit (WhatsApp ids often lack it) and
// Mexico's retired mobile "1" after +52 (old numbers and some WhatsApp ids still carry it).

import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js";

/** Canonical E.164 for a phone number, a WhatsApp id ("5511987654321") or a Twilio source id
 * ("whatsapp:+5511987654321"); null when it is not a valid number. */
export function normalizePhoneE164(raw: string | null | undefined, defaultCountry?: CountryCode): string | null {
  if (!raw) return null;
  let text = raw.trim().replace(/^whatsapp:/i, "");
  // A bare run of 10+ digits is an international number without its "+" (WhatsApp ids).
  if (/^\d{10,15}$/.test(text) && !defaultCountry) text = `+${text}`;
  const parsed = parsePhoneNumberFromString(text, defaultCountry);
  if (!parsed) return null;
  if (parsed.isValid()) return parsed.number;
  const digits = parsed.number.slice(1);
  // Mexico: +52 1 XX XXXX XXXX → +52 XX XXXX XXXX
  if (digits.startsWith("521") && digits.length === 13) return validOrNull(`+52${digits.slice(3)}`);
  // Brazil: +55 AA NNNN NNNN (8-digit mobile) → +55 AA 9NNNN NNNN
  if (digits.startsWith("55") && digits.length === 12 && /[6-9]/.test(digits[4])) {
    return validOrNull(`+55${digits.slice(2, 4)}9${digits.slice(4)}`);
  }
  return null;
}

function validOrNull(e164: string): string | null {
  const p = parsePhoneNumberFromString(e164);
  return p?.isValid() ? p.number : null;
}

/** Every E.164 spelling of the same person's number, canonical first: what a profile written
 * in an older form could contain. */
export function phoneVariants(canonical: string): string[] {
  const digits = canonical.replace(/^\+/, "");
  const out = [canonical];
  if (digits.startsWith("52") && digits.length === 12) out.push(`+521${digits.slice(2)}`);
  if (digits.startsWith("55") && digits.length === 13 && digits[4] === "9") {
    out.push(`+55${digits.slice(2, 4)}${digits.slice(5)}`);
  }
  return out;
}
