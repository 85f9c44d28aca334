import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atUssd, startTestGateway, type TestGateway } from './harness.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t.stop();
});

const phone = '+254700000101';

describe("Africa's Talking USSD end to end", () => {
  it('walks the demo flow from the first dial to END with AT-shaped requests', async () => {
    const sessionId = 'ATUid_e2e_walk';
    const inputs = ['', '2', '14', 'tomorrow', '1'];
    const screens: string[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const r = await atUssd(t.url, { sessionId, phoneNumber: phone, text: inputs.slice(1, i + 1).join('*') });
      expect(r.status).toBe(200);
      expect(r.type).toMatch(/^text\/plain/);
      expect(r.body).toMatch(/^(CON|END) /);
      expect(r.body.length - 4).toBeLessThanOrEqual(160);
      screens.push(r.body);
    }
    expect(screens[0]).toMatch(/^CON Jibu demo/);
    expect(screens[1]).toMatch(/^CON How old/);
    // Keep answering "1" (continue) until the flow ends; it must end within a few hops.
    let path = inputs.slice(1);
    let last = screens.at(-1) ?? '';
    for (let i = 0; i < 5 && last.startsWith('CON '); i++) {
      path = [...path, '1'];
      last = (await atUssd(t.url, { sessionId, phoneNumber: phone, text: path.join('*') })).body;
    }
    expect(last).toMatch(/^END Thank you\. Your answers are recorded\. Reference \S+/);
  });

  it('shows the same screen again when AT re-sends a hop, without advancing', async () => {
    const sessionId = 'ATUid_e2e_retry';
    await atUssd(t.url, { sessionId, phoneNumber: '+254700000102', text: '' });
    const first = await atUssd(t.url, { sessionId, phoneNumber: '+254700000102', text: '2' });
    const again = await atUssd(t.url, { sessionId, phoneNumber: '+254700000102', text: '2' });
    expect(again.body).toBe(first.body);
    const next = await atUssd(t.url, { sessionId, phoneNumber: '+254700000102', text: '2*7' });
    expect(next.body).toMatch(/^CON When is the next clinic visit/);
  });

  it('shows the same final screen when AT re-sends the hop that ended the dial, and a new dial starts afresh', async () => {
    const sessionId = 'ATUid_e2e_end_retry';
    const phone = '+254700000107';
    await atUssd(t.url, { sessionId, phoneNumber: phone, text: '' });
    const end = await atUssd(t.url, { sessionId, phoneNumber: phone, text: '3' });
    expect(end.body).toMatch(/^END Thank you for trying Jibu/);
    const again = await atUssd(t.url, { sessionId, phoneNumber: phone, text: '3' });
    expect(again.body).toBe(end.body);
    const fresh = await atUssd(t.url, { sessionId: 'ATUid_e2e_end_retry_2', phoneNumber: phone, text: '' });
    expect(fresh.body).toMatch(/^CON Jibu demo/);
  });

  it('keeps its own record of hops, so an aggregator that sends only the latest input works too', async () => {
    const sessionId = 'latest-only-1';
    await atUssd(t.url, { sessionId, phoneNumber: '+254700000103', text: '' });
    await atUssd(t.url, { sessionId, phoneNumber: '+254700000103', text: '2' });
    const r = await atUssd(t.url, { sessionId, phoneNumber: '+254700000103', text: '7' }); // not "2*7"
    expect(r.body).toMatch(/^CON When is the next clinic visit/);
  });

  it('re-prompts with a short hint on invalid input and keeps the caller on the same question', async () => {
    const sessionId = 'ATUid_e2e_invalid';
    await atUssd(t.url, { sessionId, phoneNumber: '+254700000104', text: '' });
    await atUssd(t.url, { sessionId, phoneNumber: '+254700000104', text: '2' });
    const r = await atUssd(t.url, { sessionId, phoneNumber: '+254700000104', text: '2*999' });
    expect(r.body).toMatch(/^CON .*0 to 60/s);
    expect(r.body).toMatch(/How old is your child/);
  });

  it('starts a new conversation when the same phone dials again with a new session id', async () => {
    await atUssd(t.url, { sessionId: 'ATUid_a', phoneNumber: '+254700000105', text: '' });
    await atUssd(t.url, { sessionId: 'ATUid_a', phoneNumber: '+254700000105', text: '2' });
    const r = await atUssd(t.url, { sessionId: 'ATUid_b', phoneNumber: '+254700000105', text: '' });
    expect(r.body).toMatch(/^CON Jibu demo/);
  });

  it('answers a malformed hop with 400 and a stable error code, never a screen', async () => {
    const res = await fetch(`${t.url}/ussd/africastalking`, {
      method: 'POST',
      body: new URLSearchParams({ sessionId: 'x', text: '' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; detail: string } };
    expect(body.error.code).toBe('JIBU_BAD_REQUEST');
    expect(body.error.detail).toMatch(/phoneNumber/);
  });

  it('records the end-of-session notification', async () => {
    const res = await fetch(`${t.url}/ussd/africastalking/events`, {
      method: 'POST',
      body: new URLSearchParams({
        date: '2026-11-25 10:00:00',
        sessionId: 'ATUid_a',
        serviceCode: '*384*12#',
        networkCode: '63902',
        phoneNumber: '+254700000105',
        status: 'Incomplete',
        cost: 'KES 0.10',
        durationInMillis: '5400',
        hopsCount: '2',
        input: '2',
        lastAppResponse: 'CON How old',
        errorMessage: '',
      }),
    });
    expect(res.status).toBe(200);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/jibu_ussd_sessions_ended_total\{status="Incomplete"\} 1/);
  });
});

describe('webhook key', () => {
  let k: TestGateway;
  beforeAll(async () => {
    k = await startTestGateway({ WEBHOOK_SECRET: 's3cret-key' });
  });
  afterAll(async () => {
    await k.stop();
  });

  it("refuses Africa's Talking and generic callbacks without the key, and accepts them with it", async () => {
    const hop = { sessionId: 'k1', phoneNumber: '+254700000106', text: '' };
    expect((await atUssd(k.url, hop)).status).toBe(403);
    expect((await atUssd(k.url, hop, 'wrong')).status).toBe(403);
    expect((await atUssd(k.url, hop, 's3cret-key')).body).toMatch(/^CON /);
    const sms = await fetch(`${k.url}/sms/http`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'g1', from: '+254700000106', to: '21512', text: 'hi' }),
    });
    expect(sms.status).toBe(403);
    expect(((await sms.json()) as { error: { code: string } }).error.code).toBe('JIBU_BAD_WEBHOOK_KEY');
  });
});
