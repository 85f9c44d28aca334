import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Agent, request } from 'node:http';
import { startTestGateway, type TestGateway } from './harness.ts';

// 10 000 random or malformed webhook bodies across every route: never a 5xx, never a crash, and every
// USSD answer is a CON/END screen that fits 160 characters.
const ROUTES = [
  '/ussd/africastalking',
  '/ussd/africastalking/events',
  '/sms/africastalking',
  '/sms/africastalking/delivery',
  '/sms/twilio',
  '/sms/twilio/status',
  '/sms/http',
  '/sms/http/status',
] as const;
const RUNS = 10_000;

let t: TestGateway;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

beforeAll(async () => {
  t = await startTestGateway({ LOG_LEVEL: 'silent' });
});
afterAll(async () => {
  agent.destroy();
  await t.stop();
});

function post(path: string, body: string | Buffer, contentType: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${t.url}${path}`,
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
const request_ = fc.oneof(
  { weight: 1, arbitrary: plausibleHop.map((b) => ['/ussd/africastalking', b] as const) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), body) },
);

describe('webhooks under random and malformed input', () => {
  it(`answer ${RUNS} hostile bodies without a 5xx, and USSD answers are always a CON/END screen of at most 160 characters`, async () => {
    let ussdScreens = 0;
    await fc.assert(
      fc.asyncProperty(request_, async ([route, b]) => {
        const res = await post(route, b.raw, b.ct);
        expect(res.status, `${route} ${b.ct} ${b.raw.slice(0, 80)}`).toBeLessThan(500);
        expect(res.text).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace, ever
        if (route === '/ussd/africastalking' && res.status === 200) {
          ussdScreens++;
          expect(res.text).toMatch(/^(CON|END) /);
          expect(res.text.length - 4).toBeLessThanOrEqual(160);
        } else if (res.status >= 400) {
          expect(JSON.parse(res.text).error.code).toMatch(/^JIBU_[A-Z_]+$/);
        }
      }),
      { numRuns: RUNS },
    );
    expect(ussdScreens).toBeGreaterThan(1000); // the generator really reached the conversation, not just the parser
    // The process is still healthy after all of it.
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  }, 120_000);
});
