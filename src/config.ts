import { z } from 'zod';
import { JibuError } from './errors.ts';
import { isTimeZone } from './dhis2/readmodel/calendar.ts';
import { parseCidrList } from './cidr.ts';
import { productionProblems } from './production-config.ts';
import { SENTINEL_LIST, redisConfigured } from './store/connection.ts';

export { inboundRoutes } from './production-config.ts';
export { redisConfigured } from './store/connection.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalString = z.string().trim().min(1).optional();

const TRUST_PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** `TRUST_PROXY`: off, a hop count, or the proxies' addresses (CIDR list or Express's names). */
const trustProxy = z
  .string()
  .trim()
  .transform((v, ctx): false | number | string[] => {
    if (['false', 'off', 'no', '0'].includes(v.toLowerCase())) return false;
    if (/^\d{1,2}$/.test(v)) return Number(v);
    const entries = v.split(',').map((s) => s.trim());
    const bad = entries.filter((e) => !TRUST_PROXY_NAMES.includes(e) && !parseCidrList(e).ok);
    if (bad.length > 0 || entries.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a hop count or a list of proxy addresses/CIDR ranges, not ${bad.map((b) => `"${b}"`).join(', ')}`,
      });
      return z.NEVER;
    }
    return entries;
  });

/** `WEBHOOK_ALLOWED_IPS`: a CIDR list. */
const cidrList = z
  .string()
  .trim()
  .transform((v, ctx) => {
    const r = parseCidrList(v);
    if (!r.ok) {
      ctx.addIssue({
        code: 'custom',
        message: `not an address or CIDR range: ${r.bad.map((b) => `"${b}"`).join(', ')}`,
      });
      return z.NEVER;
    }
    return r.value;
  });

/**
 * Every setting Jibu reads, from the environment, validated once at start-up. Unset means the embedded
 * default where one exists (in-memory store, built-in DHIS2 emulator, console SMS). The README's
 * configuration table is generated from these descriptions (`npm run docs:config`) and checked in tests.
 */
export const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('HTTP port the gateway listens on.'),
  HOST: z.string().default('0.0.0.0').describe('Interface to bind.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level.'),
  REDIS_URL: z
    .url({ protocol: /^rediss?$/ })
    .optional()
    .describe(
      'Redis for sessions, queues and the read model (`rediss://` for TLS). Unset (and no REDIS_SENTINELS): in memory (nothing survives a restart).',
    ),
  REDIS_SENTINELS: z
    .string()
    .regex(SENTINEL_LIST, 'expected host:port,host:port')
    .optional()
    .describe('Redis behind Sentinel instead of REDIS_URL: the Sentinels as `host:port,host:port`.'),
  REDIS_SENTINEL_NAME: optionalString.describe('The master group name the Sentinels monitor (with REDIS_SENTINELS).'),
  REDIS_SENTINEL_PASSWORD: optionalString.describe('Password of the Sentinels, when they require one.'),
  REDIS_PASSWORD: optionalString.describe('Password of the Redis primary and replicas behind the Sentinels.'),
  DHIS2_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Base URL of the DHIS2 server (without `/api`). Unset: the built-in emulator with demo data.'),
  DHIS2_TOKEN: optionalString.describe('DHIS2 personal access token, sent as `Authorization: ApiToken …`.'),
  DHIS2_USERNAME: optionalString.describe('DHIS2 user for Basic auth (when no token).'),
  DHIS2_PASSWORD: optionalString.describe('DHIS2 password for Basic auth.'),
  DHIS2_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(15_000)
    .describe('Timeout of every DHIS2 request.'),
  DHIS2_EMULATOR_VERSION: z
    .enum(['2.38', '2.39', '2.40', '2.41', '2.42'])
    .default('2.40')
    .describe('DHIS2 version the built-in emulator imitates (only without DHIS2_URL).'),
  DHIS2_ALLOW_HTTP: bool
    .default(false)
    .describe('Accept a plain `http://` DHIS2_URL to a remote host (only on a trusted private network).'),
  SMS_PROVIDER: z
    .enum(['console', 'africastalking', 'twilio', 'http'])
    .default('console')
    .describe(
      'Outbound SMS provider; only its inbound routes are mounted. `console` prints messages (demo only; refused with DHIS2_URL).',
    ),
  USSD_PROVIDER: z
    .enum(['africastalking', 'none'])
    .optional()
    .describe(
      'USSD provider whose route is mounted. Unset: `africastalking` with SMS_PROVIDER console or africastalking, else `none`.',
    ),
  AT_USERNAME: optionalString.describe("Africa's Talking username (`sandbox` for the sandbox)."),
  AT_API_KEY: optionalString.describe("Africa's Talking API key."),
  AT_SENDER_ID: optionalString.describe("Africa's Talking sender id or short code (optional)."),
  TWILIO_ACCOUNT_SID: optionalString.describe('Twilio account SID (`AC…`).'),
  TWILIO_AUTH_TOKEN: optionalString.describe('Twilio auth token; also validates `X-Twilio-Signature`.'),
  TWILIO_FROM: optionalString.describe('Twilio sender number (or use TWILIO_MESSAGING_SERVICE_SID).'),
  TWILIO_MESSAGING_SERVICE_SID: optionalString.describe('Twilio messaging service (`MG…`).'),
  SMS_HTTP_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Generic HTTP provider: Jibu POSTs `{"id","to","text"}` here.'),
  SMS_RATE_PER_SECOND: z.coerce
    .number()
    .positive()
    .max(1000)
    .default(10)
    .describe('Outbound SMS rate limit per provider.'),
  SMS_UNKNOWN_AFTER_HOURS: z.coerce
    .number()
    .positive()
    .max(720)
    .default(48)
    .describe('A sent SMS with no delivery report after this long is counted `unknown` (never re-sent blindly).'),
  WEBHOOK_SECRET: optionalString.describe(
    "Shared secret required as `?key=` on Africa's Talking and generic webhooks (unset: they refuse every request outside the all-embedded demo). With DHIS2_URL: ≥32 characters, `openssl rand -hex 32`.",
  ),
  WEBHOOK_ALLOWED_IPS: cidrList
    .optional()
    .describe(
      "Optional source-address allow-list (CIDR list) for Africa's Talking and generic webhooks; the client address follows TRUST_PROXY.",
    ),
  TRUST_PROXY: trustProxy
    .default(false)
    .describe(
      'Reverse proxies in front of Jibu: a hop count or their addresses (CIDR list). Off: `X-Forwarded-*` is ignored.',
    ),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Public base URL as providers call it (Twilio signs it; status callbacks use it).'),
  ADMIN_TOKEN: optionalString.describe(
    'Bearer token for `/admin/*` and the simulator sign-in (outside the all-embedded demo). With DHIS2_URL: required, ≥32 characters, `openssl rand -hex 32`.',
  ),
  METRICS_PORT: z.coerce
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('Serve `/metrics` on this separate port (on HOST) instead of the public one; do not publish it.'),
  METRICS_TOKEN: optionalString.describe('Require `Authorization: Bearer <METRICS_TOKEN>` on `/metrics`.'),
  INBOUND_SMS_PER_PHONE: z.coerce
    .number()
    .int()
    .min(0)
    .default(10)
    .describe(
      'SMS one phone may send per 10 minutes; more are acknowledged but not processed (one polite reply). 0 = no limit.',
    ),
  INBOUND_USSD_PER_PHONE: z.coerce
    .number()
    .int()
    .min(0)
    .default(120)
    .describe('USSD hops one phone may send per 10 minutes; more get a polite END. 0 = no limit.'),
  INBOUND_PER_IP: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      "Inbound SMS and USSD requests per source address per minute; more are answered 429 (the provider retries). 0 = no limit (default: a provider's traffic comes from a few addresses; set it above your provider's peak).",
    ),
  PIN_PEPPER: optionalString.describe(
    'Server-side secret keyed into every case-worker PIN hash (HMAC before scrypt), never stored in Redis. Required with DHIS2_URL, at least 32 characters (`openssl rand -hex 32`); changing it makes every worker sign in with a code again. Unset without DHIS2_URL: a public demo pepper.',
  ),
  TZ: z.string().default('Africa/Nairobi').describe('Deployment time zone (quiet hours, "today").'),
  DEFAULT_COUNTRY: z
    .string()
    .length(2)
    .toUpperCase()
    .default('KE')
    .describe('Country for reading national phone numbers (ISO 3166 alpha-2).'),
  DEFAULT_LOCALE: z
    .enum(['en', 'fr', 'sw', 'rw', 'pt'])
    .default('en')
    .describe('Language for contacts who have not chosen one.'),
  JIBU_CONFIG: optionalString.describe('Path of the deployment file (YAML). Unset: built-in EIR/VEN package defaults.'),
  FLOWS_DIR: z.string().default('flows').describe('Folder of flow files.'),
  LOCALES_DIR: z.string().default('locales').describe('Folder of translations.'),
  USSD_CODE: z.string().default('*384*12#').describe('USSD code shown in messages to case workers.'),
  SIMULATOR: z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'staging'])
    .transform((v): boolean | 'staging' => (v === 'staging' ? 'staging' : v === 'true' || v === '1' || v === 'yes'))
    .optional()
    .describe(
      'Serve the web phone simulator at `/simulator` (default: on in the all-embedded demo, else off). With DHIS2_URL only `staging` (behind the admin sign-in, texts masked).',
    ),
  SHUTDOWN_GRACE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(120_000)
    .default(10_000)
    .describe('How long SIGTERM waits for in-flight work.'),
  HEAP_GROWING_PERCENT: z.coerce
    .number()
    .int()
    .min(0)
    .max(400)
    .default(30)
    .describe(
      "How far V8 lets the heap grow past what a full garbage collection kept, in percent. 0: V8's own rule (the heap may reach several times the live data, and RSS with it). See bench/README.md.",
    ),
});

/**
 * Settings that only make sense together. Checked on the raw environment, so they are reported in the
 * same list as type errors (zod skips refinements when a field fails).
 */
function crossFieldProblems(env: Record<string, string>): string[] {
  const has = (k: string) => env[k] !== undefined;
  const provider = env.SMS_PROVIDER ?? 'console';
  const problems: string[] = [];
  const need = (cond: boolean, path: string, message: string) => {
    if (cond) problems.push(`${path}: ${message}`);
  };
  need(
    provider === 'africastalking' && !(has('AT_USERNAME') && has('AT_API_KEY')),
    'AT_API_KEY',
    'AT_USERNAME and AT_API_KEY are required with SMS_PROVIDER=africastalking',
  );
  need(
    provider === 'twilio' && !(has('TWILIO_ACCOUNT_SID') && has('TWILIO_AUTH_TOKEN')),
    'TWILIO_AUTH_TOKEN',
    'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required with SMS_PROVIDER=twilio',
  );
  need(
    provider === 'twilio' && !(has('TWILIO_FROM') || has('TWILIO_MESSAGING_SERVICE_SID')),
    'TWILIO_FROM',
    'TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required with SMS_PROVIDER=twilio',
  );
  need(provider === 'http' && !has('SMS_HTTP_URL'), 'SMS_HTTP_URL', 'SMS_HTTP_URL is required with SMS_PROVIDER=http');
  need(
    has('TWILIO_AUTH_TOKEN') && !has('PUBLIC_URL'),
    'PUBLIC_URL',
    'PUBLIC_URL is required to validate Twilio signatures',
  );
  need(
    has('DHIS2_URL') && !has('DHIS2_TOKEN') && !(has('DHIS2_USERNAME') && has('DHIS2_PASSWORD')),
    'DHIS2_TOKEN',
    'DHIS2_TOKEN or DHIS2_USERNAME and DHIS2_PASSWORD are required with DHIS2_URL',
  );
  need(
    has('DHIS2_URL') && !has('ADMIN_TOKEN'),
    'ADMIN_TOKEN',
    'ADMIN_TOKEN is required when connected to a real DHIS2 (admin endpoints would be unprotected)',
  );
  need(has('TZ') && !isTimeZone(env.TZ ?? ''), 'TZ', `unknown time zone "${env.TZ}"`);
  need(
    has('METRICS_PORT') && env.METRICS_PORT === (env.PORT ?? '3000'),
    'METRICS_PORT',
    'must differ from PORT (unset it to serve /metrics on the public port)',
  );
  need(
    has('REDIS_SENTINELS') && !has('REDIS_SENTINEL_NAME'),
    'REDIS_SENTINEL_NAME',
    'REDIS_SENTINEL_NAME is required with REDIS_SENTINELS',
  );
  need(
    has('REDIS_SENTINELS') && has('REDIS_URL'),
    'REDIS_SENTINELS',
    'set REDIS_URL (one Redis) or REDIS_SENTINELS (Redis behind Sentinel), not both',
  );
  return [...problems, ...productionProblems(env)];
}

export type Config = z.infer<typeof configSchema> & { embedded: { store: boolean; dhis2: boolean } };

/**
 * The all-embedded demo: no DHIS2_URL, no Redis, no provider keys, console SMS. Only here are the
 * webhooks open without WEBHOOK_SECRET, the emulator served at `/dhis2`, the admin API open without
 * ADMIN_TOKEN and message texts shown in the simulator feed: nothing real is at stake.
 */
export function allEmbedded(c: Config): boolean {
  return (
    c.embedded.store &&
    c.embedded.dhis2 &&
    c.SMS_PROVIDER === 'console' &&
    !c.AT_API_KEY &&
    !c.TWILIO_AUTH_TOKEN &&
    !c.SMS_HTTP_URL
  );
}

/**
 * Read the configuration from an environment object. Throws a JibuError `JIBU_CONFIG_INVALID` whose
 * `detail` lists every problem, one line each, so an operator fixes them all in one go.
 * @example loadConfig({ PORT: '8080', SMS_PROVIDER: 'console' })
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings are treated as unset: docker-compose and CI often export VAR= for optional settings.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`)),
    ...crossFieldProblems(cleaned as Record<string, string>),
  ];
  if (!parsed.success || problems.length > 0) {
    throw new JibuError('JIBU_CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`, problems);
  }
  const c = parsed.data;
  if (!c) throw new JibuError('JIBU_CONFIG_INVALID');
  return { ...c, embedded: { store: !redisConfigured(c), dhis2: !c.DHIS2_URL } };
}

/** The README configuration table, generated from the schema so it cannot drift. */
export function configTable(): string {
  const shape = configSchema.shape;
  const rows = Object.entries(shape).map(([name, schema]) => {
    const def = defaultOf(schema);
    return `| \`${name}\` | ${def === undefined ? '—' : `\`${def}\``} | ${schema.description ?? ''} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

function defaultOf(schema: z.ZodType): string | undefined {
  const r = schema.safeParse(undefined);
  return r.success && r.data !== undefined ? String(r.data) : undefined;
}
