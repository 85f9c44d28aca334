import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * The gateway's outbound HTTP (DHIS2, its user list, the generic SMS provider), over `node:http`/`node:https`.
 *
 * Why not the global `fetch`: in Node 20 the first `fetch` loads undici and compiles its WebAssembly HTTP parser,
 * which costs every replica about 20 MB of resident memory for good (31 MB of compiler memory at its peak). The
 * parser `node:http` uses is already in the binary. Measured in bench/README.md ("Gateway memory").
 *
 * The callers need only this much of fetch, so the emulator's in-process fetch and the tests' stand-ins (both
 * `typeof fetch`) still fit where an {@link HttpFetch} is expected.
 */
export interface HttpInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Aborting rejects with the signal's reason (`AbortSignal.timeout` gives a `TimeoutError`), as fetch does. */
  signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  readonly ok: boolean;
  text(): Promise<string>;
}

export type HttpFetch = (url: string, init?: HttpInit) => Promise<HttpResponse>;

export interface HttpClientOptions {
  /** Connections kept open per host. Default 32. */
  maxSockets?: number;
  /** Largest answer read, in bytes; a larger one fails like a broken connection. Default 256 MB. */
  maxBodyBytes?: number;
}

/** `ECONNRESET` on a reused keep-alive socket before any answer: the server closed it as we wrote; safe to retry a GET once. */
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * An {@link HttpFetch} with its own keep-alive connection pools. Redirects are not followed: a 3xx is returned
 * as it is (the callers report it), so credentials never go to an address the operator did not configure.
 * Answers compressed with gzip, deflate or br are decoded.
 *
 * @example
 * const fetchLike = createHttpFetch();
 * const res = await fetchLike('https://dhis2.example.org/api/system/info', { headers: { Accept: 'application/json' } });
 * const info = res.ok ? (JSON.parse(await res.text()) as { version: string }) : undefined;
 */
export function createHttpFetch(options: HttpClientOptions = {}): HttpFetch {
  const maxSockets = options.maxSockets ?? 32;
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024 * 1024;
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets, scheduling: 'lifo' }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets, scheduling: 'lifo' }),
  };

  function once(url: URL, init: HttpInit): Promise<IncomingMessage> {
    const signal = init.signal;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const https = url.protocol === 'https:';
      const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
      const headers: Record<string, string | number> = { 'accept-encoding': 'gzip, deflate, br', ...init.headers };
      if (body) headers['content-length'] = body.length;
      const req = (https ? httpsRequest : httpRequest)(url, {
        method: init.method ?? 'GET',
        headers,
        agent: https ? agents['https:'] : agents['http:'],
      });
      const onAbort = () => req.destroy(abortReason(signal as AbortSignal));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('response', (res) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(res);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        signal?.removeEventListener('abort', onAbort);
        // Node sets `reusedSocket` when the agent handed this request a pooled connection.
        (err as NodeJS.ErrnoException & { reusedSocket?: boolean }).reusedSocket = req.reusedSocket;
        reject(err);
      });
      req.end(body);
    });
  }

  function readBody(res: IncomingMessage, signal: AbortSignal | undefined): Promise<string> {
    const encoding = String(res.headers['content-encoding'] ?? '')
      .trim()
      .toLowerCase();
    const decoder =
      encoding === 'gzip' || encoding === 'x-gzip'
        ? createGunzip()
        : encoding === 'deflate'
          ? createInflate()
          : encoding === 'br'
            ? createBrotliDecompress()
            : undefined;
    const stream = decoder ? res.pipe(decoder) : res;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        reject(err);
        // Destroying emits 'aborted' synchronously; `settled` keeps the first reason.
        res.destroy();
        decoder?.destroy();
      };
      const onAbort = () => fail(abortReason(signal as AbortSignal));
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) fail(new Error(`answer larger than ${maxBodyBytes} bytes`));
        else chunks.push(chunk);
      });
      stream.on('error', fail);
      res.on('aborted', () => fail(new Error('connection closed before the answer was complete')));
      stream.on('end', () => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        resolve(Buffer.concat(chunks, size).toString('utf8'));
      });
    });
  }

  return async (input, init = {}) => {
    const url = new URL(input);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`only http: and https: addresses are supported, not ${url.protocol}`);
    const method = (init.method ?? 'GET').toUpperCase();
    let res: IncomingMessage;
    try {
      res = await once(url, init);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { reusedSocket?: boolean };
      // Only a GET (safe to send twice), and only when a pooled connection turned out closed as it was written.
      if (method === 'GET' && e.reusedSocket && STALE_SOCKET.has(e.code ?? '')) res = await once(url, init);
      else throw err;
    }
    const status = res.statusCode ?? 0;
    let text: Promise<string> | undefined;
    return {
      status,
      ok: status >= 200 && status < 300,
      text: () => (text ??= readBody(res, init.signal)),
    };
  };
}

/** What an aborted request rejects with: the signal's reason when it is an error (a `TimeoutError` for `AbortSignal.timeout`). */
function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : Object.assign(new Error('This operation was aborted'), { name: 'AbortError' });
}

/** The process's shared client: one set of keep-alive pools for every outbound caller. */
export const httpFetch: HttpFetch = createHttpFetch();
