import { z } from 'zod';
import { systemClock, type Clock } from '../../clock.ts';
import { optionalText, readBody } from '../body.ts';
import type { DeliveryReport, DeliveryStatus, ParseResult, WebhookRequest } from '../types.ts';

const statusSchema = z.object({
  id: z.union([z.string().trim().min(1).max(256), z.number().int().nonnegative().transform(String)]),
  status: z.union([z.string().trim().min(1).max(64), z.number().int().transform(String)]),
  reason: optionalText(256),
});

/**
 * Accepted status words, case-insensitive (Kannel, SMPP `stat` values and common aggregator words),
 * plus Kannel's numeric DLR types (docs/providers.md#generic-status-callbacks): 1 delivered, 2 failed, 4 buffered, 8
 * submitted, 16 rejected.
 * Anything else is `unknown` and still a valid report.
 */
export const HTTP_STATUS_WORDS: Readonly<Record<string, DeliveryStatus>> = {
  queued: 'queued',
  pending: 'queued',
  accepted: 'queued',
  sent: 'sent',
  submitted: 'sent',
  buffered: 'sent',
  enroute: 'sent',
  delivered: 'delivered',
  delivrd: 'delivered',
  success: 'delivered',
  read: 'delivered',
  failed: 'failed',
  failure: 'failed',
  undelivered: 'failed',
  undeliv: 'failed',
  undeliverable: 'failed',
  rejected: 'failed',
  rejectd: 'failed',
  expired: 'failed',
  error: 'failed',
  '1': 'delivered',
  '2': 'failed',
  '4': 'sent',
  '8': 'sent',
  '16': 'failed',
};

/**
 * Parse a generic status callback `{"id","status"}` (JSON or form; optional `reason`). In the generic
 * contract the gateway echoes Jibu's own id, so `id` is both the provider and the Jibu message id.
 *
 * @example parseStatus({ body: { id: 'msg-1', status: 'DELIVRD' } }) // status 'delivered'
 */
export function parseStatus(
  req: Pick<WebhookRequest, 'body'>,
  clock: Clock = systemClock,
): ParseResult<DeliveryReport> {
  const body = readBody(statusSchema, req.body);
  if (!body.ok) return body;
  const b = body.value;
  const word = b.status.toLowerCase();
  return {
    ok: true,
    value: {
      provider: 'http',
      providerMessageId: b.id,
      jibuMessageId: b.id,
      status: Object.hasOwn(HTTP_STATUS_WORDS, word) ? HTTP_STATUS_WORDS[word]! : 'unknown',
      rawStatus: b.status,
      ...(b.reason === undefined ? {} : { failureReason: b.reason }),
      receivedAt: clock.now(),
    },
  };
}
