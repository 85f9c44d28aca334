import { z } from 'zod';
import { httpFetch, type HttpFetch, type HttpResponse } from '../http-client.ts';
import { Dhis2AuthError, Dhis2RequestError, Dhis2TransportError } from './errors.ts';
import {
  encodeQuery,
  enrollmentQueryParams,
  eventFieldsFor,
  eventQueryParams,
  trackedEntityQueryParams,
  DEFAULT_PAGE_SIZE,
  type EnrollmentQuery,
  type EventQuery,
  type QueryParams,
  type TrackedEntityQuery,
} from './params.ts';
import { toWirePayload, type TrackerPayload } from './payloads.ts';
import {
  EnrollmentSchema,
  EventSchema,
  ImportReportSchema,
  MeSchema,
  OrgUnitSchema,
  PagerSchema,
  PotentialDuplicateSchema,
  SystemInfoSchema,
  TrackedEntityTypeSchema,
  TrackedEntitySchema,
  UserSchema,
  WebMessageSchema,
  type Dhis2Enrollment,
  type Dhis2Event,
  type Dhis2TrackedEntity,
  type Dhis2User,
  type Me,
  type OrgUnit,
  type SystemInfo,
  type TrackedEntityType,
  type TrackerType,
} from './schemas.ts';
import { parseDhis2Version, type Dhis2Version } from './version.ts';

/** The two ways DHIS2 accepts us: a personal access token (any prefix: `d2pat_`, `d2p_`) or Basic. */
export type Dhis2Auth = { token: string } | { username: string; password: string };

/** The slice of a pino logger the client uses. Paths are logged, never query strings (they hold phone numbers). */
export interface Dhis2Logger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface Dhis2ClientOptions {
  /** Server root without `/api`, e.g. `https://play.dhis2.org/40.4.0`. */
  baseUrl: string;
  auth: Dhis2Auth;
  /** Deadline of every request, body included. Default 15 000 ms. */
  timeoutMs?: number;
  /** Defaults to the gateway's own HTTP client (src/http-client.ts); tests pass the emulator's in-process fetch. */
  fetch?: HttpFetch;
  logger?: Dhis2Logger;
}

/** One page of a tracker list, whatever envelope the version used. */
export interface Page<T> {
  items: T[];
  page?: number;
  pageSize?: number;
  total?: number;
  pageCount?: number;
  /** Known on 2.42 (`nextPage`) or with `totalPages=true`; otherwise undefined. */
  hasMore?: boolean;
}

export type ImportStrategy = 'CREATE' | 'UPDATE' | 'CREATE_AND_UPDATE' | 'DELETE';

export interface ImportOptions {
  /** Default `CREATE_AND_UPDATE`. */
  importStrategy?: ImportStrategy;
  /** Default `ALL`: one invalid object and nothing is saved. */
  atomicMode?: 'ALL' | 'OBJECT';
  /** `VALIDATE` checks without saving. */
  importMode?: 'COMMIT' | 'VALIDATE';
  /** Suppress DHIS2's own notifications triggered by this import. */
  skipSideEffects?: boolean;
}

export interface ImportIssue {
  /** DHIS2 code, e.g. `E1032`, `E1119`. */
  code: string;
  message: string;
  trackerType?: TrackerType;
  uid?: string;
  args?: unknown[];
}

export interface ImportStats {
  created: number;
  updated: number;
  deleted: number;
  ignored: number;
  total: number;
}

/** A parsed import report. A 409 (validation failure) arrives here with `status: 'ERROR'`, it is not thrown. */
export interface ImportResult {
  status: 'OK' | 'WARNING' | 'ERROR';
  errors: ImportIssue[];
  warnings: ImportIssue[];
  stats: ImportStats;
  /** 200 or 409. */
  httpStatus: number;
  /** DHIS2's message when the import failed abruptly rather than in validation. */
  message?: string;
}

export interface OrgUnitListOptions {
  /** Default `id,name,path,level,parent[id]`. */
  fields?: string;
  /** `false` fetches everything in one request; otherwise pages of `pageSize` are followed to the end. */
  paging?: boolean;
  pageSize?: number;
  /** Metadata filters, e.g. `level:eq:4`. */
  filter?: string[];
}

/**
 * What `POST /api/potentialDuplicates` did: `created` (with DHIS2's id), `exists` (409: the pair is already
 * recorded, so a retry has done its work), or `refused` (400/403/404: this version or configuration will not
 * take it, e.g. the account may not read one of the two tracked entities).
 */
export type PotentialDuplicateResult =
  | { status: 'created'; id?: string }
  | { status: 'exists' }
  | { status: 'refused'; httpStatus: number; message: string };

export interface Dhis2Client {
  readonly baseUrl: string;
  /** `GET /api/system/info` (not cached). */
  systemInfo(): Promise<SystemInfo>;
  /** The server version, detected once per client and cached (a failed detection is retried next call). */
  version(): Promise<Dhis2Version>;
  /** The account Jibu runs as. */
  me(): Promise<Me>;
  /** `GET /api/me/authorization/{authority}`. */
  hasAuthority(authority: string): Promise<boolean>;
  /** Users whose `phoneNumber` equals `phone` exactly (E.164 as stored), with capture and search org units. */
  usersByPhone(phone: string): Promise<Dhis2User[]>;
  /** Every org unit, all pages. */
  organisationUnits(opts?: OrgUnitListOptions): Promise<OrgUnit[]>;
  events(query: EventQuery): Promise<Page<Dhis2Event>>;
  /** Every matching event, page after page (`pageSize` default 100). */
  iterateEvents(query: EventQuery): AsyncGenerator<Dhis2Event>;
  trackedEntities(query: TrackedEntityQuery): Promise<Page<Dhis2TrackedEntity>>;
  iterateTrackedEntities(query: TrackedEntityQuery): AsyncGenerator<Dhis2TrackedEntity>;
  enrollments(query: EnrollmentQuery): Promise<Page<Dhis2Enrollment>>;
  iterateEnrollments(query: EnrollmentQuery): AsyncGenerator<Dhis2Enrollment>;
  /** One event, or null when DHIS2 answers 404. */
  event(uid: string, fields?: string): Promise<Dhis2Event | null>;
  trackedEntity(uid: string, opts?: { program?: string; fields?: string }): Promise<Dhis2TrackedEntity | null>;
  enrollment(uid: string, fields?: string): Promise<Dhis2Enrollment | null>;
  /** `POST /api/tracker?async=false&atomicMode=ALL…`: always synchronous, report parsed, 409 returned. */
  importTracker(payload: TrackerPayload, opts?: ImportOptions): Promise<ImportResult>;
  /** A tracked entity type's search settings, or null when DHIS2 answers 404. */
  trackedEntityType(uid: string): Promise<TrackedEntityType | null>;
  /** `POST /api/potentialDuplicates` with `{original, duplicate}` (DHIS2's deduplication workflow, 2.37+). */
  createPotentialDuplicate(pair: { original: string; duplicate: string }): Promise<PotentialDuplicateResult>;
}

const TRACKED_ENTITY_TYPE_FIELDS =
  'id,minAttributesRequiredToSearch,maxTeiCountToReturn,trackedEntityTypeAttributes[searchable,trackedEntityAttribute[id,unique]]';

const ME_FIELDS =
  'id,username,firstName,surname,displayName,phoneNumber,authorities,organisationUnits[id,path],teiSearchOrganisationUnits[id,path],programs';
const USER_FIELDS =
  'id,username,userCredentials[username],firstName,surname,displayName,phoneNumber,disabled,organisationUnits[id,path],teiSearchOrganisationUnits[id,path],dataViewOrganisationUnits[id,path]';

interface Answer {
  status: number;
  json: unknown;
}

/**
 * A typed, version-aware DHIS2 tracker client (docs/dhis2.md#version-matrix). It reads `/api/system/info` once, then
 * speaks that version's parameter names and envelopes.
 *
 * @example
 * const dhis2 = createDhis2Client({ baseUrl: 'https://dhis2.example.org', auth: { token: process.env.DHIS2_TOKEN! } });
 * for await (const e of dhis2.iterateEvents({ programStage: 's53RFfXA75f', status: 'OVERDUE', orgUnit: ou, orgUnitMode: 'DESCENDANTS' })) { … }
 */
export function createDhis2Client(opts: Dhis2ClientOptions): Dhis2Client {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const doFetch = opts.fetch ?? httpFetch;
  const authorization =
    'token' in opts.auth
      ? `ApiToken ${opts.auth.token}`
      : `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  let versionPromise: Promise<Dhis2Version> | undefined;

  async function send(
    method: 'GET' | 'POST',
    path: string,
    params: QueryParams,
    body?: unknown,
    pass: number[] = [],
  ): Promise<Answer> {
    const qs = encodeQuery(params);
    const url = `${baseUrl}${path}${qs ? `?${qs}` : ''}`;
    const started = performance.now();
    let res: HttpResponse;
    let text: string;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      res = await doFetch(url, {
        method,
        headers: {
          Authorization: authorization,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      text = await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      opts.logger?.warn(
        { method, path, ms: Math.round(performance.now() - started), timedOut },
        'DHIS2 request failed',
      );
      throw new Dhis2TransportError(
        timedOut
          ? `DHIS2 did not answer ${method} ${path} within ${timeoutMs} ms`
          : `DHIS2 unreachable (${method} ${path}): ${String(err instanceof Error ? err.message : err)}`,
        {
          timedOut,
          cause: err,
        },
      );
    }
    opts.logger?.debug(
      { method, path, status: res.status, ms: Math.round(performance.now() - started) },
      'DHIS2 request',
    );
    const json = parseJson(text);
    if (pass.includes(res.status)) return { status: res.status, json };
    if (res.status === 401 || res.status === 403) {
      throw new Dhis2AuthError(
        res.status,
        `DHIS2 answered ${res.status} to ${method} ${path}: ${webMessage(json) ?? 'credentials refused'}`,
      );
    }
    if (res.status >= 500 || res.status === 429) {
      throw new Dhis2TransportError(`DHIS2 answered ${res.status} to ${method} ${path}`, { dhis2Status: res.status });
    }
    if (res.status >= 400) {
      const wm = WebMessageSchema.safeParse(json);
      throw new Dhis2RequestError(
        res.status,
        `DHIS2 refused ${method} ${path} (${res.status}): ${webMessage(json) ?? text.slice(0, 200)}`,
        wm.success ? wm.data.errorCode : undefined,
      );
    }
    if (json === undefined) {
      // A login page or a proxy's HTML with 200: the URL or the credentials are wrong, retrying will not help.
      throw new Dhis2TransportError(
        `DHIS2 answered ${method} ${path} with something other than JSON; check DHIS2_URL and the credentials`,
        {
          dhis2Status: res.status,
          retryable: false,
        },
      );
    }
    return { status: res.status, json };
  }

  function parse<S extends z.ZodType>(schema: S, json: unknown, what: string): z.output<S> {
    const r = schema.safeParse(json);
    if (!r.success) {
      const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new Dhis2TransportError(`DHIS2 ${what} did not have the expected shape: ${issues.join('; ')}`, {
        retryable: false,
      });
    }
    return r.data;
  }

  async function get(path: string, params: QueryParams = []): Promise<unknown> {
    return (await send('GET', path, params)).json;
  }

  function toPage<S extends z.ZodType>(json: unknown, key: string, itemSchema: S, v: Dhis2Version): Page<z.output<S>> {
    const body = parse(z.record(z.string(), z.unknown()), json, `${key} list`);
    const items = parse(z.array(itemSchema), body.instances ?? body[key] ?? [], `${key} list`);
    const pager = parse(PagerSchema, body.pager ?? body, `${key} paging`);
    const page: Page<z.output<S>> = { items };
    if (pager.page !== undefined) page.page = pager.page;
    if (pager.pageSize !== undefined) page.pageSize = pager.pageSize;
    if (pager.total !== undefined) page.total = pager.total;
    if (pager.pageCount !== undefined) page.pageCount = pager.pageCount;
    if (pager.nextPage !== undefined) page.hasMore = true;
    else if (v.minor >= 42 && body.pager !== undefined) page.hasMore = false;
    else if (pager.pageCount !== undefined && pager.page !== undefined) page.hasMore = pager.page < pager.pageCount;
    return page;
  }

  async function* iterate<T>(pageSize: number, fetchPage: (page: number) => Promise<Page<T>>): AsyncGenerator<T> {
    for (let page = 1; ; page++) {
      const p = await fetchPage(page);
      yield* p.items;
      if (p.hasMore === false || p.items.length < pageSize) return;
    }
  }

  const client: Dhis2Client = {
    baseUrl,

    async trackedEntityType(uid) {
      const a = await send(
        'GET',
        `/api/trackedEntityTypes/${encodeURIComponent(uid)}`,
        [['fields', TRACKED_ENTITY_TYPE_FIELDS]],
        undefined,
        [404],
      );
      return a.status === 404 ? null : parse(TrackedEntityTypeSchema, a.json, 'tracked entity type');
    },

    async createPotentialDuplicate(pair) {
      const a = await send('POST', '/api/potentialDuplicates', [], pair, [400, 403, 404, 409]);
      if (a.status === 409) return { status: 'exists' };
      if (a.status >= 400)
        return { status: 'refused', httpStatus: a.status, message: webMessage(a.json) ?? `HTTP ${a.status}` };
      const body = PotentialDuplicateSchema.safeParse(a.json);
      return body.success && body.data.id ? { status: 'created', id: body.data.id } : { status: 'created' };
    },

    async systemInfo() {
      return parse(SystemInfoSchema, await get('/api/system/info'), 'system info');
    },

    version() {
      versionPromise ??= client.systemInfo().then(
        (info) => parseDhis2Version(info.version),
        (err: unknown) => {
          versionPromise = undefined;
          throw err;
        },
      );
      return versionPromise;
    },

    async me() {
      return parse(MeSchema, await get('/api/me', [['fields', ME_FIELDS]]), 'me');
    },

    async hasAuthority(authority) {
      return parse(z.boolean(), await get(`/api/me/authorization/${encodeURIComponent(authority)}`), 'authorization');
    },

    async usersByPhone(phone) {
      const json = await get('/api/users', [
        ['filter', `phoneNumber:eq:${phone}`],
        ['fields', USER_FIELDS],
        ['paging', 'false'],
      ]);
      return parse(z.object({ users: z.array(UserSchema) }), json, 'users').users;
    },

    async organisationUnits(o = {}) {
      const fields = o.fields ?? 'id,name,path,level,parent[id]';
      const filters: QueryParams = (o.filter ?? []).map((f) => ['filter', f]);
      const schema = z.object({ organisationUnits: z.array(OrgUnitSchema), pager: PagerSchema.optional() });
      if (o.paging === false) {
        return parse(
          schema,
          await get('/api/organisationUnits', [['fields', fields], ...filters, ['paging', 'false']]),
          'organisation units',
        ).organisationUnits;
      }
      const pageSize = o.pageSize ?? 1000;
      const all: OrgUnit[] = [];
      for (let page = 1; ; page++) {
        const body = parse(
          schema,
          await get('/api/organisationUnits', [
            ['fields', fields],
            ...filters,
            ['order', 'id:asc'],
            ['page', String(page)],
            ['pageSize', String(pageSize)],
          ]),
          'organisation units',
        );
        all.push(...body.organisationUnits);
        const pageCount = body.pager?.pageCount;
        if (body.organisationUnits.length < pageSize || (pageCount !== undefined && page >= pageCount)) return all;
      }
    },

    async events(query) {
      const v = await client.version();
      return toPage(await get('/api/tracker/events', eventQueryParams(v, query)), 'events', EventSchema, v);
    },

    iterateEvents(query) {
      const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
      return iterate(pageSize, (page) => client.events({ ...query, paging: true, page, pageSize }));
    },

    async trackedEntities(query) {
      const v = await client.version();
      return toPage(
        await get('/api/tracker/trackedEntities', trackedEntityQueryParams(v, query)),
        'trackedEntities',
        TrackedEntitySchema,
        v,
      );
    },

    iterateTrackedEntities(query) {
      const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
      return iterate(pageSize, (page) => client.trackedEntities({ ...query, paging: true, page, pageSize }));
    },

    async enrollments(query) {
      const v = await client.version();
      return toPage(
        await get('/api/tracker/enrollments', enrollmentQueryParams(v, query)),
        'enrollments',
        EnrollmentSchema,
        v,
      );
    },

    iterateEnrollments(query) {
      const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
      return iterate(pageSize, (page) => client.enrollments({ ...query, paging: true, page, pageSize }));
    },

    async event(uid, fields) {
      const params: QueryParams = fields ? [['fields', eventFieldsFor(await client.version(), fields, true)]] : [];
      const a = await send('GET', `/api/tracker/events/${encodeURIComponent(uid)}`, params, undefined, [404]);
      return a.status === 404 ? null : parse(EventSchema, a.json, 'event');
    },

    async trackedEntity(uid, o = {}) {
      const params: QueryParams = [];
      if (o.program) params.push(['program', o.program]);
      if (o.fields) params.push(['fields', eventFieldsFor(await client.version(), o.fields, false)]);
      const a = await send('GET', `/api/tracker/trackedEntities/${encodeURIComponent(uid)}`, params, undefined, [404]);
      return a.status === 404 ? null : parse(TrackedEntitySchema, a.json, 'tracked entity');
    },

    async enrollment(uid, fields) {
      const params: QueryParams = fields ? [['fields', eventFieldsFor(await client.version(), fields, false)]] : [];
      const a = await send('GET', `/api/tracker/enrollments/${encodeURIComponent(uid)}`, params, undefined, [404]);
      return a.status === 404 ? null : parse(EnrollmentSchema, a.json, 'enrollment');
    },

    async importTracker(payload, o = {}) {
      const v = await client.version();
      const params: QueryParams = [
        // The literal lowercase `false`: 2.38–2.41 run anything else (even `FALSE`) asynchronously.
        ['async', 'false'],
        ['importStrategy', o.importStrategy ?? 'CREATE_AND_UPDATE'],
        ['atomicMode', o.atomicMode ?? 'ALL'],
        // The default ERRORS mode empties warningReports, and E1119 (note already there) is a warning.
        ['reportMode', 'WARNINGS'],
      ];
      if (o.importMode) params.push(['importMode', o.importMode]);
      if (o.skipSideEffects) params.push(['skipSideEffects', 'true']);
      const a = await send('POST', '/api/tracker', params, toWirePayload(v, payload), [409]);
      const report = ImportReportSchema.safeParse(a.json);
      // A WebMessage (the async TrackerJob receipt, a refusal) is never a report, though its `status` reads like one.
      const webMessageShaped = typeof a.json === 'object' && a.json !== null && 'httpStatusCode' in a.json;
      if (!report.success || webMessageShaped) {
        if (a.status === 409)
          throw new Dhis2RequestError(409, `DHIS2 refused the import: ${webMessage(a.json) ?? 'conflict'}`);
        throw new Dhis2TransportError(
          'DHIS2 answered the import with something other than an import report (was it run asynchronously?)',
          { retryable: false },
        );
      }
      const r = report.data;
      const issue = (e: {
        errorCode: string;
        message?: string;
        trackerType?: TrackerType;
        uid?: string;
        args?: unknown[];
      }): ImportIssue => ({
        code: e.errorCode,
        message: e.message ?? '',
        ...(e.trackerType ? { trackerType: e.trackerType } : {}),
        ...(e.uid ? { uid: e.uid } : {}),
        ...(e.args ? { args: e.args } : {}),
      });
      return {
        status: r.status,
        errors: (r.validationReport?.errorReports ?? []).map(issue),
        warnings: (r.validationReport?.warningReports ?? []).map(issue),
        stats: r.stats ?? { created: 0, updated: 0, deleted: 0, ignored: 0, total: 0 },
        httpStatus: a.status,
        ...(r.message ? { message: r.message } : {}),
      };
    },
  };
  return client;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function webMessage(json: unknown): string | undefined {
  const r = WebMessageSchema.safeParse(json);
  return r.success ? r.data.message : undefined;
}
