import { z } from 'zod';
import { systemClock, type Clock } from '../../clock.ts';
import { optionalText, readBody, requiredText } from '../body.ts';
import { normalizePhone } from '../phone.ts';
import type { DeliveryReport, DeliveryStatus, InboundMessage, ParseResult, WebhookRequest } from '../types.ts';
import { parseAtDate } from './date.ts';

/** Inbound SMS as AT posts it (docs/providers.md#inbound-sms). `linkId` and `networkCode` may be empty or absent. */
const inboundSmsSchema = z.object({
  id: requiredText(256),
  from: requiredText(64),
  to: requiredText(64),
  // Concatenated SMS arrive reassembled; 10 000 characters is far above any real message.
  text: z.string().max(10_000),
  date: optionalText(64),
  linkId: optionalText(256),
  networkCode: optionalText(16),
});

/**
 * Parse an AT inbound SMS. `date` is read in both AT formats (`…T06:04:45Z` and `… 06:04:45`, UTC);
 * a missing or unreadable date falls back to the clock, because a caregiver's message matters more
 * than its timestamp and a 400 would make AT retry it for ten minutes and then drop it.
 *
 * @example parseInboundSms(req, 'KE') // { ok: true, value: { channel: 'sms', from: '+254791541111', text: 'Msg', … } }
 */
export function parseInboundSms(
  req: Pick<WebhookRequest, 'body'>,
  defaultCountry?: string,
  clock: Clock = systemClock,
): ParseResult<InboundMessage> {
  const body = readBody(inboundSmsSchema, req.body);
  if (!body.ok) return body;
  const b = body.value;
  const from = normalizePhone(b.from, defaultCountry);
  if (from === null) return { ok: false, code: 'JIBU_BAD_PHONE', detail: 'from: not a phone number' };
  return {
    ok: true,
    value: {
      channel: 'sms',
      provider: 'africastalking',
      from,
      providerFrom: b.from,
      to: b.to,
      text: b.text,
      providerMessageId: b.id,
      ...(b.networkCode === undefined ? {} : { networkCode: b.networkCode }),
      ...(b.linkId === undefined ? {} : { linkId: b.linkId }),
      receivedAt: parseAtDate(b.date) ?? clock.now(),
    },
  };
}

/** Delivery report as AT posts it (docs/providers.md#delivery-reports-and-statuses). */
const deliveryReportSchema = z.object({
  id: requiredText(256),
  status: requiredText(64),
  phoneNumber: optionalText(64),
  networkCode: optionalText(16),
  failureReason: optionalText(128),
  retryCount: optionalText(16),
});

/**
 * AT delivery statuses (table in docs/providers.md#delivery-reports-and-statuses). Anything else is `unknown`: still a
 * valid report,
 * answered 200, so a status AT adds later (as `Expired` once was) never makes AT retry.
 */
const AT_STATUSES: Readonly<Record<string, DeliveryStatus>> = {
  Sent: 'sent',
  Submitted: 'sent',
  Buffered: 'sent',
  Success: 'delivered',
  Rejected: 'failed',
  Failed: 'failed',
  Expired: 'failed',
};

/** The subscriber opted out of this sender (Safaricom DND, sender-ID opt-out): honour it as STOP. */
const OPT_OUT_REASONS = new Set(['UserInBlackList']);
/**
 * The number itself cannot receive SMS. Only `UserDoesNotExist` is that certain: `UserIsInactive`,
 * `UserAccountSuspended` and `NotNetworkSubscriber` (often a ported number) may clear, and
 * `InsufficientCredit`, `InvalidLinkId` and `DeliveryFailure` are about us or the moment.
 */
const UNDELIVERABLE_REASONS = new Set(['UserDoesNotExist']);

/**
 * Parse an AT delivery report. Statuses map as the table in docs/providers.md#delivery-reports-and-statuses;
 * `failureReason` is kept;
 * `UserInBlackList` sets `optOut`, `UserDoesNotExist` sets `undeliverable`.
 */
export function parseDeliveryReport(
  req: Pick<WebhookRequest, 'body'>,
  defaultCountry?: string,
  clock: Clock = systemClock,
): ParseResult<DeliveryReport> {
  const body = readBody(deliveryReportSchema, req.body);
  if (!body.ok) return body;
  const b = body.value;
  const status = Object.hasOwn(AT_STATUSES, b.status) ? AT_STATUSES[b.status]! : 'unknown';
  const phone = b.phoneNumber === undefined ? null : normalizePhone(b.phoneNumber, defaultCountry);
  const reason = b.failureReason;
  return {
    ok: true,
    value: {
      provider: 'africastalking',
      providerMessageId: b.id,
      status,
      rawStatus: b.status,
      ...(reason === undefined ? {} : { failureReason: reason }),
      ...(reason !== undefined && OPT_OUT_REASONS.has(reason) ? { optOut: true } : {}),
      ...(reason !== undefined && UNDELIVERABLE_REASONS.has(reason) ? { undeliverable: true } : {}),
      ...(phone === null ? {} : { phone }),
      receivedAt: clock.now(),
    },
  };
}
