/**
 * Key shapes of the state store (docs/design.md#state), before the deployment prefix (`jibu:`). Both stores
 * use them, so the in-memory keyspace looks exactly like the Redis one and `delete(['session:…'])` means
 * the same thing in both.
 */
export const keys = {
  session: (sessionKey: string): string => `session:${sessionKey}`,
  seen: (key: string): string => `seen:${key}`,
  lock: (phone: string): string => `lock:${phone}`,
  contact: (phone: string): string => `contact:${phone}`,
  /** The durable outbox list a commit appends jobs to, and where the forwarder parks them in flight. */
  outbox: 'outbox',
  outboxInflight: 'outbox:inflight',
  /** Outbox entries that cannot be read as a job: kept for an operator, never retried blindly. */
  outboxUnreadable: 'outbox:unreadable',
  /** Marker that a timer was cancelled while it may still sit in the outbox. */
  cancelled: (jobId: string): string => `cancel:${jobId}`,
};

/** A step holds the contact lock for milliseconds; this only matters when a process dies holding it. */
export const DEFAULT_LOCK_TTL_MS = 10_000;
/** Providers time out a USSD hop after a few seconds; waiting longer than this helps nobody. */
export const DEFAULT_LOCK_WAIT_MS = 2_000;
/** A cancelled-timer marker must outlive any job still in the outbox; the idempotency window is ample. */
export const CANCEL_MARKER_TTL_MS = 48 * 3_600_000;

/** The slice of a pino logger the store uses (never logs message text or session contents). */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
