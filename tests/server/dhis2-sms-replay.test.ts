import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.ts';
import { eventually, startTestGateway, type TestGateway } from './harness.ts';

/**
 * The whole path an admin can try locally: the DHIS2 emulator embedded in a real Jibu (served at
 * /dhis2), configured through its HTTP API with the Generic HTTP gateway the README tells DHIS2 admins
 * to set up, pointing at Jibu's own /gateway/dhis2. DHIS2's `POST /api/sms/outbound` must then end as
 * one SMS per recipient from Jibu's provider.
 */

const SECRET = 'replay-webhook-secret-0001';
const NOON = '2025-03-03T09:00:00.000Z'; // 12:00 in Nairobi: inside the delivery window
/** Time that starts at `start` and runs (a frozen clock would never refill Jibu's per-provider rate limit). */
function runningClock(start: string): Clock {
  const offset = Date.parse(start) - Date.now();
  return { now: () => new Date(Date.now() + offset) };
}

const ADMIN = `Basic ${Buffer.from('admin:district').toString('base64')}`;

/** README "DHIS2 sending its own SMS through Jibu", with the URL of this Jibu. */
function readmeGateway(jibuUrl: string, key = SECRET) {
  return {
    type: 'http',
    name: 'Jibu',
    urlTemplate: `${jibuUrl}/gateway/dhis2`,
    useGet: false,
    contentType: 'APPLICATION_JSON',
    configurationTemplate: '{"to":"${recipients}","text":"${text}"}',
    sendUrlParameters: false,
    parameters: [{ key: 'X-Jibu-Key', value: key, header: true, confidential: true, encode: false }],
  };
}

async function dhis2(
  t: TestGateway,
  path: string,
  init: { method?: string; json?: unknown; form?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { Authorization: ADMIN };
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(`${t.url}/dhis2${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
}

/** POST the gateway the first time, PUT it afterwards (DHIS2 keeps one Generic HTTP gateway). */
async function configure(t: TestGateway, gateway: Record<string, unknown>): Promise<string> {
  const existing = ((await dhis2(t, '/api/gateways')).body.gateways as Array<{ uid: string }>)[0];
  if (existing) {
    expect((await dhis2(t, `/api/gateways/${existing.uid}`, { method: 'PUT', json: gateway })).status).toBe(200);
    return existing.uid;
  }
  expect((await dhis2(t, '/api/gateways', { json: gateway })).body).toMatchObject({
    status: 'OK',
    message: 'Gateway configuration added',
  });
  return ((await dhis2(t, '/api/gateways')).body.gateways as Array<{ uid: string }>)[0]!.uid;
}

/**
 * Every SMS the gateway queued has been worked: Jibu answered DHIS2 only after queueing, so once the
 * queue is empty, "sent once" and "sent nothing" are facts.
 */
const settle = (t: TestGateway) =>
  eventually(async () => {
    const c = await t.gw.queue.counts('outbox-sms');
    return c.waiting + c.active + c.delayed === 0;
  }, 'the SMS queue to be empty');

describe.each(['2.38', '2.42'])('DHIS2 %s SMS replayed through Jibu (README gateway settings)', (version) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(
      { WEBHOOK_SECRET: SECRET, DHIS2_EMULATOR_VERSION: version },
      { clock: runningClock(NOON) },
    );
  });
  afterAll(async () => {
    await t.stop();
  });
  const sentTo = (phone: string) => t.sent.filter((m) => m.to === phone);

  it('POST /api/sms/outbound to two caregivers: DHIS2 answers "SMS sent" and Jibu texts each of them once, word for word', async () => {
    await configure(t, readmeGateway(t.url));
    const text = `Dear parent, Amina's next visit is on 05/03 at Jumba (${version}) - 100% free!`;
    const res = await dhis2(t, '/api/sms/outbound', {
      json: { message: text, recipients: ['+254700000301', '+254700000302'] },
    });
    expect(res.body).toMatchObject({ status: 'OK', message: 'SMS sent' });
    await eventually(() => sentTo('+254700000301').length > 0 && sentTo('+254700000302').length > 0, 'both SMS');
    await settle(t);
    expect(sentTo('+254700000301').map((m) => m.text)).toEqual([text]);
    expect(sentTo('+254700000302').map((m) => m.text)).toEqual([text]);
    const log = (await dhis2(t, '/api/sms/outbound?fields=recipients,status,message')).body.outboundsmss as unknown[];
    expect(log).toContainEqual({ message: text, recipients: ['254700000301', '254700000302'], status: 'SENT' });
  });

  it('a wrong key: DHIS2 records a FAILED OutboundSms and answers 500, Jibu sends nothing', async () => {
    await configure(t, readmeGateway(t.url, 'not-the-secret'));
    const before = t.sent.length;
    const res = await dhis2(t, '/api/sms/outbound', {
      json: { message: `Wrong key ${version}`, recipients: ['+254700000303'] },
    });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({
      status: 'ERROR',
      message: 'failed',
      devMessage: expect.stringContaining('HTTP 403'),
    });
    await settle(t);
    expect(t.sent.length).toBe(before);
    const failed = (await dhis2(t, '/api/sms/outbound?fields=message,status&filter=status:eq:FAILED')).body
      .outboundsmss;
    expect(failed).toEqual([{ message: `Wrong key ${version}`, status: 'FAILED' }]);
  });
});

describe('other gateway shapes DHIS2 admins may pick (emulator 2.40)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(
      { WEBHOOK_SECRET: SECRET, DHIS2_EMULATOR_VERSION: '2.40' },
      { clock: runningClock(NOON) },
    );
  });
  afterAll(async () => {
    await t.stop();
  });
  const sentTo = (phone: string) => t.sent.filter((m) => m.to === phone);

  it('FORM_URL_ENCODED with to=${recipients}&text=${text}', async () => {
    await configure(t, {
      ...readmeGateway(t.url),
      contentType: 'FORM_URL_ENCODED',
      configurationTemplate: 'to=${recipients}&text=${text}',
    });
    const text = 'Form: Juma is due on 06/03, reply 1 to confirm & 2 to change.';
    expect(
      (await dhis2(t, '/api/sms/outbound', { json: { message: text, recipients: ['+254700000311', '+254700000312'] } }))
        .body,
    ).toMatchObject({ message: 'SMS sent' });
    await eventually(() => sentTo('+254700000311').length > 0 && sentTo('+254700000312').length > 0, 'both SMS');
    expect([...sentTo('+254700000311'), ...sentTo('+254700000312')].map((m) => m.text)).toEqual([text, text]);
  });

  it('GET with URL parameters, the key in ?key= (versions without header parameters)', async () => {
    await configure(t, {
      ...readmeGateway(t.url),
      urlTemplate: `${t.url}/gateway/dhis2`,
      useGet: true,
      sendUrlParameters: true,
      contentType: 'FORM_URL_ENCODED',
      configurationTemplate: `key=${SECRET}&to=\${recipients}&text=\${text}`,
      parameters: [],
    });
    const text = 'GET: Zuri missed 25/02, 50% of doses left, call 0711 000 001.';
    expect(
      (await dhis2(t, '/api/sms/outbound', { json: { message: text, recipients: ['+254700000321'] } })).body,
    ).toMatchObject({ message: 'SMS sent' });
    const [sms] = await eventually(() => sentTo('+254700000321').length > 0 && sentTo('+254700000321'), 'the SMS');
    expect(sms!.text).toBe(text);
  });

  it("the query-parameter form of /api/sms/outbound, posted as a form through Jibu's own body parser", async () => {
    await configure(t, readmeGateway(t.url));
    const text = 'Form post: Baraka is due today.';
    expect(
      (await dhis2(t, '/api/sms/outbound', { form: { recipient: '+254700000331', message: text } })).body,
    ).toMatchObject({ message: 'SMS sent' });
    const [sms] = await eventually(() => sentTo('+254700000331').length > 0 && sentTo('+254700000331'), 'the SMS');
    expect(sms!.text).toBe(text);
  });

  it("DHIS2's own due-date reminders (the emulator's program-notification run) leave through Jibu: one SMS per child", async () => {
    await configure(t, readmeGateway(t.url));
    const res = await dhis2(t, '/api/emulator/programNotifications/run', { method: 'POST' });
    expect(res.body).toMatchObject({ status: 'OK', response: { date: '2025-03-03', failed: 0 } });
    const twoDue = () =>
      sentTo('+254700000001').filter((m) => m.text.includes('is due for the next immunization visit'));
    const texts = (await eventually(() => twoDue().length === 2 && twoDue(), 'both reminders')).map((m) => m.text);
    expect(
      texts.some((x) => x.startsWith('Dear parent, Amina ')) && texts.some((x) => x.startsWith('Dear parent, Juma ')),
    ).toBe(true);
    expect(texts.every((x) => x.endsWith(' on 2025-03-05.'))).toBe(true);
  });
});
