/**
 * Which language a caregiver is written to in: what DHIS2 says (the programme's preferred-language
 * attribute, when the deployment maps one), else the language they chose themselves (LANG keyword,
 * stored on the contact), else the deployment default. A value Jibu has no translations for is skipped,
 * so a stray attribute value (`English`, `sw-KE`) never leaves a caregiver without a message.
 */

export interface LanguageSources {
  /** The DHIS2 attribute value, as stored (`sw`, `SW`, `sw-KE`, `Kiswahili`…). */
  dhis2?: string;
  /** The contact's chosen locale (`contact:{phone}`). */
  contact?: string;
  /** `DEFAULT_LOCALE`. */
  fallback: string;
}

function match(value: string | undefined, available: readonly string[]): string | undefined {
  const v = value?.trim().toLowerCase();
  if (!v) return undefined;
  if (available.includes(v)) return v;
  // `sw-KE`, `pt_BR`: the language part is what the locale folders are named after.
  const base = v.split(/[-_]/)[0] ?? '';
  return available.includes(base) ? base : undefined;
}

/**
 * The locale to write in, among `available` (the locale folders that loaded).
 *
 * @example caregiverLocale({ dhis2: 'sw-KE', contact: 'en', fallback: 'en' }, ['en', 'sw']) // 'sw'
 * @example caregiverLocale({ dhis2: 'Klingon', contact: 'fr', fallback: 'en' }, ['en', 'fr']) // 'fr'
 */
export function caregiverLocale(sources: LanguageSources, available: readonly string[]): string {
  return (
    match(sources.dhis2, available) ??
    match(sources.contact, available) ??
    match(sources.fallback, available) ??
    sources.fallback
  );
}
