import type { Deployment, Outcome, StaffLocale } from '../dhis2/deployment.ts';
import type { Dhis2Write } from '../dhis2/outbox/types.ts';
import { byStaffLocale, staffWords, SURVEILLANCE_TEXTS } from '../dhis2/staff-texts.ts';
import { uidFromKey } from '../dhis2/uid.ts';

/**
 * Pure builders of the DHIS2 writes a case worker's report becomes (DHIS2 payload shapes from
 * docs/dhis2.md#import-payloads). New objects get uids derived from the step's fresh id, so the write committed with
 * the session carries them and a retried import can never create the same birth twice.
 *
 * Notes are written in the deployment's staff language (`staffLocale`): they are read in the DHIS2
 * web app by programme staff, not by the worker who reported. A deployment's custom outcome names its
 * note in `outcomes.<name>.note`; a note key with no built-in text is written as given.
 */

/**
 * Vital Events package metadata the deployment file does not map yet (package defaults,
 * docs/dhis2.md#package-metadata-jibu-defaults-to).
 */
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

/** The note keys of the built-in outcomes (`DEFAULT_OUTCOMES`); a deployment may name others. */
export const OUTCOME_NOTE_KEYS = [
  'outcome.will_come',
  'outcome.vaccinated_elsewhere',
  'outcome.moved_away',
  'outcome.refused',
  'outcome.not_found',
  'outcome.died',
] as const;
export type OutcomeNoteKey = (typeof OUTCOME_NOTE_KEYS)[number];
/** Places of birth or death, as `flows/caseworker.yaml` saves them. */
export const PLACE_KEYS = ['facility', 'home', 'other'] as const;
/** Reactions after a vaccine, as `flows/caseworker.yaml` saves them. */
export const REACTION_KEYS = ['fever', 'swelling', 'rash', 'vomiting', 'fits', 'breathing', 'other'] as const;
export const SEVERITY_KEYS = ['mild', 'moderate', 'severe'] as const;

export interface CaseWorkerStaffTexts {
  /** Notes of the built-in outcomes; `date` is the new visit date (ISO) when the outcome has one. */
  outcomes: Record<OutcomeNoteKey, (a: { date?: string }) => string>;
  /** Who reported and how to find the report again, appended to every note. */
  signature: (a: { username: string; ref: string }) => string;
  /** Note on each other booked visit of a child reported dead. */
  visitSkipped: string;
  birth: (a: { place: string }) => string;
  death: (a: { place: string }) => string;
  /** Also the value of the Place of birth / Place of death TEXT data elements. */
  places: Record<(typeof PLACE_KEYS)[number], string>;
  reactions: Record<(typeof REACTION_KEYS)[number], string>;
  severities: Record<(typeof SEVERITY_KEYS)[number], string>;
  aefi: (a: { reaction: string; severity: string; since: string }) => string;
  /** The SMS to case workers; `since` as DD/MM/YYYY (read on a phone, not in DHIS2), `child` may be empty. */
  alert: (a: { reaction: string; child: string; since: string; reporter: string; ref: string }) => string;
}

/**
 * What a case worker's reports become in DHIS2, by staff language (the deployment's `staffLocale`), from
 * `locales/<lang>/staff.yaml` (`staff.caseworker.*`): read in the DHIS2 web app by programme staff, not
 * by the worker who reported. Dates in notes stay ISO, unambiguous in every DHIS2 locale.
 */
export const CASEWORKER_STAFF_TEXTS = byStaffLocale<CaseWorkerStaffTexts>((m) => ({
  outcomes: Object.fromEntries(
    OUTCOME_NOTE_KEYS.map((k) => [
      k,
      ({ date }: { date?: string }) =>
        m(`caseworker.outcomes.${k.slice('outcome.'.length)}`, date ? { hasDate: 'yes', date } : { hasDate: 'no' }),
    ]),
  ) as CaseWorkerStaffTexts['outcomes'],
  signature: (a) => m('caseworker.signature', a),
  visitSkipped: m('caseworker.visitSkipped'),
  birth: (a) => m('caseworker.birth', a),
  death: (a) => m('caseworker.death', a),
  places: staffWords(m, 'caseworker.places', PLACE_KEYS),
  reactions: staffWords(m, 'caseworker.reactions', REACTION_KEYS),
  severities: staffWords(m, 'caseworker.severities', SEVERITY_KEYS),
  aefi: (a) => m('caseworker.aefi', a),
  alert: ({ child, ...a }) =>
    m('caseworker.alert', child ? { ...a, hasChild: 'yes', child } : { ...a, hasChild: 'no' }),
}));

/** The text of `key` in `map`, or undefined: keys come from flow files, and must not reach `Object.prototype`. */
function textOf(map: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** A place as staff read it (note and data value); a place a flow saves under another name is written as given. */
export function placeText(locale: StaffLocale, place: string): string {
  return textOf(CASEWORKER_STAFF_TEXTS[locale].places, place) ?? place;
}

/** Who reported and how to find the report again, appended to every note. */
export function signature(username: string, ref: string, locale: StaffLocale): string {
  return CASEWORKER_STAFF_TEXTS[locale].signature({ username, ref });
}

/**
 * The note of an outcome: the built-in text of its `note` key in the staff language, or, for a key a
 * deployment made up, the key itself as written; then the signature.
 *
 * @example
 * outcomeNote({ note: 'outcome.refused' }, { username: 'cw.zawadi', ref: 'K7Q2MX', locale: 'fr' })
 * // "Suivi par l'agent communautaire : le parent a refusé la vaccination. Signalé par cw.zawadi via Jibu USSD, réf. K7Q2MX."
 * outcomeNote({ note: 'Transferred.' }, { username: 'cw.zawadi', ref: 'K7Q2MX', locale: 'fr' })
 * // "Transferred. Signalé par cw.zawadi via Jibu USSD, réf. K7Q2MX."
 */
export function outcomeNote(
  outcome: Outcome,
  p: { date?: string; username: string; ref: string; locale: StaffLocale },
): string {
  const outcomes: Readonly<Record<string, (a: { date?: string }) => string>> =
    CASEWORKER_STAFF_TEXTS[p.locale].outcomes;
  const text = Object.hasOwn(outcomes, outcome.note) ? outcomes[outcome.note]?.({ date: p.date }) : undefined;
  return `${text ?? outcome.note} ${signature(p.username, p.ref, p.locale)}`;
}

/**
 * The write an outcome becomes, as the deployment says: a new date alone is a reschedule; a status,
 * a follow-up flag or both go in one event update; otherwise just the note.
 *
 * @example outcomeWrite({ note: 'outcome.refused', followUp: true }, 'EvT0000001a', 'Refused…') // { op: 'event.update', followUp: true, … }
 */
export function outcomeWrite(outcome: Outcome, event: string, note: string, date?: string): Dhis2Write {
  if (outcome.reschedule && date && !outcome.status && !outcome.followUp)
    return { op: 'event.reschedule', event, scheduledAt: date, note };
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
export function skipVisit(event: string, p: { username: string; ref: string; locale: StaffLocale }): Dhis2Write {
  return {
    op: 'event.update',
    event,
    status: 'SKIPPED',
    note: `${CASEWORKER_STAFF_TEXTS[p.locale].visitSkipped} ${signature(p.username, p.ref, p.locale)}`,
  };
}

/** Split "Mwanaisha Salim" into first name and surname (the rest). */
export function splitName(full: string): { first: string; last?: string } {
  const words = full.trim().split(/\s+/).filter(Boolean);
  const [first = '', ...rest] = words;
  return rest.length ? { first, last: rest.join(' ') } : { first };
}

const attr = (attribute: string, value: string | undefined) => (value ? [{ attribute, value }] : []);

/** Client-made uids for one notification, all derived from the step's fresh id. */
export function notificationUids(id: string): {
  trackedEntity: string;
  enrollment: string;
  event: string;
  note: string;
} {
  return {
    trackedEntity: uidFromKey(`caseworker:${id}:trackedEntity`),
    enrollment: uidFromKey(`caseworker:${id}:enrollment`),
    event: uidFromKey(`caseworker:${id}:event`),
    note: uidFromKey(`caseworker:${id}:note`),
  };
}

export interface BirthReport {
  id: string;
  /** The worker's org units: the registry-wide duplicate check reports only likely matches outside them. */
  area?: string[];
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
  const place = placeText(d.staffLocale, b.place);
  const note = `${CASEWORKER_STAFF_TEXTS[d.staffLocale].birth({ place })} ${signature(b.username, b.ref, d.staffLocale)}`;
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
      { dataElement: x.placeOfBirthDataElement, value: place },
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
    return {
      op: 'tracker.create',
      enrollments: [{ ...enrollment, trackedEntity: b.existing.trackedEntity, attributes: reason }],
    };
  }
  return {
    op: 'tracker.create',
    trackedEntities: [
      {
        trackedEntity: uids.trackedEntity,
        trackedEntityType: x.trackedEntityType,
        orgUnit: b.orgUnit,
        enrollments: [
          { ...enrollment, trackedEntity: uids.trackedEntity, attributes: [...personAttributes, ...reason] },
        ],
      },
    ],
    // Before creating the child the relay looks for them in the whole registry (the phone saw only the area).
    duplicateCheck: {
      trackedEntity: uids.trackedEntity,
      enrollment: uids.enrollment,
      ...(name?.first ? { firstName: name.first } : {}),
      dateOfBirth: b.dateOfBirth,
      phone: b.carerPhone,
      area: b.area ?? [b.orgUnit],
    },
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
  const place = placeText(d.staffLocale, r.place);
  const note = `${CASEWORKER_STAFF_TEXTS[d.staffLocale].death({ place })} ${signature(r.username, r.ref, d.staffLocale)}`;
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
      { dataElement: x.placeOfDeathDataElement, value: place },
    ],
    notes: [{ note: uids.note, value: note }],
  };
  const vital = [...attr(ven.reasonAttribute, ven.reasonCodes.death), ...attr(ven.dateOfDeathAttribute, r.dateOfDeath)];
  const enrollment = {
    enrollment: uids.enrollment,
    program: ven.program,
    orgUnit: r.orgUnit,
    status: 'COMPLETED',
    enrolledAt: r.today,
    occurredAt: r.dateOfDeath,
    events: [event],
  };
  if (r.existing)
    return {
      op: 'tracker.create',
      enrollments: [{ ...enrollment, trackedEntity: r.existing.trackedEntity, attributes: vital }],
    };
  const p = r.person;
  const name = p ? splitName(p.name) : { first: '' };
  return {
    op: 'tracker.create',
    trackedEntities: [
      {
        trackedEntity: uids.trackedEntity,
        trackedEntityType: x.trackedEntityType,
        orgUnit: r.orgUnit,
        enrollments: [
          {
            ...enrollment,
            trackedEntity: uids.trackedEntity,
            attributes: [
              ...attr(a.firstName, name.first),
              ...attr(a.surname, name.last),
              ...attr(a.sex, p ? (p.sex === 'female' ? 'Female' : 'Male') : undefined),
              ...attr(a.dateOfBirth, p?.dateOfBirth),
              ...vital,
            ],
          },
        ],
      },
    ],
  };
}

/** The staff note of a case worker's reaction report: what, how bad, since when, and who reported it. */
function aefiNote(
  d: Deployment,
  p: { reaction: string; severity: string; date: string; username: string; ref: string },
): string {
  const t = CASEWORKER_STAFF_TEXTS[d.staffLocale];
  const text = t.aefi({
    reaction: textOf(t.reactions, p.reaction) ?? p.reaction,
    severity: textOf(t.severities, p.severity) ?? p.severity,
    since: p.date,
  });
  return `${text} ${signature(p.username, p.ref, d.staffLocale)}`;
}

/** An adverse event after immunization, written as the deployment says on the child's latest visit. */
export function aefiWrite(
  d: Deployment,
  p: { event: string; reaction: string; severity: string; date: string; username: string; ref: string },
): Dhis2Write {
  const note = aefiNote(d, p);
  return { op: 'event.update', event: p.event, ...(d.aefi.followUp ? { followUp: true } : {}), note };
}

/**
 * A reaction reported by a case worker as a case of the AEFI programme (`aefi.program` set): the relay
 * files it on the child's case for `visit`, with the batch number read from the card when there is one.
 * Its note is the one {@link aefiWrite} writes on the visit without the programme.
 */
export function aefiCaseWrite(
  d: Deployment,
  p: {
    trackedEntity: string;
    visit: string;
    orgUnit: string;
    reaction: string;
    severity: string;
    date: string;
    today: string;
    username: string;
    worker: { name: string; phone: string };
    ref: string;
    batch?: { number: string; vaccine: string };
  },
): Dhis2Write {
  const t = CASEWORKER_STAFF_TEXTS[d.staffLocale];
  return {
    op: 'aefi.report',
    trackedEntity: p.trackedEntity,
    visit: p.visit,
    orgUnit: p.orgUnit,
    reportedAt: p.today,
    onset: p.date,
    reaction: p.reaction,
    reactionText: textOf(t.reactions, p.reaction) ?? p.reaction,
    serious: p.severity === 'severe',
    ...(p.batch ? { batch: p.batch } : {}),
    reporter: {
      name: SURVEILLANCE_TEXTS[d.staffLocale].reporterCaseWorker({ name: p.worker.name }),
      phone: p.worker.phone,
    },
    note: aefiNote(d, p),
  };
}

/**
 * The alert a severe reaction sends to the responsible case workers, in the staff language. It is an
 * SMS read on a phone, so the date is written DD/MM/YYYY.
 */
export function aefiAlertText(p: {
  reaction: string;
  childName: string;
  since: string;
  reporter: string;
  ref: string;
  locale: StaffLocale;
}): string {
  const t = CASEWORKER_STAFF_TEXTS[p.locale];
  const since = /^(\d{4})-(\d{2})-(\d{2})$/.exec(p.since);
  return t.alert({
    reaction: textOf(t.reactions, p.reaction) ?? p.reaction,
    child: p.childName,
    since: since ? `${since[3]}/${since[2]}/${since[1]}` : p.since,
    reporter: p.reporter,
    ref: p.ref,
  });
}
