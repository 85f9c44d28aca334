import { createActor, type AnyActorScope, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { z } from 'zod';
import type { Channel } from '../channels/types.ts';
import { measureSms, normalizePunctuation } from '../channels/sms-text.ts';
import type { Contact, SessionRecord } from '../store/types.ts';
import {
  INVALID_END,
  NOTHING_END,
  type CompiledFlow,
  type Env,
  type FlowContext,
  type FlowEvent,
  type FlowInput,
} from './compile.ts';
import { USSD_SESSION_TTL_MS, retainKey, type FlowSet } from './flowset.ts';
import { parseAnswer, todayIn } from './input.ts';
import { matchKeyword, matchLocaleName, type KeywordHit } from './keywords.ts';
import {
  composeUssd,
  menuHintLength,
  menuView,
  paginate,
  renderAsk,
  renderEnd,
  renderMenu,
  renderSay,
  t,
  type RenderCtx,
} from './render.ts';
import { refName, type Step } from './schema.ts';
import { resolveDeep } from './templates.ts';
import { normalizeWord } from './text.ts';
import type { Effect, TurnInput, TurnOutcome, TurnResult } from './types.ts';

/**
 * The pure conversation step (goflow's model): session + input -> new session + reply + effects.
 * No I/O, no clock, no randomness: `now`, `newId` and the read-model `data` come in the input, so the
 * same input always gives the same output (golden transcripts rely on it).
 *
 * Order of precedence for one inbound message:
 *   1. a global keyword (STOP, START, HELP, language, restart) — beats any waiting conversation;
 *   2. an opted-out contact on SMS gets one line saying how to opt back in, nothing else;
 *   3. the language picker, when one is open;
 *   4. the conversation in progress (on the flow version it started with);
 *   5. otherwise a new conversation from the entry flows.
 */

/** The session of the language picker opened by the language keyword; not an XState flow. */
export const LANGUAGE_FLOW = '$language';
const SYSTEM_VERSION = 'system';
const SMS_SYSTEM_TTL_MS = 24 * 3_600_000;
const MAX_AUTO_STEPS = 50;

const contextSchema = z.looseObject({
  vars: z.record(z.string(), z.unknown()),
  history: z.array(z.string()),
  page: z.number().int().nonnegative(),
  invalid: z.number().int().nonnegative(),
  options: z.array(z.looseObject({ params: z.record(z.string(), z.unknown()), value: z.unknown() })),
  timer: z.object({ id: z.string(), step: z.string() }).nullable(),
  effects: z.array(z.unknown()),
  phone: z.string(),
  channel: z.enum(['ussd', 'sms']),
});
const persistedSchema = z.looseObject({ value: z.string(), context: contextSchema });
const languageSnapshotSchema = z.object({ resume: z.unknown().nullable() });

interface Ctx {
  set: FlowSet;
  channel: Channel;
  phone: string;
  locale: string;
  now: number;
  newId: () => string;
  data: Readonly<Record<string, unknown>>;
  contact: Contact;
}

const envFor = (c: Ctx): Env => ({
  now: c.now,
  newId: c.newId,
  data: c.data,
  locale: c.locale,
  channel: c.channel,
  phone: c.phone,
});

function renderCtx(c: Ctx, context: FlowContext | null): RenderCtx {
  const scope = { vars: context?.vars ?? {}, data: c.data };
  return {
    locales: c.set.locales,
    locale: c.locale,
    channel: c.channel,
    params: (p, item) => (p ? (resolveDeep(p, { ...scope, item }) as Record<string, unknown>) : {}),
  };
}

const ttlFor = (c: Ctx, flow?: CompiledFlow) =>
  c.channel === 'ussd' ? USSD_SESSION_TTL_MS : (flow?.sessionTtlMs ?? SMS_SYSTEM_TTL_MS);

function reply(c: Ctx, text: string, end: boolean): NonNullable<TurnResult['reply']> {
  if (c.channel === 'ussd') return { text, end };
  // Letters are left alone; typographic punctuation (from data such as names) would double the cost.
  const sms = normalizePunctuation(text);
  const m = measureSms(sms);
  return { text: sms, end, measure: { encoding: m.encoding, segments: m.segments } };
}

/**
 * XState's pure `transition(machine, snapshot, event)` and `initialTransition(machine, input)` build a
 * throwaway inert actor scope on every call, and building it constructs an actor that computes (and,
 * with no input, fails) the machine's whole initial state: about a quarter of the step's cost on the
 * USSD bench. The scope is inert (no-op defer, emit, logger and action executor; our flows spawn no
 * children and run only `assign`s), so one per machine is built once and reused; the transition itself
 * is XState's own pure `machine.transition` / `getInitialSnapshot`, exactly what those helpers call.
 */
const inertScopes = new WeakMap<AnyStateMachine, AnyActorScope>();
function inertScope(machine: AnyStateMachine): AnyActorScope {
  let scope = inertScopes.get(machine);
  if (!scope) {
    const self = createActor(machine);
    const noop = () => undefined;
    scope = {
      self,
      defer: noop,
      id: '',
      logger: noop,
      sessionId: '',
      stopChild: noop,
      system: self.system,
      emit: noop,
      actionExecutor: noop,
    } as unknown as AnyActorScope;
    inertScopes.set(machine, scope);
  }
  return scope;
}

/** XState's pure transition: the next snapshot for `event`, nothing executed. */
function transition(machine: AnyStateMachine, snap: AnyMachineSnapshot, event: FlowEvent): [AnyMachineSnapshot] {
  return [machine.transition(snap, event, inertScope(machine)) as AnyMachineSnapshot];
}

/** XState's pure initial transition: the machine's first snapshot for `input`. */
function initialTransition(machine: AnyStateMachine, input: FlowInput): [AnyMachineSnapshot] {
  return [machine.getInitialSnapshot(inertScope(machine), input) as AnyMachineSnapshot];
}

function persist(snap: AnyMachineSnapshot): unknown {
  const p = snap.machine.getPersistedSnapshot(snap) as unknown as { context: FlowContext };
  return { ...p, context: { ...p.context, effects: [] } };
}

/** Restore a stored snapshot onto `flow`, or null when it does not fit (then the session restarts politely). */
function restore(flow: CompiledFlow, raw: unknown): AnyMachineSnapshot | null {
  const parsed = persistedSchema.safeParse(raw);
  if (!parsed.success || !(parsed.data.value in flow.def.steps)) return null;
  try {
    const snap = flow.machine.resolveState({
      value: parsed.data.value,
      context: { ...parsed.data.context, effects: [] },
    });
    return snap.status === 'active' ? snap : null;
  } catch {
    return null;
  }
}

/** A timer a stored snapshot may hold, read leniently (to cancel it when the session is dropped). */
function pendingTimer(session: SessionRecord | null): string | undefined {
  const ctx = (session?.snapshot as { context?: { timer?: { id?: unknown } | null } } | undefined)?.context;
  return typeof ctx?.timer?.id === 'string' ? ctx.timer.id : undefined;
}

function dropEffects(session: SessionRecord | null): Effect[] {
  const id = pendingTimer(session);
  const inner = session?.flowId === LANGUAGE_FLOW ? pendingTimer(resumeOf(session)) : undefined;
  return [id, inner].filter((x): x is string => !!x).map((timerId) => ({ type: 'cancelTimer', timerId }));
}

function resumeOf(session: SessionRecord): SessionRecord | null {
  const parsed = languageSnapshotSchema.safeParse(session.snapshot);
  const r = parsed.success ? parsed.data.resume : null;
  return r && typeof r === 'object' && 'flowId' in r ? (r as SessionRecord) : null;
}

/** The flow a session is pinned to: its exact version, else the current flow when only the hash moved. */
function flowOf(set: FlowSet, session: SessionRecord): CompiledFlow | null {
  const exact = set.retained.get(retainKey(session.flowId, session.flowVersion));
  if (exact) return exact;
  const current = set.flows.get(session.flowId);
  // Same major version: the admin declared the edit compatible by not bumping `version`.
  if (current && String(current.major) === session.flowVersion.split('.')[0]) return current;
  return null;
}

const stepOf = (flow: CompiledFlow, snap: AnyMachineSnapshot): { id: string; step: Step | undefined } => {
  const id = String(snap.value);
  return { id, step: flow.def.steps[id] };
};

interface Settled {
  snap: AnyMachineSnapshot;
  /** Texts of `say` steps passed on SMS, in order. */
  said: string[];
}

/** After an event, let SMS `say` steps flow into the reply until the conversation waits or ends. */
function settle(c: Ctx, flow: CompiledFlow, snap: AnyMachineSnapshot): Settled {
  const said: string[] = [];
  let cur = snap;
  for (let i = 0; i < MAX_AUTO_STEPS && cur.status === 'active' && c.channel === 'sms'; i++) {
    const { step } = stepOf(flow, cur);
    if (step?.type !== 'say') break;
    said.push(renderSay(renderCtx(c, cur.context as FlowContext), step).text);
    [cur] = transition(flow.machine, cur, { type: 'CONTINUE', env: envFor(c) });
  }
  return { snap: cur, said };
}

/** The locale set by a `contact.setLocale` action in this turn, if any. */
function localeFromEffects(c: Ctx, effects: readonly Effect[]): string {
  let locale = c.locale;
  for (const e of effects)
    if (e.type === 'setContact' && e.patch.locale) locale = c.set.locales.resolve(e.patch.locale);
  return locale;
}

/** Render where the conversation stands: the waiting screen, or the end text. */
function screenOf(
  c: Ctx,
  flow: CompiledFlow,
  snap: AnyMachineSnapshot,
  notice?: string,
  hint?: string,
): { text: string; end: boolean; stepId: string } {
  const context = snap.context as FlowContext;
  const rc = renderCtx(c, context);
  const { id, step } = stepOf(flow, snap);
  if (snap.status !== 'active') {
    if (id === INVALID_END) return { text: t(rc, 'system.too_many_invalid'), end: true, stepId: id };
    if (id === NOTHING_END) return { text: t(rc, 'system.nothing'), end: true, stepId: id };
    return { text: renderEnd(rc, step?.type === 'end' ? step : undefined).text, end: true, stepId: id };
  }
  if (!step) return { text: t(rc, 'system.error'), end: true, stepId: id };
  switch (step.type) {
    case 'menu': {
      const view = menuView(rc, step, context.options);
      const canBack = snap.can({ type: 'BACK' });
      const s = renderMenu(rc, view, { page: context.page, hint, notice, canBack, atStart: id === flow.def.start });
      return { text: s.text, end: false, stepId: id };
    }
    case 'ask':
      return {
        text: renderAsk(rc, step, [notice, hint].filter(Boolean).join('\n') || undefined).text,
        end: false,
        stepId: id,
      };
    case 'say':
      return {
        text: renderSay(rc, step, [notice, hint].filter(Boolean).join('\n') || undefined).text,
        end: false,
        stepId: id,
      };
    default:
      return { text: t(rc, 'system.error'), end: true, stepId: id };
  }
}

/** Turn what the person typed into a machine event (and the hint to show when it is not valid). */
function interpret(
  c: Ctx,
  flow: CompiledFlow,
  snap: AnyMachineSnapshot,
  raw: string,
): { event: FlowEvent; hint?: string } {
  const env = envFor(c);
  const context = snap.context as FlowContext;
  const rc = renderCtx(c, context);
  const text = raw.trim();
  const { step } = stepOf(flow, snap);
  const ussd = c.channel === 'ussd';
  const invalid = (key: string, params?: Record<string, unknown>) => ({
    event: { type: 'INVALID', env } as FlowEvent,
    hint: t(rc, key, params),
  });
  if (!step) return invalid('invalid.menu');
  switch (step.type) {
    case 'menu': {
      const view = menuView(rc, step, context.options);
      if (ussd && text === '98') {
        const pages = paginate(rc, view, menuHintLength(rc));
        return context.page < pages.length - 1 ? { event: { type: 'MORE', env } } : invalid('invalid.menu');
      }
      if (ussd && text === '00') return { event: { type: 'HOME', env } };
      if (ussd && text === '0')
        return snap.can({ type: 'BACK', env }) ? { event: { type: 'BACK', env } } : invalid('invalid.menu');
      if (/^\d{1,3}$/.test(text)) {
        const n = Number(text);
        return n >= 1 && n <= view.labels.length
          ? { event: { type: 'CHOOSE', index: n - 1, env } }
          : invalid('invalid.menu');
      }
      // On SMS people often answer with the option's words rather than its number.
      const w = normalizeWord(text);
      const hit = w ? view.labels.findIndex((l) => normalizeWord(l) === w) : -1;
      return hit >= 0 ? { event: { type: 'CHOOSE', index: hit, env } } : invalid('invalid.menu');
    }
    case 'say':
      if (ussd && text === '00') return { event: { type: 'HOME', env } };
      return { event: { type: 'CONTINUE', env } };
    case 'ask': {
      // `00` is a value for numbers, phone numbers and free text; elsewhere it means the main menu.
      if (ussd && text === '00' && !['number', 'phone', 'text'].includes(step.input.kind))
        return { event: { type: 'HOME', env } };
      const today = todayIn(new Date(c.now), c.set.timeZone);
      const parsed = parseAnswer(
        step.input,
        text,
        { locales: c.set.locales, locale: c.locale, today, defaultCountry: c.set.defaultCountry },
        step.hint,
      );
      if (!parsed.ok) return invalid(parsed.hint, parsed.params);
      if (step.validator) {
        const { name, params } = refName(step.validator);
        const v = c.set.registry.validators[name];
        const verdict = v
          ? v.run(parsed.value, { params, vars: context.vars, data: c.data, now: new Date(c.now), today })
          : true;
        if (verdict !== true) return invalid(step.hint ?? verdict.hint, verdict.params);
      }
      return { event: { type: 'ANSWER', value: parsed.value, env } };
    }
    default:
      return invalid('invalid.menu');
  }
}

/** Build the result for a flow snapshot after this turn's events. */
function conclude(
  c: Ctx,
  flow: CompiledFlow,
  settled: Settled,
  opts: {
    outcome: TurnOutcome;
    prior: SessionRecord | null;
    notices?: string[];
    hint?: string;
    extraEffects?: Effect[];
    asSms?: boolean;
  },
): TurnResult {
  const { snap, said } = settled;
  const context = snap.context as FlowContext;
  const effects = [...(opts.extraEffects ?? []), ...(context.effects as Effect[])];
  const locale = localeFromEffects(c, effects);
  const lc: Ctx = { ...c, locale };
  const notices = opts.notices ?? [];
  const ussd = lc.channel === 'ussd';
  const screen = screenOf(
    lc,
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
        channel: c.channel,
        snapshot: persist(snap),
        locale,
        startedAt: opts.prior?.startedAt ?? c.now,
        updatedAt: c.now,
        invalidCount: context.invalid,
      };
  const outcome: TurnOutcome =
    ended && opts.outcome !== 'incompatible' && opts.outcome !== 'started' ? 'ended' : opts.outcome;
  if (opts.asSms) {
    effects.push({ type: 'sendSms', to: context.phone || c.phone, text: normalizePunctuation(text), locale });
  }
  return {
    session,
    reply: opts.asSms ? null : reply(lc, text, ended),
    effects,
    outcome,
    flowId: flow.id,
    stepId: screen.stepId,
    sessionTtlMs: ttlFor(c, flow),
    locale,
  };
}

/** Pick the flow a new conversation lands in, or null. */
function entryFlow(c: Ctx, text: string, serviceCode: string | undefined): CompiledFlow | null {
  const word = normalizeWord(text);
  const ranked: Array<{ flow: CompiledFlow; rank: number[] }> = [];
  for (const flow of c.set.flows.values()) {
    const { entry, channels } = flow.def;
    if (!entry || !channels.includes(c.channel)) continue;
    let keywordHit = 0;
    if (c.channel === 'ussd') {
      if (!entry.ussd) continue;
      const code = serviceCode?.replace(/\s+/g, '');
      if (entry.ussd !== true && code && !entry.ussd.includes(code)) continue;
    } else {
      if (!entry.sms) continue;
      if (typeof entry.sms === 'object') {
        if (!c.set.locales.wordsAnyLocale(entry.sms.keywords).some((x) => x.word === word)) continue;
        keywordHit = 1;
      }
    }
    const role = c.set.registry.roles[entry.role];
    if (!role || !role.test(c.data)) continue;
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
function keywordFlow(c: Ctx, current: CompiledFlow, snap: AnyMachineSnapshot, text: string): CompiledFlow | null {
  const word = normalizeWord(text);
  if (!word) return null;
  const { step } = stepOf(current, snap);
  if (step?.type === 'ask' && step.input.kind === 'text') return null;
  const named = [...c.set.flows.values()].some((f) => {
    const sms = f.def.entry?.sms;
    return (
      f !== current &&
      typeof sms === 'object' &&
      c.set.locales.wordsAnyLocale(sms.keywords).some((x) => x.word === word)
    );
  });
  if (!named) return null;
  const chosen = entryFlow(c, text, undefined);
  const sms = chosen?.def.entry?.sms;
  return chosen &&
    chosen !== current &&
    typeof sms === 'object' &&
    c.set.locales.wordsAnyLocale(sms.keywords).some((x) => x.word === word)
    ? chosen
    : null;
}

function begin(c: Ctx, flow: CompiledFlow, vars: Record<string, unknown> = {}): Settled {
  const input: FlowInput = { phone: c.phone, channel: c.channel, vars, env: envFor(c) };
  const [snap] = initialTransition(flow.machine, input);
  return settle(c, flow, snap);
}

function plain(
  c: Ctx,
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
    reply: reply(c, text, opts.end),
    effects: opts.effects ?? [],
    outcome: opts.outcome,
    ...(opts.flowId ? { flowId: opts.flowId } : {}),
    sessionTtlMs: opts.ttlMs ?? ttlFor(c),
    locale: c.locale,
  };
}

/** Start a new conversation (no session, a restart, or after an incompatible update). */
function startNew(
  c: Ctx,
  text: string,
  serviceCode: string | undefined,
  opts: { outcome: TurnOutcome; notices?: string[]; effects?: Effect[]; prefer?: string },
): TurnResult {
  const preferred = opts.prefer ? c.set.flows.get(opts.prefer) : undefined;
  const flow = preferred && preferred.def.channels.includes(c.channel) ? preferred : entryFlow(c, text, serviceCode);
  const rc = renderCtx(c, null);
  if (!flow) {
    const msg = [...(opts.notices ?? []), t(rc, 'system.no_flow')].join('\n');
    return plain(c, c.channel === 'ussd' ? composeUssd(undefined, msg) : msg, {
      end: true,
      outcome: opts.outcome === 'started' ? 'no_flow' : opts.outcome,
      session: null,
      effects: opts.effects,
    });
  }
  return conclude(c, flow, begin(c, flow), {
    outcome: opts.outcome,
    prior: null,
    notices: opts.notices,
    extraEffects: opts.effects,
  });
}

/** Re-show where a session stands (after HELP, START or a language switch), with a notice on top. */
function reshow(c: Ctx, session: SessionRecord, notice: string, effects: Effect[]): TurnResult | null {
  if (session.flowId === LANGUAGE_FLOW) return null;
  const flow = flowOf(c.set, session);
  const snap = flow ? restore(flow, session.snapshot) : null;
  if (!flow || !snap) return null;
  const result = conclude(
    c,
    flow,
    { snap, said: [] },
    { outcome: 'keyword', prior: session, notices: [notice], extraEffects: effects },
  );
  return { ...result, outcome: 'keyword' };
}

function languageMenu(c: Ctx, notice?: string): string {
  const rc = renderCtx(c, null);
  const lines = c.set.locales.locales.map((l, i) => `${i + 1}. ${t({ ...rc, locale: l }, 'meta.name')}`);
  const body = [t(rc, 'system.language_prompt'), ...lines].join('\n');
  return c.channel === 'ussd' ? composeUssd(notice, body) : [notice, body].filter(Boolean).join('\n');
}

function switchLanguage(c: Ctx, session: SessionRecord | null, locale: string): TurnResult {
  const lc: Ctx = { ...c, locale };
  const effects: Effect[] = [{ type: 'setContact', patch: { locale } }];
  const notice = t(renderCtx(lc, null), 'system.language_set');
  if (session) {
    const again = reshow(lc, { ...session, locale }, notice, effects);
    if (again) return again;
  }
  return plain(lc, notice, {
    end: true,
    outcome: 'keyword',
    session: null,
    effects: [...dropEffects(session), ...effects],
  });
}

function onKeyword(
  c: Ctx,
  session: SessionRecord | null,
  kw: KeywordHit,
  text: string,
  serviceCode?: string,
): TurnResult {
  const rc = renderCtx(c, null);
  switch (kw.kind) {
    case 'stop':
      return plain(c, t(rc, 'system.stopped'), {
        end: true,
        outcome: 'keyword',
        session: null,
        effects: [...dropEffects(session), { type: 'setContact', patch: { optedOut: true } }],
      });
    case 'start': {
      // START opts back in when needed and, either way, begins afresh: in Swahili or Kinyarwanda
      // the word (ANZA, TANGIRA) is also simply how a newcomer says "begin".
      const wasOut = c.contact.optedOut;
      return startNew(c, text, serviceCode, {
        outcome: 'started',
        notices: wasOut ? [t(rc, 'system.started')] : [],
        effects: [
          ...dropEffects(session),
          ...(wasOut ? [{ type: 'setContact', patch: { optedOut: false } } as Effect] : []),
        ],
      });
    }
    case 'help': {
      // SMS: the help text alone, the conversation keeps waiting. USSD: help above the screen when
      // both fit, else the help alone to end the dialog (the person dials again when ready).
      const help = t(rc, 'system.help');
      if (session && c.channel === 'ussd') {
        const again = reshow(c, session, help, []);
        if (again?.reply?.text.startsWith(help)) return again;
      }
      // Asking for help is activity: the waiting conversation gets its full time again.
      const keep = c.channel === 'sms' ? session : null;
      return plain(c, help, {
        end: keep === null,
        outcome: 'keyword',
        session: keep ? { ...keep, updatedAt: c.now } : null,
        effects: keep ? [] : dropEffects(session),
        ttlMs: ttlFor(c, keep ? (flowOf(c.set, keep) ?? undefined) : undefined),
      });
    }
    case 'language': {
      if (kw.locale) return switchLanguage(c, session, kw.locale);
      const resume = session?.flowId === LANGUAGE_FLOW ? resumeOf(session) : session;
      const picker: SessionRecord = {
        flowId: LANGUAGE_FLOW,
        flowVersion: SYSTEM_VERSION,
        channel: c.channel,
        snapshot: { resume },
        locale: c.locale,
        startedAt: c.now,
        updatedAt: c.now,
        invalidCount: 0,
      };
      return plain(c, languageMenu(c), { end: false, outcome: 'keyword', session: picker, ttlMs: ttlFor(c) });
    }
    case 'restart':
      return startNew(c, text, serviceCode, { outcome: 'started', effects: dropEffects(session) });
  }
}

function languageTurn(c: Ctx, session: SessionRecord, text: string): TurnResult {
  const locales = c.set.locales.locales;
  const w = text.trim();
  const chosen = /^\d+$/.test(w) ? locales[Number(w) - 1] : matchLocaleName(w, c.set.locales);
  if (chosen) {
    const resume = resumeOf(session);
    return switchLanguage(c, resume, chosen);
  }
  const invalid = (session.invalidCount ?? 0) + 1;
  const rc = renderCtx(c, null);
  if (invalid > 3) {
    return plain(c, t(rc, 'system.too_many_invalid'), {
      end: true,
      outcome: 'ended',
      session: null,
      effects: dropEffects(session),
    });
  }
  return plain(c, languageMenu(c, t(rc, 'invalid.menu')), {
    end: false,
    outcome: 'reprompt',
    session: { ...session, invalidCount: invalid, updatedAt: c.now },
    ttlMs: ttlFor(c),
  });
}

function failure(c: Ctx, err: unknown, session: SessionRecord | null): TurnResult {
  const message = err instanceof Error ? err.message : String(err);
  return {
    ...plain(c, t(renderCtx(c, null), 'system.error'), {
      end: true,
      outcome: 'ended',
      session: null,
      effects: dropEffects(session),
    }),
    error: { code: 'JIBU_INTERNAL', message },
  };
}

function contextFor(
  set: FlowSet,
  input: Pick<TurnInput, 'channel' | 'phone' | 'locale' | 'contact' | 'now' | 'newId' | 'data'>,
): Ctx {
  return {
    set,
    channel: input.channel,
    phone: input.phone,
    locale: set.locales.resolve(input.locale ?? input.contact.locale),
    now: input.now.getTime(),
    newId: input.newId,
    data: input.data,
    contact: input.contact,
  };
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
  const c = contextFor(set, input);
  try {
    const text = input.text ?? '';
    const serviceCode = input.serviceCode;
    const current = session;
    if (text.trim()) {
      const kw = matchKeyword(text, set.locales);
      if (kw) return onKeyword(c, current, kw, text, serviceCode);
    }
    if (c.channel === 'sms' && input.contact.optedOut) {
      return plain(c, t(renderCtx(c, null), 'system.opted_out'), { end: true, outcome: 'keyword', session: current });
    }
    if (current?.flowId === LANGUAGE_FLOW) return languageTurn(c, current, text);
    if (!current) return startNew(c, text, serviceCode, { outcome: 'started' });

    const flow = flowOf(set, current);
    const snap = flow ? restore(flow, current.snapshot) : null;
    if (!flow || !snap) {
      return startNew(c, text, serviceCode, {
        outcome: 'incompatible',
        notices: [t(renderCtx(c, null), 'system.updated')],
        effects: dropEffects(current),
        prefer: current.flowId,
      });
    }
    const interrupting = c.channel === 'sms' ? keywordFlow(c, flow, snap, text) : null;
    if (interrupting) {
      return startNew(c, text, serviceCode, {
        outcome: 'started',
        effects: dropEffects(current),
        prefer: interrupting.id,
      });
    }
    const { event, hint } = interpret(c, flow, snap, text);
    const [next] = transition(flow.machine, snap, event);
    const settled = settle(c, flow, next);
    const outcome: TurnOutcome = event.type === 'INVALID' ? 'reprompt' : 'advanced';
    return conclude(c, flow, settled, {
      outcome,
      prior: current,
      ...(hint && settled.snap.status === 'active' ? { hint } : {}),
    });
  } catch (err) {
    return failure(c, err, session);
  }
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
  const flow = session && session.flowId !== LANGUAGE_FLOW ? flowOf(set, session) : null;
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
  const c = contextFor(set, {
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
      ? Math.max(1000, session.updatedAt + ttlFor(c, flowOf(set, session) ?? undefined) - c.now)
      : ttlFor(c),
    locale: c.locale,
    ...(session ? { flowId: session.flowId } : {}),
  });
  if (!session || session.flowId === LANGUAGE_FLOW) return ignored();
  try {
    const flow = flowOf(set, session);
    const snap = flow ? restore(flow, session.snapshot) : null;
    if (!flow || !snap || (snap.context as FlowContext).timer?.id !== timer.timerId) return ignored();
    const phone = (snap.context as FlowContext).phone;
    const pc: Ctx = { ...c, phone };
    const [next] = transition(flow.machine, snap, { type: 'TIMEOUT', timerId: timer.timerId, env: envFor(pc) });
    return conclude(pc, flow, settle(pc, flow, next), { outcome: 'advanced', prior: session, asSms: true });
  } catch (err) {
    return { ...failure(c, err, session), reply: null };
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
  const c = contextFor(set, input);
  const flow = set.flows.get(input.flowId);
  if (!flow || !flow.def.channels.includes(c.channel)) {
    return { session, reply: null, effects: [], outcome: 'no_flow', sessionTtlMs: ttlFor(c), locale: c.locale };
  }
  try {
    return conclude(c, flow, begin(c, flow, input.vars ?? {}), {
      outcome: 'started',
      prior: null,
      extraEffects: dropEffects(session),
      asSms: true,
    });
  } catch (err) {
    return { ...failure(c, err, session), reply: null };
  }
}
