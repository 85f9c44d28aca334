/**
 * `npx tsx bench/caseworker-search.ts` — a case worker's first name search after a sync, over 100 000
 * children: the per-org-unit read (`rm:index:children-ou:*`) against the whole-registry scan it replaced.
 *
 * Method (also in bench/README.md, "Case-worker search"):
 *  1. The DHIS2 emulator (2.41, clock pinned to 3 March 2025) is seeded with `--children` (default 100 000)
 *     children. `--villages=N` (default 12, the demo tree) adds villages under the demo facilities until
 *     there are N and moves each generated child, with its enrollment and events, to one of them chosen
 *     by its uid, so a village holds about children/N of the registry as in a national tree. Two extra
 *     case workers are added: one for Kilifi district, one for the whole country.
 *  2. The read model is synced in full into Redis (`--store=redis`, default) under a private prefix that is
 *     deleted afterwards, or into memory (`--store=memory`). Setup, not measured.
 *  3. For each worker (village, facility, district, country) the previous hop's session is written (signed
 *     in, "search by name", `--query`, default `amina`) and `loadCaseWorkerData` runs on a store wrapper
 *     that counts the keys read; a new wrapper has a cold search cache, so each run is a first search after
 *     a sync. "scan" is the same loader on a read model without the `childrenByOrgUnit` marker (the
 *     wrapper hides it), which takes the whole-registry path this change replaced: `rm:index:children`
 *     and every child record. "index" is the new path. Both must find the same children.
 *  4. `--rounds` (default 5) rounds alternate which path goes first; the median time is reported, with the
 *     child records read, the other keys read, and the time of the next hop (cache warm).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deleteRedisPrefix } from './redis-prefix.ts';
import { CASEWORKER_FLOW, loadCaseWorkerData } from '../src/caseworker/data.ts';
import { fixedClock } from '../src/clock.ts';
import { sessionKey } from '../src/conversation/runner.ts';
import { createDhis2Client } from '../src/dhis2/client.ts';
import { defaultDeployment } from '../src/dhis2/deployment.ts';
import { createEmulator, DEMO, type Emulator } from '../src/emulator/index.ts';
import { createCaseWorkerSource, rmKeys, syncReadModel, type SyncState } from '../src/dhis2/readmodel/index.ts';
import { createStoreAndQueue } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'];
  }),
);
const CHILDREN = Number(args.get('children') ?? 100_000);
const VILLAGES = Number(args.get('villages') ?? 12);
const STORE = args.get('store') ?? 'redis';
const REDIS = args.get('redis') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = Number(args.get('rounds') ?? 5);
const QUERY = args.get('query') ?? 'amina';
const NOW = '2025-03-03T07:00:00.000Z';
const ROOT = path.resolve(import.meta.dirname, '..');
const OU = DEMO.orgUnits;

interface Worker {
  label: string;
  id: string;
  phone: string;
}
const WORKERS: Worker[] = [
  { label: 'village (Kidutani)', id: DEMO.caseWorkers.kidutani.id, phone: DEMO.caseWorkers.kidutani.phone },
  { label: 'facility (Mtwapa HC)', id: DEMO.caseWorkers.mtwapa.id, phone: DEMO.caseWorkers.mtwapa.phone },
  { label: 'district (Kilifi)', id: 'JbUsrBnch01', phone: '+254719000001' },
  { label: 'country', id: 'JbUsrBnch02', phone: '+254719000002' },
];

/** Spread generated children over `total` villages (demo villages plus new ones under the demo facilities). */
function spreadVillages(emu: Emulator, total: number): void {
  const facilities = [OU.mtwapa, OU.rabai, OU.msambweni, OU.tiwi];
  const villages = [...emu.state.orgUnits.values()].filter((o) => o.level === 4).map((o) => o.id);
  for (let i = villages.length; i < total; i++) {
    const id = `JbVilB${String(i).padStart(5, '0')}`;
    emu.state.addOrgUnit({
      id,
      name: `Village ${i}`,
      parent: facilities[i % facilities.length]!,
      openingDate: '2010-01-01',
    });
    villages.push(id);
  }
  const named = new Set(Object.values(DEMO.caregivers).map((c) => c.phone as string));
  const hash = (s: string) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  for (const te of emu.state.trackedEntities.values()) {
    if ([...named].some((p) => Object.values(te.attributes).includes(p))) continue;
    const village = villages[hash(te.trackedEntity) % villages.length]!;
    te.orgUnit = village;
    for (const en of emu.state.enrollmentsByTrackedEntity.get(te.trackedEntity) ?? []) {
      en.orgUnit = village;
      for (const ev of emu.state.eventsByEnrollment.get(en.enrollment) ?? []) ev.orgUnit = village;
    }
  }
  emu.state.touch();
}

/** Counts the keys read; optionally hides the `childrenByOrgUnit` marker (the read model as before the lists). */
function observed(store: Store, legacy: boolean): { store: Store; reads: { child: number; other: number } } {
  const reads = { child: 0, other: 0 };
  const count = (keys: string[]) => {
    for (const k of keys)
      if (k.startsWith('rm:child:')) reads.child++;
      else reads.other++;
  };
  const strip = <T>(key: string, v: T): T => {
    if (!legacy || key !== rmKeys.sync() || !v) return v;
    const { childrenByOrgUnit: _m, ...rest } = v as SyncState;
    return rest as T;
  };
  const proxy = new Proxy(store, {
    get(target, prop) {
      if (prop === 'getJson')
        return async <T>(key: string) => {
          count([key]);
          return strip(key, await target.getJson<T>(key));
        };
      if (prop === 'getJsonMany')
        return async <T>(keys: string[]) => {
          count(keys);
          return (await target.getJsonMany<T>(keys)).map((v, i) => strip(keys[i]!, v));
        };
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: proxy, reads };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const clock = fixedClock(NOW);
  const t0 = performance.now();
  const emu = createEmulator({
    version: '2.41',
    clock,
    serverTimeZone: 'Africa/Nairobi',
    seed: { children: CHILDREN },
    users: [
      { id: WORKERS[2]!.id, username: 'cw.kilifi', phoneNumber: WORKERS[2]!.phone, organisationUnits: [OU.kilifi] },
      { id: WORKERS[3]!.id, username: 'cw.country', phoneNumber: WORKERS[3]!.phone, organisationUnits: [OU.country] },
    ],
  });
  if (VILLAGES > 12) spreadVillages(emu, VILLAGES);
  const seedMs = Math.round(performance.now() - t0);
  const dhis2 = { baseUrl: emu.baseUrl, auth: { token: emu.credentials.token }, fetch: emu.fetch };
  const deployment = { ...defaultDeployment(), timeZone: 'Africa/Nairobi' };
  const prefix = `jibubench-cwsearch-${process.pid}:`;
  const sq = await createStoreAndQueue({ redisUrl: STORE === 'redis' ? REDIS : undefined, clock, prefix });
  try {
    const t1 = performance.now();
    const sync = await syncReadModel({
      client: createDhis2Client(dhis2),
      store: sq.store,
      deployment,
      clock,
      mode: 'full',
      users: createCaseWorkerSource(dhis2),
      defaultCountry: 'KE',
    });
    const syncMs = Math.round(performance.now() - t1);
    const ouLists = ((await sq.store.getJson<string[]>(rmKeys.index('children-ou'))) ?? []).length;

    const rows = [];
    for (const w of WORKERS) {
      const key = sessionKey('ussd', w.phone);
      const loaded = await sq.store.lockAndLoad(w.phone, key);
      const at = Date.parse(NOW);
      await sq.store.commit(loaded.lock, {
        sessionKey: key,
        session: {
          flowId: CASEWORKER_FLOW,
          flowVersion: 'bench',
          channel: 'ussd',
          snapshot: { context: { vars: { signedInAs: w.id, findBy: 'name', searchName: QUERY } } },
          locale: 'en',
          startedAt: at,
          updatedAt: at,
        },
        sessionTtlMs: 3_600_000,
        jobs: [],
      });
      const runs: Record<
        'scan' | 'index',
        { first: number[]; next: number[]; child: number; other: number; found: string }
      > = {
        scan: { first: [], next: [], child: 0, other: 0, found: '' },
        index: { first: [], next: [], child: 0, other: 0, found: '' },
      };
      for (let r = 0; r < ROUNDS; r++) {
        const order: Array<'scan' | 'index'> = r % 2 === 0 ? ['scan', 'index'] : ['index', 'scan'];
        for (const mode of order) {
          const o = observed(sq.store, mode === 'scan');
          const began = performance.now();
          const data = await loadCaseWorkerData(o.store, deployment, w.phone, new Date(NOW), {});
          runs[mode].first.push(performance.now() - began);
          runs[mode].child = o.reads.child;
          runs[mode].other = o.reads.other;
          runs[mode].found = (data?.found ?? []).map((c) => c.trackedEntity).join(',');
          if (!data?.signedIn) throw new Error(`${w.label}: not signed in`);
          const again = performance.now();
          await loadCaseWorkerData(o.store, deployment, w.phone, new Date(NOW), {});
          runs[mode].next.push(performance.now() - again);
        }
      }
      if (runs.scan.found !== runs.index.found) throw new Error(`${w.label}: the two paths found different children`);
      rows.push({
        worker: w.label,
        found: runs.index.found ? runs.index.found.split(',').length : 0,
        scan: {
          firstSearchMs: ms(median(runs.scan.first)),
          childRecordsRead: runs.scan.child,
          otherKeysRead: runs.scan.other,
          nextHopMs: ms(median(runs.scan.next)),
        },
        index: {
          firstSearchMs: ms(median(runs.index.first)),
          childRecordsRead: runs.index.child,
          otherKeysRead: runs.index.other,
          nextHopMs: ms(median(runs.index.next)),
        },
      });
    }

    const commit = (() => {
      try {
        const head = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
        const dirty = execSync('git status --porcelain', { cwd: ROOT }).toString().trim() ? '+uncommitted' : '';
        return head + dirty;
      } catch {
        return 'unknown';
      }
    })();
    const report = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model,
        memGB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        commit,
      },
      setup: {
        children: CHILDREN,
        villages: Math.max(VILLAGES, 12),
        store: STORE,
        query: QUERY,
        rounds: ROUNDS,
        seedMs,
        syncMs,
        childrenInReadModel: sync.children,
        orgUnitLists: ouLists,
      },
      workers: rows,
    };
    console.log(JSON.stringify(report, null, 2));
    mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(
      path.join(ROOT, 'bench/results/caseworker-search-latest.json'),
      `${JSON.stringify(report, null, 2)}\n`,
    );
  } finally {
    await sq.close();
    if (STORE === 'redis') {
      await deleteRedisPrefix(REDIS, prefix);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
