import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configTable, loadConfig } from '../src/config.ts';
import { JibuError } from '../src/errors.ts';

describe('configuration', () => {
  it('runs on embedded defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.SMS_PROVIDER).toBe('console');
    expect(c.embedded).toEqual({ store: true, dhis2: true });
  });

  it('treats empty strings as unset, as docker-compose exports them', () => {
    const c = loadConfig({ REDIS_URL: '', DHIS2_URL: '', PORT: '' });
    expect(c.embedded.store).toBe(true);
    expect(c.PORT).toBe(3000);
  });

  it('lists every problem at once, type errors and missing companions alike', () => {
    let err: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        SMS_PROVIDER: 'twilio',
        TZ: 'Mars/Olympus',
        REDIS_URL: 'http://x',
        DHIS2_URL: 'https://play.dhis2.org',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JibuError);
    const detail = (err as JibuError).detail as string[];
    const fields = detail.map((d) => d.split(':')[0]);
    expect(fields).toEqual(
      expect.arrayContaining([
        'PORT',
        'REDIS_URL',
        'TWILIO_AUTH_TOKEN',
        'TWILIO_FROM',
        'TZ',
        'DHIS2_TOKEN',
        'ADMIN_TOKEN',
      ]),
    );
    expect((err as JibuError).code).toBe('JIBU_CONFIG_INVALID');
  });

  it("accepts a complete Africa's Talking production setting", () => {
    const c = loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6379',
      DHIS2_URL: 'https://dhis2.example.org',
      DHIS2_TOKEN: 'd2p_abc',
      ADMIN_TOKEN: 'a'.repeat(8) + '3f9c2e71b04d5a68e2c1f7b9d0a4e6c8',
      WEBHOOK_SECRET: '9b1e4c7d2a5f8e3b6c9d0a1f4e7b2c5d',
      PIN_PEPPER: '3f1c9a7e5b2d48f6a0c7e1b9d3f5a2c48e6b0d7f9a1c3e5b7d9f1a3c5e7b9d1f',
      SMS_PROVIDER: 'africastalking',
      AT_USERNAME: 'sandbox',
      AT_API_KEY: 'k',
      DEFAULT_COUNTRY: 'rw',
    });
    expect(c.embedded).toEqual({ store: false, dhis2: false });
    expect(c.DEFAULT_COUNTRY).toBe('RW');
  });

  it('keeps the heap growth at 30 % unless set, and refuses a value V8 would take as nonsense', () => {
    expect(loadConfig({}).HEAP_GROWING_PERCENT).toBe(30);
    expect(loadConfig({ HEAP_GROWING_PERCENT: '0' }).HEAP_GROWING_PERCENT).toBe(0);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: '-5' })).toThrow(/HEAP_GROWING_PERCENT/);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: '1000' })).toThrow(/HEAP_GROWING_PERCENT/);
  });

  it('keeps the README configuration table identical to the schema', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const between = readme.split('<!-- config-table:start -->')[1]?.split('<!-- config-table:end -->')[0]?.trim();
    expect(between, 'run `npm run docs:config` to regenerate the README table').toBe(configTable());
  });
});
