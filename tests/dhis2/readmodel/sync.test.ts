import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.ts';
import { createDhis2Client, type Dhis2Client } from '../../../src/dhis2/client.ts';
import { defaultDeployment } from '../../../src/dhis2/deployment.ts';
import { createEmulator, DEMO, EIR, type Emulator } from '../../../src/emulator/index.ts';
import { eventUpdate } from '../../../src/dhis2/payloads.ts';
import {
  createCaseWorkerSource,
  getCaregiver,
  getCaseWorker,
  getDefaultersFor,
  getOrgUnitTree,
  isWithin,
  rmKeys,
  syncReadModel,
  type ChildRecord,
  type EventSnapshot,
  type SyncOptions,
  type SyncState,
} from '../../../src/dhis2/readmodel/index.ts';
import { newUid } from '../../../src/dhis2/uid.ts';
import type { Store } from '../../../src/store/types.ts';
import { cleanupRedis } from '../../store/harness.ts';
import { NOW, PHONES, TODAY, child, scheduledEvent } from '../helpers.ts';
import { appointmentsIn, dateOf, makeStore, type StoreKind, type TestStore } from './harness.ts';

const OU = DEMO.orgUnits;
const deployment = defaultDeployment();
const open: TestStore[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await cleanupRedis([]);
});

interface World {
  emu: Emulator;
  client: Dhis2Client;
  store: Store;
  clock: ReturnType<typeof fixedClock>;
  sync(mode: SyncOptions['mode'], extra?: Partial<SyncOptions>): ReturnType<typeof syncReadModel>;
}

async function world(
  kind: StoreKind,
  opts: { version?: string; now?: string; children?: number } = {},
): Promise<World> {
  const clock = fixedClock(opts.now ?? NOW);
  const emu = createEmulator({ version: opts.version ?? '2.40', clock, seed: { children: opts.children ?? 60 } });
  const dhis2 = { baseUrl: emu.baseUrl, auth: { token: emu.credentials.token }, fetch: emu.fetch, timeoutMs: 5000 };
  const client = createDhis2Client(dhis2);
  const users = createCaseWorkerSource(dhis2);
  const s = await makeStore(kind, clock, 'rm-sync');
  open.push(s);
  return {
    emu,
    client,
    store: s.store,
    clock,
    sync: (mode, extra = {}) =>
      syncReadModel({ client, store: s.store, deployment, clock, mode, users, defaultCountry: 'KE', ...extra }),
  };
}

// The lookback is the deployment's `defaulters.lookbackDays` (1 000 days, as EIR's working list).
const WINDOW = { from: '2022-06-07', to: '2025-05-02' };

describe.each<StoreKind>(['memory', 'redis'])('read model sync (%s store)', (kind) => {
  it('builds one caregiver view per phone with every child that has an appointment, earliest first', async () => {
    const w = await world(kind);
    const stats = await w.sync('full');
    expect(stats).toMatchObject({ mode: 'full', today: TODAY, timeZone: 'Africa/Nairobi', window: WINDOW });

    const two = await getCaregiver(w.store, PHONES.twoDue);
    const amina = scheduledEvent(w.emu, PHONES.twoDue, 'Amina');
    expect(two?.children.map((c) => c.firstName)).toEqual(['Amina', 'Juma']);
    expect(two?.children[0]).toMatchObject({
      trackedEntity: amina.trackedEntity,
      enrollment: amina.enrollment,
      surname: 'Salim',
      sex: 'Female',
      orgUnit: OU.kidutani,
      next: {
        event: amina.event,
        enrollment: amina.enrollment,
        programStage: EIR.immunizationStage,
        orgUnit: OU.kidutani,
        orgUnitName: 'Kidutani',
        scheduledAt: '2025-03-05',
        status: 'SCHEDULE',
      },
    });

    // Rehema: Saida missed 3 days ago comes first; Omari, fully vaccinated, has nothing to show.
    const three = await getCaregiver(w.store, PHONES.three);
    expect(three?.children.map((c) => [c.firstName, c.next?.scheduledAt])).toEqual([
      ['Saida', '2025-02-28'],
      ['Hamisi', '2025-03-05'],
    ]);

    // Tumaini's latest visit (yesterday, completed) is what a reaction report attaches to.
    const tumaini = w.emu.state.eventsOfTrackedEntity(child(w.emu, PHONES.visitedYesterday, 'Tumaini').trackedEntity);
    const visit = tumaini.find((e) => e.status === 'COMPLETED' && w.emu.time.dateOf(e.occurredAt!) === '2025-03-02')!;
    expect((await getCaregiver(w.store, PHONES.visitedYesterday))?.children[0]).toMatchObject({
      latestEvent: visit.event,
      next: { scheduledAt: '2025-03-30' },
    });

    expect(await getCaregiver(w.store, DEMO.unknownPhone)).toBeNull();
    const snapshot = await w.store.getJson<EventSnapshot>(rmKeys.event(amina.event));
    expect(snapshot).toMatchObject({
      event: amina.event,
      status: 'SCHEDULE',
      scheduledAt: '2025-03-05T00:00:00.000',
      programStage: EIR.immunizationStage,
      enrollment: amina.enrollment,
      orgUnit: OU.kidutani,
      followUp: false,
    });
    expect(snapshot).not.toHaveProperty('notes');
  });

  it('lists defaulters per org unit (missed visits only) and gathers a case worker’s subtree', async () => {
    const w = await world(kind);
    await w.sync('full');
    const missedAt = (ou: string) =>
      appointmentsIn(w.emu, WINDOW.from, WINDOW.to)
        .filter((e) => e.orgUnit === ou && dateOf(w.emu, e) < TODAY)
        .map((e) => e.event)
        .sort();

    const kidutani = await getDefaultersFor(w.store, [OU.kidutani]);
    expect(kidutani.map((d) => d.event).sort()).toEqual(missedAt(OU.kidutani));
    const names = kidutani.map((d) => d.name);
    expect(names).toEqual(expect.arrayContaining(['Imani Otieno', 'Zuri Achieng']));
    expect(kidutani.find((d) => d.name === 'Zuri Achieng')).toMatchObject({
      scheduledAt: '2025-02-25',
      caregiverPhone: PHONES.missedSeveral,
      orgUnit: OU.kidutani,
    });
    // Longest overdue first.
    expect(kidutani.map((d) => d.scheduledAt)).toEqual([...kidutani.map((d) => d.scheduledAt)].sort());

    // Baraka is due today in Majengo: not a defaulter.
    const baraka = scheduledEvent(w.emu, PHONES.dueToday, 'Baraka');
    const mtwapa = await getDefaultersFor(w.store, [OU.mtwapa]);
    expect(mtwapa.map((d) => d.event).sort()).toEqual(
      [...missedAt(OU.kidutani), ...missedAt(OU.jumba), ...missedAt(OU.majengo)].sort(),
    );
    expect(mtwapa.map((d) => d.event)).not.toContain(baraka.event);
    expect((await getDefaultersFor(w.store, [OU.bomani])).map((d) => d.name)).toEqual(
      expect.arrayContaining(['Saida Bakari', 'Bahati Mohamed']),
    );
    expect(await getDefaultersFor(w.store, [])).toEqual([]);
  });

  it('finds case workers by phone with their capture org units, but not a disabled account', async () => {
    const w = await world(kind);
    const stats = await w.sync('full');
    expect(stats.workers).toBe(4);
    expect(await getCaseWorker(w.store, DEMO.caseWorkers.kidutani.phone)).toEqual({
      userId: DEMO.caseWorkers.kidutani.id,
      username: 'cw.zawadi',
      name: 'Zawadi Mwangi',
      phone: '+254711000001',
      orgUnits: [{ id: OU.kidutani, path: `/${OU.country}/${OU.kilifi}/${OU.mtwapa}/${OU.kidutani}` }],
    });
    expect(await getCaseWorker(w.store, DEMO.caseWorkers.disabled.phone)).toBeNull();
    expect(await getCaseWorker(w.store, PHONES.twoDue)).toBeNull();

    const tree = await getOrgUnitTree(w.store);
    expect(tree[OU.kidutani]).toEqual({
      id: OU.kidutani,
      name: 'Kidutani',
      path: `/${OU.country}/${OU.kilifi}/${OU.mtwapa}/${OU.kidutani}`,
      level: 4,
      parent: OU.mtwapa,
    });
    expect(isWithin(tree, OU.kidutani, [OU.kilifi])).toBe(true);
    expect(isWithin(tree, OU.kidutani, [OU.kidutani])).toBe(true);
    expect(isWithin(tree, OU.bomani, [OU.kilifi, OU.mtwapa])).toBe(false);
    expect(isWithin(tree, 'NoSuchOu001', [OU.country])).toBe(false);
  });

  it('incremental: a completed visit leaves the views, a rescheduled one moves, a deleted one goes, a new one appears', async () => {
    const w = await world(kind);
    await w.sync('full');
    w.clock.advance(10 * 60_000);
    const write = async (
      payload: Parameters<Dhis2Client['importTracker']>[0],
      strategy: 'UPDATE' | 'CREATE_AND_UPDATE' | 'DELETE' = 'UPDATE',
    ) => expect((await w.client.importTracker(payload, { importStrategy: strategy })).status).toBe('OK');

    const amina = scheduledEvent(w.emu, PHONES.twoDue, 'Amina');
    await write({
      events: [eventUpdate((await w.client.event(amina.event))!, { status: 'COMPLETED', occurredAt: TODAY })],
    });
    const imani = scheduledEvent(w.emu, PHONES.missedYesterday, 'Imani');
    await write({ events: [eventUpdate((await w.client.event(imani.event))!, { scheduledAt: '2025-03-10' })] });
    const zuri = scheduledEvent(w.emu, PHONES.missedSeveral, 'Zuri');
    await write(
      {
        events: [{ event: zuri.event, programStage: EIR.immunizationStage, orgUnit: OU.kidutani, status: 'SCHEDULE' }],
      },
      'DELETE',
    );
    const omari = child(w.emu, PHONES.three, 'Omari');
    const omariEnrollment = w.emu.state.enrollmentsByTrackedEntity.get(omari.trackedEntity)![0]!.enrollment;
    const booster = newUid();
    await write(
      {
        events: [
          {
            event: booster,
            program: EIR.program,
            programStage: EIR.immunizationStage,
            enrollment: omariEnrollment,
            orgUnit: OU.bomani,
            status: 'SCHEDULE',
            scheduledAt: '2025-03-20',
          },
        ],
      },
      'CREATE_AND_UPDATE',
    );

    const stats = await w.sync('incremental');
    expect(stats.mode).toBe('incremental');
    // Only children changed since the watermark (less the 5-minute overlap) are fetched again: the four
    // above, and any demo child registered this very morning.
    const since = Date.parse(NOW) - 5 * 60_000;
    const changed = new Set(
      [...w.emu.state.events.values()]
        .filter((e) => e.programStage === EIR.immunizationStage && e.updatedAt >= since)
        .map((e) => e.trackedEntity),
    );
    for (const te of w.emu.state.trackedEntities.values()) if (te.updatedAt >= since) changed.add(te.trackedEntity);
    expect([amina, imani, zuri].every((e) => changed.has(e.trackedEntity)) && changed.has(omari.trackedEntity)).toBe(
      true,
    );
    expect(stats.trackedEntities).toBe(changed.size);
    expect(stats.trackedEntities).toBeLessThan(10);
    expect(stats.removed.children).toBe(2);

    expect((await getCaregiver(w.store, PHONES.twoDue))?.children.map((c) => c.firstName)).toEqual(['Juma']);
    expect(await w.store.getJson(rmKeys.event(amina.event))).toBeNull();
    expect(await w.store.getJson(rmKeys.child(amina.trackedEntity))).toBeNull();
    expect((await getCaregiver(w.store, PHONES.missedYesterday))?.children[0]?.next?.scheduledAt).toBe('2025-03-10');
    expect(await getCaregiver(w.store, PHONES.missedSeveral)).toBeNull();
    expect(await w.store.getJson(rmKeys.event(zuri.event))).toBeNull();
    const kidutani = (await getDefaultersFor(w.store, [OU.kidutani])).map((d) => d.event);
    expect(kidutani).not.toContain(imani.event);
    expect(kidutani).not.toContain(zuri.event);
    expect((await getCaregiver(w.store, PHONES.three))?.children.map((c) => [c.firstName, c.next?.event])).toEqual([
      ['Saida', expect.any(String)],
      ['Hamisi', expect.any(String)],
      ['Omari', booster],
    ]);

    // The bookkeeping matches: a full sync now changes nothing.
    const again = await w.sync('full');
    expect(again.removed).toEqual({ children: 0, caregivers: 0, defaulterLists: 0, workers: 0 });
  });

  it('incremental: a new caregiver phone on a child moves the child to the new number’s view', async () => {
    const w = await world(kind);
    await w.sync('full');
    w.clock.advance(60_000);
    const neema = child(w.emu, PHONES.oneDue, 'Neema');
    const r = await w.client.importTracker({
      trackedEntities: [
        {
          trackedEntity: neema.trackedEntity,
          trackedEntityType: EIR.trackedEntityType,
          orgUnit: neema.orgUnit,
          attributes: [{ attribute: EIR.attributes.phone, value: '0722 000 111' }],
        },
      ],
    });
    expect(r.status).toBe('OK');
    await w.sync('incremental');
    expect(await getCaregiver(w.store, PHONES.oneDue)).toBeNull();
    // National format read with DEFAULT_COUNTRY.
    expect((await getCaregiver(w.store, '+254722000111'))?.children.map((c) => c.firstName)).toEqual(['Neema']);
    expect((await w.store.getJson<ChildRecord>(rmKeys.child(neema.trackedEntity)))?.rawPhone).toBe('0722 000 111');
  });

  it('after midnight an incremental sync turns yesterday’s appointment into a defaulter without any DHIS2 change', async () => {
    const w = await world(kind);
    await w.sync('full');
    const baraka = scheduledEvent(w.emu, PHONES.dueToday, 'Baraka');
    expect((await getDefaultersFor(w.store, [OU.majengo])).map((d) => d.event)).not.toContain(baraka.event);
    w.clock.set('2025-03-04T03:00:00Z');
    const stats = await w.sync('incremental');
    expect(stats.today).toBe('2025-03-04');
    expect((await getDefaultersFor(w.store, [OU.majengo])).map((d) => d.event)).toContain(baraka.event);
    expect((await w.store.getJson<SyncState>(rmKeys.sync()))?.today).toBe('2025-03-04');
  });
});

describe('read model sync', () => {
  it('pages through more than 50 events with explicit page sizes and holds exactly the appointments in the window', async () => {
    const w = await world('memory', { version: '2.42', children: 320 });
    const stats = await w.sync('full', { pageSize: 100 });
    const expected = appointmentsIn(w.emu, WINDOW.from, WINDOW.to);
    expect(expected.length).toBeGreaterThan(250);
    expect(stats.eventsRead).toBe(expected.length);
    expect(stats.appointments).toBe(expected.length);
    // One more request counts the overdue visits older than the window (one row, its total).
    const counts = w.emu.requests.filter((r) => r.path === '/api/tracker/events' && r.search.includes('OVERDUE'));
    expect(counts).toHaveLength(1);
    expect(counts[0]!.search).toContain('pageSize=1');
    const eventPages = w.emu.requests.filter((r) => r.path === '/api/tracker/events' && !r.search.includes('OVERDUE'));
    // 2.42 says when there is no next page, so not one request more than needed.
    expect(eventPages.length).toBe(Math.ceil(expected.length / 100));
    for (const r of eventPages) expect(r.search).toContain('pageSize=100');
    // Tracked entities come in uid lists, one request per page of events at most.
    const teRequests = w.emu.requests.filter((r) => r.path === '/api/tracker/trackedEntities');
    expect(teRequests.length).toBeLessThanOrEqual(eventPages.length);
    expect(teRequests[0]!.search).toMatch(/trackedEntities=[A-Za-z0-9]{11}%2C/);

    const snapshots = await w.store.getJsonMany<EventSnapshot>(expected.map((e) => rmKeys.event(e.event)));
    expect(snapshots.every((s) => s !== null)).toBe(true);
    const children = await w.store.getJson<string[]>(rmKeys.index('children'));
    expect(children).toEqual([...new Set(expected.map((e) => e.trackedEntity))].sort());
    const phones = new Set(
      expected.map((e) => w.emu.state.trackedEntities.get(e.trackedEntity)!.attributes[EIR.attributes.phone]),
    );
    expect(stats.caregivers).toBe(phones.size);
    expect(await w.store.getJson<string[]>(rmKeys.index('caregivers'))).toEqual([...phones].sort());
  });

  it('a full sync twice gives the same views; a third drops what DHIS2 no longer backs', async () => {
    const w = await world('memory');
    await w.sync('full');
    const read = async () => ({
      caregiver: await getCaregiver(w.store, PHONES.missedSeveral),
      kidutani: await w.store.getJson(rmKeys.defaulters(OU.kidutani)),
      indexes: await w.store.getJsonMany([
        rmKeys.index('caregivers'),
        rmKeys.index('defaulters'),
        rmKeys.index('children'),
        rmKeys.index('workers'),
      ]),
    });
    const first = await read();
    const second = await w.sync('full');
    expect(await read()).toEqual(first);
    expect(second.removed).toEqual({ children: 0, caregivers: 0, defaulterLists: 0, workers: 0 });

    // Zuri's appointment disappears from DHIS2 without the sync being told (deleted by an admin script).
    const zuri = scheduledEvent(w.emu, PHONES.missedSeveral, 'Zuri');
    w.emu.state.events.get(zuri.event)!.deleted = true;
    w.emu.state.touch();
    const third = await w.sync('full');
    expect(third.removed.children).toBe(1);
    expect(third.removed.caregivers).toBe(1);
    expect(await getCaregiver(w.store, PHONES.missedSeveral)).toBeNull();
    expect(await w.store.getJson(rmKeys.event(zuri.event))).toBeNull();
    expect(await w.store.getJson(rmKeys.child(zuri.trackedEntity))).toBeNull();
    expect(await w.store.getJson<string[]>(rmKeys.index('caregivers'))).not.toContain(PHONES.missedSeveral);
  });

  it('an incremental sync with no watermark yet runs as a full one', async () => {
    const w = await world('memory');
    const stats = await w.sync('incremental');
    expect(stats.mode).toBe('full');
    expect((await w.store.getJson<SyncState>(rmKeys.sync()))?.lastFullAt).toBe(NOW);
  });

  it('at 00:30 local time an appointment of that day is not missed, one of the day before is (Nairobi is UTC+3)', async () => {
    // 21:30 UTC on 2 March is already 3 March in Nairobi: judging dates in UTC would get both wrong.
    const w = await world('memory', { now: '2025-03-02T21:30:00.000Z' });
    const stats = await w.sync('full');
    expect(stats.today).toBe('2025-03-03');
    const baraka = scheduledEvent(w.emu, PHONES.dueToday, 'Baraka');
    const imani = scheduledEvent(w.emu, PHONES.missedYesterday, 'Imani');
    expect(dateOf(w.emu, baraka)).toBe('2025-03-03');
    const mtwapa = (await getDefaultersFor(w.store, [OU.mtwapa])).map((d) => d.event);
    expect(mtwapa).not.toContain(baraka.event);
    expect(mtwapa).toContain(imani.event);
    expect((await getCaregiver(w.store, PHONES.dueToday))?.children[0]?.next?.scheduledAt).toBe('2025-03-03');
  });

  it('at 23:59 local time an appointment of that day is still not missed', async () => {
    const w = await world('memory', { now: '2025-03-03T20:59:00.000Z' });
    await w.sync('full');
    const baraka = scheduledEvent(w.emu, PHONES.dueToday, 'Baraka');
    expect((await getDefaultersFor(w.store, [OU.majengo])).map((d) => d.event)).not.toContain(baraka.event);
  });

  it('builds the same views from DHIS2 2.38 and 2.42 (parameter names and envelopes differ)', async () => {
    const views = async (version: string) => {
      const w = await world('memory', { version });
      await w.sync('full');
      return {
        caregivers: await Promise.all(Object.values(PHONES).map((p) => getCaregiver(w.store, p))),
        defaulters: await getDefaultersFor(w.store, [OU.country]),
      };
    };
    const old = await views('2.38');
    expect(old.caregivers.filter(Boolean).length).toBeGreaterThan(5);
    expect(await views('2.42')).toEqual(old);
  });

  it('lists users with a phone page by page, and still syncs the rest when users cannot be read', async () => {
    const w = await world('memory');
    const dhis2 = { baseUrl: w.emu.baseUrl, auth: { token: w.emu.credentials.token }, fetch: w.emu.fetch };
    const users = await createCaseWorkerSource({ ...dhis2, pageSize: 2 }).usersWithPhone();
    expect(users.map((u) => u.username).sort()).toEqual([
      'cw.baraka',
      'cw.former',
      'cw.peter',
      'cw.salma',
      'cw.zawadi',
    ]);
    expect(w.emu.requests.filter((r) => r.path === '/api/users')).toHaveLength(3);

    const warnings: object[] = [];
    const refused = { usersWithPhone: () => Promise.reject(new Error('DHIS2 answered 403 to GET /api/users')) };
    const stats = await w.sync('full', {
      users: refused,
      logger: { info: () => undefined, warn: (o) => warnings.push(o) },
    });
    expect(stats.workers).toBeUndefined();
    expect(stats.caregivers).toBeGreaterThan(5);
    expect(warnings).toEqual([expect.objectContaining({ code: 'JIBU_DHIS2_UNAVAILABLE' })]);
    expect((await w.store.getJson<SyncState>(rmKeys.sync()))?.lastFullAt).toBe(NOW);
  });

  it('judges "today" in the deployment time zone when it sets one', async () => {
    const w = await world('memory', { now: '2025-03-03T02:00:00.000Z' });
    // 02:00 UTC on 3 March is still 2 March in Lima.
    const stats = await w.sync('full', { deployment: { ...deployment, timeZone: 'America/Lima' } });
    expect(stats.today).toBe('2025-03-02');
    expect((await w.store.getJson<SyncState>(rmKeys.sync()))?.timeZone).toBe('America/Lima');
  });
});
