import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { startFlow } from '../../src/conversation/index.ts';
import { reminderChildren, reminderStart } from '../../src/conversation/actions/caregiver.ts';
import { sessionKey } from '../../src/conversation/runner.ts';
import { getCaregiver } from '../../src/dhis2/readmodel/index.ts';
import { createEmulator, DEMO } from '../../src/emulator/index.ts';
import { createBullmqJobQueue, type BullmqJobQueue } from '../../src/store/bullmq-queue.ts';
import type { QueuedJob } from '../../src/store/types.ts';
import { atUssd, eventually, startTestGateway, type TestGateway } from '../server/harness.ts';
import { startSentinelGroup, type SentinelGroup } from './sentinel-harness.ts';

const KEY = 'failover-test-webhook-secret';
/**
 * Redis failover behind Sentinel, end to end: a gateway (store, queues, workers, outbox forwarder and
 * the embedded DHIS2 emulator) connected through REDIS_SENTINELS, USSD conversations and caregivers'
 * SMS replies that write to DHIS2 running, and the primary SIGKILLed mid-load. Afterwards every
 * conversation continued or restarted politely, every DHIS2 write a caller was promised landed once,
 * no SMS went out twice, a repeatable job kept firing once per tick, and the workers took jobs again
 * within 30 s of the kill.
 */

const NOW = new Date('2025-11-25T09:00:00Z');
const TZ = 'Africa/Nairobi';

/** A USSD walk through the demo flow: facts menu, a fact, back, main menu, the form's first answers. */
const PATH = ['', '1', '1*2', '1*2*1', '1*2*1*11', '1*2*1*11*2', '1*2*1*11*2*7', '1*2*1*11*2*7*1'];
const BUSY = 'END Sorry, the service is busy. Please try again in a few minutes.';

let group: SentinelGroup | undefined;
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await group?.stop();
});

describe('Redis failover behind Sentinel', () => {
  it('loses no committed step, doubles no write or SMS, and the workers resume within 30 s', async () => {
    let phase = 'starting the Sentinel group';
    onTestFailed(() => console.error(`failover test failed while ${phase}`));
    group = await startSentinelGroup();
    const g = group;
    const clock = fixedClock(NOW);
    const emu = createEmulator({ version: '2.40', clock, seed: { children: 80 } });
    // With Redis this is not the all-embedded demo: the unsigned webhooks need the secret.
    const env = { TZ, REDIS_SENTINELS: g.sentinels, REDIS_SENTINEL_NAME: g.name, WEBHOOK_SECRET: KEY };
    phase = 'starting the gateway';
    const t: TestGateway = await startTestGateway(env, { clock, emulator: emu, redisPrefix: 'jibu:' });
    stops.push(() => t.stop());
    const { gw } = t;

    // Two more "replicas" of a scheduler on the same Sentinel group: one repeatable job every 500 ms.
    const ticks: string[] = [];
    const tickTimes: number[] = [];
    const tickQueues: BullmqJobQueue[] = [];
    const target = { sentinels: g.sentinels.split(',').map(hostPort), name: g.name };
    for (let i = 0; i < 2; i++) {
      const q = createBullmqJobQueue({ connection: target, prefix: 'ticks' });
      stops.push(() => q.close());
      tickQueues.push(q);
      await q.schedule('jobs', 'failover-tick', { every: 500 }, { name: 'tick' });
      q.process('jobs', async (job) => {
        ticks.push(job.id);
        tickTimes.push(Date.now());
        return { ok: true };
      });
    }
    await eventually(() => ticks.length >= 2, 'the first ticks', 10_000);

    phase = 'recording the screens';
    // Expected screens, from one walk before any load.
    const expected: string[] = [];
    for (const text of PATH) {
      const r = await atUssd(t.url, { sessionId: 'fo-oracle', phoneNumber: '+254790000999', text }, KEY);
      expect(r.status).toBe(200);
      expected.push(r.body);
    }
    expect(new Set(expected).size).toBeGreaterThanOrEqual(6);

    // Caregivers with one child due (today or later): each gets a reminder now and will confirm the visit by SMS.
    const caregivers: Array<{ phone: string; event: string }> = [];
    for (const te of emu.state.trackedEntities.values()) {
      const phone = Object.values(te.attributes).find((v) => v.startsWith(DEMO.generatedPhonePrefix));
      if (!phone || caregivers.some((c) => c.phone === phone)) continue;
      const view = await getCaregiver(gw.store, phone);
      const due = view?.children.filter((c) => c.next && c.next.scheduledAt >= emu.today()) ?? [];
      if (view && view.children.length === 1 && due.length === 1)
        caregivers.push({ phone, event: due[0]!.next!.event });
    }
    expect(caregivers.length).toBeGreaterThanOrEqual(10);
    const notesBefore = new Map(caregivers.map((c) => [c.event, emu.state.events.get(c.event)?.notes?.length ?? 0]));
    phase = 'sending the reminders';
    for (const c of caregivers) await remind(t, c.phone, emu.today());
    const smsTo = (phone: string) => t.sent.filter((m) => m.to === phone).map((m) => m.text);
    await eventually(() => caregivers.every((c) => smsTo(c.phone).length === 1), 'every reminder', 15_000);

    // --- Load, and the kill in the middle of it --------------------------------------------------
    const sentTimes: number[] = [];
    const writtenTimes: number[] = [];
    const unsubscribe = gw.events.on((e) => {
      if (e.type === 'sms.sent') sentTimes.push(Date.now());
      if (e.type === 'dhis2.written') writtenTimes.push(Date.now());
    });
    stops.push(async () => unsubscribe());
    let killedAt = 0;
    let failedOverAt = 0;
    const wrong: Array<{ hop: number; status: number; body: string }> = [];
    const walks: Array<{ walker: number; startedAt: number }> = [];
    let right = 0;
    let busy = 0;
    let restarts = 0;
    const walkersDone = () =>
      failedOverAt > 0 &&
      [...Array(WALKERS).keys()].every((w) => walks.some((x) => x.walker === w && x.startedAt > failedOverAt));
    const WALKERS = 8;

    async function walker(w: number): Promise<void> {
      const phone = `+25479100${String(w).padStart(4, '0')}`;
      for (let n = 0; !walksTimedOut() && !walkersDone(); n++) {
        const sessionId = `fo-${w}-${n}`;
        const startedAt = Date.now();
        let complete = true;
        for (const [hop, text] of PATH.entries()) {
          // A hop left unanswered for 10 s counts as wrong (it is neither an answer nor polite).
          const r = await Promise.race([
            atUssd(t.url, { sessionId, phoneNumber: phone, text }, KEY),
            new Promise<{ status: number; body: string }>((resolve) =>
              setTimeout(() => resolve({ status: 0, body: 'no answer within 10 s' }), 10_000).unref(),
            ),
          ]).catch((e: unknown) => ({ status: 0, body: String(e) }));
          if (r.status === 200 && r.body === expected[hop]) {
            right += 1;
            continue;
          }
          complete = false;
          // Polite: the busy screen, or the conversation starting again from its first screen.
          if (r.status === 200 && r.body === BUSY) busy += 1;
          else if (r.status === 200 && hop > 0 && r.body === expected[0]) restarts += 1;
          else wrong.push({ hop, status: r.status, body: r.body });
          break;
        }
        if (complete) walks.push({ walker: w, startedAt });
      }
    }
    const loadStarted = Date.now();
    const walksTimedOut = () => Date.now() - loadStarted > 40_000;

    // The provider's side: deliver "1" and resend the same message id until it is acknowledged.
    const acked: string[] = [];
    async function confirm(c: { phone: string }): Promise<void> {
      const id = `fo-confirm-${c.phone}`;
      const statuses: Array<number | undefined> = [];
      for (;;) {
        const res = await fetch(`${t.url}/sms/http?key=${KEY}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, from: c.phone, to: '21512', text: '1' }),
          signal: AbortSignal.timeout(10_000),
        }).catch(() => undefined);
        if (res?.status === 200) break;
        statuses.push(res?.status);
        expect([undefined, 503]).toContain(res?.status);
        // A provider gives up at some point too: past it, the message was refused for good.
        if (walksTimedOut()) throw new Error(`reply of ${c.phone} never acknowledged: ${statuses.join(',')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      acked.push(c.phone);
    }
    async function confirmAll(): Promise<void> {
      for (const c of caregivers) {
        await confirm(c);
        // Spread the replies over the kill: a third before it, the rest during and after.
        if (acked.length === Math.ceil(caregivers.length / 3)) await killed;
      }
    }

    let markKilled!: () => void;
    const killed = new Promise<void>((r) => (markKilled = r));
    phase = 'running the load';
    const load = Promise.all([...Array.from({ length: WALKERS }, (_, w) => walker(w)), confirmAll()]);
    await eventually(() => right >= 150 && acked.length >= Math.ceil(caregivers.length / 3), 'load under way', 20_000);
    phase = 'failing over';
    g.killPrimary();
    killedAt = Date.now();
    markKilled();
    await g.failedOver(20_000);
    failedOverAt = Date.now();
    phase = 'finishing the load after the failover';
    await load;
    phase = 'checking the outcome';

    // --- After the failover ----------------------------------------------------------------------
    const stats = `${right} right hops, ${busy} busy, ${restarts} restarted, ${walks.length} walks`;
    expect(wrong, stats).toEqual([]);
    // The kill landed mid-load: some hops met the switch and were answered politely.
    expect(busy + restarts, stats).toBeGreaterThan(0);
    expect(walksTimedOut(), 'every walker completed a walk begun after the failover').toBe(false);

    // Workers take jobs again within 30 s of the kill: ticks fire, SMS leave, DHIS2 writes land.
    const newPrimary = g.client(g.replicaPort);
    const diagnosis = async () =>
      JSON.stringify({
        sinceKillMs: Date.now() - killedAt,
        outbox: await newPrimary.llen('jibu:outbox'),
        inflight: await newPrimary.llen('jibu:outbox:inflight'),
        sms: await gw.queue.counts('outbox-sms'),
        dhis2: await gw.queue.counts('outbox-dhis2'),
        workers: gw.queue.workerHealth?.(),
        errors: t.logs
          .filter((l) => /"level":(40|50)/.test(l))
          .slice(-8)
          .map((l) => l.slice(0, 300)),
      });
    const firstAfter = async (times: number[], what: string) =>
      (await eventually(() => times.find((x) => x > failedOverAt), what, 30_000).catch(async (err: unknown) => {
        throw new Error(`${String(err)}: ${await diagnosis()}`);
      })) - killedAt;
    expect(await firstAfter(tickTimes, 'a tick after the failover')).toBeLessThan(30_000);
    expect(await firstAfter(sentTimes, 'an SMS sent after the failover')).toBeLessThan(30_000);
    expect(await firstAfter(writtenTimes, 'a DHIS2 write after the failover')).toBeLessThan(30_000);

    // Every caregiver whose reply was acknowledged gets one confirmation and one note in DHIS2.
    expect(acked.sort()).toEqual(caregivers.map((c) => c.phone).sort());
    const unconfirmed = () => caregivers.filter((c) => !smsTo(c.phone).some((x) => x.startsWith('Thank you.')));
    await eventually(() => unconfirmed().length === 0, 'every confirmation SMS', 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify(unconfirmed().map((c) => [c.phone, smsTo(c.phone)]))}`);
    });
    const noteAdded = (event: string) => (emu.state.events.get(event)?.notes?.length ?? 0) - notesBefore.get(event)!;
    await eventually(() => caregivers.every((c) => noteAdded(c.event) >= 1), 'every DHIS2 write', 30_000);
    // Let a doubled write or SMS show itself: wait until the queues are empty, then look.
    await eventually(
      async () => {
        const [sms, dhis2] = await Promise.all([gw.queue.counts('outbox-sms'), gw.queue.counts('outbox-dhis2')]);
        return sms.waiting + sms.active + sms.delayed + dhis2.waiting + dhis2.active + dhis2.delayed === 0;
      },
      'the outboxes drained',
      20_000,
    );
    for (const c of caregivers) {
      expect(noteAdded(c.event), `notes added for ${c.phone}`).toBe(1);
      const texts = smsTo(c.phone);
      expect(texts, `SMS to ${c.phone}: ${JSON.stringify(texts)}`).toHaveLength(2);
    }
    const all = t.sent.map((m) => `${m.to}\n${m.text}`);
    expect(all.length).toBe(new Set(all).size);

    // Each tick of the repeatable job ran once, before and after the failover.
    expect(ticks.length).toBe(new Set(ticks).size);

    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({
      store: 'ok',
      workers: 'ok',
    });
  }, 120_000);
});

function hostPort(s: string): { host: string; port: number } {
  const [host, port] = s.split(':');
  return { host: host!, port: Number(port) };
}

/** The scheduler's side of a reminder: open the reply flow for `phone` and commit it as the runner does. */
async function remind(t: TestGateway, phone: string, today: string): Promise<void> {
  const { gw } = t;
  const view = await getCaregiver(gw.store, phone);
  if (!view) throw new Error(`no caregiver ${phone} in the read model`);
  const events = new Set(view.children.flatMap((c) => (c.next ? [c.next.event] : [])));
  const now = gw.runner.clock.now();
  const start = reminderStart({ phone, today, children: reminderChildren(view, events) });
  const key = sessionKey('sms', phone);
  const loaded = await gw.store.lockAndLoad(phone, key);
  const r = startFlow(gw.runner.flows(), loaded.session, {
    ...start,
    channel: 'sms',
    phone,
    contact: loaded.contact,
    now,
    newId: randomUUID,
  });
  const jobs: QueuedJob[] = r.effects.flatMap((e) =>
    e.type === 'sendSms'
      ? [
          {
            id: `sms:${randomUUID()}`,
            queue: 'outbox-sms' as const,
            name: 'sendSms',
            data: { to: e.to, text: e.text, locale: e.locale, reply: false, provider: 'http' },
          },
        ]
      : [],
  );
  await gw.store.commit(loaded.lock, { sessionKey: key, session: r.session, sessionTtlMs: r.sessionTtlMs, jobs });
}
