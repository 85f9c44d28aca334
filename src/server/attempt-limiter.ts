/**
 * Failed sign-in attempts per client, in a fixed window: past `max` failures the client is refused
 * (429) until the window ends, whatever it presents, so an admin token cannot be guessed at speed.
 * In memory and per process: the token's 32+ characters are the real defence, this only stops the
 * cheap attempts (SECURITY.md, "Entry points and what protects them"). Bounded: past `capacity` clients the oldest is forgotten.
 */
export interface AttemptLimiter {
  /** Milliseconds until `client` may try again, or 0 when it may now. */
  retryAfterMs(client: string): number;
  /** Count one failure of `client`. */
  fail(client: string): void;
  /** A success forgets the client's failures. */
  succeed(client: string): void;
}

export function createAttemptLimiter(
  opts: { max?: number; windowMs?: number; capacity?: number; now?: () => number } = {},
): AttemptLimiter {
  const max = opts.max ?? 10;
  const windowMs = opts.windowMs ?? 15 * 60_000;
  const capacity = opts.capacity ?? 10_000;
  const now = opts.now ?? Date.now;
  const seen = new Map<string, { count: number; until: number }>();
  const current = (client: string) => {
    const e = seen.get(client);
    if (e && e.until <= now()) {
      seen.delete(client);
      return undefined;
    }
    return e;
  };
  return {
    retryAfterMs(client) {
      const e = current(client);
      return e && e.count >= max ? e.until - now() : 0;
    },
    fail(client) {
      const e = current(client);
      if (e) {
        e.count += 1;
        return;
      }
      if (seen.size >= capacity) {
        const oldest = seen.keys().next().value;
        if (oldest !== undefined) seen.delete(oldest);
      }
      seen.set(client, { count: 1, until: now() + windowMs });
    },
    succeed(client) {
      seen.delete(client);
    },
  };
}
