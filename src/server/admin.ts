import { timingSafeEqual, createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { systemClock, type Clock } from '../clock.ts';
import {
  ADMIN_COOKIE,
  SESSION_MS,
  cookieValue,
  safeNext,
  sessionValue,
  signInPage,
  validSession,
} from './admin-session.ts';
import { createAttemptLimiter, type AttemptLimiter } from './attempt-limiter.ts';
import type { FlowSet } from '../conversation/index.ts';
import { todayIn } from '../conversation/input.ts';
import { ERRORS, JibuError, errorBody, type ErrorCode } from '../errors.ts';
import { listDuplicates } from '../dhis2/outbox/duplicates.ts';
import { rmKeys, type SyncState } from '../dhis2/readmodel/types.ts';
import type { Logger } from '../log.ts';
import {
  QUEUE_NAMES,
  type DeadLetter,
  type JobQueue,
  type QueueCounts,
  type QueueName,
  type Store,
} from '../store/types.ts';

/**
 * The admin API (README "Operations", SECURITY.md "Entry points"), mounted at `/admin`: flow reload, queue counts, dead
 * letters and their replay, and "run this job as if today were". Bearer `ADMIN_TOKEN` on every route.
 */

export interface AdminDeps {
  /** `ADMIN_TOKEN`. Unset: allowed only on the embedded default (nothing real to protect), else 401. */
  adminToken?: string;
  /** True on the embedded default (in-memory store, DHIS2 emulator). */
  embedded: boolean;
  /** Reload flows and locales; runs one reload at a time (see `src/server/one-at-a-time.ts`). */
  reloadFlows: () => Promise<{ ok: true; version: string } | { ok: false; problems: unknown[] }>;
  queue: JobQueue;
  /** For admin actions on contacts that later capabilities add (PIN reset). */
  store: Store;
  flows: () => FlowSet;
  /** Scheduled jobs by name, each run "as if today were" `date` (`YYYY-MM-DD`). */
  jobs?: Record<string, (date: string) => Promise<unknown>>;
  /** "Today" for a job run without a date: the clock in `timeZone` (default: the process `TZ`). */
  clock?: Clock;
  timeZone?: string;
  /** Admin actions are logged (who did what is an operator's first question after an incident). */
  logger?: Logger;
  /** Failed attempts per client, shared with the gateway's other admin mounts. */
  limiter?: AttemptLimiter;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison (hashing first makes the lengths equal). */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function fail(res: Response, code: ErrorCode, detail?: unknown): void {
  res.status(ERRORS[code].status).json(errorBody(code, detail));
}

export { ADMIN_COOKIE } from './admin-session.ts';

export interface AdminAuthOptions {
  adminToken?: string;
  /** True only in the all-embedded demo: with no token configured, requests pass. */
  embedded: boolean;
  /** Pages such as `/simulator`: a signed session cookie is accepted, and a browser is shown the sign-in form. */
  browser?: boolean;
  /** Failed attempts per client (shared by every admin mount of one gateway). Default: one of its own. */
  limiter?: AttemptLimiter;
  clock?: Clock;
}

function tooMany(res: Response, retryMs: number): void {
  res.setHeader('Retry-After', String(Math.ceil(retryMs / 1000)));
  fail(res, 'JIBU_TOO_MANY_ATTEMPTS');
}

/**
 * Require the admin token: `Authorization: Bearer <ADMIN_TOKEN>` (401 `JIBU_UNAUTHORIZED` otherwise).
 * With no token configured, requests pass only in the all-embedded demo. With `browser: true` a signed
 * session cookie from `POST /admin/session` is accepted too, and a browser asking for a page gets the
 * sign-in form. The token is never accepted in the URL (it would end up in proxy logs). A client that
 * presents wrong credentials too often is refused with 429 `JIBU_TOO_MANY_ATTEMPTS` for a while.
 *
 * @example app.use('/simulator', adminAuth({ adminToken: config.ADMIN_TOKEN, embedded, browser: true, limiter }), simulatorRouter(deps))
 */
export function adminAuth(opts: AdminAuthOptions): RequestHandler {
  const limiter = opts.limiter ?? createAttemptLimiter();
  const clock = opts.clock ?? systemClock;
  return (req, res, next) => {
    const token = opts.adminToken;
    if (!token) {
      if (opts.embedded) return next();
      res.setHeader('WWW-Authenticate', 'Bearer realm="jibu-admin"');
      return fail(
        res,
        'JIBU_UNAUTHORIZED',
        'ADMIN_TOKEN is not set on this gateway: admin access is off outside the all-embedded demo',
      );
    }
    const client = req.ip ?? 'unknown';
    const wait = limiter.retryAfterMs(client);
    if (wait > 0) return tooMany(res, wait);
    const header = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    const cookie = opts.browser ? cookieValue(req.headers.cookie, ADMIN_COOKIE) : undefined;
    if (header !== undefined && sameSecret(header, token)) {
      limiter.succeed(client);
      return next();
    }
    if (cookie !== undefined && validSession(cookie, token, clock.now().getTime())) return next();
    // Only presented credentials count as attempts: a first visit without any is not guessing.
    if (header !== undefined || cookie !== undefined) limiter.fail(client);
    if (opts.browser && req.method === 'GET' && req.accepts(['json', 'html']) === 'html') {
      res.status(401).type('html').setHeader('Cache-Control', 'no-store');
      // Back to the same page after sign-in; the query is dropped (it is never where credentials belong).
      return void res.send(signInPage(`${req.baseUrl}${req.path}`));
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="jibu-admin"');
    return fail(res, 'JIBU_UNAUTHORIZED');
  };
}

/**
 * `GET /admin/session` the sign-in form; `POST /admin/session` (form or JSON `{token, next}`) checks
 * the token (rate-limited like every admin credential), sets the signed session cookie and sends the
 * browser to `next` (a path on this site). Mount before {@link adminRouter}.
 */
export function adminSessionRouter(opts: {
  adminToken?: string;
  limiter: AttemptLimiter;
  clock?: Clock;
}): express.Router {
  const router = express.Router();
  const clock = opts.clock ?? systemClock;
  router.use(express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 }));
  router.use(express.json({ limit: '4kb', strict: true }));
  router.get('/', (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(signInPage(safeNext(req.query.next)));
  });
  router.post('/', (req, res) => {
    const body = (req.body ?? {}) as { token?: unknown; next?: unknown };
    const next = safeNext(body.next);
    const client = req.ip ?? 'unknown';
    const wait = opts.limiter.retryAfterMs(client);
    if (wait > 0) return tooMany(res, wait);
    const token = opts.adminToken;
    if (!token || typeof body.token !== 'string' || !sameSecret(body.token, token)) {
      if (token) opts.limiter.fail(client);
      return void res
        .status(401)
        .type('html')
        .send(signInPage(next, token ? 'That is not the admin token.' : 'ADMIN_TOKEN is not set on this gateway.'));
    }
    opts.limiter.succeed(client);
    const expiresAt = clock.now().getTime() + SESSION_MS;
    res.cookie(ADMIN_COOKIE, sessionValue(token, expiresAt), {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: req.secure,
      maxAge: SESSION_MS,
    });
    res.redirect(303, next);
  });
  return router;
}

const queueSchema = z.enum(QUEUE_NAMES as [QueueName, ...QueueName[]]);

/** A real calendar day: `2025-02-30` is refused, not rolled over to March. */
const isoDateSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, 'not a calendar date');

const jobRunBodySchema = z.strictObject({ date: isoDateSchema.optional() });
const deadQuerySchema = z.object({
  queue: queueSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const limitQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });
const retryParamsSchema = z.object({ queue: queueSchema, id: z.string().min(1).max(500) });

const issues = (e: z.ZodError) => e.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));

/**
 * The `/admin` router. Every route requires the admin token (see {@link adminAuth}); errors are
 * `errorBody(code)` JSON with catalogue codes.
 *
 * - `GET  /flows`                        → `{ version, flows: [{ id, version, file, channels }] }`
 * - `POST /flows/reload`                 → 200 `{ version, flows }`, or 422 `JIBU_FLOWS_INVALID` with `detail.problems` (running set kept)
 * - `GET  /queues`                       → `{ queues: { 'outbox-sms': { waiting, delayed, active, failed }, … } }`
 * - `GET  /outbox/dead?queue=&limit=`    → `{ deadLetters: [...] }`, newest first
 * - `POST /outbox/dead/:queue/:id/retry` → `{ retried: true, queue, id }`, or 404 `JIBU_NOT_FOUND`
 * - `GET  /duplicates?limit=`           → `{ duplicates: [...] }`: possible duplicates of notified births, newest first
 * - `GET  /defaulters`                   → `{ defaulters: { at, rule, count, excluded: { grace, lookback, age, enrollment } } | null, lastFullAt }`:
 *                                          who the last full sync counted as defaulters and the overdue visits it left out, by reason
 * - `GET  /jobs`                         → `{ jobs: [names] }`
 * - `POST /jobs/:name/run` `{"date"?}`   → `{ job, date, result }`, or 404 `JIBU_UNKNOWN_JOB`
 *
 * @example app.use('/admin', adminRouter({ adminToken: config.ADMIN_TOKEN, embedded: config.embedded.store, ...gateway }))
 */
export function adminRouter(deps: AdminDeps): express.Router {
  const router = express.Router();
  const clock = deps.clock ?? systemClock;
  const timeZone = deps.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const audit = (msg: string, fields: Record<string, unknown>) => deps.logger?.info({ admin: true, ...fields }, msg);

  router.use(adminAuth({ adminToken: deps.adminToken, embedded: deps.embedded, limiter: deps.limiter, clock }));
  router.use(express.json({ limit: '16kb', strict: true }));

  const describeFlows = (set: FlowSet) => ({
    version: set.version,
    flows: [...set.flows.values()].map((f) => ({
      id: f.id,
      version: f.version,
      file: f.file,
      channels: f.def.channels,
    })),
  });

  router.get('/flows', (_req, res) => {
    res.json(describeFlows(deps.flows()));
  });

  // `deps.reloadFlows` runs one reload at a time itself (the gateway's one lock, shared with SIGHUP).
  router.post('/flows/reload', async (_req, res) => {
    const r = await deps.reloadFlows();
    if (!r.ok) {
      audit('admin: flow reload refused, running set kept', {
        code: 'JIBU_FLOWS_INVALID',
        problems: r.problems.length,
      });
      return fail(res, 'JIBU_FLOWS_INVALID', { problems: r.problems });
    }
    audit('admin: flows reloaded', { version: r.version });
    const d = describeFlows(deps.flows());
    res.json({ version: r.version, flows: d.flows.map((f) => f.id) });
  });

  router.get('/queues', async (_req, res) => {
    const entries = await Promise.all(QUEUE_NAMES.map(async (q) => [q, await deps.queue.counts(q)] as const));
    const queues: Record<string, QueueCounts> = Object.fromEntries(entries);
    res.json({ queues });
  });

  router.get('/outbox/dead', async (req, res) => {
    const q = deadQuerySchema.safeParse(req.query);
    if (!q.success) return fail(res, 'JIBU_BAD_REQUEST', { issues: issues(q.error) });
    const queues = q.data.queue ? [q.data.queue] : QUEUE_NAMES;
    const lists = await Promise.all(queues.map((name) => deps.queue.deadLetters(name, q.data.limit)));
    const deadLetters: DeadLetter[] = lists
      .flat()
      .sort((a, b) => b.failedAt - a.failedAt)
      .slice(0, q.data.limit);
    res.json({ deadLetters });
  });

  router.post('/outbox/dead/:queue/:id/retry', async (req, res) => {
    const p = retryParamsSchema.safeParse(req.params);
    if (!p.success) return fail(res, 'JIBU_BAD_REQUEST', { issues: issues(p.error) });
    const ok = await deps.queue.retryDeadLetter(p.data.queue, p.data.id);
    if (!ok) return fail(res, 'JIBU_NOT_FOUND', `no dead letter ${p.data.id} in ${p.data.queue}`);
    audit('admin: dead letter requeued', { queue: p.data.queue, jobId: p.data.id });
    res.json({ retried: true, queue: p.data.queue, id: p.data.id });
  });

  router.get('/duplicates', async (req, res) => {
    const q = limitQuerySchema.safeParse(req.query);
    if (!q.success) return fail(res, 'JIBU_BAD_REQUEST', { issues: issues(q.error) });
    res.json({ duplicates: await listDuplicates(deps.store, q.data.limit) });
  });

  // Counts only (no child, no phone): what the defaulter definition kept and left out at the last full sync.
  router.get('/defaulters', async (_req, res) => {
    const state = await deps.store.getJson<SyncState>(rmKeys.sync());
    res.json({ defaulters: state?.defaulters ?? null, lastFullAt: state?.lastFullAt ?? null });
  });

  router.get('/jobs', (_req, res) => {
    res.json({ jobs: Object.keys(deps.jobs ?? {}).sort() });
  });

  router.post('/jobs/:name/run', async (req, res) => {
    const name = String(req.params.name);
    const job = Object.hasOwn(deps.jobs ?? {}, name) ? deps.jobs?.[name] : undefined;
    if (!job) return fail(res, 'JIBU_UNKNOWN_JOB', { job: name, known: Object.keys(deps.jobs ?? {}).sort() });
    // An empty body (or none) means today; anything else must be exactly `{"date": "YYYY-MM-DD"}`.
    const body = jobRunBodySchema.safeParse(req.body ?? {});
    if (!body.success) return fail(res, 'JIBU_BAD_REQUEST', { issues: issues(body.error) });
    const date = body.data.date ?? todayIn(clock.now(), timeZone);
    audit('admin: job run', { job: name, date });
    const result = await job(date);
    res.json({ job: name, date, ...(result === undefined ? {} : { result }) });
  });

  router.use((_req, res) => fail(res, 'JIBU_NOT_FOUND'));
  // Parse errors and anything thrown: a stable code, never a stack trace.
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (err instanceof JibuError) return fail(res, err.code, err.detail);
    if (e.type === 'entity.too.large') return fail(res, 'JIBU_PAYLOAD_TOO_LARGE');
    if (e.type === 'entity.parse.failed' || (e.status && e.status >= 400 && e.status < 500))
      return fail(res, 'JIBU_BAD_REQUEST');
    deps.logger?.error({ err, code: 'JIBU_INTERNAL' }, 'admin request failed');
    return fail(res, 'JIBU_INTERNAL');
  });
  return router;
}
