import type { CompiledFlow } from './compile.ts';
import type { LocaleSet } from './locales.ts';
import type { Registry } from './registry.ts';

/**
 * A loaded, checked set of flows and translations: immutable, swapped whole on reload.
 * `retained` also holds the compiled flows of earlier sets that live sessions may still be on,
 * so "sessions in progress finish on the version they started with".
 */
export interface FlowSet {
  /** Hash of every flow and locale file: changes when anything changes. */
  version: string;
  /** The current flows, by id. */
  flows: ReadonlyMap<string, CompiledFlow>;
  /** Every compiled flow a session may be pinned to, by `retainKey(id, version)`: current and earlier. */
  retained: ReadonlyMap<string, CompiledFlow>;
  locales: LocaleSet;
  registry: Registry;
  defaultLocale: string;
  /** Time zone that decides "today" for date answers. */
  timeZone: string;
  /** Country for reading national phone numbers in `phone` answers. */
  defaultCountry?: string;
  /** Render any locale key (with fallback to the default locale); for server-side texts such as `errors.unavailable`. */
  translate(locale: string | undefined, key: string, params?: Record<string, unknown>): string;
}

export const retainKey = (flowId: string, version: string): string => `${flowId}@${version}`;

/**
 * USSD sessions last as long as the telco keeps the dialog (docs/providers.md#deadlines-and-session-lifetime): 180 s.
 */
export const USSD_SESSION_TTL_MS = 180_000;

/**
 * Keys the engine itself renders, with the ICU parameters it passes ('words' = a list of words).
 * Every locale must have them; the checker says so with the file to fix.
 */
export const SYSTEM_KEYS: Readonly<Record<string, readonly string[] | 'words'>> = {
  'meta.name': [],
  'meta.aliases': 'words',
  'nav.more': [],
  'nav.back': [],
  'nav.home': [],
  'nav.continue': [],
  'answer.yes': [],
  'answer.no': [],
  'keywords.stop': 'words',
  'keywords.start': 'words',
  'keywords.help': 'words',
  'keywords.language': 'words',
  'keywords.restart': 'words',
  'words.yes': 'words',
  'words.no': 'words',
  'words.today': 'words',
  'words.tomorrow': 'words',
  'words.yesterday': 'words',
  'system.stopped': [],
  'system.started': [],
  'system.help': [],
  'system.language_prompt': [],
  'system.language_set': [],
  'system.updated': [],
  'system.no_flow': [],
  'system.too_many_invalid': [],
  'system.goodbye': [],
  'system.opted_out': [],
  'system.nothing': [],
  'system.error': [],
  'invalid.menu': [],
  'invalid.number': ['min', 'max'],
  'invalid.date': [],
  'invalid.yesno': [],
  'invalid.phone': [],
  'invalid.text': ['max'],
  'invalid.date_past': [],
  'invalid.date_future': [],
  'invalid.date_window': ['days'],
  'errors.unavailable': [],
  'errors.rate_limited': [],
};
