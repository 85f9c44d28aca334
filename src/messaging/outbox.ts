import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryReport, DeliveryStatus, ProviderName, SmsSender } from '../channels/types.ts';
import { prepareSms } from '../channels/sms-text.ts';
import type { Clock } from '../clock.ts';
import { JibuError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../server/metrics.ts';
import type { EventFeed } from '../server/events.ts';
import type { JobOutcome, JobQueue, QueuedJob, RunningWorker, Store } from '../store/types.ts';
import { deliveryCheckJob } from './delivery-check.ts';
import { isInDeliveryWindow, nextDeliveryTime, type DeliveryWindow } from './window.ts';

/** What the runner and the scheduler put on `outbox-sms`. */
export interface SendSmsJob {
  to: string;
  text: string;
  locale: string;
  /** A direct answer to a message the contact just sent: allowed even after STOP (it confirms the STOP). */
  reply: boolean;
  provider?: ProviderName;
  providerFrom?: string;
  /** What the message is about, for operators (`reminder`, `missed`, `digest`, `reply`). */
  purpose?: string;
  /**
   * The message record id (`msg:{id}`) when it differs from the job id: a message held back by quiet
   * hours travels on as a new job but stays one message.
   */
  messageId?: string;
  /** Already held once for quiet hours: send when it comes round, whatever the clock says. */
  held?: boolean;
  /** A clinical alert to staff (a severe reaction): exempt from quiet hours. */
  urgent?: boolean;
}

/**
 * The outbound policy the relay applies to every message (all optional, so a relay without it behaves
 * as before): quiet hours for unsolicited messages, accent folding, and when a missing delivery report
 * turns a message `unknown`.
 */
export interface OutboundPolicy {
  /** Local hours in which unsolicited messages may leave (deployment `deliveryWindow`). */
  deliveryWindow?: DeliveryWindow;
  /** The deployment time zone the window is read in. */
  timeZone?: string;
  /** Deployment `sms.foldAccents`: replace accented letters that would force UCS-2. */
  foldAccents?: boolean;
  /** A sent message with no delivery report after this long is counted `unknown` (never re-sent). */
  unknownAfterMs?: number;
}

/** The record kept per outbound message (`msg:{id}`), updated by delivery reports. */
export interface MessageRecord {
  id: string;
  to: string;
  provider: ProviderName;
  providerMessageId?: string;
  status: DeliveryStatus | 'skipped_opted_out';
  segments?: number;
  purpose?: string;
  error?: string;
  createdAt: number;
  updatedAt: number;
}

export const MESSAGE_TTL_MS = 30 * 24 * 3600_000;
const FINAL: ReadonlySet<string> = new Set(['delivered', 'failed', 'skipped_opted_out']);
const RANK: Record<string, number> = { queued: 0, unknown: 0, sent: 1, delivered: 2, failed: 2, skipped_opted_out: 2 };

/**
 * The status a message moves to when a report arrives. Reports come late and out of order
 * (docs/providers.md#delivery-reports-and-statuses): a final state is never downgraded, and `unknown` never overwrites
 * a known state.
 */
export function nextStatus(current: MessageRecord['status'], reported: DeliveryStatus): MessageRecord['status'] {
  if (FINAL.has(current)) return current;
  if (reported === 'unknown') return current;
  return (RANK[reported] ?? 0) >= (RANK[current] ?? 0) ? reported : current;
}

/** How long the record of a sent message keeps being retried while Redis is unreachable (a failover takes seconds). */
const RECORD_AFTER_SEND_MS = 30_000;

/**
 * Write what follows a successful send, waiting out a Redis outage (a failover): failing the job here
 * would make the queue send the message again.
 */
async function afterSend(op: () => Promise<unknown>): Promise<void> {
  const until = Date.now() + RECORD_AFTER_SEND_MS;
  for (let pause = 100; ; pause = Math.min(pause * 2, 2_000)) {
    try {
      await op();
      return;
    } catch (err) {
      if (!(err instanceof JibuError && err.code === 'JIBU_STORE_UNAVAILABLE') || Date.now() > until) throw err;
      await sleep(pause);
    }
  }
}

/**
 * Relay `outbox-sms`: honour opt-out, send through the provider, record the result. Permanent refusals
 * (opt-out, invalid number) mark the contact and are not retried; transient ones are retried with
 * backoff by the queue. With a `policy`: an unsolicited message that comes round outside the delivery
 * window (a timer that fired at night, a backlog) is held until the window opens; texts are prepared
 * for GSM-7 (punctuation always, accents when the deployment folds them); each sent message gets a
 * delayed delivery check that counts it `unknown` when no report came.
 */
export function startSmsRelay(deps: {
  queue: JobQueue;
  store: Store;
  sender: SmsSender;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  events?: EventFeed;
  ratePerSecond: number;
  policy?: OutboundPolicy;
}): RunningWorker {
  const { store, sender, clock, logger, metrics, events } = deps;
  const policy = deps.policy ?? {};
  return deps.queue.process<SendSmsJob>(
    'outbox-sms',
    async (job: QueuedJob<SendSmsJob>): Promise<JobOutcome> => {
      const m = job.data;
      const id = m.messageId ?? job.id;
      const now = clock.now().getTime();
      const existing = await store.getJson<MessageRecord>(`msg:${id}`);
      if (existing?.providerMessageId) return { ok: true }; // sent before a crash: never send twice
      const contact = await store.getContact(m.to);
      if (!m.reply && (contact.optedOut || contact.undeliverable)) {
        await store.setJson(
          `msg:${id}`,
          {
            id,
            to: m.to,
            provider: sender.provider,
            status: 'skipped_opted_out',
            purpose: m.purpose,
            createdAt: now,
            updatedAt: now,
          } satisfies MessageRecord,
          MESSAGE_TTL_MS,
        );
        metrics?.smsStatus.inc({ provider: sender.provider, status: 'skipped_opted_out' });
        events?.emit({
          type: 'sms.skipped',
          id,
          to: m.to,
          reason: contact.optedOut ? 'opted out' : 'undeliverable',
          at: now,
        });
        return { ok: true };
      }
      if (
        !m.reply &&
        !m.held &&
        !m.urgent &&
        policy.deliveryWindow &&
        policy.timeZone &&
        !isInDeliveryWindow(now, policy.deliveryWindow, policy.timeZone)
      ) {
        // Opt-out is checked first (and again when the held message is due). Nothing unsolicited leaves at night: the same message waits, as a new job, for the window.
        const runAt = nextDeliveryTime(now, policy.deliveryWindow, policy.timeZone);
        await deps.queue.add([
          {
            id: `${id}:held`,
            queue: 'outbox-sms',
            name: job.name,
            data: { ...m, messageId: id, held: true } satisfies SendSmsJob,
            runAt,
          },
        ]);
        await store.setJson(
          `msg:${id}`,
          {
            id,
            to: m.to,
            provider: sender.provider,
            status: 'queued',
            purpose: m.purpose,
            createdAt: existing?.createdAt ?? now,
            updatedAt: now,
          } satisfies MessageRecord,
          MESSAGE_TTL_MS,
        );
        return { ok: true };
      }
      const prepared = prepareSms(m.text, { foldAccents: policy.foldAccents === true });
      const r = await sender.send({ id, to: m.to, text: prepared.text });
      if (r.ok) {
        const segments = r.segments ?? prepared.segments;
        await afterSend(() =>
          store.setJson(
            `msg:${id}`,
            {
              id,
              to: m.to,
              provider: sender.provider,
              providerMessageId: r.providerMessageId,
              status: 'sent',
              segments,
              purpose: m.purpose,
              createdAt: now,
              updatedAt: now,
            } satisfies MessageRecord,
            MESSAGE_TTL_MS,
          ),
        );
        await afterSend(() => store.setJson(`pmsg:${sender.provider}:${r.providerMessageId}`, id, MESSAGE_TTL_MS));
        if (policy.unknownAfterMs) await deps.queue.add([deliveryCheckJob(id, now, policy.unknownAfterMs)]);
        metrics?.smsStatus.inc({ provider: sender.provider, status: 'sent' });
        events?.emit({
          type: 'sms.sent',
          id,
          to: m.to,
          text: prepared.text,
          provider: sender.provider,
          segments,
          at: now,
        });
        return { ok: true };
      }
      if (r.optOut) await store.setContact(m.to, { optedOut: true });
      else if (r.undeliverable) await store.setContact(m.to, { undeliverable: true });
      metrics?.smsStatus.inc({ provider: sender.provider, status: r.permanent ? 'failed' : 'retrying' });
      logger.warn(
        { code: 'JIBU_SEND_FAILED', jobId: job.id, permanent: r.permanent, reason: r.reason, providerCode: r.code },
        'SMS send failed',
      );
      if (r.permanent) {
        await store.setJson(
          `msg:${id}`,
          {
            id,
            to: m.to,
            provider: sender.provider,
            status: 'failed',
            error: r.reason,
            purpose: m.purpose,
            createdAt: now,
            updatedAt: now,
          } satisfies MessageRecord,
          MESSAGE_TTL_MS,
        );
      }
      return { ok: false, permanent: r.permanent, error: r.reason };
    },
    { ratePerSecond: deps.ratePerSecond, concurrency: 4, attempts: 6, backoffMs: 2000 },
  );
}

/** Apply a provider delivery report to the message it is about (idempotent, order-independent). */
export async function applyDeliveryReport(
  store: Store,
  report: DeliveryReport,
  clock: Clock,
): Promise<MessageRecord | null> {
  const id =
    report.jibuMessageId ?? (await store.getJson<string>(`pmsg:${report.provider}:${report.providerMessageId}`));
  if (!id) return null;
  const rec = await store.getJson<MessageRecord>(`msg:${id}`);
  if (!rec) return null;
  const status = nextStatus(rec.status, report.status);
  const updated: MessageRecord = {
    ...rec,
    status,
    error: report.failureReason ?? report.errorCode ?? rec.error,
    updatedAt: clock.now().getTime(),
  };
  await store.setJson(`msg:${id}`, updated, MESSAGE_TTL_MS);
  if (report.optOut) await store.setContact(rec.to, { optedOut: true });
  else if (report.undeliverable) await store.setContact(rec.to, { undeliverable: true });
  return updated;
}
