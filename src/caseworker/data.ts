import { z } from 'zod';
import type { Deployment } from '../dhis2/deployment.ts';
import { dateIn } from '../dhis2/readmodel/calendar.ts';
import { getCaregiver, getCaseWorker } from '../dhis2/readmodel/read.ts';
import {
  rmKeys,
  type ChildRecord,
  type DefaulterList,
  type OrgUnitTree,
  type SyncState,
} from '../dhis2/readmodel/types.ts';
import { sortDefaulters } from '../dhis2/readmodel/views.ts';
import { readIndex, readMany } from '../dhis2/readmodel/writer.ts';
import { sessionKey } from '../conversation/runner.ts';
import type { Store } from '../store/types.ts';
import { credentialKey, parseCredential, recentOtps, type Credential } from './credentials.ts';
import { ageInMonths, clipName, daysFrom, inScope, nameMatches, similarNames } from './people.ts';

/**
 * The `caseWorker` data a case worker's conversation reads on every hop, from the read model only
 * (docs/design.md#a-ussd-hop-never-waits-on-dhis2). Everything a list shows or an action may write is
 * already cut to the worker's org units here; the actions check again at write time against
 * {@link CaseWorkerData.trusted}, which this loader builds from the same scoped reads.
 *
 * A search result or a filtered list depends on what the worker chose. The runner gives the loader the
 * case-worker flow's variables and records which ones it reads (`findBy`, `searchPhone`, `filter`,
 * `prefix`, ...): when a step changes one of them, the runner loads again within the same hop, so choosing
 * a filter shows its first page at once. Called without them (benches), the loader reads the stored
 * session instead.
 */

/** The flow whose session variables the loader reads. */
export const CASEWORKER_FLOW = 'caseworker';

export interface WorkerInfo {
  userId: string;
  username: string;
  name: string;
  /** First word of the name, for greetings. */
  first: string;
  phone: string;
  /** Capture org unit ids: the scope. */
  orgUnits: string[];
  /** Where births and deaths the worker notifies are recorded: their first capture org unit. */
  home: { id: string; name: string };
}

export interface CredentialInfo {
  state: 'none' | 'set' | 'locked';
  tries: number;
  /** Locks since the last successful sign-in (the next lock lasts twice as long). */
  locks: number;
  lockedUntil?: number;
  hash?: string;
  salt?: string;
  params?: { N: number; r: number; p: number };
  /** The hash was made with the server's pepper. */
  peppered?: true;
  userId?: string;
  /** Operation ids already applied (a step's failed tries not yet in this list are still on their way). */
  applied: string[];
  /** Codes sent in the last hour. */
  otpRecent: number;
}

export interface DefaulterItem {
  event: string;
  enrollment: string;
  trackedEntity: string;
  name: string;
  /** First name and surname initial (`Kiruba O.`): a list line that leaves room for three children a screen. */
  short: string;
  /** Age in whole months, as digits (`?` when the date of birth is unknown). */
  age: string;
  /** Days since the missed visit. */
  days: number;
  scheduledAt: string;
  orgUnit: string;
  village: string;
  caregiverPhone: string;
}

export interface ChildItem {
  kind: 'child' | 'new';
  trackedEntity: string;
  name: string;
  /** Age in whole months, as digits (`?` when unknown). */
  age: string;
  dateOfBirth: string;
  orgUnit: string;
  village: string;
  caregiverPhone: string;
  /** The latest Immunization visit (an AEFI report attaches to it), or ''. */
  latestEvent: string;
}

/** How late a missed visit is, for the list's filters: over 90 days, 30 to 90, under 30. */
export const LATENESS = { over90: [91, Infinity], d30to90: [30, 90], under30: [0, 29] } as const;
export type Lateness = keyof typeof LATENESS;

/**
 * One choice of the list's filter menu (`filter` variable): `all`, a lateness ({@link LATENESS}), `name`
 * (then the first letters, `prefix`), or an org unit id. `count` is exact: the children that choice lists.
 */
export interface FilterItem {
  id: string;
  name: string;
  count: number;
}

/** What actions may write to: every child and missed event this hop's scoped reads returned. */
export interface Trusted {
  children: Record<
    string,
    { orgUnit: string; path: string; enrollment?: string; latestEvent?: string; scheduled?: string[] }
  >;
  events: Record<string, { trackedEntity: string; enrollment: string; orgUnit: string; path: string }>;
}

export interface CaseWorkerData {
  worker: WorkerInfo;
  cred: CredentialInfo;
  /** Today in the programme's time zone. */
  today: string;
  /** The stored session says this worker signed in (lists are only filled then). */
  signedIn: boolean;
  defaulterCount: number;
  /** The list is long enough to offer filters first (place, lateness, name). */
  long: boolean;
  /** The filter menu: all, name, lateness, then each place with its count (empty choices left out). */
  filters: FilterItem[];
  /** Every missed visit in scope, oldest first (minus those handled in this session). */
  defaulters: DefaulterItem[];
  /** The same, through the filter chosen (`filter`, and `prefix` for a name). */
  filtered: DefaulterItem[];
  filteredCount: number;
  /** Children found by the last search (`findBy`, `searchPhone`, `searchName`). */
  found: ChildItem[];
  /** A `new` item, then the possible duplicates of the person being notified; empty when there is none. */
  duplicates: ChildItem[];
  trusted: Trusted;
}

export interface LoaderOptions {
  /** More missed visits than this: offer filters first. Default 8. */
  longList?: number;
  /** Most children a search returns. Default 20. */
  maxFound?: number;
}

/** The session variables the loader reads (lenient: anything unexpected is ignored). */
const PeekSchema = z.object({
  flowId: z.string(),
  snapshot: z.object({ context: z.object({ vars: z.record(z.string(), z.unknown()) }) }),
});

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
const field = (v: unknown, k: string): unknown =>
  v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;

/** The previous hop's variables of the caller's case-worker session, or {}. */
async function peekVars(store: Store, phone: string): Promise<Record<string, unknown>> {
  const parsed = PeekSchema.safeParse(await store.getSession(sessionKey('ussd', phone)));
  return parsed.success && parsed.data.flowId === CASEWORKER_FLOW ? parsed.data.snapshot.context.vars : {};
}

interface ScopeChild {
  trackedEntity: string;
  enrollment: string;
  name: string;
  firstName: string;
  dateOfBirth?: string;
  orgUnit: string;
  phone?: string;
  latestEvent?: string;
  events: string[];
}

/**
 * Per store: the org unit tree and the children of the worker scopes searched lately, kept until the next
 * sync (a dial re-runs the same search or duplicate check on each hop while its answers are on screen).
 * Bounded: at most {@link CACHE_SCOPES} scopes and {@link CACHE_CHILDREN} children over all of them, the
 * least recently used scope leaving first. A scope larger than the whole budget (a national supervisor)
 * is kept alone, so memory never exceeds one copy of the registry, where it used to hold one per scope.
 */
interface Cache {
  stamp: string;
  tree: OrgUnitTree;
  /** Scope key -> its children; Map order is recency (a hit moves the entry to the end). */
  children: Map<string, ScopeChild[]>;
  /** Children held over all scopes. */
  held: number;
}
const CACHE_SCOPES = 64;
const CACHE_CHILDREN = 50_000;
const caches = new WeakMap<Store, Cache>();

async function cacheFor(store: Store, sync: SyncState | null): Promise<Cache> {
  const stamp = `${sync?.lastFullAt ?? ''}|${sync?.lastIncrementalAt ?? ''}`;
  const cached = caches.get(store);
  if (cached && cached.stamp === stamp) return cached;
  const tree = (await store.getJson<OrgUnitTree>(rmKeys.orgUnits())) ?? {};
  const fresh: Cache = { stamp, tree, children: new Map(), held: 0 };
  caches.set(store, fresh);
  return fresh;
}

function cached(cache: Cache, key: string): ScopeChild[] | undefined {
  const hit = cache.children.get(key);
  if (hit) {
    cache.children.delete(key);
    cache.children.set(key, hit);
  }
  return hit;
}

/** Cache a scope's children: the least recently used scopes leave until it fits (a scope over budget stays alone). */
function keep(cache: Cache, key: string, children: ScopeChild[]): void {
  for (const [oldest, list] of cache.children) {
    if (cache.children.size < CACHE_SCOPES && cache.held + children.length <= CACHE_CHILDREN) break;
    cache.children.delete(oldest);
    cache.held -= list.length;
  }
  cache.children.set(key, children);
  cache.held += children.length;
}

const pathOf = (tree: OrgUnitTree, ou: string): string => tree[ou]?.path ?? '';

function scopeChild(r: ChildRecord): ScopeChild {
  return {
    trackedEntity: r.trackedEntity,
    enrollment: r.enrollment,
    name: [r.firstName, r.surname].filter(Boolean).join(' '),
    firstName: r.firstName,
    ...(r.dateOfBirth ? { dateOfBirth: r.dateOfBirth } : {}),
    orgUnit: r.orgUnit,
    ...((r.phone ?? r.rawPhone) ? { phone: r.phone ?? r.rawPhone } : {}),
    ...(r.latestEvent ? { latestEvent: r.latestEvent } : {}),
    events: r.events,
  };
}

/**
 * The ids of the children at the org units inside `orgUnits`' subtrees, sorted like `rm:index:children`
 * (searches keep their order and their cut at `maxFound`). The tree names the org units in scope; only
 * their `rm:index:children-ou:*` lists are read.
 */
async function idsInScope(store: Store, tree: OrgUnitTree, orgUnits: readonly string[]): Promise<string[]> {
  const inside = Object.keys(tree).filter((ou) => inScope(pathOf(tree, ou), orgUnits));
  const lists = await readMany<string[]>(store, inside.map(rmKeys.childrenAt));
  const ids = new Set<string>();
  for (const l of lists) for (const te of l ?? []) ids.add(te);
  return [...ids].sort();
}

/**
 * Every child of the read model inside the worker's org units, read only when a search or a duplicate
 * check needs it: the children lists of the org units in scope, then those children's records. Each
 * record's own org unit decides again, so a list a concurrent move left behind never widens the scope.
 * A read model that has no per-org-unit lists yet (`SyncState.childrenByOrgUnit`, written before they
 * existed and not synced since) is scanned whole instead, as it always was.
 */
async function childrenInScope(
  store: Store,
  cache: Cache,
  worker: WorkerInfo,
  indexed: boolean,
): Promise<ScopeChild[]> {
  const key = [...worker.orgUnits].sort().join(',');
  const hit = cached(cache, key);
  if (hit) return hit;
  const ids = indexed ? await idsInScope(store, cache.tree, worker.orgUnits) : await readIndex(store, 'children');
  const records = await readMany<ChildRecord>(store, ids.map(rmKeys.child));
  const out: ScopeChild[] = [];
  for (const r of records) if (r && inScope(pathOf(cache.tree, r.orgUnit), worker.orgUnits)) out.push(scopeChild(r));
  keep(cache, key, out);
  return out;
}

function workerInfo(view: NonNullable<Awaited<ReturnType<typeof getCaseWorker>>>, tree: OrgUnitTree): WorkerInfo {
  const home = view.orgUnits[0]?.id ?? '';
  return {
    userId: view.userId,
    username: view.username,
    name: clipName(view.name, 30),
    first: clipName(view.name.split(' ')[0] ?? view.name, 16),
    phone: view.phone,
    orgUnits: view.orgUnits.map((o) => o.id),
    home: { id: home, name: clipName(tree[home]?.name ?? home, 30) },
  };
}

function credentialInfo(doc: Credential | null, now: number): CredentialInfo {
  const base = {
    tries: doc?.tries ?? 0,
    locks: doc?.locks ?? 0,
    applied: doc?.applied ?? [],
    otpRecent: recentOtps(doc, now),
  };
  if (!doc?.hash || !doc.salt) return { state: 'none', ...base };
  const info: CredentialInfo = {
    state: doc.lockedUntil !== undefined && doc.lockedUntil > now ? 'locked' : 'set',
    ...base,
    hash: doc.hash,
    salt: doc.salt,
  };
  if (doc.params) info.params = doc.params;
  if (doc.peppered) info.peppered = true;
  if (doc.userId) info.userId = doc.userId;
  if (doc.lockedUntil !== undefined) info.lockedUntil = doc.lockedUntil;
  return info;
}

function childItem(
  c: {
    trackedEntity: string;
    name: string;
    dateOfBirth?: string;
    orgUnit: string;
    phone?: string;
    latestEvent?: string;
  },
  tree: OrgUnitTree,
  today: string,
): ChildItem {
  return {
    kind: 'child',
    trackedEntity: c.trackedEntity,
    name: clipName(c.name || '?'),
    age: String(ageInMonths(c.dateOfBirth, today) ?? '?'),
    dateOfBirth: c.dateOfBirth ?? '',
    orgUnit: c.orgUnit,
    village: clipName(tree[c.orgUnit]?.name ?? '', 18),
    caregiverPhone: c.phone ?? '',
    latestEvent: c.latestEvent ?? '',
  };
}

/** `Kiruba O.`: the first name (clipped) and the surname's initial. */
function shortName(name: string): string {
  const [first = '?', ...rest] = clipName(name || '?', 60).split(' ');
  const initial = rest.at(-1)?.[0];
  return `${clipName(first, 10)}${initial ? ` ${initial.toUpperCase()}.` : ''}`;
}

const lateness = (d: DefaulterItem, l: Lateness) => d.days >= LATENESS[l][0] && d.days <= LATENESS[l][1];

/** The filter menu over `all`: everything, a name search, each lateness, then places by count. */
function filterItems(all: DefaulterItem[], tree: OrgUnitTree): FilterItem[] {
  // The name search stays on the first screen in every language: any child in four hops from the menu.
  const out: FilterItem[] = [
    { id: 'all', name: '', count: all.length },
    { id: 'name', name: '', count: all.length },
  ];
  for (const l of Object.keys(LATENESS) as Lateness[]) {
    const count = all.filter((d) => lateness(d, l)).length;
    if (count) out.push({ id: l, name: '', count });
  }
  const counts = new Map<string, number>();
  for (const d of all) counts.set(d.orgUnit, (counts.get(d.orgUnit) ?? 0) + 1);
  const places = [...counts]
    .map(([orgUnit, count]) => ({ id: orgUnit, name: clipName(tree[orgUnit]?.name ?? orgUnit, 20), count }))
    .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  return [...out, ...places];
}

/** The children a filter lists, still oldest first. A name matches when a word of it starts with `prefix`. */
function applyFilter(all: DefaulterItem[], filter: string | undefined, prefix: string | undefined): DefaulterItem[] {
  if (!filter || filter === 'all') return all;
  if (filter === 'name') return prefix ? all.filter((d) => nameMatches(prefix, d.name)) : [];
  if (filter in LATENESS) return all.filter((d) => lateness(d, filter as Lateness));
  return all.filter((d) => d.orgUnit === filter);
}

/** The `new` choice closing a duplicate list ("none of these: a new child"). */
const NEW_ITEM: ChildItem = {
  kind: 'new',
  trackedEntity: '',
  name: '',
  age: '',
  dateOfBirth: '',
  orgUnit: '',
  village: '',
  caregiverPhone: '',
  latestEvent: '',
};

/**
 * Load the `caseWorker` data for the caller, or null when the phone is not an enabled DHIS2 user (the
 * role then keeps them out of the case-worker flow). One store read for anyone else. `conversation` is
 * the case-worker flow's variables as the runner gives them; without it, the stored session's.
 *
 * @example const data = await loadCaseWorkerData(store, deployment, '+254711000001', new Date())
 */
export async function loadCaseWorkerData(
  store: Store,
  deployment: Deployment,
  phone: string,
  now: Date,
  opts: LoaderOptions = {},
  conversation?: Readonly<Record<string, unknown>>,
): Promise<CaseWorkerData | null> {
  const view = await getCaseWorker(store, phone);
  if (!view) return null;
  const [rawCred, sync, vars] = await Promise.all([
    store.getJson(credentialKey(phone)),
    store.getJson<SyncState>(rmKeys.sync()),
    conversation ?? peekVars(store, phone),
  ]);
  const cache = await cacheFor(store, sync);
  const { tree } = cache;
  const indexed = sync?.childrenByOrgUnit === true;
  const worker = workerInfo(view, tree);
  const today = dateIn(deployment.timeZone ?? sync?.timeZone ?? 'UTC', now);
  const signedIn = str(vars.signedInAs) === worker.userId;
  const trusted: Trusted = { children: {}, events: {} };
  const allow = (path: string) => inScope(path, worker.orgUnits);

  // Missed visits: the lists of the org units inside the worker's subtrees.
  const withLists = await readIndex(store, 'defaulters');
  const lists = await readMany<DefaulterList>(
    store,
    withLists.filter((ou) => allow(pathOf(tree, ou))).map(rmKeys.defaulters),
  );
  const byEvent = new Map<string, DefaulterList['defaulters'][number]>();
  for (const l of lists)
    for (const d of l?.defaulters ?? []) if (allow(pathOf(tree, d.orgUnit))) byEvent.set(d.event, d);
  const handled = new Set(
    Array.isArray(vars.handled) ? vars.handled.filter((x): x is string => typeof x === 'string') : [],
  );
  const all: DefaulterItem[] = [];
  for (const d of sortDefaulters([...byEvent.values()])) {
    const path = pathOf(tree, d.orgUnit);
    trusted.events[d.event] = { trackedEntity: d.trackedEntity, enrollment: d.enrollment, orgUnit: d.orgUnit, path };
    trusted.children[d.trackedEntity] ??= { orgUnit: d.orgUnit, path, enrollment: d.enrollment };
    if (handled.has(d.event)) continue;
    all.push({
      event: d.event,
      enrollment: d.enrollment,
      trackedEntity: d.trackedEntity,
      name: clipName(d.name || '?'),
      short: shortName(d.name),
      age: String(ageInMonths(d.dateOfBirth, today) ?? '?'),
      days: Math.max(0, daysFrom(d.scheduledAt, today)),
      scheduledAt: d.scheduledAt,
      orgUnit: d.orgUnit,
      village: clipName(tree[d.orgUnit]?.name ?? '', 18),
      caregiverPhone: d.caregiverPhone ?? '',
    });
  }
  const filters = filterItems(all, tree);
  const filtered = applyFilter(all, str(vars.filter), str(vars.prefix));

  // Searches and duplicate checks, from what the previous hop saved.
  const max = opts.maxFound ?? 20;
  let found: ChildItem[] = [];
  let duplicates: ChildItem[] = [];
  const remember = (
    c: ScopeChild | { trackedEntity: string; orgUnit: string; enrollment?: string; latestEvent?: string },
  ) => {
    const path = pathOf(tree, c.orgUnit);
    const known = trusted.children[c.trackedEntity];
    trusted.children[c.trackedEntity] = {
      ...known,
      orgUnit: c.orgUnit,
      path,
      ...(c.enrollment ? { enrollment: c.enrollment } : {}),
      ...(c.latestEvent ? { latestEvent: c.latestEvent } : {}),
    };
  };
  const byPhone = async (p: string) => {
    const cg = await getCaregiver(store, p);
    return (cg?.children ?? [])
      .filter((c) => allow(pathOf(tree, c.orgUnit)))
      .map((c) => ({
        trackedEntity: c.trackedEntity,
        enrollment: c.enrollment,
        name: [c.firstName, c.surname].filter(Boolean).join(' '),
        firstName: c.firstName,
        ...(c.dateOfBirth ? { dateOfBirth: c.dateOfBirth } : {}),
        orgUnit: c.orgUnit,
        phone: p,
        ...(c.latestEvent ? { latestEvent: c.latestEvent } : {}),
        events: [] as string[],
      }));
  };
  if (signedIn) {
    const findBy = str(vars.findBy);
    const searchPhone = str(vars.searchPhone);
    const searchName = str(vars.searchName);
    let hits: ScopeChild[] = [];
    if (findBy === 'phone' && searchPhone) hits = await byPhone(searchPhone);
    else if (findBy === 'name' && searchName)
      hits = (await childrenInScope(store, cache, worker, indexed)).filter((c) => nameMatches(searchName, c.name));
    hits = hits.slice(0, max);
    hits.forEach(remember);
    found = hits.map((c) => childItem(c, tree, today));

    const purpose = str(vars.purpose);
    const dob = str(vars.dob);
    const name = str(vars.name) ?? '';
    const carerPhone = purpose === 'birth' ? str(vars.carerPhone) : undefined;
    // Checked once the last answer is in (the flow shows a summary screen on that hop).
    if (dob && ((purpose === 'birth' && carerPhone) || (purpose === 'death' && name))) {
      const scope = await childrenInScope(store, cache, worker, indexed);
      // Same date of birth and a similar name (or no name yet), or the same caregiver phone.
      const same = scope.filter((c) => c.dateOfBirth === dob && (!name || name === '0' || similarNames(name, c.name)));
      const sameCarer = carerPhone ? await byPhone(carerPhone) : [];
      const seen = new Set<string>();
      const candidates = [...same, ...sameCarer]
        .filter((c) => !seen.has(c.trackedEntity) && seen.add(c.trackedEntity))
        .slice(0, 5);
      candidates.forEach(remember);
      // "New" first: always on the first screen, whatever the list's length.
      duplicates = candidates.length ? [NEW_ITEM, ...candidates.map((c) => childItem(c, tree, today))] : [];
    }

    // The child being handled, read afresh (the relay may already have taken it off the lists): its
    // scheduled visits (a death skips them all). Its own org unit decides whether it is in scope.
    const te = str(field(vars.subject, 'trackedEntity')) ?? str(field(vars.defaulter, 'trackedEntity'));
    if (te) {
      const [record] = await store.getJsonMany<ChildRecord>([rmKeys.child(te)]);
      if (record && allow(pathOf(tree, record.orgUnit))) {
        remember({
          trackedEntity: te,
          orgUnit: record.orgUnit,
          enrollment: record.enrollment,
          ...(record.latestEvent ? { latestEvent: record.latestEvent } : {}),
        });
        trusted.children[te] = { ...trusted.children[te]!, scheduled: record.events };
      }
    }
  }

  return {
    worker,
    cred: credentialInfo(parseCredential(rawCred), now.getTime()),
    today,
    signedIn,
    defaulterCount: all.length,
    long: all.length > (opts.longList ?? 8),
    filters: signedIn ? filters : [],
    defaulters: signedIn ? all : [],
    filtered: signedIn ? filtered : [],
    filteredCount: signedIn ? filtered.length : 0,
    found,
    duplicates,
    trusted,
  };
}
