import { z } from 'zod';
import { systemClock, type Clock } from '../../clock.ts';
import { optionalText, queryValue, readBody, requiredText } from '../body.ts';
import { normalizePhone } from '../phone.ts';
import type { DeliveryReport, DeliveryStatus, ParseResult, WebhookRequest } from '../types.ts';

const statusSchema = z.object({
  MessageSid: requiredText(64),
  MessageStatus: requiredText(32),
  ErrorCode: optionalText(16),
  To: optionalText(64),
});

/**
 * Twilio `MessageStatus` words (docs/providers.md#status-callbacks). `accepted`, `scheduled`, `queued` and `sending`
 * have not left Twilio yet, so they are `queued` (our send already counts as accepted); `read` is
 * delivered; `canceled` never left, so it failed. Inbound-only words (`receiving`, `received`) and
 * `partially_delivered` are `unknown`.
 */
const TWILIO_STATUSES: Readonly<Record<string, DeliveryStatus>> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'queued',
  sent: 'sent',
  delivered: 'delivered',
  read: 'delivered',
  failed: 'failed',
  undelivered: 'failed',
  canceled: 'failed',
};

/** 21610: the recipient sent STOP; Twilio blocks the pair until START. */
const OPT_OUT_CODE = '21610';
/**
 * Error codes that say the number cannot receive SMS: 30005 unknown or inactive destination,
 * 30006 landline or unreachable carrier, 21211 invalid `To`, 21614 not a mobile number. 30003
 * (unreachable: handset off) is transient and not listed.
 */
const UNDELIVERABLE_CODES = new Set(['30005', '30006', '21211', '21614']);

/**
 * Parse a Twilio status callback (verify the signature first). Jibu's own message id is read from
 * the callback URL's `jid` query parameter, which {@link createTwilioSender} puts there.
 */
export function parseStatusCallback(
  req: Pick<WebhookRequest, 'body' | 'query'>,
  defaultCountry?: string,
  clock: Clock = systemClock,
): ParseResult<DeliveryReport> {
  const body = readBody(statusSchema, req.body);
  if (!body.ok) return body;
  const b = body.value;
  const word = b.MessageStatus.toLowerCase();
  const status = Object.hasOwn(TWILIO_STATUSES, word) ? TWILIO_STATUSES[word]! : 'unknown';
  const errorCode = b.ErrorCode !== undefined && b.ErrorCode !== '0' ? b.ErrorCode : undefined;
  const phone = b.To === undefined ? null : normalizePhone(b.To, defaultCountry);
  const jibuMessageId = queryValue(req.query, 'jid');
  return {
    ok: true,
    value: {
      provider: 'twilio',
      providerMessageId: b.MessageSid,
      status,
      rawStatus: b.MessageStatus,
      ...(errorCode === undefined ? {} : { errorCode }),
      ...(errorCode === OPT_OUT_CODE ? { optOut: true } : {}),
      ...(errorCode !== undefined && UNDELIVERABLE_CODES.has(errorCode) ? { undeliverable: true } : {}),
      ...(phone === null ? {} : { phone }),
      ...(jibuMessageId === undefined ? {} : { jibuMessageId }),
      receivedAt: clock.now(),
    },
  };
}
