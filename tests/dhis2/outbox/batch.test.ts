import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ImportIssue } from '../../../src/dhis2/client.ts';
import {
  buildImport,
  deriveUid,
  judgeErrors,
  noteUid,
  planJob,
  type PlannedJob,
} from '../../../src/dhis2/outbox/index.ts';
import type { Dhis2Write } from '../../../src/dhis2/outbox/types.ts';
import { toWirePayload } from '../../../src/dhis2/payloads.ts';
import { EventSchema, ImportReportSchema } from '../../../src/dhis2/schemas.ts';
import { isUid } from '../../../src/dhis2/uid.ts';
import { parseDhis2Version } from '../../../src/dhis2/version.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as unknown;
const event = EventSchema.parse(fixture('event-2.40.json'));

function planned(id: string, write: Dhis2Write): PlannedJob {
  const p = planJob(id, { op: write.op, payload: write, ref: 'JB-TEST', phone: '+23276123456' });
  if (!p.ok) throw new Error(p.problems.join('; '));
  return p.planned;
}

describe('building the import', () => {
  it('resends every scalar as read, drops read notes and data values, adds only the new note, spelt for 2.40', () => {
    const built = buildImport(
      [
        planned('job-1', {
          op: 'event.reschedule',
          event: event.event,
          scheduledAt: '2025-03-10',
          note: 'Moved (SMS)',
        }),
      ],
      new Map([[event.event, event]]),
    );
    const [sent] = built.payload.events!;
    expect(sent).toEqual({
      event: 'X0vIp6Cc0JR',
      program: 'SSLpOM0r1U7',
      programStage: 's53RFfXA75f',
      enrollment: 'Kwl5dlsVOrT',
      orgUnit: 'DiszpKrYNg8',
      status: 'SCHEDULE',
      scheduledAt: '2025-03-10',
      followUp: true,
      attributeOptionCombo: 'HllvX50cXC0',
      attributeCategoryOptions: 'xYerKDKCefk',
      geometry: { type: 'Point', coordinates: [-11.4197, 8.1039] },
      assignedUser: { uid: 'xE7jOejl9FI', username: 'chw.kenema', firstName: 'Mariama', surname: 'Sesay' },
      notes: [{ note: noteUid('job-1'), value: 'Moved (SMS)' }],
    });
    const wire = toWirePayload(parseDhis2Version('2.40.12'), built.payload) as {
      events: Array<Record<string, unknown>>;
    };
    expect(wire.events[0]).toMatchObject({ followup: true });
    expect(wire.events[0]).not.toHaveProperty('followUp');
    expect(built.after.get(event.event)).toMatchObject({ scheduledAt: '2025-03-10T00:00:00.000', status: 'SCHEDULE' });
    expect(built.after.get(event.event)).not.toHaveProperty('notes');
  });

  it('drops completedAt and completedBy when the new status is not COMPLETED (E1051)', () => {
    const completed = {
      ...event,
      status: 'COMPLETED' as const,
      occurredAt: '2025-03-01T00:00:00.000',
      completedAt: '2025-03-01T10:00:00.000',
      completedBy: 'nurse',
    };
    const built = buildImport(
      [planned('job-2', { op: 'event.update', event: event.event, status: 'SKIPPED', note: 'Moved away' })],
      new Map([[event.event, completed]]),
    );
    expect(built.payload.events![0]).not.toHaveProperty('completedAt');
    expect(built.payload.events![0]).toMatchObject({ status: 'SKIPPED', occurredAt: '2025-03-01T00:00:00.000' });
  });

  it('a note-only update without text sends no note at all', () => {
    const built = buildImport(
      [planned('job-3', { op: 'event.update', event: event.event, followUp: false, note: ' ' })],
      new Map([[event.event, event]]),
    );
    expect(built.payload.events![0]).not.toHaveProperty('notes');
    expect(built.payload.events![0]).toMatchObject({ followUp: false });
  });
});

describe('reading a 409 report back onto the jobs', () => {
  const report = ImportReportSchema.parse(fixture('import-409-2.41.json'));
  const issues: ImportIssue[] = report.validationReport!.errorReports.map((e) => ({
    code: e.errorCode,
    message: e.message ?? '',
    trackerType: e.trackerType,
    uid: e.uid,
  }));
  const group = [
    planned('ok', { op: 'event.note', event: 'X0vIp6Cc0JR', note: 'confirmed' }),
    planned('denied', { op: 'event.note', event: 'Yq3HLqF6Vxd', note: 'confirmed' }),
    planned('gone', { op: 'event.reschedule', event: 'Ab9LlsZs0Tn', scheduledAt: '2025-03-10', note: '' }),
    planned('created-before', {
      op: 'tracker.create',
      events: [{ event: 'Ev3ntNew001', programStage: 's53RFfXA75f', status: 'SCHEDULE' }],
    }),
  ];

  it('names each job’s fate: clean, rejected with its codes, gone, or already created', () => {
    const { verdicts, unattributed } = judgeErrors(group, issues);
    expect(verdicts.get('ok')).toEqual({ kind: 'clean' });
    expect(verdicts.get('denied')).toEqual({
      kind: 'rejected',
      issues: [expect.objectContaining({ code: 'E1000', uid: 'Yq3HLqF6Vxd' })],
    });
    expect(verdicts.get('gone')).toEqual({ kind: 'gone', issues: [expect.objectContaining({ code: 'E1032' })] });
    expect(verdicts.get('created-before')).toEqual({
      kind: 'done',
      issues: [expect.objectContaining({ code: 'E1030' })],
    });
    expect(unattributed).toEqual([]);
  });

  it('an error on an event two jobs write cannot be pinned on either: both are isolated', () => {
    const twice = [
      ...group,
      planned('denied-too', { op: 'event.reschedule', event: 'Yq3HLqF6Vxd', scheduledAt: '2025-03-10', note: '' }),
    ];
    const { verdicts } = judgeErrors(twice, issues);
    expect(verdicts.get('denied')?.kind).toBe('isolate');
    expect(verdicts.get('denied-too')?.kind).toBe('isolate');
  });

  it('an error about an object no job writes is returned as unattributed', () => {
    const { verdicts, unattributed } = judgeErrors([group[0]!], [{ code: 'E1000', message: '', uid: 'SomeOther01' }]);
    expect(verdicts.get('ok')).toEqual({ kind: 'clean' });
    expect(unattributed).toHaveLength(1);
  });
});

describe('deriveUid', () => {
  it('is a valid DHIS2 uid, the same for the same seed', () => {
    fc.assert(
      fc.property(fc.string(), (seed) => {
        const uid = deriveUid(seed);
        expect(isUid(uid)).toBe(true);
        expect(deriveUid(seed)).toBe(uid);
      }),
    );
  });

  it('gives distinct note uids to distinct jobs', () => {
    const uids = new Set(Array.from({ length: 10_000 }, (_, i) => noteUid(`reply-${i}`)));
    expect(uids.size).toBe(10_000);
  });
});
