/**
 * A diagnostic preload for the gateway under `npm run bench`: appends to `$GC_PROBE_OUT` (default
 * `gc-probe.log` in the working directory) every garbage collection pause over 3 ms, with its kind, and every
 * second in which the event loop stalled for more than 15 ms (`monitorEventLoopDelay`, 5 ms resolution).
 * Each line starts with the Unix epoch second (so the log lines up with the bench's `--trace` file) and the
 * process id (so one file can take the gateway's and the load generator's lines).
 *
 *   BENCH_GW_NODE_ARGS="--import ./bench/gc-probe.mjs" GC_PROBE_OUT=/tmp/gc.log npm run bench
 */
import { appendFileSync } from 'node:fs';
import process from 'node:process';
import { setInterval } from 'node:timers';
import { PerformanceObserver, constants, monitorEventLoopDelay, performance } from 'node:perf_hooks';

const out = process.env.GC_PROBE_OUT ?? 'gc-probe.log';
const kinds = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
const at = (ms) => `${((performance.timeOrigin + ms) / 1000).toFixed(3)} ${process.pid}`;
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if (e.duration > 3)
      appendFileSync(
        out,
        `${at(e.startTime)} gc ${kinds[e.detail?.kind] ?? e.detail?.kind} ${e.duration.toFixed(1)}ms\n`,
      );
}).observe({ entryTypes: ['gc'] });
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
setInterval(() => {
  if (delay.max > 15e6)
    appendFileSync(
      out,
      `${at(performance.now())} loop p99=${(delay.percentile(99) / 1e6).toFixed(1)}ms max=${(delay.max / 1e6).toFixed(1)}ms\n`,
    );
  delay.reset();
}, 1000).unref();
