import { describe, expect, it } from 'vitest';
import { caregiverLocale } from '../../src/messaging/language.ts';

const LOCALES = ['en', 'fr', 'sw', 'rw', 'pt'];

describe('the language a caregiver is written to in', () => {
  it('is the DHIS2 attribute first, when the deployment maps one', () => {
    expect(caregiverLocale({ dhis2: 'sw', contact: 'fr', fallback: 'en' }, LOCALES)).toBe('sw');
  });

  it('reads region tags and case in the attribute (sw-KE, PT_br)', () => {
    expect(caregiverLocale({ dhis2: 'sw-KE', fallback: 'en' }, LOCALES)).toBe('sw');
    expect(caregiverLocale({ dhis2: 'PT_br', fallback: 'en' }, LOCALES)).toBe('pt');
  });

  it('is the language the caregiver chose when DHIS2 has none, or one Jibu cannot write', () => {
    expect(caregiverLocale({ contact: 'rw', fallback: 'en' }, LOCALES)).toBe('rw');
    expect(caregiverLocale({ dhis2: 'Klingon', contact: 'fr', fallback: 'en' }, LOCALES)).toBe('fr');
  });

  it('is the deployment default otherwise', () => {
    expect(caregiverLocale({ fallback: 'sw' }, LOCALES)).toBe('sw');
    expect(caregiverLocale({ dhis2: '', contact: 'xx', fallback: 'en' }, LOCALES)).toBe('en');
  });
});
