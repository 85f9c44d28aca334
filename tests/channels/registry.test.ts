import { describe, expect, it } from 'vitest';
import { JibuError } from '../../src/errors.ts';
import { createSender } from '../../src/channels/registry.ts';
import type { TwilioCreateParams } from '../../src/channels/twilio/index.ts';

describe('createSender', () => {
  it('chooses the console sender for the embedded default', async () => {
    const out: string[] = [];
    const sender = createSender({ provider: 'console', console: { write: (s) => out.push(s) } });
    expect(sender.provider).toBe('console');
    expect(await sender.send({ id: 'm1', to: '+254700000001', text: 'Habari' })).toMatchObject({ ok: true });
    expect(out.join('')).toContain('Habari');
  });

  it("chooses Africa's Talking with the real SDK when only credentials are given", () => {
    expect(
      createSender({ provider: 'africastalking', africastalking: { username: 'jibu', apiKey: 'k', from: 'JIBU' } })
        .provider,
    ).toBe('africastalking');
  });

  it('chooses the generic HTTP sender', async () => {
    const fakeFetch: typeof fetch = async () => new Response('{"id":"gw-1"}', { status: 200 });
    const sender = createSender({ provider: 'http', http: { url: 'http://gateway.invalid/send', fetch: fakeFetch } });
    expect(sender.provider).toBe('http');
    expect(await sender.send({ id: 'm1', to: '+254700000001', text: 'Habari' })).toEqual({
      ok: true,
      providerMessageId: 'gw-1',
    });
  });

  it('chooses Twilio and derives the status callback from PUBLIC_URL', async () => {
    const calls: TwilioCreateParams[] = [];
    const client = {
      messages: {
        create: async (p: TwilioCreateParams) => {
          calls.push(p);
          return { sid: 'SM1', numSegments: '1' };
        },
      },
    };
    const sender = createSender({
      provider: 'twilio',
      publicUrl: 'https://gw.example.org/',
      twilio: { accountSid: `AC${'0'.repeat(32)}`, authToken: 't', from: '+15005550006', client },
    });
    expect(sender.provider).toBe('twilio');
    await sender.send({ id: 'm1', to: '+254700000001', text: 'Habari' });
    expect(calls[0]?.statusCallback).toBe('https://gw.example.org/sms/twilio/status?jid=m1');
  });

  it('builds a real Twilio client when none is injected', () => {
    expect(
      createSender({
        provider: 'twilio',
        twilio: { accountSid: `AC${'0'.repeat(32)}`, authToken: 't', from: '+15005550006' },
      }).provider,
    ).toBe('twilio');
  });

  it.each([
    ['africastalking', {}],
    ['africastalking', { africastalking: { username: '', apiKey: 'k' } }],
    ['twilio', {}],
    ['twilio', { twilio: { accountSid: `AC${'0'.repeat(32)}`, authToken: 't' } }],
    ['http', {}],
    ['http', { http: { url: '' } }],
  ] as const)('refuses to start %s without its settings', (provider, rest) => {
    expect(() => createSender({ provider, ...rest })).toThrow(JibuError);
    try {
      createSender({ provider, ...rest });
    } catch (error) {
      expect((error as JibuError).code).toBe('JIBU_CONFIG_INVALID');
    }
  });
});
