import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aefiCaseUids } from '../../src/dhis2/outbox/aefi.ts';
import { AEFI, DEMO, EIR, VEN } from '../../src/emulator/index.ts';
import { eventually } from '../server/harness.ts';
import { childrenNamed } from './dhis2.ts';
import { ROOT } from './helpers.ts';
import { option, startWorld, type World } from './world.ts';

/**
 * End to end on every DHIS2 version the gateway supports, with the deployment filing reactions in the AEFI
 * programme (`aefi.program`): a caregiver's severe reaction over SMS and a case worker's report with the
 * batch number from the card over USSD each become one AEFI case (enrollment and AEFI event with the
 * mapped data values) in the emulator, the severe one alerts the case workers at once, and neither a second
 * report nor a failed first import makes a second case. Births notified over USSD are checked against the
 * whole registry: a child registered in another district gets a potential duplicate naming both.
 */

const TUMAINI_PHONE = DEMO.caregivers.visitedYesterday.phone;
const BARAKA = DEMO.caseWorkers.mtwapa.phone;
const ZAWADI = DEMO.caseWorkers.kidutani.phone;
const JUMBA_WORKER = '+254711000103';
const DE = AEFI.dataElements;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'jibu-aefi-'));
  await writeFile(path.join(dir, 'deployment.yaml'), `aefi:\n  program: ${AEFI.program}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(['2.38', '2.40', '2.41', '2.42'])('surveillance reports on DHIS2 %s', (version) => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({
      dhis2Version: version,
      env: {
        JIBU_CONFIG: path.join(dir, 'deployment.yaml'),
        // Every shipped flow: the caregiver's SMS keyword as well as the case workers' USSD menu.
        FLOWS_DIR: path.join(ROOT, 'flows'),
        LOCALES_DIR: path.join(ROOT, 'locales'),
      },
    });
  });
  afterAll(async () => {
    await w?.stop();
  });

  let smsIds = 0;
  const sms = async (from: string, text: string) => {
    const res = await fetch(`${w.url}/sms/http`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: `AT-${version}-${++smsIds}`, from, to: '21512', text }),
    });
    expect(res.status).toBe(200);
  };
  /** Send `text` and wait for the gateway's answer (the next SMS to `from`). */
  const ask = async (from: string, text: string) => {
    const before = w.smsTo(from).length;
    await sms(from, text);
    return eventually(() => w.smsTo(from)[before], `the answer to "${text}"`);
  };
  const caseOf = (te: string) => ({
    enrollments: (w.emulator.state.enrollmentsByTrackedEntity.get(te) ?? []).filter((e) => e.program === AEFI.program),
    events: w.emulator.state.eventsOfTrackedEntity(te).filter((e) => e.program === AEFI.program),
  });
  const dv = (e: { dataValues?: Array<{ dataElement: string; value: string }> } | undefined, de: string) =>
    e?.dataValues?.find((x) => x.dataElement === de)?.value;
  const latestVisit = (te: string) =>
    w.emulator.state
      .eventsOfTrackedEntity(te)
      .filter((e) => e.programStage === EIR.immunizationStage && e.occurredAt !== undefined)
      .sort((x, y) => (y.occurredAt ?? 0) - (x.occurredAt ?? 0))[0]!;

  it("a caregiver's severe reaction over SMS: one AEFI case with the visit's vaccines, the alert at once, and a second report joins the same case", async () => {
    const tumaini = childrenNamed(w.emulator, 'Tumaini Mwangi')[0]!;
    const visit = latestVisit(tumaini.trackedEntity);
    expect(await ask(TUMAINI_PHONE, 'REACTION')).toMatch(/^What reaction does Tumaini have\?\n1\. Fever\n/);
    expect(await ask(TUMAINI_PHONE, '6')).toMatch(/^How bad is it\?/);
    expect(await ask(TUMAINI_PHONE, '3')).toMatch(/^Since when\?/);
    const done = await ask(TUMAINI_PHONE, '24112025');
    expect(done).toMatch(
      /^Thank you\. A health worker will contact you\. If Tumaini is very sick, go to the health facility now\. Ref [A-Z2-9]{6}\.$/,
    );
    const ref = /Ref ([A-Z2-9]{6})/.exec(done)?.[1];
    await w.settle();

    const alert = `Jibu: severe reaction reported for Tumaini (caregiver ${TUMAINI_PHONE}): fits (convulsions) since 2025-11-24. Ref ${ref}`;
    expect(w.smsTo(BARAKA)).toContain(alert);
    expect(w.smsTo(JUMBA_WORKER)).toContain(alert);

    const uids = aefiCaseUids(tumaini.trackedEntity, visit.event);
    const c = caseOf(tumaini.trackedEntity);
    expect(c.enrollments).toEqual([
      expect.objectContaining({ enrollment: uids.enrollment, status: 'ACTIVE', orgUnit: DEMO.orgUnits.jumba }),
    ]);
    expect(c.events).toHaveLength(1);
    const event = c.events[0];
    expect(event).toMatchObject({ event: uids.event, programStage: AEFI.aefiStage, status: 'ACTIVE' });
    expect(DE.vaccineNames.map((de) => dv(event, de))).toEqual(['bOPV', 'Pentavalent', 'PCV', 'Rotavirus']);
    expect(dv(event, DE.onsetDate)).toBe('2025-11-24');
    expect(dv(event, DE.serious)).toBe('true');
    expect(dv(event, DE.seizures)).toBe('true');
    expect(dv(event, DE.reporter)).toBe('Caregiver, by Jibu SMS');
    expect(dv(event, DE.reporterPhone)).toBe(TUMAINI_PHONE);
    expect(event?.notes?.map((n) => n.value)).toEqual([
      `Caregiver reported a reaction after vaccination by SMS: fits (convulsions), severe, since 2025-11-24 (Jibu ref ${ref})`,
    ]);
    // The EIR visit is left as it was: the report lives in the AEFI programme.
    expect(visit.followUp).toBe(false);

    // The caregiver reports again the next day: the same case, one more note.
    await ask(TUMAINI_PHONE, 'REACTION');
    await ask(TUMAINI_PHONE, '1');
    await ask(TUMAINI_PHONE, '2');
    await ask(TUMAINI_PHONE, '24112025');
    await w.settle();
    const again = caseOf(tumaini.trackedEntity);
    expect(again.enrollments).toHaveLength(1);
    expect(again.events).toHaveLength(1);
    expect(again.events[0]?.notes).toHaveLength(2);
    expect(dv(again.events[0], DE.fever)).toBe('true');
    expect(await w.t.gw.queue.deadLetters('outbox-dhis2')).toEqual([]);
  });

  it("a case worker's report with the batch number from the card over USSD: one AEFI case with the batch in the vaccine's slot, though DHIS2 fails the first import", async () => {
    const { dial } = await w.signIn(BARAKA);
    await dial.say('4', '1', DEMO.caregivers.oneChildDueInTwoDays.phone);
    const found = await dial.send('1');
    const pick = option(found, /^Neema Wanjiru,/);
    expect((await dial.send(pick)).text).toMatch(/^Which reaction\?/);
    await dial.say('2', '2');
    expect((await dial.send('24112025')).text).toBe("Batch/lot number on the child's card (0 if none)");
    expect((await dial.send('BCG-4471')).text).toBe(
      'Which vaccine has this batch number?\n1. Penta\n2. Polio (OPV)\n3. PCV\n4. Rota\n5. BCG\n6. Measles\n7. Other/not sure',
    );
    expect((await dial.send('5')).text).toBe(
      'Report a reaction of Neema Wanjiru since 24/11/2025?\n1. Send\n2. Cancel\n0. Back\n00. Main menu',
    );
    w.emulator.faults.failNext(1, 503, { onlyImports: true });
    const importsBefore = w.emulator.requests.filter((r) => r.method === 'POST' && r.path === '/api/tracker').length;
    const done = await dial.send('1');
    expect(done.text).toMatch(/^Reported\. Reference [A-Z2-9]{6}\.\n1\. Continue$/);
    const ref = /Reference ([A-Z2-9]{6})/.exec(done.text)?.[1];
    await w.settle();
    expect(
      w.emulator.requests
        .filter((r) => r.method === 'POST' && r.path === '/api/tracker')
        .slice(importsBefore)
        .map((r) => r.status),
    ).toEqual([503, 200]);

    const neema = childrenNamed(w.emulator, 'Neema Wanjiru')[0]!;
    const c = caseOf(neema.trackedEntity);
    expect(c.enrollments).toHaveLength(1);
    expect(c.events).toHaveLength(1);
    const event = c.events[0];
    expect(DE.vaccineNames.map((de) => dv(event, de))).toEqual(['BCG', 'bOPV', undefined, undefined]);
    expect(DE.batchNumbers.map((de) => dv(event, de))).toEqual(['BCG-4471', undefined, undefined, undefined]);
    expect(dv(event, DE.serious)).toBe('false');
    expect(dv(event, DE.injectionSiteSoreness)).toBe('true');
    expect(dv(event, DE.reporter)).toBe('Baraka Otieno, case worker (Jibu USSD)');
    expect(event?.notes?.map((n) => n.value)).toEqual([
      `Adverse event after immunization: swelling or pain where the vaccine was given, moderate, since 2025-11-24. Reported by cw.baraka via Jibu USSD, ref ${ref}.`,
    ]);
    expect(await w.t.gw.queue.deadLetters('outbox-dhis2')).toEqual([]);
  });

  it('a birth of a child registered in another district: one new child and one potential duplicate naming both; a birth with no match files none', async () => {
    const wema = childrenNamed(w.emulator, 'Wema Njeri')[0]!;
    const tesBefore = w.emulator.state.trackedEntities.size;
    const { dial } = await w.signIn(ZAWADI);
    await dial.say('2', 'Wema Njeri', '1', '23112025', '2', 'Joyce Njeri', '0700000009');
    // Nobody of that name, date or phone in Kidutani: nothing offered on the phone.
    expect((await dial.send('1')).text).toBe('Send the birth notification?\n1. Send\n2. Cancel\n00. Main menu');
    const done = await dial.send('1');
    expect(done.text).toMatch(/^Birth notified\. Reference [A-Z2-9]{6}\.\n1\. Continue$/);
    const ref = /Reference ([A-Z2-9]{6})/.exec(done.text)?.[1];
    await w.settle();
    expect(w.emulator.state.trackedEntities.size).toBe(tesBefore + 1);
    const newChild = [...w.emulator.state.trackedEntities.values()].at(-1)!;
    expect(newChild.orgUnit).toBe(DEMO.orgUnits.kidutani);
    expect([...w.emulator.state.potentialDuplicates.values()]).toEqual([
      expect.objectContaining({ original: wema.trackedEntity, duplicate: newChild.trackedEntity, status: 'OPEN' }),
    ]);

    await dial.say('1', '2', 'Amani Juma', '1', '20112025', '2', 'Fatuma Hassan', '0722000111', '1', '1');
    await w.settle();
    expect(w.emulator.state.trackedEntities.size).toBe(tesBefore + 2);
    expect(w.emulator.state.potentialDuplicates.size).toBe(1);
    const ven = (w.emulator.state.enrollmentsByTrackedEntity.get(newChild.trackedEntity) ?? [])[0];
    expect(ven).toMatchObject({ program: VEN.program, followUp: false });

    const admin = await fetch(`${w.url}/admin/duplicates`);
    expect(admin.status).toBe(200);
    expect(await admin.json()).toEqual({
      duplicates: [
        expect.objectContaining({
          ref,
          original: wema.trackedEntity,
          originalOrgUnit: DEMO.orgUnits.tiwiKati,
          duplicate: newChild.trackedEntity,
          outcome: 'filed',
        }),
      ],
    });
    const metrics = await (await fetch(`${w.url}/metrics`)).text();
    expect(metrics).toMatch(/^jibu_birth_duplicate_checks_total\{outcome="filed"\} 1$/m);
    expect(metrics).toMatch(/^jibu_birth_duplicate_checks_total\{outcome="no_match"\} 1$/m);
  });
});
