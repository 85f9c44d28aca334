import crypto from 'node:crypto';

/**
 * SHA-256 of a UTF-8 string in one call. `crypto.hash` (Node 20.12 and later) skips the Hash object that
 * `createHash` builds, which showed on every USSD hop (the webhook key and the dial path are both hashed,
 * bench/README.md); older Node falls back to `createHash`. Same digest either way.
 */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;

export function sha256(data: string): Buffer {
  return oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data, 'utf8').digest();
}
