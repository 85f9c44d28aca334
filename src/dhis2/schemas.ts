import { z } from 'zod';

/**
 * Zod schemas for what DHIS2 sends back (docs/dhis2.md#object-json). Unknown fields are dropped,
 * missing optional fields stay absent (DHIS2 omits nulls), and the version differences that survive
 * parsing are normalised here: the event follow-up flag is always `followUp` after parsing.
 */

export const EVENT_STATUSES = ['ACTIVE', 'COMPLETED', 'VISITED', 'SCHEDULE', 'OVERDUE', 'SKIPPED'] as const;
export const EventStatusSchema = z.enum(EVENT_STATUSES);
export type EventStatus = z.infer<typeof EventStatusSchema>;

export const ENROLLMENT_STATUSES = ['ACTIVE', 'COMPLETED', 'CANCELLED'] as const;
export const EnrollmentStatusSchema = z.enum(ENROLLMENT_STATUSES);
export type EnrollmentStatus = z.infer<typeof EnrollmentStatusSchema>;

export const ORG_UNIT_MODES = ['SELECTED', 'CHILDREN', 'DESCENDANTS', 'ACCESSIBLE', 'CAPTURE', 'ALL'] as const;
export type OrgUnitMode = (typeof ORG_UNIT_MODES)[number];

export const TRACKER_TYPES = ['TRACKED_ENTITY', 'ENROLLMENT', 'EVENT', 'RELATIONSHIP'] as const;
export type TrackerType = (typeof TRACKER_TYPES)[number];

export const SystemInfoSchema = z.object({
  version: z.string(),
  revision: z.string().optional(),
  buildTime: z.string().optional(),
  serverDate: z.string().optional(),
  serverTimeZoneId: z.string().optional(),
  contextPath: z.string().optional(),
  calendar: z.string().optional(),
  dateFormat: z.string().optional(),
  systemId: z.string().optional(),
  systemName: z.string().optional(),
});
export type SystemInfo = z.infer<typeof SystemInfoSchema>;

const OrgUnitRefSchema = z.object({ id: z.string(), path: z.string().optional(), name: z.string().optional() });

export const MeSchema = z.object({
  id: z.string(),
  username: z.string().optional(),
  firstName: z.string().optional(),
  surname: z.string().optional(),
  displayName: z.string().optional(),
  phoneNumber: z.string().optional(),
  authorities: z.array(z.string()).optional(),
  organisationUnits: z.array(OrgUnitRefSchema).optional(),
  teiSearchOrganisationUnits: z.array(OrgUnitRefSchema).optional(),
  programs: z.array(z.string()).optional(),
});
export type Me = z.infer<typeof MeSchema>;

/** A DHIS2 user; `username` falls back to the `userCredentials` mirror that 2.38–2.41 still send. */
export const UserSchema = z
  .object({
    id: z.string(),
    username: z.string().optional(),
    userCredentials: z.object({ username: z.string().optional() }).optional(),
    firstName: z.string().optional(),
    surname: z.string().optional(),
    displayName: z.string().optional(),
    phoneNumber: z.string().optional(),
    disabled: z.boolean().optional(),
    organisationUnits: z.array(OrgUnitRefSchema).optional(),
    teiSearchOrganisationUnits: z.array(OrgUnitRefSchema).optional(),
    dataViewOrganisationUnits: z.array(OrgUnitRefSchema).optional(),
  })
  .transform(({ userCredentials, ...u }) => ({ ...u, username: u.username ?? userCredentials?.username }));
export type Dhis2User = z.infer<typeof UserSchema>;

export const OrgUnitSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  displayName: z.string().optional(),
  code: z.string().optional(),
  path: z.string().optional(),
  level: z.number().optional(),
  parent: z.object({ id: z.string() }).optional(),
});
export type OrgUnit = z.infer<typeof OrgUnitSchema>;

/** `{uid, username, firstName, surname[, displayName]}` as events carry `assignedUser`, `createdBy`, `updatedBy`. */
export const UserInfoSchema = z.object({
  uid: z.string().optional(),
  username: z.string().optional(),
  firstName: z.string().optional(),
  surname: z.string().optional(),
  displayName: z.string().optional(),
});
export type UserInfo = z.infer<typeof UserInfoSchema>;

export const DataValueSchema = z.object({
  dataElement: z.string(),
  value: z.string().optional(),
  providedElsewhere: z.boolean().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  storedBy: z.string().optional(),
});
export type DataValue = z.infer<typeof DataValueSchema>;

export const NoteSchema = z.object({
  note: z.string().optional(),
  value: z.string(),
  storedAt: z.string().optional(),
  storedBy: z.string().optional(),
  createdBy: UserInfoSchema.optional(),
});
export type Note = z.infer<typeof NoteSchema>;

/** GeoJSON as DHIS2 sends it; kept opaque because Jibu only passes it back on update. */
const GeometrySchema = z.object({ type: z.string(), coordinates: z.unknown() });

export const EventSchema = z
  .object({
    event: z.string(),
    status: EventStatusSchema.optional(),
    program: z.string().optional(),
    programStage: z.string().optional(),
    enrollment: z.string().optional(),
    trackedEntity: z.string().optional(),
    orgUnit: z.string().optional(),
    orgUnitName: z.string().optional(),
    occurredAt: z.string().optional(),
    scheduledAt: z.string().optional(),
    storedBy: z.string().optional(),
    followUp: z.boolean().optional(),
    followup: z.boolean().optional(),
    deleted: z.boolean().optional(),
    createdAt: z.string().optional(),
    createdAtClient: z.string().optional(),
    updatedAt: z.string().optional(),
    updatedAtClient: z.string().optional(),
    attributeOptionCombo: z.string().optional(),
    attributeCategoryOptions: z.string().optional(),
    completedBy: z.string().optional(),
    completedAt: z.string().optional(),
    geometry: GeometrySchema.optional(),
    assignedUser: UserInfoSchema.optional(),
    createdBy: UserInfoSchema.optional(),
    updatedBy: UserInfoSchema.optional(),
    dataValues: z.array(DataValueSchema).optional(),
    notes: z.array(NoteSchema).optional(),
  })
  // ≤2.40 spell it `followup`, 2.41 sends both, 2.42 `followUp` (docs/dhis2.md#object-json): one name after parsing.
  .transform(({ followup, ...e }) => {
    const followUp = e.followUp ?? followup;
    return followUp === undefined ? e : { ...e, followUp };
  });
export type Dhis2Event = z.infer<typeof EventSchema>;

export const AttributeValueSchema = z.object({
  attribute: z.string(),
  value: z.string().optional(),
  displayName: z.string().optional(),
  code: z.string().optional(),
  valueType: z.string().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  storedBy: z.string().optional(),
});
export type AttributeValue = z.infer<typeof AttributeValueSchema>;

export const EnrollmentSchema = z.object({
  enrollment: z.string(),
  trackedEntity: z.string().optional(),
  program: z.string().optional(),
  status: EnrollmentStatusSchema.optional(),
  orgUnit: z.string().optional(),
  orgUnitName: z.string().optional(),
  enrolledAt: z.string().optional(),
  occurredAt: z.string().optional(),
  followUp: z.boolean().optional(),
  completedAt: z.string().optional(),
  completedBy: z.string().optional(),
  deleted: z.boolean().optional(),
  storedBy: z.string().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  geometry: GeometrySchema.optional(),
  events: z.array(EventSchema).optional(),
  attributes: z.array(AttributeValueSchema).optional(),
  notes: z.array(NoteSchema).optional(),
});
export type Dhis2Enrollment = z.infer<typeof EnrollmentSchema>;

export const TrackedEntitySchema = z.object({
  trackedEntity: z.string(),
  trackedEntityType: z.string().optional(),
  orgUnit: z.string().optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  inactive: z.boolean().optional(),
  deleted: z.boolean().optional(),
  potentialDuplicate: z.boolean().optional(),
  geometry: GeometrySchema.optional(),
  attributes: z.array(AttributeValueSchema).optional(),
  enrollments: z.array(EnrollmentSchema).optional(),
  programOwners: z
    .array(z.object({ orgUnit: z.string(), trackedEntity: z.string().optional(), program: z.string() }))
    .optional(),
});
export type Dhis2TrackedEntity = z.infer<typeof TrackedEntitySchema>;

/**
 * Paging as any version sends it: flat (`page`, `pageSize`, `total`, `pageCount`) up to 2.41, in a
 * `pager` object from 2.41; 2.42 adds `prevPage`/`nextPage` URLs. Parse with `body.pager ?? body`.
 */
export const PagerSchema = z.object({
  page: z.number().optional(),
  pageSize: z.number().optional(),
  total: z.number().optional(),
  pageCount: z.number().optional(),
  prevPage: z.string().optional(),
  nextPage: z.string().optional(),
});
export type Pager = z.infer<typeof PagerSchema>;

/** The DHIS2 WebMessage that carries non-import errors. */
export const WebMessageSchema = z.object({
  httpStatus: z.string().optional(),
  httpStatusCode: z.number().optional(),
  status: z.string().optional(),
  message: z.string().optional(),
  errorCode: z.string().optional(),
  devMessage: z.string().optional(),
});

const ReportEntrySchema = z.object({
  message: z.string().optional(),
  errorCode: z.string(),
  // A type this client does not know must not make the whole report unreadable.
  trackerType: z.enum(TRACKER_TYPES).optional().catch(undefined),
  uid: z.string().optional(),
  args: z.array(z.unknown()).optional(),
});

const StatsSchema = z.object({
  created: z.number().default(0),
  updated: z.number().default(0),
  deleted: z.number().default(0),
  ignored: z.number().default(0),
  total: z.number().default(0),
});

/**
 * The tracker import report (docs/dhis2.md#responses-and-the-import-report), same shape for sync answers and async
 * `…/report`.
 */
export const ImportReportSchema = z.object({
  status: z.enum(['OK', 'WARNING', 'ERROR']),
  validationReport: z
    .object({
      errorReports: z.array(ReportEntrySchema).default([]),
      warningReports: z.array(ReportEntrySchema).default([]),
    })
    .optional(),
  stats: StatsSchema.optional(),
  bundleReport: z.unknown().optional(),
  message: z.string().optional(),
});
export type ImportReport = z.infer<typeof ImportReportSchema>;

/**
 * A tracked entity type's search settings (`GET /api/trackedEntityTypes/{uid}`): a search outside the
 * account's capture scope may filter only on searchable (or unique) attributes, needs at least
 * `minAttributesRequiredToSearch` of them, and fails with `maxteicountreached` when more than
 * `maxTeiCountToReturn` (when > 0) tracked entities match.
 */
export const TrackedEntityTypeSchema = z.object({
  id: z.string(),
  minAttributesRequiredToSearch: z.number().default(0),
  maxTeiCountToReturn: z.number().default(0),
  trackedEntityTypeAttributes: z
    .array(
      z.object({
        searchable: z.boolean().optional(),
        trackedEntityAttribute: z.object({ id: z.string(), unique: z.boolean().optional() }),
      }),
    )
    .default([]),
});
export type TrackedEntityType = z.infer<typeof TrackedEntityTypeSchema>;

/** `/api/potentialDuplicates` records (2.37+: `original` and `duplicate` tracked entities). */
export const DEDUPLICATION_STATUSES = ['OPEN', 'INVALID', 'MERGED'] as const;
export const PotentialDuplicateSchema = z.object({
  id: z.string().optional(),
  original: z.string().optional(),
  duplicate: z.string().optional(),
  status: z.enum(DEDUPLICATION_STATUSES).optional(),
  created: z.string().optional(),
  lastUpdated: z.string().optional(),
});
export type PotentialDuplicate = z.infer<typeof PotentialDuplicateSchema>;
