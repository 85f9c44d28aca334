import { normalizePhone } from '../channels/phone.ts';
import type { LocaleSet } from './locales.ts';
import type { InputSpec } from './schema.ts';
import { normalizeWord } from './text.ts';

/**
 * Reading answers. Everything a person types is parsed here into a typed value (a number, an ISO
 * date, a boolean, an E.164 number) or refused with the locale key of a short hint. The machine only
 * ever sees `ANSWER {value}` or `INVALID`.
 */

export type ParseOutcome = { ok: true; value: unknown } | { ok: false; hint: string; params?: Record<string, unknown> };

export interface ParseContext {
  locales: LocaleSet;
  locale: string;
  /** Today in the deployment's time zone, `YYYY-MM-DD`. */
  today: string;
  defaultCountry?: string;
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM-DD` of `now` in `timeZone`. `todayIn(new Date('2025-03-01T22:30Z'), 'Africa/Nairobi')` -> `2025-03-02`. */
export function todayIn(now: Date, timeZone: string): string {
  let fmt = dayFormats.get(timeZone);
  if (!fmt) {
    // Building a DateTimeFormat costs far more than using one; there are only a few zones.
    fmt = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormats.set(timeZone, fmt);
  }
  // Since 1980 every zone's UTC offset is a whole number of quarter hours, so the local date can only
  // change on a quarter-hour boundary: one formatting per zone and quarter hour is enough.
  const ms = now.getTime();
  const quarter = ms >= QUARTERS_SINCE_MS ? Math.floor(ms / QUARTER_MS) : NaN;
  const hit = lastDay.get(timeZone);
  if (hit && hit.quarter === quarter) return hit.day;
  const parts = fmt.formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = `${get('year')}-${get('month')}-${get('day')}`;
  if (!Number.isNaN(quarter)) lastDay.set(timeZone, { quarter, day });
  return day;
}
const QUARTER_MS = 900_000;
const QUARTERS_SINCE_MS = Date.UTC(1980, 0, 1);
const lastDay = new Map<string, { quarter: number; day: string }>();

/** Add whole days to an ISO date. */
export function addDays(iso: string, days: number): string {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + days)).toISOString().slice(0, 10);
}

/** Whole days from `a` to `b` (both ISO dates). */
export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}

function isoDate(y: number, m: number, d: number): string | null {
  if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31) return null;
  const dt = new Date(Date.UTC(y, m - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) return null;
  return dt.toISOString().slice(0, 10);
}

const DATE_WORD_OFFSETS: Array<[key: string, days: number]> = [
  ['words.today', 0],
  ['words.tomorrow', 1],
  ['words.yesterday', -1],
];

/**
 * Read a date as people type it: `25122025` (the USSD keypad has no `/`), `25/12/2025`, `25-12-25`,
 * `25/12` (the year nearest to today), or a word such as `kesho`, `demain`, `amanhã` (from the
 * `words.*` keys of every locale). Returns `YYYY-MM-DD`, or null.
 */
export function parseDate(text: string, today: string, locales: LocaleSet): string | null {
  const t = text.trim();
  const word = normalizeWord(t);
  for (const [key, days] of DATE_WORD_OFFSETS) {
    if (locales.hasWordAnyLocale(key, word)) return addDays(today, days);
  }
  let m = /^(\d{2})(\d{2})(\d{4})$/.exec(t);
  if (m) return isoDate(Number(m[3]), Number(m[2]), Number(m[1]));
  m = /^(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{2}|\d{4})$/.exec(t);
  if (m) {
    const y = m[3]?.length === 2 ? 2000 + Number(m[3]) : Number(m[3]);
    return isoDate(y, Number(m[2]), Number(m[1]));
  }
  m = /^(\d{1,2})[/.\- ](\d{1,2})$/.exec(t);
  if (m) {
    const year = Number(today.slice(0, 4));
    const candidates = [year - 1, year, year + 1]
      .map((y) => isoDate(y, Number(m?.[2]), Number(m?.[1])))
      .filter((d): d is string => d !== null);
    candidates.sort((a, b) => Math.abs(daysBetween(today, a)) - Math.abs(daysBetween(today, b)));
    return candidates[0] ?? null;
  }
  return null;
}

/** `1`/`2` or a yes/no word in any locale. */
export function parseYesNo(text: string, locales: LocaleSet): boolean | null {
  const w = normalizeWord(text);
  if (w === '1') return true;
  if (w === '2') return false;
  if (locales.hasWordAnyLocale('words.yes', w)) return true;
  if (locales.hasWordAnyLocale('words.no', w)) return false;
  return null;
}

/** The default hint for an input kind, with its ICU parameters. */
export function defaultHint(spec: InputSpec): { hint: string; params?: Record<string, unknown> } {
  switch (spec.kind) {
    case 'number':
      return { hint: 'invalid.number', params: { min: spec.min, max: spec.max } };
    case 'date':
      return { hint: 'invalid.date' };
    case 'yesno':
      return { hint: 'invalid.yesno' };
    case 'choice':
      return { hint: 'invalid.menu' };
    case 'phone':
      return { hint: 'invalid.phone' };
    case 'text':
      return { hint: 'invalid.text', params: { max: spec.maxLength } };
  }
}

/**
 * Parse one answer for an `ask` step. `hintKey` overrides the default hint of the kind.
 * `parseAnswer({ kind: 'number', min: 0, max: 60, integer: true }, '9', ctx)` -> `{ ok: true, value: 9 }`.
 */
export function parseAnswer(spec: InputSpec, text: string, ctx: ParseContext, hintKey?: string): ParseOutcome {
  const fail = (): ParseOutcome => {
    const d = defaultHint(spec);
    return { ok: false, hint: hintKey ?? d.hint, params: d.params };
  };
  const t = text.trim();
  switch (spec.kind) {
    case 'number': {
      const s = t.replace(/\s+/g, '').replace(',', '.');
      if (!(spec.integer ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/).test(s)) return fail();
      const n = Number(s);
      if (!Number.isFinite(n) || n < spec.min || n > spec.max) return fail();
      return { ok: true, value: n };
    }
    case 'date': {
      const d = parseDate(t, ctx.today, ctx.locales);
      return d ? { ok: true, value: d } : fail();
    }
    case 'yesno': {
      const b = parseYesNo(t, ctx.locales);
      return b === null ? fail() : { ok: true, value: b };
    }
    case 'choice': {
      if (/^\d+$/.test(t)) {
        const o = spec.options[Number(t) - 1];
        return o ? { ok: true, value: o.value } : fail();
      }
      const w = normalizeWord(t);
      const hit = spec.options.find(
        (o) => normalizeWord(String(o.value)) === w || normalizeWord(ctx.locales.format(ctx.locale, o.label)) === w,
      );
      return hit ? { ok: true, value: hit.value } : fail();
    }
    case 'phone': {
      const p = normalizePhone(t, spec.country ?? ctx.defaultCountry);
      return p ? { ok: true, value: p } : fail();
    }
    case 'text': {
      const s = t.replace(/\s+/g, ' ');
      return s.length >= spec.minLength && s.length <= spec.maxLength ? { ok: true, value: s } : fail();
    }
  }
}
