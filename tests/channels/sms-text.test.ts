import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldAccents, isGsm7, measureSms, normalizePunctuation, prepareSms } from '../../src/channels/sms-text.ts';

const AMHARIC = 'ሀ';

describe('measureSms', () => {
  it.each([
    ['160 × a', 'GSM-7', 1, 'a'.repeat(160)],
    ['161 × a', 'GSM-7', 2, 'a'.repeat(161)],
    ['306 × a', 'GSM-7', 2, 'a'.repeat(306)],
    ['307 × a', 'GSM-7', 3, 'a'.repeat(307)],
    ['70 Amharic', 'UCS-2', 1, AMHARIC.repeat(70)],
    ['71 Amharic', 'UCS-2', 2, AMHARIC.repeat(71)],
    ['201 Amharic', 'UCS-2', 3, AMHARIC.repeat(201)],
    ['202 Amharic', 'UCS-2', 4, AMHARIC.repeat(202)],
    ['80 × {', 'GSM-7', 1, '{'.repeat(80)],
    ['81 × {', 'GSM-7', 2, '{'.repeat(81)],
    ['35 emoji', 'UCS-2', 1, '😀'.repeat(35)],
    ['36 emoji', 'UCS-2', 2, '😀'.repeat(36)],
    ['an escape pair never split: 152 a + { + 10 a', 'GSM-7', 2, `${'a'.repeat(152)}{${'a'.repeat(10)}`],
  ])('counts %s as %s in %i segment(s)', (_name, encoding, segments, text) => {
    const m = measureSms(text);
    expect(m.encoding).toBe(encoding);
    expect(m.segments).toBe(segments);
  });

  it('counts extension characters as two septets and emoji as two UTF-16 units', () => {
    expect(measureSms('{'.repeat(80))).toMatchObject({ characters: 80, units: 160 });
    expect(measureSms('😀'.repeat(35))).toMatchObject({ characters: 35, units: 70 });
    expect(measureSms('Habari')).toMatchObject({ characters: 6, units: 6, nonGsmCharacters: [] });
  });

  it('lists each character that forced UCS-2 once', () => {
    expect(measureSms('santé… arrêter… arrêter').nonGsmCharacters).toEqual(['…', 'ê']);
  });

  it('counts French with ê and … as UCS-2, two segments at 121 characters', () => {
    const text =
      'Rappel : la vaccination de votre enfant est prévue demain au centre de santé… Répondez 1 pour confirmer, 2 pour arrêter !';
    expect(text).toHaveLength(121);
    expect(measureSms(text)).toMatchObject({ encoding: 'UCS-2', segments: 2 });
  });

  it.each([
    ['Swahili with a straight apostrophe', "Ng'ombe na mtoto wako: chanjo kesho.", 'GSM-7'],
    ['Swahili with a curly apostrophe', 'Ng’ombe na mtoto wako: chanjo kesho.', 'UCS-2'],
    ['French with only GSM accents', 'Vaccin prévu à 9h. Répondez OUI. Où ? Merci, Ça va.', 'GSM-7'],
    ['French with lower-case ç', 'Reçu, merci', 'UCS-2'],
    ['Portuguese', 'Vacinação não realizada', 'UCS-2'],
    ['Kinyarwanda', 'Muraho! Urukingo rw’umwana ni ejo.', 'UCS-2'],
    ['Lingala open vowels', 'Mwana na yɔ azwi mangwele', 'UCS-2'],
  ])('classifies %s as %s', (_name, text, encoding) => {
    expect(measureSms(text).encoding).toBe(encoding);
  });
});

describe('isGsm7', () => {
  it.each([
    ['plain English', 'Your child is due for a vaccine on 12/03.', true],
    [
      'the whole basic table',
      '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡AZÄÖÑÜ§¿azäöñüà',
      true,
    ],
    ['the extension table', '^{}\\[~]|€\f', true],
    ['a tab', 'a\tb', false],
    ['a backtick', 'a`b', false],
    ['a curly quote', 'it’s', false],
    ['lower-case ç', 'ç', false],
    ['capital À', 'À', false],
  ])('says %s is GSM-7: %s', (_name, text, expected) => {
    expect(isGsm7(text)).toBe(expected);
  });

  it('agrees with the segment calculator on every text', () => {
    const alphabet = fc.constantFrom(...'aZ09 @£{€\n\r\té’ç…ÀÇñ😀ሀ«\u00a0`^'.split(''), '😀');
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 40 }).map((cs) => cs.join('')),
        (text) => {
          expect(isGsm7(text)).toBe(measureSms(text).encoding === 'GSM-7');
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('normalizePunctuation', () => {
  it.each([
    ['curly apostrophes', 'ng’ombe ‘a’', "ng'ombe 'a'"],
    ['curly and low quotes', '“kesho” „morgen“', '"kesho" "morgen"'],
    ['French guillemets', '« demain »', '" demain "'],
    ['en and em dashes', 'a – b — c', 'a - b - c'],
    ['an ellipsis', 'Asante…', 'Asante...'],
    ['NBSP, narrow NBSP and tab', 'a\u00a0b\u202fc\td', 'a b c d'],
    ['zero-width space and soft hyphen', 'vac\u00adcin\u200be', 'vaccine'],
    ['CRLF', 'a\r\nb', 'a\nb'],
  ])('replaces %s with GSM-7 equivalents', (_name, input, expected) => {
    expect(normalizePunctuation(input)).toBe(expected);
    expect(isGsm7(normalizePunctuation(input))).toBe(true);
  });

  it('never changes a letter, so accents survive', () => {
    expect(normalizePunctuation('Vacinação não realizada – arrêter')).toBe('Vacinação não realizada - arrêter');
  });

  it('halves the cost of Swahili written with a curly apostrophe', () => {
    const text =
      'Habari! Mtoto wako anatakiwa kupata chanjo kesho saa tatu asubuhi katika kituo cha afya cha Kibera. Usisahau kadi ya ng’ombe… jibu 1 kuthibitisha.';
    expect(measureSms(text)).toMatchObject({ encoding: 'UCS-2', segments: 3 });
    expect(measureSms(normalizePunctuation(text))).toMatchObject({ encoding: 'GSM-7', segments: 1 });
  });

  it('is idempotent and keeps GSM-7 text unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (text) => {
        const once = normalizePunctuation(text);
        expect(normalizePunctuation(once)).toBe(once);
      }),
    );
    fc.assert(
      fc.property(
        fc
          .array(fc.constantFrom(...'abc XYZ 019 @£$ {}[] éèàù Ç\n-\'"'.split('')), { maxLength: 50 })
          .map((c) => c.join('')),
        (text) => {
          expect(normalizePunctuation(text)).toBe(text);
        },
      ),
    );
  });
});

describe('foldAccents', () => {
  it.each([
    ['Portuguese', 'Vacinação não realizada', 'Vacinacao nao realizada'],
    ['Portuguese capitals (Ç is GSM-7 and stays)', 'ÁREA DE SAÚDE: VACINAÇÃO', 'AREA DE SAUDE: VACINAÇAO'],
    [
      'French',
      'Votre enfant doit être vacciné. Arrêter : répondez STOP. Reçu.',
      'Votre enfant doit etre vacciné. Arreter : répondez STOP. Recu.',
    ],
    ['French ë ï œ', 'Noël, naïf, cœur', 'Noel, naif, coeur'],
    ['letters GSM-7 has', 'é è à ù ì ò É Ç ä ö ñ ü Ä Ö Ñ Ü', 'é è à ù ì ò É Ç ä ö ñ ü Ä Ö Ñ Ü'],
    ['decomposed accents', 'na\u0303o', 'nao'],
  ])('folds %s', (_name, input, expected) => {
    expect(foldAccents(input)).toBe(expected);
  });

  it('makes the Portuguese and French examples GSM-7 once punctuation is normalised', () => {
    for (const text of ['Vacinação não realizada', 'santé… arrêter', 'Rappel : « vaccin » demain – répondez OUI.']) {
      const prepared = prepareSms(text, { foldAccents: true });
      expect(prepared.encoding).toBe('GSM-7');
      expect(prepared.segments).toBe(1);
    }
  });

  it('is only applied when asked: prepareSms keeps accents by default', () => {
    expect(prepareSms('Vacinação – não').text).toBe('Vacinação - não');
    expect(prepareSms('Vacinação – não').encoding).toBe('UCS-2');
  });
});
