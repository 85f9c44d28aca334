import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDeployment } from '../../../src/dhis2/deployment.ts';
import { addDays, dateIn } from '../../../src/dhis2/readmodel/calendar.ts';
import { isWithin } from '../../../src/dhis2/readmodel/read.ts';
import type { EventSnapshot } from '../../../src/dhis2/readmodel/types.ts';
import {
  caseWorkerView,
  childView,
  defaulterEntries,
  deriveChild,
  isMissed,
  orgUnitTree,
  withSnapshots,
} from '../../../src/dhis2/readmodel/views.ts';
import { TrackedEntitySchema, UserSchema } from '../../../src/dhis2/schemas.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as unknown;
const te = TrackedEntitySchema.parse(fixture('tracked-entity-2.41.json'));
const deployment = parseDeployment({ immunization: { attributes: { preferredLanguage: 'LngPrefer01' } } });
const ctx = { deployment, today: '2025-03-03', window: { from: '2024-12-03', to: '2025-05-02' }, defaultCountry: 'SL' };

describe('deriving a child from a tracked entity (2.41 payload)', () => {
  it('keeps the SCHEDULE Immunization events in the window, earliest first, and reads the attributes', () => {
    const d = deriveChild(te, ctx)!;
    expect(d.snapshots.map((s) => s.event)).toEqual(['X0vIp6Cc0JR', 'Yq3HLqF6Vxd']);
    expect(d.record).toEqual({
      trackedEntity: 'PQfMcpmXeFE',
      enrollment: 'Kwl5dlsVOrT',
      firstName: 'Aisha',
      surname: 'Kamara',
      dateOfBirth: '2024-11-20',
      sex: 'Female',
      orgUnit: 'DiszpKrYNg8',
      phone: '+23276123456',
      rawPhone: '076 123 456',
      locale: 'fr',
      events: ['X0vIp6Cc0JR', 'Yq3HLqF6Vxd'],
      // The completed Immunization visit, not the later Birth details event.
      latestEvent: 'ZwwuwNp6gVd',
      latestOccurredAt: '2025-01-02T00:00:00.000',
      defaulterOrgUnits: ['g8upMTyEZGZ'],
    });
    expect(d.snapshots[0]).not.toHaveProperty('followup');
    expect(d.snapshots[0]).toMatchObject({ followUp: false, attributeCategoryOptions: 'xYerKDKCefk' });
  });

  it('shows the missed visit as next, and one defaulter entry at the org unit of that visit', () => {
    const d = deriveChild(te, ctx)!;
    const tree = orgUnitTree([
      {
        id: 'g8upMTyEZGZ',
        name: 'Njandama MCHP',
        path: '/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8/g8upMTyEZGZ',
      },
    ]);
    expect(childView(d, tree).next).toEqual({
      event: 'X0vIp6Cc0JR',
      enrollment: 'Kwl5dlsVOrT',
      trackedEntity: 'PQfMcpmXeFE',
      programStage: 's53RFfXA75f',
      orgUnit: 'g8upMTyEZGZ',
      orgUnitName: 'Njandama MCHP',
      scheduledAt: '2025-03-01',
      status: 'SCHEDULE',
    });
    expect(defaulterEntries(d, ctx.today)).toEqual([
      {
        event: 'X0vIp6Cc0JR',
        enrollment: 'Kwl5dlsVOrT',
        trackedEntity: 'PQfMcpmXeFE',
        orgUnit: 'g8upMTyEZGZ',
        name: 'Aisha Kamara',
        dateOfBirth: '2024-11-20',
        scheduledAt: '2025-03-01',
        caregiverPhone: '+23276123456',
      },
    ]);
  });

  it('is no child when nothing is scheduled in the window, or the entity is deleted', () => {
    expect(deriveChild(te, { ...ctx, window: { from: '2025-04-01', to: '2025-05-01' } })).toBeNull();
    expect(deriveChild({ ...te, deleted: true }, ctx)).toBeNull();
    expect(
      deriveChild({ ...te, enrollments: te.enrollments!.filter((en) => en.program !== 'SSLpOM0r1U7') }, ctx),
    ).toBeNull();
  });

  it('keeps an unreadable phone number for the case worker to see, without a caregiver view', () => {
    const odd = {
      ...te,
      attributes: te.attributes!.map((a) => (a.attribute === 'pjexi5YaAPa' ? { ...a, value: 'ask neighbour' } : a)),
    };
    const d = deriveChild(odd, ctx)!;
    expect(d.record.phone).toBeUndefined();
    expect(defaulterEntries(d, ctx.today)[0]?.caregiverPhone).toBe('ask neighbour');
  });

  it('a relayed write that completes the missed visit moves latestEvent and empties the defaulter org units', () => {
    const d = deriveChild(te, ctx)!;
    const done: EventSnapshot = { ...d.snapshots[0]!, status: 'COMPLETED', occurredAt: '2025-03-03T00:00:00.000' };
    const after = withSnapshots(d.record, d.snapshots.slice(1), ctx.today, [done]);
    expect(after.record).toMatchObject({ events: ['Yq3HLqF6Vxd'], defaulterOrgUnits: [], latestEvent: 'X0vIp6Cc0JR' });
  });
});

describe('missed appointments', () => {
  const at = (scheduledAt: string, extra: Partial<EventSnapshot> = {}) => ({
    event: 'X0vIp6Cc0JR',
    status: 'SCHEDULE' as const,
    scheduledAt,
    ...extra,
  });

  it('a visit is missed only when still scheduled, not happened, and dated before today', () => {
    expect(isMissed(at('2025-03-02T00:00:00.000'), '2025-03-03')).toBe(true);
    expect(isMissed(at('2025-03-03T00:00:00.000'), '2025-03-03')).toBe(false);
    expect(isMissed(at('2025-03-02T00:00:00.000', { occurredAt: '2025-03-02T00:00:00.000' }), '2025-03-03')).toBe(
      false,
    );
    expect(isMissed(at('2025-03-02T00:00:00.000', { status: 'SKIPPED' }), '2025-03-03')).toBe(false);
    expect(isMissed(at('2025-03-02T00:00:00.000', { deleted: true }), '2025-03-03')).toBe(false);
  });

  it('for any instant, a visit scheduled on the local date of that instant is not missed and one the day before is', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom('Africa/Nairobi', 'Africa/Freetown', 'America/Lima', 'Pacific/Kiritimati', 'Asia/Kolkata'),
        fc.integer({ min: 0, max: 23 }),
        (now, tz, hour) => {
          const today = dateIn(tz, now);
          const stamp = `T${String(hour).padStart(2, '0')}:30:00.000`;
          expect(isMissed(at(`${today}${stamp}`), today)).toBe(false);
          expect(isMissed(at(`${addDays(today, -1)}${stamp}`), today)).toBe(true);
          expect(isMissed(at(`${addDays(today, 1)}${stamp}`), today)).toBe(false);
        },
      ),
    );
  });
});

describe('case workers and the org unit tree', () => {
  it('reads a 2.40 user (username in userCredentials, national phone) as a case worker; a disabled one is none', () => {
    const user = UserSchema.parse({
      id: 'xE7jOejl9FI',
      userCredentials: { username: 'chw.kenema' },
      firstName: 'Mariama',
      surname: 'Sesay',
      phoneNumber: '076 555 010',
      disabled: false,
      organisationUnits: [{ id: 'DiszpKrYNg8', path: '/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8' }],
    });
    expect(caseWorkerView(user, 'SL')).toEqual({
      userId: 'xE7jOejl9FI',
      username: 'chw.kenema',
      name: 'Mariama Sesay',
      phone: '+23276555010',
      orgUnits: [{ id: 'DiszpKrYNg8', path: '/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8' }],
    });
    expect(caseWorkerView({ ...user, disabled: true }, 'SL')).toBeNull();
    expect(caseWorkerView({ ...user, phoneNumber: 'n/a' }, 'SL')).toBeNull();
  });

  it('isWithin follows paths: an org unit is within itself and its ancestors, not its siblings', () => {
    const tree = orgUnitTree([
      { id: 'ImspTQPwCqd', name: 'Sierra Leone', path: '/ImspTQPwCqd', level: 1 },
      { id: 'O6uvpzGd5pu', name: 'Bo', path: '/ImspTQPwCqd/O6uvpzGd5pu', level: 2, parent: { id: 'ImspTQPwCqd' } },
      { id: 'DiszpKrYNg8', name: 'Ngelehun CHC', path: '/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8', level: 4 },
      { id: 'g8upMTyEZGZ', name: 'Njandama MCHP', path: '/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/g8upMTyEZGZ', level: 4 },
    ]);
    expect(tree.DiszpKrYNg8?.parent).toBe('YuQRtpLP10I');
    expect(isWithin(tree, 'DiszpKrYNg8', ['O6uvpzGd5pu'])).toBe(true);
    expect(isWithin(tree, 'DiszpKrYNg8', ['DiszpKrYNg8'])).toBe(true);
    expect(isWithin(tree, 'DiszpKrYNg8', ['g8upMTyEZGZ'])).toBe(false);
    expect(isWithin(tree, 'O6uvpzGd5pu', ['DiszpKrYNg8'])).toBe(false);
  });
});
