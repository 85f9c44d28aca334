/**
 * Rate limits on inbound SMS and USSD (SECURITY.md "Rate limits on inbound messages"): one number
 * cannot flood DHIS2 with writes, and one source address cannot flood the gateway.
 *
 * - Per phone, per channel, in fixed windows. Over the limit, the message is not processed: SMS is
 *   still acknowledged 200 to the provider (Africa's Talking retries anything else, which would replay
 *   the flood) and gets at most one polite reply per window; a USSD hop gets a polite `END`.
 * - Per source address (the provider's, for real traffic), answered `429 JIBU_RATE_LIMITED`: a
 *   provider retries later, so nothing is lost, only slowed down.
 *
 * Counts live in this process (bounded memory): with several replicas each enforces its own limit,
 * so a number gets at most `replicas × limit` through. Phones and addresses never appear in metrics.
 * When the table is full, the key hit longest ago goes first: a number that keeps sending stays
 * counted, so spraying many other numbers cannot wipe its count.
 */

export interface InboundLimits {
  /** SMS a phone may send per window; 0 = no limit. */
  smsPerPhone: number;
  /** USSD hops a phone may send per window; 0 = no limit. */
  ussdPerPhone: number;
  /** Inbound SMS and USSD requests per source address per minute; 0 = no limit. */
  perIp: number;
  /** The per-phone window. */
  phoneWindowMs: number;
}

export const DEFAULT_INBOUND_LIMITS: InboundLimits = {
  smsPerPhone: 10,
  ussdPerPhone: 120,
  perIp: 0,
  phoneWindowMs: 10 * 60_000,
};

const IP_WINDOW_MS = 60_000;
/** Most keys counted at once (about 100 bytes each); past it, the least recently hit key is dropped. */
const MAX_KEYS = 100_000;

/** What the limiter says about one request. `first` marks the first refusal of the window. */
export type LimitVerdict = { ok: true } | { ok: false; reason: 'phone' | 'ip'; first: boolean };

export interface InboundLimiter {
  /** Count a request from `ip` (before parsing). */
  ip(ip: string | undefined, now: number): LimitVerdict;
  /** Count a message or hop of `phone` on `channel`. */
  phone(channel: 'sms' | 'ussd', phone: string, now: number): LimitVerdict;
  /** How many keys are counted now (bounded by `maxKeys`). */
  tracked(): number;
}

interface Window {
  start: number;
  count: number;
}

/** @example const limiter = createInboundLimiter({ ...DEFAULT_INBOUND_LIMITS, smsPerPhone: 5 }) */
export function createInboundLimiter(
  limits: InboundLimits = DEFAULT_INBOUND_LIMITS,
  maxKeys = MAX_KEYS,
): InboundLimiter {
  // A Map iterates in insertion order; every hit re-inserts its key, so the first key is the least recently hit.
  const windows = new Map<string, Window>();

  function hit(key: string, limit: number, windowMs: number, now: number, reason: 'phone' | 'ip'): LimitVerdict {
    if (limit <= 0) return { ok: true };
    let w = windows.get(key);
    if (w) windows.delete(key);
    if (!w || now - w.start >= windowMs || now < w.start) w = { start: now, count: 0 };
    while (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string);
    windows.set(key, w);
    w.count++;
    return w.count <= limit ? { ok: true } : { ok: false, reason, first: w.count === limit + 1 };
  }

  return {
    ip: (ip, now) => (ip ? hit(`ip:${ip}`, limits.perIp, IP_WINDOW_MS, now, 'ip') : { ok: true }),
    phone: (channel, phone, now) =>
      hit(
        `${channel}:${phone}`,
        channel === 'sms' ? limits.smsPerPhone : limits.ussdPerPhone,
        limits.phoneWindowMs,
        now,
        'phone',
      ),
    tracked: () => windows.size,
  };
}
