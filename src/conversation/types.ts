import type { Channel } from '../channels/types.ts';
import type { SmsMeasure } from '../channels/sms-text.ts';
import type { ErrorCode } from '../errors.ts';
import type { Contact, SessionRecord } from '../store/types.ts';

/**
 * What a conversation step asks the runner to do after it committed the step. The engine never does
 * I/O itself (goflow's model: session + input -> new session + events); the runner turns these into
 * durable jobs in the same atomic write as the session.
 */
export type Effect =
  | { type: 'sendSms'; to: string; text: string; locale: string }
  | { type: 'dhis2Write'; op: string; payload: unknown; ref: string }
  | { type: 'startTimer'; timerId: string; fireAt: number }
  | { type: 'cancelTimer'; timerId: string }
  | { type: 'setContact'; patch: Partial<Contact> }
  | { type: 'notify'; kind: string; payload: unknown };

/** One problem found while loading flows or locales; `line` is 1-based in `file`. */
export interface FlowProblem {
  file: string;
  line?: number;
  message: string;
  hint?: string;
  severity: 'error' | 'warning';
}

/** One inbound message or USSD hop, as the runner hands it to `turn()`. */
export interface TurnInput {
  channel: Channel;
  /** E.164. */
  phone: string;
  /** SMS body, or the latest USSD input ('' on the first hop). */
  text: string;
  /** The contact's chosen locale, when they chose one. */
  locale?: string;
  contact: Contact;
  now: Date;
  newId: () => string;
  /** Read-model data named by `requiredData()`. */
  data: Record<string, unknown>;
  /** USSD: the service code dialled (`*384*12#`); it picks the entry flow. */
  serviceCode?: string;
}

/** How an SMS reply will be billed (measured by `measureSms`), for previews, logs and metrics. */
export interface ReplyMeasure {
  encoding: SmsMeasure['encoding'];
  segments: number;
}

export type TurnOutcome =
  | 'started'
  | 'advanced'
  | 'reprompt'
  | 'ended'
  | 'keyword'
  | 'incompatible'
  | 'no_flow'
  /** A timer fired for a step the session already left (or for no session): nothing changed. */
  | 'ignored';

export interface TurnResult {
  /** The session to store; null means delete it. */
  session: SessionRecord | null;
  /** The screen (USSD) or SMS reply; null when there is nothing to answer (a stale timer). */
  reply: { text: string; end: boolean; measure?: ReplyMeasure } | null;
  effects: Effect[];
  outcome: TurnOutcome;
  flowId?: string;
  stepId?: string;
  sessionTtlMs: number;
  /** The locale the reply was written in (also when the session ended). */
  locale: string;
  /** Set when the engine hit a bug (e.g. a registry action threw); the user got a polite apology. */
  error?: { code: ErrorCode; message: string };
}
