import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { createStoreAndQueue } from '../../src/store/index.ts';
import type { StoreAndQueue } from '../../src/store/index.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import type { QueuedJob } from '../../src/store/types.ts';
import { TEST_REDIS_URL, cleanupRedis, eventually, requireRedis, uniquePrefix } from './harness.ts';

const prefixes: string[] = [];

afterAll(async () => {
  await cleanupRedis(prefixes);
});

const PHONE = '+250788000001';
const KEY = `ussd:${PHONE}`;

/** One USSD hop as the runner does it: lock and load, then one commit carrying the reply SMS and a timer. */
async function hop(sq: StoreAndQueue, n: number): Promise<void> {
  const { lock } = await sq.store.lockAndLoad(PHONE, KEY);
  const jobs: QueuedJob[] = [
    {
      id: `sms:confirm:${n}`,
      queue: 'outbox-sms',
      name: 'sendSms',
      data: { to: PHONE, text: 'Murakoze! Itariki nshya yanditswe.' },
    },
    { id: `timer:${n}`, queue: 'timers', name: 'timer', data: { phone: PHONE }, runAt: Date.now() + 60_000 },
  ];
  await sq.store.commit(lock, {
    sessionKey: KEY,
    session: {
      flowId: 'caregiver-reply',
      flowVersion: 'v1',
      channel: 'ussd',
      snapshot: { value: 'done' },
      locale: 'rw',
      startedAt: 1,
      updatedAt: n,
    },
    sessionTtlMs: 180_000,
    jobs,
    dedupe: { key: `africastalking:ATUid_${n}`, ttlMs: 60_000 },
    ...(n > 1 ? { cancelJobIds: [`timer:${n - 1}`] } : {}),
  });
}

describe.each([
  ['memory', undefined],
  ['redis', TEST_REDIS_URL],
] as const)('createStoreAndQueue (%s)', (name, redisUrl) => {
  it('wires store and queue so a committed job reaches its worker once, and a cancelled timer never fires', async () => {
    if (redisUrl) await requireRedis();
    const prefix = uniquePrefix('store-and-queue');
    prefixes.push(prefix);
    const sq = await createStoreAndQueue({ clock: systemClock, prefix, ...(redisUrl ? { redisUrl } : {}) });
    try {
      expect(sq.store.kind).toBe(name);
      expect(sq.forwarder !== undefined).toBe(name === 'redis');
      const sent: string[] = [];
      const worker = sq.queue.process('outbox-sms', async (job) => (sent.push(job.id), { ok: true }));
      await hop(sq, 1);
      await hop(sq, 2);
      await eventually(
        () => sent.length,
        (n) => n === 2,
      );
      // Timer 1 was cancelled by hop 2; only timer 2 is still waiting for its minute.
      await eventually(
        () => sq.queue.counts('timers'),
        (c) => c.delayed === 1,
      );
      // Settled: nothing waiting or running on the SMS queue, so no third confirmation is on its way.
      await eventually(
        () => sq.queue.counts('outbox-sms'),
        (c) => c.waiting === 0 && c.active === 0 && c.delayed === 0,
      );
      expect(sent).toEqual(['sms:confirm:1', 'sms:confirm:2']);
      expect(await sq.queue.counts('timers')).toEqual({ waiting: 0, delayed: 1, active: 0, failed: 0 });
      await worker.close();
    } finally {
      await sq.close();
    }
  });
});

describe('Redis hot path', () => {
  it('a USSD hop costs two Redis commands: lockAndLoad and commit', async () => {
    await requireRedis();
    const prefix = uniquePrefix('round-trips');
    prefixes.push(prefix);
    const redis = new Redis(TEST_REDIS_URL);
    const store = createRedisStore({ redis, prefix });
    try {
      // Warm up: the first call may pay for loading the scripts into Redis' cache.
      const warm = await store.lockAndLoad(PHONE, KEY);
      await store.commit(warm.lock, { sessionKey: KEY, session: null, sessionTtlMs: 1_000, jobs: [] });

      const sent: string[] = [];
      const original = redis.sendCommand.bind(redis);
      redis.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], ...rest: unknown[]) => {
        sent.push(command.name);
        return original(command, ...(rest as []));
      }) as Redis['sendCommand'];

      const { lock } = await store.lockAndLoad(PHONE, KEY);
      await store.commit(lock, {
        sessionKey: KEY,
        session: {
          flowId: 'caregiver-reply',
          flowVersion: 'v1',
          channel: 'ussd',
          snapshot: {},
          locale: 'rw',
          startedAt: 1,
          updatedAt: 2,
        },
        sessionTtlMs: 180_000,
        jobs: [{ id: 'sms:x', queue: 'outbox-sms', name: 'sendSms', data: {} }],
        dedupe: { key: 'africastalking:ATUid_rt', ttlMs: 60_000 },
        contact: { phone: PHONE, patch: { locale: 'rw' } },
        cancelJobIds: ['timer:rt'],
      });
      expect(sent).toEqual(['evalsha', 'evalsha']);
    } finally {
      await store.close();
      redis.disconnect();
    }
  });
});
