import type { ErrorCode } from '../errors.ts';

/** How the contact reached us: a USSD session (synchronous screens) or an SMS (asynchronous). */
export type Channel = 'ussd' | 'sms';

/** Providers Jibu speaks to. `simulator` is the web/CLI phone; `console` prints outbound SMS. */
export type ProviderName = 'africastalking' | 'twilio' | 'http' | 'console' | 'simulator';

/** One inbound message or USSD hop, whatever provider it came from (docs/design.md#step-1-parse-at-the-edge). */
export interface InboundMessage {
  channel: Channel;
  provider: ProviderName;
  /** Sender in E.164 (`+254700000001`). */
  from: string;
  /** The number or code as the provider sent it; kept so replies go back in the provider's own format. */
  providerFrom: string;
  /** Our short code, long number or USSD service code. */
  to: string;
  /**
   * For SMS: the message body. For USSD: only the latest input of this hop ('' on the first hop),
   * derived by the channel adapter (AT sends the whole path, other aggregators only the latest input).
   */
  text: string;
  /** Provider id used for dedupe (AT `id`, Twilio `MessageSid`, generic `id`; USSD: sessionId + hop). */
  providerMessageId: string;
  /** USSD session id from the provider. */
  sessionId?: string;
  /**
   * USSD: what identifies this hop within the dial, as the provider says it: AT's accumulated `text`
   * (`1*2*0712345678`), or the hop id of a provider that sends only the latest input. The same value
   * again is the provider re-sending the hop. May hold PINs: the runner keeps only its digest.
   */
  dialPath?: string;
  /** USSD: network code (MCC+MNC) when given. */
  networkCode?: string;
  /** AT premium/on-demand SMS: pass back on the reply so the subscriber is billed for it (empty values dropped). */
  linkId?: string;
  /** Twilio Advanced Opt-Out: which keyword class Twilio matched; Twilio has already answered and (un)blocked the pair. */
  optOutType?: 'STOP' | 'START' | 'HELP';
  receivedAt: Date;
}

/** Our normalised delivery states. Finals are never downgraded. */
export type DeliveryStatus = 'queued' | 'sent' | 'delivered' | 'failed' | 'unknown';

export interface DeliveryReport {
  provider: ProviderName;
  /** The provider's id for the outbound message (AT `ATXid_…`, Twilio `SM…`, generic id). */
  providerMessageId: string;
  status: DeliveryStatus;
  /** The provider's own status word, kept for operators. */
  rawStatus: string;
  failureReason?: string;
  errorCode?: string;
  /** True when the failure means "never send to this number again" (Twilio 21610, AT UserInBlackList). */
  optOut?: boolean;
  /**
   * True when the number itself cannot receive SMS (AT UserDoesNotExist, Twilio 30005/30006/21211/21614):
   * the contact should be marked `undeliverable`, unlike a failure of this one message.
   */
  undeliverable?: boolean;
  phone?: string;
  /** Jibu's own outbound id when the provider echoes it (generic `id`, Twilio callback query). */
  jibuMessageId?: string;
  receivedAt: Date;
}

/** A USSD session ended notification (AT "events" callback). */
export interface UssdSessionEvent {
  provider: ProviderName;
  sessionId: string;
  phone: string;
  status: 'Success' | 'Incomplete' | 'Failed' | string;
  durationMs?: number;
  hopsCount?: number;
  cost?: number;
  /** Currency prefix of `cost` when AT sends one (`KES 0.10`). */
  currency?: string;
  errorMessage?: string;
  date?: Date;
  serviceCode?: string;
  networkCode?: string;
  /** The final accumulated input path of the session (AT `input`). */
  input?: string;
  /** Our last screen as AT saw it, prefix included (`CON …`/`END …`). */
  lastAppResponse?: string;
}

export interface OutboundSms {
  /** Jibu's id for this message (idempotency key for the send). */
  id: string;
  /** Recipient in E.164. */
  to: string;
  text: string;
}

export type SendResult =
  | { ok: true; providerMessageId: string; segments?: number; cost?: string }
  | {
      ok: false;
      /** True when retrying this message cannot succeed; false means retry with backoff. */
      permanent: boolean;
      reason: string;
      /** The provider's own code, prefixed with the provider (`at:406`, `twilio:21610`, `http:404`, `network`, `timeout`). */
      code?: string;
      /** The recipient opted out of this sender (Twilio 21610, AT 406 UserInBlacklist): stop sending to them. */
      optOut?: boolean;
      /** The number cannot receive SMS at all (invalid, not mobile): mark the contact undeliverable. */
      undeliverable?: boolean;
    };

/** Outbound SMS through one provider. Implementations never throw for a provider refusal: they return `ok:false`. */
export interface SmsSender {
  readonly provider: ProviderName;
  send(msg: OutboundSms): Promise<SendResult>;
}

/** What a pure parser returns: the value, or a stable error code with the HTTP status to answer. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; detail?: string };

/** The subset of an HTTP request a pure parser needs (so tests need no server). */
export interface WebhookRequest {
  method: string;
  /** Path and query exactly as received, e.g. `/sms/twilio?key=abc`. */
  originalUrl: string;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
  /** Parsed body (urlencoded or JSON) as express gives it; may be anything for hostile input. */
  body: unknown;
}
