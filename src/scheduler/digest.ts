import { getOrgUnitTree, isWithin } from '../dhis2/readmodel/read.ts';
import { rmKeys, type CaseWorkerView, type DefaulterList, type DefaulterView } from '../dhis2/readmodel/types.ts';
import { readIndex, readMany } from '../dhis2/readmodel/writer.ts';
import type { Dhis2Event } from '../dhis2/schemas.ts';
import { caregiverLocale } from '../messaging/language.ts';
import { unsolicitedSmsJob } from '../messaging/unsolicited.ts';
import { DIGEST_MARKER_TTL_MS, digestKey, digestMarker, stillMissed } from './decide.ts';
import { announce, renderOneWay } from './outbound.ts';
import type { DigestReport, SchedulerDeps } from './types.ts';

/**
 * The case-worker digest: each case worker whose org units (and everything below them) have defaulters
 * no digest told them about gets one SMS saying how many are new (since yesterday, or this week with
 * `digest: weekly`) and how many there are in all, the number their USSD menu shows, with the USSD code
 * to follow them up; nobody gets a message when nothing is new. Defaulters come from the read model and are checked against
 * DHIS2 first, so a visit completed, moved or deleted since the last sync is never reported.
 */

/** The one-way flow that words the digest (`flows/scheduler-digest.yaml`). */
export const DIGEST_FLOW = 'scheduler-digest';

const EVENT_FIELDS = 'event,programStage,status,scheduledAt,occurredAt,deleted';

/**
 * Run the digest for `today`.
 *
 * @example const r = await runDigest(deps, '2025-03-03'); r.notified // [{ username: 'cw.zawadi', count: 2, total: 68 }]
 */
export async function runDigest(deps: SchedulerDeps, today: string): Promise<DigestReport> {
  const { store, deployment } = deps;
  const report: DigestReport = { workers: 0, notified: [], optedOut: 0, resolved: 0, noFlow: 0 };
  const phones = await readIndex(store, 'workers');
  const workers = (await readMany<CaseWorkerView>(store, phones.map(rmKeys.worker))).filter(
    (w): w is CaseWorkerView => w !== null,
  );
  report.workers = workers.length;
  if (!workers.length) return report;

  const [tree, listIds] = await Promise.all([getOrgUnitTree(store), readIndex(store, 'defaulters')]);
  const lists = await readMany<DefaulterList>(store, listIds.map(rmKeys.defaulters));
  const defaulters: DefaulterView[] = [];
  for (const l of lists) for (const d of l?.defaulters ?? []) if (d.scheduledAt < today) defaulters.push(d);

  // What each worker has not been told about yet, and how many they have in all (what their menu counts).
  const fresh = new Map<CaseWorkerView, { unseen: DefaulterView[]; total: number }>();
  for (const w of workers) {
    const roots = w.orgUnits.map((o) => o.id);
    const mine = [
      ...new Map(defaulters.filter((d) => isWithin(tree, d.orgUnit, roots)).map((d) => [d.event, d])).values(),
    ];
    const told = await Promise.all(mine.map((d) => store.isSeen(digestMarker(w.phone, d.event))));
    const unseen = mine.filter((_, i) => !told[i]);
    if (unseen.length) fresh.set(w, { unseen, total: mine.length });
  }
  if (!fresh.size) return report;

  // DHIS2 decides what is still missed: one request per page of events.
  const current = await currentEvents(deps, [
    ...new Set([...fresh.values()].flatMap((f) => f.unseen).map((d) => d.event)),
  ]);
  const resolved = new Set<string>();
  const set = deps.flows();
  const now = deps.clock.now();
  const quiet = { deliveryWindow: deployment.deliveryWindow, timeZone: deps.timeZone };
  for (const [w, { unseen, total: listed }] of fresh) {
    const open = stillMissed(unseen, current, today, deployment.immunization.stage);
    const openIds = new Set(open.map((d) => d.event));
    for (const d of unseen) if (!openIds.has(d.event)) resolved.add(d.event);
    if (!open.length) continue;
    // A visit DHIS2 says was resolved since the sync is in neither count.
    const total = listed - (unseen.length - open.length);
    const contact = await store.getContact(w.phone);
    if (contact.optedOut || contact.undeliverable) {
      report.optedOut++;
      continue;
    }
    const events = open.map((d) => d.event);
    const key = digestKey(today, w.phone, events);
    const locale = caregiverLocale({ contact: contact.locale, fallback: set.defaultLocale }, set.locales.locales);
    const rendered = renderOneWay(set, {
      flowId: DIGEST_FLOW,
      vars: { fresh: open.length, total, period: deployment.digest === 'weekly' ? 'week' : 'day', code: deps.ussdCode },
      phone: w.phone,
      locale,
      contact,
      now,
      idBase: key,
    });
    if (rendered.outcome !== 'ok' || !rendered.texts.length) {
      report.noFlow++;
      deps.logger.error(
        { code: 'JIBU_FLOWS_INVALID', job: 'defaulter-digest', flow: DIGEST_FLOW, outcome: rendered.outcome },
        'the digest flow could not be rendered: no digest sent',
      );
      continue;
    }
    // The job id is derived from (date, worker, defaulters): a rerun re-adds the same id, which the queue ignores.
    const jobs = rendered.texts.map((t, i) =>
      unsolicitedSmsJob(
        { id: `sms:${key}${i ? `:${i}` : ''}`, to: w.phone, text: t.text, locale: t.locale, purpose: 'digest' },
        now.getTime(),
        quiet,
      ),
    );
    await store.enqueue(jobs);
    announce(deps.events, jobs, now.getTime(), 'digest');
    await Promise.all(events.map((e) => store.markSeen(digestMarker(w.phone, e), DIGEST_MARKER_TTL_MS)));
    report.notified.push({ username: w.username, count: open.length, total });
  }
  report.resolved = resolved.size;
  return report;
}

async function currentEvents(deps: SchedulerDeps, uids: string[]): Promise<Map<string, Dhis2Event>> {
  const out = new Map<string, Dhis2Event>();
  const size = deps.pageSize ?? 100;
  for (let i = 0; i < uids.length; i += size) {
    const page = await deps.dhis2.events({ events: uids.slice(i, i + size), fields: EVENT_FIELDS, paging: false });
    for (const e of page.items) out.set(e.event, e);
  }
  return out;
}
