import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.ts';
import { createDhis2Client, type Dhis2Client } from '../../../src/dhis2/client.ts';
import { defaultDeployment } from '../../../src/dhis2/deployment.ts';
import { createEmulator, DEMO, EIR, type Emulator } from '../../../src/emulator/index.ts';
import { startDhis2Relay } from '../../../src/dhis2/outbox/index.ts';
import { eventUpdate } from '../../../src/dhis2/payloads.ts';
import {
  getOrgUnitTree,
  rmKeys,
  syncReadModel,
  type ChildRecord,
  type SyncOptions,
  type SyncState,
} from '../../../src/dhis2/readmodel/index.ts';
import type { Store } from '../../../src/store/types.ts';
import { cleanupRedis } from '../../store/harness.ts';
import { NOW, PHONES, TODAY, child, scheduledEvent } from '../helpers.ts';
import { drained, makeQueueWorld, writeJob, type QueueKind, type QueueWorld } from '../outbox/harness.ts';

/**
 * `rm:index:children-ou:{orgUnit}` lists the children whose own org unit is that one, so that a case
 * worker's search reads only the children of their area. Every test compares the lists with a
 * brute-force grouping of every child record the read model holds, after each way children arrive,
 * move or leave: full sync, incremental sync, relayed write, and a read model synced before the lists
 * existed.
 */

const OU = DEMO.orgUnits;
const deployment = defaultDeployment();
const open: QueueWorld[] = [];

afterEach(async () => {
  for (const w of open.splice(0).reverse()) await w.close();
});
afterAll(async () => {
  await cleanupRedis([]);
});

interface World {
  emu: Emulator;
  client: Dhis2Client;
  store: Store;
  qw: QueueWorld;
  clock: ReturnType<typeof fixedClock>;
  sync(mode: SyncOptions['mode']): ReturnType<typeof syncReadModel>;
}

async function world(kind: QueueKind): Promise<World> {
  const clock = fixedClock(NOW);
  const emu = createEmulator({ version: '2.40', clock, seed: { children: 60 } });
  const client = createDhis2Client({
    baseUrl: emu.baseUrl,
    auth: { token: emu.credentials.token },
    fetch: emu.fetch,
    timeoutMs: 5000,
  });
  const qw = await makeQueueWorld(kind, 'rm-children-ou');
  open.push(qw);
  return {
    emu,
    client,
    store: qw.store,
    qw,
    clock,
    sync: (mode) => syncReadModel({ client, store: qw.store, deployment, clock, mode, defaultCountry: 'KE' }),
  };
}

/** Brute force: every child record the read model holds, grouped by its own org unit (sorted). */
async function expected(store: Store): Promise<Record<string, string[]>> {
  const ids = (await store.getJson<string[]>(rmKeys.index('children'))) ?? [];
  const records = await store.getJsonMany<ChildRecord>(ids.map(rmKeys.child));
  expect(records.every((r) => r !== null)).toBe(true);
  const out: Record<string, string[]> = {};
  for (const r of records) (out[r!.orgUnit] ??= []).push(r!.trackedEntity);
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** The lists as stored, for every org unit of the tree, of the `children-ou` index and of the records. */
async function stored(store: Store, also: Iterable<string> = []): Promise<Record<string, string[]>> {
  const index = (await store.getJson<string[]>(rmKeys.index('children-ou'))) ?? [];
  const orgUnits = [...new Set([...Object.keys(await getOrgUnitTree(store)), ...index, ...also])].sort();
  const lists = await store.getJsonMany<string[]>(orgUnits.map(rmKeys.childrenAt));
  const out: Record<string, string[]> = {};
  orgUnits.forEach((ou, i) => {
    if (lists[i] !== null) out[ou] = lists[i]!;
  });
  return out;
}

/** The lists are exactly the brute-force grouping, and the `children-ou` index names exactly their org units. */
async function expectExact(store: Store): Promise<Record<string, string[]>> {
  const want = await expected(store);
  expect(Object.keys(want).length).toBeGreaterThan(1);
  expect(await stored(store, Object.keys(want))).toEqual(want);
  expect(await store.getJson<string[]>(rmKeys.index('children-ou'))).toEqual(Object.keys(want).sort());
  expect((await store.getJson<SyncState>(rmKeys.sync()))?.childrenByOrgUnit).toBe(true);
  return want;
}

/** Move a child (tracked entity and enrollment) to another org unit, as DHIS2 would store it. */
async function move(w: World, trackedEntity: string, orgUnit: string): Promise<void> {
  const en = w.emu.state.enrollmentsByTrackedEntity.get(trackedEntity)![0]!;
  const r = await w.client.importTracker({
    trackedEntities: [
      {
        trackedEntity,
        trackedEntityType: EIR.trackedEntityType,
        orgUnit,
        enrollments: [
          {
            enrollment: en.enrollment,
            trackedEntity,
            program: en.program,
            orgUnit,
            status: en.status,
            enrolledAt: new Date(en.enrolledAt).toISOString(),
            ...(en.occurredAt === undefined ? {} : { occurredAt: new Date(en.occurredAt).toISOString() }),
          },
        ],
      },
    ],
  });
  expect(r.status).toBe('OK');
}

describe.each<QueueKind>(['memory', 'bullmq'])('children by org unit (%s)', (kind) => {
  it('a full sync lists every child at its own org unit; a later one drops vanished children and emptied lists', async () => {
    const w = await world(kind);
    await w.sync('full');
    const first = await expectExact(w.store);
    const zuri = scheduledEvent(w.emu, PHONES.missedSeveral, 'Zuri');
    expect(first[OU.kidutani]).toContain(zuri.trackedEntity);

    // Zuri's appointment disappears, and so does every appointment in Bomani.
    w.emu.state.events.get(zuri.event)!.deleted = true;
    const bomani = first[OU.bomani]!;
    expect(bomani.length).toBeGreaterThan(0);
    for (const te of bomani) for (const e of w.emu.state.eventsOfTrackedEntity(te)) e.deleted = true;
    w.emu.state.touch();
    const stats = await w.sync('full');
    expect(stats.removed.children).toBe(bomani.length + 1);

    const after = await expectExact(w.store);
    expect(after[OU.kidutani]).not.toContain(zuri.trackedEntity);
    expect(after[OU.bomani]).toBeUndefined();
    expect(await w.store.getJson(rmKeys.childrenAt(OU.bomani))).toBeNull();
  });

  it('an incremental sync moves a child to its new org unit’s list and back, and takes out a child that left the read model', async () => {
    const w = await world(kind);
    await w.sync('full');
    const before = await expectExact(w.store);
    const amina = child(w.emu, PHONES.twoDue, 'Amina').trackedEntity;
    const neema = child(w.emu, PHONES.oneDue, 'Neema').trackedEntity;
    expect(before[OU.kidutani]).toContain(amina);
    // No child lives at the facility itself: its list is new.
    expect(before[OU.rabai]).toBeUndefined();

    w.clock.advance(10 * 60_000);
    await move(w, amina, OU.rabai);
    const visit = scheduledEvent(w.emu, PHONES.oneDue, 'Neema');
    expect(
      (
        await w.client.importTracker(
          { events: [eventUpdate((await w.client.event(visit.event))!, { status: 'COMPLETED', occurredAt: TODAY })] },
          { importStrategy: 'UPDATE' },
        )
      ).status,
    ).toBe('OK');
    const stats = await w.sync('incremental');
    expect(stats.mode).toBe('incremental');

    const moved = await expectExact(w.store);
    expect(moved[OU.rabai]).toEqual([amina]);
    expect(moved[OU.kidutani]).not.toContain(amina);
    expect(Object.values(moved).flat()).not.toContain(neema);

    // Back home: the facility's list goes, and its org unit leaves the index.
    w.clock.advance(10 * 60_000);
    await move(w, amina, OU.kidutani);
    await w.sync('incremental');
    const back = await expectExact(w.store);
    expect(back[OU.kidutani]).toContain(amina);
    expect(await w.store.getJson(rmKeys.childrenAt(OU.rabai))).toBeNull();

    // The bookkeeping matches: a full sync now writes the same lists.
    await w.sync('full');
    expect(await expectExact(w.store)).toEqual(back);
  });

  it('a relayed write keeps every list exact (and moves nobody)', async () => {
    const w = await world(kind);
    await w.sync('full');
    const before = await expectExact(w.store);
    const imani = scheduledEvent(w.emu, PHONES.missedYesterday, 'Imani');
    const zuri = scheduledEvent(w.emu, PHONES.missedSeveral, 'Zuri');
    await w.qw.queue.add([
      writeJob('idx-imani', {
        op: 'event.reschedule',
        event: imani.event,
        scheduledAt: '2025-03-06',
        note: 'Caregiver asked to move the visit (SMS)',
      }),
      writeJob('idx-zuri', {
        op: 'event.update',
        event: zuri.event,
        status: 'SKIPPED',
        note: 'Vaccinated elsewhere (case worker)',
      }),
    ]);
    const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const relay = startDhis2Relay({
      queue: w.qw.queue,
      store: w.store,
      client: w.client,
      clock: w.clock,
      logger: silent,
      intervalMs: 20,
      backoffMs: 20,
      maxBackoffMs: 100,
      attempts: 3,
    });
    try {
      await drained(w.qw.queue);
    } finally {
      await relay.close();
    }
    expect((await w.store.getJson<ChildRecord>(rmKeys.child(zuri.trackedEntity)))?.events).toEqual([]);
    expect(await expectExact(w.store)).toEqual(before);
  });

  it('a read model synced before the lists existed gets them whole from its next incremental sync', async () => {
    const w = await world(kind);
    await w.sync('full');
    const want = await expectExact(w.store);
    // What an older version left: no lists, no `children-ou` index, no marker.
    await w.store.delete([...Object.keys(want).map(rmKeys.childrenAt), rmKeys.index('children-ou')]);
    const state = (await w.store.getJson<SyncState>(rmKeys.sync()))!;
    delete state.childrenByOrgUnit;
    await w.store.setJson(rmKeys.sync(), state);

    w.clock.advance(10 * 60_000);
    const stats = await w.sync('incremental');
    expect(stats.mode).toBe('incremental');
    expect(stats.trackedEntities).toBeLessThan(10);
    expect(await expectExact(w.store)).toEqual(want);
  });
});
