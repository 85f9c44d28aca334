import { afterAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createDataLoader, createDomainRegistry } from '../../src/conversation/actions/index.ts';
import {
  caregiverData,
  caregiverModule,
  loadCaregiver,
  reminderChildren,
  reminderStart,
} from '../../src/conversation/actions/caregiver.ts';
import { defaultDeployment, parseDeployment } from '../../src/dhis2/deployment.ts';
import { rmKeys, type CaregiverView } from '../../src/dhis2/readmodel/types.ts';
import { createMemoryJobQueue, createMemoryStore, createRedisStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/types.ts';
import { cleanupRedis, requireRedis, uniquePrefix, TEST_REDIS_URL } from '../store/harness.ts';
import { NOW, PHONES, viewOf } from './helpers.ts';

const prefixes: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c();
  await cleanupRedis(prefixes);
});

const stores: Record<'memory' | 'redis', () => Promise<Store>> = {
  memory: async () => {
    const clock = fixedClock(NOW);
    return createMemoryStore({ clock, queue: createMemoryJobQueue({ clock }) });
  },
  redis: async () => {
    await requireRedis();
    const prefix = uniquePrefix('caregiver-loader');
    prefixes.push(prefix);
    const store = createRedisStore({
      redis: TEST_REDIS_URL,
      prefix,
      queue: createMemoryJobQueue({ clock: fixedClock(NOW) }),
    });
    closers.push(() => store.close());
    return store;
  },
};

const ctx = (store: Store, phone: string, now = NOW, deployment = defaultDeployment()) => ({
  store,
  phone,
  channel: 'sms' as const,
  now,
  deployment,
});

describe.each(['memory', 'redis'] as const)('the caregiver loader (%s store)', (kind) => {
  it("reads the caller's view from the read model and judges each visit for today", async () => {
    const store = await stores[kind]();
    await store.setJson(rmKeys.caregiver(PHONES.threeChildren), viewOf(PHONES.threeChildren));
    await store.setJson(rmKeys.sync(), { timeZone: 'Africa/Nairobi' });
    const data = await loadCaregiver(ctx(store, PHONES.threeChildren));
    expect(data?.today).toBe('2025-11-25');
    expect(data?.children.map((c) => [c.name, c.status, c.scheduledAt])).toEqual([
      ['Saida', 'missed', '2025-11-22'],
      ['Hamisi', 'upcoming', '2025-11-27'],
    ]);
    expect(data?.due.map((c) => c.name)).toEqual(['Saida', 'Hamisi']);
    expect(data?.vaccinated.map((c) => c.latestEvent)).toEqual([
      viewOf(PHONES.threeChildren)?.children[0]?.latestEvent,
      viewOf(PHONES.threeChildren)?.children[1]?.latestEvent,
    ]);
  });

  it('gives null for a phone with no child, so the caregiver role does not apply', async () => {
    const store = await stores[kind]();
    expect(await loadCaregiver(ctx(store, PHONES.unknown))).toBeNull();
    await store.setJson(rmKeys.caregiver(PHONES.unknown), { phone: PHONES.unknown, children: [], syncedAt: 0 });
    expect(await loadCaregiver(ctx(store, PHONES.unknown))).toBeNull();
  });

  it('treats a view it cannot read (an older or broken writer) as no view, rather than failing the hop', async () => {
    const store = await stores[kind]();
    await store.setJson(rmKeys.caregiver(PHONES.oneChild), { phone: PHONES.oneChild, children: [{ firstName: 42 }] });
    expect(await loadCaregiver(ctx(store, PHONES.oneChild))).toBeNull();
  });
});

describe('"today" for the visit status', () => {
  const store = createMemoryStore({ clock: fixedClock(NOW), queue: createMemoryJobQueue({ clock: fixedClock(NOW) }) });

  it('is the date in the zone the read model was synced in: at 22:30 UTC it is already tomorrow in Nairobi', async () => {
    await store.setJson(rmKeys.caregiver(PHONES.dueToday), viewOf(PHONES.dueToday));
    await store.setJson(rmKeys.sync(), { timeZone: 'Africa/Nairobi' });
    // Baraka is due on 25/11: on 24/11 at 22:30 UTC it is 01:30 on 25/11 in Nairobi.
    const data = await loadCaregiver(ctx(store, PHONES.dueToday, new Date('2025-11-24T22:30:00Z')));
    expect(data?.children[0]?.status).toBe('today');
  });

  it("is the deployment's zone when it sets one", async () => {
    await store.setJson(rmKeys.sync(), { timeZone: 'Africa/Nairobi' });
    const data = await loadCaregiver(
      ctx(store, PHONES.dueToday, new Date('2025-11-24T22:30:00Z'), parseDeployment({ timeZone: 'Africa/Dakar' })),
    );
    expect(data?.children[0]?.status).toBe('upcoming');
  });
});

describe('what the module gives the runner', () => {
  it("declares the caregiver data and role, and the runner's loader serves it", async () => {
    const registry = createDomainRegistry(defaultDeployment(), [caregiverModule]);
    expect(registry.data.has('caregiver')).toBe(true);
    expect(registry.roles.caregiver?.needs).toEqual(['caregiver']);
    const store = await stores.memory();
    await store.setJson(rmKeys.caregiver(PHONES.oneChild), viewOf(PHONES.oneChild));
    const load = createDataLoader(store, defaultDeployment(), [caregiverModule]);
    const data = await load(['caregiver'], { phone: PHONES.oneChild, channel: 'ussd', now: NOW });
    expect(registry.roles.caregiver?.test(data)).toBe(true);
    expect(registry.roles.caregiver?.test({ caregiver: null })).toBe(false);
  });
});

describe("the scheduler's side (reminderStart)", () => {
  it('puts exactly the children the message is about in the data, missed first', () => {
    const view = viewOf(PHONES.threeChildren) as CaregiverView;
    const all = new Set(view.children.flatMap((c) => (c.next ? [c.next.event] : [])));
    const start = reminderStart({ phone: view.phone, today: '2025-11-25', children: reminderChildren(view, all) });
    expect(start.flowId).toBe('caregiver-reminder');
    expect(start.data.caregiver.due.map((c) => `${c.name} ${c.status} ${c.event}`)).toEqual([
      `Saida missed ${view.children[0]?.next?.event}`,
      `Hamisi upcoming ${view.children[1]?.next?.event}`,
    ]);
    const hamisi = new Set([view.children[1]?.next?.event ?? '']);
    expect(
      reminderStart({
        phone: view.phone,
        today: '2025-11-25',
        children: reminderChildren(view, hamisi),
      }).data.caregiver.due.map((c) => c.name),
    ).toEqual(['Hamisi']);
  });

  it('accepts DHIS2 timestamps for the visit date', () => {
    const data = caregiverData(
      {
        phone: '+254700000002',
        children: [
          {
            trackedEntity: 'te1',
            firstName: ' Neema ',
            next: { event: 'ev1', scheduledAt: '2025-11-27T00:00:00.000' },
          },
        ],
      },
      '2025-11-25',
    );
    expect(data.children[0]).toMatchObject({
      name: 'Neema',
      scheduledAt: '2025-11-27',
      status: 'upcoming',
      event: 'ev1',
    });
  });
});
