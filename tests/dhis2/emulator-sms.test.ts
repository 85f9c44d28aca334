import { describe, expect, it } from 'vitest';
import { javaUrlEncode } from '../../src/emulator/gateway-render.ts';
import type { Emulator } from '../../src/emulator/index.ts';
import { emulator, raw } from './helpers.ts';

const SECRET = 'dhis2-gateway-secret-0001';
const TEXT = 'Dear parent, Neema is due for vaccination at Jumba on 2025-03-05.';

/** The gateway the README tells DHIS2 admins to configure, pointing at a fake Jibu. */
const JIBU_GATEWAY = {
  type: 'http',
  name: 'Jibu',
  urlTemplate: 'https://jibu.example.org/gateway/dhis2',
  useGet: false,
  contentType: 'APPLICATION_JSON',
  configurationTemplate: '{"to":"${recipients}","text":"${text}"}',
  sendUrlParameters: false,
  parameters: [{ key: 'X-Jibu-Key', value: SECRET, header: true, confidential: true, encode: false }],
};

interface Captured {
  url: string;
  method: string;
  headers: Headers;
  body: string | undefined;
}

/** An emulator whose gateway calls land in `calls` and are answered with `answer()`. */
function rig(
  version = '2.40',
  answer: (c: Captured) => Response | Promise<Response> = () => new Response('{"status":"accepted"}', { status: 200 }),
) {
  const calls: Captured[] = [];
  const fake: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    const c = {
      url: req.url,
      method: req.method,
      headers: req.headers,
      body: req.method === 'GET' ? undefined : await req.text(),
    };
    calls.push(c);
    return answer(c);
  };
  const emu = emulator(version, { seed: false, sms: { fetch: fake } });
  return { emu, calls };
}

async function addGateway(emu: Emulator, body: unknown = JIBU_GATEWAY): Promise<string> {
  const res = await raw(emu, '/api/gateways', { json: body });
  expect(res.status).toBe(200);
  const list = (await raw(emu, '/api/gateways')).body as { gateways: Array<{ uid: string }> };
  return list.gateways[0]!.uid;
}

const send = (emu: Emulator, message: string, recipients: string[]) =>
  raw(emu, '/api/sms/outbound', { json: { message, recipients } });

describe('/api/gateways', () => {
  it('adds a Generic HTTP gateway: WebMessage, Location, listed as the default with the confidential value hidden', async () => {
    const { emu } = rig();
    const res = await raw(emu, '/api/gateways', { json: JIBU_GATEWAY });
    expect(res.body).toStrictEqual({
      httpStatus: 'OK',
      httpStatusCode: 200,
      status: 'OK',
      message: 'Gateway configuration added',
    });
    const { gateways } = (await raw(emu, '/api/gateways')).body as { gateways: Array<Record<string, unknown>> };
    expect(gateways).toHaveLength(1);
    const g = gateways[0]!;
    expect(res.headers.get('location')).toBe(`${emu.baseUrl}/api/gateways/${String(g.uid)}`);
    expect(g).toMatchObject({
      type: 'http',
      name: 'Jibu',
      isDefault: true,
      urlTemplate: JIBU_GATEWAY.urlTemplate,
      configurationTemplate: JIBU_GATEWAY.configurationTemplate,
      contentType: 'APPLICATION_JSON',
      useGet: false,
      sendUrlParameters: false,
    });
    const [param] = g.parameters as Array<{ key: string; value: string; confidential: boolean }>;
    expect(param).toMatchObject({ key: 'X-Jibu-Key', header: true, confidential: true, encode: false });
    expect(param!.value).toBeTruthy();
    expect(param!.value).not.toContain(SECRET);
    expect(JSON.stringify((await raw(emu, `/api/gateways/${String(g.uid)}`)).body)).not.toContain(SECRET);
    expect((await raw(emu, '/api/gateways/default')).body).toMatchObject({ uid: g.uid, name: 'Jibu' });
  });

  it('non-confidential parameter values are shown as stored', async () => {
    const { emu } = rig();
    const uid = await addGateway(emu, {
      ...JIBU_GATEWAY,
      parameters: [{ key: 'X-Jibu-Key', value: SECRET, header: true, confidential: false }],
    });
    expect(
      ((await raw(emu, `/api/gateways/${uid}`)).body as { parameters: Array<{ value: string }> }).parameters[0]!.value,
    ).toBe(SECRET);
  });

  it('keeps one gateway per type, as DHIS2 does: a second Generic HTTP gateway is "added" but nothing changes', async () => {
    const { emu } = rig();
    await addGateway(emu);
    const second = await raw(emu, '/api/gateways', { json: { ...JIBU_GATEWAY, name: 'Other' } });
    expect(second.status).toBe(200);
    expect(second.headers.get('location')).toBeNull();
    expect(
      ((await raw(emu, '/api/gateways')).body as { gateways: Array<{ name: string }> }).gateways.map((g) => g.name),
    ).toEqual(['Jibu']);
  });

  it('refuses the gateway types it does not imitate with 409, and a missing type or bad content type with 400', async () => {
    const { emu } = rig();
    const bulk = await raw(emu, '/api/gateways', {
      json: { type: 'bulksms', name: 'b', username: 'u', password: 'p' },
    });
    expect(bulk.status).toBe(409);
    expect((bulk.body as { message: string }).message).toMatch(/only the Generic HTTP gateway.*"bulksms"/);
    expect((await raw(emu, '/api/gateways', { json: { name: 'x' } })).status).toBe(400);
    const ct = await raw(emu, '/api/gateways', { json: { ...JIBU_GATEWAY, contentType: 'APPLICATION_YAML' } });
    expect(ct.status).toBe(400);
    expect((ct.body as { message: string }).message).toMatch(
      /contentType must be one of APPLICATION_JSON, APPLICATION_XML, FORM_URL_ENCODED, TEXT_PLAIN/,
    );
    expect(((await raw(emu, '/api/gateways')).body as { gateways: unknown[] }).gateways).toEqual([]);
  });

  it('PUT replaces the configuration; sending back the hidden value keeps the secret', async () => {
    const { emu, calls } = rig();
    const uid = await addGateway(emu);
    const read = (await raw(emu, `/api/gateways/${uid}`)).body as Record<string, unknown>;
    const put = await raw(emu, `/api/gateways/${uid}`, {
      method: 'PUT',
      json: { ...read, configurationTemplate: '{"recipients":"${recipients}","message":"${text}"}' },
    });
    expect(put.body).toMatchObject({ status: 'OK', message: `Gateway with uid: ${uid} has been updated` });
    await send(emu, 'Hi', ['+254700000001']);
    expect(calls[0]!.headers.get('x-jibu-key')).toBe(SECRET);
    expect(calls[0]!.body).toBe('{"recipients":"254700000001","message":"Hi"}');
    expect(
      ((await raw(emu, '/api/gateways')).body as { gateways: Array<{ isDefault: boolean; uid: string }> }).gateways,
    ).toEqual([expect.objectContaining({ uid, isDefault: true })]);
  });

  it.each([
    ['2.41', SECRET],
    ['2.42', SECRET],
    ['2.40', ''],
    ['2.38', ''],
  ])(
    '%s: a PUT with a blank confidential value sends %j afterwards (2.41+ keep the stored secret, earlier versions overwrite it)',
    async (version, expected) => {
      const { emu, calls } = rig(version);
      const uid = await addGateway(emu);
      await raw(emu, `/api/gateways/${uid}`, {
        method: 'PUT',
        json: { ...JIBU_GATEWAY, parameters: [{ ...JIBU_GATEWAY.parameters[0], value: '' }] },
      });
      await send(emu, 'Hi', ['+254700000001']);
      expect(calls[0]!.headers.get('x-jibu-key')).toBe(expected);
    },
  );

  it('a PUT with a new confidential value uses it', async () => {
    const { emu, calls } = rig();
    const uid = await addGateway(emu);
    await raw(emu, `/api/gateways/${uid}`, {
      method: 'PUT',
      json: { ...JIBU_GATEWAY, parameters: [{ ...JIBU_GATEWAY.parameters[0], value: 'rotated-key' }] },
    });
    await send(emu, 'Hi', ['+254700000001']);
    expect(calls[0]!.headers.get('x-jibu-key')).toBe('rotated-key');
  });

  it('PUT /default/{uid}, unknown uids and DELETE answer as DHIS2 does; deleting the only gateway leaves no default', async () => {
    const { emu } = rig();
    const uid = await addGateway(emu);
    expect((await raw(emu, `/api/gateways/default/${uid}`, { method: 'PUT' })).body).toMatchObject({
      status: 'OK',
      message: 'Jibu is set to default',
    });
    for (const [path, method] of [
      ['/api/gateways/default/xyz', 'PUT'],
      ['/api/gateways/xyz', 'PUT'],
      ['/api/gateways/xyz', 'DELETE'],
      ['/api/gateways/xyz', 'GET'],
    ] as const) {
      const res = await raw(emu, path, method === 'PUT' ? { method, json: JIBU_GATEWAY } : { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({
        httpStatus: 'Not Found',
        status: 'ERROR',
        message: 'SmsGatewayConfig with id xyz could not be found.',
      });
    }
    expect((await raw(emu, `/api/gateways/${uid}`, { method: 'DELETE' })).body).toMatchObject({
      status: 'OK',
      message: 'Gateway removed successfully',
    });
    expect(((await raw(emu, '/api/gateways')).body as { gateways: unknown[] }).gateways).toEqual([]);
    expect((await raw(emu, '/api/gateways/default')).status).toBe(404);
  });

  it('needs F_MOBILE_SENDSMS (or ALL): others get 403', async () => {
    const { emu } = rig('2.40');
    const noSms = emulator('2.40', {
      seed: false,
      users: [
        {
          id: 'aUserNoSms1',
          username: 'clerk',
          password: 'Clerk123!',
          organisationUnits: [],
          authorities: ['F_TRACKED_ENTITY_INSTANCE_SEARCH'],
        },
      ],
    });
    const basic = `Basic ${Buffer.from('clerk:Clerk123!').toString('base64')}`;
    expect((await raw(noSms, '/api/gateways', { headers: { Authorization: basic } })).status).toBe(403);
    expect(
      (
        await raw(noSms, '/api/sms/outbound', {
          headers: { Authorization: basic },
          json: { message: 'x', recipients: ['1'] },
        })
      ).status,
    ).toBe(403);
    expect((await raw(emu, '/api/gateways')).status).toBe(200);
  });
});

describe('POST /api/sms/outbound', () => {
  it('sends through the default gateway exactly as the template says and records a SENT OutboundSms', async () => {
    const { emu, calls } = rig('2.40');
    await addGateway(emu);
    const res = await send(emu, TEXT, ['+254700000001', '+254700000002', '+254700000001']);
    expect(res.body).toStrictEqual({ httpStatus: 'OK', httpStatusCode: 200, status: 'OK', message: 'SMS sent' });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      url: JIBU_GATEWAY.urlTemplate,
      method: 'POST',
      body: `{"to":"254700000001,254700000002","text":"${javaUrlEncode(TEXT)}"}`,
    });
    expect(calls[0]!.headers.get('content-type')).toBe('application/json');
    expect(calls[0]!.headers.get('x-jibu-key')).toBe(SECRET);

    const list = (await raw(emu, '/api/sms/outbound?fields=*')).body as {
      pager: unknown;
      outboundsmss: Array<Record<string, unknown>>;
    };
    expect(list.outboundsmss).toEqual([
      expect.objectContaining({
        message: TEXT,
        recipients: ['254700000001', '254700000002'],
        status: 'SENT',
        id: expect.any(String),
        created: expect.any(String),
      }),
    ]);
    expect((await raw(emu, '/api/sms/outbound')).body).toMatchObject({
      outboundsmss: [{ id: list.outboundsmss[0]!.id }],
    });
    expect(
      ((await raw(emu, '/api/sms/outbound?fields=id&filter=status:eq:FAILED')).body as { outboundsmss: unknown[] })
        .outboundsmss,
    ).toEqual([]);
    expect((await raw(emu, `/api/sms/outbound/${String(list.outboundsmss[0]!.id)}`)).body).toMatchObject({
      status: 'SENT',
      message: TEXT,
    });
  });

  it('2.38 substitutes the raw text; 2.39+ the URL-encoded text (SmsUtils.encode)', async () => {
    for (const [version, text] of [
      ['2.38', TEXT],
      ['2.39', javaUrlEncode(TEXT)],
      ['2.42', javaUrlEncode(TEXT)],
    ] as const) {
      const { emu, calls } = rig(version);
      await addGateway(emu);
      await send(emu, TEXT, ['+254700000001']);
      expect(JSON.parse(calls[0]!.body!), version).toEqual({ to: '254700000001', text });
    }
  });

  it('takes ?recipient=&message= too: one recipient; a missing parameter is 400, an empty one 409', async () => {
    const { emu, calls } = rig();
    await addGateway(emu);
    const q = new URLSearchParams({ recipient: '+254700000009', message: 'Hello there' });
    expect(
      (await raw(emu, `/api/sms/outbound?${q}`, { method: 'POST', headers: { 'Content-Type': 'text/plain' } })).body,
    ).toMatchObject({ message: 'SMS sent' });
    expect(JSON.parse(calls[0]!.body!)).toEqual({ to: '254700000009', text: 'Hello+there' });
    const missing = await raw(emu, '/api/sms/outbound?message=x', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(missing.status).toBe(400);
    expect((missing.body as { message: string }).message).toMatch(/recipient/);
    expect(
      (
        await raw(emu, '/api/sms/outbound?recipient=&message=x', {
          method: 'POST',
          headers: { 'Content-Type': 'text/plain' },
        })
      ).body,
    ).toMatchObject({ httpStatusCode: 409, message: 'Recipient must be specified' });
    expect(calls).toHaveLength(1);
  });

  it('with no gateway: 500 "No default gateway configured", nothing sent, nothing stored', async () => {
    const { emu, calls } = rig();
    const res = await send(emu, 'Hi', ['+254700000001']);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({
      httpStatus: 'Internal Server Error',
      httpStatusCode: 500,
      status: 'ERROR',
      message: 'No default gateway configured',
    });
    expect(calls).toEqual([]);
    expect(emu.sms.outbound).toEqual([]);
  });

  it('a gateway answering 403 gives 500 "failed" naming the HTTP status, and a FAILED OutboundSms', async () => {
    const { emu } = rig('2.40', () => new Response('{"code":"JIBU_BAD_WEBHOOK_KEY"}', { status: 403 }));
    await addGateway(emu);
    const res = await send(emu, 'Hi', ['+254700000001']);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({
      status: 'ERROR',
      message: 'failed',
      devMessage: expect.stringMatching(
        /Jibu answered HTTP 403 from POST https:\/\/jibu\.example\.org\/gateway\/dhis2/,
      ),
    });
    expect(
      ((await raw(emu, '/api/sms/outbound?fields=status')).body as { outboundsmss: unknown[] }).outboundsmss,
    ).toEqual([{ status: 'FAILED' }]);
  });

  it('an unreachable gateway is a failure too, with the network error as devMessage', async () => {
    const { emu } = rig('2.40', () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      });
    });
    await addGateway(emu);
    const res = await send(emu, 'Hi', ['+254700000001']);
    expect(res.body).toMatchObject({
      message: 'failed',
      devMessage: expect.stringMatching(/could not be reached: fetch failed \(ECONNREFUSED\)/),
    });
    expect(emu.sms.outbound.map((s) => s.status)).toEqual(['FAILED']);
  });

  it('splits more than 200 recipients into calls of at most 200, one OutboundSms for them all', async () => {
    const { emu, calls } = rig();
    await addGateway(emu);
    const many = Array.from({ length: 450 }, (_, i) => `+2547${String(i).padStart(8, '0')}`);
    expect((await send(emu, 'Campaign', many)).status).toBe(200);
    const batches = calls.map((c) => (JSON.parse(c.body!) as { to: string }).to.split(','));
    expect(batches.map((b) => b.length)).toEqual([200, 200, 50]);
    expect(batches.flat()).toEqual(many.map((m) => m.slice(1)));
    expect(emu.sms.outbound).toHaveLength(1);
    expect(emu.sms.outbound[0]!.recipients).toHaveLength(450);
  });

  it('the OutboundSms keeps the status of the last batch, as core does', async () => {
    let n = 0;
    const { emu } = rig('2.40', () => new Response('', { status: n++ === 0 ? 503 : 200 }));
    await addGateway(emu);
    const res = await send(
      emu,
      'Campaign',
      Array.from({ length: 201 }, (_, i) => `+2547${String(i).padStart(8, '0')}`),
    );
    expect(res.status).toBe(200);
    expect(emu.sms.outbound[0]!.status).toBe('SENT');
  });

  it('GET mode with URL parameters: a GET whose URL carries the recipients and the (twice-encoded) text', async () => {
    const { emu, calls } = rig('2.42');
    await addGateway(emu, {
      ...JIBU_GATEWAY,
      useGet: true,
      sendUrlParameters: true,
      contentType: 'FORM_URL_ENCODED',
      configurationTemplate: 'to=${recipients}&text=${text}',
    });
    await send(emu, 'Hi Amina, see you', ['+254700000001']);
    expect(calls[0]).toMatchObject({
      method: 'GET',
      body: undefined,
      url: 'https://jibu.example.org/gateway/dhis2?to=254700000001&text=Hi+Amina%252C+see+you',
    });
  });
});
