import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskPhone, normalizePhone } from '../../src/channels/phone.ts';

describe('normalizePhone', () => {
  const table: Array<[string, string | undefined, string | null]> = [
    ['+254711000111', 'KE', '+254711000111'],
    ['254711000111', 'KE', '+254711000111'],
    ['254711000111', undefined, '+254711000111'],
    ['0711000111', 'KE', '+254711000111'],
    ['0711 000-111', 'KE', '+254711000111'],
    ['(0711) 000.111', 'KE', '+254711000111'],
    ['+254 711 000 111', 'RW', '+254711000111'],
    ['00254711000111', 'KE', '+254711000111'],
    ['0788123456', 'RW', '+250788123456'],
    ['0788123456', 'rw', '+250788123456'],
    ['+14133881111', 'KE', '+14133881111'],
    [' +254711000111 ', 'KE', '+254711000111'],
    ['0711000111', undefined, null],
    ['0711000111', 'XX', null],
    ['hello', 'KE', null],
    ['', 'KE', null],
    ['12345', 'KE', null],
    ['+999999999', 'KE', null],
    ['*384*123#', 'KE', null],
    ['+2547110001112223334445556667778889990', 'KE', null],
    ['+254711000111; DROP TABLE', 'KE', null],
  ];
  it.each(table)('reads %j (default country %s) as %s', (raw, country, expected) => {
    expect(normalizePhone(raw, country)).toBe(expected);
  });

  it('returns null rather than throwing for values that are not strings', () => {
    for (const v of [undefined, null, 254711000111, ['+254711000111'], { n: 1 }])
      expect(normalizePhone(v, 'KE')).toBeNull();
  });

  it('always gives E.164 or null, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.stringMatching(/^\+?[0-9 -]{0,20}$/)),
        fc.constantFrom('KE', 'RW', 'TZ', 'US', undefined),
        (raw, country) => {
          const out = normalizePhone(raw, country);
          expect(out === null || /^\+[1-9]\d{5,16}$/.test(out)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is idempotent: a normalised number normalises to itself in any default country', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^07\d{8}$/), fc.constantFrom('KE', 'RW', 'UG', 'US'), (national, other) => {
        const e164 = normalizePhone(national, 'KE');
        if (e164 !== null) expect(normalizePhone(e164, other)).toBe(e164);
      }),
    );
  });
});

describe('maskPhone', () => {
  it.each([
    ['+254712345689', '+2547******89'],
    ['+250788123456', '+2507******56'],
    ['+14133881111', '+14*******11'],
  ])('masks %s as %s', (e164, masked) => {
    expect(maskPhone(e164)).toBe(masked);
  });

  it('never reveals more than the country code, one digit and the last two digits', () => {
    fc.assert(
      // Every 07… national number is a Kenyan mobile number, so each one is normalised and checked.
      fc.property(fc.stringMatching(/^07\d{8}$/), (national) => {
        const e164 = normalizePhone(national, 'KE');
        expect(e164).toBe(`+254${national.slice(1)}`);
        if (e164 === null) return;
        const masked = maskPhone(e164);
        expect(masked).toHaveLength(e164.length);
        expect(masked.slice(0, 5)).toBe(e164.slice(0, 5));
        expect(masked.slice(5, -2)).toMatch(/^\*+$/);
      }),
    );
  });

  it('hides strings that are not phone numbers except their last two characters', () => {
    expect(maskPhone('21512')).toBe('***12');
    expect(maskPhone('abc')).toBe('****');
    expect(maskPhone('not-a-number-at-all')).not.toContain('number');
  });
});
