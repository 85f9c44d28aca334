import { describe, expect, it } from 'vitest';
import { defaultDeployment, parseDeployment } from '../../src/dhis2/deployment.ts';
import type { Dhis2Event, Dhis2TrackedEntity } from '../../src/dhis2/schemas.ts';
import {
  caregiversDue,
  childFacts,
  defaultSchedules,
  digestKey,
  eventMarker,
  isOpenAppointmentOn,
  messageKey,
  missedRule,
  reminderRules,
  stillMissed,
} from '../../src/scheduler/decide.ts';
import type { DefaulterView } from '../../src/dhis2/readmodel/types.ts';

const deployment = defaultDeployment();
const { program, stage, attributes: A } = deployment.immunization;

/** An event as `GET /api/tracker/trackedEntities?fields=…enrollments[events[*]]` returns it (2.40: no zone on timestamps). */
function event(uid: string, over: Partial<Dhis2Event> = {}): Dhis2Event {
  return {
    event: uid,
    status: 'SCHEDULE',
    program,
    programStage: stage,
    orgUnit: 'JbVilKdt001',
    scheduledAt: '2025-03-05T00:00:00.000',
    deleted: false,
    ...over,
  };
}

function child(
  te: string,
  firstName: string,
  phone: string | undefined,
  events: Dhis2Event[],
  extra: Array<{ attribute: string; value: string }> = [],
): Dhis2TrackedEntity {
  const attributes = [
    { attribute: A.firstName, value: firstName },
    { attribute: A.surname, value: 'Salim' },
    ...(phone === undefined ? [] : [{ attribute: A.phone, value: phone }]),
    ...extra,
  ];
  return {
    trackedEntity: te,
    orgUnit: 'JbVilKdt001',
    deleted: false,
    attributes,
    enrollments: [
      {
        enrollment: `en${te.slice(2)}`,
        program,
        orgUnit: 'JbVilKdt001',
        status: 'ACTIVE',
        deleted: false,
        events: events.map((e) => ({ ...e, enrollment: `en${te.slice(2)}` })),
      },
    ],
  };
}

const DAY = '2025-03-05';

describe('which appointments are open on a day', () => {
  it('a stored SCHEDULE event with that date and no occurredAt is open', () => {
    expect(isOpenAppointmentOn(event('EvAmina0001'), DAY, stage)).toBe(true);
  });

  it.each([
    ['completed', { status: 'COMPLETED' as const, occurredAt: '2025-03-04T10:00:00.000' }],
    ['rescheduled to another day', { scheduledAt: '2025-03-12T00:00:00.000' }],
    ['deleted', { deleted: true }],
    ['skipped', { status: 'SKIPPED' as const }],
    ['visited but left SCHEDULE with an occurredAt', { occurredAt: '2025-03-05T09:00:00.000' }],
    ['of another stage', { programStage: 'RcbCl5ww8XY' }],
  ])('a %s event never is', (_what, over) => {
    expect(isOpenAppointmentOn(event('EvAmina0001', over), DAY, stage)).toBe(false);
  });
});

describe('one message per caregiver phone', () => {
  const amina = child('TeAmina0001', 'Amina', '+254700000001', [event('EvAmina0001')]);
  const juma = child('TeJuma00001', 'Juma', '0700 000001', [event('EvJuma00001')]); // same phone, national form
  const neema = child('TeNeema0001', 'Neema', '+254700000002', [event('EvNeema0001')]);

  it('children sharing a phone (in any spelling) get one message about all of them, named in a stable order', () => {
    const { caregivers } = caregiversDue([juma, neema, amina], DAY, deployment, 'KE', new Set());
    expect(caregivers.map((c) => [c.phone, c.children.map((x) => x.firstName)])).toEqual([
      ['+254700000001', ['Amina', 'Juma']],
      ['+254700000002', ['Neema']],
    ]);
    expect(caregivers[0]!.children[0]).toEqual({
      event: 'EvAmina0001',
      enrollment: 'enAmina0001',
      trackedEntity: 'TeAmina0001',
      orgUnit: 'JbVilKdt001',
      firstName: 'Amina',
      surname: 'Salim',
      scheduledAt: DAY,
    });
  });

  it('children already messaged are left out, and a caregiver with none left gets nothing', () => {
    const { caregivers } = caregiversDue(
      [amina, juma, neema],
      DAY,
      deployment,
      'KE',
      new Set(['EvAmina0001', 'EvNeema0001']),
    );
    expect(caregivers.map((c) => [c.phone, c.children.map((x) => x.firstName)])).toEqual([['+254700000001', ['Juma']]]);
  });

  it('a child whose phone cannot be read is set apart for the case worker', () => {
    const r = caregiversDue(
      [
        child('TeNoPhone01', 'Baraka', 'unknown', [event('EvBaraka001')]),
        child('TeNone00001', 'Tatu', undefined, [event('EvTatu00001')]),
      ],
      DAY,
      deployment,
      'KE',
      new Set(),
    );
    expect(r.caregivers).toEqual([]);
    expect(r.noPhone.map((c) => c.firstName)).toEqual(['Baraka', 'Tatu']);
  });

  it('a deleted child, or an enrollment in another programme, is never counted', () => {
    const gone = { ...amina, deleted: true };
    const other: Dhis2TrackedEntity = {
      ...neema,
      enrollments: neema.enrollments!.map((en) => ({ ...en, program: 'FTBBLOT3sO7' })),
    };
    expect(caregiversDue([gone, other], DAY, deployment, 'KE', new Set()).caregivers).toEqual([]);
  });

  it('reads the caregiver language from the attribute the deployment maps', () => {
    const d = parseDeployment({ immunization: { attributes: { preferredLanguage: 'LangAttr001' } } });
    const te = child(
      'TeAmina0001',
      'Amina',
      '+254700000001',
      [event('EvAmina0001')],
      [{ attribute: 'LangAttr001', value: 'sw' }],
    );
    expect(childFacts(te, d, 'KE').dhis2Locale).toBe('sw');
    expect(caregiversDue([te], DAY, d, 'KE', new Set()).caregivers[0]!.dhis2Locale).toBe('sw');
    expect(childFacts(te, deployment, 'KE').dhis2Locale).toBeUndefined();
  });
});

describe('rules, markers and keys', () => {
  it('reminders look N days ahead per deployment rule (default one rule at 2 days)', () => {
    expect(reminderRules('2025-03-03', deployment)).toEqual([
      { kind: 'reminder', tag: 'd2', appointmentDate: '2025-03-05' },
    ]);
    const d = parseDeployment({ reminders: { rules: [{ daysBefore: 7 }, { daysBefore: 1 }, { daysBefore: 7 }] } });
    expect(reminderRules('2025-02-27', d).map((r) => [r.tag, r.appointmentDate])).toEqual([
      ['d1', '2025-02-28'],
      ['d7', '2025-03-06'],
    ]);
  });

  it('missed visits are those of yesterday by default, graceDays ago otherwise', () => {
    expect(missedRule('2025-03-01', deployment)).toEqual({ kind: 'missed', tag: 'g1', appointmentDate: '2025-02-28' });
    expect(missedRule('2025-03-03', parseDeployment({ missedVisits: { graceDays: 3 } })).appointmentDate).toBe(
      '2025-02-28',
    );
  });

  it('a message key depends on the children it is about, not on their order', () => {
    const rule = reminderRules('2025-03-03', deployment)[0]!;
    expect(messageKey(rule, '+254700000001', ['EvB', 'EvA'])).toBe(messageKey(rule, '+254700000001', ['EvA', 'EvB']));
    expect(messageKey(rule, '+254700000001', ['EvA'])).not.toBe(messageKey(rule, '+254700000001', ['EvA', 'EvB']));
    expect(eventMarker(rule, 'EvA')).toBe('sched:reminder:d2:2025-03-05:EvA');
    expect(eventMarker(rule, 'EvA')).not.toBe(eventMarker(missedRule('2025-03-06', deployment), 'EvA'));
    expect(digestKey('2025-03-03', '+254711000001', ['b', 'a'])).toBe(
      digestKey('2025-03-03', '+254711000001', ['a', 'b']),
    );
  });
});

describe('the digest reports only visits still missed according to DHIS2', () => {
  const d = (uid: string): DefaulterView => ({
    event: uid,
    enrollment: 'en',
    trackedEntity: 'te',
    orgUnit: 'JbVilKdt001',
    name: uid,
    scheduledAt: '2025-03-01',
  });
  it('drops completed, moved-to-the-future, deleted and vanished events', () => {
    const current = new Map<string, Dhis2Event>([
      ['open', event('open', { scheduledAt: '2025-03-01T00:00:00.000' })],
      ['done', event('done', { status: 'COMPLETED', occurredAt: '2025-03-02T10:00:00.000' })],
      ['moved', event('moved', { scheduledAt: '2025-03-10T00:00:00.000' })],
      ['deleted', event('deleted', { deleted: true, scheduledAt: '2025-03-01T00:00:00.000' })],
    ]);
    expect(
      stillMissed([d('open'), d('done'), d('moved'), d('deleted'), d('vanished')], current, '2025-03-03', stage).map(
        (x) => x.event,
      ),
    ).toEqual(['open']);
  });
});

describe('schedules', () => {
  it('have fixed ids and run in the deployment time zone: reminders and missed visits when the window opens, the digest an hour later', () => {
    const s = defaultSchedules(parseDeployment({ deliveryWindow: { start: '07:30', end: '18:00' } }), 'Africa/Kigali');
    expect(s.map((x) => [x.schedulerId, x.job, x.repeat])).toEqual([
      ['jibu-reminders', 'reminders', { pattern: '30 7 * * *', tz: 'Africa/Kigali' }],
      ['jibu-missed-appointments', 'missed-appointments', { pattern: '30 7 * * *', tz: 'Africa/Kigali' }],
      ['jibu-defaulter-digest', 'defaulter-digest', { pattern: '30 8 * * *', tz: 'Africa/Kigali' }],
      ['jibu-sync-incremental', 'sync', { every: 300_000 }],
      ['jibu-sync-full', 'sync', { pattern: '0 2 * * *', tz: 'Africa/Kigali' }],
    ]);
  });

  it('runs a weekly digest on Monday mornings only', () => {
    const s = defaultSchedules(parseDeployment({ digest: 'weekly' }), 'Africa/Nairobi');
    expect(s.find((x) => x.job === 'defaulter-digest')?.repeat).toEqual({ pattern: '0 9 * * 1', tz: 'Africa/Nairobi' });
    expect(s.find((x) => x.job === 'reminders')?.repeat).toEqual({ pattern: '0 8 * * *', tz: 'Africa/Nairobi' });
  });
});
