import { afterAll, describe, expect, it } from 'vitest';
import { createBullmqJobQueue, toBullId } from '../../src/store/bullmq-queue.ts';
import type { BullmqJobQueue } from '../../src/store/bullmq-queue.ts';
import type { QueuedJob } from '../../src/store/types.ts';
import { TEST_REDIS_URL, cleanupRedis, eventually, requireRedis, uniquePrefix } from './harness.ts';
import { describeJobQueueContract } from './queue-contract.ts';

const prefixes: string[] = [];

afterAll(async () => {
  await cleanupRedis(prefixes);
});

async function freshPrefix(): Promise<string> {
  await requireRedis();
  const prefix = uniquePrefix('queue-bullmq');
  prefixes.push(prefix);
  return prefix;
}

describeJobQueueContract('bullmq', async () =>
  createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix: await freshPrefix() }),
);

describe('BullMQ specifics', () => {
  it('two replicas upserting the same scheduler produce one job per tick', async () => {
    const prefix = await freshPrefix();
    const a = createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix });
    const b = createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix });
    try {
      const seen: string[] = [];
      const wa = a.process('jobs', async (job) => (seen.push(job.id), { ok: true }));
      const wb = b.process('jobs', async (job) => (seen.push(job.id), { ok: true }));
      await Promise.all([
        a.schedule('jobs', 'sync', { every: 300 }, { name: 'sync' }),
        b.schedule('jobs', 'sync', { every: 300 }, { name: 'sync' }),
      ]);
      await eventually(
        () => seen.length,
        (n) => n >= 3,
      );
      await a.unschedule('jobs', 'sync');
      await Promise.all([wa.close(), wb.close()]);
      // One job per tick across both replicas: tick times never repeat and lie an interval apart.
      expect(new Set(seen).size).toBe(seen.length);
      const ticks = seen.map((id) => Number(id.split(':').pop())).sort((x, y) => x - y);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBeGreaterThanOrEqual(300);
      expect(await a.bullQueue('jobs').getJobSchedulersCount()).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a cron scheduler is stored with its pattern and time zone', async () => {
    const q = createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix: await freshPrefix() });
    try {
      await q.schedule(
        'jobs',
        'missed-appointments',
        { pattern: '0 6 * * *', tz: 'Africa/Nairobi' },
        { name: 'missed-appointments' },
      );
      const s = await q.bullQueue('jobs').getJobScheduler('missed-appointments');
      expect(s).toMatchObject({
        key: 'missed-appointments',
        pattern: '0 6 * * *',
        tz: 'Africa/Nairobi',
        name: 'missed-appointments',
      });
      // The next run is the next 06:00 in Nairobi (03:00 UTC).
      expect(new Date(Number(s?.next)).getUTCHours()).toBe(3);
    } finally {
      await q.close();
    }
  });

  it('keeps ids that BullMQ would refuse (colons, integers) and runAt as a delay', async () => {
    const q: BullmqJobQueue = createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix: await freshPrefix() });
    try {
      const jobs: QueuedJob[] = [
        { id: '12345', queue: 'outbox-sms', name: 'sendSms', data: {} },
        { id: 'sms:ATXid_1:%3A', queue: 'outbox-sms', name: 'sendSms', data: {}, runAt: Date.now() + 60_000 },
      ];
      await q.add(jobs);
      expect(await q.counts('outbox-sms')).toMatchObject({ waiting: 1, delayed: 1 });
      const stored = await q.bullQueue('outbox-sms').getJob(toBullId('sms:ATXid_1:%3A'));
      expect(stored?.delay).toBeGreaterThan(50_000);
      const seen: string[] = [];
      const w = q.process('outbox-sms', async (job) => (seen.push(job.id), { ok: true }));
      await eventually(
        () => seen.length,
        (n) => n === 1,
      );
      await w.close();
      expect(seen).toEqual(['12345']);
    } finally {
      await q.close();
    }
  });

  it('keeps completed job ids for 48 hours so re-adds are ignored', async () => {
    const q = createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix: await freshPrefix() });
    try {
      await q.add([{ id: 'sms-keep', queue: 'outbox-sms', name: 'sendSms', data: {} }]);
      const job = await q.bullQueue('outbox-sms').getJob(toBullId('sms-keep'));
      expect(job?.opts.removeOnComplete).toEqual({ age: 48 * 3600 });
      expect(job?.opts.removeOnFail).toBe(false);
    } finally {
      await q.close();
    }
  });
});
