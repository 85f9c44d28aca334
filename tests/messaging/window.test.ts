import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInDeliveryWindow, localInstant, nextDeliveryTime } from '../../src/messaging/window.ts';
import { unsolicitedSmsJob } from '../../src/messaging/unsolicited.ts';

const WINDOW = { start: '08:00', end: '19:00' };
const NAIROBI = 'Africa/Nairobi'; // UTC+3, no daylight saving
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('quiet hours in the deployment time zone', () => {
  it('a message queued at 22:00 local leaves at 08:00 the next morning', () => {
    expect(iso(nextDeliveryTime(at('2025-03-03T19:00:00Z'), WINDOW, NAIROBI))).toBe('2025-03-04T05:00:00.000Z');
  });

  it('a message queued at 06:30 local waits for 08:00 the same morning', () => {
    expect(iso(nextDeliveryTime(at('2025-03-03T03:30:00Z'), WINDOW, NAIROBI))).toBe('2025-03-03T05:00:00.000Z');
  });

  it('a message queued inside the window leaves at once', () => {
    const noon = at('2025-03-03T09:00:00Z');
    expect(nextDeliveryTime(noon, WINDOW, NAIROBI)).toBe(noon);
  });

  it('the window opens at its start and is closed from its end (19:00 sharp waits for the morning)', () => {
    expect(isInDeliveryWindow(at('2025-03-03T05:00:00Z'), WINDOW, NAIROBI)).toBe(true);
    expect(isInDeliveryWindow(at('2025-03-03T04:59:59Z'), WINDOW, NAIROBI)).toBe(false);
    expect(isInDeliveryWindow(at('2025-03-03T16:00:00Z'), WINDOW, NAIROBI)).toBe(false);
    expect(iso(nextDeliveryTime(at('2025-03-03T16:00:00Z'), WINDOW, NAIROBI))).toBe('2025-03-04T05:00:00.000Z');
  });

  it('local midnight rolls over to the right day (23:30 on the last day of February)', () => {
    expect(iso(nextDeliveryTime(at('2025-02-28T20:30:00Z'), WINDOW, NAIROBI))).toBe('2025-03-01T05:00:00.000Z');
  });

  it('judges the window on the local clock of zones with daylight saving, on both sides of the change', () => {
    // Paris: 30 March 2025 clocks go from 02:00 to 03:00 (UTC+1 -> UTC+2).
    expect(iso(localInstant('2025-03-29', '08:00', 'Europe/Paris'))).toBe('2025-03-29T07:00:00.000Z');
    expect(iso(localInstant('2025-03-31', '08:00', 'Europe/Paris'))).toBe('2025-03-31T06:00:00.000Z');
    // 23:00 local on the night of the change waits for 08:00 summer time.
    expect(iso(nextDeliveryTime(at('2025-03-29T22:00:00Z'), WINDOW, 'Europe/Paris'))).toBe('2025-03-30T06:00:00.000Z');
  });

  it('for any instant and zone, the answer is not earlier, is inside the window, and is less than a day away', () => {
    const zones = [
      'Africa/Nairobi',
      'Africa/Kigali',
      'Africa/Maputo',
      'Europe/Paris',
      'America/Sao_Paulo',
      'UTC',
      'Asia/Kathmandu',
    ];
    const windows = [WINDOW, { start: '07:30', end: '20:15' }, { start: '00:00', end: '23:59' }];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2027, 0, 1) }),
        fc.constantFrom(...zones),
        fc.constantFrom(...windows),
        (t, tz, w) => {
          const next = nextDeliveryTime(t, w, tz);
          expect(next).toBeGreaterThanOrEqual(t);
          expect(isInDeliveryWindow(next, w, tz)).toBe(true);
          expect(next - t).toBeLessThan(25 * 3_600_000);
          if (isInDeliveryWindow(t, w, tz)) expect(next).toBe(t);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('unsolicited SMS jobs', () => {
  const quiet = { deliveryWindow: WINDOW, timeZone: NAIROBI };

  it('carry runAt = the next opening when queued at night, and are never replies', () => {
    const job = unsolicitedSmsJob(
      { id: 'sms:x', to: '+254700000001', text: 'Hi', locale: 'en', purpose: 'reminder' },
      at('2025-03-03T19:00:00Z'),
      quiet,
    );
    expect(job).toEqual({
      id: 'sms:x',
      queue: 'outbox-sms',
      name: 'sendSms',
      runAt: at('2025-03-04T05:00:00Z'),
      data: { to: '+254700000001', text: 'Hi', locale: 'en', reply: false, purpose: 'reminder' },
    });
  });

  it('have no runAt inside the window', () => {
    expect(
      unsolicitedSmsJob(
        { id: 'sms:y', to: '+254700000001', text: 'Hi', locale: 'en', purpose: 'digest' },
        at('2025-03-03T09:00:00Z'),
        quiet,
      ).runAt,
    ).toBeUndefined();
  });
});
