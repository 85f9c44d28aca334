import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { JibuError } from '../../src/errors.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import type { MemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import type { QueuedJob, SessionRecord, StepCommit, Store } from '../../src/store/types.ts';
import { TEST_REDIS_URL, cleanupRedis, requireRedis, uniquePrefix } from './harness.ts';

interface Subject {
  store: Store;
  /** Let time pass as the store sees it: a test clock for memory, the wall clock for Redis. */
  elapse(ms: number): Promise<void>;
  /** Jobs the store has handed to the durable outbox, in order. */
  committedJobs(): Promise<QueuedJob[]>;
  /** Whether the store keeps strict arrival order for lock waiters. */
  fifo: boolean;
  close(): Promise<void>;
}

const prefixes: string[] = [];
const open: Subject[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await cleanupRedis(prefixes);
});

async function memorySubject(): Promise<Subject> {
  const clock = fixedClock('2025-03-03T07:00:00Z');
  const queue = createMemoryJobQueue({ clock });
  const seen: QueuedJob[] = [];
  const observed: MemoryJobQueue = { ...queue, addNow: (jobs) => (seen.push(...jobs), queue.addNow(jobs)) };
  const store = createMemoryStore({ clock, queue: observed });
  return {
    store,
    fifo: true,
    async elapse(ms) {
      clock.advance(ms);
      await sleep(40);
    },
    committedJobs: async () => [...seen],
    async close() {
      await store.close();
      await queue.close();
    },
  };
}

async function redisSubject(): Promise<Subject> {
  const admin: Redis = await requireRedis();
  const prefix = uniquePrefix('store-contract');
  prefixes.push(prefix);
  const store = createRedisStore({ redis: TEST_REDIS_URL, prefix });
  return {
    store,
    fifo: false,
    elapse: (ms) => sleep(ms),
    async committedJobs() {
      return (await admin.lrange(`${prefix}outbox`, 0, -1)).map((s) => JSON.parse(s) as QueuedJob);
    },
    close: () => store.close(),
  };
}

const PHONE = '+254700000001';
const KEY = `ussd:${PHONE}`;

/** A session as the conversation runner writes it: an XState persisted snapshot plus our bookkeeping. */
function session(count: number, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    flowId: 'caregiver-reply',
    flowVersion: '3f9a1c2',
    channel: 'ussd',
    snapshot: {
      status: 'active',
      value: 'askDate',
      context: { count, childUid: 'PQfMcpmXeFE' },
      historyValue: {},
      children: {},
    },
    locale: 'sw',
    startedAt: 1_741_000_000_000,
    updatedAt: 1_741_000_000_000 + count,
    ussdSessionId: 'ATUid_6a2b9f31b1f4d7c1e0f1',
    pathDigest: '#3:b3xhCQKp0cXUMbRkwBuoVQ',
    lastReply: { text: 'CON Chagua tarehe mpya (DDMMYYYY):', end: false },
    invalidCount: 0,
    ...over,
  };
}

function step(over: Partial<StepCommit> = {}): StepCommit {
  return { sessionKey: KEY, session: session(1), sessionTtlMs: 180_000, jobs: [], ...over };
}

const smsJob = (id: string): QueuedJob => ({
  id,
  queue: 'outbox-sms',
  name: 'sendSms',
  data: { to: PHONE, text: 'Asante! Tarehe imebadilishwa.' },
});

function countOf(s: SessionRecord | null): number {
  const snap = s?.snapshot as { context?: { count?: number } } | undefined;
  return snap?.context?.count ?? 0;
}

describe.each([
  ['memory', memorySubject],
  ['redis', redisSubject],
] as const)('Store contract (%s)', (_name, make) => {
  async function subject(): Promise<Subject> {
    const s = await make();
    open.push(s);
    return s;
  }

  it('loads no session and a default contact for a phone never seen', async () => {
    const { store } = await subject();
    const loaded = await store.lockAndLoad(PHONE, KEY);
    expect(loaded.session).toBeNull();
    expect(loaded.contact).toEqual({ optedOut: false });
    expect(loaded.lock.token).toBeTruthy();
    await store.release(loaded.lock);
  });

  it('reads the JSON documents asked for with the lock, null for one that is absent, and only those', async () => {
    const { store } = await subject();
    await store.setJson('rm:caregiver:+254700000001', { children: [{ name: 'Neema' }] });
    await store.setJson('rm:sync', { at: 1 });
    const loaded = await store.lockAndLoad(PHONE, KEY, {
      readJson: ['rm:caregiver:+254700000001', 'rm:worker:+254700000001', 'rm:sync'],
    });
    expect(loaded.docs && Object.fromEntries(loaded.docs)).toEqual({
      'rm:caregiver:+254700000001': { children: [{ name: 'Neema' }] },
      'rm:worker:+254700000001': null,
      'rm:sync': { at: 1 },
    });
    expect(loaded.session).toBeNull();
    await store.release(loaded.lock);
    const plain = await store.lockAndLoad(PHONE, KEY);
    expect(plain.docs).toBeUndefined();
    await store.release(plain.lock);
  });

  it('commits session, contact, dedupe marker and jobs together and releases the lock', async () => {
    const s = await subject();
    const { store } = s;
    const { lock } = await store.lockAndLoad(PHONE, KEY);
    const result = await store.commit(
      lock,
      step({
        session: session(7),
        jobs: [
          smsJob('sms-1'),
          {
            id: 'timer-1',
            queue: 'timers',
            name: 'timer',
            data: { phone: PHONE },
            runAt: Date.parse('2025-03-03T07:03:00Z'),
          },
        ],
        dedupe: { key: 'africastalking:ATXid_a1b2c3', ttlMs: 48 * 3_600_000 },
        contact: { phone: PHONE, patch: { locale: 'sw' } },
      }),
    );
    expect(result).toBe('committed');
    expect(await store.getSession(KEY)).toEqual(session(7));
    expect(await store.getContact(PHONE)).toEqual({ optedOut: false, locale: 'sw' });
    expect(await store.isSeen('africastalking:ATXid_a1b2c3')).toBe(true);
    expect((await s.committedJobs()).map((j) => j.id)).toEqual(['sms-1', 'timer-1']);
    // Released: the next message for this phone gets the lock without waiting.
    const next = await store.lockAndLoad(PHONE, KEY, { waitMs: 50 });
    expect(countOf(next.session)).toBe(7);
    expect(next.contact.locale).toBe('sw');
    await store.release(next.lock);
  });

  it('a duplicate provider message writes nothing but still releases the lock', async () => {
    const s = await subject();
    const { store } = s;
    const dedupe = { key: 'twilio:SM0a1b2c3d4e5f60718293a4b5c6d7e8f9', ttlMs: 60_000 };
    const first = await store.lockAndLoad(PHONE, KEY);
    expect(await store.commit(first.lock, step({ session: session(1), jobs: [smsJob('sms-a')], dedupe }))).toBe(
      'committed',
    );

    const again = await store.lockAndLoad(PHONE, KEY);
    const result = await store.commit(
      again.lock,
      step({
        session: session(2),
        jobs: [smsJob('sms-b')],
        dedupe,
        contact: { phone: PHONE, patch: { optedOut: true } },
      }),
    );
    expect(result).toBe('duplicate');
    expect(countOf(await store.getSession(KEY))).toBe(1);
    expect(await store.getContact(PHONE)).toEqual({ optedOut: false });
    expect((await s.committedJobs()).map((j) => j.id)).toEqual(['sms-a']);
    const third = await store.lockAndLoad(PHONE, KEY, { waitMs: 50 });
    await store.release(third.lock);
  });

  it('a commit with session null deletes the session', async () => {
    const { store } = await subject();
    const a = await store.lockAndLoad(PHONE, KEY);
    await store.commit(a.lock, step());
    const b = await store.lockAndLoad(PHONE, KEY);
    expect(b.session).not.toBeNull();
    await store.commit(b.lock, step({ session: null }));
    expect(await store.getSession(KEY)).toBeNull();
  });

  it('a waiter that cannot get the lock in time is refused with JIBU_BUSY', async () => {
    const { store } = await subject();
    const held = await store.lockAndLoad(PHONE, KEY);
    const err = await store.lockAndLoad(PHONE, KEY, { waitMs: 80 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JibuError);
    expect((err as JibuError).code).toBe('JIBU_BUSY');
    expect((err as JibuError).status).toBe(503);
    await store.release(held.lock);
  });

  it('only the holder token releases the lock', async () => {
    const { store } = await subject();
    const held = await store.lockAndLoad(PHONE, KEY);
    await store.release({ key: held.lock.key, token: 'not-the-holder' });
    await expect(store.lockAndLoad(PHONE, KEY, { waitMs: 60 })).rejects.toMatchObject({ code: 'JIBU_BUSY' });
    await store.release(held.lock);
    const next = await store.lockAndLoad(PHONE, KEY, { waitMs: 60 });
    await store.release(next.lock);
  });

  it('locks are per phone: another contact is never blocked', async () => {
    const { store } = await subject();
    const a = await store.lockAndLoad(PHONE, KEY);
    const b = await store.lockAndLoad('+254700000002', 'ussd:+254700000002', { waitMs: 50 });
    await store.release(a.lock);
    await store.release(b.lock);
  });

  it('hands the lock to waiters one at a time, never two holders at once', async () => {
    const s = await subject();
    const { store } = s;
    const first = await store.lockAndLoad(PHONE, KEY);
    const order: string[] = [];
    let inside = 0;
    let maxInside = 0;
    const waiter = async (name: string) => {
      const l = await store.lockAndLoad(PHONE, KEY, { waitMs: 5_000 });
      inside += 1;
      maxInside = Math.max(maxInside, inside);
      order.push(name);
      await sleep(10);
      inside -= 1;
      await store.release(l.lock);
    };
    const waiters: Array<Promise<void>> = [];
    for (const name of ['b', 'c', 'd']) {
      waiters.push(waiter(name));
      await sleep(15);
    }
    await store.release(first.lock);
    await Promise.all(waiters);
    expect(maxInside).toBe(1);
    expect([...order].sort()).toEqual(['b', 'c', 'd']);
    if (s.fifo) expect(order).toEqual(['b', 'c', 'd']);
  });

  it('a lock whose holder vanished expires after its TTL and passes to the next caller', async () => {
    const s = await subject();
    const { store } = s;
    await store.lockAndLoad(PHONE, KEY, { lockTtlMs: 100 });
    const waiting = store.lockAndLoad(PHONE, KEY, { waitMs: 3_000 });
    await s.elapse(150);
    const next = await waiting;
    await store.release(next.lock);
  });

  it('a step whose lock expired and was taken over is refused at commit and writes nothing', async () => {
    const s = await subject();
    const { store } = s;
    const slow = await store.lockAndLoad(PHONE, KEY, { lockTtlMs: 100 });
    await s.elapse(150);
    const fast = await store.lockAndLoad(PHONE, KEY, { waitMs: 1_000 });
    await store.commit(fast.lock, step({ session: session(2) }));

    const err = await store
      .commit(slow.lock, step({ session: session(99), jobs: [smsJob('late')] }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'JIBU_BUSY' });
    expect(countOf(await store.getSession(KEY))).toBe(2);
    expect((await s.committedJobs()).map((j) => j.id)).not.toContain('late');
  });

  it('serialises concurrent steps for one phone: 50 increments end at 50', async () => {
    const { store } = await subject();
    const increment = async () => {
      const { lock, session: current } = await store.lockAndLoad(PHONE, KEY, { waitMs: 15_000 });
      await sleep(0);
      const n = countOf(current) + 1;
      await store.commit(lock, step({ session: session(n) }));
    };
    await Promise.all(Array.from({ length: 50 }, increment));
    expect(countOf(await store.getSession(KEY))).toBe(50);
  });

  it('applies document updates in the commit: concurrent steps counting on one document lose no increment', async () => {
    const { store } = await subject();
    const bump = (cur: unknown) => ({ tries: ((cur as { tries?: number } | null)?.tries ?? 0) + 1 });
    const increment = async () => {
      const { lock } = await store.lockAndLoad(PHONE, KEY, { waitMs: 15_000 });
      await store.commit(lock, step({ updates: [{ key: 'cred:x', update: bump }] }));
    };
    await Promise.all(Array.from({ length: 30 }, increment));
    expect(await store.getJson('cred:x')).toEqual({ tries: 30 });
  });

  it('sessions expire after their TTL', async () => {
    const s = await subject();
    const { store } = s;
    const { lock } = await store.lockAndLoad(PHONE, KEY);
    await store.commit(lock, step({ sessionTtlMs: 100 }));
    expect(await store.getSession(KEY)).not.toBeNull();
    await s.elapse(150);
    expect(await store.getSession(KEY)).toBeNull();
    const loaded = await store.lockAndLoad(PHONE, KEY);
    expect(loaded.session).toBeNull();
    await store.release(loaded.lock);
  });

  it('dedupe markers are set once and expire after their TTL', async () => {
    const s = await subject();
    const { store } = s;
    expect(await store.isSeen('http:dlr-1')).toBe(false);
    expect(await store.markSeen('http:dlr-1', 100)).toBe(true);
    expect(await store.markSeen('http:dlr-1', 100)).toBe(false);
    expect(await store.isSeen('http:dlr-1')).toBe(true);
    await s.elapse(150);
    expect(await store.isSeen('http:dlr-1')).toBe(false);
    expect(await store.markSeen('http:dlr-1', 100)).toBe(true);
  });

  it('a dedupe marker committed with a step expires after its TTL', async () => {
    const s = await subject();
    const { store } = s;
    const { lock } = await store.lockAndLoad(PHONE, KEY);
    await store.commit(lock, step({ dedupe: { key: 'africastalking:ATXid_exp', ttlMs: 100 } }));
    expect(await store.isSeen('africastalking:ATXid_exp')).toBe(true);
    await s.elapse(150);
    expect(await store.isSeen('africastalking:ATXid_exp')).toBe(false);
  });

  it('contacts keep opt-out, language and undeliverable flags across patches', async () => {
    const { store } = await subject();
    expect(await store.getContact(PHONE)).toEqual({ optedOut: false });
    await store.setContact(PHONE, { optedOut: true });
    await store.setContact(PHONE, { locale: 'rw' });
    expect(await store.getContact(PHONE)).toEqual({ optedOut: true, locale: 'rw' });
    await store.setContact(PHONE, { optedOut: false, undeliverable: true });
    expect(await store.getContact(PHONE)).toEqual({ optedOut: false, locale: 'rw', undeliverable: true });
  });

  it('stores JSON documents, reads many at once with gaps, deletes and expires them', async () => {
    const s = await subject();
    const { store } = s;
    const appointments = [{ event: 'Zj7UnCAulEk', child: 'Amina', scheduledAt: '2025-03-05T00:00:00.000' }];
    await store.setJson(`rm:appt:${PHONE}`, appointments);
    await store.setJson('rm:worker:+254711000001', { orgUnit: 'DiszpKrYNg8', name: 'Wanjiru' }, 100);
    expect(await store.getJson(`rm:appt:${PHONE}`)).toEqual(appointments);
    expect(await store.getJsonMany([`rm:appt:${PHONE}`, 'rm:appt:+254799999999', 'rm:worker:+254711000001'])).toEqual([
      appointments,
      null,
      { orgUnit: 'DiszpKrYNg8', name: 'Wanjiru' },
    ]);
    expect(await store.getJsonMany([])).toEqual([]);
    await s.elapse(150);
    expect(await store.getJson('rm:worker:+254711000001')).toBeNull();
    await store.delete([`rm:appt:${PHONE}`]);
    expect(await store.getJson(`rm:appt:${PHONE}`)).toBeNull();
  });

  it('lists: items pushed at once all land, newest first, trimmed to the length asked', async () => {
    const { store } = await subject();
    // 30 pushes in flight together: a read-then-write list would keep only some of them.
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.pushList('admin:list', [{ n: i }], 25)));
    const all = await store.readList<{ n: number }>('admin:list', 100);
    expect(all).toHaveLength(25);
    expect(new Set(all.map((x) => x.n)).size).toBe(25);
    await store.pushList('admin:list', [{ n: 'a' }, { n: 'b' }], 25);
    expect(await store.readList('admin:list', 3)).toEqual([{ n: 'a' }, { n: 'b' }, all[0]]);
    expect(await store.readList('admin:none', 10)).toEqual([]);
    await store.delete(['admin:list']);
    expect(await store.readList('admin:list', 10)).toEqual([]);
  });

  it('the keyspace is shared: delete of a session key ends that session', async () => {
    const { store } = await subject();
    const { lock } = await store.lockAndLoad(PHONE, KEY);
    await store.commit(lock, step());
    await store.delete([`session:${KEY}`]);
    expect(await store.getSession(KEY)).toBeNull();
  });

  it('a stored session that no longer fits the schema reads as no session', async () => {
    const { store } = await subject();
    await store.setJson(`session:${KEY}`, { flowId: 42, snapshot: 'garbled' });
    expect(await store.getSession(KEY)).toBeNull();
    const loaded = await store.lockAndLoad(PHONE, KEY);
    expect(loaded.session).toBeNull();
    await store.release(loaded.lock);
  });

  it('keeps session fields it does not know (written by a newer release)', async () => {
    const { store } = await subject();
    const { lock } = await store.lockAndLoad(PHONE, KEY);
    const newer = { ...session(3), pendingConfirmation: { eventUid: 'Zj7UnCAulEk' } } as SessionRecord;
    await store.commit(lock, step({ session: newer }));
    expect(await store.getSession(KEY)).toEqual(newer);
  });

  it('enqueue puts jobs on the durable outbox outside any step', async () => {
    const s = await subject();
    await s.store.enqueue([smsJob('reminder-Zj7UnCAulEk-2d-2025-03-03')]);
    expect((await s.committedJobs()).map((j) => j.id)).toEqual(['reminder-Zj7UnCAulEk-2d-2025-03-03']);
  });

  it('answers ping while healthy', async () => {
    const { store } = await subject();
    await expect(store.ping()).resolves.toBeUndefined();
  });
});

// The memory store's commit is one synchronous run: nothing can write between its read and its write.
describe('Store contract (redis only)', () => {
  it('a document written by someone else between read and commit is read again, not overwritten', async () => {
    const { store } = await redisSubject().then((x) => (open.push(x), x));
    await store.setJson('cred:y', { tries: 1 });
    let calls = 0;
    const { lock } = await store.lockAndLoad(PHONE, KEY);
    const result = await store.commit(
      lock,
      step({
        updates: [
          {
            key: 'cred:y',
            update: (cur) => {
              calls++;
              // A writer that does not hold the contact lock: its SET reaches Redis before the commit script.
              if (calls === 1) void store.setJson('cred:y', { tries: 5 });
              return { tries: ((cur as { tries: number }).tries ?? 0) + 1 };
            },
          },
        ],
      }),
    );
    expect(result).toBe('committed');
    // The commit saw the document change, read it again and counted on the new value.
    expect(await store.getJson('cred:y')).toEqual({ tries: 6 });
    expect(calls).toBe(2);
  });
});
