import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import {
  latestUssdInput,
  parseAtDate,
  parseCost,
  parseDeliveryReport,
  parseInboundSms,
  parseUssd,
  parseUssdEvent,
  renderUssd,
  toUssdInbound,
} from '../../src/channels/africastalking/index.ts';
import { plainHop, ussdHopSchema } from '../../src/channels/africastalking/ussd.ts';
import type { ParseResult } from '../../src/channels/types.ts';
import { expectFields, formRequest, hostileBody, webhookRequest } from './helpers.ts';

const NOW = '2024-03-14T09:30:15.000Z';
const clock = fixedClock(NOW);
const SESSION = 'ATUid_5d3b4c2bc589f4811820a7184eed4df5';

function expectError<T>(result: ParseResult<T>, code: string, detail?: string): void {
  expect(result).toMatchObject({ ok: false, code });
  if (detail !== undefined && !result.ok) expect(result.detail).toContain(detail);
}

describe('parseUssd', () => {
  const ok: Array<[string, Record<string, unknown>]> = [
    [
      'ussd-first-hop.txt',
      {
        sessionId: SESSION,
        serviceCode: '*384*123#',
        phone: '+254711000111',
        providerPhone: '+254711000111',
        networkCode: '63902',
        path: '',
        isNew: true,
      },
    ],
    ['ussd-second-hop.txt', { path: '1', isNew: false }],
    ['ussd-phone-entry-hop.txt', { path: '1*2*0712345678', isNew: false }],
    ['ussd-empty-segment.txt', { path: '1**2', isNew: false }],
    ['ussd-sandbox.txt', { serviceCode: '*384*12#', phone: '+254700000001', networkCode: '99999', isNew: true }],
    ['ussd-no-network-code.txt', { path: '1', networkCode: undefined }],
  ];
  it.each(ok)('reads %s', (name, expected) => {
    const result = parseUssd(formRequest('africastalking', name), 'KE');
    expect(result.ok).toBe(true);
    if (result.ok) expectFields(result.value, expected);
  });

  const failures: Array<[string, string, string]> = [
    ['ussd-missing-phone.txt', 'JIBU_BAD_REQUEST', 'phoneNumber: missing'],
    ['ussd-missing-text.txt', 'JIBU_BAD_REQUEST', 'text: missing'],
    ['ussd-repeated-text.txt', 'JIBU_BAD_REQUEST', 'text: expected a single string'],
    ['ussd-empty-session.txt', 'JIBU_BAD_REQUEST', 'sessionId: empty'],
    ['ussd-garbage-phone.txt', 'JIBU_BAD_PHONE', 'phoneNumber'],
  ];
  it.each(failures)('refuses %s with %s', (name, code, detail) => {
    expectError(parseUssd(formRequest('africastalking', name), 'KE'), code, detail);
  });

  it('lists every missing field in one detail', () => {
    expectError(
      parseUssd(webhookRequest({ body: {} }), 'KE'),
      'JIBU_BAD_REQUEST',
      'sessionId: missing; serviceCode: missing; phoneNumber: missing; text: missing',
    );
  });

  it.each([
    ['no body at all', undefined],
    ['null', null],
    ['a JSON list', [{ sessionId: SESSION }]],
    ['a number', 42],
    ['a string', 'sessionId=x'],
  ])('refuses %s as the body', (_name, body) => {
    expectError(parseUssd(webhookRequest({ body }), 'KE'), 'JIBU_BAD_REQUEST', 'body');
  });

  it('refuses a huge text rather than carrying it through the conversation', () => {
    const body = {
      sessionId: SESSION,
      serviceCode: '*384*123#',
      phoneNumber: '+254711000111',
      text: '1*'.repeat(100_000),
    };
    expectError(parseUssd(webhookRequest({ body }), 'KE'), 'JIBU_BAD_REQUEST', 'text: too long');
  });
});

describe('the hand-read hop fields', () => {
  // parseUssd reads a well-formed hop by hand and leaves anything else to the schema: whatever the hand
  // reading gives, the schema must give too. Values are drawn around every bound and kind.
  const text = (max: number) =>
    fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom('', ' ', '  x  ', '\t\n', '\u00a0y\u2028'),
      fc.nat({ max: 3 }).chain((d) => fc.string({ minLength: max - 2 + d, maxLength: max - 2 + d })),
      fc.nat({ max: 3 }).map((d) => ` ${'a'.repeat(max - 2 + d)} `),
    );
  const odd = fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.boolean());
  const field = (max: number) => fc.oneof({ arbitrary: text(max), weight: 9 }, { arbitrary: odd, weight: 1 });
  const body = fc
    .record(
      {
        sessionId: field(256),
        serviceCode: field(64),
        phoneNumber: field(64),
        networkCode: fc.oneof(field(16), fc.constant(undefined)),
        text: field(4000),
        extra: fc.string(),
      },
      { requiredKeys: ['sessionId', 'serviceCode', 'phoneNumber', 'text'] },
    )
    .map((b) => ({ ...b }));

  it('gives what the schema gives, or leaves the body to it', () => {
    let read = 0;
    fc.assert(
      fc.property(fc.oneof(body, fc.record({ sessionId: fc.string() }), odd), (b) => {
        const plain = plainHop(b);
        if (plain === null) return;
        read++;
        const schema = ussdHopSchema.safeParse(b);
        expect(schema.success).toBe(true);
        expect(plain).toStrictEqual(schema.data);
      }),
      { numRuns: 4_000 },
    );
    expect(read).toBeGreaterThan(100);
  });
});

describe('latestUssdInput', () => {
  it.each([
    ['the first hop (empty text)', '', ''],
    ['the first input', '1', '1'],
    ['a second input after the first', '1*2', '2'],
    ['a phone number typed on the third hop', '1*2*0712345678', '0712345678'],
    ['an empty segment as the input', '1*', ''],
    ['an input after an empty segment', '1**2', '2'],
    ['a * typed inside one answer (a separator, as for AT)', '1*12*34', '34'],
  ])('returns the newest input for %s', (_name, path, expected) => {
    expect(latestUssdInput(path)).toBe(expected);
  });

  const input = fc.stringMatching(/^[0-9#]{0,12}$/);

  it('recovers every input of an AT session, hop by hop, from the accumulated text alone', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,12}$/), fc.array(input, { maxLength: 12 }), (first, rest) => {
        const inputs = [first, ...rest];
        expect(latestUssdInput('')).toBe('');
        inputs.forEach((typed, i) => {
          expect(latestUssdInput(inputs.slice(0, i + 1).join('*'))).toBe(typed);
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws, never returns a *, and never returns more than the end of the path', () => {
    fc.assert(
      fc.property(fc.string(), (path) => {
        const latest = latestUssdInput(path);
        expect(path.endsWith(latest)).toBe(true);
        expect(latest).not.toContain('*');
      }),
    );
  });
});

describe('renderUssd', () => {
  it('prefixes a screen that waits for input with CON and a space', () => {
    expect(renderUssd('Menu\n1. Register child\n2. Next visit', false)).toEqual({
      contentType: 'text/plain',
      body: 'CON Menu\n1. Register child\n2. Next visit',
    });
  });

  it('prefixes a closing screen with END and a space', () => {
    expect(renderUssd('Asante!', true)).toEqual({ contentType: 'text/plain', body: 'END Asante!' });
  });

  it('turns CRLF and CR line endings into LF, the only separator handsets render', () => {
    expect(renderUssd('a\r\nb\rc', false).body).toBe('CON a\nb\nc');
  });

  it('always starts with CON or END followed by a space', () => {
    fc.assert(
      fc.property(fc.string(), fc.boolean(), (text, end) => {
        expect(renderUssd(text, end).body).toMatch(/^(CON|END) /);
      }),
    );
  });
});

describe('toUssdInbound', () => {
  it("builds the final inbound message: the newest input as text, the raw path as the hop's dial path", () => {
    const hop = parseUssd(formRequest('africastalking', 'ussd-phone-entry-hop.txt'), 'KE');
    expect(hop.ok).toBe(true);
    if (!hop.ok) return;
    expect(toUssdInbound(hop.value, clock.now())).toEqual({
      channel: 'ussd',
      provider: 'africastalking',
      from: '+254711000111',
      providerFrom: '+254711000111',
      to: '*384*123#',
      text: '0712345678',
      providerMessageId: `${SESSION}:1*2*0712345678`,
      sessionId: SESSION,
      dialPath: '1*2*0712345678',
      networkCode: '63902',
      receivedAt: new Date(NOW),
    });
  });
});

describe('parseUssdEvent', () => {
  it('reads a successful session with a currency-prefixed cost', () => {
    const result = parseUssdEvent(formRequest('africastalking', 'ussd-event-success.txt'), 'KE');
    expect(result).toEqual({
      ok: true,
      value: {
        provider: 'africastalking',
        sessionId: SESSION,
        phone: '+254711000111',
        status: 'Success',
        durationMs: 45012,
        hopsCount: 5,
        cost: 0.1,
        currency: 'KES',
        date: new Date('2024-03-14T09:30:12Z'),
        serviceCode: '*384*123#',
        networkCode: '63902',
        input: '1*2*1',
        lastAppResponse: 'END Asante, tutakutumia SMS.',
      },
    });
  });

  it('reads a failed session with its error message and a bare cost', () => {
    const result = parseUssdEvent(formRequest('africastalking', 'ussd-event-failed.txt'), 'KE');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      status: 'Failed',
      errorMessage: 'Application response timed out',
      cost: 0.1,
      hopsCount: 2,
      lastAppResponse: 'CON Chagua:\n1. Mtoto',
    });
    expect(result.value.currency).toBeUndefined();
  });

  it('leaves out a date, cost, duration and hop count it cannot read instead of refusing the event', () => {
    const result = parseUssdEvent(formRequest('africastalking', 'ussd-event-incomplete-odd.txt'), 'KE');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.status).toBe('Incomplete');
    for (const field of ['date', 'cost', 'durationMs', 'hopsCount', 'errorMessage'] as const)
      expect(result.value[field]).toBeUndefined();
    expect(result.value.input).toBe('');
  });

  it('refuses an event without a status', () => {
    expectError(
      parseUssdEvent(formRequest('africastalking', 'ussd-event-missing-status.txt'), 'KE'),
      'JIBU_BAD_REQUEST',
      'status: missing',
    );
  });
});

describe('parseCost', () => {
  it.each([
    ['0.10', { amount: 0.1 }],
    ['KES 0.10', { amount: 0.1, currency: 'KES' }],
    ['KES0.8000', { amount: 0.8, currency: 'KES' }],
    ['ugx 150', { amount: 150, currency: 'UGX' }],
    ['1,250.50 NGN', { amount: 1250.5, currency: 'NGN' }],
    ['0', { amount: 0 }],
  ])('reads %j', (raw, expected) => {
    expect(parseCost(raw)).toEqual(expected);
  });

  it.each(['free', '', 'KES', 'KES 0.10 USD', '1.2.3', 'NaN'])('gives undefined for %j', (raw) => {
    expect(parseCost(raw)).toBeUndefined();
  });
});

describe('parseAtDate', () => {
  it.each([
    ['2017-05-03T06:04:45Z', '2017-05-03T06:04:45.000Z'],
    ['2017-05-03 06:04:45', '2017-05-03T06:04:45.000Z'],
    ['2017-05-03T09:04:45.250+03:00', '2017-05-03T06:04:45.250Z'],
    ['2017-05-03T06:04:45', '2017-05-03T06:04:45.000Z'],
    ['2024-02-29 23:59:59', '2024-02-29T23:59:59.000Z'],
  ])('reads %s as %s', (raw, iso) => {
    expect(parseAtDate(raw)?.toISOString()).toBe(iso);
  });

  it.each([
    '2017-02-30 10:00:00',
    '2017-05-03 25:61:00',
    '2023-02-29 00:00:00',
    '03/05/2017 06:04',
    '1493791485',
    'yesterday',
    '',
  ])('gives undefined for %j', (raw) => {
    expect(parseAtDate(raw)).toBeUndefined();
  });
});

describe('parseInboundSms', () => {
  it('reads the courier fixture with an ISO date and a linkId', () => {
    expect(parseInboundSms(formRequest('africastalking', 'sms-inbound-iso-date.txt'), 'KE', clock)).toEqual({
      ok: true,
      value: {
        channel: 'sms',
        provider: 'africastalking',
        from: '+254791541111',
        providerFrom: '+254791541111',
        to: '21512',
        text: 'Msg',
        providerMessageId: 'ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3',
        linkId: '03090445075804249226',
        receivedAt: new Date('2017-05-03T06:04:45Z'),
      },
    });
  });

  const ok: Array<[string, string, Record<string, unknown>]> = [
    [
      'sms-inbound-space-date.txt',
      '2017-05-03T06:04:45.000Z',
      { text: 'NDIYO', networkCode: '63902', linkId: undefined },
    ],
    [
      'sms-inbound-minimal.txt',
      '2017-05-03T06:04:45.000Z',
      { text: 'Habari za asubuhi', networkCode: undefined, linkId: undefined },
    ],
    ['sms-inbound-fraction-date.txt', '2017-05-03T06:04:45.250Z', { text: 'Msg' }],
    ['sms-inbound-odd-date.txt', NOW, { text: 'Msg' }],
    ['sms-inbound-no-date.txt', NOW, { text: 'Msg' }],
    ['sms-inbound-unicode.txt', '2017-05-03T06:04:45.000Z', { text: 'Chanjo ya mtoto – asante 🙏' }],
  ];
  it.each(ok)('reads %s (received at %s)', (name, receivedAt, expected) => {
    const result = parseInboundSms(formRequest('africastalking', name), 'KE', clock);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expectFields(result.value, expected);
    expect(result.value.receivedAt.toISOString()).toBe(receivedAt);
  });

  it.each([
    ['sms-inbound-missing-from.txt', 'JIBU_BAD_REQUEST', 'from: missing'],
    ['sms-inbound-missing-id.txt', 'JIBU_BAD_REQUEST', 'id: missing'],
  ])('refuses %s with %s', (name, code, detail) => {
    expectError(parseInboundSms(formRequest('africastalking', name), 'KE', clock), code, detail);
  });

  it('refuses a sender that is not a phone number', () => {
    const body = { from: 'SAFARICOM', to: '21512', text: 'Promo', id: 'x-1', date: '2017-05-03T06:04:45Z' };
    expectError(parseInboundSms(webhookRequest({ body }), 'KE', clock), 'JIBU_BAD_PHONE', 'from');
  });
});

describe('parseDeliveryReport', () => {
  const table: Array<[string, Record<string, unknown>]> = [
    ['dlr-sent.txt', { status: 'sent', rawStatus: 'Sent' }],
    ['dlr-submitted.txt', { status: 'sent', rawStatus: 'Submitted' }],
    ['dlr-buffered.txt', { status: 'sent', rawStatus: 'Buffered' }],
    ['dlr-success.txt', { status: 'delivered', rawStatus: 'Success' }],
    [
      'dlr-rejected-blacklist.txt',
      {
        status: 'failed',
        rawStatus: 'Rejected',
        failureReason: 'UserInBlackList',
        optOut: true,
        undeliverable: undefined,
      },
    ],
    [
      'dlr-failed-no-user.txt',
      {
        status: 'failed',
        rawStatus: 'Failed',
        failureReason: 'UserDoesNotExist',
        undeliverable: true,
        optOut: undefined,
      },
    ],
    [
      'dlr-failed-inactive.txt',
      { status: 'failed', failureReason: 'UserIsInactive', optOut: undefined, undeliverable: undefined },
    ],
    ['dlr-expired.txt', { status: 'failed', rawStatus: 'Expired' }],
    ['dlr-unknown-status.txt', { status: 'unknown', rawStatus: 'AbsentSubscriber' }],
  ];
  it.each(table)('reads %s', (name, expected) => {
    const result = parseDeliveryReport(formRequest('africastalking', name), 'KE', clock);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expectFields(result.value, {
      provider: 'africastalking',
      providerMessageId: 'ATXid_dda018a640edfcc5d2ce455de3e4a6e7',
      phone: '+254711000111',
      receivedAt: new Date(NOW),
      ...expected,
    });
  });

  it('refuses a report without the message id', () => {
    expectError(
      parseDeliveryReport(formRequest('africastalking', 'dlr-missing-id.txt'), 'KE', clock),
      'JIBU_BAD_REQUEST',
      'id: missing',
    );
  });

  it('does not mistake inherited property names for statuses', () => {
    const result = parseDeliveryReport(webhookRequest({ body: { id: 'ATXid_1', status: 'constructor' } }), 'KE', clock);
    expect(result).toMatchObject({ ok: true, value: { status: 'unknown' } });
  });
});

describe('hostile bodies', () => {
  const parsers: Array<[string, (body: unknown) => ParseResult<unknown>, string[]]> = [
    [
      'parseUssd',
      (body) => parseUssd(webhookRequest({ body }), 'KE'),
      ['sessionId', 'serviceCode', 'phoneNumber', 'networkCode', 'text'],
    ],
    [
      'parseUssdEvent',
      (body) => parseUssdEvent(webhookRequest({ body }), 'KE'),
      ['sessionId', 'phoneNumber', 'status', 'date', 'cost', 'durationInMillis', 'hopsCount', 'input'],
    ],
    [
      'parseInboundSms',
      (body) => parseInboundSms(webhookRequest({ body }), 'KE', clock),
      ['id', 'from', 'to', 'text', 'date', 'linkId', 'networkCode'],
    ],
    [
      'parseDeliveryReport',
      (body) => parseDeliveryReport(webhookRequest({ body }), 'KE', clock),
      ['id', 'status', 'phoneNumber', 'failureReason', 'networkCode'],
    ],
  ];
  it.each(parsers)('%s never throws and answers ok or a catalogue error for any body', (_name, parse, fields) => {
    fc.assert(
      fc.property(hostileBody(fields), (body) => {
        const result = parse(body);
        if (result.ok) expect(result.value).toBeTypeOf('object');
        else expect(['JIBU_BAD_REQUEST', 'JIBU_BAD_PHONE']).toContain(result.code);
      }),
      { numRuns: 1500 },
    );
  });
});
