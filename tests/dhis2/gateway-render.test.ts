import { describe, expect, it } from 'vitest';
import {
  GatewayConfigError,
  javaUrlEncode,
  renderGatewayRequest,
  springEncodeQuery,
  stripPhonePrefix,
  substituteTemplate,
  type GenericHttpGateway,
} from '../../src/emulator/gateway-render.ts';

const TEXT = "Dear parent, Amina's visit is on 05/03 (Jumba) — 100% free!";
const TO = ['254700000001', '254700000002'];
const KEY = { key: 'X-Jibu-Key', value: 's3cret', header: true, encode: false, confidential: true };

function gateway(over: Partial<GenericHttpGateway> = {}): GenericHttpGateway {
  return {
    urlTemplate: 'https://jibu.example.org/gateway/dhis2',
    configurationTemplate: '{"to":"${recipients}","text":"${text}"}',
    useGet: false,
    sendUrlParameters: false,
    contentType: 'APPLICATION_JSON',
    parameters: [KEY],
    ...over,
  };
}

describe("Java's URLEncoder, as SmsUtils.encode applies it to ${text}", () => {
  it('keeps letters, digits and .-*_, turns spaces into + and everything else into upper-case %XX of the UTF-8 bytes', () => {
    expect(javaUrlEncode("a b*c-d_e.f~g!h'i(j)k")).toBe('a+b*c-d_e.f%7Eg%21h%27i%28j%29k');
    expect(javaUrlEncode('+254 7/3, é 😀')).toBe('%2B254+7%2F3%2C+%C3%A9+%F0%9F%98%80');
  });

  it('round-trips through form decoding for any text', () => {
    for (const s of [TEXT, 'kesho saa 3 asubuhi', 'a&b=c?d#e', 'ñandú ☂']) {
      expect(new URLSearchParams(`t=${javaUrlEncode(s)}`).get('t')).toBe(s);
    }
  });
});

describe('StringSubstitutor rules for configurationTemplate', () => {
  it('replaces known names, leaves unknown ones, honours $${ escapes and :- defaults', () => {
    const values = { text: 'Hi', recipients: '2547', sender: 'JIBU' };
    expect(
      substituteTemplate('${text}|${recipients}|${sender}|${nope}|$${text}|${missing:-dflt}|${text:-x}', values),
    ).toBe('Hi|2547|JIBU|${nope}|${text}|dflt|Hi');
  });

  it('does not treat $ or { in the values as template syntax', () => {
    expect(substituteTemplate('{"text":"${text}"}', { text: '${recipients} costs $5' })).toBe(
      '{"text":"${recipients} costs $5"}',
    );
  });
});

describe("Spring's UriComponentsBuilder.encode() on a query", () => {
  it('percent-encodes what a query parameter may not hold, % included, and keeps + , : / ?', () => {
    expect(springEncodeQuery('to=254700000001,254700000002&text=Hi there+you%2C ñ')).toBe(
      'to=254700000001,254700000002&text=Hi%20there+you%252C%20%C3%B1',
    );
    expect(springEncodeQuery('key=a?b=c&x')).toBe('key=a?b%3Dc&x');
  });
});

describe('the request a Generic HTTP gateway sends', () => {
  it('JSON: POSTs the rendered template to urlTemplate with the content type and the key header; recipients joined with commas', () => {
    const req = renderGatewayRequest(gateway(), TEXT, TO, { encodeText: true });
    expect(req).toEqual({
      method: 'POST',
      url: 'https://jibu.example.org/gateway/dhis2',
      headers: { 'Content-Type': 'application/json', 'X-Jibu-Key': 's3cret' },
      body: `{"to":"254700000001,254700000002","text":"${javaUrlEncode(TEXT)}"}`,
    });
  });

  it('2.38 (encodeText off) substitutes the raw text', () => {
    const req = renderGatewayRequest(gateway(), 'Hi Amina', TO, { encodeText: false });
    expect(req.body).toBe('{"to":"254700000001,254700000002","text":"Hi Amina"}');
  });

  it.each([
    [
      'FORM_URL_ENCODED',
      'application/x-www-form-urlencoded',
      'to=${recipients}&text=${text}',
      `to=254700000001,254700000002&text=${javaUrlEncode(TEXT)}`,
    ],
    [
      'APPLICATION_XML',
      'application/xml',
      '<sms><to>${recipients}</to><text>${text}</text></sms>',
      `<sms><to>254700000001,254700000002</to><text>${javaUrlEncode(TEXT)}</text></sms>`,
    ],
    ['TEXT_PLAIN', 'text/plain', '${recipients}: ${text}', `254700000001,254700000002: ${javaUrlEncode(TEXT)}`],
  ] as const)('%s: Content-Type %s and the template rendered as written', (contentType, media, template, body) => {
    const req = renderGatewayRequest(gateway({ contentType, configurationTemplate: template }), TEXT, TO, {
      encodeText: true,
    });
    expect(req.headers['Content-Type']).toBe(media);
    expect(req.body).toBe(body);
  });

  it('non-header parameters are template values, not URL parameters; header ones are headers', () => {
    const req = renderGatewayRequest(
      gateway({
        configurationTemplate: '{"to":"${recipients}","text":"${text}","from":"${sender}","user":"${user}"}',
        parameters: [
          KEY,
          { key: 'sender', value: 'JIBU', header: false, encode: false, confidential: false },
          { key: 'user', value: 'dhis', header: false, encode: false, confidential: true },
        ],
      }),
      'Hi',
      TO,
      { encodeText: true },
    );
    expect(req.url).toBe('https://jibu.example.org/gateway/dhis2');
    expect(req.headers).toEqual({ 'Content-Type': 'application/json', 'X-Jibu-Key': 's3cret' });
    expect(req.body).toBe('{"to":"254700000001,254700000002","text":"Hi","from":"JIBU","user":"dhis"}');
  });

  it('encode: true sends Base64 of the value; a header named Authorization gets the Basic prefix', () => {
    const req = renderGatewayRequest(
      gateway({
        configurationTemplate: 'k=${apiKey}',
        parameters: [
          { key: 'Authorization', value: 'dhis:pässword', header: true, encode: true, confidential: true },
          { key: 'X-Other', value: 'plain', header: true, encode: true, confidential: false },
          { key: 'apiKey', value: 'abc', header: false, encode: true, confidential: false },
        ],
      }),
      'Hi',
      TO,
      { encodeText: true },
    );
    expect(req.headers.Authorization).toBe(`Basic ${Buffer.from('dhis:pässword', 'utf8').toString('base64')}`);
    expect(req.headers['X-Other']).toBe('cGxhaW4=');
    expect(req.body).toBe('k=YWJj');
  });

  it('useGet with sendUrlParameters: a GET to urlTemplate?body, the already-encoded text encoded again, no body', () => {
    const req = renderGatewayRequest(
      gateway({
        useGet: true,
        sendUrlParameters: true,
        contentType: 'FORM_URL_ENCODED',
        configurationTemplate: 'to=${recipients}&text=${text}',
      }),
      'Hi Amina, 05/03',
      TO,
      { encodeText: true },
    );
    expect(req.method).toBe('GET');
    expect(req.body).toBeUndefined();
    expect(req.url).toBe(
      'https://jibu.example.org/gateway/dhis2?to=254700000001,254700000002&text=Hi+Amina%252C+05%252F03',
    );
  });

  it('useGet without sendUrlParameters reaches the provider with nothing but the bare URL', () => {
    const req = renderGatewayRequest(gateway({ useGet: true }), 'Hi', TO, { encodeText: true });
    expect(req).toMatchObject({ method: 'GET', url: 'https://jibu.example.org/gateway/dhis2' });
    expect(req.body).toBeUndefined();
  });

  it('sendUrlParameters with POST puts the rendered template in the URL and still sends it as the body', () => {
    const req = renderGatewayRequest(
      gateway({
        sendUrlParameters: true,
        contentType: 'FORM_URL_ENCODED',
        configurationTemplate: 'to=${recipients}&text=${text}',
      }),
      'Hi',
      ['254700000001'],
      { encodeText: true },
    );
    expect(req.method).toBe('POST');
    expect(req.url).toBe('https://jibu.example.org/gateway/dhis2?to=254700000001&text=Hi');
    expect(req.body).toBe('to=254700000001&text=Hi');
  });

  it('a key already in urlTemplate stays, and the body is appended after a second ? as Spring does', () => {
    const req = renderGatewayRequest(
      gateway({
        urlTemplate: 'https://jibu.example.org/gateway/dhis2?key=k1',
        useGet: true,
        sendUrlParameters: true,
        configurationTemplate: 'to=${recipients}',
      }),
      'Hi',
      ['254700000001'],
      { encodeText: true },
    );
    expect(req.url).toBe('https://jibu.example.org/gateway/dhis2?key=k1?to%3D254700000001');
  });

  it('no template: a POST without a body', () => {
    const { configurationTemplate: _drop, ...rest } = gateway();
    expect(renderGatewayRequest(rest, 'Hi', TO, { encodeText: true }).body).toBeUndefined();
  });

  it('refuses a missing or non-http(s) urlTemplate with GatewayConfigError', () => {
    expect(() => renderGatewayRequest(gateway({ urlTemplate: undefined }), 'Hi', TO, { encodeText: true })).toThrow(
      GatewayConfigError,
    );
    expect(() => renderGatewayRequest(gateway({ urlTemplate: 'ftp://x/y' }), 'Hi', TO, { encodeText: true })).toThrow(
      GatewayConfigError,
    );
  });

  it('numbers lose a leading + or 00 before reaching the gateway (SmsUtils.removePhoneNumberPrefix)', () => {
    expect(['+254700000001', '00254700000001', '0700000001', '254700000001'].map(stripPhonePrefix)).toEqual([
      '254700000001',
      '254700000001',
      '0700000001',
      '254700000001',
    ]);
  });
});
