import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/** Longer than any dialled form of an E.164 number with spacing; anything beyond is not a phone number. */
const MAX_RAW_LENGTH = 40;
/** Spacing people and providers put inside numbers: spaces (incl. NBSP), dashes, dots, parentheses, slashes. */
const SEPARATORS = /[\s\u00a0\u2000-\u200b\u202f\-\u2010-\u2015.()/]/g;

/**
 * Normalise a phone number to E.164, or null when it cannot be read as one.
 *
 * Accepts `+254711000111`, `00254711000111`, `254711000111` (country code without plus),
 * national `0711 000-111` (read with `defaultCountry`), with spaces, dashes, dots or parentheses.
 * A number in national form must be valid for its country; a number written internationally only
 * has to be possible, so a new number range missing from the bundled metadata still gets through.
 *
 * @example normalizePhone('0711 000-111', 'KE') // '+254711000111'
 * @example normalizePhone('hello', 'KE')        // null
 */
export function normalizePhone(raw: unknown, defaultCountry?: string): string | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_RAW_LENGTH) return null;
  // Every USSD hop carries the caller's number; parsing it with the metadata costs more than the rest of
  // the adapter, and the same few numbers repeat hop after hop.
  const key = `${defaultCountry ?? ''}|${raw}`;
  const hit = phoneCache.get(key);
  if (hit !== undefined) return hit;
  const value = normalizeUncached(raw, defaultCountry);
  if (phoneCache.size >= 50_000) phoneCache.clear();
  phoneCache.set(key, value);
  return value;
}

const phoneCache = new Map<string, string | null>();

function normalizeUncached(raw: string, defaultCountry?: string): string | null {
  let compact = raw.trim().replace(SEPARATORS, '');
  if (compact.startsWith('00')) compact = `+${compact.slice(2)}`;
  if (!/^\+?\d{4,17}$/.test(compact)) return null;

  const country: CountryCode | undefined =
    defaultCountry !== undefined && isSupportedCountry(defaultCountry.toUpperCase())
      ? (defaultCountry.toUpperCase() as CountryCode)
      : undefined;

  if (compact.startsWith('+')) {
    const parsed = parsePhoneNumberFromString(compact);
    return parsed !== undefined && (parsed.isValid() || parsed.isPossible()) ? parsed.number : null;
  }
  if (country !== undefined) {
    const national = parsePhoneNumberFromString(compact, country);
    if (national?.isValid()) return national.number;
  }
  // `254711000111`: a country code without its plus, as some aggregators send it.
  const international = parsePhoneNumberFromString(`+${compact}`);
  return international?.isValid() ? international.number : null;
}

/**
 * Mask a phone number for logs: the country code and the first national digit stay, so operators can
 * still tell networks apart, and the last two digits stay, so a person can recognise their own number.
 *
 * @example maskPhone('+254712345689') // '+2547******89'
 */
export function maskPhone(e164: string): string {
  const parsed = typeof e164 === 'string' ? parsePhoneNumberFromString(e164) : undefined;
  if (parsed === undefined) {
    // Not a number we understand (a short code, garbage): reveal at most the last two characters.
    if (typeof e164 !== 'string' || e164.length <= 4) return '****';
    return `${'*'.repeat(Math.min(e164.length - 2, 12))}${e164.slice(-2)}`;
  }
  const prefix = `+${parsed.countryCallingCode}${parsed.nationalNumber.slice(0, 1)}`;
  const hidden = Math.max(parsed.number.length - prefix.length - 2, 1);
  return `${prefix}${'*'.repeat(hidden)}${parsed.number.slice(-2)}`;
}
