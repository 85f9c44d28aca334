import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { JibuError } from '../errors.ts';
import { createRedisConnection, type RedisTarget } from './connection.ts';
import { keys, type StoreLogger } from './keys.ts';
import { MOVE_BATCH, closeConnection, runScript } from './redis-scripts.ts';
import { queuedJobSchema } from './schemas.ts';
import type { JobQueue, QueuedJob } from './types.ts';

export interface OutboxForwarderOptions {
  /** A Redis URL or Sentinel target, or a client to duplicate (the forwarder needs its own blocking connection). */
  redis: Redis | RedisTarget | string;
  /** The store's key prefix (`jibu:`), so the forwarder reads the outbox the store writes. */
  prefix?: string;
  /** Where jobs go; `add` must ignore ids it already has (BullMQ jobIds, the memory queue). */
  queue: Pick<JobQueue, 'add'>;
  /** Most jobs moved and added per round trip. */
  batchSize?: number;
  /** How long one BLMOVE waits for work (seconds). */
  blockTimeoutSec?: number;
  /** How often to re-forward what sits in flight, for a replica that died mid-forward and never came back. */
  sweepMs?: number;
  logger?: StoreLogger;
}

export interface ForwarderStats {
  /** Jobs handed to the queue (re-forwards after a crash count again; the queue drops the repeat). */
  forwarded: number;
  /** Cancelled timers dropped instead of forwarded. */
  cancelled: number;
  /** Entries that were not a readable job, parked on `outbox:unreadable`. */
  unreadable: number;
}

export interface OutboxForwarder {
  /** Re-forward anything left in flight by an earlier crash, then keep forwarding in the background. */
  start(): Promise<void>;
  /** Stop taking work and finish the batch in hand; what is still in the outbox waits there for the next start. */
  stop(): Promise<void>;
  stats(): ForwarderStats;
}

type Parsed = { raw: string; job: QueuedJob } | { raw: string; job: null };

function parseEntry(raw: string): Parsed {
  try {
    const r = queuedJobSchema.safeParse(JSON.parse(raw));
    return r.success ? { raw, job: r.data as QueuedJob } : { raw, job: null };
  } catch {
    return { raw, job: null };
  }
}

/**
 * Moves committed jobs from the Redis outbox list into the job queue, losing none and doubling none:
 * `BLMOVE outbox → outbox:inflight`, `queue.add` (idempotent by job id), then `LREM` from in-flight.
 * A crash between add and LREM leaves the entry in flight; it is re-forwarded at the next start (or by
 * another replica's sweep) and the queue ignores the id it already holds.
 *
 * @example
 * const forwarder = createOutboxForwarder({ redis: 'redis://127.0.0.1:6379', queue });
 * await forwarder.start();
 * // … on shutdown
 * await forwarder.stop();
 */
export function createOutboxForwarder(opts: OutboxForwarderOptions): OutboxForwarder {
  const prefix = opts.prefix ?? 'jibu:';
  const batchSize = Math.max(1, opts.batchSize ?? 100);
  const blockTimeoutSec = opts.blockTimeoutSec ?? 1;
  const sweepMs = opts.sweepMs ?? 30_000;
  const outbox = prefix + keys.outbox;
  const inflight = prefix + keys.outboxInflight;
  const unreadableKey = prefix + keys.outboxUnreadable;
  const stats: ForwarderStats = { forwarded: 0, cancelled: 0, unreadable: 0 };

  let cmd: Redis | undefined;
  let blocking: Redis | undefined;
  let loop: Promise<void> | undefined;
  let stopping = false;

  function connect(): { cmd: Redis; blocking: Redis } {
    const base =
      opts.redis instanceof Redis
        ? opts.redis.duplicate({ maxRetriesPerRequest: null })
        : createRedisConnection(opts.redis, 'queue');
    // A blocking read must be allowed to outlast its own timeout.
    const blk = base.duplicate({ maxRetriesPerRequest: null, commandTimeout: blockTimeoutSec * 1_000 + 5_000 });
    for (const c of [base, blk])
      c.on('error', (err: Error) =>
        opts.logger?.warn({ code: 'JIBU_STORE_UNAVAILABLE', reason: err.message }, 'outbox forwarder redis error'),
      );
    return { cmd: base, blocking: blk };
  }

  async function forward(c: Redis, raws: string[]): Promise<void> {
    if (raws.length === 0) return;
    const entries = raws.map(parseEntry);
    const good = entries.filter((e): e is { raw: string; job: QueuedJob } => e.job !== null);
    const bad = entries.filter((e) => e.job === null);

    const timers = good.filter((e) => e.job.queue === 'timers');
    const cancelled = new Set<string>();
    if (timers.length > 0) {
      const marks = await c.mget(timers.map((e) => prefix + keys.cancelled(e.job.id)));
      marks.forEach((m, i) => {
        if (m !== null) cancelled.add(timers[i]!.job.id);
      });
    }
    const toAdd = good.filter((e) => !(e.job.queue === 'timers' && cancelled.has(e.job.id))).map((e) => e.job);
    if (toAdd.length > 0) await opts.queue.add(toAdd);

    const tx = c.multi();
    for (const e of entries) tx.lrem(inflight, 1, e.raw);
    for (const e of bad) tx.rpush(unreadableKey, e.raw);
    await tx.exec();
    stats.forwarded += toAdd.length;
    stats.cancelled += good.length - toAdd.length;
    stats.unreadable += bad.length;
    if (bad.length > 0)
      opts.logger?.error(
        { code: 'JIBU_INTERNAL', count: bad.length, list: unreadableKey },
        'unreadable outbox entries set aside',
      );
  }

  /** Re-forward what was in flight when we looked (bounded, so a poisoned entry cannot spin us forever). */
  async function recover(c: Redis): Promise<void> {
    const total = await c.llen(inflight);
    let done = 0;
    while (done < total && !stopping) {
      const raws = await c.lrange(inflight, 0, Math.min(batchSize, total - done) - 1);
      if (raws.length === 0) return;
      await forward(c, raws);
      done += raws.length;
    }
  }

  async function run(first: Redis, firstBlocking: Redis): Promise<void> {
    let c = first;
    let blk = firstBlocking;
    let lastSweep = Date.now();
    let needRecovery = false;
    let failures = 0;
    while (!stopping) {
      try {
        if (needRecovery || Date.now() - lastSweep >= sweepMs) {
          await recover(c);
          lastSweep = Date.now();
          needRecovery = false;
        }
        const first = await blk.blmove(outbox, inflight, 'LEFT', 'RIGHT', blockTimeoutSec);
        if (first !== null) {
          const more = batchSize > 1 ? await runScript(c, MOVE_BATCH, [outbox, inflight], [batchSize - 1]) : [];
          await forward(c, [first, ...(Array.isArray(more) ? more.map(String) : [])]);
        }
        failures = 0;
      } catch (err) {
        if (stopping) return;
        // ioredis can give up on a Sentinel connection after a failover (status `end`, "Connection is
        // closed") although told to retry forever: open new ones rather than retry on a dead client.
        if (c.status === 'end' || blk.status === 'end') {
          c.disconnect();
          blk.disconnect();
          const fresh = connect();
          c = cmd = fresh.cmd;
          blk = blocking = fresh.blocking;
        }
        // Whatever was moved stays in flight; recover it once Redis (or the queue) answers again.
        needRecovery = true;
        failures += 1;
        opts.logger?.warn(
          { code: 'JIBU_STORE_UNAVAILABLE', reason: err instanceof Error ? err.message : String(err) },
          'outbox forwarding failed; will retry',
        );
        await sleep(Math.min(100 * 2 ** Math.min(failures, 6), 5_000));
      }
    }
  }

  return {
    async start() {
      if (loop) return;
      stopping = false;
      const conns = connect();
      cmd = conns.cmd;
      blocking = conns.blocking;
      try {
        await recover(cmd);
      } catch (err) {
        cmd.disconnect();
        blocking.disconnect();
        cmd = blocking = undefined;
        throw new JibuError('JIBU_STORE_UNAVAILABLE', 'The outbox forwarder could not reach Redis.', undefined, {
          cause: err,
        });
      }
      loop = run(cmd, blocking);
    },

    async stop() {
      if (!loop) return;
      stopping = true;
      // Interrupts a waiting BLMOVE; an entry it moved just before is in flight and recovered at the next start.
      blocking?.disconnect();
      await loop;
      loop = undefined;
      if (cmd) await closeConnection(cmd);
      cmd = blocking = undefined;
    },

    stats: () => ({ ...stats }),
  };
}
