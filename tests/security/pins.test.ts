import { createHmac, scryptSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_PIN_PEPPER,
  LEGACY_SCRYPT_PARAMS,
  credentialKey,
  hashPin,
  parseCredential,
  saltFrom,
  verifyPin,
} from '../../src/caseworker/credentials.ts';
import { loadConfig } from '../../src/config.ts';
import { JibuError } from '../../src/errors.ts';
import { EXTRA_WORKERS, startWorld, type Dial, type Screen, type World } from '../caseworker/world.ts';

/**
 * Attacks on case workers' PINs (SECURITY.md "PINs and sign-in codes").
 *
 * Guess a case worker's PIN faster than the lock counts. The wrong-try count used to be written
 * by a job, so with the `jobs` queue busy or stopped, 24 wrong PINs over 6 dials were all checked before
 * the right one. Now the count lands in the step's own commit.
 *
 * Brute-force a hash taken from a copy of Redis: 4 digits are 10 000 tries, so the PIN is keyed with a
 * pepper from the environment (never in Redis) before a scrypt of N = 2^15.
 */

const PIN = '8239';
const phone = EXTRA_WORKERS.mwele!.phone;
/** The gateway's pepper in these tests (as PIN_PEPPER would set it). */
const PEPPER = 'c0ffee5e1f1a7b3d9e2c4a6b8d0f1e3c5a7b9d1f3e5c7a9b1d3f5e7a9c1b3d5f';
let w: World;

beforeAll(async () => {
  w = await startWorld({ env: { PIN_PEPPER: PEPPER } });
  await w.signIn(phone, PIN);
  await w.settle();
});

afterAll(async () => {
  await w?.stop();
});

/** scrypt as the documentation states it, written out here rather than through the code under test. */
function documentedHash(pin: string, salt: string, pepper: string): string {
  const keyed = createHmac('sha256', pepper).update(pin).digest();
  return scryptSync(keyed, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }).toString('base64');
}

describe('PIN hashes', () => {
  it('attack: brute-force a stored PIN hash — it is scrypt N=2^15, r=8, p=1 of the PIN keyed with the pepper', async () => {
    const cred = parseCredential(await w.t.gw.store.getJson(credentialKey(phone)));
    expect(cred).toMatchObject({ params: { N: 32768, r: 8, p: 1 }, peppered: true });
    expect(cred?.hash).toBe(documentedHash(PIN, cred!.salt!, PEPPER));
    // Without the pepper (all a copy of Redis holds) no PIN of the 10 000 matches the stored hash.
    const stolen = { hash: cred!.hash, salt: cred!.salt, params: cred!.params, peppered: cred!.peppered };
    expect(verifyPin(PIN, stolen)).toBe(false);
    expect(verifyPin(PIN, stolen, DEMO_PIN_PEPPER)).toBe(false);
    expect(verifyPin(PIN, { ...stolen, peppered: undefined })).toBe(false);
    expect(verifyPin(PIN, stolen, PEPPER)).toBe(true);
  });

  it('upgrades a hash of the old scheme (N=2^13, no pepper) on the next correct sign-in, and keeps the worker signed in', async () => {
    const worker = EXTRA_WORKERS.jumba!;
    const salt = saltFrom('legacy');
    const legacy = hashPin('4096', salt, LEGACY_SCRYPT_PARAMS);
    await w.t.gw.store.setJson(credentialKey(worker.phone), {
      v: 1,
      userId: worker.id,
      hash: legacy,
      salt,
      tries: 0,
      locks: 0,
      otpSent: [],
      applied: [],
    });
    const dial = w.dial(worker.phone);
    expect((await dial.start()).text).toMatch(/Enter your 4-digit PIN/);
    // A wrong PIN against the old hash counts like any other and changes nothing else.
    expect((await dial.send('7351')).text).toMatch(/^Wrong PIN\. 4 tries left/);
    expect(parseCredential(await w.t.gw.store.getJson(credentialKey(worker.phone)))).toMatchObject({
      hash: legacy,
      tries: 1,
    });
    const menu = await dial.send('4096');
    expect(menu.text).toMatch(/^Jibu - Jean\n/);
    const cred = parseCredential(await w.t.gw.store.getJson(credentialKey(worker.phone)));
    expect(cred).toMatchObject({ params: { N: 32768, r: 8, p: 1 }, peppered: true, tries: 0 });
    expect(cred?.salt).not.toBe(salt);
    expect(cred?.hash).toBe(documentedHash('4096', cred!.salt!, PEPPER));
    // Still signed in on the next hop (the session's fingerprint follows the new hash) and on a new dial.
    expect((await dial.send('1')).text).not.toMatch(/PIN/);
    const next = w.dial(worker.phone);
    await next.start();
    expect((await next.send('4096')).text).toMatch(/^Jibu - Jean\n/);
  });

  it('attack: start against a real DHIS2 without a pepper, or with a short one — refused, every problem listed', () => {
    const base = { DHIS2_URL: 'https://dhis2.example.org', DHIS2_TOKEN: 'd2p_x', ADMIN_TOKEN: 'x'.repeat(40) };
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(JibuError);
        return (err as JibuError).detail as string[];
      }
    };
    expect(problems(base)).toEqual(expect.arrayContaining([expect.stringMatching(/^PIN_PEPPER: .*required/)]));
    expect(problems({ ...base, PIN_PEPPER: 'short-pepper' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^PIN_PEPPER: .*at least 32/)]),
    );
    expect(problems({ ...base, PIN_PEPPER: PEPPER }).filter((p) => p.startsWith('PIN_PEPPER'))).toEqual([]);
    // The embedded demo needs none.
    expect(loadConfig({}).PIN_PEPPER).toBeUndefined();
  });
});

describe('PIN lockout with the jobs queue stopped', () => {
  it('attack: 24+ wrong PINs over 12 dials (6 at once) — the fifth locks, then the right PIN is refused', async () => {
    await w.stopJobs();
    const waiting = w.dial(phone);
    expect((await waiting.start()).text).toMatch(/Enter your 4-digit PIN/);

    const screens: Screen[] = [];
    let typed = 0;
    /** One dial typing wrong PINs until four were answered, the dial ends, or `hops` run out. */
    const attack = async (d: Dial, i: number, hops: number) => {
      let s = await d.start();
      let answered = 0;
      for (let hop = 0; hop < hops && !s.end && answered < 4; hop++) {
        s = await d.send(String(5000 + i * 100 + hop * 3));
        typed++;
        screens.push(s);
        if (/^(Wrong PIN|Your PIN is locked)/.test(s.text)) answered++;
      }
    };
    // Six dials at once. There is one session per phone, so dials displace each other and many hops
    // start over; whatever PINs get checked are counted in the store, shared by all six.
    await Promise.all(Array.from({ length: 6 }, (_, i) => attack(w.dial(phone), i, 4)));
    // Then six more dials one after another, four wrong PINs each: 24 and more in all.
    for (let i = 6; i < 12; i++) await attack(w.dial(phone), i, 4);
    expect(typed).toBeGreaterThanOrEqual(24);
    const wrong = screens.filter((s) => /^Wrong PIN\./.test(s.text));
    const lockedNow = screens.filter((s) => /^Your PIN is locked/.test(s.text));
    // Exactly four "tries left" answers; the fifth wrong PIN locks; every later hop is refused.
    expect(wrong.map((s) => s.text.match(/(\d) tr/)?.[1]).sort()).toEqual(['1', '2', '3', '4']);
    expect(lockedNow.length).toBeGreaterThanOrEqual(1);
    expect(screens.filter((s) => /^Jibu - /.test(s.text))).toEqual([]);

    // The count is in the store already, not in a job waiting on the stopped queue.
    const cred = parseCredential(await w.t.gw.store.getJson(credentialKey(phone)));
    expect(cred?.lockedUntil).toBeGreaterThan(w.clock.now().getTime());
    expect(cred?.locks).toBe(1);
    const jobs = await w.t.gw.queue.counts('jobs');
    expect(jobs.waiting + jobs.delayed).toBe(0);

    // The right PIN is refused, in a dial opened before the lock (displaced since) and in a new one.
    const late = await waiting.send(PIN);
    expect(late).toMatchObject({ end: true, text: expect.stringMatching(/^Your PIN is locked/) });
    const fresh = await w.dial(phone).start();
    expect(fresh).toMatchObject({ end: true, text: expect.stringMatching(/^Your PIN is locked/) });
    // Nothing was written to DHIS2 and no SMS went out for any of these dials.
    expect(w.smsTo(phone).length).toBe(1);
  });
});
