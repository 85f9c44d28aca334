import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync, deflateSync, brotliCompressSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpFetch } from '../src/http-client.ts';
import { createDhis2Client } from '../src/dhis2/client.ts';
import { Dhis2TransportError } from '../src/dhis2/errors.ts';
import { createHttpSender } from '../src/channels/http/index.ts';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A loopback server; `sockets` counts the connections it accepted. */
async function serve(handler: Handler): Promise<{ url: string; server: Server; sockets: () => number }> {
  let sockets = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
  server.on('connection', () => sockets++);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    sockets: () => sockets,
  };
}

describe('createHttpFetch', () => {
  it('sends the method, headers and body, and reads the status and text', async () => {
    const seen: Array<{ method?: string; type?: string; length?: string; body: string }> = [];
    const { url } = await serve((req, body, res) => {
      seen.push({
        method: req.method,
        type: req.headers['content-type'],
        length: req.headers['content-length'],
        body,
      });
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"é-1"}');
    });
    const res = await createHttpFetch()(`${url}/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"text":"Habari ñ"}',
    });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(await res.text()).toBe('{"id":"é-1"}');
    expect(seen).toEqual([
      {
        method: 'POST',
        type: 'application/json',
        length: String(Buffer.byteLength('{"text":"Habari ñ"}')),
        body: '{"text":"Habari ñ"}',
      },
    ]);
  });

  it('keeps connections alive between requests', async () => {
    const { url, sockets } = await serve((_req, _body, res) => res.end('ok'));
    const get = createHttpFetch();
    for (let i = 0; i < 5; i++) expect(await (await get(url)).text()).toBe('ok');
    expect(sockets()).toBe(1);
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('decodes an answer compressed with %s', async (encoding, compress) => {
    const text = JSON.stringify({ trackedEntities: Array.from({ length: 200 }, (_, i) => ({ id: `te${i}` })) });
    const { url } = await serve((req, _body, res) => {
      expect(req.headers['accept-encoding']).toContain(encoding);
      res.writeHead(200, { 'content-encoding': encoding }).end(compress(Buffer.from(text)));
    });
    expect(await (await createHttpFetch()(url)).text()).toBe(text);
  });

  it('returns a redirect as it is, without following it', async () => {
    let followed = 0;
    const target = await serve((_req, _body, res) => {
      followed++;
      res.end('elsewhere');
    });
    const { url } = await serve((_req, _body, res) => res.writeHead(302, { location: target.url }).end());
    const res = await createHttpFetch()(url, { headers: { authorization: 'ApiToken secret' } });
    expect(res.status).toBe(302);
    expect(res.ok).toBe(false);
    expect(followed).toBe(0);
  });

  it('rejects with a TimeoutError when the signal of AbortSignal.timeout fires, before or during the answer', async () => {
    const { url } = await serve((req, _body, res) => {
      if (req.url === '/slow-body') {
        res.writeHead(200);
        res.write('partial');
        return; // never ends
      }
      // /slow: never answers
    });
    const get = createHttpFetch();
    await expect(get(`${url}/slow`, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    const res = await get(`${url}/slow-body`, { signal: AbortSignal.timeout(150) });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('retries a GET once on a pooled connection the server had closed, and never a POST', async () => {
    let posts = 0;
    const open = new Set<Socket>();
    const { url, server } = await serve((req, _body, res) => {
      if (req.method === 'POST') posts++;
      res.end('ok');
    });
    server.on('connection', (s: Socket) => {
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    const call = createHttpFetch();
    expect(await (await call(url)).text()).toBe('ok');
    // The server drops its idle keep-alive connection without a word, as a proxy does at its idle timeout;
    // the client finds out only when it writes the next request on it.
    const resetPooled = () => {
      for (const s of open) s.resetAndDestroy();
    };
    resetPooled();
    expect(await (await call(url)).text()).toBe('ok');

    await (await call(url, { method: 'POST', body: '{}' })).text();
    expect(posts).toBe(1);
    resetPooled();
    await expect(call(url, { method: 'POST', body: '{}' })).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|EPIPE/),
    });
    expect(posts).toBe(1);
  });

  it('refuses an answer larger than its limit, and any address that is not http or https', async () => {
    const { url } = await serve((_req, _body, res) => res.end('x'.repeat(10_000)));
    const res = await createHttpFetch({ maxBodyBytes: 1_000 })(url);
    await expect(res.text()).rejects.toThrow(/larger than 1000 bytes/);
    await expect(createHttpFetch()('file:///etc/passwd')).rejects.toThrow(/only http: and https:/);
  });

  it('rejects an answer cut off mid-body instead of returning the part that came', async () => {
    const { url } = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-length': '100', 'content-type': 'application/json' });
      res.write('{"trackedEnti');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const res = await createHttpFetch()(url);
    expect(res.status).toBe(200);
    // Node reports the cut as an `aborted` error on the answer; either way, no partial text comes back.
    await expect(res.text()).rejects.toThrow(/aborted|closed before the answer was complete/);
  });

  it('reports a refused connection as an error the callers classify as transport', async () => {
    const { url, server } = await serve((_req, _body, res) => res.end());
    await new Promise((r) => server.close(r));
    await expect(createHttpFetch()(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe("the gateway's outbound callers use it, not the global fetch", () => {
  it('the DHIS2 client and the generic SMS sender reach a real server with globalThis.fetch unusable', async () => {
    const { url } = await serve((req, _body, res) => {
      if (req.url === '/api/system/info') res.writeHead(200).end('{"version":"2.41.3"}');
      else if (req.url === '/send') res.writeHead(200).end('{"id":"p-1"}');
      else res.writeHead(302, { location: '/dhis-web-commons/security/login.action' }).end();
    });
    const original = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new Error('the global fetch was used'));
    try {
      const dhis2 = createDhis2Client({ baseUrl: url, auth: { token: 'd2pat_x' }, timeoutMs: 2_000 });
      expect((await dhis2.version()).raw).toBe('2.41.3');
      // A redirect (here to a login page) is not followed: a clear transport error, not retried.
      await expect(dhis2.event('a1234567890')).rejects.toSatisfy(
        (e) => e instanceof Dhis2TransportError && /other than JSON/.test(e.message),
      );
      const sms = createHttpSender({ url: `${url}/send`, timeoutMs: 2_000 });
      expect(await sms.send({ id: 'm-1', to: '+254711000111', text: 'Habari' })).toEqual({
        ok: true,
        providerMessageId: 'p-1',
      });
    } finally {
      globalThis.fetch = original;
    }
  });
});
