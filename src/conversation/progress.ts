import type { AnyMachineSnapshot } from 'xstate';
import { normalizePunctuation } from '../channels/sms-text.ts';
import type { SessionRecord } from '../store/types.ts';
import type { CompiledFlow, FlowContext, FlowInput } from './compile.ts';
import { flowOf, initialTransition, persist, restore, stepOf, transition } from './machine.ts';
import { renderSay } from './render.ts';
import { screenOf } from './screen.ts';
import { envFor, renderCtx, reply, ttlFor, type TurnContext } from './turn-context.ts';
import type { Effect, TurnOutcome, TurnResult } from './types.ts';

/**
 * A flow moving on within one turn, and the turn's result: SMS `say` steps flow into the reply until
 * the conversation waits or ends; then the screen is rendered and the session to store is built.
 */

const MAX_AUTO_STEPS = 50;

/** Where a flow stands after this turn's events. */
export interface Progress {
  snap: AnyMachineSnapshot;
  /** Texts of `say` steps passed on SMS, in order. */
  said: string[];
}

/** After an event, let SMS `say` steps flow into the reply until the conversation waits or ends. */
export function settle(ctx: TurnContext, flow: CompiledFlow, snap: AnyMachineSnapshot): Progress {
  const said: string[] = [];
  let cur = snap;
  for (let i = 0; i < MAX_AUTO_STEPS && cur.status === 'active' && ctx.channel === 'sms'; i++) {
    const { step } = stepOf(flow, cur);
    if (step?.type !== 'say') break;
    said.push(renderSay(renderCtx(ctx, cur.context as FlowContext), step).text);
    [cur] = transition(flow.machine, cur, { type: 'CONTINUE', env: envFor(ctx) });
  }
  return { snap: cur, said };
}

/** The first step of `flow`, with `vars` as its input. */
export function begin(ctx: TurnContext, flow: CompiledFlow, vars: Record<string, unknown> = {}): Progress {
  const input: FlowInput = { phone: ctx.phone, channel: ctx.channel, vars, env: envFor(ctx) };
  const [snap] = initialTransition(flow.machine, input);
  return settle(ctx, flow, snap);
}

/** The locale set by a `contact.setLocale` action in this turn, if any. */
function localeFromEffects(ctx: TurnContext, effects: readonly Effect[]): string {
  let locale = ctx.locale;
  for (const e of effects)
    if (e.type === 'setContact' && e.patch.locale) locale = ctx.set.locales.resolve(e.patch.locale);
  return locale;
}

/** Build the result for a flow snapshot after this turn's events. */
export function conclude(
  ctx: TurnContext,
  flow: CompiledFlow,
  progress: Progress,
  opts: {
    outcome: TurnOutcome;
    prior: SessionRecord | null;
    notices?: string[];
    hint?: string;
    extraEffects?: Effect[];
    asSms?: boolean;
  },
): TurnResult {
  const { snap, said } = progress;
  const context = snap.context as FlowContext;
  const effects = [...(opts.extraEffects ?? []), ...(context.effects as Effect[])];
  const locale = localeFromEffects(ctx, effects);
  const localized: TurnContext = { ...ctx, locale };
  const notices = opts.notices ?? [];
  const ussd = localized.channel === 'ussd';
  const screen = screenOf(
    localized,
    flow,
    snap,
    ussd ? notices.join('\n') || undefined : undefined,
    ussd ? opts.hint : undefined,
  );
  const text = ussd ? screen.text : [...notices, opts.hint, ...said, screen.text].filter(Boolean).join('\n');
  const ended = screen.end;
  const session: SessionRecord | null = ended
    ? null
    : {
        flowId: flow.id,
        flowVersion: flow.version,
        channel: ctx.channel,
        snapshot: persist(snap),
        locale,
        startedAt: opts.prior?.startedAt ?? ctx.now,
        updatedAt: ctx.now,
        invalidCount: context.invalid,
      };
  const outcome: TurnOutcome =
    ended && opts.outcome !== 'incompatible' && opts.outcome !== 'started' ? 'ended' : opts.outcome;
  if (opts.asSms) {
    effects.push({ type: 'sendSms', to: context.phone || ctx.phone, text: normalizePunctuation(text), locale });
  }
  return {
    session,
    reply: opts.asSms ? null : reply(localized, text, ended),
    effects,
    outcome,
    flowId: flow.id,
    stepId: screen.stepId,
    sessionTtlMs: ttlFor(ctx, flow),
    locale,
  };
}

/** Re-show where a session stands (after HELP, START or a language switch), with a notice on top. */
export function reshow(ctx: TurnContext, session: SessionRecord, notice: string, effects: Effect[]): TurnResult | null {
  const flow = flowOf(ctx.set, session);
  const snap = flow ? restore(flow, session.snapshot) : null;
  if (!flow || !snap) return null;
  const result = conclude(
    ctx,
    flow,
    { snap, said: [] },
    { outcome: 'keyword', prior: session, notices: [notice], extraEffects: effects },
  );
  return { ...result, outcome: 'keyword' };
}
