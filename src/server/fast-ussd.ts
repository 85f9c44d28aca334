import type { IncomingMessage, RequestListener } from 'node:http';
import querystring from 'node:querystring';
import proxyaddr from 'proxy-addr';
import qs from 'qs';
import type express from 'express';
import { inboundRoutes } from '../config.ts';
import {
  answerAtUssd,
  errorAnswer,
  BODY_LIMIT_BYTES,
  FORM_PARAMETER_LIMIT,
  type AppDeps,
  type HttpAnswer,
} from './app.ts';

const PATH = '/ussd/africastalking';
const FORM = 'application/x-www-form-urlencoded';

/**
 * The HTTP server's request listener: plain Africa's Talking USSD hops are answered here, everything
 * else (and every USSD post this path is not sure about) goes to the Express app.
 *
 * A USSD hop is the one request whose latency a person waits on, many times per dial, so it skips
 * Express's router, the generic body parsers and the response helpers. The answer is the one the
 * Express route gives ({@link answerAtUssd} is shared); the form is parsed by `qs` with the options
 * `express.urlencoded({ extended: false })` uses, after the same parameter count and BOM handling.
 * Anything unusual — another method or path spelling, a compressed, chunked or non-UTF-8 body, no
 * Content-Length — is left to Express, so its edge cases keep exactly one implementation.
 * tests/server/fast-ussd.test.ts holds both paths to the same answers.
 */
export function createRequestListener(app: express.Express, deps: AppDeps): RequestListener {
  // Not mounted (another USSD provider) or behind a source allow-list: Express answers (404, or after
  // checking the address the way TRUST_PROXY says), so both rules have one implementation.
  const fast = inboundRoutes(deps.config).atUssd && !deps.config.WEBHOOK_ALLOWED_IPS;
  // The client address as Express's `req.ip` gives it: the same library and the trust function Express compiled
  // from TRUST_PROXY, so the per-address limit counts the caller behind a proxy, not the proxy.
  // With no proxy trusted that is the socket's address: no header is parsed on the hop.
  const trust = app.get('trust proxy fn') as Parameters<typeof proxyaddr>[1];
  const clientIp = (req: IncomingMessage) =>
    deps.config.TRUST_PROXY === false ? req.socket.remoteAddress : proxyaddr(req, trust);
  return (req, res) => {
    if (!fast || !takesFastPath(req)) {
      app(req, res);
      return;
    }
    const started = process.hrtime.bigint();
    readBody(req, Number(req.headers['content-length']), (text) => {
      if (text === null) return; // the caller went away mid-body: nobody to answer
      void answer(deps, req.url ?? '', text, clientIp(req)).then((a) => {
        res.writeHead(a.status, { 'Content-Type': a.contentType, 'Content-Length': Buffer.byteLength(a.body) });
        res.end(a.body);
        deps.metrics.httpRequests.inc({ channel: 'ussd', route: PATH, status: String(a.status) });
        deps.metrics.httpDuration.observe({ channel: 'ussd' }, Number(process.hrtime.bigint() - started) / 1e9);
      });
    });
  };
}

/** Only a POST to the exact path with a UTF-8 form body of a declared, acceptable length. */
export function takesFastPath(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if ((q === -1 ? url : url.slice(0, q)) !== PATH) return false;
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return false;
  const enc = h['content-encoding'];
  if (enc !== undefined && enc.toLowerCase() !== 'identity') return false;
  const len = h['content-length'];
  if (len === undefined || !/^\d{1,9}$/.test(len) || Number(len) > BODY_LIMIT_BYTES) return false;
  return isUtf8Form(h['content-type']);
}

/** `application/x-www-form-urlencoded`, with at most a `charset=utf-8` parameter. */
function isUtf8Form(type: string | undefined): boolean {
  if (!type) return false;
  const semi = type.indexOf(';');
  if ((semi === -1 ? type : type.slice(0, semi)).trim().toLowerCase() !== FORM) return false;
  if (semi === -1) return true;
  const params = type.slice(semi + 1).trim();
  return /^charset=("?)utf-8\1$/i.test(params);
}

function readBody(req: IncomingMessage, expected: number, done: (text: string | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  req.on('data', (c: Buffer) => {
    chunks.push(c);
    size += c.length;
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    if (size !== expected) return done(null);
    const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
    done(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text); // body-parser's decoder drops a BOM
  });
  req.on('error', () => {
    if (!finished) {
      finished = true;
      done(null);
    }
  });
  req.on('aborted', () => {
    if (!finished) {
      finished = true;
      done(null);
    }
  });
}

async function answer(deps: AppDeps, url: string, text: string, ip: string | undefined): Promise<HttpAnswer> {
  try {
    const q = url.indexOf('?');
    // Express's 'simple' query parser is querystring.parse.
    const query = q === -1 ? {} : (querystring.parse(url.slice(q + 1)) as Record<string, unknown>);
    const body = parseForm(text);
    if (body === null) return errorAnswer('JIBU_BAD_REQUEST');
    return await answerAtUssd(deps, { query, body }, ip);
  } catch (err) {
    deps.logger.error({ err, code: 'JIBU_INTERNAL' }, 'unhandled error');
    return errorAnswer('JIBU_INTERNAL');
  }
}

/**
 * A form body as `express.urlencoded({ extended: false, parameterLimit })` parses it (body-parser 2):
 * too many fields or a key `qs` refuses are a bad request (`null`).
 */
export function parseForm(text: string): Record<string, unknown> | null {
  if (text.length === 0) return {};
  let count = 0;
  let i = -1;
  do {
    if (++count > FORM_PARAMETER_LIMIT) return null;
    i = text.indexOf('&', i + 1);
  } while (i !== -1);
  const hop = plainHopForm(text);
  if (hop) return hop;
  try {
    return qs.parse(text, {
      allowPrototypes: true,
      arrayLimit: count,
      depth: 0,
      charset: 'utf-8',
      parameterLimit: FORM_PARAMETER_LIMIT,
      strictDepth: true,
    }) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/** The fields of an Africa's Talking hop, the only keys {@link plainHopForm} reads itself. */
const HOP_FIELDS = new Set(['sessionId', 'serviceCode', 'phoneNumber', 'networkCode', 'text']);

/**
 * An AT hop's form as `qs` parses it, read directly: each part `key=value` with a key that is one of the hop's
 * field names written plainly, each once, values `+`-as-space and percent-decoded. Anything else — another or
 * repeated key, an escaped key, `]=` (which moves qs's split), a malformed escape, a part without `=` — is left
 * to `qs` (null). qs's generic machinery was a measurable part of a hop (bench/README.md); the property tests
 * in tests/server/fast-ussd.test.ts hold both readings to body-parser's.
 */
function plainHopForm(text: string): Record<string, string> | null {
  const out: Record<string, string> = {};
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end === -1) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq === -1 || eq >= end) return null;
    const key = text.slice(start, eq);
    if (!HOP_FIELDS.has(key) || Object.hasOwn(out, key)) return null;
    const raw = text.slice(eq + 1, end);
    if (raw.includes(']=')) return null;
    const value = decodeFormValue(raw);
    if (value === null) return null;
    out[key] = value;
    start = end + 1;
  }
  return out;
}

/** `+` as a space, then percent escapes; null for a malformed escape (qs keeps those as they are). */
function decodeFormValue(raw: string): string | null {
  const spaced = raw.includes('+') ? raw.replace(/\+/g, ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return null;
  }
}
