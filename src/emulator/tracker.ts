import { ORG_UNIT_MODES, EVENT_STATUSES, ENROLLMENT_STATUSES, type OrgUnitMode } from '../dhis2/schemas.ts';
import { isUid } from '../dhis2/uid.ts';
import { hasAuthority } from './auth.ts';
import { FieldSelector, pick } from './fields.ts';
import { HttpError, accessError, json, queryError } from './http.ts';
import type { EmulatorState, StoredEnrollment, StoredEvent, StoredTrackedEntity } from './model.ts';
import { enrollmentFields, eventFields, trackedEntityFields, type RenderContext } from './render.ts';

/**
 * `GET /api/tracker/{events,trackedEntities,enrollments}` as each version answers them: parameter
 * names, org-unit modes, filters, computed OVERDUE, ordering, paging rules and list envelopes
 * (docs/dhis2.md#reading-the-tracker-export-endpoints).
 */

export interface QueryContext extends RenderContext {
  url: URL;
  params: URLSearchParams;
  now: number;
}

const DEFAULT_FIELDS = {
  events: '*,!relationships',
  trackedEntities: '*,!relationships,!enrollments,!events,!programOwners',
  enrollments: '*,!relationships,!events,!attributes',
} as const;

// ---------------------------------------------------------------- parameters

function param(ctx: QueryContext, name: string): string | undefined {
  const v = ctx.params.get(name);
  return v === null || v.trim() === '' ? undefined : v.trim();
}

function boolParam(ctx: QueryContext, name: string): boolean | undefined {
  const raw = param(ctx, name);
  if (raw === undefined) return undefined;
  if (/^true$/i.test(raw)) return true;
  if (/^false$/i.test(raw)) return false;
  throw new HttpError(400, `Value ${raw} is not valid for parameter ${name}. It should be of type boolean`);
}

function intParam(ctx: QueryContext, name: string, min: number): number | undefined {
  const raw = param(ctx, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n))
    throw new HttpError(400, `Value ${raw} is not valid for parameter ${name}. It should be of type integer`);
  if (n < min) throw new HttpError(400, `${name} must be greater than or equal to ${min}`);
  return n;
}

function enumParam<T extends string>(ctx: QueryContext, name: string, values: readonly T[]): T | undefined {
  const raw = param(ctx, name);
  if (raw === undefined) return undefined;
  const upper = raw.toUpperCase();
  if (!(values as readonly string[]).includes(upper))
    throw new HttpError(
      400,
      `Value ${raw} is not valid for parameter ${name}. Valid values are: [${values.join(', ')}]`,
    );
  return upper as T;
}

function metaParam(ctx: QueryContext, name: string, map: Map<string, unknown>, what: string): string | undefined {
  const raw = param(ctx, name);
  if (raw === undefined) return undefined;
  if (!map.has(raw)) throw queryError(ctx.version.minor, `${what} is specified but does not exist: ${raw}`);
  return raw;
}

/** A uid list from the first of `names` that is present, split at any of its separators. */
function uidList(ctx: QueryContext, names: Array<[string, RegExp]>): string[] {
  for (const [name, sep] of names) {
    const raw = param(ctx, name);
    if (raw === undefined) continue;
    const uids = raw
      .split(sep)
      .map((s) => s.trim())
      .filter(Boolean);
    for (const u of uids) if (!isUid(u)) throw new HttpError(400, `Invalid UID ${u} for parameter ${name}`);
    return uids;
  }
  return [];
}

function dateParam(ctx: QueryContext, name: string, bound: 'after' | 'before'): number | undefined {
  const raw = param(ctx, name);
  if (raw === undefined) return undefined;
  const parsed = ctx.time.parse(raw);
  if (!parsed)
    throw new HttpError(400, `Value ${raw} is not valid for parameter ${name}. It should be a date or date-time`);
  // 2.39+ read a bare date in a `…Before` bound as the end of that day (core EndDateTime); 2.38 as its start.
  if (bound === 'before' && parsed.dateOnly && ctx.version.minor >= 39) {
    const next = ctx.time.startOfDay(addOneDay(ctx.time.dateOf(parsed.ms)));
    return next - 1;
  }
  return parsed.ms;
}

function addOneDay(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y!, m! - 1, d! + 1)).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------- paging and envelopes

export interface Paging {
  off: boolean;
  page: number;
  pageSize: number;
  totalPages: boolean;
}

/** Paging switches per version (docs/dhis2.md#paging): ≤2.40 `skipPaging`, 2.41 both, 2.42 `paging` only. */
export function readPaging(ctx: QueryContext): Paging {
  const minor = ctx.version.minor;
  const skipPaging = boolParam(ctx, 'skipPaging');
  const paging = boolParam(ctx, 'paging');
  let off: boolean;
  if (minor <= 40) off = skipPaging === true;
  else if (minor === 41) {
    if (skipPaging !== undefined && paging !== undefined && skipPaging === paging) {
      throw new HttpError(
        400,
        "Paging can either be enabled or disabled. Prefer 'paging' as 'skipPaging' will be removed.",
      );
    }
    off = paging === false || skipPaging === true;
  } else off = paging === false;
  const totalPages = boolParam(ctx, 'totalPages') === true;
  if (off && minor >= 41 && (ctx.params.has('page') || ctx.params.has('pageSize') || totalPages)) {
    throw new HttpError(
      400,
      'Paging cannot be disabled with paging=false while also requesting a paginated response with page, pageSize and/or totalPages=true',
    );
  }
  return { off, page: intParam(ctx, 'page', 1) ?? 1, pageSize: intParam(ctx, 'pageSize', 1) ?? 50, totalPages };
}

function withPage(url: URL, page: number): string {
  const u = new URL(url);
  u.searchParams.set('page', String(page));
  return u.toString();
}

/**
 * The list envelope of a version (docs/dhis2.md#list-envelopes):
 * ≤2.40 `{page,pageSize,[total,pageCount],instances}`; 2.41 `{pager,…same flat…,<key>}`;
 * 2.42 `{pager:{…,prevPage?,nextPage?},<key>}`; paging off `{instances}` / `{<key>}`.
 */
export function listEnvelope(
  ctx: QueryContext,
  key: string,
  items: unknown[],
  paging: Paging,
  total: number,
): Record<string, unknown> {
  const minor = ctx.version.minor;
  if (paging.off) return minor <= 40 ? { instances: items } : { [key]: items };
  const counts = paging.totalPages ? { total, pageCount: Math.ceil(total / paging.pageSize) } : {};
  if (minor <= 40) return { page: paging.page, pageSize: paging.pageSize, ...counts, instances: items };
  const pager: Record<string, unknown> = { page: paging.page, pageSize: paging.pageSize, ...counts };
  if (minor === 41) return { pager, ...pager, [key]: items };
  if (paging.page > 1) pager.prevPage = withPage(ctx.url, paging.page - 1);
  if (paging.page * paging.pageSize < total) pager.nextPage = withPage(ctx.url, paging.page + 1);
  return { pager, [key]: items };
}

// ---------------------------------------------------------------- org-unit scope

function orgUnitMode(ctx: QueryContext): OrgUnitMode | undefined {
  const minor = ctx.version.minor;
  const ouMode = param(ctx, 'ouMode');
  const orgUnitModeParam = param(ctx, 'orgUnitMode');
  let raw: string | undefined;
  if (minor <= 40) raw = ouMode;
  else if (minor === 41) {
    if (ouMode !== undefined && orgUnitModeParam !== undefined) {
      throw new HttpError(
        400,
        "Only one parameter of 'ouMode' and 'orgUnitMode' must be specified. Prefer 'orgUnitMode' as 'ouMode' will be removed.",
      );
    }
    raw = orgUnitModeParam ?? ouMode;
  } else raw = orgUnitModeParam; // 2.42 silently ignores ouMode.
  if (raw === undefined) return undefined;
  const mode = raw.toUpperCase();
  if (!(ORG_UNIT_MODES as readonly string[]).includes(mode))
    throw new HttpError(
      400,
      `Value ${raw} is not valid for parameter orgUnitMode. Valid values are: [${ORG_UNIT_MODES.join(', ')}]`,
    );
  return mode as OrgUnitMode;
}

function searchRoots(ctx: QueryContext): string[] {
  return ctx.user.teiSearchOrganisationUnits.length ? ctx.user.teiSearchOrganisationUnits : ctx.user.organisationUnits;
}

/**
 * The org units a query may return data from, or null for no restriction (`ALL`). Defaults: SELECTED
 * with an org unit, ACCESSIBLE without (docs/dhis2.md#org-unit-modes).
 */
function orgUnitScope(
  ctx: QueryContext,
  requested: string[],
  requestedMode: OrgUnitMode | undefined,
): Set<string> | null {
  const minor = ctx.version.minor;
  const { state } = ctx;
  const mode = requestedMode ?? (requested.length ? 'SELECTED' : 'ACCESSIBLE');
  const needsOrgUnit = mode === 'SELECTED' || mode === 'CHILDREN' || mode === 'DESCENDANTS';
  if (minor >= 41) {
    if (requested.length && !needsOrgUnit)
      throw new HttpError(
        400,
        `orgUnitMode ${mode} cannot be used with orgUnits. Please remove the orgUnits parameter and try again.`,
      );
    if (!requested.length && needsOrgUnit)
      throw new HttpError(
        400,
        `orgUnits is required for orgUnitMode: ${mode}. Please add an orgUnit or use a different orgUnitMode.`,
      );
  } else if (!requested.length && needsOrgUnit) {
    throw queryError(minor, `At least one organisation unit must be specified for ouMode: ${mode}`);
  }
  const searchable = state.descendants(searchRoots(ctx));
  const superuser = hasAuthority(ctx.user, 'ALL');
  if (needsOrgUnit) {
    for (const id of requested) {
      if (!state.orgUnits.has(id)) throw queryError(minor, `Organisation unit does not exist: ${id}`);
      if (!superuser && !searchable.has(id)) throw accessError(minor, `User does not have access to orgUnit: ${id}`);
    }
  }
  switch (mode) {
    case 'SELECTED':
      return new Set(requested);
    case 'CHILDREN': {
      // 2.41 changed CHILDREN to include the selected org unit itself (rel-41, TECH-1630).
      const out = new Set<string>(minor >= 41 ? requested : []);
      for (const id of requested) for (const c of state.orgUnits.get(id)!.children) out.add(c);
      return out;
    }
    case 'DESCENDANTS':
      return state.descendants(requested);
    case 'ACCESSIBLE':
      return searchable;
    case 'CAPTURE':
      return state.descendants(ctx.user.organisationUnits);
    case 'ALL':
      if (!hasAuthority(ctx.user, 'F_TRACKED_ENTITY_INSTANCE_SEARCH_IN_ALL_ORGUNITS')) {
        throw accessError(minor, 'Current user is not authorized to query across all organisation units');
      }
      return null;
  }
}

function orgUnitList(ctx: QueryContext): string[] {
  const minor = ctx.version.minor;
  const names: Array<[string, RegExp]> =
    minor <= 40
      ? [['orgUnit', /;/]]
      : minor === 41
        ? [
            ['orgUnits', /,/],
            ['orgUnit', /[;,]/],
          ]
        : [['orgUnits', /,/]];
  for (const [name, sep] of names) {
    const raw = param(ctx, name);
    if (raw !== undefined)
      return raw
        .split(sep)
        .map((s) => s.trim())
        .filter(Boolean);
  }
  return [];
}

// ---------------------------------------------------------------- filters

export interface FilterCondition {
  op: string;
  value?: string;
}

export interface FilterItem {
  uid: string;
  conditions: FilterCondition[];
}

const FILTER_OPS = new Set([
  'eq',
  'ieq',
  'ne',
  'neq',
  '!eq',
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
]);

/** Split at unescaped `sep`, keeping escapes (`/x`) for the next level. */
function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '/' && i + 1 < s.length) {
      cur += ch + s[i + 1]!;
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const unescape = (s: string) => s.replace(/\/(.)/g, '$1');

/** `uid:op:value[:op:value]` items, comma-separated or repeated, with `/` escapes (docs/dhis2.md#filters). */
export function parseFilters(minor: number, raws: string[]): FilterItem[] {
  const items: FilterItem[] = [];
  for (const raw of raws) {
    for (const item of splitEscaped(raw, ',')) {
      if (!item.trim()) continue;
      const tokens = splitEscaped(item, ':').map(unescape);
      const uid = tokens[0]!.trim();
      const conditions: FilterCondition[] = [];
      for (let i = 1; i < tokens.length;) {
        const op = tokens[i]!.toLowerCase();
        if (!FILTER_OPS.has(op)) throw queryError(minor, `Query item or filter is invalid: ${item}`);
        if (op === 'null' || op === '!null') {
          conditions.push({ op });
          i += 1;
        } else {
          if (i + 1 >= tokens.length) throw queryError(minor, `Query item or filter is invalid: ${item}`);
          conditions.push({ op, value: tokens[i + 1]! });
          i += 2;
        }
      }
      // A bare uid means "has a value" (2.41+).
      if (!conditions.length) conditions.push({ op: '!null' });
      if (items.some((x) => x.uid === uid))
        throw queryError(
          minor,
          `Filter for attribute ${uid} was specified more than once. Try to define a single filter with multiple operators [${uid}:lt:20:gt:10]`,
        );
      items.push({ uid, conditions });
    }
  }
  return items;
}

const NUMERIC = new Set(['NUMBER', 'INTEGER', 'INTEGER_POSITIVE', 'INTEGER_ZERO_OR_POSITIVE']);

function compare(a: string, b: string, numeric: boolean): number {
  if (numeric && !Number.isNaN(Number(a)) && !Number.isNaN(Number(b))) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

export function conditionMatches(c: FilterCondition, actual: string | undefined, numeric: boolean): boolean {
  const value = c.value ?? '';
  if (c.op === 'null') return actual === undefined;
  if (c.op === '!null') return actual !== undefined;
  if (actual === undefined) return false;
  const a = actual.toLowerCase();
  const v = value.toLowerCase();
  switch (c.op) {
    // docs-42: eq is case-insensitive; numeric value types compare as numbers.
    case 'eq':
    case 'ieq':
      return numeric ? compare(actual, value, true) === 0 : a === v;
    case 'ne':
    case 'neq':
    case '!eq':
    case 'nieq':
      return numeric ? compare(actual, value, true) !== 0 : a !== v;
    case 'gt':
      return compare(actual, value, numeric) > 0;
    case 'ge':
      return compare(actual, value, numeric) >= 0;
    case 'lt':
      return compare(actual, value, numeric) < 0;
    case 'le':
      return compare(actual, value, numeric) <= 0;
    case 'like':
      return actual.includes(value);
    case 'ilike':
      return a.includes(v);
    case 'nlike':
      return !actual.includes(value);
    case 'nilike':
      return !a.includes(v);
    case 'sw':
      return a.startsWith(v);
    case 'ew':
      return a.endsWith(v);
    case 'in':
      return value.split(';').some((x) => (numeric ? compare(actual, x, true) === 0 : x.toLowerCase() === a));
    default:
      return false;
  }
}

function itemMatches(ctx: QueryContext, item: FilterItem, actual: string | undefined): boolean {
  const vt =
    ctx.state.metadata.attributes.get(item.uid)?.valueType ?? ctx.state.metadata.dataElements.get(item.uid)?.valueType;
  const numeric = vt !== undefined && NUMERIC.has(vt);
  return item.conditions.every((c) => conditionMatches(c, actual, numeric));
}

// ---------------------------------------------------------------- ordering

type Sortable = string | number | boolean | undefined;
type Getter<T> = (o: T, ctx: QueryContext) => Sortable;

interface OrderBy<T> {
  get: Getter<T>;
  desc: boolean;
}

function parseOrder<T>(
  ctx: QueryContext,
  getters: Record<string, Getter<T>>,
  dynamic: (field: string) => Getter<T> | undefined,
): Array<OrderBy<T>> {
  const raw = param(ctx, 'order');
  if (raw === undefined) return [];
  const out: Array<OrderBy<T>> = [];
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [field, dir = 'asc'] = item.split(':');
    const get = getters[field!] ?? dynamic(field!);
    if (!/^(asc|desc)$/i.test(dir)) throw new HttpError(400, `order parameter is invalid: ${item}`);
    if (!get) {
      // ≤2.40 ignored unknown order fields; 2.41 validates them.
      if (ctx.version.minor >= 41)
        throw new HttpError(
          400,
          `order parameter is invalid. Cannot order by '${field}'. Supported are data elements, tracked entity attributes and fields '${Object.keys(getters).sort().join(', ')}'.`,
        );
      continue;
    }
    out.push({ get, desc: dir.toLowerCase() === 'desc' });
  }
  return out;
}

function cmp(a: Sortable, b: Sortable): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Postgres order: NULLS LAST ascending, NULLS FIRST descending; ties newest first (DHIS2's default `id desc`). */
function sortBy<T extends { seq: number }>(ctx: QueryContext, list: T[], orders: Array<OrderBy<T>>): T[] {
  const keyed = list.map((o) => ({ o, keys: orders.map((ob) => ob.get(o, ctx)) }));
  keyed.sort((p, q) => {
    for (let i = 0; i < orders.length; i++) {
      const a = p.keys[i];
      const b = q.keys[i];
      const desc = orders[i]!.desc;
      if (a === undefined && b === undefined) continue;
      if (a === undefined) return desc ? -1 : 1;
      if (b === undefined) return desc ? 1 : -1;
      const c = cmp(a, b);
      if (c !== 0) return desc ? -c : c;
    }
    return q.o.seq - p.o.seq;
  });
  return keyed.map((k) => k.o);
}

/**
 * The stored objects a uid list can match: looked up by uid instead of scanning the registry (a sync
 * asks for 100 tracked entities at a time out of 200 000). Every list is sorted afterwards and ties end
 * on the unique `seq`, so the order of candidates does not change the answer.
 */
function* candidates<T>(all: Map<string, T>, uids: Set<string>): Iterable<T> {
  if (!uids.size) {
    yield* all.values();
    return;
  }
  for (const uid of uids) {
    const found = all.get(uid);
    if (found) yield found;
  }
}

// ---------------------------------------------------------------- result cache

const caches = new WeakMap<EmulatorState, Map<string, unknown[]>>();

/**
 * Paging through 100 000 events re-runs the same query once per page; the sorted match list is kept
 * until the next write (the key includes the state revision, the user and the day). Least recently used
 * goes first: a sync alternates one events page with one tracked-entity request by uid list, and the
 * events list must outlive those (evicting the oldest entry instead re-sorted it every 16 pages).
 */
function cachedMatches<T>(ctx: QueryContext, kind: string, compute: () => T[]): T[] {
  let cache = caches.get(ctx.state);
  if (!cache) {
    cache = new Map();
    caches.set(ctx.state, cache);
  }
  const params = [...ctx.params]
    .filter(([k]) => !['page', 'pageSize', 'totalPages', 'fields', 'paging', 'skipPaging'].includes(k))
    .sort();
  const key = `${kind}|${ctx.state.revision}|${ctx.user.id}|${ctx.time.dateOf(ctx.now)}|${JSON.stringify(params)}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit as T[];
  }
  const result = compute();
  if (cache.size >= 16) cache.delete(cache.keys().next().value!);
  cache.set(key, result);
  return result;
}

function respondList<T>(
  ctx: QueryContext,
  key: keyof typeof DEFAULT_FIELDS,
  matches: T[],
  paging: Paging,
  render: (o: T, sel: FieldSelector) => unknown,
): Response {
  const sel = FieldSelector.parse(ctx.params.get('fields'), DEFAULT_FIELDS[key]);
  const slice = paging.off
    ? matches
    : matches.slice((paging.page - 1) * paging.pageSize, paging.page * paging.pageSize);
  return json(
    200,
    listEnvelope(
      ctx,
      key,
      slice.map((o) => render(o, sel)),
      paging,
      matches.length,
    ),
  );
}

// ---------------------------------------------------------------- events

const EVENT_ORDER: Record<string, Getter<StoredEvent>> = {
  assignedUser: (e) => e.assignedUser?.username,
  attributeOptionCombo: (e) => e.attributeOptionCombo,
  completedAt: (e) => e.completedAt,
  completedBy: (e) => e.completedBy,
  createdAt: (e) => e.createdAt,
  createdAtClient: (e) => e.createdAtClient,
  deleted: (e) => e.deleted,
  enrolledAt: (e, c) => c.state.enrollments.get(e.enrollment)?.enrolledAt,
  enrollment: (e) => e.enrollment,
  enrollmentStatus: (e, c) => c.state.enrollments.get(e.enrollment)?.status,
  event: (e) => e.event,
  followUp: (e) => e.followUp,
  occurredAt: (e) => e.occurredAt,
  orgUnit: (e) => e.orgUnit,
  program: (e) => e.program,
  programStage: (e) => e.programStage,
  scheduledAt: (e) => e.scheduledAt,
  status: (e) => e.status,
  storedBy: (e) => e.storedBy,
  trackedEntity: (e) => e.trackedEntity,
  updatedAt: (e) => e.updatedAt,
  updatedAtClient: (e) => e.updatedAtClient,
};

export function listEvents(ctx: QueryContext): Response {
  const minor = ctx.version.minor;
  const { state } = ctx;
  const paging = readPaging(ctx);
  const program = metaParam(ctx, 'program', state.metadata.programs, 'Program');
  const programStage = metaParam(ctx, 'programStage', state.metadata.stages, 'Program stage');
  const orgUnit = param(ctx, 'orgUnit');
  const scope = orgUnitScope(ctx, orgUnit ? [orgUnit] : [], orgUnitMode(ctx));
  const status = enumParam(ctx, 'status', EVENT_STATUSES);
  const enrollmentStatus =
    minor >= 42
      ? (enumParam(ctx, 'enrollmentStatus', ENROLLMENT_STATUSES) ??
        enumParam(ctx, 'programStatus', ENROLLMENT_STATUSES))
      : enumParam(ctx, 'programStatus', ENROLLMENT_STATUSES);
  const followUp = boolParam(ctx, 'followUp');
  if ((enrollmentStatus || followUp !== undefined) && !program)
    throw queryError(minor, 'Program must be defined when program status or follow up status are defined');
  const trackedEntity = param(ctx, 'trackedEntity');
  const eventUids = new Set(
    uidList(
      ctx,
      minor <= 40
        ? [['event', /;/]]
        : minor === 41
          ? [
              ['events', /,/],
              ['event', /[;,]/],
            ]
          : [['events', /,/]],
    ),
  );
  const enrollmentUids = new Set(uidList(ctx, [['enrollments', /,/]]));
  const occurredAfter = dateParam(ctx, 'occurredAfter', 'after');
  const occurredBefore = dateParam(ctx, 'occurredBefore', 'before');
  const scheduledAfter = dateParam(ctx, 'scheduledAfter', 'after');
  const scheduledBefore = dateParam(ctx, 'scheduledBefore', 'before');
  const updatedAfter = dateParam(ctx, 'updatedAfter', 'after');
  const updatedBefore = dateParam(ctx, 'updatedBefore', 'before');
  const includeDeleted = boolParam(ctx, 'includeDeleted') === true;
  const dataFilters = parseFilters(minor, ctx.params.getAll('filter'));
  const attributeFilters = minor >= 39 ? parseFilters(minor, ctx.params.getAll('filterAttributes')) : [];
  const orders = parseOrder(ctx, EVENT_ORDER, (field) =>
    state.metadata.dataElements.has(field)
      ? (e: StoredEvent) => e.dataValues?.find((d) => d.dataElement === field)?.value
      : undefined,
  );
  // OVERDUE: a stored SCHEDULE whose date (server time zone) is before today; never stored
  // (docs/dhis2.md#event-status-and-overdue).
  const startOfToday = ctx.time.startOfDay(ctx.time.dateOf(ctx.now));

  const matches = cachedMatches(ctx, 'events', () => {
    const out: StoredEvent[] = [];
    for (const e of candidates(state.events, eventUids)) {
      if (e.deleted && !includeDeleted) continue;
      if (program && e.program !== program) continue;
      if (programStage && e.programStage !== programStage) continue;
      if (scope && !scope.has(e.orgUnit)) continue;
      if (status) {
        if (status === 'OVERDUE') {
          if (e.status !== 'SCHEDULE' || e.scheduledAt === undefined || e.scheduledAt >= startOfToday) continue;
        } else if (status === 'VISITED') {
          if (!(e.status === 'VISITED' || (e.status === 'ACTIVE' && e.occurredAt !== undefined))) continue;
        } else if (e.status !== status) continue;
      }
      if (trackedEntity && e.trackedEntity !== trackedEntity) continue;
      if (enrollmentUids.size && !enrollmentUids.has(e.enrollment)) continue;
      if (occurredAfter !== undefined && (e.occurredAt === undefined || e.occurredAt < occurredAfter)) continue;
      if (occurredBefore !== undefined && (e.occurredAt === undefined || e.occurredAt > occurredBefore)) continue;
      if (scheduledAfter !== undefined && (e.scheduledAt === undefined || e.scheduledAt < scheduledAfter)) continue;
      if (scheduledBefore !== undefined && (e.scheduledAt === undefined || e.scheduledAt > scheduledBefore)) continue;
      if (updatedAfter !== undefined && e.updatedAt < updatedAfter) continue;
      if (updatedBefore !== undefined && e.updatedAt > updatedBefore) continue;
      if (enrollmentStatus || followUp !== undefined) {
        const en = state.enrollments.get(e.enrollment);
        if (enrollmentStatus && en?.status !== enrollmentStatus) continue;
        if (followUp !== undefined && e.followUp !== followUp) continue;
      }
      if (
        dataFilters.length &&
        !dataFilters.every((f) => itemMatches(ctx, f, e.dataValues?.find((d) => d.dataElement === f.uid)?.value))
      )
        continue;
      if (attributeFilters.length) {
        const te = state.trackedEntities.get(e.trackedEntity);
        if (!attributeFilters.every((f) => itemMatches(ctx, f, te?.attributes[f.uid]))) continue;
      }
      out.push(e);
    }
    return sortBy(ctx, out, orders);
  });
  const table = eventFields(minor);
  return respondList(ctx, 'events', matches, paging, (e, sel) => pick(sel, table, e, ctx));
}

function notFound(ctx: QueryContext, kind: 'Event' | 'TrackedEntity' | 'Enrollment', uid: string): HttpError {
  // 2.38/2.39 and 2.40+ word it differently; clients must branch on the status, not the text
  // (docs/dhis2.md#reading-the-tracker-export-endpoints).
  if (ctx.version.minor <= 39) {
    const old = { Event: 'Event', TrackedEntity: 'Tracked entity instance', Enrollment: 'Enrollment' }[kind];
    return new HttpError(404, `${old} not found for uid: ${uid}`);
  }
  return new HttpError(404, `${kind} with id ${uid} could not be found.`, { errorCode: 'E1005' });
}

function readable(ctx: QueryContext, orgUnit: string): boolean {
  return hasAuthority(ctx.user, 'ALL') || ctx.state.isWithinAny(orgUnit, searchRoots(ctx));
}

export function getEvent(ctx: QueryContext, uid: string): Response {
  const e = ctx.state.events.get(uid);
  if (!e || e.deleted || !readable(ctx, e.orgUnit)) throw notFound(ctx, 'Event', uid);
  return json(
    200,
    pick(FieldSelector.parse(ctx.params.get('fields'), DEFAULT_FIELDS.events), eventFields(ctx.version.minor), e, ctx),
  );
}

// ---------------------------------------------------------------- tracked entities

const TE_ORDER: Record<string, Getter<StoredTrackedEntity>> = {
  trackedEntity: (t) => t.trackedEntity,
  createdAt: (t) => t.createdAt,
  createdAtClient: (t) => t.createdAtClient,
  updatedAt: (t) => t.updatedAt,
  updatedAtClient: (t) => t.updatedAtClient,
  inactive: (t) => t.inactive,
  enrolledAt: (t, c) => c.state.enrollmentsByTrackedEntity.get(t.trackedEntity)?.[0]?.enrolledAt,
};

/**
 * The checks of a search outside the user's capture scope: only searchable attributes (of the programme,
 * or of the tracked entity type when searching by type), at least `minAttributesRequiredToSearch` of them,
 * unless a unique attribute is filtered. Returns the most tracked entities such a search may match
 * (`maxTeiCountToReturn`, 0 = no limit); a local search has no limit.
 */
function checkGlobalSearch(
  ctx: QueryContext,
  scope: Set<string> | null,
  mode: OrgUnitMode | undefined,
  filters: FilterItem[],
  program: string | undefined,
  trackedEntityType: string | undefined,
): number {
  if (!filters.length || mode === 'CAPTURE' || hasAuthority(ctx.user, 'ALL')) return 0;
  const capture = ctx.state.descendants(ctx.user.organisationUnits);
  const outside = scope === null || [...scope].some((id) => !capture.has(id));
  if (!outside) return 0;
  const meta = ctx.state.metadata.attributes;
  const programMeta = program ? ctx.state.metadata.programs.get(program) : undefined;
  const typeMeta =
    !program && trackedEntityType ? ctx.state.metadata.trackedEntityTypes.get(trackedEntityType) : undefined;
  const limit = programMeta?.maxTeiCountToReturn ?? typeMeta?.maxTeiCountToReturn ?? 0;
  if (filters.some((f) => meta.get(f.uid)?.unique)) return limit;
  const searchable = (uid: string) =>
    typeMeta ? typeMeta.attributes.some((x) => x.id === uid && x.searchable) : meta.get(uid)?.searchable === true;
  const nonSearchable = filters.filter((f) => !searchable(f.uid)).map((f) => f.uid);
  if (nonSearchable.length)
    throw queryError(
      ctx.version.minor,
      `Non-searchable attribute(s) can not be used during global search: ${nonSearchable.join(', ')}`,
    );
  const min = programMeta?.minAttributesRequiredToSearch ?? typeMeta?.minAttributesRequiredToSearch ?? 0;
  if (filters.length < min)
    throw queryError(ctx.version.minor, `At least ${min} attributes should be mentioned in the search criteria.`);
  return limit;
}

export function listTrackedEntities(ctx: QueryContext): Response {
  const minor = ctx.version.minor;
  const { state } = ctx;
  const paging = readPaging(ctx);
  const program = metaParam(ctx, 'program', state.metadata.programs, 'Program');
  const trackedEntityType = metaParam(
    ctx,
    'trackedEntityType',
    state.metadata.trackedEntityTypes,
    'Tracked entity type',
  );
  const orgUnits = orgUnitList(ctx);
  const teUids = new Set(
    uidList(
      ctx,
      minor <= 40
        ? [['trackedEntity', /;/]]
        : minor === 41
          ? [
              ['trackedEntities', /,/],
              ['trackedEntity', /[;,]/],
            ]
          : [['trackedEntities', /,/]],
    ),
  );
  const mode = orgUnitMode(ctx);
  if (!program && !trackedEntityType && !teUids.size)
    throw queryError(minor, 'Either Program or Tracked entity type should be specified');
  if (minor <= 40 && !orgUnits.length && !mode && !teUids.size)
    throw queryError(minor, 'At least one organisation unit must be specified');
  const scope = orgUnitScope(ctx, orgUnits, mode);
  const filters = parseFilters(minor, ctx.params.getAll('filter'));
  for (const f of filters)
    if (!state.metadata.attributes.has(f.uid)) throw queryError(minor, `Attribute does not exist: ${f.uid}`);
  const maxCount = checkGlobalSearch(ctx, scope, mode, filters, program, trackedEntityType);
  const enrollmentStatus =
    minor >= 42
      ? (enumParam(ctx, 'enrollmentStatus', ENROLLMENT_STATUSES) ??
        enumParam(ctx, 'programStatus', ENROLLMENT_STATUSES))
      : enumParam(ctx, 'programStatus', ENROLLMENT_STATUSES);
  const followUp = boolParam(ctx, 'followUp');
  if ((enrollmentStatus || followUp !== undefined) && !program)
    throw queryError(minor, 'Program must be defined when program status or follow up status are defined');
  const updatedAfter = dateParam(ctx, 'updatedAfter', 'after');
  const updatedBefore = dateParam(ctx, 'updatedBefore', 'before');
  const includeDeleted = boolParam(ctx, 'includeDeleted') === true;
  const orders = parseOrder(ctx, TE_ORDER, (field) =>
    state.metadata.attributes.has(field) ? (t: StoredTrackedEntity) => t.attributes[field] : undefined,
  );

  const matches = cachedMatches(ctx, 'trackedEntities', () => {
    const out: StoredTrackedEntity[] = [];
    for (const te of candidates(state.trackedEntities, teUids)) {
      if (te.deleted && !includeDeleted) continue;
      if (trackedEntityType && te.trackedEntityType !== trackedEntityType) continue;
      let owner = te.orgUnit;
      let enrollments: StoredEnrollment[] = [];
      if (program) {
        enrollments = (state.enrollmentsByTrackedEntity.get(te.trackedEntity) ?? []).filter(
          (en) => en.program === program && !en.deleted,
        );
        if (!enrollments.length) continue;
        // With a program, scoping uses the programme owner (the enrolling org unit), docs/dhis2.md#org-unit-modes.
        owner = enrollments[0]!.orgUnit;
      }
      if (scope && !scope.has(owner)) continue;
      if (enrollmentStatus && !enrollments.some((en) => en.status === enrollmentStatus)) continue;
      if (followUp !== undefined && !enrollments.some((en) => en.followUp === followUp)) continue;
      if (updatedAfter !== undefined && te.updatedAt < updatedAfter) continue;
      if (updatedBefore !== undefined && te.updatedAt > updatedBefore) continue;
      if (!filters.every((f) => itemMatches(ctx, f, te.attributes[f.uid]))) continue;
      out.push(te);
    }
    return sortBy(ctx, out, orders);
  });
  // DHIS2 counts a search outside the capture scope before listing it, and refuses one that matches too many.
  if (maxCount > 0 && matches.length > maxCount) throw queryError(minor, 'maxteicountreached');
  const table = trackedEntityFields(minor);
  return respondList(ctx, 'trackedEntities', matches, paging, (te, sel) => pick(sel, table, te, ctx));
}

export function getTrackedEntity(ctx: QueryContext, uid: string): Response {
  const te = ctx.state.trackedEntities.get(uid);
  if (!te || te.deleted || !readable(ctx, te.orgUnit)) throw notFound(ctx, 'TrackedEntity', uid);
  const program = metaParam(ctx, 'program', ctx.state.metadata.programs, 'Program');
  if (
    program &&
    !(ctx.state.enrollmentsByTrackedEntity.get(uid) ?? []).some((en) => en.program === program && !en.deleted)
  )
    throw notFound(ctx, 'TrackedEntity', uid);
  return json(
    200,
    pick(
      FieldSelector.parse(ctx.params.get('fields'), DEFAULT_FIELDS.trackedEntities),
      trackedEntityFields(ctx.version.minor),
      te,
      ctx,
    ),
  );
}

// ---------------------------------------------------------------- enrollments

const ENROLLMENT_ORDER: Record<string, Getter<StoredEnrollment>> = {
  completedAt: (en) => en.completedAt,
  createdAt: (en) => en.createdAt,
  createdAtClient: (en) => en.createdAtClient,
  enrolledAt: (en) => en.enrolledAt,
  updatedAt: (en) => en.updatedAt,
  updatedAtClient: (en) => en.updatedAtClient,
};

export function listEnrollments(ctx: QueryContext): Response {
  const minor = ctx.version.minor;
  const { state } = ctx;
  const paging = readPaging(ctx);
  const program = metaParam(ctx, 'program', state.metadata.programs, 'Program');
  const trackedEntity = param(ctx, 'trackedEntity');
  const orgUnits = orgUnitList(ctx);
  const scope = orgUnitScope(ctx, orgUnits, orgUnitMode(ctx));
  const enrollmentUids = new Set(
    uidList(
      ctx,
      minor <= 40
        ? [['enrollment', /;/]]
        : minor === 41
          ? [
              ['enrollments', /,/],
              ['enrollment', /[;,]/],
            ]
          : [['enrollments', /,/]],
    ),
  );
  const status =
    minor >= 42
      ? (enumParam(ctx, 'status', ENROLLMENT_STATUSES) ?? enumParam(ctx, 'programStatus', ENROLLMENT_STATUSES))
      : enumParam(ctx, 'programStatus', ENROLLMENT_STATUSES);
  const followUp = boolParam(ctx, 'followUp');
  if ((status || followUp !== undefined) && !program)
    throw queryError(minor, 'Program must be defined when program status or follow up status are defined');
  const updatedAfter = dateParam(ctx, 'updatedAfter', 'after');
  const enrolledAfter = dateParam(ctx, 'enrolledAfter', 'after');
  const enrolledBefore = dateParam(ctx, 'enrolledBefore', 'before');
  const includeDeleted = boolParam(ctx, 'includeDeleted') === true;
  const orders = parseOrder(ctx, ENROLLMENT_ORDER, () => undefined);

  const matches = cachedMatches(ctx, 'enrollments', () => {
    const out: StoredEnrollment[] = [];
    const source = trackedEntity
      ? (state.enrollmentsByTrackedEntity.get(trackedEntity) ?? [])
      : state.enrollments.values();
    for (const en of source) {
      if (en.deleted && !includeDeleted) continue;
      if (program && en.program !== program) continue;
      if (scope && !scope.has(en.orgUnit)) continue;
      if (enrollmentUids.size && !enrollmentUids.has(en.enrollment)) continue;
      if (status && en.status !== status) continue;
      if (followUp !== undefined && en.followUp !== followUp) continue;
      if (updatedAfter !== undefined && en.updatedAt < updatedAfter) continue;
      if (enrolledAfter !== undefined && en.enrolledAt < enrolledAfter) continue;
      if (enrolledBefore !== undefined && en.enrolledAt > enrolledBefore) continue;
      out.push(en);
    }
    return sortBy(ctx, out, orders);
  });
  const table = enrollmentFields(minor);
  return respondList(ctx, 'enrollments', matches, paging, (en, sel) => pick(sel, table, en, ctx));
}

export function getEnrollment(ctx: QueryContext, uid: string): Response {
  const en = ctx.state.enrollments.get(uid);
  if (!en || en.deleted || !readable(ctx, en.orgUnit)) throw notFound(ctx, 'Enrollment', uid);
  return json(
    200,
    pick(
      FieldSelector.parse(ctx.params.get('fields'), DEFAULT_FIELDS.enrollments),
      enrollmentFields(ctx.version.minor),
      en,
      ctx,
    ),
  );
}
