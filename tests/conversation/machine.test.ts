import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet } from '../../src/conversation/index.ts';
import { flowOf, initialTransition, persist, restore, stepOf } from '../../src/conversation/machine.ts';
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
