import { afterAll, describe, expect, it } from 'vitest';
import { atUssd, eventually, startTestGateway, type TestGateway } from './harness.ts';
import { TEST_REDIS_URL, cleanupRedis, requireRedis, uniquePrefix } from '../store/harness.ts';

const prefix = uniquePrefix('server-redis');
// With Redis this is not the all-embedded demo: the unsigned webhooks need the secret.
const KEY = 'redis-test-webhook-secret';
const env = { REDIS_URL: TEST_REDIS_URL, WEBHOOK_SECRET: KEY };

afterAll(() => cleanupRedis([prefix]));

async function sms(t: TestGateway, id: string, from: string, text: string) {
  return fetch(`${t.url}/sms/http?key=${KEY}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, from, to: '21512', text }),
  });
}

describe('the gateway on Redis', () => {
  it('walks a USSD conversation with sessions in Redis', async () => {
    const admin = await requireRedis();
    const t = await startTestGateway(env, { redisPrefix: prefix });
    try {
      // Proof this file runs on Redis, not on the in-memory fallback: the store says so, and the
      // session the first hop wrote is a key in the test database (read from outside the gateway).
      expect(t.gw.store.kind).toBe('redis');
      expect((await atUssd(t.url, { sessionId: 'r1', phoneNumber: '+254700000501', text: '' }, KEY)).body).toMatch(
        /^CON Jibu demo/,
      );
      expect((await atUssd(t.url, { sessionId: 'r1', phoneNumber: '+254700000501', text: '2' }, KEY)).body).toMatch(
        /^CON How old/,
      );
      expect(await admin.exists(`${prefix}session:ussd:+254700000501`)).toBe(1);
      expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
    } finally {
      await t.stop();
    }
  });

  it('loses nothing across a restart: a queued reply is sent by the next process and the conversation resumes', async () => {
    await requireRedis();
    const phone = '+254700000502';
    // First process: accepts the message and commits the reply job, but runs no workers (as if it died before sending).
    const a = await startTestGateway(env, { redisPrefix: prefix, workers: false });
    expect((await sms(a, 'restart-1', phone, 'hi')).status).toBe(200);
    expect((await sms(a, 'restart-2', phone, '2')).status).toBe(200);
    await a.stop();
    expect(a.sent).toHaveLength(0);

    const b = await startTestGateway(env, { redisPrefix: prefix });
    try {
      const replies = await eventually(
        () => b.sent.filter((m) => m.to === phone).length >= 2 && b.sent.filter((m) => m.to === phone),
        'both queued replies',
      );
      expect(replies.map((m) => m.text.split('\n')[0])).toEqual([
        expect.stringMatching(/Jibu demo/),
        expect.stringMatching(/How old/),
      ]);
      // A provider retry of a message the first process took is still recognised.
      expect((await sms(b, 'restart-2', phone, '2')).status).toBe(200);
      expect((await sms(b, 'restart-3', phone, '9')).status).toBe(200);
      const next = await eventually(
        () => b.sent.filter((m) => m.to === phone)[2],
        'the answer to the resumed conversation',
      );
      expect(next.text).toMatch(/When is the next clinic visit/);
      // The retry was recognised before anything was committed (counted as a duplicate), so the one
      // answer the resumed conversation got is the only new message.
      const dups = (await b.gw.metrics.duplicates.get()).values.find((v) => v.labels.provider === 'http');
      expect(dups?.value).toBe(1);
      expect(b.sent.filter((m) => m.to === phone)).toHaveLength(3);
    } finally {
      await b.stop();
    }
  });

  it('refuses to start when Redis is configured but unreachable', async () => {
    await expect(startTestGateway({ REDIS_URL: 'redis://127.0.0.1:1' }, { redisPrefix: prefix })).rejects.toMatchObject(
      { code: 'JIBU_STORE_UNAVAILABLE' },
    );
  });
});
