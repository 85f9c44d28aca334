import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobOutcome, JobQueue, QueuedJob, RunningWorker } from '../../src/store/types.ts';
import { deferred, eventually } from './harness.ts';

/**
 * The one contract every JobQueue passes (memory and BullMQ). Each implementation runs it from its own
 * test file so the two run in parallel and each file stays fast.
 */
export function describeJobQueueContract(name: string, make: () => JobQueue | Promise<JobQueue>): void {
  const queues: JobQueue[] = [];
  const workers: RunningWorker[] = [];

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await Promise.all(queues.splice(0).map((q) => q.close()));
  });

  /** A DHIS2 write effect as the conversation runner commits it. */
  function dhis2Job(n: number, over: Partial<QueuedJob> = {}): QueuedJob {
    return {
      id: `dhis2:note:Zj7UnCAulEk:${n}`,
      queue: 'outbox-dhis2',
      name: 'dhis2Write',
      data: {
        event: 'Zj7UnCAulEk',
        program: 'SSLpOM0r1U7',
        programStage: 's53RFfXA75f',
        note: { note: 'UEBCzLpxx7s', value: `Caregiver confirmed via SMS (${n})` },
      },
      ...over,
    };
  }

  function smsJob(n: number, over: Partial<QueuedJob> = {}): QueuedJob {
    return {
      id: `sms:reminder:${n}`,
      queue: 'outbox-sms',
      name: 'sendSms',
      data: { to: `+2547000${String(n).padStart(5, '0')}`, text: 'Habari! Mtoto ana chanjo kesho.' },
      ...over,
    };
  }

  const ok: JobOutcome = { ok: true };

  /**
   * Wait until nothing is waiting, running or delayed on `queue`: every job added so far has been worked
   * (or dead-lettered), so "it did not run again" is now a fact, not a hope.
   */
  const settled = (q: JobQueue, queue: QueuedJob['queue']) =>
    eventually(
      () => q.counts(queue),
      (c) => c.waiting === 0 && c.active === 0 && c.delayed === 0,
    );

  describe(`JobQueue contract (${name})`, () => {
    async function subject(): Promise<JobQueue> {
      const q = await make();
      queues.push(q);
      return q;
    }
    function keep(w: RunningWorker): RunningWorker {
      workers.push(w);
      return w;
    }

    it('runs a job once even when its id is added again: waiting, in hand, or done', async () => {
      const q = await subject();
      const seen: string[] = [];
      const started = deferred();
      const gate = deferred();
      keep(
        q.process(
          'outbox-sms',
          async (job) => {
            seen.push(job.id);
            started.resolve();
            await gate.promise;
            return ok;
          },
          { concurrency: 2 },
        ),
      );
      await q.add([smsJob(1), smsJob(1)]);
      await q.add([smsJob(1)]);
      await started.promise;
      await q.add([smsJob(1)]);
      gate.resolve();
      await eventually(
        () => q.counts('outbox-sms'),
        (c) => c.active === 0 && c.waiting === 0,
      );
      await q.add([smsJob(1), smsJob(2)]);
      await eventually(
        () => seen.length,
        (n) => n >= 2,
      );
      await settled(q, 'outbox-sms');
      expect(seen).toEqual(['sms:reminder:1', 'sms:reminder:2']);
    });

    it('hands the handler the job as added, with attempt 1', async () => {
      const q = await subject();
      const got: Array<{ job: QueuedJob; attempt: number }> = [];
      keep(q.process('outbox-dhis2', async (job, attempt) => (got.push({ job, attempt }), ok)));
      await q.add([dhis2Job(1)]);
      await eventually(
        () => got.length,
        (n) => n === 1,
      );
      expect(got[0]!.attempt).toBe(1);
      expect(got[0]!.job).toMatchObject({
        id: 'dhis2:note:Zj7UnCAulEk:1',
        queue: 'outbox-dhis2',
        name: 'dhis2Write',
        data: dhis2Job(1).data,
      });
    });

    it('does not run a delayed job before its runAt', async () => {
      const q = await subject();
      const ranAt: number[] = [];
      keep(q.process('timers', async () => (ranAt.push(Date.now()), ok)));
      const runAt = Date.now() + 400;
      await q.add([
        { id: 'timer:reply-timeout:1', queue: 'timers', name: 'timer', data: { phone: '+254700000001' }, runAt },
      ]);
      expect(await q.counts('timers')).toMatchObject({ delayed: 1 });
      await eventually(
        () => ranAt.length,
        (n) => n === 1,
      );
      // When it ran, not whether a sleep caught it early: it ran once, and not before its time.
      expect(ranAt[0]!).toBeGreaterThanOrEqual(runAt - 2);
    });

    it('retries a transient failure with growing backoff, then dead-letters it', async () => {
      const q = await subject();
      const calls: Array<{ attempt: number; at: number }> = [];
      keep(
        q.process(
          'outbox-dhis2',
          async (_job, attempt) => {
            calls.push({ attempt, at: Date.now() });
            return { ok: false, permanent: false, error: 'DHIS2 answered 503 Service Unavailable' };
          },
          { attempts: 3, backoffMs: 60 },
        ),
      );
      await q.add([dhis2Job(1)]);
      const dead = await eventually(
        () => q.deadLetters('outbox-dhis2'),
        (d) => d.length === 1,
      );
      expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
      expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(55);
      expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(115);
      expect(dead[0]).toMatchObject({
        id: 'dhis2:note:Zj7UnCAulEk:1',
        queue: 'outbox-dhis2',
        name: 'dhis2Write',
        error: 'DHIS2 answered 503 Service Unavailable',
        attempts: 3,
      });
      expect(dead[0]!.data).toEqual(dhis2Job(1).data);
      expect(dead[0]!.failedAt).toBeGreaterThan(0);
      expect(await q.counts('outbox-dhis2')).toMatchObject({ failed: 1, waiting: 0, delayed: 0, active: 0 });
    });

    it('treats a thrown handler error as transient', async () => {
      const q = await subject();
      const attempts: number[] = [];
      keep(
        q.process(
          'outbox-sms',
          async (_job, attempt) => {
            attempts.push(attempt);
            if (attempt === 1) throw new Error('socket hang up');
            return ok;
          },
          { attempts: 3, backoffMs: 20 },
        ),
      );
      await q.add([smsJob(1)]);
      await eventually(
        () => attempts.length,
        (n) => n === 2,
      );
      await settled(q, 'outbox-sms');
      expect(attempts).toEqual([1, 2]);
      expect(await q.deadLetters('outbox-sms')).toEqual([]);
    });

    it('dead-letters a permanent failure at once, keeping the detail for the admin', async () => {
      const q = await subject();
      let calls = 0;
      const report = {
        status: 'ERROR',
        validationReport: {
          errorReports: [
            {
              message: 'Event: `Zj7UnCAulEk`, data values are not allowed on SCHEDULE events',
              errorCode: 'E1315',
              trackerType: 'EVENT',
              uid: 'Zj7UnCAulEk',
            },
          ],
        },
      };
      keep(
        q.process(
          'outbox-dhis2',
          async () => {
            calls += 1;
            return { ok: false, permanent: true, error: 'E1315', detail: report };
          },
          { attempts: 5, backoffMs: 10 },
        ),
      );
      await q.add([dhis2Job(7)]);
      const dead = await eventually(
        () => q.deadLetters('outbox-dhis2'),
        (d) => d.length === 1,
      );
      expect(calls).toBe(1);
      expect(dead[0]).toMatchObject({ id: 'dhis2:note:Zj7UnCAulEk:7', error: 'E1315', attempts: 1, detail: report });
    });

    it('retries a dead letter with fresh attempts, and refuses unknown ids', async () => {
      const q = await subject();
      let fixed = false;
      const attempts: number[] = [];
      keep(
        q.process(
          'outbox-dhis2',
          async (_job, attempt) => {
            attempts.push(attempt);
            return fixed ? ok : { ok: false, permanent: true, error: 'E1030: Event already exists' };
          },
          { attempts: 4 },
        ),
      );
      await q.add([dhis2Job(3)]);
      await eventually(
        () => q.deadLetters('outbox-dhis2'),
        (d) => d.length === 1,
      );
      fixed = true;
      expect(await q.retryDeadLetter('outbox-dhis2', 'dhis2:note:Zj7UnCAulEk:3')).toBe(true);
      await eventually(
        () => attempts.length,
        (n) => n === 2,
      );
      expect(attempts).toEqual([1, 1]);
      expect(
        await eventually(
          () => q.deadLetters('outbox-dhis2'),
          (d) => d.length === 0,
        ),
      ).toEqual([]);
      expect(await q.retryDeadLetter('outbox-dhis2', 'dhis2:note:Zj7UnCAulEk:3')).toBe(false);
      expect(await q.retryDeadLetter('outbox-dhis2', 'no-such-job')).toBe(false);
    });

    it('keeps a dead-lettered id: adding it again does not run it again', async () => {
      const q = await subject();
      let calls = 0;
      keep(
        q.process(
          'outbox-sms',
          async () => ((calls += 1), { ok: false, permanent: true, error: 'Rejected: InvalidPhoneNumber' }),
        ),
      );
      await q.add([smsJob(9)]);
      await eventually(
        () => q.deadLetters('outbox-sms'),
        (d) => d.length === 1,
      );
      await q.add([smsJob(9)]);
      await settled(q, 'outbox-sms');
      expect(calls).toBe(1);
    });

    it('runs no more jobs at once than its concurrency', async () => {
      const q = await subject();
      let inside = 0;
      let max = 0;
      let done = 0;
      keep(
        q.process(
          'outbox-sms',
          async () => {
            inside += 1;
            max = Math.max(max, inside);
            await sleep(60);
            inside -= 1;
            done += 1;
            return ok;
          },
          { concurrency: 3 },
        ),
      );
      await q.add(Array.from({ length: 9 }, (_, i) => smsJob(i)));
      await eventually(
        () => done,
        (n) => n === 9,
      );
      expect(max).toBeLessThanOrEqual(3);
      expect(max).toBeGreaterThan(1);
    });

    it('hands batches no larger than maxBatch and settles each job by its own outcome', async () => {
      const q = await subject();
      const batches: string[][] = [];
      keep(
        q.processBatch(
          'outbox-dhis2',
          async (jobs) => {
            batches.push(jobs.map((j) => j.id));
            return jobs.map((j): JobOutcome =>
              j.id.endsWith(':13')
                ? {
                    ok: false,
                    permanent: true,
                    error: 'E1050: Event scheduledAt is in the past',
                    detail: { uid: j.id },
                  }
                : ok,
            );
          },
          { maxBatch: 10, intervalMs: 50 },
        ),
      );
      await q.add(Array.from({ length: 25 }, (_, i) => dhis2Job(i)));
      await eventually(
        () => batches.flat().length,
        (n) => n >= 25,
      );
      await settled(q, 'outbox-dhis2');
      expect(batches.every((b) => b.length >= 1 && b.length <= 10)).toBe(true);
      const all = batches.flat();
      expect(all).toHaveLength(25);
      expect(new Set(all).size).toBe(25);
      const dead = await q.deadLetters('outbox-dhis2');
      expect(dead.map((d) => d.id)).toEqual(['dhis2:note:Zj7UnCAulEk:13']);
      expect(dead[0]!.detail).toEqual({ uid: 'dhis2:note:Zj7UnCAulEk:13' });
    });

    it('retries jobs of a batch whose handler threw, with backoff', async () => {
      const q = await subject();
      const seen: Array<{ ids: string[] }> = [];
      keep(
        q.processBatch(
          'outbox-dhis2',
          async (jobs) => {
            seen.push({ ids: jobs.map((j) => j.id) });
            if (seen.length === 1) throw new Error('connect ECONNREFUSED 10.0.0.12:8080');
            return jobs.map(() => ok);
          },
          { maxBatch: 50, intervalMs: 20, backoffMs: 30, attempts: 3 },
        ),
      );
      await q.add([dhis2Job(1), dhis2Job(2)]);
      await eventually(
        () => seen.flatMap((s) => s.ids).length,
        (n) => n >= 4,
      );
      await settled(q, 'outbox-dhis2');
      expect(seen.flatMap((s) => s.ids).sort()).toEqual([
        'dhis2:note:Zj7UnCAulEk:1',
        'dhis2:note:Zj7UnCAulEk:1',
        'dhis2:note:Zj7UnCAulEk:2',
        'dhis2:note:Zj7UnCAulEk:2',
      ]);
      expect(await q.deadLetters('outbox-dhis2')).toEqual([]);
    });

    it('honours the rate limit over a window', async () => {
      const q = await subject();
      let handled = 0;
      keep(q.process('outbox-sms', async () => ((handled += 1), ok), { concurrency: 10, ratePerSecond: 20 }));
      const started = Date.now();
      await q.add(Array.from({ length: 50 }, (_, i) => smsJob(i)));
      await eventually(
        () => handled,
        (n) => n === 50,
        15_000,
      );
      // At 20/s, 50 jobs need more than a second and a half even allowing a burst at each window edge;
      // without the limit they take milliseconds. A slow machine only makes this longer, never shorter.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    });

    it('close waits for the job in hand to finish', async () => {
      const q = await subject();
      const started = deferred();
      let finished = false;
      const w = q.process('outbox-sms', async () => {
        started.resolve();
        await sleep(250);
        finished = true;
        return ok;
      });
      await q.add([smsJob(1)]);
      await started.promise;
      await w.close();
      expect(finished).toBe(true);
      expect(await q.counts('outbox-sms')).toMatchObject({ active: 0, waiting: 0 });
    });

    it('close of a batch worker waits for the batch in hand', async () => {
      const q = await subject();
      const started = deferred();
      let finished = false;
      const w = q.processBatch(
        'outbox-dhis2',
        async (jobs) => {
          started.resolve();
          await sleep(250);
          finished = true;
          return jobs.map(() => ok);
        },
        { maxBatch: 5, intervalMs: 20 },
      );
      await q.add([dhis2Job(1)]);
      await started.promise;
      await w.close();
      expect(finished).toBe(true);
      expect(await q.counts('outbox-dhis2')).toMatchObject({ active: 0, waiting: 0 });
    });

    it('removes a waiting or delayed job so it never runs', async () => {
      const q = await subject();
      const seen: string[] = [];
      await q.add([
        { id: 'timer:a', queue: 'timers', name: 'timer', data: {}, runAt: Date.now() + 200 },
        { id: 'timer:b', queue: 'timers', name: 'timer', data: {} },
        { id: 'timer:c', queue: 'timers', name: 'timer', data: {} },
      ]);
      expect(await q.counts('timers')).toEqual({ waiting: 2, delayed: 1, active: 0, failed: 0 });
      await q.remove('timers', 'timer:a');
      await q.remove('timers', 'timer:b');
      await q.remove('timers', 'timer:unknown');
      keep(q.process('timers', async (job) => (seen.push(job.id), ok)));
      // Due after timer:a would have been: once it has run, timer:a had its chance.
      await q.add([{ id: 'timer:d', queue: 'timers', name: 'timer', data: {}, runAt: Date.now() + 300 }]);
      await eventually(
        () => seen.includes('timer:d'),
        (done) => done,
      );
      expect(seen).toEqual(['timer:c', 'timer:d']);
    });

    it('a scheduler runs its job every interval, once per tick however often it is upserted', async () => {
      const q = await subject();
      const seen: QueuedJob[] = [];
      keep(q.process('jobs', async (job) => (seen.push(job), ok)));
      const template = { name: 'reminders', data: { rule: '2d' } };
      await q.schedule('jobs', 'reminders', { every: 300 }, template);
      await q.schedule('jobs', 'reminders', { every: 300 }, template);
      await eventually(
        () => seen.length,
        (n) => n >= 3,
      );
      expect(await q.unschedule('jobs', 'reminders')).toBe(true);
      expect(await q.unschedule('jobs', 'reminders')).toBe(false);
      const count = seen.length;
      expect(seen.every((j) => /^repeat:reminders:\d+$/.test(j.id) && j.name === 'reminders')).toBe(true);
      expect(seen[0]!.data).toEqual({ rule: '2d' });
      // One job per tick: ids (the tick's time) never repeat and lie at least one interval apart, so the
      // second upsert did not add a second scheduler.
      const ticks = seen.map((j) => Number(j.id.split(':').pop())).sort((x, y) => x - y);
      expect(new Set(ticks).size).toBe(ticks.length);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBeGreaterThanOrEqual(300);
      // Unscheduled: a job due after the next tick runs, and at most the one tick already queued ran too.
      await q.add([{ id: 'marker', queue: 'jobs', name: 'marker', data: {}, runAt: Date.now() + 600 }]);
      await eventually(
        () => seen.some((j) => j.id === 'marker'),
        (done) => done,
      );
      expect(seen.filter((j) => j.id !== 'marker').length).toBeLessThanOrEqual(count + 1);
    });

    it('refuses scheduler ids that would break job ids', async () => {
      const q = await subject();
      await expect(q.schedule('jobs', 'bad:id', { every: 1_000 }, { name: 'x' })).rejects.toThrow(RangeError);
    });
  });
}
