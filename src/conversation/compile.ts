import { assign, setup, type AnyStateMachine } from 'xstate';
import type { Channel } from '../channels/types.ts';
import type { Registry } from './registry.ts';
import { durationMs, type Branch, type FlowFile, type Step, type When } from './schema.ts';
import { resolveDeep, type TemplateScope } from './templates.ts';
import type { Effect } from './types.ts';

/**
 * Flow file -> XState v5 machine, built with `setup({ actions, guards })` from the registry.
 *
 * The machine is flat: one state per step, plus a `<step>__then` router state for steps with
 * `branches` (so branches see what the step just saved) and two built-in final states. Everything
 * impure arrives in the event (`env`: clock, id source, runner data), so `transition()` stays pure
 * and a persisted snapshot is plain JSON. Timers are effects, never XState `after` (which a restored
 * snapshot would not re-arm).
 */

/** What the engine passes with every event: the outside world, read-only. */
export interface Env {
  now: number;
  newId: () => string;
  data: Readonly<Record<string, unknown>>;
  locale: string;
  channel: Channel;
  phone: string;
}

/** One option of a menu built from data, fixed when the menu is entered so numbers stay stable. */
export interface DynOption {
  params: Record<string, unknown>;
  value: unknown;
}

export interface FlowContext {
  vars: Record<string, unknown>;
  /** Menu and ask steps the person came through, for `0` Back (say steps are not places to return to). */
  history: string[];
  /** USSD page of the current menu (0-based). */
  page: number;
  /** Invalid answers in a row on the current step. */
  invalid: number;
  options: DynOption[];
  timer: { id: string; step: string } | null;
  /** Effects produced during the current turn; the engine takes them and stores the snapshot without them. */
  effects: Effect[];
  phone: string;
  channel: Channel;
}

export type FlowEvent =
  | { type: 'CHOOSE'; index: number; env?: Env }
  | { type: 'ANSWER'; value: unknown; env?: Env }
  | { type: 'CONTINUE'; env?: Env }
  | { type: 'INVALID'; env?: Env }
  | { type: 'MORE'; env?: Env }
  | { type: 'BACK'; env?: Env }
  | { type: 'HOME'; env?: Env }
  | { type: 'TIMEOUT'; timerId: string; env?: Env };

export interface FlowInput {
  phone: string;
  channel: Channel;
  vars?: Record<string, unknown>;
  env?: Env;
}

/** Final states the compiler adds: too many invalid answers, and a data menu with nothing to offer. */
export const INVALID_END = '__invalid';
export const NOTHING_END = '__nothing';
export const ROUTER_SUFFIX = '__then';

/** Used when an event carries no env (graph walks, `snapshot.can()`): a quiet, empty world. */
export const QUIET_ENV: Env = { now: 0, newId: () => 'graph', data: {}, locale: 'en', channel: 'ussd', phone: '' };

export function envOf(event: unknown): Env {
  const e = event as { env?: Env; input?: { env?: Env } } | undefined;
  return e?.env ?? e?.input?.env ?? QUIET_ENV;
}

export interface CompiledFlow {
  id: string;
  /** `<version>.<content hash>`: what a session pins. */
  version: string;
  major: number;
  file: string;
  def: FlowFile;
  machine: AnyStateMachine;
  /** SMS sessions live this long; USSD sessions always 180 s. */
  sessionTtlMs: number;
  /** For each menu or ask step, the menu or ask steps `0` Back may return to. */
  backTargets: ReadonlyMap<string, readonly string[]>;
}

export const isInteractive = (s: Step): boolean => s.type === 'menu' || s.type === 'ask' || s.type === 'say';

/** Every step a step can lead to, with why (for reachability, back targets and the checker). */
export function stepEdges(
  step: Step,
): Array<{ target: string; via: 'next' | 'option' | 'branch' | 'timeout' | 'empty'; index?: number }> {
  const out: Array<{ target: string; via: 'next' | 'option' | 'branch' | 'timeout' | 'empty'; index?: number }> = [];
  if (step.type === 'end') return out;
  if (step.type === 'menu') {
    step.options?.forEach((o, index) => {
      if (o.next) out.push({ target: o.next, via: 'option', index });
    });
    if (step.optionsFrom?.empty) out.push({ target: step.optionsFrom.empty, via: 'empty' });
  }
  step.branches?.forEach((b, index) => out.push({ target: b.next, via: 'branch', index }));
  if ('next' in step && step.next) out.push({ target: step.next, via: 'next' });
  if ('timeout' in step && step.timeout) out.push({ target: step.timeout.next, via: 'timeout' });
  return out;
}

/** Steps that wait for a typed answer (and so can be returned to with `0` Back). */
const isAnswerStep = (s: Step): boolean => s.type === 'menu' || s.type === 'ask';

/**
 * For each menu or ask step S, the menu or ask steps P from which a person moves forward to S
 * passing only through action and say steps: where `0` Back takes them from S. A `say` is not a
 * place to go back to; it is read on the way.
 */
export function computeBackTargets(def: FlowFile): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [pid, p] of Object.entries(def.steps)) {
    if (!isAnswerStep(p)) continue;
    const seen = new Set<string>();
    const queue = stepEdges(p)
      .filter((e) => e.via !== 'timeout')
      .map((e) => e.target);
    while (queue.length) {
      const id = queue.shift() ?? '';
      if (seen.has(id)) continue;
      seen.add(id);
      const s = def.steps[id];
      if (!s) continue;
      if (isAnswerStep(s)) {
        const list = out.get(id) ?? [];
        if (!list.includes(pid)) list.push(pid);
        out.set(id, list);
      } else if (s.type === 'action' || s.type === 'say') {
        queue.push(
          ...stepEdges(s)
            .filter((e) => e.via !== 'timeout')
            .map((e) => e.target),
        );
      }
    }
  }
  return out;
}

type Params = Record<string, unknown>;
const scopeOf = (context: FlowContext, env: Env): TemplateScope => ({ vars: context.vars, data: env.data });

/**
 * `vars` with `name` set: a new object, as XState's `assign` wants (names are lower-case identifiers, never
 * `__proto__`). Not `{ ...vars, [name]: value }`, which on Node 20 is slow and lands in the old generation
 * when `name` is new (docs/architecture.md#the-hop-and-the-garbage-collector).
 */
const withVar = (vars: FlowContext['vars'], name: string, value: unknown): FlowContext['vars'] =>
  Object.assign({}, vars, { [name]: value });

/**
 * Compile a validated flow. Throws only on a registry miss the checker should have caught
 * (`loadFlowSet` runs the checker first).
 * `compileFlow(def, registry, { version: '1.ab12cd34ef56', file: 'flows/demo.yaml' })`.
 */
export function compileFlow(def: FlowFile, registry: Registry, meta: { version: string; file: string }): CompiledFlow {
  const backTargets = computeBackTargets(def);

  const registryActions: Record<
    string,
    ReturnType<typeof assign<FlowContext, FlowEvent, Params, FlowEvent, never>>
  > = {};
  for (const [name, spec] of Object.entries(registry.actions)) {
    registryActions[name] = assign<FlowContext, FlowEvent, Params, FlowEvent, never>(({ context, event }, params) => {
      const env = envOf(event);
      const resolved = resolveDeep(params.params ?? {}, scopeOf(context, env)) as Record<string, unknown>;
      const r = spec.run({
        vars: context.vars,
        params: resolved,
        data: env.data,
        phone: context.phone,
        locale: env.locale,
        channel: context.channel,
        now: new Date(env.now),
        newId: env.newId,
      });
      return {
        vars: r.vars ? { ...context.vars, ...r.vars } : context.vars,
        effects: r.effects?.length ? [...context.effects, ...r.effects] : context.effects,
      };
    });
  }

  const registryGuards: Record<string, (a: { context: FlowContext; event: FlowEvent }, p: Params) => boolean> = {};
  for (const [name, fn] of Object.entries(registry.guards)) {
    registryGuards[name] = ({ context, event }, params) => {
      const env = envOf(event);
      return fn({
        vars: context.vars,
        params: params ?? {},
        data: env.data,
        phone: context.phone,
        locale: env.locale,
        channel: context.channel,
        now: new Date(env.now),
      });
    };
  }

  const impl = setup({
    types: {} as { context: FlowContext; events: FlowEvent; input: FlowInput },
    actions: {
      ...registryActions,
      // Coming back round to a step already in the history (a loop) drops the detour from it.
      $enterStep: assign(({ context }, p: { step: string }) => {
        const at = context.history.lastIndexOf(p.step);
        return {
          page: 0,
          invalid: 0,
          options: [] as DynOption[],
          history: at >= 0 ? context.history.slice(0, at) : context.history,
        };
      }),
      $countInvalid: assign({ invalid: ({ context }) => context.invalid + 1 }),
      $nextPage: assign({ page: ({ context }) => context.page + 1 }),
      $prevPage: assign({ page: ({ context }) => Math.max(0, context.page - 1) }),
      // Bounded so a long session cannot grow the snapshot without end.
      $push: assign({ history: ({ context }, p: { step: string }) => [...context.history, p.step].slice(-20) }),
      $pop: assign({ history: ({ context }) => context.history.slice(0, -1) }),
      $clearHistory: assign({ history: [] as string[] }),
      $save: assign({
        vars: ({ context }, p: { var: string; value: unknown }) => withVar(context.vars, p.var, p.value),
      }),
      $saveAnswer: assign({
        vars: ({ context, event }, p: { var: string }) =>
          event.type === 'ANSWER' ? withVar(context.vars, p.var, event.value) : context.vars,
      }),
      $saveOption: assign({
        vars: ({ context, event }, p: { var: string }) =>
          event.type === 'CHOOSE' && context.options[event.index]
            ? withVar(context.vars, p.var, context.options[event.index]?.value)
            : context.vars,
      }),
      $saveFirstOption: assign({
        vars: ({ context }, p: { var: string }) => withVar(context.vars, p.var, context.options[0]?.value),
      }),
      $loadOptions: assign({
        options: ({ context, event }, p: { data: string; params: Params; value?: string; max: number }) => {
          const env = envOf(event);
          const list = resolveDeep(`{data.${p.data}}`, scopeOf(context, env));
          if (!Array.isArray(list)) return [];
          return list.slice(0, p.max).map((item: unknown) => {
            const scope: TemplateScope = { vars: context.vars, data: env.data, item };
            return {
              params: resolveDeep(p.params, scope) as Record<string, unknown>,
              value: p.value === undefined ? item : resolveDeep(p.value, scope),
            };
          });
        },
      }),
      $startTimer: assign(({ context, event }, p: { step: string; afterMs: number }) => {
        // Reply timeouts are for SMS waits; a USSD session is over in minutes anyway.
        if (context.channel !== 'sms') return {};
        const env = envOf(event);
        const id = `t-${env.newId()}`;
        return {
          timer: { id, step: p.step },
          effects: [...context.effects, { type: 'startTimer', timerId: id, fireAt: env.now + p.afterMs } as Effect],
        };
      }),
      $cancelTimer: assign(({ context, event }) => {
        if (!context.timer) return {};
        const fired = event.type === 'TIMEOUT' && event.timerId === context.timer.id;
        return {
          timer: null,
          effects: fired
            ? context.effects
            : [...context.effects, { type: 'cancelTimer', timerId: context.timer.id } as Effect],
        };
      }),
    },
    guards: {
      ...registryGuards,
      $tooManyInvalid: ({ context }, p: { max: number }) => context.invalid >= p.max,
      $canPage: ({ context }, p: { max: number }) => context.page < p.max,
      $onLaterPage: ({ context }) => context.page > 0,
      $historyTop: ({ context }, p: { step: string }) => context.history[context.history.length - 1] === p.step,
      $timerIs: ({ context, event }) =>
        event.type === 'TIMEOUT' && context.timer !== null && context.timer.id === event.timerId,
      $choice: ({ event }, p: { index: number }) => event.type === 'CHOOSE' && event.index === p.index,
      $validIndex: ({ context, event }) =>
        event.type === 'CHOOSE' && event.index >= 0 && event.index < context.options.length,
      $noOptions: ({ context }) => context.options.length === 0,
      $oneOption: ({ context }) => context.options.length === 1,
      $varEquals: ({ context }, p: { var: string; equals: unknown }) => context.vars[p.var] === p.equals,
      $varIn: ({ context }, p: { var: string; in: unknown[] }) => p.in.includes(context.vars[p.var]),
    },
  });

  type Guard = { type: string; params?: Params };
  const whenGuard = (w: When): Guard => {
    if ('guard' in w) return { type: w.guard, params: w.params ?? {} };
    if ('equals' in w) return { type: '$varEquals', params: { var: w.var, equals: w.equals } };
    return { type: '$varIn', params: { var: w.var, in: w.in } };
  };
  const branchTransitions = (branches: Branch[] | undefined, next: string) => [
    ...(branches ?? []).map((b) => ({ guard: whenGuard(b.when), target: b.next, reenter: true })),
    { target: next, reenter: true },
  ];

  const states: Record<string, unknown> = {};
  const maxInvalid = def.maxInvalid;
  for (const [id, step] of Object.entries(def.steps)) {
    if (step.type === 'end') {
      states[id] = { type: 'final' };
      continue;
    }
    if (step.type === 'action') {
      states[id] = {
        entry: [{ type: step.action, params: { params: step.params ?? {} } }],
        always: branchTransitions(step.branches, step.next),
      };
      continue;
    }
    // Interactive steps: menu, ask, say.
    const hasRouter = (step.branches?.length ?? 0) > 0;
    const forward = hasRouter ? `${id}${ROUTER_SUFFIX}` : (step.next ?? '');
    if (hasRouter && step.next)
      states[`${id}${ROUTER_SUFFIX}`] = { always: branchTransitions(step.branches, step.next) };
    const push = { type: '$push', params: { step: id } };
    const record = step.type === 'say' ? [] : [push];
    const on: Record<string, unknown> = {
      INVALID: [
        { guard: { type: '$tooManyInvalid', params: { max: maxInvalid } }, target: INVALID_END },
        { actions: '$countInvalid' },
      ],
      BACK: [
        { guard: '$onLaterPage', actions: '$prevPage' },
        ...(backTargets.get(id) ?? []).map((p) => ({
          guard: { type: '$historyTop', params: { step: p } },
          target: p,
          actions: '$pop',
          reenter: true,
        })),
      ],
    };
    const entry: unknown[] = [{ type: '$enterStep', params: { step: id } }];
    const exit: unknown[] = [];
    let always: unknown[] | undefined;
    if (step.type === 'menu') {
      const save = step.save;
      if (step.options) {
        on.CHOOSE = step.options.map((o, index) => ({
          guard: { type: '$choice', params: { index } },
          target: o.next ?? forward,
          reenter: true,
          actions: [
            ...(save ? [{ type: '$save', params: { var: save, value: o.value ?? index + 1 } }] : []),
            ...record,
          ],
        }));
        on.MORE = { guard: { type: '$canPage', params: { max: step.options.length - 1 } }, actions: '$nextPage' };
      } else if (step.optionsFrom) {
        const of = step.optionsFrom;
        entry.push({
          type: '$loadOptions',
          params: { data: of.data, params: of.params ?? {}, value: of.value, max: of.max },
        });
        on.CHOOSE = {
          guard: '$validIndex',
          target: forward,
          reenter: true,
          actions: [...(save ? [{ type: '$saveOption', params: { var: save } }] : []), ...record],
        };
        on.MORE = { guard: { type: '$canPage', params: { max: of.max - 1 } }, actions: '$nextPage' };
        always = [
          { guard: '$noOptions', target: of.empty ?? NOTHING_END, reenter: true },
          ...(of.single === 'auto'
            ? [
                {
                  guard: '$oneOption',
                  target: forward,
                  reenter: true,
                  actions: save ? [{ type: '$saveFirstOption', params: { var: save } }] : [],
                },
              ]
            : []),
        ];
      }
    } else if (step.type === 'ask') {
      on.ANSWER = {
        target: forward,
        reenter: true,
        actions: [{ type: '$saveAnswer', params: { var: step.save } }, ...record],
      };
    } else {
      on.CONTINUE = { target: forward, reenter: true, actions: record };
    }
    if ('timeout' in step && step.timeout) {
      entry.push({ type: '$startTimer', params: { step: id, afterMs: durationMs(step.timeout.after) } });
      exit.push('$cancelTimer');
      on.TIMEOUT = { guard: '$timerIs', target: step.timeout.next, reenter: true };
    }
    states[id] = { entry, exit, on, ...(always ? { always } : {}) };
  }
  states[INVALID_END] = { type: 'final' };
  states[NOTHING_END] = { type: 'final' };

  const config = {
    id: 'flow',
    initial: def.start,
    context: ({ input }: { input: FlowInput }): FlowContext => ({
      vars: { ...input.vars },
      history: [],
      page: 0,
      invalid: 0,
      options: [],
      timer: null,
      effects: [],
      phone: input.phone,
      channel: input.channel,
    }),
    on: { HOME: { target: `.${def.start}`, reenter: true, actions: '$clearHistory' } },
    states,
  };
  const machine = impl.createMachine(config as unknown as Parameters<typeof impl.createMachine>[0]);
  return {
    id: def.id,
    version: meta.version,
    major: def.version,
    file: meta.file,
    def,
    machine,
    sessionTtlMs: durationMs(def.session.ttl),
    backTargets,
  };
}
