import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { JibuError } from '../../src/errors.ts';
import { createTwilioSender, type TwilioMessagesClient } from '../../src/channels/twilio/index.ts';
import type { OutboundSms, SendResult } from '../../src/channels/types.ts';
import { fixture } from './helpers.ts';

const ACCOUNT = `AC${'0'.repeat(32)}`;
const MSG: OutboundSms = { id: 'msg-01HV3K9Z', to: '+254711000111', text: 'Habari! Chanjo ya Amani ni kesho.' };

interface RecordedRequest {
  method: string;
  uri: string;
  data: Record<string, unknown>;
}

/**
 * The real `twilio` client with its HTTP layer replaced (the `httpClient` option): every request is
 * recorded and answered with a canned status and body, so the SDK's own response handling
 * (RestException on non-2xx, MessageInstance on success) runs as in production.
 */
function twilioClient(answer: { statusCode: number; body: string } | { error: Error }): {
  client: TwilioMessagesClient;
  requests: RecordedRequest[];
} {
  const requests: RecordedRequest[] = [];
  const httpClient = {
    request: async (opts: RecordedRequest) => {
      requests.push({ method: opts.method, uri: opts.uri, data: opts.data });
      if ('error' in answer) throw answer.error;
      return { statusCode: answer.statusCode, body: answer.body, headers: {} };
    },
  };
  const client = twilio(ACCOUNT, 'testtoken', { httpClient: httpClient as unknown as twilio.RequestClient });
  return { client, requests };
}

describe('createTwilioSender', () => {
  it('creates the message with the recipient, text, sender and a status callback carrying our id', async () => {
    const { client, requests } = twilioClient({ statusCode: 201, body: fixture('twilio', 'message-created.json') });
    const sender = createTwilioSender({
      accountSid: ACCOUNT,
      authToken: 'testtoken',
      from: '+15005550006',
      statusCallbackUrl: 'https://gw.example.org/sms/twilio/status',
      client,
    });
    expect(await sender.send(MSG)).toEqual({
      ok: true,
      providerMessageId: 'SM8e0b6a2e9c1d4e5f8a7b6c5d4e3f2a1b',
      segments: 1,
    });
    expect(requests).toHaveLength(1);
    expect(requests[0]!.method).toBe('post');
    expect(requests[0]!.uri).toBe(`https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT}/Messages.json`);
    expect(requests[0]!.data).toEqual({
      To: MSG.to,
      Body: MSG.text,
      From: '+15005550006',
      StatusCallback: 'https://gw.example.org/sms/twilio/status?jid=msg-01HV3K9Z',
    });
  });

  it('sends through a Messaging Service and reports no segment count while Twilio says "0"', async () => {
    const { client, requests } = twilioClient({
      statusCode: 201,
      body: fixture('twilio', 'message-created-service.json'),
    });
    const sender = createTwilioSender({
      accountSid: ACCOUNT,
      authToken: 'testtoken',
      messagingServiceSid: `MG${'0'.repeat(32)}`,
      statusCallbackUrl: 'https://gw.example.org/sms/twilio/status?key=abc',
      client,
    });
    expect(await sender.send(MSG)).toEqual({ ok: true, providerMessageId: 'SM9f0b6a2e9c1d4e5f8a7b6c5d4e3f2a1b' });
    expect(requests[0]!.data).toEqual({
      To: MSG.to,
      Body: MSG.text,
      MessagingServiceSid: `MG${'0'.repeat(32)}`,
      StatusCallback: 'https://gw.example.org/sms/twilio/status?key=abc&jid=msg-01HV3K9Z',
    });
  });

  const errors: Array<[string, number, SendResult]> = [
    [
      'error-21610.json',
      400,
      {
        ok: false,
        permanent: true,
        optOut: true,
        reason: 'Attempt to send to unsubscribed recipient',
        code: 'twilio:21610',
      },
    ],
    [
      'error-21211.json',
      400,
      {
        ok: false,
        permanent: true,
        undeliverable: true,
        reason: "Invalid 'To' Phone Number: +25471100011",
        code: 'twilio:21211',
      },
    ],
    [
      'error-21614.json',
      400,
      {
        ok: false,
        permanent: true,
        undeliverable: true,
        reason: "'To' number is not a valid mobile number",
        code: 'twilio:21614',
      },
    ],
    [
      'error-21606.json',
      400,
      {
        ok: false,
        permanent: true,
        reason:
          "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination.",
        code: 'twilio:21606',
      },
    ],
    ['error-20429.json', 429, { ok: false, permanent: false, reason: 'Too Many Requests', code: 'twilio:20429' }],
    ['error-20003.json', 401, { ok: false, permanent: false, reason: 'Authenticate', code: 'twilio:20003' }],
    [
      'error-20500.json',
      500,
      { ok: false, permanent: false, reason: 'An internal server error has occurred', code: 'twilio:20500' },
    ],
  ];
  it.each(errors)('maps the REST error %s (HTTP %i)', async (name, statusCode, expected) => {
    const { client } = twilioClient({ statusCode, body: fixture('twilio', name) });
    const sender = createTwilioSender({ accountSid: ACCOUNT, authToken: 'testtoken', from: '+15005550006', client });
    expect(await sender.send(MSG)).toEqual(expected);
  });

  it('treats a 503 without a JSON body as transient', async () => {
    const { client } = twilioClient({ statusCode: 503, body: '<html>Service Unavailable</html>' });
    const sender = createTwilioSender({ accountSid: ACCOUNT, authToken: 'testtoken', from: '+15005550006', client });
    expect(await sender.send(MSG)).toMatchObject({ ok: false, permanent: false, code: 'twilio:http-503' });
  });

  it('treats a network failure as transient', async () => {
    const { client } = twilioClient({ error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    const sender = createTwilioSender({ accountSid: ACCOUNT, authToken: 'testtoken', from: '+15005550006', client });
    expect(await sender.send(MSG)).toEqual({
      ok: false,
      permanent: false,
      reason: 'network error ECONNRESET',
      code: 'network',
    });
  });

  it('refuses a recipient without a leading + before calling Twilio', async () => {
    const { client, requests } = twilioClient({ statusCode: 201, body: fixture('twilio', 'message-created.json') });
    const sender = createTwilioSender({ accountSid: ACCOUNT, authToken: 'testtoken', from: '+15005550006', client });
    expect(await sender.send({ ...MSG, to: '0711000111' })).toMatchObject({
      ok: false,
      permanent: true,
      code: 'JIBU_BAD_PHONE',
    });
    expect(requests).toHaveLength(0);
  });

  it('refuses to start without a sender number or Messaging Service', () => {
    const { client } = twilioClient({ statusCode: 201, body: '{}' });
    expect(() => createTwilioSender({ accountSid: ACCOUNT, authToken: 'testtoken', from: '', client })).toThrow(
      JibuError,
    );
  });

  it('refuses to start with an account SID Twilio would reject', () => {
    expect(() => createTwilioSender({ accountSid: 'not-a-sid', authToken: 'testtoken', from: '+15005550006' })).toThrow(
      /Twilio account SID/,
    );
  });
});
