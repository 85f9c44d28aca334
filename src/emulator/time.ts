/**
 * Server-local time for the emulator. DHIS2 writes timestamps without a zone, in the server's time zone
 * (`yyyy-MM-dd'T'HH:mm:ss.SSS`, docs/dhis2.md#dates-and-time-zones), and reads zone-less input the same way. Instants
 * are
 * kept as epoch milliseconds; this module converts at the edges.
 */

const HOUR = 3_600_000;
export const DAY = 86_400_000;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export class ServerTime {
  readonly timeZone: string;
  private readonly parts: Intl.DateTimeFormat;
  // Offsets change at most a few times a year: cache them per hour so listing 100 000 events stays cheap.
  private readonly offsets = new Map<number, number>();

  constructor(timeZone: string) {
    this.timeZone = timeZone;
    this.parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** Milliseconds to add to UTC to get local wall time at instant `ms`. */
  offset(ms: number): number {
    const key = Math.floor(ms / HOUR);
    let off = this.offsets.get(key);
    if (off === undefined) {
      const p: Record<string, number> = {};
      for (const part of this.parts.formatToParts(new Date(key * HOUR)))
        if (part.type !== 'literal') p[part.type] = Number(part.value);
      off = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - key * HOUR;
      if (this.offsets.size > 10_000) this.offsets.clear();
      this.offsets.set(key, off);
    }
    return off;
  }

  /** `2024-06-01T09:30:00.000`: DHIS2's zone-less output. */
  format(ms: number): string {
    const d = new Date(ms + this.offset(ms));
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
  }

  /** The local calendar date of an instant, `YYYY-MM-DD`. */
  dateOf(ms: number): string {
    const d = new Date(ms + this.offset(ms));
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  }

  /** The instant of a local wall-clock time given as if it were UTC. */
  fromLocal(wallMs: number): number {
    const guess = wallMs - this.offset(wallMs);
    return wallMs - this.offset(guess);
  }

  /** Local midnight starting `date` (`YYYY-MM-DD`). */
  startOfDay(date: string): number {
    const [y, m, d] = date.split('-').map(Number);
    return this.fromLocal(Date.UTC(y!, m! - 1, d!));
  }

  /** `date` plus `days` calendar days, as `YYYY-MM-DD`. */
  static addDays(date: string, days: number): string {
    const [y, m, d] = date.split('-').map(Number);
    return new Date(Date.UTC(y!, m! - 1, d! + days)).toISOString().slice(0, 10);
  }

  /**
   * Read a date the way DHIS2 accepts one: `YYYY-MM-DD`, a date-time with or without millis and with or
   * without an offset, or epoch milliseconds. Returns the instant and whether only a date was given.
   */
  parse(input: string): { ms: number; dateOnly: boolean } | null {
    const s = input.trim();
    if (/^\d{9,}$/.test(s)) return { ms: Number(s), dateOnly: false };
    const m =
      /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/.exec(
        s,
      );
    if (!m) return null;
    const [, y, mo, d, h, mi, sec, frac, zone] = m;
    const month = Number(mo);
    const day = Number(d);
    if (month < 1 || month > 12 || day < 1 || day > 31) return null;
    const wall = Date.UTC(
      Number(y),
      month - 1,
      day,
      Number(h ?? 0),
      Number(mi ?? 0),
      Number(sec ?? 0),
      frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0,
    );
    // Reject 2024-02-31 and friends instead of rolling over into March.
    if (new Date(wall).getUTCDate() !== day) return null;
    if (zone === undefined) return { ms: this.fromLocal(wall), dateOnly: h === undefined };
    if (zone === 'Z') return { ms: wall, dateOnly: false };
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0)) * 60_000;
    return { ms: wall - offset, dateOnly: false };
  }
}
