import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import express from 'express';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { fixedClock } from '../../src/clock.ts';
import { parseForm, takesFastPath } from '../../src/server/fast-ussd.ts';
import { startTestGateway, type TestGateway } from './harness.ts';

// The USSD fast path answers plain AT hops before Express sees them. It must give exactly the answers
// the Express route gives: two identical gateways (same clock, same demo data, empty stores) get the same
// request sequence, one through the server's listener (fast path), the other through its Express app
// alone, and every answer must match.

const SECRET = 'fast-path-secret';
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
let fast: TestGateway;
let slow: TestGateway;
let expressOnly: Server;
let expressOnlyUrl: string;

beforeAll(async () => {
  const env = { LOG_LEVEL: 'silent', WEBHOOK_SECRET: SECRET };
  fast = await startTestGateway(env, { clock: fixedClock('2026-03-02T09:00:00Z'), workers: false });
  slow = await startTestGateway(env, { clock: fixedClock('2026-03-02T09:00:00Z'), workers: false });
  expressOnly = createServer(slow.gw.app).listen(0, '127.0.0.1');
  await once(expressOnly, 'listening');
  const a = expressOnly.address();
  expressOnlyUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}, 60_000);
afterAll(async () => {
  agent.destroy();
  await new Promise((r) => expressOnly.close(r));
  await fast.stop();
  await slow.stop();
});

interface Sent {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}
interface Got {
  status: number;
  type: string;
  text: string;
}

function send(base: string, s: Sent): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${s.path}`, { method: 'POST', agent, headers: s.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end(s.body);
  });
}

// Reference numbers are random per gateway; everything else must be identical.
const mask = (s: string) => s.replace(/\b(JB-?[A-Z0-9]{3,}|[A-Z0-9]{6,})\b/g, '<ref>');

const hopText = fc
  .array(fc.oneof(fc.stringMatching(/^[0-9]{1,3}$/), fc.constantFrom('98', '0', '00', '', 'tomorrow', '31122030')), {
    maxLength: 6,
  })
  .map((a) => a.join('*'));
const hopForm = fc.record(
  {
    sessionId: fc.constantFrom('s1', 's2', 's3'),
    serviceCode: fc.constantFrom('*384*12#', '*384*12#', '*999#'),
    phoneNumber: fc.constantFrom('+254790000001', '+254790000002', '0790000003', 'not-a-phone'),
    networkCode: fc.constantFrom('63902', ''),
    text: hopText,
  },
  { requiredKeys: ['sessionId', 'phoneNumber', 'serviceCode', 'text'] },
);
const formBody = fc.oneof(
  { weight: 5, arbitrary: hopForm.map((f) => new URLSearchParams(f as Record<string, string>).toString()) },
  // Repeated keys, bracket keys, prototype keys, stray percent signs, '+' spaces, too many fields.
  {
    weight: 1,
    arbitrary: hopForm.map((f) => `${new URLSearchParams(f as Record<string, string>).toString()}&text=1&text=2`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'sessionId[a]=1&phoneNumber=%2B254790000001&text=',
      '__proto__=x&sessionId=s9&phoneNumber=0790000009&serviceCode=*384*12%23&text=',
      'sessionId=%ZZ&phoneNumber=%E0%A4%A&serviceCode=a+b&text=1',
      `${'a=1&'.repeat(200)}sessionId=s1`,
      'sessionId=s1&phoneNumber=0790000004&serviceCode=*384*12%23&text=&text',
      '&&&=&',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 120 }) },
);
const bodyBytes = fc.oneof(
  { weight: 6, arbitrary: formBody.map((s) => Buffer.from(s, 'utf8')) },
  {
    weight: 1,
    arbitrary: formBody.map((s) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(s, 'utf8')])),
  }, // a BOM
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)) }, // not UTF-8 at all
);
const contentType = fc.constantFrom(
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset="UTF-8"',
  'Application/X-WWW-Form-Urlencoded',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/x-www-form-urlencoded; charset=koi8-r',
  'application/json',
  'text/plain',
);
const keyQuery = fc.constantFrom(
  '',
  `?key=${SECRET}`,
  `?key=${SECRET}`,
  `?key=${SECRET}`,
  `?key=${SECRET}`,
  `?key=${SECRET}`,
  '?key=wrong',
  `?key=${SECRET}&key=${SECRET}`,
  `?other=1&key=${SECRET}`,
);
const requestArb = fc
  .record({
    body: bodyBytes,
    type: contentType,
    query: keyQuery,
    gzip: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  })
  .map(({ body, type, query, gzip }): Sent => {
    const payload = gzip ? gzipSync(body) : body;
    const headers: Record<string, string> = { 'content-type': type, 'content-length': String(payload.length) };
    if (gzip) headers['content-encoding'] = 'gzip';
    return { path: `/ussd/africastalking${query}`, headers, body: payload };
  });

describe('the USSD fast path', () => {
  it("gives the Express route's answer for 1 500 random hops, forms, encodings and keys, in sequence", async () => {
    let screens = 0;
    let errors = 0;
    await fc.assert(
      fc.asyncProperty(requestArb, async (s) => {
        const a = await send(fast.url, s);
        const b = await send(expressOnlyUrl, s);
        expect(
          { status: a.status, type: a.type, text: mask(a.text) },
          `${s.headers['content-type']} ${s.body.toString('latin1').slice(0, 80)}`,
        ).toEqual({ status: b.status, type: b.type, text: mask(b.text) });
        if (a.status === 200) screens++;
        else errors++;
      }),
      { numRuns: 1500 },
    );
    // Both kinds of answer were really compared, not only error codes.
    expect(screens).toBeGreaterThan(150);
    expect(errors).toBeGreaterThan(100);
  }, 120_000);

  it('walks a dial to its end through the fast path and counts it in /metrics', async () => {
    const before = await metricCount(fast.url);
    const hop = (text: string) =>
      send(fast.url, {
        path: `/ussd/africastalking?key=${SECRET}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(
          new URLSearchParams({
            sessionId: 'walk-1',
            serviceCode: '*384*12#',
            phoneNumber: '+254790000077',
            networkCode: '63902',
            text,
          }).toString(),
        ),
      }).then((r) => r.text);
    expect(await hop('')).toMatch(/^CON /);
    expect(await hop('3')).toMatch(/^END /);
    expect(await metricCount(fast.url)).toBe(before + 2);
  });

  it('leaves every request it is not sure about to Express', () => {
    const msg = (method: string, url: string, headers: Record<string, string>) =>
      Object.assign(new Readable({ read() {} }), { method, url, headers }) as unknown as IncomingMessage;
    const form = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '10' };
    expect(takesFastPath(msg('POST', '/ussd/africastalking', form))).toBe(true);
    expect(
      takesFastPath(
        msg('POST', '/ussd/africastalking?key=k', {
          ...form,
          'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
        }),
      ),
    ).toBe(true);
    expect(takesFastPath(msg('GET', '/ussd/africastalking', form))).toBe(false);
    expect(takesFastPath(msg('POST', '/ussd/africastalking/', form))).toBe(false);
    expect(takesFastPath(msg('POST', '/USSD/africastalking', form))).toBe(false);
    expect(takesFastPath(msg('POST', '/ussd/africastalking/events', form))).toBe(false);
    expect(takesFastPath(msg('POST', '/ussd/africastalking', { ...form, 'content-encoding': 'gzip' }))).toBe(false);
    expect(takesFastPath(msg('POST', '/ussd/africastalking', { ...form, 'transfer-encoding': 'chunked' }))).toBe(false);
    expect(takesFastPath(msg('POST', '/ussd/africastalking', { 'content-type': form['content-type'] }))).toBe(false);
    expect(
      takesFastPath(msg('POST', '/ussd/africastalking', { ...form, 'content-length': String(64 * 1024 + 1) })),
    ).toBe(false);
    expect(
      takesFastPath(
        msg('POST', '/ussd/africastalking', {
          ...form,
          'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1',
        }),
      ),
    ).toBe(false);
    expect(takesFastPath(msg('POST', '/ussd/africastalking', { ...form, 'content-type': 'application/json' }))).toBe(
      false,
    );
  });
});

describe('parseForm', () => {
  // express.urlencoded({ extended: false, parameterLimit: 200 }) on a one-route app is the reference.
  let ref: Server;
  let refUrl: string;
  beforeAll(async () => {
    const app = express();
    app.use(express.urlencoded({ extended: false, parameterLimit: 200 }));
    app.post('/', (req, res) => {
      res.json({ ok: true, body: req.body as unknown });
    });
    app.use((err: { type?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.json({ ok: false, type: err.type });
    });
    ref = app.listen(0, '127.0.0.1');
    await once(ref, 'listening');
    const a = ref.address();
    refUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/`;
  });
  afterAll(() => new Promise((r) => ref.close(r)));

  /** `parseForm` reads `s` as `express.urlencoded` does (the reference server answers what body-parser read). */
  const sameAsBodyParser = async (s: string) => {
    const r = await fetch(refUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: s,
    });
    const want = (await r.json()) as { ok: boolean; body?: unknown };
    const got = parseForm(s);
    if (!want.ok) expect(got).toBeNull();
    else expect(JSON.parse(JSON.stringify(got))).toEqual(want.body);
  };
  it('parses 1 000 random bodies as body-parser does', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc
        .array(
          fc.tuple(
            fc.constantFrom('a', 'b', 'a[]', 'a[b]', '__proto__', 'toString', '%61', 'a.b', ''),
            fc.string({ maxLength: 8 }),
          ),
          { maxLength: 6 },
        )
        .map((kv) => kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')),
    );
    await fc.assert(fc.asyncProperty(text, sameAsBodyParser), { numRuns: 1000 });
    expect(parseForm(`${'a=1&'.repeat(200)}b=2`)).toBeNull();
    expect(parseForm('a=1&a=2')).toEqual({ a: ['1', '2'] });
  }, 60_000);

  it('parses 1 000 random hop-shaped bodies as body-parser does (the fields an AT hop carries, read directly)', async () => {
    const field = fc.constantFrom('sessionId', 'serviceCode', 'phoneNumber', 'networkCode', 'text');
    const key = fc.oneof(
      { arbitrary: field, weight: 8 },
      { arbitrary: fc.constantFrom('%74ext', 'te+xt', 'text[]', 'text[a]', 'Text', '', 'text ', 'x'), weight: 1 },
    );
    const raw = fc.oneof(
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
      fc.constantFrom('%2B254700000001', '+254700000001', '%2A384%2A12%23', '1*2*3', 'a+b', '%', '%zz', '%C0%AF'),
      fc.constantFrom('a]=b', 'a=b', '%E2%82%AC', '%F0%9F%98%80', '%ED%A0%80', ''),
      fc.string({ maxLength: 6 }),
    );
    const body = fc
      .array(fc.oneof({ arbitrary: fc.tuple(key, raw), weight: 9 }, { arbitrary: fc.tuple(key), weight: 1 }), {
        minLength: 1,
        maxLength: 7,
      })
      .chain((parts) =>
        fc
          .constantFrom('', '&')
          .map((tail) => parts.map((p) => (p.length === 2 ? `${p[0]}=${p[1]}` : p[0])).join('&') + tail),
      );
    await fc.assert(fc.asyncProperty(body, sameAsBodyParser), { numRuns: 1000 });
    expect(parseForm('sessionId=s1&serviceCode=%2A384%2A12%23&phoneNumber=%2B254700000001&text=1*2')).toEqual({
      sessionId: 's1',
      serviceCode: '*384*12#',
      phoneNumber: '+254700000001',
      text: '1*2',
    });
  }, 60_000);
});

async function metricCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('jibu_http_requests_total{') &&
        l.includes('route="/ussd/africastalking"') &&
        l.includes('status="200"'),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}
