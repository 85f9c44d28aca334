/**
 * `npm run bench` — concurrent multi-hop USSD sessions against the real gateway (Redis-backed sessions and
 * queues), next to a bare Express + ioredis GET/SET handler measured in the same run (bench/baseline.ts).
 *
 * Method (also in bench/README.md):
 *  1. Both servers run as child processes on loopback; this process only generates load (keep-alive HTTP).
 *  2. Oracle: before the load, K random paths through the flows (inputs drawn from menu numbers, paging keys,
 *     numbers, dates and junk) are walked one at a time and every screen is recorded. Under load each session
 *     replays one recorded path with its own session id and phone number, and every screen must equal the
 *     recorded one (the reference number in a final screen is masked). A screen meant for another caller, a
 *     non-CON/END answer or a non-200 counts as a wrong reply.
 *  3. Saturation: C connections each run sessions back to back, no pause, for D seconds.
 *  4. Paced: N sessions, each pausing ~1 s (0.8–1.2 s) between hops, for D seconds; p99 per hop.
 *  5. Peak RSS of the gateway (VmHWM) and Redis bytes per live session (MEMORY USAGE over the session keys).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { execSync } from 'node:child_process';
import os from 'node:os';
import { Redis } from 'ioredis';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'];
  }),
);
/** The gateway's `WEBHOOK_SECRET`, sent as `?key=` (the baseline ignores it). */
const WEBHOOK_KEY = 'bench-webhook-key';
const REDIS = args.get('redis') ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONNS = Number(args.get('connections') ?? 100);
const PACED = Number(args.get('sessions') ?? 1000);
const SECONDS = Number(args.get('seconds') ?? 20);
const PATHS = Number(args.get('paths') ?? 40);
const ROUNDS = Math.max(1, Number(args.get('rounds') ?? 4));
const GW_DB = 5;
const BASE_DB = 6;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function startChild(script: string, env: Record<string, string>, extraArgv: string[] = []): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = fork(script, [], {
      execArgv: ['--import', 'tsx', ...extraArgv],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
    resolve(child);
  });
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

const agent = new Agent({ keepAlive: true, maxSockets: Math.max(CONNS, 256) });
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
// +25479… is outside every demo range (caregivers +2547000…/+254701…, case workers +2547110…), so every bench caller is a stranger on the demo flow.
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
  lat: number[];
  examples: string[];
}
const newStats = (): Stats => ({ hops: 0, wrong: 0, lat: [], examples: [] });

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
    const ok =
      kind === 'jibu'
        ? r.status === 200 && mask(r.text) === rec.screens[i]
        : r.status === 200 && r.text.startsWith(`CON ${phone} hop ${i + 1} `);
    if (!ok) {
      st.wrong++;
      if (st.examples.length < 3)
        st.examples.push(
          `hop ${i} got ${r.status} ${JSON.stringify(r.text.slice(0, 80))} want ${JSON.stringify((rec.screens[i] ?? '').slice(0, 80))}`,
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
): Promise<Stats & { seconds: number }> {
  const st = newStats();
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
  return { ...st, seconds: (performance.now() - t0) / 1000 };
}

function merge(into: Stats & { seconds: number }, s: Stats & { seconds: number }): void {
  into.hops += s.hops;
  into.wrong += s.wrong;
  into.seconds += s.seconds;
  for (const l of s.lat) into.lat.push(l);
  for (const e of s.examples) if (into.examples.length < 3) into.examples.push(e);
}

function pct(a: number[], p: number): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function peakRss(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main() {
  const gwRedis = new Redis(`${REDIS}/${GW_DB}`);
  const baseRedis = new Redis(`${REDIS}/${BASE_DB}`);
  await gwRedis.flushdb();
  await baseRedis.flushdb();
  const [gwPort, basePort] = [await freePort(), await freePort()];
  const gw = await startChild(
    'src/main.ts',
    {
      PORT: String(gwPort),
      HOST: '127.0.0.1',
      REDIS_URL: `${REDIS}/${GW_DB}`,
      LOG_LEVEL: 'error',
      SMS_PROVIDER: 'console',
      SMS_RATE_PER_SECOND: '1000',
      // The load generator is one address replaying sessions per phone far faster than any person.
      INBOUND_USSD_PER_PHONE: '0',
      INBOUND_PER_IP: '0',
      // With Redis this is not the all-embedded demo: the unsigned USSD webhook needs its key.
      WEBHOOK_SECRET: WEBHOOK_KEY,
    },
    (process.env.BENCH_GW_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );
  const base = await startChild('bench/baseline.ts', { PORT: String(basePort), REDIS_URL: `${REDIS}/${BASE_DB}` });
  const gwUrl = `http://127.0.0.1:${gwPort}`;
  const baseUrl = `http://127.0.0.1:${basePort}`;
  try {
    await waitReady(`${gwUrl}/readyz`);
    await waitReady(`${baseUrl}/`);
    const recs = await record(gwUrl);
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

    // Saturation in ROUNDS alternating rounds (B J, J B, B J, …) of SECONDS/ROUNDS each: on a shared VM whose
    // speed drifts, both sides see the same slow and fast minutes.
    const satBase = { ...newStats(), seconds: 0 };
    const satGw = { ...newStats(), seconds: 0 };
    const rounds: Array<{ baseline: number; jibu: number; ratio: number }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const runOne = async (kind: 'baseline' | 'jibu') => {
        const s = await drive(kind === 'jibu' ? gwUrl : baseUrl, recs, CONNS, () => 0, SECONDS / ROUNDS, kind);
        merge(kind === 'jibu' ? satGw : satBase, s);
        return s.hops / s.seconds;
      };
      const order: Array<'baseline' | 'jibu'> = i % 2 === 0 ? ['baseline', 'jibu'] : ['jibu', 'baseline'];
      const got: Record<string, number> = {};
      for (const kind of order) got[kind] = await runOne(kind);
      rounds.push({
        baseline: got.baseline ?? NaN,
        jibu: got.jibu ?? NaN,
        ratio: (got.jibu ?? NaN) / (got.baseline ?? NaN),
      });
    }
    const paced = await drive(gwUrl, recs, PACED, () => 800 + Math.random() * 400, SECONDS, 'jibu', 1000);

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
      method: {
        connections: CONNS,
        pacedSessions: PACED,
        seconds: SECONDS,
        rounds: ROUNDS,
        recordedPaths: recs.length,
      },
      saturation: {
        rounds,
        baseline: {
          hopsPerSec: satBase.hops / satBase.seconds,
          p50: pct(satBase.lat, 50),
          p99: pct(satBase.lat, 99),
          wrong: satBase.wrong,
        },
        jibu: {
          hopsPerSec: satGw.hops / satGw.seconds,
          p50: pct(satGw.lat, 50),
          p99: pct(satGw.lat, 99),
          wrong: satGw.wrong,
          examples: satGw.examples,
        },
      },
      paced: {
        hops: paced.hops,
        hopsPerSec: paced.hops / paced.seconds,
        p50: pct(paced.lat, 50),
        p99: pct(paced.lat, 99),
        wrong: paced.wrong,
        examples: paced.examples,
      },
      gatewayPeakRssMiB: peakRss(gw.pid),
      redisBytesPerSession: perSession,
      liveSessionKeys: keys.length,
    };
    const ratio = result.saturation.jibu.hopsPerSec / result.saturation.baseline.hopsPerSec;
    const f = (n: number) => n.toFixed(2);
    console.log(`\nsaturation (${CONNS} connections, no pause, ${SECONDS} s each in ${ROUNDS} alternating rounds)`);
    console.log(
      `  baseline express+ioredis  ${f(result.saturation.baseline.hopsPerSec)} hops/s  p50 ${f(result.saturation.baseline.p50)} ms  p99 ${f(result.saturation.baseline.p99)} ms  wrong ${satBase.wrong}`,
    );
    console.log(
      `  jibu                      ${f(result.saturation.jibu.hopsPerSec)} hops/s  p50 ${f(result.saturation.jibu.p50)} ms  p99 ${f(result.saturation.jibu.p99)} ms  wrong ${satGw.wrong}`,
    );
    console.log(
      `  ratio                     ${(ratio * 100).toFixed(1)} % of baseline (target >= 70 %); per round ${rounds.map((r) => `${(r.ratio * 100).toFixed(0)} %`).join(', ')}`,
    );
    console.log(`paced (${PACED} sessions, ~1 s between hops)`);
    console.log(
      `  jibu                      ${f(result.paced.hopsPerSec)} hops/s  p50 ${f(result.paced.p50)} ms  p99 ${f(result.paced.p99)} ms (target <= 25)  wrong ${paced.wrong}`,
    );
    console.log(
      `gateway peak RSS ${f(result.gatewayPeakRssMiB)} MiB; Redis ${f(result.redisBytesPerSession)} bytes per session (${keys.length} live)`,
    );
    for (const e of [...satBase.examples, ...satGw.examples, ...paced.examples]) console.log(`  wrong reply: ${e}`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/ussd-latest.json`, JSON.stringify(result, null, 2) + '\n');
    const pass = ratio >= 0.7 && result.paced.p99 <= 25 && satGw.wrong + paced.wrong === 0;
    console.log(pass ? '\nPASS: all targets met' : '\nFAIL: a target was missed');
    process.exitCode = pass ? 0 : 1;
  } finally {
    gw.removeAllListeners('exit');
    base.removeAllListeners('exit');
    gw.kill('SIGTERM');
    base.kill('SIGTERM');
    agent.destroy();
    await gwRedis.flushdb();
    await baseRedis.flushdb();
    gwRedis.disconnect();
    baseRedis.disconnect();
  }
}

void main();
