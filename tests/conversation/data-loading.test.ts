import { beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { handleInbound, type DataLoader, type RunnerDeps } from '../../src/conversation/runner.ts';
import type { FlowSet } from '../../src/conversation/index.ts';
import type { InboundMessage } from '../../src/channels/types.ts';
import { toUssdInbound } from '../../src/channels/africastalking/index.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import { dataFor, NOW, PHONES } from '../caregiver/helpers.ts';
import { loadShipped } from './helpers.ts';

// The runner loads what a turn is expected to need: every entry flow's role look-ups when a conversation
// starts, only the current flow's data while it goes on, and whatever a turn turns out to read beyond
// that (a restart into another flow) before the pure step is taken again.

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

function world(roles: Map<string, unknown>) {
  const clock = fixedClock(NOW);
  const queue = createMemoryJobQueue({ clock });
  const store = createMemoryStore({ clock, queue });
  const asked: string[][] = [];
  const loadData: DataLoader = async (names, ctx) => {
    asked.push(names);
    return Object.fromEntries(names.map((n) => [n, n === 'caregiver' ? (roles.get(ctx.phone) ?? null) : null]));
  };
  let id = 0;
  const deps: RunnerDeps = {
    store,
    flows: () => set,
    loadData,
    clock,
    logger: createLogger({ level: 'silent' }),
    newId: () => `id-${++id}`,
  };
  let seq = 0;
  const sms = (from: string, text: string) => {
    const msg: InboundMessage = {
      channel: 'sms',
      provider: 'http',
      from,
      providerFrom: from,
      to: '100',
      text,
      providerMessageId: `m${++seq}`,
      receivedAt: clock.now(),
    };
    return handleInbound(deps, msg);
  };
  const ussd = (from: string, sessionId: string, path: string) => {
    const hop = { sessionId, serviceCode: '*384*12#', phone: from, providerPhone: from, path, isNew: path === '' };
    return handleInbound(deps, toUssdInbound(hop, clock.now()));
  };
  return { asked, sms, ussd };
}

describe('data loading per turn', () => {
  it('asks for the role look-ups when a dial starts and for nothing while the demo flow goes on', async () => {
    const w = world(new Map());
    const first = await w.ussd('+254790000001', 'd1', '');
    expect(first.result?.flowId).toBe('demo');
    expect(w.asked).toEqual([['caregiver', 'caseWorker']]);
    await w.ussd('+254790000001', 'd1', '1');
    await w.ussd('+254790000001', 'd1', '1*98');
    expect(w.asked.slice(1)).toEqual([[], []]);
  });

  it('loads the caregiver view on every hop of a caregiver conversation, and the case-worker look-up only at its start', async () => {
    const phone = PHONES.twoChildren;
    const w = world(new Map([[phone, dataFor(phone).caregiver]]));
    const first = await w.ussd(phone, 'c1', '');
    expect(first.result?.flowId).toBe('caregiver-main');
    const next = await w.ussd(phone, 'c1', '1');
    expect(next.result?.flowId).toBe('caregiver-main');
    expect(w.asked).toEqual([['caregiver', 'caseWorker'], ['caregiver']]);
  });

  it('a restart in the middle of a conversation loads what the new start needs and lands where a fresh start would', async () => {
    // The number became a caregiver's (a sync) while it was in the demo flow: MENU must find that out.
    const phone = PHONES.oneChild;
    const roles = new Map<string, unknown>();
    const w = world(roles);
    expect((await w.sms(phone, 'hello')).result?.flowId).toBe('demo');
    expect((await w.sms(phone, '1')).result?.flowId).toBe('demo');
    roles.set(phone, dataFor(phone).caregiver);
    const restarted = await w.sms(phone, 'MENU');
    expect(restarted.result?.flowId).toBe('caregiver-main');
    expect(restarted.reply?.text).toMatch(/Neema/);
    // The demo flow needs nothing; the restart asked for the look-up it read (SMS entry flows need only
    // the caregiver view), once.
    expect(w.asked).toEqual([['caregiver'], [], [], ['caregiver']]);
  });
});
