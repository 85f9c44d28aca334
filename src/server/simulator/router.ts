import { fileURLToPath } from 'node:url';
import express from 'express';
import { z } from 'zod';
import { errorBody } from '../../errors.ts';
import { maskEvent, type EventFeed } from '../events.ts';

/**
 * The web phone simulator (`/simulator`): one static page, one vanilla script and a stylesheet, no
 * build step. The page posts its dials and texts to this router (`api/ussd`, `api/sms`), which hands
 * them to the gateway server-side as an Africa's Talking hop or a generic SMS would arrive (never
 * through the public webhooks: the page never holds `WEBHOOK_SECRET`), and polls the in-process
 * event feed to show what each step did: SMS sent, DHIS2 writes, timers. The lead mounts this only in
 * the all-embedded demo or behind the admin session (see `adminAuth`); outside the demo, texts and
 * payloads in the feed are masked (`mask`).
 */

export interface DemoPhone {
  phone: string;
  /** What the picker shows: `Mwanaisha Salim (caregiver)`. */
  label: string;
  role: 'caregiver' | 'caseWorker';
  /** What this number demonstrates. */
  note?: string;
}

/** An HTTP answer from the gateway, relayed to the page as is. */
export interface BridgeAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** The gateway's inbound paths after authentication (the admin session stands in for the webhook key). */
export interface SimulatorBridge {
  /** One USSD hop, Africa's Talking-shaped: `CON …` / `END …`. */
  ussd(hop: { sessionId: string; serviceCode: string; phoneNumber: string; text: string }): Promise<BridgeAnswer>;
  /** One SMS from `from`, as the generic provider would post it. */
  sms(msg: { id: string; from: string; to: string; text: string }): Promise<BridgeAnswer>;
}

export interface SimulatorDeps {
  events: EventFeed;
  demoPhones: DemoPhone[];
  gateway: SimulatorBridge;
  /** USSD code pre-filled in the dialler (default `*384*12#`). */
  ussdCode?: string;
  /** Hide message texts and payloads in the feed (everywhere but the all-embedded demo). */
  mask?: boolean;
}

/** The page, script and stylesheet live next to this file (copy `public/` along in a built image). */
export const SIMULATOR_PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const phoneField = z.string().trim().min(3).max(32);
const ussdBodySchema = z.strictObject({
  sessionId: z.string().min(1).max(100),
  serviceCode: z.string().min(1).max(40),
  phone: phoneField,
  text: z.string().max(500),
});
const smsBodySchema = z.strictObject({
  id: z.string().min(1).max(100),
  phone: phoneField,
  text: z.string().min(1).max(1600),
});

const eventsQuerySchema = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(200),
});

/**
 * `GET /` the page; `GET /api/config` the demo numbers and the USSD code;
 * `POST /api/ussd` `{sessionId, serviceCode, phone, text}` one hop (answer `CON …`/`END …`);
 * `POST /api/sms` `{id, phone, text}` one inbound SMS; both JSON only (a cross-site form cannot send it);
 * `GET /api/events?since=N` the feed after sequence N as `{ next, events }` (poll with `since=next`).
 *
 * @example app.use('/simulator', simulatorRouter({ events: gateway.events, demoPhones, gateway: bridge, ussdCode: config.USSD_CODE }))
 */
export function simulatorRouter(deps: SimulatorDeps): express.Router {
  const router = express.Router();
  const noStore = (res: express.Response) => res.setHeader('Cache-Control', 'no-store');

  router.get('/', (req, res, next) => {
    // Relative links in the page need the trailing slash (`/simulator` -> `/simulator/`).
    const url = new URL(req.originalUrl, 'http://x');
    if (!url.pathname.endsWith('/')) return res.redirect(301, `${url.pathname}/${url.search}`);
    return next();
  });

  router.get('/api/config', (_req, res) => {
    noStore(res);
    res.json({ phones: deps.demoPhones, ussdCode: deps.ussdCode ?? '*384*12#', masked: deps.mask === true });
  });

  const relay = (res: express.Response, a: BridgeAnswer) => {
    noStore(res);
    res.status(a.status).type(a.contentType).send(a.body);
  };
  const badBody = (res: express.Response, e: z.ZodError) =>
    res.status(400).json(
      errorBody(
        'JIBU_BAD_REQUEST',
        e.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ),
    );
  const jsonOnly: express.RequestHandler = (req, res, next) =>
    req.is('application/json') ? next() : void res.status(415).json(errorBody('JIBU_UNSUPPORTED_MEDIA_TYPE'));
  const json = express.json({ limit: '8kb', strict: true });

  router.post('/api/ussd', jsonOnly, json, async (req, res) => {
    const b = ussdBodySchema.safeParse(req.body);
    if (!b.success) return badBody(res, b.error);
    const { phone, ...hop } = b.data;
    relay(res, await deps.gateway.ussd({ ...hop, phoneNumber: phone }));
  });

  router.post('/api/sms', jsonOnly, json, async (req, res) => {
    const b = smsBodySchema.safeParse(req.body);
    if (!b.success) return badBody(res, b.error);
    relay(res, await deps.gateway.sms({ id: b.data.id, from: b.data.phone, to: 'simulator', text: b.data.text }));
  });

  router.get('/api/events', (req, res) => {
    const q = eventsQuerySchema.safeParse(req.query);
    if (!q.success)
      return res.status(400).json(
        errorBody(
          'JIBU_BAD_REQUEST',
          q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        ),
      );
    noStore(res);
    const { seq, events } = deps.events.since(q.data.since, q.data.limit);
    // With a full page, continue from its last event rather than the newest, or events would be skipped.
    const next = events.length === q.data.limit ? (events[events.length - 1]?.seq ?? seq) : seq;
    return res.json({ next, events: deps.mask ? events.map(maskEvent) : events });
  });

  router.use(
    express.static(SIMULATOR_PUBLIC_DIR, { index: 'index.html', maxAge: 0, fallthrough: true, redirect: false }),
  );
  return router;
}
