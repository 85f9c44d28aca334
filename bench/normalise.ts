/**
 * Typed-text folding under hostile input (SECURITY.md "Input handling"): the engine's `normalizeWord`
 * against the trailing-punctuation regex it used before, on 64 KB bodies. `npx tsx bench/normalise.ts`
 * (a few seconds). Target: the current code under 5 ms per 64 KB body.
 */
import { normalizeWord } from '../src/conversation/text.ts';

const oldTrim = (s: string) => s.replace(/^[\s.,;:!?'"()-]+|[\s.,;:!?'"()-]+$/g, '').trim();
const bodies: Record<string, string> = {
  'punctuation run': `a${'.'.repeat(64 * 1024)}b`,
  'spaces run': `a${' '.repeat(64 * 1024)}b`,
  'mixed run': `a${'.,;:!? '.repeat(8 * 1024)}b`,
};

function time(f: () => void, runs: number): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) f();
  return Number(process.hrtime.bigint() - t) / 1e6 / runs;
}

let ok = true;
for (const [name, body] of Object.entries(bodies)) {
  // Distinct bodies each run, so the cache does not answer.
  let n = 0;
  const now = time(() => normalizeWord(`${n++}${body}`), 20);
  const before = time(() => oldTrim(body), 1);
  console.log(`${name}: normalizeWord ${now.toFixed(2)} ms; old regex alone ${before.toFixed(0)} ms`);
  if (now > 5) ok = false;
}
process.exit(ok ? 0 : 1);
