import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet } from '../../src/conversation/index.ts';
import { CAREGIVER_REMINDER_FLOW } from '../../src/conversation/actions/caregiver.ts';
import { parseDeployment } from '../../src/dhis2/deployment.ts';
import { Caregiver, LANGS, PHONES, eventOf, loadCaregiverSet, text, writes, type Lang } from './helpers.ts';

let set: FlowSet;
beforeAll(async () => {
  set = await loadCaregiverSet();
});

const tr = (locale: string, key: string, params?: Record<string, unknown>) => set.translate(locale, key, params);
const REF = /[A-Z2-9]{6}/;
const TOMORROW: Record<Lang, string> = { en: 'tomorrow', fr: 'demain', pt: 'amanhã', rw: 'ejo', sw: 'kesho' };

describe('a reminder about one child (SMS)', () => {
  it('opens the reply flow: the reminder is the first screen, sent as an SMS, and the session waits', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.oneChild);
    const r = await cg.remind();
    expect(r.outcome).toBe('started');
    expect(r.flowId).toBe(CAREGIVER_REMINDER_FLOW);
    expect(r.reply).toBeNull();
    expect(r.effects).toEqual([
      {
        type: 'sendSms',
        to: PHONES.oneChild,
        text: 'Neema has a clinic visit on 27/11/2025.\n1. Confirm the visit\n2. Change the date',
        locale: 'en',
      },
    ]);
    expect(r.session?.flowId).toBe(CAREGIVER_REMINDER_FLOW);
    expect(r.sessionTtlMs).toBe(2 * 86_400_000);
  });

  it.each(LANGS)('"1" confirms with a note on the scheduled event and thanks with the date (%s)', async (locale) => {
    const cg = new Caregiver(set, 'sms', PHONES.oneChild, locale);
    await cg.remind();
    const r = await cg.send('1');
    expect(r.session).toBeNull();
    expect(r.reply?.end).toBe(true);
    const [w, ...more] = writes(r);
    expect(more).toEqual([]);
    // E1315: no data values on a SCHEDULE event, so the confirmation is a note, in the staff language.
    expect(w?.op).toBe('event.note');
    expect(w?.payload).toEqual({
      op: 'event.note',
      event: eventOf(PHONES.oneChild, 'Neema').next,
      note: `Caregiver confirmed the visit of 2025-11-27 by SMS (Jibu ref ${w?.ref})`,
    });
    expect(w?.ref).toMatch(REF);
    expect(r.reply?.text).toBe(
      tr(locale, 'caregiver.done.confirmed', { name: 'Neema', date: '2025-11-27', ref: w?.ref }),
    );
    expect(r.reply?.text).toContain('27/11/2025');
  });

  it('confirms in English with the exact thank-you', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.oneChild);
    await cg.remind();
    const r = await cg.send('1');
    expect(r.reply?.text).toMatch(/^Thank you\. We expect Neema at the clinic on 27\/11\/2025\. Ref [A-Z2-9]{6}\.$/);
    expect(r.reply?.measure).toEqual({ encoding: 'GSM-7', segments: 1 });
  });

  it.each(LANGS)(
    '"2" then a valid date moves the visit with a note and confirms the new date and reference (%s)',
    async (locale) => {
      const cg = new Caregiver(set, 'sms', PHONES.oneChild, locale);
      await cg.remind();
      const ask = await cg.send('2');
      expect(text(ask)).toBe(tr(locale, 'caregiver.ask.new_date', { name: 'Neema' }));
      expect(writes(ask)).toEqual([]);
      const r = await cg.send('02122025');
      const [w, ...more] = writes(r);
      expect(more).toEqual([]);
      expect(w?.payload).toEqual({
        op: 'event.reschedule',
        event: eventOf(PHONES.oneChild, 'Neema').next,
        scheduledAt: '2025-12-02',
        note: `Caregiver moved the visit from 2025-11-27 to 2025-12-02 by SMS (Jibu ref ${w?.ref})`,
      });
      expect(r.reply?.text).toBe(
        tr(locale, 'caregiver.done.rescheduled', { name: 'Neema', date: '2025-12-02', ref: w?.ref }),
      );
      expect(r.reply?.text).toContain('02/12/2025');
      expect(r.reply?.text).toContain(w?.ref);
      expect(r.session).toBeNull();
    },
  );

  it.each(LANGS)(
    'a date in the past gets the past-date hint and the question again, nothing is written (%s)',
    async (locale) => {
      const cg = new Caregiver(set, 'sms', PHONES.oneChild, locale);
      await cg.remind();
      await cg.send('2');
      const r = await cg.send('20/11/2025');
      expect(r.outcome).toBe('reprompt');
      expect(writes(r)).toEqual([]);
      expect(text(r)).toBe(
        `${tr(locale, 'invalid.date_past')}\n${tr(locale, 'caregiver.ask.new_date', { name: 'Neema' })}`,
      );
      expect(r.session).not.toBeNull();
      // Still answerable: a good date goes through.
      expect(writes(await cg.send('01122025'))[0]?.payload).toMatchObject({ scheduledAt: '2025-12-01' });
    },
  );

  it.each(LANGS)("a date beyond the deployment's reschedule window gets the window hint (%s)", async (locale) => {
    const cg = new Caregiver(set, 'sms', PHONES.oneChild, locale);
    await cg.remind();
    await cg.send('2');
    // Default window: up to 60 days ahead. 25/11 + 61 days = 25/01/2026.
    const late = await cg.send('25012026');
    expect(writes(late)).toEqual([]);
    expect(text(late).split('\n')[0]).toBe(tr(locale, 'invalid.date_window', { days: 60 }));
    const last = await cg.send('24012026');
    expect(writes(last)[0]?.payload).toMatchObject({ op: 'event.reschedule', scheduledAt: '2026-01-24' });
  });

  it.each(LANGS)('the word for "tomorrow" is a date (%s)', async (locale) => {
    const cg = new Caregiver(set, 'sms', PHONES.oneChild, locale);
    await cg.remind();
    await cg.send('2');
    const r = await cg.send(TOMORROW[locale]);
    expect(writes(r)[0]?.payload).toMatchObject({ op: 'event.reschedule', scheduledAt: '2025-11-26' });
  });

  it('reads DD/MM as the nearest such date, and refuses the date the visit already has', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.oneChild);
    await cg.remind();
    await cg.send('2');
    const same = await cg.send('27/11');
    expect(writes(same)).toEqual([]);
    expect(text(same).split('\n')[0]).toBe('That is already the visit date. Enter another date.');
    expect(writes(await cg.send('3/12'))[0]?.payload).toMatchObject({ scheduledAt: '2025-12-03' });
  });

  it.each(LANGS)(
    'anything else gets one short hint and the same question; the reply still counts after it (%s)',
    async (locale) => {
      const cg = new Caregiver(set, 'sms', PHONES.oneChild, locale);
      await cg.remind();
      const r = await cg.send('hello, who is this?');
      expect(r.outcome).toBe('reprompt');
      expect(writes(r)).toEqual([]);
      const [hint, ...rest] = text(r).split('\n');
      expect(hint).toBe(tr(locale, 'caregiver.hint.reply'));
      expect(rest[0]).toBe(
        tr(locale, 'caregiver.reminder.visit', { name: 'Neema', date: '2025-11-27', status: 'upcoming' }),
      );
      expect(writes(await cg.send('1'))[0]?.op).toBe('event.note');
    },
  );

  it('ends politely after three answers it cannot read, writing nothing', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.oneChild);
    await cg.remind();
    await cg.say('ok', 'yes', 'thanks');
    const r = await cg.send('??');
    expect(r.reply).toEqual(
      expect.objectContaining({
        text: 'Sorry, we could not understand your answer. Please try again later.',
        end: true,
      }),
    );
    expect(cg.log.flatMap((s) => writes(s.result))).toEqual([]);
  });

  it('accepts the answer in words as well as numbers ("change the date")', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.oneChild, 'sw');
    await cg.remind();
    expect((await cg.send('Badilisha tarehe')).stepId).toBe('new_date');
  });

  it('says "today" for a visit due today', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.dueToday);
    expect(text(await cg.remind())).toBe(
      'Baraka has a clinic visit today, 25/11/2025.\n1. Confirm the visit\n2. Change the date',
    );
  });
});

describe('a reminder to a phone with several children due', () => {
  it.each(LANGS)('asks which child first, then confirms for the child chosen (%s)', async (locale) => {
    const cg = new Caregiver(set, 'sms', PHONES.twoChildren, locale);
    const first = text(await cg.remind());
    const option = (name: string) =>
      tr(locale, 'caregiver.child.option', { name, date: '2025-11-27', status: 'upcoming' });
    expect(first).toBe(
      [tr(locale, 'caregiver.reminder.which_child'), `1. ${option('Amina')}`, `2. ${option('Juma')}`].join('\n'),
    );
    const choice = await cg.send('2');
    expect(text(choice)).toContain('Juma');
    const r = await cg.send('1');
    expect(writes(r).map((w) => w.payload)).toEqual([
      expect.objectContaining({ op: 'event.note', event: eventOf(PHONES.twoChildren, 'Juma').next }),
    ]);
  });

  it('reads in English as "1. Amina 27/11/2025, 2. Juma 27/11/2025"', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.twoChildren);
    expect(text(await cg.remind())).toBe(
      'Clinic visits are coming up. Which child?\n1. Amina 27/11/2025\n2. Juma 27/11/2025',
    );
    await cg.send('1');
    const r = await cg.say('2', 'kesho');
    expect(writes(r).map((w) => w.payload)).toEqual([
      expect.objectContaining({
        op: 'event.reschedule',
        event: eventOf(PHONES.twoChildren, 'Amina').next,
        scheduledAt: '2025-11-26',
      }),
    ]);
  });

  it('a number that is not on the list is refused with the menu hint', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.twoChildren);
    await cg.remind();
    const r = await cg.send('3');
    expect(r.outcome).toBe('reprompt');
    expect(text(r).split('\n')[0]).toBe('Please choose a number from the list.');
  });

  it('lists only the children the reminder is about', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.threeChildren);
    const r = await cg.remind([eventOf(PHONES.threeChildren, 'Hamisi').next]);
    expect(text(r)).toBe('Hamisi has a clinic visit on 27/11/2025.\n1. Confirm the visit\n2. Change the date');
  });
});

describe('a missed-visit message', () => {
  it.each(LANGS)('asks for a new date at once and moves the missed visit (%s)', async (locale) => {
    const cg = new Caregiver(set, 'sms', PHONES.missedYesterday, locale);
    expect(text(await cg.remind())).toBe(
      tr(locale, 'caregiver.reminder.missed', { name: 'Imani', date: '2025-11-24' }),
    );
    const r = await cg.send('28112025');
    expect(writes(r).map((w) => w.payload)).toEqual([
      {
        op: 'event.reschedule',
        event: eventOf(PHONES.missedYesterday, 'Imani').next,
        scheduledAt: '2025-11-28',
        note: expect.stringMatching(
          /^Caregiver moved the visit from 2025-11-24 to 2025-11-28 by SMS \(Jibu ref [A-Z2-9]{6}\)$/,
        ),
      },
    ]);
  });

  it('marks the missed child in a list of several', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.threeChildren);
    expect(text(await cg.remind())).toBe(
      'Clinic visits are coming up. Which child?\n1. Saida - missed 22/11/2025\n2. Hamisi 27/11/2025',
    );
    expect(text(await cg.send('1'))).toMatch(/^Saida missed the clinic visit of 22\/11\/2025\./);
  });
});

describe('the deployment decides', () => {
  it('the reschedule window (minDaysAhead, maxDaysAhead)', async () => {
    const strict = await loadCaregiverSet({
      deployment: parseDeployment({ reschedule: { minDaysAhead: 2, maxDaysAhead: 14 } }),
    });
    const cg = new Caregiver(strict, 'sms', PHONES.oneChild);
    await cg.remind();
    await cg.send('2');
    expect(text(await cg.send('tomorrow')).split('\n')[0]).toBe('Choose a date at least 2 days from today.');
    expect(text(await cg.send('10122025')).split('\n')[0]).toBe('Choose a date within the next 14 days.');
    expect(writes(await cg.send('09122025'))[0]?.payload).toMatchObject({ scheduledAt: '2025-12-09' });
  });

  it('the language of the notes DHIS2 staff read (staffLocale), whatever the caregiver speaks', async () => {
    const french = await loadCaregiverSet({ deployment: parseDeployment({ staffLocale: 'fr' }) });
    const cg = new Caregiver(french, 'sms', PHONES.oneChild, 'sw');
    await cg.remind();
    const w = writes(await cg.send('1'))[0];
    expect(w?.payload).toMatchObject({
      note: `Le parent a confirmé la visite du 2025-11-27 par SMS (réf. Jibu ${w?.ref})`,
    });
  });
});

describe('golden transcripts', () => {
  it.each(LANGS)('reminder replies over SMS in %s', async (locale) => {
    const one = new Caregiver(set, 'sms', PHONES.oneChild, locale);
    await one.remind();
    await one.say('maybe', '2', '20112025', TOMORROW[locale]);
    const two = new Caregiver(set, 'sms', PHONES.threeChildren, locale);
    await two.remind();
    await two.say('2', '1');
    await expect(`${one.transcript()}\n${two.transcript()}`).toMatchFileSnapshot(
      `../golden/__golden__/caregiver-reminder.sms.${locale}.txt`,
    );
  });
});
