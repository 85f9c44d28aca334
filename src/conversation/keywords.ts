import type { LocaleSet } from './locales.ts';
import { normalizeWord } from './text.ts';

/**
 * Global keywords. They beat any waiting conversation, in every locale, whatever language the
 * contact chose (a French speaker set to English can still send ARRET).
 *
 * The design, and why:
 * - Words come from the locale files (`keywords.stop`, `.start`, `.help`, `.language`, `.restart`),
 *   so a country adds its own words by editing translations, not code.
 * - Only the whole message counts, compared without case or accents (`Arrêt!` = `ARRET`), as
 *   carriers and Twilio do: "please stop the reminders for my son" is not an opt-out.
 * - No keyword is a number. `0`, `00` and `98` are USSD navigation and menus take numbers, so the
 *   restart keyword is a word (`MENU`, `MWANZO`) and, on USSD, `00` already goes to the main menu.
 *   The checker refuses a keyword that is also a yes/no or date word in any locale.
 * - STOP opts out (stored on the contact, honoured before every send) and ends the conversation;
 *   START opts back in; HELP answers and keeps the conversation; the language keyword alone shows
 *   a menu of languages, or followed by a language (`LANG FR`, `LUGHA KISWAHILI`) switches at once;
 *   the restart keyword drops the conversation and starts again from the entry flow.
 * - USSD honours the same words (STOP makes little sense there, but is still honoured).
 */
export type KeywordHit =
  { kind: 'stop' } | { kind: 'start' } | { kind: 'help' } | { kind: 'restart' } | { kind: 'language'; locale?: string };

export const KEYWORD_KEYS = [
  'keywords.stop',
  'keywords.start',
  'keywords.help',
  'keywords.language',
  'keywords.restart',
] as const;

/** Which locale a person means by `FR`, `francais`, `Kiswahili` or `English`. */
export function matchLocaleName(text: string, locales: LocaleSet): string | undefined {
  const w = normalizeWord(text);
  if (!w) return undefined;
  for (const l of locales.locales) {
    if (w === l.toUpperCase()) return l;
    if (normalizeWord(locales.format(l, 'meta.name')) === w) return l;
  }
  // `meta.aliases` of a locale lists what people call that language in other languages (FRENCH, KIFARANSA).
  for (const l of locales.locales) if (locales.words(l, 'meta.aliases').includes(w)) return l;
  return undefined;
}

/** The keyword a whole message is, if any. `matchKeyword('  stop ', set)` -> `{ kind: 'stop' }`. */
export function matchKeyword(text: string, locales: LocaleSet): KeywordHit | null {
  const w = normalizeWord(text);
  if (!w) return null;
  const is = (key: string) => locales.hasWordAnyLocale(key, w);
  if (is('keywords.stop')) return { kind: 'stop' };
  if (is('keywords.start')) return { kind: 'start' };
  if (is('keywords.help')) return { kind: 'help' };
  if (is('keywords.restart')) return { kind: 'restart' };
  if (is('keywords.language')) return { kind: 'language' };
  const [first, ...rest] = w.split(' ');
  if (rest.length && locales.hasWordAnyLocale('keywords.language', first ?? '')) {
    const locale = matchLocaleName(rest.join(' '), locales);
    if (locale) return { kind: 'language', locale };
  }
  return null;
}
