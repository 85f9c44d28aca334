import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleSender } from '../../src/channels/console/sender.ts';
import { maskEvent } from '../../src/server/events.ts';
import { SIMULATOR_PUBLIC_DIR } from '../../src/server/simulator/router.ts';
import { startTestGateway, type TestGateway } from '../server/harness.ts';
import { STRONG } from './helpers.ts';
import { CAREGIVER, expectUntouched, queuedJobs } from './world.ts';

/**
 * The admin door and the simulator behind it, on a gateway that is not the all-embedded demo (a real
 * provider is configured; the emulator stands in for DHIS2). Attacks: guessing the token, passing it in
 * the URL, forging the cookie, reading the webhook secret or sign-in codes off the simulator.
 */

const WORKER = '+254711000001';
const CREDENTIAL = { v: 1, hash: 'stored-hash', salt: 'salt', tries: 0 };
let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway(
    {
      LOG_LEVEL: 'silent',
      SMS_PROVIDER: 'http',
      SMS_HTTP_URL: 'http://127.0.0.1:9/send',
      ADMIN_TOKEN: STRONG.ADMIN_TOKEN,
      WEBHOOK_SECRET: STRONG.WEBHOOK_SECRET,
      SIMULATOR: 'true',
      // Each test is its own client (X-Forwarded-For from the loopback "proxy"), so one test's lockout stays its own.
      TRUST_PROXY: 'loopback',
    },
    { senderProvider: 'http' },
  );
  await t.gw.store.setJson(`cred:${WORKER}`, CREDENTIAL);
});
afterAll(async () => {
  await t.stop();
});

const resetPin = (headers: Record<string, string>, ip?: string) =>
  fetch(`${t.url}/admin/pin/reset`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers, ...(ip ? { 'x-forwarded-for': ip } : {}) },
    body: JSON.stringify({ phone: WORKER }),
  });

async function signIn(): Promise<string> {
  const res = await fetch(`${t.url}/admin/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: STRONG.ADMIN_TOKEN, next: '/simulator/' }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  const cookie = /jibu_admin=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0];
  expect(cookie).toBeDefined();
  return cookie ?? '';
}

describe('the admin door', () => {
  it('guessing ADMIN_TOKEN: after ten wrong tokens the client gets 429 even with the right one, and no PIN was reset', async () => {
    const attacker = '192.0.2.10';
    for (let i = 0; i < 10; i++)
      expect((await resetPin({ authorization: `Bearer guess-${i}` }, attacker)).status).toBe(401);
    const blocked = await resetPin({ authorization: `Bearer ${STRONG.ADMIN_TOKEN}` }, attacker);
    expect(blocked.status).toBe(429);
    expect((await blocked.json()).error.code).toBe('JIBU_TOO_MANY_ATTEMPTS');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // The sign-in form is the same door.
    const form = await fetch(`${t.url}/admin/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': attacker },
      body: new URLSearchParams({ token: STRONG.ADMIN_TOKEN }),
      redirect: 'manual',
    });
    expect(form.status).toBe(429);
    expect(form.headers.get('set-cookie')).toBeNull();
    expect(await t.gw.store.getJson(`cred:${WORKER}`)).toEqual(CREDENTIAL);
    // Per client: the operator elsewhere is not locked out.
    const operator = await fetch(`${t.url}/admin/queues`, {
      headers: { authorization: `Bearer ${STRONG.ADMIN_TOKEN}`, 'x-forwarded-for': '192.0.2.20' },
    });
    expect(operator.status).toBe(200);
  });

  it('the token in the URL (?token=, as proxies log it) opens nothing and sets no cookie', async () => {
    const res = await fetch(`${t.url}/simulator/?token=${STRONG.ADMIN_TOKEN}`, {
      headers: { accept: 'text/html' },
      redirect: 'manual',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    const page = await res.text();
    expect(page).toContain('action="/admin/session"');
    expect(page).not.toContain(STRONG.ADMIN_TOKEN);
  });

  it('a cookie holding the raw token, or a forged session, is refused 401', async () => {
    for (const forged of [STRONG.ADMIN_TOKEN, `${Date.now() + 3_600_000}.${'A'.repeat(43)}`, '1.x']) {
      const res = await fetch(`${t.url}/simulator/api/config`, {
        headers: { cookie: `jibu_admin=${encodeURIComponent(forged)}`, 'x-forwarded-for': '192.0.2.50' },
      });
      expect(res.status, forged).toBe(401);
    }
  });
});

describe('the simulator outside the all-embedded demo', () => {
  it('neither the page nor its API hands out WEBHOOK_SECRET or ADMIN_TOKEN; dials go through the server-side endpoint without them', async () => {
    const cookie = await signIn();
    const bodies: string[] = [];
    for (const p of ['/simulator/', '/simulator/api/config', '/simulator/phone.js', '/simulator/index.html']) {
      const res = await fetch(`${t.url}${p}`, { headers: { cookie } });
      expect(res.status, p).toBe(200);
      bodies.push(await res.text());
    }
    for (const f of ['index.html', 'phone.js']) bodies.push(await readFile(path.join(SIMULATOR_PUBLIC_DIR, f), 'utf8'));
    for (const b of bodies) {
      expect(b).not.toContain(STRONG.WEBHOOK_SECRET);
      expect(b).not.toContain(STRONG.ADMIN_TOKEN);
      expect(b).not.toMatch(/webhookKey|\?key=/);
    }
    const hop = await fetch(`${t.url}/simulator/api/ussd`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId: 'sim-1', serviceCode: '*384*12#', phone: '+254700000888', text: '' }),
    });
    expect(hop.status).toBe(200);
    expect(await hop.text()).toMatch(/^CON /);
  });

  it('without the admin session, the simulator endpoints refuse a forged dial or STOP (401), and nothing happens', async () => {
    const before = await queuedJobs(t);
    const stop = await fetch(`${t.url}/simulator/api/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'forged-sim', phone: CAREGIVER, text: 'STOP' }),
    });
    expect(stop.status).toBe(401);
    const hop = await fetch(`${t.url}/simulator/api/ussd`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId: 'forged-sim', serviceCode: '*384*12#', phone: CAREGIVER, text: '1*2' }),
    });
    expect(hop.status).toBe(401);
    await expectUntouched(t, CAREGIVER, before);
  });

  it('the event feed shows no message text (sign-in codes, PINs, names) outside the demo', async () => {
    const cookie = await signIn();
    const phone = '+254700000889';
    const sms = await fetch(`${t.url}/simulator/api/sms`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'sim-sms-1', phone, text: 'hi' }),
    });
    expect(sms.status).toBe(200);
    const feed = await fetch(`${t.url}/simulator/api/events?since=0&limit=500`, { headers: { cookie } });
    const { events } = (await feed.json()) as { events: Array<{ type: string; to?: string; text?: string }> };
    const mine = events.filter((e) => e.type === 'sms.queued' && e.to === phone);
    expect(mine.length).toBeGreaterThan(0);
    // The reply the gateway queued holds the demo menu; the feed says only how long it was.
    const real = t.gw.events.since(0, 1000).events.find((e) => e.type === 'sms.queued' && e.to === phone);
    expect(real && 'text' in real ? real.text : '').toMatch(/Jibu demo/);
    for (const e of mine) expect(e.text).toMatch(/^\[\d+-character text hidden/);
    expect(JSON.stringify(events)).not.toMatch(/Jibu demo/);
  });
});

describe('masking helpers', () => {
  it('a sign-in code and PIN in an SMS or a DHIS2 payload never reach the simulator feed or the console outside the demo', () => {
    const code = '482913';
    const sms = maskEvent({
      type: 'sms.sent',
      id: 'm',
      to: WORKER,
      text: `Your Jibu code is ${code}`,
      provider: 'http',
      at: 1,
    });
    const job = maskEvent({ type: 'job.queued', id: 'j', name: 'pin', data: { pin: '2468' }, at: 1 });
    const write = maskEvent({
      type: 'dhis2.queued',
      id: 'd',
      op: 'note',
      ref: 'r',
      phone: WORKER,
      payload: { value: code },
      at: 1,
    });
    expect(JSON.stringify([sms, job, write])).not.toMatch(/482913|2468/);
    const printed: string[] = [];
    const masked = createConsoleSender({ mask: true, write: (c) => printed.push(c) });
    void masked.send({ id: 'm1', to: WORKER, text: `Your Jibu code is ${code}` });
    expect(printed.join('')).not.toMatch(/482913|711000001/);
    expect(printed.join('')).toMatch(/\[\d+-character text hidden\]/);
    // The demo's console still shows the phone screen in full.
    const shown: string[] = [];
    void createConsoleSender({ write: (c) => shown.push(c) }).send({ id: 'm2', to: WORKER, text: `code ${code}` });
    expect(shown.join('')).toContain(code);
  });
});
