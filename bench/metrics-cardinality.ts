import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { loadConfig } from '../src/config.ts';

/**
 * `npx tsx bench/metrics-cardinality.ts [--requests=10000]`: the gateway exactly as `npm start` runs it
 * (embedded demo) takes N requests to random, long, unmatched paths from an unauthenticated client.
 * Targets (issue 10): `/metrics` stays under 64 KB and the gateway's RSS grows by less than 10 MB.
 * RSS is read from /proc/<pid>/status (VmRSS) after a warm-up of the same shape (`--warmup=10000`: V8
 * sizes its heap to the load during the first thousands of requests, which is not retention) and after
 * the run; a label per path, or anything else kept per request, shows as growth during the run.
 * Exit code 0 only when both targets are met.
 */

const arg = (name: string, def: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const REQUESTS = arg('requests', 10_000);
const WARMUP = arg('warmup', 10_000);
const CONNECTIONS = 16;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
function hit(url: string, method: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
}

/** `--prefixes=/,/admin/` narrows where the random paths go (to tell which part keeps memory). */
const PREFIXES = (
  process.argv.find((a) => a.startsWith('--prefixes='))?.split('=')[1] ??
  '/,/admin/,/simulator/,/dhis2/api/,/ussd/,/sms/,/metrics/'
).split(',');
async function flood(base: string, n: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const path = `${PREFIXES[i % PREFIXES.length]}${randomBytes(96).toString('hex')}`;
      await hit(`${base}${path}`, i % 3 === 0 ? 'POST' : 'GET');
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
}

const port = await freePort();
const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  env: {
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    // To compare with V8's own heap sizing: HEAP_GROWING_PERCENT=0 npx tsx bench/metrics-cardinality.ts
    ...(process.env.HEAP_GROWING_PERCENT ? { HEAP_GROWING_PERCENT: process.env.HEAP_GROWING_PERCENT } : {}),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
try {
  const until = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > until) throw new Error('the gateway did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  await flood(base, WARMUP);
  const before = rssKb(child.pid ?? 0);
  const started = Date.now();
  await flood(base, REQUESTS);
  const seconds = (Date.now() - started) / 1000;
  const after = rssKb(child.pid ?? 0);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const bytes = Buffer.byteLength(metrics);
  const unmatched = /jibu_http_requests_total\{[^}]*route="unmatched"[^}]*\} \d+/.test(metrics);
  const growthMb = (after - before) / 1024;
  const result = {
    when: new Date().toISOString(),
    node: process.version,
    warmup: WARMUP,
    requests: REQUESTS,
    heapGrowingPercent: process.env.HEAP_GROWING_PERCENT ?? `default (${loadConfig({}).HEAP_GROWING_PERCENT})`,
    seconds,
    metricsBytes: bytes,
    rssBeforeMb: Math.round(before / 102.4) / 10,
    rssAfterMb: Math.round(after / 102.4) / 10,
    rssGrowthMb: Math.round(growthMb * 10) / 10,
    unmatchedLabel: unmatched,
    ok: bytes < 64 * 1024 && growthMb < 10 && unmatched,
  };
  console.log(JSON.stringify(result, null, 2));
  writeFileSync(
    new URL('./results/metrics-cardinality-latest.json', import.meta.url),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  process.exitCode = result.ok ? 0 : 1;
} finally {
  agent.destroy();
  child.kill('SIGTERM');
}
