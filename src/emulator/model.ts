import type { EnrollmentStatus, EventStatus } from '../dhis2/schemas.ts';

/**
 * The emulator's database. Instants are epoch milliseconds (formatted in the server time zone on the way
 * out); every stored object is created by one factory with all keys in the same order, so V8 shares one
 * hidden class per type and 100 000 events stay compact.
 */

export type ValueType =
  | 'TEXT'
  | 'LONG_TEXT'
  | 'NUMBER'
  | 'INTEGER'
  | 'INTEGER_POSITIVE'
  | 'INTEGER_ZERO_OR_POSITIVE'
  | 'DATE'
  | 'BOOLEAN'
  | 'TRUE_ONLY'
  | 'PHONE_NUMBER';

export interface MetaAttribute {
  id: string;
  name: string;
  valueType: ValueType;
  unique?: boolean;
  /** Usable in a global search (outside the capture scope). */
  searchable?: boolean;
}

export interface MetaDataElement {
  id: string;
  name: string;
  valueType: ValueType;
}

export interface MetaStage {
  id: string;
  name: string;
  program: string;
  repeatable: boolean;
  dataElements: string[];
}

export interface MetaProgram {
  id: string;
  name: string;
  trackedEntityType: string;
  accessLevel: 'OPEN' | 'AUDITED' | 'PROTECTED' | 'CLOSED';
  minAttributesRequiredToSearch: number;
  /** A search outside the capture scope matching more fails with `maxteicountreached` (0 = no limit). */
  maxTeiCountToReturn: number;
  stages: string[];
  attributes: string[];
}

export interface MetaTrackedEntityType {
  id: string;
  name: string;
  /** Search settings for a search by type (without a programme) outside the capture scope. */
  minAttributesRequiredToSearch: number;
  maxTeiCountToReturn: number;
  /** The type's attributes; only `searchable` (or unique) ones may filter such a search. */
  attributes: Array<{ id: string; searchable: boolean }>;
}

export interface Metadata {
  programs: Map<string, MetaProgram>;
  stages: Map<string, MetaStage>;
  attributes: Map<string, MetaAttribute>;
  dataElements: Map<string, MetaDataElement>;
  trackedEntityTypes: Map<string, MetaTrackedEntityType>;
  /** The default category option combo every event falls back to. */
  defaultAttributeOptionCombo: string;
}

export interface OrgUnit {
  id: string;
  name: string;
  code?: string;
  level: number;
  /** `/root/…/id` */
  path: string;
  parent?: string;
  children: string[];
  openingDate: string;
}

export interface EmulatorUser {
  id: string;
  username: string;
  password?: string;
  firstName: string;
  surname: string;
  phoneNumber?: string;
  email?: string;
  /** `ALL` makes a superuser. */
  authorities: string[];
  /** Data capture scope. */
  organisationUnits: string[];
  /** Tracker search scope (falls back to the capture scope when empty). */
  teiSearchOrganisationUnits: string[];
  dataViewOrganisationUnits: string[];
  disabled: boolean;
}

export interface UserRef {
  uid: string;
  username: string;
  firstName: string;
  surname: string;
}

export interface StoredNote {
  note: string;
  value: string;
  storedAt: number;
  storedBy: string;
  createdBy?: UserRef;
}

export interface StoredDataValue {
  dataElement: string;
  value: string;
  providedElsewhere: boolean;
  createdAt: number;
  updatedAt: number;
  storedBy: string | undefined;
}

export interface Geometry {
  type: string;
  coordinates?: unknown;
}

export interface StoredTrackedEntity {
  trackedEntity: string;
  trackedEntityType: string;
  orgUnit: string;
  /** Attribute uid → value, always strings (DHIS2 stores typed values as text). */
  attributes: Record<string, string>;
  inactive: boolean;
  deleted: boolean;
  potentialDuplicate: boolean;
  geometry: Geometry | undefined;
  storedBy: string | undefined;
  createdAt: number;
  updatedAt: number;
  createdAtClient: number | undefined;
  updatedAtClient: number | undefined;
  /** Insertion order: default sort and paging stability. */
  seq: number;
}

export interface StoredEnrollment {
  enrollment: string;
  trackedEntity: string;
  program: string;
  status: EnrollmentStatus;
  orgUnit: string;
  enrolledAt: number;
  occurredAt: number | undefined;
  completedAt: number | undefined;
  completedBy: string | undefined;
  followUp: boolean;
  deleted: boolean;
  geometry: Geometry | undefined;
  storedBy: string | undefined;
  createdAt: number;
  updatedAt: number;
  createdAtClient: number | undefined;
  updatedAtClient: number | undefined;
  notes: StoredNote[] | undefined;
  seq: number;
}

/** A record of DHIS2's deduplication workflow (`/api/potentialDuplicates`, 2.37+). */
export interface StoredPotentialDuplicate {
  id: string;
  original: string;
  duplicate: string;
  status: 'OPEN' | 'INVALID' | 'MERGED';
  created: number;
  lastUpdated: number;
  createdByUserName: string;
  lastUpdatedByUserName: string;
}

export interface StoredEvent {
  event: string;
  program: string;
  programStage: string;
  enrollment: string;
  trackedEntity: string;
  orgUnit: string;
  /**
   * As imported. OVERDUE is computed on read from a stored SCHEDULE (docs/dhis2.md#event-status-and-overdue); an event
   * imported
   * with OVERDUE keeps it and is, faithfully, not found by `status=OVERDUE`.
   */
  status: EventStatus;
  occurredAt: number | undefined;
  scheduledAt: number | undefined;
  completedAt: number | undefined;
  completedBy: string | undefined;
  followUp: boolean;
  deleted: boolean;
  attributeOptionCombo: string;
  geometry: Geometry | undefined;
  assignedUser: UserRef | undefined;
  storedBy: string | undefined;
  createdAt: number;
  updatedAt: number;
  createdAtClient: number | undefined;
  updatedAtClient: number | undefined;
  createdBy: UserRef | undefined;
  updatedBy: UserRef | undefined;
  dataValues: StoredDataValue[] | undefined;
  notes: StoredNote[] | undefined;
  seq: number;
}

type Init<T> = Omit<T, 'seq'> & Partial<Pick<T, Extract<keyof T, 'seq'>>>;

/** The emulated database with the indexes queries and validation need. */
export class EmulatorState {
  readonly metadata: Metadata;
  readonly orgUnits = new Map<string, OrgUnit>();
  /** By user id. */
  readonly users = new Map<string, EmulatorUser>();
  /** Personal access token → user id. */
  readonly tokens = new Map<string, string>();
  readonly trackedEntities = new Map<string, StoredTrackedEntity>();
  readonly enrollments = new Map<string, StoredEnrollment>();
  readonly events = new Map<string, StoredEvent>();
  readonly enrollmentsByTrackedEntity = new Map<string, StoredEnrollment[]>();
  readonly eventsByEnrollment = new Map<string, StoredEvent[]>();
  /** Every note uid on every event and enrollment: a note uid that exists anywhere is skipped (E1119). */
  readonly noteUids = new Set<string>();
  /** `/api/potentialDuplicates` records by id, in creation order. */
  readonly potentialDuplicates = new Map<string, StoredPotentialDuplicate>();
  /** Bumped by every write; list caches key on it. Code that edits stored objects directly calls {@link touch}. */
  revision = 0;
  private seq = 0;

  constructor(metadata: Metadata) {
    this.metadata = metadata;
  }

  /** Mark the data as changed after editing stored objects in place (tests, demo tweaks). */
  touch(): void {
    this.revision++;
  }

  addOrgUnit(ou: { id: string; name: string; code?: string; parent?: string; openingDate?: string }): OrgUnit {
    const parent = ou.parent ? this.orgUnits.get(ou.parent) : undefined;
    if (ou.parent && !parent) throw new Error(`Unknown parent org unit ${ou.parent}`);
    const node: OrgUnit = {
      id: ou.id,
      name: ou.name,
      ...(ou.code ? { code: ou.code } : {}),
      level: parent ? parent.level + 1 : 1,
      path: `${parent ? parent.path : ''}/${ou.id}`,
      ...(parent ? { parent: parent.id } : {}),
      children: [],
      openingDate: ou.openingDate ?? '1970-01-01',
    };
    parent?.children.push(node.id);
    this.orgUnits.set(node.id, node);
    return node;
  }

  addUser(user: EmulatorUser, token?: string): void {
    this.users.set(user.id, user);
    if (token) this.tokens.set(token, user.id);
  }

  userByUsername(username: string): EmulatorUser | undefined {
    for (const u of this.users.values()) if (u.username === username) return u;
    return undefined;
  }

  /** True when org unit `id` is `root` or below it. */
  isWithin(id: string, root: string): boolean {
    const ou = this.orgUnits.get(id);
    return ou !== undefined && `${ou.path}/`.includes(`/${root}/`);
  }

  isWithinAny(id: string, roots: readonly string[]): boolean {
    return roots.some((r) => this.isWithin(id, r));
  }

  /** Ids of `roots` and everything below them. */
  descendants(roots: readonly string[]): Set<string> {
    const out = new Set<string>();
    const stack = [...roots];
    while (stack.length) {
      const id = stack.pop()!;
      const ou = this.orgUnits.get(id);
      if (!ou || out.has(id)) continue;
      out.add(id);
      stack.push(...ou.children);
    }
    return out;
  }

  addTrackedEntity(init: Init<StoredTrackedEntity>): StoredTrackedEntity {
    const te: StoredTrackedEntity = {
      trackedEntity: init.trackedEntity,
      trackedEntityType: init.trackedEntityType,
      orgUnit: init.orgUnit,
      attributes: init.attributes,
      inactive: init.inactive,
      deleted: init.deleted,
      potentialDuplicate: init.potentialDuplicate,
      geometry: init.geometry,
      storedBy: init.storedBy,
      createdAt: init.createdAt,
      updatedAt: init.updatedAt,
      createdAtClient: init.createdAtClient,
      updatedAtClient: init.updatedAtClient,
      seq: ++this.seq,
    };
    this.trackedEntities.set(te.trackedEntity, te);
    this.revision++;
    return te;
  }

  addEnrollment(init: Init<StoredEnrollment>): StoredEnrollment {
    const en: StoredEnrollment = {
      enrollment: init.enrollment,
      trackedEntity: init.trackedEntity,
      program: init.program,
      status: init.status,
      orgUnit: init.orgUnit,
      enrolledAt: init.enrolledAt,
      occurredAt: init.occurredAt,
      completedAt: init.completedAt,
      completedBy: init.completedBy,
      followUp: init.followUp,
      deleted: init.deleted,
      geometry: init.geometry,
      storedBy: init.storedBy,
      createdAt: init.createdAt,
      updatedAt: init.updatedAt,
      createdAtClient: init.createdAtClient,
      updatedAtClient: init.updatedAtClient,
      notes: init.notes,
      seq: ++this.seq,
    };
    this.enrollments.set(en.enrollment, en);
    this.stored(this.enrollmentsByTrackedEntity, en.trackedEntity, en);
    return en;
  }

  addEvent(init: Init<StoredEvent>): StoredEvent {
    const ev: StoredEvent = {
      event: init.event,
      program: init.program,
      programStage: init.programStage,
      enrollment: init.enrollment,
      trackedEntity: init.trackedEntity,
      orgUnit: init.orgUnit,
      status: init.status,
      occurredAt: init.occurredAt,
      scheduledAt: init.scheduledAt,
      completedAt: init.completedAt,
      completedBy: init.completedBy,
      followUp: init.followUp,
      deleted: init.deleted,
      attributeOptionCombo: init.attributeOptionCombo,
      geometry: init.geometry,
      assignedUser: init.assignedUser,
      storedBy: init.storedBy,
      createdAt: init.createdAt,
      updatedAt: init.updatedAt,
      createdAtClient: init.createdAtClient,
      updatedAtClient: init.updatedAtClient,
      createdBy: init.createdBy,
      updatedBy: init.updatedBy,
      dataValues: init.dataValues,
      notes: init.notes,
      seq: ++this.seq,
    };
    this.events.set(ev.event, ev);
    this.stored(this.eventsByEnrollment, ev.enrollment, ev);
    return ev;
  }

  /** Index a new enrollment or event under its parent, register its note uids, count the change. */
  private stored<T extends { notes?: StoredNote[] }>(byParent: Map<string, T[]>, parent: string, item: T): void {
    const list = byParent.get(parent);
    if (list) list.push(item);
    else byParent.set(parent, [item]);
    for (const n of item.notes ?? []) this.noteUids.add(n.note);
    this.revision++;
  }

  /** Notes of an event (tests: "exactly one note"). */
  notesOf(eventUid: string): StoredNote[] {
    return this.events.get(eventUid)?.notes ?? [];
  }

  /** Tracked entities whose attribute `attribute` equals `value` (tests and demo look-ups). */
  trackedEntitiesWhere(attribute: string, value: string): StoredTrackedEntity[] {
    return [...this.trackedEntities.values()].filter((te) => te.attributes[attribute] === value);
  }

  eventsOfTrackedEntity(trackedEntity: string): StoredEvent[] {
    return (this.enrollmentsByTrackedEntity.get(trackedEntity) ?? []).flatMap(
      (en) => this.eventsByEnrollment.get(en.enrollment) ?? [],
    );
  }
}
