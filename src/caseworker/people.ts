/**
 * Small pure helpers about people and places a case worker deals with: scope by org unit path, names
 * as a USSD screen can hold them, ages and delays, and the "could this be the same child" test.
 */

/**
 * Whether an org unit path (`/Country/District/Facility/Village`) lies inside one of the worker's org
 * units. Judged on the path held by trusted data, never on ids a conversation carried.
 *
 * @example inScope('/JbKenya0001/JbDstKlf001/JbFacMtw001/JbVilKdt001', ['JbFacMtw001']) // true
 */
export function inScope(path: string | undefined, orgUnits: readonly string[]): boolean {
  if (!path) return false;
  const ids = path.split('/').filter(Boolean);
  return orgUnits.some((ou) => ids.includes(ou));
}

/** A name cut to fit a screen line, with no trailing space. */
export function clipName(name: string, max = 22): string {
  const clean = name.replace(/\s+/g, ' ').replace(/[*#]/g, '').trim();
  return clean.length <= max ? clean : `${clean.slice(0, max - 1).trimEnd()}.`;
}

const dayMs = 86_400_000;
const utc = (d: string) => Date.parse(`${d}T00:00:00Z`);

/** Whole days from `from` to `to` (`YYYY-MM-DD`), negative when `to` is earlier. */
export function daysFrom(from: string, to: string): number {
  return Math.round((utc(to) - utc(from)) / dayMs);
}

/** Age in whole months on `today` (0 for a newborn; undefined without a date of birth). */
export function ageInMonths(dateOfBirth: string | undefined, today: string): number | undefined {
  if (!dateOfBirth || !/^\d{4}-\d{2}-\d{2}$/.test(dateOfBirth)) return undefined;
  const [by, bm, bd] = dateOfBirth.split('-').map(Number) as [number, number, number];
  const [ty, tm, td] = today.split('-').map(Number) as [number, number, number];
  const months = (ty - by) * 12 + (tm - bm) - (td < bd ? 1 : 0);
  return Math.max(0, months);
}

/** Lower-case letters only, accents folded: `Amína-Salim` -> `amina salim`. */
export function normalizeName(name: string): string {
  return name
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z\s]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Whether two names could be the same person as a field worker types them: some word of one is equal
 * to, a prefix of (3 letters or more), or one or two typing slips from a word of the other.
 *
 * @example similarNames('Amina', 'AMINAH Salim') // true
 */
export function similarNames(a: string, b: string): boolean {
  const wa = normalizeName(a).split(' ').filter(Boolean);
  const wb = normalizeName(b).split(' ').filter(Boolean);
  for (const x of wa) {
    for (const y of wb) {
      if (x === y) return true;
      const [short, long] = x.length <= y.length ? [x, y] : [y, x];
      if (short.length >= 3 && long.startsWith(short)) return true;
      if (short.length >= 4 && levenshtein(x, y) <= (short.length >= 7 ? 2 : 1)) return true;
    }
  }
  return false;
}

/** Whether `query` finds `name`: every typed word starts some word of the name (`ami sal` finds `Amina Salim`). */
export function nameMatches(query: string, name: string): boolean {
  const q = normalizeName(query).split(' ').filter(Boolean);
  const words = normalizeName(name).split(' ').filter(Boolean);
  return q.length > 0 && q.every((w) => words.some((x) => x.startsWith(w)));
}
