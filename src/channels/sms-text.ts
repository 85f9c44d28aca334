import { SegmentedMessage } from 'sms-segments-calculator';

/** How an SMS text will travel, as the segment calculator counts it (docs/providers.md#sms-encoding-and-segments). */
export interface SmsMeasure {
  encoding: 'GSM-7' | 'UCS-2';
  /** Parts the provider bills: 160/153 septets in GSM-7, 70/67 UTF-16 units in UCS-2. */
  segments: number;
  /** User-perceived characters (graphemes). */
  characters: number;
  /** What the segment limits count: septets in GSM-7 (extension characters count 2), UTF-16 units in UCS-2. */
  units: number;
  /** Each character that forced UCS-2, once, in order of appearance; empty for GSM-7. */
  nonGsmCharacters: string[];
}

/** GSM 03.38 (3GPP TS 23.038) basic table. */
const GSM7_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** Extension table: each costs an escape plus the character, two septets. */
const GSM7_EXTENSION = '\f^{}\\[~]|€';
const GSM7 = new Set([...GSM7_BASIC, ...GSM7_EXTENSION]);
const GSM7_EXTENDED = new Set([...GSM7_EXTENSION]);

/**
 * Measure an SMS with `sms-segments-calculator` (grapheme-aware, extension characters count two
 * septets and are never split across parts).
 *
 * @example measureSms('a'.repeat(161)) // { encoding: 'GSM-7', segments: 2, characters: 161, units: 161, nonGsmCharacters: [] }
 */
export function measureSms(text: string): SmsMeasure {
  const message = new SegmentedMessage(text, 'auto');
  const encoding = message.encodingName;
  const units =
    encoding === 'GSM-7' ? [...text].reduce((n, ch) => n + (GSM7_EXTENDED.has(ch) ? 2 : 1), 0) : text.length;
  return {
    encoding,
    segments: message.segmentsCount,
    characters: message.graphemes.length,
    units,
    nonGsmCharacters: [...new Set(message.getNonGsmCharacters())],
  };
}

/**
 * True when every character is in the GSM-7 basic or extension table, i.e. the text travels as GSM-7.
 *
 * @example isGsm7('Chanjo ya Amani ni kesho') // true
 * @example isGsm7('ng’ombe')                 // false: the curly apostrophe forces UCS-2
 */
export function isGsm7(text: string): boolean {
  for (const ch of text) if (!GSM7.has(ch)) return false;
  return true;
}

/**
 * Typographic punctuation and invisible spacing with a GSM-7 equivalent that reads the same.
 * `« »` become `"` too: French quotes force UCS-2 and the straight quote keeps the meaning.
 */
const PLAIN_ASCII = /^[\x20-\x7e\n]*$/;
const PUNCTUATION: ReadonlyArray<readonly [RegExp, string]> = [
  [/\r\n/g, '\n'],
  [/[\u2018\u2019\u201a\u201b\u2032\u2039\u203a\u00b4`]/g, "'"],
  [/[\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb]/g, '"'],
  [/[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]/g, '-'],
  [/\u2026/g, '...'],
  [/\u2022/g, '-'],
  [/[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]/g, ' '],
  // Zero-width space, soft hyphen and byte-order mark: invisible, yet each forces UCS-2.
  [/[\u200b\u00ad\ufeff]/g, ''],
];

/**
 * Replace typographic punctuation with GSM-7 equivalents: curly quotes, dashes, ellipsis, bullets,
 * NBSP and other spaces, tab, CRLF. Letters are never touched, so this is always safe to apply
 * (Swahili `ng’ombe` → `ng'ombe` stays GSM-7 and costs half).
 *
 * @example normalizePunctuation('Chanjo – “kesho”…') // 'Chanjo - "kesho"...'
 */
export function normalizePunctuation(text: string): string {
  // Fast path: printable ASCII and newlines have nothing to replace (most texts in en/sw/rw).
  if (PLAIN_ASCII.test(text)) return text;
  let out = text.normalize('NFC');
  for (const [pattern, replacement] of PUNCTUATION) out = out.replace(pattern, replacement);
  return out;
}

/**
 * Accented letters outside GSM-7 and their plain forms: courier's smart-encoding list (gsm7
 * `ReplaceSubstitutions`) plus French `ë ï œ` and `ý ÿ`. Letters GSM-7 has (`é è à ù ì ò É Ç ä ö ñ ü`)
 * are not in the list, so they keep their accent.
 */
const ACCENTS: Readonly<Record<string, string>> = {
  á: 'a',
  â: 'a',
  ã: 'a',
  ê: 'e',
  ë: 'e',
  í: 'i',
  î: 'i',
  ï: 'i',
  ó: 'o',
  ô: 'o',
  õ: 'o',
  ú: 'u',
  û: 'u',
  ç: 'c',
  ý: 'y',
  ÿ: 'y',
  œ: 'oe',
  Á: 'A',
  À: 'A',
  Â: 'A',
  Ã: 'A',
  È: 'E',
  Ê: 'E',
  Ë: 'E',
  Ì: 'I',
  Í: 'I',
  Î: 'I',
  Ï: 'I',
  Ò: 'O',
  Ó: 'O',
  Ô: 'O',
  Õ: 'O',
  Ù: 'U',
  Ú: 'U',
  Û: 'U',
  Ý: 'Y',
  Œ: 'OE',
};
const ACCENTED = new RegExp(`[${Object.keys(ACCENTS).join('')}]`, 'g');

/**
 * Fold accented letters that would force UCS-2 to their plain forms. Lossy ("não" → "nao"), so it is
 * an opt-in for deployments that prefer cost over accents; letters GSM-7 can carry are kept.
 *
 * @example foldAccents('Vacinação não realizada') // 'Vacinacao nao realizada'
 * @example foldAccents('Santé, arrêter')          // 'Santé, arreter'
 */
export function foldAccents(text: string): string {
  return text.normalize('NFC').replace(ACCENTED, (ch) => ACCENTS[ch] ?? ch);
}

/**
 * Prepare an outbound SMS: always normalise punctuation, optionally fold accents, and measure the result.
 *
 * @example prepareSms('Rappel : vaccin demain…', { foldAccents: true }).segments // 1
 */
export function prepareSms(text: string, options: { foldAccents?: boolean } = {}): SmsMeasure & { text: string } {
  const punctuated = normalizePunctuation(text);
  const prepared = options.foldAccents === true ? foldAccents(punctuated) : punctuated;
  return { text: prepared, ...measureSms(prepared) };
}
