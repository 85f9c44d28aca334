import { describe, expect, it } from 'vitest';
import type { Effect } from '../../src/conversation/index.ts';
import { defaultDeployment, parseDeployment, type StaffLocale } from '../../src/dhis2/deployment.ts';
import { Caregiver, PHONES, eventOf, loadCaregiverSet, writes } from './helpers.ts';

/**
 * The notes a caregiver's replies become in DHIS2, and the alert a severe reaction sends to case
 * workers, are in the deployment's staff language (`staffLocale`), not in the caregiver's: programme
 * staff read them. Driven through engine turns, as the runner takes them.
 */

interface Expected {
  confirmed: (ref: string) => string;
  rescheduled: (ref: string) => string;
  reaction: (ref: string) => string;
  alert: (ref: string) => string;
}

const PHONE = PHONES.visitedYesterday;

const CASES: Array<{ name: string; locale: StaffLocale | undefined; x: Expected }> = [
  {
    name: 'French',
    locale: 'fr',
    x: {
      confirmed: (ref) => `Le parent a confirmé la visite du 2025-11-27 par SMS (réf. Jibu ${ref})`,
      rescheduled: (ref) => `Le parent a déplacé la visite du 2025-11-27 au 2025-12-02 par SMS (réf. Jibu ${ref})`,
      reaction: (ref) =>
        `Le parent a signalé par SMS une réaction après vaccination : fièvre, grave, depuis le 2025-11-24 (réf. Jibu ${ref})`,
      alert: (ref) =>
        `Jibu : réaction grave signalée pour Tumaini (parent ${PHONE}) : fièvre depuis le 2025-11-24. Réf. ${ref}`,
    },
  },
  {
    name: 'Kinyarwanda',
    locale: 'rw',
    x: {
      confirmed: (ref) => `Umurezi yemeje gahunda yo ku wa 2025-11-27 akoresheje SMS (nimero ya Jibu ${ref})`,
      rescheduled: (ref) =>
        `Umurezi yimuye gahunda yo ku wa 2025-11-27 ayishyira ku wa 2025-12-02 akoresheje SMS (nimero ya Jibu ${ref})`,
      reaction: (ref) =>
        `Umurezi yatangaje akoresheje SMS ingaruka z'urukingo: umuriro, zikomeye, kuva ku wa 2025-11-24 (nimero ya Jibu ${ref})`,
      alert: (ref) =>
        `Jibu: ingaruka zikomeye z'urukingo kuri Tumaini (umurezi ${PHONE}): umuriro kuva ku wa 2025-11-24. Nimero ${ref}`,
    },
  },
  {
    name: 'English (no staffLocale: the default)',
    locale: undefined,
    x: {
      confirmed: (ref) => `Caregiver confirmed the visit of 2025-11-27 by SMS (Jibu ref ${ref})`,
      rescheduled: (ref) => `Caregiver moved the visit from 2025-11-27 to 2025-12-02 by SMS (Jibu ref ${ref})`,
      reaction: (ref) =>
        `Caregiver reported a reaction after vaccination by SMS: fever, severe, since 2025-11-24 (Jibu ref ${ref})`,
      alert: (ref) =>
        `Jibu: severe reaction reported for Tumaini (caregiver ${PHONE}): fever since 2025-11-24. Ref ${ref}`,
    },
  },
];

describe.each(CASES)('with staff notes in $name', ({ locale, x }) => {
  const deployment = () => (locale ? parseDeployment({ staffLocale: locale }) : defaultDeployment());

  it('a Swahili-speaking caregiver confirms a visit and moves another: both notes in the staff language', async () => {
    const set = await loadCaregiverSet({ deployment: deployment() });
    const confirm = new Caregiver(set, 'sms', PHONES.oneChild, 'sw');
    await confirm.remind();
    const [c] = writes(await confirm.send('1'));
    expect(c?.payload).toEqual({
      op: 'event.note',
      event: eventOf(PHONES.oneChild, 'Neema').next,
      note: x.confirmed(c?.ref ?? ''),
    });

    const move = new Caregiver(set, 'sms', PHONES.oneChild, 'sw');
    await move.remind();
    await move.send('2');
    const [m] = writes(await move.send('02122025'));
    expect(m?.payload).toEqual({
      op: 'event.reschedule',
      event: eventOf(PHONES.oneChild, 'Neema').next,
      scheduledAt: '2025-12-02',
      note: x.rescheduled(m?.ref ?? ''),
    });
  });

  it('a severe reaction: the note on the visit and the alert to case workers in the staff language', async () => {
    const set = await loadCaregiverSet({ deployment: deployment() });
    const cg = new Caregiver(set, 'sms', PHONE, 'sw');
    await cg.send('MADHARA');
    const r = await cg.say('1', '3', '24/11');
    const [w] = writes(r);
    expect(w?.payload).toEqual({
      op: 'event.update',
      event: eventOf(PHONE, 'Tumaini').latest,
      followUp: true,
      note: x.reaction(w?.ref ?? ''),
    });
    const alerts = r.effects.filter((e): e is Extract<Effect, { type: 'notify' }> => e.type === 'notify');
    expect(alerts.map((a) => a.kind)).toEqual(['aefi.severe']);
    expect(alerts[0]?.payload).toMatchObject({ text: x.alert(w?.ref ?? '') });
  });
});
