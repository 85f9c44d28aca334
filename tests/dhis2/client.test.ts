import { beforeEach, describe, expect, it } from 'vitest';
import type { Dhis2Client } from '../../src/dhis2/client.ts';
import { DEMO, EIR, makeToken, type Emulator } from '../../src/emulator/index.ts';
import { Dhis2AuthError, Dhis2TransportError } from '../../src/dhis2/errors.ts';
import { eventUpdate, type TrackerPayload } from '../../src/dhis2/payloads.ts';
import { newUid } from '../../src/dhis2/uid.ts';
import { clientFor, emulator, PHONES, scheduledEvent, TODAY } from './helpers.ts';

const STAGE = EIR.immunizationStage;

describe.each([
  ['2.38', 38],
  ['2.40', 40],
  ['2.41', 41],
  ['2.42', 42],
])('the DHIS2 client against the emulator at %s', (version, minor) => {
  let emu: Emulator;
  let client: Dhis2Client;

  beforeEach(() => {
    // 120 children still give more than 50 scheduled events, so listings must page.
    emu = emulator(version, { seed: { children: 120 } });
    client = clientFor(emu);
  });

  const countRequests = (path: string) => emu.requests.filter((r) => r.path === path).length;

  it('detects the server version once and reuses it for every later call', async () => {
    const v = await client.version();
    await client.events({ programStage: STAGE, pageSize: 1 });
    await client.trackedEntities({ program: EIR.program, orgUnitMode: 'CAPTURE', pageSize: 1 });
    expect(v.minor).toBe(minor);
    expect(v.raw).toBe(emu.version.raw);
    expect(countRequests('/api/system/info')).toBe(1);
  });

  it('pages through every scheduled event past the default page of 50, always naming the page size', async () => {
    const expected = [...emu.state.events.values()]
      .filter((e) => e.programStage === STAGE && e.status === 'SCHEDULE' && !e.deleted)
      .map((e) => e.event);
    const seen: string[] = [];
    for await (const e of client.iterateEvents({
      programStage: STAGE,
      status: 'SCHEDULE',
      pageSize: 40,
      order: 'scheduledAt:asc',
    }))
      seen.push(e.event);
    expect(expected.length).toBeGreaterThan(50);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.sort()).toEqual(expected.sort());
    const pages = emu.requests.filter((r) => r.path === '/api/tracker/events');
    expect(pages.length).toBe(Math.ceil(expected.length / 40) + (expected.length % 40 === 0 ? 1 : 0));
    for (const p of pages) expect(p.search).toContain('pageSize=40');
  });

  it('computes OVERDUE: scheduled events dated before today, returned with status SCHEDULE', async () => {
    const page = await client.events({
      programStage: STAGE,
      status: 'OVERDUE',
      paging: false,
      fields: 'event,status,scheduledAt',
    });
    const uids = page.items.map((e) => e.event);
    expect(page.items.length).toBeGreaterThan(3);
    for (const e of page.items) {
      expect(e.status).toBe('SCHEDULE');
      expect(e.scheduledAt!.slice(0, 10) < TODAY).toBe(true);
    }
    expect(uids).toContain(scheduledEvent(emu, PHONES.missedYesterday, 'Imani').event);
    expect(uids).toContain(scheduledEvent(emu, PHONES.missedSeveral, 'Zuri').event);
    expect(uids).not.toContain(scheduledEvent(emu, PHONES.dueToday, 'Baraka').event);
  });

  it('finds the children of a caregiver by phone, sending the + as %2B', async () => {
    const page = await client.trackedEntities({
      program: EIR.program,
      orgUnitMode: 'CAPTURE',
      filters: [{ attribute: EIR.attributes.phone, op: 'eq', value: PHONES.twoDue }],
      fields: 'trackedEntity,attributes[attribute,value]',
    });
    const names = page.items
      .map((te) => te.attributes?.find((a) => a.attribute === EIR.attributes.firstName)?.value)
      .sort();
    expect(names).toEqual(['Amina', 'Juma']);
    const request = emu.requests.find((r) => r.path === '/api/tracker/trackedEntities')!;
    expect(request.search).toContain('%2B254700000001');
    expect(request.search).toContain(minor <= 40 ? 'ouMode=CAPTURE' : 'orgUnitMode=CAPTURE');
  });

  it('finds a case worker by phone with the paths of their org units', async () => {
    const users = await client.usersByPhone(DEMO.caseWorkers.kidutani.phone);
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ username: 'cw.zawadi', phoneNumber: '+254711000001', disabled: false });
    expect(users[0]!.organisationUnits).toEqual([
      {
        id: DEMO.orgUnits.kidutani,
        path: `/${DEMO.orgUnits.country}/${DEMO.orgUnits.kilifi}/${DEMO.orgUnits.mtwapa}/${DEMO.orgUnits.kidutani}`,
      },
    ]);
    expect(await client.usersByPhone(DEMO.unknownPhone)).toEqual([]);
  });

  it('scopes events by org unit mode, using the version’s parameter name', async () => {
    const under = (root: string) =>
      [...emu.state.events.values()].filter(
        (e) => !e.deleted && e.programStage === STAGE && emu.state.isWithin(e.orgUnit, root),
      ).length;
    const count = async (orgUnit: string, orgUnitMode: 'SELECTED' | 'CHILDREN' | 'DESCENDANTS') =>
      (await client.events({ programStage: STAGE, orgUnit, orgUnitMode, paging: false, fields: 'event' })).items.length;
    expect(await count(DEMO.orgUnits.mtwapa, 'SELECTED')).toBe(0);
    expect(await count(DEMO.orgUnits.mtwapa, 'CHILDREN')).toBe(under(DEMO.orgUnits.mtwapa));
    expect(await count(DEMO.orgUnits.kilifi, 'DESCENDANTS')).toBe(under(DEMO.orgUnits.kilifi));
    expect(await count(DEMO.orgUnits.kidutani, 'SELECTED')).toBe(under(DEMO.orgUnits.kidutani));
    expect(under(DEMO.orgUnits.kilifi)).toBeGreaterThan(under(DEMO.orgUnits.mtwapa));
    const search = emu.requests.filter((r) => r.path === '/api/tracker/events').map((r) => r.search);
    for (const s of search) expect(s).toMatch(minor <= 40 ? /[?&]ouMode=/ : /[?&]orgUnitMode=/);
  });

  it('gets the same day-inclusive window on every version by sending T23:59:59 for Before', async () => {
    const target = scheduledEvent(emu, PHONES.oneDue, 'Neema');
    // Move one appointment to 10:00 so a start-of-day reading of the bound (2.38) would miss it.
    const event = (await client.event(target.event))!;
    expect(
      (
        await client.importTracker(
          { events: [eventUpdate(event, { scheduledAt: '2025-03-06T10:00:00' })] },
          { importStrategy: 'UPDATE' },
        )
      ).status,
    ).toBe('OK');
    const page = await client.events({
      programStage: STAGE,
      scheduledAfter: '2025-03-06',
      scheduledBefore: '2025-03-06',
      paging: false,
      fields: 'event',
    });
    expect(page.items.map((e) => e.event)).toContain(target.event);
    expect(emu.requests.at(-1)!.search).toContain('scheduledBefore=2025-03-06T23%3A59%3A59');
  });

  it('reschedules an event with a note; resending the same write warns E1119 and still leaves one note', async () => {
    const target = scheduledEvent(emu, PHONES.oneDue, 'Neema');
    const read = (await client.event(target.event))!;
    expect(read.notes ?? []).toEqual([]);
    const write: TrackerPayload = {
      events: [
        eventUpdate(read, { scheduledAt: '2025-03-10' }, [
          { note: newUid(), value: 'Caregiver asked to move the visit (SMS)' },
        ]),
      ],
    };
    expect(write.events![0]).not.toHaveProperty('dataValues');

    const first = await client.importTracker(write, { importStrategy: 'UPDATE' });
    expect(first).toMatchObject({
      status: 'OK',
      httpStatus: 200,
      errors: [],
      warnings: [],
      stats: { updated: 1, ignored: 0 },
    });
    const second = await client.importTracker(write, { importStrategy: 'UPDATE' });
    expect(second.status).toBe('WARNING');
    expect(second.warnings).toEqual([
      expect.objectContaining({ code: 'E1119', trackerType: 'EVENT', uid: target.event }),
    ]);

    const after = (await client.event(target.event))!;
    expect(after.scheduledAt).toBe('2025-03-10T00:00:00.000');
    expect(after.status).toBe('SCHEDULE');
    expect(after.notes).toHaveLength(1);
    expect(after.notes![0]).toMatchObject({ value: 'Caregiver asked to move the visit (SMS)', storedBy: 'admin' });
    expect(emu.state.notesOf(target.event)).toHaveLength(1);
  });

  it('writes the follow-up flag with the version’s spelling and reads it back as followUp', async () => {
    const target = scheduledEvent(emu, PHONES.twoDue, 'Amina');
    const read = (await client.event(target.event))!;
    expect(read.followUp).toBe(false);
    const r = await client.importTracker(
      { events: [eventUpdate(read, { followUp: true })] },
      { importStrategy: 'UPDATE' },
    );
    expect(r.status).toBe('OK');
    expect(emu.state.events.get(target.event)!.followUp).toBe(true);
    expect((await client.event(target.event, 'event,followUp'))!.followUp).toBe(true);
  });

  it(`${minor === 38 ? 'accepts' : 'refuses with E1315'} data values on a scheduled event`, async () => {
    const target = scheduledEvent(emu, PHONES.dueToday, 'Baraka');
    const read = (await client.event(target.event))!;
    const payload = {
      events: [{ ...eventUpdate(read), dataValues: [{ dataElement: EIR.dataElements.opv3, value: 'true' }] }],
    };
    const r = await client.importTracker(payload, { importStrategy: 'UPDATE' });
    if (minor === 38) {
      expect(r.status).toBe('OK');
      expect(emu.state.events.get(target.event)!.dataValues).toHaveLength(1);
    } else {
      expect(r).toMatchObject({
        status: 'ERROR',
        httpStatus: 409,
        errors: [expect.objectContaining({ code: 'E1315', uid: target.event, trackerType: 'EVENT' })],
      });
      expect(emu.state.events.get(target.event)!.dataValues).toBeUndefined();
    }
  });

  it('returns a 409 import report as a result with the DHIS2 codes instead of throwing', async () => {
    const ghost = newUid();
    const r = await client.importTracker(
      {
        events: [
          {
            event: ghost,
            programStage: STAGE,
            orgUnit: DEMO.orgUnits.kidutani,
            status: 'SCHEDULE',
            scheduledAt: '2025-03-10',
            enrollment: newUid(),
          },
        ],
      },
      { importStrategy: 'UPDATE' },
    );
    expect(r.status).toBe('ERROR');
    expect(r.httpStatus).toBe(409);
    expect(r.errors).toEqual([expect.objectContaining({ code: 'E1032', uid: ghost, trackerType: 'EVENT' })]);
    expect(r.errors[0]!.message).toContain(ghost);
    expect(r.stats).toMatchObject({ created: 0, updated: 0, ignored: 1 });
  });

  it('registers a birth: a tracked entity with a nested enrollment and events, found afterwards by phone', async () => {
    const te = newUid();
    const phone = '+254700000077';
    const r = await client.importTracker({
      trackedEntities: [
        {
          trackedEntity: te,
          trackedEntityType: EIR.trackedEntityType,
          orgUnit: DEMO.orgUnits.jumba,
          attributes: [
            { attribute: EIR.attributes.firstName, value: 'Nia' },
            { attribute: EIR.attributes.dateOfBirth, value: '2025-03-02' },
            { attribute: EIR.attributes.phone, value: phone },
          ],
          enrollments: [
            {
              enrollment: newUid(),
              program: EIR.program,
              orgUnit: DEMO.orgUnits.jumba,
              enrolledAt: '2025-03-02',
              events: [
                {
                  event: newUid(),
                  programStage: EIR.birthStage,
                  orgUnit: DEMO.orgUnits.jumba,
                  status: 'COMPLETED',
                  occurredAt: '2025-03-02',
                },
                {
                  event: newUid(),
                  programStage: STAGE,
                  orgUnit: DEMO.orgUnits.jumba,
                  status: 'SCHEDULE',
                  scheduledAt: '2025-04-13',
                },
              ],
            },
          ],
        },
      ],
    });
    expect(r).toMatchObject({ status: 'OK', stats: { created: 4, ignored: 0 } });
    const found = await client.trackedEntities({
      program: EIR.program,
      orgUnitMode: 'CAPTURE',
      filters: [{ attribute: EIR.attributes.phone, op: 'eq', value: phone }],
      fields: 'trackedEntity',
    });
    expect(found.items.map((t) => t.trackedEntity)).toEqual([te]);
  });

  it('lists a child’s enrollments and iterates the children of a village', async () => {
    const amina = scheduledEvent(emu, PHONES.twoDue, 'Amina');
    const enrollments = await client.enrollments({
      program: EIR.program,
      trackedEntity: amina.trackedEntity,
      orgUnitMode: 'ACCESSIBLE',
      fields: 'enrollment,status,orgUnit',
    });
    expect(enrollments.items).toEqual([
      { enrollment: amina.enrollment, status: 'ACTIVE', orgUnit: DEMO.orgUnits.kidutani },
    ]);
    const inVillage = [...emu.state.trackedEntities.values()]
      .filter((t) => t.orgUnit === DEMO.orgUnits.kidutani)
      .map((t) => t.trackedEntity);
    const seen: string[] = [];
    for await (const te of client.iterateTrackedEntities({
      program: EIR.program,
      orgUnits: [DEMO.orgUnits.kidutani],
      pageSize: 3,
      fields: 'trackedEntity',
    }))
      seen.push(te.trackedEntity);
    expect(seen.sort()).toEqual(inVillage.sort());
    expect(inVillage.length).toBeGreaterThan(3);
  });

  it('returns null for an event DHIS2 does not have', async () => {
    expect(await client.event(newUid())).toBeNull();
    expect(await client.trackedEntity(newUid())).toBeNull();
  });

  it('reads the whole org unit tree across pages', async () => {
    const paged = await client.organisationUnits({ pageSize: 5 });
    const unpaged = await client.organisationUnits({ paging: false });
    expect(paged).toHaveLength(emu.state.orgUnits.size);
    expect(unpaged.map((o) => o.id).sort()).toEqual(paged.map((o) => o.id).sort());
    expect(paged.find((o) => o.id === DEMO.orgUnits.kidutani)).toMatchObject({
      level: 4,
      parent: { id: DEMO.orgUnits.mtwapa },
    });
  });

  it('knows who it is and which authorities it holds', async () => {
    expect(await client.me()).toMatchObject({ username: 'admin', authorities: expect.arrayContaining(['ALL']) });
    expect(await client.hasAuthority('F_TRACKED_ENTITY_INSTANCE_SEARCH')).toBe(true);
  });

  it('raises Dhis2AuthError for an unknown token and for a wrong password', async () => {
    const stranger = clientFor(emu, { auth: { token: makeToken('v1', 'SomeoneElsesTokenThatIsNotKnown1') } });
    await expect(stranger.systemInfo()).rejects.toBeInstanceOf(Dhis2AuthError);
    const wrong = clientFor(emu, { auth: { username: 'admin', password: 'not-district' } });
    await expect(wrong.events({ programStage: STAGE })).rejects.toMatchObject({
      name: 'Dhis2AuthError',
      dhis2Status: 401,
      code: 'JIBU_DHIS2_AUTH',
    });
    const basic = clientFor(emu, { auth: { username: 'admin', password: 'district' } });
    expect((await basic.version()).minor).toBe(minor);
  });

  it('gives up on a slow answer at its timeout with a retryable Dhis2TransportError', async () => {
    await client.version();
    emu.faults.latencyMs = 500;
    const impatient = clientFor(emu, { timeoutMs: 30 });
    const err = await impatient.events({ programStage: STAGE }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Dhis2TransportError);
    expect(err).toMatchObject({ timedOut: true, retryable: true, code: 'JIBU_DHIS2_UNAVAILABLE' });
  });

  it('turns a 503 into a retryable Dhis2TransportError and works again on the next call', async () => {
    await client.version();
    emu.faults.failNext(1, 503);
    await expect(client.events({ programStage: STAGE })).rejects.toMatchObject({
      name: 'Dhis2TransportError',
      dhis2Status: 503,
      retryable: true,
    });
    expect((await client.events({ programStage: STAGE, pageSize: 2 })).items).toHaveLength(2);
  });

  it('treats a server that refuses connections as a transport failure', async () => {
    emu.faults.down = true;
    await expect(client.version()).rejects.toMatchObject({
      name: 'Dhis2TransportError',
      retryable: true,
      timedOut: false,
    });
    emu.faults.down = false;
    expect((await client.version()).minor).toBe(minor);
  });
});
