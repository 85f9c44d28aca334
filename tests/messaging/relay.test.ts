import { afterEach, describe, expect, it } from 'vitest';
import { capturingSender } from '../../src/cli/simulate.ts';
import type { DeliveryReport, OutboundSms, SendResult, SmsSender } from '../../src/channels/types.ts';
import { fixedClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { checkDelivery, DELIVERY_CHECK_JOB } from '../../src/messaging/delivery-check.ts';
import {
  applyDeliveryReport,
  startSmsRelay,
  type MessageRecord,
  type OutboundPolicy,
  type SendSmsJob,
} from '../../src/messaging/outbox.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import type { QueuedJob, RunningWorker } from '../../src/store/types.ts';
import { eventually } from '../store/harness.ts';

const NIGHT = '2025-03-03T19:00:00.000Z'; // 22:00 in Nairobi
const MORNING = '2025-03-04T05:00:00.000Z'; // 08:00 in Nairobi
const NOON = '2025-03-03T09:00:00.000Z';
const POLICY: OutboundPolicy = { deliveryWindow: { start: '08:00', end: '19:00' }, timeZone: 'Africa/Nairobi' };
const logger = createLogger({ level: 'silent' });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function rig(
  start: string,
  policy: OutboundPolicy = POLICY,
  sender: SmsSender & { sent: OutboundSms[] } = capturingSender(),
) {
  const clock = fixedClock(start);
  const queue = createMemoryJobQueue({ clock, pollMs: 5 });
  const store = createMemoryStore({ clock, queue });
  const workers: RunningWorker[] = [
    startSmsRelay({ queue, store, sender, clock, logger, ratePerSecond: 1000, policy }),
  ];
  // The delivery checks the relay queues land on `jobs`; work them like the scheduler does.
  const processed: string[] = [];
  workers.push(
    queue.process<{ id: string }>('jobs', async (job) => {
      if (job.name === DELIVERY_CHECK_JOB) await checkDelivery(store, job.data.id, clock);
      processed.push(job.id);
      return { ok: true };
    }),
  );
  cleanups.push(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await queue.close();
  });
  let markers = 0;
  /**
   * Run a marker job due now through both queues and wait until both ran: the queue has then looked at
   * the clock since it last moved, so a job still not done is one that was not due (not one not yet seen).
   */
  const turn = async () => {
    const n = ++markers;
    await store.enqueue([
      { id: `marker:${n}`, queue: 'jobs', name: 'marker', data: {}, runAt: clock.now().getTime() },
      sms(`sms:marker-${n}`, { to: MARKER, reply: true, purpose: 'reply', text: 'marker' }),
    ]);
    await eventually(
      () => processed.includes(`marker:${n}`) && sender.sent.some((m) => m.id === `sms:marker-${n}`),
      (done) => done,
    );
  };
  const sentBut = () => sender.sent.filter((m) => m.to !== MARKER);
  return { clock, queue, store, sent: sender.sent, turn, sentBut };
}

/** A phone that only marker messages go to. */
const MARKER = '+254799000002';

const sms = (id: string, data: Partial<SendSmsJob> = {}): QueuedJob<SendSmsJob> => ({
  id,
  queue: 'outbox-sms',
  name: 'sendSms',
  data: {
    to: '+254700000002',
    text: 'Jibu: Neema has a clinic visit on 05/03/2025.',
    locale: 'en',
    reply: false,
    purpose: 'reminder',
    ...data,
  },
});

describe('quiet hours at the relay', () => {
  it('an unsolicited message that comes round at 22:00 local leaves when the window opens at 08:00', async () => {
    const { clock, store, turn, sentBut } = rig(NIGHT);
    await store.enqueue([sms('sms:night')]);
    await eventually(
      () => store.getJson<MessageRecord>('msg:sms:night'),
      (r) => r?.status === 'queued',
    );
    await turn();
    expect(sentBut()).toEqual([]);
    clock.set('2025-03-04T04:59:00.000Z');
    await turn();
    expect(sentBut()).toEqual([]);
    clock.set(MORNING);
    await eventually(
      () => sentBut().length,
      (n) => n === 1,
    );
    // Still one message: the same record, the same provider idempotency key.
    expect(sentBut()[0]!.id).toBe('sms:night');
    expect((await store.getJson<MessageRecord>('msg:sms:night'))?.status).toBe('sent');
  });

  it('a reply to someone who just wrote leaves at once, even at night', async () => {
    const { store, sent } = rig(NIGHT);
    await store.enqueue([sms('sms:reply', { reply: true, purpose: 'reply' })]);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
  });

  it('a severe-reaction alert to a case worker is urgent and leaves at night', async () => {
    const { store, sent } = rig(NIGHT);
    await store.enqueue([sms('sms:alert', { urgent: true, purpose: 'aefi-alert' })]);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
  });

  it('an opted-out caregiver still gets nothing once the window opens', async () => {
    const { clock, store, sent } = rig(NIGHT);
    await store.setContact('+254700000002', { optedOut: true });
    await store.enqueue([sms('sms:optout')]);
    clock.set(MORNING);
    await eventually(
      () => store.getJson<MessageRecord>('msg:sms:optout'),
      (r) => r?.status === 'skipped_opted_out',
    );
    expect(sent).toEqual([]);
  });
});

describe('texts and segments', () => {
  it('folds accents when the deployment prefers cost, and records the segments on the message', async () => {
    const { store, sent } = rig(NOON, { ...POLICY, foldAccents: true });
    await store.enqueue([sms('sms:pt', { text: 'Jibu: a vacinação do Tomás é amanhã – “não falte”.', locale: 'pt' })]);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
    expect(sent[0]!.text).toBe('Jibu: a vacinacao do Tomas é amanhã - "nao falte".'.replace('amanhã', 'amanha'));
    expect((await store.getJson<MessageRecord>('msg:sms:pt'))?.segments).toBe(1);
  });

  it('keeps accents by default (punctuation is always normalised) and counts UCS-2 segments', async () => {
    const { store, sent } = rig(NOON);
    const text = `Jibu: a vacinação do Tomás é amanhã. ${'Obrigado. '.repeat(4)}`;
    await store.enqueue([sms('sms:pt2', { text, locale: 'pt' })]);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
    expect(sent[0]!.text).toContain('vacinação');
    expect((await store.getJson<MessageRecord>('msg:sms:pt2'))?.segments).toBe(2);
  });
});

describe('messages with no delivery report', () => {
  it('are counted unknown after the configured time, and are not sent again', async () => {
    const { clock, store, turn, sentBut } = rig(NOON, { ...POLICY, unknownAfterMs: 6 * 3_600_000 });
    await store.enqueue([sms('sms:silent')]);
    await eventually(
      () => store.getJson<MessageRecord>('msg:sms:silent'),
      (r) => r?.status === 'sent',
    );
    clock.advance(5 * 3_600_000);
    await turn();
    expect((await store.getJson<MessageRecord>('msg:sms:silent'))?.status).toBe('sent');
    clock.advance(2 * 3_600_000);
    await eventually(
      () => store.getJson<MessageRecord>('msg:sms:silent'),
      (r) => r?.status === 'unknown',
    );
    await turn();
    expect(sentBut()).toHaveLength(1);
  });

  it('a report that arrives after the message was counted unknown still moves it on', async () => {
    const { clock, store } = rig(NOON, { ...POLICY, unknownAfterMs: 60_000 });
    await store.enqueue([sms('sms:late')]);
    const rec = await eventually(
      () => store.getJson<MessageRecord>('msg:sms:late'),
      (r) => r?.status === 'sent',
    );
    clock.advance(120_000);
    await eventually(
      () => store.getJson<MessageRecord>('msg:sms:late'),
      (r) => r?.status === 'unknown',
    );
    const report: DeliveryReport = {
      provider: 'console',
      providerMessageId: rec!.providerMessageId!,
      status: 'delivered',
      rawStatus: 'Success',
      receivedAt: clock.now(),
    };
    expect((await applyDeliveryReport(store, report, clock))?.status).toBe('delivered');
  });

  it('a delivered message is left alone by its check', async () => {
    const { clock, store } = rig(NOON);
    await store.setJson('msg:m1', {
      id: 'm1',
      to: '+254700000002',
      provider: 'console',
      status: 'delivered',
      createdAt: 0,
      updatedAt: 0,
    } satisfies MessageRecord);
    expect(await checkDelivery(store, 'm1', clock)).toBe('delivered');
    expect(await checkDelivery(store, 'nope', clock)).toBeNull();
  });

  it('a transient provider failure is retried with backoff; the message is sent once', async () => {
    let calls = 0;
    const flaky: SmsSender & { sent: OutboundSms[] } = {
      provider: 'http',
      sent: [],
      async send(m): Promise<SendResult> {
        calls++;
        if (calls === 1) return { ok: false, permanent: false, reason: 'timeout', code: 'timeout' };
        this.sent.push(m);
        return { ok: true, providerMessageId: `p-${m.id}` };
      },
    };
    const { clock, store, sent } = rig(NOON, POLICY, flaky);
    await store.enqueue([sms('sms:flaky')]);
    await eventually(
      () => calls,
      (n) => n === 1,
    );
    clock.advance(10_000);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
    expect(calls).toBe(2);
  });
});
