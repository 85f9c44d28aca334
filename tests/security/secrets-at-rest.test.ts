import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { MemoryStore } from '../../src/store/memory.ts';
import { QUEUE_NAMES } from '../../src/store/types.ts';
import { EXTRA_WORKERS, startWorld, type World } from '../caseworker/world.ts';
import { cleanupRedis, requireRedis, TEST_REDIS_URL, uniquePrefix } from '../store/harness.ts';

/**
 * Attack: read the store (a Redis `SCAN`/`MONITOR`, a backup, a leaked dump) or the logs after a case
 * worker signed in, to learn her sign-in code or PIN. A dial's typed path carries both (Africa's Talking
 * re-sends `code*PIN*PIN*…` on every hop). After a real sign-in, a PIN sign-in, a wrong PIN and a lock,
 * every key name, every value of every type (BullMQ's keys included) and every log line is searched for
 * the code, each PIN typed, each typed path and the PIN pepper: none may hold them. SECURITY.md "PINs and sign-in codes".
 */

const PIN = '8239';
const WRONG = ['5082', '6194', '7305', '9416', '3527'];
const phone = EXTRA_WORKERS.mgamboni!.phone;
/** The gateway's PIN pepper: it lives in the environment and must never reach the store or a log line. */
const WEBHOOK_SECRET = '4a7c1e9b3d5f7a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f';
const PEPPER = '9d2f4b6a8c0e1f3a5b7c9d1e3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a';

/** A needle as a token: `"8239"` or `*8239*` are leaks; `a8239f` inside a uuid or a hash is chance. */
function leaks(haystack: string, needles: string[]): string[] {
  return needles.filter((n) => new RegExp(`(?<![0-9A-Za-z])${n.replace(/[*]/g, '\\*')}(?![0-9A-Za-z])`).test(haystack));
}

/** Sign in with a code and a new PIN, again with the PIN, then a wrong PIN and wrong PINs up to the lock. */
async function walk(w: World): Promise<string[]> {
  const first = await w.signIn(phone, PIN);
  expect(first.screen.text).toMatch(/Amani/);
  const code = /\b(\d{6})\b/.exec(w.smsTo(phone).at(-1) ?? '')?.[1];
  if (!code) return expect.fail('no sign-in code was sent');
  await w.settle();

  const again = w.dial(phone);
  await again.start();
  expect((await again.send(PIN)).text).toMatch(/Amani/);

  const wrong = w.dial(phone);
  await wrong.start();
  let last = await wrong.send(WRONG[0]!);
  expect(last.text).toMatch(/^Wrong PIN\. 4 tries left/);
  for (const pin of WRONG.slice(1)) last = await wrong.send(pin);
  expect(last).toMatchObject({ end: true, text: expect.stringMatching(/^Your PIN is locked/) });
  await w.settle();

  const paths = [first.dial, again, wrong].flatMap((d) => d.inputs.map((_, i) => d.inputs.slice(0, i + 1).join('*')));
  return [...new Set([code, PIN, ...WRONG, PEPPER, WEBHOOK_SECRET, ...paths.filter((p) => p.includes('*'))])];
}

describe('secrets at rest after a case worker signs in, fails and is locked', () => {
  it('attack: read the memory store, the queues and the logs for the code, the PIN or the typed path — nothing found', async () => {
    const w = await startWorld({ env: { PIN_PEPPER: PEPPER } });
    try {
      const needles = await walk(w);
      const store = w.t.gw.store as MemoryStore;
      const entries = store.entries();
      // The scan looked at a real keyspace: the credential, the session and the read model are there.
      expect(entries.map(([k]) => k)).toEqual(
        expect.arrayContaining([`cred:${phone}`, expect.stringMatching(/^session:ussd:/)]),
      );
      expect(entries.length).toBeGreaterThan(20);
      for (const [k, v] of entries)
        expect(leaks(`${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`, needles), k).toEqual([]);
      for (const q of QUEUE_NAMES)
        for (const d of await w.t.gw.queue.deadLetters(q, 1000)) expect(leaks(JSON.stringify(d), needles)).toEqual([]);
      expect(w.t.logs.length).toBeGreaterThan(0);
      for (const line of w.t.logs) expect(leaks(line, needles), line).toEqual([]);
    } finally {
      await w.stop();
    }
  });

  const url = TEST_REDIS_URL;
  const prefix = uniquePrefix('security-secrets');
  afterAll(() => cleanupRedis([prefix]));

  it('attack: SCAN every Redis key (store and BullMQ) and read every value of every type, and the logs — nothing found', async () => {
    await requireRedis();
    const w = await startWorld({
      env: { REDIS_URL: url, PIN_PEPPER: PEPPER, WEBHOOK_SECRET: WEBHOOK_SECRET },
      redisPrefix: prefix,
    });
    const r = new Redis(url);
    try {
      const needles = await walk(w);
      const names = await scanAll(r, prefix.replace(/:$/, ''));
      expect(names).toEqual(
        expect.arrayContaining([
          `${prefix}cred:${phone}`,
          expect.stringMatching(/^jibutest-security-secrets-.*:session:ussd:/),
        ]),
      );
      // BullMQ's keys are scanned too (the completed jobs that carried the code by SMS).
      expect(names.some((k) => k.includes(':outbox-sms:'))).toBe(true);
      const types = new Set<string>();
      for (const k of names) {
        const { type, text } = await readAny(r, k);
        types.add(type);
        expect(leaks(`${k} ${text}`, needles), `${type} ${k}`).toEqual([]);
      }
      expect([...types]).toEqual(expect.arrayContaining(['string', 'hash', 'zset']));
      for (const line of w.t.logs) expect(leaks(line, needles), line).toEqual([]);
    } finally {
      r.disconnect();
      await w.stop();
    }
  });
});

async function scanAll(r: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return [...new Set(out)];
}

/** A key's value as text, whatever its type. */
async function readAny(r: Redis, k: string): Promise<{ type: string; text: string }> {
  const type = await r.type(k);
  switch (type) {
    case 'string':
      return { type, text: (await r.get(k)) ?? '' };
    case 'hash':
      return { type, text: JSON.stringify(await r.hgetall(k)) };
    case 'list':
      return { type, text: JSON.stringify(await r.lrange(k, 0, -1)) };
    case 'set':
      return { type, text: JSON.stringify(await r.smembers(k)) };
    case 'zset':
      return { type, text: JSON.stringify(await r.zrange(k, 0, -1, 'WITHSCORES')) };
    case 'stream':
      return { type, text: JSON.stringify(await r.xrange(k, '-', '+')) };
    default:
      return { type, text: '' };
  }
}
