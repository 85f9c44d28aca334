import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkWebhookKey } from '../../src/channels/webhook-key.ts';

const SECRET = '3f9a1c2e7b4d6a8f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f';

describe('checkWebhookKey', () => {
  it('lets every request through when no secret is configured', () => {
    expect(checkWebhookKey(undefined, undefined)).toEqual({ ok: true, value: 'open' });
    expect(checkWebhookKey('anything', '')).toEqual({ ok: true, value: 'open' });
  });

  it('accepts the configured secret', () => {
    expect(checkWebhookKey(SECRET, SECRET)).toEqual({ ok: true, value: 'verified' });
  });

  it.each([
    ['a missing key', undefined, 'missing'],
    ['an empty key', '', 'missing'],
    ['a wrong key', SECRET.replace(/.$/, '0'), 'does not match'],
    ['a prefix of the secret', SECRET.slice(0, 32), 'does not match'],
    ['the secret with extra characters', `${SECRET}x`, 'does not match'],
    ['the secret in another case', SECRET.toUpperCase(), 'does not match'],
    ['a repeated key (?key=a&key=b)', [SECRET, SECRET], 'once'],
    ['a nested key (?key[x]=…)', { x: SECRET }, 'once'],
  ])('refuses %s with JIBU_BAD_WEBHOOK_KEY', (_name, key, detail) => {
    const result = checkWebhookKey(key, SECRET);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe('JIBU_BAD_WEBHOOK_KEY');
      expect(result.detail).toContain(detail);
      expect(result.detail).not.toContain(SECRET);
    }
  });

  it('accepts only the exact secret among arbitrary keys', () => {
    fc.assert(
      fc.property(fc.anything(), (key) => {
        expect(checkWebhookKey(key, SECRET).ok).toBe(key === SECRET);
      }),
    );
  });
});
