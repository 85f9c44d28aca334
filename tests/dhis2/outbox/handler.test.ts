import { afterEach, describe, expect, it } from 'vitest';
import { DEMO, EIR, type Emulator } from '../../../src/emulator/index.ts';
import { noteUid } from '../../../src/dhis2/outbox/index.ts';
import type { Dhis2Write } from '../../../src/dhis2/outbox/types.ts';
import { newUid } from '../../../src/dhis2/uid.ts';
import { NOW, PHONES, child, scheduledEvent } from '../helpers.ts';
import { batchHandlerOn } from './harness.ts';

const OU = DEMO.orgUnits;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** The relay's batch handler against an emulator, as the queue would call it. */
function handlerFor(opts: { version?: string; fetch?: (emu: Emulator) => typeof fetch } = {}) {
  const h = batchHandlerOn({ now: NOW, ...opts });
  closers.push(h.close);
  return h;
}

describe('DHIS2 outbox batch handler', () => {
  it('a job delivered twice (a worker died before acknowledging) leaves one note: the second import warns E1119', async () => {
    const { emu, run, imports } = handlerFor();
    const neema = scheduledEvent(emu, PHONES.oneDue, 'Neema');
    const write: Dhis2Write = {
      op: 'event.reschedule',
      event: neema.event,
      scheduledAt: '2025-03-12',
      note: 'Moved by caregiver (USSD)',
    };
    expect(await run([['reply-1', write]])).toEqual([{ ok: true }]);
    expect(await run([['reply-1', write]])).toEqual([{ ok: true }]);
    expect(imports().map((r) => r.status)).toEqual([200, 200]);
    expect(emu.state.notesOf(neema.event)).toEqual([
      expect.objectContaining({ note: noteUid('reply-1'), value: 'Moved by caregiver (USSD)' }),
    ]);
  });

  it('merges several writes to one event in queue order into one object of one import', async () => {
    const { emu, run, imports } = handlerFor();
    const amina = scheduledEvent(emu, PHONES.twoDue, 'Amina');
    const outcomes = await run([
      ['w1', { op: 'event.reschedule', event: amina.event, scheduledAt: '2025-03-09', note: 'first move' }],
      ['w2', { op: 'event.note', event: amina.event, note: 'confirmed' }],
      ['w3', { op: 'event.reschedule', event: amina.event, scheduledAt: '2025-03-14', note: 'second move' }],
    ]);
    expect(outcomes).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(imports()).toHaveLength(1);
    expect(emu.time.dateOf(amina.scheduledAt!)).toBe('2025-03-14');
    expect(emu.state.notesOf(amina.event).map((n) => [n.note, n.value])).toEqual([
      [noteUid('w1'), 'first move'],
      [noteUid('w2'), 'confirmed'],
      [noteUid('w3'), 'second move'],
    ]);
  });

  it('resends every scalar as read, so an update does not clear the follow-up flag or the geometry (2.40 spells it followup)', async () => {
    const { emu, run } = handlerFor({ version: '2.40' });
    const juma = scheduledEvent(emu, PHONES.twoDue, 'Juma');
    juma.followUp = true;
    juma.geometry = { type: 'Point', coordinates: [39.85, -3.95] };
    emu.state.touch();
    expect(await run([['n1', { op: 'event.note', event: juma.event, note: 'confirmed' }]])).toEqual([{ ok: true }]);
    expect(juma).toMatchObject({
      followUp: true,
      geometry: { type: 'Point', coordinates: [39.85, -3.95] },
      status: 'SCHEDULE',
      attributeOptionCombo: 'HllvX50cXC0',
    });
    expect(emu.state.notesOf(juma.event)).toHaveLength(1);
  });

  it.each(['2.38', '2.42'])('sets the follow-up flag on %s with that version’s spelling', async (version) => {
    const { emu, run } = handlerFor({ version });
    const imani = scheduledEvent(emu, PHONES.missedYesterday, 'Imani');
    expect(
      await run([
        ['f1', { op: 'event.update', event: imani.event, followUp: true, note: 'Not found at home (case worker)' }],
      ]),
    ).toEqual([{ ok: true }]);
    expect(imani.followUp).toBe(true);
  });

  it('two writes to one event, one of them refused: each is sent alone, the refused one is dead-lettered, the other lands', async () => {
    const { emu, run, imports } = handlerFor();
    const baraka = scheduledEvent(emu, PHONES.dueToday, 'Baraka');
    const outcomes = await run([
      // ACTIVE needs occurredAt (E1031).
      ['bad', { op: 'event.update', event: baraka.event, status: 'ACTIVE' }],
      ['good', { op: 'event.note', event: baraka.event, note: 'confirmed' }],
    ]);
    expect(outcomes[0]).toMatchObject({
      ok: false,
      permanent: true,
      error: expect.stringContaining('E1031'),
      detail: { reason: 'dhis2_rejected', dhis2: { errors: [expect.objectContaining({ code: 'E1031' })] } },
    });
    expect(outcomes[1]).toEqual({ ok: true });
    expect(imports().map((r) => r.status)).toEqual([409, 409, 200]);
    expect(baraka.status).toBe('SCHEDULE');
    expect(emu.state.notesOf(baraka.event).map((n) => n.value)).toEqual(['confirmed']);
  });

  it('a create whose body DHIS2 cannot read (400) is found by halving the batch; the other writes land', async () => {
    const { emu, run, imports } = handlerFor();
    const neema = scheduledEvent(emu, PHONES.oneDue, 'Neema');
    const juma = scheduledEvent(emu, PHONES.twoDue, 'Juma');
    const imani = scheduledEvent(emu, PHONES.missedYesterday, 'Imani');
    const bad: Dhis2Write = {
      op: 'tracker.create',
      events: [
        {
          event: newUid(),
          programStage: EIR.immunizationStage,
          enrollment: neema.enrollment,
          orgUnit: OU.jumba,
          status: 'NOT_A_STATUS',
          scheduledAt: '2025-04-01',
        },
      ],
    };
    const outcomes = await run([
      ['n1', { op: 'event.note', event: neema.event, note: 'a' }],
      ['c1', bad],
      ['n2', { op: 'event.note', event: juma.event, note: 'b' }],
      ['n3', { op: 'event.note', event: imani.event, note: 'c' }],
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, true]);
    expect(outcomes[1]).toMatchObject({
      permanent: true,
      detail: { reason: 'payload_refused', dhis2: { httpStatus: 400 } },
    });
    expect(imports().map((r) => r.status)).toEqual([400, 400, 200, 400, 200]);
    for (const e of [neema, juma, imani]) expect(emu.state.notesOf(e.event)).toHaveLength(1);
  });

  it('creates new objects with their client-made uids; sent again they update, they do not duplicate', async () => {
    const { emu, run } = handlerFor();
    const wema = child(emu, DEMO.caregivers.newborn.phone, 'Wema');
    const enrollment = emu.state.enrollmentsByTrackedEntity
      .get(wema.trackedEntity)!
      .find((en) => en.program === EIR.program)!.enrollment;
    const event = newUid();
    const create: Dhis2Write = {
      op: 'tracker.create',
      events: [
        {
          event,
          program: EIR.program,
          programStage: EIR.immunizationStage,
          enrollment,
          orgUnit: wema.orgUnit,
          status: 'SCHEDULE',
          scheduledAt: '2025-04-14',
        },
      ],
    };
    expect(await run([['birth-1', create]])).toEqual([{ ok: true }]);
    expect(await run([['birth-1', create]])).toEqual([{ ok: true }]);
    expect(emu.state.eventsOfTrackedEntity(wema.trackedEntity).filter((e) => e.event === event)).toHaveLength(1);
  });

  it('an event deleted between the read and the write (E1082) is dead-lettered as gone', async () => {
    let target = '';
    const { emu, run } = handlerFor({
      fetch: (emu) =>
        (async (input: string | URL | Request, init?: RequestInit) => {
          const req = new Request(input, init);
          if (req.method === 'POST' && new URL(req.url).pathname === '/api/tracker') {
            emu.state.events.get(target)!.deleted = true;
            emu.state.touch();
          }
          return emu.fetch(req);
        }) as typeof fetch,
    });
    target = scheduledEvent(emu, PHONES.missedSeveral, 'Zuri').event;
    const [outcome] = await run([['z1', { op: 'event.note', event: target, note: 'confirmed' }]]);
    expect(outcome).toMatchObject({
      ok: false,
      permanent: true,
      error: expect.stringMatching(/^DHIS2 event gone: E1082/),
      detail: { reason: 'event_gone', event: target },
    });
  });

  it('refuses malformed jobs and creates without client uids permanently, without calling DHIS2', async () => {
    const { emu, run } = handlerFor();
    const outcomes = await run([
      ['m1', { op: 'event.reschedule', event: 'not-a-uid', scheduledAt: '5 March', note: '' } as Dhis2Write],
      ['m2', { op: 'event.note', event: scheduledEvent(emu, PHONES.oneDue, 'Neema').event, note: '   ' }],
      ['m3', { op: 'tracker.create', events: [{ programStage: EIR.immunizationStage, status: 'SCHEDULE' }] }],
    ]);
    expect(outcomes.every((o) => !o.ok && o.permanent)).toBe(true);
    expect(outcomes[0]).toMatchObject({
      detail: {
        reason: 'invalid_job',
        problems: expect.arrayContaining([
          expect.stringContaining('payload.event'),
          expect.stringContaining('payload.scheduledAt'),
        ]),
      },
    });
    expect(outcomes[2]).toMatchObject({ error: expect.stringContaining('client-made DHIS2 uid') });
    expect(emu.requests).toHaveLength(0);
  });

  it('a read that fails (DHIS2 down) leaves every write for a retry', async () => {
    const { emu, run } = handlerFor();
    emu.faults.down = true;
    const outcomes = await run([
      ['d1', { op: 'event.note', event: scheduledEvent(emu, PHONES.oneDue, 'Neema').event, note: 'x' }],
    ]);
    expect(outcomes).toEqual([
      expect.objectContaining({ ok: false, permanent: false, detail: { reason: 'dhis2_unavailable' } }),
    ]);
  });
});
