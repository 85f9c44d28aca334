import { describe, expect, it } from 'vitest';
import { STAFF_LOCALES } from '../../src/dhis2/deployment.ts';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  readStaffMessages,
  SHIPPED_LOCALES_DIR,
  staffMessage,
  SURVEILLANCE_TEXTS,
} from '../../src/dhis2/staff-texts.ts';

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

describe('staff texts come from locales/<lang>/staff.yaml', () => {
  it('every staff language has a staff.yaml with the same keys as English (the locale parity checks cover them)', async () => {
    const { readLocales } = await import('../../src/conversation/locales.ts');
    const { set } = await readLocales(SHIPPED_LOCALES_DIR, { defaultLocale: 'en' });
    const staffKeys = (l: string) =>
      [...(set.entries.get(l)?.keys() ?? [])].filter((k) => k.startsWith('staff.')).sort();
    expect(staffKeys('en').length).toBeGreaterThan(40);
    for (const l of STAFF_LOCALES) expect(staffKeys(l), l).toEqual(staffKeys('en'));
  });

  it('an edited staff.yaml changes what is written, and a text missing from it is refused loudly', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'jibu-staff-'));
    try {
      await cp(SHIPPED_LOCALES_DIR, dir, { recursive: true });
      const file = path.join(dir, 'fr', 'staff.yaml');
      const text = await readFile(file, 'utf8');
      await writeFile(
        file,
        text.replace(/reporterCaseWorker: .*/, "reporterCaseWorker: '{name}, relais communautaire'"),
      );
      const m = staffMessage('fr', readStaffMessages(dir));
      expect(m('surveillance.reporterCaseWorker', { name: 'Awa' })).toBe('Awa, relais communautaire');
      expect(() => m('surveillance.noSuchText')).toThrow(
        /locales\/fr\/staff.yaml has no text staff.surveillance.noSuchText/,
      );
      await rm(path.join(dir, 'pt', 'staff.yaml'));
      expect(() => readStaffMessages(dir)).toThrow(/staff.yaml/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
