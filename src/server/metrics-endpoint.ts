import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { RequestHandler } from 'express';
import { ERRORS, errorBody } from '../errors.ts';
import type { Metrics } from './metrics.ts';

/**
 * `GET /metrics`. Metrics show traffic, queue depths and DHIS2 outcomes: not secret, but not for
 * everyone either. `METRICS_TOKEN` requires `Authorization: Bearer …`; `METRICS_PORT` moves the
 * endpoint to an internal port (SECURITY.md, "Entry points and what protects them").
 */

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** True when the request carries `Authorization: Bearer <token>` (constant time), or no token is set. */
export function metricsAuthorized(authorization: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const given = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

async function scrape(metrics: Metrics): Promise<{ type: string; body: string }> {
  return { type: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

/** The Express handler for the public port (when METRICS_PORT is unset). */
export function metricsHandler(metrics: Metrics, token: string | undefined): RequestHandler {
  return async (req, res) => {
    if (!metricsAuthorized(req.headers.authorization, token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="jibu-metrics"');
      res.status(401).json(errorBody('JIBU_UNAUTHORIZED'));
      return;
    }
    const m = await scrape(metrics);
    res.type(m.type).send(m.body);
  };
}

/** A server that answers only `GET /metrics` on its own port (METRICS_PORT). */
export async function startMetricsServer(opts: {
  metrics: Metrics;
  port: number;
  host: string;
  token?: string;
}): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': type, ...headers });
      res.end(body);
    };
    const json = 'application/json; charset=utf-8';
    if (req.method !== 'GET' || path !== '/metrics')
      return send(404, json, JSON.stringify(errorBody('JIBU_NOT_FOUND')));
    if (!metricsAuthorized(req.headers.authorization, opts.token))
      return send(ERRORS.JIBU_UNAUTHORIZED.status, json, JSON.stringify(errorBody('JIBU_UNAUTHORIZED')), {
        'WWW-Authenticate': 'Bearer realm="jibu-metrics"',
      });
    scrape(opts.metrics).then(
      (m) => send(200, m.type, m.body),
      () => send(500, json, JSON.stringify(errorBody('JIBU_INTERNAL'))),
    );
  });
  server.listen(opts.port, opts.host);
  await once(server, 'listening');
  return server;
}
