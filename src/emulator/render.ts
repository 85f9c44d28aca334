import type { Dhis2Version } from '../dhis2/version.ts';
import { pick, type FieldSelector, type FieldTable } from './fields.ts';
import type {
  EmulatorState,
  EmulatorUser,
  MetaAttribute,
  OrgUnit,
  StoredDataValue,
  StoredEnrollment,
  StoredEvent,
  StoredNote,
  StoredTrackedEntity,
  UserRef,
} from './model.ts';
import type { ServerTime } from './time.ts';

/**
 * Object JSON per version (docs/dhis2.md#object-json): `orgUnitName` up to 2.40, the event follow-up flag spelt
 * `followup` (≤2.40), both (2.41) or `followUp` (2.42), `userCredentials` until 2.41, an event's
 * `enrollmentStatus` and an enrollment's `trackedEntityType` up to 2.40. Timestamps are zone-less server time;
 * nulls are omitted by `pick`.
 */

export interface RenderContext {
  state: EmulatorState;
  time: ServerTime;
  version: Dhis2Version;
  user: EmulatorUser;
}

type Table<T> = FieldTable<T, RenderContext>;

const ts = (c: RenderContext, ms: number | undefined) => (ms === undefined ? undefined : c.time.format(ms));

/** Metadata references render as `{id}` unless nested fields are asked for. */
export const METADATA_REFS: ReadonlySet<string> = new Set([
  'parent',
  'children',
  'organisationUnits',
  'teiSearchOrganisationUnits',
  'dataViewOrganisationUnits',
  'userRoles',
  'userGroups',
]);

function userInfo(c: RenderContext, u: UserRef | undefined): Record<string, unknown> | undefined {
  if (!u) return undefined;
  const base: Record<string, unknown> = {
    uid: u.uid,
    username: u.username,
    firstName: u.firstName,
    surname: u.surname,
  };
  if (c.version.minor >= 42) base.displayName = `${u.firstName} ${u.surname}`;
  return base;
}

const noteFields: Table<StoredNote> = {
  note: (n) => n.note,
  storedAt: (n, c) => ts(c, n.storedAt),
  storedBy: (n) => n.storedBy,
  value: (n) => n.value,
  createdBy: (n, c) => userInfo(c, n.createdBy),
};

const dataValueFields: Table<StoredDataValue> = {
  createdAt: (d, c) => ts(c, d.createdAt),
  updatedAt: (d, c) => ts(c, d.updatedAt),
  storedBy: (d) => d.storedBy,
  providedElsewhere: (d) => d.providedElsewhere,
  dataElement: (d) => d.dataElement,
  value: (d) => d.value,
};

const tableCache = new Map<string, unknown>();

function cachedTable<T>(name: string, v: number, build: () => Table<T>): Table<T> {
  const key = `${name}:${v}`;
  let t = tableCache.get(key) as Table<T> | undefined;
  if (!t) {
    t = build();
    tableCache.set(key, t);
  }
  return t;
}

export function eventFields(v: number): Table<StoredEvent> {
  return cachedTable('event', v, () => ({
    event: (e) => e.event,
    status: (e) => e.status,
    program: (e) => e.program,
    programStage: (e) => e.programStage,
    enrollment: (e) => e.enrollment,
    // The owning enrollment's status: read-only, 2.38–2.40 only (docs/dhis2.md#object-json).
    ...(v <= 40
      ? { enrollmentStatus: (e: StoredEvent, c: RenderContext) => c.state.enrollments.get(e.enrollment)?.status }
      : {}),
    trackedEntity: (e) => e.trackedEntity,
    orgUnit: (e) => e.orgUnit,
    ...(v <= 40 ? { orgUnitName: (e: StoredEvent, c: RenderContext) => c.state.orgUnits.get(e.orgUnit)?.name } : {}),
    occurredAt: (e, c) => ts(c, e.occurredAt),
    scheduledAt: (e, c) => ts(c, e.scheduledAt),
    storedBy: (e) => e.storedBy,
    ...(v <= 41 ? { followup: (e: StoredEvent) => e.followUp } : {}),
    ...(v >= 41 ? { followUp: (e: StoredEvent) => e.followUp } : {}),
    deleted: (e) => e.deleted,
    createdAt: (e, c) => ts(c, e.createdAt),
    createdAtClient: (e, c) => ts(c, e.createdAtClient),
    updatedAt: (e, c) => ts(c, e.updatedAt),
    updatedAtClient: (e, c) => ts(c, e.updatedAtClient),
    attributeOptionCombo: (e) => e.attributeOptionCombo,
    attributeCategoryOptions: () => 'xYerKDKCefk',
    completedBy: (e) => e.completedBy,
    completedAt: (e, c) => ts(c, e.completedAt),
    geometry: (e) => e.geometry,
    assignedUser: (e, c) => userInfo(c, e.assignedUser),
    createdBy: (e, c) => userInfo(c, e.createdBy),
    updatedBy: (e, c) => userInfo(c, e.updatedBy),
    dataValues: (e, c, child) => {
      const sel = child();
      return (e.dataValues ?? []).map((d) => pick(sel, dataValueFields, d, c));
    },
    notes: (e, c, child) => {
      const sel = child();
      return (e.notes ?? []).map((n) => pick(sel, noteFields, n, c));
    },
    relationships: () => [],
  }));
}

/** One attribute value of a tracked entity, as {@link attributeValueFields} renders it. */
interface AttributeValueRow {
  te: StoredTrackedEntity;
  attribute: string;
  value: string;
  meta: MetaAttribute | undefined;
}

// One table for every value: a sync renders 200 000 children of several attributes each, and building
// the getters per value cost more than rendering them.
const attributeValueFields: Table<AttributeValueRow> = {
  attribute: (r) => r.attribute,
  displayName: (r) => r.meta?.name,
  createdAt: (r, c) => ts(c, r.te.createdAt),
  updatedAt: (r, c) => ts(c, r.te.updatedAt),
  storedBy: (r) => r.te.storedBy,
  valueType: (r) => r.meta?.valueType,
  value: (r) => r.value,
};

function attributeValues(
  c: RenderContext,
  te: StoredTrackedEntity | undefined,
  sel: FieldSelector,
  only?: readonly string[],
): Array<Record<string, unknown>> {
  if (!te) return [];
  const out: Array<Record<string, unknown>> = [];
  for (const [attribute, value] of Object.entries(te.attributes)) {
    if (only && !only.includes(attribute)) continue;
    const meta = c.state.metadata.attributes.get(attribute);
    out.push(pick(sel, attributeValueFields, { te, attribute, value, meta }, c));
  }
  return out;
}

export function enrollmentFields(v: number): Table<StoredEnrollment> {
  return cachedTable('enrollment', v, () => ({
    enrollment: (en) => en.enrollment,
    createdAt: (en, c) => ts(c, en.createdAt),
    createdAtClient: (en, c) => ts(c, en.createdAtClient),
    updatedAt: (en, c) => ts(c, en.updatedAt),
    updatedAtClient: (en, c) => ts(c, en.updatedAtClient),
    trackedEntity: (en) => en.trackedEntity,
    // Read-only, 2.38–2.40 only (docs/dhis2.md#object-json).
    ...(v <= 40
      ? {
          trackedEntityType: (en: StoredEnrollment, c: RenderContext) =>
            c.state.trackedEntities.get(en.trackedEntity)?.trackedEntityType,
        }
      : {}),
    program: (en) => en.program,
    status: (en) => en.status,
    orgUnit: (en) => en.orgUnit,
    ...(v <= 40
      ? { orgUnitName: (en: StoredEnrollment, c: RenderContext) => c.state.orgUnits.get(en.orgUnit)?.name }
      : {}),
    enrolledAt: (en, c) => ts(c, en.enrolledAt),
    occurredAt: (en, c) => ts(c, en.occurredAt),
    followUp: (en) => en.followUp,
    completedBy: (en) => en.completedBy,
    completedAt: (en, c) => ts(c, en.completedAt),
    deleted: (en) => en.deleted,
    storedBy: (en) => en.storedBy,
    geometry: (en) => en.geometry,
    events: (en, c, child) => {
      const sel = child();
      const table = eventFields(c.version.minor);
      return (c.state.eventsByEnrollment.get(en.enrollment) ?? [])
        .filter((e) => !e.deleted)
        .map((e) => pick(sel, table, e, c));
    },
    relationships: () => [],
    attributes: (en, c, child) =>
      attributeValues(
        c,
        c.state.trackedEntities.get(en.trackedEntity),
        child(),
        c.state.metadata.programs.get(en.program)?.attributes,
      ),
    notes: (en, c, child) => {
      const sel = child();
      return (en.notes ?? []).map((n) => pick(sel, noteFields, n, c));
    },
  }));
}

export function trackedEntityFields(v: number): Table<StoredTrackedEntity> {
  return cachedTable('trackedEntity', v, () => ({
    trackedEntity: (te) => te.trackedEntity,
    trackedEntityType: (te) => te.trackedEntityType,
    createdAt: (te, c) => ts(c, te.createdAt),
    createdAtClient: (te, c) => ts(c, te.createdAtClient),
    updatedAt: (te, c) => ts(c, te.updatedAt),
    updatedAtClient: (te, c) => ts(c, te.updatedAtClient),
    orgUnit: (te) => te.orgUnit,
    inactive: (te) => te.inactive,
    deleted: (te) => te.deleted,
    potentialDuplicate: (te) => te.potentialDuplicate,
    geometry: (te) => te.geometry,
    storedBy: (te) => te.storedBy,
    relationships: () => [],
    attributes: (te, c, child) => attributeValues(c, te, child()),
    enrollments: (te, c, child) => {
      const sel = child();
      const table = enrollmentFields(c.version.minor);
      return (c.state.enrollmentsByTrackedEntity.get(te.trackedEntity) ?? [])
        .filter((en) => !en.deleted)
        .map((en) => pick(sel, table, en, c));
    },
    programOwners: (te, c) => {
      const seen = new Map<string, string>();
      for (const en of c.state.enrollmentsByTrackedEntity.get(te.trackedEntity) ?? [])
        if (!en.deleted && !seen.has(en.program)) seen.set(en.program, en.orgUnit);
      return [...seen].map(([program, orgUnit]) => ({ orgUnit, trackedEntity: te.trackedEntity, program }));
    },
  }));
}

export const orgUnitFields: Table<OrgUnit> = {
  id: (ou) => ou.id,
  name: (ou) => ou.name,
  displayName: (ou) => ou.name,
  shortName: (ou) => ou.name,
  code: (ou) => ou.code,
  level: (ou) => ou.level,
  path: (ou) => ou.path,
  openingDate: (ou) => `${ou.openingDate}T00:00:00.000`,
  parent: (ou, c, child) => {
    const parent = ou.parent ? c.state.orgUnits.get(ou.parent) : undefined;
    return parent ? pick(child(), orgUnitFields, parent, c, METADATA_REFS) : undefined;
  },
  children: (ou, c, child) => {
    const sel = child();
    return ou.children.map((id) => pick(sel, orgUnitFields, c.state.orgUnits.get(id)!, c, METADATA_REFS));
  },
};

function orgUnitList(c: RenderContext, ids: string[], sel: FieldSelector): Array<Record<string, unknown>> {
  return ids.flatMap((id) => {
    const ou = c.state.orgUnits.get(id);
    return ou ? [pick(sel, orgUnitFields, ou, c, METADATA_REFS)] : [];
  });
}

export function userFields(v: number): Table<EmulatorUser> {
  return cachedTable('user', v, () => ({
    id: (u) => u.id,
    username: (u) => u.username,
    firstName: (u) => u.firstName,
    surname: (u) => u.surname,
    displayName: (u) => `${u.firstName} ${u.surname}`,
    name: (u) => `${u.firstName} ${u.surname}`,
    email: (u) => u.email,
    phoneNumber: (u) => u.phoneNumber,
    disabled: (u) => u.disabled,
    organisationUnits: (u, c, child) => orgUnitList(c, u.organisationUnits, child()),
    teiSearchOrganisationUnits: (u, c, child) => orgUnitList(c, u.teiSearchOrganisationUnits, child()),
    dataViewOrganisationUnits: (u, c, child) => orgUnitList(c, u.dataViewOrganisationUnits, child()),
    userRoles: () => [],
    userGroups: () => [],
    // The credentials mirror: 2.38–2.41 only (removed in 2.42, docs/dhis2.md#object-json).
    ...(v <= 41
      ? {
          userCredentials: (u: EmulatorUser, _c: RenderContext, child: () => FieldSelector) =>
            pick(child(), { id: () => u.id, username: () => u.username, disabled: () => u.disabled }, u, _c),
        }
      : {}),
  }));
}

export function meFields(v: number): Table<EmulatorUser> {
  return cachedTable('me', v, () => {
    const { userCredentials: _omit, ...base } = userFields(v);
    return {
      ...base,
      authorities: (u) =>
        u.authorities.includes('ALL') ? ['ALL', ...u.authorities.filter((a) => a !== 'ALL')] : u.authorities,
      programs: (_u, c) => [...c.state.metadata.programs.keys()],
      dataSets: () => [],
      settings: () => ({ keyUiLocale: 'en', keyDbLocale: 'en' }),
      ...(v <= 38
        ? {
            userCredentials: (u: EmulatorUser, _c: RenderContext, child: () => FieldSelector) =>
              pick(child(), { id: () => u.id, username: () => u.username }, u, _c),
          }
        : {}),
      ...(v >= 42 ? { patTokens: () => [], twoFactorType: () => 'NOT_ENABLED', emailVerified: () => false } : {}),
    };
  });
}
