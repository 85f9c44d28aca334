import { beforeAll, describe, expect, it } from 'vitest';
import type { Effect, FlowSet } from '../../src/conversation/index.ts';
import { CAREGIVER_AEFI_FLOW, CAREGIVER_REMINDER_FLOW } from '../../src/conversation/actions/caregiver.ts';
import { parseDeployment } from '../../src/dhis2/deployment.ts';
import { Caregiver, LANGS, PHONES, eventOf, loadCaregiverSet, text, writes, type Lang } from './helpers.ts';

let set: FlowSet;
beforeAll(async () => {
  set = await loadCaregiverSet();
});

const tr = (locale: string, key: string, params?: Record<string, unknown>) => set.translate(locale, key, params);
const notifications = (effects: Effect[]) =>
  effects.filter((e): e is Extract<Effect, { type: 'notify' }> => e.type === 'notify');
const KEYWORD: Record<Lang, string> = { en: 'Reaction', fr: 'MAPI', pt: 'Reação', rw: 'ingaruka', sw: 'MADHARA' };
const YESTERDAY: Record<Lang, string> = { en: 'yesterday', fr: 'hier', pt: 'ontem', rw: 'ejo hashize', sw: 'jana' };

describe('a reaction reported by SMS keyword', () => {
  it.each(LANGS)("the keyword of %s opens the report for the caregiver's vaccinated child", async (locale) => {
    const cg = new Caregiver(set, 'sms', PHONES.visitedYesterday, locale);
    const r = await cg.send(KEYWORD[locale]);
    expect(r.flowId).toBe(CAREGIVER_AEFI_FLOW);
    expect(text(r).split('\n')[0]).toBe(tr(locale, 'caregiver.aefi.reaction', { name: 'Tumaini' }));
    expect(text(r).split('\n')).toHaveLength(9);
  });

  it.each(LANGS)(
    'reaction, severity and date are written as a note with the follow-up flag on the latest visit (%s)',
    async (locale) => {
      const cg = new Caregiver(set, 'sms', PHONES.visitedYesterday, locale);
      await cg.send(KEYWORD[locale]);
      expect(text(await cg.send('1')).split('\n')[0]).toBe(tr(locale, 'caregiver.aefi.severity'));
      expect(text(await cg.send('2'))).toBe(tr(locale, 'caregiver.aefi.since'));
      const r = await cg.send(YESTERDAY[locale]);
      const [w, ...more] = writes(r);
      expect(more).toEqual([]);
      expect(w?.payload).toEqual({
        op: 'event.update',
        event: eventOf(PHONES.visitedYesterday, 'Tumaini').latest,
        followUp: true,
        note: `Caregiver reported a reaction after vaccination by SMS: fever, moderate, since 2025-11-24 (Jibu ref ${w?.ref})`,
      });
      expect(notifications(r.effects)).toEqual([]);
      expect(r.reply?.text).toBe(tr(locale, 'caregiver.aefi.done', { ref: w?.ref }));
      expect(r.session).toBeNull();
    },
  );

  it('a severe reaction also alerts the case worker (a notify effect) and tells the caregiver to go now', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.visitedYesterday);
    await cg.send('REACTION');
    const r = await cg.say('1', '3', '24/11');
    const [w] = writes(r);
    expect(w?.payload).toMatchObject({
      op: 'event.update',
      followUp: true,
      note: expect.stringContaining('fever, severe, since 2025-11-24'),
    });
    expect(notifications(r.effects)).toEqual([
      {
        type: 'notify',
        kind: 'aefi.severe',
        payload: {
          ref: w?.ref,
          event: eventOf(PHONES.visitedYesterday, 'Tumaini').latest,
          trackedEntity: 'qzI862dkHXz',
          orgUnit: 'JbVilJmb001',
          childName: 'Tumaini',
          caregiverPhone: PHONES.visitedYesterday,
          reaction: 'fever',
          severity: 'severe',
          since: '2025-11-24',
          channel: 'sms',
          reportedAt: '2025-11-25T09:00:00.000Z',
          text: `Jibu: severe reaction reported for Tumaini (caregiver ${PHONES.visitedYesterday}): fever since 2025-11-24. Ref ${w?.ref}`,
        },
      },
    ]);
    expect(r.reply?.text).toMatch(
      /^Thank you\. A health worker will contact you\. If Tumaini is very sick, go to the health facility now\. Ref [A-Z2-9]{6}\.$/,
    );
  });

  it('fits (convulsions) alert the case worker whatever severity was chosen', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.visitedYesterday);
    await cg.send('reaction');
    const r = await cg.say('6', '1', 'today');
    expect(notifications(r.effects).map((n) => n.kind)).toEqual(['aefi.severe']);
    expect(writes(r)[0]?.payload).toMatchObject({
      note: expect.stringContaining('fits (convulsions), mild, since 2025-11-25'),
    });
  });

  it('refuses a date in the future', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.visitedYesterday);
    await cg.send('reaction');
    const r = await cg.say('1', '1', 'tomorrow');
    expect(writes(r)).toEqual([]);
    expect(text(r).split('\n')[0]).toBe('That date is in the future. Enter an earlier date.');
  });

  it('asks which child when several were vaccinated', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.twoChildren);
    expect(text(await cg.send('AEFI'))).toBe('Which child had a reaction?\n1. Amina\n2. Juma');
    const r = await cg.say('2', '3', '1', 'yesterday');
    expect(writes(r).map((w) => w.payload)).toEqual([
      expect.objectContaining({ op: 'event.update', event: eventOf(PHONES.twoChildren, 'Juma').latest }),
    ]);
  });

  it('the keyword interrupts a reminder conversation waiting for 1 or 2, and the report goes on from there', async () => {
    const cg = new Caregiver(set, 'sms', PHONES.visitedYesterday, 'sw');
    expect((await cg.remind()).session?.flowId).toBe(CAREGIVER_REMINDER_FLOW);
    const r = await cg.send('MADHARA');
    expect(r.flowId).toBe(CAREGIVER_AEFI_FLOW);
    expect(r.session?.flowId).toBe(CAREGIVER_AEFI_FLOW);
    expect(text(r).split('\n')[0]).toBe(tr('sw', 'caregiver.aefi.reaction', { name: 'Tumaini' }));
    expect(text(await cg.send('1')).split('\n')[0]).toBe(tr('sw', 'caregiver.aefi.severity'));
  });

  it('the keyword from a phone with no child in DHIS2 does not open a report', async () => {
    expect((await new Caregiver(set, 'sms', PHONES.unknown).send('REACTION')).flowId).toBe('demo');
  });

  it('says so when no visit is on record to attach the report to', async () => {
    const r = await new Caregiver(set, 'sms', PHONES.noVaccination).send('MADHARA');
    expect(r.reply).toEqual(
      expect.objectContaining({
        end: true,
        text: 'We have no recent vaccination on record for your children. If a child is unwell, go to the health facility.',
      }),
    );
    expect(r.effects).toEqual([]);
  });

  it('leaves the follow-up flag alone when the deployment says so', async () => {
    const noFlag = await loadCaregiverSet({ deployment: parseDeployment({ aefi: { followUp: false } }) });
    const cg = new Caregiver(noFlag, 'sms', PHONES.visitedYesterday);
    await cg.send('REACTION');
    const w = writes(await cg.say('3', '1', 'today'))[0];
    expect(w?.payload).toEqual({
      op: 'event.update',
      event: eventOf(PHONES.visitedYesterday, 'Tumaini').latest,
      note: expect.stringContaining('rash, mild'),
    });
  });
});

describe('a reaction reported with the AEFI programme (aefi.program set)', () => {
  it('asks the same questions and writes one AEFI report for the child and visit instead of the note on the visit', async () => {
    const aefi = await loadCaregiverSet({ deployment: parseDeployment({ aefi: { program: 'EZkN8vYZwjR' } }) });
    const plain = new Caregiver(set, 'sms', PHONES.visitedYesterday);
    const cg = new Caregiver(aefi, 'sms', PHONES.visitedYesterday);
    const screens = async (c: Caregiver) => [await c.send('REACTION'), await c.send('6'), await c.send('3')].map(text);
    expect(await screens(cg)).toEqual(await screens(plain));
    const r = await cg.send('24/11');
    const [w, ...more] = writes(r);
    expect(more).toEqual([]);
    const tumaini = eventOf(PHONES.visitedYesterday, 'Tumaini');
    expect(w?.payload).toEqual({
      op: 'aefi.report',
      trackedEntity: expect.stringMatching(/^[A-Za-z][A-Za-z0-9]{10}$/),
      visit: tumaini.latest,
      orgUnit: expect.stringMatching(/^[A-Za-z][A-Za-z0-9]{10}$/),
      reportedAt: '2025-11-25',
      onset: '2025-11-24',
      reaction: 'seizure',
      reactionText: 'fits (convulsions)',
      serious: true,
      reporter: { name: 'Caregiver, by Jibu SMS', phone: PHONES.visitedYesterday },
      note: `Caregiver reported a reaction after vaccination by SMS: fits (convulsions), severe, since 2025-11-24 (Jibu ref ${w?.ref})`,
    });
    // Severe: the case workers are still alerted at once.
    expect(notifications(r.effects).map((n) => n.kind)).toEqual(['aefi.severe']);
  });

  it('writes the reporter and the reaction in the staff language', async () => {
    const aefi = await loadCaregiverSet({
      deployment: parseDeployment({ staffLocale: 'sw', aefi: { program: 'EZkN8vYZwjR' } }),
    });
    const cg = new Caregiver(aefi, 'ussd', PHONES.visitedYesterday, 'en');
    await cg.dial();
    await cg.say('3');
    const [w] = writes(await cg.say('1', '1', '25112025'));
    expect(w?.payload).toMatchObject({
      op: 'aefi.report',
      reactionText: 'homa',
      serious: false,
      reporter: { name: 'Mlezi, kupitia USSD ya Jibu' },
    });
  });
});

describe('a reaction reported from the caregiver menu (USSD)', () => {
  it.each(LANGS)('works for the child chosen, every screen within 160 characters (%s)', async (locale) => {
    const cg = new Caregiver(set, 'ussd', PHONES.twoChildren, locale);
    await cg.dial();
    await cg.send('1');
    const reaction = await cg.send('3');
    expect(reaction.stepId).toBe('aefi_reaction');
    const r = await cg.say('2', '1', '25112025');
    expect(r.reply?.end).toBe(true);
    expect(writes(r).map((w) => w.payload)).toEqual([
      expect.objectContaining({
        op: 'event.update',
        event: eventOf(PHONES.twoChildren, 'Amina').latest,
        followUp: true,
        note: expect.stringContaining('by USSD: swelling or pain at the injection site, mild, since 2025-11-25'),
      }),
    ]);
    for (const step of cg.log) expect(text(step.result).length).toBeLessThanOrEqual(160);
  });

  it('ends politely when the child has no visit on record', async () => {
    const cg = new Caregiver(set, 'ussd', PHONES.noVaccination);
    await cg.dial();
    const r = await cg.send('3');
    expect(r.reply).toEqual({
      text: 'We have no vaccination on record for Wema yet. If Wema is unwell, go to the health facility.',
      end: true,
    });
  });

  it.each(LANGS)('golden transcript of a severe report in %s', async (locale) => {
    const cg = new Caregiver(set, 'ussd', PHONES.visitedYesterday, locale);
    await cg.dial();
    await cg.say('3', '7', '3', '25112025');
    await expect(cg.transcript()).toMatchFileSnapshot(`../golden/__golden__/caregiver-aefi.ussd.${locale}.txt`);
  });
});
