import { describe, expect, it } from 'vitest';
import { parseDeployment } from '../../../src/dhis2/deployment.ts';
import { aefiCaseUids, aefiDataValues, planAefi, type AefiFound } from '../../../src/dhis2/outbox/aefi.ts';
import type { AefiReport } from '../../../src/dhis2/outbox/types.ts';
import type { Dhis2Enrollment, Dhis2Event } from '../../../src/dhis2/schemas.ts';
import { AEFI, EIR } from '../../../src/emulator/index.ts';

/**
 * How a reaction report becomes an AEFI case, as a pure function of what DHIS2 holds: the data values of
 * the AEFI stage, and whether the report opens a case, updates its own, joins an open one or goes on the
 * visit. The relay reads DHIS2 and posts; these tests need neither.
 */

const d = parseDeployment({ aefi: { program: AEFI.program } });
const a = { ...d.aefi, program: AEFI.program };
const DE = AEFI.dataElements;
const TE = 'TeChild0001';
const VISIT = 'EvVisit0001';
const OU = 'JbVilJmb001';

const report = (over: Partial<AefiReport> = {}): AefiReport => ({
  op: 'aefi.report',
  trackedEntity: TE,
  visit: VISIT,
  orgUnit: 'JbFacMtw001',
  reportedAt: '2025-03-03',
  onset: '2025-03-02',
  reaction: 'fever',
  reactionText: 'fever',
  serious: false,
  reporter: { name: 'Caregiver, by Jibu SMS', phone: '+254700000006' },
  note: 'Caregiver reported a reaction (Jibu ref ABC234)',
  ...over,
});

/** Tumaini's 6-week visit: bOPV 1, Penta 1, PCV 1, Rota 1 and the place (not a vaccine). */
const visit = (vaccines: string[] = ['CfPM8lsEMzH', 'K3TcJM1ySQA', 'fmXCCPENnwR', 'nIqQYeSwU9E']): Dhis2Event => ({
  event: VISIT,
  program: EIR.program,
  programStage: EIR.immunizationStage,
  enrollment: 'EnEir000001',
  orgUnit: OU,
  status: 'COMPLETED',
  occurredAt: '2025-03-02T00:00:00.000',
  dataValues: [
    ...vaccines.map((dataElement) => ({ dataElement, value: 'true' })),
    { dataElement: EIR.dataElements.vaccinationPlace, value: 'Jumba' },
  ],
});

const value = (values: Array<{ dataElement: string; value: string | null }>, de: string) =>
  values.find((x) => x.dataElement === de)?.value;
const note = { note: 'NoteUid0001', value: 'Caregiver reported a reaction (Jibu ref ABC234)' };

describe('the AEFI stage data values of a report', () => {
  it('name the vaccines given at the visit, one per slot, with their dose and the vaccination date', () => {
    const values = aefiDataValues(a, report(), visit(), { creating: true, locale: 'en' });
    expect(DE.vaccineNames.map((de) => value(values, de))).toEqual(['bOPV', 'Pentavalent', 'PCV', 'Rotavirus']);
    expect(DE.vaccineDoses.map((de) => value(values, de))).toEqual(['1', '1', '1', '1']);
    expect(DE.vaccinationDates.map((de) => value(values, de))).toEqual(Array(4).fill('2025-03-02'));
  });

  it('hold the onset date, serious yes or no, the reaction and, for a new case, the reporter and the outcome', () => {
    const created = aefiDataValues(a, report({ serious: true }), visit(), { creating: true, locale: 'en' });
    expect(value(created, DE.onsetDate)).toBe('2025-03-02');
    expect(value(created, DE.serious)).toBe('true');
    expect(value(created, DE.fever)).toBe('true');
    expect(value(created, DE.reporter)).toBe('Caregiver, by Jibu SMS');
    expect(value(created, DE.reporterPhone)).toBe('+254700000006');
    expect(value(created, DE.outcome)).toBe('Unknown');
    const again = aefiDataValues(a, report({ reporter: { name: 'Zawadi' } }), visit(), {
      creating: false,
      locale: 'en',
    });
    // A later report keeps the first reporter, leaves the outcome to the officers and never un-serious a case.
    expect(value(again, DE.serious)).toBeUndefined();
    expect(value(again, DE.reporter)).toBeUndefined();
    expect(value(again, DE.outcome)).toBeUndefined();
    const worse = aefiDataValues(a, report({ serious: true }), visit(), { creating: false, locale: 'en' });
    expect(value(worse, DE.serious)).toBe('true');
  });

  it('write a reaction without its own data element as "other" with its text', () => {
    const values = aefiDataValues(a, report({ reaction: 'breathing', reactionText: 'difficulty breathing' }), visit(), {
      creating: true,
      locale: 'en',
    });
    expect(value(values, DE.otherReaction)).toBe('true');
    expect(value(values, DE.otherReactionText)).toBe('difficulty breathing');
    expect(value(values, DE.fever)).toBeUndefined();
  });

  it('put a batch number in the slot of the vaccine the case worker named', () => {
    const values = aefiDataValues(a, report({ batch: { number: 'PCV-4471', vaccine: 'pcv' } }), visit(), {
      creating: true,
      locale: 'en',
    });
    expect(DE.batchNumbers.map((de) => value(values, de))).toEqual([undefined, undefined, 'PCV-4471', undefined]);
    expect(value(values, DE.comments)).toBeUndefined();
  });

  it('put a batch number of an unnamed vaccine in the only slot, or in the comments when several vaccines were given', () => {
    const single = aefiDataValues(
      a,
      report({ batch: { number: 'BCG-77', vaccine: 'other' } }),
      visit(['bpBUOvqy1Jn']),
      {
        creating: true,
        locale: 'en',
      },
    );
    expect(value(single, DE.batchNumbers[0])).toBe('BCG-77');
    const several = aefiDataValues(a, report({ batch: { number: 'X-1', vaccine: 'other' } }), visit(), {
      creating: true,
      locale: 'fr',
    });
    expect(DE.batchNumbers.map((de) => value(several, de))).toEqual([undefined, undefined, undefined, undefined]);
    expect(value(several, DE.comments)).toBe("Numéro de lot sur le carnet de l'enfant : X-1 (vaccin non précisé).");
  });

  it('follow the deployment’s mapping of data elements and values', () => {
    const custom = parseDeployment({
      aefi: {
        program: AEFI.program,
        dataElements: { serious: 'SeriousDe01', vaccineNames: ['VaccName001'] },
        values: { yes: 'Yes', no: 'No', outcome: 'Recovering/resolving' },
        vaccines: { CfPM8lsEMzH: { name: 'OPV_B', family: 'opv' } },
      },
    }).aefi;
    const values = aefiDataValues(custom, report({ serious: true }), visit(), { creating: true, locale: 'en' });
    expect(value(values, 'SeriousDe01')).toBe('Yes');
    expect(value(values, 'VaccName001')).toBe('OPV_B');
    expect(value(values, DE.vaccineNames[0])).toBeUndefined();
    expect(value(values, DE.outcome)).toBe('Recovering/resolving');
  });

  it('name no vaccine when DHIS2 no longer has the visit', () => {
    const values = aefiDataValues(a, report(), null, { creating: true, locale: 'en' });
    expect(values.some((x) => (DE.vaccineNames as readonly string[]).includes(x.dataElement))).toBe(false);
    expect(value(values, DE.onsetDate)).toBe('2025-03-02');
  });
});

const enrollment = (over: Partial<Dhis2Enrollment>): Dhis2Enrollment => ({
  enrollment: 'EnAefi00001',
  trackedEntity: TE,
  program: AEFI.program,
  status: 'ACTIVE',
  orgUnit: OU,
  enrolledAt: '2025-02-01T00:00:00.000',
  events: [],
  ...over,
});
const aefiEvent = (over: Partial<Dhis2Event>): Dhis2Event => ({
  event: 'EvAefi00001',
  program: AEFI.program,
  programStage: AEFI.aefiStage,
  enrollment: 'EnAefi00001',
  orgUnit: OU,
  status: 'ACTIVE',
  occurredAt: '2025-02-01T00:00:00.000',
  ...over,
});

describe('where a report goes', () => {
  const found = (enrollments: Dhis2Enrollment[] = [], v: Dhis2Event | null = visit()): AefiFound => ({
    visit: v,
    enrollments,
  });

  it('opens a case for a child with none: an ACTIVE enrollment at the vaccination site and its AEFI event', () => {
    const uids = aefiCaseUids(TE, VISIT);
    const plan = planAefi(a, report(), found(), note, 'en');
    expect(plan.outcome).toBe('enrolled');
    expect(plan.enrollments).toEqual([
      {
        enrollment: uids.enrollment,
        trackedEntity: TE,
        program: AEFI.program,
        orgUnit: OU,
        status: 'ACTIVE',
        enrolledAt: '2025-03-03',
        occurredAt: '2025-03-02',
      },
    ]);
    expect(plan.events).toEqual([
      expect.objectContaining({
        event: uids.event,
        programStage: AEFI.aefiStage,
        enrollment: uids.enrollment,
        orgUnit: OU,
        status: 'ACTIVE',
        occurredAt: '2025-03-03',
        followUp: true,
        notes: [note],
      }),
    ]);
    expect(plan.uids).toEqual([uids.enrollment, uids.event]);
  });

  it('enrolls at the report’s org unit when the visit is gone', () => {
    expect(planAefi(a, report(), found([], null), note, 'en').enrollments[0]?.orgUnit).toBe('JbFacMtw001');
  });

  it('updates the case of the same visit (same uids whoever reports): new data values and note, nothing created', () => {
    const uids = aefiCaseUids(TE, VISIT);
    const mine = aefiEvent({ event: uids.event, enrollment: uids.enrollment, status: 'COMPLETED' });
    const plan = planAefi(
      a,
      report({ batch: { number: 'L-1', vaccine: 'penta' } }),
      found([enrollment({ enrollment: uids.enrollment, events: [mine] })]),
      note,
      'en',
    );
    expect(plan.outcome).toBe('updated');
    expect(plan.enrollments).toEqual([]);
    expect(plan.events).toHaveLength(1);
    expect(plan.events[0]).toMatchObject({ event: uids.event, status: 'COMPLETED', notes: [note] });
    expect(value(plan.events[0]?.dataValues ?? [], DE.batchNumbers[1])).toBe('L-1');
    expect(value(plan.events[0]?.dataValues ?? [], DE.outcome)).toBeUndefined();
  });

  it('joins another open case (one AEFI event per enrollment, one open enrollment per child): its note and flag, not its data', () => {
    const theirs = aefiEvent({});
    const plan = planAefi(a, report(), found([enrollment({ events: [theirs] })]), note, 'en');
    expect(plan.outcome).toBe('noted');
    expect(plan.events).toEqual([expect.objectContaining({ event: theirs.event, followUp: true, notes: [note] })]);
    expect(plan.events[0]?.dataValues).toBeUndefined();
  });

  it('gives an open case without an AEFI event this report’s event', () => {
    const plan = planAefi(a, report(), found([enrollment({})]), note, 'en');
    expect(plan.outcome).toBe('added');
    expect(plan.enrollments).toEqual([]);
    expect(plan.events[0]).toMatchObject({ event: aefiCaseUids(TE, VISIT).event, enrollment: 'EnAefi00001' });
  });

  it('opens a new case when the earlier ones are closed', () => {
    const closed = enrollment({ status: 'COMPLETED', events: [aefiEvent({ status: 'COMPLETED' })] });
    expect(planAefi(a, report(), found([closed]), note, 'en').outcome).toBe('enrolled');
  });

  it('goes on the visit when this visit’s case was closed and its AEFI event removed', () => {
    const uids = aefiCaseUids(TE, VISIT);
    const plan = planAefi(
      a,
      report(),
      found([enrollment({ enrollment: uids.enrollment, status: 'COMPLETED' })]),
      note,
      'en',
    );
    expect(plan.outcome).toBe('noted');
    expect(plan.events).toEqual([expect.objectContaining({ event: VISIT, followUp: true, notes: [note] })]);
  });

  it('derives one case per child and visit', () => {
    expect(aefiCaseUids(TE, VISIT)).toEqual(aefiCaseUids(TE, VISIT));
    expect(aefiCaseUids(TE, 'EvVisit0002').event).not.toBe(aefiCaseUids(TE, VISIT).event);
    expect(aefiCaseUids('TeChild0002', VISIT).enrollment).not.toBe(aefiCaseUids(TE, VISIT).enrollment);
  });
});
