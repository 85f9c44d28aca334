import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { atUssd, startTestGateway, type TestGateway } from '../server/harness.ts';
import { TEST_REDIS_URL as REDIS_URL, cleanupRedis, requireRedis, uniquePrefix } from '../store/harness.ts';
import { CAREGIVER, expectUntouched, queuedJobs } from './world.ts';

/**
 * Forged provider webhooks: each attack is refused (403/404) and leaves no trace — no session, no
 * opt-out, no SMS, no DHIS2 write or any other job queued.
 */

const running: TestGateway[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});
afterAll(async () => {
  await cleanupRedis(prefixes);
});

async function gateway(env: Record<string, string>, provider: 'http' | 'twilio' | 'africastalking' = 'http') {
  const t = await startTestGateway({ LOG_LEVEL: 'silent', ...env }, { senderProvider: provider, workers: false });
  running.push(t);
  return t;
}

const postSms = (url: string, path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** A chunked body: never the USSD fast path, always the Express route. */
const chunkedUssd = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${url}/ussd/africastalking`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new Blob([
      new URLSearchParams({ serviceCode: '*384*12#', networkCode: '63902', ...fields }).toString(),
    ]).stream(),
    duplex: 'half',
  } as RequestInit);

describe('unsigned webhooks without WEBHOOK_SECRET outside the all-embedded demo', () => {
  it('a forged "STOP" and a forged USSD reschedule to a Redis-backed gateway with no WEBHOOK_SECRET are refused 403, and nothing is stored, queued or sent', async () => {
    const redis = await requireRedis();
    const prefix = uniquePrefix('security-webhooks');
    prefixes.push(prefix);
    const t = await startTestGateway({ LOG_LEVEL: 'silent', REDIS_URL }, { redisPrefix: prefix, workers: false });
    running.push(t);
    const before = await queuedJobs(t);
    const named = async () => (await redis.keys(`${prefix}*`)).filter((k) => /254700000001|forged/.test(k)).sort();
    const keysBefore = await named();
    const stop = await postSms(t.url, '/sms/http', { id: 'forged-1', from: CAREGIVER, to: '21512', text: 'STOP' });
    expect(stop.status).toBe(403);
    expect((await stop.json()).error.code).toBe('JIBU_BAD_WEBHOOK_KEY');
    const fast = await atUssd(t.url, { sessionId: 'forged-u1', phoneNumber: CAREGIVER, text: '1*2*15062027' });
    expect(fast.status).toBe(403);
    const slow = await chunkedUssd(t.url, { sessionId: 'forged-u2', phoneNumber: CAREGIVER, text: '' });
    expect(slow.status).toBe(403);
    for (const path of ['/sms/http/status', '/ussd/africastalking/events', '/sms/africastalking'])
      expect((await postSms(t.url, path, { id: 'x', from: CAREGIVER, text: 'hi' })).status, path).toBe(403);
    await expectUntouched(t, CAREGIVER, before);
    // No new key names the caregiver or the forged ids (her read-model entry from the start-up sync stays as it was).
    expect(await named()).toEqual(keysBefore);
  });

  it('a forged SMS to a gateway with provider keys but no WEBHOOK_SECRET (not the demo) is refused 403, and nothing happens', async () => {
    const t = await gateway({ SMS_PROVIDER: 'http', SMS_HTTP_URL: 'http://127.0.0.1:9/send' });
    const before = await queuedJobs(t);
    const res = await postSms(t.url, '/sms/http', { id: 'forged-2', from: CAREGIVER, to: '21512', text: 'NDIYO' });
    expect(res.status).toBe(403);
    await expectUntouched(t, CAREGIVER, before);
  });
});

describe('only the configured providers are mounted', () => {
  it("posting to the Africa's Talking and generic routes of a Twilio deployment finds nothing (404), fast path included, and nothing happens", async () => {
    const t = await gateway(
      {
        SMS_PROVIDER: 'twilio',
        TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
        TWILIO_AUTH_TOKEN: 'twilio-token',
        TWILIO_FROM: '+15550001111',
        PUBLIC_URL: 'https://gw.example.org',
        WEBHOOK_SECRET: 'a-webhook-secret-the-attacker-learnt',
      },
      'twilio',
    );
    const before = await queuedJobs(t);
    const key = '?key=a-webhook-secret-the-attacker-learnt';
    expect((await atUssd(t.url, { sessionId: 'tw-1', phoneNumber: CAREGIVER, text: '' }, key.slice(5))).status).toBe(
      404,
    );
    expect((await chunkedUssd(t.url, { sessionId: 'tw-2', phoneNumber: CAREGIVER, text: '' })).status).toBe(404);
    for (const path of [
      '/ussd/africastalking/events',
      '/sms/africastalking',
      '/sms/africastalking/delivery',
      '/sms/http',
      '/sms/http/status',
    ])
      expect((await postSms(t.url, `${path}${key}`, { id: 'x', from: CAREGIVER, text: 'STOP' })).status, path).toBe(
        404,
      );
    // Its own route is there, and still wants Twilio's signature.
    expect((await postSms(t.url, '/sms/twilio', { From: CAREGIVER, Body: 'STOP' })).status).toBe(403);
    await expectUntouched(t, CAREGIVER, before);
  });

  it("USSD_PROVIDER=none takes the Africa's Talking USSD route off an Africa's Talking SMS deployment", async () => {
    const t = await gateway(
      {
        SMS_PROVIDER: 'africastalking',
        AT_USERNAME: 'u',
        AT_API_KEY: 'k',
        USSD_PROVIDER: 'none',
        WEBHOOK_SECRET: 'k3y',
      },
      'africastalking',
    );
    expect((await atUssd(t.url, { sessionId: 'n-1', phoneNumber: CAREGIVER, text: '' }, 'k3y')).status).toBe(404);
    expect((await postSms(t.url, '/sms/http?key=k3y', { id: 'x', from: CAREGIVER, text: 'STOP' })).status).toBe(404);
    await expectUntouched(t, CAREGIVER, 0);
  });
});

describe('WEBHOOK_ALLOWED_IPS', () => {
  const env = { WEBHOOK_SECRET: 'allow-list-secret', WEBHOOK_ALLOWED_IPS: '203.0.113.0/24' };

  it('a request with the right key from outside the allowed ranges is refused 403, even claiming an allowed address in X-Forwarded-For, and nothing happens', async () => {
    const t = await gateway(env);
    const before = await queuedJobs(t);
    const spoof = { 'x-forwarded-for': '203.0.113.7' };
    const sms = await postSms(
      t.url,
      '/sms/http?key=allow-list-secret',
      { id: 'ip-1', from: CAREGIVER, text: 'STOP' },
      spoof,
    );
    expect(sms.status).toBe(403);
    expect((await sms.json()).error.code).toBe('JIBU_FORBIDDEN_SOURCE');
    expect(
      (await atUssd(t.url, { sessionId: 'ip-2', phoneNumber: CAREGIVER, text: '' }, 'allow-list-secret')).status,
    ).toBe(403);
    await expectUntouched(t, CAREGIVER, before);
  });

  it('with TRUST_PROXY naming the proxy, the forwarded client address is the one checked', async () => {
    const t = await gateway({ ...env, TRUST_PROXY: 'loopback' });
    const res = await fetch(`${t.url}/ussd/africastalking?key=allow-list-secret`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.7' },
      body: new URLSearchParams({ sessionId: 'ip-4', phoneNumber: '+254700000777', serviceCode: '*384*12#', text: '' }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^CON /);
    const outside = await fetch(`${t.url}/ussd/africastalking?key=allow-list-secret`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '198.51.100.1' },
      body: new URLSearchParams({ sessionId: 'ip-5', phoneNumber: CAREGIVER, serviceCode: '*384*12#', text: '' }),
    });
    expect(outside.status).toBe(403);
    await expectUntouched(t, CAREGIVER, await queuedJobs(t));
  });
});
