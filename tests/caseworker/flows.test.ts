import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { measureSms } from '../../src/channels/sms-text.ts';
import { loadFlowSet, type FlowSet } from '../../src/conversation/index.ts';
import { createDomainRegistry } from '../../src/conversation/actions/index.ts';
import { ALL_MODULES } from '../../src/conversation/actions/all.ts';
import { menuHintLength, menuView, paginate, renderAsk, type RenderCtx } from '../../src/conversation/render.ts';
import { defaultDeployment } from '../../src/dhis2/deployment.ts';
import { LANGS, loadCaseWorkerSet, ROOT, TZ } from './helpers.ts';

/** The case-worker flows and texts as files: they load clean, and their fixed menus fit one USSD page. */

let loaded: Awaited<ReturnType<typeof loadCaseWorkerSet>>;
let set: FlowSet;
beforeAll(async () => {
  loaded = await loadCaseWorkerSet();
  set = loaded.set!;
});

describe('the case-worker flows and texts', () => {
  it('load with no problem and no warning: every text in five languages, same parameters, every key used', () => {
    expect([...loaded.problems, ...loaded.warnings].map((p) => `${p.file}:${p.line ?? '?'} ${p.message}`)).toEqual([]);
    expect([...set.flows.keys()].sort()).toEqual(['caseworker', 'caseworker-sms', 'demo']);
  });

  it("load with every module of the build, beside the other capabilities' flows, without a problem of their own", async () => {
    const registry = createDomainRegistry(defaultDeployment(), ALL_MODULES);
    const r = await loadFlowSet({
      flowsDir: path.join(ROOT, 'flows'),
      localesDir: path.join(ROOT, 'locales'),
      registry,
      defaultLocale: 'en',
      baseDir: ROOT,
      timeZone: TZ,
      defaultCountry: 'KE',
    });
    const problems = r.ok ? r.warnings : r.problems;
    expect(problems.filter((p) => /caseworker/.test(p.file)).map((p) => p.message)).toEqual([]);
    if (r.ok)
      expect(r.set.flows.get('caseworker')?.def.entry).toMatchObject({ ussd: ['*384*12#'], role: 'caseWorker' });
  });

  it.each(LANGS)('show every fixed menu on one USSD page in %s, even with the invalid-choice hint', (locale) => {
    const flow = set.flows.get('caseworker')!;
    const ctx: RenderCtx = {
      locales: set.locales,
      locale,
      channel: 'ussd',
      params: (p) => Object.fromEntries(Object.keys(p ?? {}).map((k) => [k, k === 'count' ? 99 : 'Mwanajuma Wanjiku'])),
    };
    const paged: string[] = [];
    for (const [id, step] of Object.entries(flow.def.steps)) {
      if (step.type !== 'menu' || !step.options) continue;
      if (paginate(ctx, menuView(ctx, step, []), menuHintLength(ctx)).length > 1) paged.push(id);
    }
    expect(paged).toEqual([]);
  });

  it.each(LANGS)('fit the longest birth summary a worker can type on one screen in %s', (locale) => {
    const step = set.flows.get('caseworker')!.def.steps.birth_check!;
    if (step.type !== 'ask') throw new Error('birth_check is a yes/no question');
    const longest = {
      name: 'W'.repeat(30),
      sex: 'female',
      dob: '2025-11-20',
      carer: 'W'.repeat(30),
      phone: '+254722000111',
    };
    const ctx: RenderCtx = { locales: set.locales, locale, channel: 'ussd', params: () => longest };
    expect(renderAsk(ctx, step).text.length).toBeLessThanOrEqual(160);
  });

  it.each(LANGS)('send the sign-in code in one SMS in %s', (locale) => {
    const text = set.translate(locale, 'caseworker.sms.otp', { code: '123456' });
    expect(text).toContain('123456');
    expect(measureSms(text).segments).toBe(1);
  });
});
