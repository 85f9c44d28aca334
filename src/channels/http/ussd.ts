import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { systemClock, type Clock } from '../../clock.ts';
import { readBody, requiredText } from '../body.ts';
import { normalizePhone } from '../phone.ts';
import type { InboundMessage, ParseResult, WebhookRequest } from '../types.ts';

/**
 * The generic USSD contract, for aggregators that send only the latest input (docs/architecture.md,
 * "Adding a channel"): JSON `{"sessionId","phone","serviceCode","input"}`, answered `{"text","end"}`.
 * `hopId`, when the aggregator has one, names the hop within the session: the same `hopId` again is a
 * re-send, answered with the same screen and taken once. Without it a re-send cannot be told from the
 * same answer typed twice, so each request is a new hop.
 */
const hopSchema = z.object({
  sessionId: requiredText(256),
  phone: requiredText(64),
  serviceCode: requiredText(64),
  // The first hop of a dial carries no input.
  input: z.string().max(500),
  hopId: z.union([requiredText(128), z.number().int().nonnegative().transform(String)]).optional(),
});

/**
 * Parse one hop into the message the runner takes: `text` is the input as sent, `dialPath` the hop id.
 *
 * @example parseUssdHop({ body: { sessionId: 's-1', phone: '0711000111', serviceCode: '*384*12#', input: '1', hopId: 2 } }, 'KE')
 */
export function parseUssdHop(
  req: Pick<WebhookRequest, 'body'>,
  defaultCountry?: string,
  clock: Clock = systemClock,
): ParseResult<InboundMessage> {
  const body = readBody(hopSchema, req.body);
  if (!body.ok) return body;
  const b = body.value;
  const from = normalizePhone(b.phone, defaultCountry);
  if (from === null) return { ok: false, code: 'JIBU_BAD_PHONE', detail: 'phone: not a phone number' };
  return {
    ok: true,
    value: {
      channel: 'ussd',
      provider: 'http',
      from,
      providerFrom: b.phone,
      to: b.serviceCode,
      text: b.input,
      providerMessageId: `${b.sessionId}:${b.hopId ?? randomUUID()}`,
      sessionId: b.sessionId,
      ...(b.hopId === undefined ? {} : { dialPath: b.hopId }),
      receivedAt: clock.now(),
    },
  };
}

/** The JSON answer: the screen, and whether the dial ends with it. */
export function renderUssdAnswer(reply: { text: string; end: boolean }): { text: string; end: boolean } {
  return { text: reply.text.replace(/\r\n?/g, '\n'), end: reply.end };
}
