import { describe, expect, it } from 'vitest';
import { DEMO, EIR, type Emulator } from '../../src/emulator/index.ts';
import { newUid } from '../../src/dhis2/uid.ts';
import { emulator, PHONES, raw, scheduledEvent } from './helpers.ts';

const STAGE = EIR.immunizationStage;
const SYNC = '/api/tracker?async=false';

type Report = {
  status: string;
  validationReport: { errorReports: Array<Record<string, unknown>>; warningReports: Array<Record<string, unknown>> };
  stats: Record<string, number>;
  bundleReport?: Record<string, unknown>;
};

async function post(emu: Emulator, query: string, payload: unknown): Promise<{ status: number; report: Report }> {
  const r = await raw(emu, `${SYNC}${query}`, { json: payload });
  return { status: r.status, report: r.body as Report };
}

/** The event as DHIS2 exports it, minus notes: what a well-behaved client sends back on update. */
async function readEvent(emu: Emulator, uid: string): Promise<Record<string, unknown>> {
  const { notes: _notes, ...event } = (await raw(emu, `/api/tracker/events/${uid}`)).body as Record<string, unknown>;
  return event;
}

const codes = (r: Report) => r.validationReport.errorReports.map((e) => e.errorCode);

function newScheduled(emu: Emulator, overrides: Record<string, unknown> = {}) {
  const base = scheduledEvent(emu, PHONES.oneDue, 'Neema');
  return {
    event: newUid(),
    program: EIR.program,
    programStage: STAGE,
    enrollment: base.enrollment,
    orgUnit: base.orgUnit,
    status: 'SCHEDULE',
    scheduledAt: '2025-04-01',
    ...overrides,
  };
}

describe('tracker import validation codes', () => {
  it('E1030: creating an event whose uid exists; E1032: updating one that does not', async () => {
    const emu = emulator('2.40');
    const existing = await readEvent(emu, scheduledEvent(emu, PHONES.oneDue, 'Neema').event);
    const create = await post(emu, '&importStrategy=CREATE', { events: [existing] });
    expect(create.status).toBe(409);
    expect(codes(create.report)).toEqual(['E1030']);
    const ghost = newScheduled(emu);
    const update = await post(emu, '&importStrategy=UPDATE', { events: [ghost] });
    expect(update.report.validationReport.errorReports[0]).toMatchObject({
      errorCode: 'E1032',
      trackerType: 'EVENT',
      uid: ghost.event,
      message: `Event: \`${ghost.event}\`, do not exist.`,
    });
  });

  it('E1031: ACTIVE or COMPLETED without occurredAt; E1050: SCHEDULE without scheduledAt', async () => {
    const emu = emulator('2.40');
    expect(
      codes(
        (await post(emu, '', { events: [newScheduled(emu, { status: 'ACTIVE', scheduledAt: undefined })] })).report,
      ),
    ).toEqual(['E1031']);
    expect(codes((await post(emu, '', { events: [newScheduled(emu, { status: 'COMPLETED' })] })).report)).toEqual([
      'E1031',
    ]);
    expect(codes((await post(emu, '', { events: [newScheduled(emu, { scheduledAt: undefined })] })).report)).toEqual([
      'E1050',
    ]);
  });

  it('E1128: an update may not move an event to another stage or enrollment', async () => {
    const emu = emulator('2.40');
    const event = await readEvent(emu, scheduledEvent(emu, PHONES.oneDue, 'Neema').event);
    const other = scheduledEvent(emu, PHONES.dueToday, 'Baraka').enrollment;
    const r = await post(emu, '&importStrategy=UPDATE', { events: [{ ...event, enrollment: other }] });
    expect(r.report.validationReport.errorReports[0]).toMatchObject({
      errorCode: 'E1128',
      message: 'Not allowed to update Event property: enrollment.',
    });
  });

  it('E1316: a completed visit cannot go back to SCHEDULE (late patches only)', async () => {
    const visit = (emu: Emulator) =>
      emu.state
        .eventsOfTrackedEntity(scheduledEvent(emu, PHONES.visitedYesterday, 'Tumaini').trackedEntity)
        .find((e) => e.programStage === STAGE && e.status === 'COMPLETED')!;
    const backToSchedule = async (version: string) => {
      const emu = emulator(version);
      const event = await readEvent(emu, visit(emu).event);
      return post(emu, '&importStrategy=UPDATE', {
        events: [{ ...event, status: 'SCHEDULE', scheduledAt: '2025-03-20', completedAt: undefined, dataValues: [] }],
      });
    };
    const v40 = await backToSchedule('2.40');
    expect(v40.report.validationReport.errorReports[0]).toMatchObject({
      errorCode: 'E1316',
      message: 'No event can transition from status `COMPLETED` to status `SCHEDULE`.',
    });
    expect((await backToSchedule('2.38')).status).toBe(200);
  });

  it.each([
    ['2.38', false],
    ['2.39.5', false],
    ['2.39.6', true],
    ['2.40.4', false],
    ['2.40', true],
    ['2.41.0', false],
    ['2.41.1', true],
    ['2.42.0', true],
  ])('E1315 on %s: data values on a SCHEDULE event refused = %s', async (version, refused) => {
    const emu = emulator(version);
    const r = await post(emu, '', {
      events: [newScheduled(emu, { dataValues: [{ dataElement: EIR.dataElements.opv1, value: 'true' }] })],
    });
    expect(codes(r.report)).toEqual(refused ? ['E1315'] : []);
  });

  it('E1039: a second Birth details event in one enrollment (non-repeatable stage)', async () => {
    const emu = emulator('2.40');
    const r = await post(emu, '', {
      events: [
        newScheduled(emu, {
          programStage: EIR.birthStage,
          status: 'COMPLETED',
          occurredAt: '2025-01-22',
          scheduledAt: undefined,
        }),
      ],
    });
    expect(codes(r.report)).toEqual(['E1039']);
  });

  it('E1033: an event without an existing enrollment; E1068: an enrollment of an unknown tracked entity', async () => {
    const emu = emulator('2.40');
    expect(codes((await post(emu, '', { events: [newScheduled(emu, { enrollment: newUid() })] })).report)).toEqual([
      'E1033',
    ]);
    const en = {
      enrollment: newUid(),
      trackedEntity: newUid(),
      program: EIR.program,
      orgUnit: DEMO.orgUnits.jumba,
      enrolledAt: '2025-03-01',
    };
    expect(codes((await post(emu, '', { enrollments: [en] })).report)).toEqual(['E1068']);
  });

  it('E1048: a malformed uid', async () => {
    const emu = emulator('2.40');
    expect(
      (await post(emu, '', { events: [newScheduled(emu, { event: 'not-a-uid' })] })).report.validationReport
        .errorReports[0],
    ).toMatchObject({ errorCode: 'E1048', uid: 'not-a-uid' });
  });

  it('E1007: phone numbers are checked from 2.39, not on 2.38', async () => {
    const register = async (version: string) => {
      const emu = emulator(version);
      return post(emu, '', {
        trackedEntities: [
          {
            trackedEntity: newUid(),
            trackedEntityType: EIR.trackedEntityType,
            orgUnit: DEMO.orgUnits.jumba,
            attributes: [{ attribute: EIR.attributes.phone, value: 'call me maybe' }],
          },
        ],
      });
    };
    expect(codes((await register('2.39')).report)).toEqual(['E1007']);
    expect((await register('2.38')).status).toBe(200);
  });

  it('E1119: a note uid that already exists is skipped with a warning, and the import is a WARNING', async () => {
    const emu = emulator('2.40');
    const target = scheduledEvent(emu, PHONES.oneDue, 'Neema').event;
    const event = await readEvent(emu, target);
    const note = { note: newUid(), value: 'Confirmed by SMS' };
    expect(
      (await post(emu, '&importStrategy=UPDATE&reportMode=WARNINGS', { events: [{ ...event, notes: [note] }] })).report
        .status,
    ).toBe('OK');
    const again = await post(emu, '&importStrategy=UPDATE&reportMode=WARNINGS', {
      events: [{ ...event, notes: [note, { value: '   ' }] }],
    });
    expect(again.status).toBe(200);
    expect(again.report.status).toBe('WARNING');
    expect(again.report.validationReport.warningReports).toEqual([
      expect.objectContaining({ errorCode: 'E1119', trackerType: 'EVENT', uid: target }),
    ]);
    expect(emu.state.notesOf(target)).toEqual([
      expect.objectContaining({
        note: note.note,
        value: 'Confirmed by SMS',
        storedBy: 'admin',
        storedAt: new Date('2025-03-03T06:00:00Z').getTime(),
      }),
    ]);
    // reportMode=ERRORS (the default) keeps the key but drops the warnings.
    const quiet = await post(emu, '&importStrategy=UPDATE', { events: [{ ...event, notes: [note] }] });
    expect(quiet.report).toMatchObject({ status: 'WARNING', validationReport: { warningReports: [] } });
  });
});

describe('creating people (births)', () => {
  it('accepts a flat payload linked by client-made uids, and fills server timestamps and storedBy', async () => {
    const emu = emulator('2.41');
    const te = newUid();
    const en = newUid();
    const ev = newUid();
    const ou = DEMO.orgUnits.mwele;
    const r = await post(emu, '&importStrategy=CREATE', {
      trackedEntities: [
        {
          trackedEntity: te,
          trackedEntityType: EIR.trackedEntityType,
          orgUnit: ou,
          attributes: [{ attribute: EIR.attributes.firstName, value: 'Nuru' }],
        },
      ],
      enrollments: [
        {
          enrollment: en,
          trackedEntity: te,
          program: EIR.program,
          orgUnit: ou,
          enrolledAt: '2025-03-01',
          attributes: [{ attribute: EIR.attributes.phone, value: '+254700000088' }],
        },
      ],
      events: [
        { event: ev, enrollment: en, programStage: STAGE, orgUnit: ou, status: 'SCHEDULE', scheduledAt: '2025-04-12' },
      ],
    });
    expect(r.report).toMatchObject({ status: 'OK', stats: { created: 3, updated: 0, ignored: 0, total: 3 } });
    expect(emu.state.trackedEntities.get(te)!.attributes).toEqual({
      [EIR.attributes.firstName]: 'Nuru',
      [EIR.attributes.phone]: '+254700000088',
    });
    const stored = (await raw(emu, `/api/tracker/events/${ev}`)).body as Record<string, unknown>;
    expect(stored).toMatchObject({
      program: EIR.program,
      trackedEntity: te,
      storedBy: 'admin',
      createdAt: '2025-03-03T09:00:00.000',
      updatedAt: '2025-03-03T09:00:00.000',
      scheduledAt: '2025-04-12T00:00:00.000',
    });
  });

  it('E1015: a second active enrollment in the same programme', async () => {
    const emu = emulator('2.41');
    const te = scheduledEvent(emu, PHONES.oneDue, 'Neema').trackedEntity;
    const r = await post(emu, '', {
      enrollments: [
        {
          enrollment: newUid(),
          trackedEntity: te,
          program: EIR.program,
          orgUnit: DEMO.orgUnits.jumba,
          enrolledAt: '2025-03-01',
        },
      ],
    });
    expect(r.report.validationReport.errorReports[0]).toMatchObject({
      errorCode: 'E1015',
      trackerType: 'ENROLLMENT',
      args: [te, EIR.program],
    });
  });
});

describe('atomic modes, import modes and update semantics', () => {
  it('atomicMode=ALL saves nothing when one object fails: all ignored, no bundleReport, HTTP 409', async () => {
    const emu = emulator('2.40');
    const good = newScheduled(emu);
    const bad = newScheduled(emu, { scheduledAt: undefined });
    const r = await post(emu, '&atomicMode=ALL', { events: [good, bad] });
    expect(r.status).toBe(409);
    expect(r.report).toStrictEqual({
      status: 'ERROR',
      validationReport: {
        errorReports: [
          { message: 'Event ScheduledAt date is missing.', errorCode: 'E1050', trackerType: 'EVENT', uid: bad.event },
        ],
        warningReports: [],
      },
      stats: { created: 0, updated: 0, deleted: 0, ignored: 2, total: 2 },
    });
    expect(emu.state.events.has(good.event)).toBe(false);
  });

  it('atomicMode=OBJECT saves the valid objects and still answers ERROR with a bundleReport', async () => {
    const emu = emulator('2.40');
    const good = newScheduled(emu);
    const bad = newScheduled(emu, { scheduledAt: undefined });
    const r = await post(emu, '&atomicMode=OBJECT', { events: [good, bad] });
    expect(r.status).toBe(409);
    expect(r.report.stats).toEqual({ created: 1, updated: 0, deleted: 0, ignored: 1, total: 2 });
    expect(r.report.bundleReport).toMatchObject({
      typeReportMap: {
        EVENT: { objectReports: [{ trackerType: 'EVENT', uid: good.event, index: 0, errorReports: [] }] },
      },
    });
    expect(emu.state.events.has(good.event)).toBe(true);
  });

  it('importMode=VALIDATE checks without saving', async () => {
    const emu = emulator('2.40');
    const good = newScheduled(emu);
    const r = await post(emu, '&importMode=VALIDATE', { events: [good] });
    expect(r.report.status).toBe('OK');
    expect(emu.state.events.has(good.event)).toBe(false);
  });

  it('an update replaces every scalar (omitted ones are cleared) and merges data values; null deletes one', async () => {
    const emu = emulator('2.40');
    const visit = emu.state
      .eventsOfTrackedEntity(scheduledEvent(emu, PHONES.visitedYesterday, 'Tumaini').trackedEntity)
      .find((e) => e.programStage === STAGE && e.status === 'COMPLETED' && (e.dataValues?.length ?? 0) > 2)!;
    const before = visit.dataValues!.map((d) => d.dataElement);
    const event = await readEvent(emu, visit.event);
    const { followup: _f, dataValues: _d, ...scalars } = event;
    const r = await post(emu, '&importStrategy=UPDATE', {
      events: [
        {
          ...scalars,
          followup: true,
          dataValues: [
            { dataElement: before[0], value: null },
            { dataElement: EIR.dataElements.vaccinationPlace, value: 'Outreach' },
          ],
        },
      ],
    });
    expect(r.report.status).toBe('OK');
    const after = emu.state.events.get(visit.event)!;
    expect(after.followUp).toBe(true);
    expect(after.dataValues!.map((d) => d.dataElement).sort()).toEqual(before.slice(1).sort());
    expect(after.dataValues!.find((d) => d.dataElement === EIR.dataElements.vaccinationPlace)!.value).toBe('Outreach');
    // Omitting followup on the next update clears it: scalars are not merged.
    await post(emu, '&importStrategy=UPDATE', { events: [scalars] });
    expect(emu.state.events.get(visit.event)!.followUp).toBe(false);
  });

  it('≤2.40 ignore a followUp key on import (the flag is spelt followup there)', async () => {
    const emu = emulator('2.40');
    const event = await readEvent(emu, scheduledEvent(emu, PHONES.oneDue, 'Neema').event);
    const { followup: _f, ...rest } = event;
    await post(emu, '&importStrategy=UPDATE', { events: [{ ...rest, followUp: true }] });
    expect(emu.state.events.get(event.event as string)!.followUp).toBe(false);
  });

  it('DELETE soft-deletes a tracked entity with its enrollments and events', async () => {
    const emu = emulator('2.42');
    const te = scheduledEvent(emu, PHONES.oneDue, 'Neema').trackedEntity;
    const r = await post(emu, '&importStrategy=DELETE', { trackedEntities: [{ trackedEntity: te }] });
    expect(r.report.stats).toMatchObject({ deleted: 1 });
    expect(emu.state.trackedEntities.get(te)!.deleted).toBe(true);
    expect(emu.state.eventsOfTrackedEntity(te).every((e) => e.deleted)).toBe(true);
    expect((await raw(emu, `/api/tracker/trackedEntities/${te}`)).status).toBe(404);
  });

  it('report fields differ by version: bundleReport.status ≤2.39, objectReports index ≤2.40, args from 2.41', async () => {
    const shape = async (version: string) => {
      const emu = emulator(version);
      const ok = await post(emu, '', { events: [newScheduled(emu)] });
      const bad = await post(emu, '', { events: [newScheduled(emu, { scheduledAt: undefined, event: 'bad' })] });
      const objectReport = (
        ok.report.bundleReport as { typeReportMap: { EVENT: { objectReports: Array<Record<string, unknown>> } } }
      ).typeReportMap.EVENT.objectReports[0]!;
      return {
        bundleStatus: 'status' in ok.report.bundleReport!,
        index: 'index' in objectReport,
        args: 'args' in bad.report.validationReport.errorReports[0]!,
      };
    };
    expect(await shape('2.38')).toEqual({ bundleStatus: true, index: true, args: false });
    expect(await shape('2.40')).toEqual({ bundleStatus: false, index: true, args: false });
    expect(await shape('2.41')).toEqual({ bundleStatus: false, index: false, args: true });
  });
});

describe('sync and async imports', () => {
  it('runs asynchronously unless async is the literal lowercase false (≤2.41); 2.42 reads a boolean', async () => {
    const isJob = async (version: string, query: string) => {
      const emu = emulator(version);
      const r = await raw(emu, `/api/tracker${query}`, { json: { events: [newScheduled(emu)] } });
      return (r.body as { response?: { responseType?: string } }).response?.responseType === 'TrackerJob';
    };
    expect(await isJob('2.40', '')).toBe(true);
    expect(await isJob('2.40', '?async=FALSE')).toBe(true);
    expect(await isJob('2.40', '?async=false')).toBe(false);
    expect(await isJob('2.42', '?async=FALSE')).toBe(false);
  });

  it('an async job reports through /jobs/{id} and /jobs/{id}/report (404 until it has run)', async () => {
    const emu = emulator('2.41');
    const event = newScheduled(emu);
    const added = await raw(emu, '/api/tracker', { json: { events: [event] } });
    expect(added.body).toMatchObject({
      httpStatus: 'OK',
      httpStatusCode: 200,
      status: 'OK',
      message: 'Tracker job added',
      response: { responseType: 'TrackerJob', id: expect.any(String) },
    });
    const id = (added.body as { response: { id: string; location: string } }).response.id;
    expect((added.body as { response: { location: string } }).response.location).toBe(
      `${emu.baseUrl}/api/tracker/jobs/${id}`,
    );
    expect((await raw(emu, `/api/tracker/jobs/${id}/report`)).status).toBe(404);
    await new Promise((r) => setImmediate(r));
    const notes = (await raw(emu, `/api/tracker/jobs/${id}`)).body as Array<{ completed: boolean; category: string }>;
    expect(notes[0]).toMatchObject({ completed: true, category: 'TRACKER_IMPORT_JOB' });
    expect((await raw(emu, `/api/tracker/jobs/${id}/report`)).body).toMatchObject({
      status: 'OK',
      stats: { created: 1 },
    });
    expect(emu.state.events.has(event.event)).toBe(true);
  });
});

describe('2.42 note endpoints', () => {
  it('adds a note to an event; refuses empty values and existing uids; unknown on 2.41', async () => {
    const emu = emulator('2.42');
    const target = scheduledEvent(emu, PHONES.oneDue, 'Neema').event;
    const uid = newUid();
    const ok = await raw(emu, `/api/tracker/events/${target}/note`, {
      json: { note: uid, value: 'Caregiver confirmed' },
    });
    expect(ok).toMatchObject({
      status: 200,
      body: { note: uid, value: 'Caregiver confirmed', storedBy: 'admin', storedAt: '2025-03-03T09:00:00.000' },
    });
    expect(
      (await raw(emu, `/api/tracker/events/${target}/note`, { json: { note: uid, value: 'again' } })).body,
    ).toMatchObject({ httpStatusCode: 400, message: `Note \`${uid}\` already exists.` });
    expect((await raw(emu, `/api/tracker/events/${target}/note`, { json: { value: '' } })).body).toMatchObject({
      httpStatusCode: 400,
      message: 'Value cannot be empty',
    });
    expect((await raw(emu, `/api/tracker/events/${newUid()}/note`, { json: { value: 'x' } })).status).toBe(404);
    expect(emu.state.notesOf(target)).toHaveLength(1);
    const v41 = emulator('2.41');
    expect(
      (
        await raw(v41, `/api/tracker/events/${scheduledEvent(v41, PHONES.oneDue, 'Neema').event}/note`, {
          json: { value: 'x' },
        })
      ).status,
    ).toBe(404);
  });
});

describe('fault injection', () => {
  it('can lose only the answer of an import that was applied (afterCommit)', async () => {
    const emu = emulator('2.40');
    const event = newScheduled(emu);
    emu.faults.failNext(1, 503, { onlyImports: true, afterCommit: true });
    expect((await raw(emu, '/api/system/info')).status).toBe(200);
    expect((await raw(emu, SYNC, { json: { events: [event] } })).status).toBe(503);
    expect(emu.state.events.has(event.event)).toBe(true);
    expect((await raw(emu, SYNC, { json: { events: [event] } })).status).toBe(200);
  });
});
