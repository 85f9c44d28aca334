/**
 * `npm run bench` — concurrent multi-hop USSD sessions against the real gateway in its production shape
 * (Redis-backed sessions and queues, DHIS2 over HTTP), next to a bare Express + ioredis GET/SET handler
 * measured in the same run (bench/baseline.ts). Prints issue 13's four figures next to their targets and
 * exits non-zero when one is missed (or a reply is wrong).
 *
 * Method (also in bench/README.md):
 *  1. The DHIS2 emulator (src/cli/dhis2-emulator.ts, demo data), the gateway (src/main.ts with DHIS2_URL,
 *     REDIS_URL, real-strength secrets, the generic HTTP SMS provider aimed at a sink in this process) and
 *     the baseline run as child processes on loopback; this process generates load over keep-alive HTTP.
 *  2. Oracle: K random paths through the flows are walked one at a time and every screen is recorded. Under
 *     load each session replays one recorded path with its own session id and phone number, and every
 *     screen must equal the recorded one (a reference number is masked).
 *  3. Paced: N sessions started over the first second, each pausing 0.8–1.2 s between hops, in alternating
 *     rounds with the baseline; p99 over all hops and over the first hop of each dial. The gateway's RSS
 *     is sampled during its paced rounds (N live sessions).
 *  4. Saturation: C connections each run sessions back to back, no pause, in alternating rounds.
 *  5. Redis bytes per live session (MEMORY USAGE over the session keys).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer } from 'node:net';
import { appendFileSync, openSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { execSync } from 'node:child_process';
import os from 'node:os';
import { Redis } from 'ioredis';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'];
  }),
);
/** Production-strength secrets (src/production-config.ts): 64 hex characters, fresh each run. */
const secret = () => randomBytes(32).toString('hex');
/** The gateway's `WEBHOOK_SECRET`, sent as `?key=` (the baseline ignores it). */
const WEBHOOK_KEY = secret();
const ADMIN_TOKEN = secret();
const METRICS_TOKEN = secret();
const REDIS = args.get('redis') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONNS = Number(args.get('connections') ?? 100);
const PACED = Number(args.get('sessions') ?? 1000);
const SECONDS = Number(args.get('seconds') ?? 20);
const PATHS = Number(args.get('paths') ?? 40);
const ROUNDS = Math.max(1, Number(args.get('rounds') ?? 4));
/**
 * `built` (default): the gateway compiled as the Docker image runs it (`npm run build`, `node dist/main.js`),
 * here into a scratch folder; `tsx`: `src/main.ts` under tsx as `npm start` runs it (quicker to iterate on,
 * about 30 MB more RSS for the loader).
 */
const GATEWAY = args.get('gateway') ?? 'built';
/**
 * `--trace=FILE`: a diagnostic, not a figure. Appends every hop slower than 10 ms (Unix epoch ms of its start,
 * side, hop index, latency) and every paced round's start, so a slow burst can be lined up with the gateway's own
 * log (`BENCH_GW_LOG=FILE`, the gateway at `info`) and `bench/gc-probe.mjs`'s.
 */
const TRACE = args.get('trace');
/** Hops are traced in paced rounds only (at saturation most hops take over 10 ms). */
let tracing = false;
const trace = (line: string) => {
  if (TRACE) appendFileSync(TRACE, `${line}\n`);
};
const GW_DB = 5;
const BASE_DB = 6;

/** Issue 13, item 4. */
const TARGETS = {
  /** Jibu's hops/s at saturation over the baseline's, at least. */
  saturationRatio: 1.0,
  /** Jibu's paced p99 (all hops, and the first hop of a dial) over the baseline's paced p99, at most. */
  pacedP99Ratio: 1.5,
  /** Redis bytes per live session (MEMORY USAGE), at most. */
  redisBytesPerSession: 800,
  /** Gateway RSS at N live paced sessions, without the embedded emulator, at most (MB = 10^6 bytes). */
  gatewayRssMB: 150,
};

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function startChild(
  script: string,
  env: Record<string, string>,
  extraArgv: string[] = [],
  argv: string[] = [],
  logTo?: string,
): ChildProcess {
  const child = fork(script, argv, {
    execArgv: [...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), ...extraArgv],
    env: { ...process.env, ...env },
    stdio: ['ignore', logTo ? openSync(logTo, 'a') : 'ignore', 'inherit', 'ipc'],
  });
  child.once('exit', (code) => {
    console.error(`${script} exited ${code} during the bench`);
    process.exit(2);
  });
  return child;
}

async function waitReady(url: string, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url, { headers });
      if (r.status < 500) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

/** The generic HTTP SMS provider's other end: accepts every message (the demo paths send none). */
async function startSmsSink(): Promise<{ server: Server; url: string; received: () => number }> {
  let received = 0;
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: `sink-${received}` }));
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${port}/send`, received: () => received };
}

// Idle sockets are dropped after 4 s, before the servers' 5 s keep-alive timeout: a request written on a socket
// the server is closing at that moment fails with ECONNRESET, a property of the load generator, not of a server.
const agent = new Agent({ keepAlive: true, timeout: 4_000, maxSockets: Math.max(CONNS, PACED, 256) });
/** `chunked`: no Content-Length, so the gateway's USSD fast path leaves the request to the Express route. */
function post(url: string, body: string, chunked = false): Promise<{ status: number; text: string; ms: number }> {
  const t0 = performance.now();
  const headers: Record<string, string | number> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (!chunked) headers['content-length'] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const mask = (s: string) => s.replace(/\b(JB-?[A-Z0-9]{3,}|[A-Z0-9]{6,})\b/g, '<ref>');
let phoneSeq = 0;
// +25479… is outside every demo range (caregivers +2547000…/+254701…, case workers +2547110…), so every bench
// caller is a stranger on the demo flow: its first hop still looks up both roles and finds neither.
const nextPhone = () => `+25479${String(1_000_000 + (phoneSeq++ % 8_999_999)).padStart(7, '0')}`;

interface Recorded {
  inputs: string[];
  screens: string[];
}
const VOCAB = ['1', '2', '3', '4', '5', '98', '0', '00', '1', '2', '12', '7', 'tomorrow', '31122030', 'x', ''];

async function hop(base: string, sessionId: string, phone: string, path: string[], viaExpress = false) {
  const body = new URLSearchParams({
    sessionId,
    serviceCode: '*384*12#',
    phoneNumber: phone,
    networkCode: '63902',
    text: path.join('*'),
  }).toString();
  return post(`${base}/ussd/africastalking?key=${WEBHOOK_KEY}`, body, viaExpress);
}

async function record(base: string): Promise<Recorded[]> {
  const out: Recorded[] = [];
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let k = 0; k < PATHS; k++) {
    const phone = nextPhone();
    const sid = `rec-${k}-${Date.now()}`;
    const inputs: string[] = [];
    const screens: string[] = [];
    // Recorded through the Express route (chunked bodies), replayed through the fast path: the two must agree.
    let r = await hop(base, sid, phone, inputs, true);
    screens.push(mask(r.text));
    for (let h = 0; h < 10 && r.text.startsWith('CON '); h++) {
      inputs.push(VOCAB[Math.floor(rnd() * VOCAB.length)] ?? '1');
      r = await hop(base, sid, phone, inputs, true);
      screens.push(mask(r.text));
    }
    out.push({ inputs, screens });
  }
  return out;
}

interface Stats {
  hops: number;
  wrong: number;
  /** Every hop's latency, ms. */
  lat: number[];
  /** The first hop of each dial's latency, ms (also in `lat`). */
  first: number[];
  examples: string[];
  seconds: number;
}
const newStats = (): Stats => ({ hops: 0, wrong: 0, lat: [], first: [], examples: [], seconds: 0 });

async function runSession(
  base: string,
  rec: Recorded,
  st: Stats,
  pauseMs: () => number,
  deadline: number,
  kind: 'jibu' | 'baseline',
) {
  const phone = nextPhone();
  const sid = `b-${phone}-${Math.random().toString(36).slice(2)}`;
  for (let i = 0; i <= rec.inputs.length; i++) {
    if (performance.now() > deadline) return;
    const r = await hop(base, sid, phone, rec.inputs.slice(0, i)).catch((e: Error) => ({
      status: 0,
      text: e.message,
      ms: 0,
    }));
    st.hops++;
    st.lat.push(r.ms);
    if (i === 0) st.first.push(r.ms);
    if (tracing && r.ms > 10) trace(`${(Date.now() - r.ms).toFixed(0)} ${kind} hop${i} ${r.ms.toFixed(1)}ms`);
    const ok =
      kind === 'jibu'
        ? r.status === 200 && mask(r.text) === rec.screens[i]
        : r.status === 200 && r.text.startsWith(`CON ${phone} hop ${i + 1} `);
    if (!ok) {
      st.wrong++;
      if (st.examples.length < 3)
        st.examples.push(
          `${kind} hop ${i} got ${r.status} ${JSON.stringify(r.text.slice(0, 80))} ` +
            `want ${JSON.stringify((rec.screens[i] ?? '').slice(0, 80))}`,
        );
    }
    const p = pauseMs();
    if (p > 0) await new Promise((res) => setTimeout(res, p));
  }
}

async function drive(
  base: string,
  recs: Recorded[],
  workers: number,
  pause: () => number,
  seconds: number,
  kind: 'jibu' | 'baseline',
  stagger = 0,
): Promise<Stats> {
  const st = newStats();
  // Only the paced rounds start their sessions staggered.
  tracing = stagger > 0;
  if (tracing) trace(`${Date.now()} round ${kind} ${workers} paced`);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      if (stagger) await new Promise((r) => setTimeout(r, (w / workers) * stagger));
      let i = w;
      while (performance.now() < deadline) {
        const rec = recs[i++ % recs.length];
        if (rec) await runSession(base, rec, st, pause, deadline, kind);
      }
    }),
  );
  st.seconds = (performance.now() - t0) / 1000;
  return st;
}

function merge(into: Stats, s: Stats): void {
  into.hops += s.hops;
  into.wrong += s.wrong;
  into.seconds += s.seconds;
  for (const l of s.lat) into.lat.push(l);
  for (const l of s.first) into.first.push(l);
  for (const e of s.examples) if (into.examples.length < 3) into.examples.push(e);
}

function pct(a: number[], p: number): number {
  if (a.length === 0) return NaN;
  const s = Float64Array.from(a).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** A process's resident set (`VmRSS`) or its peak (`VmHWM`), in bytes. */
function rssBytes(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (!pid) return NaN;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The largest `VmRSS` of `pid` while `work` runs, sampled every 100 ms. */
async function withRssSampler<T>(pid: number | undefined, work: () => Promise<T>): Promise<{ value: T; max: number }> {
  let max = rssBytes(pid, 'VmRSS');
  const timer = setInterval(() => {
    max = Math.max(max, rssBytes(pid, 'VmRSS'));
  }, 100);
  try {
    const value = await work();
    max = Math.max(max, rssBytes(pid, 'VmRSS'));
    return { value, max };
  } finally {
    clearInterval(timer);
  }
}

/** CPU time (user + system) a process has used, in ms (`/proc/<pid>/stat`, clock ticks of 10 ms). */
function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const load = () => os.loadavg().map((x) => x.toFixed(2));

/**
 * The gateway's garbage collections so far, by V8 kind (`major` is a full mark-compact), from its own `/metrics`
 * (prom-client's `nodejs_gc_duration_seconds`): how many, and their pauses in all, in seconds.
 */
async function gatewayGcs(url: string): Promise<Record<string, { count: number; seconds: number }>> {
  const r = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await r.text();
  const out: Record<string, { count: number; seconds: number }> = {};
  for (const m of text.matchAll(/^jibu_nodejs_gc_duration_seconds_(count|sum)\{[^}]*kind="(\w+)"[^}]*\} (\S+)$/gm)) {
    const kind = (out[m[2] ?? ''] ??= { count: 0, seconds: 0 });
    if (m[1] === 'count') kind.count = Number(m[3]);
    else kind.seconds = Number(m[3]);
  }
  return out;
}

/** Full (major) collections and their pause between two {@link gatewayGcs} readings. */
function fullGcsBetween(
  a: Awaited<ReturnType<typeof gatewayGcs>>,
  b: Awaited<ReturnType<typeof gatewayGcs>>,
): { count: number; ms: number } {
  return {
    count: (b.major?.count ?? 0) - (a.major?.count ?? 0),
    ms: ((b.major?.seconds ?? 0) - (a.major?.seconds ?? 0)) * 1000,
  };
}

/**
 * The node flags and environment the Docker image starts the gateway with: the final stage's `CMD` (exec form,
 * `["node", ...flags, "dist/main.js"]`) and its `ENV` lines. The bench runs the gateway with exactly these, so
 * what it measures is what the image runs.
 */
function imageRuntime(): { nodeArgs: string[]; env: Record<string, string> } {
  const text = readFileSync('Dockerfile', 'utf8');
  const final = text.slice(text.lastIndexOf('\nFROM '));
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(final);
  const argv = cmd ? (JSON.parse(cmd[1] ?? '[]') as string[]) : [];
  if (argv[0] !== 'node' || argv.at(-1) !== 'dist/main.js') throw new Error(`unexpected Dockerfile CMD: ${cmd?.[1]}`);
  const env: Record<string, string> = {};
  for (const m of final.matchAll(/^ENV\s+([A-Z_][A-Z0-9_]*)=(\S+)\s*$/gm)) env[m[1] ?? ''] = m[2] ?? '';
  return { nodeArgs: argv.slice(1, -1), env };
}

/** Compile the gateway as `npm run build` does, into a scratch folder inside the repository (node_modules resolves). */
function buildGateway(): { main: string; dir: string } {
  const dir = `.tmp-build-bench-${process.pid}`;
  execSync(`${process.execPath} node_modules/typescript/bin/tsc -p tsconfig.build.json --outDir ${dir}`, {
    stdio: 'inherit',
  });
  return { main: `${dir}/main.js`, dir };
}

async function main() {
  const build = GATEWAY === 'built' ? buildGateway() : undefined;
  const image = imageRuntime();
  const gwRedis = new Redis(`${REDIS}/${GW_DB}`);
  const baseRedis = new Redis(`${REDIS}/${BASE_DB}`);
  await gwRedis.flushdb();
  await baseRedis.flushdb();
  const [gwPort, basePort, emuPort] = [await freePort(), await freePort(), await freePort()];
  const sink = await startSmsSink();
  // DHIS2 in its own process (demo data seeded there), so the gateway's RSS holds the gateway alone.
  const emu = startChild('src/cli/dhis2-emulator.ts', {}, [], ['--port', String(emuPort), '--version', '2.40']);
  const emuUrl = `http://127.0.0.1:${emuPort}`;
  const basic = { authorization: `Basic ${Buffer.from('admin:district').toString('base64')}` };
  await waitReady(`${emuUrl}/api/system/info`, basic);
  const gw = startChild(
    build?.main ?? 'src/main.ts',
    {
      ...image.env,
      PORT: String(gwPort),
      HOST: '127.0.0.1',
      REDIS_URL: `${REDIS}/${GW_DB}`,
      REDIS_SENTINELS: '',
      LOG_LEVEL: process.env.BENCH_GW_LOG ? 'info' : 'error',
      // The production shape (src/production-config.ts): a DHIS2 on loopback, a real SMS provider, secrets.
      DHIS2_URL: emuUrl,
      DHIS2_USERNAME: 'admin',
      DHIS2_PASSWORD: 'district',
      SMS_PROVIDER: 'http',
      SMS_HTTP_URL: sink.url,
      USSD_PROVIDER: 'africastalking',
      WEBHOOK_SECRET: WEBHOOK_KEY,
      ADMIN_TOKEN,
      METRICS_TOKEN,
      PIN_PEPPER: secret(),
      SMS_RATE_PER_SECOND: '1000',
      // The load generator is one address replaying sessions per phone far faster than any person.
      INBOUND_USSD_PER_PHONE: '0',
      INBOUND_PER_IP: '0',
    },
    [...image.nodeArgs, ...(process.env.BENCH_GW_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    [],
    process.env.BENCH_GW_LOG,
  );
  const base = startChild('bench/baseline.ts', { PORT: String(basePort), REDIS_URL: `${REDIS}/${BASE_DB}` });
  const gwUrl = `http://127.0.0.1:${gwPort}`;
  const baseUrl = `http://127.0.0.1:${basePort}`;
  try {
    await waitReady(`${gwUrl}/readyz`);
    await waitReady(`${baseUrl}/`);
    // The read model, synced from the emulator now (the gateway's own first sync runs in the background).
    const synced = await fetch(`${gwUrl}/admin/jobs/sync/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    if (synced.status !== 200) throw new Error(`read-model sync answered ${synced.status}`);
    const recs = await record(gwUrl);
    const shown = Object.entries(image.env).map(([k, v]) => `${k}=${v}`);
    console.log(
      `gateway: ${shown.join(' ')} node ${image.nodeArgs.join(' ')} ${build ? build.main : 'src/main.ts (tsx)'}`,
    );
    const hopsPerPath = recs.reduce((n, r) => n + r.screens.length, 0) / recs.length;
    console.log(`recorded ${recs.length} paths, ${hopsPerPath.toFixed(1)} hops each on average`);

    if (args.get('profile')) {
      // Profiling aid: only the gateway under saturation (run with BENCH_GW_NODE_ARGS="--cpu-prof").
      await drive(gwUrl, recs, 20, () => 0, 3, 'jibu');
      const s = await drive(gwUrl, recs, CONNS, () => 0, SECONDS, 'jibu');
      console.log(`profile run: ${(s.hops / s.seconds).toFixed(0)} hops/s, wrong ${s.wrong}`);
      return;
    }
    // Warm both up so JIT and connection pools are not measured.
    await drive(gwUrl, recs, 20, () => 0, 3, 'jibu');
    await drive(`${baseUrl}`, recs, 20, () => 0, 3, 'baseline');
    const loadBefore = load();

    // Both phases run in ROUNDS alternating rounds (B J, J B, B J, …) of SECONDS/ROUNDS each: on a shared VM
    // whose speed drifts, both sides see the same slow and fast minutes. Paced first, so the RSS sampled at
    // N live sessions is not the heap saturation grew.
    const order = (i: number): Array<'baseline' | 'jibu'> =>
      i % 2 === 0 ? ['baseline', 'jibu'] : ['jibu', 'baseline'];
    const pacedBase = newStats();
    const pacedGw = newStats();
    let gwPacedRss = 0;
    let basePacedRss = 0;
    // Diagnostic, not a target: the gateway's full collections during its own rounds (docs/architecture.md#the-hop-and-the-garbage-collector).
    const gwFullGcs = { paced: { count: 0, ms: 0 }, saturation: { count: 0, ms: 0 } };
    const addGcs = (into: { count: number; ms: number }, d: { count: number; ms: number }) => {
      into.count += d.count;
      into.ms += d.ms;
    };
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of order(i)) {
        const url = kind === 'jibu' ? gwUrl : baseUrl;
        const pid = kind === 'jibu' ? gw.pid : base.pid;
        const gcBefore = kind === 'jibu' ? await gatewayGcs(gwUrl) : undefined;
        const { value, max } = await withRssSampler(pid, () =>
          drive(url, recs, PACED, () => 800 + Math.random() * 400, SECONDS / ROUNDS, kind, 1000),
        );
        if (gcBefore) addGcs(gwFullGcs.paced, fullGcsBetween(gcBefore, await gatewayGcs(gwUrl)));
        merge(kind === 'jibu' ? pacedGw : pacedBase, value);
        if (kind === 'jibu') gwPacedRss = Math.max(gwPacedRss, max);
        else basePacedRss = Math.max(basePacedRss, max);
      }
    }
    const loadPaced = load();

    const satBase = newStats();
    const satGw = newStats();
    // Diagnostic, not a target: each server's own CPU time per hop answered at saturation.
    const satCpuMs = { jibu: 0, baseline: 0 };
    const rounds: Array<{ baseline: number; jibu: number; ratio: number }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const got: Record<string, number> = {};
      for (const kind of order(i)) {
        const pid = kind === 'jibu' ? gw.pid : base.pid;
        const gcBefore = kind === 'jibu' ? await gatewayGcs(gwUrl) : undefined;
        const cpu0 = cpuMs(pid);
        const s = await drive(kind === 'jibu' ? gwUrl : baseUrl, recs, CONNS, () => 0, SECONDS / ROUNDS, kind);
        satCpuMs[kind] += cpuMs(pid) - cpu0;
        if (gcBefore) addGcs(gwFullGcs.saturation, fullGcsBetween(gcBefore, await gatewayGcs(gwUrl)));
        merge(kind === 'jibu' ? satGw : satBase, s);
        got[kind] = s.hops / s.seconds;
      }
      rounds.push({
        baseline: got.baseline ?? NaN,
        jibu: got.jibu ?? NaN,
        ratio: (got.jibu ?? NaN) / (got.baseline ?? NaN),
      });
    }
    const loadSat = load();

    const keys: string[] = [];
    let cursor = '0';
    do {
      const [c, batch] = await gwRedis.scan(cursor, 'MATCH', '*session:*', 'COUNT', 1000);
      cursor = c;
      keys.push(...batch);
    } while (cursor !== '0' && keys.length < 5000);
    let bytes = 0;
    for (const k of keys.slice(0, 2000)) bytes += Number(await gwRedis.call('MEMORY', 'USAGE', k)) || 0;
    const perSession = keys.length ? bytes / Math.min(keys.length, 2000) : NaN;

    const ratio = satGw.hops / satGw.seconds / (satBase.hops / satBase.seconds);
    const baseP99 = pct(pacedBase.lat, 99);
    const gwP99 = pct(pacedGw.lat, 99);
    const gwFirstP99 = pct(pacedGw.first, 99);
    const figures = {
      saturationRatio: { value: ratio, target: `>= ${TARGETS.saturationRatio}`, met: ratio >= TARGETS.saturationRatio },
      pacedP99Ratio: {
        value: gwP99 / baseP99,
        target: `<= ${TARGETS.pacedP99Ratio}`,
        met: gwP99 / baseP99 <= TARGETS.pacedP99Ratio,
      },
      pacedFirstHopP99Ratio: {
        value: gwFirstP99 / baseP99,
        target: `<= ${TARGETS.pacedP99Ratio}`,
        met: gwFirstP99 / baseP99 <= TARGETS.pacedP99Ratio,
      },
      redisBytesPerSession: {
        value: perSession,
        target: `<= ${TARGETS.redisBytesPerSession}`,
        met: perSession <= TARGETS.redisBytesPerSession,
      },
      gatewayRssMB: {
        value: gwPacedRss / 1e6,
        target: `<= ${TARGETS.gatewayRssMB}`,
        met: gwPacedRss / 1e6 <= TARGETS.gatewayRssMB,
      },
    };
    const wrong = satGw.wrong + pacedGw.wrong + satBase.wrong + pacedBase.wrong;
    const summary = (s: Stats) => ({
      hops: s.hops,
      hopsPerSec: s.hops / s.seconds,
      p50: pct(s.lat, 50),
      p99: pct(s.lat, 99),
      firstHops: s.first.length,
      firstP50: pct(s.first, 50),
      firstP99: pct(s.first, 99),
      wrong: s.wrong,
      examples: s.examples,
    });
    const result = {
      date: new Date().toISOString(),
      commit: (() => {
        try {
          return execSync('git rev-parse --short HEAD').toString().trim();
        } catch {
          return 'unknown';
        }
      })(),
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      load: { beforeMeasuring: loadBefore, afterPaced: loadPaced, afterSaturation: loadSat },
      method: {
        connections: CONNS,
        pacedSessions: PACED,
        seconds: SECONDS,
        rounds: ROUNDS,
        recordedPaths: recs.length,
        gateway: build ? 'node dist/main.js (built)' : 'src/main.ts under tsx',
        gatewayNodeArgs: image.nodeArgs,
        gatewayEnv: image.env,
        dhis2: 'DHIS2_URL: the emulator as a child process',
      },
      figures,
      paced: { baseline: summary(pacedBase), jibu: summary(pacedGw) },
      saturation: { rounds, baseline: summary(satBase), jibu: summary(satGw) },
      cpuMicrosecondsPerHop: {
        jibu: (satCpuMs.jibu * 1000) / satGw.hops,
        baseline: (satCpuMs.baseline * 1000) / satBase.hops,
      },
      gatewayFullGcs: {
        paced: { ...gwFullGcs.paced, per10kHops: (gwFullGcs.paced.count * 10_000) / pacedGw.hops },
        saturation: { ...gwFullGcs.saturation, per10kHops: (gwFullGcs.saturation.count * 10_000) / satGw.hops },
      },
      gatewayRssAtPacedMB: gwPacedRss / 1e6,
      baselineRssAtPacedMB: basePacedRss / 1e6,
      gatewayPeakRssMB: rssBytes(gw.pid, 'VmHWM') / 1e6,
      redisBytesPerSession: perSession,
      liveSessionKeys: keys.length,
      smsSent: sink.received(),
    };
    const f = (n: number, d = 2) => n.toFixed(d);
    const line = (s: ReturnType<typeof summary>) =>
      `${f(s.hopsPerSec, 0)} hops/s  p50 ${f(s.p50)} ms  p99 ${f(s.p99)} ms  first hop p50 ${f(s.firstP50)} ms` +
      `  p99 ${f(s.firstP99)} ms  wrong ${s.wrong}`;
    console.log(
      `\nload average (1/5/15 min): ${loadBefore.join(' ')} before, ${loadPaced.join(' ')} after paced, ` +
        `${loadSat.join(' ')} after saturation`,
    );
    console.log(
      `paced (${PACED} sessions, 0.8–1.2 s between hops, ${SECONDS} s each side in ${ROUNDS} alternating rounds)`,
    );
    console.log(`  baseline  ${line(result.paced.baseline)}`);
    console.log(`  jibu      ${line(result.paced.jibu)}`);
    console.log(`saturation (${CONNS} connections, no pause, ${SECONDS} s each side in ${ROUNDS} alternating rounds)`);
    console.log(`  baseline  ${line(result.saturation.baseline)}`);
    console.log(`  jibu      ${line(result.saturation.jibu)}`);
    console.log(`  per round ${rounds.map((r) => `${(r.ratio * 100).toFixed(0)} %`).join(', ')}`);
    console.log(
      `  CPU per hop (the server process's own): jibu ${f(result.cpuMicrosecondsPerHop.jibu, 0)} µs, ` +
        `baseline ${f(result.cpuMicrosecondsPerHop.baseline, 0)} µs`,
    );
    const gcLine = (g: { count: number; ms: number; per10kHops: number }) =>
      `${g.count} (${f(g.per10kHops, 1)} per 10 000 hops, ${f(g.ms, 0)} ms of pauses)`;
    console.log(
      `gateway full GCs in its own rounds: paced ${gcLine(result.gatewayFullGcs.paced)}, ` +
        `saturation ${gcLine(result.gatewayFullGcs.saturation)}`,
    );
    console.log(
      `gateway RSS ${f(result.gatewayRssAtPacedMB, 1)} MB at ${PACED} paced sessions (baseline ` +
        `${f(result.baselineRssAtPacedMB, 1)} MB), peak over the run ${f(result.gatewayPeakRssMB, 1)} MB`,
    );
    const mark = (m: boolean) => (m ? 'met   ' : 'MISSED');
    console.log('\nissue 13 targets');
    console.log(`  ${mark(figures.saturationRatio.met)} saturation            ${f(ratio)}× baseline (target >= 1.00×)`);
    console.log(
      `  ${mark(figures.pacedP99Ratio.met)} paced p99, all hops  ${f(gwP99)} ms = ${f(gwP99 / baseP99)}× baseline ` +
        `${f(baseP99)} ms (target <= 1.50×)`,
    );
    console.log(
      `  ${mark(figures.pacedFirstHopP99Ratio.met)} paced p99, first hop ${f(gwFirstP99)} ms = ` +
        `${f(gwFirstP99 / baseP99)}× baseline ${f(baseP99)} ms (target <= 1.50×)`,
    );
    console.log(
      `  ${mark(figures.redisBytesPerSession.met)} Redis per session    ${f(perSession, 0)} bytes over ` +
        `${keys.length} live keys (target <= 800)`,
    );
    console.log(
      `  ${mark(figures.gatewayRssMB.met)} gateway RSS          ${f(gwPacedRss / 1e6, 1)} MB at ${PACED} live ` +
        `sessions (target <= 150 MB)`,
    );
    console.log(`  ${wrong === 0 ? 'met   ' : 'MISSED'} wrong replies        ${wrong} (target 0)`);
    for (const e of [...satBase.examples, ...satGw.examples, ...pacedBase.examples, ...pacedGw.examples])
      console.log(`  wrong reply: ${e}`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/ussd-latest.json`, JSON.stringify(result, null, 2) + '\n');
    const pass = Object.values(figures).every((x) => x.met) && wrong === 0;
    console.log(pass ? '\nPASS: all targets met' : '\nFAIL: a target was missed');
    process.exitCode = pass ? 0 : 1;
  } finally {
    for (const c of [gw, base, emu]) {
      c.removeAllListeners('exit');
      c.kill('SIGTERM');
    }
    agent.destroy();
    sink.server.close();
    await gwRedis.flushdb();
    await baseRedis.flushdb();
    gwRedis.disconnect();
    baseRedis.disconnect();
    if (build) rmSync(build.dir, { recursive: true, force: true });
  }
}

void main();
