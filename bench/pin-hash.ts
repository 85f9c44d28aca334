/**
 * Time per case-worker PIN hash (src/caseworker/credentials.ts): the current scheme (scrypt N = 2^15,
 * r = 8, p = 1, PIN keyed with the pepper) and the legacy one (N = 2^13, no pepper). A hash runs in the
 * conversation step, on the event loop, once per PIN typed (twice when a PIN is set). Target for the
 * current scheme: 50–100 ms on this project's machine kind. `npx tsx bench/pin-hash.ts` (~10 s).
 */
import {
  DEMO_PIN_PEPPER,
  LEGACY_SCRYPT_PARAMS,
  SCRYPT_PARAMS,
  hashPin,
  saltFrom,
} from '../src/caseworker/credentials.ts';

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
