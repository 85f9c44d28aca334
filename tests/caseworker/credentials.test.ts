import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import {
  applyCredentialOp,
  credentialKey,
  hashPin,
  isWeakPin,
  lockPeriod,
  otpFrom,
  otpHash,
  otpMatches,
  recentOtps,
  resetPin,
  saltFrom,
  verifyPin,
  writeCredentialOp,
  DEFAULT_LOCK_POLICY,
  SCRYPT_PARAMS,
  type Credential,
  type CredentialOp,
} from '../../src/caseworker/credentials.ts';
import { createCaseWorkerJobs } from '../../src/caseworker/jobs.ts';
import { JibuError } from '../../src/errors.ts';
import { createStoreAndQueue } from '../../src/store/index.ts';
import type { QueuedJob } from '../../src/store/types.ts';
import { cleanupRedis, eventually, TEST_REDIS_URL, requireRedis, uniquePrefix } from '../store/harness.ts';
import { loadCaseWorkerSet } from './helpers.ts';

const phone = '+254711000001';
const HOUR = 3_600_000;
let n = 0;
const op = (kind: 'failed' | 'succeeded' | 'otpSent', at = 0, id = `op${++n}`): CredentialOp => ({
  op: kind,
  id,
  phone,
  at,
});
const set = (at = 0): CredentialOp => ({
  op: 'set',
  id: `set${++n}`,
  phone,
  userId: 'JbUsrCw0001',
  hash: 'aGFzaA==',
  salt: 'c2FsdA==',
  params: { ...SCRYPT_PARAMS },
  at,
});
const run = (ops: CredentialOp[], start: Credential | null = null) =>
  ops.reduce<Credential | null>((c, o) => applyCredentialOp(c, o), start);

describe('the credential document', () => {
  it('locks after five wrong tries in a row, for an hour, and doubles the period at each later lock up to a week', () => {
    const four = run([set(), op('failed'), op('failed'), op('failed'), op('failed')]);
    expect(four).toMatchObject({ tries: 4, locks: 0 });
    expect(four?.lockedUntil).toBeUndefined();
    const locked = applyCredentialOp(four, op('failed', 1000));
    expect(locked).toMatchObject({ tries: 0, locks: 1, lockedUntil: 1000 + HOUR });
    // A try arriving while locked (a hop already in flight) neither counts nor extends the lock.
    expect(applyCredentialOp(locked, op('failed', 2000))).toMatchObject({
      tries: 0,
      locks: 1,
      lockedUntil: 1000 + HOUR,
    });
    const again = run(
      [1, 2, 3, 4, 5].map(() => op('failed', 2 * HOUR)),
      locked,
    );
    expect(again).toMatchObject({ locks: 2, lockedUntil: 4 * HOUR });
    expect([0, 1, 2, 3, 7, 8, 30].map((l) => lockPeriod(l) / HOUR)).toEqual([1, 2, 4, 8, 128, 168, 168]);
  });

  it('a successful sign-in clears the tries, the lock and the lock history', () => {
    const c = run([set(), op('failed'), op('failed'), op('succeeded')]);
    expect(c).toMatchObject({ tries: 0, locks: 0, hash: 'aGFzaA==' });
    expect(c?.lockedUntil).toBeUndefined();
  });

  it('applies an operation delivered twice only once, remembering the last twenty', () => {
    const once = op('failed');
    expect(run([set(), once, once, once])?.tries).toBe(1);
    const many = run([set(), ...Array.from({ length: 30 }, () => op('otpSent', 0))]);
    expect(many?.applied).toHaveLength(20);
  });

  it('counts the codes sent in the last hour only', () => {
    const c = run([op('otpSent', 0), op('otpSent', 10 * 60_000), op('otpSent', 50 * 60_000)]);
    expect(recentOtps(c, 55 * 60_000)).toBe(3);
    expect(recentOtps(c, 65 * 60_000)).toBe(2);
    expect(applyCredentialOp(c, op('otpSent', 2 * HOUR)).otpSent).toEqual([2 * HOUR]);
  });

  it('setting a PIN starts afresh but keeps the count of codes sent', () => {
    const c = run([op('otpSent', 5), op('failed'), set(10)]);
    expect(c).toMatchObject({ tries: 0, locks: 0, setAt: 10, otpSent: [5], userId: 'JbUsrCw0001' });
  });
});

describe('PINs and codes', () => {
  it('verifies the PIN it was hashed from and no other 4-digit PIN', () => {
    const salt = saltFrom('id-1');
    const hash = hashPin('4821', salt);
    expect(hashPin('4821', salt)).toBe(hash);
    expect(verifyPin('4821', { hash, salt, params: SCRYPT_PARAMS })).toBe(true);
    expect(hashPin('4821', saltFrom('id-2'))).not.toBe(hash);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), (x) => {
        const pin = String(x).padStart(4, '0');
        return verifyPin(pin, { hash, salt }) === (pin === '4821');
      }),
      { numRuns: 15 },
    );
    expect(verifyPin('04821', { hash, salt })).toBe(false);
    expect(verifyPin('4821', { salt })).toBe(false);
  });

  it('refuses the PINs a stranger tries first: one digit repeated, or a run up or down', () => {
    expect(
      ['0000', '7777', '1234', '6789', '9876', '3210', '123', '12345', 'abcd'].filter((p) => !isWeakPin(p)),
    ).toEqual([]);
    expect(['4821', '1235', '0192', '9870', '2468'].filter(isWeakPin)).toEqual([]);
  });

  it('derives a 6-digit code from a fresh id and keeps only its salted hash', () => {
    fc.assert(fc.property(fc.uuid(), (id) => /^\d{6}$/.test(otpFrom(id)) && otpFrom(id) === otpFrom(id)));
    const codes = new Set(Array.from({ length: 200 }, (_, i) => otpFrom(`id-${i}`)));
    expect(codes.size).toBeGreaterThan(195);
    const code = otpFrom('x');
    const h = otpHash(code, 'salt');
    expect(h).not.toContain(code);
    expect(otpMatches(` ${code} `, 'salt', h)).toBe(true);
    expect(otpMatches(code, 'other-salt', h)).toBe(false);
  });
});

describe('stored in Redis', () => {
  const prefix = uniquePrefix('caseworker-cred');
  afterAll(async () => {
    await cleanupRedis([prefix]);
  });

  it('serialises concurrent writes for one phone (the contact lock), so five wrong tries at once still lock', async () => {
    await requireRedis();
    const sq = await createStoreAndQueue({
      redisUrl: TEST_REDIS_URL,
      clock: fixedClock('2025-11-25T07:00:00Z'),
      prefix,
    });
    try {
      await writeCredentialOp(sq.store, set(0));
      await Promise.all([1, 2, 3, 4, 5].map((i) => writeCredentialOp(sq.store, op('failed', i))));
      const doc = await sq.store.getJson<Credential>(credentialKey(phone));
      expect(doc).toMatchObject({ tries: 0, locks: 1 });
      expect(doc?.lockedUntil).toBeGreaterThan(DEFAULT_LOCK_POLICY.lockMs);
      expect(await resetPin(sq.store, '0711000001', { defaultCountry: 'KE' })).toEqual({ phone, reset: true });
      expect(await sq.store.getJson(credentialKey(phone))).toBeNull();
      await expect(resetPin(sq.store, 'not a phone')).rejects.toThrow(JibuError);
    } finally {
      await sq.close();
    }
  });
});

describe('the job handlers', () => {
  it("apply credential operations, refuse malformed ones, and send the sign-in code in the worker's language", async () => {
    const clock = fixedClock('2025-11-25T07:00:00Z');
    const sq = await createStoreAndQueue({ clock });
    const loaded = await loadCaseWorkerSet();
    const jobs = createCaseWorkerJobs({ store: sq.store, flows: () => loaded.set!, clock });
    const job = (name: string, data: unknown): QueuedJob => ({ id: `j${++n}`, queue: 'jobs', name, data });
    try {
      expect(await jobs['notify.caseworker.credential']!(job('notify.caseworker.credential', set(1)), 1)).toEqual({
        ok: true,
      });
      expect(await sq.store.getJson(credentialKey(phone))).toMatchObject({ hash: 'aGFzaA==' });
      expect(
        await jobs['notify.caseworker.credential']!(job('notify.caseworker.credential', { op: 'set', phone }), 1),
      ).toMatchObject({ ok: false, permanent: true });

      const sent: Array<QueuedJob<{ to: string; text: string; reply: boolean }>> = [];
      const worker = sq.queue.process<{ to: string; text: string; reply: boolean }>('outbox-sms', async (j) => {
        sent.push(j);
        return { ok: true };
      });
      const sms = { kind: 'otp', id: 'otp-1', to: phone, locale: 'sw', code: '123456' };
      expect(await jobs['notify.caseworker.sms']!(job('notify.caseworker.sms', sms), 1)).toEqual({ ok: true });
      expect(await jobs['notify.caseworker.sms']!(job('notify.caseworker.sms', sms), 2)).toEqual({ ok: true }); // redelivered
      expect(
        await jobs['notify.caseworker.sms']!(job('notify.caseworker.sms', { ...sms, code: '12' }), 1),
      ).toMatchObject({ ok: false, permanent: true });
      // A marker queued after them: once it has been worked, every job before it has been too.
      await sq.store.enqueue([
        { id: 'sms:marker', queue: 'outbox-sms', name: 'sendSms', data: { to: 'marker', text: '', reply: true } },
      ]);
      await eventually(
        () => sent.some((j) => j.id === 'sms:marker'),
        (seen) => seen,
      );
      await worker.close();
      expect(
        sent.filter((j) => j.id !== 'sms:marker').map((j) => [j.id, j.data.to, j.data.text, j.data.reply]),
      ).toEqual([['sms:cw-otp:otp-1', phone, 'Jibu: nambari yako ya kuingia ni 123456. Usimpe mtu yeyote.', true]]);
    } finally {
      await sq.close();
    }
  });
});
