import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadCaseWorkerData } from '../../src/caseworker/data.ts';
import { addDays, getDefaultersFor, rmKeys, type SyncState } from '../../src/dhis2/readmodel/index.ts';
import type { Emulator } from '../../src/emulator/index.ts';
import type { StoredEvent } from '../../src/emulator/model.ts';
import { runDigest } from '../../src/scheduler/digest.ts';
import { createWorld, DEMO, EIR, type Kind, type World } from '../scheduler/world.ts';
import { cleanupRedis } from '../store/harness.ts';

/**
 * Nothing is dropped silently (issue: defaulter tracing as the programme defines it): on a generated
 * registry of several thousand children over many villages, with overdue visits from 1 to 1 200 days old
 * and some in completed enrollments, the read model, the USSD menu count, the digest total and the admin
 * count give exactly what DHIS2's OVERDUE working list gives ("Missed appointments": ACTIVE enrollments,
 * 1 000 days), on every DHIS2 version the emulator speaks, in memory and in Redis.
 */

const TODAY = '2025-03-03';
const NOW = new Date('2025-03-03T07:00:00.000Z');
const CHILDREN = 3000;
const VILLAGES = 48;
const OU = DEMO.orgUnits;

/** The demo workers, one for a district, one with two capture org units in two districts. */
const EXTRA = [
  { id: 'JbUsrEqK001', username: 'cw.kilifi', phoneNumber: '+254719100001', organisationUnits: [OU.kilifi] },
  {
    id: 'JbUsrEqT002',
    username: 'cw.two',
    phoneNumber: '+254719100002',
    organisationUnits: [OU.bomani, OU.rabai],
  },
];
const WORKERS = [
  ...Object.values(DEMO.caseWorkers)
    .filter((c) => c !== DEMO.caseWorkers.disabled)
    .map((c) => ({ username: c.username as string, phone: c.phone as string, orgUnits: [c.orgUnit as string] })),
  ...EXTRA.map((u) => ({ username: u.username, phone: u.phoneNumber, orgUnits: u.organisationUnits })),
];

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});
afterAll(async () => {
  await cleanupRedis([]);
});

/** Villages under the demo facilities until there are `total`; each generated child moves to one, by its uid. */
function spread(emu: Emulator, total: number): void {
  const facilities = [OU.mtwapa, OU.rabai, OU.msambweni, OU.tiwi];
  const villages = [...emu.state.orgUnits.values()].filter((o) => o.level === 4).map((o) => o.id);
  for (let i = villages.length; i < total; i++) {
    const id = `JbVilQ${String(i).padStart(5, '0')}`;
    emu.state.addOrgUnit({ id, name: `Kijiji ${i}`, parent: facilities[i % 4]!, openingDate: '2010-01-01' });
    villages.push(id);
  }
  const named = new Set(Object.values(DEMO.caregivers).map((c) => c.phone as string));
  const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  for (const te of emu.state.trackedEntities.values()) {
    if (named.has(te.attributes[EIR.attributes.phone] ?? '')) continue;
    const village = villages[hash(te.trackedEntity) % villages.length]!;
    te.orgUnit = village;
    for (const en of emu.state.enrollmentsByTrackedEntity.get(te.trackedEntity) ?? []) {
      en.orgUnit = village;
      for (const ev of emu.state.eventsByEnrollment.get(en.enrollment) ?? []) ev.orgUnit = village;
    }
  }
}

/**
 * Overdue visits of every age: in Mtwapa's area 1 to 400 days (each day at least once), elsewhere up to
 * 1 200 days (past the lookback); every 40th other child's enrollment completed.
 */
function plant(emu: Emulator): void {
  const inMtwapa = (e: StoredEvent) => (emu.state.orgUnits.get(e.orgUnit)?.path ?? '').includes(OU.mtwapa);
  const scheduled = [...emu.state.events.values()]
    .filter((e) => e.programStage === EIR.immunizationStage && e.status === 'SCHEDULE')
    .sort((a, b) => (a.event < b.event ? -1 : 1));
  const ago = (days: number) => emu.time.startOfDay(addDays(TODAY, -days));
  let m = 0;
  scheduled.forEach((e, i) => {
    if (inMtwapa(e) && m < 400) {
      e.scheduledAt = ago(++m);
      return;
    }
    if (i % 4 === 0) e.scheduledAt = ago(1 + ((i * 7919) % 1200));
    else if (i % 4 === 2) e.scheduledAt = ago(1 + (i % 400));
    if (i % 40 === 7) emu.state.enrollments.get(e.enrollment)!.status = 'COMPLETED';
  });
  expect(m).toBe(400);
  emu.state.touch();
}

/** DHIS2's "Missed appointments" working list over `orgUnits` (each with its descendants). */
async function overdueInDhis2(world: World, orgUnits: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const orgUnit of orgUnits)
    for await (const e of world.client.iterateEvents({
      program: EIR.program,
      programStage: EIR.immunizationStage,
      status: 'OVERDUE',
      enrollmentStatus: 'ACTIVE',
      orgUnit,
      orgUnitMode: 'DESCENDANTS',
      scheduledAfter: addDays(TODAY, -1000),
      fields: 'event',
      pageSize: 100,
    }))
      out.add(e.event);
  return out;
}

async function check(kind: Kind, version: string): Promise<void> {
  w = await createWorld(kind, `defaulters-eq-${version}`, {
    version,
    children: CHILDREN,
    history: false,
    users: EXTRA,
  });
  spread(w.emulator, VILLAGES);
  plant(w.emulator);
  await w.sync('full');
  const world = w;

  // The admin count (last full sync) is the whole registry's working list.
  const everyone = await overdueInDhis2(world, [OU.country]);
  expect(everyone.size).toBeGreaterThan(700);
  const state = await world.store.getJson<SyncState>(rmKeys.sync());
  expect(state?.defaulters?.count).toBe(everyone.size);
  expect(state?.defaulters?.excluded.lookback).toBeGreaterThan(0);
  expect(state?.defaulters?.excluded.enrollment).toBeGreaterThan(0);

  const digest = await runDigest(world.deps, TODAY);
  for (const worker of WORKERS) {
    const truth = await overdueInDhis2(world, worker.orgUnits);
    expect(truth.size, worker.username).toBeGreaterThan(0);
    const held = await getDefaultersFor(world.store, worker.orgUnits);
    expect(new Set(held.map((d) => d.event)), worker.username).toEqual(truth);

    const data = await loadCaseWorkerData(
      world.store,
      world.deployment,
      worker.phone,
      NOW,
      {},
      {
        signedInAs: (await world.store.getJson<{ userId: string }>(rmKeys.worker(worker.phone)))!.userId,
      },
    );
    expect(data?.defaulterCount, `${worker.username}: menu count`).toBe(truth.size);
    expect(new Set(data!.defaulters.map((d) => d.event))).toEqual(truth);
    const days = data!.defaulters.map((d) => d.days);
    expect(days, 'oldest first').toEqual([...days].sort((a, b) => b - a));
    expect(digest.notified.find((n) => n.username === worker.username)?.total, `${worker.username}: digest`).toBe(
      truth.size,
    );
  }

  // Mtwapa's worker sees every visit from 1 to 400 days overdue.
  const mtwapa = await loadCaseWorkerData(
    world.store,
    world.deployment,
    DEMO.caseWorkers.mtwapa.phone,
    NOW,
    {},
    {
      signedInAs: DEMO.caseWorkers.mtwapa.id,
    },
  );
  const seen = new Set(mtwapa!.defaulters.map((d) => d.days));
  for (let d = 1; d <= 400; d++) expect(seen.has(d), `${d} days overdue`).toBe(true);
}

describe('defaulters equal DHIS2 OVERDUE working list on a generated registry', () => {
  for (const version of ['2.38', '2.39', '2.40', '2.41', '2.42'])
    it(`DHIS2 ${version}, memory store`, () => check('memory', version), 60_000);
  it('DHIS2 2.42, Redis store', () => check('redis', '2.42'), 60_000);
});
