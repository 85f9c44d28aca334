import { freePort } from '../server/harness.ts';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { JibuError } from '../../src/errors.ts';
import { isPlaceholderSecret } from '../../src/production-config.ts';
import { PRODUCTION, STRONG, startMain } from './helpers.ts';

/** The problems `loadConfig` lists for `env`, or [] when it accepts it. */
function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(JibuError);
    expect((e as JibuError).code).toBe('JIBU_CONFIG_INVALID');
    return (e as JibuError).detail as string[];
  }
}
const fields = (list: string[]) => list.map((p) => p.split(':')[0]);

const ROOT = new URL('../../', import.meta.url);

describe('a production-shaped start-up refuses an unsafe shape', () => {
  it('starting with DHIS2_URL and no REDIS_URL, a short WEBHOOK_SECRET with an unsigned provider, ADMIN_TOKEN=change-me, SMS_PROVIDER=console and an http:// remote DHIS2 exits non-zero listing every problem at once, and never listens', async () => {
    const port = await freePort();
    const p = startMain({
      PORT: String(port),
      HOST: '127.0.0.1',
      DHIS2_URL: 'http://dhis2.example.org',
      DHIS2_TOKEN: 'd2p_0123456789abcdef',
      SMS_PROVIDER: 'console',
      USSD_PROVIDER: 'africastalking',
      ADMIN_TOKEN: 'change-me',
      WEBHOOK_SECRET: 'short',
    });
    expect(await p.exited).toBe(78);
    const out = p.output();
    expect(out).toMatch(/Invalid configuration/);
    for (const line of [
      /REDIS_URL: required with DHIS2_URL/,
      /SMS_PROVIDER: `console` is refused/,
      /ADMIN_TOKEN: must be at least 32 characters/,
      /ADMIN_TOKEN: is a known placeholder/,
      /WEBHOOK_SECRET: must be at least 32 characters/,
      /DHIS2_URL: must be https:\/\//,
    ])
      expect(out).toMatch(line);
    expect(out).toContain('openssl rand -hex 32');
    expect(out).not.toMatch(/\n\s+at .+:\d+:\d+/);
    // Nothing happened: the process never bound its port.
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  }, 30_000);

  it('accepts the complete production shape (the baseline the attacks below spoil)', () => {
    expect(problems(PRODUCTION)).toEqual([]);
  });

  it('an in-memory store with a real DHIS2 (confirmed reschedules lost on restart) is refused', () => {
    expect(fields(problems({ ...PRODUCTION, REDIS_URL: undefined }))).toEqual(['REDIS_URL']);
  });

  it('the console SMS provider with a real DHIS2 (sign-in codes printed to stdout) is refused, set or defaulted', () => {
    expect(fields(problems({ ...PRODUCTION, SMS_PROVIDER: 'console' }))).toContain('SMS_PROVIDER');
    expect(fields(problems({ ...PRODUCTION, SMS_PROVIDER: undefined }))).toContain('SMS_PROVIDER');
  });

  it('an unsigned provider with no WEBHOOK_SECRET (anyone can post as a caregiver) is refused', () => {
    for (const provider of [
      { SMS_PROVIDER: 'africastalking' },
      { SMS_PROVIDER: 'http', SMS_HTTP_URL: 'https://sms.example.org/send', AT_USERNAME: undefined },
    ]) {
      const list = problems({ ...PRODUCTION, ...provider, WEBHOOK_SECRET: undefined });
      expect(fields(list), JSON.stringify(provider)).toEqual(['WEBHOOK_SECRET']);
      expect(list[0]).toContain('openssl rand -hex 32');
    }
  });

  it("a Twilio-only deployment (signed) may leave WEBHOOK_SECRET unset, unless it mounts Africa's Talking USSD", () => {
    const twilio = {
      ...PRODUCTION,
      SMS_PROVIDER: 'twilio',
      TWILIO_ACCOUNT_SID: 'AC0123',
      TWILIO_AUTH_TOKEN: 'tw0123456789',
      TWILIO_FROM: '+15550001111',
      PUBLIC_URL: 'https://jibu.example.org',
      WEBHOOK_SECRET: undefined,
    };
    expect(problems(twilio)).toEqual([]);
    expect(fields(problems({ ...twilio, USSD_PROVIDER: 'africastalking' }))).toEqual(['WEBHOOK_SECRET']);
  });

  it('short or placeholder admin tokens and webhook secrets (change-me, secret, example values, padded ones) are refused', () => {
    for (const weak of [
      'change-me',
      'changeme',
      'secret',
      'password',
      'example',
      'change-me-change-me-change-me-change-me',
      'my-webhook-secret-for-production-use-only',
      'replace-me-with-a-long-random-string-please',
      'x'.repeat(40),
      'ab12cd34',
    ]) {
      const listA = problems({ ...PRODUCTION, ADMIN_TOKEN: weak });
      const listW = problems({ ...PRODUCTION, WEBHOOK_SECRET: weak });
      expect(fields(listA), weak).toContain('ADMIN_TOKEN');
      expect(fields(listW), weak).toContain('WEBHOOK_SECRET');
      expect(
        listA.every((l) => l.startsWith('ADMIN_TOKEN')),
        weak,
      ).toBe(true);
    }
    expect(isPlaceholderSecret(STRONG.ADMIN_TOKEN)).toBe(false);
  });

  it('a missing ADMIN_TOKEN, an ADMIN_TOKEN equal to WEBHOOK_SECRET, or a weak METRICS_TOKEN is refused', () => {
    expect(fields(problems({ ...PRODUCTION, ADMIN_TOKEN: undefined }))).toEqual(['ADMIN_TOKEN']);
    expect(fields(problems({ ...PRODUCTION, ADMIN_TOKEN: STRONG.WEBHOOK_SECRET }))).toEqual(['WEBHOOK_SECRET']);
    expect(fields(problems({ ...PRODUCTION, METRICS_TOKEN: 'metrics' }))).toEqual(['METRICS_TOKEN']);
    expect(problems({ ...PRODUCTION, METRICS_TOKEN: STRONG.METRICS_TOKEN })).toEqual([]);
  });

  it('the simulator with a real DHIS2 is refused unless explicitly staged', () => {
    for (const v of ['true', '1', 'yes'])
      expect(fields(problems({ ...PRODUCTION, SIMULATOR: v }))).toEqual(['SIMULATOR']);
    expect(problems({ ...PRODUCTION, SIMULATOR: 'staging' })).toEqual([]);
    expect(problems({ ...PRODUCTION, SIMULATOR: 'false' })).toEqual([]);
  });

  it("plain http:// to a remote DHIS2 (token and children's data in clear) is refused; loopback or DHIS2_ALLOW_HTTP=true passes", () => {
    expect(fields(problems({ ...PRODUCTION, DHIS2_URL: 'http://dhis2.example.org' }))).toEqual(['DHIS2_URL']);
    expect(fields(problems({ ...PRODUCTION, DHIS2_URL: 'http://10.0.0.5:8080' }))).toEqual(['DHIS2_URL']);
    for (const url of ['http://localhost:8080', 'http://127.0.0.1:8080', 'http://[::1]:8080'])
      expect(problems({ ...PRODUCTION, DHIS2_URL: url }), url).toEqual([]);
    expect(problems({ ...PRODUCTION, DHIS2_URL: 'http://dhis2.lan', DHIS2_ALLOW_HTTP: 'true' })).toEqual([]);
  });

  it('a malformed TRUST_PROXY or WEBHOOK_ALLOWED_IPS (a silently open list) is refused', () => {
    expect(fields(problems({ TRUST_PROXY: 'yes please' }))).toEqual(['TRUST_PROXY']);
    expect(fields(problems({ TRUST_PROXY: '10.0.0.0/33' }))).toEqual(['TRUST_PROXY']);
    expect(fields(problems({ WEBHOOK_ALLOWED_IPS: '196.201.214.0/24, everyone' }))).toEqual(['WEBHOOK_ALLOWED_IPS']);
    const c = loadConfig({ TRUST_PROXY: '1', WEBHOOK_ALLOWED_IPS: '196.201.214.0/24,2001:db8::/32' });
    expect(c.TRUST_PROXY).toBe(1);
    expect(c.WEBHOOK_ALLOWED_IPS).toHaveLength(2);
    expect(loadConfig({}).TRUST_PROXY).toBe(false);
  });

  it('the embedded demo needs none of it', () => {
    expect(problems({})).toEqual([]);
    expect(problems({ ADMIN_TOKEN: 'short', WEBHOOK_SECRET: 'short' })).toEqual([]);
  });
});

describe('docker compose cannot start without its secrets', () => {
  const compose = readFileSync(new URL('docker-compose.yml', ROOT), 'utf8');
  const env = (parse(compose) as { services: { jibu: { environment: Record<string, string> } } }).services.jibu
    .environment;

  it('every secret uses ${VAR:?message}, so `docker compose up` stops with the message when it is missing', () => {
    for (const name of ['ADMIN_TOKEN', 'WEBHOOK_SECRET', 'DHIS2_TOKEN', 'METRICS_TOKEN', 'DHIS2_URL', 'SMS_PROVIDER'])
      expect(env[name], name).toMatch(new RegExp(`^\\$\\{${name}:\\?.+\\}$`));
  });

  it('no variable has a weak default (change-me, secret, console, …): defaults are empty or harmless', () => {
    expect(compose).not.toMatch(/change-?me|:-secret|:-console/i);
    const harmless = new Set(['TZ', 'DEFAULT_COUNTRY']);
    for (const [name, value] of Object.entries(env)) {
      const m = /\$\{([A-Z0-9_]+):-([^}]*)\}/.exec(String(value));
      if (m && !harmless.has(name)) expect(m[2], `${name} defaults to "${m[2]}"`).toBe('');
    }
  });
});

describe('the operator is told which secrets to set and how to make them', () => {
  const example = readFileSync(new URL('.env.example', ROOT), 'utf8');
  const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
  const forReal = readme.split('## Running it for real')[1]?.split('\n## ')[0] ?? '';

  it('.env.example and README "Running it for real" list every required secret with `openssl rand -hex 32`', () => {
    for (const name of ['ADMIN_TOKEN', 'WEBHOOK_SECRET', 'METRICS_TOKEN', 'DHIS2_TOKEN']) {
      expect(example, name).toMatch(new RegExp(`^${name}=$`, 'm'));
      expect(forReal, name).toContain(name);
    }
    expect(example).toContain('openssl rand -hex 32');
    expect(forReal).toContain('openssl rand -hex 32');
  });
});
