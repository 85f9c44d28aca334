import type { Deployment, Outcome } from '../dhis2/deployment.ts';
import type { Dhis2Write } from '../dhis2/outbox/types.ts';
import { uidFromKey } from '../dhis2/uid.ts';

/**
 * Pure builders of the DHIS2 writes a case worker's report becomes (DHIS2 payload shapes from
 * reference §7). New objects get uids derived from the step's fresh id, so the write committed with
 * the session carries them and a retried import can never create the same birth twice.
 *
 * Notes are written in the staff language (English): they are read in the DHIS2 web app by programme
 * staff, not by the worker who reported. A deployment's custom outcome names its note in
 * `outcomes.<name>.note`; a note key not listed here is written as given.
 */

/** Vital Events package metadata the deployment file does not map yet (package defaults, reference §10.2). */
export interface VitalEventsExtra {
  /** Tracked entity type of new people ("Person" in the EIR and VEN packages). */
  trackedEntityType: string;
  /** Birth stage data element "Place of birth" (TEXT). */
  placeOfBirthDataElement: string;
  /** Death stage data element "Place of death" (TEXT). */
  placeOfDeathDataElement: string;
}

export const VITAL_EVENTS_DEFAULTS: VitalEventsExtra = {
  trackedEntityType: 'MCPQUTHX1Ze',
  placeOfBirthDataElement: 'ABhkInP0wGY',
  placeOfDeathDataElement: 'MAqI45DkhPd',
};

/** Staff notes for the built-in outcomes, keyed by the deployment's `note` keys. */
export const STAFF_NOTES: Readonly<Record<string, (p: { date?: string }) => string>> = {
  'outcome.will_come': ({ date }) => `Case worker follow-up: the caregiver will bring the child on ${date ?? 'a new date'}.`,
  'outcome.vaccinated_elsewhere': () => 'Case worker follow-up: the child was vaccinated elsewhere.',
  'outcome.moved_away': () => 'Case worker follow-up: the family has moved away.',
  'outcome.refused': () => 'Case worker follow-up: the caregiver refused the vaccination.',
  'outcome.not_found': () => 'Case worker follow-up: the child could not be found.',
  'outcome.died': () => 'Case worker follow-up: the child has died.',
};

export const PLACES: Readonly<Record<string, string>> = { facility: 'Health facility', home: 'Home', other: 'Other' };

export const REACTIONS: Readonly<Record<string, string>> = {
  fever: 'fever',
  swelling: 'swelling or pain where the vaccine was given',
  rash: 'rash',
  vomiting: 'vomiting or diarrhoea',
  fits: 'fits (convulsions)',
  breathing: 'difficulty breathing',
  other: 'another reaction',
};

export const SEVERITIES: Readonly<Record<string, string>> = { mild: 'mild', moderate: 'moderate', severe: 'severe (hospital or life-threatening)' };

/** Who reported and how to find the report again, appended to every note. */
export function signature(username: string, ref: string): string {
  return `Reported by ${username} via Jibu USSD, ref ${ref}.`;
}

export function outcomeNote(outcome: Outcome, p: { date?: string; username: string; ref: string }): string {
  const text = STAFF_NOTES[outcome.note]?.({ date: p.date }) ?? outcome.note;
  return `${text} ${signature(p.username, p.ref)}`;
}

/**
 * The write an outcome becomes, as the deployment says: a new date alone is a reschedule; a status,
 * a follow-up flag or both go in one event update; otherwise just the note.
 *
 * @example outcomeWrite({ note: 'outcome.refused', followUp: true }, 'EvT0000001a', 'Refused…') // { op: 'event.update', followUp: true, … }
 */
export function outcomeWrite(outcome: Outcome, event: string, note: string, date?: string): Dhis2Write {
  if (outcome.reschedule && date && !outcome.status && !outcome.followUp) return { op: 'event.reschedule', event, scheduledAt: date, note };
  if (outcome.status || outcome.followUp || (outcome.reschedule && date)) {
    return {
      op: 'event.update',
      event,
      ...(outcome.status ? { status: outcome.status } : {}),
      ...(outcome.reschedule && date ? { scheduledAt: date } : {}),
      ...(outcome.followUp ? { followUp: true } : {}),
      note,
    };
  }
  return { op: 'event.note', event, note };
}

/** Skip a scheduled visit that can no longer happen (the child died): reminders stop with it. */
export function skipVisit(event: string, p: { username: string; ref: string }): Dhis2Write {
  return { op: 'event.update', event, status: 'SKIPPED', note: `Visit skipped: the child was reported dead by a case worker. ${signature(p.username, p.ref)}` };
}

/** Split "Mwanaisha Salim" into first name and surname (the rest). */
export function splitName(full: string): { first: string; last?: string } {
  const words = full.trim().split(/\s+/).filter(Boolean);
  const [first = '', ...rest] = words;
  return rest.length ? { first, last: rest.join(' ') } : { first };
}

const attr = (attribute: string, value: string | undefined) => (value ? [{ attribute, value }] : []);

/** Client-made uids for one notification, all derived from the step's fresh id. */
export function notificationUids(id: string): { trackedEntity: string; enrollment: string; event: string; note: string } {
  return {
    trackedEntity: uidFromKey(`caseworker:${id}:trackedEntity`),
    enrollment: uidFromKey(`caseworker:${id}:enrollment`),
    event: uidFromKey(`caseworker:${id}:event`),
    note: uidFromKey(`caseworker:${id}:note`),
  };
}

export interface BirthReport {
  id: string;
  ref: string;
  username: string;
  orgUnit: string;
  today: string;
  childName?: string;
  sex: 'female' | 'male';
  dateOfBirth: string;
  place: string;
  carerName: string;
  carerPhone: string;
  /** A child already in the registry (the worker said "same child"): enrol it instead of creating it. */
  existing?: { trackedEntity: string };
}

/**
 * A birth notification: a Vital Events enrollment (registration reason "birth") with its Birth event,
 * for a new tracked entity, or for the registry child the worker recognised.
 */
export function birthWrite(d: Deployment, x: VitalEventsExtra, b: BirthReport): Dhis2Write {
  const uids = notificationUids(b.id);
  const ven = d.vitalEvents;
  const a = d.immunization.attributes;
  const carer = splitName(b.carerName);
  const name = b.childName ? splitName(b.childName) : undefined;
  const note = `Birth notified by a case worker: ${PLACES[b.place] ?? b.place}. ${signature(b.username, b.ref)}`;
  const event = {
    event: uids.event,
    program: ven.program,
    programStage: ven.birthStage,
    enrollment: uids.enrollment,
    orgUnit: b.orgUnit,
    status: 'COMPLETED',
    occurredAt: b.dateOfBirth,
    dataValues: [
      { dataElement: ven.notificationDataElement, value: 'true' },
      { dataElement: x.placeOfBirthDataElement, value: PLACES[b.place] ?? b.place },
    ],
    notes: [{ note: uids.note, value: note }],
  };
  const personAttributes = [
    ...attr(a.firstName, name?.first),
    ...attr(a.surname, name?.last),
    ...attr(a.sex, b.sex === 'female' ? 'Female' : 'Male'),
    ...attr(a.dateOfBirth, b.dateOfBirth),
    ...attr(a.caregiverFirstName, carer.first),
    ...attr(a.caregiverSurname, carer.last),
    ...attr(a.phone, b.carerPhone),
  ];
  const reason = attr(ven.reasonAttribute, ven.reasonCodes.birth);
  // COMPLETED: the notification is whole once sent, and an ACTIVE one would clash (E1015) with a
  // Vital Events enrollment the child may already have.
  const enrollment = {
    enrollment: uids.enrollment,
    program: ven.program,
    orgUnit: b.orgUnit,
    status: 'COMPLETED',
    enrolledAt: b.today,
    occurredAt: b.dateOfBirth,
    events: [event],
  };
  if (b.existing) {
    return { op: 'tracker.create', enrollments: [{ ...enrollment, trackedEntity: b.existing.trackedEntity, attributes: reason }] };
  }
  return {
    op: 'tracker.create',
    trackedEntities: [{
      trackedEntity: uids.trackedEntity,
      trackedEntityType: x.trackedEntityType,
      orgUnit: b.orgUnit,
      enrollments: [{ ...enrollment, trackedEntity: uids.trackedEntity, attributes: [...personAttributes, ...reason] }],
    }],
  };
}

export interface DeathReport {
  id: string;
  ref: string;
  username: string;
  orgUnit: string;
  today: string;
  dateOfDeath: string;
  place: string;
  /** A child in the registry, or a new person described here. */
  existing?: { trackedEntity: string };
  person?: { name: string; sex: 'female' | 'male'; dateOfBirth: string };
}

/** A death notification: a Vital Events enrollment (reason "death", date of death) with its Death event. */
export function deathWrite(d: Deployment, x: VitalEventsExtra, r: DeathReport): Dhis2Write {
  const uids = notificationUids(r.id);
  const ven = d.vitalEvents;
  const a = d.immunization.attributes;
  const note = `Death notified by a case worker: ${PLACES[r.place] ?? r.place}. ${signature(r.username, r.ref)}`;
  const event = {
    event: uids.event,
    program: ven.program,
    programStage: ven.deathStage,
    enrollment: uids.enrollment,
    orgUnit: r.orgUnit,
    status: 'COMPLETED',
    occurredAt: r.dateOfDeath,
    dataValues: [
      { dataElement: ven.notificationDataElement, value: 'true' },
      { dataElement: x.placeOfDeathDataElement, value: PLACES[r.place] ?? r.place },
    ],
    notes: [{ note: uids.note, value: note }],
  };
  const vital = [...attr(ven.reasonAttribute, ven.reasonCodes.death), ...attr(ven.dateOfDeathAttribute, r.dateOfDeath)];
  const enrollment = { enrollment: uids.enrollment, program: ven.program, orgUnit: r.orgUnit, status: 'COMPLETED', enrolledAt: r.today, occurredAt: r.dateOfDeath, events: [event] };
  if (r.existing) return { op: 'tracker.create', enrollments: [{ ...enrollment, trackedEntity: r.existing.trackedEntity, attributes: vital }] };
  const p = r.person;
  const name = p ? splitName(p.name) : { first: '' };
  return {
    op: 'tracker.create',
    trackedEntities: [{
      trackedEntity: uids.trackedEntity,
      trackedEntityType: x.trackedEntityType,
      orgUnit: r.orgUnit,
      enrollments: [{
        ...enrollment,
        trackedEntity: uids.trackedEntity,
        attributes: [
          ...attr(a.firstName, name.first),
          ...attr(a.surname, name.last),
          ...attr(a.sex, p ? (p.sex === 'female' ? 'Female' : 'Male') : undefined),
          ...attr(a.dateOfBirth, p?.dateOfBirth),
          ...vital,
        ],
      }],
    }],
  };
}

/** An adverse event after immunization, written as the deployment says on the child's latest visit. */
export function aefiWrite(d: Deployment, p: { event: string; reaction: string; severity: string; date: string; username: string; ref: string }): Dhis2Write {
  const note = `Adverse event after immunization: ${REACTIONS[p.reaction] ?? p.reaction}, ${SEVERITIES[p.severity] ?? p.severity}, since ${p.date}. ${signature(p.username, p.ref)}`;
  return { op: 'event.update', event: p.event, ...(d.aefi.followUp ? { followUp: true } : {}), note };
}

/** The alert a severe reaction sends to the responsible case workers, in the staff language. */
export function aefiAlertText(p: { reaction: string; childName: string; since: string; reporter: string; ref: string }): string {
  const since = /^(\d{4})-(\d{2})-(\d{2})$/.exec(p.since);
  return `Jibu alert: severe reaction after vaccination (${REACTIONS[p.reaction] ?? p.reaction}) in ${p.childName || 'a child'} since ${since ? `${since[3]}/${since[2]}/${since[1]}` : p.since}, reported by case worker ${p.reporter}. Ref ${p.ref}. Please follow up today.`;
}
