/**
 * `npx tsx bench/object-spread.ts` (~15 s) — why the hop path copies records with `Object.assign` or field by
 * field, never `{ ...x, newKey }` (docs/architecture.md#the-hop-and-the-garbage-collector).
 *
 * Each way of copying a 9-field record and adding one field runs 3 million times in a fresh Node process (a
 * fresh call site, as in the gateway, where each site sees one or a few shapes), keeping nothing. Printed per
 * way: time per copy, and what the copies did to the old generation: V8's full collections (mark-compact,
 * counted with `perf_hooks`) and how much the old space grew in total between samples. Objects that die at
 * once should never reach the old generation; on Node 20 (V8 11.3) the copies made by a spread followed by a
 * new key do.
 */
import { fork } from 'node:child_process';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';

type Rec = Record<string, unknown>;
const WAYS: Record<string, (x: Rec, d: unknown) => Rec> = {
  'spread, then a new key: { ...x, data }': (x, d) => ({ ...x, data: d }),
  'spread, then set a new key': (x, d) => {
    const o: Rec = { ...x };
    o.data = d;
    return o;
  },
  'spread, then a key x has: { ...x, locale }': (x, d) => ({ ...x, locale: d }),
  'new key first: { data, ...x }': (x, d) => ({ data: d, ...x }),
  'Object.assign({}, x, { data })': (x, d) => Object.assign({}, x, { data: d }),
  'field by field': (x, d) => ({
    channel: x.channel,
    phone: x.phone,
    text: x.text,
    locale: x.locale,
    contact: x.contact,
    now: x.now,
    newId: x.newId,
    serviceCode: x.serviceCode,
    attempt: x.attempt,
    data: d,
  }),
};
const N = 3_000_000;

function child(way: string): void {
  const copy = WAYS[way];
  if (!copy) throw new Error(`unknown way ${way}`);
  let majors = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
  }).observe({ entryTypes: ['gc'] });
  const newId = () => 'id';
  const make = (i: number): Rec => ({
    channel: 'ussd',
    phone: `+25479${i & 1023}`,
    text: '',
    locale: 'en',
    contact: null,
    now: i,
    newId,
    serviceCode: '*384*12#',
    attempt: 0,
  });
  let keep: Rec = {};
  for (let i = 0; i < 200_000; i++) keep = copy(make(i), i); // warm: the call site settles as in a server
  const oldUsed = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
  let grew = 0;
  let last = oldUsed();
  majors = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    keep = copy(make(i), i);
    if ((i & 4095) === 0) {
      const now = oldUsed();
      if (now > last) grew += now - last;
      last = now;
    }
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  // The observer reports on a later tick.
  setTimeout(() => {
    process.send?.({ way, ns, majors, grewMB: grew / 1e6, keep: Object.keys(keep).length });
    process.disconnect?.();
  }, 50);
}

async function main(): Promise<void> {
  const rows: Array<{ way: string; ns: number; majors: number; grewMB: number }> = [];
  for (const way of Object.keys(WAYS)) {
    const row = await new Promise<{ way: string; ns: number; majors: number; grewMB: number }>((resolve, reject) => {
      const p = fork(fileURLToPath(import.meta.url), ['--child', way], { execArgv: ['--import', 'tsx'] });
      p.once('message', (m) => resolve(m as { way: string; ns: number; majors: number; grewMB: number }));
      p.once('exit', (code) => (code ? reject(new Error(`${way}: exited ${code}`)) : undefined));
    });
    rows.push(row);
  }
  console.log(
    `Node ${process.version} (V8 ${process.versions.v8}), ${N.toLocaleString('en')} copies of a 9-field record each`,
  );
  for (const r of rows)
    console.log(
      `  ${r.way.padEnd(44)} ${r.ns.toFixed(0).padStart(5)} ns/copy  ` +
        `${String(r.majors).padStart(3)} full GCs  old space grew ${r.grewMB.toFixed(0).padStart(4)} MB`,
    );
}

const at = process.argv.indexOf('--child');
if (at >= 0) child(process.argv[at + 1] ?? '');
else await main();
