import type { Clock } from '../../clock.ts';
import type { Store } from '../../store/types.ts';
import type { Dhis2Client } from '../client.ts';
import type { Deployment } from '../deployment.ts';
import type { Dhis2TrackedEntity } from '../schemas.ts';
import { addDays, dateIn, isTimeZone } from './calendar.ts';
import {
  rmKeys,
  type CaregiverView,
  type ChildRecord,
  type ChildView,
  type DefaulterList,
  type DefaulterView,
  type IndexKind,
  type OrgUnitTree,
  type SyncState,
} from './types.ts';
import type { CaseWorkerSource } from './users.ts';
import {
  caseWorkerView,
  childView,
  defaulterEntries,
  defaulterRule,
  deriveChild,
  noExclusions,
  orgUnitTree,
  sortChildren,
  sortDefaulters,
  TRACKED_ENTITY_FIELDS,
  type DerivedChild,
  type ExclusionCounts,
  type SyncWindow,
  type ViewContext,
} from './views.ts';
import {
  deleteMany,
  emptyDelta,
  groupChildrenByOrgUnit,
  inGroups,
  mergeDelta,
  readIndex,
  readMany,
  rebuildChildrenByOrgUnit,
  replaceChildren,
  updateIndexes,
  writeChildrenByOrgUnit,
  type ChildChange,
} from './writer.ts';

/** The slice of a pino logger the sync uses: counts and codes, never names or phone numbers. */
export interface SyncLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface SyncOptions {
  client: Dhis2Client;
  store: Store;
  deployment: Deployment;
  clock: Clock;
  /** `full` rebuilds every view and drops the ones DHIS2 no longer backs; `incremental` applies what changed. */
  mode: 'incremental' | 'full';
  logger?: SyncLogger;
  /** Case workers come from here; without it `rm:worker:*` is left as it is. */
  users?: CaseWorkerSource;
  /** Country for national-format phone numbers (`DEFAULT_COUNTRY`). */
  defaultCountry?: string;
  /** Missed appointments older than this are not kept. Default: the deployment's `defaulters.lookbackDays`. */
  lookbackDays?: number;
  /** Appointments further ahead than this are not kept. Default 60. */
  horizonDays?: number;
  /** Events per page and tracked entities per request. Default 100. */
  pageSize?: number;
  /** How far before the last watermark an incremental sync looks again (clock skew, slow commits). Default 5 min. */
  overlapMs?: number;
}

export interface SyncStats {
  /** What ran: an incremental sync without a previous watermark runs as `full`. */
  mode: 'incremental' | 'full';
  today: string;
  timeZone: string;
  window: SyncWindow;
  /** Events read from the events endpoint (SCHEDULE in window for full; changed ones for incremental). */
  eventsRead: number;
  /** Tracked entities fetched. */
  trackedEntities: number;
  /** Children with an appointment written (full: all of them; incremental: those changed). */
  children: number;
  /** Appointment snapshots (`rm:event`) held after a full sync, written by an incremental one. */
  appointments: number;
  caregivers: number;
  defaulterLists: number;
  defaulters: number;
  /**
   * Overdue visits (DHIS2's OVERDUE, ACTIVE or not) left off the defaulter lists, by reason: `lookback`
   * (older than the window, counted by DHIS2 in one request on a full sync), `enrollment` (not ACTIVE),
   * `age` (child past `maxAgeMonths`), `grace` (within the grace days). Incremental: of the children changed.
   */
  excluded: ExclusionCounts;
  /** Case worker views written; undefined without a user source or when listing users failed. */
  workers?: number;
  /** Org units fetched (full sync, or an incremental one that found no stored tree). */
  orgUnits?: number;
  removed: { children: number; caregivers: number; defaulterLists: number; workers: number };
  durationMs: number;
}

const DEFAULT_HORIZON_DAYS = 60;
const DEFAULT_OVERLAP_MS = 5 * 60_000;

interface Run {
  opts: SyncOptions;
  ctx: ViewContext & { window: SyncWindow };
  timeZone: string;
  startedAt: Date;
  pageSize: number;
  stats: SyncStats;
}

/**
 * Bring the read model in line with DHIS2 (docs/design.md#a-ussd-hop-never-waits-on-dhis2).
 *
 * Full: every SCHEDULE Immunization event with `scheduledAt` in [today − lookbackDays, today + horizonDays]
 * is read page by page; the tracked entities of each page are fetched in one request by uid list, turned
 * into children, and their snapshots written; caregiver and defaulter views are written at the end, and
 * every view, snapshot and child record not rebuilt is deleted. Incremental: events and tracked entities
 * updated since the last watermark (deleted ones included) name the children to rebuild; after midnight,
 * the appointments that became missed or entered the window are added. Idempotent: running it twice
 * leaves the same views.
 *
 * @example
 * const stats = await syncReadModel({ client, store, deployment, clock, mode: 'incremental', users, defaultCountry: 'KE' });
 */
export async function syncReadModel(opts: SyncOptions): Promise<SyncStats> {
  const began = performance.now();
  const startedAt = opts.clock.now();
  const state = (await opts.store.getJson<SyncState>(rmKeys.sync())) ?? {};
  const mode = opts.mode === 'incremental' && state.lastIncrementalAt ? 'incremental' : 'full';
  const timeZone = await resolveTimeZone(opts);
  const today = dateIn(timeZone, startedAt);
  const window = {
    from: addDays(today, -(opts.lookbackDays ?? opts.deployment.defaulters.lookbackDays)),
    to: addDays(today, opts.horizonDays ?? DEFAULT_HORIZON_DAYS),
  };
  const rule = { ...defaulterRule(opts.deployment, today), from: window.from };
  const run: Run = {
    opts,
    ctx: { deployment: opts.deployment, today, window, rule, defaultCountry: opts.defaultCountry },
    timeZone,
    startedAt,
    pageSize: Math.max(1, opts.pageSize ?? 100),
    stats: {
      mode,
      today,
      timeZone,
      window,
      eventsRead: 0,
      trackedEntities: 0,
      children: 0,
      appointments: 0,
      caregivers: 0,
      defaulterLists: 0,
      defaulters: 0,
      excluded: noExclusions(),
      removed: { children: 0, caregivers: 0, defaulterLists: 0, workers: 0 },
      durationMs: 0,
    },
  };

  if (mode === 'full') await fullSync(run);
  else await incrementalSync(run, state);
  try {
    await syncWorkers(run);
  } catch (err) {
    // A service account without user-read rights still gets caregiver and defaulter views; the case
    // worker views stay as the last successful sync left them.
    opts.logger?.warn(
      { code: 'JIBU_DHIS2_UNAVAILABLE', reason: err instanceof Error ? err.message : String(err) },
      'case workers not synced',
    );
  }

  // Both modes leave `rm:index:children-ou:*` complete (an incremental one builds it when it finds none).
  const next: SyncState = {
    ...state,
    lastIncrementalAt: startedAt.toISOString(),
    timeZone,
    today,
    window,
    childrenByOrgUnit: true,
  };
  if (mode === 'full') {
    next.lastFullAt = startedAt.toISOString();
    next.events = run.stats.appointments;
    next.defaulters = {
      at: startedAt.toISOString(),
      rule,
      count: run.stats.defaulters,
      excluded: run.stats.excluded,
    };
  }
  await opts.store.setJson(rmKeys.sync(), next);
  run.stats.durationMs = Math.round(performance.now() - began);
  const { window: _w, timeZone: _tz, ...counts } = run.stats;
  opts.logger?.info({ ...counts, removed: run.stats.removed }, `read model ${mode} sync done`);
  return run.stats;
}

async function resolveTimeZone(opts: SyncOptions): Promise<string> {
  if (opts.deployment.timeZone) return opts.deployment.timeZone;
  const info = await opts.client.systemInfo();
  const tz = info.serverTimeZoneId;
  if (tz && isTimeZone(tz)) return tz;
  opts.logger?.warn(
    { code: 'JIBU_CONFIG_INVALID', serverTimeZoneId: tz ?? null },
    'DHIS2 did not give a usable time zone and the deployment sets none: judging "today" in UTC',
  );
  return 'UTC';
}

/** Fetch tracked entities by uid (one request per `chunk`) with what the views need. */
async function fetchTrackedEntities(run: Run, uids: string[]): Promise<Map<string, Dhis2TrackedEntity>> {
  const out = new Map<string, Dhis2TrackedEntity>();
  for (let i = 0; i < uids.length; i += run.pageSize) {
    const chunk = uids.slice(i, i + run.pageSize);
    const page = await run.opts.client.trackedEntities({
      program: run.opts.deployment.immunization.program,
      trackedEntities: chunk,
      fields: TRACKED_ENTITY_FIELDS,
      paging: false,
    });
    for (const te of page.items) out.set(te.trackedEntity, te);
  }
  run.stats.trackedEntities += out.size;
  return out;
}

async function loadTree(run: Run, refresh: boolean): Promise<OrgUnitTree> {
  const { store, client } = run.opts;
  if (!refresh) {
    const stored = await store.getJson<OrgUnitTree>(rmKeys.orgUnits());
    if (stored) return stored;
  }
  const tree = orgUnitTree(await client.organisationUnits());
  await store.setJson(rmKeys.orgUnits(), tree);
  run.stats.orgUnits = Object.keys(tree).length;
  return tree;
}

async function fullSync(run: Run): Promise<void> {
  const { store, client, deployment } = run.opts;
  const { ctx, stats } = run;
  ctx.tree = await loadTree(run, true);
  const syncedAt = run.startedAt.getTime();
  const caregivers = new Map<string, { children: ChildView[]; locale?: string }>();
  const defaulters = new Map<string, DefaulterView[]>();
  const seen = new Set<string>();
  const children = new Set<string>();
  const homes: Array<{ trackedEntity: string; orgUnit: string }> = [];
  let buffer: string[] = [];

  // One page of tracked entities at a time: their records and snapshots are written straight away; only
  // the small per-phone and per-org-unit views are kept until the end.
  const flush = async () => {
    const uids = buffer;
    buffer = [];
    if (!uids.length) return;
    const [entities, previous] = await Promise.all([
      fetchTrackedEntities(run, uids),
      readMany<ChildRecord>(store, uids.map(rmKeys.child)),
    ]);
    const writes: Array<[string, unknown]> = [];
    const stale: string[] = [];
    uids.forEach((uid, i) => {
      const te = entities.get(uid);
      const d = te ? deriveChild(te, ctx) : null;
      const keep = new Set(d?.record.events ?? []);
      for (const e of previous[i]?.events ?? []) if (!keep.has(e)) stale.push(rmKeys.event(e));
      if (!d) return;
      children.add(uid);
      homes.push({ trackedEntity: uid, orgUnit: d.record.orgUnit });
      stats.appointments += d.snapshots.length;
      for (const s of d.snapshots) writes.push([rmKeys.event(s.event), s]);
      writes.push([rmKeys.child(uid), d.record]);
      collect(d, caregivers, defaulters, run);
    });
    await inGroups(writes, 200, ([k, v]) => store.setJson(k, v));
    await deleteMany(store, stale);
  };

  stats.excluded.lookback = await countOlderOverdue(run);
  for await (const e of client.iterateEvents({
    program: deployment.immunization.program,
    programStage: deployment.immunization.stage,
    status: 'SCHEDULE',
    scheduledAfter: ctx.window.from,
    scheduledBefore: ctx.window.to,
    order: 'scheduledAt:asc',
    fields: 'event,trackedEntity',
    pageSize: run.pageSize,
  })) {
    stats.eventsRead++;
    if (!e.trackedEntity || seen.has(e.trackedEntity)) continue;
    seen.add(e.trackedEntity);
    buffer.push(e.trackedEntity);
    if (buffer.length >= run.pageSize) await flush();
  }
  await flush();
  stats.children = children.size;

  // Views: write all, then drop those of the previous run that nothing backs any more.
  const caregiverWrites: Array<[string, CaregiverView]> = [...caregivers].map(([phone, c]) => {
    const view: CaregiverView = { phone, children: sortChildren(c.children), syncedAt };
    if (c.locale) view.locale = c.locale;
    return [rmKeys.caregiver(phone), view];
  });
  const defaulterWrites: Array<[string, DefaulterList]> = [...defaulters].map(([orgUnit, list]) => [
    rmKeys.defaulters(orgUnit),
    { orgUnit, defaulters: sortDefaulters(list), syncedAt },
  ]);
  await inGroups([...caregiverWrites, ...defaulterWrites], 200, ([k, v]) => store.setJson(k, v));
  stats.caregivers = caregivers.size;
  stats.defaulterLists = defaulters.size;
  stats.defaulters = [...defaulters.values()].reduce((n, l) => n + l.length, 0);

  const [oldCaregivers, oldLists, oldChildren] = await Promise.all([
    readIndex(store, 'caregivers'),
    readIndex(store, 'defaulters'),
    readIndex(store, 'children'),
  ]);
  const goneCaregivers = oldCaregivers.filter((p) => !caregivers.has(p));
  const goneLists = oldLists.filter((ou) => !defaulters.has(ou));
  const goneChildren = oldChildren.filter((te) => !children.has(te));
  const goneRecords = await readMany<ChildRecord>(store, goneChildren.map(rmKeys.child));
  await deleteMany(store, [
    ...goneCaregivers.map(rmKeys.caregiver),
    ...goneLists.map(rmKeys.defaulters),
    ...goneChildren.map(rmKeys.child),
    ...goneRecords.flatMap((r) => (r?.events ?? []).map(rmKeys.event)),
  ]);
  stats.removed.caregivers = goneCaregivers.length;
  stats.removed.defaulterLists = goneLists.length;
  stats.removed.children = goneChildren.length;
  await writeIndex(run, 'caregivers', [...caregivers.keys()]);
  await writeIndex(run, 'defaulters', [...defaulters.keys()]);
  await writeIndex(run, 'children', [...children]);
  await writeChildrenByOrgUnit(store, groupChildrenByOrgUnit(homes));
}

/**
 * Overdue visits in ACTIVE enrollments older than the window: DHIS2 counts them (one request, one row),
 * so the admin sees how many the lookback leaves out without the sync reading them.
 */
async function countOlderOverdue(run: Run): Promise<number> {
  const { client, deployment } = run.opts;
  const page = await client.events({
    program: deployment.immunization.program,
    programStage: deployment.immunization.stage,
    status: 'OVERDUE',
    enrollmentStatus: 'ACTIVE',
    scheduledBefore: addDays(run.ctx.window.from, -1),
    fields: 'event',
    pageSize: 1,
    totalPages: true,
  });
  return page.total ?? page.items.length;
}

function collect(
  d: DerivedChild,
  caregivers: Map<string, { children: ChildView[]; locale?: string }>,
  defaulters: Map<string, DefaulterView[]>,
  run: Run,
): void {
  const phone = d.record.phone;
  if (phone) {
    const c = caregivers.get(phone) ?? { children: [] };
    c.children.push(childView(d, run.ctx.tree));
    if (d.record.locale) c.locale = d.record.locale;
    caregivers.set(phone, c);
  }
  // Appended in place: copying the list per entry cost O(n²) for a facility with thousands of defaulters.
  for (const entry of defaulterEntries(d, run.ctx.rule!, run.stats.excluded)) {
    const list = defaulters.get(entry.orgUnit);
    if (list) list.push(entry);
    else defaulters.set(entry.orgUnit, [entry]);
  }
}

async function writeIndex(run: Run, kind: IndexKind, ids: string[]): Promise<void> {
  await run.opts.store.setJson(rmKeys.index(kind), [...ids].sort());
}

async function incrementalSync(run: Run, state: SyncState): Promise<void> {
  const { store, client, deployment } = run.opts;
  const { ctx, stats } = run;
  ctx.tree = await loadTree(run, false);
  const since = new Date(Date.parse(state.lastIncrementalAt!) - (run.opts.overlapMs ?? DEFAULT_OVERLAP_MS));
  const { program, stage } = deployment.immunization;
  const affected = new Set<string>();
  const delta = emptyDelta();
  let buffer: string[] = [];

  const flush = async () => {
    const uids = buffer;
    buffer = [];
    if (!uids.length) return;
    const [entities, previous] = await Promise.all([
      fetchTrackedEntities(run, uids),
      readMany<ChildRecord>(store, uids.map(rmKeys.child)),
    ]);
    const changes: ChildChange[] = [];
    uids.forEach((uid, i) => {
      const te = entities.get(uid);
      const next = te ? deriveChild(te, ctx) : null;
      const prev = previous[i] ?? null;
      if (!next && !prev) return;
      changes.push({ trackedEntity: uid, prev, next });
      if (next) {
        stats.children++;
        stats.appointments += next.snapshots.length;
        stats.defaulters += defaulterEntries(next, ctx.rule!, stats.excluded).length;
      }
    });
    mergeDelta(
      delta,
      await replaceChildren(store, changes, {
        today: ctx.today,
        rule: ctx.rule!,
        syncedAt: run.startedAt.getTime(),
        tree: ctx.tree,
      }),
    );
  };
  const touch = async (te: string | undefined) => {
    if (!te || affected.has(te)) return;
    affected.add(te);
    buffer.push(te);
    if (buffer.length >= run.pageSize) await flush();
  };

  // Changed events, deleted ones included: completed, skipped, deleted or moved appointments leave the views.
  for await (const e of client.iterateEvents({
    program,
    programStage: stage,
    updatedAfter: since,
    includeDeleted: true,
    fields: 'event,trackedEntity',
    pageSize: run.pageSize,
  })) {
    stats.eventsRead++;
    await touch(e.trackedEntity);
  }
  // Changed children: a new phone number or name must reach the views even when no event changed.
  for await (const te of client.iterateTrackedEntities({
    program,
    orgUnitMode: 'ACCESSIBLE',
    updatedAfter: since,
    includeDeleted: true,
    fields: 'trackedEntity',
    pageSize: run.pageSize,
  })) {
    await touch(te.trackedEntity);
  }
  // After midnight, yesterday's appointments became missed and new days entered the window; nothing in
  // DHIS2 changed for them, so no `updatedAfter` finds them.
  if (state.today && state.today < ctx.today) {
    const ranges: SyncWindow[] = [
      { from: state.today < ctx.window.from ? ctx.window.from : state.today, to: addDays(ctx.today, -1) },
    ];
    if (state.window && state.window.to < ctx.window.to)
      ranges.push({ from: addDays(state.window.to, 1), to: ctx.window.to });
    for (const r of ranges) {
      if (r.from > r.to) continue;
      for await (const e of client.iterateEvents({
        program,
        programStage: stage,
        status: 'SCHEDULE',
        scheduledAfter: r.from,
        scheduledBefore: r.to,
        fields: 'event,trackedEntity',
        pageSize: run.pageSize,
      })) {
        stats.eventsRead++;
        await touch(e.trackedEntity);
      }
    }
  }
  await flush();
  await updateIndexes(store, delta);
  // A read model written before the per-org-unit lists existed gets them once, from its child records.
  if (!state.childrenByOrgUnit) await rebuildChildrenByOrgUnit(store);
  stats.caregivers = delta.written.caregivers;
  stats.defaulterLists = delta.written.defaulterLists;
  stats.removed.children = delta.remove.children.length;
  stats.removed.caregivers = delta.remove.caregivers.length;
  stats.removed.defaulterLists = delta.remove.defaulters.length;
}

async function syncWorkers(run: Run): Promise<void> {
  const { users, store, defaultCountry } = run.opts;
  if (!users) return;
  const views = new Map<string, ReturnType<typeof caseWorkerView>>();
  for (const u of await users.usersWithPhone()) {
    const v = caseWorkerView(u, defaultCountry, run.ctx.tree);
    // Two accounts on one phone: the first enabled one wins, as a phone can only be one worker.
    if (v && !views.has(v.phone)) views.set(v.phone, v);
  }
  await inGroups([...views], 200, ([phone, v]) => store.setJson(rmKeys.worker(phone), v));
  const old = await readIndex(store, 'workers');
  const gone = old.filter((p) => !views.has(p));
  await deleteMany(store, gone.map(rmKeys.worker));
  await writeIndex(run, 'workers', [...views.keys()]);
  run.stats.workers = views.size;
  run.stats.removed.workers = gone.length;
}
