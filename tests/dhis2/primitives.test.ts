import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldSelector } from '../../src/emulator/fields.ts';
import { ServerTime } from '../../src/emulator/time.ts';
import { parseFilters } from '../../src/emulator/tracker.ts';
import {
  beforeBound,
  encodeQuery,
  eventFieldsFor,
  eventQueryParams,
  formatAttributeFilter,
  trackedEntityQueryParams,
} from '../../src/dhis2/params.ts';
import { eventUpdate, toWirePayload } from '../../src/dhis2/payloads.ts';
import { EventSchema } from '../../src/dhis2/schemas.ts';
import { isUid, newUid, uidFromKey, UID_PATTERN } from '../../src/dhis2/uid.ts';
import { hasScheduledEventRules, parseDhis2Version } from '../../src/dhis2/version.ts';

const v = (raw: string) => parseDhis2Version(raw);

describe('UIDs', () => {
  it('makes well-formed, distinct UIDs', () => {
    const many = Array.from({ length: 2000 }, newUid);
    expect(many.every((u) => UID_PATTERN.test(u))).toBe(true);
    expect(new Set(many).size).toBe(many.length);
  });

  it('derives the same UID from the same key, and a valid one from any key', () => {
    fc.assert(fc.property(fc.string(), (key) => isUid(uidFromKey(key)) && uidFromKey(key) === uidFromKey(key)));
    expect(uidFromKey('a')).not.toBe(uidFromKey('b'));
  });

  it('rejects UIDs of the wrong length or starting with a digit', () => {
    expect(isUid('s53RFfXA75f')).toBe(true);
    expect(isUid('1abcdefghij')).toBe(false);
    expect(isUid('abc')).toBe(false);
    expect(isUid('abcdefghij-')).toBe(false);
  });
});

describe('versions', () => {
  it('parses the minor and patch of any system/info version string', () => {
    expect(v('2.40.4.1')).toEqual({ raw: '2.40.4.1', minor: 40, patch: 4 });
    expect(v('2.42-SNAPSHOT')).toEqual({ raw: '2.42-SNAPSHOT', minor: 42 });
    expect(() => v('40.4.0')).toThrow();
  });

  it('knows which patch releases brought E1315/E1316', () => {
    expect(['2.38.7', '2.39.5', '2.40.4', '2.41.0'].map((s) => hasScheduledEventRules(v(s)))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(['2.39.6', '2.40.5', '2.41.1', '2.42.0'].map((s) => hasScheduledEventRules(v(s)))).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });
});

describe('query parameters', () => {
  it('names parameters per version', () => {
    const q = {
      orgUnit: 'DiszpKrYNg8',
      orgUnitMode: 'DESCENDANTS' as const,
      events: ['aaaaaaaaaa1', 'aaaaaaaaaa2'],
      enrollmentStatus: 'ACTIVE' as const,
      program: 'IpHINAT79UW',
    };
    expect(eventQueryParams(v('2.40'), q)).toEqual(
      expect.arrayContaining([
        ['ouMode', 'DESCENDANTS'],
        ['event', 'aaaaaaaaaa1;aaaaaaaaaa2'],
        ['programStatus', 'ACTIVE'],
        ['page', '1'],
        ['pageSize', '100'],
      ]),
    );
    expect(eventQueryParams(v('2.42'), q)).toEqual(
      expect.arrayContaining([
        ['orgUnitMode', 'DESCENDANTS'],
        ['events', 'aaaaaaaaaa1,aaaaaaaaaa2'],
        ['enrollmentStatus', 'ACTIVE'],
      ]),
    );
    expect(trackedEntityQueryParams(v('2.40'), { orgUnits: ['a', 'b'] })).toContainEqual(['orgUnit', 'a;b']);
    expect(trackedEntityQueryParams(v('2.41'), { orgUnits: ['a', 'b'] })).toContainEqual(['orgUnits', 'a,b']);
  });

  it('turns paging off portably and then sends no page parameters', () => {
    const p = eventQueryParams(v('2.41'), { paging: false, page: 3 });
    expect(p).toEqual([
      ['skipPaging', 'true'],
      ['paging', 'false'],
    ]);
  });

  it('sends date-only Before bounds as the end of that day', () => {
    expect(beforeBound('2024-06-07')).toBe('2024-06-07T23:59:59');
    expect(beforeBound('2024-06-07T12:00:00')).toBe('2024-06-07T12:00:00');
  });

  it('encodes + as %2B and brackets for Tomcat', () => {
    expect(
      encodeQuery([
        ['filter', 'pjexi5YaAPa:eq:+254700000001'],
        ['fields', 'a[b]'],
      ]),
    ).toBe('filter=pjexi5YaAPa%3Aeq%3A%2B254700000001&fields=a%5Bb%5D');
  });

  it('any filter value survives escaping: the server reads back exactly what was meant', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (value) => {
        const [item] = parseFilters(42, [formatAttributeFilter({ attribute: 'pjexi5YaAPa', op: 'eq', value })]);
        return item!.uid === 'pjexi5YaAPa' && item!.conditions.length === 1 && item!.conditions[0]!.value === value;
      }),
    );
  });

  it('asks ≤2.40 for the event follow-up flag by its old name, only where it names an event field', () => {
    expect(eventFieldsFor(v('2.40'), 'event,followUp', true)).toBe('event,followup');
    expect(eventFieldsFor(v('2.40'), 'followUp,enrollments[followUp,events[event,followUp]]', false)).toBe(
      'followUp,enrollments[followUp,events[event,followup]]',
    );
    expect(eventFieldsFor(v('2.41'), 'event,followUp', true)).toBe('event,followUp');
  });
});

describe('payloads', () => {
  const read = EventSchema.parse({
    event: 'EvtUid00001',
    status: 'SCHEDULE',
    program: 'SSLpOM0r1U7',
    programStage: 's53RFfXA75f',
    enrollment: 'EnrUid00001',
    trackedEntity: 'TeiUid00001',
    orgUnit: 'JbVilKdt001',
    orgUnitName: 'Kidutani',
    scheduledAt: '2025-03-05T00:00:00.000',
    followup: true,
    createdAt: '2025-01-01T09:00:00.000',
    attributeOptionCombo: 'HllvX50cXC0',
    notes: [{ note: 'NoteUid0001', value: 'old' }],
    dataValues: [{ dataElement: 'bpBUOvqy1Jn', value: 'true' }],
    unknownField: 1,
  });

  it('normalises the follow-up flag to followUp on read and drops unknown fields', () => {
    expect(read.followUp).toBe(true);
    expect(read).not.toHaveProperty('followup');
    expect(read).not.toHaveProperty('unknownField');
  });

  it('builds an update with every scalar, the change, only the new notes and no data values', () => {
    const u = eventUpdate(read, { scheduledAt: '2025-03-10' }, [{ note: 'NoteUid0002', value: 'moved' }]);
    expect(u).toEqual({
      event: 'EvtUid00001',
      program: 'SSLpOM0r1U7',
      programStage: 's53RFfXA75f',
      enrollment: 'EnrUid00001',
      orgUnit: 'JbVilKdt001',
      status: 'SCHEDULE',
      scheduledAt: '2025-03-10',
      followUp: true,
      attributeOptionCombo: 'HllvX50cXC0',
      notes: [{ note: 'NoteUid0002', value: 'moved' }],
    });
  });

  it('writes followup for ≤2.40 and followUp from 2.41, nested events included', () => {
    const u = eventUpdate(read);
    expect(toWirePayload(v('2.40'), { events: [u] }).events).toEqual([expect.objectContaining({ followup: true })]);
    expect((toWirePayload(v('2.40'), { events: [u] }).events as object[])[0]).not.toHaveProperty('followUp');
    expect(toWirePayload(v('2.41'), { events: [u] }).events).toEqual([expect.objectContaining({ followUp: true })]);
    const nested = toWirePayload(v('2.38'), {
      enrollments: [
        {
          enrollment: 'EnrUid00001',
          program: 'p',
          orgUnit: 'o',
          enrolledAt: '2025-01-01',
          followUp: true,
          events: [u],
        },
      ],
    });
    expect(nested.enrollments).toEqual([
      expect.objectContaining({ followUp: true, events: [expect.objectContaining({ followup: true })] }),
    ]);
  });
});

describe('server time', () => {
  const nairobi = new ServerTime('Africa/Nairobi');

  it('formats instants as zone-less local time and reads zone-less input back as local', () => {
    const ms = Date.parse('2025-03-03T06:00:00.000Z');
    expect(nairobi.format(ms)).toBe('2025-03-03T09:00:00.000');
    expect(nairobi.parse('2025-03-03T09:00:00.000')).toEqual({ ms, dateOnly: false });
    expect(nairobi.parse('2025-03-03T06:00:00Z')!.ms).toBe(ms);
    expect(nairobi.parse('2025-03-03T08:00:00+02:00')!.ms).toBe(ms);
    expect(nairobi.parse(String(ms))!.ms).toBe(ms);
    expect(nairobi.parse('2025-02-31')).toBeNull();
  });

  it('round-trips any instant through its local text across DST zones', () => {
    const berlin = new ServerTime('Europe/Berlin');
    fc.assert(
      fc.property(fc.integer({ min: Date.parse('2000-01-01'), max: Date.parse('2040-01-01') }), (ms) => {
        const text = berlin.format(ms);
        const back = berlin.parse(text)!.ms;
        // An hour repeated at the autumn change is ambiguous in zone-less text: either reading is a correct round trip.
        return back === ms || berlin.format(back) === text;
      }),
    );
  });
});

describe('fields filter', () => {
  it('includes named and starred fields, excludes !fields and nests', () => {
    const sel = FieldSelector.parse('trackedEntity,enrollments[enrollment,events[event]],!attributes', '*');
    expect(sel.includes('trackedEntity')).toBe(true);
    expect(sel.includes('attributes')).toBe(false);
    expect(sel.includes('orgUnit')).toBe(false);
    const nested = sel.child('enrollments').child('events');
    expect(nested.includes('event')).toBe(true);
    expect(nested.includes('status')).toBe(false);
    const star = FieldSelector.parse(undefined, '*,!relationships');
    expect(star.includes('anything')).toBe(true);
    expect(star.includes('relationships')).toBe(false);
  });
});
