import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, EIR, VEN } from '../../src/emulator/index.ts';
import { newUid } from '../../src/dhis2/uid.ts';
import { eventually } from '../server/harness.ts';
import { changesSince, dateOf, immunizationEvents, missedVisit, snapshot, type Dhis2Snapshot } from './dhis2.ts';
import { option, startWorld, type Dial, type Screen, type World } from './world.ts';

/**
 * Defaulter follow-up end to end: the list over USSD, each outcome written to the emulator by the relay
 * exactly as the deployment says, and a child reported dead leading into the death notification.
 */

let w: World;
let before: Dhis2Snapshot;
/** The tracked entity of each child the tests follow up, found before anything changed. */
const child: Record<string, string> = {};
const zawadi = DEMO.caseWorkers.kidutani.phone;
const baraka = DEMO.caseWorkers.mtwapa.phone;
const refs: Record<string, string> = {};

beforeAll(async () => {
  w = await startWorld();
  // Neema Kamau gets a second visit booked, so the death has more than one visit to stop.
  const neema = missedVisit(w.emulator, 'Neema Kamau', DEMO.orgUnits.majengo);
  const r = await w.t.gw.dhis2.importTracker(
    {
      events: [
        {
          event: newUid(),
          program: EIR.program,
          programStage: EIR.immunizationStage,
          enrollment: neema.enrollment,
          orgUnit: neema.orgUnit,
          status: 'SCHEDULE',
          scheduledAt: '2025-12-20',
        },
      ],
    },
    { importStrategy: 'CREATE' },
  );
  expect(r.status).toBe('OK');
  await w.t.gw.syncOnce('full');
  const ou = DEMO.orgUnits;
  for (const [name, village] of [
    ['Zuri Achieng', ou.kidutani],
    ['Imani Otieno', ou.kidutani],
    ['Omari Wanjiru', ou.jumba],
    ['Otieno Kahindi', ou.jumba],
    ['Baraka Mohamed', ou.jumba],
    ['Neema Kamau', ou.majengo],
  ] as const) {
    child[name] = missedVisit(w.emulator, name, village).trackedEntity;
  }
  before = snapshot(w.emulator);
});
afterAll(async () => {
  await w.stop();
});

/** Page through a menu (98) until the option is on screen; its number. */
async function find(dial: Dial, screen: Screen, label: RegExp): Promise<string> {
  let s = screen;
  for (let i = 0; i < 10; i++) {
    try {
      return option(s, label);
    } catch {
      s = await dial.send('98');
    }
  }
  throw new Error(`${label} not found`);
}

/** The facility worker's list of one village: through the choice of place while the list is long. */
async function villageList(dial: Dial, village: RegExp): Promise<Screen> {
  const first = await dial.send('1');
  if (!/Show:/.test(first.text)) return first;
  return dial.send(await find(dial, first, village));
}
const jumbaList = (dial: Dial) => villageList(dial, /^Jumba/);

const refOf = (s: Screen) => /Reference ([A-Z2-9]{6})/.exec(s.text)?.[1] ?? '';

describe('the missed-visit list', () => {
  it("shows the worker's children who missed a visit, oldest first, three or more a screen: first name, initial, age, days overdue", async () => {
    const { dial, screen } = await w.signIn(zawadi);
    expect(screen.text).toMatch(/^Jibu - Zawadi\n1\. Missed visits \(5\)/);
    const page = await dial.send('1');
    expect(page.text).toMatch(
      /^5 missed \(age, days late\)\n1\. Asha B\. \d+m 26d\n2\. Zawadi N\. \d+m 21d\n3\. Kato N\. \d+m 16d\n4\. Zuri A\. 3m 6d\n5\. Imani O\. 2m 1d\n0\. Back\n00\. Main menu$/,
    );
    // Nobody from outside Kidutani.
    expect(page.text).not.toMatch(/Omari W|Neema K|Saida B/);
  });

  it('offers filters first when the list is long (a facility worker), each with its exact count; a choice shows its list at once', async () => {
    const { dial } = await w.signIn(baraka);
    const filters = await dial.send('1');
    expect(filters.text).toBe(
      '10 missed visits. Show:\n1. All (10)\n2. Find a name\n3. 30-90 days (1)\n4. Under 30 days (9)\n5. Kidutani (5)\n98. More\n0. Back\n00. Main menu',
    );
    expect((await dial.send('98')).text).toBe(
      '10 missed visits. Show:\n6. Jumba (3)\n7. Majengo (2)\n0. Back\n00. Main menu',
    );
    // No "Continue" screen between the choice and its list.
    expect((await dial.send('6')).text).toMatch(
      /^3 missed \(age, days late\)\n1\. Omari W\. \d+m 29d\n2\. Otieno K\. \d+m 12d\n3\. Baraka M\. \d+m 9d\n0\. Back\n00\. Main menu$/,
    );
    // A name: the first letters, then the children whose name has a word starting with them.
    await dial.send('0');
    expect((await dial.send('2')).text).toBe('First letters of the name (e.g. KIR):');
    expect((await dial.send('oti')).text).toMatch(
      /^2 missed \(age, days late\)\n1\. Otieno K\. \d+m 12d\n2\. Imani O\. 2m 1d\n/,
    );
    await dial.say('00', '1', '2');
    expect((await dial.send('xyz')).text).toBe(
      'xyz: no child with a missed visit has this name.\n1. Other letters\n2. Other choices\n00. Main menu',
    );
  });
});

describe('each outcome', () => {
  it('shows the caregiver phone and the missed visit, then reschedules "will come" to the date given', async () => {
    const { dial } = await w.signIn(zawadi);
    const list = await dial.send('1');
    const details = await dial.send(await find(dial, list, /^Zuri A\./));
    expect(details.text).toBe(
      'Zuri Achieng, 3 months, Kidutani. Caregiver: +254700000005. Missed visit 19/11/2025\n1. What happened?\n0. Back\n00. Main menu',
    );
    expect((await dial.send('1')).text).toBe(
      'What happened?\n1. Will come\n2. Vaccinated elsewhere\n3. Moved away\n4. Refused\n5. Child not found\n6. Child died\n0. Back\n00. Main menu',
    );
    expect((await dial.send('1')).text).toBe('On which date will the child come? E.g. 25122025');
    expect((await dial.send('20112025')).text).toBe(
      'That date has passed. Enter a later date.\nOn which date will the child come? E.g. 25122025',
    );
    expect((await dial.send('01032026')).text).toMatch(/^Choose a date within the next 60 days\./);
    const saved = await dial.send('01122025');
    expect(saved.text).toMatch(/^Saved\. Reference [A-Z2-9]{6}\.\n1\. Continue$/);
    refs.willCome = refOf(saved);
    // Back to the list, without the child just handled.
    const again = await dial.send('1');
    expect(again.text).toMatch(/^4 missed \(age, days late\)/);
    expect(again.text).not.toMatch(/Zuri A\./);
  });

  it('writes "refused" as a note with the follow-up flag, and gives the reference even while DHIS2 is down', async () => {
    const { dial } = await w.signIn(zawadi);
    const list = await dial.send('1');
    await dial.send(await find(dial, list, /^Imani O\./));
    await dial.send('1');
    // DHIS2 requests that failed so far: the relay's attempt at this write while DHIS2 is down adds one.
    const failed = async () =>
      (await w.t.gw.metrics.dhis2Requests.get()).values
        .filter((v) => v.labels.outcome === 'error' || v.labels.outcome === 'unavailable')
        .reduce((n, v) => n + v.value, 0);
    const failedBefore = await failed();
    w.emulator.faults.down = true;
    try {
      const saved = await dial.send('4');
      expect(saved.text).toMatch(/^Saved\. Reference [A-Z2-9]{6}\./);
      refs.refused = refOf(saved);
      await eventually(async () => (await failed()) > failedBefore, 'the relay to try the write while DHIS2 is down');
      expect(immunizationEvents(w.emulator, child['Imani Otieno']!).flatMap((e) => e.notes ?? [])).toEqual([]);
    } finally {
      w.emulator.faults.down = false;
    }
    await w.settle();
    expect(
      immunizationEvents(w.emulator, child['Imani Otieno']!)
        .flatMap((e) => e.notes ?? [])
        .map((n) => n.value),
    ).toEqual([expect.stringContaining(refs.refused!)]);
  });

  it('writes vaccinated elsewhere, moved away and not found for a facility worker, once each even when AT re-sends a hop', async () => {
    const choose = async (name: RegExp, outcome: string) => {
      const { dial } = await w.signIn(baraka);
      const list = await jumbaList(dial);
      await dial.send(await find(dial, list, name));
      await dial.send('1');
      const saved = await dial.send(outcome);
      expect(saved.text).toMatch(/^Saved\. Reference/);
      // The provider retries the same hop: the same screen, nothing written twice.
      expect(await dial.resend()).toEqual(saved);
      return refOf(saved);
    };
    refs.elsewhere = await choose(/^Omari W\./, '2');
    refs.moved = await choose(/^Otieno K\./, '3');
    refs.notFound = await choose(/^Baraka M\./, '5');
  });

  it('asks to confirm a death, stops every visit of the child, and leads into the death notification', async () => {
    const { dial } = await w.signIn(baraka);
    const list = await villageList(dial, /^Majengo/);
    await dial.send(await find(dial, list, /^Neema K\./));
    await dial.send('1');
    expect((await dial.send('6')).text).toBe(
      'Confirm that Neema Kamau died?\n1. Yes\n2. No, go back\n0. Back\n00. Main menu',
    );
    const saved = await dial.send('1');
    expect(saved.text).toMatch(
      /^Saved\. Reference [A-Z2-9]{6}\. Reminders for Neema Kamau are stopped\. Now notify the death\.\n1\. Continue$/,
    );
    refs.died = refOf(saved);
    expect((await dial.send('1')).text).toBe('Date of death, e.g. 25122025');
    expect((await dial.send('26112025')).text).toMatch(/^That date is in the future/);
    expect((await dial.send('23112025')).text).toBe('Place of death\n1. Health facility\n2. Home\n3. Other');
    expect((await dial.send('2')).text).toBe(
      'Notify the death of Neema Kamau on 23/11/2025?\n1. Send\n2. Cancel\n0. Back\n00. Main menu',
    );
    const done = await dial.send('1');
    expect(done.text).toMatch(/^Death notified\. Reference [A-Z2-9]{6}\.\n1\. Continue$/);
    refs.death = refOf(done);
  });
});

describe('DHIS2 afterwards', () => {
  it('holds exactly the expected changes: one note per outcome, the statuses, dates and flags the deployment says, and the death', async () => {
    await w.settle();
    await eventually(
      async () => (await w.t.gw.queue.deadLetters('outbox-dhis2')).length === 0 && true,
      'no dead letters',
      100,
    ).catch(async () => {
      throw new Error(`dead letters: ${JSON.stringify(await w.t.gw.queue.deadLetters('outbox-dhis2'))}`);
    });
    const diff = changesSince(w.emulator, before);
    const byChild = (name: string) => diff.changed.filter((e) => e.trackedEntity === child[name]);
    const one = (name: string) => {
      const list = byChild(name);
      expect(list, name).toHaveLength(1);
      const e = list[0]!;
      expect(e.notes, name).toHaveLength(1);
      return { e, note: e.notes![0]!.value };
    };

    const zuri = one('Zuri Achieng');
    expect([zuri.e.status, dateOf(w.emulator, zuri.e.scheduledAt), zuri.e.followUp]).toEqual([
      'SCHEDULE',
      '2025-12-01',
      false,
    ]);
    expect(zuri.note).toBe(
      `Case worker follow-up: the caregiver will bring the child on 2025-12-01. Reported by cw.zawadi via Jibu USSD, ref ${refs.willCome}.`,
    );

    const imani = one('Imani Otieno');
    expect([imani.e.status, imani.e.followUp]).toEqual(['SCHEDULE', true]);
    expect(imani.note).toBe(
      `Case worker follow-up: the caregiver refused the vaccination. Reported by cw.zawadi via Jibu USSD, ref ${refs.refused}.`,
    );

    const omari = one('Omari Wanjiru');
    expect([omari.e.status, omari.e.followUp]).toEqual(['SKIPPED', false]);
    expect(omari.note).toMatch(
      new RegExp(
        `^Case worker follow-up: the child was vaccinated elsewhere\\. Reported by cw\\.baraka via Jibu USSD, ref ${refs.elsewhere}\\.$`,
      ),
    );
    const otieno = one('Otieno Kahindi');
    expect([otieno.e.status, otieno.e.followUp]).toEqual(['SKIPPED', false]);
    expect(otieno.note).toContain(`the family has moved away. Reported by cw.baraka via Jibu USSD, ref ${refs.moved}.`);
    const notFound = one('Baraka Mohamed');
    expect([notFound.e.status, notFound.e.followUp]).toEqual(['SCHEDULE', true]);
    expect(notFound.note).toContain(
      `the child could not be found. Reported by cw.baraka via Jibu USSD, ref ${refs.notFound}.`,
    );

    // Death: the missed visit skipped and flagged, the later one skipped too, a Vital Events death.
    const neema = w.emulator.state.trackedEntities.get(child['Neema Kamau']!)!;
    const visits = byChild('Neema Kamau');
    expect(visits).toHaveLength(2);
    expect(visits.map((e) => [e.status, e.followUp, e.notes?.length])).toEqual(
      expect.arrayContaining([
        ['SKIPPED', true, 1],
        ['SKIPPED', false, 1],
      ]),
    );
    expect(immunizationEvents(w.emulator, neema.trackedEntity).filter((e) => e.status === 'SCHEDULE')).toEqual([]);
    expect(diff.trackedEntities).toEqual([]);
    expect(diff.enrollments).toHaveLength(1);
    expect(diff.enrollments[0]).toMatchObject({
      trackedEntity: neema.trackedEntity,
      program: VEN.program,
      status: 'COMPLETED',
    });
    expect(diff.created).toHaveLength(1);
    const death = diff.created[0]!;
    expect(death).toMatchObject({
      programStage: VEN.deathStage,
      status: 'COMPLETED',
      enrollment: diff.enrollments[0]!.enrollment,
      orgUnit: DEMO.orgUnits.majengo,
    });
    expect(dateOf(w.emulator, death.occurredAt)).toBe('2025-11-23');
    expect(death.dataValues?.map((d) => [d.dataElement, d.value])).toEqual([
      [VEN.dataElements.sendNotification, 'true'],
      [VEN.dataElements.deathPlace, 'Home'],
    ]);
    expect(death.notes?.map((n) => n.value)).toEqual([
      `Death notified by a case worker: Home. Reported by cw.baraka via Jibu USSD, ref ${refs.death}.`,
    ]);
    expect(neema.attributes[VEN.attributes.registrationReason]).toBe('3');
    expect(neema.attributes[VEN.attributes.dateOfDeath]).toBe('2025-11-23');

    // Nothing else changed anywhere.
    expect(diff.changed).toHaveLength(7);
  });

  it('takes the handled children off the list once DHIS2 has the writes', async () => {
    const { dial } = await w.signIn(zawadi);
    expect(dial.screens.at(-1)).toMatch(/1\. Missed visits \(4\)/);
    await w.t.gw.syncOnce('incremental');
    const { screen } = await w.signIn(zawadi);
    expect(screen.text).toMatch(/1\. Missed visits \(4\)/);
  });
});
