import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** Tests that need Redis use this one; they fail (never skip) when it does not answer. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix nobody else uses: one per test file and test, so parallel files never meet. */
export function uniquePrefix(file: string): string {
  return `jibutest-${file}-${process.pid}-${randomUUID().slice(0, 8)}:`;
}

let admin: Promise<Redis> | undefined;

/**
 * A plain client for looking at keys from the outside, shared by a test file. A test that needs Redis
 * awaits it first, so with Redis unreachable that test fails with this message (it is never skipped),
 * while the file's in-memory tests still run.
 */
export function requireRedis(): Promise<Redis> {
  admin ??= (async () => {
    const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.ping();
      return r;
    } catch (err) {
      r.disconnect();
      throw new Error(`Redis is required at ${REDIS_URL} for this test: ${String(err)}`);
    }
  })();
  return admin;
}

/** Delete the given prefixes and close the shared client (for `afterAll`); a no-op when Redis never answered. */
export async function cleanupRedis(prefixes: string[]): Promise<void> {
  const r = await admin?.catch(() => undefined);
  if (!r) return;
  for (const p of prefixes) await deletePrefix(r, p);
  r.disconnect();
  admin = undefined;
}

/** Delete every key under a prefix (store keys and BullMQ keys share it). */
export async function deletePrefix(r: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  const base = prefix.replace(/:$/, '');
  do {
    const [next, found] = await r.scan(cursor, 'MATCH', `${base}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length > 0) await r.del(found);
  } while (cursor !== '0');
}

/** Poll until `accept` holds and return that value; fail the test if it never does within `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  accept: (v: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await probe();
  while (!accept(v)) {
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(v)}`);
    await sleep(20);
    v = await probe();
  }
  return v;
}

/** A promise with its resolver, for holding a handler open. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
