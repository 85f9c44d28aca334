import { Redis } from 'ioredis';

/**
 * Delete every key under a bench's private prefix (store, read model and BullMQ keys alike), so a bench
 * leaves the shared Redis as it found it. Pass a connection to reuse it, or a URL for a short-lived one.
 */
export async function deleteRedisPrefix(redis: Redis | string, prefix: string): Promise<void> {
  const r = typeof redis === 'string' ? new Redis(redis) : redis;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix.replace(/:$/, '')}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(keys);
    } while (cursor !== '0');
  } finally {
    if (typeof redis === 'string') r.disconnect();
  }
}
