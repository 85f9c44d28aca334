/**
 * Live heap after a flood of requests to random unmatched paths (issue: unbounded metric labels).
 *
 * `node --expose-gc --import tsx bench/metrics-heap.ts [--requests=20000] [--prefixes=/,/admin/,/ussd/]`
 *
 * Starts the embedded gateway in this process, sends a warm-up of 5 000 requests, then `--requests` twice
 * more (16 at a time, GET and POST, random paths under each prefix), and after each round forces a
 * garbage collection and reads `heapUsed`: what the process still holds, unlike RSS, which keeps the
 * heap's headroom (see bench/metrics-cardinality.ts for RSS and the size of /metrics). Exit code 0 when
 * the live heap after the last round is at most 10 MB above the one after the warm-up.
 */
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startGateway } from '../src/server/lifecycle.ts';

const arg = (name: string, def: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const REQUESTS = Number(arg('requests', '20000'));
const PREFIXES = arg('prefixes', '/,/admin/,/simulator/,/dhis2/api/,/ussd/,/sms/,/metrics/').split(',');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/metrics-heap.ts');

const gw = await startGateway(
  loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
  createLogger({ level: 'silent' }),
);
const base = `http://127.0.0.1:${gw.port}`;

async function flood(n: number): Promise<void> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent < n) {
        const i = sent++;
        const path = `${PREFIXES[i % PREFIXES.length]}${Math.random().toString(36).slice(2)}${i}`;
        const r = await fetch(`${base}${path}`, { method: i % 2 ? 'GET' : 'POST' });
        await r.arrayBuffer();
      }
    }),
  );
}
const liveMb = () => {
  gc();
  return Math.round(process.memoryUsage().heapUsed / 1e5) / 10;
};

await flood(5000);
const warm = liveMb();
await flood(REQUESTS);
const first = liveMb();
await flood(REQUESTS);
const second = liveMb();
const metricsBytes = (await (await fetch(`${base}/metrics`)).text()).length;
await gw.stop();
const growth = Math.round((second - warm) * 10) / 10;
const ok = growth <= 10 && metricsBytes < 64 * 1024;
console.log(
  JSON.stringify(
    { requests: 5000 + 2 * REQUESTS, liveHeapMb: { warm, first, second }, growthMb: growth, metricsBytes, ok },
    null,
    2,
  ),
);
process.exit(ok ? 0 : 1);
