import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../src/emulator/index.ts';
import { fixedClock } from '../../src/clock.ts';
import { NOW } from '../caregiver/helpers.ts';
import { startWorld, type World } from '../caseworker/world.ts';
import { startTestGateway, type TestGateway } from './harness.ts';

/**
 * The generic USSD channel (`POST /ussd/http`, src/channels/http/ussd.ts): aggregators that send only
 * the latest input. The same gateway as the Africa's Talking tests, with the demo DHIS2 behind it.
 */

const SECRET = 'http-ussd-secret';
let w: World;
/** The shipped flows (the caregiver ones included) over the demo DHIS2, at the caregiver fixtures' date. */
let shipped: TestGateway;
beforeAll(async () => {
  w = await startWorld({ env: { WEBHOOK_SECRET: SECRET } });
  shipped = await startTestGateway(
    { WEBHOOK_SECRET: SECRET, DEFAULT_COUNTRY: 'KE', TZ: 'Africa/Nairobi' },
    { clock: fixedClock(NOW) },
  );
});
afterAll(async () => {
  await w?.stop();
  await shipped?.stop();
});

let sessions = 0;

async function post(body: unknown, opts: { key?: string | null; raw?: string; url?: string } = {}) {
  const key = opts.key === undefined ? SECRET : opts.key;
  const res = await fetch(`${opts.url ?? w.url}/ussd/http${key === null ? '' : `?key=${encodeURIComponent(key)}`}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: opts.raw ?? JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** One dial: each hop posts only the latest input, with a hop id as the aggregator counts them. */
function dial(phone: string, url?: string) {
  const sessionId = `http-${process.pid}-${++sessions}`;
  let hop = 0;
  const send = async (input: string, hopId: number = ++hop) => {
    const r = await post({ sessionId, phone, serviceCode: '*384*12#', input, hopId }, { url });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(Object.keys(r.json).sort()).toEqual(['end', 'text']);
    return r.json as { text: string; end: boolean };
  };
  return { sessionId, send, again: () => send('', hop) };
}

describe('POST /ussd/http', () => {
  it('a caregiver dials and confirms the visit; the final screen stays for a re-sent last hop', async () => {
    const d = dial('+254700000002', shipped.url);
    expect(await d.send('')).toEqual({
      end: false,
      text: 'Neema: next clinic visit 27/11/2025.\n1. Confirm the visit\n2. Change the date\n3. Report a reaction\n4. Language\n00. Main menu',
    });
    const done = await d.send('1');
    expect(done.end).toBe(true);
    expect(done.text).toMatch(/^Thank you\. We expect Neema at the clinic on 27\/11\/2025\. Ref \S+\.$/);
    expect(await d.again()).toEqual(done);
  });

  it('a case worker signs in with the code and a PIN and reaches the main menu', async () => {
    const phone = DEMO.caseWorkers.kidutani.phone;
    const d = dial(phone);
    expect(await d.send('')).toEqual({
      end: false,
      text: 'Welcome Zawadi. We sent you a 6-digit code by SMS. Enter it',
    });
    const code = await w.otp(phone);
    expect((await d.send(code)).text).toBe('Choose a 4-digit PIN. You will enter it each time you dial');
    expect((await d.send('4821')).text).toBe('Enter the same PIN again');
    expect((await d.send('4821')).text).toBe('Your PIN is set. Next time, dial and enter your PIN.\n1. Continue');
    expect((await d.send('1')).text).toBe(
      'Jibu - Zawadi\n1. Missed visits (5)\n2. Notify a birth\n3. Notify a death\n4. Reaction after a vaccine\n5. Exit\n0. Back\n00. Main menu',
    );
  });

  it('answers a re-sent hop (same hop id) with the same screen and takes it once', async () => {
    const d = dial('+254700000002', shipped.url);
    await d.send('');
    const change = await d.send('2');
    expect(change.end).toBe(false);
    // The aggregator re-sends hop 2: the same screen, not the answer to "2" typed on the next screen.
    expect(await d.again()).toEqual(change);
    // A new hop with the same input is a new answer: "2" is no date, so the hint comes first.
    const next = await d.send('2');
    expect(next.text).not.toBe(change.text);
    expect(next.end).toBe(false);
  });

  it('refuses a request without the webhook key, or with a wrong one, like /sms/http', async () => {
    const hop = { sessionId: 'http-forged', phone: '+254700000002', serviceCode: '*384*12#', input: '' };
    for (const key of [null, 'wrong']) {
      const r = await post(hop, { key });
      expect(r.status).toBe(403);
      expect(r.json).toMatchObject({ error: { code: 'JIBU_BAD_WEBHOOK_KEY' } });
    }
  });

  it('refuses bad JSON and malformed hops with a 400 and a stable code', async () => {
    const bad = await post(null, { raw: '{"sessionId": "x", ' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: 'JIBU_BAD_REQUEST' } });
    const missing = await post({ sessionId: 'x', phone: '+254700000002', serviceCode: '*384*12#' });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ error: { code: 'JIBU_BAD_REQUEST' } });
    expect(JSON.stringify(missing.json)).toContain('input: missing');
    const phone = await post({ sessionId: 'x', phone: 'not a phone', serviceCode: '*384*12#', input: '' });
    expect(phone.status).toBe(400);
    expect(phone.json).toMatchObject({ error: { code: 'JIBU_BAD_PHONE' } });
  });
});
