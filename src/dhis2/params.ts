import type { EnrollmentStatus, EventStatus, OrgUnitMode } from './schemas.ts';
import { versionParams, type Dhis2Version } from './version.ts';

/**
 * Version-neutral tracker queries and their translation into one version's query string
 * (docs/dhis2.md#parameter-names-per-version). Pure: the client sends what these functions return, and tests can read
 * them directly.
 */

/** A date (`YYYY-MM-DD`), a date-time string, or a Date. Date-only `…Before` bounds become end of day. */
export type DateBound = string | Date;

export interface PagingQuery {
  /** 1-based; default 1. */
  page?: number;
  /** Default {@link DEFAULT_PAGE_SIZE}: never rely on the server's default of 50. */
  pageSize?: number;
  /** Ask for `total`/`pageCount` (costs the server a count query). */
  totalPages?: boolean;
  /** `false` turns paging off (sent as the portable `skipPaging=true&paging=false`). */
  paging?: boolean;
}

export interface EventQuery extends PagingQuery {
  program?: string;
  programStage?: string;
  /** One org unit (events take a single one in every version). */
  orgUnit?: string;
  orgUnitMode?: OrgUnitMode;
  /** `OVERDUE` is computed by the server: SCHEDULE events whose date is before today. */
  status?: EventStatus;
  /** Needs `program`. */
  enrollmentStatus?: EnrollmentStatus;
  followUp?: boolean;
  trackedEntity?: string;
  events?: string[];
  enrollments?: string[];
  occurredAfter?: DateBound;
  occurredBefore?: DateBound;
  scheduledAfter?: DateBound;
  scheduledBefore?: DateBound;
  updatedAfter?: DateBound;
  updatedBefore?: DateBound;
  includeDeleted?: boolean;
  /** `field:asc|desc`, comma-separated, e.g. `scheduledAt:asc`. */
  order?: string;
  fields?: string;
}

export const FILTER_OPERATORS = [
  'eq',
  'ieq',
  'ne',
  'neq',
  'nieq',
  'gt',
  'ge',
  'lt',
  'le',
  'like',
  'ilike',
  'nlike',
  'nilike',
  'sw',
  'ew',
  'in',
  'null',
  '!null',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** One tracked-entity attribute filter: `{attribute}:{op}:{value}`; `in` takes several values. */
export interface AttributeFilter {
  attribute: string;
  op: FilterOperator;
  value?: string | string[];
}

export interface TrackedEntityQuery extends PagingQuery {
  program?: string;
  trackedEntityType?: string;
  orgUnits?: string[];
  orgUnitMode?: OrgUnitMode;
  trackedEntities?: string[];
  filters?: AttributeFilter[];
  /** Needs `program`. */
  enrollmentStatus?: EnrollmentStatus;
  followUp?: boolean;
  updatedAfter?: DateBound;
  updatedBefore?: DateBound;
  includeDeleted?: boolean;
  order?: string;
  fields?: string;
}

export interface EnrollmentQuery extends PagingQuery {
  program?: string;
  trackedEntity?: string;
  orgUnits?: string[];
  orgUnitMode?: OrgUnitMode;
  enrollments?: string[];
  status?: EnrollmentStatus;
  followUp?: boolean;
  updatedAfter?: DateBound;
  enrolledAfter?: DateBound;
  enrolledBefore?: DateBound;
  includeDeleted?: boolean;
  order?: string;
  fields?: string;
}

export type QueryParams = Array<[string, string]>;

export const DEFAULT_PAGE_SIZE = 100;

/** `…After` bound: a date stays a date (start of day everywhere); a Date is sent as an ISO instant. */
export function afterBound(d: DateBound): string {
  return d instanceof Date ? d.toISOString() : d;
}

/**
 * `…Before` bound. Versions and patch releases disagree on whether a bare date is the start or the end of
 * that day (docs/dhis2.md#dates-and-time-zones); an explicit `T23:59:59` means the same on every version.
 *
 * @example beforeBound('2024-06-07') // '2024-06-07T23:59:59'
 */
export function beforeBound(d: DateBound): string {
  if (d instanceof Date) return d.toISOString();
  return /^\d{4}-\d{2}-\d{2}$/.test(d) ? `${d}T23:59:59` : d;
}

/** Escape a filter value: `/` → `//`, `:` → `/:`, `,` → `/,` (docs/dhis2.md#filters). */
export function escapeFilterValue(value: string): string {
  return value.replace(/\//g, '//').replace(/:/g, '/:').replace(/,/g, '/,');
}

/**
 * One filter item as DHIS2 reads it.
 *
 * @example formatAttributeFilter({ attribute: 'pjexi5YaAPa', op: 'eq', value: '+254700000001' }) // 'pjexi5YaAPa:eq:+254700000001'
 */
export function formatAttributeFilter(f: AttributeFilter): string {
  if (f.op === 'null' || f.op === '!null') return `${f.attribute}:${f.op}`;
  const values = Array.isArray(f.value) ? f.value : [f.value ?? ''];
  return `${f.attribute}:${f.op}:${values.map(escapeFilterValue).join(';')}`;
}

function pagingParams(q: PagingQuery): QueryParams {
  // Sending page/pageSize/totalPages with paging off is a 400 on 2.41+ (docs/dhis2.md#paging).
  if (q.paging === false)
    return [
      ['skipPaging', 'true'],
      ['paging', 'false'],
    ];
  const out: QueryParams = [
    ['page', String(q.page ?? 1)],
    ['pageSize', String(q.pageSize ?? DEFAULT_PAGE_SIZE)],
  ];
  if (q.totalPages) out.push(['totalPages', 'true']);
  return out;
}

function push(out: QueryParams, name: string, value: string | number | boolean | undefined): void {
  if (value !== undefined && value !== '') out.push([name, String(value)]);
}

/**
 * Rename the event follow-up flag inside a `fields` list for versions that spell it `followup` (≤2.40):
 * at the top level of an events query, and inside `events[…]` of tracked entity and enrollment queries.
 * Enrollments keep `followUp` in every version.
 *
 * @example eventFieldsFor(v40, 'enrollments[followUp,events[event,followUp]]', false) // 'enrollments[followUp,events[event,followup]]'
 */
export function eventFieldsFor(v: Dhis2Version, fields: string, topLevelIsEvent: boolean): string {
  if (v.minor > 40) return fields;
  const stack: boolean[] = [topLevelIsEvent];
  let out = '';
  let token = '';
  const flush = () => {
    out += token === 'followUp' && stack[stack.length - 1] ? 'followup' : token;
  };
  for (const ch of fields) {
    if (ch === '[' || ch === '(') {
      stack.push(token.trim() === 'events');
      out += token + ch;
      token = '';
    } else if (ch === ']' || ch === ')' || ch === ',') {
      flush();
      token = '';
      out += ch;
      if (ch !== ',') stack.pop();
    } else token += ch;
  }
  flush();
  return out;
}

/** `GET /api/tracker/events` parameters for version `v`. */
export function eventQueryParams(v: Dhis2Version, q: EventQuery): QueryParams {
  const p = versionParams(v);
  const out: QueryParams = [];
  push(out, 'program', q.program);
  push(out, 'programStage', q.programStage);
  push(out, 'orgUnit', q.orgUnit);
  push(out, p.orgUnitMode, q.orgUnitMode);
  push(out, 'status', q.status);
  push(out, p.enrollmentStatus, q.enrollmentStatus);
  push(out, 'followUp', q.followUp);
  push(out, 'trackedEntity', q.trackedEntity);
  if (q.events?.length) out.push([p.events, q.events.join(p.separator)]);
  if (q.enrollments?.length) out.push(['enrollments', q.enrollments.join(',')]);
  if (q.occurredAfter) out.push(['occurredAfter', afterBound(q.occurredAfter)]);
  if (q.occurredBefore) out.push(['occurredBefore', beforeBound(q.occurredBefore)]);
  if (q.scheduledAfter) out.push(['scheduledAfter', afterBound(q.scheduledAfter)]);
  if (q.scheduledBefore) out.push(['scheduledBefore', beforeBound(q.scheduledBefore)]);
  if (q.updatedAfter) out.push(['updatedAfter', afterBound(q.updatedAfter)]);
  if (q.updatedBefore) out.push(['updatedBefore', beforeBound(q.updatedBefore)]);
  push(out, 'includeDeleted', q.includeDeleted);
  push(out, 'order', q.order);
  if (q.fields) out.push(['fields', eventFieldsFor(v, q.fields, true)]);
  return [...out, ...pagingParams(q)];
}

/** `GET /api/tracker/trackedEntities` parameters for version `v`. */
export function trackedEntityQueryParams(v: Dhis2Version, q: TrackedEntityQuery): QueryParams {
  const p = versionParams(v);
  const out: QueryParams = [];
  push(out, 'program', q.program);
  push(out, 'trackedEntityType', q.trackedEntityType);
  if (q.orgUnits?.length) out.push([p.orgUnits, q.orgUnits.join(p.separator)]);
  push(out, p.orgUnitMode, q.orgUnitMode);
  if (q.trackedEntities?.length) out.push([p.trackedEntities, q.trackedEntities.join(p.separator)]);
  for (const f of q.filters ?? []) out.push(['filter', formatAttributeFilter(f)]);
  push(out, p.enrollmentStatus, q.enrollmentStatus);
  push(out, 'followUp', q.followUp);
  if (q.updatedAfter) out.push(['updatedAfter', afterBound(q.updatedAfter)]);
  if (q.updatedBefore) out.push(['updatedBefore', beforeBound(q.updatedBefore)]);
  push(out, 'includeDeleted', q.includeDeleted);
  push(out, 'order', q.order);
  if (q.fields) out.push(['fields', eventFieldsFor(v, q.fields, false)]);
  return [...out, ...pagingParams(q)];
}

/** `GET /api/tracker/enrollments` parameters for version `v`. */
export function enrollmentQueryParams(v: Dhis2Version, q: EnrollmentQuery): QueryParams {
  const p = versionParams(v);
  const out: QueryParams = [];
  push(out, 'program', q.program);
  push(out, 'trackedEntity', q.trackedEntity);
  if (q.orgUnits?.length) out.push([p.orgUnits, q.orgUnits.join(p.separator)]);
  push(out, p.orgUnitMode, q.orgUnitMode);
  if (q.enrollments?.length) out.push([p.enrollments, q.enrollments.join(p.separator)]);
  push(out, p.enrollmentsStatus, q.status);
  push(out, 'followUp', q.followUp);
  if (q.updatedAfter) out.push(['updatedAfter', afterBound(q.updatedAfter)]);
  if (q.enrolledAfter) out.push(['enrolledAfter', afterBound(q.enrolledAfter)]);
  if (q.enrolledBefore) out.push(['enrolledBefore', beforeBound(q.enrolledBefore)]);
  push(out, 'includeDeleted', q.includeDeleted);
  push(out, 'order', q.order);
  if (q.fields) out.push(['fields', eventFieldsFor(v, q.fields, false)]);
  return [...out, ...pagingParams(q)];
}

/**
 * Encode a query string. Everything outside the unreserved set is percent-encoded: `+` must travel as
 * `%2B` (a raw `+` is read as a space, breaking phone filters) and Tomcat refuses raw `[` `]`.
 */
export function encodeQuery(params: QueryParams): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}
