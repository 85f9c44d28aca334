import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * The one Redis the tests use: `JIBU_TEST_REDIS_URL`, else database 15 of a local Redis. Never
 * `REDIS_URL`, which an operator's shell may point at a real deployment. Tests that need Redis fail
 * (never skip) when it does not answer, and refuse a database holding keys they did not create.
 */
export const TEST_REDIS_URL = process.env.JIBU_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';

/** Every key a test writes starts with this; a key that does not is someone else's data. */
export const TEST_KEY_PREFIX = 'jibutest-';

/** A key prefix nobody else uses: one per test file and test, so parallel files never meet. */
export function uniquePrefix(file: string): string {
  return `${TEST_KEY_PREFIX}${file}-${process.pid}-${randomUUID().slice(0, 8)}:`;
}

/** The first key in the database that no test created, if any (a scan, so a large database is fine). */
export async function foreignKey(r: Redis): Promise<string | undefined> {
  let cursor = '0';
  do {
    const [next, found] = await r.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const other = found.find((k) => !k.startsWith(TEST_KEY_PREFIX));
    if (other !== undefined) return other;
  } while (cursor !== '0');
  return undefined;
}

let admin: Promise<Redis> | undefined;

/**
 * A plain client for looking at keys from the outside, shared by a test file. A test that needs Redis
 * awaits it first, so with Redis unreachable, or holding keys no test created, that test fails with
 * this message (it is never skipped), while the file's in-memory tests still run.
 */
export function requireRedis(): Promise<Redis> {
  admin ??= (async () => {
    const r = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.ping();
    } catch (err) {
      r.disconnect();
      throw new Error(`Redis is required at ${TEST_REDIS_URL} (JIBU_TEST_REDIS_URL) for this test: ${String(err)}`);
    }
    const other = await foreignKey(r);
    if (other !== undefined) {
      r.disconnect();
      // The key's name is not shown: it may belong to a real deployment.
      throw new Error(
        `Refusing to run: the Redis database at ${TEST_REDIS_URL} holds keys the tests did not create ` +
          `(not under "${TEST_KEY_PREFIX}"). Point JIBU_TEST_REDIS_URL at an empty, dedicated database.`,
      );
    }
    return r;
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
