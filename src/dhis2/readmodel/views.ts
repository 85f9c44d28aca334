import { normalizePhone } from '../../channels/phone.ts';
import type { Deployment } from '../deployment.ts';
import type { Dhis2Event, Dhis2TrackedEntity, Dhis2User, OrgUnit } from '../schemas.ts';
import { addDays, datePart, monthsBefore } from './calendar.ts';
import type {
  AppointmentView,
  CaseWorkerView,
  ChildRecord,
  ChildView,
  DefaulterView,
  EventSnapshot,
  OrgUnitTree,
} from './types.ts';

/**
 * Pure derivations of the read-model views from what DHIS2 sends: one tracked entity (with its
 * enrollments and their events) gives one child, its appointments and its defaulter entries. The sync
 * and the outbox relay both go through these functions, so a view never depends on who wrote it.
 */

/** The dates the read model holds appointments for, inclusive (`YYYY-MM-DD`). */
export interface SyncWindow {
  from: string;
  to: string;
}

export interface ViewContext {
  deployment: Deployment;
  /** Today in the deployment time zone. */
  today: string;
  /** Appointments outside it are ignored; undefined keeps every SCHEDULE event. */
  window?: SyncWindow;
  /** ISO 3166 alpha-2 country for national-format phone numbers (`DEFAULT_COUNTRY`). */
  defaultCountry?: string;
  tree?: OrgUnitTree;
  /** Who is a defaulter; unset: DHIS2's OVERDUE on `today`. */
  rule?: DefaulterRule;
}

/** A child and the event snapshots its views are built from. */
export interface DerivedChild {
  record: ChildRecord;
  /** SCHEDULE Immunization events in the window, earliest first. */
  snapshots: EventSnapshot[];
}

/**
 * The fields the sync asks for on tracked entities: attributes, and the programme's enrollments with
 * every scalar field of their events (notes and data values are not needed and can be large).
 */
export const TRACKED_ENTITY_FIELDS =
  'trackedEntity,orgUnit,deleted,attributes[attribute,value],enrollments[enrollment,program,status,orgUnit,deleted,attributes[attribute,value],events[*,!notes,!dataValues,!relationships]]';

/** Strip what a snapshot does not keep (notes, data values). */
export function toSnapshot(event: Dhis2Event): EventSnapshot {
  const { notes: _notes, dataValues: _dataValues, ...scalars } = event;
  return scalars;
}

/**
 * A missed appointment (docs/dhis2.md, OVERDUE): still SCHEDULE, never happened, and its date is before today.
 * A visit scheduled for today is not missed, whatever the hour.
 *
 * @example isMissed({ status: 'SCHEDULE', scheduledAt: '2025-03-02T00:00:00.000' } as EventSnapshot, '2025-03-03') // true
 */
export function isMissed(
  event: Pick<EventSnapshot, 'status' | 'scheduledAt' | 'occurredAt' | 'deleted'>,
  today: string,
): boolean {
  const date = datePart(event.scheduledAt);
  return event.status === 'SCHEDULE' && !event.deleted && !event.occurredAt && date !== undefined && date < today;
}

/** Whether an event is an appointment the read model keeps: a live SCHEDULE Immunization event in the window. */
export function isAppointment(event: EventSnapshot, ctx: Pick<ViewContext, 'deployment' | 'window'>): boolean {
  if (event.deleted || event.status !== 'SCHEDULE' || event.programStage !== ctx.deployment.immunization.stage)
    return false;
  const date = datePart(event.scheduledAt);
  if (date === undefined) return false;
  return !ctx.window || (date >= ctx.window.from && date <= ctx.window.to);
}

/** Why an overdue visit is left off the defaulter lists (counted, never silent: docs/design.md). */
export const EXCLUSION_REASONS = ['grace', 'lookback', 'age', 'enrollment'] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];
export type ExclusionCounts = Record<ExclusionReason, number>;

export function noExclusions(): ExclusionCounts {
  return { grace: 0, lookback: 0, age: 0, enrollment: 0 };
}

/**
 * Who is a defaulter on `today` (deployment `defaulters`): an Immunization event still SCHEDULE, never
 * given (no `occurredAt`), scheduled before `overdueBefore` (today minus the grace days) and not before
 * `from` (today minus the lookback), in an ACTIVE enrollment, of a child born after `bornAfter` (younger
 * than `maxAgeMonths`) when set. With the defaults this is DHIS2's OVERDUE working list ("Missed
 * appointments", 1 000 days).
 */
export interface DefaulterRule {
  today: string;
  overdueBefore: string;
  from?: string;
  bornAfter?: string;
}

/**
 * The rule a deployment sets for `today`; a bare date is DHIS2's OVERDUE with no settings (tests, and
 * callers that hold no deployment).
 *
 * @example defaulterRule(deployment, '2025-03-03') // { today: '2025-03-03', overdueBefore: '2025-03-03', from: '2022-06-06' }
 */
export function defaulterRule(deployment: Pick<Deployment, 'defaulters'> | undefined, today: string): DefaulterRule {
  const d = deployment?.defaulters;
  if (!d) return { today, overdueBefore: today };
  const rule: DefaulterRule = {
    today,
    overdueBefore: addDays(today, -d.graceDays),
    from: addDays(today, -d.lookbackDays),
  };
  if (d.maxAgeMonths !== undefined) rule.bornAfter = monthsBefore(today, d.maxAgeMonths);
  return rule;
}

const asRule = (r: DefaulterRule | string): DefaulterRule =>
  typeof r === 'string' ? { today: r, overdueBefore: r } : r;

/**
 * The child's overdue snapshots that make it a defaulter under `rule`; the overdue ones the rule leaves
 * out are added to `excluded` by reason (the first reason that applies).
 */
export function defaulterSnapshots(
  d: Pick<DerivedChild, 'record' | 'snapshots'>,
  rule: DefaulterRule | string,
  excluded?: ExclusionCounts,
): EventSnapshot[] {
  const r = asRule(rule);
  const inactive = new Set(d.record.inactiveEnrollments ?? []);
  const dob = d.record.dateOfBirth;
  const out: EventSnapshot[] = [];
  for (const s of d.snapshots) {
    if (!isMissed(s, r.today)) continue;
    const date = datePart(s.scheduledAt)!;
    const reason: ExclusionReason | undefined =
      r.from !== undefined && date < r.from
        ? 'lookback'
        : inactive.has(s.enrollment ?? d.record.enrollment)
          ? 'enrollment'
          : r.bornAfter !== undefined && dob !== undefined && dob <= r.bornAfter
            ? 'age'
            : date >= r.overdueBefore
              ? 'grace'
              : undefined;
    if (reason) {
      if (excluded) excluded[reason]++;
    } else out.push(s);
  }
  return out;
}

function byScheduledAt(a: EventSnapshot, b: EventSnapshot): number {
  const x = a.scheduledAt ?? '';
  const y = b.scheduledAt ?? '';
  return x < y ? -1 : x > y ? 1 : a.event < b.event ? -1 : a.event > b.event ? 1 : 0;
}

/**
 * The child a tracked entity is, or null when it has no appointment in the window (then it is not in the
 * read model at all) or is not enrolled in the Immunization programme.
 */
export function deriveChild(te: Dhis2TrackedEntity, ctx: ViewContext): DerivedChild | null {
  if (te.deleted) return null;
  const { program, stage, attributes: attr } = ctx.deployment.immunization;
  const enrollments = (te.enrollments ?? []).filter(
    (en) => !en.deleted && (en.program === undefined || en.program === program),
  );
  if (!enrollments.length) return null;

  // With `program` DHIS2 also returns programme attributes on the entity; enrollments may carry them too.
  const values = new Map<string, string>();
  for (const en of enrollments)
    for (const a of en.attributes ?? []) if (a.value !== undefined) values.set(a.attribute, a.value);
  for (const a of te.attributes ?? []) if (a.value !== undefined) values.set(a.attribute, a.value);

  const events: EventSnapshot[] = [];
  const enrollmentOf = new Map<string, (typeof enrollments)[number]>();
  for (const en of enrollments) {
    for (const e of en.events ?? []) {
      if (e.deleted || (e.programStage !== undefined && e.programStage !== stage)) continue;
      const snapshot = toSnapshot(e);
      snapshot.enrollment ??= en.enrollment;
      snapshot.trackedEntity ??= te.trackedEntity;
      snapshot.programStage ??= stage;
      snapshot.program ??= program;
      snapshot.orgUnit ??= en.orgUnit ?? te.orgUnit;
      events.push(snapshot);
      enrollmentOf.set(snapshot.event, en);
    }
  }
  const snapshots = events.filter((e) => isAppointment(e, ctx)).sort(byScheduledAt);
  if (!snapshots.length) return null;

  const first = snapshots[0]!;
  const enrollment = enrollmentOf.get(first.event)!;
  const latest = latestVisit(events);
  const rawPhone = values.get(attr.phone)?.trim() || undefined;
  const phone = rawPhone ? (normalizePhone(rawPhone, ctx.defaultCountry) ?? undefined) : undefined;
  const locale = attr.preferredLanguage ? values.get(attr.preferredLanguage)?.trim() || undefined : undefined;
  const record: ChildRecord = {
    trackedEntity: te.trackedEntity,
    enrollment: enrollment.enrollment,
    firstName: values.get(attr.firstName)?.trim() ?? '',
    orgUnit: enrollment.orgUnit ?? te.orgUnit ?? first.orgUnit ?? '',
    events: snapshots.map((s) => s.event),
    defaulterOrgUnits: [],
  };
  // A completed or cancelled enrollment keeps its scheduled events, but nobody traces them (DHIS2's
  // working list filters on ACTIVE enrollments).
  const inactive = enrollments.filter((en) => en.status !== undefined && en.status !== 'ACTIVE');
  if (inactive.length) record.inactiveEnrollments = inactive.map((en) => en.enrollment).sort();
  const surname = values.get(attr.surname)?.trim();
  if (surname) record.surname = surname;
  const dob = datePart(values.get(attr.dateOfBirth));
  if (dob) record.dateOfBirth = dob;
  const sex = values.get(attr.sex)?.trim();
  if (sex) record.sex = sex;
  if (phone) record.phone = phone;
  if (rawPhone) record.rawPhone = rawPhone;
  if (locale) record.locale = locale;
  if (latest) {
    record.latestEvent = latest.event;
    record.latestOccurredAt = latest.occurredAt;
  }
  record.defaulterOrgUnits = defaulterOrgUnits({ record, snapshots }, ctx.rule ?? ctx.today);
  return { record, snapshots };
}

/**
 * The visit an adverse-event report attaches to: the Immunization event that happened last (any status
 * with an `occurredAt`). A scheduled future visit never counts.
 */
function latestVisit(events: EventSnapshot[]): { event: string; occurredAt: string } | undefined {
  let best: { event: string; occurredAt: string } | undefined;
  for (const e of events) {
    if (!e.occurredAt) continue;
    if (!best || e.occurredAt > best.occurredAt || (e.occurredAt === best.occurredAt && e.event > best.event))
      best = { event: e.event, occurredAt: e.occurredAt };
  }
  return best;
}

/** Org units where a child is a defaulter under `rule`, sorted. */
export function defaulterOrgUnits(
  d: Pick<DerivedChild, 'record' | 'snapshots'>,
  rule: DefaulterRule | string,
): string[] {
  return [...new Set(defaulterSnapshots(d, rule).map((s) => s.orgUnit ?? ''))].filter(Boolean).sort();
}

/**
 * Recompute a child record after its appointments changed (a relayed write): events, defaulter org
 * units, and the latest visit when a written event now has a later `occurredAt`.
 */
export function withSnapshots(
  record: ChildRecord,
  snapshots: EventSnapshot[],
  rule: DefaulterRule | string,
  written: EventSnapshot[] = [],
): DerivedChild {
  const sorted = [...snapshots].sort(byScheduledAt);
  const next: ChildRecord = {
    ...record,
    events: sorted.map((s) => s.event),
    defaulterOrgUnits: defaulterOrgUnits({ record, snapshots: sorted }, rule),
  };
  for (const w of written) {
    if (w.occurredAt && !w.deleted && (!next.latestOccurredAt || w.occurredAt >= next.latestOccurredAt)) {
      next.latestEvent = w.event;
      next.latestOccurredAt = w.occurredAt;
    }
  }
  return { record: next, snapshots: sorted };
}

/** An appointment as a conversation shows it. */
export function appointmentView(s: EventSnapshot, record: ChildRecord, tree?: OrgUnitTree): AppointmentView {
  const orgUnit = s.orgUnit ?? record.orgUnit;
  const view: AppointmentView = {
    event: s.event,
    enrollment: s.enrollment ?? record.enrollment,
    trackedEntity: record.trackedEntity,
    programStage: s.programStage ?? '',
    orgUnit,
    scheduledAt: datePart(s.scheduledAt) ?? '',
    status: 'SCHEDULE',
  };
  const name = tree?.[orgUnit]?.name ?? s.orgUnitName;
  if (name) view.orgUnitName = name;
  return view;
}

/** The child as a caregiver's view lists it: the earliest appointment (missed or upcoming) is `next`. */
export function childView(d: DerivedChild, tree?: OrgUnitTree): ChildView {
  const r = d.record;
  const view: ChildView = {
    trackedEntity: r.trackedEntity,
    enrollment: r.enrollment,
    firstName: r.firstName,
    orgUnit: r.orgUnit,
  };
  if (r.surname) view.surname = r.surname;
  if (r.dateOfBirth) view.dateOfBirth = r.dateOfBirth;
  if (r.sex) view.sex = r.sex;
  const first = d.snapshots[0];
  if (first) view.next = appointmentView(first, r, tree);
  if (r.latestEvent) view.latestEvent = r.latestEvent;
  return view;
}

/** `Amina Salim`: how a case worker's list names a child. */
export function fullName(r: Pick<ChildRecord, 'firstName' | 'surname'>): string {
  return [r.firstName, r.surname].filter(Boolean).join(' ');
}

/** One entry per visit that makes the child a defaulter under `rule`, at the org unit of the event. */
export function defaulterEntries(
  d: DerivedChild,
  rule: DefaulterRule | string,
  excluded?: ExclusionCounts,
): DefaulterView[] {
  const r = d.record;
  return defaulterSnapshots(d, rule, excluded).map((s) => {
    const entry: DefaulterView = {
      event: s.event,
      enrollment: s.enrollment ?? r.enrollment,
      trackedEntity: r.trackedEntity,
      orgUnit: s.orgUnit ?? r.orgUnit,
      name: fullName(r),
      scheduledAt: datePart(s.scheduledAt) ?? '',
    };
    if (r.dateOfBirth) entry.dateOfBirth = r.dateOfBirth;
    const phone = r.phone ?? r.rawPhone;
    if (phone) entry.caregiverPhone = phone;
    return entry;
  });
}

/** Children of one caregiver in a stable order: earliest appointment first, then by name. */
export function sortChildren(children: ChildView[]): ChildView[] {
  const key = (c: ChildView) => `${c.next?.scheduledAt ?? '9999-99-99'}\u0000${c.firstName}\u0000${c.trackedEntity}`;
  return [...children].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Defaulters of one org unit: the longest overdue first. */
export function sortDefaulters(list: DefaulterView[]): DefaulterView[] {
  const key = (d: DefaulterView) => `${d.scheduledAt}\u0000${d.name}\u0000${d.event}`;
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The org unit tree (id → node) from `/api/organisationUnits`. */
export function orgUnitTree(units: OrgUnit[]): OrgUnitTree {
  const tree: OrgUnitTree = {};
  for (const ou of units) {
    const path = ou.path ?? `/${ou.id}`;
    const node = {
      id: ou.id,
      name: ou.name ?? ou.displayName ?? ou.id,
      path,
      level: ou.level ?? path.split('/').filter(Boolean).length,
    } as OrgUnitTree[string];
    const parent = ou.parent?.id ?? path.split('/').filter(Boolean).at(-2);
    if (parent) node.parent = parent;
    tree[ou.id] = node;
  }
  return tree;
}

/**
 * A DHIS2 user as a case worker, or null when the account is disabled or its phone number cannot be
 * read (such a user must not be recognised by phone).
 */
export function caseWorkerView(user: Dhis2User, defaultCountry?: string, tree?: OrgUnitTree): CaseWorkerView | null {
  if (user.disabled || !user.phoneNumber) return null;
  const phone = normalizePhone(user.phoneNumber, defaultCountry);
  if (!phone) return null;
  const name =
    user.displayName ?? ([user.firstName, user.surname].filter(Boolean).join(' ') || user.username || user.id);
  return {
    userId: user.id,
    username: user.username ?? user.id,
    name,
    phone,
    orgUnits: (user.organisationUnits ?? []).map((ou) => ({
      id: ou.id,
      path: ou.path ?? tree?.[ou.id]?.path ?? `/${ou.id}`,
    })),
  };
}
