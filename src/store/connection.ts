import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

/**
 * Where Redis is: one URL (`redis://`, or `rediss://` for a managed Redis with TLS), or a Sentinel
 * group that names the current primary. The store, the queues, the workers and the outbox forwarder all
 * connect through {@link createRedisConnection}, so a failover is followed the same way everywhere.
 */
export type RedisTarget =
  | { url: string }
  | {
      sentinels: Array<{ host: string; port: number }>;
      /** The master group name the Sentinels monitor (`sentinel monitor <name> …`). */
      name: string;
      sentinelPassword?: string;
      /** Password of the data nodes (primary and replicas). */
      password?: string;
    };

/** How a connection behaves when Redis is slow or gone. */
export type ConnectionRole =
  /**
   * Webhook path: fail fast (one retry, 2 s timeouts) so a hop answers 503 within a second or two and
   * the provider retries, instead of holding the request until the provider gives up.
   */
  | 'command'
  /**
   * BullMQ and the outbox forwarder: wait through an outage (`maxRetriesPerRequest: null`, as BullMQ
   * requires) and resume on the new primary; a lost command would leave a worker silently stopped.
   */
  | 'queue';

/** The settings that decide whether Redis is configured: a URL or a Sentinel group. */
export interface RedisSettings {
  REDIS_URL?: string | undefined;
  REDIS_SENTINELS?: string | undefined;
  REDIS_SENTINEL_NAME?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
  REDIS_PASSWORD?: string | undefined;
}

/** Whether the deployment keeps its state in Redis (a URL or Sentinels); otherwise in memory. */
export function redisConfigured(s: { REDIS_URL?: unknown; REDIS_SENTINELS?: unknown }): boolean {
  return Boolean(s.REDIS_URL) || Boolean(s.REDIS_SENTINELS);
}

/** `host:port,host:port` as `REDIS_SENTINELS` spells it (IPv6 literals are not supported). */
export const SENTINEL_LIST = /^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/;

export function parseSentinels(list: string): Array<{ host: string; port: number }> {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const i = s.lastIndexOf(':');
      return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
    });
}

/** The target the configuration names, or undefined when Redis is not configured (in-memory demo). */
export function redisTarget(s: RedisSettings): RedisTarget | undefined {
  if (s.REDIS_SENTINELS) {
    return {
      sentinels: parseSentinels(s.REDIS_SENTINELS),
      name: s.REDIS_SENTINEL_NAME ?? '',
      ...(s.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: s.REDIS_SENTINEL_PASSWORD } : {}),
      ...(s.REDIS_PASSWORD ? { password: s.REDIS_PASSWORD } : {}),
    };
  }
  if (s.REDIS_URL) return { url: s.REDIS_URL };
  return undefined;
}

/** A string is a Redis URL; anything else is already a target. */
export function toTarget(t: RedisTarget | string): RedisTarget {
  return typeof t === 'string' ? { url: t } : t;
}

/** A failed-over primary that is now a replica answers writes with READONLY: reconnect and resend. */
export function reconnectOnReadonly(err: Error): 2 | false {
  return err.message.startsWith('READONLY') ? 2 : false;
}

function roleOptions(role: ConnectionRole): RedisOptions {
  const common: RedisOptions = { reconnectOnError: reconnectOnReadonly };
  if (role === 'queue') return { ...common, maxRetriesPerRequest: null };
  return {
    ...common,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    // Reconnect often: with one retry per request, the reconnect delay is how long a caller waits to hear "down".
    retryStrategy: (times) => Math.min(times * 50, 300),
  };
}

/**
 * Commands sent in the same turn of the event loop leave in one socket write: the socket is corked at the
 * first and uncorked once the loop has handled what arrived (`setImmediate`). Concurrent hops issue their
 * commands together, and one syscall each was the largest single cost of a USSD hop (bench/README.md).
 * ioredis's own auto-pipelining did the same by building a pipeline per turn, whose objects outlived their
 * hop and cost more in garbage collection and memory than the writes saved. Order, results and errors of
 * each command are ioredis's own: only when the bytes reach the socket changes.
 */
function corkPerTurn(redis: Redis): void {
  const send = redis.sendCommand.bind(redis) as (command: unknown, stream?: unknown) => unknown;
  let corked = false;
  (redis as unknown as { sendCommand: typeof send }).sendCommand = (command, stream) => {
    const socket = redis.stream as Redis['stream'] | undefined;
    if (!corked && stream === undefined && socket?.writable) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    return send(command, stream);
  };
}

/**
 * ioredis options for a target and role (a URL target keeps its URL, see {@link createRedisConnection}).
 * With Sentinels, ioredis asks them for the current primary at every (re)connect, and `failoverDetector`
 * subscribes to `+switch-master` so a switch is followed at once rather than when the old socket dies.
 */
export function connectionOptions(target: RedisTarget, role: ConnectionRole, extra: RedisOptions = {}): RedisOptions {
  const base = roleOptions(role);
  if ('url' in target) return { ...base, ...extra };
  return {
    ...base,
    sentinels: target.sentinels,
    name: target.name,
    role: 'master',
    failoverDetector: true,
    // Sentinels can be down one at a time; try the next soon, never give up.
    sentinelRetryStrategy: (times: number) => Math.min(times * 100, 1_000),
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...extra,
  };
}

/**
 * The one place Jibu opens a Redis connection.
 * @example const redis = createRedisConnection({ url: 'redis://127.0.0.1:6379' }, 'command');
 */
export function createRedisConnection(
  target: RedisTarget | string,
  role: ConnectionRole,
  extra: RedisOptions = {},
): Redis {
  const t = toTarget(target);
  const options = connectionOptions(t, role, extra);
  const redis = 'url' in t ? new Redis(t.url, options) : new Redis(options);
  if (role === 'command') corkPerTurn(redis);
  return redis;
}

/** A description for logs: never a password. */
export function describeTarget(target: RedisTarget | string): string {
  const t = toTarget(target);
  if ('url' in t) {
    try {
      const u = new URL(t.url);
      return `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      return 'redis (unparseable URL)';
    }
  }
  return `sentinel ${t.name} via ${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
}
