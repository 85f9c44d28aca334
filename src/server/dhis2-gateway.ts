import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { maskPhone, normalizePhone } from '../channels/phone.ts';
import type { Clock } from '../clock.ts';
import { ERRORS, JibuError, errorBody, type ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { unsolicitedSmsJob, type QuietHours } from '../messaging/unsolicited.ts';
import type { QueuedJob, Store } from '../store/types.ts';
import type { EventFeed } from './events.ts';

/**
 * DHIS2 as a client of Jibu: an endpoint DHIS2 can use as its default "Generic HTTP" SMS gateway
 * (docs/dhis2.md#the-generic-http-gateway-that-points-at-jibu), so DHIS2's own notifications (program notification
 * templates, `POST
 * /api/sms/outbound`) leave through Jibu's provider, queue, rate limits, quiet hours and opt-outs.
 *
 * Mounted at `/gateway/dhis2` (`/dhis2` is the embedded emulator). DHIS2 fills a body template with
 * `${recipients}` (numbers joined with commas) and `${text}`; any of these shapes is accepted:
 *   POST JSON  `{"to":"${recipients}","text":"${text}"}`   (contentType APPLICATION_JSON)
 *   POST form  `to=${recipients}&text=${text}`             (contentType FORM_URL_ENCODED)
 *   GET        `?to=…&text=…`                               (useGet: true)
 * DHIS2 2.39 and later URL-encode `${text}` before substituting it, even into JSON (core
 * `SimplisticHttpGetGateWay`: `SmsUtils.encode(text)`); such a text (no spaces, `+` or `%XX`) is decoded.
 *
 * Authentication: the `WEBHOOK_SECRET`, as header `X-Jibu-Key` (a DHIS2 gateway parameter with
 * `header: true, confidential: true`), `Authorization: Bearer …`, or `?key=` for DHIS2 versions without
 * header parameters. Not `ADMIN_TOKEN`: the DHIS2 database stores this key, and it must not open the
 * admin API. With no secret configured the endpoint is open only on the embedded default.
 */

export interface Dhis2GatewayDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** `WEBHOOK_SECRET`. */
  secret?: string;
  /** True on the embedded default (nothing real to protect): no secret needed there. */
  embedded: boolean;
  /** `DEFAULT_COUNTRY`, for numbers DHIS2 holds in national form. */
  defaultCountry?: string;
  /** Deployment delivery window and time zone: DHIS2 notifications are unsolicited. */
  quiet?: QuietHours;
  events?: EventFeed;
  /** The same (recipient, text) posted again within this window is DHIS2 retrying, not a new message. Default 10 min. */
  dedupeWindowMs?: number;
  /** Most recipients in one request. Default 200 (DHIS2 splits larger batches). */
  maxRecipients?: number;
}

const MAX_TEXT = 1600;

const bodySchema = z
  .looseObject({
    to: z.union([z.string(), z.array(z.string())]).optional(),
    recipients: z.union([z.string(), z.array(z.string())]).optional(),
    recipient: z.string().optional(),
    text: z.string().optional(),
    message: z.string().optional(),
  })
  .transform((b) => ({ to: b.to ?? b.recipients ?? b.recipient, text: b.text ?? b.message }))
  .pipe(
    z.object({
      to: z.union([z.string().min(1), z.array(z.string()).min(1)], {
        error: 'to (or recipients) is required: the ${recipients} placeholder',
      }),
      text: z
        .string({ error: 'text (or message) is required: the ${text} placeholder' })
        .min(1)
        .max(MAX_TEXT * 3),
    }),
  );

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest();

function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha(given), sha(expected));
}

function fail(res: Response, code: ErrorCode, detail?: unknown): void {
  res.status(ERRORS[code].status).json(errorBody(code, detail));
}

/**
 * The text as DHIS2 meant it. A text DHIS2 URL-encoded has no spaces (they became `+`) and carries `+`
 * or `%XX`; a raw text almost always has spaces. A text that does not decode is kept as it came.
 *
 * With `fromUrl` (the text came in the query string: `useGet`/`sendUrlParameters`) DHIS2 has encoded it
 * twice — `SmsUtils.encode`, then Spring's `UriComponentsBuilder.encode()`, which encodes `%` again — and
 * the query parser undid only the second: what is left is URLEncoder output whose `+` are already spaces,
 * i.e. nothing but letters, digits, `.-*_`, spaces and `%XX`. Such a text is decoded once more.
 *
 * @example gatewayText('Vaccination+reminder%3A+05%2F03') // 'Vaccination reminder: 05/03'
 * @example gatewayText('Vaccination reminder%3A 05%2F03', { fromUrl: true }) // 'Vaccination reminder: 05/03'
 */
export function gatewayText(raw: string, opts: { fromUrl?: boolean } = {}): string {
  if (opts.fromUrl && /%[0-9A-F]{2}/.test(raw) && /^(?:[A-Za-z0-9.*_\- ]|%[0-9A-F]{2})*$/.test(raw)) {
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  if (/\s/.test(raw) || !/[+%]/.test(raw)) return raw;
  if (/%(?![0-9a-fA-F]{2})/.test(raw)) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/**
 * `${recipients}` as DHIS2 joins them (commas), also `;`-separated or as a JSON list. Numbers are read
 * to E.164; a `+` turned into a space by form decoding is harmless (the country code is still there).
 */
export function gatewayRecipients(
  to: string | string[],
  defaultCountry?: string,
): { valid: string[]; invalid: string[] } {
  const parts = (Array.isArray(to) ? to : [to])
    .flatMap((s) => s.split(/[,;]/))
    .map((s) => s.trim())
    .filter(Boolean);
  const valid: string[] = [];
  const invalid: string[] = [];
  for (const p of parts) {
    const e164 = normalizePhone(p, defaultCountry);
    if (e164) {
      if (!valid.includes(e164)) valid.push(e164);
    } else invalid.push(p);
  }
  return { valid, invalid };
}

/**
 * The router for `app.use('/gateway/dhis2', dhis2GatewayRouter(deps))`.
 *
 * - `POST|GET /` → 200 `{ status: 'accepted', queued: [{ to, id }], skipped: [{ to, reason }] }`
 * - 403 `JIBU_BAD_WEBHOOK_KEY` (key missing or wrong), 400 `JIBU_BAD_REQUEST` / `JIBU_BAD_PHONE`,
 *   503 `JIBU_UNAVAILABLE` when the message could not be stored (DHIS2 records the failure).
 *
 * @example app.use('/gateway/dhis2', dhis2GatewayRouter({ store, clock, logger, secret: config.WEBHOOK_SECRET, embedded, defaultCountry: 'KE', quiet }))
 */
export function dhis2GatewayRouter(deps: Dhis2GatewayDeps): express.Router {
  const router = express.Router();
  const windowMs = deps.dedupeWindowMs ?? 10 * 60_000;
  const maxRecipients = deps.maxRecipients ?? 200;

  router.use((req, res, next) => {
    const secret = deps.secret;
    if (!secret) {
      if (deps.embedded) return next();
      return fail(
        res,
        'JIBU_BAD_WEBHOOK_KEY',
        'WEBHOOK_SECRET is not set on this gateway: the DHIS2 gateway endpoint is off outside the embedded default',
      );
    }
    const header = req.get('x-jibu-key') ?? /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1]?.trim();
    const query = typeof req.query.key === 'string' ? req.query.key : undefined;
    const given = header ?? query;
    if (given !== undefined && sameSecret(given, secret)) return next();
    return fail(
      res,
      'JIBU_BAD_WEBHOOK_KEY',
      given === undefined ? 'send the key as the X-Jibu-Key header' : 'the key does not match',
    );
  });
  router.use(express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 50 }));
  router.use(express.json({ limit: '64kb', strict: false }));

  const accept = async (req: Request, res: Response) => {
    const body =
      req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
    const query = Object.fromEntries(
      Object.entries(req.query).filter(([k, v]) => k !== 'key' && typeof v === 'string'),
    );
    const parsed = bodySchema.safeParse({ ...query, ...body });
    if (!parsed.success)
      return fail(
        res,
        'JIBU_BAD_REQUEST',
        parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`),
      );
    const fromUrl = body.text === undefined && body.message === undefined;
    const text = gatewayText(parsed.data.text, { fromUrl }).slice(0, MAX_TEXT);
    const { valid, invalid } = gatewayRecipients(parsed.data.to, deps.defaultCountry);
    if (valid.length + invalid.length > maxRecipients)
      return fail(res, 'JIBU_BAD_REQUEST', `at most ${maxRecipients} recipients per request`);
    if (!valid.length) return fail(res, 'JIBU_BAD_PHONE', { invalid });

    const now = deps.clock.now().getTime();
    const bucket = Math.floor(now / windowMs);
    const skipped: Array<{ to: string; reason: string }> = invalid.map((to) => ({ to, reason: 'invalid_number' }));
    const jobs: QueuedJob[] = [];
    const queued: Array<{ to: string; id: string }> = [];
    try {
      const contacts = await Promise.all(valid.map((p) => deps.store.getContact(p)));
      valid.forEach((to, i) => {
        const c = contacts[i]!;
        if (c.optedOut || c.undeliverable) {
          skipped.push({ to, reason: c.optedOut ? 'opted_out' : 'undeliverable' });
          return;
        }
        // DHIS2 sends no message id: the same text to the same number within the window is its retry.
        const id = `sms:dhis2:${sha(`${to}\n${text}\n${bucket}`).toString('hex').slice(0, 24)}`;
        jobs.push(unsolicitedSmsJob({ id, to, text, locale: 'dhis2', purpose: 'dhis2' }, now, deps.quiet));
        queued.push({ to, id });
      });
      if (jobs.length) await deps.store.enqueue(jobs);
    } catch (err) {
      deps.logger.error({ err, code: 'JIBU_UNAVAILABLE' }, 'DHIS2 gateway message could not be stored');
      return fail(res, 'JIBU_UNAVAILABLE');
    }
    for (const j of jobs)
      deps.events?.emit({
        type: 'sms.queued',
        id: j.id,
        to: String((j.data as { to: string }).to),
        text,
        purpose: 'dhis2',
        at: now,
      });
    deps.logger.info(
      {
        gateway: 'dhis2',
        queued: queued.length,
        skipped: skipped.length,
        recipients: queued.map((q) => maskPhone(q.to)),
      },
      'DHIS2 notification queued',
    );
    res.status(200).json({ status: 'accepted', queued, skipped });
  };
  router.post('/', accept);
  router.get('/', accept);

  router.use((_req, res) => fail(res, 'JIBU_NOT_FOUND'));
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (err instanceof JibuError) return fail(res, err.code, err.detail);
    if (e.type === 'entity.too.large') return fail(res, 'JIBU_PAYLOAD_TOO_LARGE');
    if (e.status && e.status >= 400 && e.status < 500) return fail(res, 'JIBU_BAD_REQUEST');
    deps.logger.error({ err, code: 'JIBU_INTERNAL' }, 'DHIS2 gateway request failed');
    return fail(res, 'JIBU_INTERNAL');
  });
  return router;
}
