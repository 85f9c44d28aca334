import type { Clock } from '../../clock.ts';
import type { EventFeed } from '../../server/events.ts';
import type { Metrics } from '../../server/metrics.ts';
import type { JobOutcome, JobQueue, QueuedJob, RunningWorker, Store } from '../../store/types.ts';
import type { Dhis2Client, ImportIssue, ImportResult } from '../client.ts';
import { defaultDeployment, type Deployment } from '../deployment.ts';
import { Dhis2AuthError, Dhis2RequestError, Dhis2TransportError } from '../errors.ts';
import type { EnrollmentPayload, TrackerPayload } from '../payloads.ts';
import type { Dhis2Event, OrgUnit, TrackedEntityType } from '../schemas.ts';
import { dateIn } from '../readmodel/calendar.ts';
import { rmKeys, type SyncState } from '../readmodel/types.ts';
import { toSnapshot } from '../readmodel/views.ts';
import { applyWrittenEvents } from '../readmodel/writer.ts';
import { planAefi, readAefiCase } from './aefi.ts';
import { buildImport, describeIssues, judgeErrors, planJob, type PlannedJob } from './batch.ts';
import {
  flaggedEnrollment,
  possibleDuplicateNote,
  recordDuplicates,
  searchRegistry,
  type DuplicateRecord,
  type SearchResult,
} from './duplicates.ts';
import type { AefiReport, Dhis2WriteJob, DuplicateCheck } from './types.ts';
import { deriveUid, noteUid } from './uid.ts';

/** The slice of a pino logger the relay uses. It logs codes, counts, job ids and DHIS2 uids, never job data. */
export interface RelayLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface Dhis2RelayOptions {
  queue: JobQueue;
  store: Store;
  client: Dhis2Client;
  clock: Clock;
  logger: RelayLogger;
  metrics?: Metrics;
  /** The simulator's feed: `dhis2.written` with the import payload, `dhis2.failed` with the reason. */
  events?: EventFeed;
  /** Programme metadata (Immunization stage) for keeping the read model coherent. Default: the built-in one. */
  deployment?: Deployment;
  /** "Today" for the read model; default the time zone of the last sync (`rm:sync`), else UTC. */
  timeZone?: string;
  /** Most writes in one import request. Default 100. */
  maxBatch?: number;
  /** How often to look for writes when the queue was empty (ms). Default 1000. */
  intervalMs?: number;
  /** Attempts before a write is dead-lettered. Default 20: with the backoff below, about two hours of DHIS2 outage. */
  attempts?: number;
  /** Backoff base (ms), doubled per attempt. Default 2000. */
  backoffMs?: number;
  /** Backoff cap (ms). Default 10 minutes. */
  maxBackoffMs?: number;
  /** Event uids per `GET /api/tracker/events` (URL length). Default 100. */
  readChunk?: number;
  /** Import requests one batch may spend finding which writes DHIS2 refuses. Default 16. */
  maxImportsPerBatch?: number;
  /** Suppress DHIS2's own notifications (program rules, completion SMS) triggered by Jibu's writes. */
  skipSideEffects?: boolean;
  /** How long a tracked entity type's search settings are reused before being read again (ms). Default 1 hour. */
  searchSettingsTtlMs?: number;
}

/** Likely matches a birth gets a potential duplicate for (a common name and date could match many). */
const MAX_DUPLICATES_PER_BIRTH = 3;

/** Every scalar of an event, without what an update must not resend (docs/dhis2.md#update-rules). */
const EVENT_FIELDS = '*,!notes,!dataValues,!relationships';

function transient(error: string, detail?: unknown): JobOutcome {
  return detail === undefined ? { ok: false, permanent: false, error } : { ok: false, permanent: false, error, detail };
}

function permanent(error: string, detail: unknown): JobOutcome {
  return { ok: false, permanent: true, error, detail };
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function codeOf(err: unknown): string {
  return err instanceof Dhis2AuthError ? 'JIBU_DHIS2_AUTH' : 'JIBU_DHIS2_UNAVAILABLE';
}

/** A read or request that failed: the queue backs off and tries the whole write again. */
function transientFor(err: unknown): JobOutcome {
  return transient(reasonOf(err), {
    reason: err instanceof Dhis2AuthError ? 'dhis2_auth' : 'dhis2_unavailable',
    ...(err instanceof Dhis2TransportError && err.dhis2Status ? { httpStatus: err.dhis2Status } : {}),
    ...(err instanceof Dhis2AuthError || err instanceof Dhis2RequestError ? { httpStatus: err.dhis2Status } : {}),
  });
}

/** A write given up for good: what the queue keeps in its dead letter, and what the log says. */
interface DeadLetter {
  /** The queue's error text; also the event feed's unless `feed` says otherwise. */
  error: string;
  /** Kept with the dead letter for the admin (DHIS2's codes and messages, the write's op and ref). */
  detail: unknown;
  /** The log line's message, and its fields beside `code` and `jobId` (never values: uids, codes, counts). */
  log: string;
  logFields?: Record<string, unknown>;
  /** Log code; default `JIBU_DHIS2_REJECTED`. */
  code?: string;
  /** The event feed's error text, or `false` for a write the feed never saw queued. */
  feed?: string | false;
}

/**
 * One batch's bookkeeping. Every write settles once, and the two ways a write ends badly are named here
 * so each is logged and shown in the event feed the same way wherever the batch finds it:
 * `retryLater` (the queue backs off and sends it again) and `deadLetter` (given up for good).
 */
interface Batch {
  outcomes: Map<string, JobOutcome>;
  settle(id: string, outcome: JobOutcome): void;
  nowMs(): number;
  retryLater(id: string, err: unknown): void;
  deadLetter(id: string, dead: DeadLetter): void;
}

/**
 * The batch handler behind {@link startDhis2Relay}: writes in, one outcome per write out (same order).
 * Exposed so the queue's delivery can be reproduced exactly in tests (a job delivered twice).
 *
 * Per batch: one `GET /api/tracker/events` (chunked) for the current state of every event written, then
 * one `POST /api/tracker` (`CREATE_AND_UPDATE`, `atomicMode=ALL`, `async=false`). OK or WARNING (E1119:
 * a note already there) settles every write. A 409 names objects: their writes are dead-lettered with
 * DHIS2's codes and messages (E1030 on a create means done; E1032/E1082 means the event is gone), and
 * the other writes are sent again at once without them. Unreachable DHIS2, 5xx, 429 and timeouts leave
 * every write to the queue's exponential backoff.
 */
export function createDhis2BatchHandler(
  opts: Dhis2RelayOptions,
): (jobs: Array<QueuedJob<Dhis2WriteJob>>) => Promise<JobOutcome[]> {
  const { client, clock, logger, metrics, events } = opts;
  const deployment = opts.deployment ?? defaultDeployment();
  const readChunk = Math.max(1, opts.readChunk ?? 100);
  const maxImports = Math.max(1, opts.maxImportsPerBatch ?? 16);

  async function readEvents(uids: string[]): Promise<Map<string, Dhis2Event>> {
    const found = new Map<string, Dhis2Event>();
    for (let i = 0; i < uids.length; i += readChunk) {
      const chunk = uids.slice(i, i + readChunk);
      try {
        const page = await client.events({ events: chunk, fields: EVENT_FIELDS, paging: false });
        metrics?.dhis2Requests.inc({ kind: 'read', outcome: 'ok' });
        for (const e of page.items) if (!e.deleted) found.set(e.event, e);
      } catch (err) {
        metrics?.dhis2Requests.inc({ kind: 'read', outcome: 'error' });
        throw err;
      }
    }
    return found;
  }

  async function post(payload: TrackerPayload): Promise<ImportResult> {
    try {
      const r = await client.importTracker(payload, {
        importStrategy: 'CREATE_AND_UPDATE',
        atomicMode: 'ALL',
        ...(opts.skipSideEffects ? { skipSideEffects: true } : {}),
      });
      metrics?.dhis2Requests.inc({ kind: 'import', outcome: r.status.toLowerCase() });
      return r;
    } catch (err) {
      metrics?.dhis2Requests.inc({
        kind: 'import',
        outcome: err instanceof Dhis2RequestError ? 'refused' : 'unavailable',
      });
      throw err;
    }
  }

  const searchSettings = new Map<string, { at: number; type: TrackedEntityType | null }>();
  const settingsTtl = opts.searchSettingsTtlMs ?? 60 * 60_000;

  /** A tracked entity type's search settings, read at most once per TTL (they change with metadata, rarely). */
  async function trackedEntityType(uid: string): Promise<TrackedEntityType | null> {
    const hit = searchSettings.get(uid);
    if (hit && clock.now().getTime() - hit.at < settingsTtl) return hit.type;
    let type: TrackedEntityType | null;
    try {
      type = await client.trackedEntityType(uid);
      metrics?.dhis2Requests.inc({ kind: 'read', outcome: 'ok' });
    } catch (err) {
      metrics?.dhis2Requests.inc({ kind: 'read', outcome: 'error' });
      // An account that may not read metadata still gets a search with the package's searchable attributes.
      if (!(err instanceof Dhis2RequestError) && !(err instanceof Dhis2AuthError && err.dhis2Status === 403)) throw err;
      type = null;
    }
    searchSettings.set(uid, { at: clock.now().getTime(), type });
    return type;
  }

  async function counted<T>(kind: string, f: () => Promise<T>): Promise<T> {
    try {
      const r = await f();
      metrics?.dhis2Requests.inc({ kind, outcome: 'ok' });
      return r;
    } catch (err) {
      metrics?.dhis2Requests.inc({ kind, outcome: 'error' });
      throw err;
    }
  }

  async function keepReadModelCoherent(written: Dhis2Event[]): Promise<void> {
    if (!written.length) return;
    try {
      const state = await opts.store.getJson<SyncState>(rmKeys.sync());
      const today = dateIn(opts.timeZone ?? state?.timeZone ?? 'UTC', clock.now());
      await applyWrittenEvents(opts.store, written.map(toSnapshot), {
        today,
        syncedAt: clock.now().getTime(),
        deployment,
        ...(state?.window ? { window: state.window } : {}),
      });
    } catch (err) {
      // DHIS2 has the write; a stale view is corrected by the next sync, so the jobs still succeed.
      logger.warn(
        { code: 'JIBU_STORE_UNAVAILABLE', events: written.length, reason: reasonOf(err) },
        'read model not updated after a DHIS2 write',
      );
    }
  }

  function newBatch(): Batch {
    const outcomes = new Map<string, JobOutcome>();
    const nowMs = () => clock.now().getTime();
    const settle = (id: string, o: JobOutcome) => void outcomes.set(id, o);
    return {
      outcomes,
      settle,
      nowMs,
      retryLater(id, err) {
        settle(id, transientFor(err));
        events?.emit({ type: 'dhis2.failed', ids: [id], error: reasonOf(err), permanent: false, at: nowMs() });
      },
      deadLetter(id, dead) {
        settle(id, permanent(dead.error, dead.detail));
        logger.warn({ code: dead.code ?? 'JIBU_DHIS2_REJECTED', jobId: id, ...dead.logFields }, dead.log);
        if (dead.feed !== false)
          events?.emit({
            type: 'dhis2.failed',
            ids: [id],
            error: dead.feed ?? dead.error,
            permanent: true,
            at: nowMs(),
          });
      },
    };
  }

  return async function handle(jobs) {
    const started = performance.now();
    const batch = newBatch();
    const { outcomes, settle, nowMs } = batch;

    // 1. Validate: a malformed job can never succeed.
    const planned: PlannedJob[] = [];
    for (const j of jobs) {
      const plan = planJob(j.id, j.data);
      if (plan.ok) planned.push(plan.planned);
      else
        batch.deadLetter(j.id, {
          error: `invalid DHIS2 write job: ${plan.problems.join('; ')}`,
          detail: { reason: 'invalid_job', problems: plan.problems },
          code: 'JIBU_BAD_REQUEST',
          log: 'invalid DHIS2 write job dead-lettered',
          logFields: { problems: plan.problems.length },
          feed: false,
        });
    }

    // 1b. A reaction queued for the AEFI programme after the deployment turned it off goes on the visit.
    if (!deployment.aefi.program) {
      for (const p of planned) {
        if (p.write.op !== 'aefi.report') continue;
        const w = p.write;
        p.write = {
          op: 'event.update',
          event: w.visit,
          ...(deployment.aefi.followUp ? { followUp: true } : {}),
          note: w.note,
        };
        p.uids = [w.visit];
        p.event = w.visit;
      }
    }

    // 2. Read the current state of every event written (every scalar must be resent on update).
    const eventUids = [...new Set(planned.flatMap((p) => (p.event ? [p.event] : [])))];
    let current = new Map<string, Dhis2Event>();
    try {
      current = await readEvents(eventUids);
    } catch (err) {
      return finish(
        jobs,
        outcomes,
        planned,
        transient(`DHIS2 unavailable while reading events: ${reasonOf(err)}`, { reason: 'dhis2_unavailable' }),
        started,
        nowMs,
      );
    }
    const sendable: PlannedJob[] = [];
    for (const p of planned) {
      if (p.event && !current.has(p.event)) {
        const message = `event ${p.event} is not in DHIS2 (deleted, or outside the Jibu account's access)`;
        batch.deadLetter(p.id, {
          error: `DHIS2 event gone: ${message}`,
          detail: { reason: 'event_gone', op: p.write.op, ref: p.job.ref, event: p.event, message },
          log: 'DHIS2 write dead-lettered: event gone',
          logFields: { event: p.event, reason: 'event_gone' },
          feed: `event ${p.event} gone`,
        });
      } else sendable.push(p);
    }

    // 2b. Resolve AEFI reports and search the registry for births, against DHIS2 as it is now.
    const aefiOutcomes = await resolveAefi(sendable, batch);
    const searches = await searchBirths(sendable, batch);
    const ready = sendable.filter((p) => !outcomes.has(p.id));

    // 3. Import; refine the group only when DHIS2 refuses part of it.
    const groups: PlannedJob[][] = ready.length ? [ready] : [];
    const written: Dhis2Event[] = [];
    let imports = 0;
    while (groups.length) {
      const group = groups.shift()!;
      if (imports >= maxImports) {
        for (const p of group)
          settle(
            p.id,
            transient('left for a later batch: this batch spent its import requests isolating refused writes'),
          );
        continue;
      }
      imports++;
      const built = buildImport(group, current);
      let result: ImportResult;
      try {
        result = await post(built.payload);
      } catch (err) {
        if (err instanceof Dhis2RequestError) {
          // The body itself was refused (400): halve the group until the write that causes it stands alone.
          if (group.length > 1) {
            const half = Math.ceil(group.length / 2);
            groups.unshift(group.slice(0, half), group.slice(half));
            continue;
          }
          const p = group[0]!;
          batch.deadLetter(p.id, {
            error: `DHIS2 refused the write (${err.dhis2Status}): ${err.message}`,
            detail: {
              reason: 'payload_refused',
              op: p.write.op,
              ref: p.job.ref,
              ...(p.event ? { event: p.event } : {}),
              dhis2: { httpStatus: err.dhis2Status, code: err.dhis2Code, message: err.message },
            },
            log: 'DHIS2 write dead-lettered: request refused',
            logFields: { dhis2Status: err.dhis2Status, dhis2Code: err.dhis2Code },
            feed: err.message,
          });
          continue;
        }
        // Down, 5xx, 429, timeout, or credentials: nothing here can fix it; the queue backs off and retries.
        const rest = [group, ...groups.splice(0)].flat();
        const code = err instanceof Dhis2AuthError ? 'JIBU_DHIS2_AUTH' : 'JIBU_DHIS2_UNAVAILABLE';
        const detail = {
          reason: err instanceof Dhis2AuthError ? 'dhis2_auth' : 'dhis2_unavailable',
          ...(err instanceof Dhis2TransportError && err.dhis2Status ? { httpStatus: err.dhis2Status } : {}),
          ...(err instanceof Dhis2AuthError ? { httpStatus: err.dhis2Status } : {}),
        };
        for (const p of rest) settle(p.id, transient(reasonOf(err), detail));
        logger.warn(
          {
            code,
            jobs: rest.length,
            timedOut: err instanceof Dhis2TransportError ? err.timedOut : undefined,
            reason: reasonOf(err),
          },
          'DHIS2 import failed; writes will be retried',
        );
        events?.emit({
          type: 'dhis2.failed',
          ids: rest.map((p) => p.id),
          error: reasonOf(err),
          permanent: false,
          at: nowMs(),
        });
        break;
      }

      if (result.status !== 'ERROR') {
        for (const p of group) settle(p.id, { ok: true });
        for (const [uid, state] of built.after) {
          current.set(uid, state);
          written.push(state);
        }
        logger.info(
          {
            jobs: group.length,
            events: built.after.size,
            status: result.status,
            stats: result.stats,
            warnings: result.warnings.map((w) => w.code),
          },
          'DHIS2 import accepted',
        );
        events?.emit({
          type: 'dhis2.written',
          ids: group.map((p) => p.id),
          status: result.status,
          requestPayload: built.payload,
          at: nowMs(),
        });
        continue;
      }

      // 409: atomicMode=ALL saved nothing. Dead-letter the writes DHIS2 named, send the rest again.
      const { verdicts, unattributed } = judgeErrors(group, result.errors);
      const clean: PlannedJob[] = [];
      const isolated: PlannedJob[][] = [];
      for (const p of group) {
        const v = verdicts.get(p.id)!;
        if (v.kind === 'clean') clean.push(p);
        else if (v.kind === 'isolate' && group.length > 1) isolated.push([p]);
        else if (v.kind === 'done') settle(p.id, { ok: true });
        else if (v.kind === 'retry') {
          settle(
            p.id,
            transient(`the child's AEFI case changed since it was read: ${describeIssues(v.issues)}`, {
              reason: 'case_changed',
            }),
          );
          logger.info(
            { jobId: p.id, errors: v.issues.map(issueForLog) },
            'AEFI report will be resolved again: its case changed in DHIS2',
          );
        } else {
          const reason = v.kind === 'gone' ? 'event_gone' : 'dhis2_rejected';
          batch.deadLetter(p.id, rejected(p, reason, result, v.issues));
        }
      }
      if (clean.length === group.length) {
        // DHIS2 named none of these objects: split until the culprit stands alone.
        if (group.length > 1) {
          const half = Math.ceil(group.length / 2);
          groups.unshift(group.slice(0, half), group.slice(half));
        } else {
          batch.deadLetter(group[0]!.id, rejected(group[0]!, 'dhis2_rejected', result, unattributed));
        }
        continue;
      }
      groups.unshift(...(clean.length ? [clean] : []), ...isolated);
    }

    await keepReadModelCoherent(written);
    for (const [id, outcome] of aefiOutcomes) if (outcomes.get(id)?.ok) metrics?.aefiReports.inc({ outcome });
    await fileDuplicates(planned, searches, batch);
    return finish(jobs, outcomes, planned, undefined, started, nowMs);
  };

  /**
   * Resolve each AEFI report against DHIS2 (its visit, the child's AEFI enrollments) into the objects it
   * writes. Two reports for one child in a batch are written one after the other: the second waits for the
   * next batch, where it finds the first one's case.
   */
  async function resolveAefi(sendable: PlannedJob[], batch: Batch): Promise<Map<string, string>> {
    const resolved = new Map<string, string>();
    const program = deployment.aefi.program;
    if (!program) return resolved;
    const children = new Set<string>();
    for (const p of sendable) {
      if (p.write.op !== 'aefi.report') continue;
      const w: AefiReport = p.write;
      if (children.has(w.trackedEntity)) {
        batch.settle(p.id, transient('another report for this child is written first', { reason: 'same_child' }));
        continue;
      }
      children.add(w.trackedEntity);
      let found: Awaited<ReturnType<typeof readAefiCase>>;
      try {
        found = await counted('read', () => readAefiCase(client, w, program));
      } catch (err) {
        batch.retryLater(p.id, err);
        continue;
      }
      if (!found) {
        const message = `tracked entity ${w.trackedEntity} is not in DHIS2 (deleted, or outside the Jibu account's access)`;
        batch.deadLetter(p.id, {
          error: `DHIS2 child gone: ${message}`,
          detail: { reason: 'child_gone', op: p.write.op, ref: p.job.ref, message },
          log: 'AEFI report dead-lettered',
          logFields: { reason: 'child_gone' },
          feed: message,
        });
        continue;
      }
      const plan = planAefi(
        { ...deployment.aefi, program },
        w,
        found,
        { note: noteUid(p.id), value: w.note },
        deployment.staffLocale,
      );
      p.resolved = { enrollments: plan.enrollments, events: plan.events };
      p.uids = plan.uids;
      resolved.set(p.id, plan.outcome);
    }
    return resolved;
  }

  /** Search the registry for each birth that asks for it, before the child is created. */
  async function searchBirths(sendable: PlannedJob[], batch: Batch): Promise<Map<string, SearchResult>> {
    const out = new Map<string, SearchResult>();
    const births = sendable.filter((p) => p.write.op === 'tracker.create' && p.write.duplicateCheck);
    if (!births.length) return out;
    let tree: Record<string, OrgUnit>;
    try {
      tree = (await opts.store.getJson<Record<string, OrgUnit>>(rmKeys.orgUnits())) ?? {};
    } catch {
      tree = {};
    }
    for (const p of births) {
      if (p.write.op !== 'tracker.create' || !p.write.duplicateCheck) continue;
      const check = p.write.duplicateCheck;
      const created = p.write.trackedEntities?.find(
        (te): te is { trackedEntityType: string } =>
          (te as { trackedEntity?: unknown }).trackedEntity === check.trackedEntity,
      );
      const typeUid = typeof created?.trackedEntityType === 'string' ? created.trackedEntityType : undefined;
      if (!typeUid) continue;
      try {
        const type = await trackedEntityType(typeUid);
        const result = await counted('search', () =>
          searchRegistry(client, check, { deployment, trackedEntityType: typeUid, type, tree }),
        );
        out.set(p.id, result);
      } catch (err) {
        batch.retryLater(p.id, err);
      }
    }
    return out;
  }

  /**
   * After the births are created: a potential duplicate in DHIS2 for each likely match outside the worker's
   * area, or, where DHIS2 refuses it, a note and the follow-up flag on the new enrollment. Both are
   * idempotent (DHIS2 answers 409 for a pair it has; the note's uid derives from the job), so a job that
   * fails here is simply retried whole.
   */
  async function fileDuplicates(
    planned: PlannedJob[],
    searches: Map<string, SearchResult>,
    batch: Batch,
  ): Promise<void> {
    const { outcomes, nowMs } = batch;
    const records: DuplicateRecord[] = [];
    for (const p of planned) {
      const result = searches.get(p.id);
      if (!result || !outcomes.get(p.id)?.ok || p.write.op !== 'tracker.create' || !p.write.duplicateCheck) continue;
      const check: DuplicateCheck = p.write.duplicateCheck;
      if (!result.ok) {
        metrics?.birthDuplicateChecks.inc({ outcome: result.outcome });
        logger.info({ jobId: p.id, outcome: result.outcome }, 'birth duplicate check inconclusive');
        continue;
      }
      const matches = result.matches.slice(0, MAX_DUPLICATES_PER_BIRTH);
      if (!matches.length) {
        metrics?.birthDuplicateChecks.inc({ outcome: 'no_match' });
        continue;
      }
      const mine: DuplicateRecord[] = [];
      const refused: Array<{ original: string; orgUnit: string; reason: string }> = [];
      try {
        for (const m of matches) {
          const r = await counted('duplicate', () =>
            client.createPotentialDuplicate({ original: m.trackedEntity, duplicate: check.trackedEntity }),
          );
          const base = {
            at: new Date(nowMs()).toISOString(),
            ref: p.job.ref,
            original: m.trackedEntity,
            originalOrgUnit: m.orgUnit,
            duplicate: check.trackedEntity,
            enrollment: check.enrollment,
          };
          if (r.status === 'refused') {
            const reason = `HTTP ${r.httpStatus}: ${r.message}`;
            refused.push({ original: m.trackedEntity, orgUnit: m.orgUnit, reason });
            mine.push({ ...base, outcome: 'noted', reason });
          } else
            mine.push({
              ...base,
              outcome: 'filed',
              ...(r.status === 'created' && r.id ? { potentialDuplicate: r.id } : {}),
            });
        }
        if (refused.length) {
          const problem = await flagEnrollment(p, check, refused);
          if (problem) {
            // The child exists and nothing more can be written about the match: the admin list says so.
            for (const r of mine)
              if (r.outcome === 'noted') Object.assign(r, { outcome: 'unfiled', reason: `${r.reason}; ${problem}` });
            logger.warn(
              { code: 'JIBU_DHIS2_REJECTED', jobId: p.id },
              'possible duplicate neither filed nor noted in DHIS2',
            );
          }
        }
      } catch (err) {
        logger.warn(
          { code: codeOf(err), jobId: p.id, reason: reasonOf(err) },
          'potential duplicate not filed; the birth will be retried',
        );
        batch.retryLater(p.id, err);
        continue;
      }
      metrics?.birthDuplicateChecks.inc({
        outcome: mine.some((r) => r.outcome === 'unfiled') ? 'unfiled' : refused.length ? 'noted' : 'filed',
      });
      logger.info(
        { jobId: p.id, filed: mine.filter((r) => r.outcome === 'filed').length, noted: refused.length },
        'possible duplicate of a notified birth recorded',
      );
      events?.emit({
        type: 'dhis2.written',
        ids: [p.id],
        status: refused.length ? 'WARNING' : 'OK',
        requestPayload: {
          potentialDuplicates: matches.map((m) => ({ original: m.trackedEntity, duplicate: check.trackedEntity })),
        },
        at: nowMs(),
      });
      records.push(...mine);
    }
    try {
      await recordDuplicates(opts.store, records);
    } catch (err) {
      logger.warn(
        { code: 'JIBU_STORE_UNAVAILABLE', records: records.length, reason: reasonOf(err) },
        'duplicate list not updated',
      );
    }
  }

  /**
   * Note and follow-up flag on the birth's new enrollment, one note per refused match. Returns DHIS2's
   * reason when it refused that too; throws when DHIS2 is unavailable (the job is retried).
   */
  async function flagEnrollment(
    p: PlannedJob,
    check: DuplicateCheck,
    refused: Array<{ original: string; orgUnit: string; reason: string }>,
  ): Promise<string | undefined> {
    if (p.write.op !== 'tracker.create') return 'not a birth';
    const created = (p.write.trackedEntities ?? [])
      .flatMap((te) => ((te as { enrollments?: unknown[] }).enrollments ?? []) as EnrollmentPayload[])
      .concat((p.write.enrollments ?? []) as EnrollmentPayload[])
      .find((en) => en.enrollment === check.enrollment);
    if (!created) return `enrollment ${check.enrollment} is not in the write`;
    const notes = refused.map((r) => ({
      note: deriveUid(`outbox-dhis2:${p.id}:duplicate:${r.original}`),
      value: possibleDuplicateNote(deployment, { ...r, ref: p.job.ref }),
    }));
    const enrollment = { ...flaggedEnrollment({ ...created, trackedEntity: check.trackedEntity }, notes[0]!), notes };
    try {
      const result = await post({ enrollments: [enrollment] });
      return result.status === 'ERROR' ? `note refused: ${describeIssues(result.errors)}` : undefined;
    } catch (err) {
      if (err instanceof Dhis2RequestError) return `note refused: ${err.message}`;
      throw err;
    }
  }

  function finish(
    jobs: Array<QueuedJob<Dhis2WriteJob>>,
    outcomes: Map<string, JobOutcome>,
    planned: PlannedJob[],
    rest: JobOutcome | undefined,
    started: number,
    nowMs: () => number,
  ): JobOutcome[] {
    if (rest) {
      const pending = planned.filter((p) => !outcomes.has(p.id));
      for (const p of pending) outcomes.set(p.id, rest);
      if (pending.length && !rest.ok) {
        logger.warn(
          { code: 'JIBU_DHIS2_UNAVAILABLE', jobs: pending.length, reason: rest.error },
          'DHIS2 read failed; writes will be retried',
        );
        events?.emit({
          type: 'dhis2.failed',
          ids: pending.map((p) => p.id),
          error: rest.error,
          permanent: false,
          at: nowMs(),
        });
      }
    }
    const ms = Math.round(performance.now() - started);
    const counts = { ok: 0, retry: 0, dead: 0 };
    const result = jobs.map((j) => {
      const o = outcomes.get(j.id) ?? transient('not settled by the batch');
      if (o.ok) counts.ok++;
      else if (o.permanent) counts.dead++;
      else counts.retry++;
      return o;
    });
    logger.info({ jobs: jobs.length, ...counts, ms }, 'DHIS2 outbox batch done');
    return result;
  }
}

/** A write DHIS2's import report names as refused (409): dead-lettered with the report's issues. */
function rejected(
  p: PlannedJob,
  reason: 'event_gone' | 'dhis2_rejected',
  result: ImportResult,
  issues: ImportIssue[],
): DeadLetter {
  const error = `${reason === 'event_gone' ? 'DHIS2 event gone' : 'DHIS2 rejected the write'}: ${describeIssues(issues)}`;
  return {
    error,
    detail: {
      reason,
      op: p.write.op,
      ref: p.job.ref,
      ...(p.event ? { event: p.event } : {}),
      dhis2: { httpStatus: result.httpStatus, status: result.status, errors: issues },
    },
    log: 'DHIS2 write dead-lettered',
    logFields: { reason, errors: issues.map(issueForLog) },
  };
}

/** Codes, types and uids: DHIS2 messages may quote values (E1007 quotes a phone number), so they stay out of logs. */
function issueForLog(i: ImportIssue): { code: string; trackerType?: string; uid?: string } {
  return { code: i.code, ...(i.trackerType ? { trackerType: i.trackerType } : {}), ...(i.uid ? { uid: i.uid } : {}) };
}

/**
 * Relay `outbox-dhis2` into DHIS2 (docs/design.md#step-7-relay-effects-from-durable-queues): up to `maxBatch` writes
 * per
 * `POST /api/tracker`, at most one batch in flight, every write idempotent (client-made note and object
 * uids), transient failures retried with exponential backoff, permanent ones dead-lettered with DHIS2's
 * report (`queue.deadLetters('outbox-dhis2')`, `queue.retryDeadLetter`). After a write lands, the read
 * model (`rm:event`, caregiver and defaulter views) is brought up to date at once.
 *
 * @example
 * const worker = startDhis2Relay({ queue, store, client, clock, logger, metrics, events });
 * // on shutdown
 * await worker.close();
 */
export function startDhis2Relay(opts: Dhis2RelayOptions): RunningWorker {
  const handler = createDhis2BatchHandler(opts);
  return opts.queue.processBatch<Dhis2WriteJob>('outbox-dhis2', handler, {
    maxBatch: opts.maxBatch ?? 100,
    intervalMs: opts.intervalMs ?? 1000,
    attempts: opts.attempts ?? 20,
    backoffMs: opts.backoffMs ?? 2000,
    maxBackoffMs: opts.maxBackoffMs ?? 10 * 60_000,
  });
}
