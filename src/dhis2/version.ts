/**
 * DHIS2 server versions and what differs between them (docs/dhis2.md#version-matrix). Everything that branches
 * on the version goes through this module, so the client and the emulator agree on one table.
 */

export interface Dhis2Version {
  /** As `system/info` reported it: `2.41.3`, `2.40.4.1`, `2.42-SNAPSHOT`. */
  raw: string;
  /** The minor version, the number all API differences key off (`41` for `2.41.3`). */
  minor: number;
  /** The patch, when the version string has one (`3` for `2.41.3`). */
  patch?: number;
}

/** The versions Jibu supports; others work as their nearest neighbour but are not tested. */
export const SUPPORTED_MINORS = [38, 39, 40, 41, 42] as const;

/**
 * Parse a `system/info` version string with `/^2\.(\d+)/` (+ patch).
 *
 * @example parseDhis2Version('2.40.4.1') // { raw: '2.40.4.1', minor: 40, patch: 4 }
 */
export function parseDhis2Version(raw: string): Dhis2Version {
  const m = /^2\.(\d+)(?:\.(\d+))?/.exec(raw.trim());
  if (!m) throw new Error(`Not a DHIS2 version: ${JSON.stringify(raw)}`);
  const minor = Number(m[1]);
  return m[2] === undefined ? { raw, minor } : { raw, minor, patch: Number(m[2]) };
}

/**
 * Whether the server refuses data values on SCHEDULE/SKIPPED/OVERDUE events (E1315) and status changes
 * from ACTIVE/VISITED/COMPLETED back to SCHEDULE/OVERDUE/SKIPPED (E1316). Both arrived in patch
 * releases: 2.39.6, 2.40.5, 2.41.1 and 2.42.0; no 2.38.x has them. A version without a patch counts as `.0`.
 */
export function hasScheduledEventRules(v: Dhis2Version): boolean {
  const patch = v.patch ?? 0;
  if (v.minor <= 38) return false;
  if (v.minor === 39) return patch >= 6;
  if (v.minor === 40) return patch >= 5;
  if (v.minor === 41) return patch >= 1;
  return true;
}

/** The event follow-up flag is spelt `followup` up to 2.40 and `followUp` from 2.41 (2.41 emits both). */
export function eventFollowUpKey(v: Dhis2Version): 'followup' | 'followUp' {
  return v.minor <= 40 ? 'followup' : 'followUp';
}

/**
 * Query parameter names of one version, for the concepts that were renamed (docs/dhis2.md#parameter-names-per-version).
 */
export interface VersionParams {
  orgUnitMode: 'ouMode' | 'orgUnitMode';
  /** Org units on tracked entities and enrollments. */
  orgUnits: 'orgUnit' | 'orgUnits';
  trackedEntities: 'trackedEntity' | 'trackedEntities';
  events: 'event' | 'events';
  enrollments: 'enrollment' | 'enrollments';
  /** Enrollment status on events and tracked entities. */
  enrollmentStatus: 'programStatus' | 'enrollmentStatus';
  /** Enrollment status on the enrollments endpoint. */
  enrollmentsStatus: 'programStatus' | 'status';
  /** Separator of uid lists. */
  separator: ';' | ',';
  /** Key of the item list in a tracker list response. */
  listKey: 'instances' | 'named';
}

/** The parameter names a client should send to this version. */
export function versionParams(v: Dhis2Version): VersionParams {
  const old = v.minor <= 40;
  return {
    orgUnitMode: old ? 'ouMode' : 'orgUnitMode',
    orgUnits: old ? 'orgUnit' : 'orgUnits',
    trackedEntities: old ? 'trackedEntity' : 'trackedEntities',
    events: old ? 'event' : 'events',
    enrollments: old ? 'enrollment' : 'enrollments',
    enrollmentStatus: v.minor >= 42 ? 'enrollmentStatus' : 'programStatus',
    enrollmentsStatus: v.minor >= 42 ? 'status' : 'programStatus',
    separator: old ? ';' : ',',
    listKey: old ? 'instances' : 'named',
  };
}
