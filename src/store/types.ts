import type { Channel } from '../channels/types.ts';

/**
 * The persisted state of one conversation (docs/design.md#state): key `session:{channel}:{phone}`.
 * `snapshot` is XState's persisted snapshot; `flowVersion` pins the flow definition it was made with.
 */
export interface SessionRecord {
  flowId: string;
  flowVersion: string;
  channel: Channel;
  snapshot: unknown;
  locale: string;
  startedAt: number;
  updatedAt: number;
  /** USSD: the provider session id (the dial) this record belongs to. Set by the runner only. */
  ussdSessionId?: string;
  /**
   * USSD: a digest of the last answered hop's `dialPath` (its length and a hash, never the typed text:
   * AT re-sends PINs inside the path). Equal digests mean the provider re-sent that hop. Runner only.
   */
  pathDigest?: string;
  /** The last screen or SMS text we answered with (replayed when a provider retries the same hop). */
  lastReply?: { text: string; end: boolean };
  /**
   * USSD: the dial reached END. The record stays for the dial's lifetime only so that a provider
   * re-sending the last hop gets the same final screen; it never resumes a conversation.
   */
  ended?: boolean;
  /** How many invalid inputs in a row on the current step (bounded re-prompts). */
  invalidCount?: number;
}

/** Per-phone preferences, key `contact:{phone}`. */
export interface Contact {
  optedOut: boolean;
  locale?: string;
  /** Set when a provider reported the number as permanently undeliverable. */
  undeliverable?: boolean;
}

/**
 * Queues of durable work (docs/design.md#step-7-relay-effects-from-durable-queues): SMS out, DHIS2 writes, timers,
 * scheduled jobs.
 */
export type QueueName = 'outbox-sms' | 'outbox-dhis2' | 'timers' | 'jobs';
export const QUEUE_NAMES: readonly QueueName[] = ['outbox-sms', 'outbox-dhis2', 'timers', 'jobs'];

/** A unit of durable work. `id` is the idempotency key: adding the same id twice has no effect. */
export interface QueuedJob<T = unknown> {
  id: string;
  queue: QueueName;
  /** Handler name inside the queue, e.g. `sendSms`, `dhis2Write`, `timer`. */
  name: string;
  data: T;
  /** Do not run before this epoch-ms time (timers, quiet hours). */
  runAt?: number;
}

/** Everything one conversation step writes, committed atomically (docs/design.md#step-6-commit-before-answering). */
export interface StepCommit {
  sessionKey: string;
  /** New session record, or null to delete it. */
  session: SessionRecord | null;
  /** Session time-to-live (USSD 180 s, SMS days). */
  sessionTtlMs: number;
  jobs: QueuedJob[];
  /** Provider message id marker (`seen:{provider}:{id}`); if already present nothing is written. */
  dedupe?: { key: string; ttlMs: number };
  /** Contact fields to set in the same write (language switch, opt-out). */
  contact?: { phone: string; patch: Partial<Contact> };
  /** Timer job ids to cancel (best effort, after commit). */
  cancelJobIds?: string[];
  /**
   * JSON documents read and rewritten inside this same atomic write (a case worker's wrong-PIN count:
   * it must land before the answer goes out, whatever the job queues are doing).
   */
  updates?: DocUpdate[];
}

/**
 * A read-modify-write of one JSON document (`setJson`/`getJson` shape) inside a commit. `update` gets
 * the current value (null when absent) and returns the new one; it must be pure, as the Redis store
 * calls it again when the document changed between its read and the commit.
 */
export interface DocUpdate {
  key: string;
  update: (current: unknown) => unknown;
}

export type CommitResult = 'committed' | 'duplicate';

/** A held per-contact lock; pass it back to `commit` or `release`. */
export interface LockHandle {
  key: string;
  token: string;
}

export interface LoadedState {
  lock: LockHandle;
  session: SessionRecord | null;
  contact: Contact;
  /**
   * The JSON documents asked for with `readJson`, by key, read in the same round trip as the session
   * (null: no such document). Only present when some were asked for.
   */
  docs?: ReadonlyMap<string, unknown>;
}

export interface LockAndLoadOptions {
  lockTtlMs?: number;
  waitMs?: number;
  /**
   * `getJson` keys to read with the session once the lock is held (a new USSD dial's role views), so the
   * first hop of a dial costs one round trip before its step instead of two (docs/design.md#the-core-loop).
   */
  readJson?: readonly string[];
}

/**
 * The state store. Two implementations (memory, Redis) pass the same contract tests.
 * Every method may throw on infrastructure failure; callers answer the provider 503 then.
 */
export interface Store {
  readonly kind: 'memory' | 'redis';
  /**
   * Take the per-contact lock (`lock:{phone}`) and read the session, the contact and any `readJson`
   * documents in one round trip. Waits up to `waitMs` for a busy lock, then throws JibuError `JIBU_BUSY`.
   */
  lockAndLoad(phone: string, sessionKey: string, opts?: LockAndLoadOptions): Promise<LoadedState>;
  /**
   * Atomically: unless `dedupe.key` exists, write the session, the contact patch, the dedupe marker and
   * append the jobs to the durable outbox; then release the lock. Returns 'duplicate' (and writes
   * nothing but still releases the lock) when the dedupe marker was already there.
   */
  commit(lock: LockHandle, commit: StepCommit): Promise<CommitResult>;
  /** Release a lock without committing. Only the holder's token releases it. */
  release(lock: LockHandle): Promise<void>;

  getSession(sessionKey: string): Promise<SessionRecord | null>;
  getContact(phone: string): Promise<Contact>;
  setContact(phone: string, patch: Partial<Contact>): Promise<void>;

  /** True when the marker exists (cheap early check before a full step). */
  isSeen(key: string): Promise<boolean>;
  /** Set the marker if absent; true when it was newly set (dedupe for delivery reports and events). */
  markSeen(key: string, ttlMs: number): Promise<boolean>;

  /** Small JSON documents for the read model and message records (`rm:…`, `msg:…`). */
  getJson<T>(key: string): Promise<T | null>;
  getJsonMany<T>(keys: string[]): Promise<Array<T | null>>;
  setJson(key: string, value: unknown, ttlMs?: number): Promise<void>;
  /**
   * Put JSON items at the head of a list and keep its first `maxLen`, in one atomic operation: two
   * replicas appending at once both land (admin lists such as the births' possible duplicates).
   * The first of `items` ends up first.
   */
  pushList(key: string, items: unknown[], maxLen: number): Promise<void>;
  /** The first `limit` items of a list made by {@link Store.pushList}, head first. */
  readList<T>(key: string, limit: number): Promise<T[]>;
  delete(keys: string[]): Promise<void>;

  /** Add jobs straight to the outbox (not tied to a session step), idempotent by job id. */
  enqueue(jobs: QueuedJob[]): Promise<void>;

  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What a job handler reports for one job in a batch. */
export type JobOutcome =
  { ok: true } | { ok: false; permanent: boolean; error: string; detail?: unknown; retryAfterMs?: number };

export interface WorkerOptions {
  /** Jobs processed at once (single-job handlers). */
  concurrency?: number;
  /** Rate limit across the cluster: at most this many jobs per second. */
  ratePerSecond?: number;
  /** Attempts before dead-lettering (default 8). */
  attempts?: number;
  /** Base of the exponential backoff in ms (default 1000): delay = base * 2^(attempt-1), capped at maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface BatchWorkerOptions extends WorkerOptions {
  /** Most jobs handed to one batch call. */
  maxBatch: number;
  /** How often to look for a batch when the queue was empty (ms). */
  intervalMs: number;
}

export interface DeadLetter {
  id: string;
  queue: QueueName;
  name: string;
  data: unknown;
  error: string;
  detail?: unknown;
  attempts: number;
  failedAt: number;
}

export interface QueueCounts {
  waiting: number;
  delayed: number;
  active: number;
  failed: number;
}

export interface RunningWorker {
  /** Stop taking new jobs and wait for the ones in hand (graceful drain). */
  close(): Promise<void>;
}

/** When a scheduled job repeats: a cron pattern (5 or 6 fields) in a time zone, or a fixed interval in ms. */
export type RepeatSpec = { pattern: string; tz?: string } | { every: number };

/** The job a scheduler produces on each tick. */
export interface JobTemplate {
  name: string;
  data?: unknown;
}

/**
 * Durable queues (BullMQ over Redis, or in memory). Jobs reach a queue either through `Store.commit`
 * (the outbox, forwarded by the implementation) or `add`. Ids are idempotency keys.
 */
export interface JobQueue {
  add(jobs: QueuedJob[]): Promise<void>;
  /** Run `handler` for each job; a thrown error counts as a transient failure. */
  process<T>(
    queue: QueueName,
    handler: (job: QueuedJob<T>, attempt: number) => Promise<JobOutcome>,
    opts?: WorkerOptions,
  ): RunningWorker;
  /** Run `handler` with up to `maxBatch` ready jobs at a time; it returns one outcome per job, same order. */
  processBatch<T>(
    queue: QueueName,
    handler: (jobs: Array<QueuedJob<T>>) => Promise<JobOutcome[]>,
    opts: BatchWorkerOptions,
  ): RunningWorker;
  /** Remove a waiting or delayed job (cancel a timer). */
  remove(queue: QueueName, id: string): Promise<void>;
  counts(queue: QueueName): Promise<QueueCounts>;
  deadLetters(queue: QueueName, limit?: number): Promise<DeadLetter[]>;
  /** Put a dead-lettered job back in the queue, with fresh attempts. Returns false when unknown. */
  retryDeadLetter(queue: QueueName, id: string): Promise<boolean>;
  /**
   * Create or replace the repeating job `schedulerId`. The id is fixed, so every replica may call this at
   * start-up and each tick still yields one job cluster-wide. Produced jobs have ids
   * `repeat:{schedulerId}:{epochMs}` (BullMQ's job scheduler ids).
   */
  schedule(queue: QueueName, schedulerId: string, repeat: RepeatSpec, template: JobTemplate): Promise<void>;
  /** Remove a scheduler; true when it existed. Jobs it already produced stay. */
  unschedule(queue: QueueName, schedulerId: string): Promise<boolean>;
  /** The workers this process runs and whether each is taking jobs (a watchdog restarts a stalled one). */
  workerHealth?(): WorkerHealth[];
  close(): Promise<void>;
}

/** One worker as its watchdog sees it (`/readyz` reports the stalled ones). */
export interface WorkerHealth {
  queue: QueueName;
  /** `stalled`: jobs were ready and the worker took none for the watchdog's stall time; it is being restarted. */
  state: 'ok' | 'stalled';
  /** Restarts by the watchdog since start. */
  restarts: number;
}
