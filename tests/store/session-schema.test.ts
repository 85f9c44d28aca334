import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSession, plainSessionRecord, sessionRecordSchema } from '../../src/store/schemas.ts';

// parseSession checks a record as this release writes it by hand and leaves anything else to the schema:
// whatever the hand check accepts, the schema must accept with the very same value.

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const odd = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.nat()));
/** Mostly the right kind of value, sometimes anything. */
const usually = <T>(a: fc.Arbitrary<T>) => fc.oneof({ arbitrary: a, weight: 8 }, { arbitrary: odd, weight: 1 });

const record = fc.record(
  {
    flowId: usually(fc.string()),
    flowVersion: usually(fc.string()),
    channel: usually(fc.constantFrom('ussd', 'sms')),
    snapshot: fc.oneof(fc.constant(null), fc.object(), odd),
    locale: usually(fc.string()),
    startedAt: usually(fc.oneof(fc.integer(), fc.double())),
    updatedAt: usually(fc.oneof(fc.integer(), fc.double())),
    ussdSessionId: maybe(usually(fc.string())),
    pathDigest: maybe(usually(fc.string())),
    lastReply: maybe(
      fc.oneof(
        fc.record({ text: fc.string(), end: fc.boolean() }, { noNullPrototype: true }),
        fc.record({ text: fc.string(), end: fc.boolean() }),
        fc.record({ text: fc.string(), end: fc.boolean(), extra: fc.nat() }),
        fc.record({ text: odd, end: odd }, { requiredKeys: [] }),
        odd,
      ),
    ),
    ended: maybe(usually(fc.boolean())),
    invalidCount: maybe(fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constant(2 ** 53), odd)),
    somethingNewer: maybe(fc.jsonValue()),
  },
  { requiredKeys: ['flowId', 'flowVersion', 'channel', 'snapshot', 'locale', 'startedAt', 'updatedAt'] },
);
/** Records as JSON.parse gives them, and now and then one without a prototype or with keys missing. */
const anyRecord = fc.oneof(
  { arbitrary: record.map((r) => ({ ...r })), weight: 6 },
  { arbitrary: record, weight: 1 },
  { arbitrary: record.map(({ snapshot: _s, ...r }) => ({ ...r })), weight: 1 },
  { arbitrary: record.map(({ locale: _l, ...r }) => ({ ...r })), weight: 1 },
);

describe('reading a stored session', () => {
  it('the hand check accepts only what the schema accepts, and with the same value', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(anyRecord, odd), (raw) => {
        const plain = plainSessionRecord(raw);
        const schema = sessionRecordSchema.safeParse(raw);
        if (plain === null) return;
        accepted++;
        expect(schema.success).toBe(true);
        expect(plain).toStrictEqual(schema.data);
      }),
      { numRuns: 3_000 },
    );
    // The generator must reach the hand-checked case often enough for the property to mean something.
    expect(accepted).toBeGreaterThan(20);
  });

  it('parseSession gives what the schema alone gives, through JSON as stored', () => {
    fc.assert(
      fc.property(anyRecord, (raw) => {
        const json = JSON.stringify(raw);
        const got = parseSession(json);
        const schema = sessionRecordSchema.safeParse(JSON.parse(json));
        expect(got.ok).toBe(schema.success);
        if (got.ok && schema.success) expect(got.session).toStrictEqual(schema.data);
      }),
      { numRuns: 2_000 },
    );
  });
});
