import { describe, expect, it } from 'vitest';
import { smsBudgetProblems } from '../../src/cli/sms-budget.ts';
import type { ParsedFlow } from '../../src/conversation/check.ts';
import { LocaleSet, parseFlowFile } from '../../src/conversation/index.ts';
import type { LocaleEntry } from '../../src/conversation/locales.ts';

/** The SMS segment budget check, pure: a flow and texts in, warnings out. */

function flow(yaml: string): ParsedFlow {
  const r = parseFlowFile('flows/visit.yaml', yaml);
  if (!r.flow) throw new Error(r.problems.map((p) => `${p.line}: ${p.message}`).join('\n'));
  return r.flow;
}

function locales(texts: Record<string, Record<string, string | string[]>>): LocaleSet {
  const entries = new Map<string, Map<string, LocaleEntry>>();
  for (const [lang, keys] of Object.entries(texts)) {
    entries.set(
      lang,
      new Map(Object.entries(keys).map(([k, v]) => [k, { value: v, file: `locales/${lang}/visit.yaml`, line: 1 }])),
    );
  }
  return new LocaleSet(entries, 'en');
}

const SYSTEM = { 'answer.yes': 'Yes', 'answer.no': 'No' };
const LONG_EN =
  'Please bring the vaccination card and any medicine the child takes, and come before noon because the nurse leaves early on Fridays.';

const SAY_ACTION_END = `
id: visit
version: 1
channels: [sms]
entry: { sms: true }
start: info
steps:
  info: { type: say, text: visit.info, next: save }
  save: { type: action, action: vars.set, params: { x: 1 }, next: done }
  done: { type: end, text: visit.done }
`;

describe('smsBudgetProblems', () => {
  it('measures a say, through an action, together with the end text it flows into', () => {
    const set = locales({
      en: { ...SYSTEM, 'visit.info': LONG_EN, 'visit.done': 'Thank you. See you at the clinic on Friday.' },
    });
    const [p, ...rest] = smsBudgetProblems([flow(SAY_ACTION_END)], set, { budget: 1 });
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ file: 'flows/visit.yaml', line: 10, severity: 'warning' });
    expect(p?.message).toBe(
      "SMS reply at end done after say info is over the deployment's budget of 1 segment in en: up to 2 segments",
    );
  });

  it('is quiet when the budget allows the segments', () => {
    const set = locales({ en: { ...SYSTEM, 'visit.info': LONG_EN, 'visit.done': 'Thank you.' } });
    expect(smsBudgetProblems([flow(SAY_ACTION_END)], set, { budget: 2 })).toEqual([]);
  });

  it('names every locale over budget and the worst one, with the characters that force UCS-2', () => {
    const set = locales({
      en: { ...SYSTEM, 'visit.info': 'Bring the card.', 'visit.done': 'Thank you.' },
      pt: {
        ...SYSTEM,
        'visit.info': 'Traga o cartão de vacinação e os medicamentos da criança.',
        'visit.done': 'Obrigado. Até sexta-feira na clínica.',
      },
    });
    const [p] = smsBudgetProblems([flow(SAY_ACTION_END)], set, { budget: 1 });
    expect(p?.message).toMatch(/ in pt: up to 2 segments$/);
    expect(p?.hint).toMatch(/^worst: pt, \d+ UCS-2 units; UCS-2 because of "ã" "ç" "í"; /);
  });

  it('measures the folded text when the deployment folds accents', () => {
    const set = locales({
      en: SYSTEM,
      pt: {
        ...SYSTEM,
        'visit.info': 'Traga o cartão de vacinação e os medicamentos da criança.',
        'visit.done': 'Obrigado. Até sexta-feira na clínica.',
      },
    });
    expect(smsBudgetProblems([flow(SAY_ACTION_END)], set, { budget: 1, foldAccents: true })).toEqual([]);
  });

  it('counts a menu as its title and numbered options, and ignores flows without SMS', () => {
    const menu = `
id: visit
version: 1
channels: [sms]
entry: { sms: true }
start: pick
steps:
  pick:
    type: menu
    text: visit.pick
    options:
      - { label: visit.a, next: done }
      - { label: visit.b, next: done }
  done: { type: end }
`;
    const set = locales({ en: { ...SYSTEM, 'visit.pick': 'x'.repeat(150), 'visit.a': 'Come', 'visit.b': 'Move' } });
    const [p] = smsBudgetProblems([flow(menu)], set, { budget: 1 });
    // 150 + "\n1. Come" + "\n2. Move" = 166 characters: two segments.
    expect(p?.message).toMatch(/^SMS reply at menu pick is over .* up to 2 segments$/);
    expect(p?.hint).toMatch(/^worst: en, 166 GSM-7 units/);
    expect(
      smsBudgetProblems(
        [
          flow(
            menu
              .replace('channels: [sms]', 'channels: [ussd]')
              .replace('entry: { sms: true }', "entry: { ussd: ['*1#'] }"),
          ),
        ],
        set,
        { budget: 1 },
      ),
    ).toEqual([]);
  });
});
