import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../server/harness.ts';
import { TEST_REDIS_URL as REDIS_URL, cleanupRedis, requireRedis, uniquePrefix } from '../store/harness.ts';
import { STRONG } from './helpers.ts';

/**
 * The built-in DHIS2 emulator publishes `admin/district`, lists users' phones and makes outbound HTTP
 * requests for `POST /api/sms/outbound` through a configured gateway (blind SSRF). It is served at
 * `/dhis2` only in the all-embedded demo, and there only to this machine or with the admin token.
 */

const running: TestGateway[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
  await cleanupRedis(prefixes.splice(0));
});

const basic = `Basic ${Buffer.from('admin:district').toString('base64')}`;
/** An SSRF attempt: register a gateway pointing at an internal address, as the issue reproduced. */
const gatewayBody = JSON.stringify({
  type: 'http',
  name: 'ssrf',
  urlTemplate: 'http://169.254.169.254/latest/meta-data/',
  parameters: [],
});

/** The emulator's own gateways, read in process (no HTTP). */
async function emulatorGateways(t: TestGateway): Promise<string> {
  const res = await t.gw.emulator?.fetch(`${t.gw.emulator.baseUrl}/api/gateways`, {
    headers: { authorization: basic },
  });
  return res ? await res.text() : '';
}

describe('the emulator at /dhis2', () => {
  it('with REDIS_URL set, /dhis2 is not served: user listing and gateway registration (SSRF) find nothing, and no gateway is created', async () => {
    await requireRedis();
    const prefix = uniquePrefix('security-emulator');
    prefixes.push(prefix);
    const t = await startTestGateway(
      { LOG_LEVEL: 'silent', REDIS_URL, WEBHOOK_SECRET: STRONG.WEBHOOK_SECRET },
      { redisPrefix: prefix, workers: false },
    );
    running.push(t);
    const users = await fetch(`${t.url}/dhis2/api/users?fields=phoneNumber`, { headers: { authorization: basic } });
    expect(users.status).toBe(404);
    expect(await users.text()).not.toMatch(/phoneNumber|\+2547/);
    const ssrf = await fetch(`${t.url}/dhis2/api/gateways`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: gatewayBody,
    });
    expect(ssrf.status).toBe(404);
    expect(await emulatorGateways(t)).not.toContain('169.254.169.254');
  });

  it('with a provider configured (not the demo), /dhis2 is not served either', async () => {
    const t = await startTestGateway(
      { LOG_LEVEL: 'silent', SMS_PROVIDER: 'http', SMS_HTTP_URL: 'http://127.0.0.1:9/send' },
      { senderProvider: 'http', workers: false },
    );
    running.push(t);
    expect((await fetch(`${t.url}/dhis2/api/system/info`, { headers: { authorization: basic } })).status).toBe(404);
  });

  it('in the demo, a client that is not on this machine (here: through a proxy) cannot register a gateway (401), and none is created', async () => {
    const t = await startTestGateway({ LOG_LEVEL: 'silent' }, { workers: false });
    running.push(t);
    const ssrf = await fetch(`${t.url}/dhis2/api/gateways`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.9' },
      body: gatewayBody,
    });
    expect(ssrf.status).toBe(401);
    expect(await emulatorGateways(t)).not.toContain('169.254.169.254');
    // The demo as today: a browser on this machine reads the demo data.
    const info = await fetch(`${t.url}/dhis2/api/system/info`, { headers: { authorization: basic } });
    expect(info.status).toBe(200);
  });
});
