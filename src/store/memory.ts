import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { JibuError } from '../errors.ts';
import type { MemoryJobQueue } from './memory-queue.ts';
import { contactFromHash, contactPatchToHash, parseSession } from './schemas.ts';
import type {
  CommitResult,
  Contact,
  LoadedState,
  LockHandle,
  QueuedJob,
  SessionRecord,
  StepCommit,
  Store,
} from './types.ts';
import { DEFAULT_LOCK_TTL_MS, DEFAULT_LOCK_WAIT_MS, keys, type StoreLogger } from './keys.ts';

export interface MemoryStoreOptions {
  /** TTLs (sessions, dedupe markers, locks, JSON docs) are judged against this clock. */
  clock?: Clock;
  /** Jobs committed by a step go straight into this queue. */
  queue: MemoryJobQueue;
  logger?: StoreLogger;
}

/** The memory store, plus a read-only view of every live key for audits (tests/security/). */
export interface MemoryStore extends Store {
  /** Every live key with its value as Redis would hold it: JSON text, or a hash's field map. */
  entries(): Array<[string, string | Record<string, string>]>;
}

interface Value {
  /** JSON text for strings, or a field map for the contact hash: the same shapes Redis holds. */
  value: string | Map<string, string>;
  expiresAt?: number;
}

interface Waiter {
  ttlMs: number;
  grant(token: string): void;
}

interface LockState {
  token: string | null;
  expiresAt: number;
  waiters: Waiter[];
  poll?: NodeJS.Timeout;
}

/**
 * The in-memory `Store` for the embedded demo: one keyspace shaped like the Redis one, so the two pass the
 * same contract tests. `commit` is atomic because it runs to completion without awaiting anything.
 * The per-contact lock is a FIFO mutex: waiters are served in arrival order, each for at most `waitMs`
 * (real time), and a holder that never releases loses the lock after `lockTtlMs` (clock time).
 *
 * @example
 * const queue = createMemoryJobQueue({ clock });
 * const store = createMemoryStore({ clock, queue });
 * const { lock, session } = await store.lockAndLoad('+254700000001', 'ussd:+254700000001');
 */
export function createMemoryStore(opts: MemoryStoreOptions): MemoryStore {
  const clock = opts.clock ?? systemClock;
  const queue = opts.queue;
  const data = new Map<string, Value>();
  const locks = new Map<string, LockState>();
  let closed = false;

  const now = (): number => clock.now().getTime();

  // Expired keys are dropped when read; this sweep bounds memory for phones that never write again.
  const sweep = setInterval(() => {
    const t = now();
    for (const [k, v] of data) if (v.expiresAt !== undefined && v.expiresAt <= t) data.delete(k);
  }, 60_000);
  sweep.unref();

  function assertOpen(): void {
    if (closed) throw new JibuError('JIBU_STORE_UNAVAILABLE', 'The store is closed.');
  }

  function read(key: string): Value | undefined {
    const v = data.get(key);
    if (v && v.expiresAt !== undefined && v.expiresAt <= now()) {
      data.delete(key);
      return undefined;
    }
    return v;
  }

  function readString(key: string): string | null {
    const v = read(key);
    return v && typeof v.value === 'string' ? v.value : null;
  }

  function writeString(key: string, value: string, ttlMs?: number): void {
    data.set(key, ttlMs === undefined ? { value } : { value, expiresAt: now() + ttlMs });
  }

  function readContact(phone: string): Contact {
    const v = read(keys.contact(phone));
    return contactFromHash(v && v.value instanceof Map ? Object.fromEntries(v.value) : {});
  }

  function patchContact(phone: string, patch: Partial<Contact>): void {
    const fields = contactPatchToHash(patch);
    if (fields.length === 0) return;
    const key = keys.contact(phone);
    const v = read(key);
    const hash = v && v.value instanceof Map ? v.value : new Map<string, string>();
    for (const [f, val] of fields) hash.set(f, val);
    data.set(key, { value: hash });
  }

  function readSession(sessionKey: string): SessionRecord | null {
    const parsed = parseSession(readString(keys.session(sessionKey)));
    if (parsed.ok) return parsed.session;
    opts.logger?.warn({ code: 'JIBU_INTERNAL', sessionKey, error: parsed.error }, 'unreadable session record ignored');
    return null;
  }

  // ---- the per-contact lock ----

  function grantNext(key: string, st: LockState): void {
    const next = st.waiters.shift();
    if (!next) {
      if (st.poll) clearInterval(st.poll);
      locks.delete(key);
      return;
    }
    const token = randomUUID();
    st.token = token;
    st.expiresAt = now() + next.ttlMs;
    if (st.waiters.length === 0 && st.poll) {
      clearInterval(st.poll);
      delete st.poll;
    }
    next.grant(token);
  }

  /** A holder past its TTL loses the lock to the first waiter (or to nobody). */
  function reap(key: string, st: LockState): void {
    if (st.token !== null && st.expiresAt <= now()) {
      st.token = null;
      grantNext(key, st);
    }
  }

  function acquire(phone: string, ttlMs: number, waitMs: number): Promise<LockHandle> {
    const key = keys.lock(phone);
    let st = locks.get(key);
    if (st) reap(key, st);
    st = locks.get(key);
    if (!st) {
      const token = randomUUID();
      locks.set(key, { token, expiresAt: now() + ttlMs, waiters: [] });
      return Promise.resolve({ key, token });
    }
    const held = st;
    return new Promise<LockHandle>((resolve, reject) => {
      const waiter: Waiter = {
        ttlMs,
        grant: (token) => {
          clearTimeout(timeout);
          resolve({ key, token });
        },
      };
      const timeout = setTimeout(() => {
        const i = held.waiters.indexOf(waiter);
        if (i >= 0) held.waiters.splice(i, 1);
        reject(new JibuError('JIBU_BUSY', undefined, { phoneKey: key, waitedMs: waitMs }));
      }, waitMs);
      held.waiters.push(waiter);
      // The clock may be a test clock moved by hand, so expiry is re-checked rather than timed.
      held.poll ??= setInterval(() => reap(key, held), 20);
      held.poll.unref();
    });
  }

  function releaseNow(lock: LockHandle): void {
    const st = locks.get(lock.key);
    if (!st || st.token !== lock.token) return;
    st.token = null;
    grantNext(lock.key, st);
  }

  /** True while `lock` is the live holder; an expired holder is reaped first. */
  function holds(lock: LockHandle): boolean {
    const st = locks.get(lock.key);
    if (!st) return false;
    reap(lock.key, st);
    return locks.get(lock.key) === st && st.token === lock.token;
  }

  return {
    kind: 'memory',

    async lockAndLoad(phone, sessionKey, o = {}): Promise<LoadedState> {
      assertOpen();
      const lock = await acquire(phone, o.lockTtlMs ?? DEFAULT_LOCK_TTL_MS, o.waitMs ?? DEFAULT_LOCK_WAIT_MS);
      const loaded: LoadedState = { lock, session: readSession(sessionKey), contact: readContact(phone) };
      if (o.readJson?.length) {
        const docs = new Map<string, unknown>();
        for (const k of o.readJson) {
          const s = readString(k);
          docs.set(k, s === null ? null : (JSON.parse(s) as unknown));
        }
        loaded.docs = docs;
      }
      return loaded;
    },

    async commit(lock, c: StepCommit): Promise<CommitResult> {
      assertOpen();
      // Everything below runs without an await: no other step can interleave, which is the atomicity.
      if (c.dedupe && read(keys.seen(c.dedupe.key))) {
        releaseNow(lock);
        return 'duplicate';
      }
      if (!holds(lock))
        throw new JibuError('JIBU_BUSY', 'The contact lock expired before the step was committed.', {
          lockKey: lock.key,
        });
      if (c.session) writeString(keys.session(c.sessionKey), JSON.stringify(c.session), c.sessionTtlMs);
      else data.delete(keys.session(c.sessionKey));
      if (c.contact) patchContact(c.contact.phone, c.contact.patch);
      for (const u of c.updates ?? []) {
        const v = read(u.key);
        const cur = v && typeof v.value === 'string' ? (JSON.parse(v.value) as unknown) : null;
        const value = JSON.stringify(u.update(cur));
        data.set(u.key, v?.expiresAt === undefined ? { value } : { value, expiresAt: v.expiresAt });
      }
      if (c.dedupe) writeString(keys.seen(c.dedupe.key), '1', c.dedupe.ttlMs);
      if (c.jobs.length > 0) queue.addNow(c.jobs);
      for (const id of c.cancelJobIds ?? []) queue.removeNow('timers', id);
      releaseNow(lock);
      return 'committed';
    },

    async release(lock) {
      releaseNow(lock);
    },

    async getSession(sessionKey) {
      assertOpen();
      return readSession(sessionKey);
    },

    async getContact(phone) {
      assertOpen();
      return readContact(phone);
    },

    async setContact(phone, patch) {
      assertOpen();
      patchContact(phone, patch);
    },

    async isSeen(key) {
      assertOpen();
      return read(keys.seen(key)) !== undefined;
    },

    async markSeen(key, ttlMs) {
      assertOpen();
      if (read(keys.seen(key))) return false;
      writeString(keys.seen(key), '1', ttlMs);
      return true;
    },

    async getJson<T>(key: string): Promise<T | null> {
      assertOpen();
      const s = readString(key);
      return s === null ? null : (JSON.parse(s) as T);
    },

    async getJsonMany<T>(ks: string[]): Promise<Array<T | null>> {
      assertOpen();
      return ks.map((k) => {
        const s = readString(k);
        return s === null ? null : (JSON.parse(s) as T);
      });
    },

    async setJson(key, value, ttlMs) {
      assertOpen();
      writeString(key, JSON.stringify(value), ttlMs);
    },

    async pushList(key, items, maxLen) {
      assertOpen();
      const old = readString(key);
      const list = old === null ? [] : (JSON.parse(old) as unknown[]);
      writeString(key, JSON.stringify([...items, ...list].slice(0, Math.max(0, maxLen))));
    },

    async readList<T>(key: string, limit: number): Promise<T[]> {
      assertOpen();
      const s = readString(key);
      return s === null ? [] : (JSON.parse(s) as T[]).slice(0, Math.max(0, limit));
    },

    async delete(ks) {
      assertOpen();
      for (const k of ks) data.delete(k);
    },

    async enqueue(jobs: QueuedJob[]) {
      assertOpen();
      queue.addNow(jobs);
    },

    async ping() {
      assertOpen();
    },

    entries() {
      const out: Array<[string, string | Record<string, string>]> = [];
      for (const k of [...data.keys()]) {
        const v = read(k);
        if (v) out.push([k, typeof v.value === 'string' ? v.value : Object.fromEntries(v.value)]);
      }
      return out;
    },

    async close() {
      closed = true;
      clearInterval(sweep);
      for (const st of locks.values()) if (st.poll) clearInterval(st.poll);
      locks.clear();
    },
  };
}
