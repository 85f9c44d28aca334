import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet } from '../../src/conversation/index.ts';
import {
  flowOf,
  initialTransition,
  persist,
  persistedSchema,
  plainPersisted,
  restore,
  stepOf,
} from '../../src/conversation/machine.ts';
import { QUIET_ENV } from '../../src/conversation/compile.ts';
import type { SessionRecord } from '../../src/store/types.ts';
import { loadShipped } from './helpers.ts';

// machine.ts: the engine's only contact with XState — stepping, snapshots, and the flow version a session is on.

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

const demo = () => {
  const flow = set.flows.get('demo');
  if (!flow) throw new Error('no demo flow');
  return flow;
};

describe('snapshots', () => {
  it('persist without effects and restore onto the same step', () => {
    const flow = demo();
    const [snap] = initialTransition(flow.machine, {
      phone: '+254700000001',
      channel: 'ussd',
      vars: {},
      env: QUIET_ENV,
    });
    const stored = JSON.parse(JSON.stringify(persist(snap))) as { value: string; context: { effects: unknown[] } };
    expect(stored.context.effects).toEqual([]);
    const back = restore(flow, stored);
    expect(back && stepOf(flow, back).id).toBe(stepOf(flow, snap).id);
  });

  it('refuse a snapshot that does not fit the flow (then the session restarts politely)', () => {
    expect(restore(demo(), { value: 'nowhere', context: {} })).toBeNull();
    expect(restore(demo(), 'not a snapshot')).toBeNull();
  });
});

describe('reading a stored snapshot', () => {
  const odd = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.nat()));
  const usually = <T>(a: fc.Arbitrary<T>) => fc.oneof({ arbitrary: a, weight: 20 }, { arbitrary: odd, weight: 1 });
  const plainObject = fc.dictionary(fc.string(), fc.jsonValue()).map((d) => ({ ...d }));
  const context = fc.record({
    vars: usually(plainObject),
    history: usually(fc.array(usually(fc.string()))),
    page: usually(fc.oneof(fc.nat(), fc.integer())),
    invalid: usually(fc.oneof(fc.nat(), fc.integer())),
    options: usually(
      fc.array(
        usually(
          fc.oneof(
            fc.record({ params: usually(plainObject), value: fc.jsonValue() }).map((o) => ({ ...o })),
            fc.record({ params: plainObject }).map((o) => ({ ...o })),
          ),
        ),
        { maxLength: 3 },
      ),
    ),
    timer: usually(
      fc.oneof(
        fc.constant(null),
        fc.record({ id: fc.string(), step: fc.string() }).map((t) => ({ ...t })),
        fc.record({ id: fc.string(), step: fc.string(), at: fc.nat() }).map((t) => ({ ...t })),
        fc.record({ id: usually(fc.string()) }),
      ),
    ),
    effects: usually(fc.array(fc.jsonValue(), { maxLength: 2 })),
    phone: usually(fc.string()),
    channel: usually(fc.constantFrom('ussd', 'sms')),
  });
  const snapshot = fc.oneof(
    fc.record({ value: usually(fc.string()), context: usually(context.map((c) => ({ ...c }))) }).map((s) => ({ ...s })),
    fc.record({ value: fc.string(), context }),
    odd,
  );

  it('the hand check accepts only what the schema accepts, and with the same value', () => {
    let accepted = 0;
    fc.assert(
      fc.property(snapshot, (raw) => {
        const plain = plainPersisted(raw);
        if (plain === null) return;
        accepted++;
        const schema = persistedSchema.safeParse(raw);
        expect(schema.success).toBe(true);
        expect(plain).toStrictEqual(schema.data);
      }),
      { numRuns: 3_000 },
    );
    expect(accepted).toBeGreaterThan(40);
  });

  it('what persist writes is read by hand', () => {
    const flow = demo();
    const [snap] = initialTransition(flow.machine, { phone: '+254700000001', channel: 'ussd', env: QUIET_ENV });
    expect(plainPersisted(JSON.parse(JSON.stringify(persist(snap))))).not.toBeNull();
  });
});

describe('the flow a session is on', () => {
  const session = (flowId: string, flowVersion: string): SessionRecord => ({
    flowId,
    flowVersion,
    channel: 'sms',
    snapshot: null,
    locale: 'en',
    startedAt: 0,
    updatedAt: 0,
  });

  it('is its exact version, else the current one of the same major version, else none', () => {
    const flow = demo();
    expect(flowOf(set, session('demo', flow.version))).toBe(flow);
    expect(flowOf(set, session('demo', `${flow.major}.000000000000`))).toBe(flow);
    expect(flowOf(set, session('demo', `${flow.major + 1}.000000000000`))).toBeNull();
    // The language picker's session belongs to no flow.
    expect(flowOf(set, session('$language', 'system'))).toBeNull();
  });
});
