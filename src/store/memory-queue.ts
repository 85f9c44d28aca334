import { CronExpressionParser } from 'cron-parser';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { JibuError } from '../errors.ts';
import {
  IDEMPOTENCY_WINDOW_MS,
  assertSchedulerId,
  decideRetry,
  outcomeFromThrown,
  outcomesFor,
} from './queue-policy.ts';
import type {
  BatchWorkerOptions,
  DeadLetter,
  JobOutcome,
  JobQueue,
  JobTemplate,
  QueueCounts,
  QueueName,
  QueuedJob,
  RepeatSpec,
  RunningWorker,
  WorkerOptions,
} from './types.ts';

export interface MemoryJobQueueOptions {
  /** Decides when delayed jobs are due, backoff, rate-limit refills and the idempotency window. */
  clock?: Clock;
  /** How often (real time) the queue looks for due work. */
  pollMs?: number;
}

/** The in-memory queue, plus the synchronous entry points the memory store needs for an indivisible commit. */
export interface MemoryJobQueue extends JobQueue {
  readonly kind: 'memory';
  /** `add` without a promise: the memory store calls it inside `commit` so nothing interleaves. */
  addNow(jobs: QueuedJob[]): void;
  /** `remove` without a promise. */
  removeNow(queue: QueueName, id: string): void;
  /**
   * Look for due work now, as the poll timer does every `pollMs`: fire due schedulers and hand ready
   * jobs to idle workers. Tests that move the clock call it, so "nothing ran" is checked after a look
   * at the new time rather than after a sleep.
   */
  poll(): void;
}

type EntryState = 'waiting' | 'delayed' | 'active' | 'failed';

interface Entry {
  job: QueuedJob;
  state: EntryState;
  runAt: number;
  attemptsMade: number;
  error?: string;
  detail?: unknown;
  failedAt?: number;
}

interface Scheduler {
  id: string;
  repeat: RepeatSpec;
  template: JobTemplate;
  nextAt: number;
}

interface Pumpable {
  pump(): void;
  close(): Promise<void>;
}

/** A token bucket judged against the injected clock: `capacity` tokens, refilled at `perSecond`. */
class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = this.capacity;
    this.last = now;
  }
  get capacity(): number {
    return Math.max(1, this.perSecond);
  }
  available(now: number): number {
    // A clock set backwards (tests travelling in time) must not mint or burn tokens.
    if (now > this.last)
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1_000) * this.perSecond);
    this.last = now;
    return Math.floor(this.tokens);
  }
  take(n: number): void {
    this.tokens -= n;
  }
}

class QueueState {
  readonly entries = new Map<string, Entry>();
  /** Finished ids and when they finished: an id seen within the window is ignored, like a BullMQ jobId. */
  readonly completed = new Map<string, number>();
  private ready: Entry[] = [];
  private readyHead = 0;
  /** Sorted by runAt. */
  private readonly delayed: Entry[] = [];
  bucket: TokenBucket | undefined;
  readonly workers = new Set<Pumpable>();
  readonly schedulers = new Map<string, Scheduler>();

  enqueue(e: Entry, now: number): void {
    if (e.runAt > now) {
      e.state = 'delayed';
      let lo = 0;
      let hi = this.delayed.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.delayed[mid]!.runAt <= e.runAt) lo = mid + 1;
        else hi = mid;
      }
      this.delayed.splice(lo, 0, e);
    } else {
      e.state = 'waiting';
      this.ready.push(e);
    }
  }

  private live(e: Entry, state: EntryState): boolean {
    return e.state === state && this.entries.get(e.job.id) === e;
  }

  promote(now: number): void {
    while (this.delayed.length > 0 && this.delayed[0]!.runAt <= now) {
      const e = this.delayed.shift()!;
      if (this.live(e, 'delayed')) {
        e.state = 'waiting';
        this.ready.push(e);
      }
    }
  }

  /** The oldest ready job, or undefined. Stale slots (removed or re-queued entries) are skipped. */
  takeReady(now: number): Entry | undefined {
    this.promote(now);
    while (this.readyHead < this.ready.length) {
      const e = this.ready[this.readyHead]!;
      this.readyHead += 1;
      if (this.live(e, 'waiting')) {
        this.compact();
        return e;
      }
    }
    this.compact();
    return undefined;
  }

  hasReady(now: number): boolean {
    this.promote(now);
    for (let i = this.readyHead; i < this.ready.length; i += 1) if (this.live(this.ready[i]!, 'waiting')) return true;
    return false;
  }

  private compact(): void {
    if (this.readyHead > 1_024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
  }
}

/** What a handler receives: a private copy, without `runAt` (BullMQ does not hand it back either). */
function cloneJob<T>(job: QueuedJob): QueuedJob<T> {
  const { runAt: _runAt, ...rest } = job;
  return structuredClone(rest) as QueuedJob<T>;
}

function nextTick(s: Pick<Scheduler, 'repeat'>, after: number): number {
  if ('every' in s.repeat) return after + s.repeat.every;
  const options =
    s.repeat.tz === undefined ? { currentDate: new Date(after) } : { currentDate: new Date(after), tz: s.repeat.tz };
  return CronExpressionParser.parse(s.repeat.pattern, options).next().getTime();
}

function sameRepeat(a: RepeatSpec, b: RepeatSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * An in-process `JobQueue` for the embedded demo and for tests: delayed jobs, idempotent ids (48 h),
 * workers with concurrency, a token-bucket rate limit, retries with exponential backoff, dead letters,
 * batches, schedulers and a graceful close. Nothing survives a restart.
 *
 * Time decisions (due, backoff, refill, window) use the injected clock; waking up uses a real
 * `pollMs` timer (unref'd, so an idle queue never keeps the process alive).
 *
 * @example
 * const queue = createMemoryJobQueue({ clock: systemClock });
 * queue.process('outbox-sms', async (job) => ({ ok: true }), { concurrency: 4, ratePerSecond: 10 });
 * await queue.add([{ id: 'sms-1', queue: 'outbox-sms', name: 'sendSms', data: { to: '+254700000001' } }]);
 */
export function createMemoryJobQueue(opts: MemoryJobQueueOptions = {}): MemoryJobQueue {
  const clock = opts.clock ?? systemClock;
  const pollMs = opts.pollMs ?? 50;
  const queues = new Map<QueueName, QueueState>();
  let timer: NodeJS.Timeout | undefined;
  let kickPending = false;
  let closed = false;
  let lastPrune = 0;

  const now = (): number => clock.now().getTime();

  function state(name: QueueName): QueueState {
    let q = queues.get(name);
    if (!q) {
      q = new QueueState();
      queues.set(name, q);
    }
    return q;
  }

  function ensureTimer(): void {
    if (timer || closed) return;
    timer = setInterval(tick, pollMs);
    timer.unref();
  }

  function tick(): void {
    const t = now();
    for (const [name, q] of queues) {
      for (const s of q.schedulers.values()) fireScheduler(name, s, t);
      for (const w of q.workers) w.pump();
    }
    if (t - lastPrune > 60_000 || t < lastPrune) {
      lastPrune = t;
      for (const q of queues.values()) {
        for (const [id, at] of q.completed) if (t - at >= IDEMPOTENCY_WINDOW_MS) q.completed.delete(id);
      }
    }
  }

  /** Wake workers soon after an add instead of waiting for the next poll. */
  function kick(): void {
    if (kickPending || closed) return;
    kickPending = true;
    setImmediate(() => {
      kickPending = false;
      for (const q of queues.values()) for (const w of q.workers) w.pump();
    }).unref();
  }

  function fireScheduler(queue: QueueName, s: Scheduler, t: number): void {
    if (s.nextAt > t) return;
    const at = s.nextAt;
    addNow([{ id: `repeat:${s.id}:${at}`, queue, name: s.template.name, data: s.template.data ?? {} }]);
    // Like BullMQ, a scheduler that missed ticks (process asleep, clock jumped) runs once, not once per missed tick.
    let next = nextTick(s, at);
    if (next <= t)
      next = 'every' in s.repeat ? at + s.repeat.every * (Math.floor((t - at) / s.repeat.every) + 1) : nextTick(s, t);
    s.nextAt = next;
  }

  function assertOpen(): void {
    if (closed) throw new JibuError('JIBU_NOT_READY', 'The job queue is closed.');
  }

  function addNow(jobs: QueuedJob[]): void {
    assertOpen();
    const t = now();
    for (const raw of jobs) {
      const q = state(raw.queue);
      if (q.entries.has(raw.id)) continue;
      const doneAt = q.completed.get(raw.id);
      if (doneAt !== undefined && t - doneAt < IDEMPOTENCY_WINDOW_MS) continue;
      // A JSON round trip gives the same data a Redis-backed queue would hand back (Dates become strings).
      const job = JSON.parse(JSON.stringify(raw)) as QueuedJob;
      const e: Entry = { job, state: 'waiting', runAt: job.runAt ?? t, attemptsMade: 0 };
      q.entries.set(job.id, e);
      q.enqueue(e, t);
    }
    kick();
  }

  function removeNow(queue: QueueName, id: string): void {
    const q = queues.get(queue);
    const e = q?.entries.get(id);
    // Like BullMQ, a job in hand is locked by its worker and cannot be removed.
    if (!q || !e || e.state === 'active') return;
    q.entries.delete(id);
  }

  function settle(q: QueueState, e: Entry, outcome: JobOutcome, attempt: number, wopts: WorkerOptions): void {
    const decision = decideRetry(outcome, attempt, wopts);
    const t = now();
    e.attemptsMade = attempt;
    if (decision.action === 'complete') {
      q.entries.delete(e.job.id);
      q.completed.set(e.job.id, t);
    } else if (decision.action === 'dead') {
      e.state = 'failed';
      e.error = decision.error;
      e.detail = decision.detail;
      e.failedAt = t;
    } else {
      e.error = outcome.ok ? undefined : outcome.error;
      e.runAt = t + decision.delayMs;
      q.enqueue(e, t);
    }
  }

  function configureRate(q: QueueState, ratePerSecond: number | undefined): void {
    if (ratePerSecond !== undefined) q.bucket = new TokenBucket(ratePerSecond, now());
  }

  function process<T>(
    queue: QueueName,
    handler: (job: QueuedJob<T>, attempt: number) => Promise<JobOutcome>,
    wopts: WorkerOptions = {},
  ): RunningWorker {
    assertOpen();
    const q = state(queue);
    const concurrency = Math.max(1, wopts.concurrency ?? 1);
    const inHand = new Set<Promise<void>>();
    let closing = false;
    configureRate(q, wopts.ratePerSecond);

    const run = (e: Entry): void => {
      e.state = 'active';
      const attempt = e.attemptsMade + 1;
      const p = (async () => {
        let outcome: JobOutcome;
        try {
          outcome = await handler(cloneJob<T>(e.job), attempt);
        } catch (err) {
          outcome = outcomeFromThrown(err);
        }
        settle(q, e, outcome, attempt, wopts);
      })().finally(() => {
        inHand.delete(p);
        worker.pump();
      });
      inHand.add(p);
    };

    const worker: Pumpable = {
      pump() {
        while (!closing && inHand.size < concurrency) {
          const t = now();
          if (q.bucket && q.bucket.available(t) < 1) return;
          const e = q.takeReady(t);
          if (!e) return;
          q.bucket?.take(1);
          run(e);
        }
      },
      async close() {
        closing = true;
        q.workers.delete(worker);
        while (inHand.size > 0) await Promise.allSettled([...inHand]);
      },
    };
    q.workers.add(worker);
    ensureTimer();
    kick();
    return { close: () => worker.close() };
  }

  function processBatch<T>(
    queue: QueueName,
    handler: (jobs: Array<QueuedJob<T>>) => Promise<JobOutcome[]>,
    bopts: BatchWorkerOptions,
  ): RunningWorker {
    assertOpen();
    const q = state(queue);
    const maxBatch = Math.max(1, bopts.maxBatch);
    let inHand: Promise<void> | undefined;
    let closing = false;
    // Real time: the interval paces DHIS2 requests, it decides nothing about the jobs themselves.
    let lookAgainAt = 0;
    configureRate(q, bopts.ratePerSecond);

    const worker: Pumpable = {
      pump() {
        if (closing || inHand || Date.now() < lookAgainAt) return;
        const t = now();
        let room = maxBatch;
        if (q.bucket) room = Math.min(room, q.bucket.available(t));
        const batch: Entry[] = [];
        while (batch.length < room) {
          const e = q.takeReady(t);
          if (!e) break;
          e.state = 'active';
          batch.push(e);
        }
        q.bucket?.take(batch.length);
        if (batch.length < maxBatch) lookAgainAt = Date.now() + bopts.intervalMs;
        if (batch.length === 0) return;
        inHand = (async () => {
          const attempts = batch.map((e) => e.attemptsMade + 1);
          let outcomes: JobOutcome[];
          try {
            outcomes = outcomesFor(batch.length, await handler(batch.map((e) => cloneJob<T>(e.job))));
          } catch (err) {
            outcomes = batch.map(() => outcomeFromThrown(err));
          }
          batch.forEach((e, i) => settle(q, e, outcomes[i]!, attempts[i]!, bopts));
        })().finally(() => {
          inHand = undefined;
          worker.pump();
        });
      },
      async close() {
        closing = true;
        q.workers.delete(worker);
        while (inHand) await inHand.catch(() => undefined);
      },
    };
    q.workers.add(worker);
    ensureTimer();
    kick();
    return { close: () => worker.close() };
  }

  return {
    kind: 'memory',
    addNow,
    removeNow,
    poll: tick,
    async add(jobs) {
      addNow(jobs);
    },
    process,
    processBatch,
    async remove(queue, id) {
      removeNow(queue, id);
    },
    async counts(queue): Promise<QueueCounts> {
      const q = state(queue);
      const t = now();
      q.promote(t);
      const c: QueueCounts = { waiting: 0, delayed: 0, active: 0, failed: 0 };
      for (const e of q.entries.values()) c[e.state] += 1;
      return c;
    },
    async deadLetters(queue, limit = 50): Promise<DeadLetter[]> {
      const q = state(queue);
      return [...q.entries.values()]
        .filter((e) => e.state === 'failed')
        .sort((a, b) => (b.failedAt ?? 0) - (a.failedAt ?? 0))
        .slice(0, limit)
        .map((e) => {
          const d: DeadLetter = {
            id: e.job.id,
            queue,
            name: e.job.name,
            data: structuredClone(e.job.data),
            error: e.error ?? '',
            attempts: e.attemptsMade,
            failedAt: e.failedAt ?? 0,
          };
          if (e.detail !== undefined) d.detail = structuredClone(e.detail);
          return d;
        });
    },
    async retryDeadLetter(queue, id) {
      const q = queues.get(queue);
      const e = q?.entries.get(id);
      if (!q || !e || e.state !== 'failed') return false;
      const t = now();
      e.attemptsMade = 0;
      delete e.error;
      delete e.detail;
      delete e.failedAt;
      e.runAt = t;
      q.enqueue(e, t);
      kick();
      return true;
    },
    async schedule(queue, schedulerId, repeat, template) {
      assertOpen();
      assertSchedulerId(schedulerId);
      const q = state(queue);
      const existing = q.schedulers.get(schedulerId);
      if (existing && sameRepeat(existing.repeat, repeat)) {
        existing.template = structuredClone(template);
        return;
      }
      const t = now();
      // `every` runs once straight away, a cron pattern at its next match: BullMQ's job scheduler semantics.
      const nextAt = 'every' in repeat ? t : nextTick({ repeat }, t);
      q.schedulers.set(schedulerId, {
        id: schedulerId,
        repeat: structuredClone(repeat),
        template: structuredClone(template),
        nextAt,
      });
      ensureTimer();
    },
    async unschedule(queue, schedulerId) {
      return queues.get(queue)?.schedulers.delete(schedulerId) ?? false;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      const all: Pumpable[] = [];
      for (const q of queues.values()) {
        q.schedulers.clear();
        all.push(...q.workers);
      }
      await Promise.all(all.map((w) => w.close()));
    },
  };
}
