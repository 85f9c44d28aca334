import type { AnyMachineSnapshot } from 'xstate';
import type { Channel } from '../channels/types.ts';
import type { SessionRecord } from '../store/types.ts';
import type { CompiledFlow } from './compile.ts';
import type { FlowSet } from './flowset.ts';
import { flowOf, stepOf } from './machine.ts';
import { begin, conclude } from './progress.ts';
import { composeUssd, t } from './render.ts';
import { normalizeWord } from './text.ts';
import { renderCtx, textAnswer, type TurnContext } from './turn-context.ts';
import type { Effect, TurnOutcome, TurnResult } from './types.ts';

/**
 * Choosing the flow a new conversation lands in (channel, service code, SMS keyword, the contact's
 * role, priority), starting it, and the read-model data a turn needs before it is taken.
 */

/** Pick the flow a new conversation lands in, or null. */
function entryFlow(ctx: TurnContext, text: string): CompiledFlow | null {
  const word = normalizeWord(text);
  const ranked: Array<{ flow: CompiledFlow; rank: number[] }> = [];
  for (const flow of ctx.set.flows.values()) {
    const { entry, channels } = flow.def;
    if (!entry || !channels.includes(ctx.channel)) continue;
    let keywordHit = 0;
    if (ctx.channel === 'ussd') {
      if (!entry.ussd) continue;
      const code = ctx.serviceCode?.replace(/\s+/g, '');
      if (entry.ussd !== true && code && !entry.ussd.includes(code)) continue;
    } else {
      if (!entry.sms) continue;
      if (typeof entry.sms === 'object') {
        if (!ctx.set.locales.hasWordAnyLocale(entry.sms.keywords, word)) continue;
        keywordHit = 1;
      }
    }
    const role = ctx.set.registry.roles[entry.role];
    if (!role || !role.test(ctx.data)) continue;
    ranked.push({ flow, rank: [keywordHit, entry.role === 'any' ? 0 : 1, entry.priority] });
  }
  ranked.sort((a, b) => {
    for (let i = 0; i < a.rank.length; i++)
      if ((a.rank[i] ?? 0) !== (b.rank[i] ?? 0)) return (b.rank[i] ?? 0) - (a.rank[i] ?? 0);
    return a.flow.id.localeCompare(b.flow.id);
  });
  return ranked[0]?.flow ?? null;
}

/**
 * On SMS, a whole message that is another flow's entry keyword (REACTION, MADHARA…) starts that flow even
 * in the middle of a conversation, as a global keyword would — unless the step waits for free text, where
 * the word may simply be the answer. Only a flow the keyword itself selects (its role fits) interrupts.
 */
export function keywordFlow(
  ctx: TurnContext,
  current: CompiledFlow,
  snap: AnyMachineSnapshot,
  text: string,
): CompiledFlow | null {
  const word = normalizeWord(text);
  if (!word) return null;
  const { step } = stepOf(current, snap);
  if (step?.type === 'ask' && step.input.kind === 'text') return null;
  const named = [...ctx.set.flows.values()].some((f) => {
    const sms = f.def.entry?.sms;
    return f !== current && typeof sms === 'object' && ctx.set.locales.hasWordAnyLocale(sms.keywords, word);
  });
  if (!named) return null;
  const chosen = entryFlow(ctx, text);
  const sms = chosen?.def.entry?.sms;
  return chosen && chosen !== current && typeof sms === 'object' && ctx.set.locales.hasWordAnyLocale(sms.keywords, word)
    ? chosen
    : null;
}

/** Start a new conversation (no session, a restart, or after an incompatible update). */
export function startNew(
  ctx: TurnContext,
  text: string,
  opts: { outcome: TurnOutcome; notices?: string[]; effects?: Effect[]; prefer?: string },
): TurnResult {
  const preferred = opts.prefer ? ctx.set.flows.get(opts.prefer) : undefined;
  const flow = preferred && preferred.def.channels.includes(ctx.channel) ? preferred : entryFlow(ctx, text);
  const rendering = renderCtx(ctx, null);
  if (!flow) {
    const msg = [...(opts.notices ?? []), t(rendering, 'system.no_flow')].join('\n');
    return textAnswer(ctx, ctx.channel === 'ussd' ? composeUssd(undefined, msg) : msg, {
      end: true,
      outcome: opts.outcome === 'started' ? 'no_flow' : opts.outcome,
      session: null,
      effects: opts.effects,
    });
  }
  return conclude(ctx, flow, begin(ctx, flow), {
    outcome: opts.outcome,
    prior: null,
    notices: opts.notices,
    extraEffects: opts.effects,
  });
}

/**
 * What data the runner must load before a turn: the session's flow's `data` list while a conversation
 * goes on; for a new conversation (no session, or one waiting on the language menu), also everything
 * the channel's entry flows (and their roles) need. A turn that goes on to start a new conversation
 * anyway (a restart keyword, an incompatible session) reads names outside this list: the runner sees
 * that (every name is in {@link dataNames}), loads them and runs the pure turn again.
 */
export function requiredData(set: FlowSet, session: SessionRecord | null, channel: Channel): string[] {
  const names = new Set<string>();
  // A session that is no flow's (the language picker) needs what a new conversation needs.
  const flow = session ? flowOf(set, session) : null;
  if (flow) {
    flow.def.data.forEach((d) => names.add(d));
    return [...names].sort();
  }
  for (const f of set.flows.values()) {
    if (!f.def.entry || !f.def.channels.includes(channel)) continue;
    if (channel === 'ussd' ? !f.def.entry.ussd : !f.def.entry.sms) continue;
    f.def.data.forEach((d) => names.add(d));
    set.registry.roles[f.def.entry.role]?.needs.forEach((d) => names.add(d));
  }
  return [...names].sort();
}

const allDataNames = new WeakMap<FlowSet, ReadonlySet<string>>();

/** Every data name a turn on this flow set may read: each flow's `data` and each role's `needs`. */
export function dataNames(set: FlowSet): ReadonlySet<string> {
  let names = allDataNames.get(set);
  if (!names) {
    const all = new Set<string>();
    for (const f of set.flows.values()) f.def.data.forEach((d) => all.add(d));
    for (const r of Object.values(set.registry.roles)) r.needs.forEach((d) => all.add(d));
    names = all;
    allDataNames.set(set, names);
  }
  return names;
}
