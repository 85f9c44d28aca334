import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGsm7 } from '../../src/channels/sms-text.ts';
import { loadFlowSet, type FlowSet } from '../../src/conversation/index.ts';
import { FIXTURES, NOW, ROOT, TZ, TestPhone, fixtureLocales, fixtureRegistry, loadShipped } from './helpers.ts';

let shipped: FlowSet;
let fixtures: FlowSet;
let cleanup: () => Promise<void> = async () => undefined;
beforeAll(async () => {
  shipped = await loadShipped();
  const loc = await fixtureLocales();
  cleanup = loc.cleanup;
  const r = await loadFlowSet({
    flowsDir: path.join(FIXTURES, 'flows'),
    localesDir: loc.dir,
    registry: fixtureRegistry(),
    defaultLocale: 'en',
    locales: ['en'],
    baseDir: ROOT,
    timeZone: TZ,
  });
  if (!r.ok) expect.fail('fixture flows did not load');
  fixtures = r.set;
});
afterAll(() => cleanup());

/** What people actually send: menu numbers, navigation keys, dates, keywords, noise. */
const input = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('1', '2', '3', '4', '5', '9', '11', '0', '00', '98', '99', '') },
  { weight: 2, arbitrary: fc.integer({ min: -5, max: 200 }).map(String) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('25122025', '26/11', 'kesho', 'demain', 'ndiyo', 'yes', 'Oya', '31022025', '0711000111'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'STOP',
      'start',
      'HELP',
      'aide',
      'LANG',
      'lugha sw',
      'LANG FR',
      'menu',
      'Arrêt',
      'URURIMI',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }) },
);
/** One hop in ten is a fresh dial (the person hung up and dialled again). */
const hop = fc.record({ input, redial: fc.integer({ min: 0, max: 9 }).map((n) => n === 0) });
const children = fc.array(
  fc.record({ name: fc.string({ maxLength: 40 }), due: fc.constantFrom('2025-11-27', 'not a date', '') }),
  { maxLength: 40 },
);

describe('any sequence of inputs', () => {
  it('over USSD never throws, always answers, within 160 GSM-7 characters, ending exactly when the session ends', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(hop, { minLength: 1, maxLength: 25 }),
        fc.constantFrom('en', 'fr', 'pt', 'rw', 'sw', undefined),
        async (hops, locale) => {
          const phone = new TestPhone(shipped, 'ussd');
          phone.contact = { optedOut: false, ...(locale ? { locale } : {}) };
          let r = await phone.dial();
          for (const h of hops) {
            r = h.redial || r.reply?.end ? await phone.dial() : await phone.send(h.input);
            expect(r.error).toBeUndefined();
            expect(r.reply).not.toBeNull();
            const screen = r.reply?.text ?? '';
            expect(screen.length).toBeGreaterThan(0);
            expect(screen.length).toBeLessThanOrEqual(160);
            expect(isGsm7(screen)).toBe(true);
            expect(r.reply?.end).toBe(r.session === null);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('over USSD with menus built from any data (long names, odd values) still fits every screen', async () => {
    await fc.assert(
      fc.asyncProperty(children, fc.array(input, { minLength: 1, maxLength: 12 }), async (kids, inputs) => {
        const phone = new TestPhone(fixtures, 'ussd', '+254700000002', '*384*99#');
        phone.data = { children: kids };
        let r = await phone.dial();
        for (const i of inputs) {
          if (r.reply?.end) r = await phone.dial();
          r = await phone.send(i);
          expect(r.error).toBeUndefined();
          expect(r.reply?.text.length ?? 0).toBeGreaterThan(0);
          expect(r.reply?.text.length ?? 999).toBeLessThanOrEqual(160);
          expect(isGsm7(r.reply?.text ?? '')).toBe(true);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('over SMS never throws and always answers with a measured reply', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 25 }), fc.boolean(), async (inputs, optedOut) => {
        const phone = new TestPhone(shipped, 'sms');
        phone.contact = { optedOut };
        for (const i of inputs) {
          const r = await phone.send(i);
          expect(r.error).toBeUndefined();
          expect(r.reply?.text.length ?? 0).toBeGreaterThan(0);
          expect(r.reply?.measure?.segments ?? 0).toBeGreaterThan(0);
          expect(r.sessionTtlMs).toBeGreaterThan(0);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('is deterministic: the same inputs at the same time give the same results', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 15 }), async (inputs) => {
        const a = new TestPhone(shipped, 'sms');
        const b = new TestPhone(shipped, 'sms');
        a.now = b.now = NOW;
        for (const i of inputs) expect(await b.send(i)).toEqual(await a.send(i));
      }),
      { numRuns: 40 },
    );
  });
});
