import type { Clock } from '../clock.ts';
import { startFlow, type Effect, type FlowSet, type TurnResult } from '../conversation/index.ts';
import { jobsForEffects, sessionKey, type DataLoader, type EffectJobs } from '../conversation/runner.ts';
import { unsolicitedSmsJob, type QuietHours } from '../messaging/unsolicited.ts';
import type { EventFeed } from '../server/events.ts';
import type { Contact, QueuedJob, StepCommit, Store } from '../store/types.ts';

/**
 * Messages the scheduler starts: open a flow for a phone (the reminder the caregiver will answer) and
 * commit it the way the runner commits a step — session, SMS job and dedupe marker in one atomic write
 * under the contact's lock — so the reply lands in that flow; or render a one-way flow (the case-worker
 * digest) to a text.
 */

export interface OutboundDeps {
  store: Store;
  clock: Clock;
  flows: () => FlowSet;
  /** Read-model data a flow declares (`data:`), loaded as the runner loads it. */
  loadData?: DataLoader;
  quiet?: QuietHours;
  events?: EventFeed;
}

export interface OpenRequest {
  phone: string;
  flowId: string;
  vars: Record<string, unknown>;
  /** The language to write in (see `caregiverLocale`). */
  locale: string;
  /** The flow's declared data, when the caller already has it (else loaded with `loadData`). */
  data?: Record<string, unknown>;
  /** Commit dedupe key: the same key never commits twice. */
  dedupeKey: string;
  dedupeTtlMs: number;
  /** Stable base for job ids and the flow's ids (refs, timers), derived from what the message is about. */
  idBase: string;
  purpose: string;
}

/** `no_flow`: the flow is not loaded (or not on SMS); `failed`: the flow hit a bug and nothing was sent. */
export type OpenOutcome = 'committed' | 'duplicate' | 'no_flow' | 'failed';

/** Ids derived from `base`, so a rerun of the same message yields the same job ids (queue idempotency). */
export function stableIds(base: string): () => string {
  let n = 0;
  return () => `${base}:${++n}`;
}

/**
 * Turn a started flow's effects into durable jobs, as the runner does for a step; SMS effects are
 * unsolicited here (nobody wrote to us), so they wait for the delivery window.
 */
function openingJobs(
  effects: readonly Effect[],
  ctx: { phone: string; now: number; idBase: string; purpose: string; quiet?: QuietHours; newId: () => string },
): EffectJobs {
  let sms = 0;
  return jobsForEffects(effects, {
    phone: ctx.phone,
    channel: 'sms',
    newId: ctx.newId,
    smsJob: (e) =>
      unsolicitedSmsJob(
        {
          id: `sms:${ctx.idBase}${sms++ ? `:${sms}` : ''}`,
          to: e.to,
          text: e.text,
          locale: e.locale,
          purpose: ctx.purpose,
        },
        ctx.now,
        ctx.quiet,
      ),
  });
}

/**
 * Open `flowId` for `phone` on SMS: its first screen goes out as an SMS and the session waits for the
 * reply (any SMS conversation in progress is replaced, as `startFlow` does). Atomic and idempotent by
 * `dedupeKey`.
 *
 * @example await openConversation(deps, { phone, flowId: 'caregiver-reminder', vars, locale: 'sw', dedupeKey, dedupeTtlMs, idBase, purpose: 'reminder' })
 */
export async function openConversation(
  deps: OutboundDeps,
  req: OpenRequest,
): Promise<{ outcome: OpenOutcome; result?: TurnResult }> {
  const set = deps.flows();
  const flow = set.flows.get(req.flowId);
  if (!flow || !flow.def.channels.includes('sms')) return { outcome: 'no_flow' };
  const key = sessionKey('sms', req.phone);
  const loaded = await deps.store.lockAndLoad(req.phone, key);
  try {
    const now = deps.clock.now();
    const newId = stableIds(req.idBase);
    const data =
      req.data ??
      (deps.loadData && flow.def.data.length
        ? await deps.loadData([...flow.def.data], { phone: req.phone, channel: 'sms', now })
        : {});
    const result = startFlow(set, loaded.session, {
      flowId: req.flowId,
      vars: req.vars,
      channel: 'sms',
      phone: req.phone,
      locale: req.locale,
      contact: loaded.contact,
      now,
      newId,
      data,
    });
    if (result.outcome === 'no_flow' || result.error) {
      await deps.store.release(loaded.lock);
      return { outcome: result.error ? 'failed' : 'no_flow', result };
    }
    const { jobs, cancelJobIds, contact } = openingJobs(result.effects, {
      phone: req.phone,
      now: now.getTime(),
      idBase: req.idBase,
      purpose: req.purpose,
      quiet: deps.quiet,
      newId,
    });
    const commit: StepCommit = {
      sessionKey: key,
      session: result.session,
      sessionTtlMs: result.sessionTtlMs,
      jobs,
      dedupe: { key: req.dedupeKey, ttlMs: req.dedupeTtlMs },
      cancelJobIds,
      ...(contact ? { contact: { phone: req.phone, patch: contact } } : {}),
    };
    const outcome = await deps.store.commit(loaded.lock, commit);
    if (outcome === 'committed') announce(deps.events, jobs, now.getTime(), req.purpose);
    return { outcome, result };
  } catch (err) {
    await deps.store.release(loaded.lock).catch(() => undefined);
    throw err;
  }
}

/**
 * Render a one-way flow (no reply expected, e.g. the case-worker digest) to the SMS texts it would send,
 * without touching the person's session.
 */
export function renderOneWay(
  set: FlowSet,
  req: {
    flowId: string;
    vars: Record<string, unknown>;
    phone: string;
    locale: string;
    contact: Contact;
    now: Date;
    idBase: string;
  },
): { texts: Array<{ text: string; locale: string }>; outcome: 'ok' | 'no_flow' | 'failed' } {
  const flow = set.flows.get(req.flowId);
  if (!flow || !flow.def.channels.includes('sms')) return { texts: [], outcome: 'no_flow' };
  const result = startFlow(set, null, {
    flowId: req.flowId,
    vars: req.vars,
    channel: 'sms',
    phone: req.phone,
    locale: req.locale,
    contact: req.contact,
    now: req.now,
    newId: stableIds(req.idBase),
    data: {},
  });
  if (result.error) return { texts: [], outcome: 'failed' };
  if (result.outcome === 'no_flow') return { texts: [], outcome: 'no_flow' };
  const texts = result.effects.flatMap((e) => (e.type === 'sendSms' ? [{ text: e.text, locale: e.locale }] : []));
  return { texts, outcome: 'ok' };
}

/** Tell the in-process feed (the web simulator) what was queued. */
export function announce(events: EventFeed | undefined, jobs: readonly QueuedJob[], at: number, purpose: string): void {
  if (!events) return;
  for (const j of jobs) {
    const d = j.data as Record<string, unknown>;
    if (j.queue === 'outbox-sms')
      events.emit({ type: 'sms.queued', id: j.id, to: String(d.to), text: String(d.text), purpose, at });
    else if (j.queue === 'timers')
      events.emit({ type: 'timer.set', id: j.id, phone: String(d.phone), fireAt: j.runAt ?? at, at });
    else if (j.queue === 'outbox-dhis2')
      events.emit({
        type: 'dhis2.queued',
        id: j.id,
        op: String(d.op),
        ref: String(d.ref),
        phone: String(d.phone),
        payload: d.payload,
        at,
      });
  }
}
