import type { Store } from '../../store/types.ts';
import type { Dhis2Client } from '../client.ts';
import type { Deployment } from '../deployment.ts';
import { Dhis2AuthError, Dhis2RequestError } from '../errors.ts';
import type { AttributeFilter } from '../params.ts';
import type { EnrollmentPayload, NotePayload } from '../payloads.ts';
import type { Dhis2TrackedEntity, OrgUnit, TrackedEntityType } from '../schemas.ts';
import { SURVEILLANCE_TEXTS } from '../staff-texts.ts';
import type { DuplicateCheck } from './types.ts';

/**
 * The registry-wide duplicate check of a birth. On the phone the worker was shown the likely matches in
 * their own area (the read model holds only those). Before creating the child, the relay searches DHIS2
 * across the tracked entity type, within the limits DHIS2 puts on such a search, and when a likely match
 * lives outside the worker's area it still creates the child (the worker has already given the family a
 * reference) and files a potential duplicate for DHIS2's deduplication workflow, or, where DHIS2 will not
 * take one, a note and the follow-up flag on the new enrollment.
 */

/** How a check ended, as `/metrics` counts it (`jibu_birth_duplicate_checks_total{outcome}`). */
export type DuplicateCheckOutcome =
  /** No likely match outside the worker's area. */
  | 'no_match'
  /** A potential duplicate filed in DHIS2 (or already there). */
  | 'filed'
  /** DHIS2 refused the record: note and follow-up flag on the new enrollment instead. */
  | 'noted'
  /** DHIS2 refused both the record and the note (the admin list names the pair). */
  | 'unfiled'
  /** Too few searchable attributes to search outside the account's capture scope. */
  | 'unsearchable'
  /** More matches than `maxTeiCountToReturn`: DHIS2 would not list them. */
  | 'too_many'
  /** DHIS2 refused the search itself (its message is logged). */
  | 'search_refused';

/** The search one check makes: filters allowed by the tracked entity type, or why there is none. */
export type SearchPlan =
  { ok: true; filters: AttributeFilter[]; pageSize: number } | { ok: false; outcome: 'unsearchable' };

/**
 * The search for a birth (pure): first name, date of birth and caregiver phone, keeping only attributes the
 * tracked entity type lets a search outside the capture scope use (searchable or unique), and giving up
 * when fewer than `minAttributesRequiredToSearch` remain. Asks for one more than DHIS2 may return, so a
 * full page is told apart from an exact one.
 *
 * @example searchPlan(check, attributes, person) // { ok: true, filters: [{ attribute: 'sB1IHYu2xQT', op: 'eq', value: 'Wema' }, …], pageSize: 21 }
 */
export function searchPlan(
  check: DuplicateCheck,
  attributes: Deployment['immunization']['attributes'],
  type: TrackedEntityType | null,
): SearchPlan {
  const allowed = new Set(
    (type?.trackedEntityTypeAttributes ?? [])
      .filter((t) => t.searchable === true || t.trackedEntityAttribute.unique === true)
      .map((t) => t.trackedEntityAttribute.id),
  );
  const wanted: AttributeFilter[] = [];
  if (check.firstName) wanted.push({ attribute: attributes.firstName, op: 'eq', value: check.firstName });
  wanted.push({ attribute: attributes.dateOfBirth, op: 'eq', value: check.dateOfBirth });
  if (check.phone) wanted.push({ attribute: attributes.phone, op: 'eq', value: check.phone });
  // Unknown settings (no type read): search with what the package makes searchable, first name and date.
  const filters = type ? wanted.filter((f) => allowed.has(f.attribute)) : wanted.slice(0, check.firstName ? 2 : 1);
  const min = Math.max(1, type?.minAttributesRequiredToSearch ?? 1);
  if (filters.length < min || !filters.some((f) => f.attribute === attributes.dateOfBirth))
    return { ok: false, outcome: 'unsearchable' };
  const max = type?.maxTeiCountToReturn ?? 0;
  return { ok: true, filters, pageSize: max > 0 ? Math.min(max + 1, 100) : 50 };
}

const norm = (s: string | undefined) => (s ?? '').normalize('NFD').replace(/\p{M}/gu, '').trim().toLowerCase();

export interface LikelyMatch {
  trackedEntity: string;
  orgUnit: string;
}

/**
 * The likely matches among search results (pure): same date of birth, and the same first name or the same
 * caregiver phone; never the new child itself (a retry finds it); never inside the worker's area (the worker
 * saw those and said "new child"). `tree` tells what is inside: an org unit it does not know is outside.
 */
export function likelyMatches(
  check: DuplicateCheck,
  found: readonly Dhis2TrackedEntity[],
  attributes: Deployment['immunization']['attributes'],
  tree: Readonly<Record<string, Pick<OrgUnit, 'path'>>>,
): LikelyMatch[] {
  const inArea = (ou: string) => {
    const path = tree[ou]?.path ?? '';
    return check.area.some((a) => path.split('/').includes(a));
  };
  const out: LikelyMatch[] = [];
  for (const te of found) {
    if (te.trackedEntity === check.trackedEntity || te.deleted || !te.orgUnit) continue;
    const value = (uid: string) => te.attributes?.find((x) => x.attribute === uid)?.value;
    if (value(attributes.dateOfBirth)?.slice(0, 10) !== check.dateOfBirth) continue;
    const sameName = !!check.firstName && norm(value(attributes.firstName)) === norm(check.firstName);
    const samePhone = !!check.phone && value(attributes.phone) === check.phone;
    if (!sameName && !samePhone) continue;
    if (inArea(te.orgUnit)) continue;
    out.push({ trackedEntity: te.trackedEntity, orgUnit: te.orgUnit });
  }
  return out;
}

/** What a search found: likely matches, or why there was no answer. Throws when DHIS2 is unavailable. */
export type SearchResult =
  { ok: true; matches: LikelyMatch[] } | { ok: false; outcome: DuplicateCheckOutcome; reason?: string };

const SEARCH_FIELDS = 'trackedEntity,orgUnit,deleted,attributes[attribute,value]';

/**
 * Search DHIS2 for a birth's likely matches, across the tracked entity type in every org unit the Jibu
 * account may search (`orgUnitMode=ACCESSIBLE`; `ouMode` on 2.38–2.40). A refusal (`maxteicountreached`, a
 * non-searchable attribute) is an answer, not a failure; an unreachable DHIS2 throws, for the queue to retry.
 */
export async function searchRegistry(
  client: Dhis2Client,
  check: DuplicateCheck,
  opts: {
    deployment: Deployment;
    trackedEntityType: string;
    type: TrackedEntityType | null;
    tree: Readonly<Record<string, Pick<OrgUnit, 'path'>>>;
  },
): Promise<SearchResult> {
  const attributes = opts.deployment.immunization.attributes;
  const plan = searchPlan(check, attributes, opts.type);
  if (!plan.ok) return plan;
  try {
    const page = await client.trackedEntities({
      trackedEntityType: opts.trackedEntityType,
      orgUnitMode: 'ACCESSIBLE',
      filters: plan.filters,
      fields: SEARCH_FIELDS,
      page: 1,
      pageSize: plan.pageSize,
    });
    return { ok: true, matches: likelyMatches(check, page.items, attributes, opts.tree) };
  } catch (err) {
    // 2.41+ answer a search the account may not make with 403: an answer too, not an outage.
    const forbidden = err instanceof Dhis2AuthError && err.dhis2Status === 403;
    if (!(err instanceof Dhis2RequestError) && !forbidden) throw err;
    const tooMany = /maxteicountreached/i.test(err.message);
    return { ok: false, outcome: tooMany ? 'too_many' : 'search_refused', reason: err.message };
  }
}

/**
 * The update that puts a possible duplicate on the new enrollment when DHIS2 refused the potential-duplicate
 * record (pure): every scalar of the enrollment as it was created, the follow-up flag, and one note whose uid
 * derives from the job (a retry meets E1119).
 */
export function flaggedEnrollment(created: EnrollmentPayload, note: NotePayload): EnrollmentPayload {
  const { events: _events, attributes: _attributes, notes: _notes, ...scalars } = created;
  return { ...scalars, followUp: true, notes: [note] };
}

/** The staff note of {@link flaggedEnrollment}. */
export function possibleDuplicateNote(
  deployment: Deployment,
  p: { original: string; orgUnit: string; reason: string; ref: string },
): string {
  return SURVEILLANCE_TEXTS[deployment.staffLocale].possibleDuplicate(p);
}

// ---------------------------------------------------------------------------------------------------
// What the admin API shows: the possible duplicates Jibu found, newest first.

/** One likely match Jibu acted on. Uids and codes only: names and phone numbers stay in DHIS2. */
export interface DuplicateRecord {
  /** ISO time the relay acted. */
  at: string;
  /** The reference the worker was given for the birth. */
  ref: string;
  /** The child already in the registry, and the org unit it is registered at. */
  original: string;
  originalOrgUnit: string;
  /** The child the birth notification created, and its Vital Events enrollment. */
  duplicate: string;
  enrollment: string;
  /** `unfiled`: DHIS2 took neither the record nor the note; only this list has it. */
  outcome: 'filed' | 'noted' | 'unfiled';
  /** DHIS2's potential-duplicate id, when it returned one. */
  potentialDuplicate?: string;
  /** Why DHIS2 refused the record (`noted`, `unfiled`). */
  reason?: string;
}

const DUPLICATES_KEY = 'dhis2:duplicate-list';
const KEPT = 500;

/**
 * Add records to the admin list (newest first, the last {@link KEPT}) in one atomic store operation, so two
 * relays recording at the same instant both land. A retried job may record a pair again: the list shows
 * each pair once, its newest record.
 */
export async function recordDuplicates(store: Store, records: DuplicateRecord[]): Promise<void> {
  if (!records.length) return;
  await store.pushList(DUPLICATES_KEY, records, KEPT);
}

/** The admin list, newest first, one record per pair. */
export async function listDuplicates(store: Store, limit = 100): Promise<DuplicateRecord[]> {
  const seen = new Set<string>();
  const out: DuplicateRecord[] = [];
  for (const r of await store.readList<DuplicateRecord>(DUPLICATES_KEY, KEPT)) {
    const pair = `${r.original}:${r.duplicate}`;
    if (seen.has(pair)) continue;
    seen.add(pair);
    out.push(r);
    if (out.length >= limit) break;
  }
  return out;
}
