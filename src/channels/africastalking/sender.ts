import { createRequire } from 'node:module';
import { z } from 'zod';
import { JibuError } from '../../errors.ts';
import type { OutboundSms, SendResult, SmsSender } from '../types.ts';

/** The part of the `africastalking` SDK (0.8.x) the sender uses; a fake with this shape serves tests. */
export interface AfricasTalkingSdk {
  SMS: { send(opts: { to: string; message: string; from?: string }): Promise<unknown> };
}

export interface AfricasTalkingSenderOptions {
  username: string;
  apiKey: string;
  /** Registered short code or alphanumeric sender id; omitted means AT's default sender. */
  from?: string;
  /** Injected SDK (tests); by default the real `africastalking` package is loaded. */
  sdk?: AfricasTalkingSdk;
}

/** The send response body (docs/providers.md#sending-with-the-sdk; fixtures send-201-*.json). */
const sendResponseSchema = z.object({
  SMSMessageData: z.object({
    Message: z.string().optional(),
    Recipients: z.array(
      z.object({
        statusCode: z.union([z.number(), z.string()]).optional(),
        status: z.string().optional(),
        number: z.string().optional(),
        messageId: z.string().optional(),
        cost: z.string().optional(),
        messageParts: z.union([z.number(), z.string()]).optional(),
      }),
    ),
  }),
});

type Failure = Extract<SendResult, { ok: false }>;

/**
 * Per-recipient `statusCode`s (docs/providers.md#sending-with-the-sdk). 100–102 are accepted. The rest:
 * - permanent, about the number: 403 InvalidPhoneNumber, 404 UnsupportedNumberType;
 * - permanent, the subscriber refused us: 406 UserInBlacklist (opt-out), 409 DoNotDisturbRejection
 *   (not marked as opt-out: one source reads 409 as DuplicateRequest);
 * - permanent for this message: 407 CouldNotRoute;
 * - transient (as CHT retries them): 401 RiskHold, 402 InvalidSenderId, 405 InsufficientBalance,
 *   500, 501, 502, and any code AT adds later.
 */
const RECIPIENT_FAILURES: Readonly<Record<number, Omit<Failure, 'ok' | 'reason' | 'code'>>> = {
  403: { permanent: true, undeliverable: true },
  404: { permanent: true, undeliverable: true },
  406: { permanent: true, optOut: true },
  407: { permanent: true },
  409: { permanent: true },
};

const ACCEPTED = new Set([100, 101, 102]);

/**
 * An {@link SmsSender} over the `africastalking` SDK's `SMS.send` (bulk mode). Never throws for a
 * provider refusal:
 * - HTTP 201 with an empty `Recipients` list (e.g. `InvalidSenderId`) is a permanent failure with
 *   AT's `Message` as the reason;
 * - per-recipient codes map as {@link RECIPIENT_FAILURES};
 * - HTTP 401 (bad key), 429, 5xx and network errors are transient: the message waits in the queue
 *   (and its dead letters) until the cause is fixed, instead of being dropped; other 4xx are permanent.
 *
 * @example
 * const sender = createAfricasTalkingSender({ username: 'jibu', apiKey, from: 'JIBU' });
 * await sender.send({ id: 'msg-1', to: '+254711000111', text: 'Habari' });
 */
export function createAfricasTalkingSender(options: AfricasTalkingSenderOptions): SmsSender {
  const sdk = options.sdk ?? loadSdk(options.username, options.apiKey);
  return {
    provider: 'africastalking',
    async send(msg: OutboundSms): Promise<SendResult> {
      // The SDK validates `to` with libphonenumber and no default region: `07…` would be refused.
      if (!/^\+\d{6,17}$/.test(msg.to)) {
        return { ok: false, permanent: true, reason: 'recipient is not in E.164 form', code: 'JIBU_BAD_PHONE' };
      }
      let response: unknown;
      try {
        response = await sdk.SMS.send({
          to: msg.to,
          message: msg.text,
          ...(options.from === undefined || options.from === '' ? {} : { from: options.from }),
        });
      } catch (error) {
        return classifyRejection(error, msg);
      }
      return readSendResponse(response, msg);
    },
  };
}

function readSendResponse(response: unknown, msg: OutboundSms): SendResult {
  const parsed = sendResponseSchema.safeParse(response);
  if (!parsed.success) {
    return {
      ok: false,
      permanent: false,
      reason: "Africa's Talking answered with an unexpected body",
      code: 'at:unexpected-response',
    };
  }
  const { Message: message, Recipients: recipients } = parsed.data.SMSMessageData;
  const recipient = recipients.find((r) => r.number === msg.to) ?? recipients[0];
  if (recipient === undefined) {
    return {
      ok: false,
      permanent: true,
      reason: message === undefined || message === '' ? 'no recipient accepted' : message,
      code: 'at:no-recipients',
    };
  }
  const statusCode = Number(recipient.statusCode);
  if (ACCEPTED.has(statusCode) || (recipient.statusCode === undefined && recipient.status === 'Success')) {
    const parts = Number(recipient.messageParts);
    return {
      ok: true,
      providerMessageId: recipient.messageId ?? msg.id,
      ...(Number.isInteger(parts) && parts > 0 ? { segments: parts } : {}),
      ...(recipient.cost === undefined ? {} : { cost: recipient.cost }),
    };
  }
  const reason = recipient.status ?? message ?? `status ${String(recipient.statusCode)}`;
  const mapped = RECIPIENT_FAILURES[statusCode] ?? { permanent: false };
  return { ok: false, reason, code: `at:${Number.isFinite(statusCode) ? statusCode : 'unknown'}`, ...mapped };
}

/** What the SDK rejects with: an AxiosError (HTTP or network), a Joi-style Error, or a non-201 body. */
function classifyRejection(error: unknown, msg: OutboundSms): SendResult {
  if (error instanceof Error) {
    const response = (error as { response?: { status?: unknown; data?: unknown } }).response;
    if (response !== undefined && typeof response.status === 'number') {
      const status = response.status;
      const detail = typeof response.data === 'string' ? response.data.slice(0, 200) : error.message;
      const transient = status === 401 || status === 408 || status === 429 || status >= 500;
      return { ok: false, permanent: !transient, reason: `HTTP ${status}: ${detail}`, code: `at:http-${status}` };
    }
    const errno = (error as { code?: unknown }).code;
    if (typeof errno === 'string' && errno !== '') {
      return { ok: false, permanent: false, reason: `network error ${errno}`, code: 'network' };
    }
    // The SDK's own (Joi) validation: `"to" must be a valid phone number; ` or `"to" failed custom validation …`.
    // Its google-libphonenumber disagreed with ours about the recipient, and it will not change its mind.
    if (error.message.startsWith('"to"')) {
      return {
        ok: false,
        permanent: true,
        undeliverable: true,
        reason: error.message.slice(0, 200),
        code: 'at:invalid-phone',
      };
    }
    if (/^"\w+" /.test(error.message)) {
      return { ok: false, permanent: true, reason: error.message.slice(0, 200), code: 'at:invalid-request' };
    }
    return { ok: false, permanent: false, reason: error.message.slice(0, 200), code: 'at:error' };
  }
  // A 2xx other than 201 rejects with the body; it may still be a send response.
  if (sendResponseSchema.safeParse(error).success) {
    return readSendResponse(error, msg);
  }
  return {
    ok: false,
    permanent: false,
    reason: "Africa's Talking answered with an unexpected status",
    code: 'at:unexpected-response',
  };
}

function loadSdk(username: string, apiKey: string): AfricasTalkingSdk {
  // The SDK is CommonJS without types; load it only when no fake is injected.
  const require = createRequire(import.meta.url);
  const factory = require('africastalking') as (opts: { username: string; apiKey: string }) => AfricasTalkingSdk;
  try {
    return factory({ username, apiKey });
  } catch (error) {
    throw new JibuError('JIBU_CONFIG_INVALID', "Africa's Talking username and API key are required", undefined, {
      cause: error,
    });
  }
}
