import { z } from 'zod';
import { systemClock, type Clock } from '../../clock.ts';
import { optionalText, readBody, requiredText } from '../body.ts';
import { normalizePhone } from '../phone.ts';
import type { InboundMessage, ParseResult, WebhookRequest } from '../types.ts';

/**
 * The fields Jibu reads from Twilio's inbound webhook (docs/providers.md#twilio-inbound-sms); the rest are signed, not
 * read.
 */
const inboundSchema = z.object({
  MessageSid: requiredText(64),
  From: requiredText(64),
  To: requiredText(64),
  // Twilio reassembles concatenated SMS, up to 1600 characters; an MMS may come without a body.
  Body: z.string().max(10_000).optional().default(''),
  OptOutType: optionalText(16),
});

const OPT_OUT_TYPES = new Set(['STOP', 'START', 'HELP'] as const);

/**
 * Parse a Twilio inbound SMS (verify the signature first). `MessageSid` is the dedupe id; `OptOutType`
 * (Advanced Opt-Out) is kept when it is one of `STOP`, `START`, `HELP` and dropped otherwise.
 * Twilio sends no timestamp, so `receivedAt` comes from the clock.
 *
 * @example parseInboundSms(req, 'KE') // { ok: true, value: { providerMessageId: 'SMe287…', text: 'Msg', … } }
 */
export function parseInboundSms(
  req: Pick<WebhookRequest, 'body'>,
  defaultCountry?: string,
  clock: Clock = systemClock,
): ParseResult<InboundMessage> {
  const body = readBody(inboundSchema, req.body);
  if (!body.ok) return body;
  const b = body.value;
  const from = normalizePhone(b.From, defaultCountry);
  if (from === null) return { ok: false, code: 'JIBU_BAD_PHONE', detail: 'From: not a phone number' };
  const optOutType = b.OptOutType?.toUpperCase();
  return {
    ok: true,
    value: {
      channel: 'sms',
      provider: 'twilio',
      from,
      providerFrom: b.From,
      to: b.To,
      text: b.Body,
      providerMessageId: b.MessageSid,
      ...(optOutType !== undefined && isOptOutType(optOutType) ? { optOutType } : {}),
      receivedAt: clock.now(),
    },
  };
}

function isOptOutType(value: string): value is 'STOP' | 'START' | 'HELP' {
  return (OPT_OUT_TYPES as Set<string>).has(value);
}

/** Content type of {@link emptyTwiml}. */
export const TWIML_CONTENT_TYPE = 'text/xml';

/**
 * The empty TwiML answer. Replies go through the REST API instead (as courier does), so each reply
 * has its own SID and status callbacks.
 */
export function emptyTwiml(): string {
  return '<?xml version="1.0" encoding="UTF-8"?><Response/>';
}
