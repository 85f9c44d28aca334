import { freePort } from './harness.ts';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import request from 'supertest';
import { atUssd, captured, eventually, startTestGateway } from './harness.ts';
import { heldLoader } from './held.ts';

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return captured(child);
}

describe('process lifecycle', () => {
  it('npm start on embedded defaults says which defaults are in use, serves, and exits 0 on SIGTERM after draining', async () => {
    const port = await freePort();
    const p = startMain({ PORT: String(port), HOST: '127.0.0.1', REDIS_URL: '', DHIS2_URL: '', SMS_PROVIDER: '' });
    const url = `http://127.0.0.1:${port}`;
    // A cold tsx start on a loaded 2-core machine can take tens of seconds; readiness is the event waited for.
    await eventually(async () => (await fetch(`${url}/readyz`).catch(() => null))?.status === 200, 'readiness', 60_000);
    expect(p.output()).toMatch(/do NOT survive a restart/);
    expect(p.output()).toMatch(/printed to the console/);
    const screen = await atUssd(url, { sessionId: 'life-1', phoneNumber: '+254700000601', text: '' });
    expect(screen.body).toMatch(/^CON /);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/stopped/);
  }, 90_000);

  it('refuses to start on an invalid configuration and lists every problem readably', async () => {
    const p = startMain({ PORT: 'eighty', SMS_PROVIDER: 'twilio', TZ: 'Nowhere/Land' });
    expect(await p.exited).toBe(78);
    const out = p.output();
    expect(out).toMatch(/Invalid configuration/);
    expect(out).toMatch(/PORT:/);
    expect(out).toMatch(/TWILIO_AUTH_TOKEN:/);
    expect(out).toMatch(/TZ: unknown time zone/);
    expect(out).not.toMatch(/\n\s+at .+:\d+:\d+/);
  }, 30_000);

  it('drains: a webhook in flight when stop() begins gets its answer; new ones get 503 or no connection', async () => {
    const loader = heldLoader();
    const t = await startTestGateway({}, { loadData: loader.loadData });
    loader.bind(t.gw);
    const phone = '+254700000611';
    const held = loader.hold();
    const inFlight = fetch(`${t.url}/sms/http`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'drain-1', from: phone, to: '21512', text: 'hi' }),
    });
    await held.entered; // the message is inside the core loop, its step not yet committed
    let stopped = false;
    const stopping = t.stop().then(() => {
      stopped = true;
    });

    // Draining: readiness is off and a webhook arriving now is refused with 503, never half-processed.
    const ready = await request(t.gw.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ checks: { accepting: 'draining' } });
    const late = await request(t.gw.app)
      .post('/sms/http')
      .send({ id: 'drain-2', from: '+254700000612', to: '21512', text: 'hi' });
    expect(late.status).toBe(503);
    expect(late.body).toMatchObject({ error: { code: 'JIBU_NOT_READY' } });
    const lateUssd = await request(t.gw.app)
      .post('/ussd/africastalking')
      .type('form')
      .send({ sessionId: 'drain-3', phoneNumber: '+254700000613', serviceCode: '*384*12#', text: '' });
    expect(lateUssd.status).toBe(503);
    // The listener no longer takes connections: a new one is refused or answered 503, never 200.
    const fresh = await fetch(`${t.url}/readyz`).catch(() => null);
    if (fresh !== null) expect(fresh.status).toBe(503);
    expect(stopped).toBe(false); // stop() waits for the request in hand

    held.release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'accepted' });
    await stopping;
    // Its step was committed before the answer: the reply was queued, the late message's was not.
    const queued = t.gw.events.since(0, 1000).events.filter((e) => e.type === 'sms.queued');
    expect(queued.map((e) => (e.type === 'sms.queued' ? e.to : ''))).toEqual([phone]);
  });
});

describe('logs', () => {
  it('never contain message texts, and phone numbers only masked, across a whole conversation', async () => {
    const t = await startTestGateway({ LOG_LEVEL: 'trace' });
    const phone = '+254799887766';
    const secret = 'SENTINEL-TEXT-7f3e';
    try {
      await fetch(`${t.url}/sms/http`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'log-1', from: phone, to: '21512', text: secret }),
      });
      await eventually(() => t.sent.some((m) => m.to === phone), 'reply');
      await fetch(`${t.url}/sms/http`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"broken":',
      });
    } finally {
      await t.stop();
    }
    const all = t.logs.join('');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(secret);
    expect(all).not.toContain(phone);
    expect(all).not.toContain('Jibu demo'); // the reply text
  });
});
