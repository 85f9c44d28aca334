import fc from 'fast-check';
import { Agent, request } from 'node:http';

/*
 * Random and malformed webhook bodies across every route, and what every answer must be: never a 5xx,
 * never a stack trace, a stable JIBU_ error code on a 4xx, and a CON/END screen of at most 160
 * characters for a USSD hop. Shared by the property test (a few hundred requests) and
 * bench/webhooks-soak.ts (ten thousand, timed).
 */

export const ROUTES = [
  '/ussd/africastalking',
  '/ussd/africastalking/events',
  '/sms/africastalking',
  '/sms/africastalking/delivery',
  '/sms/twilio',
  '/sms/twilio/status',
  '/sms/http',
  '/sms/http/status',
] as const;

const phoneish = fc.oneof(
  fc.constant('+254700000001'),
  fc.constant('0712345678'),
  fc.string({ maxLength: 20 }),
  fc.stringMatching(/^\+[0-9]{6,15}$/),
);
const field = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[0-9*#]{0,30}$/),
  fc.constant(''),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
const atUssdForm = fc.record(
  {
    sessionId: field,
    serviceCode: fc.oneof(fc.constant('*384*12#'), field),
    phoneNumber: phoneish,
    networkCode: field,
    text: fc.oneof(fc.stringMatching(/^[0-9*]{0,40}$/), field),
  },
  { requiredKeys: [] },
);
const anyForm = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'id',
      'from',
      'to',
      'text',
      'status',
      'MessageSid',
      'Body',
      'From',
      'date',
      'phoneNumber',
      'sessionId',
    ),
    fc.string({ maxLength: 12 }),
  ),
  field,
  { maxKeys: 8 },
);

const body = fc.oneof(
  atUssdForm.map((f) => ({
    ct: 'application/x-www-form-urlencoded',
    raw: new URLSearchParams(f as Record<string, string>).toString(),
  })),
  anyForm.map((f) => ({ ct: 'application/x-www-form-urlencoded', raw: new URLSearchParams(f).toString() })),
  fc.jsonValue().map((j) => ({ ct: 'application/json', raw: JSON.stringify(j) ?? 'null' })),
  fc.string({ maxLength: 200 }).map((s) => ({ ct: 'application/json', raw: s })),
  fc.string({ maxLength: 200 }).map((s) => ({ ct: 'text/plain', raw: s })),
  fc
    .uint8Array({ maxLength: 200 })
    .map((b) => ({ ct: 'application/x-www-form-urlencoded', raw: Buffer.from(b).toString('latin1') })),
);

// Plausible USSD hops (known sessions, real phones, digit paths with junk mixed in) reach the conversation
// itself; the rest exercise the parsers.
const plausibleHop = fc
  .record({
    sessionId: fc.constantFrom('p1', 'p2', 'p3', 'p4'),
    phoneNumber: fc.constantFrom('+254700000901', '+254700000902', '0700000903'),
    text: fc
      .array(fc.oneof(fc.stringMatching(/^[0-9]{1,3}$/), fc.constantFrom('98', '0', '00', 'tomorrow', '', '#', '**')), {
        maxLength: 8,
      })
      .map((a) => a.join('*')),
  })
  .map((f) => ({
    ct: 'application/x-www-form-urlencoded',
    raw: new URLSearchParams({ serviceCode: '*384*12#', networkCode: '63902', ...f }).toString(),
  }));
/** A webhook request: a route and a body, hostile three times in four, a plausible USSD hop otherwise. */
export const hostileRequest = fc.oneof(
  { weight: 1, arbitrary: plausibleHop.map((b) => ['/ussd/africastalking', b] as const) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), body) },
);

/** POST a raw body over a keep-alive agent; resolves with the status and the text. */
export function poster(base: string, agent: Agent) {
  return (path: string, body: string | Buffer, contentType: string): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${base}${path}`,
        { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

/**
 * What is wrong with one answer, or null when it is as promised. `screen` tells a USSD screen apart, so
 * callers can show the generator reached the conversation and not only the parsers.
 */
export function judge(
  route: string,
  sent: { ct: string; raw: string },
  res: { status: number; text: string },
): { problem: string | null; screen: boolean } {
  const where = `${route} ${sent.ct} ${sent.raw.slice(0, 80)}`;
  if (res.status >= 500) return { problem: `${res.status} for ${where}`, screen: false };
  if (/\n\s+at .+:\d+:\d+/.test(res.text)) return { problem: `a stack trace for ${where}`, screen: false };
  if (route === '/ussd/africastalking' && res.status === 200) {
    if (!/^(CON|END) /.test(res.text)) return { problem: `not a CON/END screen for ${where}`, screen: true };
    if (res.text.length - 4 > 160) return { problem: `a screen over 160 characters for ${where}`, screen: true };
    return { problem: null, screen: true };
  }
  if (res.status >= 400) {
    let code: unknown;
    try {
      code = (JSON.parse(res.text) as { error?: { code?: unknown } }).error?.code;
    } catch {
      code = undefined;
    }
    if (typeof code !== 'string' || !/^JIBU_[A-Z_]+$/.test(code))
      return { problem: `${res.status} without a JIBU_ code for ${where}`, screen: false };
  }
  return { problem: null, screen: false };
}
