import type { Store } from '../../store/types.ts';
import {
  rmKeys,
  type CaregiverView,
  type ChildRecord,
  type DefaulterList,
  type EventSnapshot,
  type IndexKind,
  type OrgUnitTree,
} from './types.ts';
import type { Deployment } from '../deployment.ts';
import {
  childView,
  defaulterEntries,
  defaulterRule,
  isAppointment,
  sortChildren,
  sortDefaulters,
  withSnapshots,
  type DefaulterRule,
  type DerivedChild,
  type SyncWindow,
} from './views.ts';

/**
 * Store-side operations of the read model: replacing one child's entries in the caregiver and defaulter
 * views and in the per-org-unit lists of children (incremental sync, relayed writes) and the `rm:index:*`
 * bookkeeping that lets a full sync drop views nobody backs any more. Views are whole JSON documents; a
 * change reads, edits and rewrites them.
 */

/** Parallel store writes in bounded groups: ioredis pipelines them, without one huge burst. */
export async function inGroups<T>(items: T[], size: number, f: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(f));
}

/** Read many JSON documents, `chunk` keys per round trip. */
export async function readMany<T>(store: Store, keys: string[], chunk = 500): Promise<Array<T | null>> {
  const out: Array<T | null> = [];
  for (let i = 0; i < keys.length; i += chunk) out.push(...(await store.getJsonMany<T>(keys.slice(i, i + chunk))));
  return out;
}

/** Delete many keys, `chunk` per round trip (one huge DEL would block Redis). */
export async function deleteMany(store: Store, keys: string[], chunk = 500): Promise<void> {
  for (let i = 0; i < keys.length; i += chunk) await store.delete(keys.slice(i, i + chunk));
}

/** A child before and after a change; `next: null` removes the child from every view. */
export interface ChildChange {
  trackedEntity: string;
  prev: ChildRecord | null;
  next: DerivedChild | null;
}

/** Keys created and removed by {@link replaceChildren}, for the indexes. */
export interface IndexDelta {
  add: Record<IndexKind, string[]>;
  remove: Record<IndexKind, string[]>;
  /** Views rewritten (created or changed). */
  written: { caregivers: number; defaulterLists: number };
}

/** A delta that changes nothing, to merge the deltas of several pages into. */
export function emptyDelta(): IndexDelta {
  return {
    add: { caregivers: [], defaulters: [], workers: [], children: [], 'children-ou': [] },
    remove: { caregivers: [], defaulters: [], workers: [], children: [], 'children-ou': [] },
    written: { caregivers: 0, defaulterLists: 0 },
  };
}

/** Add `d` to `into` (in place). */
export function mergeDelta(into: IndexDelta, d: IndexDelta): void {
  for (const kind of Object.keys(into.add) as IndexKind[]) {
    into.add[kind].push(...d.add[kind]);
    into.remove[kind].push(...d.remove[kind]);
  }
  into.written.caregivers += d.written.caregivers;
  into.written.defaulterLists += d.written.defaulterLists;
}

export interface ReplaceOptions {
  today: string;
  syncedAt: number;
  tree?: OrgUnitTree;
  /** Who is a defaulter (the deployment's `defaulters`); unset: DHIS2's OVERDUE on `today`. */
  rule?: DefaulterRule;
}

/**
 * Replace the entries of some children in every view: their caregiver views (old and new phone), their
 * defaulter lists (old and new org units), the children lists of their own org units (old and new), their
 * event snapshots and child records. Views left empty are deleted. Returns the view ids created and removed.
 */
export async function replaceChildren(store: Store, changes: ChildChange[], opts: ReplaceOptions): Promise<IndexDelta> {
  const delta = emptyDelta();
  if (!changes.length) return delta;
  const changed = new Set(changes.map((c) => c.trackedEntity));
  const phones = new Set<string>();
  const orgUnits = new Set<string>();
  const homes = new Set<string>();
  for (const c of changes) {
    if (c.prev?.phone) phones.add(c.prev.phone);
    for (const ou of c.prev?.defaulterOrgUnits ?? []) orgUnits.add(ou);
    if (c.prev?.orgUnit) homes.add(c.prev.orgUnit);
    if (c.next?.record.phone) phones.add(c.next.record.phone);
    for (const ou of c.next?.record.defaulterOrgUnits ?? []) orgUnits.add(ou);
    if (c.next?.record.orgUnit) homes.add(c.next.record.orgUnit);
  }
  const phoneList = [...phones];
  const ouList = [...orgUnits];
  const homeList = [...homes];
  const [caregivers, lists, homeLists] = await Promise.all([
    readMany<CaregiverView>(store, phoneList.map(rmKeys.caregiver)),
    readMany<DefaulterList>(store, ouList.map(rmKeys.defaulters)),
    readMany<string[]>(store, homeList.map(rmKeys.childrenAt)),
  ]);

  const writes: Array<[string, unknown]> = [];
  const deletes: string[] = [];

  phoneList.forEach((phone, i) => {
    const before = caregivers[i];
    const children = (before?.children ?? []).filter((c) => !changed.has(c.trackedEntity));
    let locale = before?.locale;
    for (const c of changes) {
      if (c.next?.record.phone !== phone) continue;
      children.push(childView(c.next, opts.tree));
      if (c.next.record.locale) locale = c.next.record.locale;
    }
    if (!children.length) {
      if (before) {
        deletes.push(rmKeys.caregiver(phone));
        delta.remove.caregivers.push(phone);
      }
      return;
    }
    const view: CaregiverView = { phone, children: sortChildren(children), syncedAt: opts.syncedAt };
    if (locale) view.locale = locale;
    writes.push([rmKeys.caregiver(phone), view]);
    delta.written.caregivers++;
    if (!before) delta.add.caregivers.push(phone);
  });

  ouList.forEach((orgUnit, i) => {
    const before = lists[i];
    const defaulters = (before?.defaulters ?? []).filter((d) => !changed.has(d.trackedEntity));
    for (const c of changes)
      if (c.next)
        defaulters.push(...defaulterEntries(c.next, opts.rule ?? opts.today).filter((d) => d.orgUnit === orgUnit));
    if (!defaulters.length) {
      if (before) {
        deletes.push(rmKeys.defaulters(orgUnit));
        delta.remove.defaulters.push(orgUnit);
      }
      return;
    }
    writes.push([
      rmKeys.defaulters(orgUnit),
      { orgUnit, defaulters: sortDefaulters(defaulters), syncedAt: opts.syncedAt } satisfies DefaulterList,
    ]);
    delta.written.defaulterLists++;
    if (!before) delta.add.defaulters.push(orgUnit);
  });

  // The children of each org unit the changed children were or are at: a child that moved leaves its old
  // list; a list is rewritten only when it changed (a relayed write never moves a child).
  homeList.forEach((orgUnit, i) => {
    const before = homeLists[i];
    const ids = new Set((before ?? []).filter((te) => !changed.has(te)));
    for (const c of changes) if (c.next?.record.orgUnit === orgUnit) ids.add(c.trackedEntity);
    const after = [...ids].sort();
    if (before && sameIds(before, after)) return;
    if (!after.length) {
      if (before) {
        deletes.push(rmKeys.childrenAt(orgUnit));
        delta.remove['children-ou'].push(orgUnit);
      }
      return;
    }
    writes.push([rmKeys.childrenAt(orgUnit), after]);
    if (!before?.length) delta.add['children-ou'].push(orgUnit);
  });

  for (const c of changes) {
    const keep = new Set(c.next?.record.events ?? []);
    for (const uid of c.prev?.events ?? []) if (!keep.has(uid)) deletes.push(rmKeys.event(uid));
    if (c.next) {
      for (const s of c.next.snapshots) writes.push([rmKeys.event(s.event), s]);
      writes.push([rmKeys.child(c.trackedEntity), c.next.record]);
      if (!c.prev) delta.add.children.push(c.trackedEntity);
    } else if (c.prev) {
      deletes.push(rmKeys.child(c.trackedEntity));
      delta.remove.children.push(c.trackedEntity);
    }
  }

  await inGroups(writes, 200, ([key, value]) => store.setJson(key, value));
  await deleteMany(store, deletes);
  return delta;
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Children grouped by their own org unit, each group sorted (what `rm:index:children-ou:{orgUnit}` holds).
 * A child without an org unit is in no group: it is inside no case worker's area.
 *
 * @example groupChildrenByOrgUnit([{ trackedEntity: 'b', orgUnit: 'V1' }, { trackedEntity: 'a', orgUnit: 'V1' }]) // Map { 'V1' => ['a', 'b'] }
 */
export function groupChildrenByOrgUnit(
  children: Iterable<Pick<ChildRecord, 'trackedEntity' | 'orgUnit'>>,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of children) {
    if (!c.orgUnit) continue;
    const list = out.get(c.orgUnit);
    if (list) list.push(c.trackedEntity);
    else out.set(c.orgUnit, [c.trackedEntity]);
  }
  for (const list of out.values()) list.sort();
  return out;
}

/**
 * Replace every per-org-unit list of children with `byOrgUnit` (a full sync, or the first sync after the
 * index was introduced): lists are written, those of org units no longer holding a child are deleted, and
 * the `children-ou` index names exactly the org units written.
 */
export async function writeChildrenByOrgUnit(store: Store, byOrgUnit: Map<string, string[]>): Promise<void> {
  await inGroups([...byOrgUnit], 200, ([orgUnit, ids]) => store.setJson(rmKeys.childrenAt(orgUnit), [...ids].sort()));
  const gone = (await readIndex(store, 'children-ou')).filter((ou) => !byOrgUnit.has(ou));
  await deleteMany(store, gone.map(rmKeys.childrenAt));
  await store.setJson(rmKeys.index('children-ou'), [...byOrgUnit.keys()].sort());
}

/** Build the per-org-unit lists from the child records the read model holds (`chunk` records per read). */
export async function rebuildChildrenByOrgUnit(store: Store, chunk = 500): Promise<void> {
  const ids = await readIndex(store, 'children');
  const homes: Array<Pick<ChildRecord, 'trackedEntity' | 'orgUnit'>> = [];
  for (let i = 0; i < ids.length; i += chunk) {
    for (const r of await store.getJsonMany<ChildRecord>(ids.slice(i, i + chunk).map(rmKeys.child)))
      if (r) homes.push({ trackedEntity: r.trackedEntity, orgUnit: r.orgUnit });
  }
  await writeChildrenByOrgUnit(store, groupChildrenByOrgUnit(homes));
}

/** Read an index (ids that have a view of that kind). */
export async function readIndex(store: Store, kind: IndexKind): Promise<string[]> {
  return (await store.getJson<string[]>(rmKeys.index(kind))) ?? [];
}

/** Apply additions and removals to the indexes that changed (read, edit, write). */
export async function updateIndexes(store: Store, delta: IndexDelta): Promise<void> {
  for (const kind of Object.keys(delta.add) as IndexKind[]) {
    const add = delta.add[kind];
    const remove = new Set(delta.remove[kind]);
    if (!add.length && !remove.size) continue;
    const ids = new Set(await readIndex(store, kind));
    for (const id of remove) ids.delete(id);
    for (const id of add) ids.add(id);
    await store.setJson(rmKeys.index(kind), [...ids].sort());
  }
}

/** What a relayed write did to the read model. */
export interface WriteBackResult {
  /** Events whose snapshot was updated or removed. */
  updated: number;
  /** Events of children the read model does not hold (left for the next sync). */
  unknown: number;
}

/**
 * Keep the read model coherent after DHIS2 accepted writes, without waiting for the next sync: each
 * written event's snapshot is replaced (or removed when it is no longer an appointment), and its child's
 * caregiver and defaulter entries are rebuilt. A child that lost its last appointment stays in its
 * caregiver's view without `next` until the next sync removes it.
 */
export async function applyWrittenEvents(
  store: Store,
  written: EventSnapshot[],
  opts: ReplaceOptions & { deployment: Deployment; window?: SyncWindow },
): Promise<WriteBackResult> {
  const result: WriteBackResult = { updated: 0, unknown: 0 };
  if (!written.length) return result;
  const rule = opts.rule ?? defaulterRule(opts.deployment, opts.today);
  // A child may be written several times in one batch: the last state of each event wins.
  const latest = new Map<string, EventSnapshot>();
  for (const w of written) latest.set(w.event, w);
  const events = [...latest.values()];
  // The fetched event names its tracked entity; fall back to the stored snapshot for older servers.
  const missingTe = events.filter((e) => !e.trackedEntity);
  if (missingTe.length) {
    const stored = await readMany<EventSnapshot>(
      store,
      missingTe.map((e) => rmKeys.event(e.event)),
    );
    missingTe.forEach((e, i) => {
      if (stored[i]?.trackedEntity) e.trackedEntity = stored[i].trackedEntity;
    });
  }
  const byChild = new Map<string, EventSnapshot[]>();
  for (const e of events) {
    if (!e.trackedEntity) {
      result.unknown++;
      continue;
    }
    byChild.set(e.trackedEntity, [...(byChild.get(e.trackedEntity) ?? []), e]);
  }
  const tes = [...byChild.keys()];
  const records = await readMany<ChildRecord>(store, tes.map(rmKeys.child));
  const changes: ChildChange[] = [];
  const known: Array<{ te: string; record: ChildRecord }> = [];
  tes.forEach((te, i) => {
    const record = records[i];
    if (record) known.push({ te, record });
    else result.unknown += byChild.get(te)!.length;
  });
  const snapshotKeys = known.flatMap((k) => k.record.events.map(rmKeys.event));
  const stored = await readMany<EventSnapshot>(store, snapshotKeys);
  const storedById = new Map<string, EventSnapshot>();
  for (const s of stored) if (s) storedById.set(s.event, s);
  for (const { te, record } of known) {
    const mine = byChild.get(te)!;
    const current = new Map<string, EventSnapshot>();
    for (const uid of record.events) {
      const s = storedById.get(uid);
      if (s) current.set(uid, s);
    }
    for (const w of mine) {
      if (isAppointment(w, opts)) current.set(w.event, w);
      else current.delete(w.event);
      result.updated++;
    }
    changes.push({
      trackedEntity: te,
      prev: record,
      next: withSnapshots(record, [...current.values()], rule, mine),
    });
  }
  const delta = await replaceChildren(store, changes, { ...opts, rule });
  // Only defaulter lists can appear or vanish here; caregiver views keep the child.
  await updateIndexes(store, delta);
  return result;
}
