import type { Store } from '../../store/types.ts';
import {
  rmKeys,
  type CaregiverView,
  type CaseWorkerView,
  type DefaulterList,
  type DefaulterView,
  type OrgUnitTree,
} from './types.ts';
import { sortDefaulters } from './views.ts';
import { readIndex, readMany } from './writer.ts';

/**
 * What flows and jobs read: small lookups over the read model, each one or two store reads, so a USSD hop
 * never waits on DHIS2. Phones are E.164 as the channels normalise them.
 */

/**
 * A caregiver's children and their next appointments, or null when the phone has none in DHIS2 (within
 * the sync window).
 *
 * @example const view = await getCaregiver(store, '+254700000001'); view?.children.map((c) => c.firstName) // ['Amina', 'Juma']
 */
export async function getCaregiver(store: Store, phone: string): Promise<CaregiverView | null> {
  return store.getJson<CaregiverView>(rmKeys.caregiver(phone));
}

/** The case worker using this phone (an enabled DHIS2 user), or null. */
export async function getCaseWorker(store: Store, phone: string): Promise<CaseWorkerView | null> {
  return store.getJson<CaseWorkerView>(rmKeys.worker(phone));
}

/** The org unit tree, or an empty one before the first sync. */
export async function getOrgUnitTree(store: Store): Promise<OrgUnitTree> {
  return (await store.getJson<OrgUnitTree>(rmKeys.orgUnits())) ?? {};
}

/**
 * Whether `orgUnit` is one of `ancestors` or below one of them (by the tree's paths). An org unit missing
 * from the tree is within nothing.
 *
 * @example isWithin(tree, 'JbVilKdt001', ['JbFacMtw001']) // true: Kidutani is a village of Mtwapa
 */
export function isWithin(tree: OrgUnitTree, orgUnit: string, ancestors: readonly string[]): boolean {
  const node = tree[orgUnit];
  if (!node) return false;
  const path = `${node.path}/`;
  return ancestors.some((a) => a === orgUnit || path.includes(`/${a}/`));
}

/**
 * Every defaulter (missed Immunization visit) in the subtrees of `orgUnitIds`, e.g. a case worker's
 * capture org units: the longest overdue first, each event once.
 *
 * @example const list = await getDefaultersFor(store, worker.orgUnits.map((o) => o.id))
 */
export async function getDefaultersFor(store: Store, orgUnitIds: readonly string[]): Promise<DefaulterView[]> {
  if (!orgUnitIds.length) return [];
  const [tree, withLists] = await Promise.all([getOrgUnitTree(store), readIndex(store, 'defaulters')]);
  // Only org units that have a list are read; the tree decides which of them are in scope.
  const inScope = withLists.filter((ou) => isWithin(tree, ou, orgUnitIds));
  const lists = await readMany<DefaulterList>(store, inScope.map(rmKeys.defaulters));
  const byEvent = new Map<string, DefaulterView>();
  for (const l of lists) for (const d of l?.defaulters ?? []) byEvent.set(d.event, d);
  return sortDefaulters([...byEvent.values()]);
}
