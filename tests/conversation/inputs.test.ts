import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet } from '../../src/conversation/index.ts';
import { parseAnswer, parseDate, parseYesNo, todayIn, type ParseContext } from '../../src/conversation/input.ts';
import { builtinValidators } from '../../src/conversation/registry.ts';
import type { InputSpec } from '../../src/conversation/schema.ts';
import { NOW, TZ, loadShipped } from './helpers.ts';

let set: FlowSet;
let ctx: ParseContext;
const TODAY = '2025-11-25';
beforeAll(async () => {
  set = await loadShipped();
  ctx = { locales: set.locales, locale: 'en', today: TODAY, defaultCountry: 'KE' };
});

describe('today', () => {
  it('is the date in the deployment time zone, not UTC', () => {
    expect(todayIn(new Date('2025-11-25T22:30:00Z'), 'Africa/Nairobi')).toBe('2025-11-26');
    expect(todayIn(new Date('2025-11-25T22:30:00Z'), 'Africa/Abidjan')).toBe('2025-11-25');
    expect(todayIn(NOW, TZ)).toBe(TODAY);
  });
});

describe('date answers', () => {
  it.each([
    ['25122025', '2025-12-25'],
    ['01012026', '2026-01-01'],
    ['25/12/2025', '2025-12-25'],
    ['5/1/2026', '2026-01-05'],
    ['25-12-25', '2025-12-25'],
    ['25.12.2025', '2025-12-25'],
    [' 25 12 2025 ', '2025-12-25'],
  ])('reads %s as %s', (input, iso) => {
    expect(parseDate(input, TODAY, set.locales)).toBe(iso);
  });

  it('reads DD/MM as the date nearest to today, across a new year', () => {
    expect(parseDate('28/11', TODAY, set.locales)).toBe('2025-11-28');
    expect(parseDate('03/01', TODAY, set.locales)).toBe('2026-01-03');
    expect(parseDate('20/11', TODAY, set.locales)).toBe('2025-11-20');
    expect(parseDate('28/12', '2026-01-02', set.locales)).toBe('2025-12-28');
  });

  it.each([['31022025'], ['29022025'], ['32/01'], ['00/10/2025'], ['12345'], ['tomorrowish'], [''], ['2025-12-25']])(
    'refuses %s',
    (input) => {
      expect(parseDate(input, TODAY, set.locales)).toBeNull();
    },
  );

  it('accepts 29 February in a leap year', () => {
    expect(parseDate('29022028', TODAY, set.locales)).toBe('2028-02-29');
  });

  it.each([
    ['en', 'tomorrow', '2025-11-26'],
    ['en', 'TODAY', '2025-11-25'],
    ['en', 'yesterday', '2025-11-24'],
    ['fr', 'demain', '2025-11-26'],
    ['fr', "aujourd'hui", '2025-11-25'],
    ['fr', 'Aujourd’hui', '2025-11-25'],
    ['fr', 'hier', '2025-11-24'],
    ['sw', 'kesho', '2025-11-26'],
    ['sw', 'Leo', '2025-11-25'],
    ['sw', 'jana', '2025-11-24'],
    ['rw', 'ejo', '2025-11-26'],
    ['rw', 'uyu munsi', '2025-11-25'],
    ['rw', 'ejo hashize', '2025-11-24'],
    ['pt', 'amanhã', '2025-11-26'],
    ['pt', 'hoje', '2025-11-25'],
    ['pt', 'ontem', '2025-11-24'],
  ])('%s: "%s" is %s', (_locale, word, iso) => {
    expect(parseDate(word, TODAY, set.locales)).toBe(iso);
  });

  it('every tomorrow word of every locale means tomorrow', () => {
    for (const { word } of set.locales.wordsAnyLocale('words.tomorrow'))
      expect(parseDate(word, TODAY, set.locales), word).toBe('2025-11-26');
  });
});

describe('date validators', () => {
  const args = { params: {}, vars: {}, data: {}, now: NOW, today: TODAY };
  it('date.notPast refuses yesterday and accepts today', () => {
    expect(builtinValidators['date.notPast']?.run('2025-11-24', args)).toEqual({ hint: 'invalid.date_past' });
    expect(builtinValidators['date.notPast']?.run('2025-11-25', args)).toBe(true);
  });
  it('date.notFuture refuses tomorrow', () => {
    expect(builtinValidators['date.notFuture']?.run('2025-11-26', args)).toEqual({ hint: 'invalid.date_future' });
  });
  it('date.within keeps a reschedule inside its window', () => {
    const within = builtinValidators['date.within'];
    const p = { ...args, params: { days: 14 } };
    expect(within?.run('2025-12-09', p)).toBe(true);
    expect(within?.run('2025-12-10', p)).toEqual({ hint: 'invalid.date_window', params: { days: 14 } });
    expect(within?.run('2025-11-24', p)).toEqual({ hint: 'invalid.date_past' });
  });
});

describe('other answers', () => {
  it('yes/no take 1/2 and the words of every locale', () => {
    for (const [w, v] of [
      ['1', true],
      ['2', false],
      ['yes', true],
      ['Ndiyo', true],
      ['oui', true],
      ['YEGO', true],
      ['sim', true],
      ['hapana', false],
      ['oya', false],
      ['NÃO', false],
      ['non', false],
      ['maybe', null],
    ] as const) {
      expect(parseYesNo(w, set.locales), w).toBe(v);
    }
  });

  it('numbers respect the range and refuse decimals when integers are asked', () => {
    const spec = { kind: 'number', min: 0, max: 60, integer: true } as const;
    expect(parseAnswer(spec, ' 12 ', ctx)).toEqual({ ok: true, value: 12 });
    expect(parseAnswer(spec, '0', ctx)).toEqual({ ok: true, value: 0 });
    expect(parseAnswer(spec, '61', ctx)).toEqual({ ok: false, hint: 'invalid.number', params: { min: 0, max: 60 } });
    expect(parseAnswer(spec, '1.5', ctx).ok).toBe(false);
    expect(parseAnswer({ ...spec, integer: false }, '1,5', ctx)).toEqual({ ok: true, value: 1.5 });
  });

  it('phone numbers come back in E.164, read with the country', () => {
    expect(parseAnswer({ kind: 'phone' }, '0711 000 111', ctx)).toEqual({ ok: true, value: '+254711000111' });
    expect(parseAnswer({ kind: 'phone', country: 'RW' }, '0788123456', ctx)).toEqual({
      ok: true,
      value: '+250788123456',
    });
    expect(parseAnswer({ kind: 'phone' }, '12', ctx)).toEqual({ ok: false, hint: 'invalid.phone' });
  });

  it('free text is trimmed and bounded', () => {
    const spec = { kind: 'text', maxLength: 10, minLength: 2 } as const;
    expect(parseAnswer(spec, '  fever   and rash ', ctx)).toEqual({
      ok: false,
      hint: 'invalid.text',
      params: { max: 10 },
    });
    expect(parseAnswer(spec, ' fever  ', ctx)).toEqual({ ok: true, value: 'fever' });
    expect(parseAnswer(spec, 'x', ctx).ok).toBe(false);
  });

  it('choices take a number, a value or a label', () => {
    const spec: InputSpec = {
      kind: 'choice',
      options: [
        { value: 'confirm', label: 'answer.yes' },
        { value: 'move', label: 'answer.no' },
      ],
    };
    expect(parseAnswer(spec, '2', ctx)).toEqual({ ok: true, value: 'move' });
    expect(parseAnswer(spec, 'CONFIRM', ctx)).toEqual({ ok: true, value: 'confirm' });
    expect(parseAnswer(spec, 'no', ctx)).toEqual({ ok: true, value: 'move' });
    expect(parseAnswer(spec, '3', ctx)).toEqual({ ok: false, hint: 'invalid.menu' });
  });

  it('a step hint replaces the default hint', () => {
    expect(parseAnswer({ kind: 'date' }, 'soon', ctx, 'demo.ask.age_hint')).toEqual({
      ok: false,
      hint: 'demo.ask.age_hint',
    });
  });
});
