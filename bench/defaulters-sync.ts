/**
 * `node --expose-gc --import tsx bench/defaulters-sync.ts` — a full read-model sync over the 1 000-day
 * defaulter window on a large registry: paged, fast and within a bounded heap.
 *
 * Method (also in bench/README.md, "Defaulter sync"):
 *  1. The DHIS2 emulator (2.41, clock pinned to 3 March 2025) is seeded in this process with `--children`
 *     (default 200 000) children, one scheduled Immunization visit each (no history). `--overdue` (default
 *     30 000) of those visits, chosen by uid, are moved 1 to 1 000 days into the past, spread evenly; the
 *     rest stay ahead. Setup, not measured.
 *  2. The gateway's side runs as `npm start` would with `REDIS_URL`: a Redis store under a private prefix
 *     (deleted afterwards), the default deployment (lookback 1 000 days). A full sync runs once.
 *  3. Measured: wall time of the sync, and the part of it spent inside the emulator's answers; every request the client sends to the emulator, with its
 *     `pageSize` and the number of items answered (the largest must be ≤ 100); the heap: `heapUsed` after a
 *     forced GC before the sync and after it (live growth: what the sync keeps), and the largest
 *     `heapUsed` sampled every 20 ms during it (peak; the emulator's own work in this process is included).
 *  4. Checked: the read model holds exactly `--overdue` defaulters (the generated children are inside
 *     the window), and the sync stats agree.
 * Exit code 0 only when every target is met: ≤ 100 items per request, ≤ 120 s, live growth ≤ 60 MB.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deleteRedisPrefix } from './redis-prefix.ts';
import { fixedClock } from '../src/clock.ts';
import { createDhis2Client } from '../src/dhis2/client.ts';
import { defaultDeployment } from '../src/dhis2/deployment.ts';
import { addDays, syncReadModel } from '../src/dhis2/readmodel/index.ts';
import { createEmulator, EIR } from '../src/emulator/index.ts';
import { createStoreAndQueue } from '../src/store/index.ts';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'];
  }),
);
const CHILDREN = Number(args.get('children') ?? 200_000);
const OVERDUE = Number(args.get('overdue') ?? 30_000);
const REDIS = args.get('redis') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NOW = '2025-03-03T07:00:00.000Z';
const TODAY = '2025-03-03';
const ROOT = path.resolve(import.meta.dirname, '..');
const MB = 2 ** 20;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with node --expose-gc --import tsx bench/defaulters-sync.ts');
  process.exit(2);
}
const liveHeap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

async function main(): Promise<void> {
  const clock = fixedClock(NOW);
  const t0 = performance.now();
  const emu = createEmulator({
    version: '2.41',
    clock,
    serverTimeZone: 'Africa/Nairobi',
    seed: { children: CHILDREN, history: false },
  });
  const scheduled = [...emu.state.events.values()]
    .filter((e) => e.programStage === EIR.immunizationStage && e.status === 'SCHEDULE')
    .sort((a, b) => (a.event < b.event ? -1 : 1));
  const ahead = emu.time.startOfDay(addDays(TODAY, 5));
  scheduled.forEach((e, i) => {
    e.scheduledAt =
      i < OVERDUE
        ? emu.time.startOfDay(addDays(TODAY, -(1 + Math.floor((i * 999) / Math.max(1, OVERDUE - 1)))))
        : ahead;
  });
  emu.state.touch();
  const seedMs = Math.round(performance.now() - t0);

  // Every request the gateway sends: its page size and how many items came back.
  const requests: Array<{ path: string; pageSize: number | null; items: number }> = [];
  let emulatorMs = 0;
  const fetchAndCount: typeof fetch = async (input, init) => {
    const began = performance.now();
    const res = await emu.fetch(input, init);
    emulatorMs += performance.now() - began;
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const body = (await res.clone().json()) as Record<string, unknown>;
    const list = ['instances', 'events', 'trackedEntities', 'trackedEntityInstances', 'organisationUnits', 'users']
      .map((k) => body[k])
      .find(Array.isArray);
    const size = url.searchParams.get('pageSize');
    requests.push({ path: url.pathname, pageSize: size === null ? null : Number(size), items: list?.length ?? 0 });
    return res;
  };
  const client = createDhis2Client({
    baseUrl: emu.baseUrl,
    auth: { token: emu.credentials.token },
    fetch: fetchAndCount,
  });
  const deployment = { ...defaultDeployment(), timeZone: 'Africa/Nairobi' };
  const prefix = `jibubench-defsync-${process.pid}:`;
  const sq = await createStoreAndQueue({ redisUrl: REDIS, clock, prefix });
  try {
    const before = liveHeap();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 20);
    const t1 = performance.now();
    const stats = await syncReadModel({
      client,
      store: sq.store,
      deployment,
      clock,
      mode: 'full',
      defaultCountry: 'KE',
    });
    const syncMs = Math.round(performance.now() - t1);
    clearInterval(sampler);
    const after = liveHeap();

    const tracker = requests.filter((r) => r.path.includes('/tracker/'));
    const maxItems = Math.max(...tracker.map((r) => r.items));
    const unpaged = tracker.filter((r) => r.pageSize === null && r.items > 100).length;
    const growthMb = Math.round(((after - before) / MB) * 10) / 10;
    const targets = {
      pagedAtMost100: maxItems <= 100 && unpaged === 0,
      within2Minutes: syncMs <= 120_000,
      heapGrowthAtMost60MB: growthMb <= 60,
      everyOverdueListed: stats.defaulters === OVERDUE,
    };
    const commit = (() => {
      try {
        const head = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
        const dirty = execSync("git status --porcelain -- src bench ':!bench/results'", { cwd: ROOT }).toString().trim()
          ? '+uncommitted'
          : '';
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
      setup: { children: CHILDREN, overdue: OVERDUE, lookbackDays: deployment.defaulters.lookbackDays, seedMs },
      sync: {
        ms: syncMs,
        /** Of which the emulator answering (it runs in this process): the gateway's share is the rest. */
        emulatorMs: Math.round(emulatorMs),
        eventsRead: stats.eventsRead,
        trackedEntities: stats.trackedEntities,
        children: stats.children,
        defaulters: stats.defaulters,
        defaulterLists: stats.defaulterLists,
        excluded: stats.excluded,
      },
      requests: {
        total: requests.length,
        tracker: tracker.length,
        largestPage: maxItems,
        pageSizes: [...new Set(tracker.map((r) => r.pageSize))],
      },
      heap: {
        liveBeforeMB: Math.round(before / MB),
        liveAfterMB: Math.round(after / MB),
        liveGrowthMB: growthMb,
        peakAboveBeforeMB: Math.round((peak - before) / MB),
      },
      targets,
    };
    console.log(JSON.stringify(report, null, 2));
    mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(path.join(ROOT, 'bench/results/defaulters-sync-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    if (!Object.values(targets).every(Boolean)) process.exitCode = 1;
  } finally {
    await sq.close();
    await deleteRedisPrefix(REDIS, prefix);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
