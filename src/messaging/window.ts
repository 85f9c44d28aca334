/**
 * Quiet hours: unsolicited messages (reminders, missed-visit messages, digests, DHIS2 notifications) leave
 * only inside the deployment's delivery window, judged on the wall clock of the deployment time zone.
 * Pure: an instant and the rules in, an instant out.
 */

/** Local hours (`HH:MM`, 24-hour) in which unsolicited messages may leave; `start` before `end`. */
export interface DeliveryWindow {
  start: string;
  end: string;
}

interface LocalTime {
  date: string;
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function parts(at: number, timeZone: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at)) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return out;
}

function minutesOf(hhmm: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!m) throw new RangeError(`not a time of day: ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

function localTime(at: number, timeZone: string): LocalTime {
  const p = parts(at, timeZone);
  const pad = (n: number | undefined) => String(n ?? 0).padStart(2, '0');
  return { date: `${p.year}-${pad(p.month)}-${pad(p.day)}`, minutes: (p.hour ?? 0) * 60 + (p.minute ?? 0) };
}

/** Milliseconds the zone is ahead of UTC at `at`. */
function offsetAt(at: number, timeZone: string): number {
  const p = parts(at, timeZone);
  const asUtc = Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0);
  return asUtc - (at - (at % 1000));
}

/**
 * The instant a local wall-clock time happens in `timeZone`. In a daylight-saving gap the time does not
 * exist and the instant just after the gap is returned; in an overlap, the earlier one.
 *
 * @example localInstant('2025-03-03', '08:00', 'Africa/Nairobi') // Date.parse('2025-03-03T05:00:00Z')
 */
export function localInstant(date: string, hhmm: string, timeZone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new RangeError(`not a date: ${date}`);
  const minutes = minutesOf(hhmm);
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Math.floor(minutes / 60), minutes % 60);
  // Two passes settle the offset on either side of a transition.
  let guess = wall - offsetAt(wall, timeZone);
  guess = wall - offsetAt(guess, timeZone);
  return guess;
}

function nextDate(date: string): string {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, mo - 1, d + 1)).toISOString().slice(0, 10);
}

/**
 * True when `at` falls inside the window (start inclusive, end exclusive) on the local clock.
 *
 * @example isInDeliveryWindow(Date.parse('2025-03-03T19:30:00Z'), { start: '08:00', end: '19:00' }, 'Africa/Nairobi') // false: 22:30 local
 */
export function isInDeliveryWindow(at: number, window: DeliveryWindow, timeZone: string): boolean {
  const { minutes } = localTime(at, timeZone);
  return minutes >= minutesOf(window.start) && minutes < minutesOf(window.end);
}

/**
 * When an unsolicited message queued at `at` may leave: `at` itself inside the window, otherwise the
 * start of the next window (later today before the window opens, tomorrow after it closed).
 *
 * @example
 * // 22:00 in Nairobi (19:00Z) waits for 08:00 the next morning (05:00Z)
 * nextDeliveryTime(Date.parse('2025-03-03T19:00:00Z'), { start: '08:00', end: '19:00' }, 'Africa/Nairobi') // Date.parse('2025-03-04T05:00:00Z')
 */
export function nextDeliveryTime(at: number, window: DeliveryWindow, timeZone: string): number {
  const local = localTime(at, timeZone);
  const start = minutesOf(window.start);
  if (local.minutes >= start && local.minutes < minutesOf(window.end)) return at;
  const day = local.minutes < start ? local.date : nextDate(local.date);
  const opens = localInstant(day, window.start, timeZone);
  // A daylight-saving jump can put the computed opening a moment before `at`; never go back in time.
  return Math.max(opens, at);
}
