import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IntlMessageFormat } from 'intl-messageformat';
import { flattenLocaleDoc, parseYamlSource } from '../conversation/yaml-source.ts';
import { STAFF_LOCALES, type StaffLocale } from './deployment.ts';

/**
 * What programme staff read: the notes, AEFI fields and alerts Jibu writes in the deployment's staff
 * language (`staffLocale`), not the phone user's. The wording lives in `locales/<lang>/staff.yaml`
 * (ICU messages under `staff.*`), beside the texts phones show, with the same parity checks; each module
 * that writes for staff builds its typed table from it with {@link byStaffLocale}.
 *
 * Read once, synchronously, when this module loads, from the shipped `locales/` folder (next to `src/`
 * or `dist/`): a missing file or key is a packaging bug and stops the process at start-up rather than
 * writing a half-empty note into DHIS2 later. Changing the wording means editing those files and
 * restarting (a flow reload does not re-read them). Arguments are written as given: dates in notes stay
 * ISO, unambiguous in every DHIS2 locale.
 */

/** Where the shipped translations are: `<package>/locales` from `src/dhis2/` and from `dist/dhis2/`. */
export const SHIPPED_LOCALES_DIR = fileURLToPath(new URL('../../locales/', import.meta.url));

/** Render one staff text: `key` relative to `staff.`, ICU `args` as strings (or `yes`/`no` for a select). */
export type StaffMessage = (key: string, args?: Record<string, string>) => string;

/** One staff text: its ICU source, compiled the first time it is written (most texts of most languages never are). */
export interface StaffSource {
  readonly text: string;
  compiled?: IntlMessageFormat;
}

/** Read and check `<dir>/<lang>/staff.yaml` for every staff language; throws on a missing file or bad YAML/ICU. */
export function readStaffMessages(dir: string): Map<StaffLocale, Map<string, StaffSource>> {
  const out = new Map<StaffLocale, Map<string, StaffSource>>();
  for (const locale of STAFF_LOCALES) {
    const file = path.join(dir, locale, 'staff.yaml');
    const { source, problems } = parseYamlSource(file, readFileSync(file, 'utf8'));
    const flat = flattenLocaleDoc(source);
    const all = [...problems, ...flat.problems];
    if (all.length) throw new Error(`${file}: ${all.map((p) => `${p.line ?? ''} ${p.message}`).join('; ')}`);
    const messages = new Map<string, StaffSource>();
    for (const e of flat.entries) {
      if (!e.key.startsWith('staff.') || typeof e.value !== 'string') continue;
      // Parsed now so a broken text stops start-up; the parse is dropped, the text compiled again when used.
      new IntlMessageFormat(e.value, locale, undefined, { ignoreTag: true });
      messages.set(e.key.slice('staff.'.length), { text: e.value });
    }
    out.set(locale, messages);
  }
  return out;
}

const MESSAGES = readStaffMessages(SHIPPED_LOCALES_DIR);

/** The formatter of one staff language; an unknown key throws (a bug in the code or the shipped files). */
export function staffMessage(locale: StaffLocale, from = MESSAGES): StaffMessage {
  const messages = from.get(locale)!;
  return (key, args = {}) => {
    const source = messages.get(key);
    if (!source) throw new Error(`locales/${locale}/staff.yaml has no text staff.${key}`);
    source.compiled ??= new IntlMessageFormat(source.text, locale, undefined, { ignoreTag: true });
    const out = source.compiled.format(args);
    return typeof out === 'string' ? out : String(out);
  };
}

/**
 * A typed table of staff texts per staff language, built from the locale files.
 * `byStaffLocale((m) => ({ signature: (a) => m('caseworker.signature', a) }))`
 */
export function byStaffLocale<T>(build: (m: StaffMessage) => T): Readonly<Record<StaffLocale, T>> {
  return Object.fromEntries(STAFF_LOCALES.map((l) => [l, build(staffMessage(l))])) as Record<StaffLocale, T>;
}

/** The strings of `prefix.<key>` for each key, as a lookup table (reactions, places, severities). */
export function staffWords<K extends string>(m: StaffMessage, prefix: string, keys: readonly K[]): Record<K, string> {
  return Object.fromEntries(keys.map((k) => [k, m(`${prefix}.${k}`)])) as Record<K, string>;
}

/** AEFI case fields and duplicate notes the outbox writes (`src/dhis2/outbox/aefi.ts`, `duplicates.ts`). */
export interface SurveillanceTexts {
  /** "Reporter of AEFI case" for a caregiver's report; `via` is the channel (`SMS`, `USSD`). */
  reporterCaregiver: (a: { via: string }) => string;
  /** "Reporter of AEFI case" for a case worker's report. */
  reporterCaseWorker: (a: { name: string }) => string;
  /** A batch number whose vaccine the case worker could not name, kept in the AEFI comments. */
  batchUnattributed: (a: { batch: string }) => string;
  /**
   * On a new birth enrollment when DHIS2 would not take a potential-duplicate record: which registered child
   * it may be, where, and why the record could not be filed. Tracked entity and org unit uids stay as they
   * are: staff paste them into the DHIS2 apps.
   */
  possibleDuplicate: (a: { original: string; orgUnit: string; reason: string; ref: string }) => string;
}

export const SURVEILLANCE_TEXTS = byStaffLocale<SurveillanceTexts>((m) => ({
  reporterCaregiver: (a) => m('surveillance.reporterCaregiver', a),
  reporterCaseWorker: (a) => m('surveillance.reporterCaseWorker', a),
  batchUnattributed: (a) => m('surveillance.batchUnattributed', a),
  possibleDuplicate: (a) => m('surveillance.possibleDuplicate', a),
}));
