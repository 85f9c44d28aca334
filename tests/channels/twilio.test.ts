import fc from 'fast-check';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import {
  emptyTwiml,
  parseInboundSms,
  parseStatusCallback,
  verifyTwilioSignature,
} from '../../src/channels/twilio/index.ts';
import type { ParseResult } from '../../src/channels/types.ts';
import { expectFields, fixture, formBody, formRequest, hostileBody, webhookRequest } from './helpers.ts';

const NOW = '2024-03-14T09:30:15.000Z';
const clock = fixedClock(NOW);
const TOKEN = 'testtoken';
const PUBLIC_URL = 'https://gw.example.org';

/** A request Twilio would send to PUBLIC_URL + path, signed with `token`. */
function signedRequest(path: string, body: Record<string, string | string[]>, token = TOKEN, publicUrl = PUBLIC_URL) {
  const signature = twilio.getExpectedTwilioSignature(token, `${publicUrl}${path}`, body);
  return webhookRequest({
    originalUrl: path,
    headers: { 'x-twilio-signature': signature, host: 'internal:3000' },
    body,
  });
}

describe('verifyTwilioSignature', () => {
  it('accepts the Twilio reference test vector', () => {
    const body = {
      CallSid: 'CA1234567890ABCDE',
      Caller: '+12349013030',
      Digits: '1234',
      From: '+12349013030',
      To: '+18005551212',
    };
    const req = webhookRequest({
      originalUrl: '/myapp.php?foo=1&bar=2',
      headers: { 'x-twilio-signature': '0/KCTR6DLpKmkAf8muzZqo1nDgQ=' },
      body,
    });
    expect(verifyTwilioSignature(req, { authToken: '12345', publicUrl: 'https://mycompany.com' })).toEqual({
      ok: true,
      value: 'https://mycompany.com/myapp.php?foo=1&bar=2',
    });
  });

  it('accepts the Jibu test vector, an inbound SMS on a URL with a query string', () => {
    const req = formRequest('twilio', 'inbound-jibu-vector.txt', {
      originalUrl: '/sms/twilio?k=abc',
      headers: { 'x-twilio-signature': 'oE72BU0rT++MBpWCadcobWDqYZ4=' },
    });
    expect(verifyTwilioSignature(req, { authToken: TOKEN, publicUrl: PUBLIC_URL })).toMatchObject({ ok: true });
  });

  it('accepts the Jibu test vector when PUBLIC_URL is configured with a trailing slash', () => {
    const req = formRequest('twilio', 'inbound-jibu-vector.txt', {
      originalUrl: '/sms/twilio?k=abc',
      headers: { 'x-twilio-signature': 'oE72BU0rT++MBpWCadcobWDqYZ4=' },
    });
    expect(verifyTwilioSignature(req, { authToken: TOKEN, publicUrl: `${PUBLIC_URL}/` })).toMatchObject({ ok: true });
  });

  it('accepts a signature over the courier fixture computed with getExpectedTwilioSignature', () => {
    const body = formBody(fixture('twilio', 'inbound-courier.txt'));
    expect(
      verifyTwilioSignature(signedRequest('/sms/twilio', body), { authToken: TOKEN, publicUrl: PUBLIC_URL }),
    ).toMatchObject({ ok: true });
  });

  it('signs over the public URL, not the host the proxy forwarded to', () => {
    const req = signedRequest(
      '/sms/twilio',
      { Body: 'Habari', From: '+254700000001' },
      TOKEN,
      'https://gw.example.org',
    );
    expect(verifyTwilioSignature(req, { authToken: TOKEN, publicUrl: 'http://internal:3000' })).toMatchObject({
      ok: false,
      code: 'JIBU_BAD_SIGNATURE',
    });
    expect(verifyTwilioSignature(req, { authToken: TOKEN, publicUrl: 'https://gw.example.org' })).toMatchObject({
      ok: true,
    });
  });

  it('accepts a public URL with an explicit default port, as twilio-node tries both', () => {
    const req = signedRequest('/sms/twilio', { Body: 'Habari' }, TOKEN, 'https://gw.example.org:443');
    expect(verifyTwilioSignature(req, { authToken: TOKEN, publicUrl: 'https://gw.example.org' })).toMatchObject({
      ok: true,
    });
  });

  it('signs every value of a repeated parameter', () => {
    const body = { Body: 'Habari', MediaUrl: ['https://a.example/1', 'https://a.example/2'] };
    const req = signedRequest('/sms/twilio', body);
    expect(verifyTwilioSignature(req, { authToken: TOKEN, publicUrl: PUBLIC_URL })).toMatchObject({ ok: true });
    expect(
      verifyTwilioSignature(
        { ...req, body: { ...body, MediaUrl: ['https://a.example/1'] } },
        { authToken: TOKEN, publicUrl: PUBLIC_URL },
      ),
    ).toMatchObject({ ok: false });
  });

  const forged: Array<[string, (req: ReturnType<typeof signedRequest>) => ReturnType<typeof signedRequest>, string]> = [
    ['a changed body value', (r) => ({ ...r, body: { ...(r.body as object), Body: 'STOP' } }), 'does not match'],
    ['an added body parameter', (r) => ({ ...r, body: { ...(r.body as object), Extra: '1' } }), 'does not match'],
    ['a dropped body parameter', (r) => ({ ...r, body: { Body: 'Habari' } }), 'does not match'],
    ['a changed query string', (r) => ({ ...r, originalUrl: '/sms/twilio?k=abd' }), 'does not match'],
    [
      'a signature made with another token',
      (r) => ({
        ...r,
        headers: {
          'x-twilio-signature': twilio.getExpectedTwilioSignature(
            'other',
            `${PUBLIC_URL}/sms/twilio?k=abc`,
            r.body as Record<string, string>,
          ),
        },
      }),
      'does not match',
    ],
    ['a missing header', (r) => ({ ...r, headers: {} }), 'missing'],
    ['an empty header', (r) => ({ ...r, headers: { 'x-twilio-signature': '' } }), 'missing'],
    [
      'a repeated header',
      (r) => ({ ...r, headers: { 'x-twilio-signature': [String(r.headers['x-twilio-signature']), 'x'] } }),
      'more than once',
    ],
    [
      'a JSON body that is not form parameters',
      (r) => ({ ...r, body: { Body: { nested: true } } }),
      'not form parameters',
    ],
  ];
  it.each(forged)('refuses %s with JIBU_BAD_SIGNATURE', (_name, tamper, detail) => {
    const req = tamper(
      signedRequest('/sms/twilio?k=abc', { Body: 'Habari', From: '+254700000001', MessageSid: 'SM00' }),
    );
    const result = verifyTwilioSignature(req, { authToken: TOKEN, publicUrl: PUBLIC_URL });
    expect(result).toMatchObject({ ok: false, code: 'JIBU_BAD_SIGNATURE' });
    if (!result.ok) expect(result.detail).toContain(detail);
  });

  it('fails closed when no auth token is configured', () => {
    const req = signedRequest('/sms/twilio', { Body: 'Habari' }, '');
    expect(verifyTwilioSignature(req, { authToken: '', publicUrl: PUBLIC_URL })).toMatchObject({
      ok: false,
      code: 'JIBU_BAD_SIGNATURE',
    });
  });

  it('refuses rather than throws when the public URL cannot be parsed', () => {
    const req = signedRequest('/sms/twilio', { Body: 'Habari' });
    expect(verifyTwilioSignature(req, { authToken: TOKEN, publicUrl: 'not a url' })).toMatchObject({
      ok: false,
      code: 'JIBU_BAD_SIGNATURE',
    });
  });

  it('never accepts a random signature and never throws on hostile bodies', () => {
    fc.assert(
      fc.property(
        hostileBody(['Body', 'From', 'To', 'MessageSid']),
        fc.base64String({ minLength: 28, maxLength: 28 }),
        (body, signature) => {
          const result = verifyTwilioSignature(
            webhookRequest({ originalUrl: '/sms/twilio', headers: { 'x-twilio-signature': signature }, body }),
            { authToken: TOKEN, publicUrl: PUBLIC_URL },
          );
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('parseInboundSms', () => {
  it('reads the courier fixture', () => {
    expect(parseInboundSms(formRequest('twilio', 'inbound-courier.txt'), 'KE', clock)).toEqual({
      ok: true,
      value: {
        channel: 'sms',
        provider: 'twilio',
        from: '+14133881111',
        providerFrom: '+14133881111',
        to: '+12028831111',
        text: 'Msg',
        providerMessageId: 'SMe287d7109a5a925f182f0e07fe5b223b',
        receivedAt: new Date(NOW),
      },
    });
  });

  const ok: Array<[string, Record<string, unknown>]> = [
    [
      'inbound-jibu-vector.txt',
      {
        from: '+254700000001',
        to: '+15005550006',
        text: 'Habari',
        providerMessageId: `SM${'0'.repeat(32)}`,
        optOutType: undefined,
      },
    ],
    ['inbound-opt-out.txt', { from: '+254711000111', text: 'STOP', optOutType: 'STOP' }],
    ['inbound-odd-opt-out.txt', { text: 'acha', optOutType: undefined }],
    ['inbound-mms-no-body.txt', { text: '', providerMessageId: 'MM5b0b6a2e9c1d4e5f8a7b6c5d4e3f2a1b' }],
  ];
  it.each(ok)('reads %s', (name, expected) => {
    const result = parseInboundSms(formRequest('twilio', name), 'KE', clock);
    expect(result.ok).toBe(true);
    if (result.ok) expectFields(result.value, expected);
  });

  it.each([
    ['inbound-missing-sid.txt', 'JIBU_BAD_REQUEST', 'MessageSid: missing'],
    ['inbound-whatsapp-from.txt', 'JIBU_BAD_PHONE', 'From'],
  ])('refuses %s with %s', (name, code, detail) => {
    const result = parseInboundSms(formRequest('twilio', name), 'KE', clock);
    expect(result).toMatchObject({ ok: false, code });
    if (!result.ok) expect(result.detail).toContain(detail);
  });
});

describe('emptyTwiml', () => {
  it('is the empty Response document, since replies go through the REST API', () => {
    expect(emptyTwiml()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    expect(emptyTwiml()).toBe(new twilio.twiml.MessagingResponse().toString());
  });
});

describe('parseStatusCallback', () => {
  const table: Array<[string, Record<string, unknown>]> = [
    ['status-messaging-service-accepted.txt', { status: 'queued', rawStatus: 'accepted' }],
    ['status-sent.txt', { status: 'sent', rawStatus: 'sent', errorCode: undefined }],
    ['status-delivered.txt', { status: 'delivered', rawStatus: 'delivered' }],
    ['status-read.txt', { status: 'delivered', rawStatus: 'read' }],
    [
      'status-undelivered-opt-out.txt',
      { status: 'failed', errorCode: '21610', optOut: true, undeliverable: undefined },
    ],
    [
      'status-failed-unknown-destination.txt',
      { status: 'failed', errorCode: '30005', undeliverable: true, optOut: undefined },
    ],
    [
      'status-undelivered-unreachable.txt',
      { status: 'failed', errorCode: '30003', undeliverable: undefined, optOut: undefined },
    ],
    ['status-canceled.txt', { status: 'failed', rawStatus: 'canceled' }],
    ['status-partially-delivered.txt', { status: 'unknown', rawStatus: 'partially_delivered' }],
  ];
  it.each(table)('reads %s', (name, expected) => {
    const result = parseStatusCallback(formRequest('twilio', name, { query: { jid: 'msg-01HV3K9Z' } }), 'KE', clock);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expectFields(result.value, {
      provider: 'twilio',
      providerMessageId: 'SM7d0b6a2e9c1d4e5f8a7b6c5d4e3f2a1b',
      phone: '+254711000111',
      jibuMessageId: 'msg-01HV3K9Z',
      receivedAt: new Date(NOW),
      ...expected,
    });
  });

  it.each(['queued', 'sending', 'scheduled'])('counts %s as queued: it has not left Twilio', (word) => {
    const result = parseStatusCallback(
      webhookRequest({ body: { MessageSid: 'SM1', MessageStatus: word } }),
      'KE',
      clock,
    );
    expect(result).toMatchObject({ ok: true, value: { status: 'queued' } });
  });

  it('leaves the Jibu message id out when the callback URL has none (a Messaging Service callback)', () => {
    const result = parseStatusCallback(formRequest('twilio', 'status-delivered.txt'), 'KE', clock);
    expect(result.ok && result.value.jibuMessageId).toBeUndefined();
  });

  it('refuses a callback without a status', () => {
    expect(parseStatusCallback(formRequest('twilio', 'status-missing-status.txt'), 'KE', clock)).toMatchObject({
      ok: false,
      code: 'JIBU_BAD_REQUEST',
      detail: 'MessageStatus: missing',
    });
  });
});

describe('hostile bodies', () => {
  const parsers: Array<[string, (body: unknown) => ParseResult<unknown>, string[]]> = [
    [
      'parseInboundSms',
      (body) => parseInboundSms(webhookRequest({ body }), 'KE', clock),
      ['MessageSid', 'From', 'To', 'Body', 'OptOutType'],
    ],
    [
      'parseStatusCallback',
      (body) => parseStatusCallback(webhookRequest({ body, query: { jid: ['a', 'b'] } }), 'KE', clock),
      ['MessageSid', 'MessageStatus', 'ErrorCode', 'To'],
    ],
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
