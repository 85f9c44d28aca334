import { maskPhone } from '../channels/phone.ts';
import { reminderStart, type ReminderChild } from '../conversation/actions/caregiver.ts';
import { JibuError } from '../errors.ts';
import { addDays } from '../dhis2/readmodel/calendar.ts';
import { rmKeys, type ChildRecord, type OrgUnitTree, type SyncState } from '../dhis2/readmodel/types.ts';
import { defaulterRule, deriveChild, type DerivedChild } from '../dhis2/readmodel/views.ts';
import { readMany, replaceChildren, updateIndexes, type ChildChange } from '../dhis2/readmodel/writer.ts';
import { caregiverLocale } from '../messaging/language.ts';
import type { QuietHours } from '../messaging/unsolicited.ts';
import { eventMarker, MARKER_TTL_MS, messageKey, type CaregiverDue, type CaregiverRule } from './decide.ts';
import { openConversation } from './outbound.ts';
import { emptyScanStats, scanAppointments, type ScanPage } from './scan.ts';
import type { CaregiverRunReport, SchedulerDeps } from './types.ts';

/**
 * The two caregiver jobs share one loop: page through the appointments of a day in DHIS2, and send
 * each caregiver one message about all their children due (reminder) or missed (missed visit), which
 * opens the reply flow so an answer confirms or moves the right child's visit. Missed visits also go
 * into the case worker's defaulter list in the read model at once, without waiting for the next sync.
 */

/** Caregivers messaged in parallel (distinct phones, so distinct locks). */
const PARALLEL = 8;

/** The children a caregiver message is about, as the reply flow takes them. */
export function reminderChildrenOf(c: CaregiverDue): ReminderChild[] {
  return c.children.map((x) => ({
    trackedEntity: x.trackedEntity,
    firstName: x.firstName,
    event: x.event,
    scheduledAt: x.scheduledAt,
    enrollment: x.enrollment,
    orgUnit: x.orgUnit,
  }));
}

function emptyReport(rule: CaregiverRule): CaregiverRunReport {
  return {
    kind: rule.kind,
    rule: rule.tag,
    appointmentDate: rule.appointmentDate,
    events: 0,
    pages: 0,
    entityRequests: 0,
    alreadyDone: 0,
    caregivers: 0,
    children: 0,
    duplicates: 0,
    optedOut: 0,
    noPhone: 0,
    busy: 0,
    noFlow: 0,
    failed: 0,
    ...(rule.kind === 'missed' ? { defaultersAdded: 0 } : {}),
  };
}

/**
 * Run one caregiver rule for `today`.
 *
 * @example await runCaregiverRule(deps, reminderRules('2025-03-03', deployment)[0], '2025-03-03')
 */
export async function runCaregiverRule(
  deps: SchedulerDeps,
  rule: CaregiverRule,
  today: string,
): Promise<CaregiverRunReport> {
  const report = emptyReport(rule);
  const stats = emptyScanStats();
  const scan = {
    dhis2: deps.dhis2,
    store: deps.store,
    deployment: deps.deployment,
    defaultCountry: deps.defaultCountry,
    pageSize: deps.pageSize ?? 100,
  };
  const quiet: QuietHours = { deliveryWindow: deps.deployment.deliveryWindow, timeZone: deps.timeZone };
  for await (const page of scanAppointments(scan, rule, stats)) {
    report.noPhone += page.noPhone.length;
    if (rule.kind === 'missed') report.defaultersAdded! += await addDefaulters(deps, page, today);
    // A child without a phone is still followed up by the case worker; no message to anyone, so mark it handled.
    await Promise.all(page.noPhone.map((c) => deps.store.markSeen(eventMarker(rule, c.event), MARKER_TTL_MS)));
    for (let i = 0; i < page.caregivers.length; i += PARALLEL) {
      await Promise.all(
        page.caregivers.slice(i, i + PARALLEL).map((c) => messageCaregiver(deps, rule, today, c, quiet, report)),
      );
    }
  }
  report.events = stats.events;
  report.pages = stats.pages;
  report.entityRequests = stats.entityRequests;
  report.alreadyDone = stats.alreadyDone;
  return report;
}

async function messageCaregiver(
  deps: SchedulerDeps,
  rule: CaregiverRule,
  today: string,
  c: CaregiverDue,
  quiet: QuietHours,
  report: CaregiverRunReport,
): Promise<void> {
  const { store } = deps;
  const events = c.children.map((x) => x.event);
  const contact = await store.getContact(c.phone);
  // Opt-out is honoured before the conversation is even opened: an opted-out caregiver's session stays untouched.
  if (contact.optedOut || contact.undeliverable) {
    report.optedOut++;
    return;
  }
  const set = deps.flows();
  const locale = caregiverLocale(
    { dhis2: c.dhis2Locale, contact: contact.locale, fallback: set.defaultLocale },
    set.locales.locales,
  );
  const start = reminderStart({ phone: c.phone, today, children: reminderChildrenOf(c), locale });
  const key = messageKey(rule, c.phone, events);
  let outcome;
  try {
    ({ outcome } = await openConversation(
      { store, clock: deps.clock, flows: deps.flows, quiet, events: deps.events },
      {
        phone: c.phone,
        flowId: start.flowId,
        vars: start.vars,
        data: start.data,
        locale,
        dedupeKey: key,
        dedupeTtlMs: MARKER_TTL_MS,
        idBase: key,
        purpose: rule.kind,
      },
    ));
  } catch (err) {
    if (err instanceof JibuError && err.code === 'JIBU_BUSY') {
      report.busy++;
      deps.logger.warn(
        { code: 'JIBU_BUSY', job: rule.kind, phone: maskPhone(c.phone) },
        'caregiver busy in a conversation: the job will retry',
      );
      return;
    }
    throw err;
  }
  if (outcome === 'no_flow' || outcome === 'failed') {
    report[outcome === 'no_flow' ? 'noFlow' : 'failed']++;
    deps.logger.error(
      { code: 'JIBU_FLOWS_INVALID', job: rule.kind, flow: start.flowId, outcome },
      'the caregiver reply flow could not be opened: no message sent',
    );
    return;
  }
  if (outcome === 'duplicate') report.duplicates++;
  else {
    report.caregivers++;
    report.children += c.children.length;
  }
  await Promise.all(events.map((e) => store.markSeen(eventMarker(rule, e), MARKER_TTL_MS)));
}

/**
 * Put the children who missed a visit into their case worker's defaulter list now: each child is
 * re-derived from what DHIS2 just sent and replaced in every view, exactly as an incremental sync would
 * (so the views never depend on who wrote them).
 */
async function addDefaulters(deps: SchedulerDeps, page: ScanPage, today: string): Promise<number> {
  const missed = new Set<string>([
    ...page.caregivers.flatMap((c) => c.children.map((x) => x.trackedEntity)),
    ...page.noPhone.map((x) => x.trackedEntity),
  ]);
  if (!missed.size) return 0;
  const { store, deployment } = deps;
  const [tree, sync] = await store.getJsonMany<unknown>([rmKeys.orgUnits(), rmKeys.sync()]);
  // The sync's window, so the child's entries come out exactly as the next sync would write them.
  const window = (sync as SyncState | null)?.window ?? {
    from: addDays(today, -deployment.defaulters.lookbackDays),
    to: addDays(today, 60),
  };
  const uids = [...missed];
  const previous = await readMany<ChildRecord>(store, uids.map(rmKeys.child));
  const ctx = {
    deployment,
    today,
    window,
    rule: defaulterRule(deployment, today),
    defaultCountry: deps.defaultCountry,
    tree: (tree ?? undefined) as OrgUnitTree | undefined,
  };
  const changes: ChildChange[] = [];
  let added = 0;
  uids.forEach((uid, i) => {
    const te = page.entities.get(uid);
    const next: DerivedChild | null = te ? deriveChild(te, ctx) : null;
    if (!next) return;
    if (next.record.defaulterOrgUnits.length) added++;
    changes.push({ trackedEntity: uid, prev: previous[i] ?? null, next });
  });
  const delta = await replaceChildren(store, changes, {
    today,
    rule: ctx.rule,
    syncedAt: deps.clock.now().getTime(),
    ...(ctx.tree ? { tree: ctx.tree } : {}),
  });
  await updateIndexes(store, delta);
  return added;
}
