import { describe, expect, it } from 'vitest';
import { STAFF_LOCALES } from '../../src/dhis2/deployment.ts';
import { SURVEILLANCE_TEXTS } from '../../src/dhis2/staff-texts.ts';

/** The texts DHIS2 staff read about AEFI cases and possible duplicates, in every staff language. */

const samples = (locale: (typeof STAFF_LOCALES)[number]) => {
  const t = SURVEILLANCE_TEXTS[locale];
  return {
    reporterCaregiver: t.reporterCaregiver({ via: 'SMS' }),
    reporterCaseWorker: t.reporterCaseWorker({ name: 'Zawadi Mwangi' }),
    batchUnattributed: t.batchUnattributed({ batch: 'LOT-4471' }),
    possibleDuplicate: t.possibleDuplicate({
      original: 'TeWemaKwl01',
      orgUnit: 'JbVilTwk001',
      reason: 'HTTP 403: no access',
      ref: 'ABC234',
    }),
  };
};

describe('surveillance texts for DHIS2 staff', () => {
  it.each(STAFF_LOCALES)('in %s carry every value they are given, and are translated', (locale) => {
    const s = samples(locale);
    expect(s.reporterCaregiver).toContain('SMS');
    expect(s.reporterCaseWorker).toContain('Zawadi Mwangi');
    expect(s.batchUnattributed).toContain('LOT-4471');
    for (const v of ['TeWemaKwl01', 'JbVilTwk001', 'HTTP 403: no access', 'ABC234'])
      expect(s.possibleDuplicate).toContain(v);
    for (const text of Object.values(s)) expect(text).not.toMatch(/undefined|\$\{/);
    if (locale !== 'en') {
      const en = samples('en');
      for (const key of Object.keys(s) as Array<keyof typeof s>) expect(s[key], key).not.toBe(en[key]);
    }
  });
});
