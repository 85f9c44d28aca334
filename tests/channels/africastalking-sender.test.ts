import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAfricasTalkingSender, type AfricasTalkingSdk } from '../../src/channels/africastalking/index.ts';
import type { OutboundSms, SendResult } from '../../src/channels/types.ts';
import { jsonFixture } from './helpers.ts';

const MSG: OutboundSms = { id: 'msg-01HV3K9Z', to: '+254711000111', text: 'Habari! Chanjo ya Amani ni kesho.' };

/** A fake SDK whose `SMS.send` answers (or rejects) with a canned value and records its calls. */
function fakeSdk(answer: { resolve: unknown } | { reject: unknown }): AfricasTalkingSdk & { calls: unknown[] } {
  const calls: unknown[] = [];
  return {
    calls,
    SMS: {
      send: async (opts) => {
        calls.push(opts);
        if ('reject' in answer) throw answer.reject;
        return answer.resolve;
      },
    },
  };
}

describe('createAfricasTalkingSender: 201 response bodies', () => {
  const table: Array<[string, SendResult]> = [
    [
      'send-201-success.json',
      { ok: true, providerMessageId: 'ATXid_66a29b3d77ab103622638ac5c637ecd7', cost: 'KES 0.8000' },
    ],
    [
      'send-201-processed.json',
      { ok: true, providerMessageId: 'ATXid_1b2c3d4e5f60718293a4b5c6d7e8f901', cost: 'KES 0.8000' },
    ],
    ['send-201-premium.json', { ok: true, providerMessageId: 'ATPid_5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b', cost: '0' }],
    [
      'send-201-invalid-sender-id.json',
      { ok: false, permanent: true, reason: 'InvalidSenderId', code: 'at:no-recipients' },
    ],
    [
      'send-201-invalid-phone.json',
      { ok: false, permanent: true, undeliverable: true, reason: 'InvalidPhoneNumber', code: 'at:403' },
    ],
    [
      'send-201-unsupported-number.json',
      { ok: false, permanent: true, undeliverable: true, reason: 'UnsupportedNumberType', code: 'at:404' },
    ],
    [
      'send-201-blacklisted.json',
      { ok: false, permanent: true, optOut: true, reason: 'UserInBlacklist', code: 'at:406' },
    ],
    ['send-201-could-not-route.json', { ok: false, permanent: true, reason: 'CouldNotRoute', code: 'at:407' }],
    ['send-201-dnd.json', { ok: false, permanent: true, reason: 'DoNotDisturbRejection', code: 'at:409' }],
    ['send-201-risk-hold.json', { ok: false, permanent: false, reason: 'RiskHold', code: 'at:401' }],
    [
      'send-201-invalid-sender-recipient.json',
      { ok: false, permanent: false, reason: 'InvalidSenderId', code: 'at:402' },
    ],
    [
      'send-201-insufficient-balance.json',
      { ok: false, permanent: false, reason: 'InsufficientBalance', code: 'at:405' },
    ],
    ['send-201-internal-error.json', { ok: false, permanent: false, reason: 'InternalServerError', code: 'at:500' }],
    ['send-201-gateway-error.json', { ok: false, permanent: false, reason: 'GatewayError', code: 'at:501' }],
    ['send-201-rejected-by-gateway.json', { ok: false, permanent: false, reason: 'RejectedByGateway', code: 'at:502' }],
  ];
  it.each(table)('maps %s', async (name, expected) => {
    const sender = createAfricasTalkingSender({
      username: 'jibu',
      apiKey: 'k',
      sdk: fakeSdk({ resolve: jsonFixture('africastalking', name) }),
    });
    expect(await sender.send(MSG)).toEqual(expected);
  });

  it('treats a recipient code AT adds later as transient, so the message is retried rather than dropped', async () => {
    const body = {
      SMSMessageData: {
        Message: 'Sent to 0/1',
        Recipients: [{ statusCode: 418, number: MSG.to, status: 'Teapot', cost: '0', messageId: 'None' }],
      },
    };
    const sender = createAfricasTalkingSender({ username: 'jibu', apiKey: 'k', sdk: fakeSdk({ resolve: body }) });
    expect(await sender.send(MSG)).toEqual({ ok: false, permanent: false, reason: 'Teapot', code: 'at:418' });
  });

  it('treats a body of another shape as a transient failure', async () => {
    const sender = createAfricasTalkingSender({ username: 'jibu', apiKey: 'k', sdk: fakeSdk({ resolve: '<xml/>' }) });
    expect(await sender.send(MSG)).toMatchObject({ ok: false, permanent: false, code: 'at:unexpected-response' });
  });
});

describe('createAfricasTalkingSender: what it sends', () => {
  it('passes the recipient, the text and the sender id to SMS.send', async () => {
    const sdk = fakeSdk({ resolve: jsonFixture('africastalking', 'send-201-success.json') });
    await createAfricasTalkingSender({ username: 'jibu', apiKey: 'k', from: 'JIBU', sdk }).send(MSG);
    expect(sdk.calls).toEqual([{ to: '+254711000111', message: MSG.text, from: 'JIBU' }]);
  });

  it('leaves the sender id out when none (or an empty one) is configured, so AT uses its default', async () => {
    const sdk = fakeSdk({ resolve: jsonFixture('africastalking', 'send-201-success.json') });
    await createAfricasTalkingSender({ username: 'jibu', apiKey: 'k', from: '', sdk }).send(MSG);
    expect(sdk.calls).toEqual([{ to: '+254711000111', message: MSG.text }]);
  });

  it('refuses a recipient without a leading + before calling AT', async () => {
    const sdk = fakeSdk({ resolve: jsonFixture('africastalking', 'send-201-success.json') });
    const result = await createAfricasTalkingSender({ username: 'jibu', apiKey: 'k', sdk }).send({
      ...MSG,
      to: '0711000111',
    });
    expect(result).toMatchObject({ ok: false, permanent: true, code: 'JIBU_BAD_PHONE' });
    expect(sdk.calls).toHaveLength(0);
  });
});

describe('createAfricasTalkingSender: rejections', () => {
  const axiosLike = (status: number, data: unknown) =>
    Object.assign(new Error(`Request failed with status code ${status}`), {
      isAxiosError: true,
      response: { status, data },
    });
  const table: Array<[string, unknown, Partial<SendResult>]> = [
    [
      'HTTP 401 (bad API key)',
      axiosLike(401, 'The supplied authentication is invalid'),
      { ok: false, permanent: false, code: 'at:http-401', reason: 'HTTP 401: The supplied authentication is invalid' },
    ],
    [
      'HTTP 400',
      axiosLike(400, "Request is missing required form field 'to'"),
      { ok: false, permanent: true, code: 'at:http-400' },
    ],
    ['HTTP 429', axiosLike(429, 'Too many requests'), { ok: false, permanent: false, code: 'at:http-429' }],
    ['HTTP 503', axiosLike(503, { message: 'unavailable' }), { ok: false, permanent: false, code: 'at:http-503' }],
    [
      'a connection refused',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      { ok: false, permanent: false, code: 'network' },
    ],
    [
      'a DNS failure',
      Object.assign(new Error('getaddrinfo ENOTFOUND api.africastalking.com'), { code: 'ENOTFOUND' }),
      { ok: false, permanent: false, code: 'network' },
    ],
    [
      'the SDK refusing the number',
      new Error('"to" must be a valid phone number; '),
      { ok: false, permanent: true, undeliverable: true, code: 'at:invalid-phone' },
    ],
    [
      'the SDK refusing the message',
      new Error('"message" is required; '),
      { ok: false, permanent: true, code: 'at:invalid-request' },
    ],
    ['an unexpected error', new Error('socket hang up'), { ok: false, permanent: false, code: 'at:error' }],
    [
      'a 200 with a success body',
      jsonFixture('africastalking', 'send-201-success.json'),
      { ok: true, providerMessageId: 'ATXid_66a29b3d77ab103622638ac5c637ecd7' },
    ],
    ['a 200 with another body', { status: 'queued' }, { ok: false, permanent: false, code: 'at:unexpected-response' }],
  ];
  it.each(table)('maps %s', async (_name, rejection, expected) => {
    const sender = createAfricasTalkingSender({ username: 'jibu', apiKey: 'k', sdk: fakeSdk({ reject: rejection }) });
    expect(await sender.send(MSG)).toMatchObject(expected);
  });

  it('maps a synchronous throw from the SDK instead of throwing', async () => {
    const sdk: AfricasTalkingSdk = {
      SMS: {
        send: () => {
          throw new Error('"to" failed custom validation because Invalid country calling code; ');
        },
      },
    };
    expect(await createAfricasTalkingSender({ username: 'jibu', apiKey: 'k', sdk }).send(MSG)).toMatchObject({
      ok: false,
      permanent: true,
      undeliverable: true,
    });
  });
});

/**
 * The real `africastalking` SDK against a local server standing in for AT's messaging endpoint, so the
 * SDK's own behaviour (resolve only on 201, reject 4xx/5xx with an AxiosError) is what gets mapped.
 */
describe('createAfricasTalkingSender through the real SDK', () => {
  const require = createRequire(import.meta.url);
  const common = require('africastalking/lib/common.js') as { SMS_URL: string };
  const originalUrl = common.SMS_URL;
  let server: Server;
  let answer: { status: number; body: string; type: string } = { status: 201, body: '', type: 'application/json' };
  const received: Array<{ headers: IncomingMessage['headers']; form: URLSearchParams }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => {
        raw += chunk.toString('utf8');
      });
      req.on('end', () => {
        received.push({ headers: req.headers, form: new URLSearchParams(raw) });
        res.writeHead(answer.status, { 'content-type': answer.type });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    common.SMS_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/version1/messaging`;
  });
  afterAll(async () => {
    common.SMS_URL = originalUrl;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const sender = () => createAfricasTalkingSender({ username: 'jibu', apiKey: 'atsk_test', from: 'JIBU' });

  it('posts the form AT expects and reads the 201 answer', async () => {
    answer = {
      status: 201,
      body: JSON.stringify(jsonFixture('africastalking', 'send-201-success.json')),
      type: 'application/json',
    };
    received.length = 0;
    expect(await sender().send(MSG)).toEqual({
      ok: true,
      providerMessageId: 'ATXid_66a29b3d77ab103622638ac5c637ecd7',
      cost: 'KES 0.8000',
    });
    expect(received).toHaveLength(1);
    expect(received[0]!.headers.apikey).toBe('atsk_test');
    expect(Object.fromEntries(received[0]!.form)).toEqual({
      username: 'jibu',
      to: '+254711000111',
      message: MSG.text,
      from: 'JIBU',
      bulkSMSMode: '1',
    });
  });

  it('fails permanently on a 201 with no recipients (invalid sender id)', async () => {
    answer = {
      status: 201,
      body: JSON.stringify(jsonFixture('africastalking', 'send-201-invalid-sender-id.json')),
      type: 'application/json',
    };
    expect(await sender().send(MSG)).toEqual({
      ok: false,
      permanent: true,
      reason: 'InvalidSenderId',
      code: 'at:no-recipients',
    });
  });

  it('keeps the message for a retry on a 401 (bad API key)', async () => {
    answer = { status: 401, body: 'The supplied authentication is invalid', type: 'text/plain' };
    expect(await sender().send(MSG)).toEqual({
      ok: false,
      permanent: false,
      reason: 'HTTP 401: The supplied authentication is invalid',
      code: 'at:http-401',
    });
  });

  it('keeps the message for a retry on a 500', async () => {
    answer = { status: 500, body: 'Internal Server Error', type: 'text/plain' };
    expect(await sender().send(MSG)).toMatchObject({ ok: false, permanent: false, code: 'at:http-500' });
  });

  it('accepts a 200 carrying a success body, which the SDK rejects', async () => {
    answer = {
      status: 200,
      body: JSON.stringify(jsonFixture('africastalking', 'send-201-success.json')),
      type: 'application/json',
    };
    expect(await sender().send(MSG)).toMatchObject({
      ok: true,
      providerMessageId: 'ATXid_66a29b3d77ab103622638ac5c637ecd7',
    });
  });

  it("fails permanently, without a request, when the SDK's own number check refuses the recipient", async () => {
    received.length = 0;
    expect(await sender().send({ ...MSG, to: '+999123456' })).toMatchObject({
      ok: false,
      permanent: true,
      undeliverable: true,
      code: 'at:invalid-phone',
    });
    expect(received).toHaveLength(0);
  });

  it('keeps the message for a retry when AT cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const previous = common.SMS_URL;
    common.SMS_URL = `http://127.0.0.1:${port}/version1/messaging`;
    try {
      expect(await sender().send(MSG)).toMatchObject({ ok: false, permanent: false, code: 'network' });
    } finally {
      common.SMS_URL = previous;
    }
  });
});
