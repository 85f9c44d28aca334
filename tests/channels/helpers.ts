import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import fc from 'fast-check';
import type { WebhookRequest } from '../../src/channels/types.ts';

const FIXTURES = new URL('./fixtures/', import.meta.url);

/** A fixture file's text, as the provider sent it (trailing newline removed). */
export function fixture(provider: 'africastalking' | 'twilio' | 'http', name: string): string {
  return readFileSync(new URL(`${provider}/${name}`, FIXTURES), 'utf8').replace(/\n$/, '');
}

/** A JSON fixture, parsed. */
export function jsonFixture(provider: 'africastalking' | 'twilio' | 'http', name: string): unknown {
  return JSON.parse(fixture(provider, name));
}

/**
 * An urlencoded body parsed the way express.urlencoded({ extended: false }) does: plain object,
 * `+` as space, a repeated name becomes a list of its values.
 */
export function formBody(encoded: string): Record<string, string | string[]> {
  const body: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(encoded)) {
    const seen = body[name];
    if (seen === undefined) body[name] = value;
    else body[name] = Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return body;
}

/** A WebhookRequest as the server builds it from express' request. */
export function webhookRequest(parts: Partial<WebhookRequest> = {}): WebhookRequest {
  return { method: 'POST', originalUrl: '/', headers: {}, query: {}, body: {}, ...parts };
}

/** A request whose body is a fixture file, form-parsed. */
export function formRequest(
  provider: 'africastalking' | 'twilio' | 'http',
  name: string,
  parts: Partial<WebhookRequest> = {},
): WebhookRequest {
  return webhookRequest({
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: formBody(fixture(provider, name)),
    ...parts,
  });
}

/**
 * Bodies a hostile or broken client could send: anything JSON can hold, plus objects that use the
 * provider's own field names with values of every type (including lists, as repeated form fields).
 */
export function hostileBody(fieldNames: readonly string[]): fc.Arbitrary<unknown> {
  const value = fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme', maxLength: 300 }),
    fc.constantFrom(
      '',
      ' ',
      '+254711000111',
      '0711000111',
      'Success',
      'delivered',
      '2017-05-03 06:04:45',
      '1*2',
      'KES 0.10',
    ),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const named = fc.dictionary(fc.constantFrom(...fieldNames, '__proto__', 'constructor', 'toString'), value, {
    maxKeys: fieldNames.length + 3,
  });
  return fc.oneof(named, fc.jsonValue({ maxDepth: 3 }), fc.anything({ maxDepth: 2 }), fc.constant(undefined));
}

/** Like toMatchObject, but an `undefined` in `expected` means the field must be absent (or undefined). */
export function expectFields(value: unknown, expected: Record<string, unknown>): void {
  const present = Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined));
  expect(value).toMatchObject(present);
  const record = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(expected)) if (v === undefined) expect(record[key], key).toBeUndefined();
}
