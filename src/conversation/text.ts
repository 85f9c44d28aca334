import { foldAccents, isGsm7, normalizePunctuation } from '../channels/sms-text.ts';

/**
 * Text helpers of the conversation engine: matching what people type (keywords, yes/no, date words)
 * and making USSD screens safe for handsets that only show GSM-7.
 */

/**
 * Fold what a person typed into a comparable form: accents dropped, curly quotes straightened,
 * upper case, single spaces, surrounding punctuation gone. `normalizeWord(' Arrêt! ')` -> `ARRET`.
 */
export function normalizeWord(s: string): string {
  // Capped before anything else, cache key included: a 64 KB body costs what 1 000 characters cost.
  if (s.length > MAX_WORD_INPUT) return `${memo(wordCache, s.slice(0, MAX_WORD_INPUT), normalizeWordUncached)}${CUT}`;
  return memo(wordCache, s, normalizeWordUncached);
}

/**
 * Longest text folded for matching. Keywords, options and labels are far shorter, so a longer text can
 * match none of them; the cut is marked ({@link CUT}) so that what remains never equals a short word.
 */
export const MAX_WORD_INPUT = 1_000;
const CUT = '\u2026';

// Keywords, labels and typed answers repeat endlessly; folding them is the engine's hottest string work
// (bench/ussd.ts), so results are kept in small bounded caches.
const CACHE_LIMIT = 20_000;
const wordCache = new Map<string, string>();
const gsmCache = new Map<string, string>();
function memo(cache: Map<string, string>, key: string, f: (s: string) => string): string {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const v = f(key);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, v);
  return v;
}

function normalizeWordUncached(s: string): string {
  return trimEdges(normalizePunctuation(s).normalize('NFD').replace(/\p{M}/gu, '').toUpperCase().replace(/\s+/g, ' '));
}

/** Characters dropped from both ends of a typed word (after spaces were folded to one ' '). */
const EDGE = new Set([' ', '.', ',', ';', ':', '!', '?', "'", '"', '(', ')', '-']);

/**
 * Drop surrounding spaces and punctuation with one pass from each end. (A regular expression
 * `[…]+$` here retried from every position of a long punctuation run: quadratic, 2.2 s on 64 KB.)
 */
export function trimEdges(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && EDGE.has(s[start]!)) start++;
  while (end > start && EDGE.has(s[end - 1]!)) end--;
  return s.slice(start, end).trim();
}

/**
 * Make a USSD screen GSM-7 only (many handsets and telcos show nothing else: docs/providers.md#screen-limits):
 * punctuation normalised and accents GSM-7 lacks folded (`Vacinação` -> `Vacinacao`, `arrêter` ->
 * `arreter`) by the channel helpers; anything still outside the alphabet becomes `?`. Accents GSM-7
 * has (é è à ù) are kept.
 */
export function foldToGsm7(s: string): string {
  return memo(gsmCache, s, foldToGsm7Uncached);
}

function foldToGsm7Uncached(s: string): string {
  const folded = foldAccents(normalizePunctuation(s));
  if (isGsm7(folded)) return folded;
  let out = '';
  for (const ch of folded) {
    if (isGsm7(ch)) out += ch;
    else {
      const bare = ch.normalize('NFD').replace(/\p{M}/gu, '');
      out += bare !== ch && isGsm7(bare) ? bare : '?';
    }
  }
  return out;
}

/** Cut `s` to at most `max` characters, marking the cut with `..`. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  return max <= 2 ? s.slice(0, max) : `${s.slice(0, max - 2)}..`;
}
