import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Job, JobsOptions } from 'bullmq';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { createRedisConnection, type RedisTarget } from './connection.ts';
import type { StoreLogger } from './keys.ts';
import { watchWorker, type WatchdogOptions, type Watchdog } from './worker-watchdog.ts';
import { closeConnection } from './redis-scripts.ts';
import {
  IDEMPOTENCY_WINDOW_MS,
  assertSchedulerId,
  backoffDelayMs,
  decideRetry,
  limiterFor,
  outcomeFromThrown,
  outcomesFor,
} from './queue-policy.ts';
import type {
  BatchWorkerOptions,
  DeadLetter,
  JobOutcome,
  JobQueue,
  QueueCounts,
  QueueName,
  QueuedJob,
  RunningWorker,
  WorkerHealth,
  WorkerOptions,
} from './types.ts';

export interface BullmqJobQueueOptions {
  /** A Redis URL or Sentinel target; connections wait through outages (`maxRetriesPerRequest: null`, as BullMQ requires). */
  connection: RedisTarget | string;
  /** BullMQ key prefix (a trailing `:` is dropped: `jibu:` gives keys `jibu:outbox-sms:…`). */
  prefix?: string;
  /** `runAt` is turned into a delay against this clock. */
  clock?: Clock;
  logger?: StoreLogger;
  /** How long a manual batch keeps its jobs locked before renewing (ms). */
  batchLockMs?: number;
  /** The watchdog that restarts a worker which stopped taking jobs (worker-watchdog.ts). */
  watchdog?: WatchdogOptions;
}

export interface BullmqJobQueue extends JobQueue {
  readonly kind: 'bullmq';
  /** The BullMQ queue behind a name, for admin tooling and tests. */
  bullQueue(queue: QueueName): Queue;
}

/**
 * Attempts are decided by the worker's own `attempts` (it turns the last failure into an
 * UnrecoverableError); the ceiling stored on each job only stops a runaway if a worker forgot to.
 */
const ATTEMPTS_CEILING = 1_000;
const BACKOFF_TYPE = 'jibu';

/**
 * BullMQ refuses custom ids that contain `:` or look like integers; ours are free-form idempotency keys
 * (`sms:ATXid_1:0`), so they are encoded reversibly. Ids BullMQ made itself (`repeat:…`) pass through.
 */
export function toBullId(id: string): string {
  return `j_${id.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'))}`;
}

export function fromBullId(bullId: string): string {
  if (!bullId.startsWith('j_')) return bullId;
  return bullId.slice(2).replace(/%(25|3A)/g, (_m, code: string) => (code === '25' ? '%' : ':'));
}

/** A transient failure carrying the delay the retry policy chose (read by the backoff strategy). */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

/** The last attempt's error and detail, kept in the job's log so dead letters can show the DHIS2 report. */
interface AttemptLog {
  attempt: number;
  error: string;
  detail?: unknown;
}

function toQueued<T>(queue: QueueName, job: Job): QueuedJob<T> {
  return { id: fromBullId(job.id ?? ''), queue, name: job.name, data: job.data as T };
}

/**
 * `JobQueue` on BullMQ: one BullMQ queue per `QueueName`, job ids as BullMQ jobIds (a re-add is ignored
 * while the job is retained: completed jobs 48 h, failed jobs until retried), `runAt` as a delay, a
 * cluster-wide rate limit, exponential backoff and dead letters (= BullMQ's failed set).
 *
 * @example
 * const queue = createBullmqJobQueue({ connection: 'redis://127.0.0.1:6379', prefix: 'jibu' });
 * queue.process('outbox-sms', async (job) => ({ ok: true }), { ratePerSecond: 10 });
 */
export function createBullmqJobQueue(opts: BullmqJobQueueOptions): BullmqJobQueue {
  const clock = opts.clock ?? systemClock;
  const prefix = (opts.prefix ?? 'jibu').replace(/:$/, '');
  const batchLockMs = opts.batchLockMs ?? 60_000;
  // Workers duplicate this connection for their blocking reads, so they follow a failover the same way.
  let closing = false;
  const connect = () => {
    const c = createRedisConnection(opts.connection, 'queue');
    c.on('error', (err: Error) =>
      opts.logger?.warn({ code: 'JIBU_STORE_UNAVAILABLE', reason: err.message }, 'queue redis connection error'),
    );
    // ioredis can give up on a Sentinel connection after a failover ("Connection is closed", status
    // `end`) although it was told to retry forever: build a new one; queues are recreated on next use
    // and the watchdog restarts the workers still on the old one (see `onCurrentConnection`).
    c.once('end', () => {
      if (closing || c !== connection) return;
      opts.logger?.error({ code: 'JIBU_STORE_UNAVAILABLE' }, 'queue redis connection ended; reconnecting');
      const stale = [...queues.values()];
      queues.clear();
      connection = connect();
      for (const q of stale) void q.close().catch(() => undefined);
    });
    return c;
  };
  let connection = connect();

  const jobOptions: JobsOptions = {
    attempts: ATTEMPTS_CEILING,
    backoff: { type: BACKOFF_TYPE },
    removeOnComplete: { age: Math.ceil(IDEMPOTENCY_WINDOW_MS / 1_000) },
    // Failed jobs are the dead letters: kept until an admin retries them.
    removeOnFail: false,
    keepLogs: 20,
  };

  const queues = new Map<QueueName, Queue>();
  const workers = new Set<RunningWorker>();
  const watchdogs = new Set<Watchdog>();

  function bullQueue(name: QueueName): Queue {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix, defaultJobOptions: jobOptions });
      q.on('error', (err: Error) => opts.logger?.error({ queue: name, reason: err.message }, 'queue error'));
      queues.set(name, q);
    }
    return q;
  }

  const workerSettings = (wopts: WorkerOptions) => ({
    // BullMQ calls this only for jobs it will retry; RetryLater carries the delay decideRetry chose.
    backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
      err instanceof RetryLater ? err.delayMs : backoffDelayMs(attemptsMade, wopts),
  });

  /** Turn an outcome into BullMQ's language: return to complete, throw to retry or dead-letter. */
  async function settle(
    job: Job,
    outcome: JobOutcome,
    attempt: number,
    wopts: WorkerOptions,
  ): Promise<Error | undefined> {
    const decision = decideRetry(outcome, attempt, wopts);
    if (decision.action === 'complete' || outcome.ok) {
      // A completed job stays for the idempotency window by its id; its data (an SMS text with a sign-in
      // code, a caregiver's answer) has no use any more and is dropped (SECURITY.md "PINs and sign-in codes").
      await job.updateData({ done: true }).catch(() => undefined);
      return undefined;
    }
    const entry: AttemptLog = { attempt, error: outcome.error };
    if (outcome.detail !== undefined) entry.detail = outcome.detail;
    await job.log(JSON.stringify(entry)).catch(() => undefined);
    return decision.action === 'dead'
      ? new UnrecoverableError(outcome.error)
      : new RetryLater(outcome.error, decision.delayMs);
  }

  /** Keep `w` for close(), under a watchdog that restarts it when it stops taking jobs. */
  function track(
    w: RunningWorker,
    watched: Omit<Parameters<typeof watchWorker>[0], 'queue'> & { queue: QueueName },
  ): RunningWorker {
    const dog = watchWorker(watched, () => bullQueue(watched.queue), opts.logger, opts.watchdog);
    watchdogs.add(dog);
    workers.add(w);
    return {
      close: async () => {
        dog.stop();
        watchdogs.delete(dog);
        workers.delete(w);
        await w.close();
      },
    };
  }

  function process<T>(
    queue: QueueName,
    handler: (job: QueuedJob<T>, attempt: number) => Promise<JobOutcome>,
    wopts: WorkerOptions = {},
  ): RunningWorker {
    const concurrency = Math.max(1, wopts.concurrency ?? 1);
    let inHand = 0;
    let lastTaken = Date.now();
    let builtOn = connection;
    const start = () => {
      builtOn = connection;
      const w = new Worker(
        queue,
        async (job: Job) => {
          inHand += 1;
          lastTaken = Date.now();
          try {
            const attempt = job.attemptsMade + 1;
            let outcome: JobOutcome;
            try {
              outcome = await handler(toQueued<T>(queue, job), attempt);
            } catch (err) {
              outcome = outcomeFromThrown(err);
            }
            const failure = await settle(job, outcome, attempt, wopts);
            if (failure) throw failure;
          } finally {
            inHand -= 1;
          }
        },
        {
          connection,
          prefix,
          concurrency,
          ...(wopts.ratePerSecond === undefined ? {} : { limiter: limiterFor(wopts.ratePerSecond) }),
          settings: workerSettings(wopts),
        },
      );
      w.on('error', (err: Error) => opts.logger?.error({ queue, reason: err.message }, 'worker error'));
      return w;
    };
    let worker = start();
    return track(
      { close: () => worker.close() },
      {
        queue,
        running: () => worker.isRunning() && builtOn === connection,
        busy: () => inHand >= concurrency,
        lastTaken: () => lastTaken,
        restart: async () => {
          // Jobs the old worker still holds lose their lock and are run again by BullMQ's stalled check;
          // handlers are idempotent (job ids, message records), so a rerun does not double anything.
          const old = worker;
          worker = start();
          await old.close(true).catch(() => undefined);
        },
      },
    );
  }

  function processBatch<T>(
    queue: QueueName,
    handler: (jobs: Array<QueuedJob<T>>) => Promise<JobOutcome[]>,
    bopts: BatchWorkerOptions,
  ): RunningWorker {
    const maxBatch = Math.max(1, bopts.maxBatch);
    let lastTaken = Date.now();
    let inBatch = false;

    /** One worker and its fetch loop; the watchdog replaces the pair when it stops taking jobs. */
    function start(): { running(): boolean; close(force?: boolean): Promise<void> } {
      const builtOn = connection;
      // No processor: jobs are fetched by hand so up to maxBatch of them can go to DHIS2 in one request,
      // while BullMQ stays the store of every job (locks, attempts, backoff, failed set).
      const worker = new Worker(queue, null, {
        connection,
        prefix,
        lockDuration: batchLockMs,
        ...(bopts.ratePerSecond === undefined ? {} : { limiter: limiterFor(bopts.ratePerSecond) }),
        settings: workerSettings(bopts),
      });
      worker.on('error', (err: Error) => opts.logger?.error({ queue, reason: err.message }, 'batch worker error'));
      void worker.startStalledCheckTimer();
      let stopping = false;
      let ended = false;
      let wake: (() => void) | undefined;

      const pause = (ms: number) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });

      async function runBatch(batch: Array<{ job: Job; token: string }>): Promise<void> {
        const renew = setInterval(() => {
          worker
            .extendJobLocks(
              batch.map((b) => b.job.id ?? ''),
              batch.map((b) => b.token),
              batchLockMs,
            )
            .catch(() => undefined);
        }, batchLockMs / 2);
        inBatch = true;
        try {
          const attempts = batch.map((b) => b.job.attemptsMade + 1);
          let outcomes: JobOutcome[];
          try {
            outcomes = outcomesFor(batch.length, await handler(batch.map((b) => toQueued<T>(queue, b.job))));
          } catch (err) {
            outcomes = batch.map(() => outcomeFromThrown(err));
          }
          for (const [i, { job, token }] of batch.entries()) {
            const failure = await settle(job, outcomes[i]!, attempts[i]!, bopts);
            if (failure) await job.moveToFailed(failure, token, false);
            else await job.moveToCompleted(null, token, false);
          }
        } finally {
          inBatch = false;
          clearInterval(renew);
        }
      }

      const loop = (async () => {
        while (!stopping) {
          const batch: Array<{ job: Job; token: string }> = [];
          try {
            while (batch.length < maxBatch && !stopping) {
              const token = randomUUID();
              const job = await worker.getNextJob(token, { block: false });
              if (!job) break;
              lastTaken = Date.now();
              batch.push({ job, token });
            }
            if (batch.length > 0) await runBatch(batch);
          } catch (err) {
            // Jobs left active here are recovered by BullMQ's stalled check once their lock lapses.
            opts.logger?.error(
              { queue, reason: err instanceof Error ? err.message : String(err) },
              'batch failed to settle',
            );
          }
          if (batch.length < maxBatch && !stopping) await pause(bopts.intervalMs);
        }
      })().finally(() => {
        ended = true;
      });

      return {
        running: () => !ended && builtOn === connection,
        async close(force = false) {
          stopping = true;
          wake?.();
          // A forced close does not wait for a loop stuck on a dead connection: it is abandoned.
          if (!force) await loop;
          await worker.close(force);
        },
      };
    }

    let current = start();
    return track(
      { close: () => current.close() },
      {
        queue,
        running: () => current.running(),
        busy: () => inBatch,
        lastTaken: () => lastTaken,
        restart: async () => {
          const old = current;
          current = start();
          await old.close(true).catch(() => undefined);
        },
      },
    );
  }

  return {
    kind: 'bullmq',
    bullQueue,

    async add(jobs) {
      const byQueue = new Map<QueueName, QueuedJob[]>();
      for (const j of jobs) byQueue.set(j.queue, [...(byQueue.get(j.queue) ?? []), j]);
      const now = clock.now().getTime();
      await Promise.all(
        [...byQueue].map(([name, list]) =>
          bullQueue(name).addBulk(
            list.map((j) => {
              const delay = j.runAt === undefined ? 0 : Math.max(0, Math.round(j.runAt - now));
              return {
                name: j.name,
                data: j.data,
                opts: { ...jobOptions, jobId: toBullId(j.id), ...(delay > 0 ? { delay } : {}) },
              };
            }),
          ),
        ),
      );
    },

    process,
    processBatch,

    async remove(queue, id) {
      // 0 when the job is unknown or locked by a worker: cancelling is best effort, like the memory queue.
      await bullQueue(queue).remove(toBullId(id));
    },

    async counts(queue): Promise<QueueCounts> {
      const c = await bullQueue(queue).getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
      return {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        delayed: c.delayed ?? 0,
        active: c.active ?? 0,
        failed: c.failed ?? 0,
      };
    },

    async deadLetters(queue, limit = 50): Promise<DeadLetter[]> {
      const q = bullQueue(queue);
      const failed = await q.getFailed(0, Math.max(0, limit - 1));
      return Promise.all(
        failed.map(async (job) => {
          const id = job.id ?? '';
          const { logs } = await q.getJobLogs(id, -1, -1);
          let last: AttemptLog | undefined;
          try {
            last = logs[0] === undefined ? undefined : (JSON.parse(logs[0]) as AttemptLog);
          } catch {
            last = undefined;
          }
          const d: DeadLetter = {
            id: fromBullId(id),
            queue,
            name: job.name,
            data: job.data,
            error: job.failedReason || last?.error || '',
            attempts: job.attemptsMade,
            failedAt: job.finishedOn ?? 0,
          };
          if (last?.detail !== undefined) d.detail = last.detail;
          return d;
        }),
      );
    },

    async retryDeadLetter(queue, id) {
      const job = await bullQueue(queue).getJob(toBullId(id));
      if (!job || (await job.getState()) !== 'failed') return false;
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    },

    async schedule(queue, schedulerId, repeat, template) {
      assertSchedulerId(schedulerId);
      const repeatOpts =
        'every' in repeat
          ? { every: repeat.every }
          : repeat.tz === undefined
            ? { pattern: repeat.pattern }
            : { pattern: repeat.pattern, tz: repeat.tz };
      const { attempts, backoff, removeOnComplete, removeOnFail, keepLogs } = jobOptions;
      await bullQueue(queue).upsertJobScheduler(schedulerId, repeatOpts, {
        name: template.name,
        data: template.data ?? {},
        opts: { attempts, backoff, removeOnComplete, removeOnFail, keepLogs },
      });
    },

    async unschedule(queue, schedulerId) {
      return bullQueue(queue).removeJobScheduler(schedulerId);
    },

    workerHealth(): WorkerHealth[] {
      return [...watchdogs].map((d) => d.health());
    },

    async close() {
      closing = true;
      for (const d of watchdogs) d.stop();
      watchdogs.clear();
      await Promise.all([...workers].map((w) => w.close()));
      workers.clear();
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
      await closeConnection(connection);
    },
  };
}
