import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.ts';
import { defaultDeployment } from '../../../src/dhis2/deployment.ts';
import {
  flaggedEnrollment,
  likelyMatches,
  listDuplicates,
  recordDuplicates,
  searchPlan,
  type DuplicateRecord,
} from '../../../src/dhis2/outbox/duplicates.ts';
import type { DuplicateCheck } from '../../../src/dhis2/outbox/types.ts';
import type { Dhis2TrackedEntity, TrackedEntityType } from '../../../src/dhis2/schemas.ts';
import { createMemoryJobQueue, createMemoryStore } from '../../../src/store/index.ts';

/**
 * The pure half of a birth's registry-wide duplicate check: which search DHIS2 allows, which results are
 * likely the same child, and what the relay writes when DHIS2 refuses a potential-duplicate record.
 */

const A = defaultDeployment().immunization.attributes;
const check = (over: Partial<DuplicateCheck> = {}): DuplicateCheck => ({
  trackedEntity: 'TeNewBaby01',
  enrollment: 'EnNewBaby01',
  firstName: 'Wema',
  dateOfBirth: '2025-03-01',
  phone: '+254700000009',
  area: ['JbVilKdt001'],
  ...over,
});

/** The EIR package's Person: names and date of birth searchable, the phone not. */
const person = (over: Partial<TrackedEntityType> = {}): TrackedEntityType => ({
  id: 'MCPQUTHX1Ze',
  minAttributesRequiredToSearch: 2,
  maxTeiCountToReturn: 50,
  trackedEntityTypeAttributes: [
    { searchable: true, trackedEntityAttribute: { id: A.firstName } },
    { searchable: true, trackedEntityAttribute: { id: A.dateOfBirth } },
    { searchable: false, trackedEntityAttribute: { id: A.phone } },
    { searchable: false, trackedEntityAttribute: { id: 'KSr2yTdu1AI', unique: true } },
  ],
  ...over,
});

describe('the registry search for a birth', () => {
  it('filters on first name and date of birth, never on an attribute the type does not let a global search use', () => {
    expect(searchPlan(check(), A, person())).toEqual({
      ok: true,
      filters: [
        { attribute: A.firstName, op: 'eq', value: 'Wema' },
        { attribute: A.dateOfBirth, op: 'eq', value: '2025-03-01' },
      ],
      pageSize: 51,
    });
  });

  it('adds the caregiver phone where the type makes it searchable', () => {
    const searchable = person({
      trackedEntityTypeAttributes: person().trackedEntityTypeAttributes.map((t) => ({ ...t, searchable: true })),
    });
    const plan = searchPlan(check(), A, searchable);
    expect(plan.ok && plan.filters.map((f) => f.attribute)).toEqual([A.firstName, A.dateOfBirth, A.phone]);
  });

  it('gives up on a child without a name when the other searchable attributes are fewer than the type requires', () => {
    expect(searchPlan(check({ firstName: undefined }), A, person())).toEqual({ ok: false, outcome: 'unsearchable' });
    const lenient = searchPlan(check({ firstName: undefined }), A, person({ minAttributesRequiredToSearch: 1 }));
    expect(lenient.ok && lenient.filters).toEqual([{ attribute: A.dateOfBirth, op: 'eq', value: '2025-03-01' }]);
  });

  it('never searches without the date of birth (a first name alone matches half a district)', () => {
    const noDate = person({
      minAttributesRequiredToSearch: 1,
      trackedEntityTypeAttributes: [{ searchable: true, trackedEntityAttribute: { id: A.firstName } }],
    });
    expect(searchPlan(check(), A, noDate)).toEqual({ ok: false, outcome: 'unsearchable' });
  });
});

const te = (uid: string, orgUnit: string, attrs: Record<string, string>): Dhis2TrackedEntity => ({
  trackedEntity: uid,
  orgUnit,
  attributes: Object.entries(attrs).map(([attribute, value]) => ({ attribute, value })),
});
const TREE = {
  JbVilKdt001: { path: '/JbKenya0001/JbDstKlf001/JbFacMtw001/JbVilKdt001' },
  JbVilJmb001: { path: '/JbKenya0001/JbDstKlf001/JbFacMtw001/JbVilJmb001' },
  JbVilTwk001: { path: '/JbKenya0001/JbDstKwl001/JbFacTiw001/JbVilTwk001' },
};

describe('likely matches among the results', () => {
  it('are registered children outside the worker’s area with the same date of birth and the same first name or phone', () => {
    const found = [
      te('TeWemaKwl01', 'JbVilTwk001', { [A.firstName]: 'WEMA', [A.dateOfBirth]: '2025-03-01' }),
      te('TeOtherPh01', 'JbVilTwk001', {
        [A.firstName]: 'Neema',
        [A.dateOfBirth]: '2025-03-01',
        [A.phone]: '+254700000009',
      }),
      te('TeOtherDob1', 'JbVilTwk001', { [A.firstName]: 'Wema', [A.dateOfBirth]: '2025-02-01' }),
      te('TeStranger1', 'JbVilTwk001', { [A.firstName]: 'Asha', [A.dateOfBirth]: '2025-03-01' }),
    ];
    expect(likelyMatches(check(), found, A, TREE)).toEqual([
      { trackedEntity: 'TeWemaKwl01', orgUnit: 'JbVilTwk001' },
      { trackedEntity: 'TeOtherPh01', orgUnit: 'JbVilTwk001' },
    ]);
  });

  it('leave out the new child itself (a retried job finds it) and the worker’s own area (offered on the phone)', () => {
    const found = [
      te('TeNewBaby01', 'JbVilKdt001', { [A.firstName]: 'Wema', [A.dateOfBirth]: '2025-03-01' }),
      te('TeWemaKdt01', 'JbVilKdt001', { [A.firstName]: 'Wema', [A.dateOfBirth]: '2025-03-01' }),
    ];
    expect(likelyMatches(check(), found, A, TREE)).toEqual([]);
    // A facility worker's area holds its villages.
    expect(
      likelyMatches(
        check({ area: ['JbFacMtw001'] }),
        [te('TeWemaJmb01', 'JbVilJmb001', { [A.firstName]: 'Wema', [A.dateOfBirth]: '2025-03-01' })],
        A,
        TREE,
      ),
    ).toEqual([]);
  });

  it('count an org unit the read model does not know as outside the area', () => {
    const found = [te('TeWemaNew01', 'OuUnknown01', { [A.firstName]: 'Wema', [A.dateOfBirth]: '2025-03-01' })];
    expect(likelyMatches(check(), found, A, TREE)).toEqual([{ trackedEntity: 'TeWemaNew01', orgUnit: 'OuUnknown01' }]);
  });
});

describe('when DHIS2 refuses a potential-duplicate record', () => {
  it('the new enrollment is resent whole with the follow-up flag and one note, without its events or attributes', () => {
    const created = {
      enrollment: 'EnNewBaby01',
      trackedEntity: 'TeNewBaby01',
      program: 'FTBBLOT3sO7',
      orgUnit: 'JbVilKdt001',
      status: 'COMPLETED' as const,
      enrolledAt: '2025-03-03',
      occurredAt: '2025-03-01',
      attributes: [{ attribute: A.firstName, value: 'Wema' }],
      events: [],
    };
    const note = { note: 'NoteUid0001', value: 'Possible duplicate' };
    expect(flaggedEnrollment(created, note)).toEqual({
      enrollment: 'EnNewBaby01',
      trackedEntity: 'TeNewBaby01',
      program: 'FTBBLOT3sO7',
      orgUnit: 'JbVilKdt001',
      status: 'COMPLETED',
      enrolledAt: '2025-03-03',
      occurredAt: '2025-03-01',
      followUp: true,
      notes: [note],
    });
  });
});

describe('the admin list of possible duplicates', () => {
  it('lists the newest first and keeps one entry per pair when a retried job records it again', async () => {
    const clock = fixedClock('2025-03-03T06:00:00Z');
    const queue = createMemoryJobQueue({ clock });
    const store = createMemoryStore({ clock, queue });
    const record = (original: string, at: string): DuplicateRecord => ({
      at,
      ref: 'ABC234',
      original,
      originalOrgUnit: 'JbVilTwk001',
      duplicate: 'TeNewBaby01',
      enrollment: 'EnNewBaby01',
      outcome: 'filed',
    });
    await recordDuplicates(store, [record('TeWemaKwl01', '2025-03-03T06:00:00.000Z')]);
    await recordDuplicates(store, [record('TeOther0001', '2025-03-03T06:01:00.000Z')]);
    await recordDuplicates(store, [record('TeWemaKwl01', '2025-03-03T06:02:00.000Z')]);
    expect((await listDuplicates(store)).map((r) => [r.original, r.at])).toEqual([
      ['TeWemaKwl01', '2025-03-03T06:02:00.000Z'],
      ['TeOther0001', '2025-03-03T06:01:00.000Z'],
    ]);
    await queue.close();
    await store.close();
  });
});
