import { describe, expect, it } from 'vitest';
import { AEFI, DEMO, EIR, makeToken, type Emulator } from '../../src/emulator/index.ts';
import { PHONES, child, emulator, raw } from './helpers.ts';

/**
 * The emulator's deduplication workflow and the metadata a registry-wide search obeys, as each version
 * answers them, and the AEFI programme's validation (one open case per child, one AEFI event per case).
 */

const VERSIONS = ['2.38', '2.39', '2.40', '2.41', '2.42'] as const;

function pair(emu: Emulator) {
  return {
    original: child(emu, PHONES.newborn, 'Wema').trackedEntity,
    duplicate: child(emu, PHONES.oneDue, 'Neema').trackedEntity,
  };
}

describe.each(VERSIONS)('/api/potentialDuplicates on %s', (version) => {
  const minor = Number(version.split('.')[1]);
  const teParam = minor <= 40 ? 'teis' : 'trackedEntities';

  it('creates an OPEN record naming both tracked entities, lists it and refuses the same pair again in either order (409)', async () => {
    const emu = emulator(version);
    const p = pair(emu);
    const created = await raw(emu, '/api/potentialDuplicates', { json: p });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      ...p,
      status: 'OPEN',
      id: expect.stringMatching(/^[A-Za-z][A-Za-z0-9]{10}$/),
    });
    for (const again of [p, { original: p.duplicate, duplicate: p.original }]) {
      const r = await raw(emu, '/api/potentialDuplicates', { json: again });
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ httpStatusCode: 409, status: 'ERROR' });
    }
    const list = await raw(emu, `/api/potentialDuplicates?${teParam}=${p.duplicate}`);
    expect(list.status).toBe(200);
    const body = list.body as { potentialDuplicates: unknown[]; pager?: Record<string, unknown> };
    expect(body.potentialDuplicates).toEqual([expect.objectContaining({ ...p, status: 'OPEN' })]);
    if (minor <= 40) expect(body.pager).toMatchObject({ page: 1, total: 1, pageCount: 1 });
    else expect(body.pager).toEqual({ page: 1, pageSize: 50 });
  });

  it('marks a record INVALID (and back to OPEN) but never MERGED by a status update; the list filters by status', async () => {
    const emu = emulator(version);
    const p = pair(emu);
    const { id } = (await raw(emu, '/api/potentialDuplicates', { json: p })).body as { id: string };
    expect((await raw(emu, `/api/potentialDuplicates/${id}?status=INVALID`, { method: 'PUT' })).status).toBe(200);
    expect((await raw(emu, `/api/potentialDuplicates/${id}`)).body).toMatchObject({ status: 'INVALID' });
    const merged = await raw(emu, `/api/potentialDuplicates/${id}?status=MERGED`, { method: 'PUT' });
    expect(merged.status).toBe(400);
    expect(merged.body).toMatchObject({ message: "Can't update a potential duplicate to MERGED" });
    const open = (await raw(emu, '/api/potentialDuplicates')).body as { potentialDuplicates: unknown[] };
    expect(open.potentialDuplicates).toEqual([]);
    const all = (await raw(emu, '/api/potentialDuplicates?status=ALL')).body as { potentialDuplicates: unknown[] };
    expect(all.potentialDuplicates).toHaveLength(1);
    expect((await raw(emu, '/api/potentialDuplicates/Xx123456789?status=OPEN', { method: 'PUT' })).status).toBe(404);
  });

  it('refuses a missing or malformed tracked entity (400) and an unknown one (404)', async () => {
    const emu = emulator(version);
    const p = pair(emu);
    const missing = await raw(emu, '/api/potentialDuplicates', { json: { original: p.original } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ message: "Missing required input property 'duplicate'" });
    expect((await raw(emu, '/api/potentialDuplicates', { json: { ...p, duplicate: 'not-a-uid' } })).status).toBe(400);
    expect((await raw(emu, '/api/potentialDuplicates', { json: { ...p, duplicate: 'Xx123456789' } })).status).toBe(404);
  });

  it(`refuses a tracked entity the account may not read (${minor >= 42 ? '404' : '403'})`, async () => {
    const token = makeToken('v1', 'JibuKilifiOnlyTokenForDedupTest1');
    const emu = emulator(version, {
      users: [{ id: 'JbUsrKlf001', username: 'kilifi', token, organisationUnits: [DEMO.orgUnits.kilifi] }],
    });
    const p = pair(emu);
    const r = await raw(emu, '/api/potentialDuplicates', {
      json: p,
      headers: { Authorization: `ApiToken ${token}` },
    });
    expect(r.status).toBe(minor >= 42 ? 404 : 403);
    expect(emu.state.potentialDuplicates.size).toBe(0);
  });
});

describe('the tracked entity type a registry-wide search obeys', () => {
  it('/api/trackedEntityTypes/{id} gives the search settings: minimum attributes, most results, searchable attributes', async () => {
    const emu = emulator('2.41');
    const r = await raw(
      emu,
      `/api/trackedEntityTypes/${EIR.trackedEntityType}?fields=id,minAttributesRequiredToSearch,maxTeiCountToReturn,trackedEntityTypeAttributes[searchable,trackedEntityAttribute[id,unique]]`,
    );
    expect(r.status).toBe(200);
    const body = r.body as {
      minAttributesRequiredToSearch: number;
      maxTeiCountToReturn: number;
      trackedEntityTypeAttributes: Array<{ searchable: boolean; trackedEntityAttribute: { id: string } }>;
    };
    expect(body).toMatchObject({
      id: EIR.trackedEntityType,
      minAttributesRequiredToSearch: 2,
      maxTeiCountToReturn: 50,
    });
    const searchable = (id: string) =>
      body.trackedEntityTypeAttributes.find((t) => t.trackedEntityAttribute.id === id)?.searchable;
    expect(searchable(EIR.attributes.firstName)).toBe(true);
    expect(searchable(EIR.attributes.dateOfBirth)).toBe(true);
    expect(searchable(EIR.attributes.phone)).toBe(false);
    expect((await raw(emu, '/api/trackedEntityTypes/Xx123456789')).status).toBe(404);
  });

  it.each(['2.40', '2.42'])(
    'on %s a search by type outside the capture scope refuses the phone, too few attributes and too many matches',
    async (version) => {
      const minor = Number(version.split('.')[1]);
      const token = makeToken('v1', 'JibuKilifiSearchTokenForTests001');
      const emu = emulator(version, {
        users: [
          {
            id: 'JbUsrKlf002',
            username: 'kilifi.search',
            token,
            organisationUnits: [DEMO.orgUnits.kilifi],
            teiSearchOrganisationUnits: [DEMO.orgUnits.country],
          },
        ],
      });
      const mode = minor <= 40 ? 'ouMode' : 'orgUnitMode';
      const search = (filters: string[]) =>
        raw(
          emu,
          `/api/tracker/trackedEntities?trackedEntityType=${EIR.trackedEntityType}&${mode}=ACCESSIBLE&${filters.map((f) => `filter=${encodeURIComponent(f)}`).join('&')}`,
          { headers: { Authorization: `ApiToken ${token}` } },
        );
      const illegal = minor <= 40 ? 409 : 400;
      const phone = await search([
        `${EIR.attributes.phone}:eq:+254700000009`,
        `${EIR.attributes.dateOfBirth}:eq:2025-03-01`,
      ]);
      expect(phone.status).toBe(illegal);
      expect(phone.body).toMatchObject({ message: expect.stringContaining('Non-searchable attribute') });
      const one = await search([`${EIR.attributes.dateOfBirth}:eq:2025-03-01`]);
      expect(one.status).toBe(illegal);
      expect(one.body).toMatchObject({ message: 'At least 2 attributes should be mentioned in the search criteria.' });
      const ok = await search([`${EIR.attributes.firstName}:eq:wema`, `${EIR.attributes.dateOfBirth}:eq:2025-03-01`]);
      expect(ok.status).toBe(200);
      emu.state.metadata.trackedEntityTypes.get(EIR.trackedEntityType)!.maxTeiCountToReturn = 1;
      const wema = child(emu, PHONES.newborn, 'Wema');
      emu.state.addTrackedEntity({ ...wema, trackedEntity: 'TeWemaTwin1' });
      const tooMany = await search([
        `${EIR.attributes.firstName}:eq:wema`,
        `${EIR.attributes.dateOfBirth}:eq:2025-03-01`,
      ]);
      expect(tooMany.status).toBe(illegal);
      expect(tooMany.body).toMatchObject({ message: 'maxteicountreached' });
    },
  );
});

describe('the AEFI programme', () => {
  const enrollment = (te: string, uid: string) => ({
    enrollment: uid,
    trackedEntity: te,
    program: AEFI.program,
    orgUnit: DEMO.orgUnits.jumba,
    status: 'ACTIVE',
    enrolledAt: '2025-03-03',
  });
  const aefiEvent = (
    uid: string,
    en: string,
  ): Record<string, unknown> & { dataValues: Array<{ dataElement: string; value: string }> } => ({
    event: uid,
    program: AEFI.program,
    programStage: AEFI.aefiStage,
    enrollment: en,
    orgUnit: DEMO.orgUnits.jumba,
    status: 'ACTIVE',
    occurredAt: '2025-03-03',
    dataValues: [
      { dataElement: AEFI.dataElements.serious, value: 'true' },
      { dataElement: AEFI.dataElements.vaccineNames[0], value: 'bOPV' },
      { dataElement: AEFI.dataElements.onsetDate, value: '2025-03-02' },
    ],
  });
  const post = (emu: Emulator, body: unknown) =>
    raw(emu, '/api/tracker?async=false&importStrategy=CREATE_AND_UPDATE&atomicMode=ALL', { json: body });
  const codes = (r: { body: unknown }) =>
    (
      (r.body as { validationReport?: { errorReports?: Array<{ errorCode: string }> } }).validationReport
        ?.errorReports ?? []
    ).map((e) => e.errorCode);

  it.each(VERSIONS)(
    'on %s takes a case on the EIR child, then refuses a second AEFI event (E1039) and a second open case (E1015)',
    async (version) => {
      const emu = emulator(version);
      const te = child(emu, PHONES.visitedYesterday, 'Tumaini').trackedEntity;
      const first = await post(emu, {
        enrollments: [{ ...enrollment(te, 'EnAefiCase1'), events: [aefiEvent('EvAefiCase1', 'EnAefiCase1')] }],
      });
      expect(first.status).toBe(200);
      expect(emu.state.events.get('EvAefiCase1')?.dataValues?.map((d) => d.value)).toEqual([
        'true',
        'bOPV',
        '2025-03-02',
      ]);
      const second = await post(emu, { events: [aefiEvent('EvAefiCase2', 'EnAefiCase1')] });
      expect(second.status).toBe(409);
      expect(codes(second)).toEqual(['E1039']);
      const another = await post(emu, { enrollments: [enrollment(te, 'EnAefiCase2')] });
      expect(another.status).toBe(409);
      expect(codes(another)).toEqual(['E1015']);
    },
  );

  it('refuses an EIR data element on the AEFI stage (E1305) and a value of the wrong type (E1302)', async () => {
    const emu = emulator('2.41');
    const te = child(emu, PHONES.visitedYesterday, 'Tumaini').trackedEntity;
    const bad = aefiEvent('EvAefiBad01', 'EnAefiBad01');
    bad.dataValues = [
      { dataElement: EIR.dataElements.bcg, value: 'true' },
      { dataElement: AEFI.dataElements.onsetDate, value: 'yesterday' },
    ];
    const r = await post(emu, { enrollments: [{ ...enrollment(te, 'EnAefiBad01'), events: [bad] }] });
    expect(r.status).toBe(409);
    expect(codes(r).sort()).toEqual(['E1302', 'E1305']);
  });
});
