import type { Channel } from '../channels/types.ts';
import { daysBetween } from './input.ts';
import type { Effect } from './types.ts';

/**
 * The named building blocks flows may use: actions, guards, input validators, roles and data names.
 * Flows only name them; the compiler refuses a flow that names something the registry lacks. Every
 * function here is pure: what it needs (clock, ids, data) comes in its arguments, what it wants done
 * goes out as effects.
 */

export interface ActionArgs {
  vars: Readonly<Record<string, unknown>>;
  /** The step's params with templates resolved. */
  params: Record<string, unknown>;
  data: Readonly<Record<string, unknown>>;
  phone: string;
  locale: string;
  channel: Channel;
  now: Date;
  newId: () => string;
}

export interface ActionResult {
  effects?: Effect[];
  /** Variables to set (merged into the conversation's variables). */
  vars?: Record<string, unknown>;
}

export type ActionFn = (args: ActionArgs) => ActionResult;

export interface ActionSpec {
  run: ActionFn;
  /** Variables this action sets, so the checker accepts `{ref}` in later texts. */
  sets?: readonly string[];
  description?: string;
}

/** What a guard sees: an action's arguments without the id source (a guard decides, it creates nothing). */
export type GuardArgs = Omit<ActionArgs, 'newId'>;

export type GuardFn = (args: GuardArgs) => boolean;

/** `true`, or the locale key of the hint to show (with its ICU params). */
export type ValidationResult = true | { hint: string; params?: Record<string, unknown> };

export interface ValidatorArgs {
  params: Record<string, unknown>;
  vars: Readonly<Record<string, unknown>>;
  data: Readonly<Record<string, unknown>>;
  now: Date;
  /** Today in the deployment's time zone, `YYYY-MM-DD`. */
  today: string;
}

export interface ValidatorSpec {
  run: (value: unknown, args: ValidatorArgs) => ValidationResult;
  /** Hint keys it may return, checked for translations at load time. */
  hints: readonly string[];
  /** Input kinds it understands (the checker refuses it on others). */
  kinds?: ReadonlyArray<'number' | 'date' | 'yesno' | 'choice' | 'phone' | 'text'>;
}

export interface RoleSpec {
  /** Data names the runner must load to decide the role. */
  needs: readonly string[];
  test: (data: Readonly<Record<string, unknown>>) => boolean;
}

export interface Registry {
  readonly actions: Readonly<Record<string, ActionSpec>>;
  readonly guards: Readonly<Record<string, GuardFn>>;
  readonly validators: Readonly<Record<string, ValidatorSpec>>;
  readonly roles: Readonly<Record<string, RoleSpec>>;
  /** Data names the runner knows how to load (a flow's `data:` list must use these). */
  readonly data: ReadonlySet<string>;
}

export interface RegistryParts {
  actions?: Record<string, ActionFn | ActionSpec>;
  guards?: Record<string, GuardFn>;
  validators?: Record<string, ValidatorSpec>;
  roles?: Record<string, RoleSpec>;
  data?: Iterable<string>;
}

/** A short reference people can read out on the phone: `K7Q2MX`. Derived from a fresh id, so pure. */
export function shortRef(id: string): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'; // no 0/O or 1/I to misread
  let h = 2166136261;
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  let out = '';
  for (let i = 0; i < 6; i++) out += alphabet[(h >>> (i * 5)) & 31];
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown, dflt: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : dflt);

/** Built-in actions every deployment has. */
export const builtinActions: Record<string, ActionSpec> = {
  'contact.setLocale': {
    description: "Set the contact's language (params: locale).",
    run: ({ params }) => {
      const locale = str(params.locale);
      return locale ? { effects: [{ type: 'setContact', patch: { locale } }] } : {};
    },
  },
  'vars.set': {
    description: 'Set variables from params (templates allowed).',
    run: ({ params }) => ({ vars: { ...params } }),
  },
  'demo.record': {
    description: "The demo flow's record: hands the answers to the runner and gives the person a reference.",
    sets: ['ref'],
    run: ({ params, phone, now, newId }) => {
      const ref = shortRef(newId());
      return {
        vars: { ref },
        effects: [
          { type: 'notify', kind: 'demo.record', payload: { ref, phone, at: now.toISOString(), answers: params } },
        ],
      };
    },
  },
};

export const builtinGuards: Record<string, GuardFn> = {
  /** The variable named by `params.var` has a value. */
  'var.isSet': ({ vars, params }) => {
    const v = vars[str(params.var) ?? ''];
    return v !== undefined && v !== null && v !== '';
  },
  /** The data named by `params.name` is present and, when a list, not empty. */
  'data.has': ({ data, params }) => {
    const v = data[str(params.name) ?? ''];
    return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null;
  },
  'channel.is': ({ channel, params }) => channel === params.channel,
};

const isIso = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v);

export const builtinValidators: Record<string, ValidatorSpec> = {
  /** Today or later. */
  'date.notPast': {
    kinds: ['date'],
    hints: ['invalid.date_past'],
    run: (v, { today }) => (isIso(v) && daysBetween(today, v) >= 0 ? true : { hint: 'invalid.date_past' }),
  },
  /** Today or earlier (a birth, a reaction that happened). */
  'date.notFuture': {
    kinds: ['date'],
    hints: ['invalid.date_future'],
    run: (v, { today }) => (isIso(v) && daysBetween(today, v) <= 0 ? true : { hint: 'invalid.date_future' }),
  },
  /** From today (or `params.from` days from today) up to `params.days` days ahead (a reschedule window). */
  'date.within': {
    kinds: ['date'],
    hints: ['invalid.date_past', 'invalid.date_window'],
    run: (v, { today, params }) => {
      if (!isIso(v)) return { hint: 'invalid.date_window', params: { days: num(params.days, 30) } };
      const d = daysBetween(today, v);
      if (d < num(params.from, 0)) return { hint: 'invalid.date_past' };
      if (d > num(params.days, 30)) return { hint: 'invalid.date_window', params: { days: num(params.days, 30) } };
      return true;
    },
  },
};

export const builtinRoles: Record<string, RoleSpec> = {
  any: { needs: [], test: () => true },
};

/**
 * The registry a deployment runs with: the built-ins plus `parts` (a later part wins on a name clash).
 * `createRegistry({ actions: { 'dhis2.confirm': ({ params }) => ({ effects: [...] }) }, data: ['appointments'] })`.
 */
export function createRegistry(parts: RegistryParts = {}): Registry {
  const actions: Record<string, ActionSpec> = { ...builtinActions };
  for (const [name, a] of Object.entries(parts.actions ?? {})) actions[name] = typeof a === 'function' ? { run: a } : a;
  return {
    actions,
    guards: { ...builtinGuards, ...parts.guards },
    validators: { ...builtinValidators, ...parts.validators },
    roles: { ...builtinRoles, ...parts.roles },
    data: new Set(parts.data ?? []),
  };
}
