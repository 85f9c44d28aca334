import type { Dhis2Event, EnrollmentStatus, EventStatus, UserInfo } from './schemas.ts';
import { eventFollowUpKey, type Dhis2Version } from './version.ts';

/**
 * Tracker import payloads (docs/dhis2.md#import-payloads) and the pure builders Jibu's writes go through. Events carry
 * the follow-up flag as `followUp`; the client renames it for servers that spell it `followup`.
 */

export interface NotePayload {
  /** Client-made uid: a retry re-sends it and DHIS2 skips it with warning E1119 instead of duplicating. */
  note: string;
  value: string;
}

export interface DataValuePayload {
  dataElement: string;
  /** `null` deletes the value. */
  value: string | null;
  providedElsewhere?: boolean;
}

export interface EventPayload {
  event: string;
  program?: string;
  programStage: string;
  enrollment?: string;
  orgUnit: string;
  status: EventStatus;
  occurredAt?: string;
  scheduledAt?: string;
  completedAt?: string;
  completedBy?: string;
  followUp?: boolean;
  attributeOptionCombo?: string;
  attributeCategoryOptions?: string;
  geometry?: { type: string; coordinates?: unknown };
  assignedUser?: UserInfo;
  storedBy?: string;
  dataValues?: DataValuePayload[];
  notes?: NotePayload[];
}

export interface AttributeValuePayload {
  attribute: string;
  value: string | null;
}

export interface EnrollmentPayload {
  enrollment: string;
  trackedEntity?: string;
  program: string;
  orgUnit: string;
  status?: EnrollmentStatus;
  enrolledAt: string;
  occurredAt?: string;
  followUp?: boolean;
  attributes?: AttributeValuePayload[];
  events?: EventPayload[];
  notes?: NotePayload[];
}

export interface TrackedEntityPayload {
  trackedEntity: string;
  trackedEntityType: string;
  orgUnit: string;
  inactive?: boolean;
  attributes?: AttributeValuePayload[];
  enrollments?: EnrollmentPayload[];
}

/** `POST /api/tracker` body: flat (linked by uid) or nested. */
export interface TrackerPayload {
  trackedEntities?: TrackedEntityPayload[];
  enrollments?: EnrollmentPayload[];
  events?: EventPayload[];
  relationships?: unknown[];
}

/** What a Jibu write may change on an existing event. `occurredAt: null` clears it. */
export interface EventChanges {
  status?: EventStatus;
  scheduledAt?: string;
  occurredAt?: string | null;
  orgUnit?: string;
  followUp?: boolean;
}

/**
 * The UPDATE payload for an event as read from DHIS2: every scalar field resent as read (DHIS2 clears
 * omitted scalars, docs/dhis2.md#update-rules), `changes` applied on top, the read notes and data values left out
 * (resent notes cause E1119; data values are merged server-side and refused on SCHEDULE events, E1315),
 * and only the new notes added.
 *
 * @example
 * eventUpdate(event, { scheduledAt: '2024-07-01' }, [{ note: uidFromKey(jobId), value: 'Caregiver asked to move visit (SMS)' }])
 */
export function eventUpdate(event: Dhis2Event, changes: EventChanges = {}, notes: NotePayload[] = []): EventPayload {
  const { programStage, orgUnit, status } = event;
  if (!programStage || !orgUnit || !status) {
    throw new Error(
      `Event ${event.event} was read without programStage, orgUnit or status; read every scalar field before updating`,
    );
  }
  const out: EventPayload = {
    event: event.event,
    programStage,
    orgUnit: changes.orgUnit ?? orgUnit,
    status: changes.status ?? status,
  };
  const copy = <K extends keyof EventPayload & keyof Dhis2Event>(k: K) => {
    if (event[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = event[k];
  };
  copy('program');
  copy('enrollment');
  copy('occurredAt');
  copy('scheduledAt');
  copy('completedAt');
  copy('completedBy');
  copy('followUp');
  copy('attributeOptionCombo');
  copy('attributeCategoryOptions');
  copy('geometry');
  copy('assignedUser');
  if (changes.scheduledAt !== undefined) out.scheduledAt = changes.scheduledAt;
  if (changes.occurredAt === null) delete out.occurredAt;
  else if (changes.occurredAt !== undefined) out.occurredAt = changes.occurredAt;
  if (changes.followUp !== undefined) out.followUp = changes.followUp;
  if (out.status !== 'COMPLETED') {
    // E1051: completedAt on a non-completed event is refused.
    delete out.completedAt;
    delete out.completedBy;
  }
  if (notes.length) out.notes = notes;
  return out;
}

/**
 * The payload as version `v` reads it: events' `followUp` becomes `followup` on ≤2.40 (a `followUp` key
 * would be ignored there and the flag silently cleared), including events nested in enrollments.
 */
export function toWirePayload(v: Dhis2Version, payload: TrackerPayload): Record<string, unknown> {
  const key = eventFollowUpKey(v);
  const event = (e: EventPayload): Record<string, unknown> => {
    if (key === 'followUp' || e.followUp === undefined) return { ...e };
    const { followUp, ...rest } = e;
    return { ...rest, followup: followUp };
  };
  const enrollment = (en: EnrollmentPayload): Record<string, unknown> =>
    en.events ? { ...en, events: en.events.map(event) } : { ...en };
  const out: Record<string, unknown> = {};
  if (payload.trackedEntities) {
    out.trackedEntities = payload.trackedEntities.map((te) =>
      te.enrollments ? { ...te, enrollments: te.enrollments.map(enrollment) } : { ...te },
    );
  }
  if (payload.enrollments) out.enrollments = payload.enrollments.map(enrollment);
  if (payload.events) out.events = payload.events.map(event);
  if (payload.relationships) out.relationships = payload.relationships;
  return out;
}
