import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Keys whose values are secret or personal and never leave the process in a log line. */
const SECRET_KEYS = new Set([
  'text',
  'body',
  'message_text',
  'pin',
  'newPin',
  'otp',
  'code_plain',
  'password',
  'token',
  'apiKey',
  'authToken',
  'authorization',
  'cookie',
  'key',
  'secret',
  'value',
  'note',
]);
/** Keys holding phone numbers: masked, not removed, so operators can still correlate (`+2547******89`). */
const PHONE_KEYS = new Set(['phone', 'from', 'to', 'msisdn', 'phoneNumber', 'caller', 'recipient']);

/** Only values that look like numbers are masked (`from` is also a date bound in sync statistics). */
const PHONE_LIKE = /^\+?[\d\s().-]{6,}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;

/** `+254712345689` -> `+2547******89`: country code and one digit kept, last two kept. */
export function maskPhoneForLog(v: string): string {
  const digits = v.replace(/[^\d+]/g, '');
  if (digits.length < 6) return '***';
  const head = digits.startsWith('+') ? digits.slice(0, 5) : digits.slice(0, 4);
  return head + '*'.repeat(Math.max(3, digits.length - head.length - 2)) + digits.slice(-2);
}

function scrub(value: unknown, depth: number): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_KEYS.has(k)) out[k] = v === undefined || v === null ? v : '[redacted]';
    else if (PHONE_KEYS.has(k) && typeof v === 'string' && PHONE_LIKE.test(v) && !ISO_DATE.test(v))
      out[k] = maskPhoneForLog(v);
    else out[k] = scrub(v, depth + 1);
  }
  return out;
}

/**
 * The process logger. Every log object passes through a scrubber: secrets and message texts are
 * replaced, phone numbers masked (STYLE.md habit 6). Tests assert this with sentinel values.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'jibu' },
      formatters: { log: (obj) => scrub(obj, 0) as Record<string, unknown> },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination,
  );
}
