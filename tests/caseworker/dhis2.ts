import { EIR, type Emulator } from '../../src/emulator/index.ts';

/** What tests read back from the emulator: DHIS2 as the system of record after the relay ran. */

type State = Emulator['state'];
type StoredEvent = State['events'] extends Map<string, infer E> ? E : never;
type StoredEnrollment = State['enrollments'] extends Map<string, infer E> ? E : never;
type StoredTrackedEntity = State['trackedEntities'] extends Map<string, infer E> ? E : never;

/** The parts of an event Jibu may change, as comparable text. */
const eventKey = (e: StoredEvent) =>
  JSON.stringify([
    e.status,
    e.scheduledAt,
    e.occurredAt,
    e.followUp,
    e.deleted,
    (e.notes ?? []).map((n) => n.value),
    (e.dataValues ?? []).map((d) => [d.dataElement, d.value]),
  ]);

export interface Dhis2Snapshot {
  events: Map<string, string>;
  enrollments: Set<string>;
  trackedEntities: Set<string>;
}

export function snapshot(em: Emulator): Dhis2Snapshot {
  return {
    events: new Map([...em.state.events.values()].map((e) => [e.event, eventKey(e)])),
    enrollments: new Set(em.state.enrollments.keys()),
    trackedEntities: new Set(em.state.trackedEntities.keys()),
  };
}

export interface Dhis2Diff {
  changed: StoredEvent[];
  created: StoredEvent[];
  enrollments: StoredEnrollment[];
  trackedEntities: StoredTrackedEntity[];
}

/** Everything that changed in DHIS2 since `before`. */
export function changesSince(em: Emulator, before: Dhis2Snapshot): Dhis2Diff {
  const events = [...em.state.events.values()];
  return {
    changed: events.filter((e) => before.events.has(e.event) && before.events.get(e.event) !== eventKey(e)),
    created: events.filter((e) => !before.events.has(e.event)),
    enrollments: [...em.state.enrollments.values()].filter((e) => !before.enrollments.has(e.enrollment)),
    trackedEntities: [...em.state.trackedEntities.values()].filter((t) => !before.trackedEntities.has(t.trackedEntity)),
  };
}

/** The tracked entities of demo children by first name and surname (generated names repeat), in an org unit. */
export function childrenNamed(em: Emulator, name: string, orgUnit?: string): StoredTrackedEntity[] {
  const [first, last] = name.split(' ');
  return [...em.state.trackedEntities.values()].filter(
    (t) =>
      t.attributes[EIR.attributes.firstName] === first &&
      t.attributes[EIR.attributes.surname] === last &&
      (!orgUnit || t.orgUnit === orgUnit),
  );
}

/** A child's Immunization events, scheduled first, by scheduled date. */
export function immunizationEvents(em: Emulator, trackedEntity: string): StoredEvent[] {
  return [...em.state.events.values()]
    .filter((e) => e.trackedEntity === trackedEntity && e.programStage === EIR.immunizationStage && !e.deleted)
    .sort((a, b) => (a.scheduledAt ?? 0) - (b.scheduledAt ?? 0));
}

/** The missed (SCHEDULE, in the past) visit of the one demo child of that name (and org unit) who has one. */
export function missedVisit(em: Emulator, name: string, orgUnit?: string): StoredEvent {
  const today = em.today();
  const missed = childrenNamed(em, name, orgUnit).flatMap((te) =>
    immunizationEvents(em, te.trackedEntity).filter(
      (x) => x.status === 'SCHEDULE' && x.scheduledAt !== undefined && em.time.dateOf(x.scheduledAt) < today,
    ),
  );
  if (missed.length !== 1) throw new Error(`${missed.length} missed visits of children named ${name}`);
  return missed[0]!;
}

/** `YYYY-MM-DD` of a stored timestamp, in the server's time zone. */
export const dateOf = (em: Emulator, ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : em.time.dateOf(ms);
