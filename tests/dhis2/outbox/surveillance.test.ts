import { afterEach, describe, expect, it } from 'vitest';
import { birthWrite, VITAL_EVENTS_DEFAULTS } from '../../../src/caseworker/writes.ts';
import { parseDeployment, type Deployment } from '../../../src/dhis2/deployment.ts';
import { aefiCaseUids } from '../../../src/dhis2/outbox/aefi.ts';
import { listDuplicates } from '../../../src/dhis2/outbox/duplicates.ts';
import { noteUid } from '../../../src/dhis2/outbox/index.ts';
import type { AefiReport, Dhis2Write } from '../../../src/dhis2/outbox/types.ts';
import { rmKeys } from '../../../src/dhis2/readmodel/types.ts';
import { AEFI, DEMO, EIR, makeToken, VEN, type Emulator } from '../../../src/emulator/index.ts';
import { NOW, PHONES, TODAY, child } from '../helpers.ts';
import { batchHandlerOn } from './harness.ts';

/**
 * The relay writing surveillance reports into the emulator: reactions as cases of the AEFI programme
 * (resolved against DHIS2 at write time) and births checked against the whole registry first. Every case
 * here is also a retry case: the same job, or another report, run again must never create twice.
 */

const OU = DEMO.orgUnits;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

const WITH_AEFI = parseDeployment({ aefi: { program: AEFI.program } });

/** A non-superuser Jibu account: capture in Kilifi, search everywhere (a search outside Kilifi is global). */
const NARROW = {
  id: 'JbUsrJibu01',
  username: 'jibu.kilifi',
  token: makeToken('v1', 'JibuNarrowAccountTokenForTests01'),
  organisationUnits: [OU.kilifi],
  teiSearchOrganisationUnits: [OU.country],
  authorities: ['F_TRACKED_ENTITY_INSTANCE_SEARCH'],
};

function handlerFor(
  opts: { version?: string; deployment?: Deployment; token?: string; fetch?: (emu: Emulator) => typeof fetch } = {},
) {
  const h = batchHandlerOn({ now: NOW, deployment: WITH_AEFI, users: [NARROW], ...opts });
  closers.push(h.close);
  const counter = async (name: string, outcome: string) =>
    (await h.metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.outcome === outcome)?.value ??
    0;
  return { ...h, counter };
}

/** Tumaini: vaccinated yesterday (bOPV 1, Penta 1, PCV 1, Rota 1) in Jumba. */
function tumaini(emu: Emulator) {
  const te = child(emu, PHONES.visitedYesterday, 'Tumaini');
  const visit = emu.state
    .eventsOfTrackedEntity(te.trackedEntity)
    .filter((e) => e.programStage === EIR.immunizationStage && e.occurredAt !== undefined)
    .sort((x, y) => (y.occurredAt ?? 0) - (x.occurredAt ?? 0))[0]!;
  return { te, visit };
}

const reaction = (emu: Emulator, over: Partial<AefiReport> = {}): AefiReport => {
  const { te, visit } = tumaini(emu);
  return {
    op: 'aefi.report',
    trackedEntity: te.trackedEntity,
    visit: visit.event,
    orgUnit: te.orgUnit,
    reportedAt: TODAY,
    onset: '2025-03-02',
    reaction: 'seizure',
    reactionText: 'fits (convulsions)',
    serious: true,
    reporter: { name: 'Caregiver, by Jibu SMS', phone: PHONES.visitedYesterday },
    note: 'Caregiver reported a reaction after vaccination by SMS: fits (convulsions), severe, since 2025-03-02',
    ...over,
  };
};

const aefiEnrollments = (emu: Emulator, te: string) =>
  (emu.state.enrollmentsByTrackedEntity.get(te) ?? []).filter((e) => e.program === AEFI.program && !e.deleted);
const aefiEvents = (emu: Emulator, te: string) =>
  emu.state.eventsOfTrackedEntity(te).filter((e) => e.program === AEFI.program && !e.deleted);
const dv = (e: { dataValues?: Array<{ dataElement: string; value: string }> } | undefined, de: string) =>
  e?.dataValues?.find((x) => x.dataElement === de)?.value;

describe.each(['2.38', '2.40', '2.41', '2.42'])('a reaction filed in the AEFI programme on %s', (version) => {
  it('opens one case at the vaccination site with the vaccines of the visit; the same report again and a second report update it', async () => {
    const { emu, run, counter } = handlerFor({ version });
    const { te, visit } = tumaini(emu);
    const uids = aefiCaseUids(te.trackedEntity, visit.event);
    expect(await run([['r1', reaction(emu)]])).toEqual([{ ok: true }]);
    expect(aefiEnrollments(emu, te.trackedEntity)).toEqual([
      expect.objectContaining({ enrollment: uids.enrollment, status: 'ACTIVE', orgUnit: OU.jumba }),
    ]);
    const [event] = aefiEvents(emu, te.trackedEntity);
    expect(event).toMatchObject({ event: uids.event, programStage: AEFI.aefiStage, status: 'ACTIVE', followUp: true });
    expect(AEFI.dataElements.vaccineNames.map((de) => dv(event, de))).toEqual([
      'bOPV',
      'Pentavalent',
      'PCV',
      'Rotavirus',
    ]);
    expect(dv(event, AEFI.dataElements.onsetDate)).toBe('2025-03-02');
    expect(dv(event, AEFI.dataElements.serious)).toBe('true');
    expect(dv(event, AEFI.dataElements.seizures)).toBe('true');
    expect(dv(event, AEFI.dataElements.outcome)).toBe('Unknown');

    // The provider's retry (same job) and the caregiver reporting again (a new job): the same case.
    expect(await run([['r1', reaction(emu)]])).toEqual([{ ok: true }]);
    expect(await run([['r2', reaction(emu, { reaction: 'fever', reactionText: 'fever', serious: false })]])).toEqual([
      { ok: true },
    ]);
    expect(aefiEnrollments(emu, te.trackedEntity)).toHaveLength(1);
    const [after] = aefiEvents(emu, te.trackedEntity);
    expect(aefiEvents(emu, te.trackedEntity)).toHaveLength(1);
    expect(after?.notes?.map((n) => n.note)).toEqual([noteUid('r1'), noteUid('r2')]);
    expect(dv(after, AEFI.dataElements.fever)).toBe('true');
    expect(dv(after, AEFI.dataElements.seizures)).toBe('true');
    // The milder second report leaves the case serious.
    expect(dv(after, AEFI.dataElements.serious)).toBe('true');
    expect(await counter('jibu_aefi_reports_total', 'enrolled')).toBe(1);
    expect(await counter('jibu_aefi_reports_total', 'updated')).toBe(2);
  });

  it('an import whose answer was lost is resolved again and updates the case it created', async () => {
    const { emu, run } = handlerFor({ version });
    emu.faults.failNext(1, 503, { onlyImports: true, afterCommit: true });
    const { te } = tumaini(emu);
    expect(await run([['r1', reaction(emu)]])).toEqual([expect.objectContaining({ ok: false, permanent: false })]);
    expect(aefiEnrollments(emu, te.trackedEntity)).toHaveLength(1);
    expect(await run([['r1', reaction(emu)]])).toEqual([{ ok: true }]);
    expect(aefiEnrollments(emu, te.trackedEntity)).toHaveLength(1);
    expect(aefiEvents(emu, te.trackedEntity)).toHaveLength(1);
    expect(aefiEvents(emu, te.trackedEntity)[0]?.notes).toHaveLength(1);
  });
});

describe('a reaction and a case already open in DHIS2', () => {
  it('joins a case the investigators opened (E1039 avoided): a note and the follow-up flag on their AEFI event', async () => {
    const { emu, run } = handlerFor();
    const { te } = tumaini(emu);
    const staff = { enrollment: 'EnStaffAefi', event: 'EvStaffAefi' };
    const seeded = await run([
      [
        'staff',
        {
          op: 'tracker.create',
          enrollments: [
            {
              enrollment: staff.enrollment,
              trackedEntity: te.trackedEntity,
              program: AEFI.program,
              orgUnit: OU.jumba,
              status: 'ACTIVE',
              enrolledAt: '2025-02-20',
              events: [
                {
                  event: staff.event,
                  programStage: AEFI.aefiStage,
                  enrollment: staff.enrollment,
                  orgUnit: OU.jumba,
                  status: 'ACTIVE',
                  occurredAt: '2025-02-20',
                  dataValues: [{ dataElement: AEFI.dataElements.fever, value: 'true' }],
                },
              ],
            },
          ],
        },
      ],
    ]);
    expect(seeded).toEqual([{ ok: true }]);
    expect(await run([['r1', reaction(emu)]])).toEqual([{ ok: true }]);
    expect(aefiEnrollments(emu, te.trackedEntity).map((e) => e.enrollment)).toEqual([staff.enrollment]);
    const [theirs] = aefiEvents(emu, te.trackedEntity);
    expect(theirs).toMatchObject({ event: staff.event, followUp: true });
    expect(theirs?.notes?.map((n) => n.note)).toEqual([noteUid('r1')]);
    // Their data stays theirs.
    expect(theirs?.dataValues?.map((x) => x.dataElement)).toEqual([AEFI.dataElements.fever]);
  });

  it('someone enrolls the child between the relay’s read and its import (E1015): the report is resolved again and joins that case', async () => {
    let raced = false;
    const { emu, run } = handlerFor({
      fetch: (e) => async (input, init) => {
        const url = new URL(String(input instanceof Request ? input.url : input));
        if (!raced && init?.method === 'POST' && url.pathname.endsWith('/api/tracker')) {
          raced = true;
          const { te } = tumaini(e);
          const at = e.time.startOfDay(TODAY);
          e.state.addEnrollment({
            enrollment: 'EnRacer0001',
            trackedEntity: te.trackedEntity,
            program: AEFI.program,
            status: 'ACTIVE',
            orgUnit: OU.jumba,
            enrolledAt: at,
            occurredAt: at,
            completedAt: undefined,
            completedBy: undefined,
            followUp: false,
            deleted: false,
            geometry: undefined,
            storedBy: 'district.officer',
            createdAt: at,
            updatedAt: at,
            createdAtClient: undefined,
            updatedAtClient: undefined,
            notes: undefined,
          });
        }
        return e.fetch(input, init);
      },
    });
    const { te, visit } = tumaini(emu);
    expect(await run([['r1', reaction(emu)]])).toEqual([
      expect.objectContaining({ ok: false, permanent: false, detail: { reason: 'case_changed' } }),
    ]);
    expect(await run([['r1', reaction(emu)]])).toEqual([{ ok: true }]);
    expect(aefiEnrollments(emu, te.trackedEntity).map((e) => e.enrollment)).toEqual(['EnRacer0001']);
    expect(aefiEvents(emu, te.trackedEntity)).toEqual([
      expect.objectContaining({ event: aefiCaseUids(te.trackedEntity, visit.event).event, enrollment: 'EnRacer0001' }),
    ]);
  });

  it('two reports for one child in one batch: the second waits for the next batch and updates the first one’s case', async () => {
    const { emu, run } = handlerFor();
    const { te } = tumaini(emu);
    expect(
      await run([
        ['r1', reaction(emu)],
        ['r2', reaction(emu, { reaction: 'fever' })],
      ]),
    ).toEqual([
      { ok: true },
      expect.objectContaining({ ok: false, permanent: false, detail: { reason: 'same_child' } }),
    ]);
    expect(await run([['r2', reaction(emu, { reaction: 'fever' })]])).toEqual([{ ok: true }]);
    expect(aefiEnrollments(emu, te.trackedEntity)).toHaveLength(1);
    expect(aefiEvents(emu, te.trackedEntity)[0]?.notes).toHaveLength(2);
  });

  it('a report queued before the deployment turned the AEFI programme off goes on the visit as a note and the flag', async () => {
    const { emu, run } = handlerFor({ deployment: parseDeployment({}) });
    const { te, visit } = tumaini(emu);
    expect(await run([['r1', reaction(emu)]])).toEqual([{ ok: true }]);
    expect(aefiEnrollments(emu, te.trackedEntity)).toEqual([]);
    expect(visit.followUp).toBe(true);
    expect(emu.state.notesOf(visit.event).map((n) => n.note)).toEqual([noteUid('r1')]);
  });
});

/** A birth notified by Zawadi (Kidutani) as the case-worker action writes it. */
function birth(id: string, p: { name?: string; dob: string; phone: string; area?: string[] }): Dhis2Write {
  return birthWrite(parseDeployment({}), VITAL_EVENTS_DEFAULTS, {
    id,
    ref: `REF${id.toUpperCase()}`.slice(0, 6),
    username: 'cw.zawadi',
    orgUnit: OU.kidutani,
    area: p.area ?? [OU.kidutani],
    today: TODAY,
    sex: 'female',
    dateOfBirth: p.dob,
    place: 'home',
    carerName: 'Joyce Njeri',
    carerPhone: p.phone,
    ...(p.name ? { childName: p.name } : {}),
  });
}
const newTe = (w: Dhis2Write) => (w.op === 'tracker.create' ? w.duplicateCheck?.trackedEntity : undefined) ?? '';

/** The org unit tree as the sync stores it (the relay tells the worker's area by it). */
async function seedTree(emu: Emulator, store: { setJson(k: string, v: unknown): Promise<void> }) {
  const tree = Object.fromEntries(
    [...emu.state.orgUnits.values()].map((o) => [o.id, { id: o.id, name: o.name, path: o.path }]),
  );
  await store.setJson(rmKeys.orgUnits(), tree);
}

describe.each(['2.38', '2.40', '2.41', '2.42'])('a birth checked against the whole registry on %s', (version) => {
  it('of a child registered in another district: one new tracked entity and one potential duplicate naming both', async () => {
    const { emu, store, run, counter } = handlerFor({ version });
    await seedTree(emu, store);
    const wema = child(emu, PHONES.newborn, 'Wema');
    const w = birth('b1', { name: 'Wema Njeri', dob: '2025-03-01', phone: '+254722333444' });
    const before = emu.state.trackedEntities.size;
    expect(await run([['b1', w]])).toEqual([{ ok: true }]);
    expect(emu.state.trackedEntities.size).toBe(before + 1);
    expect([...emu.state.potentialDuplicates.values()]).toEqual([
      expect.objectContaining({ original: wema.trackedEntity, duplicate: newTe(w), status: 'OPEN' }),
    ]);
    // A retried job meets the pair DHIS2 already has (409) and files nothing more.
    expect(await run([['b1', w]])).toEqual([{ ok: true }]);
    expect(emu.state.potentialDuplicates.size).toBe(1);
    expect(emu.state.trackedEntities.size).toBe(before + 1);
    expect(await listDuplicates(store)).toEqual([
      expect.objectContaining({
        original: wema.trackedEntity,
        originalOrgUnit: OU.tiwiKati,
        duplicate: newTe(w),
        outcome: 'filed',
        ref: 'JB-B1',
      }),
    ]);
    expect(await counter('jibu_birth_duplicate_checks_total', 'filed')).toBe(2);
  });

  it('of a child nobody registered: created, and no potential duplicate', async () => {
    const { emu, store, run, counter } = handlerFor({ version });
    await seedTree(emu, store);
    const w = birth('b2', { name: 'Amani Juma', dob: '2025-02-20', phone: '+254722000111' });
    expect(await run([['b2', w]])).toEqual([{ ok: true }]);
    expect(emu.state.trackedEntities.get(newTe(w))).toBeDefined();
    expect(emu.state.potentialDuplicates.size).toBe(0);
    expect(await listDuplicates(store)).toEqual([]);
    expect(await counter('jibu_birth_duplicate_checks_total', 'no_match')).toBe(1);
  });
});

describe('a birth and the limits of the registry', () => {
  it('a likely match in the worker’s own area (turned down on the phone) files nothing', async () => {
    const { emu, store, run } = handlerFor();
    await seedTree(emu, store);
    const w = birth('b3', { name: 'Wema', dob: '2025-03-01', phone: '+254722000222', area: [OU.kwale] });
    expect(await run([['b3', w]])).toEqual([{ ok: true }]);
    expect(emu.state.potentialDuplicates.size).toBe(0);
  });

  it('DHIS2 refusing the record (403) gets a note and the follow-up flag on the new enrollment instead', async () => {
    const { emu, store, run, counter } = handlerFor({ version: '2.40' });
    await seedTree(emu, store);
    emu.faults.failNext(1, 403, { path: '/api/potentialDuplicates' });
    const wema = child(emu, PHONES.newborn, 'Wema');
    const w = birth('b4', { name: 'Wema', dob: '2025-03-01', phone: '+254722000333' });
    expect(await run([['b4', w]])).toEqual([{ ok: true }]);
    expect(emu.state.potentialDuplicates.size).toBe(0);
    const enrollment = w.op === 'tracker.create' ? w.duplicateCheck?.enrollment : undefined;
    const en = emu.state.enrollments.get(enrollment ?? '');
    expect(en).toMatchObject({ program: VEN.program, status: 'COMPLETED', followUp: true });
    expect(en?.notes?.map((n) => n.value)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^Possible duplicate of tracked entity ${wema.trackedEntity} \\(registered at ${OU.tiwiKati}\\).*HTTP 403.*Jibu ref JB-B4\\.$`,
        ),
      ),
    ]);
    expect((await listDuplicates(store))[0]).toMatchObject({ outcome: 'noted', original: wema.trackedEntity });
    expect(await counter('jibu_birth_duplicate_checks_total', 'noted')).toBe(1);
  });

  it('DHIS2 unavailable when filing: the birth is retried whole and ends with one child and one record', async () => {
    const { emu, store, run } = handlerFor();
    await seedTree(emu, store);
    emu.faults.failNext(1, 503, { path: '/api/potentialDuplicates' });
    const w = birth('b5', { name: 'Wema', dob: '2025-03-01', phone: '+254722000444' });
    const before = emu.state.trackedEntities.size;
    expect(await run([['b5', w]])).toEqual([expect.objectContaining({ ok: false, permanent: false })]);
    expect(await run([['b5', w]])).toEqual([{ ok: true }]);
    expect(emu.state.trackedEntities.size).toBe(before + 1);
    expect(emu.state.potentialDuplicates.size).toBe(1);
  });

  it('an account searching outside its capture scope filters only on searchable attributes, and an unnamed child is not searched', async () => {
    const { emu, store, run, counter } = handlerFor({ token: NARROW.token });
    await seedTree(emu, store);
    // Jibu writes in Kilifi with this account; Wema lives in Kwale, found by first name and date only.
    const w = birth('b6', { name: 'Wema', dob: '2025-03-01', phone: '+254700000009' });
    expect(await run([['b6', w]])).toEqual([{ ok: true }]);
    expect(emu.state.potentialDuplicates.size).toBe(1);
    const searches = emu.requests.filter((r) => r.path === '/api/tracker/trackedEntities');
    expect(searches.map((r) => r.status)).toEqual([200]);
    expect(decodeURIComponent(searches[0]?.search ?? '')).not.toContain(EIR.attributes.phone);
    // Date of birth and a non-searchable phone make one attribute, under the type's minimum of two.
    expect(await run([['b7', birth('b7', { dob: '2025-03-01', phone: '+254700000009' })]])).toEqual([{ ok: true }]);
    expect(await counter('jibu_birth_duplicate_checks_total', 'unsearchable')).toBe(1);
  });

  it('a search DHIS2 forbids (403) is inconclusive and never holds the birth back; unreadable type settings fall back to first name and date', async () => {
    const { emu, store, run, counter } = handlerFor({ version: '2.42' });
    await seedTree(emu, store);
    emu.faults.failNext(1, 403, { path: '/api/tracker/trackedEntities' });
    const w = birth('b9', { name: 'Wema', dob: '2025-03-01', phone: '+254722000666' });
    expect(await run([['b9', w]])).toEqual([{ ok: true }]);
    expect(emu.state.trackedEntities.get(newTe(w))).toBeDefined();
    expect(await counter('jibu_birth_duplicate_checks_total', 'search_refused')).toBe(1);

    const { emu: emu2, store: store2, run: run2 } = handlerFor({ version: '2.42' });
    await seedTree(emu2, store2);
    emu2.faults.failNext(1, 403, { path: '/api/trackedEntityTypes' });
    expect(await run2([['b10', birth('b10', { name: 'Wema', dob: '2025-03-01', phone: '+254722000777' })]])).toEqual([
      { ok: true },
    ]);
    expect(emu2.state.potentialDuplicates.size).toBe(1);
  });

  it('more matches than the type lets DHIS2 list (maxteicountreached): inconclusive, the child is still created', async () => {
    const { emu, store, run, counter } = handlerFor({ token: NARROW.token });
    await seedTree(emu, store);
    const person = emu.state.metadata.trackedEntityTypes.get(EIR.trackedEntityType)!;
    person.maxTeiCountToReturn = 1;
    // A second Wema born the same day, in Kwale too.
    const wema = child(emu, PHONES.newborn, 'Wema');
    emu.state.addTrackedEntity({ ...wema, trackedEntity: 'TeWemaTwin1', attributes: { ...wema.attributes } });
    const w = birth('b8', { name: 'Wema', dob: '2025-03-01', phone: '+254722000555' });
    expect(await run([['b8', w]])).toEqual([{ ok: true }]);
    expect(emu.state.trackedEntities.get(newTe(w))).toBeDefined();
    expect(emu.state.potentialDuplicates.size).toBe(0);
    expect(await counter('jibu_birth_duplicate_checks_total', 'too_many')).toBe(1);
  });
});
