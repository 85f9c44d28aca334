import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { closeConnection } from '../../src/store/redis-scripts.ts';
import {
  connectionOptions,
  createRedisConnection,
  describeTarget,
  reconnectOnReadonly,
  redisConfigured,
  redisTarget,
} from '../../src/store/connection.ts';
import type { Redis } from 'ioredis';
import { cleanupRedis, TEST_REDIS_URL, uniquePrefix } from './harness.ts';

const prefixes: string[] = [];
const opened: Redis[] = [];
afterAll(async () => {
  await Promise.all(opened.map((r) => closeConnection(r)));
  await cleanupRedis(prefixes);
});

describe('Redis configuration', () => {
  it('reads a Sentinel group from REDIS_SENTINELS and REDIS_SENTINEL_NAME, with passwords', () => {
    const config = loadConfig({
      REDIS_SENTINELS: 'sentinel-a:26379, sentinel-b:26380,10.0.0.3:26379',
      REDIS_SENTINEL_NAME: 'jibu',
      REDIS_SENTINEL_PASSWORD: 's3',
      REDIS_PASSWORD: 'p4',
    });
    expect(config.embedded.store).toBe(false);
    expect(redisConfigured(config)).toBe(true);
    expect(redisTarget(config)).toEqual({
      sentinels: [
        { host: 'sentinel-a', port: 26379 },
        { host: 'sentinel-b', port: 26380 },
        { host: '10.0.0.3', port: 26379 },
      ],
      name: 'jibu',
      sentinelPassword: 's3',
      password: 'p4',
    });
  });

  it('keeps REDIS_URL (rediss:// included) for a single or managed Redis, and memory when neither is set', () => {
    const tls = loadConfig({ REDIS_URL: 'rediss://user:secret@redis.example.org:6380/2' });
    expect(redisTarget(tls)).toEqual({ url: 'rediss://user:secret@redis.example.org:6380/2' });
    expect(describeTarget(redisTarget(tls)!)).toBe('rediss://redis.example.org:6380/2');
    const none = loadConfig({});
    expect(redisConfigured(none)).toBe(false);
    expect(none.embedded.store).toBe(true);
    expect(redisTarget(none)).toBeUndefined();
  });

  it('refuses a Sentinel list without a group name, a malformed list, and both REDIS_URL and REDIS_SENTINELS', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        return (err as { detail: string[] }).detail;
      }
    };
    expect(problems({ REDIS_SENTINELS: 'a:26379' })).toEqual([
      'REDIS_SENTINEL_NAME: REDIS_SENTINEL_NAME is required with REDIS_SENTINELS',
    ]);
    expect(problems({ REDIS_SENTINELS: 'a:26379;b', REDIS_SENTINEL_NAME: 'x' })).toEqual([
      'REDIS_SENTINELS: expected host:port,host:port',
    ]);
    expect(
      problems({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'x', REDIS_URL: 'redis://127.0.0.1:6379' }),
    ).toEqual(['REDIS_SENTINELS: set REDIS_URL (one Redis) or REDIS_SENTINELS (Redis behind Sentinel), not both']);
  });

  it('sets queue connections up to survive a failover and store connections to fail fast', () => {
    const sentinel = { sentinels: [{ host: 'a', port: 26379 }], name: 'jibu' };
    const queue = connectionOptions(sentinel, 'queue');
    expect(queue).toMatchObject({ maxRetriesPerRequest: null, name: 'jibu', role: 'master', failoverDetector: true });
    const command = connectionOptions({ url: 'redis://x' }, 'command');
    expect(command).toMatchObject({ maxRetriesPerRequest: 1, commandTimeout: 2_000 });
    for (const o of [queue, command]) expect(o.reconnectOnError).toBe(reconnectOnReadonly);
    expect(reconnectOnReadonly(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnReadonly(new Error('ERR wrong number of arguments'))).toBe(false);
  });

  it('sends the commands of one turn of the event loop in one socket write, each with its own reply', async () => {
    const prefix = uniquePrefix('connection');
    prefixes.push(prefix);
    const redis = createRedisConnection(TEST_REDIS_URL, 'command');
    opened.push(redis);
    await once(redis, 'ready');
    const socket = redis.stream as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    let writes = 0;
    for (const name of ['_write', '_writev'] as const) {
      const original = socket[name].bind(socket);
      socket[name] = (...a: unknown[]) => {
        writes++;
        original(...a);
      };
    }
    const keys = Array.from({ length: 20 }, (_, i) => `${prefix}k${i}`);
    const sets = keys.map((k, i) => redis.set(k, `v${i}`));
    await Promise.all(sets);
    expect(writes).toBe(1);
    writes = 0;
    const values = await Promise.all(keys.map((k) => redis.get(k)));
    expect(values).toEqual(keys.map((_, i) => `v${i}`));
    expect(writes).toBe(1);
    // A command sent later, after the loop turned, still goes out (in a write of its own).
    await new Promise((r) => setImmediate(r));
    expect(await redis.get(keys[3]!)).toBe('v3');
    expect(writes).toBe(2);
  });

  it('never puts a password in a description', () => {
    const s = describeTarget({
      sentinels: [{ host: 'a', port: 1 }],
      name: 'n',
      password: 'pw',
      sentinelPassword: 'spw',
    });
    expect(s).toBe('sentinel n via a:1');
  });
});
