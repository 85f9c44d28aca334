import type { Queue } from 'bullmq';
import type { StoreLogger } from './keys.ts';
import type { QueueName, WorkerHealth } from './types.ts';

/** What the watchdog reads from a worker, and how it restarts one. */
export interface WatchedWorker {
  queue: QueueName;
  /** False when the worker has stopped on its own (closed after an error, loop ended). */
  running(): boolean;
  /** True while the worker holds as many jobs as it may: not taking more is then expected. */
  busy(): boolean;
  /** When the worker last took a job (ms since epoch). */
  lastTaken(): number;
  /** Replace the worker with a fresh one (new connections, new loop). */
  restart(): Promise<void>;
}

export interface WatchdogOptions {
  /** How often to look (ms). Default 5 000. */
  intervalMs?: number;
  /** Jobs ready this long with none taken means stalled (ms). Default 20 000. */
  stallMs?: number;
}

export interface Watchdog {
  health(): WorkerHealth;
  stop(): void;
}

/**
 * Notices a worker that stopped taking jobs and restarts it. BullMQ workers are known to go quiet after
 * a Redis failover when a blocking connection is left waiting on the old primary; reconnecting on
 * READONLY and `maxRetriesPerRequest: null` (connection.ts) prevent most of that, this catches the rest.
 *
 * "Stalled" is judged from the queue, not from time alone: jobs are waiting (or a delayed job is overdue)
 * and the worker, not busy, has taken none of them for `stallMs`. An idle worker on an empty queue, a
 * busy worker and a rate-limited worker taking jobs at its pace are all healthy.
 */
export function watchWorker(
  w: WatchedWorker,
  queue: () => Queue,
  logger?: StoreLogger,
  o: WatchdogOptions = {},
): Watchdog {
  const intervalMs = o.intervalMs ?? 5_000;
  const stallMs = o.stallMs ?? 20_000;
  let readySince: number | undefined;
  let state: WorkerHealth['state'] = 'ok';
  let restarts = 0;
  let checking = false;
  let stopped = false;

  async function jobsReady(): Promise<boolean> {
    const q = queue();
    if (await q.isPaused()) return false;
    const c = await q.getJobCounts('wait', 'prioritized');
    if ((c.wait ?? 0) + (c.prioritized ?? 0) > 0) return true;
    const [first] = await q.getJobs(['delayed'], 0, 0, true);
    return first !== undefined && first.timestamp + first.delay < Date.now() - stallMs;
  }

  async function check(): Promise<void> {
    const now = Date.now();
    let stalled = !w.running();
    if (!stalled && !w.busy()) {
      // Redis unreachable is not the worker's fault: keep the last judgement until it answers.
      const ready = await jobsReady().catch(() => undefined);
      if (ready === undefined) return;
      if (!ready || w.lastTaken() >= (readySince ?? now)) readySince = ready ? now : undefined;
      else readySince ??= now;
      stalled = readySince !== undefined && now - readySince >= stallMs;
    } else if (!stalled) {
      readySince = undefined;
    }
    if (!stalled) {
      state = 'ok';
      return;
    }
    state = 'stalled';
    restarts += 1;
    logger?.error(
      { code: 'JIBU_WORKER_STALLED', queue: w.queue, restarts },
      'queue worker stopped taking jobs; restarting it',
    );
    await w.restart();
    readySince = undefined;
  }

  const timer = setInterval(() => {
    if (checking || stopped) return;
    checking = true;
    check()
      .catch((err: unknown) =>
        logger?.error({ queue: w.queue, reason: err instanceof Error ? err.message : String(err) }, 'watchdog failed'),
      )
      .finally(() => {
        checking = false;
      });
  }, intervalMs);
  timer.unref();

  return {
    health: () => ({ queue: w.queue, state, restarts }),
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
