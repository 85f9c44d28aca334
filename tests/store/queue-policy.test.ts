import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBullId, toBullId } from '../../src/store/bullmq-queue.ts';
import { backoffDelayMs, decideRetry, limiterFor, outcomesFor } from '../../src/store/queue-policy.ts';

describe('retry policy', () => {
  it('doubles the backoff per attempt from the base', () => {
    expect([1, 2, 3, 4].map((a) => backoffDelayMs(a, { backoffMs: 1_000 }))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it('never exceeds the cap unless the server asked for longer, and never undercuts the server', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.option(fc.integer({ min: 0, max: 3_600_000 })),
        (attempt, base, cap, retryAfter) => {
          const d = backoffDelayMs(attempt, { backoffMs: base, maxBackoffMs: cap }, retryAfter ?? undefined);
          expect(d).toBeLessThanOrEqual(Math.max(cap, retryAfter ?? 0));
          expect(d).toBeGreaterThanOrEqual(retryAfter ?? 0);
          expect(d).toBeGreaterThanOrEqual(Math.min(base, cap));
        },
      ),
    );
  });

  it('completes on success, retries transient failures until the last attempt, dead-letters permanent ones at once', () => {
    expect(decideRetry({ ok: true }, 1)).toEqual({ action: 'complete' });
    expect(decideRetry({ ok: false, permanent: false, error: 'timeout' }, 1, { attempts: 3, backoffMs: 10 })).toEqual({
      action: 'retry',
      delayMs: 10,
    });
    expect(decideRetry({ ok: false, permanent: false, error: 'timeout' }, 3, { attempts: 3 })).toEqual({
      action: 'dead',
      error: 'timeout',
    });
    expect(
      decideRetry({ ok: false, permanent: true, error: 'E1315', detail: { uid: 'x' } }, 1, { attempts: 8 }),
    ).toEqual({ action: 'dead', error: 'E1315', detail: { uid: 'x' } });
  });

  it('defaults to eight attempts', () => {
    const fail = { ok: false as const, permanent: false, error: 'x' };
    expect(decideRetry(fail, 7).action).toBe('retry');
    expect(decideRetry(fail, 8).action).toBe('dead');
  });

  it('turns a rate per second into a BullMQ window', () => {
    expect(limiterFor(10)).toEqual({ max: 10, duration: 1_000 });
    expect(limiterFor(0.5)).toEqual({ max: 1, duration: 2_000 });
    expect(() => limiterFor(0)).toThrow(RangeError);
  });

  it('fails every job of a batch whose handler broke its promise of one outcome per job', () => {
    expect(outcomesFor(2, [{ ok: true }])).toEqual([
      { ok: false, permanent: false, error: 'batch handler returned 1 outcomes for 2 jobs' },
      { ok: false, permanent: false, error: 'batch handler returned 1 outcomes for 2 jobs' },
    ]);
    expect(outcomesFor(1, [{ ok: true }])).toEqual([{ ok: true }]);
  });
});

describe('BullMQ job id encoding', () => {
  it('round-trips any id and never yields a colon or a bare integer', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (id) => {
        const b = toBullId(id);
        expect(b).not.toContain(':');
        expect(String(Number.parseInt(b, 10))).not.toBe(b);
        expect(fromBullId(b)).toBe(id);
      }),
    );
  });

  it('passes BullMQ scheduler ids through untouched', () => {
    expect(fromBullId('repeat:reminders:1741000000000')).toBe('repeat:reminders:1741000000000');
  });
});
