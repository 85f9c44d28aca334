import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, EIR, VEN } from '../../src/emulator/index.ts';
import { changesSince, childrenNamed, dateOf, immunizationEvents, snapshot, type Dhis2Snapshot } from './dhis2.ts';
import { startWorld, type World } from './world.ts';

/**
 * Births, deaths and reactions after vaccination, reported by a case worker over USSD and written to
 * the emulator's Vital Events and EIR programmes by the relay.
 */

let w: World;
let before: Dhis2Snapshot;
const zawadi = DEMO.caseWorkers.kidutani.phone;
const baraka = DEMO.caseWorkers.mtwapa.phone;
const refs: Record<string, string> = {};
const refOf = (text: string) => /Reference ([A-Z2-9]{6})/.exec(text)?.[1] ?? '';
const one = (name: string) => {
  const list = childrenNamed(w.emulator, name, DEMO.orgUnits.kidutani);
  expect(list, name).toHaveLength(1);
  return list[0]!;
};
const attrs = (o: { attributes?: Record<string, string> } | undefined) => o?.attributes ?? {};

beforeAll(async () => {
  w = await startWorld();
  before = snapshot(w.emulator);
});
afterAll(async () => {
  await w.stop();
});

describe('a birth', () => {
  it('of a new child: name, sex, date and place of birth, caregiver, a summary to check, then a reference', async () => {
    const { dial } = await w.signIn(zawadi);
    expect((await dial.send('2')).text).toBe("Child's name, or 0 if not named yet");
    expect((await dial.send('Amani Juma')).text).toBe('Sex of the child\n1. Girl\n2. Boy');
    expect((await dial.send('1')).text).toBe('Date of birth, e.g. 25122025');
    expect((await dial.send('01012024')).text).toBe(
      'Enter a date of birth within the last 12 months.\nDate of birth, e.g. 25122025',
    );
    expect((await dial.send('20112025')).text).toBe('Place of birth\n1. Health facility\n2. Home\n3. Other');
    expect((await dial.send('2')).text).toBe("Mother's or caregiver's name");
    expect((await dial.send('Fatuma Hassan')).text).toBe("Caregiver's phone number");
    const check = await dial.send('0722 000 111');
    expect(check.text).toBe(
      'Amani Juma, girl, born 20/11/2025. Carer: Fatuma Hassan, +254722000111. Correct?\n1. Yes\n2. No',
    );
    // No child of that name, date or caregiver in Kidutani: straight to sending.
    expect((await dial.send('1')).text).toBe('Send the birth notification?\n1. Send\n2. Cancel\n00. Main menu');
    const done = await dial.send('1');
    expect(done.text).toMatch(/^Birth notified\. Reference [A-Z2-9]{6}\.\n1\. Continue$/);
    refs.newBirth = refOf(done.text);
  });

  it('that may already be registered (same date of birth and a similar name): the worker says "same child"', async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.say('2', 'zuri', '1', '13082025', '1', 'Mercy Achieng', '0799000000');
    const dups = await dial.send('1');
    expect(dups.text).toBe(
      'Maybe already registered\n1. None of these: new\n2. Zuri Achieng, born 13/08/2025, Kidutani\n0. Back\n00. Main menu',
    );
    expect((await dial.send('2')).text).toMatch(/^Send the birth notification\?/);
    refs.sameChild = refOf((await dial.send('1')).text);
    expect(refs.sameChild).not.toBe('');
  });

  it("with the caregiver phone of children already registered: lists them, and the worker says it's a new child", async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.say('2', '0', '2', '24112025', '1', 'Mwanaisha Salim', '+254700000001');
    const check = await dial.send('1');
    expect(check.text).toBe(
      'Maybe already registered\n1. None of these: new\n2. Amina Salim, born 18/09/2025, Kidutani\n98. More\n0. Back\n00. Main menu',
    );
    expect((await dial.send('98')).text).toMatch(
      /^Maybe already registered\n3\. Juma Salim, born 26\/02\/2025, Kidutani\n/,
    );
    await dial.send('1');
    refs.sibling = refOf((await dial.send('1')).text);
    expect(refs.sibling).not.toBe('');
  });
});

describe('a death', () => {
  it("of a registry child found by the caregiver phone: stops the child's visits too", async () => {
    const { dial } = await w.signIn(zawadi);
    expect((await dial.send('3')).text).toBe(
      'Death of\n1. A child in the registry\n2. Someone not in the registry\n0. Back\n00. Main menu',
    );
    expect((await dial.send('1')).text).toBe(
      "Find the child by\n1. Caregiver's phone\n2. Child's name\n0. Back\n00. Main menu",
    );
    expect((await dial.send('1')).text).toBe("Enter the caregiver's phone number");
    expect((await dial.send('0700000001')).text).toBe(
      'Search for +254700000001 in your area?\n1. Search\n2. Change\n0. Back\n00. Main menu',
    );
    const found = await dial.send('1');
    expect(found.text).toBe(
      'Choose the child\n1. Amina Salim, 2m, Kidutani\n2. Juma Salim, 8m, Kidutani\n0. Back\n00. Main menu',
    );
    expect((await dial.send('2')).text).toBe('Date of death, e.g. 25122025');
    await dial.send('25112025');
    expect((await dial.send('1')).text).toBe(
      'Notify the death of Juma Salim on 25/11/2025?\n1. Send\n2. Cancel\n0. Back\n00. Main menu',
    );
    refs.registryDeath = refOf((await dial.send('1')).text);
    expect(refs.registryDeath).not.toBe('');
  });

  it('of someone not in the registry, with a summary to check first', async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.say('3', '2');
    expect(dial.screens.at(-1)).toBe('Full name of the person who died');
    expect((await dial.send('Hamisi Baya')).text).toBe('Sex\n1. Female\n2. Male');
    await dial.send('2');
    expect((await dial.send('01011960')).text).toBe('Hamisi Baya, male, born 01/01/1960. Correct?\n1. Yes\n2. No');
    expect((await dial.send('1')).text).toBe('Date of death, e.g. 25122025');
    await dial.say('24112025', '1');
    expect(dial.screens.at(-1)).toMatch(/^Notify the death of Hamisi Baya on 24\/11\/2025\?/);
    refs.newDeath = refOf((await dial.send('1')).text);
    expect(refs.newDeath).not.toBe('');
  });
});

describe('a reaction after vaccination', () => {
  it('found by name, written on the latest visit with the follow-up flag', async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.say('4', '2');
    expect((await dial.send('imani')).text).toBe(
      'Search for imani in your area?\n1. Search\n2. Change\n0. Back\n00. Main menu',
    );
    const found = await dial.send('1');
    expect(found.text).toBe(
      'Choose the child\n1. Imani Mwamburi, 15m, Kidutani\n2. Imani Otieno, 2m, Kidutani\n0. Back\n00. Main menu',
    );
    expect((await dial.send('2')).text).toBe(
      'Which reaction?\n1. Fever\n2. Swelling/pain\n3. Rash\n4. Vomiting/diarrhoea\n5. Fits\n6. Breathing problem\n7. Other',
    );
    expect((await dial.send('1')).text).toBe(
      'How serious is it?\n1. Mild\n2. Moderate\n3. Severe (hospital or danger to life)',
    );
    expect((await dial.send('2')).text).toBe('When did it start? E.g. 25122025');
    expect((await dial.send('24112025')).text).toBe(
      'Report a reaction of Imani Otieno since 24/11/2025?\n1. Send\n2. Cancel\n0. Back\n00. Main menu',
    );
    const done = await dial.send('1');
    expect(done.text).toMatch(/^Reported\. Reference [A-Z2-9]{6}\.\n1\. Continue$/);
    refs.aefi = refOf(done.text);
  });

  it('a severe one alerts the case workers responsible for the child by SMS at once', async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.say('4', '1', '0700000005', '1', '1', '5', '3', '25112025');
    const done = await dial.send('1');
    expect(done.text).toMatch(
      /^Reported\. Reference [A-Z2-9]{6}\. The case workers of the area are alerted\. Send the child to a health facility now\.\n1\. Continue$/,
    );
    refs.severe = refOf(done.text);
    await w.settle();
    const alert = `Jibu alert: severe reaction after vaccination (fits (convulsions)) in Zuri Achieng since 25/11/2025, reported by case worker Zawadi Mwangi. Ref ${refs.severe}. Please follow up today.`;
    expect(w.smsTo(baraka)).toContain(alert);
    // Nobody outside Mtwapa's villages hears of it.
    expect(w.smsTo(DEMO.caseWorkers.bomani.phone)).not.toContain(alert);
  });
});

describe('DHIS2 afterwards', () => {
  it('holds exactly the notified births and deaths and the two reactions', async () => {
    await w.settle();
    expect(await w.t.gw.queue.deadLetters('outbox-dhis2')).toEqual([]);
    const diff = changesSince(w.emulator, before);
    const ven = diff.enrollments.filter((e) => e.program === VEN.program);
    expect(ven).toHaveLength(diff.enrollments.length);
    expect(diff.enrollments).toHaveLength(5); // three births, two deaths
    expect(diff.trackedEntities).toHaveLength(3); // the new child, the sibling, the adult

    const noteOf = (ref: string) => diff.created.find((e) => e.notes?.some((n) => n.value.includes(ref)));
    const enrollmentOf = (e: { enrollment: string } | undefined) =>
      diff.enrollments.find((x) => x.enrollment === e?.enrollment);
    const teOf = (uid: string | undefined) => w.emulator.state.trackedEntities.get(uid ?? '');

    const birth = noteOf(refs.newBirth!);
    expect(birth).toMatchObject({ programStage: VEN.birthStage, status: 'COMPLETED', orgUnit: DEMO.orgUnits.kidutani });
    expect(dateOf(w.emulator, birth?.occurredAt)).toBe('2025-11-20');
    expect(birth?.dataValues?.map((d) => [d.dataElement, d.value])).toEqual([
      [VEN.dataElements.sendNotification, 'true'],
      [EIR.dataElements.placeOfBirth, 'Home'],
    ]);
    expect(birth?.notes?.map((n) => n.value)).toEqual([
      `Birth notified by a case worker: Home. Reported by cw.zawadi via Jibu USSD, ref ${refs.newBirth}.`,
    ]);
    const baby = teOf(enrollmentOf(birth)?.trackedEntity);
    expect(baby).toMatchObject({ trackedEntityType: EIR.trackedEntityType, orgUnit: DEMO.orgUnits.kidutani });
    expect(attrs(baby)).toMatchObject({
      [EIR.attributes.firstName]: 'Amani',
      [EIR.attributes.surname]: 'Juma',
      [EIR.attributes.sex]: 'Female',
      [EIR.attributes.dateOfBirth]: '2025-11-20',
      [EIR.attributes.caregiverFirstName]: 'Fatuma',
      [EIR.attributes.caregiverSurname]: 'Hassan',
      [EIR.attributes.phone]: '+254722000111',
      [VEN.attributes.registrationReason]: '1',
    });

    // "Same child": Zuri's own record gets the Vital Events enrollment; nobody new is created.
    const same = enrollmentOf(noteOf(refs.sameChild!));
    expect(same?.trackedEntity).toBe(one('Zuri Achieng').trackedEntity);
    // The unnamed sibling is a new person, without a first name yet.
    const sibling = teOf(enrollmentOf(noteOf(refs.sibling!))?.trackedEntity);
    expect(sibling).toBeDefined();
    expect(attrs(sibling)[EIR.attributes.firstName]).toBeUndefined();
    expect(attrs(sibling)[EIR.attributes.phone]).toBe('+254700000001');

    // The registry child's death: a Death event on Juma, and his booked visit skipped.
    const juma = one('Juma Salim');
    const death = noteOf(refs.registryDeath!);
    expect(death).toMatchObject({ programStage: VEN.deathStage, trackedEntity: juma.trackedEntity });
    expect(dateOf(w.emulator, death?.occurredAt)).toBe('2025-11-25');
    expect(attrs(juma)[VEN.attributes.dateOfDeath]).toBe('2025-11-25');
    expect(immunizationEvents(w.emulator, juma.trackedEntity).map((e) => e.status)).not.toContain('SCHEDULE');
    const adult = teOf(enrollmentOf(noteOf(refs.newDeath!))?.trackedEntity);
    expect(attrs(adult)).toMatchObject({
      [EIR.attributes.firstName]: 'Hamisi',
      [EIR.attributes.surname]: 'Baya',
      [EIR.attributes.sex]: 'Male',
      [VEN.attributes.registrationReason]: '3',
      [VEN.attributes.dateOfDeath]: '2025-11-24',
    });

    // Reactions: a note and the follow-up flag on each child's latest (completed) visit.
    const reacted = diff.changed.filter((e) => e.programStage === EIR.immunizationStage && e.status === 'COMPLETED');
    expect(reacted.map((e) => [e.trackedEntity, e.followUp, e.notes?.length])).toEqual(
      expect.arrayContaining([
        [one('Imani Otieno').trackedEntity, true, 1],
        [one('Zuri Achieng').trackedEntity, true, 1],
      ]),
    );
    expect(reacted.find((e) => e.trackedEntity === one('Imani Otieno').trackedEntity)?.notes?.[0]?.value).toBe(
      `Adverse event after immunization: fever, moderate, since 2025-11-24. Reported by cw.zawadi via Jibu USSD, ref ${refs.aefi}.`,
    );
    // Births (3) and deaths (2) created one event each; the reactions (2) and Juma's skipped visit changed three.
    expect(diff.created).toHaveLength(5);
    expect(diff.changed).toHaveLength(3);
  });
});
