import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { sessionKey } from '../../src/conversation/runner.ts';
import { createEmulator, type Emulator } from '../../src/emulator/index.ts';
import type { Dhis2Event } from '../../src/dhis2/schemas.ts';
import { startDhis2Relay, type RelayLogger } from '../../src/dhis2/outbox/index.ts';
import { getCaregiver } from '../../src/dhis2/readmodel/index.ts';
import type { Gateway } from '../../src/server/lifecycle.ts';
import { startTestGateway, eventually, type TestGateway } from '../server/harness.ts';
import { cleanupRedis, requireRedis, uniquePrefix, TEST_REDIS_URL } from '../store/harness.ts';
import { NOW, PHONES, TZ } from './helpers.ts';

/**
 * End to end: the gateway as it starts (shipped flows with every module, HTTP webhooks, runner, store,
 * queues, the read-model sync at start-up and the DHIS2 outbox relay) against the emulator on a fixed
 * clock. A caregiver answers a reminder by SMS; the emulator ends up with the new date and one note.
 * The relay backs off on the injected clock (memory queue), so tests move the clock past a backoff.
 */

const ADMIN_TOKEN = 'e2e-admin-token-0123456789abcdef';
const cleanups: Array<() => Promise<void>> = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const shared: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of shared.splice(0).reverse()) await c();
  await cleanupRedis(prefixes);
});

interface World {
  t: TestGateway;
  gw: Gateway;
  emu: Emulator;
  clock: ReturnType<typeof fixedClock>;
  /** Stop the test's relay, then the gateway (idempotent). */
  stop(): Promise<void>;
}

const KEY = 'e2e-webhook-secret';

/** A gateway on a fixed clock sharing `emu`; it synced the read model from it at start-up. */
async function world(
  opts: {
    emu?: Emulator;
    clock?: ReturnType<typeof fixedClock>;
    redisPrefix?: string;
    bin?: Array<() => Promise<void>>;
  } = {},
): Promise<World> {
  const clock = opts.clock ?? fixedClock(NOW);
  const emu = opts.emu ?? createEmulator({ version: '2.40', clock, seed: { children: 20 } });
  // On Redis this is not the all-embedded demo: the unsigned webhooks need the secret.
  const env: Record<string, string> = {
    TZ,
    ADMIN_TOKEN,
    WEBHOOK_SECRET: KEY,
    ...(opts.redisPrefix ? { REDIS_URL: TEST_REDIS_URL } : {}),
  };
  const t = await startTestGateway(env, {
    clock,
    emulator: emu,
    ...(opts.redisPrefix ? { redisPrefix: opts.redisPrefix } : {}),
  });
  const bin = opts.bin ?? cleanups;
  // The gateway's own relay paces imports (1 s between partial batches, 2 s backoff): right for DHIS2,
  // slow for a test. A second relay on the same queue, with short intervals, takes the writes first.
  const quiet: RelayLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const relay = startDhis2Relay({
    queue: t.gw.queue,
    store: t.gw.store,
    client: t.gw.dhis2,
    clock,
    logger: quiet,
    deployment: t.gw.deployment,
    timeZone: TZ,
    intervalMs: 20,
    backoffMs: 50,
    maxBackoffMs: 200,
    attempts: 1000,
  });
  const stop = async () => {
    await relay.close();
    await t.stop();
  };
  bin.push(stop);
  return { t, gw: t.gw, emu, clock, stop };
}

/**
 * Send `phone` its reminder the way production does: the scheduler's `reminders` job, run through the
 * gateway's admin API "as if today were" two days (the default rule) before the caregiver's next visit.
 * The job opens the reply flow and commits it with the SMS before it answers; the same run reminds every
 * caregiver due that day, and a second run for the same day reminds nobody twice.
 */
async function remind(w: World, phone: string): Promise<void> {
  const view = await getCaregiver(w.gw.store, phone);
  const visit = view?.children.flatMap((c) => (c.next ? [c.next.scheduledAt.slice(0, 10)] : [])).sort()[0];
  if (!visit) throw new Error(`no caregiver ${phone} with a visit in the read model`);
  const date = new Date(Date.parse(`${visit}T00:00:00Z`) - 2 * 86_400_000).toISOString().slice(0, 10);
  const res = await fetch(`${w.t.url}/admin/jobs/reminders/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ date }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ job: 'reminders', date, result: { ok: true } });
  await eventually(
    async () => (await w.gw.store.getSession(sessionKey('sms', phone)))?.flowId === 'caregiver-reminder' || null,
    `the reminder conversation open for ${phone}`,
  );
}

/** The generic HTTP provider delivering an SMS from `phone` (a provider retry resends the same id). */
async function sms(w: World, phone: string, text: string, id: string): Promise<number> {
  const res = await fetch(`${w.t.url}/sms/http?key=${KEY}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, from: phone, to: '21512', text }),
  });
  return res.status;
}

const smsTo = (w: World, phone: string) => w.t.sent.filter((m) => m.to === phone).map((m) => m.text);

async function dhis2Event(w: World, uid: string): Promise<Dhis2Event> {
  const page = await w.gw.dhis2.events({ events: [uid], fields: '*', paging: false });
  const e = page.items[0];
  if (!e) throw new Error(`event ${uid} not in the emulator`);
  return e;
}

const imports = (emu: Emulator) => emu.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/api/tracker'));

describe('a reminder reply over SMS, through the gateway into DHIS2', () => {
  // One gateway, emulator and relay for these tests: each uses its own caregiver phone.
  let w: World;
  beforeAll(async () => {
    w = await world({ bin: shared });
  });

  it('"2" and a valid date move the event\'s scheduledAt and add exactly one note, with the reply delivered twice and a first DHIS2 attempt failing with 503', async () => {
    const phone = PHONES.oneChild;
    const view = await getCaregiver(w.gw.store, phone);
    const uid = view?.children[0]?.next?.event ?? '';
    const before = await dhis2Event(w, uid);
    expect(before.scheduledAt?.slice(0, 10)).toBe('2025-11-27');
    const importsBefore = imports(w.emu).length;

    await remind(w, phone);
    await eventually(() => smsTo(w, phone).length === 1, 'the reminder SMS');
    expect(smsTo(w, phone)[0]).toBe(
      'Neema has a clinic visit on 27/11/2025.\n1. Confirm the visit\n2. Change the date',
    );

    // The provider delivers "2" twice (same message id): one answer, one step.
    expect(await sms(w, phone, '2', 'AT-reply-1')).toBe(200);
    expect(await sms(w, phone, '2', 'AT-reply-1')).toBe(200);
    await eventually(() => smsTo(w, phone).length >= 2, 'the date question');
    // DHIS2 will answer the first import with a 503; the relay backs off and tries again.
    w.emu.faults.failNext(1, 503, { onlyImports: true });
    expect(await sms(w, phone, '02122025', 'AT-reply-2')).toBe(200);
    await eventually(() => smsTo(w, phone).length >= 3, 'the confirmation');
    const [, question, confirmation, ...extra] = smsTo(w, phone);
    expect(question).toBe('On which date can you bring Neema? E.g. 25122025 or tomorrow.');
    expect(confirmation).toMatch(/^Thank you\. The new date for Neema is 02\/12\/2025\. Ref ([A-Z2-9]{6})\.$/);
    expect(extra).toEqual([]);
    const ref = /Ref ([A-Z2-9]{6})/.exec(confirmation ?? '')?.[1];

    await eventually(
      () =>
        imports(w.emu)
          .slice(importsBefore)
          .some((r) => r.status === 503),
      'the failed first import',
    );
    w.clock.advance(60_000);
    const after = await eventually(async () => {
      const e = await dhis2Event(w, uid);
      return e.scheduledAt?.startsWith('2025-12-02') ? e : null;
    }, 'the new scheduledAt in DHIS2');
    const added = (after.notes ?? []).filter((n) => !(before.notes ?? []).some((b) => b.note === n.note));
    expect(added.map((n) => n.value)).toEqual([
      `Caregiver moved the visit from 2025-11-27 to 2025-12-02 by SMS (Jibu ref ${ref})`,
    ]);
    expect(after.status).toBe('SCHEDULE');
    expect(
      imports(w.emu)
        .slice(importsBefore)
        .map((r) => r.status),
    ).toEqual([503, 200]);
    // The relay kept the read model in step: the next screen shows the new date without a sync.
    expect((await getCaregiver(w.gw.store, phone))?.children[0]?.next?.scheduledAt).toBe('2025-12-02');
    expect(await w.gw.queue.deadLetters('outbox-dhis2')).toEqual([]);
  });

  it('a retried import whose first answer was lost (503 after commit) still leaves one note', async () => {
    const phone = PHONES.twoChildren;
    const uid =
      (await getCaregiver(w.gw.store, phone))?.children.find((c) => c.firstName === 'Juma')?.next?.event ?? '';
    const before = (await dhis2Event(w, uid)).notes?.length ?? 0;
    const importsBefore = imports(w.emu).length;
    await remind(w, phone);
    w.emu.faults.failNext(1, 503, { onlyImports: true, afterCommit: true });
    await sms(w, phone, '2', 'AT-two-1'); // Juma
    await sms(w, phone, '1', 'AT-two-2'); // confirm
    await eventually(() => smsTo(w, phone).some((t) => t.startsWith('Thank you. We expect Juma')), 'the confirmation');
    await eventually(
      () =>
        imports(w.emu)
          .slice(importsBefore)
          .some((r) => r.status === 503),
      'the lost answer',
    );
    w.clock.advance(60_000);
    await eventually(
      () =>
        imports(w.emu)
          .slice(importsBefore)
          .some((r) => r.status === 200),
      'the retried import',
    );
    const notes = (await dhis2Event(w, uid)).notes ?? [];
    expect(notes).toHaveLength(before + 1);
    expect(notes.at(-1)?.value).toMatch(
      /^Caregiver confirmed the visit of 2025-11-27 by SMS \(Jibu ref [A-Z2-9]{6}\)$/,
    );
  });

  it('with DHIS2 down the whole conversation, the caregiver still gets the confirmation, and the write lands when DHIS2 is back', async () => {
    const phone = PHONES.dueToday;
    const uid = (await getCaregiver(w.gw.store, phone))?.children[0]?.next?.event ?? '';
    const notesBefore = (await dhis2Event(w, uid)).notes?.length ?? 0;
    const importsBefore = imports(w.emu).length;
    // The scheduler reads DHIS2 to send the reminder; DHIS2 goes down once it has gone out.
    await remind(w, phone);
    w.emu.faults.down = true;
    try {
      await sms(w, phone, '1', 'AT-down-1');
      await eventually(
        () =>
          smsTo(w, phone).some((t) =>
            /^Thank you\. We expect Baraka at the clinic on 25\/11\/2025\. Ref [A-Z2-9]{6}\.$/.test(t),
          ),
        'the confirmation while DHIS2 is down',
      );
      await eventually(
        async () => (await w.gw.queue.counts('outbox-dhis2')).delayed === 1,
        'the write waiting for DHIS2',
      );
      expect(imports(w.emu).slice(importsBefore)).toEqual([]);
    } finally {
      w.emu.faults.down = false;
    }
    w.clock.advance(10 * 60_000);
    await eventually(
      async () => ((await dhis2Event(w, uid)).notes?.length ?? 0) === notesBefore + 1,
      'the note once DHIS2 is back',
      8000,
    );
  });

  it('a caller who is not a caregiver still gets the demo flow through the gateway', async () => {
    await sms(w, PHONES.unknown, 'hello', 'AT-unknown-1');
    await eventually(() => smsTo(w, PHONES.unknown).length === 1, 'the demo reply');
    expect(smsTo(w, PHONES.unknown)[0]).toMatch(/^Jibu demo\./);
  });
});

describe('with Redis', () => {
  it('a confirmation given while DHIS2 is down survives a gateway restart and its write lands once', async () => {
    await requireRedis();
    const prefix = uniquePrefix('caregiver-e2e');
    prefixes.push(prefix);
    const clock = fixedClock(NOW);
    const emu = createEmulator({ version: '2.41', clock, seed: { children: 20 } });
    const first = await world({ emu, clock, redisPrefix: prefix });
    const phone = PHONES.oneChild;
    const uid = (await getCaregiver(first.gw.store, phone))?.children[0]?.next?.event ?? '';
    const notesBefore = (await dhis2Event(first, uid)).notes?.length ?? 0;

    await remind(first, phone);
    emu.faults.down = true;
    await sms(first, phone, '1', 'AT-redis-1');
    await eventually(
      () => smsTo(first, phone).some((t) => t.startsWith('Thank you. We expect Neema')),
      'the confirmation',
    );
    // The relay tried, failed and put the write back to wait: nothing reached DHIS2.
    await eventually(
      async () => (await first.gw.queue.counts('outbox-dhis2')).delayed === 1,
      'the write waiting for DHIS2',
    );
    await first.stop();

    emu.faults.down = false;
    const second = await world({ emu, clock, redisPrefix: prefix });
    await eventually(
      async () => ((await dhis2Event(second, uid)).notes?.length ?? 0) === notesBefore + 1,
      'the note after the restart',
      8000,
    );
    // A provider retry of the same reply after the restart is still recognised: no second answer.
    expect(await sms(second, phone, '1', 'AT-redis-1')).toBe(200);
    // Recognised before anything was committed (the duplicate counter moves only on that path).
    const dups = (await second.gw.metrics.duplicates.get()).values.find((v) => v.labels.provider === 'http');
    expect(dups?.value).toBe(1);
    expect(smsTo(second, phone)).toEqual([]);
    expect((await dhis2Event(second, uid)).notes).toHaveLength(notesBefore + 1);
  });
});
