import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import type { MemoryJobQueue } from '../../src/store/memory-queue.ts';
import type { JobOutcome, QueuedJob } from '../../src/store/types.ts';
import { eventually } from './harness.ts';

/** These run the memory queue on a test clock: time-based decisions move only when the test says so. */

const ok: JobOutcome = { ok: true };
const open: MemoryJobQueue[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.close()));
});

function subject(start = '2025-03-03T07:00:00Z') {
  const clock = fixedClock(start);
  const queue = createMemoryJobQueue({ clock, pollMs: 10 });
  open.push(queue);
  return { clock, queue };
}

const timer = (id: string, runAt?: number): QueuedJob => ({
  id,
  queue: 'timers',
  name: 'timer',
  data: { phone: '+254700000001' },
  ...(runAt === undefined ? {} : { runAt }),
});

describe('memory queue on a test clock', () => {
  it('a delayed job waits for the clock, not for the wall', async () => {
    const { clock, queue } = subject();
    const seen: string[] = [];
    queue.process('timers', async (j) => (seen.push(j.id), ok));
    await queue.add([timer('reply-timeout', clock.now().getTime() + 3 * 60_000)]);
    queue.poll(); // a look at the queue on the current clock: what is due has now been handed out
    expect(seen).toEqual([]);
    expect(await queue.counts('timers')).toMatchObject({ delayed: 1 });
    clock.advance(3 * 60_000);
    await eventually(
      () => seen.length,
      (n) => n === 1,
    );
    expect(seen).toEqual(['reply-timeout']);
  });

  it('backoff is judged by the clock', async () => {
    const { clock, queue } = subject();
    const attempts: number[] = [];
    queue.process(
      'outbox-dhis2',
      async (_j, attempt) => {
        attempts.push(attempt);
        return attempt === 1 ? { ok: false, permanent: false, error: 'HTTP 502', retryAfterMs: 90_000 } : ok;
      },
      { backoffMs: 60_000 },
    );
    await queue.add([{ id: 'w1', queue: 'outbox-dhis2', name: 'dhis2Write', data: {} }]);
    await eventually(
      () => attempts.length,
      (n) => n === 1,
    );
    clock.advance(60_000);
    queue.poll();
    // The server asked for 90 s, more than our 60 s backoff: it wins.
    expect(attempts).toEqual([1]);
    expect(await queue.counts('outbox-dhis2')).toMatchObject({ delayed: 1 });
    clock.advance(30_000);
    await eventually(
      () => attempts.length,
      (n) => n === 2,
    );
    expect(await queue.counts('outbox-dhis2')).toEqual({ waiting: 0, delayed: 0, active: 0, failed: 0 });
  });

  it('forgets a finished id after 48 hours, not before', async () => {
    const { clock, queue } = subject();
    const seen: string[] = [];
    queue.process('outbox-sms', async (j) => (seen.push(j.id), ok));
    const job: QueuedJob = { id: 'sms-1', queue: 'outbox-sms', name: 'sendSms', data: {} };
    await queue.add([job]);
    await eventually(
      () => seen.length,
      (n) => n === 1,
    );
    clock.advance(47 * 3_600_000);
    await queue.add([job]);
    queue.poll();
    expect(seen).toHaveLength(1);
    clock.advance(3_600_000);
    await queue.add([job]);
    await eventually(
      () => seen.length,
      (n) => n === 2,
    );
  });

  it('the token bucket refills with the clock', async () => {
    const { clock, queue } = subject();
    let handled = 0;
    queue.process('outbox-sms', async () => ((handled += 1), ok), { concurrency: 5, ratePerSecond: 2 });
    await queue.add(
      Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, queue: 'outbox-sms' as const, name: 'sendSms', data: {} })),
    );
    queue.poll();
    expect(handled).toBe(2);
    clock.advance(1_000);
    await eventually(
      () => handled,
      (n) => n === 4,
    );
    queue.poll();
    expect(handled).toBe(4);
  });

  it('a batch takes no more jobs than the rate allows', async () => {
    const { clock, queue } = subject();
    const sizes: number[] = [];
    queue.processBatch('outbox-dhis2', async (jobs) => (sizes.push(jobs.length), jobs.map(() => ok)), {
      maxBatch: 50,
      intervalMs: 10,
      ratePerSecond: 5,
    });
    await queue.add(
      Array.from({ length: 12 }, (_, i) => ({
        id: `d${i}`,
        queue: 'outbox-dhis2' as const,
        name: 'dhis2Write',
        data: {},
      })),
    );
    await eventually(
      () => sizes.length,
      (n) => n === 1,
    );
    queue.poll();
    expect(sizes).toEqual([5]);
    const total = () => sizes.reduce((a, b) => a + b, 0);
    clock.advance(1_000);
    await eventually(total, (n) => n === 10);
    clock.advance(1_000);
    await eventually(total, (n) => n === 12);
    expect(sizes).toEqual([5, 5, 2]);
  });

  it('a cron scheduler fires at the next match in its time zone, once per missed stretch', async () => {
    // 05:00 in Nairobi (UTC+3).
    const { clock, queue } = subject('2025-03-03T02:00:00Z');
    const seen: string[] = [];
    queue.process('jobs', async (j) => (seen.push(j.id), ok));
    await queue.schedule(
      'jobs',
      'missed-appointments',
      { pattern: '0 6 * * *', tz: 'Africa/Nairobi' },
      { name: 'missed-appointments', data: {} },
    );
    queue.poll();
    expect(seen).toEqual([]);
    clock.set('2025-03-03T03:00:00Z');
    await eventually(
      () => seen.length,
      (n) => n === 1,
    );
    expect(seen[0]).toBe(`repeat:missed-appointments:${Date.parse('2025-03-03T03:00:00Z')}`);
    // The process slept three days: one catch-up run, then the regular schedule.
    clock.set('2025-03-06T12:00:00Z');
    await eventually(
      () => seen.length,
      (n) => n === 2,
    );
    queue.poll();
    expect(seen).toHaveLength(2);
    clock.set('2025-03-07T03:00:00Z');
    await eventually(
      () => seen.length,
      (n) => n === 3,
    );
    expect(seen[2]).toBe(`repeat:missed-appointments:${Date.parse('2025-03-07T03:00:00Z')}`);
  });

  it('re-upserting an unchanged scheduler keeps its timing; unschedule stops it', async () => {
    const { clock, queue } = subject();
    const seen: string[] = [];
    queue.process('jobs', async (j) => (seen.push(j.id), ok));
    await queue.schedule('jobs', 'sync', { every: 15 * 60_000 }, { name: 'sync' });
    await eventually(
      () => seen.length,
      (n) => n === 1,
    );
    await queue.schedule('jobs', 'sync', { every: 15 * 60_000 }, { name: 'sync', data: { full: false } });
    queue.poll();
    expect(seen).toHaveLength(1);
    clock.advance(15 * 60_000);
    await eventually(
      () => seen.length,
      (n) => n === 2,
    );
    expect(await queue.unschedule('jobs', 'sync')).toBe(true);
    clock.advance(15 * 60_000);
    queue.poll();
    expect(seen).toHaveLength(2);
  });

  it('a job in hand cannot be removed (like a locked BullMQ job)', async () => {
    const { queue } = subject();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let runs = 0;
    queue.process('timers', async () => {
      runs += 1;
      await gate;
      return ok;
    });
    await queue.add([timer('t1')]);
    await eventually(
      () => runs,
      (n) => n === 1,
    );
    queue.removeNow('timers', 't1');
    expect(await queue.counts('timers')).toMatchObject({ active: 1 });
    release();
    await eventually(
      () => queue.counts('timers'),
      (c) => c.active === 0,
    );
    expect(runs).toBe(1);
  });

  it('refuses work after close', async () => {
    const { queue } = subject();
    await queue.close();
    await expect(queue.add([timer('late')])).rejects.toMatchObject({ code: 'JIBU_NOT_READY' });
  });

  it('a batch handler that returns the wrong number of outcomes fails the whole batch transiently', async () => {
    const { clock, queue } = subject();
    const calls: number[] = [];
    queue.processBatch(
      'outbox-dhis2',
      async (jobs) => {
        calls.push(jobs.length);
        return calls.length === 1 ? [ok] : jobs.map(() => ok);
      },
      { maxBatch: 10, intervalMs: 10, backoffMs: 1_000 },
    );
    await queue.add(
      [1, 2, 3].map((i) => ({ id: `n${i}`, queue: 'outbox-dhis2' as const, name: 'dhis2Write', data: {} })),
    );
    await eventually(
      () => calls.length,
      (n) => n === 1,
    );
    expect(await queue.counts('outbox-dhis2')).toMatchObject({ delayed: 3 });
    clock.advance(1_000);
    await eventually(
      () => calls.length,
      (n) => n === 2,
    );
    expect(calls).toEqual([3, 3]);
  });
});
