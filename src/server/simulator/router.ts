import { fileURLToPath } from 'node:url';
import express from 'express';
import { z } from 'zod';
import { errorBody } from '../../errors.ts';
import type { EventFeed } from '../events.ts';

/**
 * The web phone simulator (`/simulator`): one static page, one vanilla script and a stylesheet, no
 * build step. The page talks to the gateway exactly like a provider does (AT-shaped USSD forms to
 * `/ussd/africastalking`, generic SMS to `/sms/http`) and polls the in-process event feed to show
 * what each step did: SMS sent, DHIS2 writes, timers. The feed holds phone numbers and texts, so the
 * lead mounts this only on the embedded default or behind `ADMIN_TOKEN` (see `adminAuth`).
 */

export interface DemoPhone {
  phone: string;
  /** What the picker shows: `Mwanaisha Salim (caregiver)`. */
  label: string;
  role: 'caregiver' | 'caseWorker';
  /** What this number demonstrates. */
  note?: string;
}

export interface SimulatorDeps {
  events: EventFeed;
  demoPhones: DemoPhone[];
  /** Where the page sends its webhooks (default: the same origin). */
  baseUrl?: string;
  /** USSD code pre-filled in the dialler (default `*384*12#`). */
  ussdCode?: string;
  /** `WEBHOOK_SECRET`, appended as `?key=` to the page's webhook calls when the gateway requires it. */
  webhookKey?: string;
}

/** The page, script and stylesheet live next to this file (copy `public/` along in a built image). */
export const SIMULATOR_PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const eventsQuerySchema = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(200),
});

/**
 * `GET /` the page; `GET /api/config` the demo numbers and where to send webhooks;
 * `GET /api/events?since=N` the feed after sequence N as `{ next, events }` (poll with `since=next`).
 *
 * @example app.use('/simulator', simulatorRouter({ events: gateway.events, demoPhones, ussdCode: config.USSD_CODE }))
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
    res.json({
      phones: deps.demoPhones,
      ussdCode: deps.ussdCode ?? '*384*12#',
      baseUrl: deps.baseUrl ?? '',
      webhookKey: deps.webhookKey ?? null,
    });
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
    return res.json({ next, events });
  });

  router.use(
    express.static(SIMULATOR_PUBLIC_DIR, { index: 'index.html', maxAge: 0, fallthrough: true, redirect: false }),
  );
  return router;
}
