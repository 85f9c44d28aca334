import type { QueuedJob } from '../store/types.ts';
import type { SendSmsJob } from './outbox.ts';
import { nextDeliveryTime, type DeliveryWindow } from './window.ts';

/** Quiet hours as the places that queue unsolicited messages apply them. */
export interface QuietHours {
  deliveryWindow: DeliveryWindow;
  /** The deployment time zone. */
  timeZone: string;
}

export interface UnsolicitedSms {
  /** Job id, and so the message id: derive it from what the message is about, so a rerun adds nothing. */
  id: string;
  /** E.164. */
  to: string;
  text: string;
  locale: string;
  /** `reminder`, `missed`, `digest`, `dhis2`… */
  purpose: string;
}

/**
 * An `outbox-sms` job for a message nobody asked for just now: it waits for the delivery window
 * (`runAt` = the window's next opening when queued at night) and is checked against opt-out when sent.
 * Replies to a person who just wrote never go through here: they leave at once.
 *
 * @example
 * unsolicitedSmsJob({ id: 'sms:digest:…', to, text, locale: 'sw', purpose: 'digest' }, Date.parse('2025-03-03T19:00:00Z'), quiet)
 * // runAt: 2025-03-04T05:00:00Z (08:00 in Nairobi)
 */
export function unsolicitedSmsJob(msg: UnsolicitedSms, now: number, quiet?: QuietHours): QueuedJob<SendSmsJob> {
  const runAt = quiet ? nextDeliveryTime(now, quiet.deliveryWindow, quiet.timeZone) : now;
  const job: QueuedJob<SendSmsJob> = {
    id: msg.id,
    queue: 'outbox-sms',
    name: 'sendSms',
    data: { to: msg.to, text: msg.text, locale: msg.locale, reply: false, purpose: msg.purpose },
  };
  if (runAt > now) job.runAt = runAt;
  return job;
}
