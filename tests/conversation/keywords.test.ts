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
async function waiting(locale: string): Promise<TestPhone> {
  const phone = new TestPhone(set, 'sms');
  phone.contact = { optedOut: false, locale };
  await phone.send('hi');
  await phone.send('2');
  expect(phone.session?.flowId).toBe('demo');
  return phone;
}

describe.each(LANGS)('keywords in %s', (locale) => {
  it('STOP opts out, ends the waiting conversation, cancels its timer and confirms in the language', async () => {
    for (const word of words(locale, 'keywords.stop')) {
      const phone = await waiting(locale);
      const r = await phone.send(word);
      expect(r.outcome, word).toBe('keyword');
      expect(r.session).toBeNull();
      expect(r.effects).toContainEqual({ type: 'setContact', patch: { optedOut: true } });
      expect(r.effects.some((e) => e.type === 'cancelTimer')).toBe(true);
      expect(text(r)).toBe(set.translate(locale, 'system.stopped'));
    }
  });

  it('START opts back in and starts afresh with a welcome-back line', async () => {
    for (const word of words(locale, 'keywords.start')) {
      const phone = await waiting(locale);
      await phone.send(words(locale, 'keywords.stop')[0] ?? 'STOP');
      expect(phone.contact.optedOut).toBe(true);
      const r = await phone.send(word);
      expect(r.outcome, word).toBe('started');
      expect(r.effects).toContainEqual({ type: 'setContact', patch: { optedOut: false } });
      expect(text(r).split('\n')[0]).toBe(set.translate(locale, 'system.started'));
      expect(r.stepId).toBe('welcome');
    }
  });

  it('HELP answers and keeps the conversation waiting where it was', async () => {
    for (const word of words(locale, 'keywords.help')) {
      const phone = await waiting(locale);
      const before = phone.session;
      const r = await phone.send(word);
      expect(r.outcome, word).toBe('keyword');
      expect(text(r)).toBe(set.translate(locale, 'system.help'));
      expect(r.session?.snapshot).toEqual(before?.snapshot);
      expect((await phone.send('9')).stepId).toBe('visit');
    }
  });

  it('the language keyword opens a menu of languages; choosing one switches and resumes the conversation', async () => {
    for (const word of words(locale, 'keywords.language')) {
      const phone = await waiting(locale);
      const menu = text(await phone.send(word));
      expect(menu.split('\n')).toEqual([
        set.translate(locale, 'system.language_prompt'),
        '1. English',
        '2. Français',
        '3. Português',
        '4. Ikinyarwanda',
        '5. Kiswahili',
      ]);
      const r = await phone.send('5');
      expect(r.effects).toContainEqual({ type: 'setContact', patch: { locale: 'sw' } });
      expect(r.locale).toBe('sw');
      expect(text(r)).toBe('Lugha sasa ni Kiswahili.\nMtoto wako ana umri wa miezi mingapi?');
      expect((await phone.send('9')).stepId).toBe('visit');
    }
  });

  it('the restart keyword drops the conversation and starts from the main menu', async () => {
    for (const word of words(locale, 'keywords.restart')) {
      const phone = await waiting(locale);
      const r = await phone.send(word);
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

  it('LANG FR switches at once and shows the waiting question in French', async () => {
    const phone = await waiting('en');
    const r = await phone.send('LANG FR');
    expect(r.effects).toEqual([{ type: 'setContact', patch: { locale: 'fr' } }]);
    expect(text(r)).toBe('La langue est maintenant le français.\nQuel âge a votre enfant, en mois ?');
  });
});

describe('opted-out contacts', () => {
  it('get one line saying how to opt back in, and no conversation', async () => {
    const phone = new TestPhone(set, 'sms');
    phone.contact = { optedOut: true };
    const r = await phone.send('hello');
    expect(text(r)).toBe('You stopped messages from Jibu. Send START to get them again.');
    expect(r.session).toBeNull();
    expect(r.effects).toEqual([]);
  });
});

describe('keywords on USSD', () => {
  it('STOP is honoured and ends the session', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    const r = await phone.send('STOP');
    expect(r.reply).toEqual({
      text: 'You will not get more messages from Jibu. Send START to get them again.',
      end: true,
    });
    expect(r.effects).toContainEqual({ type: 'setContact', patch: { optedOut: true } });
  });

  it('HELP shows the help text; when it cannot share the screen it ends the dialog rather than hide it', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    await phone.send('2');
    const r = await phone.send('help');
    expect(r.reply).toEqual({ text: set.translate('en', 'system.help'), end: true });
    expect(r.outcome).toBe('keyword');
    expect(r.session).toBeNull();
  });

  it('a language switch re-shows the current menu in the new language', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    const r = await phone.send('LUGHA SW');
    expect(text(r)).toBe(
      'Lugha sasa ni Kiswahili.\nJibu demo. Ungependa kufanya nini?\n1. Habari za chanjo\n2. Jaribu fomu fupi\n3. Ondoka',
    );
    expect(r.reply?.end).toBe(false);
  });
});
