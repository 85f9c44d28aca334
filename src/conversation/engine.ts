import type { AnyMachineSnapshot } from 'xstate';
import type { SessionRecord } from '../store/types.ts';
import type { CompiledFlow, FlowContext } from './compile.ts';
import { keywordFlow, startNew } from './entry.ts';
import type { FlowSet } from './flowset.ts';
import { answerKeyword, answerLanguagePicker, cancelTimers } from './global-keywords.ts';
import { flowOf, restore, transition } from './machine.ts';
import { begin, conclude, settle } from './progress.ts';
import { t } from './render.ts';
import { interpret } from './screen.ts';
import { contextFor, envFor, renderCtx, textAnswer, ttlFor, type TurnContext } from './turn-context.ts';
import type { Contact } from '../store/types.ts';
import type { Channel } from '../channels/types.ts';
import type { TurnInput, TurnOutcome, TurnResult } from './types.ts';

/**
 * The pure conversation step (goflow's model): session + input -> new session + reply + effects.
 * No I/O, no clock, no randomness: `now`, `newId` and the read-model `data` come in the input, so the
 * same input always gives the same output (golden transcripts rely on it). USSD dials, re-sends and
 * final screens are the runner's (runner.ts); a turn sees only the latest input.
 *
 * The parts, each in its own module: machine.ts (XState stepping, snapshots), screen.ts (rendering a
 * screen, reading an input), progress.ts (moving a flow on, the turn's result), entry.ts (which flow a
 * new conversation lands in, and its data), global-keywords.ts (keywords and the language picker).
 */

/** One way of answering a message: a result, or null to leave it to the next in {@link PRECEDENCE}. */
type Answer = (ctx: TurnContext, session: SessionRecord | null, text: string) => TurnResult | null;

/** An opted-out contact on SMS gets one line saying how to opt back in, nothing else. */
const optedOutOnSms: Answer = (ctx, session) =>
  ctx.channel === 'sms' && ctx.contact.optedOut
    ? textAnswer(ctx, t(renderCtx(ctx, null), 'system.opted_out'), { end: true, outcome: 'keyword', session })
    : null;

/**
 * The conversation in progress, on the flow version it started with. A session whose flow or snapshot
 * no longer fits restarts politely; on SMS another flow's entry keyword interrupts it.
 */
const conversationInProgress: Answer = (ctx, session, text) => {
  if (!session) return null;
  const flow = flowOf(ctx.set, session);
  const snap = flow ? restore(flow, session.snapshot) : null;
  if (!flow || !snap) {
    return startNew(ctx, text, {
      outcome: 'incompatible',
      notices: [t(renderCtx(ctx, null), 'system.updated')],
      effects: cancelTimers(session),
      prefer: session.flowId,
    });
  }
  const interrupting = ctx.channel === 'sms' ? keywordFlow(ctx, flow, snap, text) : null;
  if (interrupting) {
    return startNew(ctx, text, { outcome: 'started', effects: cancelTimers(session), prefer: interrupting.id });
  }
  return answerStep(ctx, flow, snap, session, text);
};

/** Otherwise a new conversation from the entry flows. */
const newConversation: Answer = (ctx, _session, text) => startNew(ctx, text, { outcome: 'started' });

/** Order of precedence for one inbound message: the first answer that is not null is the turn's. */
const PRECEDENCE: readonly Answer[] = [
  answerKeyword, // 1. a global keyword (STOP, START, HELP, language, restart) beats any waiting conversation
  optedOutOnSms, // 2. an opted-out contact on SMS hears only how to opt back in
  answerLanguagePicker, // 3. the language picker, when one is open
  conversationInProgress, // 4. the conversation in progress
  newConversation, // 5. otherwise a new conversation
];

/** The waiting step reads the input; the flow moves on as far as it goes this turn. */
function answerStep(
  ctx: TurnContext,
  flow: CompiledFlow,
  snap: AnyMachineSnapshot,
  session: SessionRecord,
  text: string,
): TurnResult {
  const { event, hint } = interpret(ctx, flow, snap, text);
  const [next] = transition(flow.machine, snap, event);
  const progress = settle(ctx, flow, next);
  const outcome: TurnOutcome = event.type === 'INVALID' ? 'reprompt' : 'advanced';
  return conclude(ctx, flow, progress, {
    outcome,
    prior: session,
    ...(hint && progress.snap.status === 'active' ? { hint } : {}),
  });
}

/**
 * One inbound message or USSD hop. Pure: the same arguments always give the same result.
 *
 * @example
 * const r = turn(set, null, { channel: 'ussd', phone: '+254700000001', text: '', contact: { optedOut: false },
 *   now: new Date(), newId: () => crypto.randomUUID(), data: {}, serviceCode: '*384*12#' });
 * r.reply // { text: 'Jibu demo\n1. ...', end: false }
 */
export function turn(set: FlowSet, session: SessionRecord | null, input: TurnInput): TurnResult {
  const ctx = contextFor(set, input);
  try {
    const text = input.text ?? '';
    for (const answer of PRECEDENCE) {
      const result = answer(ctx, session, text);
      if (result) return result;
    }
    throw new Error('no answer took the turn'); // newConversation always answers
  } catch (err) {
    return failure(ctx, err, session);
  }
}

/**
 * A durable timer fired (a reply timeout). Pure. When it still belongs to the step the session
 * waits on, the flow moves on and what it says goes out as an SMS effect (there is no inbound
 * message to reply to); otherwise nothing changes (`ignored`).
 */
export function timerFired(
  set: FlowSet,
  session: SessionRecord | null,
  timer: { timerId: string; now: Date; newId?: () => string; data?: Record<string, unknown>; contact?: Contact },
): TurnResult {
  const channel: Channel = session?.channel ?? 'sms';
  let n = 0;
  const ctx = contextFor(set, {
    channel,
    phone: '',
    locale: session?.locale,
    contact: timer.contact ?? { optedOut: false },
    now: timer.now,
    newId: timer.newId ?? (() => `${timer.timerId}.${++n}`),
    data: timer.data ?? {},
  });
  const ignored = (): TurnResult => ({
    session,
    reply: null,
    effects: [],
    outcome: 'ignored',
    sessionTtlMs: session
      ? Math.max(1000, session.updatedAt + ttlFor(ctx, flowOf(set, session) ?? undefined) - ctx.now)
      : ttlFor(ctx),
    locale: ctx.locale,
    ...(session ? { flowId: session.flowId } : {}),
  });
  if (!session) return ignored();
  try {
    const flow = flowOf(set, session);
    const snap = flow ? restore(flow, session.snapshot) : null;
    if (!flow || !snap || (snap.context as FlowContext).timer?.id !== timer.timerId) return ignored();
    const phone = (snap.context as FlowContext).phone;
    const atPhone: TurnContext = { ...ctx, phone };
    const [next] = transition(flow.machine, snap, { type: 'TIMEOUT', timerId: timer.timerId, env: envFor(atPhone) });
    return conclude(atPhone, flow, settle(atPhone, flow, next), { outcome: 'advanced', prior: session, asSms: true });
  } catch (err) {
    return { ...failure(ctx, err, session), reply: null };
  }
}

/**
 * Start a flow from our side (a reminder the person will answer): the first screen goes out as an
 * SMS effect and the session waits for the reply. Any conversation in progress is replaced.
 * `startFlow(set, existing, { flowId: 'reminder', channel: 'sms', phone, contact, now, newId, data, vars: { child } })`.
 */
export function startFlow(
  set: FlowSet,
  session: SessionRecord | null,
  input: Omit<TurnInput, 'text' | 'ussd'> & { flowId: string; vars?: Record<string, unknown> },
): TurnResult {
  const ctx = contextFor(set, input);
  const flow = set.flows.get(input.flowId);
  if (!flow || !flow.def.channels.includes(ctx.channel)) {
    return { session, reply: null, effects: [], outcome: 'no_flow', sessionTtlMs: ttlFor(ctx), locale: ctx.locale };
  }
  try {
    return conclude(ctx, flow, begin(ctx, flow, input.vars ?? {}), {
      outcome: 'started',
      prior: null,
      extraEffects: cancelTimers(session),
      asSms: true,
    });
  } catch (err) {
    return { ...failure(ctx, err, session), reply: null };
  }
}

function failure(ctx: TurnContext, err: unknown, session: SessionRecord | null): TurnResult {
  const message = err instanceof Error ? err.message : String(err);
  return {
    ...textAnswer(ctx, t(renderCtx(ctx, null), 'system.error'), {
      end: true,
      outcome: 'ended',
      session: null,
      effects: cancelTimers(session),
    }),
    error: { code: 'JIBU_INTERNAL', message },
  };
}
