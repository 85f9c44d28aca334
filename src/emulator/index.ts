import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { systemClock, type Clock } from '../clock.ts';
import { parseDhis2Version, SUPPORTED_MINORS, type Dhis2Version } from '../dhis2/version.ts';
import { DEMO, seedAdmin, seedDemo, seedOrgUnits, type DemoSeedOptions } from './demo.ts';
import { createHandler, EmulatorDownError, type EmulatorFaults, type RequestRecord } from './handler.ts';
import { packageMetadata } from './metadata.ts';
import { EmulatorState, type EmulatorUser } from './model.ts';
import type { EmulatorSms, SmsOptions } from './sms.ts';
import { ServerTime } from './time.ts';

export { DEMO, type DemoSeedOptions } from './demo.ts';
export { AEFI, EIR, VEN } from './metadata.ts';
export { EmulatorState } from './model.ts';
export type { EmulatorFaults, RequestRecord } from './handler.ts';
export type {
  EmulatorSms,
  GatewayCall,
  NotificationRun,
  SendResult,
  SmsOptions,
  StoredGateway,
  StoredOutboundSms,
} from './sms.ts';
export { EIR_VISIT_REMINDER, type ProgramNotificationTemplate } from './notifications.ts';
export { makeToken, isValidTokenChecksum } from './auth.ts';

/** The late patch releases the emulator imitates for a bare `2.NN` (late patch tags of each line). */
const DEFAULT_PATCH: Record<number, string> = {
  38: '2.38.7',
  39: '2.39.10',
  40: '2.40.12',
  41: '2.41.9',
  42: '2.42.5',
};

export interface EmulatorUserInput {
  id: string;
  username: string;
  password?: string;
  /** A personal access token (`makeToken`) for this user. */
  token?: string;
  firstName?: string;
  surname?: string;
  phoneNumber?: string;
  authorities?: string[];
  organisationUnits: string[];
  teiSearchOrganisationUnits?: string[];
  disabled?: boolean;
}

export interface EmulatorOptions {
  /** `2.38` … `2.42`, optionally with a patch (`2.40.4`); a bare minor means a late patch (E1315/E1316 on). Default `2.40`. */
  version?: string;
  clock?: Clock;
  /** IANA zone of the server: timestamps are written and read in it, and it decides "today". Default `Africa/Nairobi`. */
  serverTimeZone?: string;
  /** Demo data options, or `false` for metadata only (programmes, org unit tree, admin) without people. */
  seed?: DemoSeedOptions | false;
  /** Extra DHIS2 users. */
  users?: EmulatorUserInput[];
  faults?: { latencyMs?: number; down?: boolean };
  /** DHIS2's outgoing SMS: the HTTP client its Generic HTTP gateway calls (default the global fetch), `${text}` encoding. */
  sms?: SmsOptions;
}

export interface ListeningEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface Emulator {
  readonly version: Dhis2Version;
  /** A base URL for in-process use: any host works with `fetch`, this one just reads well in logs. */
  readonly baseUrl: string;
  readonly state: EmulatorState;
  readonly time: ServerTime;
  /** The admin account (Basic) and its personal access token. */
  readonly credentials: { username: string; password: string; token: string; tokenV2: string };
  readonly faults: EmulatorFaults;
  /** The last requests answered (method, path, query, status): tests count imports and version probes with it. */
  readonly requests: RequestRecord[];
  /** SMS gateways, the OutboundSms log and every gateway call made (`/api/gateways`, `/api/sms/outbound`). */
  readonly sms: EmulatorSms;
  /** The emulator core: a web-standard request in, a response out. */
  handle(req: Request): Promise<Response>;
  /** A fetch that dispatches to `handle` in-process (no port); honours abort signals; rejects like a refused connection when down. */
  fetch: typeof fetch;
  /** The same API as an express app, for mounting or `listen`. */
  app: express.Express;
  listen(port?: number, host?: string): Promise<ListeningEmulator>;
  /** Today in the server time zone (`YYYY-MM-DD`). */
  today(): string;
}

function resolveVersion(v: string): Dhis2Version {
  const parsed = parseDhis2Version(v);
  if (!(SUPPORTED_MINORS as readonly number[]).includes(parsed.minor))
    throw new Error(`The emulator imitates DHIS2 2.38 to 2.42, not ${v}`);
  return parsed.patch === undefined ? parseDhis2Version(DEFAULT_PATCH[parsed.minor]!) : parsed;
}

function refusedConnection(): TypeError {
  return new TypeError('fetch failed', {
    cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  });
}

/**
 * A faithful in-process DHIS2 of one version (what differs per version: docs/dhis2.md#version-matrix), seeded with
 * demo data on the EIR and Vital
 * Events packages.
 *
 * @example
 * const dhis2 = createEmulator({ version: '2.41', clock: fixedClock('2025-03-03T07:00:00Z') });
 * const client = createDhis2Client({ baseUrl: dhis2.baseUrl, auth: { token: dhis2.credentials.token }, fetch: dhis2.fetch });
 */
export function createEmulator(opts: EmulatorOptions = {}): Emulator {
  const version = resolveVersion(opts.version ?? '2.40');
  const clock = opts.clock ?? systemClock;
  const time = new ServerTime(opts.serverTimeZone ?? 'Africa/Nairobi');
  const state = new EmulatorState(packageMetadata());
  seedOrgUnits(state);
  seedAdmin(state);
  const today = () => time.dateOf(clock.now().getTime());
  if (opts.seed !== false) seedDemo(state, time, today(), opts.seed ?? {});
  for (const u of opts.users ?? []) {
    const user: EmulatorUser = {
      id: u.id,
      username: u.username,
      password: u.password,
      firstName: u.firstName ?? u.username,
      surname: u.surname ?? '',
      phoneNumber: u.phoneNumber,
      authorities: u.authorities ?? [],
      organisationUnits: u.organisationUnits,
      teiSearchOrganisationUnits: u.teiSearchOrganisationUnits ?? [],
      dataViewOrganisationUnits: u.organisationUnits,
      disabled: u.disabled ?? false,
    };
    state.addUser(user, u.token);
  }

  const { handle, faults, requests, sms } = createHandler({
    state,
    version,
    time,
    clock,
    systemId: randomUUID(),
    sms: opts.sms,
  });
  if (opts.faults?.latencyMs) faults.latencyMs = opts.faults.latencyMs;
  if (opts.faults?.down) faults.down = true;

  const inProcessFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const signal = req.signal;
    if (signal.aborted) throw signal.reason;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      return await Promise.race([handle(req), aborted]);
    } catch (err) {
      throw err instanceof EmulatorDownError ? refusedConnection() : err;
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(async (req, res) => {
    if (faults.down) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: string | undefined = chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined;
    // Mounted behind body parsers the stream is already consumed: use what they parsed, in the request's own format.
    if (!body && req.body !== undefined && typeof req.body === 'object') {
      body = req.is('application/x-www-form-urlencoded')
        ? new URLSearchParams(
            Object.entries(req.body as Record<string, unknown>).flatMap(([k, v]) =>
              (Array.isArray(v) ? v : [v]).map((x) => [k, String(x)]),
            ),
          ).toString()
        : JSON.stringify(req.body);
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || ['content-length', 'transfer-encoding', 'connection', 'host'].includes(k)) continue;
      headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const method = req.method.toUpperCase();
    const request = new Request(`${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`, {
      method,
      headers,
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
      signal: controller.signal,
    });
    let response: Response;
    try {
      response = await handle(request);
    } catch (err) {
      if (err instanceof EmulatorDownError) req.socket.destroy();
      else if (!controller.signal.aborted)
        res
          .status(500)
          .json({ httpStatus: 'Internal Server Error', httpStatusCode: 500, status: 'ERROR', message: String(err) });
      return;
    }
    res.status(response.status);
    response.headers.forEach((value, key) => res.setHeader(key, value));
    res.end(Buffer.from(await response.arrayBuffer()));
  });

  return {
    version,
    baseUrl: 'http://dhis2.emulator',
    state,
    time,
    credentials: {
      username: DEMO.admin.username,
      password: DEMO.admin.password,
      token: DEMO.token,
      tokenV2: DEMO.tokenV2,
    },
    faults,
    requests,
    sms,
    handle,
    fetch: inProcessFetch as typeof fetch,
    app,
    today,
    listen(port = 0, host) {
      return new Promise((resolve, reject) => {
        const server = host ? app.listen(port, host) : app.listen(port);
        server.once('error', reject);
        server.once('listening', () => {
          const address = server.address() as AddressInfo;
          resolve({
            url: `http://${host && host !== '0.0.0.0' ? host : 'localhost'}:${address.port}`,
            port: address.port,
            close: () =>
              new Promise<void>((done, fail) => {
                server.closeAllConnections();
                server.close((err) => (err ? fail(err) : done()));
              }),
          });
        });
      });
    },
  };
}
