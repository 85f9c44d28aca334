import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createHttpSender, parseInboundSms, parseStatus } from '../../src/channels/http/index.ts';
import type { OutboundSms, ParseResult } from '../../src/channels/types.ts';
import { expectFields, formRequest, hostileBody, jsonFixture, webhookRequest } from './helpers.ts';

const NOW = '2024-03-14T09:30:15.000Z';
const clock = fixedClock(NOW);
const MSG: OutboundSms = { id: 'msg-01HV3K9Z', to: '+254711000111', text: 'Habari! Chanjo ya Amani ni kesho.' };

const jsonRequest = (name: string) =>
  webhookRequest({ headers: { 'content-type': 'application/json' }, body: jsonFixture('http', name) });

describe('parseInboundSms', () => {
  const ok: Array<[string, () => ReturnType<typeof webhookRequest>, Record<string, unknown>]> = [
    [
      'a JSON body',
      () => jsonRequest('inbound-json.json'),
      {
        from: '+254711000111',
        providerFrom: '+254711000111',
        to: '21512',
        text: 'NDIYO',
        providerMessageId: 'kannel-7f3a9c',
      },
    ],
    [
      'a form body',
      () => formRequest('http', 'inbound-form.txt'),
      { from: '+254711000111', text: 'Ndiyo nitakuja', providerMessageId: 'kannel-7f3a9d' },
    ],
    [
      'a numeric id and a national number',
      () => jsonRequest('inbound-json-numeric-id.json'),
      { from: '+254711000111', providerFrom: '0711000111', providerMessageId: '884213' },
    ],
    [
      'no "to" and a number without its plus',
      () => jsonRequest('inbound-json-no-to.json'),
      { from: '+254711000111', to: '', text: 'HELP' },
    ],
  ];
  it.each(ok)('reads %s', (_name, request, expected) => {
    const result = parseInboundSms(request(), 'KE', clock);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expectFields(result.value, { channel: 'sms', provider: 'http', receivedAt: new Date(NOW), ...expected });
  });

  it.each([
    ['inbound-json-missing-text.json', 'text: missing'],
    ['inbound-json-bad-types.json', 'from: expected a single string, got number'],
  ])('refuses %s with JIBU_BAD_REQUEST', (name, detail) => {
    const result = parseInboundSms(jsonRequest(name), 'KE', clock);
    expect(result).toMatchObject({ ok: false, code: 'JIBU_BAD_REQUEST' });
    if (!result.ok) expect(result.detail).toContain(detail);
  });
});

describe('parseStatus', () => {
  const table: Array<[string, () => ReturnType<typeof webhookRequest>, Record<string, unknown>]> = [
    [
      'a JSON delivered report',
      () => jsonRequest('status-json-delivered.json'),
      { status: 'delivered', rawStatus: 'delivered' },
    ],
    [
      'a form report with an SMPP word',
      () => formRequest('http', 'status-form.txt'),
      { status: 'delivered', rawStatus: 'DELIVRD' },
    ],
    [
      'a Kannel numeric DLR type',
      () => jsonRequest('status-json-kannel-numeric.json'),
      { status: 'failed', rawStatus: '16' },
    ],
    [
      'a failure with a reason',
      () => jsonRequest('status-json-failed-reason.json'),
      { status: 'failed', failureReason: 'absent subscriber' },
    ],
    ['an unknown word', () => jsonRequest('status-json-unknown.json'), { status: 'unknown', rawStatus: 'teleported' }],
  ];
  it.each(table)('reads %s', (_name, request, expected) => {
    const result = parseStatus(request(), clock);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expectFields(result.value, {
      provider: 'http',
      providerMessageId: 'msg-01HV3K9Z',
      jibuMessageId: 'msg-01HV3K9Z',
      receivedAt: new Date(NOW),
      ...expected,
    });
  });

  it.each([
    ['queued', 'queued'],
    ['PENDING', 'queued'],
    ['sent', 'sent'],
    ['Submitted', 'sent'],
    ['buffered', 'sent'],
    ['ENROUTE', 'sent'],
    ['delivered', 'delivered'],
    ['success', 'delivered'],
    ['failed', 'failed'],
    ['UNDELIV', 'failed'],
    ['rejected', 'failed'],
    ['expired', 'failed'],
    ['1', 'delivered'],
    ['2', 'failed'],
    ['4', 'sent'],
    ['8', 'sent'],
    ['16', 'failed'],
    ['3', 'unknown'],
    ['toString', 'unknown'],
  ])('maps the status word %j to %s', (word, status) => {
    expect(parseStatus(webhookRequest({ body: { id: 'm1', status: word } }), clock)).toMatchObject({
      ok: true,
      value: { status },
    });
  });

  it('refuses a report without an id', () => {
    expect(parseStatus(jsonRequest('status-json-missing-id.json'), clock)).toMatchObject({
      ok: false,
      code: 'JIBU_BAD_REQUEST',
      detail: 'id: missing',
    });
  });
});

describe('hostile bodies', () => {
  const parsers: Array<[string, (body: unknown) => ParseResult<unknown>, string[]]> = [
    ['parseInboundSms', (body) => parseInboundSms(webhookRequest({ body }), 'KE', clock), ['id', 'from', 'to', 'text']],
    ['parseStatus', (body) => parseStatus(webhookRequest({ body }), clock), ['id', 'status', 'reason']],
  ];
  it.each(parsers)('%s never throws and answers ok or a catalogue error for any body', (_name, parse, fields) => {
    fc.assert(
      fc.property(hostileBody(fields), (body) => {
        const result = parse(body);
        if (!result.ok) expect(['JIBU_BAD_REQUEST', 'JIBU_BAD_PHONE']).toContain(result.code);
      }),
      { numRuns: 1500 },
    );
  });
});

/** A local gateway standing in for SMS_HTTP_URL: records each request and answers as told. */
describe('createHttpSender', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: string; delayMs?: number } = { status: 200, body: '' };
  const received: Array<{ method: string; headers: Record<string, unknown>; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => {
        raw += chunk.toString('utf8');
      });
      req.on('end', () => {
        received.push({ method: req.method ?? '', headers: req.headers, body: raw });
        const reply = () => {
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(answer.body);
        };
        if (answer.delayMs === undefined) reply();
        else setTimeout(reply, answer.delayMs);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('posts JSON {id, to, text} with the configured headers', async () => {
    answer = { status: 202, body: '' };
    received.length = 0;
    const sender = createHttpSender({ url, timeoutMs: 2000, headers: { authorization: 'Bearer gw-token' } });
    expect(await sender.send(MSG)).toEqual({ ok: true, providerMessageId: 'msg-01HV3K9Z' });
    expect(received).toHaveLength(1);
    expect(received[0]!.method).toBe('POST');
    expect(received[0]!.headers['content-type']).toBe('application/json');
    expect(received[0]!.headers.authorization).toBe('Bearer gw-token');
    expect(JSON.parse(received[0]!.body)).toEqual({ id: MSG.id, to: MSG.to, text: MSG.text });
  });

  it.each([
    ['the gateway id from the JSON answer', 200, '{"id":"gw-55","status":"accepted"}', 'gw-55'],
    ['a numeric gateway id', 201, '{"id":9912}', '9912'],
    ['our id when the answer is not JSON', 200, '0: Accepted for delivery', 'msg-01HV3K9Z'],
    ['our id when the JSON has no id', 200, '{"status":"ok"}', 'msg-01HV3K9Z'],
  ])('accepts a 2xx and keeps %s', async (_name, status, body, providerMessageId) => {
    answer = { status, body };
    expect(await createHttpSender({ url, timeoutMs: 2000 }).send(MSG)).toEqual({ ok: true, providerMessageId });
  });

  it.each([
    [400, true],
    [404, true],
    [410, true],
    [422, true],
    [408, false],
    [429, false],
    [500, false],
    [502, false],
    [503, false],
  ])('treats HTTP %i as permanent: %s', async (status, permanent) => {
    answer = { status, body: '{"error":"no"}' };
    expect(await createHttpSender({ url, timeoutMs: 2000 }).send(MSG)).toEqual({
      ok: false,
      permanent,
      reason: `HTTP ${status}: {"error":"no"}`,
      code: `http:${status}`,
    });
  });

  it('gives up after the timeout and keeps the message for a retry', async () => {
    answer = { status: 200, body: '', delayMs: 1000 };
    expect(await createHttpSender({ url, timeoutMs: 50 }).send(MSG)).toEqual({
      ok: false,
      permanent: false,
      reason: 'no answer within 50 ms',
      code: 'timeout',
    });
  });

  it('keeps the message for a retry when the gateway cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await createHttpSender({ url: `http://127.0.0.1:${port}/send`, timeoutMs: 2000 }).send(MSG)).toMatchObject({
      ok: false,
      permanent: false,
      code: 'network',
    });
  });

  it('uses an injected fetch', async () => {
    const calls: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      calls.push(String(input));
      return new Response('{"id":"f-1"}', { status: 200 });
    };
    expect(await createHttpSender({ url: 'http://gateway.invalid/send', fetch: fakeFetch }).send(MSG)).toEqual({
      ok: true,
      providerMessageId: 'f-1',
    });
    expect(calls).toEqual(['http://gateway.invalid/send']);
  });
});
