import type { Dhis2Client } from '../client.ts';
import type { AefiSettings, StaffLocale } from '../deployment.ts';
import {
  eventUpdate,
  type DataValuePayload,
  type EnrollmentPayload,
  type EventPayload,
  type NotePayload,
} from '../payloads.ts';
import type { Dhis2Enrollment, Dhis2Event } from '../schemas.ts';
import { SURVEILLANCE_TEXTS } from '../staff-texts.ts';
import { uidFromKey } from '../uid.ts';
import type { AefiReport } from './types.ts';

/**
 * Reactions after vaccination filed in DHIS2's AEFI programme (the WHO AEFI tracker package). A report is
 * resolved when the relay writes it, against what DHIS2 holds then: the vaccines given at the visit the
 * reaction follows (the EIR event's data values) and the child's enrollments in the AEFI programme.
 *
 * - The case of one child and one visit has uids derived from both, so the same report sent twice, a retry
 *   after a failed import, or a case worker's report after the caregiver's all land on the same enrollment
 *   and event, which is updated (data values merged, one more note), never created twice.
 * - A child can have one ACTIVE enrollment per programme (E1015) and one AEFI event per enrollment (the stage
 *   is not repeatable, E1039): with another case open, the report is added to it as a note and the
 *   follow-up flag, without touching its data; an open case without an AEFI event gets this one.
 */

/** The enrollment and AEFI event of a child's case for one visit: stable across reports, retries and reporters. */
export function aefiCaseUids(trackedEntity: string, visit: string): { enrollment: string; event: string } {
  return {
    enrollment: uidFromKey(`aefi:${trackedEntity}:${visit}:enrollment`),
    event: uidFromKey(`aefi:${trackedEntity}:${visit}:event`),
  };
}

/** What DHIS2 holds for a report, read when it is written. */
export interface AefiFound {
  /** The visit (every scalar and its data values), or null when DHIS2 no longer has it. */
  visit: Dhis2Event | null;
  /** The child's enrollments in the AEFI programme with their events (deleted ones left out). */
  enrollments: Dhis2Enrollment[];
}

export type AefiOutcome =
  /** A new case: enrollment and AEFI event. */
  | 'enrolled'
  /** The case of this visit existed: its event updated. */
  | 'updated'
  /** An open case without an AEFI event got this one. */
  | 'added'
  /** Another case is open: a note and the follow-up flag on it. */
  | 'noted';

export interface AefiPlan {
  outcome: AefiOutcome;
  enrollments: EnrollmentPayload[];
  events: EventPayload[];
  /** Uids of every object written, for reading an import report back onto the job. */
  uids: string[];
}

type Enabled = AefiSettings & { program: string };

const dateOf = (ts: string | undefined) => (ts && /^\d{4}-\d{2}-\d{2}/.test(ts) ? ts.slice(0, 10) : undefined);

/**
 * The AEFI stage data values of a report (pure): the vaccines given at the visit, in the order of the
 * deployment's vaccine map, one per slot (name, dose, vaccination date); the batch number in the slot of
 * the vaccine it was read for (the only vaccine when the case worker was not sure, else the comments);
 * onset date; serious (never turned back to "no" by a later report); the reaction's own data element or
 * "other" with its text; and, for a new case, the reporter and the outcome at the time of reporting.
 *
 * @example aefiDataValues(settings, report, visit, { creating: true, locale: 'en' }).find((d) => d.dataElement === 'vNGUuAZA2C2')?.value // '2025-11-24'
 */
export function aefiDataValues(
  a: AefiSettings,
  w: AefiReport,
  visit: Dhis2Event | null,
  opts: { creating: boolean; locale: StaffLocale },
): DataValuePayload[] {
  const de = a.dataElements;
  const out: DataValuePayload[] = [];
  const put = (dataElement: string | undefined, value: string | undefined) => {
    if (dataElement && value !== undefined && value !== '' && !out.some((d) => d.dataElement === dataElement))
      out.push({ dataElement, value });
  };
  const given = new Set((visit?.dataValues ?? []).filter((d) => d.value === 'true').map((d) => d.dataElement));
  const vaccines = Object.entries(a.vaccines)
    .filter(([uid]) => given.has(uid))
    .map(([, v]) => v)
    .slice(0, de.vaccineNames.length);
  const visitDate = dateOf(visit?.occurredAt);
  vaccines.forEach((v, i) => {
    put(de.vaccineNames[i], v.name);
    put(de.vaccineDoses[i], v.dose);
    put(de.vaccinationDates[i], visitDate);
  });
  if (w.batch) {
    let slot = vaccines.findIndex((v) => v.family === w.batch?.vaccine && w.batch.vaccine !== 'other');
    if (slot < 0 && vaccines.length === 1) slot = 0;
    if (slot >= 0 && de.batchNumbers[slot]) put(de.batchNumbers[slot], w.batch.number);
    else put(de.comments, SURVEILLANCE_TEXTS[opts.locale].batchUnattributed({ batch: w.batch.number }));
  }
  put(de.onsetDate, w.onset);
  // A later, milder report never makes a serious case non-serious.
  if (opts.creating || w.serious) put(de.serious, w.serious ? a.values.yes : a.values.no);
  const own = (a.reactions as Record<string, string | undefined>)[w.reaction];
  if (own) put(own, 'true');
  else {
    put(de.otherReaction, 'true');
    put(de.otherReactionText, w.reactionText);
  }
  // The first reporter stays the reporter; the outcome is the surveillance officer's to update.
  if (opts.creating) {
    put(de.reporter, w.reporter.name);
    put(de.reporterPhone, w.reporter.phone);
    put(de.outcome, a.values.outcome);
  }
  return out;
}

/**
 * How a report reaches DHIS2 given what DHIS2 holds (pure). `note` carries the uid derived from the job,
 * so a retried import meets E1119 instead of adding it twice.
 */
export function planAefi(
  a: Enabled,
  w: AefiReport,
  found: AefiFound,
  note: NotePayload,
  locale: StaffLocale,
): AefiPlan {
  const uids = aefiCaseUids(w.trackedEntity, w.visit);
  const live = found.enrollments.filter((e) => !e.deleted && e.program === a.program);
  const events = (e: Dhis2Enrollment) => (e.events ?? []).filter((ev) => !ev.deleted);
  const followUp = a.followUp ? { followUp: true } : {};
  const values = (creating: boolean) => aefiDataValues(a, w, found.visit, { creating, locale });

  const mine = live.flatMap(events).find((ev) => ev.event === uids.event);
  if (mine) {
    const event = { ...eventUpdate(mine, followUp, [note]), dataValues: values(false) };
    return { outcome: 'updated', enrollments: [], events: [event], uids: [mine.event] };
  }

  const orgUnit = found.visit?.orgUnit ?? w.orgUnit;
  const newEvent = (enrollment: string): EventPayload => ({
    event: uids.event,
    program: a.program,
    programStage: a.stage,
    enrollment,
    orgUnit,
    status: 'ACTIVE',
    // "Report compilation date" in the package: the day the report came in.
    occurredAt: w.reportedAt,
    ...followUp,
    dataValues: values(true),
    notes: [note],
  });

  const open = live.find((e) => e.status === 'ACTIVE');
  if (open) {
    const caseEvent = events(open).find((ev) => ev.programStage === a.stage);
    if (!caseEvent)
      return { outcome: 'added', enrollments: [], events: [newEvent(open.enrollment)], uids: [uids.event] };
    // One AEFI event per enrollment (E1039) and one open enrollment per child (E1015): this report joins
    // the open case for its investigators, who keep their own data.
    const event = eventUpdate(caseEvent, { followUp: true }, [note]);
    return { outcome: 'noted', enrollments: [], events: [event], uids: [caseEvent.event] };
  }

  if (live.some((e) => e.enrollment === uids.enrollment) && found.visit) {
    // The case of this visit was closed and its AEFI event removed: reopening it is the investigators'
    // call, so the report goes on the visit itself, as without the AEFI programme.
    const event = eventUpdate(found.visit, { followUp: true }, [note]);
    return { outcome: 'noted', enrollments: [], events: [event], uids: [found.visit.event] };
  }

  const enrollment: EnrollmentPayload = {
    enrollment: uids.enrollment,
    trackedEntity: w.trackedEntity,
    program: a.program,
    orgUnit,
    status: 'ACTIVE',
    enrolledAt: w.reportedAt,
    occurredAt: w.onset,
  };
  return {
    outcome: 'enrolled',
    enrollments: [enrollment],
    events: [newEvent(uids.enrollment)],
    uids: [uids.enrollment, uids.event],
  };
}

/** Every scalar of an event (what an update must resend) and its data values. */
const VISIT_FIELDS = '*,!notes,!relationships';
const CASE_FIELDS =
  'trackedEntity,enrollments[enrollment,program,status,orgUnit,enrolledAt,occurredAt,followUp,deleted,events[*,!notes,!dataValues,!relationships]]';

/**
 * Read what a report needs from DHIS2: the visit and the child's AEFI enrollments. Null when DHIS2 no
 * longer has the child (deleted, or out of the Jibu account's reach): nothing can be filed then.
 */
export async function readAefiCase(client: Dhis2Client, w: AefiReport, program: string): Promise<AefiFound | null> {
  const [te, visit] = await Promise.all([
    client.trackedEntity(w.trackedEntity, { fields: CASE_FIELDS }),
    client.event(w.visit, VISIT_FIELDS),
  ]);
  if (!te || te.deleted) return null;
  return {
    visit: visit && !visit.deleted ? visit : null,
    enrollments: (te.enrollments ?? []).filter((e) => e.program === program && !e.deleted),
  };
}
