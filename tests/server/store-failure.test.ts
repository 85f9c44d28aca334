import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import twilio from 'twilio';
import { JibuError } from '../../src/errors.ts';
import { dedupeKey, sessionKey } from '../../src/conversation/runner.ts';
import type { Store } from '../../src/store/types.ts';
import { atUssd, eventually, startTestGateway, type TestGateway } from './harness.ts';
import { heldLoader } from './held.ts';

/*
 * The promise that lets providers retry instead of losing a message (docs/providers.md, "What every
 * webhook does"): when the store fails in the middle of a step — the contact locked, the step taken,
 * the commit failing — an SMS webhook answers 503 JIBU_STORE_UNAVAILABLE and a USSD hop a polite END,
 * and nothing of the message is kept, so the provider's retry is processed as new.
 */

const TOKEN = 'twilio-test-token';
// With a provider key this is not the all-embedded demo: the unsigned webhooks need the secret.
const KEY = 'store-failure-webhook-secret';
const PUBLIC = 'https://gw.example.org';
const loader = heldLoader();
let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway(
    { TWILIO_AUTH_TOKEN: TOKEN, TWILIO_ACCOUNT_SID: 'AC' + '0'.repeat(32), PUBLIC_URL: PUBLIC, WEBHOOK_SECRET: KEY },
    { loadData: loader.loadData },
  );
  loader.bind(t.gw);
});
afterAll(async () => {
  await t.stop();
});

/** Make the store's commits fail as an unreachable Redis does, until the returned function restores it. */
function failCommits(store: Store): () => void {
  const commit = store.commit.bind(store);
  store.commit = () => Promise.reject(new JibuError('JIBU_STORE_UNAVAILABLE', 'The state store is unreachable.'));
  return () => {
    store.commit = commit;
  };
}

/** Post `send()` with the store failing after the request entered the core loop; return the answer. */
async function withStoreFailingMidRequest<T>(send: () => Promise<T>): Promise<T> {
  const held = loader.hold();
  const answer = send();
  await held.entered;
  const restore = failCommits(t.gw.store);
  held.release();
  try {
    return await answer;
  } finally {
    restore();
  }
}

const queuedTo = (phone: string) =>
  t.gw.events.since(0, 1000).events.filter((e) => e.type === 'sms.queued' && e.to === phone);

async function expectNothingKept(channel: 'sms' | 'ussd', phone: string, seen?: string) {
  expect(await t.gw.store.getSession(sessionKey(channel, phone))).toBeNull();
  if (seen) expect(await t.gw.store.isSeen(seen)).toBe(false);
  expect(queuedTo(phone)).toHaveLength(0);
}

const sms = {
  africastalking: (id: string, from: string) =>
    fetch(`${t.url}/sms/africastalking?key=${KEY}`, {
      method: 'POST',
      body: new URLSearchParams({ linkId: '', to: '21512', date: '2026-11-25 09:00:00', id, from, text: 'hi' }),
    }),
  twilio: (id: string, from: string) => {
    const p = { MessageSid: id, SmsSid: id, AccountSid: 'AC' + '0'.repeat(32), From: from, To: '+15005550006' };
    const body = { ...p, Body: 'hi', NumMedia: '0' };
    return fetch(`${t.url}/sms/twilio`, {
      method: 'POST',
      headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature(TOKEN, `${PUBLIC}/sms/twilio`, body) },
      body: new URLSearchParams(body),
    });
  },
  http: (id: string, from: string) =>
    fetch(`${t.url}/sms/http?key=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, from, to: '21512', text: 'hi' }),
    }),
};

describe('a store that fails in the middle of a webhook', () => {
  it.each([
    ['africastalking', 'at-fail-1', '+254700000701'],
    ['twilio', 'SM' + 'a'.repeat(32), '+254700000702'],
    ['http', 'http-fail-1', '+254700000703'],
  ] as const)(
    '%s SMS: 503 JIBU_STORE_UNAVAILABLE, nothing kept, the retry is processed',
    async (provider, id, phone) => {
      const res = await withStoreFailingMidRequest(() => sms[provider](id, phone));
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'JIBU_STORE_UNAVAILABLE' } });
      await expectNothingKept('sms', phone, dedupeKey(provider, id));

      // The provider retries the same message once the store is back: it is new, not a duplicate.
      expect((await sms[provider](id, phone)).status).toBe(200);
      await eventually(() => queuedTo(phone).length === 1, 'the reply to the retried message');
      expect(await t.gw.store.isSeen(dedupeKey(provider, id))).toBe(true);
    },
  );

  it('USSD: a polite END in the default language, nothing kept, the re-dial starts afresh', async () => {
    const phone = '+254700000704';
    const hop = { sessionId: 'ussd-fail-1', phoneNumber: phone, text: '' };
    const res = await withStoreFailingMidRequest(() => atUssd(t.url, hop, KEY));
    expect(res.status).toBe(200);
    expect(res.body).toBe('END Sorry, the service is busy. Please try again in a few minutes.');
    await expectNothingKept('ussd', phone);

    const again = await atUssd(t.url, { ...hop, sessionId: 'ussd-fail-2' }, KEY);
    expect(again.body).toMatch(/^CON Jibu demo/);
    expect(await t.gw.store.getSession(sessionKey('ussd', phone))).not.toBeNull();
  });
});
