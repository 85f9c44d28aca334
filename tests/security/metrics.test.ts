import { freePort } from '../server/harness.ts';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../server/harness.ts';
import { STRONG } from './helpers.ts';

/**
 * `/metrics` under attack: requests to random paths must not become labels (memory exhaustion), and
 * the endpoint can be closed to the public (METRICS_TOKEN) or moved off the public port (METRICS_PORT).
 * The 10 000-request RSS figure is measured in bench/metrics-cardinality.ts; this asserts size only.
 */

const agent = new Agent({ keepAlive: true, maxSockets: 8 });
afterAll(() => agent.destroy());

function hit(url: string, method: 'GET' | 'POST', path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics label cardinality', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ LOG_LEVEL: 'silent' }, { workers: false });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('2 000 requests to long random paths (also under /admin, /simulator and /dhis2) are all labelled `unmatched` and /metrics stays under 64 KB', async () => {
    const paths: string[] = [];
    const prefixes = ['/', '/admin/', '/simulator/', '/dhis2/api/', '/ussd/', '/sms/'];
    for (let i = 0; i < 2000; i++) paths.push(`${prefixes[i % prefixes.length]}${randomBytes(48).toString('hex')}`);
    for (let i = 0; i < paths.length; i += 50)
      await Promise.all(paths.slice(i, i + 50).map((p, j) => hit(t.url, j % 2 ? 'POST' : 'GET', p)));
    const body = await (await fetch(`${t.url}/metrics`)).text();
    expect(Buffer.byteLength(body)).toBeLessThan(64 * 1024);
    const lines = body.split('\n').filter((l) => l.startsWith('jibu_http_requests_total{'));
    const routes = new Set(lines.map((l) => /route="([^"]*)"/.exec(l)?.[1]));
    expect(routes).toContain('unmatched');
    for (const p of paths.slice(0, 50)) expect(body).not.toContain(p.slice(-96));
    // Every label is a route pattern from the code or `unmatched`, never something a client typed.
    for (const r of routes) expect(r, String(r)).toMatch(/^(unmatched|\/[A-Za-z0-9/:_-]*)$/);
    expect(routes.size).toBeLessThan(30);
  });
});

describe('who can read /metrics', () => {
  it('without METRICS_TOKEN a scraper is refused 401; with it, it reads the metrics', async () => {
    const t = await startTestGateway({ LOG_LEVEL: 'silent', METRICS_TOKEN: STRONG.METRICS_TOKEN }, { workers: false });
    try {
      const anon = await fetch(`${t.url}/metrics`);
      expect(anon.status).toBe(401);
      expect(await anon.text()).not.toContain('jibu_http_requests_total');
      const wrong = await fetch(`${t.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const ok = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${STRONG.METRICS_TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('jibu_http_requests_total');
    } finally {
      await t.stop();
    }
  });

  it('with METRICS_PORT the public port has no /metrics (404); the internal port serves it', async () => {
    const port = await freePort();
    const t = await startTestGateway({ LOG_LEVEL: 'silent', METRICS_PORT: String(port) }, { workers: false });
    try {
      const pub = await fetch(`${t.url}/metrics`);
      expect(pub.status).toBe(404);
      expect(await pub.text()).not.toContain('jibu_');
      const internal = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(internal.status).toBe(200);
      expect(await internal.text()).toContain('jibu_http_requests_total');
      expect((await fetch(`http://127.0.0.1:${port}/admin/queues`)).status).toBe(404);
    } finally {
      await t.stop();
    }
    // Stopping the gateway closes the internal port too.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
