import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisConnection } from '../../src/store/connection.ts';
import { watchWorker, type WatchedWorker } from '../../src/store/worker-watchdog.ts';
import { TEST_REDIS_URL as REDIS_URL, cleanupRedis, eventually, requireRedis, uniquePrefix } from './harness.ts';

const prefixes: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await cleanupRedis(prefixes);
});

async function queueWith(waiting: number): Promise<Queue> {
  await requireRedis();
  const prefix = uniquePrefix('watchdog').replace(/:$/, '');
  prefixes.push(prefix);
  const connection = createRedisConnection(REDIS_URL, 'queue');
  const q = new Queue('outbox-sms', { connection, prefix });
  closers.push(async () => {
    await q.close();
    connection.disconnect();
  });
  for (let i = 0; i < waiting; i++) await q.add('sendSms', { i });
  return q;
}

/** A worker the test steers: whether it runs, is busy, and when it last took a job. */
function fakeWorker(o: Partial<{ running: boolean; busy: boolean; takes: boolean }> = {}) {
  const state = { running: o.running ?? true, busy: o.busy ?? false, lastTaken: Date.now(), restarts: 0 };
  const w: WatchedWorker = {
    queue: 'outbox-sms',
    running: () => state.running,
    busy: () => state.busy,
    lastTaken: () => (o.takes ? Date.now() : state.lastTaken),
    restart: async () => {
      state.restarts += 1;
      state.running = true;
    },
  };
  return { w, state };
}

describe('the worker watchdog', () => {
  const opts = { intervalMs: 30, stallMs: 250 };

  it('restarts a worker that takes none of the waiting jobs, and leaves alone one that is idle, busy or taking jobs', async () => {
    const full = await queueWith(3);
    const empty = await queueWith(0);
    const stuck = fakeWorker();
    const idle = fakeWorker();
    const busy = fakeWorker({ busy: true });
    const taking = fakeWorker({ takes: true });
    const dogs = [
      watchWorker(stuck.w, () => full, undefined, opts),
      watchWorker(idle.w, () => empty, undefined, opts),
      watchWorker(busy.w, () => full, undefined, opts),
      watchWorker(taking.w, () => full, undefined, opts),
    ];
    try {
      // Two restarts of the stuck one: the others had two stall periods to be (wrongly) restarted too.
      await eventually(
        () => stuck.state.restarts,
        (n) => n >= 2,
        10_000,
      );
      expect(dogs[0]!.health()).toMatchObject({ queue: 'outbox-sms', restarts: 2 });
      expect([idle, busy, taking].map((x) => x.state.restarts)).toEqual([0, 0, 0]);
      expect(dogs.slice(1).map((d) => d.health().state)).toEqual(['ok', 'ok', 'ok']);
    } finally {
      for (const d of dogs) d.stop();
    }
  });

  it('restarts a worker that stopped on its own at once, and reports it stalled until it takes jobs', async () => {
    const empty = await queueWith(0);
    const dead = fakeWorker({ running: false });
    let healthAtRestart: string | undefined;
    const dog = watchWorker(
      { ...dead.w, restart: async () => ((healthAtRestart = dog.health().state), dead.w.restart()) },
      () => empty,
      undefined,
      opts,
    );
    try {
      await eventually(
        () => dead.state.restarts,
        (n) => n === 1,
        5_000,
      );
      expect(healthAtRestart).toBe('stalled');
      await eventually(
        () => dog.health().state,
        (s) => s === 'ok',
        5_000,
      );
      expect(dog.health().restarts).toBe(1);
    } finally {
      dog.stop();
    }
  });
});
