import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_WORD_INPUT, normalizeWord, trimEdges } from '../../src/conversation/text.ts';

/**
 * Attack: send a body built to make text handling slow (SECURITY.md "Input handling"). The old
 * trailing-punctuation regex retried from every position of a punctuation run: quadratic, 2.2 s of one
 * core for a 64 KB body. Typed text is now capped before it is folded, and edges are trimmed in one pass
 * from each end. Wall-clock figures live in bench/normalise.ts; these tests pin what makes it linear.
 */

/** The regex the engine used before: kept here as the reference for what trimming means. */
const oldTrim = (s: string) => s.replace(/^[\s.,;:!?'"()-]+|[\s.,;:!?'"()-]+$/g, '').trim();

describe('input normalisation', () => {
  it('attack: a 64 KB run of punctuation — only the first MAX_WORD_INPUT characters are folded', () => {
    const body = `a${'.'.repeat(64 * 1024)}b`;
    const out = normalizeWord(body);
    // The cut is first: the result is that of the capped text, marked so it matches no short word.
    expect(out).toBe(`${normalizeWord(body.slice(0, MAX_WORD_INPUT))}\u2026`);
    expect(out.length).toBeLessThanOrEqual(MAX_WORD_INPUT + 1);
    // A long text padded after a keyword is not that keyword.
    expect(normalizeWord(`STOP${' '.repeat(5000)}`)).not.toBe('STOP');
    expect(normalizeWord('STOP   ')).toBe('STOP');
  });

  it('trims edges exactly as the old regex did, one pass from each end', () => {
    const edgy = fc.string({
      unit: fc.constantFrom(' ', '.', ',', ';', ':', '!', '?', "'", '"', '(', ')', '-', 'A', 'b', '\t', 'é'),
      maxLength: 40,
    });
    fc.assert(
      fc.property(edgy, (s) => {
        const folded = s.replace(/\s+/g, ' ');
        expect(trimEdges(folded)).toBe(oldTrim(folded));
      }),
      { numRuns: 2000 },
    );
  });

  it('folds what people type as before', () => {
    expect(normalizeWord(' Arrêt! ')).toBe('ARRET');
    expect(normalizeWord('  "yes." ')).toBe('YES');
    expect(normalizeWord('-(stop)-')).toBe('STOP');
    expect(normalizeWord('a \u00a0 b')).toBe('A B');
    expect(normalizeWord('...')).toBe('');
  });
});
