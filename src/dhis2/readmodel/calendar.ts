/**
 * Calendar dates (`YYYY-MM-DD`) as the programme sees them. DHIS2 timestamps carry no zone and are read
 * in the server time zone (docs/dhis2.md#dates-and-time-zones), so the date of an appointment is the first ten
 * characters of
 * `scheduledAt`, and "today" is the clock's date in the deployment time zone. Comparing instants instead
 * would call a visit scheduled for today "missed" from one minute past midnight.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})/;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/**
 * The calendar date of `at` in `timeZone`.
 *
 * @example dateIn('Africa/Nairobi', new Date('2025-03-02T21:30:00Z')) // '2025-03-03'
 */
export function dateIn(timeZone: string, at: Date): string {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(at)) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** `date` plus `days` calendar days. `addDays('2025-02-27', 2) === '2025-03-01'`. */
export function addDays(date: string, days: number): string {
  const m = DATE.exec(date);
  if (!m) throw new RangeError(`not a date: ${date}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days)).toISOString().slice(0, 10);
}

/**
 * `date` minus `months` calendar months, the day clamped to the month's end: the birth date of a child
 * exactly `months` old on `date`. `monthsBefore('2025-03-31', 1) === '2025-02-28'`.
 */
export function monthsBefore(date: string, months: number): string {
  const m = DATE.exec(date);
  if (!m) throw new RangeError(`not a date: ${date}`);
  const total = Number(m[1]) * 12 + Number(m[2]) - 1 - months;
  const year = Math.floor(total / 12);
  const month = total - year * 12;
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(Number(m[3]), last);
  return `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The date part of a DHIS2 timestamp (`2025-03-05T00:00:00.000` → `2025-03-05`), or undefined. */
export function datePart(timestamp: string | undefined): string | undefined {
  if (timestamp === undefined) return undefined;
  const m = DATE.exec(timestamp);
  return m ? m[0] : undefined;
}

/** A time zone Intl knows; anything else is refused early rather than producing wrong dates later. */
export function isTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}
