import { redisConfigured } from './store/connection.ts';

/**
 * The shape a gateway connected to a real DHIS2 must have before it starts (SECURITY.md, "What
 * operators must set"). Each rule reads the raw environment (empty strings already removed) and names
 * what to fix; `loadConfig` lists their problems with every other configuration problem, so an
 * operator fixes them all in one go. Add a rule by appending a function to {@link PRODUCTION_RULES}.
 */

export type RawEnv = Record<string, string | undefined>;

/** Secrets (ADMIN_TOKEN, WEBHOOK_SECRET, METRICS_TOKEN, PIN_PEPPER) shorter than this are refused in production. */
export const MIN_SECRET_LENGTH = 32;

/** How a secret of the right strength is made; shown in every problem about one. */
export const GENERATE_SECRET = 'generate one with `openssl rand -hex 32`';

/** The inbound webhook routes a configuration mounts. */
export interface InboundRoutes {
  /** `/ussd/africastalking` and its `/events`: no signature, `WEBHOOK_SECRET` as `?key=`. */
  atUssd: boolean;
  /** `/sms/africastalking` and its `/delivery`: no signature, `?key=`. */
  atSms: boolean;
  /** `/sms/http` and its `/status`: no signature, `?key=`. */
  http: boolean;
  /** `/sms/twilio` and its `/status`: `X-Twilio-Signature`. */
  twilio: boolean;
}

/**
 * Only the configured providers' routes are mounted. `console` (no real provider: the demo, tests,
 * the simulator) mounts them all. USSD comes from `USSD_PROVIDER`; unset, it follows the SMS provider
 * (Africa's Talking for `console` and `africastalking`, none for `twilio` and `http`).
 */
export function inboundRoutes(env: { SMS_PROVIDER?: unknown; USSD_PROVIDER?: unknown }): InboundRoutes {
  const sms = typeof env.SMS_PROVIDER === 'string' ? env.SMS_PROVIDER : 'console';
  const all = sms === 'console';
  const ussd =
    typeof env.USSD_PROVIDER === 'string'
      ? env.USSD_PROVIDER
      : sms === 'console' || sms === 'africastalking'
        ? 'africastalking'
        : 'none';
  return {
    atUssd: ussd === 'africastalking',
    atSms: all || sms === 'africastalking',
    http: all || sms === 'http',
    twilio: all || sms === 'twilio',
  };
}

/** Routes that carry no provider signature, so `WEBHOOK_SECRET` is all that stands in front of them. */
export function unsignedRoutesMounted(env: RawEnv): boolean {
  const r = inboundRoutes(env);
  return r.atUssd || r.atSms || r.http;
}

/**
 * Values that appear in examples, tutorials and compose files. Compared after lower-casing and
 * removing everything but letters and digits, so `Change_Me`, `change-me` and `CHANGEME` are one.
 */
const PLACEHOLDERS = [
  'changeme',
  'replaceme',
  'secret',
  'password',
  'example',
  'placeholder',
  'yoursecret',
  'yourtoken',
  'admintoken',
  'webhooksecret',
  'letmein',
  'default',
  'dummy',
  'token',
  'test',
  'xxx',
];

/** A known placeholder, one containing a placeholder word, or a single repeated character. */
export function isPlaceholderSecret(value: string): boolean {
  const folded = value.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (folded === '') return true;
  if (/^(.)\1*$/.test(folded)) return true;
  return PLACEHOLDERS.some((p) => folded === p || (p.length >= 6 && folded.includes(p)));
}

/** Problems with one secret, or none. */
export function secretProblems(name: string, value: string | undefined, required: string | undefined): string[] {
  if (value === undefined) return required ? [`${name}: required ${required}; ${GENERATE_SECRET}`] : [];
  const out: string[] = [];
  if (value.length < MIN_SECRET_LENGTH)
    out.push(
      `${name}: must be at least ${MIN_SECRET_LENGTH} characters with DHIS2_URL (it has ${value.length}); ${GENERATE_SECRET}`,
    );
  if (isPlaceholderSecret(value)) out.push(`${name}: is a known placeholder value; ${GENERATE_SECRET}`);
  return out;
}

/** `localhost`, `127.x.y.z`, `[::1]`: a DHIS2 on the same machine may be reached over plain HTTP. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

type Rule = (env: RawEnv) => string[];

const yes = (v: string | undefined) => v === 'true' || v === '1' || v === 'yes';

/** Rules that hold whenever `DHIS2_URL` is set. */
export const PRODUCTION_RULES: Rule[] = [
  (env) =>
    redisConfigured(env)
      ? []
      : [
          'REDIS_URL: required with DHIS2_URL (in memory, confirmed reschedules, PINs, lockouts and opt-outs are lost on restart)',
        ],
  (env) =>
    (env.SMS_PROVIDER ?? 'console') === 'console'
      ? [
          'SMS_PROVIDER: `console` is refused with DHIS2_URL (it prints numbers, sign-in codes and names); set africastalking, twilio or http',
        ]
      : [],
  (env) => {
    const v = env.SIMULATOR;
    if (v === undefined || v === 'staging' || !yes(v)) return [];
    return [
      'SIMULATOR: refused with DHIS2_URL; for a staging setup set SIMULATOR=staging (served only behind the admin session, texts masked)',
    ];
  },
  (env) => secretProblems('ADMIN_TOKEN', env.ADMIN_TOKEN, undefined),
  (env) =>
    secretProblems(
      'WEBHOOK_SECRET',
      env.WEBHOOK_SECRET,
      unsignedRoutesMounted(env)
        ? "with DHIS2_URL: Africa's Talking and generic webhooks carry no signature, the secret is their only guard"
        : undefined,
    ),
  (env) => secretProblems('METRICS_TOKEN', env.METRICS_TOKEN, undefined),
  (env) =>
    secretProblems(
      'PIN_PEPPER',
      env.PIN_PEPPER,
      'with DHIS2_URL: it keys every case-worker PIN hash, so a copy of Redis alone cannot be brute-forced',
    ),
  (env) =>
    env.ADMIN_TOKEN !== undefined && env.ADMIN_TOKEN === env.WEBHOOK_SECRET
      ? ['WEBHOOK_SECRET: must differ from ADMIN_TOKEN (DHIS2 and providers hold the webhook secret)']
      : [],
  (env) => {
    let url: URL;
    try {
      url = new URL(env.DHIS2_URL ?? '');
    } catch {
      return []; // the schema reports a malformed URL
    }
    if (url.protocol === 'https:' || isLoopbackHost(url.hostname) || yes(env.DHIS2_ALLOW_HTTP)) return [];
    return [
      `DHIS2_URL: must be https:// for a remote host (credentials and children's data cross the network); set DHIS2_ALLOW_HTTP=true only for a trusted private network`,
    ];
  },
];

/** Every production problem of `env` (none when DHIS2_URL is unset). */
export function productionProblems(env: RawEnv): string[] {
  if (env.DHIS2_URL === undefined) return [];
  return PRODUCTION_RULES.flatMap((rule) => rule(env));
}
