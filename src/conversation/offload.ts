/**
 * Costly pure functions that a conversation step calls, computed off the event loop.
 *
 * A step is pure and synchronous (docs/architecture.md), so it cannot wait for anything. A case worker's PIN
 * hash (scrypt, 50–100 ms of CPU) used to run inside the step, and every other caller on that replica waited
 * for it. Now, inside a runner's turn ({@link OffloadScope.run}), an offloadable function without an answer
 * yet records the call and returns a stand-in. The runner then computes every recorded call on libuv's
 * thread pool ({@link OffloadScope.settle}) and takes the step again, the way it already does for data a step
 * read but did not have. The step is deterministic, so the second attempt asks for the same calls and gets
 * their answers. The attempt that saw a stand-in is dropped whole, and nothing from it is committed.
 *
 * Outside a scope (unit tests, `jibu` tools, the flow checker) an offloadable function runs synchronously.
 */

interface Definition<A extends unknown[], R> {
  /** Stable name, for the memo key. */
  name: string;
  /** At most this many computations of this function at once (each scrypt holds 32 MiB while it runs). */
  concurrency: number;
  /** Identifies a call: calls with equal keys have equal answers. Kept in memory for one hop, never logged. */
  key: (...args: A) => string;
  sync: (...args: A) => R;
  async: (...args: A) => Promise<R>;
  /** What the dropped attempt gets meanwhile; it must not throw where the real answer would not. */
  standIn: (...args: A) => R;
}

interface Pending {
  compute: () => Promise<unknown>;
  limiter: Limiter;
}

/** The scope of the turn being taken now (turns are synchronous, so one at a time). */
const turnScope: { current?: OffloadScope } = {};

/** Calls computed off the event loop so far, by function name (tests and metrics). */
export const offloadCounts = new Map<string, number>();

/**
 * A function that runs synchronously outside a scope and is offloaded inside one.
 *
 * @example
 * export const slowHash = offloadable({ name: 'hash', concurrency: 1, key: (s: string) => s,
 *   sync: (s) => scryptSync(s, 'salt', 32).toString('hex'), async: (s) => scryptAsync(s), standIn: () => '' });
 */
export function offloadable<A extends unknown[], R>(def: Definition<A, R>): (...args: A) => R {
  const limiter = createLimiter(def.concurrency);
  return (...args: A): R => {
    const scope = turnScope.current;
    if (!scope || scope.exhausted) return def.sync(...args);
    const key = `${def.name}\u0000${def.key(...args)}`;
    if (scope.done.has(key)) return scope.done.get(key) as R;
    if (!scope.wanted.has(key))
      scope.wanted.set(key, {
        limiter,
        compute: async () => {
          const value = await def.async(...args);
          offloadCounts.set(def.name, (offloadCounts.get(def.name) ?? 0) + 1);
          return value;
        },
      });
    return def.standIn(...args);
  };
}

/** How many times a step is taken with stand-ins before the rest runs synchronously (never reached in practice). */
const MAX_ROUNDS = 4;

/** The offloaded calls of one hop: their answers, and those still wanted. */
export class OffloadScope {
  readonly done = new Map<string, unknown>();
  readonly wanted = new Map<string, Pending>();
  private rounds = 0;

  /** After {@link MAX_ROUNDS} settles a step that keeps asking for new calls gets synchronous answers. */
  get exhausted(): boolean {
    return this.rounds >= MAX_ROUNDS;
  }

  /** Run `f` (synchronous) with this scope in force; what it asks for and lacks is recorded. */
  run<T>(f: () => T): T {
    const previous = turnScope.current;
    turnScope.current = this;
    try {
      return f();
    } finally {
      turnScope.current = previous;
    }
  }

  /** Whether the last run asked for something not computed yet: its result must be dropped. */
  pending(): boolean {
    return this.wanted.size > 0;
  }

  /** Compute everything wanted, off the event loop, and keep the answers. */
  async settle(): Promise<void> {
    this.rounds++;
    const wanted = [...this.wanted];
    this.wanted.clear();
    const values = await Promise.all(wanted.map(([, p]) => p.limiter(p.compute)));
    wanted.forEach(([key], i) => this.done.set(key, values[i]));
  }
}

type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/** At most `n` tasks at once, the rest in arrival order. */
function createLimiter(n: number): Limiter {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    // A finished task hands its slot to the next in line, so a newcomer never slips in between.
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}
