import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.ts';
import { createDhis2Client } from '../../../src/dhis2/client.ts';
import { defaultDeployment } from '../../../src/dhis2/deployment.ts';
import { createEmulator, DEMO, EIR, type Emulator } from '../../../src/emulator/index.ts';
import { noteUid, startDhis2Relay, type Dhis2RelayOptions, type RelayLogger } from '../../../src/dhis2/outbox/index.ts';
import {
  getCaregiver,
  getDefaultersFor,
  rmKeys,
  syncReadModel,
  type EventSnapshot,
} from '../../../src/dhis2/readmodel/index.ts';
import type { RunningWorker } from '../../../src/store/types.ts';
import { createEventFeed, type GatewayEvent } from '../../../src/server/events.ts';
import { createMetrics } from '../../../src/server/metrics.ts';
import { cleanupRedis, eventually } from '../../store/harness.ts';
import { NOW, PHONES, scheduledEvent } from '../helpers.ts';
import { drained, makeQueueWorld, writeJob, type QueueKind, type QueueWorld } from './harness.ts';

const OU = DEMO.orgUnits;
const NOTE = 'Caregiver asked to move the visit (SMS)';
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await cleanupRedis([]);
});

/** Everything the relay logged, to check that no personal data leaves in a log line. */
function recordingLogger(): RelayLogger & { lines: Array<{ level: string; obj: object; msg?: string }> } {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

interface RelayWorld extends QueueWorld {
  emu: Emulator;
  clock: ReturnType<typeof fixedClock>;
  logger: ReturnType<typeof recordingLogger>;
  feed: GatewayEvent[];
  metrics: ReturnType<typeof createMetrics>;
  start(extra?: Partial<Dhis2RelayOptions>): RunningWorker;
  imports(): number;
}

async function relayWorld(
  kind: QueueKind,
  opts: { children?: number; version?: string; auth?: { username: string; password: string } } = {},
): Promise<RelayWorld> {
  const clock = fixedClock(NOW);
  const emu = createEmulator({
    version: opts.version ?? '2.40',
    clock,
    seed: { children: opts.children ?? 60 },
    users: [
      // A Jibu service account that can read the whole country but write only in Kilifi.
      {
        id: 'JbUsrJibuKf',
        username: 'jibu.kilifi',
        password: 'Jibu-2025',
        organisationUnits: [OU.kilifi],
        teiSearchOrganisationUnits: [OU.country],
        authorities: ['F_UNCOMPLETE_EVENT'],
      },
    ],
  });
  const client = createDhis2Client({
    baseUrl: emu.baseUrl,
    auth: opts.auth ?? { token: emu.credentials.token },
    fetch: emu.fetch,
    timeoutMs: 5000,
  });
  const qw = await makeQueueWorld(kind, 'dhis2-relay');
  cleanups.push(() => qw.close());
  const logger = recordingLogger();
  const events = createEventFeed();
  const feed: GatewayEvent[] = [];
  events.on((e) => feed.push(e));
  const metrics = createMetrics({ defaultMetrics: false });
  return {
    ...qw,
    emu,
    clock,
    logger,
    feed,
    metrics,
    start(extra = {}) {
      const worker = startDhis2Relay({
        queue: qw.queue,
        store: qw.store,
        client,
        clock,
        logger,
        metrics,
        events,
        intervalMs: 20,
        backoffMs: 20,
        maxBackoffMs: 100,
        attempts: 6,
        ...extra,
      });
      cleanups.push(() => worker.close());
      return worker;
    },
    imports: () => emu.requests.filter((r) => r.method === 'POST' && r.path === '/api/tracker').length,
  };
}

const reschedule = (event: string, scheduledAt: string, note = NOTE) => ({
  op: 'event.reschedule' as const,
  event,
  scheduledAt,
  note,
});
const confirm = (event: string) => ({ op: 'event.note' as const, event, note: 'Caregiver confirmed the visit (SMS)' });

describe.each<QueueKind>(['memory', 'bullmq'])('DHIS2 outbox relay (%s queue)', (kind) => {
  it('a reschedule moves scheduledAt and adds exactly one note, although the first import answers 503', async () => {
    const w = await relayWorld(kind);
    const neema = scheduledEvent(w.emu, PHONES.oneDue, 'Neema');
    w.emu.faults.failNext(1, 503, { onlyImports: true });
    await w.queue.add([writeJob('reply-neema-1', reschedule(neema.event, '2025-03-10'))]);
    w.start();
    await drained(w.queue);
    expect(w.emu.time.dateOf(neema.scheduledAt!)).toBe('2025-03-10');
    expect(w.emu.state.notesOf(neema.event)).toEqual([
      expect.objectContaining({ note: noteUid('reply-neema-1'), value: NOTE }),
    ]);
    expect(w.imports()).toBe(2);
    expect(await w.queue.deadLetters('outbox-dhis2')).toEqual([]);
    expect(w.feed.map((e) => e.type)).toEqual(['dhis2.failed', 'dhis2.written']);
    expect(w.feed[0]).toMatchObject({ ids: ['reply-neema-1'], permanent: false });
    expect(w.feed[1]).toMatchObject({
      ids: ['reply-neema-1'],
      status: 'OK',
      requestPayload: {
        events: [
          expect.objectContaining({
            event: neema.event,
            scheduledAt: '2025-03-10',
            notes: [{ note: noteUid('reply-neema-1'), value: NOTE }],
          }),
        ],
      },
    });
    const counts = await w.metrics.registry.getSingleMetricAsString('jibu_dhis2_requests_total');
    expect(counts).toContain('kind="import",outcome="unavailable"} 1');
    expect(counts).toContain('kind="import",outcome="ok"} 1');
  });

  it('when DHIS2 saved the write but the answer was lost (503 after commit), the retry meets E1119 and leaves one note', async () => {
    const w = await relayWorld(kind);
    const neema = scheduledEvent(w.emu, PHONES.oneDue, 'Neema');
    w.emu.faults.failNext(1, 503, { onlyImports: true, afterCommit: true });
    await w.queue.add([writeJob('reply-neema-2', reschedule(neema.event, '2025-03-11'))]);
    w.start();
    await drained(w.queue);
    expect(w.imports()).toBe(2);
    expect(w.emu.state.notesOf(neema.event)).toHaveLength(1);
    expect(w.emu.time.dateOf(neema.scheduledAt!)).toBe('2025-03-11');
    expect(w.feed.at(-1)).toMatchObject({ type: 'dhis2.written', status: 'WARNING' });
  });

  it('the same reply committed twice (same job id) is written once', async () => {
    const w = await relayWorld(kind);
    const neema = scheduledEvent(w.emu, PHONES.oneDue, 'Neema');
    w.start();
    await w.queue.add([writeJob('reply-neema-3', confirm(neema.event))]);
    await drained(w.queue);
    await w.queue.add([writeJob('reply-neema-3', confirm(neema.event))]);
    await drained(w.queue);
    expect(w.emu.state.notesOf(neema.event)).toHaveLength(1);
    expect(w.imports()).toBe(1);
  });

  it('with DHIS2 down for a while the write waits, with backoff, and lands when DHIS2 is back', async () => {
    const w = await relayWorld(kind);
    const imani = scheduledEvent(w.emu, PHONES.missedYesterday, 'Imani');
    w.emu.faults.down = true;
    await w.queue.add([writeJob('reply-imani-1', reschedule(imani.event, '2025-03-07'))]);
    w.start({ attempts: 30 });
    await eventually(
      () => w.feed.filter((e) => e.type === 'dhis2.failed').length,
      (n) => n >= 3,
    );
    expect(w.feed.every((e) => e.type === 'dhis2.failed' && !e.permanent)).toBe(true);
    expect(w.emu.state.notesOf(imani.event)).toHaveLength(0);
    w.emu.faults.down = false;
    await drained(w.queue);
    expect(w.emu.time.dateOf(imani.scheduledAt!)).toBe('2025-03-07');
    expect(w.emu.state.notesOf(imani.event)).toHaveLength(1);
    expect(await w.queue.deadLetters('outbox-dhis2')).toEqual([]);
    expect(w.logger.lines.some((l) => (l.obj as { code?: string }).code === 'JIBU_DHIS2_UNAVAILABLE')).toBe(true);
  });

  it('a 409 dead-letters the refused write with the DHIS2 report, lands the others, and lands after the fix when retried', async () => {
    const w = await relayWorld(kind, { auth: { username: 'jibu.kilifi', password: 'Jibu-2025' } });
    const bahati = scheduledEvent(w.emu, DEMO.caregivers.missedInKwale.phone, 'Bahati'); // Kwale: no write access
    const neema = scheduledEvent(w.emu, PHONES.oneDue, 'Neema'); // Kilifi
    await w.queue.add([
      writeJob('reply-bahati-1', reschedule(bahati.event, '2025-03-12'), DEMO.caregivers.missedInKwale.phone),
      writeJob('reply-neema-4', confirm(neema.event)),
    ]);
    w.start();
    await drained(w.queue);

    expect(w.emu.state.notesOf(neema.event)).toHaveLength(1);
    expect(w.emu.state.notesOf(bahati.event)).toHaveLength(0);
    // One import refused as a whole (atomicMode=ALL), the clean write sent again at once.
    expect(w.imports()).toBe(2);
    const dead = await w.queue.deadLetters('outbox-dhis2');
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ id: 'reply-bahati-1', attempts: 1 });
    expect(dead[0]!.error).toMatch(/^DHIS2 rejected the write: E1000 EVENT /);
    expect(dead[0]!.detail).toMatchObject({
      reason: 'dhis2_rejected',
      op: 'event.reschedule',
      event: bahati.event,
      dhis2: {
        httpStatus: 409,
        status: 'ERROR',
        errors: [
          {
            code: 'E1000',
            trackerType: 'EVENT',
            uid: bahati.event,
            message: expect.stringContaining('has no write access'),
          },
        ],
      },
    });
    const logged = JSON.stringify(w.logger.lines);
    expect(logged).toContain('E1000');
    expect(logged).not.toContain(NOTE);
    expect(logged).not.toContain('Caregiver confirmed');
    expect(logged).not.toContain(DEMO.caregivers.missedInKwale.phone);
    expect(logged).not.toContain('has no write access');
    // Dead-lettered the one way every dead letter is: a warning with its code and the feed told it is final.
    expect(w.logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        obj: expect.objectContaining({ code: 'JIBU_DHIS2_REJECTED', jobId: 'reply-bahati-1' }),
      }),
    );
    expect(w.feed).toContainEqual(
      expect.objectContaining({ type: 'dhis2.failed', ids: ['reply-bahati-1'], permanent: true }),
    );

    // An admin gives the Jibu account write access to Kwale, then retries the dead letter.
    w.emu.state.users.get('JbUsrJibuKf')!.organisationUnits.push(OU.kwale);
    expect(await w.queue.retryDeadLetter('outbox-dhis2', 'reply-bahati-1')).toBe(true);
    await drained(w.queue);
    expect(await w.queue.deadLetters('outbox-dhis2')).toEqual([]);
    expect(w.emu.time.dateOf(bahati.scheduledAt!)).toBe('2025-03-12');
    expect(w.emu.state.notesOf(bahati.event)).toHaveLength(1);
  });

  it('an event deleted in DHIS2 is dead-lettered at once as gone, not retried', async () => {
    const w = await relayWorld(kind);
    const zuri = scheduledEvent(w.emu, PHONES.missedSeveral, 'Zuri');
    w.emu.state.events.get(zuri.event)!.deleted = true;
    w.emu.state.touch();
    await w.queue.add([writeJob('reply-zuri-1', confirm(zuri.event))]);
    w.start();
    await drained(w.queue);
    const dead = await w.queue.deadLetters('outbox-dhis2');
    expect(dead).toEqual([
      expect.objectContaining({
        id: 'reply-zuri-1',
        attempts: 1,
        error: expect.stringContaining(`DHIS2 event gone: event ${zuri.event} is not in DHIS2`),
        detail: expect.objectContaining({ reason: 'event_gone', event: zuri.event }),
      }),
    ]);
    expect(w.imports()).toBe(0);
    expect(w.logger.lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        obj: expect.objectContaining({ code: 'JIBU_DHIS2_REJECTED', jobId: 'reply-zuri-1', reason: 'event_gone' }),
      }),
    );
    expect(w.feed).toEqual([
      expect.objectContaining({
        type: 'dhis2.failed',
        ids: ['reply-zuri-1'],
        error: `event ${zuri.event} gone`,
        permanent: true,
      }),
    ]);
  });

  it('batches 250 writes into 3 import requests with maxBatch 100, one note per event', async () => {
    const w = await relayWorld(kind, { children: 320 });
    const targets = [...w.emu.state.events.values()]
      .filter((e) => e.programStage === EIR.immunizationStage && e.status === 'SCHEDULE')
      .slice(0, 250);
    expect(targets).toHaveLength(250);
    await w.queue.add(
      targets.map((e, i) => writeJob(`bulk-${i}`, i % 2 ? confirm(e.event) : reschedule(e.event, '2025-04-01'))),
    );
    w.start({ maxBatch: 100 });
    await drained(w.queue, 15_000);
    expect(w.imports()).toBe(3);
    expect(targets.every((e) => w.emu.state.notesOf(e.event).length === 1)).toBe(true);
    expect(targets.filter((_, i) => i % 2 === 0).every((e) => w.emu.time.dateOf(e.scheduledAt!) === '2025-04-01')).toBe(
      true,
    );
    // The current state of each batch's events is read in one request of up to 100 uids.
    expect(w.emu.requests.filter((r) => r.path === '/api/tracker/events').length).toBe(3);
  });

  it('keeps the read model coherent: a rescheduled missed visit shows its new date and leaves the defaulters at once', async () => {
    const w = await relayWorld(kind);
    const client = createDhis2Client({
      baseUrl: w.emu.baseUrl,
      auth: { token: w.emu.credentials.token },
      fetch: w.emu.fetch,
    });
    await syncReadModel({ client, store: w.store, deployment: defaultDeployment(), clock: w.clock, mode: 'full' });
    const imani = scheduledEvent(w.emu, PHONES.missedYesterday, 'Imani');
    const zuri = scheduledEvent(w.emu, PHONES.missedSeveral, 'Zuri');
    expect((await getDefaultersFor(w.store, [OU.kidutani])).map((d) => d.event)).toEqual(
      expect.arrayContaining([imani.event, zuri.event]),
    );

    await w.queue.add([
      writeJob('reply-imani-2', reschedule(imani.event, '2025-03-06')),
      // A case worker reports "vaccinated elsewhere": the visit is skipped.
      writeJob('outcome-zuri-1', {
        op: 'event.update',
        event: zuri.event,
        status: 'SKIPPED',
        note: 'Vaccinated elsewhere (case worker)',
      }),
    ]);
    w.start();
    await drained(w.queue);

    expect((await getCaregiver(w.store, PHONES.missedYesterday))?.children[0]?.next).toMatchObject({
      event: imani.event,
      scheduledAt: '2025-03-06',
    });
    expect(await w.store.getJson<EventSnapshot>(rmKeys.event(imani.event))).toMatchObject({
      scheduledAt: '2025-03-06T00:00:00.000',
      status: 'SCHEDULE',
    });
    const kidutani = (await getDefaultersFor(w.store, [OU.kidutani])).map((d) => d.event);
    expect(kidutani).not.toContain(imani.event);
    expect(kidutani).not.toContain(zuri.event);
    expect(await w.store.getJson(rmKeys.event(zuri.event))).toBeNull();
    // Zuri has no appointment left; she stays in the view without one until the next sync.
    expect((await getCaregiver(w.store, PHONES.missedSeveral))?.children).toEqual([
      expect.not.objectContaining({ next: expect.anything() }),
    ]);
    expect(w.emu.state.events.get(zuri.event)!.status).toBe('SKIPPED');
  });
});
