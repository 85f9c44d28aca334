import type { Channel } from '../channels/types.ts';
import { measureSms, normalizePunctuation } from '../channels/sms-text.ts';
import type { Contact, SessionRecord } from '../store/types.ts';
import type { CompiledFlow, Env, FlowContext } from './compile.ts';
import { USSD_SESSION_TTL_MS, type FlowSet } from './flowset.ts';
import type { RenderCtx } from './render.ts';
import { resolveDeep } from './templates.ts';
import type { Effect, TurnInput, TurnOutcome, TurnResult } from './types.ts';

/**
 * What one turn knows besides the session: the flow set, who wrote on which channel, in which locale,
 * the injected clock, id source and read-model data. Built once per turn by {@link contextFor}; every
 * part of the engine takes it first.
 */

const SMS_SYSTEM_TTL_MS = 24 * 3_600_000;

export interface TurnContext {
  set: FlowSet;
  channel: Channel;
  phone: string;
  locale: string;
  now: number;
  newId: () => string;
  data: Readonly<Record<string, unknown>>;
  contact: Contact;
  /** USSD: the service code dialled (it picks the entry flow). */
  serviceCode?: string;
}

export const envFor = (ctx: TurnContext): Env => ({
  now: ctx.now,
  newId: ctx.newId,
  data: ctx.data,
  locale: ctx.locale,
  channel: ctx.channel,
  phone: ctx.phone,
});

export function renderCtx(ctx: TurnContext, context: FlowContext | null): RenderCtx {
  const scope = { vars: context?.vars ?? {}, data: ctx.data };
  return {
    locales: ctx.set.locales,
    locale: ctx.locale,
    channel: ctx.channel,
    params: (p, item) =>
      p ? (resolveDeep(p, { vars: scope.vars, data: scope.data, item }) as Record<string, unknown>) : {},
  };
}

export const ttlFor = (ctx: TurnContext, flow?: CompiledFlow) =>
  ctx.channel === 'ussd' ? USSD_SESSION_TTL_MS : (flow?.sessionTtlMs ?? SMS_SYSTEM_TTL_MS);

export function reply(ctx: TurnContext, text: string, end: boolean): NonNullable<TurnResult['reply']> {
  if (ctx.channel === 'ussd') return { text, end };
  // Letters are left alone; typographic punctuation (from data such as names) would double the cost.
  const sms = normalizePunctuation(text);
  const m = measureSms(sms);
  return { text: sms, end, measure: { encoding: m.encoding, segments: m.segments } };
}

/** A turn answered with one text and no flow step (keywords, the language picker, errors). */
export function textAnswer(
  ctx: TurnContext,
  text: string,
  opts: {
    end: boolean;
    outcome: TurnOutcome;
    session: SessionRecord | null;
    effects?: Effect[];
    ttlMs?: number;
    flowId?: string;
  },
): TurnResult {
  return {
    session: opts.session,
    reply: reply(ctx, text, opts.end),
    effects: opts.effects ?? [],
    outcome: opts.outcome,
    ...(opts.flowId ? { flowId: opts.flowId } : {}),
    sessionTtlMs: opts.ttlMs ?? ttlFor(ctx),
    locale: ctx.locale,
  };
}

export function contextFor(
  set: FlowSet,
  input: Pick<TurnInput, 'channel' | 'phone' | 'locale' | 'contact' | 'now' | 'newId' | 'data' | 'serviceCode'>,
): TurnContext {
  return {
    set,
    channel: input.channel,
    phone: input.phone,
    locale: set.locales.resolve(input.locale ?? input.contact.locale),
    now: input.now.getTime(),
    newId: input.newId,
    data: input.data,
    contact: input.contact,
    ...(input.serviceCode === undefined ? {} : { serviceCode: input.serviceCode }),
  };
}
