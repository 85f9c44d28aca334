import { createActor, type AnyActorScope, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { z } from 'zod';
import type { SessionRecord } from '../store/types.ts';
import type { CompiledFlow, FlowContext, FlowEvent, FlowInput } from './compile.ts';
import { retainKey, type FlowSet } from './flowset.ts';
import type { Step } from './schema.ts';

/**
 * Pure XState stepping and snapshot (de)serialisation: the only place the engine touches XState.
 * A flow is a compiled machine (compile.ts); a session stores its persisted snapshot and the flow
 * version it was made with (docs/architecture.md, "State and keys").
 */

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
/** A stored snapshot as {@link restore} reads it (the schema decides what {@link plainPersisted} leaves to it). */
export const persistedSchema = z.looseObject({ value: z.string(), context: contextSchema });

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
export function transition(machine: AnyStateMachine, snap: AnyMachineSnapshot, event: FlowEvent): [AnyMachineSnapshot] {
  return [machine.transition(snap, event, inertScope(machine)) as AnyMachineSnapshot];
}

/** XState's pure initial transition: the machine's first snapshot for `input`. */
export function initialTransition(machine: AnyStateMachine, input: FlowInput): [AnyMachineSnapshot] {
  return [machine.getInitialSnapshot(inertScope(machine), input) as AnyMachineSnapshot];
}

/**
 * What a session stores of a snapshot: the step it waits on and the context, which is all {@link restore}
 * reads. XState's own persisted form adds status, history, children, output and error, none of which a
 * flat machine with no child actors needs, and building it was a measurable part of a hop (bench/README.md).
 * The context keeps every field (`effects` empty) so that a replica one release behind can still read it.
 */
export function persist(snap: AnyMachineSnapshot): unknown {
  return { value: snap.value as string, context: { ...(snap.context as FlowContext), effects: [] } };
}

/** Restore a stored snapshot onto `flow`, or null when it does not fit (then the session restarts politely). */
export function restore(flow: CompiledFlow, raw: unknown): AnyMachineSnapshot | null {
  const stored = readPersisted(raw);
  if (!stored || !(stored.value in flow.def.steps)) return null;
  try {
    const snap = flow.machine.resolveState({
      value: stored.value,
      context: { ...stored.context, effects: [] },
    });
    return snap.status === 'active' ? snap : null;
  } catch {
    return null;
  }
}

type Persisted = z.output<typeof persistedSchema>;

/** A stored snapshot read with {@link persistedSchema}: by hand when it is as {@link persist} writes it. */
export function readPersisted(raw: unknown): Persisted | null {
  const plain = plainPersisted(raw);
  if (plain) return plain;
  const parsed = persistedSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * `raw` itself when it certainly passes {@link persistedSchema} with nothing for the schema to change (its
 * one stripping object, `timer`, has exactly its two fields), else null: left to the schema, which decides.
 * The schema's cost showed on every hop; tests/conversation/machine.test.ts holds the two together.
 */
export function plainPersisted(raw: unknown): Persisted | null {
  if (!isPlain(raw) || typeof raw.value !== 'string' || !isPlain(raw.context)) return null;
  const c = raw.context;
  const t = c.timer;
  const ok =
    isPlain(c.vars) &&
    Array.isArray(c.history) &&
    c.history.every((h) => typeof h === 'string') &&
    isCount(c.page) &&
    isCount(c.invalid) &&
    Array.isArray(c.options) &&
    c.options.every((o) => isPlain(o) && isPlain(o.params) && 'value' in o) &&
    (t === null ||
      (isPlain(t) && typeof t.id === 'string' && typeof t.step === 'string' && Object.keys(t).length === 2)) &&
    Array.isArray(c.effects) &&
    typeof c.phone === 'string' &&
    (c.channel === 'ussd' || c.channel === 'sms');
  return ok ? (raw as Persisted) : null;
}

/** The flow a session is pinned to: its exact version, else the current flow when only the hash moved. */
export function flowOf(set: FlowSet, session: SessionRecord): CompiledFlow | null {
  const exact = set.retained.get(retainKey(session.flowId, session.flowVersion));
  if (exact) return exact;
  const current = set.flows.get(session.flowId);
  // Same major version: the admin declared the edit compatible by not bumping `version`.
  if (current && String(current.major) === session.flowVersion.split('.')[0]) return current;
  return null;
}

export const stepOf = (flow: CompiledFlow, snap: AnyMachineSnapshot): { id: string; step: Step | undefined } => {
  const id = String(snap.value);
  return { id, step: flow.def.steps[id] };
};

/** A timer a stored snapshot may hold, read leniently (to cancel it when the session is dropped). */
export function pendingTimer(session: SessionRecord | null): string | undefined {
  const ctx = (session?.snapshot as { context?: { timer?: { id?: unknown } | null } } | undefined)?.context;
  return typeof ctx?.timer?.id === 'string' ? ctx.timer.id : undefined;
}
