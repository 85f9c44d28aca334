import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atUssd, eventually, startTestGateway, type TestGateway } from '../server/harness.ts';

/**
 * Attack: flood the gateway from one number (or one address) so that every message becomes a step,
 * a DHIS2 write and a reply (SECURITY.md "Rate limits on inbound messages"). Over the limit a message is
 * acknowledged but not processed, with one polite reply in the sender's language; a hop gets a polite
 * END; too many requests from one address get 429. Other numbers are not affected.
 */

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ INBOUND_SMS_PER_PHONE: '3', INBOUND_USSD_PER_PHONE: '4', INBOUND_PER_IP: '0' });
});

afterAll(async () => {
  await t?.stop();
});

async function sms(url: string, id: string, from: string, text: string) {
  return fetch(`${url}/sms/http`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, from, to: '21512', text }),
  });
}

async function metric(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

const steps = async (url: string) =>
  (await metric(url, 'jibu_flow_steps_total')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);

describe('inbound rate limits', () => {
  it('attack: 20 SMS from one number — 3 processed, the rest acknowledged unprocessed with one polite reply', async () => {
    const flooder = '+254700000901';
    const bystander = '+254700000902';
    const before = await steps(t.url);
    for (let i = 0; i < 20; i++) expect((await sms(t.url, `flood-${i}`, flooder, 'hi')).status).toBe(200);
    expect((await sms(t.url, 'calm-1', bystander, 'hi')).status).toBe(200);

    // Three steps for the flooder and one for the bystander: nothing else ran.
    expect((await steps(t.url)) - before).toBe(4);
    const toFlooder = await eventually(
      () => t.sent.filter((m) => m.to === flooder).length >= 4 && t.sent.filter((m) => m.to === flooder),
      'the replies and the polite notice',
    );
    await eventually(() => t.sent.some((m) => m.to === bystander), 'the other number is answered');
    const polite = toFlooder.filter((m) => /many messages in a short time/.test(m.text));
    expect(polite).toHaveLength(1);
    expect(toFlooder).toHaveLength(4);

    const limited = await metric(t.url, 'jibu_inbound_rate_limited_total');
    expect(limited).toContain('jibu_inbound_rate_limited_total{channel="sms",reason="phone"} 17');
    // No phone number in any metric label.
    expect((await (await fetch(`${t.url}/metrics`)).text()).includes('700000901')).toBe(false);
  });

  it('attack: USSD hops past the per-phone limit — a polite END, no step; another phone dials on', async () => {
    const flooder = '+254700000903';
    const before = await steps(t.url);
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++)
      bodies.push((await atUssd(t.url, { sessionId: `rl-${i}`, phoneNumber: flooder, text: '' })).body);
    expect(bodies.slice(0, 4).every((b) => b.startsWith('CON '))).toBe(true);
    expect(bodies.slice(4)).toEqual([
      'END You have sent many messages in a short time. Please wait a few minutes and try again.',
      'END You have sent many messages in a short time. Please wait a few minutes and try again.',
    ]);
    expect((await steps(t.url)) - before).toBe(4);
    expect((await atUssd(t.url, { sessionId: 'rl-other', phoneNumber: '+254700000904', text: '' })).body).toMatch(
      /^CON /,
    );
  });

  it('attack: the same flood through the generic USSD endpoint /ussd/http — a polite end, no step', async () => {
    const flooder = '+254700000905';
    const before = await steps(t.url);
    const answers: Array<{ text: string; end: boolean }> = [];
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${t.url}/ussd/http`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sessionId: `rlh-${i}`, phone: flooder, serviceCode: '*384*12#', input: '' }),
      });
      expect(r.status).toBe(200);
      answers.push((await r.json()) as { text: string; end: boolean });
    }
    expect(answers.slice(0, 4).every((a) => !a.end)).toBe(true);
    expect(answers.slice(4)).toEqual([
      { text: 'You have sent many messages in a short time. Please wait a few minutes and try again.', end: true },
      { text: 'You have sent many messages in a short time. Please wait a few minutes and try again.', end: true },
    ]);
    expect((await steps(t.url)) - before).toBe(4);
  });
});

describe('inbound rate limit per address', () => {
  it('attack: many requests from one address — 429 JIBU_RATE_LIMITED and nothing processed', async () => {
    const g = await startTestGateway({ INBOUND_PER_IP: '5' });
    try {
      const before = await steps(g.url);
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await sms(g.url, `ip-${i}`, `+25470000091${i}`, 'hi')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
      const refused = await sms(g.url, 'ip-x', '+254700000920', 'hi');
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('JIBU_RATE_LIMITED');
      expect((await steps(g.url)) - before).toBe(5);
      // The USSD route counts against the same address.
      expect((await atUssd(g.url, { sessionId: 'ip-u', phoneNumber: '+254700000921', text: '' })).status).toBe(429);
    } finally {
      await g.stop();
    }
  });
});

describe('inbound rate limit per address behind a trusted proxy', () => {
  it('attack: one client floods USSD through the proxy — limited by its own address, other clients dial on', async () => {
    // TRUST_PROXY names the proxy (here loopback), so the client is the X-Forwarded-For address on every USSD
    // route, the fast path included: counting the proxy's address would refuse everyone after 3 hops.
    const g = await startTestGateway({ INBOUND_PER_IP: '3', TRUST_PROXY: 'loopback' });
    const hop = async (client: string, i: number) => {
      const body = new URLSearchParams({
        sessionId: `px-${client}-${i}`,
        phoneNumber: `+2547000009${String(i).padStart(2, '0')}`,
        serviceCode: '*384*12#',
        networkCode: '63902',
        text: '',
      });
      const r = await fetch(`${g.url}/ussd/africastalking`, {
        method: 'POST',
        body,
        headers: { 'x-forwarded-for': client },
      });
      return r.status;
    };
    try {
      const fromMany = await Promise.all(Array.from({ length: 6 }, (_, i) => hop(`10.1.0.${i + 1}`, i)));
      expect(fromMany).toEqual([200, 200, 200, 200, 200, 200]);
      const fromOne: number[] = [];
      for (let i = 0; i < 5; i++) fromOne.push(await hop('10.2.0.1', 50 + i));
      expect(fromOne).toEqual([200, 200, 200, 429, 429]);
    } finally {
      await g.stop();
    }
  });
});
