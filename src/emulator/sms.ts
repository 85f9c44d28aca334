import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import { newUid } from '../dhis2/uid.ts';
import { hasAuthority } from './auth.ts';
import { FieldSelector, pick, type FieldTable } from './fields.ts';
import {
  GATEWAY_CONTENT_TYPES,
  GatewayConfigError,
  renderGatewayRequest,
  stripPhonePrefix,
  type GatewayContentType,
  type GatewayParameter,
  type GatewayRequest,
} from './gateway-render.ts';
import { HttpError, json, readJson, webMessageBody } from './http.ts';
import type { EmulatorState, EmulatorUser } from './model.ts';
import {
  dueNotifications,
  EIR_VISIT_REMINDER,
  type DueNotification,
  type ProgramNotificationTemplate,
} from './notifications.ts';
import type { ServerTime } from './time.ts';

/**
 * DHIS2's SMS gateway administration and outbound SMS (docs/dhis2.md#dhis2-sending-its-own-sms), so DHIS2-originated
 * SMS can
 * be replayed through Jibu's `/gateway/dhis2`:
 *
 * - `GET|POST /api/gateways`, `GET|PUT|DELETE /api/gateways/{uid}`, `GET /api/gateways/default`,
 *   `PUT /api/gateways/default/{uid}` — Generic HTTP (`type: "http"`) only; the other types are refused
 *   with a 409 that says so.
 * - `POST /api/sms/outbound` (JSON `{message, recipients}` or `?recipient=&message=`) sends through the
 *   default gateway exactly as core's `SimplisticHttpGetGateWay` would (`gateway-render.ts`), over an
 *   injectable `fetch`, and stores an OutboundSms; `GET /api/sms/outbound[/{uid}]` lists them.
 *
 * Behaviour read from core (`SmsGatewayController`, `DefaultGatewayAdministrationService`,
 * `SmsOutboundController`, `SmsMessageSender`), with the emulator's choices marked:
 * - The first gateway added becomes the default; removing the default makes the first remaining one the
 *   default. DHIS2 keeps ONE gateway per type: adding a second Generic HTTP gateway answers "Gateway
 *   configuration added" and adds nothing (edit the existing one with PUT instead).
 * - Confidential parameter values (and `password`) are stored encrypted and GET shows the ciphertext,
 *   never the value. The emulator shows an opaque stand-in; sending that stand-in back in a PUT keeps the
 *   value. A blank confidential value in a PUT keeps the stored value from 2.41 (core 2.42 `updateGateway`);
 *   up to 2.40 it replaces it (the secret is lost), as core 2.3x–2.40 did.
 * - OutboundSms statuses are `SENT` or `FAILED` (core `handleResponse`; `ERROR` is never set on this path).
 *   One record per request; with more than 200 recipients DHIS2 sends one request per 200 and the record
 *   keeps the status of the last one, as core does.
 * - A failure answers 500 with core's description (`failed`, or `No default gateway configured` with no
 *   gateway; no OutboundSms is stored then). The emulator adds a `devMessage` naming the actual problem
 *   (HTTP status or network error) — DHIS2 only logs it.
 * - `GET /api/gateways/default` is served (older controllers had it; 2.40+ may answer it as an unknown uid).
 *   The `Location` header on `POST /api/gateways` is set on every version (seen in 2.41+ controllers).
 * - Not imitated: `maxSmsLength`/`SMS_MAX_LENGTH` checks, the BulkSMS/Clickatell/SMPP gateways, deleting
 *   OutboundSms, XML bodies.
 *
 * Program notifications (`notifications.ts`): `GET /api/programNotificationTemplates` lists the templates,
 * and the emulator-only `POST /api/emulator/programNotifications/run[?date=YYYY-MM-DD]` runs a subset of
 * DHIS2's `PROGRAM_NOTIFICATIONS` job on demand — one SMS per due event through the default gateway. Like
 * DHIS2's batch sender it stores no OutboundSms; the answer (and `calls`) say what was sent.
 */

export const SMS_AUTHORITY = 'F_MOBILE_SENDSMS';

/** Recipients per gateway call (core `MAX_RECIPIENTS_ALLOWED`). */
export const MAX_RECIPIENTS_PER_REQUEST = 200;

export interface SmsOptions {
  /** The HTTP client for gateway calls. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** URL-encode `${text}` (`SmsUtils.encode`). Default: from 2.39 on (see `gateway-render.ts`). */
  encodeText?: boolean;
  /** Give up on a gateway call after this long (a failure, like DHIS2's client timeouts). Default 10 s. */
  timeoutMs?: number;
}

interface StoredParameter extends GatewayParameter {
  /** What a read shows instead of a confidential value (DHIS2 shows its ciphertext). */
  sealed?: string;
}

export interface StoredGateway {
  type: 'http';
  uid: string;
  name?: string;
  username?: string;
  password?: string;
  isDefault: boolean;
  urlTemplate?: string;
  configurationTemplate?: string;
  useGet: boolean;
  sendUrlParameters: boolean;
  contentType: GatewayContentType;
  maxSmsLength?: string;
  parameters: StoredParameter[];
  sealedPassword?: string;
}

export type OutboundSmsStatus = 'OUTBOUND' | 'SENT' | 'ERROR' | 'PENDING' | 'SCHEDULED' | 'DELIVERED' | 'FAILED';

export interface StoredOutboundSms {
  id: string;
  message: string;
  subject?: string;
  /** As DHIS2 keeps them: without a leading `+` or `00`. */
  recipients: string[];
  status: OutboundSmsStatus;
  created: number;
  lastUpdated: number;
}

/** One gateway call as the emulator made it (tests and logs: what DHIS2 would have sent, and what came back). */
export interface GatewayCall {
  gateway: string;
  request: GatewayRequest;
  status?: number;
  error?: string;
}

/** The result of sending one SMS to its recipients, as `SmsMessageSender` reports it. */
export interface SendResult {
  ok: boolean;
  /** Core's description: `success`-like on success, `failed`, `No default gateway configured`, `no recipient`. */
  description: string;
  /** What actually went wrong (the emulator's addition). */
  devMessage?: string;
  sms?: StoredOutboundSms;
}

const parameterSchema = z.looseObject({
  key: z.string().min(1),
  value: z.string().nullish(),
  header: z.boolean().default(false),
  encode: z.boolean().default(false),
  confidential: z.boolean().default(false),
});

const contentTypes = Object.keys(GATEWAY_CONTENT_TYPES) as [GatewayContentType, ...GatewayContentType[]];

/** The Generic HTTP gateway JSON DHIS2 binds (unknown properties ignored, as Jackson does there). */
const httpGatewaySchema = z.looseObject({
  type: z.literal('http'),
  name: z.string().nullish(),
  username: z.string().nullish(),
  password: z.string().nullish(),
  urlTemplate: z.string().nullish(),
  configurationTemplate: z.string().nullish(),
  useGet: z.boolean().default(false),
  sendUrlParameters: z.boolean().default(false),
  contentType: z
    .enum(contentTypes, { error: `contentType must be one of ${contentTypes.join(', ')}` })
    .default('APPLICATION_JSON'),
  maxSmsLength: z.union([z.string(), z.number()]).nullish(),
  isDefault: z.boolean().optional(),
  parameters: z.array(parameterSchema).default([]),
});

type GatewayInput = z.infer<typeof httpGatewaySchema>;

const OTHER_TYPES = new Set(['bulksms', 'clickatell', 'smpp']);

/** Parse a gateway body; types other than `http` are refused with a clear WebMessage. */
function parseGateway(body: unknown): GatewayInput {
  const type = body && typeof body === 'object' ? (body as Record<string, unknown>).type : undefined;
  if (typeof type === 'string' && OTHER_TYPES.has(type)) {
    throw new HttpError(
      409,
      `The DHIS2 emulator imitates only the Generic HTTP gateway (type "http"); "${type}" gateways are not supported`,
    );
  }
  if (type !== 'http') {
    throw new HttpError(
      400,
      `Cannot de-serialize SMS configurations: "type" must be one of http, bulksms, clickatell, smpp (the emulator supports http)`,
    );
  }
  const parsed = httpGatewaySchema.safeParse(body);
  if (!parsed.success) {
    throw new HttpError(
      400,
      `Cannot de-serialize SMS configurations: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** A stand-in for DHIS2's jasypt ciphertext: opaque, different for every stored value. */
function seal(): string {
  return randomBytes(24).toString('base64');
}

const opt = (v: string | number | null | undefined): string | undefined =>
  v === null || v === undefined ? undefined : String(v);

type GatewayTable = FieldTable<StoredGateway, undefined>;

const parameterFields: FieldTable<StoredParameter, undefined> = {
  key: (p) => p.key,
  value: (p) => (p.confidential ? p.sealed : p.value),
  header: (p) => p.header,
  encode: (p) => p.encode,
  confidential: (p) => p.confidential,
};

const gatewayFields: GatewayTable = {
  type: (g) => g.type,
  uid: (g) => g.uid,
  name: (g) => g.name,
  username: (g) => g.username,
  password: (g) => g.sealedPassword,
  isDefault: (g) => g.isDefault,
  urlTemplate: (g) => g.urlTemplate,
  configurationTemplate: (g) => g.configurationTemplate,
  useGet: (g) => g.useGet,
  sendUrlParameters: (g) => g.sendUrlParameters,
  contentType: (g) => g.contentType,
  maxSmsLength: (g) => g.maxSmsLength,
  parameters: (g, c, child) => {
    const sel = child();
    return g.parameters.map((p) => pick(sel, parameterFields, p, c));
  },
};

/** One run of the program-notification subset. */
export interface NotificationRun {
  date: string;
  total: number;
  sent: number;
  failed: number;
  notifications: Array<DueNotification & { status: 'SENT' | 'FAILED'; error?: string }>;
}

export interface SmsDeps {
  state: EmulatorState;
  minor: number;
  clock: Clock;
  time: ServerTime;
  options?: SmsOptions;
}

/** Metadata-style list helper of the handler (paging, `filter`, `order`, `fields`). */
export type ListMetadata = <T>(
  url: URL,
  key: string,
  all: T[],
  get: (o: T, prop: string) => Array<string | undefined>,
  render: (o: T, sel: FieldSelector) => unknown,
) => Response;

/**
 * The SMS part of the emulator: gateways, the outbound SMS log and the sender.
 *
 * @example
 * const emu = createEmulator({ sms: { fetch: capturingFetch } });
 * await emu.fetch(`${emu.baseUrl}/api/gateways`, { method: 'POST', headers, body: JSON.stringify({ type: 'http', … }) });
 * await emu.sms.send('Hello', ['+254700000001']); // or POST /api/sms/outbound
 */
export class EmulatorSms {
  readonly gateways: StoredGateway[] = [];
  readonly outbound: StoredOutboundSms[] = [];
  /** Every gateway call made, oldest first (bounded). */
  readonly calls: GatewayCall[] = [];
  /** What the program-notification run sends (default: the EIR visit reminder, 2 days before). */
  readonly notificationTemplates: ProgramNotificationTemplate[] = [EIR_VISIT_REMINDER];
  /** The HTTP client for gateway calls; replaceable at any time (tests). */
  fetch: typeof fetch;
  /** Whether `${text}` is URL-encoded; replaceable at any time. */
  encodeText: boolean;
  private readonly deps: SmsDeps;

  constructor(deps: SmsDeps) {
    this.deps = deps;
    this.fetch = deps.options?.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.encodeText = deps.options?.encodeText ?? deps.minor >= 39;
  }

  defaultGateway(): StoredGateway | undefined {
    return this.gateways.find((g) => g.isDefault);
  }

  private byUid(uid: string): StoredGateway {
    const g = this.gateways.find((x) => x.uid === uid);
    if (!g) throw new HttpError(404, `SmsGatewayConfig with id ${uid} could not be found.`, { errorCode: 'E1005' });
    return g;
  }

  private build(input: GatewayInput, uid: string, isDefault: boolean, previous?: StoredGateway): StoredGateway {
    const oldByKey = new Map((previous?.parameters ?? []).map((p) => [p.key, p]));
    const parameters: StoredParameter[] = input.parameters.map((p) => {
      const base = {
        key: p.key,
        value: p.value ?? '',
        header: p.header,
        encode: p.encode,
        confidential: p.confidential,
      };
      if (!p.confidential) return base;
      const old = oldByKey.get(p.key);
      if (old?.confidential && old.sealed !== undefined && base.value === old.sealed)
        return { ...old, ...base, value: old.value, sealed: old.sealed };
      if (old?.confidential && base.value.trim() === '' && this.deps.minor >= 41)
        return { ...base, value: old.value, sealed: old.sealed };
      return { ...base, sealed: seal() };
    });
    const password = opt(input.password);
    const keepPassword = previous && (password === undefined || password === previous.sealedPassword);
    return {
      type: 'http',
      uid,
      name: opt(input.name),
      username: opt(input.username),
      password: keepPassword ? previous.password : password,
      sealedPassword: keepPassword ? previous.sealedPassword : password === undefined ? undefined : seal(),
      isDefault,
      urlTemplate: opt(input.urlTemplate),
      configurationTemplate: opt(input.configurationTemplate),
      useGet: input.useGet,
      sendUrlParameters: input.sendUrlParameters,
      contentType: input.contentType,
      maxSmsLength: opt(input.maxSmsLength),
      parameters,
    };
  }

  /** `POST /api/gateways`. Returns the new uid, or undefined when DHIS2 would silently add nothing. */
  add(body: unknown): string | undefined {
    const input = parseGateway(body);
    // DefaultGatewayAdministrationService.addGateway: one gateway per type; core's uids here are 10 characters.
    if (this.gateways.some((g) => g.type === input.type)) return undefined;
    const uid = newUid().slice(0, 10);
    this.gateways.push(this.build(input, uid, this.gateways.length === 0));
    return uid;
  }

  /** `PUT /api/gateways/{uid}`: replaces the configuration, keeping uid and default flag. */
  update(uid: string, body: unknown): void {
    const previous = this.byUid(uid);
    const input = parseGateway(body);
    if (input.isDefault && !previous.isDefault && this.defaultGateway())
      throw new HttpError(409, 'Default gateway already exists');
    this.gateways[this.gateways.indexOf(previous)] = this.build(input, previous.uid, previous.isDefault, previous);
  }

  remove(uid: string): void {
    const g = this.byUid(uid);
    this.gateways.splice(this.gateways.indexOf(g), 1);
    if (g.isDefault && this.gateways.length) this.gateways[0]!.isDefault = true;
  }

  setDefault(uid: string): StoredGateway {
    const g = this.byUid(uid);
    for (const x of this.gateways) x.isDefault = x === g;
    return g;
  }

  /**
   * Send `text` to `recipients` through the default gateway, as `SmsMessageSender.sendMessage` does:
   * strip `+`/`00`, drop duplicates, one gateway call per 200 recipients, one OutboundSms.
   */
  async send(text: string, recipients: readonly string[], subject?: string): Promise<SendResult> {
    const to = [
      ...new Set(
        recipients
          .map((r) => r.trim())
          .filter(Boolean)
          .map(stripPhonePrefix),
      ),
    ];
    if (!to.length) return { ok: false, description: 'no recipient' };
    const gateway = this.defaultGateway();
    if (!gateway)
      return {
        ok: false,
        description: 'No default gateway configured',
        devMessage: 'POST /api/gateways a Generic HTTP gateway first',
      };
    const now = this.deps.clock.now().getTime();
    const sms: StoredOutboundSms = {
      id: newUid(),
      message: text,
      ...(subject ? { subject } : {}),
      recipients: to,
      status: 'OUTBOUND',
      created: now,
      lastUpdated: now,
    };
    let last: SendResult = { ok: false, description: 'failed' };
    for (let i = 0; i < to.length; i += MAX_RECIPIENTS_PER_REQUEST) {
      last = await this.call(gateway, text, to.slice(i, i + MAX_RECIPIENTS_PER_REQUEST));
      sms.status = last.ok ? 'SENT' : 'FAILED';
    }
    sms.lastUpdated = this.deps.clock.now().getTime();
    this.outbound.push(sms);
    return { ...last, sms };
  }

  /** Run the program-notification subset for `date` (default: today in the server time zone). */
  async runProgramNotifications(date?: string): Promise<NotificationRun> {
    const day = date ?? this.deps.time.dateOf(this.deps.clock.now().getTime());
    const gateway = this.defaultGateway();
    const notifications: NotificationRun['notifications'] = [];
    for (const n of dueNotifications(this.deps.state, this.deps.time, day, this.notificationTemplates)) {
      const r = gateway
        ? await this.call(gateway, n.text, [stripPhonePrefix(n.recipient)])
        : { ok: false, devMessage: 'No default gateway configured' };
      notifications.push({ ...n, status: r.ok ? 'SENT' : 'FAILED', ...(r.devMessage ? { error: r.devMessage } : {}) });
    }
    const sent = notifications.filter((n) => n.status === 'SENT').length;
    return { date: day, total: notifications.length, sent, failed: notifications.length - sent, notifications };
  }

  private async call(gateway: StoredGateway, text: string, to: string[]): Promise<SendResult> {
    const name = gateway.name ?? gateway.uid;
    let request: GatewayRequest;
    try {
      request = renderGatewayRequest(gateway, text, to, { encodeText: this.encodeText });
    } catch (err) {
      if (!(err instanceof GatewayConfigError)) throw err;
      this.record({
        gateway: name,
        request: { method: gateway.useGet ? 'GET' : 'POST', url: gateway.urlTemplate ?? '', headers: {} },
        error: err.message,
      });
      return { ok: false, description: 'failed', devMessage: `Gateway ${name}: ${err.message}` };
    }
    const call: GatewayCall = { gateway: name, request };
    this.record(call);
    try {
      const res = await this.fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(this.deps.options?.timeoutMs ?? 10_000),
      });
      call.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      // SmsGateway.OK_CODES: 200, 201, 202; anything else is GatewayResponse.FAILED.
      if ([200, 201, 202].includes(res.status)) return { ok: true, description: 'success' };
      return {
        ok: false,
        description: 'failed',
        devMessage: `Gateway ${name} answered HTTP ${res.status} from ${request.method} ${new URL(request.url).origin}${new URL(request.url).pathname}`,
      };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      call.error = `${(err as Error).message}${cause ? ` (${cause})` : ''}`;
      return { ok: false, description: 'failed', devMessage: `Gateway ${name} could not be reached: ${call.error}` };
    }
  }

  private record(call: GatewayCall): void {
    this.calls.push(call);
    if (this.calls.length > 1000) this.calls.splice(0, this.calls.length - 1000);
  }

  /** Answer `/api/gateways…` and `/api/sms/outbound…`; undefined when the path is not one of them. */
  async route(
    req: Request,
    url: URL,
    segments: readonly string[],
    user: EmulatorUser,
    listMetadata: ListMetadata,
  ): Promise<Response | undefined> {
    const method = req.method.toUpperCase();
    const [a, b, c, d] = segments;
    const isGateways = a === 'gateways';
    const isOutbound = a === 'sms' && b === 'outbound';
    const isNotificationRun = a === 'emulator' && b === 'programNotifications' && c === 'run' && !d;
    if (a === 'programNotificationTemplates' && method === 'GET' && !b) {
      return listMetadata(url, 'programNotificationTemplates', this.notificationTemplates, templateProp, (t, sel) =>
        pick(sel, templateFields, t, undefined),
      );
    }
    if (!isGateways && !isOutbound && !isNotificationRun) return undefined;
    if (!hasAuthority(user, SMS_AUTHORITY)) throw new HttpError(403, 'Access is denied');

    if (isNotificationRun) {
      if (method !== 'POST') return undefined;
      const date = url.searchParams.get('date') ?? undefined;
      if (date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new HttpError(400, 'date must be YYYY-MM-DD');
      const run = await this.runProgramNotifications(date);
      return json(200, {
        ...webMessageBody(200, `Program notifications for ${run.date}: ${run.sent} sent, ${run.failed} failed`),
        response: run,
      });
    }

    if (isGateways) {
      const fields = () => FieldSelector.parse(url.searchParams.get('fields'), '*');
      if (method === 'GET' && !b)
        return json(200, { gateways: this.gateways.map((g) => pick(fields(), gatewayFields, g, undefined)) });
      if (method === 'GET' && b === 'default' && !c) {
        const g = this.defaultGateway();
        if (!g) throw new HttpError(404, 'No default gateway found');
        return json(200, pick(fields(), gatewayFields, g, undefined));
      }
      if (method === 'GET' && b && !c) return json(200, pick(fields(), gatewayFields, this.byUid(b), undefined));
      if (method === 'POST' && !b) {
        const uid = this.add(await readJson(req));
        return json(
          200,
          webMessageBody(200, 'Gateway configuration added'),
          uid ? { Location: `${url.origin}${url.pathname.replace(/\/+$/, '')}/${uid}` } : {},
        );
      }
      if (method === 'PUT' && b === 'default' && c && !d)
        return json(200, webMessageBody(200, `${this.setDefault(c).name ?? ''} is set to default`));
      if (method === 'PUT' && b && !c) {
        this.update(b, await readJson(req));
        return json(200, webMessageBody(200, `Gateway with uid: ${b} has been updated`));
      }
      if (method === 'DELETE' && b && !c) {
        this.remove(b);
        return json(200, webMessageBody(200, 'Gateway removed successfully'));
      }
      return undefined;
    }

    if (method === 'GET' && !c) {
      return listMetadata(url, 'outboundsmss', this.outbound, outboundProp, (s, sel) =>
        pick(sel, outboundFields(this.deps.time), s, undefined),
      );
    }
    if (method === 'GET' && c && !d) {
      const sms = this.outbound.find((s) => s.id === c);
      if (!sms) throw new HttpError(404, `OutboundSms with id ${c} could not be found.`, { errorCode: 'E1005' });
      return json(
        200,
        pick(FieldSelector.parse(url.searchParams.get('fields'), '*'), outboundFields(this.deps.time), sms, undefined),
      );
    }
    if (method === 'POST' && !c) {
      const { message, recipients } = await outboundRequest(req, url);
      const result = await this.send(message, recipients);
      if (result.ok) return json(200, webMessageBody(200, 'SMS sent'));
      return json(
        500,
        webMessageBody(500, result.description, result.devMessage ? { devMessage: result.devMessage } : {}),
      );
    }
    return undefined;
  }
}

const outboundJsonSchema = z.looseObject({
  message: z.string().nullish(),
  recipients: z.array(z.string()).nullish(),
});

/**
 * The two ways `SmsOutboundController` takes a message: a JSON OutboundSms `{message, recipients}`, or the
 * request parameters `recipient` and `message` (query string or form body; one recipient).
 */
async function outboundRequest(req: Request, url: URL): Promise<{ message: string; recipients: string[] }> {
  const type = (req.headers.get('content-type') ?? '').toLowerCase();
  if (type.startsWith('application/json')) {
    const parsed = outboundJsonSchema.safeParse(await readJson(req));
    if (!parsed.success)
      throw new HttpError(
        400,
        `JSON parse error: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    return { message: parsed.data.message ?? '', recipients: parsed.data.recipients ?? [] };
  }
  const params = new URLSearchParams(url.searchParams);
  if (type.startsWith('application/x-www-form-urlencoded'))
    for (const [k, v] of new URLSearchParams(await req.text())) params.append(k, v);
  const recipient = params.get('recipient');
  const message = params.get('message');
  for (const [name, value] of [
    ['recipient', recipient],
    ['message', message],
  ] as const) {
    if (value === null)
      throw new HttpError(400, `Required request parameter '${name}' for method parameter type String is not present`);
  }
  if (!recipient) throw new HttpError(409, 'Recipient must be specified');
  if (!message) throw new HttpError(409, 'Message must be specified');
  return { message, recipients: [recipient] };
}

const outboundProp = (s: StoredOutboundSms, prop: string): Array<string | undefined> => {
  switch (prop) {
    case 'id':
      return [s.id];
    case 'status':
      return [s.status];
    case 'message':
      return [s.message];
    case 'recipients':
      return s.recipients;
    default:
      return [undefined];
  }
};

function outboundFields(time: ServerTime): FieldTable<StoredOutboundSms, undefined> {
  return {
    id: (s) => s.id,
    created: (s) => time.format(s.created),
    lastUpdated: (s) => time.format(s.lastUpdated),
    subject: (s) => s.subject,
    message: (s) => s.message,
    recipients: (s) => s.recipients,
    status: (s) => s.status,
  };
}

const templateProp = (t: ProgramNotificationTemplate, prop: string): Array<string | undefined> => {
  const v = (t as unknown as Record<string, unknown>)[prop === 'displayName' ? 'name' : prop];
  return [typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined];
};

const templateFields: FieldTable<ProgramNotificationTemplate, undefined> = {
  id: (t) => t.id,
  name: (t) => t.name,
  displayName: (t) => t.name,
  notificationTrigger: (t) => t.notificationTrigger,
  relativeScheduledDays: (t) => t.relativeScheduledDays,
  notificationRecipient: (t) => t.notificationRecipient,
  recipientProgramAttribute: (t) => ({ id: t.recipientProgramAttribute }),
  deliveryChannels: (t) => t.deliveryChannels,
  messageTemplate: (t) => t.messageTemplate,
};
