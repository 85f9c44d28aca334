/**
 * `npx tsx bench/reminders.ts` (better: `node --expose-gc --import tsx bench/reminders.ts`) — one `reminders` run over 100 000 children (emulator), with flat memory.
 *
 * Method (also in bench/README.md, "Reminders"):
 *  1. The DHIS2 emulator is seeded with `--children` (default 100 000) children, one scheduled Immunization
 *     event each, spread over the coming and past days by the demo seed (about 10 % due in 2 days).
 *  2. The store and queues are Redis/BullMQ (`--store=redis`, default; `--store=memory` keeps everything in
 *     this process), so what the job writes (sessions, markers, SMS jobs) leaves the process like in production.
 *  3. A full read-model sync runs first (setup, not measured): the job takes siblings from it.
 *  4. The measured run is `createJobs(…).reminders(today)`. RSS and heap are sampled every 25 ms during the
 *     run; the baseline is the RSS just before it (emulator, read model in Redis, flows loaded). The emulator's
 *     fetch is wrapped to count requests: event pages and tracked-entity requests.
 *  5. Flat memory: the peak RSS against the baseline, the RSS at each quarter of the run, and (with
 *     `--expose-gc`) the live heap after a forced collection every 10th event page and at the end; they must
 *     not grow with the number of events (the job holds one page of events and its tracked entities).
 */
import { execSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deleteRedisPrefix } from './redis-prefix.ts';
import { fixedClock } from '../src/clock.ts';
import { caregiverModule } from '../src/conversation/actions/caregiver.ts';
import { createDomainRegistry } from '../src/conversation/actions/index.ts';
import { loadFlowSet } from '../src/conversation/index.ts';
import { createDhis2Client } from '../src/dhis2/client.ts';
import { defaultDeployment } from '../src/dhis2/deployment.ts';
import { createEmulator } from '../src/emulator/index.ts';
import { syncReadModel } from '../src/dhis2/readmodel/index.ts';
import { createLogger } from '../src/log.ts';
import { createJobs } from '../src/scheduler/index.ts';
import { createStoreAndQueue } from '../src/store/index.ts';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'];
  }),
);
const CHILDREN = Number(args.get('children') ?? 100_000);
const STORE = args.get('store') ?? 'redis';
const REDIS = args.get('redis') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PAGE = Number(args.get('pageSize') ?? 100);
const TZ = 'Africa/Nairobi';
const NOW = '2025-03-03T07:00:00.000Z'; // 10:00 in Nairobi: inside the delivery window
const ROOT = path.resolve(import.meta.dirname, '..');
const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;

async function main(): Promise<void> {
  const clock = fixedClock(NOW);
  const t0 = performance.now();
  const emulator = createEmulator({ version: '2.41', clock, serverTimeZone: TZ, seed: { children: CHILDREN } });
  const seededMs = Math.round(performance.now() - t0);
  const counts = { eventPages: 0, trackedEntityRequests: 0, other: 0 };
  let counting = false;
  /** Live heap (after a forced collection) every 10th event page: what the run holds as it goes. */
  const live: Array<{ page: number; heapMB: number }> = [];
  const countingFetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (counting) {
      if (url.pathname === '/api/tracker/events') {
        counts.eventPages++;
        if (globalThis.gc && counts.eventPages % 10 === 1) {
          globalThis.gc();
          live.push({ page: counts.eventPages, heapMB: mb(process.memoryUsage().heapUsed) });
        }
      } else if (url.pathname === '/api/tracker/trackedEntities') counts.trackedEntityRequests++;
      else counts.other++;
    }
    const answer = await emulator.fetch(input, init);
    // The emulator keeps a log of the last 5 000 requests for tests; it is not the job's memory.
    if (counting) emulator.requests.length = 0;
    return answer;
  };
  const client = createDhis2Client({
    baseUrl: emulator.baseUrl,
    auth: { token: emulator.credentials.token },
    fetch: countingFetch,
  });
  const deployment = defaultDeployment();
  const prefix = `jibubench-reminders-${process.pid}:`;
  const sq = await createStoreAndQueue({ redisUrl: STORE === 'redis' ? REDIS : undefined, clock, prefix });
  const logger = createLogger({ level: 'warn' });

  const dir = await mkdtemp(path.join(os.tmpdir(), 'jibu-bench-flows-'));
  await mkdir(path.join(dir, 'flows'));
  await mkdir(path.join(dir, 'locales', 'en'), { recursive: true });
  for (const f of ['caregiver-reminder.yaml', 'scheduler-digest.yaml'])
    await copyFile(path.join(ROOT, 'flows', f), path.join(dir, 'flows', f));
  for (const f of ['system.yaml', 'caregiver.yaml', 'scheduler.yaml'])
    await copyFile(path.join(ROOT, 'locales', 'en', f), path.join(dir, 'locales', 'en', f));
  const loaded = await loadFlowSet({
    flowsDir: path.join(dir, 'flows'),
    localesDir: path.join(dir, 'locales'),
    registry: createDomainRegistry(deployment, [caregiverModule]),
    defaultLocale: 'en',
    locales: ['en'],
    timeZone: TZ,
  });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const set = loaded.set;

  const t1 = performance.now();
  const sync = await syncReadModel({
    client,
    store: sq.store,
    deployment,
    clock,
    mode: 'full',
    defaultCountry: 'KE',
    pageSize: PAGE,
  });
  const syncMs = Math.round(performance.now() - t1);

  const jobs = createJobs({
    store: sq.store,
    queue: sq.queue,
    dhis2: client,
    deployment,
    clock,
    logger,
    flows: () => set,
    timeZone: TZ,
    ussdCode: '*384*12#',
    defaultCountry: 'KE',
    pageSize: PAGE,
  });
  const samples: Array<{ t: number; rss: number; heap: number }> = [];
  const sample = () => {
    const m = process.memoryUsage();
    samples.push({ t: performance.now(), rss: m.rss, heap: m.heapUsed });
  };
  // Start from a collected heap so the baseline is what the process holds, not garbage left by the setup.
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 1000));
  sample();
  const baseline = samples[0]!;
  const timer = setInterval(sample, 25);
  counting = true;
  const began = performance.now();
  const report = await jobs.reminders(emulator.today());
  const runMs = Math.round(performance.now() - began);
  counting = false;
  clearInterval(timer);
  sample();
  const during = samples.slice(1);
  globalThis.gc?.();
  const retained = process.memoryUsage().heapUsed;

  const rule = report.rules![0]!;
  const peak = during.reduce((a, s) => (s.rss > a.rss ? s : a));
  const quarter = (q: number) => {
    const at = began + (runMs * q) / 4;
    const s = samples.find((x) => x.t >= at) ?? samples.at(-1)!;
    return mb(s.rss);
  };
  const commit = (() => {
    try {
      return execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
    } catch {
      return 'unknown';
    }
  })();
  const result = {
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memGB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      commit,
    },
    setup: {
      children: CHILDREN,
      store: STORE,
      pageSize: PAGE,
      seedMs: seededMs,
      syncMs,
      syncedAppointments: sync.appointments,
      caregiversInReadModel: sync.caregivers,
    },
    run: {
      durationMs: runMs,
      appointmentsDue: rule.events,
      caregiversMessaged: rule.caregivers,
      children: rule.children,
      optedOut: rule.optedOut,
      noPhone: rule.noPhone,
      messagesPerSecond: Math.round((rule.caregivers / runMs) * 1000),
      eventPageRequests: counts.eventPages,
      trackedEntityRequests: counts.trackedEntityRequests,
      otherRequests: counts.other,
    },
    memory: {
      /** After the setup and a forced collection; the OS takes freed pages back lazily, so RSS may sink below it. */
      rssBeforeRunMB: mb(baseline.rss),
      peakRssMB: mb(peak.rss),
      rssDuringRunMB: { min: mb(Math.min(...during.map((x) => x.rss))), max: mb(peak.rss) },
      rssAtQuartersMB: [quarter(1), quarter(2), quarter(3), quarter(4)],
      heapBaselineMB: mb(baseline.heap),
      heapPeakMB: mb(Math.max(...during.map((s) => s.heap))),
      /** Heap after a forced collection at the end, minus the baseline: what the run left behind. */
      heapRetainedMB: globalThis.gc ? mb(retained - baseline.heap) : null,
      liveHeapByPageMB: live.map((l) => `${l.page}:${l.heapMB}`).join(' '),
      samples: during.length,
    },
  };
  console.log(JSON.stringify(result, null, 2));

  await sq.close();
  await rm(dir, { recursive: true, force: true });
  if (STORE === 'redis') {
    await deleteRedisPrefix(REDIS, prefix);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
