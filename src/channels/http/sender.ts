import { httpFetch, type HttpFetch, type HttpResponse } from '../../http-client.ts';
import type { OutboundSms, SendResult, SmsSender } from '../types.ts';

export interface HttpSenderOptions {
  /** `SMS_HTTP_URL`: receives `POST` JSON `{"id","to","text"}`. */
  url: string;
  /** Give up on one request after this long; a timeout is transient. Default 10 000 ms. */
  timeoutMs?: number;
  /** Extra headers, e.g. an `Authorization` the gateway expects. */
  headers?: Record<string, string>;
  /** Injected fetch (tests); defaults to the gateway's own HTTP client (src/http-client.ts). */
  fetch?: HttpFetch;
}

/**
 * An {@link SmsSender} for the generic HTTP contract: `POST url` with JSON `{"id","to","text"}`.
 * Any 2xx is accepted; the provider id is the response JSON's `id` when there is one, else ours.
 * 4xx is permanent except 408 and 429; 5xx, timeouts and network errors are transient.
 *
 * @example
 * const sender = createHttpSender({ url: 'http://kannel-bridge:8080/send', timeoutMs: 5000 });
 * await sender.send({ id: 'msg-1', to: '+254711000111', text: 'Habari' });
 */
export function createHttpSender(options: HttpSenderOptions): SmsSender {
  const doFetch = options.fetch ?? httpFetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    provider: 'http',
    async send(msg: OutboundSms): Promise<SendResult> {
      let response: HttpResponse;
      try {
        response = await doFetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
          body: JSON.stringify({ id: msg.id, to: msg.to, text: msg.text }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const name = error instanceof Error ? error.name : '';
        if (name === 'TimeoutError' || name === 'AbortError') {
          return { ok: false, permanent: false, reason: `no answer within ${timeoutMs} ms`, code: 'timeout' };
        }
        return {
          ok: false,
          permanent: false,
          reason: error instanceof Error ? error.message.slice(0, 200) : 'request failed',
          code: 'network',
        };
      }
      let text: string;
      try {
        text = await response.text();
      } catch {
        text = '';
      }
      if (response.ok) return { ok: true, providerMessageId: providerId(text) ?? msg.id };
      const transient =
        response.status >= 500 || response.status === 408 || response.status === 429 || response.status < 400;
      return {
        ok: false,
        permanent: !transient,
        reason: `HTTP ${response.status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`,
        code: `http:${response.status}`,
      };
    },
  };
}

function providerId(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const id = (parsed as Record<string, unknown>).id;
      if ((typeof id === 'string' && id !== '') || typeof id === 'number') return String(id);
    }
  } catch {
    // Not JSON: a bare "OK" or "0: Accepted for delivery" is still an acceptance.
  }
  return undefined;
}
