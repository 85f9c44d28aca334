/**
 * The read model: what conversations need from DHIS2, kept in the store by the sync job so that a USSD
 * hop never waits on DHIS2 (docs/design.md#a-ussd-hop-never-waits-on-dhis2). Keys (prefix `jibu:` added by the store):
 *   rm:caregiver:{phone}     CaregiverView   children and their next/missed Immunization appointments
 *   rm:defaulters:{orgUnit}  DefaulterList   children whose Immunization visit was missed, at exactly that org unit
 *   rm:worker:{phone}        CaseWorkerView  a DHIS2 user (case worker) found by phone number
 *   rm:orgunits              OrgUnitTree     the org unit tree (id -> node)
 *   rm:event:{uid}           EventSnapshot   every scalar field of an Immunization event (for write-back context)
 *   rm:sync                  SyncState       watermarks of the last incremental and full sync
 * Added by the sync (bookkeeping, not for conversations):
 *   rm:child:{trackedEntity} ChildRecord     what the views hold for one child, so an incremental sync or a
 *                                            relayed write can replace exactly that child's entries
 *   rm:index:{kind}          string[]        ids that have a view (caregivers, defaulters, workers, children,
 *                                            children-ou), so a full sync can drop the views no longer backed by DHIS2
 *   rm:index:children-ou:{orgUnit} string[]  children (`rm:child:*`) whose own org unit is exactly that one, so a
 *                                            case worker's search reads only the children of their subtrees
 */

import type { Dhis2Event } from '../schemas.ts';

/** One scheduled (or missed) Immunization event of a child, as the conversation shows it. */
export interface AppointmentView {
  event: string;
  enrollment: string;
  trackedEntity: string;
  programStage: string;
  orgUnit: string;
  orgUnitName?: string;
  /** `YYYY-MM-DD` (date part in the server time zone). */
  scheduledAt: string;
  /** SCHEDULE events only; a missed one has scheduledAt before today. */
  status: 'SCHEDULE';
}

/** Who a child is, as both the caregiver views and the child records hold it. */
export interface ChildIdentity {
  trackedEntity: string;
  enrollment: string;
  firstName: string;
  surname?: string;
  /** `YYYY-MM-DD` */
  dateOfBirth?: string;
  sex?: string;
  orgUnit: string;
}

export interface ChildView extends ChildIdentity {
  /** Earliest SCHEDULE Immunization event, missed or upcoming. */
  next?: AppointmentView;
  /** Latest Immunization event (any status) — AEFI reports attach to it. */
  latestEvent?: string;
}

export interface CaregiverView {
  phone: string;
  /** From the programme's preferred-language attribute when the deployment maps one. */
  locale?: string;
  children: ChildView[];
  syncedAt: number;
}

export interface DefaulterView {
  event: string;
  enrollment: string;
  trackedEntity: string;
  orgUnit: string;
  name: string;
  dateOfBirth?: string;
  scheduledAt: string;
  caregiverPhone?: string;
}

export interface DefaulterList {
  orgUnit: string;
  defaulters: DefaulterView[];
  syncedAt: number;
}

export interface CaseWorkerView {
  userId: string;
  username: string;
  name: string;
  phone: string;
  /** Capture org units (id + path); everything the worker sees or writes is inside these subtrees. */
  orgUnits: Array<{ id: string; path: string }>;
}

export interface OrgUnitNode {
  id: string;
  name: string;
  path: string;
  level: number;
  parent?: string;
}

export type OrgUnitTree = Record<string, OrgUnitNode>;

export interface SyncState {
  lastIncrementalAt?: string;
  lastFullAt?: string;
  events?: number;
  /** "Today" at the last run (`YYYY-MM-DD`): an incremental sync on a later day refreshes newly missed visits. */
  today?: string;
  /** The time zone "today" was judged in (deployment, else DHIS2's `serverTimeZoneId`): the relay reuses it. */
  timeZone?: string;
  /** Appointment window of the last sync, as `YYYY-MM-DD` dates (the relay judges written events by it). */
  window?: { from: string; to: string };
  /**
   * `rm:index:children-ou:*` holds every child: a sync built it whole (a read model written before that index
   * existed lacks it, and a case-worker search then scans every child instead).
   */
  childrenByOrgUnit?: boolean;
  /** The defaulters of the last full sync: the rule applied, how many, and the overdue visits it left out. */
  defaulters?: {
    at: string;
    rule: { today: string; overdueBefore: string; from?: string; bornAfter?: string };
    count: number;
    excluded: Record<'grace' | 'lookback' | 'age' | 'enrollment', number>;
  };
}

/** Every scalar field of an Immunization event as DHIS2 sent it (notes and data values left out). */
export type EventSnapshot = Omit<Dhis2Event, 'notes' | 'dataValues'>;

/** One child as the views hold it (`rm:child:{trackedEntity}`). */
export interface ChildRecord extends ChildIdentity {
  /** E.164, when the phone attribute could be read as a number. */
  phone?: string;
  /** The attribute as stored, for a case worker to call when it is not a valid number. */
  rawPhone?: string;
  locale?: string;
  /** SCHEDULE Immunization events inside the sync window, earliest first (each has `rm:event:{uid}`). */
  events: string[];
  latestEvent?: string;
  /** `occurredAt` of `latestEvent`, to tell whether a newly completed visit replaces it. */
  latestOccurredAt?: string;
  /** Org units whose defaulter list holds an entry of this child. */
  defaulterOrgUnits: string[];
  /** Enrollments not ACTIVE (completed, cancelled): their overdue visits are nobody's defaulters. */
  inactiveEnrollments?: string[];
}

/** `children-ou`: the org units that have a `rm:index:children-ou:{orgUnit}` list. */
export type IndexKind = 'caregivers' | 'defaulters' | 'workers' | 'children' | 'children-ou';

export const rmKeys = {
  caregiver: (phone: string) => `rm:caregiver:${phone}`,
  defaulters: (orgUnit: string) => `rm:defaulters:${orgUnit}`,
  worker: (phone: string) => `rm:worker:${phone}`,
  orgUnits: () => 'rm:orgunits',
  event: (uid: string) => `rm:event:${uid}`,
  sync: () => 'rm:sync',
  child: (trackedEntity: string) => `rm:child:${trackedEntity}`,
  index: (kind: IndexKind) => `rm:index:${kind}`,
  childrenAt: (orgUnit: string) => `rm:index:children-ou:${orgUnit}`,
} as const;
