import type { Clock } from '../clock.ts';
import type { Metrics } from '../server/metrics.ts';
import type { QueuedJob, Store } from '../store/types.ts';
import { MESSAGE_TTL_MS, type MessageRecord } from './outbox.ts';

/**
 * Messages nobody reported on. A provider may never send a delivery report (the handset was off for a
 * week, the aggregator dropped it); such a message is counted `unknown` after a set time instead of
 * waiting forever, and is never re-sent blindly (a second copy is worse than an unknown first one).
 *
 * The store cannot list keys, so instead of a sweep that scans every message, the relay queues one
 * delayed check per sent message on the `jobs` queue: O(1) per message, durable, cluster-safe, and
 * idempotent (the check id is derived from the message id).
 */

/** Job name of the check on the `jobs` queue. */
export const DELIVERY_CHECK_JOB = 'messaging.deliveryCheck';

export interface DeliveryCheckJob {
  /** Jibu message id (`msg:{id}`). */
  id: string;
}

/** The delayed check for message `id`, due `afterMs` after `now`. */
export function deliveryCheckJob(id: string, now: number, afterMs: number): QueuedJob<DeliveryCheckJob> {
  return { id: `dlr-check:${id}`, queue: 'jobs', name: DELIVERY_CHECK_JOB, data: { id }, runAt: now + afterMs };
}

/** A message still waiting for its report (sent, or queued and never sent) becomes `unknown`. */
export function isAwaitingReport(rec: Pick<MessageRecord, 'status'>): boolean {
  return rec.status === 'sent' || rec.status === 'queued';
}

/**
 * Run one check: mark message `id` `unknown` when no report came. Returns the new status, or null when
 * the message is unknown to the store (expired). A report that arrives later still moves it on
 * (`nextStatus` lets `delivered`/`failed` replace `unknown`).
 *
 * @example await checkDelivery(store, 'sms:8f1c…', clock) // 'unknown' | 'delivered' | …
 */
export async function checkDelivery(
  store: Store,
  id: string,
  clock: Clock,
  metrics?: Metrics,
): Promise<MessageRecord['status'] | null> {
  const rec = await store.getJson<MessageRecord>(`msg:${id}`);
  if (!rec) return null;
  if (!isAwaitingReport(rec)) return rec.status;
  await store.setJson(
    `msg:${id}`,
    { ...rec, status: 'unknown', updatedAt: clock.now().getTime() } satisfies MessageRecord,
    MESSAGE_TTL_MS,
  );
  metrics?.smsStatus.inc({ provider: rec.provider, status: 'unknown' });
  return 'unknown';
}
