import { getShortestPaths } from '@xstate/graph';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import type { FlowEvent, FlowSet } from '../../src/conversation/index.ts';
import { loadShipped } from './helpers.ts';

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

/** Events a person can cause on the demo (any answer of the right type will do for a walk). */
const EVENTS: FlowEvent[] = [
  ...Array.from({ length: 11 }, (_, index) => ({ type: 'CHOOSE', index }) as const),
  { type: 'ANSWER', value: 9 },
  { type: 'ANSWER', value: true },
  { type: 'ANSWER', value: false },
  { type: 'CONTINUE' },
  { type: 'INVALID' },
  { type: 'MORE' },
  { type: 'BACK' },
  { type: 'HOME' },
];

describe('compiled machines', () => {
  it('can be walked by XState graph tools: every step of the demo is reached, every end too', () => {
    const flow = set.flows.get('demo');
    if (!flow) return expect.fail('no demo flow');
    const paths = getShortestPaths(flow.machine, {
      events: EVENTS,
      input: { phone: '+254700000001', channel: 'ussd' },
      // The step, page and invalid count identify a screen; variables and history do not change the graph.
      serializeState: (s: AnyMachineSnapshot) => JSON.stringify([s.value, s.context.page, s.context.invalid]),
    });
    const reached = new Set(paths.map((p) => String(p.state.value)));
    for (const [id, step] of Object.entries(flow.def.steps)) {
      if (step.type === 'action') continue; // passed through within a step, never waited in
      if (id === 'no_reply') continue; // only a reply timeout (an SMS timer) leads there
      expect(reached, id).toContain(id);
    }
    expect(reached).toContain('__invalid');
    const toDone = paths.find((p) => p.state.value === 'done');
    expect(toDone?.steps.map((s) => s.event.type)).toEqual(['xstate.init', 'CHOOSE', 'ANSWER', 'ANSWER', 'ANSWER', 'CONTINUE']);
  });
});
