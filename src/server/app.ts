import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { inboundRoutes, type Config } from '../config.ts';
import { inRanges } from '../cidr.ts';
import { ERRORS, JibuError, errorBody, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Clock } from '../clock.ts';
import type { Channel, InboundMessage, ParseResult, WebhookRequest } from '../channels/types.ts';
import * as africasTalking from '../channels/africastalking/index.ts';
import * as twilio from '../channels/twilio/index.ts';
import * as http from '../channels/http/index.ts';
import { checkGatewayKey } from '../channels/webhook-key.ts';
import { handleInbound, type RunnerDeps } from '../conversation/runner.ts';
import { applyDeliveryReport } from '../messaging/outbox.ts';
import type { Store } from '../store/types.ts';
import type { Metrics } from './metrics.ts';
import { metricsHandler } from './metrics-endpoint.ts';
import type { SimulatorBridge } from './simulator/router.ts';
import type { InboundLimiter } from './inbound-limit.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  clock: Clock;
  store: Store;
  metrics: Metrics;
  runner: RunnerDeps;
  /** False while starting or draining: /readyz answers 503 and webhooks are refused with 503. */
  isReady: () => boolean;
  /** Checks the dependencies /readyz reports on (Redis when configured). */
  readiness: () => Promise<Record<string, 'ok' | string>>;
  /** The polite text a USSD caller sees when a hop cannot be stored (in the default locale). */
  unavailableText: (locale?: string) => string;
  /** Per-phone and per-address limits on inbound SMS and USSD (inbound-limit.ts); none when unset. */
  inboundLimiter?: InboundLimiter;
  /** The polite text a rate-limited caller gets, in their language. */
  limitedText?: (locale?: string) => string;
  /** Extra routers mounted by later capabilities (admin, simulator, DHIS2 gateway). */
  mount?: (app: express.Express) => void;
}

/** Largest accepted webhook body (Express parsers and the USSD fast path alike). */
export const BODY_LIMIT_BYTES = 64 * 1024;
const BODY_LIMIT = BODY_LIMIT_BYTES;
/** Most form fields accepted in one body. */
export const FORM_PARAMETER_LIMIT = 200;

function toWebhookRequest(req: Request): WebhookRequest {
  return {
    method: req.method,
    originalUrl: req.originalUrl,
    headers: req.headers,
    query: req.query as Record<string, unknown>,
    body: req.body ?? {},
  };
}

function fail(res: Response, code: ErrorCode, detail?: unknown): void {
  res.status(ERRORS[code].status).json(errorBody(code, detail));
}

/** An HTTP answer independent of Express: the USSD fast path writes it to the socket itself. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** The error answer Express's `res.json(errorBody(…))` would give. */
export function errorAnswer(code: ErrorCode, detail?: unknown): HttpAnswer {
  return {
    status: ERRORS[code].status,
    contentType: 'application/json; charset=utf-8',
    body: JSON.stringify(errorBody(code, detail)),
  };
}

function sendAnswer(res: Response, a: HttpAnswer): void {
  res.status(a.status).type(a.contentType).send(a.body);
}

/** `WEBHOOK_SECRET` as `?key=`, failing closed outside the demo: see {@link checkGatewayKey}. */
export const checkKey = checkGatewayKey;

/**
 * One Africa's Talking USSD hop from query and form body to the answer: readiness, webhook key, parse,
 * the core loop, render. Infrastructure failures give a polite `END` (the caller is on the line and AT
 * does not retry hops); malformed or forged requests give a 4xx with a stable code. Never throws.
 */
export async function answerAtUssd(
  deps: AppDeps,
  req: Pick<WebhookRequest, 'query' | 'body'>,
  ip?: string,
): Promise<HttpAnswer> {
  if (!deps.isReady()) return errorAnswer('JIBU_NOT_READY');
  const key = checkKey(deps.config, req.query.key);
  if (!key.ok) return errorAnswer(key.code, key.detail);
  if (!ipAllowed(deps, 'ussd', ip)) return errorAnswer('JIBU_RATE_LIMITED');
  return runAtUssd(deps, req);
}

/**
 * The hop after authentication: parse, the core loop, render. The simulator's server-side endpoint
 * calls this directly behind the admin session (the page never holds `WEBHOOK_SECRET`).
 */
export async function runAtUssd(deps: AppDeps, req: Pick<WebhookRequest, 'query' | 'body'>): Promise<HttpAnswer> {
  if (!deps.isReady()) return errorAnswer('JIBU_NOT_READY');
  const parsed = africasTalking.parseUssd(req, deps.config.DEFAULT_COUNTRY);
  if (!parsed.ok) return errorAnswer(parsed.code, parsed.detail);
  const u = parsed.value;
  const limited = deps.inboundLimiter?.phone('ussd', u.phone, deps.clock.now().getTime());
  if (limited && !limited.ok) {
    deps.metrics.inboundLimited.inc({ channel: 'ussd', reason: limited.reason });
    const r = africasTalking.renderUssd(await limitedText(deps, u.phone), true);
    return { status: 200, contentType: `${r.contentType}; charset=utf-8`, body: r.body };
  }
  const msg = africasTalking.toUssdInbound(u, deps.clock.now());
  let reply: { text: string; end: boolean };
  try {
    const out = await handleInbound(deps.runner, msg);
    reply = out.reply ?? { text: deps.unavailableText(), end: true };
  } catch (err) {
    deps.logger.error({ err, code: codeOf(err) }, 'USSD hop could not be processed');
    reply = { text: deps.unavailableText(), end: true };
  }
  const r = africasTalking.renderUssd(reply.text, reply.end);
  return { status: 200, contentType: `${r.contentType}; charset=utf-8`, body: r.body };
}

/** Count a request against its source address's limit; false when over it (answered 429). */
function ipAllowed(deps: AppDeps, channel: Channel, ip: string | undefined): boolean {
  const v = deps.inboundLimiter?.ip(ip, deps.clock.now().getTime());
  if (!v || v.ok) return true;
  deps.metrics.inboundLimited.inc({ channel, reason: v.reason });
  return false;
}

/** The rate-limit text in the caller's language (their contact's, else the default). */
async function limitedText(deps: AppDeps, phone: string): Promise<string> {
  return (await limitedReply(deps, phone)).text;
}

async function limitedReply(deps: AppDeps, phone: string): Promise<{ text: string; locale: string }> {
  const contact = await deps.store.getContact(phone).catch(() => undefined);
  const locale = contact?.locale ?? deps.config.DEFAULT_LOCALE;
  return { text: (deps.limitedText ?? deps.unavailableText)(locale), locale };
}

/**
 * The simulator's way in: the same parse and core loop as the Africa's Talking USSD and generic SMS
 * webhooks, minus the webhook key, which the admin session in front of the simulator replaces.
 */
export function simulatorBridge(deps: AppDeps): SimulatorBridge {
  return {
    ussd: (hop) => runAtUssd(deps, { query: {}, body: { ...hop, networkCode: '63902' } }),
    async sms(msg) {
      if (!deps.isReady()) return errorAnswer('JIBU_NOT_READY');
      const parsed = http.parseInboundSms({ body: msg }, deps.config.DEFAULT_COUNTRY);
      if (!parsed.ok) return errorAnswer(parsed.code, parsed.detail);
      try {
        await handleInbound(deps.runner, parsed.value);
      } catch (err) {
        deps.logger.error({ err, code: codeOf(err) }, 'simulator SMS could not be stored');
        return errorAnswer(codeOf(err) === 'JIBU_BUSY' ? 'JIBU_BUSY' : 'JIBU_UNAVAILABLE');
      }
      return { status: 200, contentType: 'application/json; charset=utf-8', body: '{"status":"accepted"}' };
    },
  };
}

/**
 * The HTTP surface: provider webhooks, health, metrics. Each webhook verifies, parses (pure adapter),
 * runs the core loop and only then answers; any failure to store answers 503 so the provider retries.
 */
export function createApp(deps: AppDeps): express.Express {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Off unless TRUST_PROXY names the proxies: otherwise any client could choose its address in X-Forwarded-For.
  app.set('trust proxy', config.TRUST_PROXY);
  app.set('query parser', 'simple');
  const routes = inboundRoutes(config);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const channel = channelOf(req.path);
      // Only route patterns from the code become labels: a raw path would let anyone grow /metrics without bound.
      const route = req.route ? String(req.route.path) : 'unmatched';
      metrics.httpRequests.inc({ channel, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ channel }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  });
  app.use(express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: FORM_PARAMETER_LIMIT }));
  app.use(express.json({ limit: BODY_LIMIT, strict: false }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = await deps.readiness().catch((e: unknown) => ({ store: String(e) }));
    const ok = deps.isReady() && Object.values(checks).every((v) => v === 'ok');
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ready' : 'not_ready',
      checks: { ...checks, accepting: deps.isReady() ? 'ok' : 'draining' },
    });
  });
  // With METRICS_PORT the lifecycle serves /metrics on its own port instead.
  if (!config.METRICS_PORT) app.get('/metrics', metricsHandler(metrics, config.METRICS_TOKEN));

  // Webhooks refuse work while starting or draining, so nothing is half-processed across a restart.
  const accepting = (_req: Request, res: Response, next: NextFunction) =>
    deps.isReady() ? next() : fail(res, 'JIBU_NOT_READY');
  const keyed = (req: Request, res: Response, next: NextFunction) => {
    const r = checkKey(config, req.query.key);
    return r.ok ? next() : fail(res, r.code, r.detail);
  };
  // Optional source allow-list on the unsigned webhooks; req.ip follows TRUST_PROXY.
  const allowedIp = config.WEBHOOK_ALLOWED_IPS ? inRanges(config.WEBHOOK_ALLOWED_IPS) : undefined;
  const fromAllowed = (req: Request, res: Response, next: NextFunction) =>
    !allowedIp || allowedIp(req.ip) ? next() : fail(res, 'JIBU_FORBIDDEN_SOURCE');
  const run = (msg: InboundMessage) => handleInbound(deps.runner, msg);

  // Only the configured providers' routes exist (docs/providers.md): a Twilio deployment has no
  // unsigned Africa's Talking or generic route for anyone to post to.
  // --- Africa's Talking USSD -------------------------------------------------------------
  // The same answer as the fast path in fast-ussd.ts, which takes plain form posts before Express does.
  if (routes.atUssd) {
    app.post('/ussd/africastalking', fromAllowed, async (req, res) => {
      sendAnswer(res, await answerAtUssd(deps, toWebhookRequest(req), req.ip));
    });

    app.post('/ussd/africastalking/events', fromAllowed, keyed, async (req, res) => {
      const parsed = africasTalking.parseUssdEvent(toWebhookRequest(req));
      if (!parsed.ok) return fail(res, parsed.code, parsed.detail);
      metrics.ussdSessions.inc({ status: parsed.value.status });
      logger.info(
        {
          event: 'ussd_session_end',
          sessionId: parsed.value.sessionId,
          status: parsed.value.status,
          hops: parsed.value.hopsCount,
          durationMs: parsed.value.durationMs,
        },
        'USSD session ended',
      );
      res.status(200).type('text/plain').send('OK');
    });
  }
  // Generic USSD (JSON, latest input only): the aggregator contract next to the generic SMS one.
  if (routes.http)
    app.post(
      '/ussd/http',
      fromAllowed,
      (req, res, next) => (ipAllowed(deps, 'ussd', req.ip) ? next() : fail(res, 'JIBU_RATE_LIMITED')),
      http.ussdRoute({
        ...deps,
        limited: async (phone) => {
          const l = deps.inboundLimiter?.phone('ussd', phone, deps.clock.now().getTime());
          if (!l || l.ok) return undefined;
          deps.metrics.inboundLimited.inc({ channel: 'ussd', reason: l.reason });
          return limitedText(deps, phone);
        },
      }),
    );

  // --- SMS inbound (all providers share the flow) ----------------------------------------
  const smsInbound =
    (parse: (r: WebhookRequest) => ParseResult<InboundMessage>, answer: (res: Response) => void) =>
    async (req: Request, res: Response) => {
      if (!ipAllowed(deps, 'sms', req.ip)) return fail(res, 'JIBU_RATE_LIMITED');
      const parsed = parse(toWebhookRequest(req));
      if (!parsed.ok) return fail(res, parsed.code, parsed.detail);
      const limited = deps.inboundLimiter?.phone('sms', parsed.value.from, deps.clock.now().getTime());
      if (limited && !limited.ok) {
        // Acknowledged (a provider retries anything else) but not processed; one polite reply per window.
        metrics.inboundLimited.inc({ channel: 'sms', reason: limited.reason });
        try {
          if (limited.first) await queueLimitedReply(deps, parsed.value);
        } catch (err) {
          logger.warn({ err, code: codeOf(err) }, 'rate-limit reply could not be queued');
        }
        return answer(res);
      }
      try {
        await run(parsed.value);
      } catch (err) {
        logger.error(
          { err, code: codeOf(err), provider: parsed.value.provider },
          'inbound SMS could not be stored; provider will retry',
        );
        // The store's own code tells the provider (and whoever reads its logs) why to retry.
        const code = codeOf(err);
        return fail(res, code === 'JIBU_BUSY' || code === 'JIBU_STORE_UNAVAILABLE' ? code : 'JIBU_UNAVAILABLE');
      }
      answer(res);
    };
  const plainOk = (res: Response) => {
    res.status(200).type('text/plain').send('OK');
  };

  if (routes.atSms)
    app.post(
      '/sms/africastalking',
      accepting,
      fromAllowed,
      keyed,
      smsInbound((r) => africasTalking.parseInboundSms(r, config.DEFAULT_COUNTRY), plainOk),
    );
  if (routes.http)
    app.post(
      '/sms/http',
      accepting,
      fromAllowed,
      keyed,
      smsInbound(
        (r) => http.parseInboundSms(r, config.DEFAULT_COUNTRY),
        (res) => {
          res.status(200).json({ status: 'accepted' });
        },
      ),
    );

  const twilioVerified = (req: Request, res: Response, next: NextFunction) => {
    if (!config.TWILIO_AUTH_TOKEN || !config.PUBLIC_URL)
      return fail(res, 'JIBU_BAD_SIGNATURE', 'Twilio is not configured on this gateway');
    const v = twilio.verifyTwilioSignature(toWebhookRequest(req), {
      authToken: config.TWILIO_AUTH_TOKEN,
      publicUrl: config.PUBLIC_URL,
    });
    return v.ok ? next() : fail(res, v.code, v.detail);
  };
  if (routes.twilio)
    app.post(
      '/sms/twilio',
      accepting,
      twilioVerified,
      smsInbound(
        (r) => twilio.parseInboundSms(r, config.DEFAULT_COUNTRY),
        (res) => {
          res.status(200).type('text/xml').send(twilio.emptyTwiml());
        },
      ),
    );

  // --- Delivery reports ----------------------------------------------------------------
  const dlr =
    (parse: (r: WebhookRequest) => ParseResult<import('../channels/types.ts').DeliveryReport>) =>
    async (req: Request, res: Response) => {
      const parsed = parse(toWebhookRequest(req));
      if (!parsed.ok) return fail(res, parsed.code, parsed.detail);
      try {
        const rec = await applyDeliveryReport(deps.store, parsed.value, deps.clock);
        metrics.smsStatus.inc({ provider: parsed.value.provider, status: parsed.value.status });
        if (!rec)
          logger.info(
            { provider: parsed.value.provider, providerMessageId: parsed.value.providerMessageId },
            'delivery report for an unknown message',
          );
      } catch (err) {
        logger.error({ err }, 'delivery report could not be stored');
        return fail(res, 'JIBU_UNAVAILABLE');
      }
      res.status(200).type('text/plain').send('OK');
    };
  if (routes.atSms)
    app.post('/sms/africastalking/delivery', fromAllowed, keyed, dlr(africasTalking.parseDeliveryReport));
  if (routes.http) app.post('/sms/http/status', fromAllowed, keyed, dlr(http.parseStatus));
  if (routes.twilio) app.post('/sms/twilio/status', twilioVerified, dlr(twilio.parseStatusCallback));

  deps.mount?.(app);

  app.use((_req, res) => fail(res, 'JIBU_NOT_FOUND'));
  // Body-parser and other errors: a stable code, never a stack trace.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (err instanceof JibuError) return fail(res, err.code, err.detail);
    if (e.type === 'entity.too.large') return fail(res, 'JIBU_PAYLOAD_TOO_LARGE');
    if (
      e.type === 'entity.parse.failed' ||
      e.type === 'encoding.unsupported' ||
      e.type === 'charset.unsupported' ||
      e.type === 'parameters.too.many' ||
      (e.status && e.status >= 400 && e.status < 500)
    ) {
      return fail(res, 'JIBU_BAD_REQUEST');
    }
    logger.error({ err, code: 'JIBU_INTERNAL' }, 'unhandled error');
    return fail(res, 'JIBU_INTERNAL');
  });
  return app;
}

/** The one polite SMS of a window to a number over its limit; the job id keeps a retry from sending two. */
async function queueLimitedReply(deps: AppDeps, msg: InboundMessage): Promise<void> {
  const window = Math.floor(deps.clock.now().getTime() / 60_000);
  const { text, locale } = await limitedReply(deps, msg.from);
  await deps.store.enqueue([
    {
      id: `sms:limited:${createHash('sha256').update(msg.from).digest('base64url').slice(0, 16)}:${window}`,
      queue: 'outbox-sms',
      name: 'sendSms',
      data: {
        to: msg.from,
        text,
        locale,
        reply: true,
        purpose: 'rate-limited',
        provider: msg.provider,
        providerFrom: msg.providerFrom,
      },
    },
  ]);
}

function channelOf(path: string): Channel | 'admin' | 'ops' | 'other' {
  if (path.startsWith('/ussd')) return 'ussd';
  if (path.startsWith('/sms')) return 'sms';
  if (path.startsWith('/admin')) return 'admin';
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return 'ops';
  return 'other';
}

function codeOf(err: unknown): ErrorCode | undefined {
  return err instanceof JibuError ? err.code : undefined;
}
