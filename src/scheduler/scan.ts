import type { Dhis2Client } from '../dhis2/client.ts';
import type { Deployment } from '../dhis2/deployment.ts';
import { rmKeys, type CaregiverView } from '../dhis2/readmodel/types.ts';
import { TRACKED_ENTITY_FIELDS } from '../dhis2/readmodel/views.ts';
import type { Dhis2Event, Dhis2TrackedEntity } from '../dhis2/schemas.ts';
import type { Store } from '../store/types.ts';
import {
  caregiversDue,
  childFacts,
  dueChildren,
  eventMarker,
  isOpenAppointmentOn,
  type CaregiverDue,
  type CaregiverRule,
  type DueChild,
} from './decide.ts';

/**
 * Page through the appointments of one day in DHIS2 and hand out, page by page, the caregivers to
 * message: DHIS2 is the authority (status, date, phone, names), the read model only suggests siblings.
 *
 * Memory stays flat however many events the day has: one page of events and the tracked entities it
 * names are held at a time. Children sharing a phone get one message even when their appointments sit
 * on different pages: the first page that meets the phone also fetches the siblings the read model
 * lists for it (`rm:caregiver:{phone}`) and messages about all of them; later pages find those events
 * marked and skip them. A sibling the read model does not know yet (registered since the last sync)
 * is messaged when its own page comes.
 */

export interface ScanDeps {
  dhis2: Dhis2Client;
  store: Store;
  deployment: Deployment;
  defaultCountry?: string;
  /** Events per page and tracked entities per request. */
  pageSize: number;
}

/** What one page of appointments gives the job. */
export interface ScanPage {
  caregivers: CaregiverDue[];
  /** Children due whose phone attribute is empty or unreadable (nobody to message). */
  noPhone: DueChild[];
  /** Every tracked entity fetched for the page (its children and their siblings), with events. */
  entities: Map<string, Dhis2TrackedEntity>;
}

export interface ScanStats {
  /** Event pages read from DHIS2. */
  pages: number;
  /** Appointments DHIS2 listed for the day. */
  events: number;
  /** Of those, already handled by an earlier run (marker set). */
  alreadyDone: number;
  /** Tracked-entity requests made. */
  entityRequests: number;
}

export function emptyScanStats(): ScanStats {
  return { pages: 0, events: 0, alreadyDone: 0, entityRequests: 0 };
}

const EVENT_FIELDS = 'event,trackedEntity,enrollment,programStage,orgUnit,status,scheduledAt,occurredAt,deleted';

/**
 * The caregivers to message for `rule`, one page at a time.
 *
 * @example
 * for await (const page of scanAppointments(deps, rule, stats)) for (const c of page.caregivers) await message(c);
 */
export async function* scanAppointments(
  deps: ScanDeps,
  rule: CaregiverRule,
  stats: ScanStats,
): AsyncGenerator<ScanPage> {
  const { program, stage } = deps.deployment.immunization;
  let buffer: Dhis2Event[] = [];
  const query = {
    program,
    programStage: stage,
    status: 'SCHEDULE' as const,
    scheduledAfter: rule.appointmentDate,
    scheduledBefore: rule.appointmentDate,
    order: 'scheduledAt:asc',
    fields: EVENT_FIELDS,
    pageSize: deps.pageSize,
  };
  let read = 0;
  for await (const e of deps.dhis2.iterateEvents(query)) {
    if (read++ % deps.pageSize === 0) stats.pages++;
    buffer.push(e);
    if (buffer.length >= deps.pageSize) {
      const events = buffer;
      buffer = [];
      yield await processPage(deps, rule, events, stats);
    }
  }
  if (buffer.length) yield await processPage(deps, rule, buffer, stats);
}

async function processPage(
  deps: ScanDeps,
  rule: CaregiverRule,
  events: Dhis2Event[],
  stats: ScanStats,
): Promise<ScanPage> {
  const { store, deployment } = deps;
  const stage = deployment.immunization.stage;
  const open = events.filter((e) => e.trackedEntity && isOpenAppointmentOn(e, rule.appointmentDate, stage));
  stats.events += open.length;
  const done = await Promise.all(open.map((e) => store.isSeen(eventMarker(rule, e.event))));
  const pending = open.filter((_, i) => !done[i]);
  stats.alreadyDone += open.length - pending.length;
  const entities = new Map<string, Dhis2TrackedEntity>();
  if (!pending.length) return { caregivers: [], noPhone: [], entities };

  await fetchEntities(deps, [...new Set(pending.map((e) => e.trackedEntity!))], entities, stats);

  // Siblings on other pages: the read model knows which children share each phone.
  const phones = [
    ...new Set(
      [...entities.values()]
        .map((te) => childFacts(te, deployment, deps.defaultCountry).phone)
        .filter((p): p is string => !!p),
    ),
  ];
  const views = phones.length ? await store.getJsonMany<CaregiverView>(phones.map(rmKeys.caregiver)) : [];
  const siblings = new Set<string>();
  for (const v of views)
    for (const c of v?.children ?? []) if (!entities.has(c.trackedEntity)) siblings.add(c.trackedEntity);
  if (siblings.size) await fetchEntities(deps, [...siblings], entities, stats);

  // Siblings' appointments may have been messaged already (an earlier run, or an earlier page that met
  // a different phone for them): their markers decide.
  const pendingIds = new Set(pending.map((e) => e.event));
  const others: string[] = [];
  for (const te of entities.values()) {
    const facts = childFacts(te, deployment, deps.defaultCountry);
    for (const c of dueChildren(te, rule.appointmentDate, deployment, facts))
      if (!pendingIds.has(c.event)) others.push(c.event);
  }
  const othersDone = await Promise.all(others.map((ev) => store.isSeen(eventMarker(rule, ev))));
  const skip = new Set(others.filter((_, i) => othersDone[i]));
  const { caregivers, noPhone } = caregiversDue(
    entities.values(),
    rule.appointmentDate,
    deployment,
    deps.defaultCountry,
    skip,
  );
  return { caregivers, noPhone: noPhone.filter((c) => pendingIds.has(c.event)), entities };
}

async function fetchEntities(
  deps: ScanDeps,
  uids: string[],
  into: Map<string, Dhis2TrackedEntity>,
  stats: ScanStats,
): Promise<void> {
  for (let i = 0; i < uids.length; i += deps.pageSize) {
    const chunk = uids.slice(i, i + deps.pageSize);
    stats.entityRequests++;
    const page = await deps.dhis2.trackedEntities({
      program: deps.deployment.immunization.program,
      trackedEntities: chunk,
      fields: TRACKED_ENTITY_FIELDS,
      paging: false,
    });
    for (const te of page.items) into.set(te.trackedEntity, te);
  }
}
