import type { Clock } from '../clock.ts';
import { newUid } from '../dhis2/uid.ts';
import type { Dhis2Version } from '../dhis2/version.ts';
import { authenticate, hasAuthority } from './auth.ts';
import { routePotentialDuplicates, routeTrackedEntityTypes } from './deduplication.ts';
import { FieldSelector, pick } from './fields.ts';
import { HttpError, json, readJson, webMessageBody } from './http.ts';
import { addNote, readImportParams, runImport, type ImportEnv, type ImportOutcome } from './importer.ts';
import type { EmulatorState, EmulatorUser, OrgUnit } from './model.ts';
import { METADATA_REFS, meFields, orgUnitFields, userFields } from './render.ts';
import { EmulatorSms, type SmsOptions } from './sms.ts';
import type { ServerTime } from './time.ts';
import {
  getEnrollment,
  getEvent,
  getTrackedEntity,
  listEnrollments,
  listEvents,
  listTrackedEntities,
  type QueryContext,
} from './tracker.ts';

/**
 * The emulator as one web-standard function, `handle(Request) → Response`: routing, authentication,
 * fault injection and the non-tracker endpoints. The in-process fetch and the express mount are thin
 * adapters around it.
 */

/** Thrown while the emulator is "down": adapters turn it into a refused connection. */
export class EmulatorDownError extends Error {
  constructor() {
    super('connect ECONNREFUSED (DHIS2 emulator is down)');
    this.name = 'EmulatorDownError';
  }
}

interface FailRule {
  remaining: number;
  status: number;
  onlyImports: boolean;
  afterCommit: boolean;
  /** Only requests whose API path starts with this (e.g. `/api/potentialDuplicates`). */
  path?: string;
}

/** Fault injection for resilience tests. */
export interface EmulatorFaults {
  /**
   * Answer the next `n` requests (or only imports, or only those under `path`) with `status` (default 503).
   * With `afterCommit` the request is processed first and only the answer is lost: the classic "did my
   * write land?" case.
   */
  failNext(n: number, status?: number, opts?: { onlyImports?: boolean; afterCommit?: boolean; path?: string }): void;
  /** Delay before every answer (honours the caller's abort signal). */
  latencyMs: number;
  /** Refuse every connection. */
  down: boolean;
  /** Accept async import jobs but never run them (lost on "restart"). */
  dropAsyncJobs: boolean;
  /** Clear every fault. */
  reset(): void;
}

export interface RequestRecord {
  method: string;
  path: string;
  search: string;
  status: number;
}

interface Job {
  id: string;
  created: number;
  notifications: Array<Record<string, unknown>>;
  outcome?: ImportOutcome;
}

export interface HandlerDeps {
  state: EmulatorState;
  version: Dhis2Version;
  time: ServerTime;
  clock: Clock;
  systemId: string;
  /** Gateway calls of `POST /api/sms/outbound` (docs/dhis2.md#the-generic-http-gateway-that-points-at-jibu). */
  sms?: SmsOptions;
}

export interface Handler {
  handle(req: Request): Promise<Response>;
  faults: EmulatorFaults;
  requests: RequestRecord[];
  /** SMS gateways and outbound SMS (`/api/gateways`, `/api/sms/outbound`). */
  sms: EmulatorSms;
}

const MAX_RECORDS = 5000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function createHandler(deps: HandlerDeps): Handler {
  const { state, version, time, clock } = deps;
  const minor = version.minor;
  const rules: FailRule[] = [];
  const jobs = new Map<string, Job>();
  const requests: RequestRecord[] = [];
  const sms = new EmulatorSms({ state, minor, clock, time, options: deps.sms });

  const faults: EmulatorFaults = {
    failNext(n, status = 503, opts = {}) {
      rules.push({
        remaining: n,
        status,
        onlyImports: opts.onlyImports ?? false,
        afterCommit: opts.afterCommit ?? false,
        ...(opts.path ? { path: opts.path } : {}),
      });
    },
    latencyMs: 0,
    down: false,
    dropAsyncJobs: false,
    reset() {
      rules.length = 0;
      this.latencyMs = 0;
      this.down = false;
      this.dropAsyncJobs = false;
    },
  };

  function takeFault(isImport: boolean, path: string): FailRule | undefined {
    const rule = rules.find(
      (r) => r.remaining > 0 && (!r.onlyImports || isImport) && (r.path === undefined || path.startsWith(r.path)),
    );
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining === 0) rules.splice(rules.indexOf(rule), 1);
    return rule;
  }

  function importEnv(user: EmulatorUser): ImportEnv {
    return { state, version, time, now: clock.now().getTime(), user };
  }

  /** 2.38–2.41 run synchronously only for the exact string `async=false`; 2.42 binds a boolean. */
  function isSync(params: URLSearchParams): boolean {
    const raw = params.get('async');
    if (minor <= 41) return raw === 'false';
    if (raw === null || raw === '') return false;
    if (/^false$/i.test(raw)) return true;
    if (/^true$/i.test(raw)) return false;
    throw new HttpError(400, `Value ${raw} is not valid for parameter async. It should be of type boolean`);
  }

  function filterReport(report: Record<string, unknown>, mode: string): Record<string, unknown> {
    const out = structuredClone(report);
    const vr = out.validationReport as { warningReports: unknown[] } | undefined;
    if (mode === 'ERRORS' && vr) vr.warningReports = [];
    if (mode !== 'FULL') delete out.timingsStats;
    return out;
  }

  async function postTracker(req: Request, url: URL, origin: string, user: EmulatorUser): Promise<Response> {
    const params = readImportParams(url.searchParams);
    const sync = isSync(url.searchParams);
    const body = await readJson(req);
    if (sync) {
      const outcome = runImport(importEnv(user), body, params);
      return json(outcome.httpStatus, outcome.report);
    }
    const job: Job = { id: newUid(), created: clock.now().getTime(), notifications: [] };
    jobs.set(job.id, job);
    const note = (message: string, completed: boolean) =>
      job.notifications.unshift({
        uid: newUid(),
        id: job.id,
        level: 'INFO',
        category: 'TRACKER_IMPORT_JOB',
        time: time.format(clock.now().getTime()),
        message,
        completed,
      });
    note('(JSON) Import:Start', false);
    if (!faults.dropAsyncJobs) {
      // The job runs after the answer, so `/report` is a 404 until it has finished, as on a real server.
      setImmediate(() => {
        try {
          job.outcome = runImport(importEnv(user), body, { ...params, reportMode: 'FULL' });
          note('(JSON) Import:Done took 0.01 sec.', true);
        } catch (err) {
          note(`(JSON) Import:Failed ${err instanceof Error ? err.message : String(err)}`, true);
        }
      });
    }
    return json(200, {
      ...webMessageBody(200, 'Tracker job added'),
      response: { responseType: 'TrackerJob', id: job.id, location: `${origin}/api/tracker/jobs/${job.id}` },
    });
  }

  function metadataPaging(
    url: URL,
    total: number,
  ): { off: boolean; page: number; pageSize: number; pager?: Record<string, unknown> } {
    const p = url.searchParams;
    if (p.get('paging') === 'false') return { off: true, page: 1, pageSize: total };
    const page = Math.max(1, Number(p.get('page') ?? 1) || 1);
    const pageSize = Math.max(1, Number(p.get('pageSize') ?? 50) || 50);
    const pageCount = Math.max(1, Math.ceil(total / pageSize));
    const pager: Record<string, unknown> = { page, pageCount, total, pageSize };
    const link = (n: number) => {
      const u = new URL(url);
      u.searchParams.set('page', String(n));
      return u.toString();
    };
    if (page < pageCount) pager.nextPage = link(page + 1);
    if (page > 1) pager.prevPage = link(page - 1);
    return { off: false, page, pageSize, pager };
  }

  /** Metadata `filter=property:operator:value` (the value may itself contain `:`). */
  function metadataFilter<T>(url: URL, get: (o: T, prop: string) => Array<string | undefined>): (o: T) => boolean {
    const tests = url.searchParams.getAll('filter').map((f) => {
      const [prop = '', op = '', ...rest] = f.split(':');
      const value = rest.join(':');
      const list = value.replace(/^\[|\]$/g, '').split(',');
      const t = (actual: string | undefined): boolean => {
        const a = actual ?? '';
        switch (op) {
          case 'eq':
            return actual === value;
          case '!eq':
          case 'ne':
          case 'neq':
            return actual !== value;
          case 'ieq':
            return a.toLowerCase() === value.toLowerCase();
          case 'like':
            return a.includes(value);
          case '!like':
            return !a.includes(value);
          case 'ilike':
            return a.toLowerCase().includes(value.toLowerCase());
          case '!ilike':
            return !a.toLowerCase().includes(value.toLowerCase());
          case '$like':
          case '$ilike':
            return a.toLowerCase().startsWith(value.toLowerCase());
          case 'like$':
          case 'ilike$':
            return a.toLowerCase().endsWith(value.toLowerCase());
          case 'in':
            return actual !== undefined && list.includes(actual);
          case '!in':
            return actual === undefined || !list.includes(actual);
          case 'null':
            return actual === undefined;
          case '!null':
            return actual !== undefined;
          default:
            throw new HttpError(400, `Invalid filter operator: ${op}`);
        }
      };
      return (o: T) => get(o, prop).some(t);
    });
    return (o) => tests.every((t) => t(o));
  }

  function listMetadata<T>(
    url: URL,
    key: string,
    all: T[],
    get: (o: T, prop: string) => Array<string | undefined>,
    render: (o: T, sel: FieldSelector) => unknown,
  ): Response {
    const keep = metadataFilter(url, get);
    let matches = all.filter(keep);
    const order = url.searchParams.get('order');
    if (order) {
      const [prop = 'id', dir = 'asc'] = order.split(':');
      matches = [...matches].sort((a, b) => {
        const x = get(a, prop)[0] ?? '';
        const y = get(b, prop)[0] ?? '';
        const c = x.localeCompare(y, 'en', { numeric: true });
        return dir.toLowerCase() === 'desc' ? -c : c;
      });
    }
    const paging = metadataPaging(url, matches.length);
    const slice = paging.off
      ? matches
      : matches.slice((paging.page - 1) * paging.pageSize, paging.page * paging.pageSize);
    const sel = FieldSelector.parse(url.searchParams.get('fields'), 'id,displayName');
    return json(200, { ...(paging.pager ? { pager: paging.pager } : {}), [key]: slice.map((o) => render(o, sel)) });
  }

  const userProp = (u: EmulatorUser, prop: string): Array<string | undefined> => {
    switch (prop) {
      case 'organisationUnits.id':
        return u.organisationUnits;
      case 'displayName':
      case 'name':
        return [`${u.firstName} ${u.surname}`];
      case 'disabled':
        return [String(u.disabled)];
      default: {
        const v = (u as unknown as Record<string, unknown>)[prop];
        return [typeof v === 'string' ? v : undefined];
      }
    }
  };

  const orgUnitProp = (ou: OrgUnit, prop: string): Array<string | undefined> => {
    switch (prop) {
      case 'parent.id':
        return [ou.parent];
      case 'level':
        return [String(ou.level)];
      case 'displayName':
        return [ou.name];
      default: {
        const v = (ou as unknown as Record<string, unknown>)[prop];
        return [typeof v === 'string' ? v : undefined];
      }
    }
  };

  function systemInfo(url: URL, origin: string): Record<string, unknown> {
    const now = clock.now().getTime();
    const info: Record<string, unknown> = {
      contextPath: origin,
      calendar: 'iso8601',
      dateFormat: 'yyyy-mm-dd',
      serverDate: time.format(now),
      serverTimeZoneId: time.timeZone,
      serverTimeZoneDisplayName: time.timeZone,
      version: version.raw,
      revision: 'e1b2c3d',
      buildTime: '2024-06-01T00:00:00.000',
      systemId: deps.systemId,
      systemName: 'Jibu DHIS2 emulator',
      instanceBaseUrl: origin,
      isMetadataVersionEnabled: false,
      emailConfigured: false,
      encryption: false,
    };
    // 2.42 honours `fields`; older versions are taken to return the full object (the client reads only `version`).
    if (minor >= 42 && url.searchParams.get('fields')) {
      const sel = FieldSelector.parse(url.searchParams.get('fields'), '*');
      return Object.fromEntries(Object.entries(info).filter(([k]) => sel.includes(k)));
    }
    return info;
  }

  async function route(req: Request, url: URL, path: string, origin: string): Promise<Response> {
    const user = authenticate(state, req.headers.get('authorization'));
    const now = clock.now().getTime();
    const ctx: QueryContext = { state, time, version, user, url, params: url.searchParams, now };
    const method = req.method.toUpperCase();
    const segments = path.split('/').filter(Boolean).slice(1); // drop "api"
    const [a, b, c, d] = segments;
    const get = method === 'GET';

    if (a === 'system' && get && b === 'info' && !c) return json(200, systemInfo(url, origin));
    if (a === 'system' && get && (b === 'id' || b === 'uid') && !c) {
      const limit = Math.min(10_000, Math.max(1, Number(url.searchParams.get('limit') ?? 1) || 1));
      return json(200, { codes: Array.from({ length: limit }, () => newUid()) });
    }
    if (a === 'me' && get && !b) {
      return json(
        200,
        pick(FieldSelector.parse(url.searchParams.get('fields'), '*'), meFields(minor), user, ctx, METADATA_REFS),
      );
    }
    if (a === 'me' && get && b === 'authorization' && c && !d)
      return json(200, hasAuthority(user, decodeURIComponent(c)));
    if (a === 'users' && get && !b) {
      const phone = url.searchParams.get('phoneNumber');
      const all = [...state.users.values()].filter((u) => phone === null || u.phoneNumber === phone);
      return listMetadata(url, 'users', all, userProp, (u, sel) => pick(sel, userFields(minor), u, ctx, METADATA_REFS));
    }
    if (a === 'users' && get && b && !c) {
      const u = state.users.get(b);
      if (!u) throw new HttpError(404, `User with id ${b} could not be found.`, { errorCode: 'E1005' });
      return json(
        200,
        pick(FieldSelector.parse(url.searchParams.get('fields'), '*'), userFields(minor), u, ctx, METADATA_REFS),
      );
    }
    if (a === 'organisationUnits' && get && !b) {
      const all = [...state.orgUnits.values()].sort((x, y) => x.name.localeCompare(y.name));
      return listMetadata(url, 'organisationUnits', all, orgUnitProp, (ou, sel) =>
        pick(sel, orgUnitFields, ou, ctx, METADATA_REFS),
      );
    }
    if (a === 'organisationUnits' && get && b && !c) {
      const ou = state.orgUnits.get(b);
      if (!ou) throw new HttpError(404, `OrganisationUnit with id ${b} could not be found.`, { errorCode: 'E1005' });
      return json(
        200,
        pick(FieldSelector.parse(url.searchParams.get('fields'), '*'), orgUnitFields, ou, ctx, METADATA_REFS),
      );
    }
    if (a === 'tracker') {
      if (!b && method === 'POST') return postTracker(req, url, origin, user);
      if (get && b === 'events') return c && !d ? getEvent(ctx, c) : !c ? listEvents(ctx) : notFoundPath(path);
      if (get && b === 'trackedEntities')
        return c && !d ? getTrackedEntity(ctx, c) : !c ? listTrackedEntities(ctx) : notFoundPath(path);
      if (get && b === 'enrollments')
        return c && !d ? getEnrollment(ctx, c) : !c ? listEnrollments(ctx) : notFoundPath(path);
      if (get && b === 'jobs' && c) {
        const job = jobs.get(c);
        if (!d) return json(200, job ? job.notifications : []);
        if (d === 'report') {
          if (!job?.outcome) throw new HttpError(404, `Cannot find report for job with uid ${c}`);
          return json(
            200,
            filterReport(job.outcome.report, (url.searchParams.get('reportMode') ?? 'ERRORS').toUpperCase()),
          );
        }
      }
      // Note endpoints exist from 2.42.0 only (DHIS2-17579).
      if (
        method === 'POST' &&
        minor >= 42 &&
        (b === 'events' || b === 'enrollments') &&
        c &&
        d === 'note' &&
        segments.length === 4
      ) {
        return json(200, addNote(importEnv(user), b, c, await readJson(req)));
      }
    }
    const dedup = await routePotentialDuplicates(ctx, req, segments);
    if (dedup) return dedup;
    if (get) {
      const types = routeTrackedEntityTypes(ctx, segments);
      if (types) return types;
    }
    const smsAnswer = await sms.route(req, url, segments, user, listMetadata);
    if (smsAnswer) return smsAnswer;
    return notFoundPath(path);
  }

  function notFoundPath(path: string): never {
    throw new HttpError(404, `No endpoint ${path}`);
  }

  async function handle(req: Request): Promise<Response> {
    if (faults.down) throw new EmulatorDownError();
    if (faults.latencyMs > 0) await sleep(faults.latencyMs, req.signal);
    if (faults.down) throw new EmulatorDownError();
    const url = new URL(req.url);
    const at = url.pathname.indexOf('/api/');
    const contextPath = at >= 0 ? url.pathname.slice(0, at) : '';
    // Versioned paths (`/api/40/tracker/…`) behave like the unversioned ones.
    const path =
      at >= 0
        ? url.pathname
            .slice(at)
            .replace(/^\/api\/\d{2}\//, '/api/')
            .replace(/\/+$/, '')
        : url.pathname;
    const isImport = req.method.toUpperCase() === 'POST' && path.startsWith('/api/tracker');
    const fault = takeFault(isImport, path);
    let res: Response;
    if (fault && !fault.afterCommit) res = json(fault.status, webMessageBody(fault.status, 'Injected fault'));
    else {
      try {
        if (at < 0) throw new HttpError(404, `No endpoint ${url.pathname}`);
        res = await route(req, url, path, `${url.origin}${contextPath}`);
      } catch (err) {
        if (err instanceof HttpError) res = err.toResponse();
        else throw err;
      }
      if (fault) res = json(fault.status, webMessageBody(fault.status, 'Injected fault'));
    }
    requests.push({ method: req.method.toUpperCase(), path, search: url.search, status: res.status });
    if (requests.length > MAX_RECORDS) requests.splice(0, requests.length - MAX_RECORDS);
    return res;
  }

  return { handle, faults, requests, sms };
}
