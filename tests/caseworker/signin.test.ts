import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialKey, resetPin } from '../../src/caseworker/credentials.ts';
import { offloadCounts } from '../../src/conversation/offload.ts';
import { DEMO } from '../../src/emulator/index.ts';
import { startWorld, type World } from './world.ts';

/** Sign-in over the AT USSD webhook: a code by SMS and a PIN the first time, the PIN later, the lock. */

let w: World;
const codes: string[] = [];
beforeAll(async () => {
  w = await startWorld();
});
afterAll(async () => {
  await w.stop();
});

const zawadi = DEMO.caseWorkers.kidutani.phone;
const baraka = DEMO.caseWorkers.mtwapa.phone;
const salma = DEMO.caseWorkers.bomani.phone;
const peter = DEMO.caseWorkers.tiwi.phone;

describe('the first dial of a case worker', () => {
  it('sends a one-time code by SMS, then sets a 4-digit PIN (typed twice) and opens the menu', async () => {
    const dial = w.dial(zawadi);
    const first = await dial.start();
    expect(first).toEqual({ end: false, text: 'Welcome Zawadi. We sent you a 6-digit code by SMS. Enter it' });
    const code = await w.otp(zawadi);
    codes.push(code);
    expect(w.smsTo(zawadi).at(-1)).toBe(`Jibu: your sign-in code is ${code}. Do not share it with anyone.`);

    expect((await dial.send(code)).text).toBe('Choose a 4-digit PIN. You will enter it each time you dial');
    // A PIN anyone would try first is refused with the rule.
    expect((await dial.send('1234')).text).toMatch(
      /^Use 4 digits, not all the same and not in a row like 1234\.\nChoose a 4-digit PIN/,
    );
    const hashed = offloadCounts.get('pin-hash') ?? 0;
    expect((await dial.send('4821')).text).toBe('Enter the same PIN again');
    // Hashed once with a salt from the step's own ids: the step taken again after the hash gets the same ids.
    expect(offloadCounts.get('pin-hash')).toBe(hashed + 1);
    expect((await dial.send('4812')).text).toBe("The two PINs were different. Let's try again.\n1. Continue");
    expect((await dial.send('1')).text).toBe('Choose a 4-digit PIN. You will enter it each time you dial');
    await dial.send('4821');
    expect((await dial.send('4821')).text).toBe('Your PIN is set. Next time, dial and enter your PIN.\n1. Continue');
    const menu = await dial.send('1');
    expect(menu.text).toBe(
      'Jibu - Zawadi\n1. Missed visits (5)\n2. Notify a birth\n3. Notify a death\n4. Reaction after a vaccine\n5. Exit\n0. Back\n00. Main menu',
    );

    await w.settle();
    const stored = JSON.stringify(await w.t.gw.store.getJson(credentialKey(zawadi)));
    expect(stored).toMatch(/"hash":"[A-Za-z0-9+/=]{40,}"/);
    expect(stored).not.toContain('4821');
    expect(stored).not.toContain(code);
  });

  it('refuses a wrong code with the tries left, and ends politely after three', async () => {
    const dial = w.dial(baraka);
    await dial.start();
    codes.push(await w.otp(baraka));
    expect((await dial.send('000000')).text).toBe('Wrong code. 2 tries left. Enter the 6-digit code from the SMS');
    expect((await dial.send('111111')).text).toBe('Wrong code. 1 try left. Enter the 6-digit code from the SMS');
    expect(await dial.send('222222')).toEqual({ end: true, text: 'Wrong code. Dial again to get a new code.' });
  });

  it('takes a code only in the dial that sent it: an earlier code does not open a new dial', async () => {
    const first = w.dial(salma);
    await first.start();
    const old = await w.otp(salma);
    codes.push(old);
    const sent = w.smsTo(salma).length;
    const second = w.dial(salma);
    await second.start();
    codes.push(await w.otp(salma, sent));
    expect((await second.send(old)).text).toBe('Wrong code. 2 tries left. Enter the 6-digit code from the SMS');
  });

  it('stops sending codes after three in an hour', async () => {
    for (let i = 0; i < 3; i++) {
      const sent = w.smsTo(peter).length;
      await w.dial(peter).start();
      codes.push(await w.otp(peter, sent));
    }
    await w.settle();
    const sent = w.smsTo(peter).length;
    expect(await w.dial(peter).start()).toEqual({
      end: true,
      text: 'We sent several codes in the last hour. Please try again later.',
    });
    await w.settle();
    expect(w.smsTo(peter)).toHaveLength(sent);
  });
});

describe('a later dial', () => {
  it('asks only for the PIN and sends no code', async () => {
    const sent = w.smsTo(zawadi).length;
    const dial = w.dial(zawadi);
    expect((await dial.start()).text).toBe('Hello Zawadi. Enter your 4-digit PIN');
    const hashed = offloadCounts.get('pin-hash') ?? 0;
    expect((await dial.send('4821')).text).toMatch(/^Jibu - Zawadi\n1\. Missed visits \(5\)/);
    // The PIN was hashed once, on the thread pool, not in the step on the event loop (src/conversation/offload.ts).
    expect(offloadCounts.get('pin-hash')).toBe(hashed + 1);
    await w.settle();
    expect(w.smsTo(zawadi)).toHaveLength(sent);
  });

  it('counts wrong PINs across dials and locks the PIN at the fifth, saying how to get it reset', async () => {
    const a = w.dial(zawadi);
    await a.start();
    expect((await a.send('9999')).text).toBe('Wrong PIN. 4 tries left before it locks. Enter your PIN');
    expect((await a.send('5555')).text).toBe('Wrong PIN. 3 tries left before it locks. Enter your PIN');
    await w.settle(); // the worker hangs up; the tries are stored
    const b = w.dial(zawadi);
    await b.start();
    expect((await b.send('1111')).text).toBe('Wrong PIN. 2 tries left before it locks. Enter your PIN');
    expect((await b.send('2222')).text).toBe('Wrong PIN. 1 try left before it locks. Enter your PIN');
    expect(await b.send('3333')).toEqual({
      end: true,
      text: 'Your PIN is locked after too many wrong tries. Try again in 60 minutes, or ask your supervisor to reset your PIN.',
    });
    await w.settle();
    // Locked means locked: even the right PIN does not get in, and the dial ends at once.
    const c = w.dial(zawadi);
    expect((await c.start()).text).toMatch(/^Your PIN is locked after too many wrong tries\. Try again in 60 minutes/);
  });

  it('opens again with the right PIN once the lock period is over, and a success clears the tries', async () => {
    w.clock.advance(61 * 60_000);
    try {
      const dial = w.dial(zawadi);
      await dial.start();
      expect((await dial.send('4821')).text).toMatch(/^Jibu - Zawadi/);
      await w.settle();
      expect(await w.t.gw.store.getJson(credentialKey(zawadi))).toMatchObject({ tries: 0, locks: 0 });
    } finally {
      w.clock.advance(-61 * 60_000);
    }
  });

  it('after an admin reset (jibu pin reset), signs in with a new code by SMS again', async () => {
    expect(await resetPin(w.t.gw.store, '0711 000 002', { defaultCountry: 'KE' })).toEqual({
      phone: baraka,
      reset: false,
    });
    expect(await resetPin(w.t.gw.store, '0711000001', { defaultCountry: 'KE' })).toEqual({
      phone: zawadi,
      reset: true,
    });
    const sent = w.smsTo(zawadi).length;
    const dial = w.dial(zawadi);
    expect((await dial.start()).text).toMatch(/^Welcome Zawadi\. We sent you a 6-digit code by SMS/);
    const code = await w.otp(zawadi, sent);
    codes.push(code);
    expect((await dial.send(code)).text).toMatch(/^Choose a 4-digit PIN/);
  });
});

describe('callers who are not case workers', () => {
  it('a disabled DHIS2 account is not recognised: its dial lands where any caller lands (the demo here)', async () => {
    const r = await w.dial(DEMO.caseWorkers.disabled.phone).start();
    expect(r.text).toMatch(/^Jibu demo/);
    await w.settle();
    expect(w.smsTo(DEMO.caseWorkers.disabled.phone)).toEqual([]);
  });

  it('without a flow for everyone, an unknown caller and a disabled account get a polite END', async () => {
    const bare = await startWorld({ demo: false });
    try {
      for (const phone of [DEMO.unknownPhone, DEMO.caseWorkers.disabled.phone]) {
        expect(await bare.dial(phone).start()).toEqual({
          end: true,
          text: 'Sorry, there is no service for you here yet. Please ask your health facility.',
        });
      }
      await bare.settle();
      expect(bare.t.sent).toEqual([]);
    } finally {
      await bare.stop();
    }
  });
});

describe('logs', () => {
  it('never contain a PIN, a sign-in code or a message text', async () => {
    await w.settle();
    const logs = w.t.logs.join('');
    expect(logs.length).toBeGreaterThan(1000);
    expect(codes.length).toBeGreaterThanOrEqual(6);
    for (const code of codes) expect(logs).not.toContain(code);
    for (const pin of ['4821', '4812', '9999', '5555', '3333'])
      expect(logs).not.toMatch(new RegExp(`(?<![0-9])${pin}(?![0-9])`));
    for (const text of w.t.sent.map((m) => m.text)) expect(logs).not.toContain(text.slice(0, 30));
    expect(logs).not.toContain('Welcome Zawadi');
  });
});
