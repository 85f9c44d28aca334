import { HttpError } from './http.ts';
import type { EmulatorState, EmulatorUser } from './model.ts';

/**
 * Authentication as DHIS2 does it (docs/dhis2.md#basic-and-apitoken): Basic, or a personal access token in
 * `Authorization: ApiToken <token>`. Tokens carry a CRC32 checksum that is verified before the lookup.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(n: number): string {
  let s = '';
  do {
    s = BASE62[n % 62]! + s;
    n = Math.floor(n / 62);
  } while (n > 0);
  return s.padStart(6, '0');
}

/**
 * DHIS2's token checksum. Core encodes the code as UTF-8 with Java's `Charset.encode` and checksums the
 * whole backing array, which the encoder sized at 1.1 bytes per char: the trailing zero bytes are part
 * of the checksum. Reproducing that is what makes real tokens validate here.
 */
function tokenChecksum(code: string): number {
  const bytes = new Uint8Array(Math.floor(code.length * 1.1));
  bytes.set(Buffer.from(code, 'ascii'));
  return crc32(bytes);
}

const TOKEN_FORMATS = [
  // V1 (2.37+): d2pat_ + 32 chars + 10-digit zero-padded decimal CRC32.
  { prefix: 'd2pat_', codeLength: 32, encode: (crc: number) => String(crc).padStart(10, '0') },
  // V2 (default from 2.41): d2p_ + 44 chars + base62 CRC32.
  { prefix: 'd2p_', codeLength: 44, encode: base62 },
] as const;

/** True when `token` is a V1 or V2 personal access token with a valid checksum. */
export function isValidTokenChecksum(token: string): boolean {
  for (const f of TOKEN_FORMATS) {
    if (!token.startsWith(f.prefix)) continue;
    const code = token.slice(f.prefix.length, f.prefix.length + f.codeLength);
    const checksum = token.slice(f.prefix.length + f.codeLength);
    return code.length === f.codeLength && /^[A-Za-z0-9]+$/.test(code) && f.encode(tokenChecksum(code)) === checksum;
  }
  return false;
}

/**
 * A personal access token for `code` (32 alphanumerics for V1, 44 for V2).
 *
 * @example makeToken('v1', 'JibuDemoTokenForTheEmulator00001') // 'd2pat_JibuDemo…' + 10 digits
 */
export function makeToken(kind: 'v1' | 'v2', code: string): string {
  const f = TOKEN_FORMATS[kind === 'v1' ? 0 : 1];
  if (code.length !== f.codeLength || !/^[A-Za-z0-9]+$/.test(code))
    throw new Error(`A ${kind} token code is ${f.codeLength} letters and digits`);
  return `${f.prefix}${code}${f.encode(tokenChecksum(code))}`;
}

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="DHIS2"' };

/** The user behind the request's credentials; throws a 401 HttpError with `WWW-Authenticate` otherwise. */
export function authenticate(state: EmulatorState, authorization: string | null): EmulatorUser {
  if (!authorization) throw new HttpError(401, 'Unauthorized', { headers: BASIC_CHALLENGE });
  const token = /^ApiToken\s+([a-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
  if (token) {
    const value = token[1]!;
    const userId = isValidTokenChecksum(value) ? state.tokens.get(value) : undefined;
    const user = userId ? state.users.get(userId) : undefined;
    if (!user || user.disabled) {
      throw new HttpError(401, 'The API token does not exist or is not valid', {
        headers: {
          'WWW-Authenticate':
            'ApiToken error="invalid_token", error_description="The API token does not exist or is not valid"',
        },
      });
    }
    return user;
  }
  const basic = /^Basic\s+(\S+)$/i.exec(authorization.trim());
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon > 0 ? state.userByUsername(decoded.slice(0, colon)) : undefined;
    if (user && !user.disabled && user.password !== undefined && user.password === decoded.slice(colon + 1))
      return user;
  }
  throw new HttpError(401, 'Unauthorized', { headers: BASIC_CHALLENGE });
}

/** Superusers hold `ALL`; everyone else needs the named authority. */
export function hasAuthority(user: EmulatorUser, authority: string): boolean {
  return user.authorities.includes('ALL') || user.authorities.includes(authority);
}
