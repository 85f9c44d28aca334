import { JibuError } from '../errors.ts';
import { createAfricasTalkingSender, type AfricasTalkingSdk } from './africastalking/sender.ts';
import { createConsoleSender } from './console/sender.ts';
import { createHttpSender } from './http/sender.ts';
import { createTwilioSender, type TwilioSenderOptions } from './twilio/sender.ts';
import type { SmsSender } from './types.ts';
import type { HttpFetch } from '../http-client.ts';

/** Providers that can send (`simulator` only receives). */
export type SenderProvider = 'console' | 'africastalking' | 'twilio' | 'http';

/** Plain options, filled by the lead from the validated configuration. */
export interface SenderOptions {
  provider: SenderProvider;
  africastalking?: { username: string; apiKey: string; from?: string; sdk?: AfricasTalkingSdk };
  /** `statusCallbackUrl` defaults to `publicUrl + /sms/twilio/status` when `publicUrl` is set. */
  twilio?: TwilioSenderOptions;
  http?: { url: string; timeoutMs?: number; headers?: Record<string, string>; fetch?: HttpFetch };
  console?: { write?: (chunk: string) => void; mask?: boolean };
  /** `PUBLIC_URL`, used for Twilio status callbacks. */
  publicUrl?: string;
}

/**
 * Create the outbound {@link SmsSender} for the configured provider. A provider chosen without its
 * settings throws `JIBU_CONFIG_INVALID`, so a misconfiguration stops start-up instead of failing sends.
 *
 * @example createSender({ provider: 'console' }).send({ id: 'm1', to: '+254700000001', text: 'Habari' })
 * @example createSender({ provider: 'http', http: { url: 'http://bridge:8080/send' } })
 */
export function createSender(options: SenderOptions): SmsSender {
  switch (options.provider) {
    case 'console':
      return createConsoleSender(options.console ?? {});
    case 'africastalking': {
      const at = options.africastalking;
      if (at === undefined || at.username === '' || at.apiKey === '')
        throw missing('africastalking', 'username and API key');
      return createAfricasTalkingSender(at);
    }
    case 'twilio': {
      const tw = options.twilio;
      if (tw === undefined || tw.accountSid === '' || tw.authToken === '')
        throw missing('twilio', 'account SID and auth token');
      const statusCallbackUrl =
        tw.statusCallbackUrl ??
        (options.publicUrl ? `${options.publicUrl.replace(/\/+$/, '')}/sms/twilio/status` : undefined);
      return createTwilioSender({ ...tw, statusCallbackUrl });
    }
    case 'http': {
      const http = options.http;
      if (http === undefined || http.url === '') throw missing('http', 'SMS_HTTP_URL');
      return createHttpSender(http);
    }
    default: {
      const unknown: never = options.provider;
      throw new JibuError('JIBU_CONFIG_INVALID', `unknown SMS provider ${String(unknown)}`);
    }
  }
}

function missing(provider: SenderProvider, what: string): JibuError {
  return new JibuError('JIBU_CONFIG_INVALID', `SMS_PROVIDER=${provider} needs its ${what}`, { provider });
}
