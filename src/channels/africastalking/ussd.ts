import { z } from 'zod';
import { optionalText, readBody, requiredText } from '../body.ts';
import { normalizePhone } from '../phone.ts';
import type { InboundMessage, ParseResult, UssdSessionEvent, WebhookRequest } from '../types.ts';
import { parseAtDate } from './date.ts';

/**
 * One USSD hop as AT posts it (docs/providers.md). `text` may be empty (first hop) but must be present;
 * `networkCode` is optional because AT-style clones omit it, and it only informs.
 */
export const ussdHopSchema = z.object({
  sessionId: requiredText(256),
  serviceCode: requiredText(64),
  phoneNumber: requiredText(64),
  networkCode: optionalText(16),
  // Accumulated inputs of one 180 s session; far below this in practice.
  text: z.string().max(4000),
});

/** A parsed AT USSD hop. `path` is the raw accumulated `text`; {@link toUssdInbound} makes it a message. */
export interface AtUssdHop {
  sessionId: string;
  serviceCode: string;
  /** The caller in E.164. */
  phone: string;
  /** The caller exactly as AT sent it. */
  providerPhone: string;
  networkCode?: string;
  path: string;
  /** AT sends an empty `text` on the first hop of a session. */
  isNew: boolean;
}

/**
 * Parse an AT USSD hop (form body). Missing or mistyped fields give `JIBU_BAD_REQUEST` naming them;
 * a caller number that is not a phone number gives `JIBU_BAD_PHONE`.
 *
 * @example parseUssd(req, 'KE') // { ok: true, value: { sessionId: 'ATUid_…', path: '1*2', isNew: false, … } }
 */
export function parseUssd(req: Pick<WebhookRequest, 'body'>, defaultCountry?: string): ParseResult<AtUssdHop> {
  let fields = plainHop(req.body);
  if (fields === null) {
    const body = readBody(ussdHopSchema, req.body);
    if (!body.ok) return body;
    fields = body.value;
  }
  const { sessionId, serviceCode, phoneNumber, networkCode, text } = fields;
  const phone = normalizePhone(phoneNumber, defaultCountry);
  if (phone === null) return { ok: false, code: 'JIBU_BAD_PHONE', detail: 'phoneNumber: not a phone number' };
  return {
    ok: true,
    value: {
      sessionId,
      serviceCode,
      phone,
      providerPhone: phoneNumber,
      ...(networkCode === undefined ? {} : { networkCode }),
      path: text,
      isNew: text === '',
    },
  };
}

type HopFields = Omit<z.output<typeof ussdHopSchema>, 'networkCode'> & { networkCode?: string | undefined };

/**
 * The fields of a well-formed hop, read by hand exactly as {@link ussdHopSchema} reads them (trimmed, within
 * bounds), or null to leave the body to the schema, which decides and names what is wrong. Every USSD hop
 * comes through here; the schema's cost showed in the bench (bench/README.md). tests/channels/africastalking.test.ts
 * holds the two equal on random bodies.
 */
export function plainHop(body: unknown): HopFields | null {
  if (typeof body !== 'object' || body === null) return null;
  const proto: unknown = Object.getPrototypeOf(body);
  if (proto !== Object.prototype && proto !== null) return null;
  const b = body as Record<string, unknown>;
  const { sessionId, serviceCode, phoneNumber, networkCode, text } = b;
  if (typeof sessionId !== 'string' || typeof serviceCode !== 'string' || typeof phoneNumber !== 'string') return null;
  if (typeof text !== 'string' || text.length > 4000) return null;
  const sid = sessionId.trim();
  const code = serviceCode.trim();
  const phone = phoneNumber.trim();
  if (sid.length < 1 || sid.length > 256 || code.length < 1 || code.length > 64) return null;
  if (phone.length < 1 || phone.length > 64) return null;
  if (networkCode === undefined)
    return 'networkCode' in b
      ? { sessionId: sid, serviceCode: code, phoneNumber: phone, networkCode: undefined, text }
      : { sessionId: sid, serviceCode: code, phoneNumber: phone, text };
  if (typeof networkCode !== 'string' || networkCode.length > 16) return null;
  const net = networkCode.trim();
  return { sessionId: sid, serviceCode: code, phoneNumber: phone, networkCode: net === '' ? undefined : net, text };
}

/**
 * The newest input of a hop: what follows the last `*` of the accumulated `path` AT sent (AT joins the
 * inputs of a dial with `*`, docs/providers.md). Pure, so the adapter hands the runner a finished message.
 *
 * - `1*2` gives `2`; `1*2*0712345678` gives `0712345678`; `1*` gives `''` (an empty input).
 * - The first hop (`''`) gives `''`; a path with no `*` is the input itself.
 * - A `*` typed inside one answer reads as a separator, as it does for AT itself: `1*12*34` gives `34`.
 *   No answer a flow asks for needs a `*` (dates are typed `25122025`, docs/architecture.md).
 *
 * Whether the hop is new, a continuation or a provider re-send is the runner's to decide, from the
 * session (`dialPath` is kept on the message for that).
 *
 * @example latestUssdInput('1*2*0712345678') // '0712345678'
 */
export function latestUssdInput(path: string): string {
  return path.slice(path.lastIndexOf('*') + 1);
}

/** The text/plain answer AT expects: `CON ` keeps the session open for input, `END ` closes it. */
export interface UssdResponse {
  contentType: 'text/plain';
  body: string;
}

/**
 * Render a USSD screen for AT. Line endings become `\n`, the only separator handsets render.
 * Fitting the screen (160 characters, GSM-7) is the flow renderer's job, not this function's.
 *
 * @example renderUssd('Menu\n1. Register child', false) // { contentType: 'text/plain', body: 'CON Menu\n1. Register child' }
 */
export function renderUssd(text: string, end: boolean): UssdResponse {
  return { contentType: 'text/plain', body: `${end ? 'END' : 'CON'} ${text.replace(/\r\n?/g, '\n')}` };
}

/**
 * The {@link InboundMessage} for one hop, as the runner takes it: `text` is the newest input and
 * `dialPath` the raw accumulated path, which identifies the hop within the dial (the same path again
 * is AT re-sending a hop). The dedupe id is `sessionId:path`.
 *
 * @example toUssdInbound(hop, new Date()) // { channel: 'ussd', text: '0712345678', dialPath: '1*2*0712345678', … }
 */
export function toUssdInbound(hop: AtUssdHop, receivedAt: Date): InboundMessage {
  return {
    channel: 'ussd',
    provider: 'africastalking',
    from: hop.phone,
    providerFrom: hop.providerPhone,
    to: hop.serviceCode,
    text: latestUssdInput(hop.path),
    providerMessageId: `${hop.sessionId}:${hop.path}`,
    sessionId: hop.sessionId,
    dialPath: hop.path,
    ...(hop.networkCode === undefined ? {} : { networkCode: hop.networkCode }),
    receivedAt,
  };
}

/**
 * End-of-session notification (docs/providers.md#end-of-session-notification). Only the identifying fields are strict.
 */
const ussdEventSchema = z.object({
  sessionId: requiredText(256),
  phoneNumber: requiredText(64),
  status: requiredText(64),
  serviceCode: optionalText(64),
  networkCode: optionalText(16),
  date: optionalText(64),
  durationInMillis: optionalText(32),
  hopsCount: optionalText(16),
  cost: optionalText(64),
  errorMessage: optionalText(2000),
  input: z.string().max(4000).optional(),
  lastAppResponse: z.string().max(4000).optional(),
});

/**
 * Parse an AT end-of-session notification. Numbers are read leniently: a `cost` of `0.10`,
 * `KES 0.10` or `KES0.10`; an unreadable duration, count, cost or date is left out rather than
 * refused, since the notification is only recorded. `date` (`yyyy-MM-dd HH:mm:ss`) is read as UTC,
 * like AT's other space-separated dates.
 */
export function parseUssdEvent(
  req: Pick<WebhookRequest, 'body'>,
  defaultCountry?: string,
): ParseResult<UssdSessionEvent> {
  const body = readBody(ussdEventSchema, req.body);
  if (!body.ok) return body;
  const b = body.value;
  const phone = normalizePhone(b.phoneNumber, defaultCountry);
  if (phone === null) return { ok: false, code: 'JIBU_BAD_PHONE', detail: 'phoneNumber: not a phone number' };
  const cost = parseCost(b.cost);
  const date = parseAtDate(b.date);
  const durationMs = parseCount(b.durationInMillis);
  const hopsCount = parseCount(b.hopsCount);
  return {
    ok: true,
    value: {
      provider: 'africastalking',
      sessionId: b.sessionId,
      phone,
      status: b.status,
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(hopsCount === undefined ? {} : { hopsCount }),
      ...(cost === undefined ? {} : { cost: cost.amount }),
      ...(cost?.currency === undefined ? {} : { currency: cost.currency }),
      ...(b.errorMessage === undefined ? {} : { errorMessage: b.errorMessage }),
      ...(date === undefined ? {} : { date }),
      ...(b.serviceCode === undefined ? {} : { serviceCode: b.serviceCode }),
      ...(b.networkCode === undefined ? {} : { networkCode: b.networkCode }),
      ...(b.input === undefined ? {} : { input: b.input }),
      ...(b.lastAppResponse === undefined ? {} : { lastAppResponse: b.lastAppResponse }),
    },
  };
}

/**
 * An amount with an optional currency prefix or suffix (`KES 0.8000`, `0.10`, `1,250.50 NGN`).
 * Exported for the SMS sender, which reads AT's per-recipient `cost` the same way.
 */
export function parseCost(raw: string | undefined): { amount: number; currency?: string } | undefined {
  if (raw === undefined) return undefined;
  const m = /^([A-Za-z]{3})?\s*(-?\d[\d,]*(?:\.\d+)?)\s*([A-Za-z]{3})?$/.exec(raw.trim());
  if (m === null || (m[1] !== undefined && m[3] !== undefined)) return undefined;
  const amount = Number(m[2]!.replace(/,/g, ''));
  if (!Number.isFinite(amount)) return undefined;
  const currency = (m[1] ?? m[3])?.toUpperCase();
  return currency === undefined ? { amount } : { amount, currency };
}

function parseCount(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,15}(?:\.0+)?$/.test(raw)) return undefined;
  return Number(raw);
}
