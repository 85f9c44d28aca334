import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { JibuError } from '../errors.ts';
import { createRedisConnection, type RedisTarget } from './connection.ts';
import { CANCEL_MARKER_TTL_MS, DEFAULT_LOCK_TTL_MS, DEFAULT_LOCK_WAIT_MS, keys, type StoreLogger } from './keys.ts';
import { COMMIT, LOCK_AND_LOAD, RELEASE, closeConnection, runScript } from './redis-scripts.ts';
import { contactFromHash, contactPatchToHash, parseSession } from './schemas.ts';
import type {
  CommitResult,
  Contact,
  JobQueue,
  LoadedState,
  LockAndLoadOptions,
  LockHandle,
  QueuedJob,
  SessionRecord,
  StepCommit,
  Store,
} from './types.ts';

export interface RedisStoreOptions {
  /** An ioredis client (left open by `close()`), or a URL or Sentinel target (the store owns that connection). */
  redis: Redis | RedisTarget | string;
  /** Prepended to every key (`jibu:`, docs/design.md#state). */
  prefix?: string;
  /** When given, cancelled timers already forwarded to the queue are removed from it after the commit. */
  queue?: Pick<JobQueue, 'remove'>;
  logger?: StoreLogger;
  /**
   * Wait until this many replicas hold each commit before answering (Redis `WAIT`), so a screen the
   * caller saw and a job a caller was promised survive a failover. After `timeoutMs` without them the commit stands on the primary alone (a
   * replica being down must not stop the service); the shortfall is logged.
   */
  replicaAcks?: { replicas: number; timeoutMs: number };
  /** Connection created from a URL: give up connecting / waiting for a reply after this long. */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/**
 * Store connections fail fast: a Redis outage must surface as an error within a second or two so the
 * webhook answers 503 (the provider retries) instead of holding the request until the provider gives up.
 */
export function storeConnection(
  target: RedisTarget | string,
  o: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {},
): Redis {
  return createRedisConnection(target, 'command', {
    connectTimeout: o.connectTimeoutMs ?? 2_000,
    commandTimeout: o.commandTimeoutMs ?? 2_000,
  });
}

function unavailable(err: unknown): JibuError {
  if (err instanceof JibuError) return err;
  return new JibuError(
    'JIBU_STORE_UNAVAILABLE',
    undefined,
    { reason: err instanceof Error ? err.message : String(err) },
    { cause: err },
  );
}

/** Run a Redis operation; any infrastructure failure becomes JIBU_STORE_UNAVAILABLE (HTTP 503). */
async function guarded<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw unavailable(err);
  }
}

/** How long a commit that cancels a timer waits for a forwarder holding that timer in flight. */
const IN_FLIGHT_WAIT_MS = 2_000;

function flatToRecord(flat: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(flat)) return out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

/**
 * The Redis `Store` (docs/design.md#state). A USSD hop costs two round trips: `lockAndLoad` (one Lua call
 * that takes the lock and, if it got it, returns session and contact) and `commit` (one Lua call that
 * writes session, contact, dedupe marker and outbox jobs and releases the lock). Jobs land on the
 * `outbox` list; the outbox forwarder moves them into BullMQ.
 *
 * A step whose lock expired and was taken by another caller is refused at commit (JIBU_BUSY, nothing
 * written) rather than allowed to overwrite the newer session.
 *
 * @example
 * const store = createRedisStore({ redis: 'redis://127.0.0.1:6379', prefix: 'jibu:' });
 * const { lock, session } = await store.lockAndLoad('+254700000001', 'ussd:+254700000001');
 * await store.commit(lock, { sessionKey: 'ussd:+254700000001', session: null, sessionTtlMs: 180_000, jobs: [] });
 */
export function createRedisStore(opts: RedisStoreOptions): Store {
  const prefix = opts.prefix ?? 'jibu:';
  const owned = !(opts.redis instanceof Redis);
  const redis = opts.redis instanceof Redis ? opts.redis : storeConnection(opts.redis, opts);
  if (owned) {
    // Without a listener ioredis prints every reconnect failure; the failures reach callers as JIBU_STORE_UNAVAILABLE.
    redis.on('error', (err: Error) =>
      opts.logger?.warn({ code: 'JIBU_STORE_UNAVAILABLE', reason: err.message }, 'redis connection error'),
    );
  }
  const k = (key: string): string => prefix + key;

  // How many replicas the current primary has, refreshed in the background (only with replicaAcks).
  let connectedReplicas = opts.replicaAcks?.replicas ?? 0;
  const refreshReplicas = () =>
    redis.info('replication').then(
      (info) => {
        const m = /connected_slaves:(\d+)/.exec(info);
        if (m) connectedReplicas = Number(m[1]);
      },
      () => undefined,
    );
  const replicaTimer = opts.replicaAcks ? setInterval(() => void refreshReplicas(), 2_000) : undefined;
  replicaTimer?.unref();
  if (opts.replicaAcks) redis.on('ready', () => void refreshReplicas());

  function readSession(sessionKey: string, json: string | null): SessionRecord | null {
    const parsed = parseSession(json);
    if (parsed.ok) return parsed.session;
    opts.logger?.warn({ code: 'JIBU_INTERNAL', sessionKey, error: parsed.error }, 'unreadable session record ignored');
    return null;
  }

  async function lockAndLoad(phone: string, sessionKey: string, o: LockAndLoadOptions = {}): Promise<LoadedState> {
    const ttl = o.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    const deadline = Date.now() + (o.waitMs ?? DEFAULT_LOCK_WAIT_MS);
    const lockKey = keys.lock(phone);
    const token = randomUUID();
    const docKeys = o.readJson ?? [];
    const scriptKeys = [k(lockKey), k(keys.session(sessionKey)), k(keys.contact(phone)), ...docKeys.map(k)];
    let pause = 2;
    for (;;) {
      const reply = await guarded(() => runScript(redis, LOCK_AND_LOAD, scriptKeys, [token, ttl]));
      if (!Array.isArray(reply)) throw unavailable(new Error('unexpected lockAndLoad reply'));
      if (reply[0] === 1) {
        const json = typeof reply[1] === 'string' ? reply[1] : null;
        const loaded: LoadedState = {
          lock: { key: lockKey, token },
          session: readSession(sessionKey, json),
          contact: contactFromHash(flatToRecord(reply[2])),
        };
        if (docKeys.length > 0) {
          // Lua turns a missing key (nil) into false; getJson reads it as null.
          const docs = new Map<string, unknown>();
          docKeys.forEach((key, i) => {
            const v: unknown = reply[3 + i];
            docs.set(key, typeof v === 'string' ? (JSON.parse(v) as unknown) : null);
          });
          loaded.docs = docs;
        }
        return loaded;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new JibuError('JIBU_BUSY', undefined, { lockKey });
      // Poll with growing, jittered pauses: never past the deadline, never much past the holder's expiry.
      const holderLeft = typeof reply[1] === 'number' && reply[1] > 0 ? reply[1] : pause;
      await sleep(Math.max(1, Math.min(left, holderLeft, pause * (0.5 + Math.random()))));
      pause = Math.min(pause * 2, 50);
    }
  }

  /** Attempts of a commit whose update documents keep changing under it (only a writer without the lock could). */
  const UPDATE_ATTEMPTS = 5;

  async function commit(lock: LockHandle, c: StepCommit): Promise<CommitResult> {
    const updates = c.updates ?? [];
    for (let attempt = 1; ; attempt++) {
      const current = updates.length > 0 ? await guarded(() => redis.mget(updates.map((u) => k(u.key)))) : [];
      const r = await commitOnce(lock, c, current);
      if (r !== 'changed') return r;
      if (attempt >= UPDATE_ATTEMPTS)
        throw new JibuError('JIBU_BUSY', 'A document kept changing while the step was committed.', {
          lockKey: lock.key,
        });
    }
  }

  async function commitOnce(
    lock: LockHandle,
    c: StepCommit,
    current: Array<string | null>,
  ): Promise<CommitResult | 'changed'> {
    const ks = [k(lock.key), k(keys.session(c.sessionKey)), k(keys.outbox)];
    const args: Array<string | number> = [
      lock.token,
      c.session ? JSON.stringify(c.session) : '',
      Math.max(1, Math.ceil(c.sessionTtlMs)),
    ];
    if (c.dedupe) {
      ks.push(k(keys.seen(c.dedupe.key)));
      args.push(Math.max(1, Math.ceil(c.dedupe.ttlMs)));
    } else {
      args.push('');
    }
    const fields = c.contact ? contactPatchToHash(c.contact.patch) : [];
    args.push(fields.length);
    if (c.contact && fields.length > 0) {
      ks.push(k(keys.contact(c.contact.phone)));
      for (const [f, v] of fields) args.push(f, v);
    }
    args.push(c.jobs.length, ...c.jobs.map((j) => JSON.stringify(j)));
    args.push(CANCEL_MARKER_TTL_MS);
    const updates = c.updates ?? [];
    args.push(updates.length);
    updates.forEach((u, i) => {
      const cur = current[i] ?? null;
      ks.push(k(u.key));
      args.push(cur === null ? '0' : `1${cur}`, JSON.stringify(u.update(cur === null ? null : JSON.parse(cur))));
    });
    const cancel = c.cancelJobIds ?? [];
    for (const id of cancel) ks.push(k(keys.cancelled(id)));

    const r = await guarded(() => runScript(redis, COMMIT, ks, args));
    if (r === -2) return 'changed';
    if (r === 0) return 'duplicate';
    if (r !== 1)
      throw new JibuError('JIBU_BUSY', 'The contact lock expired before the step was committed.', {
        lockKey: lock.key,
      });
    if (opts.replicaAcks) await replicated(opts.replicaAcks);
    if (opts.queue && cancel.length > 0) {
      // Best effort (the contract): the marker already stops a timer still in the outbox.
      const q = opts.queue;
      const removeAll = () =>
        Promise.all(
          cancel.map((id) =>
            q
              .remove('timers', id)
              .catch((err: unknown) => opts.logger?.warn({ jobId: id, reason: String(err) }, 'timer cancel failed')),
          ),
        );
      await removeAll();
      // A forwarder that read the markers just before this commit may add one of these timers to the
      // queue after the removal above (it lets go of its in-flight copy only once the add is done): wait
      // until it holds none of them, then remove once more. Only commits that cancel a timer pay this.
      const until = Date.now() + IN_FLIGHT_WAIT_MS;
      while (Date.now() < until && (await cancelledInFlight(cancel))) await sleep(5);
      await removeAll();
    }
    return 'committed';
  }

  /**
   * `WAIT` for the replicas that are connected (a primary left alone after a failover must not make
   * every hop wait the timeout). Only what this connection wrote so far is waited for.
   */
  async function replicated(want: { replicas: number; timeoutMs: number }): Promise<void> {
    const replicas = Math.min(want.replicas, connectedReplicas);
    if (replicas <= 0) return;
    const got = await guarded(() => redis.wait(replicas, want.timeoutMs));
    if (got < replicas)
      opts.logger?.warn(
        { code: 'JIBU_STORE_UNAVAILABLE', replicas: got, wanted: want.replicas },
        'commit not yet on a replica; it stands on the primary alone',
      );
  }

  /** Whether one of `ids` sits in the forwarder's in-flight list (read, maybe not yet added to the queue). */
  async function cancelledInFlight(ids: string[]): Promise<boolean> {
    const entries = await redis.lrange(k(keys.outboxInflight), 0, -1).catch(() => [] as string[]);
    return entries.some((raw) => {
      try {
        const id = (JSON.parse(raw) as { id?: unknown } | null)?.id;
        return typeof id === 'string' && ids.includes(id);
      } catch {
        return false;
      }
    });
  }

  return {
    kind: 'redis',
    lockAndLoad,
    commit,

    async release(lock) {
      await guarded(() => runScript(redis, RELEASE, [k(lock.key)], [lock.token]));
    },

    async getSession(sessionKey) {
      const json = await guarded(() => redis.get(k(keys.session(sessionKey))));
      return readSession(sessionKey, json);
    },

    async getContact(phone): Promise<Contact> {
      return contactFromHash(await guarded(() => redis.hgetall(k(keys.contact(phone)))));
    },

    async setContact(phone, patch) {
      const fields = contactPatchToHash(patch);
      if (fields.length === 0) return;
      await guarded(() => redis.hset(k(keys.contact(phone)), Object.fromEntries(fields)));
    },

    async isSeen(key) {
      return (await guarded(() => redis.exists(k(keys.seen(key))))) === 1;
    },

    async markSeen(key, ttlMs) {
      return (
        (await guarded(() => redis.set(k(keys.seen(key)), '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))) === 'OK'
      );
    },

    async getJson<T>(key: string): Promise<T | null> {
      const s = await guarded(() => redis.get(k(key)));
      return s === null ? null : (JSON.parse(s) as T);
    },

    async getJsonMany<T>(ks: string[]): Promise<Array<T | null>> {
      if (ks.length === 0) return [];
      const values = await guarded(() => redis.mget(ks.map(k)));
      return values.map((s) => (s === null ? null : (JSON.parse(s) as T)));
    },

    async setJson(key, value, ttlMs) {
      const json = JSON.stringify(value);
      await guarded(() =>
        ttlMs === undefined ? redis.set(k(key), json) : redis.set(k(key), json, 'PX', Math.max(1, Math.ceil(ttlMs))),
      );
    },

    async pushList(key, items, maxLen) {
      if (items.length === 0) return;
      // LPUSH puts its last argument at the head: reversed, the first item ends up first. MULTI keeps the
      // push and the trim one step, so a reader never sees the list longer than maxLen.
      const values = items.map((i) => JSON.stringify(i)).reverse();
      await guarded(() =>
        redis
          .multi()
          .lpush(k(key), ...values)
          .ltrim(k(key), 0, Math.max(0, maxLen) - 1)
          .exec(),
      );
    },

    async readList<T>(key: string, limit: number): Promise<T[]> {
      if (limit <= 0) return [];
      const values = await guarded(() => redis.lrange(k(key), 0, limit - 1));
      return values.map((s) => JSON.parse(s) as T);
    },

    async delete(ks) {
      if (ks.length === 0) return;
      await guarded(() => redis.del(ks.map(k)));
    },

    async enqueue(jobs: QueuedJob[]) {
      if (jobs.length === 0) return;
      await guarded(() => redis.rpush(k(keys.outbox), ...jobs.map((j) => JSON.stringify(j))));
    },

    async ping() {
      await guarded(() => redis.ping());
    },

    async close() {
      if (replicaTimer) clearInterval(replicaTimer);
      if (owned) await closeConnection(redis);
    },
  };
}
