import { createHash } from 'node:crypto';
import { normalizePhone } from '../channels/phone.ts';
import type { Deployment } from '../dhis2/deployment.ts';
import { addDays, datePart } from '../dhis2/readmodel/calendar.ts';
import type { DefaulterView } from '../dhis2/readmodel/types.ts';
import type { Dhis2Event, Dhis2TrackedEntity } from '../dhis2/schemas.ts';
import type { RepeatSpec } from '../store/types.ts';

/**
 * The scheduler's decisions, as pure functions: which appointments are due or missed on a day, who gets
 * one message for which children, which markers make a message happen once, when each job repeats.
 * The runners (`reminders.ts`, `missed.ts`, `digest.ts`) only fetch, call these, and commit.
 */

/** One child with an appointment on the day the job looks at. */
export interface DueChild {
  event: string;
  enrollment: string;
  trackedEntity: string;
  orgUnit: string;
  firstName: string;
  surname?: string;
  /** `YYYY-MM-DD` (date part in the server time zone). */
  scheduledAt: string;
}

/** A caregiver phone and every child of theirs due that day: one message. */
export interface CaregiverDue {
  /** E.164. */
  phone: string;
  /** The programme's preferred-language attribute, when mapped and set. */
  dhis2Locale?: string;
  /** Sorted by first name, then event uid, so the message and its dedupe key are stable. */
  children: DueChild[];
}

/** What the scheduler reads from one tracked entity. */
export interface ChildFacts {
  trackedEntity: string;
  firstName: string;
  surname?: string;
  /** E.164 when the phone attribute reads as a number. */
  phone?: string;
  rawPhone?: string;
  dhis2Locale?: string;
}

function attributeValues(te: Dhis2TrackedEntity, program: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const en of te.enrollments ?? []) {
    if (en.deleted || (en.program !== undefined && en.program !== program)) continue;
    for (const a of en.attributes ?? []) if (a.value !== undefined) values.set(a.attribute, a.value);
  }
  for (const a of te.attributes ?? []) if (a.value !== undefined) values.set(a.attribute, a.value);
  return values;
}

/**
 * Name, phone and language of a child as DHIS2 holds them (programme attributes may sit on the entity
 * or on the enrollment).
 *
 * @example childFacts(te, deployment, 'KE').phone // '+254700000001'
 */
export function childFacts(te: Dhis2TrackedEntity, deployment: Deployment, defaultCountry?: string): ChildFacts {
  const { attributes: attr, program } = deployment.immunization;
  const values = attributeValues(te, program);
  const facts: ChildFacts = { trackedEntity: te.trackedEntity, firstName: values.get(attr.firstName)?.trim() ?? '' };
  const surname = values.get(attr.surname)?.trim();
  if (surname) facts.surname = surname;
  const rawPhone = values.get(attr.phone)?.trim();
  if (rawPhone) {
    facts.rawPhone = rawPhone;
    const phone = normalizePhone(rawPhone, defaultCountry);
    if (phone) facts.phone = phone;
  }
  const locale = attr.preferredLanguage ? values.get(attr.preferredLanguage)?.trim() : undefined;
  if (locale) facts.dhis2Locale = locale;
  return facts;
}

/**
 * Whether an Immunization event is an open appointment on `date`: stored SCHEDULE, not deleted, no
 * `occurredAt`, and the date part of `scheduledAt` equal to `date`. A completed event (status moved),
 * a rescheduled one (date moved) or a deleted one never qualifies.
 */
export function isOpenAppointmentOn(
  e: Pick<Dhis2Event, 'status' | 'deleted' | 'occurredAt' | 'scheduledAt' | 'programStage'>,
  date: string,
  stage: string,
): boolean {
  if (e.status !== 'SCHEDULE' || e.deleted || e.occurredAt) return false;
  if (e.programStage !== undefined && e.programStage !== stage) return false;
  return datePart(e.scheduledAt) === date;
}

/** The children of one tracked entity's Immunization enrollments with an open appointment on `date`. */
export function dueChildren(
  te: Dhis2TrackedEntity,
  date: string,
  deployment: Deployment,
  facts: ChildFacts,
): DueChild[] {
  if (te.deleted) return [];
  const { program, stage } = deployment.immunization;
  const out: DueChild[] = [];
  for (const en of te.enrollments ?? []) {
    if (en.deleted || (en.program !== undefined && en.program !== program)) continue;
    for (const e of en.events ?? []) {
      if (!isOpenAppointmentOn(e, date, stage)) continue;
      const child: DueChild = {
        event: e.event,
        enrollment: e.enrollment ?? en.enrollment,
        trackedEntity: te.trackedEntity,
        orgUnit: e.orgUnit ?? en.orgUnit ?? te.orgUnit ?? '',
        firstName: facts.firstName,
        scheduledAt: date,
      };
      if (facts.surname) child.surname = facts.surname;
      out.push(child);
    }
  }
  return out;
}

const byChild = (a: DueChild, b: DueChild) =>
  a.firstName < b.firstName ? -1 : a.firstName > b.firstName ? 1 : a.event < b.event ? -1 : a.event > b.event ? 1 : 0;

/**
 * Group the due children of these tracked entities by caregiver phone (children sharing a phone get
 * one message). Children without a readable phone are returned apart; events in `skip` (already
 * messaged) are left out, and a caregiver left with no child is dropped.
 *
 * @example caregiversDue([amina, juma], '2025-03-05', deployment, 'KE', new Set()).caregivers.length // 1
 */
export function caregiversDue(
  entities: Iterable<Dhis2TrackedEntity>,
  date: string,
  deployment: Deployment,
  defaultCountry: string | undefined,
  skip: ReadonlySet<string>,
): { caregivers: CaregiverDue[]; noPhone: DueChild[] } {
  const byPhone = new Map<string, CaregiverDue>();
  const noPhone: DueChild[] = [];
  for (const te of entities) {
    const facts = childFacts(te, deployment, defaultCountry);
    const due = dueChildren(te, date, deployment, facts).filter((c) => !skip.has(c.event));
    if (!due.length) continue;
    if (!facts.phone) {
      noPhone.push(...due);
      continue;
    }
    const c = byPhone.get(facts.phone) ?? { phone: facts.phone, children: [] };
    c.children.push(...due);
    if (facts.dhis2Locale && !c.dhis2Locale) c.dhis2Locale = facts.dhis2Locale;
    byPhone.set(facts.phone, c);
  }
  const caregivers = [...byPhone.values()].map((c) => ({
    ...c,
    children: [...new Map(c.children.map((x) => [x.event, x])).values()].sort(byChild),
  }));
  caregivers.sort((a, b) => (a.phone < b.phone ? -1 : a.phone > b.phone ? 1 : 0));
  return { caregivers, noPhone };
}

/** Which kind of caregiver message: a reminder before the visit, or a missed-visit message after it. */
export type CaregiverMessageKind = 'reminder' | 'missed';

/** One rule of a caregiver job run: the appointment day it looks at and its tag in markers. */
export interface CaregiverRule {
  kind: CaregiverMessageKind;
  /** `d2` (2 days before) for reminders, `g1` (1 day of grace) for missed visits. */
  tag: string;
  /** The appointment date the rule selects (`YYYY-MM-DD`). */
  appointmentDate: string;
}

/**
 * The rules of a `reminders` run on `today`: one per deployment rule, N days ahead.
 *
 * @example reminderRules('2025-03-03', defaultDeployment()) // [{ kind: 'reminder', tag: 'd2', appointmentDate: '2025-03-05' }]
 */
export function reminderRules(today: string, deployment: Deployment): CaregiverRule[] {
  const days = [...new Set(deployment.reminders.rules.map((r) => r.daysBefore))].sort((a, b) => a - b);
  return days.map((n) => ({ kind: 'reminder', tag: `d${n}`, appointmentDate: addDays(today, n) }));
}

/**
 * The rule of a `missed-appointments` run on `today`: visits `graceDays` ago (yesterday by default). A
 * grace of 0 is read as 1: a visit is missed only once its day is over (docs/dhis2.md#event-status-and-overdue).
 */
export function missedRule(today: string, deployment: Deployment): CaregiverRule {
  const grace = Math.max(1, deployment.missedVisits.graceDays);
  return { kind: 'missed', tag: `g${grace}`, appointmentDate: addDays(today, -grace) };
}

const sha = (s: string, n = 16) => createHash('sha256').update(s).digest('hex').slice(0, n);

/**
 * The per-event marker that makes a caregiver message happen once per (event, rule, date), whatever
 * the number of runs or replicas (`store.markSeen`).
 */
export function eventMarker(rule: CaregiverRule, event: string): string {
  return `sched:${rule.kind}:${rule.tag}:${rule.appointmentDate}:${event}`;
}

/**
 * The dedupe key of one caregiver message: the same children for the same rule and date always give
 * the same key, so a run that crashed after committing but before marking cannot send it twice.
 */
export function messageKey(rule: CaregiverRule, phone: string, events: readonly string[]): string {
  return `sched:${rule.kind}:${rule.tag}:${rule.appointmentDate}:${phone}:${sha([...events].sort().join(','))}`;
}

/** How long markers are kept: past the appointment day, with room for late reruns. */
export const MARKER_TTL_MS = 40 * 24 * 3_600_000;

// ---------------------------------------------------------------------------------- digest

/** A case worker and the defaulters in their org units that no digest has counted yet. */
export interface DigestPlan {
  phone: string;
  /** New defaulters (events), the longest overdue first. */
  events: string[];
}

/** Marker of one defaulter counted in one worker's digest: each child is news to a worker once. */
export function digestMarker(workerPhone: string, event: string): string {
  return `sched:digest:${workerPhone}:${event}`;
}

/** Dedupe key of one digest message (a rerun with the same new defaulters sends nothing more). */
export function digestKey(date: string, workerPhone: string, events: readonly string[]): string {
  return `sched:digest:${date}:${workerPhone}:${sha([...events].sort().join(','))}`;
}

/** Defaulters stay news to a worker until they leave the read model's 90-day look-back. */
export const DIGEST_MARKER_TTL_MS = 120 * 24 * 3_600_000;

/**
 * The defaulters a digest may count: missed before `today` and still open according to `current` (what
 * DHIS2 says now about each event; an event DHIS2 no longer returns was deleted). A defaulter whose
 * visit was since completed, rescheduled or deleted is never reported.
 */
export function stillMissed(
  defaulters: readonly DefaulterView[],
  current: ReadonlyMap<string, Dhis2Event>,
  today: string,
  stage: string,
): DefaulterView[] {
  return defaulters.filter((d) => {
    const e = current.get(d.event);
    if (!e || e.status !== 'SCHEDULE' || e.deleted || e.occurredAt) return false;
    if (e.programStage !== undefined && e.programStage !== stage) return false;
    const date = datePart(e.scheduledAt);
    return date !== undefined && date < today;
  });
}

// ---------------------------------------------------------------------------------- schedules

/** Names of the jobs (`POST /admin/jobs/{name}/run`, `jibu jobs run {name}`). */
export const JOB_NAMES = ['reminders', 'missed-appointments', 'defaulter-digest', 'sync'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** Name of the job a scheduler tick produces on the `jobs` queue. */
export const jobHandlerName = (name: JobName): string => `scheduler.${name}`;

export interface ScheduleSpec {
  /** Fixed, so every replica upserts the same BullMQ job scheduler and each tick runs once cluster-wide. */
  schedulerId: string;
  job: JobName;
  repeat: RepeatSpec;
  data: Record<string, unknown>;
}

function at(hhmm: string, plusMinutes: number): string {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const total = (h * 60 + m + plusMinutes) % (24 * 60);
  return `${total % 60} ${Math.floor(total / 60)} * * *`;
}

/**
 * When each job runs, in the deployment time zone: reminders and missed-visit messages when the
 * delivery window opens (nothing would leave earlier anyway), the case-worker digest an hour later (after
 * the missed-visit job added the new defaulters; Mondays only with `digest: weekly`), the read-model sync every 5 minutes and in full at 02:00.
 *
 * @example defaultSchedules(deployment, 'Africa/Nairobi')[0] // { schedulerId: 'jibu-reminders', repeat: { pattern: '0 8 * * *', tz: 'Africa/Nairobi' }, … }
 */
export function defaultSchedules(
  deployment: Deployment,
  timeZone: string,
  opts: { syncEveryMs?: number } = {},
): ScheduleSpec[] {
  const open = deployment.deliveryWindow.start;
  return [
    { schedulerId: 'jibu-reminders', job: 'reminders', repeat: { pattern: at(open, 0), tz: timeZone }, data: {} },
    {
      schedulerId: 'jibu-missed-appointments',
      job: 'missed-appointments',
      repeat: { pattern: at(open, 0), tz: timeZone },
      data: {},
    },
    {
      schedulerId: 'jibu-defaulter-digest',
      job: 'defaulter-digest',
      // Weekly: Monday mornings, with the week's new defaulters (the markers remember what was told).
      repeat: {
        pattern: deployment.digest === 'weekly' ? at(open, 60).replace(/\*$/, '1') : at(open, 60),
        tz: timeZone,
      },
      data: {},
    },
    {
      schedulerId: 'jibu-sync-incremental',
      job: 'sync',
      repeat: { every: opts.syncEveryMs ?? 5 * 60_000 },
      data: { mode: 'incremental' },
    },
    {
      schedulerId: 'jibu-sync-full',
      job: 'sync',
      repeat: { pattern: '0 2 * * *', tz: timeZone },
      data: { mode: 'full' },
    },
  ];
}
