import { beforeAll, describe, expect, it } from 'vitest';
import { matchKeyword, type FlowSet } from '../../src/conversation/index.ts';
import { LANGS, TestPhone, loadShipped, text } from './helpers.ts';

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

const words = (locale: string, key: string): string[] => {
  const v = set.locales.entries.get(locale)?.get(key)?.value;
  return Array.isArray(v) ? v : [];
};

/** An SMS contact waiting on the age question (a reply timer running), in `locale`. */
function waiting(locale: string): TestPhone {
  const phone = new TestPhone(set, 'sms');
  phone.contact = { optedOut: false, locale };
  phone.send('hi');
  phone.send('2');
  expect(phone.session?.flowId).toBe('demo');
  return phone;
}

describe.each(LANGS)('keywords in %s', (locale) => {
  it('STOP opts out, ends the waiting conversation, cancels its timer and confirms in the language', () => {
    for (const word of words(locale, 'keywords.stop')) {
      const phone = waiting(locale);
      const r = phone.send(word);
      expect(r.outcome, word).toBe('keyword');
      expect(r.session).toBeNull();
      expect(r.effects).toContainEqual({ type: 'setContact', patch: { optedOut: true } });
      expect(r.effects.some((e) => e.type === 'cancelTimer')).toBe(true);
      expect(text(r)).toBe(set.translate(locale, 'system.stopped'));
    }
  });

  it('START opts back in and starts afresh with a welcome-back line', () => {
    for (const word of words(locale, 'keywords.start')) {
      const phone = waiting(locale);
      phone.send(words(locale, 'keywords.stop')[0] ?? 'STOP');
      expect(phone.contact.optedOut).toBe(true);
      const r = phone.send(word);
      expect(r.outcome, word).toBe('started');
      expect(r.effects).toContainEqual({ type: 'setContact', patch: { optedOut: false } });
      expect(text(r).split('\n')[0]).toBe(set.translate(locale, 'system.started'));
      expect(r.stepId).toBe('welcome');
    }
  });

  it('HELP answers and keeps the conversation waiting where it was', () => {
    for (const word of words(locale, 'keywords.help')) {
      const phone = waiting(locale);
      const before = phone.session;
      const r = phone.send(word);
      expect(r.outcome, word).toBe('keyword');
      expect(text(r)).toBe(set.translate(locale, 'system.help'));
      expect(r.session?.snapshot).toEqual(before?.snapshot);
      expect(phone.send('9').stepId).toBe('visit');
    }
  });

  it('the language keyword opens a menu of languages; choosing one switches and resumes the conversation', () => {
    for (const word of words(locale, 'keywords.language')) {
      const phone = waiting(locale);
      const menu = text(phone.send(word));
      expect(menu.split('\n')).toEqual([
        set.translate(locale, 'system.language_prompt'),
        '1. English',
        '2. Français',
        '3. Português',
        '4. Ikinyarwanda',
        '5. Kiswahili',
      ]);
      const r = phone.send('5');
      expect(r.effects).toContainEqual({ type: 'setContact', patch: { locale: 'sw' } });
      expect(r.locale).toBe('sw');
      expect(text(r)).toBe('Lugha sasa ni Kiswahili.\nMtoto wako ana umri wa miezi mingapi?');
      expect(phone.send('9').stepId).toBe('visit');
    }
  });

  it('the restart keyword drops the conversation and starts from the main menu', () => {
    for (const word of words(locale, 'keywords.restart')) {
      const phone = waiting(locale);
      const r = phone.send(word);
      expect(r.outcome, word).toBe('started');
      expect(r.stepId).toBe('welcome');
      expect(r.effects.some((e) => e.type === 'cancelTimer')).toBe(true);
    }
  });
});

describe('keyword matching', () => {
  it('ignores case, accents, spaces and trailing punctuation', () => {
    expect(matchKeyword('  arrêt! ', set.locales)).toEqual({ kind: 'stop' });
    expect(matchKeyword('Sitisha.', set.locales)).toEqual({ kind: 'stop' });
    expect(matchKeyword('help?', set.locales)).toEqual({ kind: 'help' });
  });

  it('only matches the whole message', () => {
    expect(matchKeyword('please stop the reminders', set.locales)).toBeNull();
    expect(matchKeyword('stop stop', set.locales)).toBeNull();
  });

  it('never treats a number as a keyword', () => {
    for (const n of ['0', '00', '1', '98', '99']) expect(matchKeyword(n, set.locales)).toBeNull();
  });

  it('reads a language after the language keyword by code, own name or a name in another language', () => {
    expect(matchKeyword('LANG FR', set.locales)).toEqual({ kind: 'language', locale: 'fr' });
    expect(matchKeyword('lugha kiswahili', set.locales)).toEqual({ kind: 'language', locale: 'sw' });
    expect(matchKeyword('langue anglais', set.locales)).toEqual({ kind: 'language', locale: 'en' });
    expect(matchKeyword('ururimi ikinyarwanda', set.locales)).toEqual({ kind: 'language', locale: 'rw' });
    expect(matchKeyword('idioma português', set.locales)).toEqual({ kind: 'language', locale: 'pt' });
    expect(matchKeyword('LANG KLINGON', set.locales)).toBeNull();
  });

  it('LANG FR switches at once and shows the waiting question in French', () => {
    const phone = waiting('en');
    const r = phone.send('LANG FR');
    expect(r.effects).toEqual([{ type: 'setContact', patch: { locale: 'fr' } }]);
    expect(text(r)).toBe('La langue est maintenant le français.\nQuel âge a votre enfant, en mois ?');
  });
});

describe('opted-out contacts', () => {
  it('get one line saying how to opt back in, and no conversation', () => {
    const phone = new TestPhone(set, 'sms');
    phone.contact = { optedOut: true };
    const r = phone.send('hello');
    expect(text(r)).toBe('You stopped messages from Jibu. Send START to get them again.');
    expect(r.session).toBeNull();
    expect(r.effects).toEqual([]);
  });
});

describe('keywords on USSD', () => {
  it('STOP is honoured and ends the session', () => {
    const phone = new TestPhone(set, 'ussd');
    phone.dial();
    const r = phone.send('STOP');
    expect(r.reply).toEqual({
      text: 'You will not get more messages from Jibu. Send START to get them again.',
      end: true,
    });
    expect(r.effects).toContainEqual({ type: 'setContact', patch: { optedOut: true } });
  });

  it('HELP shows the help text; when it cannot share the screen it ends the dialog rather than hide it', () => {
    const phone = new TestPhone(set, 'ussd');
    phone.dial();
    phone.send('2');
    const r = phone.send('help');
    expect(r.reply).toEqual({ text: set.translate('en', 'system.help'), end: true });
    expect(r.outcome).toBe('keyword');
    expect(r.session).toBeNull();
  });

  it('a language switch re-shows the current menu in the new language', () => {
    const phone = new TestPhone(set, 'ussd');
    phone.dial();
    const r = phone.send('LUGHA SW');
    expect(text(r)).toBe(
      'Lugha sasa ni Kiswahili.\nJibu demo. Ungependa kufanya nini?\n1. Habari za chanjo\n2. Jaribu fomu fupi\n3. Ondoka',
    );
    expect(r.reply?.end).toBe(false);
  });
});
