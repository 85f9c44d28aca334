import { fixedClock, systemClock } from '../../../src/clock.ts';
import { createDhis2Client } from '../../../src/dhis2/client.ts';
import type { Deployment } from '../../../src/dhis2/deployment.ts';
import { createDhis2BatchHandler, type RelayLogger } from '../../../src/dhis2/outbox/index.ts';
import { createEmulator, type Emulator, type EmulatorUserInput } from '../../../src/emulator/index.ts';
import { createMetrics, type Metrics } from '../../../src/server/metrics.ts';
import {
  createBullmqJobQueue,
  createMemoryJobQueue,
  createMemoryStore,
  createRedisStore,
} from '../../../src/store/index.ts';
import type { JobOutcome, JobQueue, QueuedJob, Store } from '../../../src/store/types.ts';
import type { Dhis2Write, Dhis2WriteJob } from '../../../src/dhis2/outbox/types.ts';
import { TEST_REDIS_URL, deletePrefix, eventually, requireRedis, uniquePrefix } from '../../store/harness.ts';

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
  const queue = createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix, clock: systemClock });
  const store = createRedisStore({ redis: TEST_REDIS_URL, prefix });
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

const quiet: RelayLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The relay's batch handler against an emulator on the fixed clock `now` (60 demo children), called as the
 * queue would call it. `close` releases the in-memory queue and store.
 */
export function batchHandlerOn(opts: {
  now: string;
  version?: string;
  deployment?: Deployment;
  users?: EmulatorUserInput[];
  /** The account Jibu writes as (default the demo admin). */
  token?: string;
  fetch?: (emu: Emulator) => typeof fetch;
}): {
  emu: Emulator;
  store: Store;
  metrics: Metrics;
  run: (writes: Array<[string, Dhis2Write]>) => Promise<JobOutcome[]>;
  /** The tracker imports the emulator answered. */
  imports: () => Emulator['requests'];
  close: () => Promise<void>;
} {
  const clock = fixedClock(opts.now);
  const emu = createEmulator({ version: opts.version ?? '2.40', clock, seed: { children: 60 }, users: opts.users });
  const queue = createMemoryJobQueue({ clock });
  const store = createMemoryStore({ clock, queue });
  const client = createDhis2Client({
    baseUrl: emu.baseUrl,
    auth: { token: opts.token ?? emu.credentials.token },
    fetch: opts.fetch ? opts.fetch(emu) : emu.fetch,
    timeoutMs: 5000,
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const handle = createDhis2BatchHandler({
    queue,
    store,
    client,
    clock,
    logger: quiet,
    metrics,
    ...(opts.deployment ? { deployment: opts.deployment } : {}),
  });
  return {
    emu,
    store,
    metrics,
    run: (writes) => handle(writes.map(([id, w]) => writeJob(id, w))),
    imports: () => emu.requests.filter((r) => r.method === 'POST' && r.path === '/api/tracker'),
    async close() {
      await queue.close();
      await store.close();
    },
  };
}
