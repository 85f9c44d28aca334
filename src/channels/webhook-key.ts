import { timingSafeEqual } from 'node:crypto';
import { sha256 } from '../sha256.ts';
import { allEmbedded, type Config } from '../config.ts';
import type { ParseResult } from './types.ts';

/** `open`: no secret is configured; `verified`: the request carried the right key. */
export type WebhookKeyCheck = 'open' | 'verified';

/**
 * Check the `key` query parameter (pass `req.query.key` as received) against `WEBHOOK_SECRET`
 * (AT does not sign its callbacks, so a secret in the URL is the practice: docs/providers.md#securing-callbacks).
 * No secret configured (undefined or empty) lets every request through. A repeated `key`
 * (`?key=a&key=b`, a list) is refused rather than guessed at.
 *
 * Both sides are hashed before the constant-time comparison, so neither the content nor the length
 * of the secret leaks through timing.
 *
 * @example checkWebhookKey(req.query.key, config.WEBHOOK_SECRET) // { ok: true, value: 'verified' }
 */
export function checkWebhookKey(key: unknown, secret: string | undefined): ParseResult<WebhookKeyCheck> {
  if (secret === undefined || secret === '') return { ok: true, value: 'open' };
  if (key === undefined || key === '')
    return { ok: false, code: 'JIBU_BAD_WEBHOOK_KEY', detail: 'the key query parameter is missing' };
  if (typeof key !== 'string')
    return { ok: false, code: 'JIBU_BAD_WEBHOOK_KEY', detail: 'the key query parameter must appear once' };
  const matches = timingSafeEqual(digest(key), secretDigest(secret));
  return matches
    ? { ok: true, value: 'verified' }
    : { ok: false, code: 'JIBU_BAD_WEBHOOK_KEY', detail: 'the key does not match' };
}

function digest(value: string): Buffer {
  return sha256(value);
}

/** The configured secret's digest, kept: every USSD hop is checked against the same secret. */
let lastSecret: { secret: string; digest: Buffer } | undefined;
function secretDigest(secret: string): Buffer {
  if (lastSecret?.secret !== secret) lastSecret = { secret, digest: digest(secret) };
  return lastSecret.digest;
}

/**
 * `WEBHOOK_SECRET` as `?key=` on the unsigned webhooks (Africa's Talking, generic SMS and USSD). With no
 * secret configured they are open only in the all-embedded demo (nothing real behind them); anywhere
 * else every request is refused, so a forgotten secret fails closed (SECURITY.md, "Entry points and what protects them").
 */
export function checkGatewayKey(config: Config, key: unknown): ParseResult<WebhookKeyCheck> {
  if (!config.WEBHOOK_SECRET && !allEmbedded(config))
    return {
      ok: false,
      code: 'JIBU_BAD_WEBHOOK_KEY',
      detail: 'WEBHOOK_SECRET is not set on this gateway: this webhook is refused outside the all-embedded demo',
    };
  return checkWebhookKey(key, config.WEBHOOK_SECRET);
}
