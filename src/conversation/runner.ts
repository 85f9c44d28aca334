import { randomUUID } from 'node:crypto';
import { sha256 } from '../sha256.ts';
import type { InboundMessage, Channel } from '../channels/types.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../server/metrics.ts';
import type { EventFeed } from '../server/events.ts';
import type { Contact, DocUpdate, QueuedJob, SessionRecord, StepCommit, Store } from '../store/types.ts';
import {
  dataNames,
  requiredData,
  timerFired,
  turn,
  type Effect,
  type FlowSet,
  type TurnInput,
  type TurnResult,
} from './index.ts';
import { OffloadScope } from './offload.ts';

/** Loads the read-model data a flow declared (`data:` in the flow file). Must be fast: no DHIS2 calls. */
export type DataLoader = (
  names: string[],
  ctx: {
    phone: string;
    channel: Channel;
    now: Date;
    /**
     * The variables of the caller's conversation on `flowId` ({} when it is on another flow), for data that
     * depends on what was chosen (a search, a filter). The runner records what is read: when the turn
     * changes one of those variables, it loads again for the new values within the same hop.
     */
    vars?: (flowId: string) => Readonly<Record<string, unknown>>;
    /** Documents read with the lock this hop ({@link RunnerDeps.loaderKeys}); loaders take them from here. */
    docs?: ReadonlyMap<string, unknown>;
  },
) => Promise<Record<string, unknown>>;

export interface RunnerDeps {
  store: Store;
  /** The flow set in force now (swapped atomically by a reload). */
  flows: () => FlowSet;
  loadData: DataLoader;
  /**
   * The store keys the loaders of `names` read first. A new USSD dial reads them for its entry flows with the
   * lock, in the same round trip as the session, instead of after it.
   */
  loaderKeys?: (names: readonly string[], ctx: { phone: string; channel: Channel }) => string[];
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  newId?: () => string;
  /** Ids of the jobs a step queues (default random; tests pass a counter so job ids never shift `newId`). */
  jobIds?: () => string;
  /** How long a provider retry of the same message is recognised. */
  dedupeTtlMs?: number;
  /** In-process feed of what was queued (the web simulator shows it). */
  events?: EventFeed;
  /**
   * `notify` effects (by kind) applied to a store document inside the step's own commit instead of
   * queued as a job: what must hold before the answer goes out (a wrong PIN counted). A handler that
   * returns null leaves the effect a job.
   */
  inlineNotify?: Readonly<Record<string, (payload: unknown) => DocUpdate | null>>;
}

export interface InboundOutcome {
  reply: { text: string; end: boolean } | null;
  duplicate: boolean;
  result?: TurnResult;
}

const DEDUPE_TTL_MS = 48 * 3600_000;
/** A USSD dial lasts at most 180 s (docs/providers.md#deadlines-and-session-lifetime). */
const USSD_DIAL_TTL_MS = 180_000;

export function sessionKey(channel: Channel, phone: string): string {
  return `${channel}:${phone}`;
}

export function dedupeKey(provider: string, id: string): string {
  return `${provider}:${id}`;
}

/**
 * The core loop for one inbound message or USSD hop (docs/design.md#the-core-loop, steps 2–6): dedupe, lock, restore,
 * pure step, and one atomic commit of snapshot + effects + dedupe marker. Only after the commit does
 * the caller answer the provider; if anything here throws, the caller answers 503 and nothing was
 * promised. A USSD hop touches Redis twice (lockAndLoad, commit) and never waits on DHIS2.
 */
export async function handleInbound(deps: RunnerDeps, msg: InboundMessage): Promise<InboundOutcome> {
  const { store } = deps;
  const key = sessionKey(msg.channel, msg.from);
  // USSD writes no dedupe marker: a re-sent hop is recognised by the session's path digest, and a marker
  // named after the hop would put the typed path (sign-in code, PIN) in a key name (SECURITY.md).
  const seenKey =
    msg.channel !== 'ussd' && msg.providerMessageId ? dedupeKey(msg.provider, msg.providerMessageId) : undefined;
  if (msg.channel === 'sms' && seenKey && (await store.isSeen(seenKey))) {
    deps.metrics?.duplicates.inc({ provider: msg.provider });
    return { reply: null, duplicate: true };
  }

  // The first hop of a dial (AT sends an empty path) is almost always a new conversation, which needs the
  // entry flows' data (the role look-ups): read it with the lock. Anything else loads after the step is known.
  const newDial = msg.channel === 'ussd' && msg.dialPath === '' && deps.loaderKeys;
  const readJson = newDial
    ? deps.loaderKeys!(requiredData(deps.flows(), null, msg.channel), { phone: msg.from, channel: msg.channel })
    : [];
  const loaded = await store.lockAndLoad(msg.from, key, readJson.length > 0 ? { readJson } : undefined);
  try {
    const now = deps.clock.now();
    let session = loaded.session;
    let text = msg.text;
    // USSD: the digest of this hop's dial path, checked against the session and stored with it.
    let digest: string | undefined;
    if (msg.channel === 'ussd') {
      digest = msg.dialPath === undefined ? undefined : pathDigest(msg.dialPath);
      const hop = placeHop(session, msg.sessionId, digest);
      if (hop.kind === 'resent') {
        // The provider re-sent a hop we already answered: show the same screen again, change nothing.
        await store.release(loaded.lock);
        deps.metrics?.duplicates.inc({ provider: msg.provider });
        return { reply: hop.reply, duplicate: true };
      }
      if (hop.kind === 'new-dial') {
        // A new dial is a new conversation: progress is keyed by phone, not kept across dials, and
        // whatever the first hop carries (an extended service code's digits) opens it, not answers it.
        session = null;
        text = '';
      }
    }

    const set = deps.flows();
    const result = await loadAndTurn(
      deps,
      set,
      session,
      {
        channel: msg.channel,
        phone: msg.from,
        text,
        // A conversation goes on in the language it started in (a reminder written in the DHIS2 language
        // attribute's language is answered in it); a new one starts in the contact's choice, else the default.
        // A language switch during the conversation changes both.
        locale: session?.locale ?? loaded.contact.locale,
        contact: loaded.contact,
        now,
        newId: deps.newId ?? randomUUID,
        ...(msg.channel === 'ussd' ? { serviceCode: msg.to } : {}),
      },
      loaded.docs,
    );

    const commit = buildCommit(deps, msg, result, key, seenKey, digest);
    const outcome = await store.commit(loaded.lock, commit);
    if (outcome === 'duplicate') {
      deps.metrics?.duplicates.inc({ provider: msg.provider });
      return { reply: null, duplicate: true };
    }
    deps.metrics?.flowSteps.inc({ flow: result.flowId ?? 'none', outcome: result.outcome });
    if (deps.events) announce(deps.events, commit, now.getTime());
    return { reply: result.reply, duplicate: false, result };
  } catch (err) {
    await store.release(loaded.lock).catch(() => undefined);
    throw err;
  }
}

/** Where a USSD hop stands against the stored session: the runner alone decides this. */
export type HopPlace =
  { kind: 'resent'; reply: { text: string; end: boolean } } | { kind: 'new-dial' } | { kind: 'continues' };

/**
 * Place a USSD hop: the same dial and the same path digest as the last answered hop is the provider
 * re-sending it (answered with the stored screen); another provider session id, no session, or a dial
 * that already reached its final screen is a new dial; anything else continues the conversation.
 */
export function placeHop(
  session: SessionRecord | null,
  sessionId: string | undefined,
  digest: string | undefined,
): HopPlace {
  const sameDial = session !== null && session.ussdSessionId === sessionId;
  if (sameDial && session.lastReply && digest !== undefined && session.pathDigest === digest)
    return { kind: 'resent', reply: session.lastReply };
  if (!sameDial || session.ended) return { kind: 'new-dial' };
  return { kind: 'continues' };
}

/**
 * Load the data this turn is expected to need ({@link requiredData}) and take the pure step. A step that
 * reads a data name that was not loaded (a keyword restarting into another flow mid-conversation) is
 * taken again with it: the step is pure, so the first attempt leaves nothing behind. Most hops of an
 * ongoing conversation thereby load only their own flow's data, not every entry flow's role look-ups.
 */
async function loadAndTurn(
  deps: RunnerDeps,
  set: FlowSet,
  session: SessionRecord | null,
  input: Omit<TurnInput, 'data'>,
  docs?: ReadonlyMap<string, unknown>,
): Promise<TurnResult> {
  const varsRead = new Set<string>();
  const ctx = {
    phone: input.phone,
    channel: input.channel,
    now: input.now,
    vars: varsOf(session, varsRead),
    ...(docs ? { docs } : {}),
  };
  const data: Record<string, unknown> = await deps.loadData(requiredData(set, session, input.channel), ctx);
  // One hop, one scope: a costly computation (a PIN hash) is made once however often the step is taken.
  const hop = { offload: new OffloadScope(), ids: replayableIds(input.newId) };
  input = { ...input, newId: hop.ids.next };
  const first = await turnWith(deps, set, session, input, data, ctx, hop);
  // No empty hops: a step that chose what its next screen lists (a filter, a search) left variables the
  // loaded data was not built for. The step is pure, so it is taken again on data loaded for them.
  const after = first.result.session;
  const changed = flowVars(after) !== null && [...varsRead].some((k) => varValue(session, k) !== varValue(after, k));
  if (!changed || first.read.size === 0) return first.result;
  const again = { ...ctx, vars: varsOf(first.result.session, new Set()) };
  const fresh = await deps.loadData([...first.read].sort(), again);
  return (await turnWith(deps, set, session, input, fresh, again, hop)).result;
}

/** The pure step on `data`, loading any name it reads that is not there; returns the names it read. */
async function turnWith(
  deps: RunnerDeps,
  set: FlowSet,
  session: SessionRecord | null,
  input: Omit<TurnInput, 'data'>,
  data: Record<string, unknown>,
  ctx: Parameters<DataLoader>[1],
  hop: { offload: OffloadScope; ids: ReplayableIds },
): Promise<{ result: TurnResult; read: Set<string> }> {
  const known = dataNames(set);
  const read = new Set<string>();
  for (;;) {
    const idsAt = hop.ids.position();
    const missing = new Set<string>();
    const note = (name: string | symbol, target: Record<string, unknown>) => {
      if (typeof name !== 'string' || !known.has(name)) return;
      read.add(name);
      if (!Object.hasOwn(target, name)) missing.add(name);
    };
    const watched = new Proxy(data, {
      get(target, name, receiver) {
        note(name, target);
        return Reflect.get(target, name, receiver) as unknown;
      },
      has(target, name) {
        note(name, target);
        return Reflect.has(target, name);
      },
    });
    // Not `{ ...input, data }`: a spread followed by a new key is slow and lands in V8's old generation
    // (docs/architecture.md#the-hop-and-the-garbage-collector).
    const result = hop.offload.run(() => turn(set, session, Object.assign({}, input, { data: watched })));
    const offloaded = hop.offload.pending();
    if (missing.size === 0 && !offloaded) return { result, read };
    if (offloaded) {
      // The attempt saw a stand-in (src/conversation/offload.ts): compute off the event loop, and take the
      // step again with the same ids, so it asks for the same computations (a new PIN's salt is one).
      await hop.offload.settle();
      hop.ids.rewind(idsAt);
    }
    if (missing.size === 0) continue;
    const more = await deps.loadData([...missing].sort(), ctx);
    for (const name of missing) data[name] = more[name]; // an own key from now on, even when undefined: asked once
  }
}

interface ReplayableIds {
  next: () => string;
  position(): number;
  /** The next ids are those given from `position` on again, then new ones. */
  rewind(position: number): void;
}

/** An id source that can hand out the same ids again, for a step taken again after an offloaded computation. */
function replayableIds(source: () => string): ReplayableIds {
  const given: string[] = [];
  let at = 0;
  return {
    next: () => {
      if (at === given.length) given.push(source());
      return given[at++]!;
    },
    position: () => at,
    rewind: (position) => {
      at = position;
    },
  };
}

/** A session's flow and variables, read leniently from the engine's snapshot (`context.vars`). */
function flowVars(session: SessionRecord | null): { flowId: string; vars: Record<string, unknown> } | null {
  if (!session || session.ended) return null;
  const vars = (session.snapshot as { context?: { vars?: unknown } } | null)?.context?.vars;
  return vars && typeof vars === 'object' ? { flowId: session.flowId, vars: vars as Record<string, unknown> } : null;
}

/** The value (as JSON) of one variable a loader read, keyed `flowId` + NUL + name. */
function varValue(session: SessionRecord | null, key: string): string | undefined {
  const [flowId, name = ''] = key.split('\u0000');
  const fv = flowVars(session);
  return fv && fv.flowId === flowId ? JSON.stringify(fv.vars[name]) : undefined;
}

/** The loaders' view of a session's variables, recording every variable read into `reads`. */
function varsOf(session: SessionRecord | null, reads: Set<string>): (flowId: string) => Record<string, unknown> {
  const fv = flowVars(session);
  return (flowId) => {
    const vars = fv && fv.flowId === flowId ? fv.vars : {};
    return new Proxy(vars, {
      get(target, name, receiver) {
        if (typeof name === 'string') reads.add(`${flowId}\u0000${name}`);
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
  };
}

/** A durable timer fired for a session (reply timeout, expiry): one pure step, committed like a message. */
export async function handleTimer(
  deps: RunnerDeps,
  t: { channel: Channel; phone: string; timerId: string },
): Promise<TurnResult | null> {
  const key = sessionKey(t.channel, t.phone);
  const loaded = await deps.store.lockAndLoad(t.phone, key);
  try {
    const set = deps.flows();
    const result = timerFired(set, loaded.session, { timerId: t.timerId, now: deps.clock.now() });
    const fake: InboundMessage = {
      channel: t.channel,
      provider: 'simulator',
      from: t.phone,
      providerFrom: t.phone,
      to: '',
      text: '',
      providerMessageId: '',
      receivedAt: deps.clock.now(),
    };
    const commit = buildCommit(deps, fake, result, key, undefined);
    await deps.store.commit(loaded.lock, commit);
    if (deps.events) announce(deps.events, commit, deps.clock.now().getTime());
    return result;
  } catch (err) {
    await deps.store.release(loaded.lock).catch(() => undefined);
    throw err;
  }
}

/** What a step's effects become in its atomic commit. */
export interface EffectJobs {
  jobs: QueuedJob[];
  cancelJobIds: string[];
  contact?: Partial<Contact>;
}

/**
 * Turn effects into durable jobs, job cancellations and a contact patch — for a step the runner takes
 * and for a flow the scheduler opens alike. Only SMS jobs differ between the two (a reply's provider
 * details, or an unsolicited message's delivery window), so the caller builds those.
 */
export function jobsForEffects(
  effects: readonly Effect[],
  ctx: {
    phone: string;
    channel: Channel;
    newId: () => string;
    smsJob: (e: Extract<Effect, { type: 'sendSms' }>) => QueuedJob;
  },
): EffectJobs {
  const jobs: QueuedJob[] = [];
  const cancelJobIds: string[] = [];
  let contact: Partial<Contact> | undefined;
  for (const e of effects) {
    switch (e.type) {
      case 'sendSms':
        jobs.push(ctx.smsJob(e));
        break;
      case 'dhis2Write':
        jobs.push({
          id: `dhis2:${e.ref}:${ctx.newId()}`,
          queue: 'outbox-dhis2',
          name: e.op,
          data: { op: e.op, payload: e.payload, ref: e.ref, phone: ctx.phone },
        });
        break;
      case 'startTimer':
        jobs.push({
          id: `timer:${e.timerId}`,
          queue: 'timers',
          name: 'timer',
          data: { channel: ctx.channel, phone: ctx.phone, timerId: e.timerId },
          runAt: e.fireAt,
        });
        break;
      case 'cancelTimer':
        cancelJobIds.push(`timer:${e.timerId}`);
        break;
      case 'setContact':
        contact = { ...contact, ...e.patch };
        break;
      case 'notify':
        jobs.push({ id: `notify:${ctx.newId()}`, queue: 'jobs', name: `notify.${e.kind}`, data: e.payload });
        break;
    }
  }
  return contact ? { jobs, cancelJobIds, contact } : { jobs, cancelJobIds };
}

/** Turn a pure step's result into the one atomic write: session, contact, jobs, dedupe marker. */
function buildCommit(
  deps: RunnerDeps,
  msg: InboundMessage,
  result: TurnResult,
  key: string,
  seenKey: string | undefined,
  digest?: string,
): StepCommit {
  const jobId = deps.jobIds ?? randomUUID;
  const sms = (to: string, text: string, locale: string, reply: boolean): QueuedJob => ({
    id: `sms:${jobId()}`,
    queue: 'outbox-sms',
    name: 'sendSms',
    // A reply answers a message the person just sent, so it goes out even to an opted-out number
    // (that is how STOP gets its confirmation); everything unsolicited checks opt-out before sending.
    data: { to, text, locale, reply, providerFrom: msg.providerFrom, provider: msg.provider },
  });
  const updates: DocUpdate[] = [];
  const queued = result.effects.filter((e) => {
    const inline = e.type === 'notify' ? deps.inlineNotify?.[e.kind]?.(e.payload) : null;
    if (inline) updates.push(inline);
    return !inline;
  });
  const {
    jobs,
    cancelJobIds,
    contact: contactPatch,
  } = jobsForEffects(queued, {
    phone: msg.from,
    channel: msg.channel,
    newId: jobId,
    smsJob: (e) => sms(e.to, e.text, e.locale, false),
  });

  // On SMS the reply is itself an outbound message; on USSD it is the HTTP answer.
  if (msg.channel === 'sms' && result.reply) jobs.unshift(sms(msg.from, result.reply.text, result.locale, true));

  let session: SessionRecord | null = result.session;
  let sessionTtlMs = result.sessionTtlMs;
  if (msg.channel === 'ussd' && !session && result.reply && msg.sessionId) {
    // Keep the final screen for the rest of the dial: a re-sent last hop gets it again instead of
    // starting over (and meeting its own dedupe marker). It never resumes a conversation.
    session = finalScreen(result, deps.clock.now().getTime());
    sessionTtlMs = USSD_DIAL_TTL_MS;
  }
  if (session && msg.channel === 'ussd') {
    // The dial's own fields: which provider session the record belongs to and which hop it answered.
    session = withHop(session, result.reply ?? undefined, msg.sessionId, digest ?? session.pathDigest);
  } else if (session && result.reply) {
    session = withHop(session, result.reply, session.ussdSessionId, session.pathDigest);
  }

  return {
    sessionKey: key,
    session,
    sessionTtlMs,
    jobs,
    dedupe: seenKey ? { key: seenKey, ttlMs: deps.dedupeTtlMs ?? DEDUPE_TTL_MS } : undefined,
    contact: contactPatch ? { phone: msg.from, patch: contactPatch } : undefined,
    cancelJobIds,
    ...(updates.length > 0 ? { updates } : {}),
  };
}

/**
 * `session` with this hop's answer (and, on USSD, its dial), every field written out. A spread
 * (`{ ...session, lastReply }`) built the same record, but on Node 20 each such copy lands in the old
 * generation (docs/architecture.md#the-hop-and-the-garbage-collector). JSON leaves out the fields that are
 * undefined, so what is stored is the same. Every field is required here, so a field added to
 * `SessionRecord` and not copied does not compile.
 */
function withHop(
  s: SessionRecord,
  lastReply: SessionRecord['lastReply'],
  ussdSessionId: string | undefined,
  pathDigest: string | undefined,
): SessionRecord {
  const every: { [K in keyof Required<SessionRecord>]: SessionRecord[K] } = {
    flowId: s.flowId,
    flowVersion: s.flowVersion,
    channel: s.channel,
    snapshot: s.snapshot,
    locale: s.locale,
    startedAt: s.startedAt,
    updatedAt: s.updatedAt,
    ended: s.ended,
    invalidCount: s.invalidCount,
    ussdSessionId,
    pathDigest,
    lastReply,
  };
  return every;
}

/** The record that keeps a finished dial's last screen (`ended`: no flow, no snapshot to resume). */
function finalScreen(result: TurnResult, nowMs: number): SessionRecord {
  return {
    flowId: result.flowId ?? '',
    flowVersion: '',
    channel: 'ussd',
    snapshot: null,
    locale: result.locale,
    startedAt: nowMs,
    updatedAt: nowMs,
    ended: true,
  };
}

/** Tell the in-process feed what a committed step queued. */
function announce(events: EventFeed, commit: StepCommit, at: number): void {
  for (const j of commit.jobs) {
    const d = j.data as Record<string, unknown>;
    if (j.queue === 'outbox-sms')
      events.emit({
        type: 'sms.queued',
        id: j.id,
        to: String(d.to),
        text: String(d.text),
        purpose: d.reply ? 'reply' : undefined,
        at,
      });
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
    else if (j.queue === 'timers')
      events.emit({ type: 'timer.set', id: j.id, phone: String(d.phone), fireAt: j.runAt ?? at, at });
    else events.emit({ type: 'job.queued', id: j.id, name: j.name, data: j.data, at });
  }
}

/**
 * What the session keeps of a hop's dial path: its length and a digest, never the text. Africa's
 * Talking re-sends everything typed in the dial on every hop (PINs and one-time codes included), so
 * storing the raw path would keep secrets in Redis for the session's lifetime.
 */
export function pathDigest(path: string): string {
  return `#${path.length}:${sha256(path).toString('base64url').slice(0, 22)}`;
}
