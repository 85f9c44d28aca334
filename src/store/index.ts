import type { Clock } from '../clock.ts';
import { createBullmqJobQueue } from './bullmq-queue.ts';
import type { RedisTarget } from './connection.ts';
import type { StoreLogger } from './keys.ts';
import { createMemoryJobQueue } from './memory-queue.ts';
import { createMemoryStore } from './memory.ts';
import { createOutboxForwarder, type OutboxForwarder } from './outbox-forwarder.ts';
import { createRedisStore } from './redis.ts';
import type { JobQueue, Store } from './types.ts';

export { createMemoryStore } from './memory.ts';
export { createMemoryJobQueue, type MemoryJobQueue } from './memory-queue.ts';
export { createRedisStore } from './redis.ts';
export { createBullmqJobQueue, type BullmqJobQueue } from './bullmq-queue.ts';
export { createOutboxForwarder, type OutboxForwarder } from './outbox-forwarder.ts';
export type { StoreLogger } from './keys.ts';
export { redisConfigured, redisTarget, createRedisConnection, type RedisTarget } from './connection.ts';

export interface StoreAndQueue {
  store: Store;
  queue: JobQueue;
  /** Present with Redis: moves committed jobs from the outbox list into BullMQ (already started). */
  forwarder?: OutboxForwarder;
  /** Stop forwarding, drain queue workers, close connections, in that order. */
  close(): Promise<void>;
}

export interface StoreAndQueueOptions {
  /** A Redis URL or Sentinel target (connection.ts). Unset (and no `redisUrl`): the in-memory pair. */
  redis?: RedisTarget | string | undefined;
  /** The same as `redis: url` (kept for callers that only know a URL). */
  redisUrl?: string | undefined;
  clock: Clock;
  /** Key prefix for the store (`jibu:`); BullMQ uses the same without the trailing colon. */
  prefix?: string;
  logger?: StoreLogger;
}

/**
 * The state store and the durable queues, wired for the deployment: in memory when `redisUrl` is unset,
 * otherwise the Redis store, BullMQ queues and a running outbox forwarder. Fails (JIBU_STORE_UNAVAILABLE)
 * when Redis is configured but unreachable, so start-up stops instead of serving without state.
 *
 * @example
 * const { store, queue, close } = await createStoreAndQueue({ redisUrl: process.env.REDIS_URL, clock: systemClock });
 */
export async function createStoreAndQueue(opts: StoreAndQueueOptions): Promise<StoreAndQueue> {
  const prefix = opts.prefix ?? 'jibu:';
  const target = opts.redis ?? opts.redisUrl;
  if (!target) {
    const queue = createMemoryJobQueue({ clock: opts.clock });
    const store = createMemoryStore({ clock: opts.clock, queue, ...(opts.logger ? { logger: opts.logger } : {}) });
    return {
      store,
      queue,
      async close() {
        await queue.close();
        await store.close();
      },
    };
  }

  const logger = opts.logger ? { logger: opts.logger } : {};
  const queue = createBullmqJobQueue({ connection: target, prefix, clock: opts.clock, ...logger });
  // Behind Sentinel a commit that promises something (a reply, a DHIS2 write, a dedupe marker) is
  // acknowledged only once a replica has it, so a failover right after the answer cannot lose it.
  // Behind Sentinel a step is answered only once a replica holds its commit (a screen shown, a reply or
  // DHIS2 write promised), so a failover right after the answer cannot lose it.
  const replicaAcks = typeof target === 'object' && 'sentinels' in target ? { replicas: 1, timeoutMs: 500 } : undefined;
  const store = createRedisStore({ redis: target, prefix, queue, ...logger, ...(replicaAcks ? { replicaAcks } : {}) });
  const forwarder = createOutboxForwarder({ redis: target, prefix, queue, ...logger });
  try {
    await store.ping();
    await forwarder.start();
  } catch (err) {
    await Promise.allSettled([queue.close(), store.close()]);
    throw err;
  }
  return {
    store,
    queue,
    forwarder,
    async close() {
      await forwarder.stop();
      await queue.close();
      await store.close();
    },
  };
}
