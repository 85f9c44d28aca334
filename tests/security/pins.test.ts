import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialKey, parseCredential } from '../../src/caseworker/credentials.ts';
import { EXTRA_WORKERS, startWorld, type Dial, type Screen, type World } from '../caseworker/world.ts';

/**
 * Attack: guess a case worker's PIN faster than the lock counts. The wrong-try count used to be written
 * by a job, so with the `jobs` queue busy or stopped, 24 wrong PINs over 6 dials were all checked before
 * the right one. Now the count lands in the step's own commit (SECURITY.md "PINs and sign-in codes").
 */

const PIN = '8239';
const phone = EXTRA_WORKERS.mwele!.phone;
let w: World;

beforeAll(async () => {
  w = await startWorld();
  await w.signIn(phone, PIN);
  await w.settle();
});

afterAll(async () => {
  await w?.stop();
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
    expect(screens.filter((s) => /^Hello Neema\.\n|^1\. /.test(s.text))).toEqual([]);

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
