/**
 * Time per case-worker PIN hash (src/caseworker/credentials.ts): the current scheme (scrypt N = 2^15,
 * r = 8, p = 1, PIN keyed with the pepper) and the legacy one (N = 2^13, no pepper). A hash runs in the
 * conversation step, once per PIN typed (twice when a PIN is set); in the runner it is computed on the
 * thread pool, off the event loop. Target for the current scheme: 50–100 ms on this project's machine kind.
 * `npx tsx bench/pin-hash.ts` (~15 s).
 */
import {
  DEMO_PIN_PEPPER,
  LEGACY_SCRYPT_PARAMS,
  SCRYPT_PARAMS,
  hashPin,
  saltFrom,
} from '../src/caseworker/credentials.ts';
import { OffloadScope } from '../src/conversation/offload.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';

function measure(label: string, f: (i: number) => void, runs: number): void {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    f(i);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
  console.log(`${label}: median ${at(0.5)} ms, min ${at(0)} ms, p90 ${at(0.9)} ms (${runs} hashes)`);
}

measure('current (N=2^15, peppered)', (i) => hashPin('4821', saltFrom(`b${i}`), SCRYPT_PARAMS, DEMO_PIN_PEPPER), 40);
measure('legacy (N=2^13, no pepper)', (i) => hashPin('4821', saltFrom(`l${i}`), LEGACY_SCRYPT_PARAMS), 40);

/**
 * What a PIN hop costs everybody else on the replica: the longest the event loop could not run anything while
 * 12 PINs were hashed one after another, synchronously (as the step did before) and offloaded to the thread pool
 * (as the runner does now, src/conversation/offload.ts).
 */
async function stall(label: string, work: () => Promise<void>): Promise<void> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t = performance.now();
  await work();
  h.disable();
  console.log(
    `${label}: 12 hashes in ${(performance.now() - t).toFixed(0)} ms, longest event-loop stall ${(h.max / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms`,
  );
}
const twelve = Array.from({ length: 12 }, (_, i) => saltFrom(`s${i}`));
await stall('in the step, synchronously', async () => {
  for (const salt of twelve) {
    hashPin('4821', salt, SCRYPT_PARAMS, DEMO_PIN_PEPPER);
    await new Promise((r) => setImmediate(r));
  }
});
await stall('offloaded to the thread pool', async () => {
  for (const salt of twelve) {
    const scope = new OffloadScope();
    scope.run(() => hashPin('4821', salt, SCRYPT_PARAMS, DEMO_PIN_PEPPER));
    await scope.settle();
  }
});
