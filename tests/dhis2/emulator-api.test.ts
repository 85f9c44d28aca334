import { describe, expect, it } from 'vitest';
import { DEMO, EIR, isValidTokenChecksum, makeToken } from '../../src/emulator/index.ts';
import { isUid } from '../../src/dhis2/uid.ts';
import { emulator, PHONES, raw, scheduledEvent } from './helpers.ts';

const STAGE = EIR.immunizationStage;
const ev = { event: expect.any(String) };
const events2 = `/api/tracker/events?programStage=${STAGE}&fields=event&pageSize=2`;

describe('list envelopes, literally as each version sends them', () => {
  it.each(['2.38', '2.40'])('%s: instances with flat page and pageSize', async (version) => {
    const emu = emulator(version);
    expect((await raw(emu, events2)).body).toStrictEqual({ page: 1, pageSize: 2, instances: [ev, ev] });
    const total = [...emu.state.events.values()].filter((e) => e.programStage === STAGE).length;
    expect((await raw(emu, `${events2}&totalPages=true`)).body).toStrictEqual({
      page: 1,
      pageSize: 2,
      total,
      pageCount: Math.ceil(total / 2),
      instances: [ev, ev],
    });
    const off = (await raw(emu, `/api/tracker/events?programStage=${STAGE}&fields=event&skipPaging=true`)).body as {
      instances: unknown[];
    };
    expect(Object.keys(off)).toEqual(['instances']);
    expect(off.instances).toHaveLength(total);
  });

  it('≤2.40 ignore paging=false: the caller silently gets a page of 50', async () => {
    const body = (await raw(emulator('2.40'), `/api/tracker/events?programStage=${STAGE}&fields=event&paging=false`))
      .body as { page: number; instances: unknown[] };
    expect(body.page).toBe(1);
    expect(body.instances).toHaveLength(50);
  });

  it('2.41: a named list with a pager and the same paging fields flat', async () => {
    const emu = emulator('2.41');
    expect((await raw(emu, events2)).body).toStrictEqual({
      pager: { page: 1, pageSize: 2 },
      page: 1,
      pageSize: 2,
      events: [ev, ev],
    });
    expect((await raw(emu, `/api/tracker/events?programStage=${STAGE}&fields=event&paging=false`)).body).toStrictEqual({
      events: expect.any(Array),
    });
    expect(
      (await raw(emu, `/api/tracker/events?programStage=${STAGE}&fields=event&skipPaging=true`)).body,
    ).toStrictEqual({ events: expect.any(Array) });
  });

  it('2.42: a named list with a pager carrying prevPage and nextPage URLs, nextPage only when more rows exist', async () => {
    const emu = emulator('2.42');
    const total = [...emu.state.events.values()].filter((e) => e.programStage === STAGE).length;
    const second = (await raw(emu, `${events2}&page=2`)).body;
    expect(second).toStrictEqual({
      pager: {
        page: 2,
        pageSize: 2,
        prevPage: `${emu.baseUrl}/api/tracker/events?programStage=${STAGE}&fields=event&pageSize=2&page=1`,
        nextPage: `${emu.baseUrl}/api/tracker/events?programStage=${STAGE}&fields=event&pageSize=2&page=3`,
      },
      events: [ev, ev],
    });
    const lastPage = Math.ceil(total / 2);
    const last = (await raw(emu, `${events2}&page=${lastPage}`)).body as { pager: Record<string, unknown> };
    expect(last.pager).not.toHaveProperty('nextPage');
    expect(last.pager.prevPage).toContain(`page=${lastPage - 1}`);
  });

  it('2.42 ignores skipPaging (a page of 50 comes back) and honours paging=false', async () => {
    const emu = emulator('2.42');
    const skipped = (await raw(emu, `/api/tracker/events?programStage=${STAGE}&fields=event&skipPaging=true`)).body as {
      pager: unknown;
      events: unknown[];
    };
    expect(skipped.pager).toEqual({ page: 1, pageSize: 50, nextPage: expect.any(String) });
    expect(skipped.events).toHaveLength(50);
    expect((await raw(emu, `/api/tracker/events?programStage=${STAGE}&fields=event&paging=false`)).body).toStrictEqual({
      events: expect.any(Array),
    });
  });

  it('the portable skipPaging=true&paging=false turns paging off on every version', async () => {
    for (const version of ['2.38', '2.39', '2.40', '2.41', '2.42']) {
      const body = (
        await raw(
          emulator(version),
          `/api/tracker/events?programStage=${STAGE}&fields=event&skipPaging=true&paging=false`,
        )
      ).body as Record<string, unknown>;
      expect(Object.keys(body)).toEqual([version <= '2.40' ? 'instances' : 'events']);
    }
  });

  it('2.41+ refuse paging=false together with page, pageSize or totalPages (400)', async () => {
    for (const version of ['2.41', '2.42']) {
      const r = await raw(emulator(version), `/api/tracker/events?programStage=${STAGE}&paging=false&page=2`);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({
        httpStatus: 'Bad Request',
        httpStatusCode: 400,
        status: 'ERROR',
        message: expect.stringContaining('paging=false'),
      });
    }
    expect(
      (await raw(emulator('2.41'), `/api/tracker/events?programStage=${STAGE}&paging=true&skipPaging=true`)).status,
    ).toBe(400);
  });

  it('tracked entity and enrollment lists use the same envelopes', async () => {
    const q = `program=${EIR.program}&fields=trackedEntity&pageSize=1`;
    expect((await raw(emulator('2.40'), `/api/tracker/trackedEntities?${q}&ouMode=ACCESSIBLE`)).body).toStrictEqual({
      page: 1,
      pageSize: 1,
      instances: [{ trackedEntity: expect.any(String) }],
    });
    expect((await raw(emulator('2.41'), `/api/tracker/trackedEntities?${q}`)).body).toStrictEqual({
      pager: { page: 1, pageSize: 1 },
      page: 1,
      pageSize: 1,
      trackedEntities: [{ trackedEntity: expect.any(String) }],
    });
    expect(
      (await raw(emulator('2.42'), `/api/tracker/enrollments?program=${EIR.program}&fields=enrollment&pageSize=1`))
        .body,
    ).toStrictEqual({
      pager: { page: 1, pageSize: 1, nextPage: expect.stringContaining('page=2') },
      enrollments: [{ enrollment: expect.any(String) }],
    });
  });
});

describe('query parameters per version', () => {
  it('2.41 refuses ouMode together with orgUnitMode; 2.42 ignores ouMode', async () => {
    const both = await raw(
      emulator('2.41'),
      `/api/tracker/events?programStage=${STAGE}&ouMode=ACCESSIBLE&orgUnitMode=ACCESSIBLE`,
    );
    expect(both.status).toBe(400);
    // SELECTED without an org unit is a 400 when honoured; 2.42 ignores ouMode, so this is ACCESSIBLE.
    expect(
      (await raw(emulator('2.42'), `/api/tracker/events?programStage=${STAGE}&ouMode=SELECTED&pageSize=1`)).status,
    ).toBe(200);
    expect(
      (await raw(emulator('2.41'), `/api/tracker/events?programStage=${STAGE}&ouMode=SELECTED&pageSize=1`)).status,
    ).toBe(400);
  });

  it('2.41+ refuse ACCESSIBLE with an org unit and SELECTED without one; ≤2.40 answer such queries with 409', async () => {
    const emu = emulator('2.42');
    expect(
      (await raw(emu, `/api/tracker/events?orgUnit=${DEMO.orgUnits.kidutani}&orgUnitMode=ACCESSIBLE`)).status,
    ).toBe(400);
    expect((await raw(emu, `/api/tracker/events?orgUnitMode=DESCENDANTS`)).status).toBe(400);
    expect((await raw(emulator('2.40'), `/api/tracker/events?programStage=${STAGE}&program=nope0000000`)).status).toBe(
      409,
    );
    expect((await raw(emu, `/api/tracker/events?programStage=${STAGE}&program=nope0000000`)).status).toBe(400);
  });

  it('CHILDREN includes the selected org unit itself from 2.41 on', async () => {
    const facility = DEMO.orgUnits.mtwapa;
    const emu40 = emulator('2.40');
    const emu41 = emulator('2.41');
    // Put one event at the facility itself: only 2.41's CHILDREN sees it.
    for (const emu of [emu40, emu41])
      emu.state.events.get(scheduledEvent(emu, PHONES.oneDue, 'Neema').event)!.orgUnit = facility;
    const target = scheduledEvent(emu40, PHONES.oneDue, 'Neema').event;
    const ids = async (emu: typeof emu40, mode: string) =>
      (
        await raw(
          emu,
          `/api/tracker/events?programStage=${STAGE}&orgUnit=${facility}&${mode}=CHILDREN&fields=event&skipPaging=true&paging=false`,
        )
      ).body as Record<string, Array<{ event: string }>>;
    expect((await ids(emu40, 'ouMode')).instances!.map((e) => e.event)).not.toContain(target);
    expect((await ids(emu41, 'orgUnitMode')).events!.map((e) => e.event)).toContain(target);
  });

  it('tracked entities take orgUnit (;) up to 2.40 and orgUnits (,) from 2.41', async () => {
    const two = [DEMO.orgUnits.kidutani, DEMO.orgUnits.bomani];
    const count = async (version: string, q: string) =>
      (
        await raw(
          emulator(version),
          `/api/tracker/trackedEntities?program=${EIR.program}&fields=trackedEntity&skipPaging=true&paging=false&${q}`,
        )
      ).body as Record<string, unknown[]>;
    const v40 = (await count('2.40', `orgUnit=${two.join(';')}`)).instances!;
    const v42 = (await count('2.42', `orgUnits=${two.join(',')}`)).trackedEntities!;
    expect(v40.length).toBeGreaterThan(4);
    expect(v42).toHaveLength(v40.length);
  });

  it('matches a phone filter only when + travels as %2B (a raw + is read as a space)', async () => {
    const emu = emulator('2.40');
    const base = `/api/tracker/trackedEntities?program=${EIR.program}&ouMode=CAPTURE&fields=trackedEntity`;
    expect(
      ((await raw(emu, `${base}&filter=${EIR.attributes.phone}:eq:%2B254700000001`)).body as { instances: unknown[] })
        .instances,
    ).toHaveLength(2);
    expect(
      ((await raw(emu, `${base}&filter=${EIR.attributes.phone}:eq:+254700000001`)).body as { instances: unknown[] })
        .instances,
    ).toHaveLength(0);
  });

  it('supports the filter operators Jibu uses, with escaping and two-pair items', async () => {
    const emu = emulator('2.42');
    const names = async (filter: string) => {
      const body = (
        await raw(
          emu,
          `/api/tracker/trackedEntities?program=${EIR.program}&orgUnitMode=CAPTURE&fields=attributes[attribute,value]&paging=false&filter=${encodeURIComponent(filter)}`,
        )
      ).body as {
        trackedEntities: Array<{ attributes: Array<{ attribute: string; value: string }> }>;
      };
      return body.trackedEntities
        .map((t) => t.attributes.find((a) => a.attribute === EIR.attributes.firstName)?.value)
        .sort();
    };
    const fn = EIR.attributes.firstName;
    expect(await names(`${EIR.attributes.phone}:eq:+254700000007`)).toEqual(['Hamisi', 'Omari', 'Saida']);
    expect(await names(`${EIR.attributes.phone}:eq:+254700000007,${fn}:ieq:SAIDA`)).toEqual(['Saida']);
    expect(await names(`${EIR.attributes.phone}:eq:+254700000007,${fn}:like:mar`)).toEqual(['Omari']);
    expect(await names(`${EIR.attributes.phone}:eq:+254700000007,${fn}:sw:ha`)).toEqual(['Hamisi']);
    expect(await names(`${EIR.attributes.phone}:eq:+254700000007,${fn}:in:Omari;Saida`)).toEqual(['Omari', 'Saida']);
    expect(await names(`${EIR.attributes.phone}:eq:+254700000007,${EIR.attributes.middleName}:null`)).toEqual([
      'Hamisi',
      'Omari',
      'Saida',
    ]);
    expect(await names(`${EIR.attributes.phone}:eq:+254700000007,${EIR.attributes.middleName}:!null`)).toEqual([]);
    expect(
      await names(`${EIR.attributes.phone}:eq:+254700000007,${EIR.attributes.dateOfBirth}:gt:2024-06-01:lt:2025-01-01`),
    ).toEqual(['Saida']);
    // An escaped ':' is part of the value, not an operator separator.
    expect(await names(`${fn}:eq:Ha/:misi`)).toEqual([]);
    expect(
      (
        await raw(
          emu,
          `/api/tracker/trackedEntities?program=${EIR.program}&orgUnitMode=CAPTURE&filter=${fn}:eq:a&filter=${fn}:eq:b`,
        )
      ).status,
    ).toBe(400);
  });

  it('keeps global searches inside the rules: the phone attribute is not searchable outside the capture scope', async () => {
    const emu = emulator('2.40', {
      users: [
        {
          id: 'JbUsrSearch1',
          username: 'searcher',
          password: 'pw',
          organisationUnits: [DEMO.orgUnits.kidutani],
          teiSearchOrganisationUnits: [DEMO.orgUnits.country],
        },
      ],
    });
    const auth = { Authorization: `Basic ${Buffer.from('searcher:pw').toString('base64')}` };
    const global = await raw(
      emu,
      `/api/tracker/trackedEntities?program=${EIR.program}&ouMode=ACCESSIBLE&filter=${EIR.attributes.phone}:eq:%2B254700000001`,
      { headers: auth },
    );
    expect(global.status).toBe(409);
    expect(global.body).toMatchObject({
      message: expect.stringContaining('Non-searchable attribute(s) can not be used during global search'),
    });
    const capture = await raw(
      emu,
      `/api/tracker/trackedEntities?program=${EIR.program}&ouMode=CAPTURE&filter=${EIR.attributes.phone}:eq:%2B254700000001&fields=trackedEntity`,
      { headers: auth },
    );
    expect((capture.body as { instances: unknown[] }).instances).toHaveLength(2);
  });

  it('reads a date-only scheduledBefore as end of day from 2.39 and as start of day on 2.38', async () => {
    const at = async (version: string) => {
      const emu = emulator(version);
      const target = scheduledEvent(emu, PHONES.oneDue, 'Neema');
      target.scheduledAt = emu.time.parse('2025-03-05T10:00:00')!.ms;
      const body = (
        await raw(
          emu,
          `/api/tracker/events?programStage=${STAGE}&scheduledAfter=2025-03-05&scheduledBefore=2025-03-05&fields=event&skipPaging=true&paging=false`,
        )
      ).body as Record<string, Array<{ event: string }>>;
      return (body.instances ?? body.events)!.map((e) => e.event).includes(target.event);
    };
    expect(await at('2.38')).toBe(false);
    expect(await at('2.39')).toBe(true);
    expect(await at('2.42')).toBe(true);
  });

  it('orders by scheduledAt and refuses unknown order fields from 2.41', async () => {
    const emu = emulator('2.41');
    const body = (
      await raw(
        emu,
        `/api/tracker/events?programStage=${STAGE}&status=SCHEDULE&order=scheduledAt:desc&fields=scheduledAt&pageSize=20`,
      )
    ).body as { events: Array<{ scheduledAt: string }> };
    const dates = body.events.map((e) => e.scheduledAt);
    expect(dates).toEqual([...dates].sort().reverse());
    expect((await raw(emu, `/api/tracker/events?order=colour:asc`)).status).toBe(400);
    expect(
      (await raw(emulator('2.40'), `/api/tracker/events?programStage=${STAGE}&order=colour:asc&pageSize=1`)).status,
    ).toBe(200);
  });

  it.each([
    ['2.40', 'trackedEntity', ';', 'event', 'instances'],
    ['2.41', 'trackedEntities', ',', 'events', 'trackedEntities'],
    ['2.42', 'trackedEntities', ',', 'events', 'trackedEntities'],
  ])(
    '%s: a uid list answers as a filter over the registry would (newest first, deleted and unknown uids left out)',
    async (version, teParam, sep, eventParam, teKey) => {
      const emu = emulator(version);
      const all = [...emu.state.trackedEntities.values()];
      // Asked in registry order, with an unknown uid, a deleted child and one outside the query's org unit.
      const asked = [all[3]!, all[0]!, all[7]!, all[5]!, all[11]!];
      asked[2]!.deleted = true;
      emu.state.touch();
      const ghost = 'JbGhost0001';
      const uids = [...asked.map((t) => t.trackedEntity), ghost].join(sep);
      const expected = (includeDeleted: boolean) =>
        asked
          .filter((t) => includeDeleted || !t.deleted)
          .sort((a, b) => b.seq - a.seq)
          .map((t) => t.trackedEntity);
      const tes = async (extra: string) => {
        const query = `program=${EIR.program}&${teParam}=${uids}&fields=trackedEntity&pageSize=100${extra}`;
        const body = (await raw(emu, `/api/tracker/trackedEntities?${query}`)).body as Record<
          string,
          Array<{ trackedEntity: string }>
        >;
        return body[teKey]!.map((t) => t.trackedEntity);
      };
      expect(await tes('')).toEqual(expected(false));
      expect(await tes('&includeDeleted=true')).toEqual(expected(true));
      const village = asked[0]!.orgUnit;
      const ouParam = version === '2.40' ? `orgUnit=${village}` : `orgUnits=${village}`;
      expect(await tes(`&${ouParam}`)).toEqual(
        expected(false).filter((u) => emu.state.trackedEntities.get(u)!.orgUnit === village),
      );

      const events = [...emu.state.events.values()].filter((e) => e.programStage === STAGE).slice(0, 6);
      events[1]!.deleted = true;
      emu.state.touch();
      const eventUids = [...events.map((e) => e.event), ghost].join(sep);
      const query = `programStage=${STAGE}&${eventParam}=${eventUids}&fields=event&pageSize=100`;
      const body = (await raw(emu, `/api/tracker/events?${query}`)).body as Record<string, Array<{ event: string }>>;
      expect((body.instances ?? body.events)!.map((e) => e.event)).toEqual(
        events
          .filter((e) => !e.deleted)
          .sort((a, b) => b.seq - a.seq)
          .map((e) => e.event),
      );
    },
  );

  it('never stores OVERDUE: an event imported with that status is not found by status=OVERDUE', async () => {
    const emu = emulator('2.38');
    const target = scheduledEvent(emu, PHONES.missedYesterday, 'Imani');
    const overdue = (await raw(emu, `/api/tracker/events?status=OVERDUE&fields=event,status&skipPaging=true`)).body as {
      instances: Array<{ event: string; status: string }>;
    };
    expect(overdue.instances).toContainEqual({ event: target.event, status: 'SCHEDULE' });
    const event = (await raw(emu, `/api/tracker/events/${target.event}`)).body as Record<string, unknown>;
    const imported = await raw(emu, '/api/tracker?async=false&importStrategy=UPDATE', {
      json: { events: [{ ...event, status: 'OVERDUE' }] },
    });
    expect(imported.status).toBe(200);
    const again = (await raw(emu, `/api/tracker/events?status=OVERDUE&fields=event&skipPaging=true`)).body as {
      instances: Array<{ event: string }>;
    };
    expect(again.instances.map((e) => e.event)).not.toContain(target.event);
    expect(emu.state.events.get(target.event)!.status).toBe('OVERDUE');
  });
});

describe('object JSON per version', () => {
  it('spells the event follow-up flag followup (≤2.40), both (2.41) or followUp (2.42), with orgUnitName up to 2.40', async () => {
    const keys = async (version: string) => {
      const emu = emulator(version);
      const e = scheduledEvent(emu, PHONES.oneDue, 'Neema');
      return Object.keys((await raw(emu, `/api/tracker/events/${e.event}`)).body as object);
    };
    const v40 = await keys('2.40');
    expect(v40).toEqual(expect.arrayContaining(['followup', 'orgUnitName']));
    expect(v40).not.toContain('followUp');
    expect(await keys('2.41')).toEqual(expect.arrayContaining(['followup', 'followUp']));
    const v42 = await keys('2.42');
    expect(v42).toContain('followUp');
    expect(v42).not.toContain('followup');
    expect(v42).not.toContain('orgUnitName');
    expect(v42).not.toContain('relationships');
  });

  it('writes timestamps without a zone, in the server time zone, and omits nulls', async () => {
    const emu = emulator('2.42');
    const e = scheduledEvent(emu, PHONES.oneDue, 'Neema');
    const body = (await raw(emu, `/api/tracker/events/${e.event}`)).body as Record<string, unknown>;
    expect(body.scheduledAt).toBe('2025-03-05T00:00:00.000');
    expect(body.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$/);
    expect(body).not.toHaveProperty('occurredAt');
    expect(Object.values(body)).not.toContain(null);
    const info = (await raw(emu, '/api/system/info')).body as Record<string, unknown>;
    // 06:00Z is 09:00 in Nairobi.
    expect(info).toMatchObject({
      version: '2.42.5',
      serverTimeZoneId: 'Africa/Nairobi',
      serverDate: '2025-03-03T09:00:00.000',
    });
  });

  it('gives tracked entities no enrollments unless asked, and honours nesting and exclusions in fields', async () => {
    const emu = emulator('2.42');
    const te = scheduledEvent(emu, PHONES.twoDue, 'Amina').trackedEntity;
    const plain = (await raw(emu, `/api/tracker/trackedEntities/${te}`)).body as Record<string, unknown>;
    expect(plain).not.toHaveProperty('enrollments');
    expect(plain).toHaveProperty('attributes');
    const nested = (
      await raw(
        emu,
        `/api/tracker/trackedEntities/${te}?fields=trackedEntity,enrollments[enrollment,events[event,status]]`,
      )
    ).body;
    expect(nested).toStrictEqual({
      trackedEntity: te,
      enrollments: [
        {
          enrollment: expect.any(String),
          events: expect.arrayContaining([
            { event: expect.any(String), status: 'SCHEDULE' },
            { event: expect.any(String), status: 'COMPLETED' },
          ]),
        },
      ],
    });
    const excluded = (await raw(emu, `/api/tracker/trackedEntities/${te}?fields=*,!attributes`)).body as Record<
      string,
      unknown
    >;
    expect(excluded).not.toHaveProperty('attributes');
    expect(excluded).toHaveProperty('enrollments');
  });

  it('answers 404 for an unknown uid, worded per version, with E1005 from 2.40', async () => {
    const uid = 'abcdefghijk';
    expect(await raw(emulator('2.38'), `/api/tracker/events/${uid}`)).toMatchObject({
      status: 404,
      body: { httpStatusCode: 404, message: `Event not found for uid: ${uid}` },
    });
    const v40 = await raw(emulator('2.40'), `/api/tracker/events/${uid}`);
    expect(v40).toMatchObject({
      status: 404,
      body: { message: `Event with id ${uid} could not be found.`, errorCode: 'E1005' },
    });
  });
});

describe('authentication and support endpoints', () => {
  it('answers 401 with WWW-Authenticate without credentials or with a bad token', async () => {
    const emu = emulator('2.40');
    const none = await emu.fetch(`${emu.baseUrl}/api/me`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="DHIS2"');
    const bad = await emu.fetch(`${emu.baseUrl}/api/me`, {
      headers: { Authorization: 'ApiToken d2pat_notAValidTokenAtAll' },
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^ApiToken /);
  });

  it('accepts both token formats, with a scheme in any case, on every version', async () => {
    for (const version of ['2.38', '2.42']) {
      const emu = emulator(version, { seed: false });
      for (const token of [emu.credentials.token, emu.credentials.tokenV2]) {
        const res = await emu.fetch(`${emu.baseUrl}/api/me?fields=username`, {
          headers: { Authorization: `apitoken ${token}` },
        });
        expect(await res.json()).toEqual({ username: 'admin' });
      }
    }
  });

  it('verifies token checksums the way DHIS2 computes them (real core fixtures validate)', () => {
    // From dhis2-core ApiKeyTokenGeneratorTest: a V1 and a V2 token generated by DHIS2 itself.
    expect(isValidTokenChecksum('d2pat_e0b5Y9bXWtUcfEY8BMHHj9aJZkXCQ7O50174669582')).toBe(true);
    expect(isValidTokenChecksum('d2p_iKrAY7sR6rPea1rub181baRzyyui2AW07ymXPRExAgwa051Mei')).toBe(true);
    expect(isValidTokenChecksum('d2pat_e0b5Y9bXWtUcfEY8BMHHj9aJZkXCQ7O50174669583')).toBe(false);
    expect(isValidTokenChecksum(makeToken('v2', 'x'.repeat(44)))).toBe(true);
  });

  it('finds users by phone with a metadata pager, through filter= or the phoneNumber= shorthand', async () => {
    const emu = emulator('2.41');
    const byFilter = await raw(
      emu,
      `/api/users?filter=phoneNumber:eq:%2B254711000001&fields=id,phoneNumber,userCredentials[username]`,
    );
    expect(byFilter.body).toStrictEqual({
      pager: { page: 1, pageCount: 1, total: 1, pageSize: 50 },
      users: [
        { id: DEMO.caseWorkers.kidutani.id, phoneNumber: '+254711000001', userCredentials: { username: 'cw.zawadi' } },
      ],
    });
    expect((await raw(emu, `/api/users?phoneNumber=%2B254711000001&fields=id`)).body).toMatchObject({
      users: [{ id: DEMO.caseWorkers.kidutani.id }],
    });
    // 2.42 removed the userCredentials mirror.
    expect(
      (await raw(emulator('2.42'), `/api/users?phoneNumber=%2B254711000001&fields=id,userCredentials`)).body,
    ).toMatchObject({ users: [{ id: DEMO.caseWorkers.kidutani.id }] });
    expect(
      (
        (await raw(emulator('2.42'), `/api/users?phoneNumber=%2B254711000001&fields=id,userCredentials`)).body as {
          users: object[];
        }
      ).users[0],
    ).not.toHaveProperty('userCredentials');
  });

  it('lists org units without paging and hands out server UIDs', async () => {
    const emu = emulator('2.40');
    const ous = (await raw(emu, '/api/organisationUnits?paging=false&fields=id,name,path,level,parent')).body as {
      organisationUnits: Array<Record<string, unknown>>;
    };
    expect(Object.keys(ous)).toEqual(['organisationUnits']);
    expect(ous.organisationUnits).toHaveLength(19);
    expect(ous.organisationUnits.find((o) => o.id === DEMO.orgUnits.kwale)).toEqual({
      id: DEMO.orgUnits.kwale,
      name: 'Kwale',
      path: `/${DEMO.orgUnits.country}/${DEMO.orgUnits.kwale}`,
      level: 2,
      parent: { id: DEMO.orgUnits.country },
    });
    const ids = (await raw(emu, '/api/system/id?limit=3')).body as { codes: string[] };
    expect(ids.codes).toHaveLength(3);
    expect(ids.codes.every(isUid)).toBe(true);
    expect((await raw(emu, '/api/me/authorization/F_ANYTHING')).body).toBe(true);
  });
});
