import { systemClock } from '../../../src/clock.ts';
import {
  createBullmqJobQueue,
  createMemoryJobQueue,
  createMemoryStore,
  createRedisStore,
} from '../../../src/store/index.ts';
import type { JobQueue, QueuedJob, Store } from '../../../src/store/types.ts';
import type { Dhis2Write, Dhis2WriteJob } from '../../../src/dhis2/outbox/types.ts';
import { REDIS_URL, deletePrefix, eventually, requireRedis, uniquePrefix } from '../../store/harness.ts';

export type QueueKind = 'memory' | 'bullmq';

export interface QueueWorld {
  queue: JobQueue;
  store: Store;
  close(): Promise<void>;
}

/**
 * A queue and a store of one kind. Backoff runs on real time (the queue's clock), while DHIS2 and the
 * read model use the tests' fixed clock. The BullMQ pair lives under its own prefix, deleted on close,
 * and fails (never skips) without Redis.
 */
export async function makeQueueWorld(kind: QueueKind, file: string): Promise<QueueWorld> {
  if (kind === 'memory') {
    const queue = createMemoryJobQueue({ clock: systemClock, pollMs: 10 });
    const store = createMemoryStore({ clock: systemClock, queue });
    return {
      queue,
      store,
      async close() {
        await queue.close();
        await store.close();
      },
    };
  }
  const admin = await requireRedis();
  const prefix = uniquePrefix(file);
  const queue = createBullmqJobQueue({ connection: REDIS_URL, prefix, clock: systemClock });
  const store = createRedisStore({ redis: REDIS_URL, prefix });
  return {
    queue,
    store,
    async close() {
      await queue.close();
      await store.close();
      await deletePrefix(admin, prefix);
    },
  };
}

/** A write as the runner queues it: one job per write, the job id is the idempotency key. */
export function writeJob(id: string, payload: Dhis2Write, phone = '+254700000001'): QueuedJob<Dhis2WriteJob> {
  return {
    id,
    queue: 'outbox-dhis2',
    name: 'dhis2Write',
    data: { op: payload.op, payload, ref: `JB-${id.slice(-4).toUpperCase()}`, phone },
  };
}

/** Wait until nothing is waiting, delayed or in hand on `outbox-dhis2`. */
export async function drained(queue: JobQueue, timeoutMs = 8_000): Promise<void> {
  await eventually(
    () => queue.counts('outbox-dhis2'),
    (c) => c.waiting + c.delayed + c.active === 0,
    timeoutMs,
  );
}
