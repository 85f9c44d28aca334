/**
 * The conversation engine's public API: flows as data (`flows/*.yaml`), compiled to XState v5
 * machines from a registry, stepped purely; the runner (`runner.ts`) does the I/O around it.
 */
export { loadFlowSet, buildFlowSet, parseFlowFile, type LoadFlowSetOptions, type LoadFlowSetResult } from './loader.ts';
export { turn, timerFired, startFlow } from './engine.ts';
export { requiredData, dataNames } from './entry.ts';
export { LANGUAGE_FLOW } from './global-keywords.ts';
export { retainKey, SYSTEM_KEYS, USSD_SESSION_TTL_MS, type FlowSet } from './flowset.ts';
export type { CompiledFlow, FlowContext, FlowEvent, FlowInput, Env } from './compile.ts';
export {
  createRegistry,
  type Registry,
  type RegistryParts,
  type ActionFn,
  type ActionSpec,
  type ActionArgs,
  type ActionResult,
  type GuardFn,
  type ValidatorSpec,
  type RoleSpec,
} from './registry.ts';
export { LocaleSet } from './locales.ts';
export { flowFileSchema, type FlowFile } from './schema.ts';
export { matchKeyword, type KeywordHit } from './keywords.ts';
export type { Effect, FlowProblem, TurnInput, TurnResult, TurnOutcome, ReplyMeasure } from './types.ts';
