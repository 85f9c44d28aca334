import { z } from 'zod';
import { ENROLLMENT_STATUSES, EVENT_STATUSES, type EventStatus, type TrackerType } from '../dhis2/schemas.ts';
import { isUid, newUid } from '../dhis2/uid.ts';
import { hasScheduledEventRules, type Dhis2Version } from '../dhis2/version.ts';
import { hasAuthority } from './auth.ts';
import { HttpError } from './http.ts';
import type {
  EmulatorState,
  EmulatorUser,
  Geometry,
  StoredDataValue,
  StoredNote,
  UserRef,
  ValueType,
} from './model.ts';
import type { ServerTime } from './time.ts';

/**
 * `POST /api/tracker` (docs/dhis2.md#writing-tracker-data): flattening of nested payloads, import strategies, the
 * validation
 * rules Jibu meets with their DHIS2 codes, atomic modes, update semantics and the version's report shape.
 */

export interface ImportEnv {
  state: EmulatorState;
  version: Dhis2Version;
  time: ServerTime;
  now: number;
  user: EmulatorUser;
}

const STRATEGIES = ['CREATE', 'UPDATE', 'CREATE_AND_UPDATE', 'DELETE'] as const;
const ATOMIC_MODES = ['ALL', 'OBJECT'] as const;
const IMPORT_MODES = ['COMMIT', 'VALIDATE'] as const;
const REPORT_MODES = ['FULL', 'ERRORS', 'WARNINGS'] as const;

export interface ImportParams {
  importStrategy: (typeof STRATEGIES)[number];
  atomicMode: (typeof ATOMIC_MODES)[number];
  importMode: (typeof IMPORT_MODES)[number];
  reportMode: (typeof REPORT_MODES)[number];
}

function enumOf<T extends string>(params: URLSearchParams, name: string, values: readonly T[], fallback: T): T {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const upper = raw.toUpperCase();
  if (!(values as readonly string[]).includes(upper))
    throw new HttpError(
      400,
      `Value ${raw} is not valid for parameter ${name}. Valid values are: [${values.join(', ')}]`,
    );
  return upper as T;
}

/**
 * Defaults as dhis2-core sets them: CREATE_AND_UPDATE, ALL, COMMIT, ERRORS (some DHIS2 docs say CREATE and VALIDATION).
 */
export function readImportParams(params: URLSearchParams): ImportParams {
  return {
    importStrategy: enumOf(params, 'importStrategy', STRATEGIES, 'CREATE_AND_UPDATE'),
    atomicMode: enumOf(params, 'atomicMode', ATOMIC_MODES, 'ALL'),
    importMode: enumOf(params, 'importMode', IMPORT_MODES, 'COMMIT'),
    reportMode: enumOf(params, 'reportMode', REPORT_MODES, 'ERRORS'),
  };
}

// ---------------------------------------------------------------- payload (unknown properties ignored, as Jackson does)

const str = z.string().nullish();
const dateIn = z.union([z.string(), z.number()]).nullish();
const scalarValue = z.union([z.string(), z.number(), z.boolean()]).nullish();
const NoteIn = z.object({ note: str, value: str });
const DataValueIn = z.object({ dataElement: str, value: scalarValue, providedElsewhere: z.boolean().nullish() });
const AttributeIn = z.object({ attribute: str, value: scalarValue });
const GeometryIn = z.object({ type: z.string(), coordinates: z.unknown() }).nullish();
const EventIn = z.object({
  event: str,
  status: z.enum(EVENT_STATUSES).nullish(),
  program: str,
  programStage: str,
  enrollment: str,
  orgUnit: str,
  occurredAt: dateIn,
  scheduledAt: dateIn,
  completedAt: dateIn,
  completedBy: str,
  followUp: z.boolean().nullish(),
  followup: z.boolean().nullish(),
  attributeOptionCombo: str,
  geometry: GeometryIn,
  assignedUser: z.object({ uid: str, username: str }).nullish(),
  storedBy: str,
  createdAtClient: dateIn,
  updatedAtClient: dateIn,
  dataValues: z.array(DataValueIn).nullish(),
  notes: z.array(NoteIn).nullish(),
});
const EnrollmentIn = z.object({
  enrollment: str,
  trackedEntity: str,
  program: str,
  orgUnit: str,
  status: z.enum(ENROLLMENT_STATUSES).nullish(),
  enrolledAt: dateIn,
  occurredAt: dateIn,
  completedAt: dateIn,
  completedBy: str,
  followUp: z.boolean().nullish(),
  geometry: GeometryIn,
  storedBy: str,
  createdAtClient: dateIn,
  updatedAtClient: dateIn,
  attributes: z.array(AttributeIn).nullish(),
  events: z.array(EventIn).nullish(),
  notes: z.array(NoteIn).nullish(),
});
const TrackedEntityIn = z.object({
  trackedEntity: str,
  trackedEntityType: str,
  orgUnit: str,
  inactive: z.boolean().nullish(),
  potentialDuplicate: z.boolean().nullish(),
  geometry: GeometryIn,
  storedBy: str,
  createdAtClient: dateIn,
  updatedAtClient: dateIn,
  attributes: z.array(AttributeIn).nullish(),
  enrollments: z.array(EnrollmentIn).nullish(),
});
const PayloadIn = z.object({
  trackedEntities: z.array(TrackedEntityIn).nullish(),
  enrollments: z.array(EnrollmentIn).nullish(),
  events: z.array(EventIn).nullish(),
  relationships: z.array(z.unknown()).nullish(),
});

type EventIn = z.infer<typeof EventIn>;
type EnrollmentIn = z.infer<typeof EnrollmentIn>;
type TrackedEntityIn = z.infer<typeof TrackedEntityIn>;
type NoteIn = z.infer<typeof NoteIn>;

/** Parse the body as Jackson would: a wrong type or enum value is a 400, not a validation report. */
export function parsePayload(body: unknown): z.infer<typeof PayloadIn> {
  const r = PayloadIn.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new HttpError(400, `JSON parse error: Cannot deserialize value at ${i.path.join('.')}: ${i.message}`);
  }
  return r.data;
}

// ---------------------------------------------------------------- reports

const MESSAGES: Record<string, string> = {
  E1000: 'User: `{0}`, has no write access to OrganisationUnit: `{1}`.',
  E1002: 'TrackedEntity: `{0}`, already exists.',
  E1005: 'Could not find TrackedEntityType: `{0}`.',
  E1006: 'Attribute: `{0}`, does not exist.',
  E1007: 'Error validating attribute value type: `{0}`; Error: `{1}`.',
  E1010: 'Could not find Program: `{0}`, linked to Event.',
  E1011: 'Could not find OrganisationUnit: `{0}`, linked to Event.',
  E1013: 'Could not find ProgramStage: `{0}`, linked to Event.',
  E1015: 'TrackedEntity: `{0}`, already has an active Enrollment in Program `{1}`.',
  E1019: 'Only Program attributes is allowed for enrollment; Non valid attribute: `{0}`.',
  E1025: 'Property enrolledAt is null or has an invalid format: `{0}`.',
  E1030: 'Event: `{0}`, already exists.',
  E1031: 'Event OccurredAt date is missing.',
  E1032: 'Event: `{0}`, do not exist.',
  E1033: 'Event: `{0}`, Enrollment value is null.',
  E1039: 'ProgramStage: `{0}`, is not repeatable and an event already exists.',
  E1046: 'Event: `{0}`, needs to have at least one (event or schedule) date.',
  E1048: 'Object: `{0}`, uid: `{1}`, has an invalid uid format.',
  E1049: 'Could not find OrganisationUnit: `{0}`, linked to Tracked Entity.',
  E1050: 'Event ScheduledAt date is missing.',
  E1051: 'Event: `{0}`, completedAt must be null when status is `{1}`.',
  E1063: 'TrackedEntity: `{0}`, does not exist.',
  E1064: 'Non-unique attribute value `{0}` for attribute `{1}`',
  E1068: 'Could not find TrackedEntity: `{0}`, linked to Enrollment.',
  E1069: 'Could not find Program: `{0}`, linked to Enrollment.',
  E1070: 'Could not find OrganisationUnit: `{0}`, linked to Enrollment.',
  E1075: 'Attribute: `{0}`, is missing uid.',
  E1079: 'Event: `{0}`, program: `{1}` is different from program defined in enrollment `{2}`.',
  E1080: 'Enrollment: `{0}`, already exists.',
  E1081: 'Enrollment: `{0}`, do not exist.',
  E1082: "Event: `{0}`, is already deleted and can't be modified.",
  E1083: 'User: `{0}`, is not authorized to modify completed events.',
  E1089: 'Event: `{0}`, references a Program Stage `{1}` that does not belong to Program `{2}`.',
  E1100: "User: `{0}`, is lacking 'F_TEI_CASCADE_DELETE' authority to delete TrackedEntity: `{1}`.",
  E1103: "User: `{0}`, is lacking 'F_ENROLLMENT_CASCADE_DELETE' authority to delete Enrollment : `{1}`.",
  E1113: "Enrollment: `{0}`, is already deleted and can't be modified.",
  E1114: "TrackedEntity: `{0}`, is already deleted and can't be modified.",
  E1119: 'A Tracker Note with uid `{0}` already exists.',
  E1121: 'Missing required tracked entity property: `{0}`.',
  E1122: 'Missing required enrollment property: `{0}`.',
  E1123: 'Missing required event property: `{0}`.',
  E1126: 'Not allowed to update Tracked Entity property: {0}.',
  E1127: 'Not allowed to update Enrollment property: {0}.',
  E1128: 'Not allowed to update Event property: {0}.',
  E1302: 'DataElement `{0}` is not valid: `{1}`',
  E1304: 'DataElement `{0}` is not a valid data element',
  E1305: 'DataElement `{0}` is not part of `{1}` program stage',
  E1315: 'Status `{0}` does not allow defining data values. Statuses that do allow defining data values are: {1}',
  E1316: 'No event can transition from status `{0}` to status `{1}`.',
  E5000: '"{0}" `{1}` cannot be persisted because "{2}" `{3}` referenced by it cannot be persisted.',
};

interface Issue {
  errorCode: string;
  trackerType: TrackerType;
  uid: string;
  args: string[];
}

function issue(trackerType: TrackerType, uid: string, errorCode: string, ...args: string[]): Issue {
  return { errorCode, trackerType, uid, args };
}

function message(i: Issue): string {
  return (MESSAGES[i.errorCode] ?? i.errorCode).replace(/\{(\d+)\}/g, (_, n: string) => i.args[Number(n)] ?? '');
}

// ---------------------------------------------------------------- validation helpers

type Strategy = 'CREATE' | 'UPDATE' | 'DELETE';

interface Item<T> {
  obj: T;
  uid: string;
  index: number;
  strategy: Strategy;
  errors: Issue[];
  warnings: Issue[];
}

/** DHIS2's identity codes per tracker type: the uid already exists (CREATE), does not exist, is deleted. */
const IDENTITY_CODES: Record<
  'TRACKED_ENTITY' | 'ENROLLMENT' | 'EVENT',
  { exists: string; missing: string; deleted: string }
> = {
  TRACKED_ENTITY: { exists: 'E1002', missing: 'E1063', deleted: 'E1114' },
  ENROLLMENT: { exists: 'E1080', missing: 'E1081', deleted: 'E1113' },
  EVENT: { exists: 'E1030', missing: 'E1032', deleted: 'E1082' },
};

/** The checks every tracker object meets first: uid format, existence against the strategy, not deleted. */
function checkIdentity(
  item: Item<unknown>,
  type: keyof typeof IDENTITY_CODES,
  existing: { deleted?: boolean } | undefined,
): void {
  const { uid, strategy, errors } = item;
  const codes = IDENTITY_CODES[type];
  if (!isUid(uid)) errors.push(issue(type, uid, 'E1048', uid, uid));
  if (strategy === 'CREATE' && existing) errors.push(issue(type, uid, codes.exists, uid));
  if (strategy !== 'CREATE' && !existing) errors.push(issue(type, uid, codes.missing, uid));
  if (existing?.deleted) errors.push(issue(type, uid, codes.deleted, uid));
}

const PHONE = /^[0-9+()#.\s/ext-]{6,50}$/;

/** Why `value` does not fit `valueType`, or undefined when it does (E1007 / E1302). */
function valueProblem(valueType: ValueType, value: string, minor: number): string | undefined {
  switch (valueType) {
    case 'PHONE_NUMBER':
      // 2.38 does not check phone numbers; 2.39+ use this regex (docs/dhis2.md#error-codes-jibu-handles, E1007).
      return minor >= 39 && !PHONE.test(value) ? `Value '${value}' is not a valid phone number` : undefined;
    case 'DATE':
      return /^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value) && !Number.isNaN(Date.parse(value.slice(0, 10)))
        ? undefined
        : `Value '${value}' is not a valid date`;
    case 'NUMBER':
      return Number.isFinite(Number(value)) && value.trim() !== ''
        ? undefined
        : `Value '${value}' is not a valid numeric type`;
    case 'INTEGER':
      return /^-?\d+$/.test(value) ? undefined : `Value '${value}' is not a valid integer`;
    case 'INTEGER_POSITIVE':
      return /^\d+$/.test(value) && Number(value) > 0 ? undefined : `Value '${value}' is not a valid positive integer`;
    case 'INTEGER_ZERO_OR_POSITIVE':
      return /^\d+$/.test(value) ? undefined : `Value '${value}' is not a valid zero or positive integer`;
    case 'BOOLEAN':
      return /^(true|false)$/.test(value) ? undefined : `Value '${value}' is not a valid boolean`;
    case 'TRUE_ONLY':
      return value === 'true' ? undefined : `Value '${value}' is not true (true-only value type)`;
    default:
      return value.length > 50_000 ? 'Value exceeds the maximum allowed length' : undefined;
  }
}

const asString = (v: string | number | boolean | null | undefined): string | null =>
  v === null || v === undefined || v === '' ? null : String(v);

function userRef(u: EmulatorUser): UserRef {
  return { uid: u.id, username: u.username, firstName: u.firstName, surname: u.surname };
}

const DATA_VALUE_STATUSES = new Set<EventStatus>(['ACTIVE', 'VISITED', 'COMPLETED']);
const NO_DATA_VALUE_STATUSES = new Set<EventStatus>(['SCHEDULE', 'SKIPPED', 'OVERDUE']);

// ---------------------------------------------------------------- the import

export interface ImportOutcome {
  httpStatus: number;
  report: Record<string, unknown>;
}

/**
 * Validate and (unless `importMode=VALIDATE` or `atomicMode=ALL` with an error) persist a tracker
 * payload, returning the import report and its HTTP status (409 when the status is ERROR).
 */
export function runImport(env: ImportEnv, body: unknown, params: ImportParams): ImportOutcome {
  const { state, user } = env;
  const minor = env.version.minor;
  const rules = hasScheduledEventRules(env.version);
  const payload = parsePayload(body);
  const superuser = hasAuthority(user, 'ALL');
  const canWrite = (ou: string) => superuser || state.isWithinAny(ou, user.organisationUnits);
  const parseDate = (d: string | number | null | undefined): number | undefined => {
    if (d === null || d === undefined || d === '') return undefined;
    if (typeof d === 'number') return d;
    return env.time.parse(d)?.ms;
  };

  // Flatten nested payloads (the server does the same): children learn their parent's uid.
  const tes: Array<Item<TrackedEntityIn>> = [];
  const ens: Array<Item<EnrollmentIn>> = [];
  const evs: Array<Item<EventIn>> = [];
  const resolve = (exists: boolean): Strategy =>
    params.importStrategy === 'CREATE_AND_UPDATE'
      ? exists
        ? 'UPDATE'
        : 'CREATE'
      : (params.importStrategy as Strategy);
  const pushEvent = (e: EventIn, enrollment?: EnrollmentIn) => {
    const obj: EventIn = enrollment
      ? { ...e, enrollment: e.enrollment ?? enrollment.enrollment, program: e.program ?? enrollment.program }
      : e;
    const uid = obj.event ?? newUid();
    evs.push({ obj, uid, index: evs.length, strategy: resolve(state.events.has(uid)), errors: [], warnings: [] });
  };
  const pushEnrollment = (en: EnrollmentIn, te?: TrackedEntityIn) => {
    const uid = en.enrollment ?? newUid();
    const obj: EnrollmentIn = { ...en, enrollment: uid, trackedEntity: en.trackedEntity ?? te?.trackedEntity };
    ens.push({ obj, uid, index: ens.length, strategy: resolve(state.enrollments.has(uid)), errors: [], warnings: [] });
    for (const e of en.events ?? []) pushEvent(e, obj);
  };
  for (const te of payload.trackedEntities ?? []) {
    const uid = te.trackedEntity ?? newUid();
    const obj = { ...te, trackedEntity: uid };
    tes.push({
      obj,
      uid,
      index: tes.length,
      strategy: resolve(state.trackedEntities.has(uid)),
      errors: [],
      warnings: [],
    });
    for (const en of te.enrollments ?? []) pushEnrollment(en, obj);
  }
  for (const en of payload.enrollments ?? []) pushEnrollment(en);
  for (const e of payload.events ?? []) pushEvent(e);

  const payloadTes = new Map(tes.map((t) => [t.uid, t]));
  const payloadEns = new Map(ens.map((e) => [e.uid, e]));
  const seenNotes = new Set<string>();

  const validateNotes = (item: Item<{ notes?: NoteIn[] | null }>, type: TrackerType) => {
    for (const n of item.obj.notes ?? []) {
      if (!n.note) continue;
      if (!isUid(n.note)) item.errors.push(issue(type, item.uid, 'E1048', n.note, n.note));
      else if (state.noteUids.has(n.note) || seenNotes.has(n.note))
        item.warnings.push(issue(type, item.uid, 'E1119', n.note));
      seenNotes.add(n.note);
    }
  };

  const validateAttributes = (
    item: Item<{ attributes?: Array<{ attribute?: string | null; value?: string | number | boolean | null }> | null }>,
    type: TrackerType,
    teUid: string,
    allowed?: readonly string[],
  ) => {
    for (const a of item.obj.attributes ?? []) {
      if (!a.attribute) {
        item.errors.push(issue(type, item.uid, 'E1075', String(a.value ?? '')));
        continue;
      }
      const meta = state.metadata.attributes.get(a.attribute);
      if (!meta) {
        item.errors.push(issue(type, item.uid, 'E1006', a.attribute));
        continue;
      }
      if (allowed && !allowed.includes(a.attribute)) {
        item.errors.push(issue(type, item.uid, 'E1019', a.attribute));
        continue;
      }
      const value = asString(a.value);
      if (value === null) continue;
      const problem = valueProblem(meta.valueType, value, minor);
      if (problem) item.errors.push(issue(type, item.uid, 'E1007', meta.valueType, problem));
      if (meta.unique) {
        for (const other of state.trackedEntities.values()) {
          if (other.trackedEntity !== teUid && !other.deleted && other.attributes[a.attribute] === value) {
            item.errors.push(issue(type, item.uid, 'E1064', value, a.attribute));
            break;
          }
        }
      }
    }
  };

  // ---- tracked entities
  for (const t of tes) {
    const { obj, uid } = t;
    const existing = state.trackedEntities.get(uid);
    checkIdentity(t, 'TRACKED_ENTITY', existing);
    if (t.errors.length) continue;
    if (t.strategy === 'DELETE') {
      const live = (state.enrollmentsByTrackedEntity.get(uid) ?? []).some((en) => !en.deleted);
      if (live && !hasAuthority(user, 'F_TEI_CASCADE_DELETE'))
        t.errors.push(issue('TRACKED_ENTITY', uid, 'E1100', user.username, uid));
      continue;
    }
    if (!obj.trackedEntityType) t.errors.push(issue('TRACKED_ENTITY', uid, 'E1121', 'trackedEntityType'));
    else if (!state.metadata.trackedEntityTypes.has(obj.trackedEntityType))
      t.errors.push(issue('TRACKED_ENTITY', uid, 'E1005', obj.trackedEntityType));
    else if (existing && existing.trackedEntityType !== obj.trackedEntityType)
      t.errors.push(issue('TRACKED_ENTITY', uid, 'E1126', 'trackedEntityType'));
    if (!obj.orgUnit) t.errors.push(issue('TRACKED_ENTITY', uid, 'E1121', 'orgUnit'));
    else if (!state.orgUnits.has(obj.orgUnit)) t.errors.push(issue('TRACKED_ENTITY', uid, 'E1049', obj.orgUnit));
    else if (!canWrite(obj.orgUnit)) t.errors.push(issue('TRACKED_ENTITY', uid, 'E1000', user.username, obj.orgUnit));
    validateAttributes(t, 'TRACKED_ENTITY', uid);
  }

  // ---- enrollments
  for (const e of ens) {
    const { obj, uid } = e;
    const existing = state.enrollments.get(uid);
    checkIdentity(e, 'ENROLLMENT', existing);
    if (e.errors.length) continue;
    if (e.strategy === 'DELETE') {
      const live = (state.eventsByEnrollment.get(uid) ?? []).some((ev) => !ev.deleted);
      if (live && !hasAuthority(user, 'F_ENROLLMENT_CASCADE_DELETE'))
        e.errors.push(issue('ENROLLMENT', uid, 'E1103', user.username, uid));
      continue;
    }
    const program = obj.program ? state.metadata.programs.get(obj.program) : undefined;
    if (!obj.program) e.errors.push(issue('ENROLLMENT', uid, 'E1122', 'program'));
    else if (!program) e.errors.push(issue('ENROLLMENT', uid, 'E1069', obj.program));
    if (!obj.orgUnit) e.errors.push(issue('ENROLLMENT', uid, 'E1122', 'orgUnit'));
    else if (!state.orgUnits.has(obj.orgUnit)) e.errors.push(issue('ENROLLMENT', uid, 'E1070', obj.orgUnit));
    else if (!canWrite(obj.orgUnit)) e.errors.push(issue('ENROLLMENT', uid, 'E1000', user.username, obj.orgUnit));
    const teUid = obj.trackedEntity;
    if (!teUid) e.errors.push(issue('ENROLLMENT', uid, 'E1122', 'trackedEntity'));
    else {
      const dbTe = state.trackedEntities.get(teUid);
      if (!payloadTes.has(teUid) && (!dbTe || dbTe.deleted)) e.errors.push(issue('ENROLLMENT', uid, 'E1068', teUid));
    }
    if (parseDate(obj.enrolledAt) === undefined)
      e.errors.push(issue('ENROLLMENT', uid, 'E1025', String(obj.enrolledAt ?? 'null')));
    if (existing) {
      if (obj.program && existing.program !== obj.program) e.errors.push(issue('ENROLLMENT', uid, 'E1127', 'program'));
      if (teUid && existing.trackedEntity !== teUid) e.errors.push(issue('ENROLLMENT', uid, 'E1127', 'trackedEntity'));
    } else if (teUid && obj.program && (obj.status ?? 'ACTIVE') === 'ACTIVE') {
      const active = (state.enrollmentsByTrackedEntity.get(teUid) ?? []).some(
        (x) => x.program === obj.program && x.status === 'ACTIVE' && !x.deleted,
      );
      if (active) e.errors.push(issue('ENROLLMENT', uid, 'E1015', teUid, obj.program));
    }
    if (teUid) validateAttributes(e, 'ENROLLMENT', teUid, program?.attributes);
    validateNotes(e, 'ENROLLMENT');
  }

  // ---- events
  const createdInStage = new Set<string>();
  for (const ev of evs) {
    const { obj, uid } = ev;
    const existing = state.events.get(uid);
    checkIdentity(ev, 'EVENT', existing);
    if (ev.errors.length || ev.strategy === 'DELETE') continue;

    const stage = obj.programStage ? state.metadata.stages.get(obj.programStage) : undefined;
    if (!obj.programStage) ev.errors.push(issue('EVENT', uid, 'E1123', 'programStage'));
    else if (!stage) ev.errors.push(issue('EVENT', uid, 'E1013', obj.programStage));
    if (obj.program && !state.metadata.programs.has(obj.program))
      ev.errors.push(issue('EVENT', uid, 'E1010', obj.program));
    else if (obj.program && stage && stage.program !== obj.program)
      ev.errors.push(issue('EVENT', uid, 'E1089', uid, stage.id, obj.program));
    const program = obj.program ?? stage?.program;
    if (!obj.orgUnit) ev.errors.push(issue('EVENT', uid, 'E1123', 'orgUnit'));
    else if (!state.orgUnits.has(obj.orgUnit)) ev.errors.push(issue('EVENT', uid, 'E1011', obj.orgUnit));
    else if (!canWrite(obj.orgUnit)) ev.errors.push(issue('EVENT', uid, 'E1000', user.username, obj.orgUnit));
    const enrollmentUid = obj.enrollment;
    const dbEnrollment = enrollmentUid ? state.enrollments.get(enrollmentUid) : undefined;
    const payloadEnrollment = enrollmentUid ? payloadEns.get(enrollmentUid) : undefined;
    const enrollmentProgram = payloadEnrollment?.obj.program ?? dbEnrollment?.program;
    if (!enrollmentUid || (!payloadEnrollment && (!dbEnrollment || dbEnrollment.deleted)))
      ev.errors.push(issue('EVENT', uid, 'E1033', uid));
    else if (program && enrollmentProgram && enrollmentProgram !== program)
      ev.errors.push(issue('EVENT', uid, 'E1079', uid, program, enrollmentUid));

    const status: EventStatus = obj.status ?? 'ACTIVE';
    if (existing) {
      if (obj.programStage && existing.programStage !== obj.programStage)
        ev.errors.push(issue('EVENT', uid, 'E1128', 'programStage'));
      if (enrollmentUid && existing.enrollment !== enrollmentUid)
        ev.errors.push(issue('EVENT', uid, 'E1128', 'enrollment'));
      if (rules && DATA_VALUE_STATUSES.has(existing.status) && NO_DATA_VALUE_STATUSES.has(status))
        ev.errors.push(issue('EVENT', uid, 'E1316', existing.status, status));
      if (existing.status === 'COMPLETED' && status !== 'COMPLETED' && !hasAuthority(user, 'F_UNCOMPLETE_EVENT'))
        ev.errors.push(issue('EVENT', uid, 'E1083', user.username));
    }
    const occurredAt = parseDate(obj.occurredAt);
    const scheduledAt = parseDate(obj.scheduledAt);
    if ((status === 'ACTIVE' || status === 'COMPLETED') && occurredAt === undefined)
      ev.errors.push(issue('EVENT', uid, 'E1031'));
    else if (status === 'SCHEDULE' && scheduledAt === undefined) ev.errors.push(issue('EVENT', uid, 'E1050'));
    else if (occurredAt === undefined && scheduledAt === undefined) ev.errors.push(issue('EVENT', uid, 'E1046', uid));
    if (obj.completedAt !== null && obj.completedAt !== undefined && status !== 'COMPLETED')
      ev.errors.push(issue('EVENT', uid, 'E1051', uid, status));

    const dataValues = obj.dataValues ?? [];
    // E1315: data values are refused on SCHEDULE/SKIPPED/OVERDUE events (2.39.6, 2.40.5, 2.41.1, 2.42.0 onwards).
    if (rules && dataValues.length && NO_DATA_VALUE_STATUSES.has(status))
      ev.errors.push(issue('EVENT', uid, 'E1315', status, '[ACTIVE, VISITED, COMPLETED]'));
    for (const dv of dataValues) {
      const de = dv.dataElement ? state.metadata.dataElements.get(dv.dataElement) : undefined;
      if (!de) {
        ev.errors.push(issue('EVENT', uid, 'E1304', dv.dataElement ?? 'null'));
        continue;
      }
      if (stage && !stage.dataElements.includes(de.id)) ev.errors.push(issue('EVENT', uid, 'E1305', de.id, stage.id));
      const value = asString(dv.value);
      const problem = value === null ? undefined : valueProblem(de.valueType, value, minor);
      if (problem) ev.errors.push(issue('EVENT', uid, 'E1302', de.id, problem));
    }
    if (!existing && stage && !stage.repeatable && enrollmentUid) {
      const key = `${enrollmentUid}:${stage.id}`;
      const inDb = (state.eventsByEnrollment.get(enrollmentUid) ?? []).some(
        (x) => x.programStage === stage.id && !x.deleted,
      );
      if (inDb || createdInStage.has(key)) ev.errors.push(issue('EVENT', uid, 'E1039', stage.id));
      createdInStage.add(key);
    }
    validateNotes(ev, 'EVENT');
  }

  // ---- outcome
  const all = [...tes, ...ens, ...evs];
  const objectCount = all.length;
  const hasErrors = () => all.some((i) => i.errors.length);
  const emptyStats = () => ({ created: 0, updated: 0, deleted: 0, ignored: 0, total: 0 });

  if (params.atomicMode === 'ALL' && hasErrors()) {
    // Nothing persisted, every object ignored, no bundleReport (core ImportReport.withValidationErrors).
    return finish(env, params, all, { ...emptyStats(), ignored: objectCount, total: objectCount }, undefined);
  }
  if (params.atomicMode === 'OBJECT') {
    // Children of an invalid parent in the payload cannot be persisted either (E5000).
    const badTes = new Set(tes.filter((t) => t.errors.length).map((t) => t.uid));
    for (const e of ens)
      if (!e.errors.length && e.obj.trackedEntity && badTes.has(e.obj.trackedEntity))
        e.errors.push(issue('ENROLLMENT', e.uid, 'E5000', 'ENROLLMENT', e.uid, 'TRACKED_ENTITY', e.obj.trackedEntity));
    const badEns = new Set(ens.filter((e) => e.errors.length).map((e) => e.uid));
    for (const ev of evs)
      if (!ev.errors.length && ev.obj.enrollment && badEns.has(ev.obj.enrollment))
        ev.errors.push(issue('EVENT', ev.uid, 'E5000', 'EVENT', ev.uid, 'ENROLLMENT', ev.obj.enrollment));
  }
  if (params.importMode === 'VALIDATE') {
    const ignored = all.filter((i) => i.errors.length).length;
    return finish(
      env,
      params,
      all,
      { ...emptyStats(), ignored, total: ignored },
      { TRACKED_ENTITY: [], ENROLLMENT: [], EVENT: [] },
    );
  }

  const persisted = persist(env, { tes, ens, evs }, parseDate);
  const stats = emptyStats();
  for (const list of Object.values(persisted)) for (const p of list) stats[p.outcome]++;
  stats.ignored = all.filter((i) => i.errors.length).length;
  stats.total = stats.created + stats.updated + stats.deleted + stats.ignored;
  return finish(env, params, all, stats, persisted);
}

interface Persisted {
  uid: string;
  index: number;
  outcome: 'created' | 'updated' | 'deleted';
}

type PersistedMap = Record<'TRACKED_ENTITY' | 'ENROLLMENT' | 'EVENT', Persisted[]>;

function newNotes(env: ImportEnv, notes: NoteIn[] | null | undefined): StoredNote[] {
  const out: StoredNote[] = [];
  for (const n of notes ?? []) {
    // Empty notes are dropped silently; existing uids were reported as E1119 and are skipped.
    if (!n.value || !n.value.trim()) continue;
    if (n.note && env.state.noteUids.has(n.note)) continue;
    const note: StoredNote = {
      note: n.note ?? newUid(),
      value: n.value,
      storedAt: env.now,
      storedBy: env.user.username,
      createdBy: userRef(env.user),
    };
    env.state.noteUids.add(note.note);
    out.push(note);
  }
  return out;
}

function mergeAttributes(
  target: Record<string, string>,
  attributes: Array<{ attribute?: string | null; value?: string | number | boolean | null }> | null | undefined,
): void {
  for (const a of attributes ?? []) {
    if (!a.attribute) continue;
    const v = asString(a.value);
    // `value: null` deletes (docs/dhis2.md#object-json).
    if (v === null) delete target[a.attribute];
    else target[a.attribute] = v;
  }
}

function persist(
  env: ImportEnv,
  items: { tes: Array<Item<TrackedEntityIn>>; ens: Array<Item<EnrollmentIn>>; evs: Array<Item<EventIn>> },
  parseDate: (d: string | number | null | undefined) => number | undefined,
): PersistedMap {
  const { state, now, user } = env;
  const minor = env.version.minor;
  const out: PersistedMap = { TRACKED_ENTITY: [], ENROLLMENT: [], EVENT: [] };
  const ok = <T>(list: Array<Item<T>>) => list.filter((i) => !i.errors.length);
  const geometry = (g: { type: string; coordinates?: unknown } | null | undefined): Geometry | undefined =>
    g ? { type: g.type, coordinates: g.coordinates } : undefined;

  if (
    ok(items.tes).some((t) => t.strategy === 'DELETE') ||
    ok(items.ens).some((e) => e.strategy === 'DELETE') ||
    ok(items.evs).some((e) => e.strategy === 'DELETE')
  ) {
    const softDeleteEvent = (uid: string) => {
      const ev = state.events.get(uid);
      if (ev && !ev.deleted) {
        ev.deleted = true;
        ev.updatedAt = now;
      }
    };
    const softDeleteEnrollment = (uid: string) => {
      const en = state.enrollments.get(uid);
      if (!en || en.deleted) return;
      en.deleted = true;
      en.updatedAt = now;
      for (const ev of state.eventsByEnrollment.get(uid) ?? []) softDeleteEvent(ev.event);
    };
    for (const ev of ok(items.evs)) {
      softDeleteEvent(ev.uid);
      out.EVENT.push({ uid: ev.uid, index: ev.index, outcome: 'deleted' });
    }
    for (const en of ok(items.ens)) {
      softDeleteEnrollment(en.uid);
      out.ENROLLMENT.push({ uid: en.uid, index: en.index, outcome: 'deleted' });
    }
    for (const t of ok(items.tes)) {
      const te = state.trackedEntities.get(t.uid)!;
      te.deleted = true;
      te.updatedAt = now;
      for (const en of state.enrollmentsByTrackedEntity.get(t.uid) ?? []) softDeleteEnrollment(en.enrollment);
      out.TRACKED_ENTITY.push({ uid: t.uid, index: t.index, outcome: 'deleted' });
    }
    state.revision++;
    return out;
  }

  for (const t of ok(items.tes)) {
    const o = t.obj;
    const existing = state.trackedEntities.get(t.uid);
    if (existing) {
      existing.orgUnit = o.orgUnit!;
      existing.inactive = o.inactive ?? false;
      existing.potentialDuplicate = o.potentialDuplicate ?? false;
      existing.geometry = geometry(o.geometry);
      existing.updatedAtClient = parseDate(o.updatedAtClient);
      mergeAttributes(existing.attributes, o.attributes);
      existing.updatedAt = now;
      out.TRACKED_ENTITY.push({ uid: t.uid, index: t.index, outcome: 'updated' });
    } else {
      const attributes: Record<string, string> = {};
      mergeAttributes(attributes, o.attributes);
      state.addTrackedEntity({
        trackedEntity: t.uid,
        trackedEntityType: o.trackedEntityType!,
        orgUnit: o.orgUnit!,
        attributes,
        inactive: o.inactive ?? false,
        deleted: false,
        potentialDuplicate: o.potentialDuplicate ?? false,
        geometry: geometry(o.geometry),
        storedBy: o.storedBy ?? user.username,
        createdAt: now,
        updatedAt: now,
        createdAtClient: parseDate(o.createdAtClient),
        updatedAtClient: parseDate(o.updatedAtClient),
      });
      out.TRACKED_ENTITY.push({ uid: t.uid, index: t.index, outcome: 'created' });
    }
  }

  for (const e of ok(items.ens)) {
    const o = e.obj;
    const status = o.status ?? 'ACTIVE';
    const completedAt = status === 'COMPLETED' ? (parseDate(o.completedAt) ?? now) : undefined;
    const completedBy = status === 'COMPLETED' ? (o.completedBy ?? user.username) : undefined;
    const te = state.trackedEntities.get(o.trackedEntity!);
    if (te && o.attributes?.length) {
      mergeAttributes(te.attributes, o.attributes);
      te.updatedAt = now;
    }
    const existing = state.enrollments.get(e.uid);
    if (existing) {
      existing.status = status;
      existing.orgUnit = o.orgUnit!;
      existing.enrolledAt = parseDate(o.enrolledAt)!;
      existing.occurredAt = parseDate(o.occurredAt);
      existing.completedAt = completedAt;
      existing.completedBy = completedBy;
      existing.followUp = o.followUp ?? false;
      existing.geometry = geometry(o.geometry);
      existing.updatedAtClient = parseDate(o.updatedAtClient);
      const notes = newNotes(env, o.notes);
      if (notes.length) existing.notes = [...(existing.notes ?? []), ...notes];
      existing.updatedAt = now;
      out.ENROLLMENT.push({ uid: e.uid, index: e.index, outcome: 'updated' });
    } else {
      const notes = newNotes(env, o.notes);
      state.addEnrollment({
        enrollment: e.uid,
        trackedEntity: o.trackedEntity!,
        program: o.program!,
        status,
        orgUnit: o.orgUnit!,
        enrolledAt: parseDate(o.enrolledAt)!,
        occurredAt: parseDate(o.occurredAt),
        completedAt,
        completedBy,
        followUp: o.followUp ?? false,
        deleted: false,
        geometry: geometry(o.geometry),
        storedBy: o.storedBy ?? user.username,
        createdAt: now,
        updatedAt: now,
        createdAtClient: parseDate(o.createdAtClient),
        updatedAtClient: parseDate(o.updatedAtClient),
        notes: notes.length ? notes : undefined,
      });
      out.ENROLLMENT.push({ uid: e.uid, index: e.index, outcome: 'created' });
    }
  }

  for (const ev of ok(items.evs)) {
    const o = ev.obj;
    const status: EventStatus = o.status ?? 'ACTIVE';
    // ≤2.40 read `followup`; 2.41 accepts both; 2.42 only `followUp`. The other spelling is an unknown property.
    const followUp = (minor <= 40 ? o.followup : minor === 41 ? (o.followUp ?? o.followup) : o.followUp) ?? false;
    const stage = state.metadata.stages.get(o.programStage!)!;
    const enrollment = state.enrollments.get(o.enrollment!)!;
    const completedAt = status === 'COMPLETED' ? (parseDate(o.completedAt) ?? now) : undefined;
    const completedBy = status === 'COMPLETED' ? (o.completedBy ?? user.username) : undefined;
    const assigned = o.assignedUser?.uid ? state.users.get(o.assignedUser.uid) : undefined;
    const existing = state.events.get(ev.uid);
    if (existing) {
      existing.status = status;
      existing.orgUnit = o.orgUnit!;
      // Every scalar is replaced: omitted ones are cleared (docs/dhis2.md#update-rules).
      existing.occurredAt = parseDate(o.occurredAt);
      existing.scheduledAt = parseDate(o.scheduledAt);
      existing.completedAt = completedAt;
      existing.completedBy = completedBy;
      existing.followUp = followUp;
      existing.attributeOptionCombo = o.attributeOptionCombo ?? state.metadata.defaultAttributeOptionCombo;
      existing.geometry = geometry(o.geometry);
      existing.assignedUser = assigned ? userRef(assigned) : undefined;
      existing.updatedAtClient = parseDate(o.updatedAtClient);
      existing.updatedBy = userRef(user);
      existing.updatedAt = now;
      if (o.dataValues?.length)
        existing.dataValues = mergeDataValues(existing.dataValues ?? [], o.dataValues, now, user.username);
      const notes = newNotes(env, o.notes);
      if (notes.length) existing.notes = [...(existing.notes ?? []), ...notes];
      out.EVENT.push({ uid: ev.uid, index: ev.index, outcome: 'updated' });
    } else {
      const dataValues = mergeDataValues([], o.dataValues ?? [], now, user.username);
      const notes = newNotes(env, o.notes);
      state.addEvent({
        event: ev.uid,
        program: o.program ?? stage.program,
        programStage: stage.id,
        enrollment: enrollment.enrollment,
        trackedEntity: enrollment.trackedEntity,
        orgUnit: o.orgUnit!,
        status,
        occurredAt: parseDate(o.occurredAt),
        scheduledAt: parseDate(o.scheduledAt),
        completedAt,
        completedBy,
        followUp,
        deleted: false,
        attributeOptionCombo: o.attributeOptionCombo ?? state.metadata.defaultAttributeOptionCombo,
        geometry: geometry(o.geometry),
        assignedUser: assigned ? userRef(assigned) : undefined,
        storedBy: o.storedBy ?? user.username,
        createdAt: now,
        updatedAt: now,
        createdAtClient: parseDate(o.createdAtClient),
        updatedAtClient: parseDate(o.updatedAtClient),
        createdBy: userRef(user),
        updatedBy: userRef(user),
        dataValues: dataValues.length ? dataValues : undefined,
        notes: notes.length ? notes : undefined,
      });
      out.EVENT.push({ uid: ev.uid, index: ev.index, outcome: 'created' });
    }
  }
  state.revision++;
  return out;
}

/** Data values merge: values sent are set, `null`/empty deletes, values not sent are kept. */
function mergeDataValues(
  current: StoredDataValue[],
  incoming: Array<{
    dataElement?: string | null;
    value?: string | number | boolean | null;
    providedElsewhere?: boolean | null;
  }>,
  now: number,
  storedBy: string,
): StoredDataValue[] {
  const byDe = new Map(current.map((d) => [d.dataElement, d]));
  for (const dv of incoming) {
    if (!dv.dataElement) continue;
    const value = asString(dv.value);
    if (value === null) {
      byDe.delete(dv.dataElement);
      continue;
    }
    const prev = byDe.get(dv.dataElement);
    byDe.set(dv.dataElement, {
      dataElement: dv.dataElement,
      value,
      providedElsewhere: dv.providedElsewhere ?? prev?.providedElsewhere ?? false,
      createdAt: prev?.createdAt ?? now,
      updatedAt: now,
      storedBy,
    });
  }
  return [...byDe.values()];
}

function finish(
  env: ImportEnv,
  params: ImportParams,
  all: Array<Item<unknown>>,
  stats: Record<'created' | 'updated' | 'deleted' | 'ignored' | 'total', number>,
  persisted: PersistedMap | undefined,
): ImportOutcome {
  const minor = env.version.minor;
  const errors = all.flatMap((i) => i.errors);
  const warnings = all.flatMap((i) => i.warnings);
  const status = errors.length ? 'ERROR' : warnings.length ? 'WARNING' : 'OK';
  const entry = (i: Issue) => ({
    message: message(i),
    errorCode: i.errorCode,
    trackerType: i.trackerType,
    uid: i.uid,
    ...(minor >= 41 ? { args: i.args } : {}),
  });
  const report: Record<string, unknown> = {
    status,
    validationReport: {
      errorReports: errors.map(entry),
      // reportMode=ERRORS (the default) keeps the key but drops the warnings.
      warningReports: params.reportMode === 'ERRORS' ? [] : warnings.map(entry),
    },
    stats,
  };
  if (persisted) {
    const typeReport = (type: TrackerType, list: Persisted[]) => {
      const s = { created: 0, updated: 0, deleted: 0, ignored: 0, total: 0 };
      for (const p of list) s[p.outcome]++;
      s.total = list.length;
      return {
        trackerType: type,
        stats: s,
        objectReports: list.map((p) => ({
          trackerType: type,
          uid: p.uid,
          ...(minor <= 40 ? { index: p.index } : {}),
          errorReports: [],
        })),
      };
    };
    report.bundleReport = {
      ...(minor <= 39 ? { status } : {}),
      typeReportMap: {
        TRACKED_ENTITY: typeReport('TRACKED_ENTITY', persisted.TRACKED_ENTITY),
        ENROLLMENT: typeReport('ENROLLMENT', persisted.ENROLLMENT),
        EVENT: typeReport('EVENT', persisted.EVENT),
        RELATIONSHIP: typeReport('RELATIONSHIP', []),
      },
      stats: { ...stats, ignored: 0, total: stats.created + stats.updated + stats.deleted },
    };
  }
  if (params.reportMode === 'FULL' && minor <= 40) {
    report.timingsStats = {
      timers: { preheat: '0.001 sec.', validation: '0.001 sec.', commit: '0.001 sec.', totalImport: '0.003 sec.' },
    };
  }
  return { httpStatus: status === 'ERROR' ? 409 : 200, report };
}

/** 2.42 `POST /api/tracker/{events|enrollments}/{uid}/note` (docs/dhis2.md#update-rules). */
export function addNote(
  env: ImportEnv,
  kind: 'events' | 'enrollments',
  uid: string,
  body: unknown,
): Record<string, unknown> {
  const parent = kind === 'events' ? env.state.events.get(uid) : env.state.enrollments.get(uid);
  if (
    !parent ||
    parent.deleted ||
    !env.state.isWithinAny(
      parent.orgUnit,
      hasAuthority(env.user, 'ALL') ? [...env.state.orgUnits.keys()] : env.user.organisationUnits,
    )
  ) {
    throw new HttpError(404, `${kind === 'events' ? 'Event' : 'Enrollment'} with id ${uid} could not be found.`, {
      errorCode: 'E1005',
    });
  }
  const input = NoteIn.safeParse(body);
  if (!input.success) throw new HttpError(400, 'JSON parse error: a note is {"value": "…", "note": "<optional uid>"}');
  const { value, note } = input.data;
  if (!value || !value.trim()) throw new HttpError(400, 'Value cannot be empty');
  if (note && !isUid(note)) throw new HttpError(400, `Invalid UID ${note} for note`);
  if (note && env.state.noteUids.has(note)) throw new HttpError(400, `Note \`${note}\` already exists.`);
  const [stored] = newNotes(env, [{ note: note ?? null, value }]);
  parent.notes = [...(parent.notes ?? []), stored!];
  parent.updatedAt = env.now;
  env.state.revision++;
  return {
    note: stored!.note,
    storedAt: env.time.format(stored!.storedAt),
    storedBy: stored!.storedBy,
    value: stored!.value,
    createdBy: {
      uid: env.user.id,
      username: env.user.username,
      firstName: env.user.firstName,
      surname: env.user.surname,
    },
  };
}
