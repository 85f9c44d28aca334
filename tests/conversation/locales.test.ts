import { beforeAll, describe, expect, it } from 'vitest';
import { isGsm7, normalizePunctuation } from '../../src/channels/sms-text.ts';
import { loadFlowSet, SYSTEM_KEYS, type FlowSet } from '../../src/conversation/index.ts';
import { icuArgs, readLocales, type LocaleSet } from '../../src/conversation/locales.ts';
import {
  renderAsk,
  renderEnd,
  renderMenu,
  renderSay,
  menuView,
  paginate,
  menuHintLength,
  t,
  USSD_LIMIT,
  type RenderCtx,
} from '../../src/conversation/render.ts';
import { defaultHint } from '../../src/conversation/input.ts';
import { refName } from '../../src/conversation/schema.ts';
import { FLOWS, LANGS, LOCALES, ROOT, TZ, loadShipped } from './helpers.ts';
import { createDomainRegistry } from '../../src/conversation/actions/index.ts';
import { ALL_MODULES } from '../../src/conversation/actions/all.ts';
import { defaultDeployment } from '../../src/dhis2/deployment.ts';

/** The registry the gateway builds: built-ins plus every shipped capability. */
const shippedRegistry = () => createDomainRegistry(defaultDeployment(), ALL_MODULES);

let locales: LocaleSet;
let set: FlowSet;
beforeAll(async () => {
  const r = await readLocales(LOCALES, { defaultLocale: 'en', relativeTo: ROOT });
  expect(r.problems).toEqual([]);
  locales = r.set;
  set = await loadShipped();
});

describe('the shipped locales', () => {
  it('are exactly en, fr, pt, rw and sw', () => {
    expect([...locales.locales].sort()).toEqual([...LANGS]);
  });

  it.each(LANGS.filter((l) => l !== 'en'))('%s has every key English has, and no other', (lang) => {
    const en = [...(locales.entries.get('en')?.keys() ?? [])].sort();
    const other = [...(locales.entries.get(lang)?.keys() ?? [])].sort();
    expect(other).toEqual(en);
  });

  it.each(LANGS.filter((l) => l !== 'en'))('%s uses the same ICU parameters as English in every text', (lang) => {
    const mismatches: string[] = [];
    for (const [key, e] of locales.entries.get('en') ?? []) {
      const o = locales.entries.get(lang)?.get(key);
      if (typeof e.value !== 'string' || typeof o?.value !== 'string') {
        if (Array.isArray(e.value) !== Array.isArray(o?.value)) mismatches.push(`${key}: text vs list`);
        continue;
      }
      const a = [...icuArgs(e.value).keys()].sort().join();
      const b = [...icuArgs(o.value).keys()].sort().join();
      if (a !== b) mismatches.push(`${key}: en {${a}} vs ${lang} {${b}}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('have every system text the engine renders, with the parameters it passes', () => {
    for (const lang of LANGS) {
      for (const [key, params] of Object.entries(SYSTEM_KEYS)) {
        const e = locales.entries.get(lang)?.get(key);
        expect(e, `${lang} ${key}`).toBeDefined();
        if (params === 'words') expect(Array.isArray(e?.value), `${lang} ${key} is a word list`).toBe(true);
        else expect([...icuArgs(String(e?.value)).keys()].sort(), `${lang} ${key}`).toEqual([...params].sort());
      }
    }
  });

  it('use plural forms wherever a count appears', () => {
    for (const lang of LANGS) {
      for (const key of ['invalid.text', 'invalid.date_window', 'demo.advice.card']) {
        expect(String(locales.entries.get(lang)?.get(key)?.value), `${lang} ${key}`).toMatch(/, plural, /);
      }
    }
  });

  it('never use curly quotes, typographic dashes or invisible spaces (they double the SMS cost)', () => {
    const bad: string[] = [];
    for (const lang of LANGS) {
      for (const [key, e] of locales.entries.get(lang) ?? []) {
        for (const v of Array.isArray(e.value) ? e.value : [e.value])
          if (normalizePunctuation(v) !== v) bad.push(`${lang} ${key}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it.each(['en', 'sw', 'rw'])('%s is written entirely in GSM-7', (lang) => {
    const ucs2 = [...(locales.entries.get(lang) ?? [])]
      .filter(([, e]) => !(Array.isArray(e.value) ? e.value : [e.value]).every(isGsm7))
      .map(([k]) => k);
    expect(ucs2).toEqual([]);
  });

  it('load with no problem at all: no error and no warning', async () => {
    const r = await loadFlowSet({
      flowsDir: FLOWS,
      localesDir: LOCALES,
      registry: shippedRegistry(),
      defaultLocale: 'en',
      baseDir: ROOT,
      timeZone: TZ,
    });
    expect(r.ok ? r.warnings : r.problems).toEqual([]);
  });
});

describe('every static USSD screen of every shipped flow', () => {
  /** Sample values long enough to stand for real ones: dates, two-digit numbers, a 12-letter name. */
  const sample = (p: Record<string, unknown> | undefined) =>
    Object.fromEntries(
      Object.keys(p ?? {}).map((k) => [
        k,
        /date|visit|due/i.test(k) ? '2025-12-31' : /age|count|n$/i.test(k) ? 60 : 'XXXXXXXXXXXX',
      ]),
    );

  it.each(LANGS)('fits 160 characters in %s, with hints and navigation shown', (locale) => {
    const ctx: RenderCtx = { locales: set.locales, locale, channel: 'ussd', params: (p) => sample(p) };
    let screens = 0;
    for (const flow of set.flows.values()) {
      if (!flow.def.channels.includes('ussd')) continue;
      for (const [id, step] of Object.entries(flow.def.steps)) {
        const shown: string[] = [];
        if (step.type === 'menu') {
          const view = menuView(ctx, step, [{ params: sample(step.optionsFrom?.params) }]);
          const pages = paginate(ctx, view, menuHintLength(ctx));
          pages.forEach((_, page) => {
            for (const hint of [undefined, t(ctx, 'invalid.menu')])
              shown.push(renderMenu(ctx, view, { page, hint, canBack: true, atStart: false }).text);
          });
          expect(pages.flat().length, `${flow.id}.${id} pages hold every option`).toBe(view.labels.length);
        } else if (step.type === 'ask') {
          const d = defaultHint(step.input);
          const hints = [step.hint ? t(ctx, step.hint) : t(ctx, d.hint, d.params)];
          if (step.validator)
            set.registry.validators[refName(step.validator).name]?.hints.forEach((h) =>
              hints.push(t(ctx, h, { days: 99 })),
            );
          for (const hint of hints) {
            const screen = renderAsk(ctx, step, hint).text;
            expect(screen.startsWith(hint), `${flow.id}.${id} shows its hint in ${locale}`).toBe(true);
            shown.push(screen);
          }
        } else if (step.type === 'say') {
          shown.push(renderSay(ctx, step).text);
        } else if (step.type === 'end') {
          shown.push(renderEnd(ctx, step).text);
        }
        for (const s of shown) {
          screens++;
          expect(s.length, `${flow.id}.${id} in ${locale}:\n${s}`).toBeLessThanOrEqual(USSD_LIMIT);
          expect(isGsm7(s), `${flow.id}.${id} in ${locale} is GSM-7`).toBe(true);
          expect(s.endsWith('..'), `${flow.id}.${id} in ${locale} was not cut`).toBe(false);
        }
      }
    }
    expect(screens).toBeGreaterThan(20);
  });

  it.each(LANGS)('system screens fit 160 characters in %s', (locale) => {
    const ctx: RenderCtx = { locales: set.locales, locale, channel: 'ussd', params: () => ({}) };
    for (const key of Object.keys(SYSTEM_KEYS).filter((k) => k.startsWith('system.') || k.startsWith('invalid.'))) {
      expect(t(ctx, key, { min: 0, max: 120, days: 30 }).length, `${key} in ${locale}`).toBeLessThanOrEqual(USSD_LIMIT);
    }
  });
});

describe('memory of a loaded flow set', () => {
  it('the check renders through a scratch copy: the running translations compile only what is shown', async () => {
    const fresh = await loadShipped();
    // The checker rendered every screen of every flow in all five languages; none of it is kept.
    expect(fresh.locales.compiledCount).toBe(0);
    const scratch = fresh.locales.scratch();
    scratch.format('sw', 'demo.advice.card', { age: 9, visit: '2026-12-07' });
    expect(scratch.compiledCount).toBe(1);
    expect(fresh.locales.compiledCount).toBe(0);
    // Same translations: the copy and the running set render alike.
    expect(fresh.locales.format('sw', 'demo.advice.card', { age: 9, visit: '2026-12-07' })).toBe(
      scratch.format('sw', 'demo.advice.card', { age: 9, visit: '2026-12-07' }),
    );
    expect(fresh.locales.compiledCount).toBe(1);
  });
});
