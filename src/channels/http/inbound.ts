import { z } from 'zod';
import { systemClock, type Clock } from '../../clock.ts';
import { readBody } from '../body.ts';
import { normalizePhone } from '../phone.ts';
import type { InboundMessage, ParseResult, WebhookRequest } from '../types.ts';

/** Aggregators often send numeric ids in JSON; both read as text. */
const id = z.union([z.string().trim().min(1).max(256), z.number().int().nonnegative().transform(String)]);

/**
 * The generic contract (docs/providers.md#generic-inbound-sms): JSON or form `{"id","from","to","text"}`; `to` may be
 * left out.
 */
const inboundSchema = z.object({
  id,
  from: z.string().trim().min(1).max(64),
  to: z.string().trim().max(64).optional().default(''),
  text: z.string().max(10_000),
});

/**
 * Parse an inbound SMS from a generic HTTP gateway (Kannel-style aggregators, test rigs), JSON or form.
 * `id` is the dedupe key, so a gateway that retries must resend the same id.
 *
 * @example parseInboundSms({ body: { id: 'k-1', from: '0711000111', to: '21512', text: 'NDIYO' } }, 'KE')
 */
export function parseInboundSms(
  req: Pick<WebhookRequest, 'body'>,
  defaultCountry?: string,
  clock: Clock = systemClock,
): ParseResult<InboundMessage> {
  const body = readBody(inboundSchema, req.body);
  if (!body.ok) return body;
  const b = body.value;
  const from = normalizePhone(b.from, defaultCountry);
  if (from === null) return { ok: false, code: 'JIBU_BAD_PHONE', detail: 'from: not a phone number' };
  return {
    ok: true,
    value: {
      channel: 'sms',
      provider: 'http',
      from,
      providerFrom: b.from,
      to: b.to,
      text: b.text,
      providerMessageId: b.id,
      receivedAt: clock.now(),
    },
  };
}
