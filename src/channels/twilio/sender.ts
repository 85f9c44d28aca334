import { twilioSdk } from './sdk.ts';
import { JibuError } from '../../errors.ts';
import type { OutboundSms, SendResult, SmsSender } from '../types.ts';

/** What `messages.create` is called with; a subset of the SDK's `MessageListInstanceCreateOptions`. */
export interface TwilioCreateParams {
  to: string;
  body: string;
  from?: string;
  messagingServiceSid?: string;
  statusCallback?: string;
}

/** The part of the `twilio` client the sender uses; a fake with this shape serves tests. */
export interface TwilioMessagesClient {
  messages: {
    create(params: TwilioCreateParams): Promise<{ sid: string; status?: string; numSegments?: string | null }>;
  };
}

export interface TwilioSenderOptions {
  accountSid: string;
  authToken: string;
  /** A Twilio number or alphanumeric sender; one of `from` and `messagingServiceSid` is required. */
  from?: string;
  messagingServiceSid?: string;
  /** Where Twilio posts status callbacks, e.g. `https://gw.example.org/sms/twilio/status`; `jid=<our id>` is appended. */
  statusCallbackUrl?: string;
  /** Injected client (tests); by default `twilio(accountSid, authToken)`. */
  client?: TwilioMessagesClient;
}

/** 21610: the recipient sent STOP (docs/providers.md#opt-out-keywords-and-21610). */
const OPT_OUT_CODE = 21610;
/** 21211 invalid `To`, 21614 `To` is not a mobile number: the number cannot get SMS. */
const UNDELIVERABLE_CODES = new Set([21211, 21614]);
/** 20429: too many requests. */
const THROTTLED_CODE = 20429;

/**
 * An {@link SmsSender} over the `twilio` SDK's `messages.create`. Never throws for a refusal:
 * - `RestException` 21610 is permanent and an opt-out; 21211/21614 are permanent and undeliverable;
 * - HTTP 429, code 20429, 5xx and network errors are transient; so is HTTP 401 (bad credentials),
 *   so messages wait in the queue for the fix instead of being dropped;
 * - any other 4xx is permanent for this message (e.g. a `From` that cannot send).
 *
 * @example
 * const sender = createTwilioSender({ accountSid, authToken, from: '+15005550006', statusCallbackUrl });
 * await sender.send({ id: 'msg-1', to: '+254711000111', text: 'Habari' });
 */
export function createTwilioSender(options: TwilioSenderOptions): SmsSender {
  // Empty strings come from unset environment variables; they mean "not configured".
  const from = options.from === '' ? undefined : options.from;
  const messagingServiceSid = options.messagingServiceSid === '' ? undefined : options.messagingServiceSid;
  if (from === undefined && messagingServiceSid === undefined) {
    throw new JibuError('JIBU_CONFIG_INVALID', 'Twilio needs a sender number (from) or a messagingServiceSid');
  }
  const client = options.client ?? createClient(options.accountSid, options.authToken);
  return {
    provider: 'twilio',
    async send(msg: OutboundSms): Promise<SendResult> {
      if (!/^\+\d{6,17}$/.test(msg.to)) {
        return { ok: false, permanent: true, reason: 'recipient is not in E.164 form', code: 'JIBU_BAD_PHONE' };
      }
      const params: TwilioCreateParams = {
        to: msg.to,
        body: msg.text,
        ...(messagingServiceSid === undefined ? { from } : { messagingServiceSid }),
        ...(options.statusCallbackUrl === undefined
          ? {}
          : { statusCallback: withJibuId(options.statusCallbackUrl, msg.id) }),
      };
      try {
        const created = await client.messages.create(params);
        // Through a Messaging Service numSegments is "0" until sent; only a real count is reported.
        const segments = Number(created.numSegments);
        return {
          ok: true,
          providerMessageId: created.sid,
          ...(Number.isInteger(segments) && segments > 0 ? { segments } : {}),
        };
      } catch (error) {
        return classifyError(error);
      }
    },
  };
}

function classifyError(error: unknown): SendResult {
  const e = (error ?? {}) as { status?: unknown; code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message.slice(0, 200) : 'Twilio refused the message';
  if (typeof e.status === 'number') {
    const code = typeof e.code === 'number' ? e.code : undefined;
    const tag = `twilio:${code ?? `http-${e.status}`}`;
    if (code === OPT_OUT_CODE) return { ok: false, permanent: true, optOut: true, reason: message, code: tag };
    if (code !== undefined && UNDELIVERABLE_CODES.has(code))
      return { ok: false, permanent: true, undeliverable: true, reason: message, code: tag };
    const transient =
      e.status === 401 || e.status === 408 || e.status === 429 || e.status >= 500 || code === THROTTLED_CODE;
    return { ok: false, permanent: !transient, reason: message, code: tag };
  }
  // No HTTP status: the request never got an answer (DNS, reset, timeout).
  const errno = typeof e.code === 'string' ? e.code : undefined;
  return {
    ok: false,
    permanent: false,
    reason: errno === undefined ? message : `network error ${errno}`,
    code: 'network',
  };
}

function withJibuId(url: string, id: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}jid=${encodeURIComponent(id)}`;
}

function createClient(accountSid: string, authToken: string): TwilioMessagesClient {
  try {
    return twilioSdk()(accountSid, authToken);
  } catch (error) {
    throw new JibuError('JIBU_CONFIG_INVALID', 'Twilio account SID or auth token is invalid', undefined, {
      cause: error,
    });
  }
}
