import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, EIR, VEN } from '../../src/emulator/index.ts';
import { rmKeys, type DefaulterList } from '../../src/dhis2/readmodel/index.ts';
import { changesSince, dateOf, snapshot, type Dhis2Snapshot } from './dhis2.ts';
import { EXTRA_WORKERS, option, startWorld, type World } from './world.ts';

/**
 * The whole case-worker walk in every language, over the AT webhook: sign-in (the code arrives in the
 * worker's language), a missed visit rescheduled, a birth, a death and a reaction. Every screen fits
 * 160 characters (the dial checks each one; USSD folds letters GSM-7 lacks, so Portuguese loses accents) and DHIS2 ends with exactly the writes of the walks.
 */

let w: World;
let before: Dhis2Snapshot;
const ou = DEMO.orgUnits;

/** One worker per language, each in a village of their own. */
const WALKERS = [
  {
    locale: 'en',
    phone: DEMO.caseWorkers.kidutani.phone,
    village: ou.kidutani,
    name: 'Zawadi',
    sms: /^Jibu: your sign-in code is \d{6}\./,
    what: 'What happened?',
    done: /^Death notified\. Reference ([A-Z2-9]{6})\./,
  },
  {
    locale: 'fr',
    phone: EXTRA_WORKERS.mgamboni!.phone,
    village: ou.mgamboni,
    name: 'Amani',
    sms: /^Jibu : votre code de connexion est \d{6}\./,
    what: "Que s'est-il passé ?",
    done: /^Décès déclaré\. Référence ([A-Z2-9]{6})\./,
  },
  {
    locale: 'sw',
    phone: EXTRA_WORKERS.mwele!.phone,
    village: ou.mwele,
    name: 'Neema',
    sms: /^Jibu: nambari yako ya kuingia ni \d{6}\./,
    what: 'Nini kilitokea?',
    done: /^Kifo kimeripotiwa\. Kumbukumbu ([A-Z2-9]{6})\./,
  },
  {
    locale: 'rw',
    phone: EXTRA_WORKERS.jumba!.phone,
    village: ou.jumba,
    name: 'Jean',
    sms: /^Jibu: kode yawe yo kwinjira ni \d{6}\./,
    what: 'Byagenze bite?',
    done: /^Urupfu rwamenyeshejwe\. Nimero ([A-Z2-9]{6})\./,
  },
  {
    locale: 'pt',
    phone: EXTRA_WORKERS.majengo!.phone,
    village: ou.majengo,
    name: 'Ana',
    sms: /^Jibu: o seu código de acesso é \d{6}\./,
    what: 'O que aconteceu?',
    done: /^Obito notificado\. Referencia ([A-Z2-9]{6})\./,
  },
] as const;

/** Words that only an English screen has. */
const ENGLISH = /\b(Enter|Choose|Missed visits|What happened|Reference|Search for|Notify the)\b/;

const refs: Record<string, string[]> = {};

beforeAll(async () => {
  w = await startWorld();
  for (const x of WALKERS) await w.t.gw.store.setContact(x.phone, { locale: x.locale });
  before = snapshot(w.emulator);
});
afterAll(async () => {
  await w.stop();
});

describe.each(WALKERS)('in $locale', (x) => {
  it('signs in, reschedules a missed visit, notifies a birth and a death, and reports a reaction', async () => {
    const { dial, screen } = await w.signIn(x.phone, '7314');
    expect(w.smsTo(x.phone).at(-1)).toMatch(x.sms);
    expect(screen.text.split('\n')[0]).toBe(`Jibu - ${x.name}`);
    const list = (await w.t.gw.store.getJson<DefaulterList>(rmKeys.defaulters(x.village)))!.defaulters;
    const first = list[0]!;
    const mine: string[] = (refs[x.locale] = []);
    const ref = () => {
      const m = /([A-Z2-9]{6})\./.exec(dial.screens.at(-1) ?? '');
      expect(m, dial.screens.at(-1)).not.toBeNull();
      mine.push(m![1]!);
    };

    // A missed visit: the oldest first, then "will come" on a date.
    const shown = await dial.send('1');
    const words = first.name.split(' ');
    await dial.send(option(shown, new RegExp(`^${words[0]} ${words.at(-1)![0]}\\.`)));
    expect((await dial.send('1')).text.split('\n')[0]).toBe(x.what);
    await dial.say('1', '02122025');
    ref();
    await dial.say('1', '00');

    // A birth.
    await dial.say(
      '2',
      'Tumaini Kazungu',
      '2',
      '22112025',
      '1',
      'Halima Kazungu',
      '0733000' + String(WALKERS.indexOf(x)).padStart(3, '0'),
      '1',
    );
    expect(dial.screens.at(-1)).toMatch(/\n1\. .+\n2\. .+\n00\. /); // send or cancel
    await dial.send('1');
    ref();
    await dial.send('1');

    // A death of someone not in the registry.
    await dial.say('3', '2', 'Mzee Juma Kombo', '2', '01011950', '1', '23112025', '2', '1');
    expect(dial.screens.at(-1)).toMatch(x.done);
    ref();
    await dial.send('1');

    // A reaction, on the same child, found by the caregiver's phone.
    await dial.say('4', '1', first.caregiverPhone!, '1');
    await dial.send(option(dial.screens.at(-1)!, new RegExp(`^${first.name}`)));
    await dial.say('1', '1', '24112025', '1');
    ref();

    if (x.locale !== 'en') for (const s of dial.screens) expect(s, `${x.locale} screen`).not.toMatch(ENGLISH);
    expect(dial.screens.length).toBeGreaterThan(35);
  });
});

describe('DHIS2 afterwards', () => {
  it('holds, per language, one reschedule, one birth, one death and one reaction, with staff notes', async () => {
    await w.settle();
    expect(await w.t.gw.queue.deadLetters('outbox-dhis2')).toEqual([]);
    const diff = changesSince(w.emulator, before);
    expect(diff.trackedEntities).toHaveLength(2 * WALKERS.length);
    expect(diff.enrollments).toHaveLength(2 * WALKERS.length);
    expect(diff.created.map((e) => e.programStage).sort()).toEqual(
      [...WALKERS.map(() => VEN.birthStage), ...WALKERS.map(() => VEN.deathStage)].sort(),
    );
    expect(diff.changed).toHaveLength(2 * WALKERS.length);
    for (const x of WALKERS) {
      const [moved, birth, death, aefi] = refs[x.locale]!;
      const withNote = (ref: string | undefined) =>
        [...diff.changed, ...diff.created].filter((e) => e.notes?.some((n) => n.value.includes(`ref ${ref}.`)));
      const [visit] = withNote(moved);
      expect([visit?.status, dateOf(w.emulator, visit?.scheduledAt), visit?.orgUnit]).toEqual([
        'SCHEDULE',
        '2025-12-02',
        x.village,
      ]);
      expect(visit?.notes?.[0]?.value).toMatch(
        /^Case worker follow-up: the caregiver will bring the child on 2025-12-02\./,
      );
      expect(withNote(birth).map((e) => [e.programStage, e.orgUnit])).toEqual([[VEN.birthStage, x.village]]);
      expect(withNote(death).map((e) => [e.programStage, e.orgUnit])).toEqual([[VEN.deathStage, x.village]]);
      const [reaction] = withNote(aefi);
      expect([reaction?.programStage, reaction?.status, reaction?.followUp]).toEqual([
        EIR.immunizationStage,
        'COMPLETED',
        true,
      ]);
      expect(reaction?.notes?.[0]?.value).toMatch(/^Adverse event after immunization: fever, mild, since 2025-11-24\./);
    }
  });
});
