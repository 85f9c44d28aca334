import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { dedupeKey } from '../../src/conversation/runner.ts';
import type { MessageRecord } from '../../src/messaging/outbox.ts';
import { eventually, startTestGateway, type TestGateway } from './harness.ts';

/*
 * Promises that only show over hours, checked through the production wiring (startGateway, its store,
 * relay and deployment defaults) on an injected clock the test moves: quiet hours at night, and the
 * 48-hour window in which a provider's retry is recognised (docs/providers.md, "What every webhook does").
 */

const NIGHT = '2026-03-03T19:30:00.000Z'; // 22:30 in Nairobi, outside the default 08:00–19:00 window
const BEFORE_DAWN = '2026-03-04T04:59:00.000Z'; // 07:59 in Nairobi
const MORNING = '2026-03-04T05:00:00.000Z'; // 08:00 in Nairobi
const HOUR = 3_600_000;

const clock = fixedClock(NIGHT);
let t: TestGateway;
beforeAll(async () => {
  // No policy is handed in: the window comes from the deployment's defaults and TZ, as in production.
  // Moving the clock by days fires the scheduler's reminder runs over the demo data too; a high send
  // rate keeps that backlog from delaying the replies these tests wait for.
  t = await startTestGateway({ TZ: 'Africa/Nairobi', SMS_RATE_PER_SECOND: '1000' }, { clock });
});
afterAll(async () => {
  await t.stop();
});

const sentTo = (phone: string) => t.sent.filter((m) => m.to === phone);
const duplicates = async (provider: string) =>
  (await t.gw.metrics.duplicates.get()).values.find((v) => v.labels.provider === provider)?.value ?? 0;
const inbound = (id: string, from: string, text: string) =>
  fetch(`${t.url}/sms/http`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, from, to: '21512', text }),
  });

describe('quiet hours through the gateway at night', () => {
  it('holds an unsolicited message at 22:30 local and sends it when the window opens at 08:00', async () => {
    const phone = '+254700000801';
    await t.gw.store.enqueue([
      {
        id: 'sms:night-reminder',
        queue: 'outbox-sms',
        name: 'sendSms',
        data: { to: phone, text: 'Jibu: a clinic visit tomorrow.', locale: 'en', reply: false, purpose: 'reminder' },
      },
    ]);
    // The relay looked at it (its record exists) and held it rather than sending.
    const rec = await eventually(
      () => t.gw.store.getJson<MessageRecord>('msg:sms:night-reminder'),
      'the relay to take the message',
    );
    expect(rec.status).toBe('queued');
    expect(sentTo(phone)).toEqual([]);

    // A reply at night still leaves at once: the relay is running, quiet hours are for unsolicited messages.
    const replyTo = '+254700000802';
    expect((await inbound('night-reply-1', replyTo, 'hi')).status).toBe(200);
    await eventually(() => sentTo(replyTo).length === 1, 'the reply at night');
    expect(sentTo(phone)).toEqual([]);

    clock.set(BEFORE_DAWN);
    const heldJob = await eventually(
      async () => (await t.gw.queue.counts('outbox-sms')).delayed >= 1,
      'the held message waiting in the queue',
    );
    expect(heldJob).toBe(true);
    expect(sentTo(phone)).toEqual([]);

    clock.set(MORNING);
    const [sent] = await eventually(() => sentTo(phone).length === 1 && sentTo(phone), 'the morning send');
    expect(sent?.id).toBe('sms:night-reminder');
  });
});

describe('the 48-hour dedupe window', () => {
  it('recognises a provider retry at 47 h as a duplicate and treats one at 49 h as a new message', async () => {
    const phone = '+254700000803';
    const id = 'ttl-window-1';
    clock.set('2026-03-05T07:00:00.000Z'); // 10:00 in Nairobi
    expect((await inbound(id, phone, 'hi')).status).toBe(200);
    await eventually(() => sentTo(phone).length === 1, 'the first reply');
    expect(await t.gw.store.isSeen(dedupeKey('http', id))).toBe(true);

    clock.advance(47 * HOUR);
    const before = await duplicates('http');
    expect((await inbound(id, phone, 'hi')).status).toBe(200);
    // Recognised before anything was committed (the counter moves on that path only): no second reply.
    expect(await duplicates('http')).toBe(before + 1);
    expect(sentTo(phone)).toHaveLength(1);

    clock.advance(2 * HOUR);
    expect(await t.gw.store.isSeen(dedupeKey('http', id))).toBe(false);
    expect((await inbound(id, phone, 'hi')).status).toBe(200);
    await eventually(() => sentTo(phone).length === 2, 'the reply to the message, new after 49 h');
    expect(await duplicates('http')).toBe(before + 1);
  });
});
