import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createBullmqJobQueue } from '../../src/store/bullmq-queue.ts';
import type { BullmqJobQueue } from '../../src/store/bullmq-queue.ts';
import { createOutboxForwarder } from '../../src/store/outbox-forwarder.ts';
import type { OutboxForwarder } from '../../src/store/outbox-forwarder.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import type { JobQueue, QueuedJob, Store } from '../../src/store/types.ts';
import { TEST_REDIS_URL, cleanupRedis, deferred, eventually, requireRedis, uniquePrefix } from './harness.ts';

let admin: Redis;
const prefixes: string[] = [];
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

afterAll(async () => {
  await cleanupRedis(prefixes);
});

interface Rig {
  prefix: string;
  store: Store;
  queue: BullmqJobQueue;
  forwarder(queue?: Pick<JobQueue, 'add'>): OutboxForwarder;
  /** Every job id the queue's workers were handed, in order (one SMS worker, one timer worker). */
  handled: string[];
  startWorkers(): void;
  outboxLength(): Promise<number>;
  inflightLength(): Promise<number>;
  settled(): Promise<number>;
}

async function rig(): Promise<Rig> {
  admin = await requireRedis();
  const prefix = uniquePrefix('forwarder');
  prefixes.push(prefix);
  const store = createRedisStore({ redis: TEST_REDIS_URL, prefix });
  const queue = createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix });
  const handled: string[] = [];
  cleanup.push(async () => {
    await queue.close();
    await store.close();
  });
  return {
    prefix,
    store,
    queue,
    handled,
    forwarder(q = queue) {
      const f = createOutboxForwarder({ redis: TEST_REDIS_URL, prefix, queue: q, blockTimeoutSec: 0.2 });
      cleanup.push(() => f.stop());
      return f;
    },
    startWorkers() {
      queue.process('outbox-sms', async (job) => (handled.push(job.id), { ok: true }), { concurrency: 5 });
      queue.process('timers', async (job) => (handled.push(job.id), { ok: true }));
    },
    outboxLength: () => admin.llen(`${prefix}outbox`),
    inflightLength: () => admin.llen(`${prefix}outbox:inflight`),
    /** Nothing left in the outbox, in flight, or waiting and running in the queue: every job has been worked. */
    settled: () =>
      eventually(
        async () =>
          (await admin.llen(`${prefix}outbox`)) +
          (await admin.llen(`${prefix}outbox:inflight`)) +
          (await queue.counts('outbox-sms').then((c) => c.waiting + c.active)),
        (n) => n === 0,
      ),
  };
}

const sms = (id: string): QueuedJob => ({
  id,
  queue: 'outbox-sms',
  name: 'sendSms',
  data: { to: '+254700000001', text: 'Asante, tumepokea jibu lako.' },
});

async function commitStep(
  store: Store,
  n: number,
  jobs: QueuedJob[],
  extra: { cancelJobIds?: string[] } = {},
): Promise<void> {
  const phone = `+2547000${String(n).padStart(5, '0')}`;
  const { lock } = await store.lockAndLoad(phone, `sms:${phone}`);
  await store.commit(lock, { sessionKey: `sms:${phone}`, session: null, sessionTtlMs: 60_000, jobs, ...extra });
}

describe('outbox forwarder', () => {
  it('moves every committed job into the queue exactly once', async () => {
    const r = await rig();
    r.startWorkers();
    await r.forwarder().start();
    const expected: string[] = [];
    await Promise.all(
      Array.from({ length: 30 }, (_, n) => {
        const jobs = [sms(`sms:${n}:a`), sms(`sms:${n}:b`)];
        expected.push(...jobs.map((j) => j.id));
        return commitStep(r.store, n, jobs);
      }),
    );
    await eventually(
      () => r.handled.length,
      (n) => n >= 60,
    );
    await r.settled();
    expect([...r.handled].sort()).toEqual([...expected].sort());
    expect(await r.outboxLength()).toBe(0);
    expect(await r.inflightLength()).toBe(0);
  });

  it('a crash between add and LREM does not lose or double the job', async () => {
    const r = await rig();
    // Replica A adds to the queue and then freezes before it can LREM (a process killed at that instant).
    const frozen = deferred();
    const addedByA = deferred();
    const crashing: Pick<JobQueue, 'add'> = {
      async add(jobs) {
        await r.queue.add(jobs);
        addedByA.resolve();
        await frozen.promise;
      },
    };
    const a = r.forwarder(crashing);
    // Runs before a.stop() in cleanup, so a failing assertion cannot leave the frozen replica hanging.
    cleanup.push(async () => frozen.resolve());
    await a.start();
    await commitStep(r.store, 1, [sms('sms:crash:1')]);
    await addedByA.promise;
    expect(await r.inflightLength()).toBe(1);

    // The replacement starts, finds the entry in flight and re-forwards it; the queue ignores the known id.
    const b = r.forwarder();
    await b.start();
    expect(await r.inflightLength()).toBe(0);
    frozen.resolve();
    await a.stop();

    expect(await r.queue.counts('outbox-sms')).toMatchObject({ waiting: 1 });
    r.startWorkers();
    await eventually(
      () => r.handled.length,
      (n) => n >= 1,
    );
    await r.settled();
    expect(r.handled).toEqual(['sms:crash:1']);
  });

  it('re-forwards entries a dead process left in flight when it starts', async () => {
    const r = await rig();
    const orphan = sms('sms:orphan:1');
    await admin.rpush(`${r.prefix}outbox:inflight`, JSON.stringify(orphan));
    const f = r.forwarder();
    await f.start();
    expect(await r.inflightLength()).toBe(0);
    expect(f.stats().forwarded).toBe(1);
    r.startWorkers();
    await eventually(
      () => r.handled,
      (h) => h.includes('sms:orphan:1'),
    );
  });

  it('drops a timer cancelled while it was still in the outbox', async () => {
    const r = await rig();
    const timer: QueuedJob = {
      id: 'timer:reply-timeout:+254700000001:3',
      queue: 'timers',
      name: 'timer',
      data: { phone: '+254700000001' },
    };
    await commitStep(r.store, 1, [timer]);
    await commitStep(r.store, 1, [sms('sms:after-cancel')], { cancelJobIds: [timer.id] });
    const f = r.forwarder();
    await f.start();
    await eventually(
      () => f.stats().forwarded,
      (n) => n === 1,
    );
    expect(f.stats().cancelled).toBe(1);
    expect(await r.queue.counts('timers')).toMatchObject({ waiting: 0, delayed: 0 });
    expect(await r.outboxLength()).toBe(0);
  });

  it('sets aside an unreadable outbox entry and keeps forwarding the rest', async () => {
    const r = await rig();
    const f = r.forwarder();
    await f.start();
    await admin.rpush(`${r.prefix}outbox`, '{"id":"x","queue":"no-such-queue"}', 'not json at all');
    await commitStep(r.store, 2, [sms('sms:good')]);
    await eventually(
      () => f.stats(),
      (s) => s.unreadable === 2 && s.forwarded === 1,
    );
    expect(await admin.lrange(`${r.prefix}outbox:unreadable`, 0, -1)).toEqual([
      '{"id":"x","queue":"no-such-queue"}',
      'not json at all',
    ]);
    expect(await r.inflightLength()).toBe(0);
    expect(await r.queue.counts('outbox-sms')).toMatchObject({ waiting: 1 });
  });

  it('jobs committed while no forwarder runs wait in the outbox and go out at the next start', async () => {
    const r = await rig();
    await commitStep(r.store, 3, [sms('sms:while-down:1'), sms('sms:while-down:2')]);
    expect(await r.outboxLength()).toBe(2);
    const f = r.forwarder();
    await f.start();
    await eventually(
      () => r.outboxLength(),
      (n) => n === 0,
    );
    await eventually(
      () => r.queue.counts('outbox-sms'),
      (c) => c.waiting === 2,
    );
    await f.stop();
    expect(await r.inflightLength()).toBe(0);
  });

  it('keeps forwarding after the queue fails for a while, without losing the job', async () => {
    const r = await rig();
    let failures = 2;
    const flaky: Pick<JobQueue, 'add'> = {
      async add(jobs) {
        if (failures > 0) {
          failures -= 1;
          throw new Error('READONLY You can not write against a read only replica.');
        }
        await r.queue.add(jobs);
      },
    };
    const f = r.forwarder(flaky);
    await f.start();
    await commitStep(r.store, 4, [sms('sms:flaky:1')]);
    await eventually(
      () => r.queue.counts('outbox-sms'),
      (c) => c.waiting === 1,
    );
    await eventually(
      () => r.inflightLength(),
      (n) => n === 0,
    );
  });
});
