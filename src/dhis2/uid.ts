import { createHash, randomBytes } from 'node:crypto';

/** A DHIS2 UID: 11 letters or digits, the first a letter (core `CodeGenerator`, `UID_CODE_SIZE = 11`). */
export const UID_PATTERN = /^[a-zA-Z][a-zA-Z0-9]{10}$/;

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALPHANUMERIC = `${LETTERS}0123456789`;

/** True when `value` is a well-formed DHIS2 UID. `isUid('s53RFfXA75f') === true`, `isUid('1abc') === false`. */
export function isUid(value: unknown): value is string {
  return typeof value === 'string' && UID_PATTERN.test(value);
}

/**
 * A new random DHIS2 UID from the crypto RNG. Jibu makes event and note uids itself so that a retried
 * import re-sends the same uid and can never create a duplicate (docs/dhis2.md#uids).
 *
 * @example newUid() // 'qR3kT0aZp9L'
 */
export function newUid(): string {
  let out = '';
  while (out.length < 11) {
    // Rejection sampling keeps every character uniformly likely (256 is not a multiple of 52 or 62).
    for (const byte of randomBytes(16)) {
      const alphabet = out.length === 0 ? LETTERS : ALPHANUMERIC;
      const limit = 256 - (256 % alphabet.length);
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === 11) break;
    }
  }
  return out;
}

/**
 * A UID from a caller-supplied random source returning floats in [0, 1): seeded generators make
 * deterministic demo data.
 */
export function uidFromRandom(random: () => number): string {
  let out = LETTERS[Math.floor(random() * LETTERS.length)] ?? 'a';
  for (let i = 1; i < 11; i++) out += ALPHANUMERIC[Math.floor(random() * ALPHANUMERIC.length)] ?? '0';
  return out;
}

/**
 * A stable UID derived from a key (SHA-256): the same key always gives the same uid, e.g. a note uid
 * derived from an outbox job id, so a retried batch re-sends the note DHIS2 already has (E1119).
 *
 * @example uidFromKey('dhis2:JB-7K3Q:note') === uidFromKey('dhis2:JB-7K3Q:note')
 */
export function uidFromKey(key: string): string {
  const digest = createHash('sha256').update(key).digest();
  let out = LETTERS[digest[0]! % LETTERS.length]!;
  for (let i = 1; i < 11; i++) out += ALPHANUMERIC[digest[i]! % ALPHANUMERIC.length]!;
  return out;
}
