import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetPin } from '../../src/caseworker/credentials.ts';
import { sessionKey } from '../../src/conversation/runner.ts';
import { DEMO } from '../../src/emulator/index.ts';
import { rmKeys, type DefaulterList } from '../../src/dhis2/readmodel/index.ts';
import { changesSince, snapshot, type Dhis2Snapshot } from './dhis2.ts';
import { option, startWorld, type Dial, type World } from './world.ts';

/**
 * A case worker never sees or writes a child outside their org units, whatever they type: guessed menu
 * numbers, replayed sessions, or a child carried in the conversation variables from elsewhere. Every
 * test ends by checking that DHIS2 did not change.
 */

let w: World;
let before: Dhis2Snapshot;
/** The one legitimate write of this file (the replay test records an outcome before replaying). */
let notFoundRef = '';
const zawadi = DEMO.caseWorkers.kidutani.phone;
const salma = DEMO.caseWorkers.bomani.phone;
const DENIED = { end: true, text: 'This child is not in your area, or your sign-in has ended. Nothing was saved.' };

beforeAll(async () => {
  w = await startWorld();
  await w.signIn(salma); // Salma has a PIN too
  before = snapshot(w.emulator);
});
afterAll(async () => {
  await w.stop();
});

/** Rewrite the variables of the conversation a phone is in (what a bug or a tampered store could do). */
async function tamper(phone: string, change: (vars: Record<string, unknown>) => void): Promise<void> {
  const store = w.t.gw.store;
  const key = sessionKey('ussd', phone);
  const loaded = await store.lockAndLoad(phone, key);
  const session = loaded.session!;
  const snap = structuredClone(session.snapshot) as { context: { vars: Record<string, unknown> } };
  change(snap.context.vars);
  await store.commit(loaded.lock, {
    sessionKey: key,
    session: { ...session, snapshot: snap },
    sessionTtlMs: 180_000,
    jobs: [],
  });
}

/** A defaulter of Salma's village (Bomani), as the list item the flow saves. */
async function bomaniDefaulter(): Promise<Record<string, unknown>> {
  const list = await w.t.gw.store.getJson<DefaulterList>(rmKeys.defaulters(DEMO.orgUnits.bomani));
  const d = list!.defaulters[0]!;
  return { ...d, age: '9', days: 3, village: 'Bomani', name: d.name };
}

/** Zawadi signed in, on the outcome menu of her first missed visit. */
async function atOutcome(): Promise<Dial> {
  const { dial } = await w.signIn(zawadi);
  await dial.say('1', '1', '1');
  expect(dial.screens.at(-1)).toMatch(/^What happened\?/);
  return dial;
}

describe('what a worker can see', () => {
  it('a number that is not on the list is refused with a hint; nothing is chosen', async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.send('1');
    for (const guess of ['6', '37', '99']) {
      expect((await dial.send(guess)).text).toMatch(/^Please choose a number from the list\.\n1\. Asha B\. /);
    }
    // Guessing on ends the dial politely.
    expect(await dial.send('-1')).toEqual({
      end: true,
      text: 'Sorry, we could not understand your answer. Please try again later.',
    });
  });

  it('a caregiver phone from another area finds nothing, though the read model knows the children', async () => {
    expect(
      (await w.t.gw.store.getJson<{ children: unknown[] }>(rmKeys.caregiver('+254700000008')))?.children,
    ).toHaveLength(1);
    const { dial } = await w.signIn(zawadi);
    await dial.say('4', '1', '0700000008');
    expect((await dial.send('1')).text).toBe(
      'No child found in your area.\n1. Search again\n2. Main menu\n00. Main menu',
    );
  });

  it('a name search finds children of the area only', async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.say('3', '1', '2', 'bahati');
    expect((await dial.send('1')).text).toMatch(/^No child found in your area\./);
    await dial.say('1', '2', 'zuri');
    const found = await dial.send('1');
    expect(found.text).toMatch(/^Choose the child\n1\. Zuri Achieng, 3m, Kidutani\n/);
    expect(found.text).not.toMatch(/Zuri Baya.*Bomani|Tiwi|Mwaroni/);
  });
});

describe('replayed sessions', () => {
  it('a replay of a finished dial (same session id) writes nothing again, and going on from it means signing in afresh', async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.say('1', '1', '1');
    const saved = await dial.send('5');
    expect(saved.text).toMatch(/^Saved\. Reference/);
    notFoundRef = /Reference ([A-Z2-9]{6})/.exec(saved.text)![1]!;
    await dial.say('1', '00', '5');
    expect(dial.screens.at(-1)).toBe('Thank you. Goodbye.');
    // An attacker, or a confused aggregator, posts the same session id and the whole path again.
    expect((await dial.resend()).end).toBe(true);
    // ... or goes on from it: a new conversation, which starts at the PIN.
    expect(await dial.send('1')).toEqual({ end: false, text: 'Hello Zawadi. Enter your 4-digit PIN' });
    expect((await dial.send('1')).text).toBe('Wrong PIN. 4 tries left before it locks. Enter your PIN');
  });

  it("another phone posting a worker's session id and inputs gets its own sign-in, never her screens", async () => {
    const { dial } = await w.signIn(zawadi);
    await dial.say('1', '1');
    const stolen = await fetch(`${w.url}/ussd/africastalking`, {
      method: 'POST',
      body: new URLSearchParams({
        sessionId: dial.sessionId,
        serviceCode: '*384*12#',
        phoneNumber: DEMO.caseWorkers.tiwi.phone,
        networkCode: '63902',
        text: `${dial.inputs.join('*')}*1`,
      }),
    });
    const text = await stolen.text();
    expect(text).toBe('CON Welcome Peter. We sent you a 6-digit code by SMS. Enter it');
  });
});

describe('a child carried in the variables from elsewhere', () => {
  it("another worker's missed visit is refused at write time", async () => {
    const dial = await atOutcome();
    const foreign = await bomaniDefaulter();
    await tamper(zawadi, (v) => {
      v.defaulter = foreign;
    });
    expect(await dial.send('4')).toEqual(DENIED);
  });

  it('a made-up event uid is refused at write time', async () => {
    const dial = await atOutcome();
    await tamper(zawadi, (v) => {
      v.defaulter = { ...(v.defaulter as object), event: 'AbCdEfGhIj1' };
    });
    expect(await dial.send('5')).toEqual(DENIED);
  });

  it("another worker's child as the subject of a reaction or a death is refused", async () => {
    const foreign = await bomaniDefaulter();
    const { dial } = await w.signIn(zawadi);
    await dial.say('4', '2', 'imani', '1');
    await dial.send(option(dial.screens.at(-1)!, /^Imani Otieno/));
    await dial.say('1', '3', '24112025');
    await tamper(zawadi, (v) => {
      v.subject = { kind: 'child', trackedEntity: foreign.trackedEntity, name: foreign.name };
    });
    expect(await dial.send('1')).toEqual(DENIED);

    const second = w.signIn(zawadi);
    const d2 = (await second).dial;
    await d2.say('3', '1', '1', '0700000005', '1', '1', '24112025', '1');
    expect(d2.screens.at(-1)).toMatch(/^Notify the death of Zuri Achieng/);
    await tamper(zawadi, (v) => {
      v.subject = { kind: 'child', trackedEntity: foreign.trackedEntity, name: 'Zuri Achieng' };
    });
    expect(await d2.send('1')).toEqual(DENIED);
  });

  it('another worker\'s child chosen as the "same child" of a birth is refused', async () => {
    const foreign = await bomaniDefaulter();
    const { dial } = await w.signIn(zawadi);
    await dial.say('2', 'zuri', '1', '13082025', '1', 'Mercy Achieng', '0799000000', '1', '2');
    expect(dial.screens.at(-1)).toMatch(/^Send the birth notification\?/);
    await tamper(zawadi, (v) => {
      v.dup = { kind: 'child', trackedEntity: foreign.trackedEntity };
    });
    expect(await dial.send('1')).toEqual(DENIED);
  });
});

describe('signed in, or not', () => {
  it('a conversation that never signed in cannot write, even on the outcome step', async () => {
    const dial = await atOutcome();
    await tamper(zawadi, (v) => {
      delete v.signedInAs;
    });
    expect(await dial.send('4')).toEqual(DENIED);
  });

  it('a PIN reset by an admin during the dial ends the rights of that dial', async () => {
    const dial = await atOutcome();
    await resetPin(w.t.gw.store, zawadi);
    expect(await dial.send('4')).toEqual(DENIED);
  });
});

describe('DHIS2 afterwards', () => {
  it('holds only the one outcome recorded legitimately, once', async () => {
    await w.settle();
    const diff = changesSince(w.emulator, before);
    expect([diff.created, diff.enrollments, diff.trackedEntities]).toEqual([[], [], []]);
    expect(diff.changed.map((e) => e.notes?.map((n) => n.value))).toEqual([
      [expect.stringContaining(`ref ${notFoundRef}.`)],
    ]);
    expect(diff.changed[0]?.orgUnit).toBe(DEMO.orgUnits.kidutani);
    expect(await w.t.gw.queue.counts('outbox-dhis2')).toMatchObject({ waiting: 0, failed: 0 });
  });
});
