import { z } from 'zod';
import { UID_PATTERN } from '../uid.ts';
import type { Dhis2Write, Dhis2WriteJob } from './types.ts';

/**
 * The outbox job as it comes back from the queue: checked at this boundary, because it was written by
 * another process (possibly an older release) and a malformed job must be dead-lettered, not half-sent.
 */

const Uid = z.string().regex(UID_PATTERN, { error: 'must be a DHIS2 uid' });
/** A date (`YYYY-MM-DD`) or a zone-less/offset date-time, as DHIS2 accepts them. */
const DateLike = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/, {
    error: 'must be a date (YYYY-MM-DD) or date-time',
  });

const NoteWrite = z.object({
  op: z.literal('event.note'),
  event: Uid,
  note: z.string().trim().min(1, { error: 'an empty note would be dropped by DHIS2' }),
});
const RescheduleWrite = z.object({
  op: z.literal('event.reschedule'),
  event: Uid,
  scheduledAt: DateLike,
  note: z.string(),
});
const UpdateWrite = z.object({
  op: z.literal('event.update'),
  event: Uid,
  status: z.enum(['SCHEDULE', 'SKIPPED', 'COMPLETED', 'ACTIVE']).optional(),
  scheduledAt: DateLike.optional(),
  occurredAt: DateLike.optional(),
  followUp: z.boolean().optional(),
  note: z.string().optional(),
});

/** Objects of a create: loose (DHIS2 validates them), but each must carry its client-made uid. */
const CreatedObject = z.record(z.string(), z.unknown());
const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date (YYYY-MM-DD)' });
const DuplicateCheckSchema = z.object({
  trackedEntity: Uid,
  enrollment: Uid,
  firstName: z.string().min(1).optional(),
  dateOfBirth: IsoDate,
  phone: z.string().min(1).optional(),
  area: z.array(Uid),
});
const CreateWrite = z.object({
  op: z.literal('tracker.create'),
  trackedEntities: z.array(CreatedObject).optional(),
  enrollments: z.array(CreatedObject).optional(),
  events: z.array(CreatedObject).optional(),
  duplicateCheck: DuplicateCheckSchema.optional(),
});
const AefiWrite = z.object({
  op: z.literal('aefi.report'),
  trackedEntity: Uid,
  visit: Uid,
  orgUnit: Uid,
  reportedAt: IsoDate,
  onset: IsoDate,
  reaction: z.string().min(1),
  reactionText: z.string().min(1),
  serious: z.boolean(),
  batch: z.object({ number: z.string().trim().min(1).max(50), vaccine: z.string().min(1) }).optional(),
  reporter: z.object({ name: z.string().min(1), phone: z.string().min(1).optional() }),
  note: z.string().trim().min(1, { error: 'an empty note would be dropped by DHIS2' }),
});

export const Dhis2WriteSchema = z.discriminatedUnion('op', [
  NoteWrite,
  RescheduleWrite,
  UpdateWrite,
  CreateWrite,
  AefiWrite,
]);

export const Dhis2WriteJobSchema = z
  .object({
    op: z.enum(['event.note', 'event.reschedule', 'event.update', 'tracker.create', 'aefi.report']),
    payload: Dhis2WriteSchema,
    ref: z.string(),
    phone: z.string(),
  })
  .refine((j) => j.op === j.payload.op, { error: 'op does not match payload.op', path: ['op'] });

/** A create whose objects lack uids would be created again by a retry, so such a job is refused. */
export function createdUids(w: Extract<Dhis2Write, { op: 'tracker.create' }>): { uids: string[]; problems: string[] } {
  const uids: string[] = [];
  const problems: string[] = [];
  const take = (o: unknown, key: 'trackedEntity' | 'enrollment' | 'event', where: string) => {
    const uid = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
    if (typeof uid === 'string' && UID_PATTERN.test(uid)) uids.push(uid);
    else problems.push(`${where}: ${key} must be a client-made DHIS2 uid so a retry cannot create it twice`);
  };
  const children = (o: unknown, key: string): unknown[] => {
    const v = typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
    return Array.isArray(v) ? v : [];
  };
  const enrollment = (en: unknown, where: string) => {
    take(en, 'enrollment', where);
    children(en, 'events').forEach((ev, k) => take(ev, 'event', `${where}.events[${k}]`));
  };
  (w.trackedEntities ?? []).forEach((te, i) => {
    take(te, 'trackedEntity', `trackedEntities[${i}]`);
    children(te, 'enrollments').forEach((en, j) => enrollment(en, `trackedEntities[${i}].enrollments[${j}]`));
  });
  (w.enrollments ?? []).forEach((en, i) => enrollment(en, `enrollments[${i}]`));
  (w.events ?? []).forEach((ev, i) => take(ev, 'event', `events[${i}]`));
  if (!uids.length && !problems.length) problems.push('a create must hold at least one object');
  return { uids, problems };
}

export type ParsedWriteJob = Dhis2WriteJob & { payload: z.infer<typeof Dhis2WriteSchema> };
