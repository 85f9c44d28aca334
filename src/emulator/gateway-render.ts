/**
 * How DHIS2's Generic HTTP SMS gateway turns (text, recipients) into one HTTP request
 * (docs/dhis2.md#the-generic-http-gateway-that-points-at-jibu),
 * as pure functions. Read from core `SimplisticHttpGetGateWay`, `SmsGateway` and `GenericGatewayParameter`
 * (2.3x–2.4x sources; the same logic throughout, apart from the text encoding noted below):
 *
 * - The body is `configurationTemplate` with `${name}` substituted (Apache `StringSubstitutor`) from a
 *   value store holding every non-header parameter (`${key}` → its value), `${text}` and `${recipients}`.
 * - `${recipients}` is the recipients joined with `,` (`StringUtils.join(recipients, ",")`), each already
 *   stripped of a leading `+` or `00` by `SmsMessageSender` — DHIS2 never sends the `+`.
 * - `${text}` is URL-encoded the way Java's `URLEncoder` does it (`SmsUtils.encode`), even inside JSON,
 *   from 2.39 on according to Jibu's gateway notes (`src/server/dhis2-gateway.ts`); 2.38 is unverified and
 *   imitated with the raw text. Either way the choice is the `encodeText` option of the emulator.
 * - Header parameters become headers; the one named exactly `Authorization` gets the prefix `Basic `.
 * - `encode: true` Base64-encodes a parameter's value (headers and template values alike).
 * - `sendUrlParameters: true` sends to `urlTemplate + "?" + body`; Spring's `UriComponentsBuilder …
 *   .encode()` then percent-encodes what a query may not hold — including `%`, so a URL-encoded text is
 *   encoded twice on that path.
 * - `useGet: true` sends a GET, which carries no body: only the URL (so `sendUrlParameters`) reaches the
 *   provider. Otherwise a POST with the rendered body and `Content-Type` from `contentType`.
 */

/** DHIS2's `ContentType` enum and the media type each stands for. */
export const GATEWAY_CONTENT_TYPES = {
  APPLICATION_JSON: 'application/json',
  APPLICATION_XML: 'application/xml',
  FORM_URL_ENCODED: 'application/x-www-form-urlencoded',
  TEXT_PLAIN: 'text/plain',
} as const;

export type GatewayContentType = keyof typeof GATEWAY_CONTENT_TYPES;

/**
 * How `${recipients}` joins several numbers. Rarely documented; core 2.38–2.42 joins
 * with a comma (`StringUtils.join(recipients, ",")`), which is what Jibu's `/gateway/dhis2` splits on.
 */
export const RECIPIENT_SEPARATOR = ',';

export interface GatewayParameter {
  key: string;
  value: string;
  header: boolean;
  encode: boolean;
  confidential: boolean;
}

/** The fields of a Generic HTTP gateway that decide the request. */
export interface GenericHttpGateway {
  urlTemplate?: string;
  configurationTemplate?: string;
  useGet: boolean;
  sendUrlParameters: boolean;
  contentType: GatewayContentType;
  parameters: GatewayParameter[];
}

export interface GatewayRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  /** Absent for GET (HTTP clients drop a GET body) and when there is no template. */
  body?: string;
}

export interface RenderOptions {
  /** URL-encode `${text}` as `SmsUtils.encode` does (2.39+). */
  encodeText: boolean;
}

/**
 * Java's `URLEncoder.encode(s, UTF_8)`: letters, digits and `.-*_` stay, a space becomes `+`, everything
 * else is `%XX` (upper-case) per UTF-8 byte.
 *
 * @example javaUrlEncode("Hi Amina, it's 05/03!") // 'Hi+Amina%2C+it%27s+05%2F03%21'
 */
export function javaUrlEncode(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * Apache `StringSubstitutor.replace`: `${name}` becomes its value, `${name:-fallback}` falls back when the
 * name is unknown, an unknown `${name}` stays as written and `$${` escapes a literal `${`. (Recursive
 * substitution of values that themselves hold `${…}` is not imitated.)
 *
 * @example substituteTemplate('{"to":"${recipients}","x":"${nope}"}', { recipients: '2547' }) // '{"to":"2547","x":"${nope}"}'
 */
export function substituteTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\$(\$?)\{([^}]*)\}/g, (whole, escape: string, inner: string) => {
    if (escape) return whole.slice(1);
    const at = inner.indexOf(':-');
    const name = at >= 0 ? inner.slice(0, at) : inner;
    if (Object.hasOwn(values, name)) return values[name]!;
    return at >= 0 ? inner.slice(at + 2) : whole;
  });
}

/** RFC 3986 characters Spring leaves alone in a query parameter name or value (`=` and `&` excluded). */
const QUERY_PARAM_ALLOWED = /[A-Za-z0-9\-._~!$'()*+,;:@/?]/;

function springEncodeComponent(s: string): string {
  let out = '';
  for (const ch of s) {
    if (QUERY_PARAM_ALLOWED.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * What `UriComponentsBuilder.fromHttpUrl(url).build().encode()` does to a query: each `name=value` pair
 * is percent-encoded on its own, `%` included, so already-encoded text is encoded again.
 *
 * @example springEncodeQuery('to=2547,2548&text=Hi+there%2C') // 'to=2547,2548&text=Hi+there%252C'
 */
export function springEncodeQuery(query: string): string {
  return query
    .split('&')
    .filter((pair) => pair.length > 0)
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return springEncodeComponent(pair);
      return `${springEncodeComponent(pair.slice(0, eq))}=${springEncodeComponent(pair.slice(eq + 1))}`;
    })
    .join('&');
}

/** A parameter's value as sent: Base64 of the UTF-8 bytes when `encode` is set. */
export function parameterValue(p: GatewayParameter): string {
  return p.encode ? Buffer.from(p.value, 'utf8').toString('base64') : p.value;
}

/** Thrown when the gateway cannot build a request (no or unusable `urlTemplate`): DHIS2 logs it and records a failure. */
export class GatewayConfigError extends Error {}

function withQuery(urlTemplate: string, query: string | undefined): string {
  const hash = urlTemplate.indexOf('#');
  const base = hash >= 0 ? urlTemplate.slice(0, hash) : urlTemplate;
  const q = base.indexOf('?');
  const path = q >= 0 ? base.slice(0, q) : base;
  // Spring splits at the first `?`: a template that already has a query gets the body appended after a second `?`,
  // which then belongs to the last value of that query (DHIS2 does the same).
  const fullQuery = [q >= 0 ? base.slice(q + 1) : undefined, query]
    .filter((x): x is string => x !== undefined)
    .join('?');
  return fullQuery ? `${path}?${springEncodeQuery(fullQuery)}` : path;
}

/**
 * The one request DHIS2 sends for `text` to `recipients` (already stripped with {@link stripPhonePrefix},
 * as `SmsMessageSender` does before choosing the gateway).
 *
 * @example
 * renderGatewayRequest({ urlTemplate: 'https://jibu.example.org/gateway/dhis2', configurationTemplate: '{"to":"${recipients}","text":"${text}"}',
 *   useGet: false, sendUrlParameters: false, contentType: 'APPLICATION_JSON',
 *   parameters: [{ key: 'X-Jibu-Key', value: 's3cret', header: true, encode: false, confidential: true }] },
 *   'Hi Amina', ['254700000001', '254700000002'], { encodeText: true })
 * // { method: 'POST', url: 'https://jibu.example.org/gateway/dhis2',
 * //   headers: { 'Content-Type': 'application/json', 'X-Jibu-Key': 's3cret' }, body: '{"to":"254700000001,254700000002","text":"Hi+Amina"}' }
 */
export function renderGatewayRequest(
  gateway: GenericHttpGateway,
  text: string,
  recipients: readonly string[],
  opts: RenderOptions,
): GatewayRequest {
  if (!gateway.urlTemplate || !/^https?:\/\/[^/?#]+/i.test(gateway.urlTemplate)) {
    throw new GatewayConfigError(`urlTemplate ${JSON.stringify(gateway.urlTemplate ?? null)} is not an http(s) URL`);
  }
  const values: Record<string, string> = {};
  for (const p of gateway.parameters) if (!p.header) values[p.key] = parameterValue(p);
  values.text = opts.encodeText ? javaUrlEncode(text) : text;
  values.recipients = recipients.join(RECIPIENT_SEPARATOR);
  const body =
    gateway.configurationTemplate === undefined ? undefined : substituteTemplate(gateway.configurationTemplate, values);

  const headers: Record<string, string> = { 'Content-Type': GATEWAY_CONTENT_TYPES[gateway.contentType] };
  for (const p of gateway.parameters) {
    if (!p.header) continue;
    // Core compares with HttpHeaders.AUTHORIZATION exactly and prefixes " Basic " (HTTP trims the space).
    headers[p.key] = p.key === 'Authorization' ? `Basic ${parameterValue(p)}` : parameterValue(p);
  }
  const method = gateway.useGet ? 'GET' : 'POST';
  const url = withQuery(gateway.urlTemplate, gateway.sendUrlParameters ? (body ?? '') : undefined);
  try {
    new URL(url);
  } catch {
    throw new GatewayConfigError(`urlTemplate ${JSON.stringify(gateway.urlTemplate)} does not make a valid URL`);
  }
  return { method, url, headers, ...(method === 'POST' && body !== undefined ? { body } : {}) };
}

/**
 * `SmsUtils.removePhoneNumberPrefix`: DHIS2 drops a leading `00` or `+` before handing numbers to a gateway.
 *
 * @example stripPhonePrefix('+254700000001') // '254700000001'
 */
export function stripPhonePrefix(n: string): string {
  if (n.startsWith('00')) return n.slice(2);
  if (n.startsWith('+')) return n.slice(1);
  return n;
}
