import type { JobOutcome, WorkerOptions } from './types.ts';

/** Defaults shared by both queue implementations, so a job behaves the same on the demo and on Redis. */
export const DEFAULT_ATTEMPTS = 8;
export const DEFAULT_BACKOFF_MS = 1_000;
export const DEFAULT_MAX_BACKOFF_MS = 10 * 60_000;
/** How long a finished job id keeps blocking a re-add (BullMQ keeps completed jobs this long). */
export const IDEMPOTENCY_WINDOW_MS = 48 * 3_600_000;

export type RetryDecision =
  { action: 'complete' } | { action: 'retry'; delayMs: number } | { action: 'dead'; error: string; detail?: unknown };

/**
 * Exponential backoff: `base * 2^(attempt-1)`, capped; a server's own `retryAfterMs` is honoured as a floor
 * (never retry sooner than DHIS2 or the SMS provider asked, never sooner than our own backoff).
 *
 * @example backoffDelayMs(3, { backoffMs: 1000 }) // 4000
 */
export function backoffDelayMs(attempt: number, opts: WorkerOptions = {}, retryAfterMs?: number): number {
  const base = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
  const cap = opts.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.max(exp, retryAfterMs ?? 0);
}

/**
 * What happens to a job after attempt number `attempt` (1-based) ended with `outcome`.
 *
 * @example decideRetry({ ok: false, permanent: false, error: 'timeout' }, 1, { attempts: 3 }) // retry
 */
export function decideRetry(outcome: JobOutcome, attempt: number, opts: WorkerOptions = {}): RetryDecision {
  if (outcome.ok) return { action: 'complete' };
  const attempts = opts.attempts ?? DEFAULT_ATTEMPTS;
  if (outcome.permanent || attempt >= attempts) {
    return outcome.detail === undefined
      ? { action: 'dead', error: outcome.error }
      : { action: 'dead', error: outcome.error, detail: outcome.detail };
  }
  return { action: 'retry', delayMs: backoffDelayMs(attempt, opts, outcome.retryAfterMs) };
}

/** A thrown handler error is a transient failure with the error's message. */
export function outcomeFromThrown(err: unknown): JobOutcome {
  return { ok: false, permanent: false, error: err instanceof Error ? err.message : String(err) };
}

/**
 * Translate "jobs per second" into a fixed-window limiter as BullMQ expresses it.
 *
 * @example limiterFor(0.5) // { max: 1, duration: 2000 }
 */
export function limiterFor(ratePerSecond: number): { max: number; duration: number } {
  if (!(ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be positive, got ${ratePerSecond}`);
  if (ratePerSecond >= 1) return { max: Math.round(ratePerSecond), duration: 1_000 };
  return { max: 1, duration: Math.round(1_000 / ratePerSecond) };
}

/** Check a batch handler kept its promise of one outcome per job. */
export function outcomesFor(count: number, outcomes: unknown): JobOutcome[] {
  if (Array.isArray(outcomes) && outcomes.length === count) return outcomes as JobOutcome[];
  const got = Array.isArray(outcomes) ? `${outcomes.length} outcomes` : typeof outcomes;
  const failure: JobOutcome = { ok: false, permanent: false, error: `batch handler returned ${got} for ${count} jobs` };
  return Array.from({ length: count }, () => failure);
}

const SCHEDULER_ID = /^[A-Za-z0-9_.-]+$/;

/** Scheduler ids end up inside BullMQ job ids (`repeat:{id}:{ms}`), where a `:` would break parsing. */
export function assertSchedulerId(id: string): void {
  if (!SCHEDULER_ID.test(id))
    throw new RangeError(`scheduler id must match ${SCHEDULER_ID}, got ${JSON.stringify(id)}`);
}
