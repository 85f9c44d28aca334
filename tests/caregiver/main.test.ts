import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet } from '../../src/conversation/index.ts';
import { requiredData } from '../../src/conversation/index.ts';
import { CAREGIVER_MAIN_FLOW } from '../../src/conversation/actions/caregiver.ts';
import { foldToGsm7 } from '../../src/conversation/text.ts';
import { Caregiver, LANGS, PHONES, eventOf, loadCaregiverSet, text, writes } from './helpers.ts';

let set: FlowSet;
beforeAll(async () => {
  set = await loadCaregiverSet();
});

const tr = (locale: string, key: string, params?: Record<string, unknown>) => set.translate(locale, key, params);

describe('who lands in the caregiver menu', () => {
  it('the runner loads the caregiver data for a new SMS or USSD conversation (the role needs it)', () => {
    expect(requiredData(set, null, 'sms')).toContain('caregiver');
    expect(requiredData(set, null, 'ussd')).toContain('caregiver');
  });

  it("a caregiver's unsolicited SMS opens the caregiver menu", async () => {
    const r = await new Caregiver(set, 'sms', PHONES.twoChildren).send('Habari');
    expect(r.flowId).toBe(CAREGIVER_MAIN_FLOW);
    expect(text(r)).toBe('Next clinic visits. Choose a child:\n1. Amina 27/11/2025\n2. Juma 27/11/2025');
  });

  it('a caller who is not a caregiver keeps landing on the demo flow, on SMS and USSD', async () => {
    expect((await new Caregiver(set, 'sms', PHONES.unknown).send('hi')).flowId).toBe('demo');
    expect((await new Caregiver(set, 'ussd', PHONES.unknown).dial()).flowId).toBe('demo');
  });
});

describe('the caregiver menu over USSD', () => {
  it.each(LANGS)(
    "shows the children's next visits with the missed one marked, then confirms for the child chosen (%s)",
    async (locale) => {
      const cg = new Caregiver(set, 'ussd', PHONES.threeChildren, locale);
      const home = await cg.dial();
      expect(home.flowId).toBe(CAREGIVER_MAIN_FLOW);
      const ussd = (key: string, params?: Record<string, unknown>) => foldToGsm7(tr(locale, key, params));
      expect(text(home).split('\n')).toEqual([
        ussd('caregiver.main.home'),
        `1. ${ussd('caregiver.child.option', { name: 'Saida', date: '2025-11-22', status: 'missed' })}`,
        '2. Hamisi 27/11/2025',
      ]);
      const visit = await cg.send('2');
      expect(text(visit).split('\n').slice(0, 3)).toEqual([
        ussd('caregiver.main.visit', { name: 'Hamisi', date: '2025-11-27', status: 'upcoming' }),
        `1. ${ussd('caregiver.answer.confirm')}`,
        `2. ${ussd('caregiver.answer.reschedule')}`,
      ]);
      const done = await cg.send('1');
      expect(done.reply?.end).toBe(true);
      const [w] = writes(done);
      expect(w?.payload).toEqual({
        op: 'event.note',
        event: eventOf(PHONES.threeChildren, 'Hamisi').next,
        note: `Caregiver confirmed the visit of 2025-11-27 by USSD (Jibu ref ${w?.ref})`,
      });
      for (const step of cg.log) expect(text(step.result).length).toBeLessThanOrEqual(160);
    },
  );

  it('reads in English exactly as a caregiver sees it', async () => {
    const cg = new Caregiver(set, 'ussd', PHONES.threeChildren);
    expect(text(await cg.dial())).toBe(
      'Next clinic visits. Choose a child:\n1. Saida - missed 22/11/2025\n2. Hamisi 27/11/2025',
    );
    expect(text(await cg.send('1'))).toBe(
      'Saida missed the clinic visit of 22/11/2025.\n1. Choose a new date\n2. Report a reaction\n3. Language\n0. Back\n00. Main menu',
    );
    expect(text(await cg.send('1'))).toBe('On which date can you bring Saida? E.g. 25122025 or tomorrow.');
    const done = await cg.send('01122025');
    expect(done.reply).toEqual({
      text: expect.stringMatching(/^Thank you\. The new date for Saida is 01\/12\/2025\. Ref [A-Z2-9]{6}\.$/),
      end: true,
    });
    expect(writes(done).map((w) => w.payload)).toEqual([
      expect.objectContaining({
        op: 'event.reschedule',
        event: eventOf(PHONES.threeChildren, 'Saida').next,
        scheduledAt: '2025-12-01',
      }),
    ]);
    await expect(cg.transcript()).toMatchFileSnapshot('../golden/__golden__/caregiver-moved.ussd.en.txt');
  });

  it("goes straight to the child's visit when there is only one child", async () => {
    const cg = new Caregiver(set, 'ussd', PHONES.oneChild);
    // The list was skipped, so `00` (main menu) is offered; it leads back here.
    expect(text(await cg.dial())).toBe(
      'Neema: next clinic visit 27/11/2025.\n1. Confirm the visit\n2. Change the date\n3. Report a reaction\n4. Language\n00. Main menu',
    );
  });

  it('0 goes back from a child to the list', async () => {
    const cg = new Caregiver(set, 'ussd', PHONES.twoChildren);
    await cg.dial();
    await cg.send('2');
    expect((await cg.send('0')).stepId).toBe('home');
  });

  it('says when a child has no visit planned, and still offers a reaction report', async () => {
    const cg = new Caregiver(set, 'ussd', PHONES.noVisit);
    expect(text(await cg.dial())).toBe(
      'Tumaini has no clinic visit planned.\n1. Report a reaction\n2. Language\n00. Main menu',
    );
  });

  it('changes the language and shows the menu again in it', async () => {
    const cg = new Caregiver(set, 'ussd', PHONES.oneChild);
    await cg.dial();
    expect(text(await cg.send('4'))).toBe(
      'Choose your language\n1. English\n2. Francais\n3. Kiswahili\n4. Ikinyarwanda\n5. Portugues\n0. Back\n00. Main menu',
    );
    const r = await cg.send('3');
    expect(r.effects).toContainEqual({ type: 'setContact', patch: { locale: 'sw' } });
    expect(r.locale).toBe('sw');
    expect(text(r)).toBe(
      'Neema: ziara ijayo ya kliniki 27/11/2025.\n1. Thibitisha ziara\n2. Badilisha tarehe\n3. Ripoti madhara ya chanjo\n4. Lugha\n00. Menyu kuu',
    );
  });
});

describe('the caregiver menu over SMS', () => {
  it.each(LANGS)('offers the same confirm / change-date choices and moves the visit (%s)', async (locale) => {
    const cg = new Caregiver(set, 'sms', PHONES.twoChildren, locale);
    await cg.send('hi');
    await cg.send('1');
    const ask = await cg.send('2');
    expect(text(ask)).toBe(tr(locale, 'caregiver.ask.new_date', { name: 'Amina' }));
    const r = await cg.send('05/12/2025');
    expect(writes(r).map((w) => w.payload)).toEqual([
      expect.objectContaining({
        op: 'event.reschedule',
        event: eventOf(PHONES.twoChildren, 'Amina').next,
        scheduledAt: '2025-12-05',
      }),
    ]);
    expect(r.reply?.text).toContain('05/12/2025');
  });

  it('a visit due today reads "today"', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.dueToday);
    expect(text(await cg.send('hello')).split('\n')[0]).toBe('Baraka: clinic visit today, 25/11/2025.');
  });
});
