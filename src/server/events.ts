import { EventEmitter } from 'node:events';

/**
 * What the gateway did, as an in-process feed: the web simulator shows it beside the phone and tests
 * can wait on it. Payloads carry phone numbers and texts, so this feed is never logged or exported;
 * it is served only to the simulator (embedded default, or behind ADMIN_TOKEN).
 */
export type GatewayEvent =
  | { type: 'sms.queued'; id: string; to: string; text: string; purpose?: string; at: number }
  | { type: 'sms.sent'; id: string; to: string; text: string; provider: string; segments?: number; at: number }
  | { type: 'sms.skipped'; id: string; to: string; reason: string; at: number }
  | { type: 'dhis2.queued'; id: string; op: string; ref: string; phone: string; payload: unknown; at: number }
  | { type: 'dhis2.written'; ids: string[]; status: string; requestPayload?: unknown; at: number }
  | { type: 'dhis2.failed'; ids: string[]; error: string; permanent: boolean; at: number }
  | { type: 'timer.set'; id: string; phone: string; fireAt: number; at: number }
  | { type: 'job.queued'; id: string; name: string; data: unknown; at: number };

export interface EventFeed {
  emit(e: GatewayEvent): void;
  /** Events after sequence number `since` (for polling), at most `limit`. */
  since(since: number, limit?: number): { seq: number; events: Array<GatewayEvent & { seq: number }> };
  on(listener: (e: GatewayEvent & { seq: number }) => void): () => void;
}

/** A bounded ring of recent events (default 1000) with sequence numbers for polling clients. */
export function createEventFeed(capacity = 1000): EventFeed {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(100);
  const ring: Array<GatewayEvent & { seq: number }> = [];
  let seq = 0;
  return {
    emit(e) {
      const withSeq = { ...e, seq: ++seq };
      ring.push(withSeq);
      if (ring.length > capacity) ring.shift();
      emitter.emit('event', withSeq);
    },
    since(since, limit = 200) {
      return { seq, events: ring.filter((e) => e.seq > since).slice(0, limit) };
    },
    on(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
  };
}

const hidden = (what: string) => `[${what} hidden outside the all-embedded demo]`;

/**
 * An event as the simulator shows it outside the all-embedded demo: message texts (which carry
 * sign-in codes and PINs as typed or sent), DHIS2 payloads and job data are replaced by a note of
 * what was there. Numbers, kinds and outcomes stay, so a staging tester still sees what happened.
 */
export function maskEvent<E extends GatewayEvent>(e: E): E {
  switch (e.type) {
    case 'sms.queued':
    case 'sms.sent':
      return { ...e, text: hidden(`${[...e.text].length}-character text`) };
    case 'dhis2.queued':
      return { ...e, payload: hidden('payload') };
    case 'dhis2.written':
      return e.requestPayload === undefined ? e : { ...e, requestPayload: hidden('request') };
    case 'dhis2.failed':
      return { ...e, error: hidden('error detail') };
    case 'job.queued':
      return { ...e, data: hidden('job data') };
    default:
      return e;
  }
}
