/**
 * `npx tsx bench/dhis2-outbox.ts` — caregiver reply writes relayed through the Redis/BullMQ outbox into
 * DHIS2 (the emulator, as a separate process on loopback HTTP), counted and checked for duplicates.
 *
 * Method (also in bench/README.md, "DHIS2 write-back outbox"):
 *  1. The DHIS2 emulator runs as a child process (`src/cli/dhis2-emulator.ts`, 2.41 by default) seeded with
 *     enough children that every write targets its own scheduled Immunization event.
 *  2. Jibu's side runs here: the Redis store and BullMQ queues (`createStoreAndQueue`, the outbox forwarder
 *     included) under a private prefix, the read model filled by one full sync, then the relay
 *     (`startDhis2Relay`, default maxBatch 100).
 *  3. Scenario "clean": W writes (half confirm notes, half reschedules with a note) are committed to the
 *     outbox, forwarded into BullMQ, then the relay is started and timed until the queue is empty.
 *  4. Scenario "faults": F more writes, while the fetch under the DHIS2 client refuses some imports with a
 *     503 before DHIS2 sees them and loses the answer of others after DHIS2 saved them (the retry must meet
 *     E1119, not add a note).
 *  5. Afterwards every written event is read back through the API: notes per event (exactly one expected),
 *     and the rescheduled date. Import and read requests are counted at the client's fetch.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Redis } from 'ioredis';
import { deleteRedisPrefix } from './redis-prefix.ts';
import { systemClock } from '../src/clock.ts';
import { createDhis2Client, type Dhis2Client } from '../src/dhis2/client.ts';
import { defaultDeployment } from '../src/dhis2/deployment.ts';
import { startDhis2Relay, type Dhis2Write, type Dhis2WriteJob } from '../src/dhis2/outbox/index.ts';
import { addDays, dateIn, syncReadModel } from '../src/dhis2/readmodel/index.ts';
import { createStoreAndQueue } from '../src/store/index.ts';
import type { QueuedJob } from '../src/store/types.ts';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'];
  }),
);
const REDIS = args.get('redis') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const WRITES = Number(args.get('writes') ?? 10_000);
const FAULT_WRITES = Number(args.get('fault-writes') ?? 2_000);
const VERSION = args.get('version') ?? '2.41';
const MAX_BATCH = Number(args.get('max-batch') ?? 100);
/** `--readmodel=false` skips the full sync, so the relay has no views to keep coherent (isolates that cost). */
const READ_MODEL = args.get('readmodel') !== 'false';
const CHILDREN = WRITES + FAULT_WRITES + 500;
const PREFIX = `jibubench-dhis2-${process.pid}:`;
const STAGE = 's53RFfXA75f';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

function startEmulator(): Promise<{ child: ChildProcess; url: string; token: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/dhis2-emulator.ts',
        '--port',
        '0',
        '--version',
        VERSION,
        '--children',
        String(CHILDREN),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      const token = /ApiToken:\s+(\S+)/.exec(out)?.[1];
      if (url && token) resolve({ child, url, token });
    });
  });
}

/** Counts requests as DHIS2 would see them, and injects the scenario's faults on imports. */
function instrumentedFetch() {
  const counts = { imports: 0, reads: 0, refused: 0, lost: 0 };
  const faults = { refuse: 0, lose: 0 };
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const isImport = req.method === 'POST' && new URL(req.url).pathname.endsWith('/api/tracker');
    if (!isImport) {
      counts.reads++;
      return fetch(req);
    }
    counts.imports++;
    const unavailable = () =>
      new Response(
        JSON.stringify({
          httpStatus: 'Service Unavailable',
          httpStatusCode: 503,
          status: 'ERROR',
          message: 'injected',
        }),
        { status: 503, headers: { 'content-type': 'application/json' } },
      );
    // Alternate the two faults so both happen early in the scenario.
    if (faults.refuse > 0 && (faults.lose === 0 || counts.imports % 2 === 0)) {
      faults.refuse--;
      counts.refused++;
      return unavailable();
    }
    if (faults.lose > 0) {
      faults.lose--;
      counts.lost++;
      const res = await fetch(req);
      await res.arrayBuffer();
      return unavailable();
    }
    return fetch(req);
  };
  return { fetch: f as typeof fetch, counts, faults };
}

async function scheduledEvents(client: Dhis2Client, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const e of client.iterateEvents({
    programStage: STAGE,
    status: 'SCHEDULE',
    fields: 'event',
    order: 'event:asc',
    pageSize: 1000,
  })) {
    out.push(e.event);
    if (out.length >= n) break;
  }
  if (out.length < n) throw new Error(`only ${out.length} scheduled events in the emulator, ${n} needed`);
  return out;
}

function jobsFor(events: string[], tag: string, today: string): Array<QueuedJob<Dhis2WriteJob>> {
  return events.map((event, i) => {
    const payload: Dhis2Write =
      i % 2 === 0
        ? { op: 'event.note', event, note: 'Caregiver confirmed the visit (SMS)' }
        : {
            op: 'event.reschedule',
            event,
            scheduledAt: addDays(today, 7 + (i % 23)),
            note: 'Caregiver asked to move the visit (SMS)',
          };
    return {
      id: `bench-${tag}-${i}`,
      queue: 'outbox-dhis2',
      name: 'dhis2Write',
      data: { op: payload.op, payload, ref: `JB-${i}`, phone: `+2547${String(10_000_000 + i).slice(-8)}` },
    };
  });
}

/** Read every written event back: notes per event and the date of the reschedules. */
async function verify(
  client: Dhis2Client,
  jobs: Array<QueuedJob<Dhis2WriteJob>>,
): Promise<{ missing: number; duplicates: number; wrongDate: number }> {
  const result = { missing: 0, duplicates: 0, wrongDate: 0 };
  for (let i = 0; i < jobs.length; i += 100) {
    const chunk = jobs.slice(i, i + 100);
    const page = await client.events({
      events: chunk.map((j) => (j.data.payload as { event: string }).event),
      fields: 'event,scheduledAt,notes[note,value]',
      paging: false,
    });
    const byId = new Map(page.items.map((e) => [e.event, e]));
    for (const j of chunk) {
      const w = j.data.payload as Extract<Dhis2Write, { event: string }>;
      const e = byId.get(w.event);
      const notes = e?.notes?.length ?? 0;
      if (notes === 0) result.missing++;
      if (notes > 1) result.duplicates += notes - 1;
      if (w.op === 'event.reschedule' && e?.scheduledAt?.slice(0, 10) !== w.scheduledAt) result.wrongDate++;
    }
  }
  return result;
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS, { maxRetriesPerRequest: 1 });
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  const emu = await startEmulator();
  const io = instrumentedFetch();
  const client = createDhis2Client({
    baseUrl: emu.url,
    auth: { token: emu.token },
    fetch: io.fetch,
    timeoutMs: 30_000,
  });
  const sq = await createStoreAndQueue({ redisUrl: REDIS, clock: systemClock, prefix: PREFIX, logger: silent });
  const deployment = defaultDeployment();
  try {
    const today = dateIn((await client.systemInfo()).serverTimeZoneId ?? 'UTC', new Date());
    const events = await scheduledEvents(client, WRITES + FAULT_WRITES);

    const t = performance.now();
    const sync = READ_MODEL
      ? await syncReadModel({
          client,
          store: sq.store,
          deployment,
          clock: systemClock,
          mode: 'full',
          defaultCountry: 'KE',
        })
      : undefined;
    const syncMs = performance.now() - t;
    if (sync)
      console.log(
        `read model: ${sync.appointments} appointments, ${sync.caregivers} caregivers in ${(syncMs / 1000).toFixed(1)} s`,
      );

    const scenario = async (name: string, targets: string[], faults: { refuse: number; lose: number }) => {
      const jobs = jobsFor(targets, name, today);
      const before = { ...io.counts };
      let t0 = performance.now();
      for (let i = 0; i < jobs.length; i += 500) await sq.store.enqueue(jobs.slice(i, i + 500));
      while ((await sq.queue.counts('outbox-dhis2')).waiting < jobs.length) await new Promise((r) => setTimeout(r, 50));
      const enqueueMs = performance.now() - t0;
      Object.assign(io.faults, faults);
      t0 = performance.now();
      const worker = startDhis2Relay({
        queue: sq.queue,
        store: sq.store,
        client,
        clock: systemClock,
        logger: silent,
        deployment,
        maxBatch: MAX_BATCH,
        backoffMs: 500,
      });
      for (;;) {
        const c = await sq.queue.counts('outbox-dhis2');
        if (c.waiting + c.delayed + c.active === 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const relayMs = performance.now() - t0;
      await worker.close();
      const requests = {
        importRequests: io.counts.imports - before.imports,
        readRequests: io.counts.reads - before.reads,
      };
      const dead = (await sq.queue.deadLetters('outbox-dhis2', 1000)).filter((d) =>
        d.id.startsWith(`bench-${name}-`),
      ).length;
      const check = await verify(client, jobs);
      const r = {
        writes: jobs.length,
        ...requests,
        injected: {
          refusedBeforeDhis2: io.counts.refused - before.refused,
          answerLostAfterCommit: io.counts.lost - before.lost,
        },
        deadLetters: dead,
        ...check,
        enqueueSeconds: +(enqueueMs / 1000).toFixed(2),
        relaySeconds: +(relayMs / 1000).toFixed(2),
        writesPerSecond: Math.round(jobs.length / (relayMs / 1000)),
      };
      console.log(`${name}: ${JSON.stringify(r)}`);
      return r;
    };

    const clean = await scenario('clean', events.slice(0, WRITES), { refuse: 0, lose: 0 });
    const withFaults =
      FAULT_WRITES > 0
        ? await scenario('faults', events.slice(WRITES, WRITES + FAULT_WRITES), { refuse: 3, lose: 3 })
        : undefined;

    const commit = execSync('git rev-parse --short HEAD').toString().trim();
    const dirty = execSync('git status --porcelain -- src/dhis2 bench/dhis2-outbox.ts').toString().trim()
      ? '+uncommitted'
      : '';
    const report = {
      date: new Date().toISOString(),
      commit: commit + dirty,
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: +(os.totalmem() / 2 ** 30).toFixed(1),
      redis: redisVersion,
      dhis2: `emulator ${VERSION} (child process, loopback HTTP), ${CHILDREN} children`,
      maxBatch: MAX_BATCH,
      readModelSync: sync
        ? { seconds: +(syncMs / 1000).toFixed(1), appointments: sync.appointments, caregivers: sync.caregivers }
        : 'skipped',
      clean,
      faults: withFaults,
      pass:
        clean.importRequests <= Math.ceil(clean.writes / 100) &&
        clean.duplicates === 0 &&
        clean.missing === 0 &&
        clean.wrongDate === 0 &&
        clean.deadLetters === 0 &&
        (!withFaults || (withFaults.duplicates === 0 && withFaults.missing === 0 && withFaults.deadLetters === 0)),
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/dhis2-outbox-latest.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report, null, 2));
    if (!report.pass) process.exitCode = 1;
  } finally {
    await sq.close();
    await deleteRedisPrefix(redis, PREFIX);
    redis.disconnect();
    emu.child.kill('SIGTERM');
  }
}

await main();
