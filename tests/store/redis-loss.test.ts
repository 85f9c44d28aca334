import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { JibuError } from '../../src/errors.ts';
import { createStoreAndQueue } from '../../src/store/index.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import type { Store } from '../../src/store/types.ts';
import { TEST_REDIS_URL, cleanupRedis, requireRedis, uniquePrefix } from './harness.ts';

/**
 * When Redis is gone, every store call must fail quickly with JIBU_STORE_UNAVAILABLE so the webhook
 * answers 503 and the provider retries. Hanging until the provider gives up loses the message.
 */

const prefix = uniquePrefix('redis-loss');

afterAll(async () => {
  await cleanupRedis([prefix]);
});

/** Fail the test with a clear message instead of the runner's timeout if a call hangs. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms).unref()),
  ]);
}

async function expectUnavailable(p: Promise<unknown>): Promise<void> {
  const err = await within(6_000, p).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(JibuError);
  expect((err as JibuError).code).toBe('JIBU_STORE_UNAVAILABLE');
  expect((err as JibuError).status).toBe(503);
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A TCP hop between the store and Redis that the test can cut, like a failed Redis node or network. */
async function cuttableProxy(): Promise<{ url: string; cut(): Promise<void> }> {
  const target = new URL(TEST_REDIS_URL);
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}${target.pathname}`, // the same database as the tests' Redis
    cut: async () => {
      const closed = new Promise<void>((r) => srv.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** Accepts connections and never answers: a Redis stuck on a slow disk or a half-open network path. */
async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      const closed = new Promise<void>((r) => srv.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

const PHONE = '+254700000009';
const KEY = `sms:${PHONE}`;

/** Concurrent calls, like the webhooks that keep arriving during an outage. */
async function allOperationsFail(store: Store): Promise<void> {
  await Promise.all([
    expectUnavailable(store.lockAndLoad(PHONE, KEY, { waitMs: 100 })),
    expectUnavailable(
      store.commit(
        { key: `lock:${PHONE}`, token: 't' },
        { sessionKey: KEY, session: null, sessionTtlMs: 1_000, jobs: [] },
      ),
    ),
    expectUnavailable(store.release({ key: `lock:${PHONE}`, token: 't' })),
    expectUnavailable(store.getSession(KEY)),
    expectUnavailable(store.getContact(PHONE)),
    expectUnavailable(store.isSeen('africastalking:ATXid_x')),
    expectUnavailable(store.markSeen('africastalking:ATXid_x', 1_000)),
    expectUnavailable(store.getJsonMany(['rm:appt:+254700000009'])),
    expectUnavailable(store.setJson('rm:appt:+254700000009', [])),
    expectUnavailable(store.enqueue([{ id: 'j', queue: 'outbox-sms', name: 'sendSms', data: {} }])),
    expectUnavailable(store.ping()),
  ]);
}

describe('Redis loss', () => {
  it('rejects every store operation when nothing listens at the Redis address', async () => {
    const store = createRedisStore({ redis: `redis://127.0.0.1:${await closedPort()}`, prefix });
    try {
      await allOperationsFail(store);
    } finally {
      await store.close();
    }
  });

  it('rejects store operations once a working Redis connection is cut', async () => {
    await requireRedis();
    const proxy = await cuttableProxy();
    const store = createRedisStore({ redis: proxy.url, prefix });
    try {
      const { lock } = await store.lockAndLoad(PHONE, KEY);
      await store.commit(lock, { sessionKey: KEY, session: null, sessionTtlMs: 1_000, jobs: [] });
      await proxy.cut();
      await allOperationsFail(store);
    } finally {
      await store.close();
    }
  });

  it('rejects store operations when Redis accepts connections but never answers', async () => {
    const hole = await blackHole();
    const store = createRedisStore({ redis: hole.url, prefix, connectTimeoutMs: 300, commandTimeoutMs: 300 });
    try {
      await expectUnavailable(store.lockAndLoad(PHONE, KEY, { waitMs: 100 }));
      await expectUnavailable(store.ping());
    } finally {
      await store.close();
      await hole.close();
    }
  });

  it('start-up with an unreachable Redis fails instead of serving without state', async () => {
    const err = await within(
      8_000,
      createStoreAndQueue({ redisUrl: `redis://127.0.0.1:${await closedPort()}`, clock: systemClock, prefix }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIBU_STORE_UNAVAILABLE' });
  });
});
