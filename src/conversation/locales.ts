import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { IntlMessageFormat } from 'intl-messageformat';
import type { FlowProblem } from './types.ts';
import { flattenLocaleDoc, parseYamlSource } from './yaml-source.ts';
import { normalizeWord } from './text.ts';

/** One translated key: an ICU message, or a list of words people may type (keywords, yes/no). */
export interface LocaleEntry {
  value: string | string[];
  file: string;
  line?: number;
}

/** How an ICU argument is used: counts must be numbers, dates must be dates. */
export type ArgKind = 'text' | 'number' | 'date' | 'select';

type Ast = ReturnType<IntlMessageFormat['getAst']>;

/** The ICU arguments a message uses, by name (`{n, plural, ...}` -> n: number). */
export function icuArgs(message: string): Map<string, ArgKind> {
  const args = new Map<string, ArgKind>();
  const walk = (els: Ast) => {
    for (const el of els) {
      switch (el.type) {
        case 1:
          args.set(el.value, args.get(el.value) ?? 'text');
          break;
        case 2:
        case 6:
          args.set(el.value, 'number');
          break;
        case 3:
        case 4:
          args.set(el.value, 'date');
          break;
        case 5:
          args.set(el.value, 'select');
          break;
        default:
          break;
      }
      if (el.type === 5 || el.type === 6) for (const o of Object.values(el.options)) walk(o.value);
      if (el.type === 8) walk(el.children);
    }
  };
  walk(new IntlMessageFormat(message, 'en', undefined, { ignoreTag: true }).getAst());
  return args;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Dates are stored as `YYYY-MM-DD` and shown day first (`25/12/2025`), as written across the region. */
export function displayValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') {
    const m = ISO_DATE.exec(v);
    return m ? `${m[3]}/${m[2]}/${m[1]}` : v;
  }
  if (v instanceof Date) return displayValue(v.toISOString().slice(0, 10));
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function utcFormats(): ConstructorParameters<typeof IntlMessageFormat>[2] {
  const base = IntlMessageFormat.formats;
  const date: Record<string, Intl.DateTimeFormatOptions> = {};
  for (const [k, v] of Object.entries(base.date)) date[k] = { ...v, timeZone: 'UTC' };
  return { date, time: base.time, number: base.number };
}

/**
 * The translations of a flow set: `locales/<lang>/*.yaml`, nested keys flattened to dotted keys.
 * A key missing in one locale falls back to the default locale at runtime (the checker reports it
 * as an error anyway, so this is a safety net, never the plan).
 */
export class LocaleSet {
  readonly locales: readonly string[];
  readonly defaultLocale: string;
  readonly entries: ReadonlyMap<string, ReadonlyMap<string, LocaleEntry>>;
  private readonly cache = new Map<string, IntlMessageFormat | Error>();
  private readonly anyLocaleWords = new Map<string, ReadonlyArray<{ locale: string; word: string }>>();
  private readonly anyLocaleWordSets = new Map<string, ReadonlySet<string>>();
  /** Messages without ICU arguments, formatted once (menu labels, navigation: most of every screen). */
  private readonly fixedTexts = new Map<string, string>();

  constructor(entries: Map<string, Map<string, LocaleEntry>>, defaultLocale: string) {
    this.entries = entries;
    this.defaultLocale = defaultLocale;
    this.locales = [defaultLocale, ...[...entries.keys()].filter((l) => l !== defaultLocale).sort()];
  }

  /**
   * The same translations with empty caches. The flow checker renders every screen in every locale with sample
   * values; through a scratch set, what it compiles is garbage once the check is done, and the running set
   * compiles only the messages people are actually shown (about 5 MB less heap for the shipped flows).
   */
  scratch(): LocaleSet {
    return new LocaleSet(this.entries as Map<string, Map<string, LocaleEntry>>, this.defaultLocale);
  }

  /** How many messages this set has compiled so far (diagnostics and tests). */
  get compiledCount(): number {
    return this.cache.size;
  }

  /** A locale this set has: `fr-CD` -> `fr`, unknown -> the default. */
  resolve(locale: string | undefined | null): string {
    if (!locale) return this.defaultLocale;
    const l = locale.toLowerCase();
    if (this.entries.has(l)) return l;
    const base = l.split(/[-_]/)[0] ?? '';
    return this.entries.has(base) ? base : this.defaultLocale;
  }

  has(locale: string, key: string): boolean {
    return this.entries.get(locale)?.has(key) ?? false;
  }

  /** The raw entry in `locale`, else in the default locale. */
  entry(locale: string, key: string): LocaleEntry | undefined {
    return this.entries.get(locale)?.get(key) ?? this.entries.get(this.defaultLocale)?.get(key);
  }

  /**
   * Render `key` in `locale` with ICU `params`. Never throws: a missing key renders as the key
   * itself, a missing parameter as empty, so a caregiver gets a screen rather than an error.
   * `set.format('sw', 'demo.advice', { age: 9 })`.
   */
  format(locale: string, key: string, params: Record<string, unknown> = {}): string {
    const loc = this.resolve(locale);
    const own = this.entries.get(loc)?.get(key);
    const useLoc = own ? loc : this.defaultLocale;
    const entry = own ?? this.entries.get(this.defaultLocale)?.get(key);
    if (!entry) return key;
    if (Array.isArray(entry.value)) return entry.value[0] ?? key;
    const id = `${useLoc}\u0000${key}`;
    const fixed = this.fixedTexts.get(id);
    if (fixed !== undefined) return fixed;
    const mf = this.compiled(useLoc, key, entry.value);
    if (mf instanceof Error) return entry.value;
    const args = icuArgsCached(this, useLoc, key, entry.value);
    const values: Record<string, string | number | Date> = {};
    for (const [name, kind] of args) {
      const v = params[name];
      if (kind === 'number') {
        const n = typeof v === 'number' ? v : Number(v);
        values[name] = Number.isFinite(n) ? n : 0;
      } else if (kind === 'date') {
        const d = v instanceof Date ? v : typeof v === 'string' || typeof v === 'number' ? new Date(v) : new Date(NaN);
        values[name] = Number.isNaN(d.getTime()) ? new Date(0) : d;
      } else if (kind === 'select') {
        values[name] = v === undefined || v === null ? 'other' : String(v);
      } else {
        values[name] = displayValue(v);
      }
    }
    let text: string;
    try {
      const out = mf.format(values);
      text = typeof out === 'string' ? out : Array.isArray(out) ? out.join('') : String(out);
    } catch {
      return entry.value;
    }
    // No arguments: the same text every time (translations never change after loading; a reload builds a new set).
    if (args.size === 0) this.fixedTexts.set(id, text);
    return text;
  }

  /** The words of a list key in one locale, normalised for matching. */
  words(locale: string, key: string): string[] {
    const v = this.entries.get(locale)?.get(key)?.value;
    return Array.isArray(v) ? v.map(normalizeWord) : [];
  }

  /** The words of a list key in every locale (keywords work whatever language the contact chose). */
  wordsAnyLocale(key: string): ReadonlyArray<{ locale: string; word: string }> {
    // Asked for on every inbound message (keywords, yes/no, date words); translations never change
    // after loading (a reload builds a new set), so the list is built once per key.
    const hit = this.anyLocaleWords.get(key);
    if (hit) return hit;
    const out: Array<{ locale: string; word: string }> = [];
    for (const locale of this.locales) for (const word of this.words(locale, key)) out.push({ locale, word });
    const frozen = Object.freeze(out);
    this.anyLocaleWords.set(key, frozen);
    return frozen;
  }

  /** Whether `word` (normalised) is one of a list key's words in any locale. */
  hasWordAnyLocale(key: string, word: string): boolean {
    let set = this.anyLocaleWordSets.get(key);
    if (!set) {
      set = new Set(this.wordsAnyLocale(key).map((x) => x.word));
      this.anyLocaleWordSets.set(key, set);
    }
    return set.has(word);
  }

  private compiled(locale: string, key: string, message: string): IntlMessageFormat | Error {
    const id = `${locale}\u0000${key}`;
    let mf = this.cache.get(id);
    if (!mf) {
      try {
        mf = new IntlMessageFormat(message, locale, utcFormats(), { ignoreTag: true });
      } catch (e) {
        mf = e instanceof Error ? e : new Error(String(e));
      }
      this.cache.set(id, mf);
    }
    return mf;
  }
}

const argsCache = new WeakMap<LocaleSet, Map<string, Map<string, ArgKind>>>();
function icuArgsCached(set: LocaleSet, locale: string, key: string, message: string): Map<string, ArgKind> {
  let m = argsCache.get(set);
  if (!m) argsCache.set(set, (m = new Map()));
  const id = `${locale}\u0000${key}`;
  let a = m.get(id);
  if (!a) {
    try {
      a = icuArgs(message);
    } catch {
      a = new Map();
    }
    m.set(id, a);
  }
  return a;
}

/**
 * Read `localesDir/<lang>/*.yaml`. Problems (YAML errors, duplicate keys, bad ICU syntax) come back
 * with file and line; parity between locales is checked by the flow checker, which knows which keys
 * the flows use.
 */
export async function readLocales(
  localesDir: string,
  opts: { defaultLocale: string; locales?: string[]; relativeTo?: string },
): Promise<{ set: LocaleSet; problems: FlowProblem[]; files: Array<{ file: string; text: string }> }> {
  const problems: FlowProblem[] = [];
  const files: Array<{ file: string; text: string }> = [];
  const entries = new Map<string, Map<string, LocaleEntry>>();
  const rel = (p: string) => path.relative(opts.relativeTo ?? process.cwd(), p) || p;
  let dirs: string[];
  try {
    dirs = (await readdir(localesDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    problems.push({ file: rel(localesDir), message: 'the locales folder cannot be read', severity: 'error' });
    return { set: new LocaleSet(entries, opts.defaultLocale), problems, files };
  }
  const wanted = opts.locales ?? dirs;
  for (const lang of new Set([opts.defaultLocale, ...wanted])) {
    if (!dirs.includes(lang)) {
      problems.push({
        file: rel(path.join(localesDir, lang)),
        message: `locale ${lang} has no folder`,
        hint: `create ${rel(path.join(localesDir, lang))}/ with the same keys as ${opts.defaultLocale}`,
        severity: 'error',
      });
    }
  }
  for (const lang of dirs) {
    if (!wanted.includes(lang) && lang !== opts.defaultLocale) continue;
    const map = new Map<string, LocaleEntry>();
    entries.set(lang, map);
    const dir = path.join(localesDir, lang);
    const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
    for (const name of names) {
      const full = path.join(dir, name);
      const file = rel(full);
      const text = await readFile(full, 'utf8');
      files.push({ file, text });
      const { source, problems: yamlProblems } = parseYamlSource(file, text);
      problems.push(...yamlProblems);
      if (yamlProblems.some((p) => p.severity === 'error')) continue;
      const flat = flattenLocaleDoc(source);
      problems.push(...flat.problems);
      for (const e of flat.entries) {
        const prev = map.get(e.key);
        if (prev) {
          problems.push({
            file,
            line: e.line,
            message: `${e.key} is also defined in ${prev.file}:${prev.line ?? '?'}`,
            severity: 'error',
          });
          continue;
        }
        if (typeof e.value === 'string') {
          try {
            icuArgs(e.value);
          } catch (err) {
            const src = text.split('\n')[(e.line ?? 1) - 1] ?? '';
            // The classic trap: in YAML an unquoted ` #` starts a comment and cuts `{n, plural, one {siku #}}`.
            const hint =
              /\s#/.test(src) && !/:\s*['"]/.test(src)
                ? 'in YAML an unquoted " #" starts a comment: put the whole text in quotes'
                : 'check braces and plural/select forms, e.g. {n, plural, one {# child} other {# children}}';
            problems.push({
              file,
              line: e.line,
              message: `${e.key}: ICU message syntax error (${(err as Error).message})`,
              hint,
              severity: 'error',
            });
            continue;
          }
        }
        map.set(e.key, { value: e.value, file, line: e.line });
      }
    }
  }
  return { set: new LocaleSet(entries, opts.defaultLocale), problems, files };
}
