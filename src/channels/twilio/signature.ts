import { twilioSdk } from './sdk.ts';
import type { ParseResult, WebhookRequest } from '../types.ts';

export interface TwilioSignatureOptions {
  /** The account Auth Token that keys the HMAC. */
  authToken: string;
  /**
   * `PUBLIC_URL`: scheme, host and any port Twilio calls, e.g. `https://gw.example.org`. The signed URL
   * is this plus the path and query the request arrived with, so a TLS-terminating proxy does not
   * break validation (twilio-node #321, #505).
   */
  publicUrl: string;
}

/**
 * Validate `X-Twilio-Signature` with `twilio.validateRequest` over `publicUrl + originalUrl` and every
 * received body parameter (Twilio adds parameters without notice, so none may be dropped).
 * A missing, repeated or forged header gives `JIBU_BAD_SIGNATURE`; so does an empty auth token, so a
 * misconfiguration fails closed.
 *
 * @example verifyTwilioSignature(req, { authToken, publicUrl: 'https://gw.example.org' }) // { ok: true, value: 'https://gw.example.org/sms/twilio' }
 */
export function verifyTwilioSignature(
  req: Pick<WebhookRequest, 'headers' | 'originalUrl' | 'body'>,
  options: TwilioSignatureOptions,
): ParseResult<string> {
  const header = req.headers['x-twilio-signature'];
  if (header === undefined || header === '')
    return { ok: false, code: 'JIBU_BAD_SIGNATURE', detail: 'X-Twilio-Signature is missing' };
  if (typeof header !== 'string')
    return { ok: false, code: 'JIBU_BAD_SIGNATURE', detail: 'X-Twilio-Signature appears more than once' };
  if (options.authToken === '')
    return { ok: false, code: 'JIBU_BAD_SIGNATURE', detail: 'no Twilio auth token is configured' };
  const url = signedUrl(options.publicUrl, req.originalUrl);
  const params = signedParams(req.body);
  if (params === null) return { ok: false, code: 'JIBU_BAD_SIGNATURE', detail: 'the body is not form parameters' };
  let valid: boolean;
  try {
    valid = twilioSdk().validateRequest(options.authToken, header, url, params);
  } catch {
    // validateRequest re-parses the URL with `new URL()` on its fallback path and throws on a bad one.
    valid = false;
  }
  return valid
    ? { ok: true, value: url }
    : { ok: false, code: 'JIBU_BAD_SIGNATURE', detail: 'X-Twilio-Signature does not match' };
}

function signedUrl(publicUrl: string, originalUrl: string): string {
  const base = publicUrl.replace(/\/+$/, '');
  return `${base}${originalUrl.startsWith('/') ? '' : '/'}${originalUrl}`;
}

/** Form parameters as Twilio signed them: strings, or lists of strings for a repeated name. */
function signedParams(body: unknown): Record<string, string | string[]> | null {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) return null;
  // Null prototype: a parameter named `__proto__` is data here, and must be signed like any other.
  const params = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === 'string') params[name] = value;
    else if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) params[name] = value;
    else return null;
  }
  return params;
}
