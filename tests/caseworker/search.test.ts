import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASEWORKER_FLOW, loadCaseWorkerData, type CaseWorkerData } from '../../src/caseworker/data.ts';
import { nameMatches, similarNames } from '../../src/caseworker/people.ts';
import { fixedClock } from '../../src/clock.ts';
import { sessionKey } from '../../src/conversation/runner.ts';
import { createDhis2Client } from '../../src/dhis2/client.ts';
import { defaultDeployment } from '../../src/dhis2/deployment.ts';
import { createEmulator, DEMO, type Emulator, type EmulatorUserInput } from '../../src/emulator/index.ts';
import {
  createCaseWorkerSource,
  rmKeys,
  syncReadModel,
  type ChildRecord,
  type SyncOptions,
  type SyncState,
} from '../../src/dhis2/readmodel/index.ts';
import type { Store } from '../../src/store/types.ts';
import { makeStore, type StoreKind, type TestStore } from '../dhis2/readmodel/harness.ts';
import { cleanupRedis } from '../store/harness.ts';

/**
 * A case worker's name search and duplicate check read the children of their own area through the
 * per-org-unit lists (`rm:index:children-ou:*`), never the whole registry. What they find must be
 * exactly what the whole-registry scan found before: checked against a brute force over every child
 * record (scope judged by the emulator's own tree) and against the scan itself, which still serves a
 * read model synced before the lists existed.
 */

const NOW = '2025-11-25T07:00:00Z';
const OU = DEMO.orgUnits;
const deployment = { ...defaultDeployment(), timeZone: 'Africa/Nairobi' };
const opened: TestStore[] = [];

afterAll(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await cleanupRedis([]);
});

interface Worker {
  id: string;
  phone: string;
  orgUnits: string[];
}

/** Demo workers (village, facility) and wider or mixed scopes: a district, the country, two districts, overlapping units. */
const EXTRA: Worker[] = [
  { id: 'JbUsrSrch01', phone: '+254719000001', orgUnits: [OU.kilifi] },
  { id: 'JbUsrSrch02', phone: '+254719000002', orgUnits: [OU.country] },
  { id: 'JbUsrSrch03', phone: '+254719000003', orgUnits: [OU.kidutani, OU.bomani] },
  { id: 'JbUsrSrch04', phone: '+254719000004', orgUnits: [OU.mtwapa, OU.kidutani] },
];
const WORKERS: Worker[] = [
  ...[DEMO.caseWorkers.kidutani, DEMO.caseWorkers.mtwapa, DEMO.caseWorkers.bomani, DEMO.caseWorkers.tiwi].map((w) => ({
    id: w.id,
    phone: w.phone,
    orgUnits: [w.orgUnit],
  })),
  ...EXTRA,
];

/** 70 workers, each on a different pair of villages: more scopes than the search cache keeps. */
const VILLAGES = [
  OU.kidutani,
  OU.jumba,
  OU.majengo,
  OU.mgamboni,
  OU.buni,
  OU.mwele,
  OU.bomani,
  OU.mkunguni,
  OU.vidziani,
  OU.tiwiKati,
  OU.mwaroni,
  OU.magaoni,
];
const PAIRS: Worker[] = VILLAGES.flatMap((a, i) => VILLAGES.slice(i + 1).map((b) => [a, b] as const))
  .slice(0, 70)
  .map(([a, b], n) => ({
    id: `JbUsrPair${String(n).padStart(2, '0')}`,
    phone: `+25471980${String(n).padStart(4, '0')}`,
    orgUnits: [a, b],
  }));

interface World {
  emu: Emulator;
  store: Store;
  records: ChildRecord[];
  clock: ReturnType<typeof fixedClock>;
  sync(mode: SyncOptions['mode']): Promise<void>;
}

async function world(kind: StoreKind, children: number): Promise<World> {
  const clock = fixedClock(NOW);
  const users: EmulatorUserInput[] = [...EXTRA, ...PAIRS].map((w) => ({
    id: w.id,
    username: w.id.toLowerCase(),
    phoneNumber: w.phone,
    organisationUnits: w.orgUnits,
  }));
  const emu = createEmulator({ version: '2.40', clock, seed: { children }, users });
  const dhis2 = { baseUrl: emu.baseUrl, auth: { token: emu.credentials.token }, fetch: emu.fetch, timeoutMs: 10_000 };
  const client = createDhis2Client(dhis2);
  const source = createCaseWorkerSource(dhis2);
  const s = await makeStore(kind, clock, 'cw-search');
  opened.push(s);
  const w: World = {
    emu,
    store: s.store,
    records: [],
    clock,
    async sync(mode) {
      await syncReadModel({
        client,
        store: s.store,
        deployment,
        clock,
        mode,
        users: source,
        defaultCountry: 'KE',
        pageSize: 200,
      });
      const ids = (await s.store.getJson<string[]>(rmKeys.index('children'))) ?? [];
      w.records = (await s.store.getJsonMany<ChildRecord>(ids.map(rmKeys.child))).filter(
        (r): r is ChildRecord => r !== null,
      );
    },
  };
  await w.sync('full');
  return w;
}

/** Leave `vars` as the caller's previous hop did (signed in as the worker). */
async function hop(store: Store, worker: Worker, vars: Record<string, unknown>): Promise<void> {
  const key = sessionKey('ussd', worker.phone);
  const loaded = await store.lockAndLoad(worker.phone, key);
  const at = Date.parse(NOW);
  await store.commit(loaded.lock, {
    sessionKey: key,
    session: {
      flowId: CASEWORKER_FLOW,
      flowVersion: 'test',
      channel: 'ussd',
      snapshot: { context: { vars: { signedInAs: worker.id, ...vars } } },
      locale: 'en',
      startedAt: at,
      updatedAt: at,
    },
    sessionTtlMs: 600_000,
    jobs: [],
  });
}

async function load(store: Store, worker: Worker, maxFound?: number): Promise<CaseWorkerData> {
  const data = await loadCaseWorkerData(
    store,
    deployment,
    worker.phone,
    new Date(NOW),
    maxFound === undefined ? {} : { maxFound },
  );
  expect(data?.signedIn).toBe(true);
  return data!;
}

/**
 * A store that records every key read (observing, not changing, what the loader does). A new one has a
 * cold search cache: the cache is kept per store object.
 */
function observed(store: Store, opts: { legacy?: boolean } = {}): { store: Store; read: string[] } {
  const read: string[] = [];
  // A read model as a version before the lists left it: no `childrenByOrgUnit` marker.
  const strip = <T>(key: string, value: T): T => {
    if (!opts.legacy || key !== rmKeys.sync() || !value) return value;
    const { childrenByOrgUnit: _marker, ...rest } = value as SyncState;
    return rest as T;
  };
  const proxy = new Proxy(store, {
    get(target, prop) {
      if (prop === 'getJson') {
        return async <T>(key: string) => {
          read.push(key);
          return strip(key, await target.getJson<T>(key));
        };
      }
      if (prop === 'getJsonMany') {
        return async <T>(keys: string[]) => {
          read.push(...keys);
          return (await target.getJsonMany<T>(keys)).map((v, i) => strip(keys[i]!, v));
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: proxy, read };
}

const fullName = (r: ChildRecord) => [r.firstName, r.surname].filter(Boolean).join(' ');

/** Brute force: every child record inside the worker's subtrees (the emulator's tree decides), in id order. */
function inArea(w: World, worker: Worker): ChildRecord[] {
  return w.records
    .filter((r) => w.emu.state.isWithinAny(r.orgUnit, worker.orgUnits))
    .sort((a, b) => (a.trackedEntity < b.trackedEntity ? -1 : 1));
}

function expectedFound(w: World, worker: Worker, query: string, max: number): string[] {
  return inArea(w, worker)
    .filter((r) => nameMatches(query, fullName(r)))
    .slice(0, max)
    .map((r) => r.trackedEntity);
}

function expectedDuplicates(w: World, worker: Worker, dob: string, name: string): string[] {
  return inArea(w, worker)
    .filter((r) => r.dateOfBirth === dob && similarNames(name, fullName(r)))
    .slice(0, 5)
    .map((r) => r.trackedEntity);
}

const QUERIES = ['amina', 'zuri', 'a', 'ba', 'mw', 'juma salim', 'Amína', 'ka o', 'xyz'];

describe.each([
  ['the demo registry', 300],
  ['a seeded registry of 3 000 children', 3000],
])('name search over %s', (_label, children) => {
  let w: World;
  beforeAll(async () => {
    w = await world('memory', children);
  }, 60_000);

  it('every worker finds exactly what the whole-registry filter finds, cut at maxFound in the same order', async () => {
    let nonEmpty = 0;
    for (const worker of WORKERS) {
      for (const query of QUERIES) {
        await hop(w.store, worker, { findBy: 'name', searchName: query });
        const all = await load(w.store, worker, 1_000_000);
        const want = expectedFound(w, worker, query, 1_000_000);
        expect(
          all.found.map((c) => c.trackedEntity),
          `${worker.id} "${query}"`,
        ).toEqual(want);
        expect((await load(w.store, worker)).found.map((c) => c.trackedEntity)).toEqual(want.slice(0, 20));
        if (want.length) nonEmpty++;
      }
    }
    // The table is not vacuous: most searches find someone, some find more than a screenful.
    expect(nonEmpty).toBeGreaterThan(WORKERS.length * 4);
  });

  it('for any worker, query and duplicate check, the indexed read answers as the old scan did (property)', async () => {
    const names = [...new Set(w.records.flatMap((r) => [r.firstName, r.surname ?? '']).filter(Boolean))];
    const query = fc.oneof(
      fc.tuple(fc.constantFrom(...names), fc.integer({ min: 1, max: 6 })).map(([n, k]) => n.slice(0, k)),
      fc.string({ minLength: 1, maxLength: 5 }),
    );
    const subject = fc.constantFrom(...w.records);
    let found = 0;
    let duplicates = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...WORKERS, ...PAIRS.slice(0, 10)),
        query,
        subject,
        async (worker, q, person) => {
          const dob = person.dateOfBirth ?? '2025-01-01';
          await hop(w.store, worker, { findBy: 'name', searchName: q, purpose: 'death', dob, name: person.firstName });
          const indexed = await load(observed(w.store).store, worker);
          const scanned = await load(observed(w.store, { legacy: true }).store, worker);
          expect(indexed.found).toEqual(scanned.found);
          expect(indexed.duplicates).toEqual(scanned.duplicates);
          expect(indexed.trusted).toEqual(scanned.trusted);
          expect(indexed.found.map((c) => c.trackedEntity)).toEqual(expectedFound(w, worker, q, 20));
          expect(indexed.duplicates.slice(1).map((c) => c.trackedEntity)).toEqual(
            expectedDuplicates(w, worker, dob, person.firstName),
          );
          if (indexed.found.length) found++;
          if (indexed.duplicates.length) duplicates++;
        },
      ),
      { numRuns: 60, seed: 20251125 },
    );
    // Not vacuous: many runs find children, and some find possible duplicates.
    expect(found).toBeGreaterThan(15);
    expect(duplicates).toBeGreaterThan(5);
  });
});

describe.each<StoreKind>(['memory', 'redis'])('what a search reads (%s store)', (kind) => {
  let w: World;
  beforeAll(async () => {
    w = await world(kind, 600);
  }, 60_000);

  const childKeys = (read: string[]) => read.filter((k) => k.startsWith('rm:child:'));

  it('reads the records of the children in the worker’s area only, each once, and never the registry-wide index', async () => {
    for (const worker of WORKERS) {
      const { store, read } = observed(w.store);
      await hop(w.store, worker, { findBy: 'name', searchName: 'a' });
      await load(store, worker);
      const mine = inArea(w, worker).map((r) => rmKeys.child(r.trackedEntity));
      expect(mine.length).toBeGreaterThan(0);
      expect(childKeys(read).sort(), worker.id).toEqual(mine.sort());
      expect(read).not.toContain(rmKeys.index('children'));
    }
    // A village is a small part of the registry: Zawadi reads under a fifth of it.
    const { store, read } = observed(w.store);
    await hop(w.store, WORKERS[0]!, { findBy: 'name', searchName: 'a' });
    await load(store, WORKERS[0]!);
    expect(childKeys(read).length).toBeLessThan(w.records.length / 5);
  });

  it('the whole-registry scan, kept for a read model without the lists, reads every child (what this replaced)', async () => {
    const { store, read } = observed(w.store, { legacy: true });
    await hop(w.store, WORKERS[0]!, { findBy: 'name', searchName: 'a' });
    await load(store, WORKERS[0]!);
    expect(childKeys(read).length).toBe(w.records.length);
  });

  it('the next hops of the same dial read no child again until a sync; the cache forgets the least recently used of many scopes', async () => {
    const { store, read } = observed(w.store);
    const zawadi = WORKERS[0]!;
    await hop(w.store, zawadi, { findBy: 'name', searchName: 'zuri' });
    await load(store, zawadi);
    expect(childKeys(read).length).toBeGreaterThan(0);
    read.length = 0;
    await load(store, zawadi);
    expect(childKeys(read)).toEqual([]);

    // A sync changes the read model: the next search reads the area afresh.
    w.clock.advance(5 * 60_000);
    await w.sync('incremental');
    await load(store, zawadi);
    expect(childKeys(read).length).toBe(inArea(w, zawadi).length);

    // 70 other scopes later, Zawadi's has left the cache; the latest one is still there.
    for (const pair of PAIRS) {
      await hop(w.store, pair, { findBy: 'name', searchName: 'a' });
      await load(store, pair);
    }
    read.length = 0;
    await load(store, PAIRS.at(-1)!);
    expect(childKeys(read)).toEqual([]);
    await load(store, zawadi);
    expect(childKeys(read).length).toBe(inArea(w, zawadi).length);
  });
});
