import { beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { handleInbound, type DataLoader, type RunnerDeps } from '../../src/conversation/runner.ts';
import type { FlowSet } from '../../src/conversation/index.ts';
import { toUssdInbound } from '../../src/channels/africastalking/index.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import { createDataLoader, createLoaderKeys } from '../../src/conversation/actions/index.ts';
import { ALL_MODULES } from '../../src/conversation/actions/all.ts';
import { defaultDeployment } from '../../src/dhis2/deployment.ts';
import type { Store } from '../../src/store/types.ts';
import { dataFor, NOW, PHONES, viewOf } from '../caregiver/helpers.ts';
import { inboundSms, loadShipped } from './helpers.ts';

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
  const sms = (from: string, text: string) => handleInbound(deps, inboundSms(from, text, `m${++seq}`, clock.now()));
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

describe('the role look-ups of a new dial, read with the lock', () => {
  /** The shipped loaders over a store holding one caregiver's view; counts the documents loaders fetch. */
  function shipped(withKeys: boolean) {
    const clock = fixedClock(NOW);
    const queue = createMemoryJobQueue({ clock });
    const store = createMemoryStore({ clock, queue });
    const fetched: string[] = [];
    const counting: Store = {
      ...store,
      getJson: (key) => (fetched.push(key), store.getJson(key)),
      getJsonMany: (keys) => (fetched.push(...keys), store.getJsonMany(keys)),
    };
    const deployment = defaultDeployment();
    let id = 0;
    const deps: RunnerDeps = {
      store,
      flows: () => set,
      loadData: createDataLoader(counting, deployment, ALL_MODULES),
      ...(withKeys ? { loaderKeys: createLoaderKeys(ALL_MODULES) } : {}),
      clock,
      logger: createLogger({ level: 'silent' }),
      newId: () => `id-${++id}`,
    };
    const ussd = (from: string, sessionId: string, path: string) => {
      const hop = { sessionId, serviceCode: '*384*12#', phone: from, providerPhone: from, path, isNew: path === '' };
      return handleInbound(deps, toUssdInbound(hop, clock.now()));
    };
    return { store, fetched, ussd };
  }

  it('answers every hop as the loaders alone do, with no document fetched after the lock on the first hop', async () => {
    const caregiver = PHONES.twoChildren;
    const stranger = '+254790000002';
    const paths = ['', '1', '1*2', '1*2*0', '1*2*0*00'];
    const screens: Record<string, string[]> = {};
    for (const withKeys of [false, true]) {
      const w = shipped(withKeys);
      await w.store.setJson(`rm:caregiver:${caregiver}`, viewOf(caregiver));
      for (const phone of [caregiver, stranger]) {
        for (const [i, path] of paths.entries()) {
          const before = w.fetched.length;
          const out = await w.ussd(phone, `dial-${phone}`, path);
          (screens[`${withKeys}:${phone}`] ??= []).push(out.reply?.text ?? '');
          // Without the keys: the caregiver view and the sync state (one read), the case-worker view (another).
          if (i === 0) expect(w.fetched.length - before).toBe(withKeys ? 0 : 3);
        }
      }
    }
    expect(screens[`true:${caregiver}`]).toEqual(screens[`false:${caregiver}`]);
    expect(screens[`true:${stranger}`]).toEqual(screens[`false:${stranger}`]);
    expect(screens[`true:${caregiver}`]?.[0]).toMatch(/Amina/);
    expect(screens[`true:${stranger}`]?.[0]).toMatch(/^Jibu demo/);
  });
});
