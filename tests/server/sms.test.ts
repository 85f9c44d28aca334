import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import twilio from 'twilio';
import { dedupeKey, sessionKey } from '../../src/conversation/runner.ts';
import { eventually, startTestGateway, type TestGateway } from './harness.ts';

const TOKEN = 'twilio-test-token';
const PUBLIC = 'https://gw.example.org';
// Provider keys are set, so this is not the all-embedded demo: the unsigned webhooks need the secret.
const KEY = 'sms-test-webhook-secret';
let t: TestGateway;
beforeAll(async () => {
  // The captured sender stands in for Africa's Talking, so AT delivery reports find its messages.
  t = await startTestGateway(
    { TWILIO_AUTH_TOKEN: TOKEN, TWILIO_ACCOUNT_SID: 'AC' + '0'.repeat(32), PUBLIC_URL: PUBLIC, WEBHOOK_SECRET: KEY },
    { senderProvider: 'africastalking' },
  );
});
afterAll(async () => {
  await t.stop();
});

function atSms(fields: Record<string, string>) {
  return fetch(`${t.url}/sms/africastalking?key=${KEY}`, {
    method: 'POST',
    body: new URLSearchParams({ linkId: '', to: '21512', date: '2026-11-25 09:00:00', ...fields }),
  });
}
const sentTo = (phone: string) => t.sent.filter((m) => m.to === phone);

describe("Africa's Talking SMS", () => {
  it('answers an inbound SMS with a reply sent through the provider queue', async () => {
    const res = await atSms({ id: 'ec9adc86-0001', from: '+254700000201', text: 'Habari' });
    expect(res.status).toBe(200);
    const [reply] = await eventually(
      () => sentTo('+254700000201').length > 0 && sentTo('+254700000201'),
      'the reply SMS',
    );
    expect(reply?.text).toMatch(/Jibu demo/);
  });

  it('processes a replayed message id once: acknowledged, but not answered or written twice', async () => {
    const phone = '+254700000202';
    for (let i = 0; i < 3; i++) expect((await atSms({ id: 'ec9adc86-dup', from: phone, text: '2' })).status).toBe(200);
    // The two replays were recognised before anything was committed (the counter moves on that path
    // only, before the 200), so exactly one step, and one reply, came of the three posts.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/jibu_duplicate_webhooks_total\{provider="africastalking"\} 2/);
    await eventually(() => sentTo(phone).length > 0, 'the first reply');
    expect(sentTo(phone)).toHaveLength(1);
  });

  it('reads a national number with DEFAULT_COUNTRY and answers to its E.164 form', async () => {
    await atSms({ id: 'nat-1', from: '0700000203', text: 'hi' });
    await eventually(() => sentTo('+254700000203').length > 0, 'reply to the normalised number');
  });

  it('honours STOP in any language: confirms, then sends nothing unsolicited until START', async () => {
    const phone = '+254700000204';
    await atSms({ id: 'stop-1', from: phone, text: 'acha' });
    const [confirm] = await eventually(() => sentTo(phone).length > 0 && sentTo(phone), 'the STOP confirmation');
    expect(confirm?.text).toBeTruthy();
    expect((await t.gw.store.getContact(phone)).optedOut).toBe(true);
    await t.gw.store.enqueue([
      {
        id: 'sms:unsolicited-1',
        queue: 'outbox-sms',
        name: 'sendSms',
        data: { to: phone, text: 'Reminder', locale: 'en', reply: false },
      },
    ]);
    await eventually(
      async () =>
        (await t.gw.store.getJson<{ status: string }>('msg:sms:unsolicited-1'))?.status === 'skipped_opted_out',
      'the skipped record',
    );
    expect(sentTo(phone)).toHaveLength(1);
    await atSms({ id: 'start-1', from: phone, text: 'START' });
    await eventually(async () => (await t.gw.store.getContact(phone)).optedOut === false, 'opt-in');
  });

  it('applies delivery reports in any order without downgrading a final state', async () => {
    const phone = '+254700000205';
    await atSms({ id: 'dlr-src', from: phone, text: 'hi' });
    await eventually(() => sentTo(phone).length > 0, 'reply');
    const jobId = sentTo(phone)[0]?.id ?? '';
    const rec = await eventually(
      () => t.gw.store.getJson<{ providerMessageId: string }>(`msg:${jobId}`),
      'message record',
    );
    const dlr = (status: string) =>
      fetch(`${t.url}/sms/africastalking/delivery?key=${KEY}`, {
        method: 'POST',
        body: new URLSearchParams({
          id: rec.providerMessageId,
          status,
          phoneNumber: phone,
          networkCode: '63902',
          retryCount: '0',
        }),
      });
    expect((await dlr('Success')).status).toBe(200);
    expect((await dlr('Buffered')).status).toBe(200);
    expect((await dlr('SomethingNew')).status).toBe(200);
    expect((await t.gw.store.getJson<{ status: string }>(`msg:${jobId}`))?.status).toBe('delivered');
  });
});

describe('Twilio SMS', () => {
  const params = (sid: string, from: string, body: string) => ({
    ToCountry: 'KE',
    SmsMessageSid: sid,
    NumMedia: '0',
    SmsSid: sid,
    SmsStatus: 'received',
    Body: body,
    To: '+15005550006',
    NumSegments: '1',
    MessageSid: sid,
    AccountSid: 'AC' + '0'.repeat(32),
    From: from,
    ApiVersion: '2010-04-01',
  });
  const post = (p: Record<string, string>, signature?: string) =>
    fetch(`${t.url}/sms/twilio`, {
      method: 'POST',
      headers: signature === undefined ? {} : { 'x-twilio-signature': signature },
      body: new URLSearchParams(p),
    });

  it('refuses a forged or missing signature with 403 and processes nothing', async () => {
    const p = params('SM' + 'f'.repeat(32), '+254700000301', 'hi');
    const forged = await post(p, 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe('JIBU_BAD_SIGNATURE');
    expect((await post(p)).status).toBe(403);
    // Refused before the core loop: no session, no dedupe marker, nothing queued.
    expect(await t.gw.store.getSession(sessionKey('sms', '+254700000301'))).toBeNull();
    expect(await t.gw.store.isSeen(dedupeKey('twilio', p.MessageSid))).toBe(false);
    expect(t.gw.events.since(0, 1000).events.some((e) => e.type === 'sms.queued' && e.to === '+254700000301')).toBe(
      false,
    );
  });

  it('accepts a correctly signed message, answers empty TwiML and replies through the REST path', async () => {
    const p = params('SM' + '1'.repeat(32), '+254700000302', 'hi');
    const sig = twilio.getExpectedTwilioSignature(TOKEN, `${PUBLIC}/sms/twilio`, p);
    const res = await post(p, sig);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/xml/);
    expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    await eventually(() => sentTo('+254700000302').length > 0, 'reply via the queue');
  });
});

describe('generic HTTP SMS', () => {
  it('accepts JSON and form bodies and rejects a body without a sender with 400', async () => {
    const json = await fetch(`${t.url}/sms/http?key=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'h1', from: '+254700000401', to: '21512', text: 'hi' }),
    });
    expect(json.status).toBe(200);
    const form = await fetch(`${t.url}/sms/http?key=${KEY}`, {
      method: 'POST',
      body: new URLSearchParams({ id: 'h2', from: '+254700000402', to: '21512', text: 'hi' }),
    });
    expect(form.status).toBe(200);
    const bad = await fetch(`${t.url}/sms/http?key=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"id":"h3","text":"hi"}',
    });
    expect(bad.status).toBe(400);
    const broken = await fetch(`${t.url}/sms/http?key=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"id":',
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { code: string } }).error.code).toBe('JIBU_BAD_REQUEST');
  });
});
