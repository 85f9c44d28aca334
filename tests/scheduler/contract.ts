import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { getDefaultersFor } from '../../src/dhis2/readmodel/read.ts';
import { createJobs, startScheduler, type RunningScheduler } from '../../src/scheduler/index.ts';
import { createStoreAndQueue } from '../../src/store/index.ts';
import { createBullmqJobQueue } from '../../src/store/bullmq-queue.ts';
import { TEST_REDIS_URL, eventually } from '../store/harness.ts';
import { createWorld, defaultersOf, DEMO, MONDAY_10AM, openOn, type Kind, type World } from './world.ts';

const MWANAISHA = DEMO.caregivers.twoChildrenDueInTwoDays.phone;
const GRACE = DEMO.caregivers.oneChildDueInTwoDays.phone;
const FATUMA = DEMO.caregivers.missedYesterday.phone;
const WEDNESDAY = '2025-03-05';
/** A phone outside the demo data, for a marker message that proves the relay ran. */
const MARKER = '+254799000001';

const countBy = <T>(xs: T[], key: (x: T) => string) =>
  xs.reduce((m, x) => m.set(key(x), (m.get(key(x)) ?? 0) + 1), new Map<string, number>());

/** Worlds made by a test are closed after it, with whatever it started. */
function useWorlds(kind: Kind, file: string) {
  const worlds: World[] = [];
  const stoppers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const s of stoppers.splice(0).reverse()) await s();
    for (const w of worlds.splice(0)) await w.close();
  });
  const world = async (opts?: Parameters<typeof createWorld>[2]) => {
    const w = await createWorld(kind, file, opts);
    worlds.push(w);
    return w;
  };
  return { world, stoppers };
}

/** Reminders' acceptance, against the emulator and one kind of store and queue. */
export function remindersContract(kind: Kind, file: string): void {
  const { world, stoppers } = useWorlds(kind, file);

  describe(`reminders (${kind})`, () => {
    it('send exactly one message per caregiver with a child due in 2 days, none to opted-out numbers or for completed, moved or deleted visits, and nothing more when run again', async () => {
      const w = await world();
      await w.sync('full');
      const due = openOn(w.emulator, WEDNESDAY);
      const perPhone = countBy(due, (a) => a.phone);
      const singles = due.filter((a) => perPhone.get(a.phone) === 1 && a.phone.startsWith(DEMO.generatedPhonePrefix));
      expect(singles.length).toBeGreaterThanOrEqual(3);
      const [done, moved, gone] = singles as [(typeof due)[0], (typeof due)[0], (typeof due)[0]];
      done.event.status = 'COMPLETED';
      done.event.occurredAt = w.clock.now().getTime();
      done.event.completedAt = w.clock.now().getTime();
      moved.event.scheduledAt = w.emulator.time.startOfDay('2025-03-12');
      gone.event.deleted = true;
      w.emulator.state.touch();
      await w.store.setContact(GRACE, { optedOut: true });

      const expected = [...new Set(openOn(w.emulator, WEDNESDAY).map((a) => a.phone))]
        .filter((p) => p !== GRACE)
        .sort();
      expect(expected).toContain(MWANAISHA);
      w.startSmsRelay();
      const report = await w.jobs.reminders('2025-03-03');
      const rule = report.rules![0]!;
      expect(report).toMatchObject({ job: 'reminders', date: '2025-03-03', ok: true, errors: [] });
      expect(rule).toMatchObject({
        kind: 'reminder',
        rule: 'd2',
        appointmentDate: WEDNESDAY,
        caregivers: expected.length,
        optedOut: 1,
        duplicates: 0,
        busy: 0,
        noPhone: 0,
      });
      expect(rule.children).toBe(openOn(w.emulator, WEDNESDAY).length - 1);

      await eventually(
        () => w.sent.length,
        (n) => n >= expected.length,
      );
      await w.settled();
      expect(w.sent.map((s) => s.to).sort()).toEqual(expected);
      for (const a of [done, moved, gone]) expect(w.sent.some((s) => s.to === a.phone)).toBe(false);
      const mwanaisha = w.sent.find((s) => s.to === MWANAISHA)!.text;
      // The wording is the caregiver flow's; what matters here is one message naming both children.
      expect(mwanaisha).toMatch(/Which child\?\n1\. Amina 05\/03\/2025\n2\. Juma 05\/03\/2025$/);

      const again = await w.jobs.reminders('2025-03-03');
      expect(again.rules![0]).toMatchObject({ caregivers: 0, children: 0, alreadyDone: rule.events - 1, optedOut: 1 });
      await w.settled();
      expect(w.sent).toHaveLength(expected.length);
    });

    it('two replicas running the same day at the same moment still send each caregiver one message', async () => {
      const w = await world();
      await w.sync('full');
      const expected = [...new Set(openOn(w.emulator, WEDNESDAY).map((a) => a.phone))].sort();
      // A second replica: its own connections to the same Redis (or, in memory, the same process state).
      const other =
        kind === 'redis'
          ? await createStoreAndQueue({ redisUrl: TEST_REDIS_URL, clock: w.clock, prefix: w.prefix! })
          : undefined;
      if (other) stoppers.push(() => other.close());
      const replica = createJobs({ ...w.deps, ...(other ? { store: other.store, queue: other.queue } : {}) });
      w.startSmsRelay();
      const [a, b] = await Promise.all([w.jobs.reminders('2025-03-03'), replica.reminders('2025-03-03')]);
      expect(a.rules![0]!.caregivers + b.rules![0]!.caregivers).toBe(expected.length);
      await eventually(
        () => w.sent.length,
        (n) => n >= expected.length,
      );
      await w.settled();
      expect(w.sent.map((x) => x.to).sort()).toEqual(expected);
    });

    it("a reply to the reminder reaches the right child's event in DHIS2", async () => {
      const w = await world();
      await w.sync('full');
      w.startDhis2Relay();
      await w.jobs.reminders('2025-03-03');
      const mine = openOn(w.emulator, WEDNESDAY).filter((a) => a.phone === MWANAISHA);
      const juma = mine.find((a) => a.firstName === 'Juma')!.event.event;
      const amina = mine.find((a) => a.firstName === 'Amina')!.event.event;

      expect(await w.reply(MWANAISHA, '2')).toContain('Juma has a clinic visit on 05/03/2025');
      expect(await w.reply(MWANAISHA, '2')).toContain('Juma');
      expect(await w.reply(MWANAISHA, '10032025')).toMatch(/new date for Juma is 10\/03\/2025/);

      const stored = (uid: string) => w.emulator.state.events.get(uid)!;
      await eventually(
        () => w.emulator.time.dateOf(stored(juma).scheduledAt!),
        (d) => d === '2025-03-10',
        5_000,
      );
      expect(stored(juma).notes ?? []).toHaveLength(1);
      expect(w.emulator.time.dateOf(stored(amina).scheduledAt!)).toBe(WEDNESDAY);
      expect(stored(amina).notes ?? []).toHaveLength(0);
    });

    it('queued at 22:00 local, they leave at the start of the delivery window', async () => {
      const w = await world({ emulatorNow: '2025-03-03T19:00:00.000Z' });
      await w.sync('full');
      w.startSmsRelay();
      const report = await w.jobs.reminders();
      expect(report.date).toBe('2025-03-03');
      const n = report.rules![0]!.caregivers;
      expect(n).toBeGreaterThan(0);
      // Held, not sent: every reminder sits delayed in the queue.
      await eventually(
        () => w.queue.counts('outbox-sms'),
        (c) => c.delayed === n,
      );
      expect(w.sent).toEqual([]);
      if (kind === 'memory') {
        w.clock.set('2025-03-04T04:59:00.000Z');
        // A reply queued now leaves at once; once it has, the queue has looked at the clock since it
        // moved, and the held reminders are still held at 07:59.
        await w.store.enqueue([
          {
            id: 'sms:marker-0759',
            queue: 'outbox-sms',
            name: 'sendSms',
            data: { to: MARKER, text: 'marker', locale: 'en', reply: true },
            runAt: w.clock.now().getTime(),
          },
        ]);
        await eventually(
          () => w.sent.length,
          (x) => x === 1,
        );
        expect(w.sent.map((s) => s.to)).toEqual([MARKER]);
        expect((await w.queue.counts('outbox-sms')).delayed).toBe(n);
        w.clock.set('2025-03-04T05:00:00.000Z');
        await eventually(
          () => w.sent.length,
          (x) => x === n + 1,
        );
      }
      // On BullMQ the jobs wait in real time (10 h on this clock); the delayed count above is the check.
    });
  });
}

/** Missed visits, the digest and the scheduler's own acceptance, against one kind of store and queue. */
export function followUpContract(kind: Kind, file: string): void {
  const { world, stoppers } = useWorlds(kind, file);

  describe(`missed visits and the case-worker digest (${kind})`, () => {
    it('message each caregiver of a child who missed yesterday, add the child to the defaulter list, and the digest counts per worker, only their org units, once', async () => {
      const w = await world();
      // Sunday: Imani's visit is today, not missed yet.
      w.clock.set('2025-03-02T07:00:00.000Z');
      await w.sync('full');
      const imani = openOn(w.emulator, '2025-03-02').find((a) => a.phone === FATUMA)!;
      expect((await getDefaultersFor(w.store, [DEMO.orgUnits.kidutani])).map((d) => d.event)).not.toContain(
        imani.event.event,
      );

      w.clock.set(MONDAY_10AM);
      w.startSmsRelay();
      const expected = [...new Set(openOn(w.emulator, '2025-03-02').map((a) => a.phone))].sort();
      const report = await w.jobs['missed-appointments']('2025-03-03');
      expect(report.rules![0]).toMatchObject({
        kind: 'missed',
        appointmentDate: '2025-03-02',
        caregivers: expected.length,
        defaultersAdded: openOn(w.emulator, '2025-03-02').length,
      });
      await eventually(
        () => w.sent.length,
        (n) => n >= expected.length,
      );
      expect(w.sent.map((s) => s.to).sort()).toEqual(expected);
      expect(w.sent.find((s) => s.to === FATUMA)!.text).toMatch(
        /^Imani missed the clinic visit of 02\/03\/2025\. When can you come\?/,
      );
      expect((await getDefaultersFor(w.store, [DEMO.orgUnits.kidutani])).map((d) => d.event)).toContain(
        imani.event.event,
      );

      const before = w.sent.length;
      const digest = await w.jobs['defaulter-digest']('2025-03-03');
      const lookbackFrom = '2024-12-02'; // the Sunday sync's window
      const want: Record<string, number> = {};
      for (const cw of Object.values(DEMO.caseWorkers)) {
        if (cw === DEMO.caseWorkers.disabled) continue;
        const n = defaultersOf(w.emulator, cw, '2025-03-03', lookbackFrom);
        if (n > 0) want[cw.username] = n;
      }
      expect(Object.keys(want)).toEqual(expect.arrayContaining(['cw.zawadi', 'cw.baraka', 'cw.salma', 'cw.peter']));
      expect(Object.fromEntries(digest.digest!.notified.map((x) => [x.username, x.count]))).toEqual(want);
      expect(want['cw.zawadi']!).toBeLessThan(want['cw.baraka']!); // a village is part of its facility's area
      await eventually(
        () => w.sent.length,
        (n) => n === before + Object.keys(want).length,
      );
      const zawadi = w.sent.find((s) => s.to === DEMO.caseWorkers.kidutani.phone)!.text;
      // Nothing was told before: every defaulter is new, and the total is what the USSD menu counts.
      expect(digest.digest!.notified.every((x) => x.total === x.count)).toBe(true);
      expect(zawadi).toBe(
        `${want['cw.zawadi']} children newly missed a vaccination visit since yesterday, ${want['cw.zawadi']} in total in your area. Dial *384*12# to see who and record the follow-up.`,
      );
      expect(w.sent.some((s) => s.to === DEMO.caseWorkers.disabled.phone)).toBe(false);

      const again = await w.jobs['defaulter-digest']('2025-03-03');
      expect(again.digest!.notified).toEqual([]);
      await w.settled();
      expect(w.sent.length).toBe(before + Object.keys(want).length);
    });

    it('the digest never reports a visit completed since the last sync, and tells a worker only about new defaulters', async () => {
      const w = await world();
      await w.sync('full');
      const zuri = openOn(w.emulator, '2025-02-25').find(
        (a) => a.phone === DEMO.caregivers.missedSeveralDays.phone,
      )!.event;
      zuri.status = 'COMPLETED';
      zuri.occurredAt = w.clock.now().getTime();
      w.emulator.state.touch();
      const first = await w.jobs['defaulter-digest']('2025-03-03');
      const zawadi = first.digest!.notified.find((x) => x.username === 'cw.zawadi')!;
      expect(zawadi.count).toBe(defaultersOf(w.emulator, DEMO.caseWorkers.kidutani, '2025-03-03', '2024-12-03'));
      expect(first.digest!.resolved).toBe(1);

      // Tuesday: the children who missed Monday's visits are news; nobody else is counted again.
      w.clock.set('2025-03-04T07:00:00.000Z');
      await w.jobs['missed-appointments']('2025-03-04');
      const inMtwapa = (a: { event: { orgUnit: string } }) =>
        w.emulator.state.orgUnits.get(a.event.orgUnit)!.path.includes(DEMO.orgUnits.mtwapa);
      const monday = openOn(w.emulator, '2025-03-03').filter(inMtwapa).length;
      expect(monday).toBeGreaterThan(0); // Baraka, due on Monday in Majengo
      const second = await w.jobs['defaulter-digest']('2025-03-04');
      const baraka = second.digest!.notified.find((x) => x.username === 'cw.baraka')!;
      expect(baraka.count).toBe(monday);
      // "3 new since yesterday, 68 in total": the total holds those told before too.
      expect(baraka.total).toBe(defaultersOf(w.emulator, DEMO.caseWorkers.mtwapa, '2025-03-04', '2022-06-07'));
      expect(baraka.total).toBeGreaterThan(baraka.count);
    });
  });

  describe(`running once cluster-wide (${kind})`, () => {
    it('two replicas register each job scheduler once; a tick runs the job once', async () => {
      const w = await world({ emulatorNow: '2025-03-03T04:59:00.000Z' }); // 07:59 local
      await w.sync('full');
      // On Redis a one-second schedule both replicas upsert shows the ticks themselves: each job runs once.
      const runs: Array<{ replica: string; id: string }> = [];
      const tick = (replica: string) => async (job: { id: string }) => {
        runs.push({ replica, id: job.id });
        return { ok: true as const };
      };
      const a: RunningScheduler = await startScheduler(w.deps, { handlers: { 'test.tick': tick('a') } });
      stoppers.push(() => a.close());
      if (kind === 'memory') {
        const b = await startScheduler(w.deps);
        stoppers.push(() => b.close());
        w.clock.set('2025-03-03T05:00:30.000Z');
        const done = (job: string) => w.logs.filter((l) => l.includes(`"msg":"job ${job} done"`)).length;
        await eventually(
          () => done('reminders') + done('missed-appointments'),
          (n) => n === 2,
          8_000,
        );
        // The queue has settled (nothing waiting or running), so a second run of the tick would show now.
        await eventually(
          () => w.deps.queue.counts('jobs'),
          (c) => c.waiting === 0 && c.active === 0,
        );
        expect(done('reminders')).toBe(1);
        expect(done('missed-appointments')).toBe(1);
        expect(done('defaulter-digest')).toBe(0);
      } else {
        // Two replicas: each its own BullMQ connection, each registering the schedules and working `jobs`.
        const every = { every: 1_000 };
        await w.deps.queue.schedule('jobs', 'jibu-test-tick', every, { name: 'test.tick' });
        const other = createBullmqJobQueue({ connection: TEST_REDIS_URL, prefix: w.prefix!, clock: w.clock });
        stoppers.push(() => other.close());
        const b = await startScheduler({ ...w.deps, queue: other }, { handlers: { 'test.tick': tick('b') } });
        stoppers.push(() => b.close());
        await other.schedule('jobs', 'jibu-test-tick', every, { name: 'test.tick' });
        await eventually(
          () => runs.length,
          (n) => n >= 3,
          15_000,
        );
        await Promise.all([a.close(), b.close()]);
        const ids = runs.map((r) => r.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const id of ids) expect(id).toMatch(/^repeat:jibu-test-tick:\d+$/);
        await w.deps.queue.unschedule('jobs', 'jibu-test-tick');
        const raw = new Queue('jobs', { connection: { url: TEST_REDIS_URL }, prefix: w.prefix!.replace(/:$/, '') });
        stoppers.push(() => raw.close());
        const schedulers = await raw.getJobSchedulers();
        expect(schedulers.map((s) => s.key).sort()).toEqual([
          'jibu-defaulter-digest',
          'jibu-missed-appointments',
          'jibu-reminders',
          'jibu-sync-full',
          'jibu-sync-incremental',
        ]);
      }
    });

    it("a severe reaction alert reaches the case workers of the child's area at once", async () => {
      const w = await world({ emulatorNow: '2025-03-03T19:30:00.000Z' }); // 22:30 local
      await w.sync('full');
      w.startSmsRelay();
      const s = await startScheduler(w.deps);
      stoppers.push(() => s.close());
      await w.store.enqueue([
        {
          id: 'notify:aefi-1',
          queue: 'jobs',
          name: 'notify.aefi.severe',
          data: {
            ref: 'K7Q2MX',
            orgUnit: DEMO.orgUnits.kidutani,
            text: 'Jibu: severe reaction reported for Amina. Ref K7Q2MX',
          },
        },
      ]);
      // Reported by the Kidutani worker: the facility worker is alerted, not the reporter.
      await w.store.enqueue([
        {
          id: 'notify:aefi-2',
          queue: 'jobs',
          name: 'notify.aefi.severe',
          data: {
            ref: 'P3R4ST',
            orgUnit: DEMO.orgUnits.kidutani,
            text: 'Jibu: severe reaction reported for Imani. Ref P3R4ST',
            reporterPhone: DEMO.caseWorkers.kidutani.phone,
          },
        },
      ]);
      await eventually(
        () => w.sent.length,
        (n) => n === 3,
      );
      await w.settled();
      expect(w.sent.map((x) => `${x.to} ${x.text.slice(-6)}`).sort()).toEqual([
        `${DEMO.caseWorkers.kidutani.phone} K7Q2MX`,
        `${DEMO.caseWorkers.mtwapa.phone} K7Q2MX`,
        `${DEMO.caseWorkers.mtwapa.phone} P3R4ST`,
      ]);
    });
  });
}
