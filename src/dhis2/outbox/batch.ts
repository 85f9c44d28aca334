import type { ImportIssue } from '../client.ts';
import {
  eventUpdate,
  type EnrollmentPayload,
  type EventChanges,
  type EventPayload,
  type NotePayload,
  type TrackedEntityPayload,
  type TrackerPayload,
} from '../payloads.ts';
import type { Dhis2Event } from '../schemas.ts';
import { createdUids, Dhis2WriteJobSchema, type ParsedWriteJob } from './schemas.ts';
import type { Dhis2Write } from './types.ts';
import { noteUid } from './uid.ts';

/**
 * The pure half of the DHIS2 outbox relay: turning queued writes into one tracker import, and reading
 * the import report back onto the jobs. No I/O here; `relay.ts` fetches, posts and settles.
 */

/** A queued write that passed validation, with the DHIS2 objects it touches. */
export interface PlannedJob {
  id: string;
  job: ParsedWriteJob;
  write: Dhis2Write;
  /** Event writes: the event. Creates: every object uid, nested ones included. AEFI reports: once resolved. */
  uids: string[];
  /** The event an event write updates. */
  event?: string;
  /** An AEFI report as resolved against DHIS2 by the relay: the objects it writes. */
  resolved?: { enrollments: EnrollmentPayload[]; events: EventPayload[] };
}

export type PlanResult = { ok: true; planned: PlannedJob } | { ok: false; problems: string[] };

/**
 * Check a job from the queue (zod) and list what it touches. A create without client-made uids is
 * refused: retried, it would create the same child twice.
 */
export function planJob(id: string, data: unknown): PlanResult {
  const parsed = Dhis2WriteJobSchema.safeParse(data);
  if (!parsed.success)
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(job)'}: ${i.message}`) };
  const job = parsed.data;
  const write = job.payload as Dhis2Write;
  if (write.op === 'tracker.create') {
    const { uids, problems } = createdUids(write);
    if (problems.length) return { ok: false, problems };
    return { ok: true, planned: { id, job, write, uids } };
  }
  // Its objects depend on what DHIS2 holds when it is written (the relay resolves it first).
  if (write.op === 'aefi.report') return { ok: true, planned: { id, job, write, uids: [] } };
  return { ok: true, planned: { id, job, write, uids: [write.event], event: write.event } };
}

/** A timestamp as DHIS2 stores a date given without a time (start of that day, zone-less). */
function asTimestamp(d: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(d) ? `${d}T00:00:00.000` : d;
}

/** What an accepted update leaves on the event (for the read model; notes and data values are not kept). */
export function applyChanges(event: Dhis2Event, c: EventChanges): Dhis2Event {
  const { notes: _notes, dataValues: _dataValues, ...out } = event;
  const next: Dhis2Event = { ...out };
  if (c.status !== undefined) next.status = c.status;
  if (c.scheduledAt !== undefined) next.scheduledAt = asTimestamp(c.scheduledAt);
  if (c.occurredAt === null) delete next.occurredAt;
  else if (c.occurredAt !== undefined) next.occurredAt = asTimestamp(c.occurredAt);
  if (c.followUp !== undefined) next.followUp = c.followUp;
  if (next.status !== 'COMPLETED') {
    delete next.completedAt;
    delete next.completedBy;
  }
  return next;
}

export interface BuiltImport {
  payload: TrackerPayload;
  /** Each updated event as it will be once DHIS2 accepts the import. */
  after: Map<string, Dhis2Event>;
  /** Jobs per updated event, in order (for logs and the event feed). */
  eventJobs: Map<string, string[]>;
}

/**
 * One `POST /api/tracker` body for a group of jobs. Writes to the same event are merged in queue order
 * (a later scheduledAt wins, every note is kept) into one update built from `current`: every scalar
 * resent as read, the read notes left out, and only new notes with uids derived from the job ids, so a
 * retry meets E1119 instead of adding a note twice. Creates are passed through with their own uids.
 */
export function buildImport(group: PlannedJob[], current: ReadonlyMap<string, Dhis2Event>): BuiltImport {
  const perEvent = new Map<string, { changes: EventChanges; notes: NotePayload[]; jobs: string[] }>();
  const trackedEntities: TrackedEntityPayload[] = [];
  const enrollments: EnrollmentPayload[] = [];
  const createdEvents: EventPayload[] = [];
  for (const p of group) {
    const w = p.write;
    if (w.op === 'tracker.create') {
      // Shapes are DHIS2's to judge (a 409 names the object); the uids were checked when planning.
      trackedEntities.push(...((w.trackedEntities ?? []) as TrackedEntityPayload[]));
      enrollments.push(...((w.enrollments ?? []) as EnrollmentPayload[]));
      createdEvents.push(...((w.events ?? []) as EventPayload[]));
      continue;
    }
    if (w.op === 'aefi.report') {
      if (!p.resolved) throw new Error(`AEFI report ${p.id} was not resolved before building the import`);
      enrollments.push(...p.resolved.enrollments);
      createdEvents.push(...p.resolved.events);
      continue;
    }
    const entry = perEvent.get(w.event) ?? { changes: {}, notes: [], jobs: [] };
    perEvent.set(w.event, entry);
    entry.jobs.push(p.id);
    const note = (value: string | undefined) => {
      if (value !== undefined && value.trim()) entry.notes.push({ note: noteUid(p.id), value });
    };
    if (w.op === 'event.note') note(w.note);
    else if (w.op === 'event.reschedule') {
      entry.changes.scheduledAt = w.scheduledAt;
      note(w.note);
    } else {
      if (w.status !== undefined) entry.changes.status = w.status;
      if (w.scheduledAt !== undefined) entry.changes.scheduledAt = w.scheduledAt;
      if (w.occurredAt !== undefined) entry.changes.occurredAt = w.occurredAt;
      if (w.followUp !== undefined) entry.changes.followUp = w.followUp;
      note(w.note);
    }
  }
  const events: EventPayload[] = [];
  const after = new Map<string, Dhis2Event>();
  const eventJobs = new Map<string, string[]>();
  for (const [uid, { changes, notes, jobs }] of perEvent) {
    const base = current.get(uid);
    if (!base) throw new Error(`event ${uid} was not read before building the import`);
    events.push(eventUpdate(base, changes, notes));
    after.set(uid, applyChanges(base, changes));
    eventJobs.set(uid, jobs);
  }
  const payload: TrackerPayload = {};
  if (trackedEntities.length) payload.trackedEntities = trackedEntities;
  if (enrollments.length) payload.enrollments = enrollments;
  if (events.length || createdEvents.length) payload.events = [...events, ...createdEvents];
  return { payload, after, eventJobs };
}

/** "Already exists" on a create: an earlier attempt created it, so the job has done its work. */
const ALREADY_CREATED = new Set(['E1030', 'E1002', 'E1080']);
/** The event is gone (never existed, or soft-deleted): retrying cannot help. */
const EVENT_GONE = new Set(['E1032', 'E1082']);
/**
 * An AEFI case changed between the relay's read and its import (someone enrolled the child, E1015, or added
 * the AEFI event, E1039): resolved again on the next attempt, the report joins that case.
 */
const CASE_CHANGED = new Set(['E1015', 'E1039']);

export type Verdict =
  /** No error names this job's objects: send it again without the failing ones. */
  | { kind: 'clean' }
  /** Its only errors say its objects already exist. */
  | { kind: 'done'; issues: ImportIssue[] }
  /** An AEFI report whose case changed since it was read: resolve and send it again later. */
  | { kind: 'retry'; issues: ImportIssue[] }
  /** An error names an object other jobs of the group also write: send it alone to know whose it is. */
  | { kind: 'isolate'; issues: ImportIssue[] }
  | { kind: 'gone'; issues: ImportIssue[] }
  | { kind: 'rejected'; issues: ImportIssue[] };

/**
 * Read a failed (409) import report back onto the jobs of the group by object uid. Errors whose uid is
 * no job's object come back as `unattributed`.
 */
export function judgeErrors(
  group: PlannedJob[],
  errors: ImportIssue[],
): { verdicts: Map<string, Verdict>; unattributed: ImportIssue[] } {
  const byUid = new Map<string, ImportIssue[]>();
  for (const e of errors) if (e.uid) byUid.set(e.uid, [...(byUid.get(e.uid) ?? []), e]);
  const writers = new Map<string, number>();
  for (const p of group) for (const u of new Set(p.uids)) writers.set(u, (writers.get(u) ?? 0) + 1);
  const attributed = new Set<ImportIssue>();
  const verdicts = new Map<string, Verdict>();
  for (const p of group) {
    const mine = [...new Set(p.uids)].flatMap((u) => byUid.get(u) ?? []);
    for (const e of mine) attributed.add(e);
    if (!mine.length) verdicts.set(p.id, { kind: 'clean' });
    else if (p.write.op === 'tracker.create' && mine.every((e) => ALREADY_CREATED.has(e.code)))
      verdicts.set(p.id, { kind: 'done', issues: mine });
    else if (p.write.op === 'aefi.report' && mine.every((e) => CASE_CHANGED.has(e.code)))
      verdicts.set(p.id, { kind: 'retry', issues: mine });
    else if (mine.some((e) => e.uid !== undefined && (writers.get(e.uid) ?? 0) > 1))
      verdicts.set(p.id, { kind: 'isolate', issues: mine });
    else if (p.event !== undefined && mine.some((e) => EVENT_GONE.has(e.code)))
      verdicts.set(p.id, { kind: 'gone', issues: mine });
    else verdicts.set(p.id, { kind: 'rejected', issues: mine });
  }
  return { verdicts, unattributed: errors.filter((e) => !attributed.has(e)) };
}

/** `E1000 EVENT Xyz…: message; …` — codes first, for dead letters and the admin screen. */
export function describeIssues(issues: ImportIssue[]): string {
  return issues
    .map(
      (i) =>
        `${i.code}${i.trackerType ? ` ${i.trackerType}` : ''}${i.uid ? ` ${i.uid}` : ''}${i.message ? `: ${i.message}` : ''}`,
    )
    .join('; ');
}
