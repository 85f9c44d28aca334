import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import {
  connectionOptions,
  describeTarget,
  reconnectOnReadonly,
  redisConfigured,
  redisTarget,
} from '../../src/store/connection.ts';

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
    expect(command).toMatchObject({ maxRetriesPerRequest: 1, commandTimeout: 2_000, enableAutoPipelining: true });
    for (const o of [queue, command]) expect(o.reconnectOnError).toBe(reconnectOnReadonly);
    expect(reconnectOnReadonly(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnReadonly(new Error('ERR wrong number of arguments'))).toBe(false);
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
