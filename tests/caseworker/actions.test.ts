import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashPin, otpHash, saltFrom } from '../../src/caseworker/credentials.ts';
import type { CaseWorkerData } from '../../src/caseworker/data.ts';
import { inScope, nameMatches, similarNames, ageInMonths, clipName } from '../../src/caseworker/people.ts';
import { outcomeWrite } from '../../src/caseworker/writes.ts';
import { createDomainRegistry } from '../../src/conversation/actions/index.ts';
import { createCaseWorkerModule, isSignedIn } from '../../src/conversation/actions/caseworker.ts';
import type { ActionArgs } from '../../src/conversation/registry.ts';
import { DEFAULT_OUTCOMES, parseDeployment } from '../../src/dhis2/deployment.ts';
import { KIDUTANI_PATH, caseWorkerFixture } from './helpers.ts';

/**
 * The case-worker actions as pure functions: what each one does with the data a hop loaded and the
 * variables of the conversation, including the edges the end-to-end tests cannot reach cheaply.
 */

const deployment = parseDeployment({
  outcomes: { transferred: { note: 'Transferred to another facility.', status: 'SKIPPED' } },
});
const registry = createDomainRegistry(deployment, [createCaseWorkerModule()]);
const NOW = new Date('2025-11-25T07:00:00Z');
const salt = saltFrom('fixture');
const PATH = KIDUTANI_PATH;

let ids = 0;
function act(
  name: string,
  vars: Record<string, unknown>,
  d: CaseWorkerData | null = caseWorkerFixture(),
  params: Record<string, unknown> = {},
  now = NOW,
) {
  const args: ActionArgs = {
    vars,
    params,
    data: d ? { caseWorker: d } : {},
    phone: '+254711000001',
    locale: 'en',
    channel: 'ussd',
    now,
    newId: () => `id-${++ids}`,
  };
  return registry.actions[name]!.run(args);
}

/** The variables of a dial that signed in with the fixture's PIN (computed once: scrypt is slow on purpose). */
const SIGNED = {
  signedInAs: 'JbUsrCw0001',
  credFp: act('caseworker.checkPin', { pin: '4821' }).vars?.credFp as string,
};
const signedIn = () => SIGNED;

describe('sign-in steps', () => {
  it('start where the worker stands: menu, PIN, code, locked, too many codes, or unknown', () => {
    const gate = (vars: Record<string, unknown>, d: CaseWorkerData | null) =>
      act('caseworker.begin', vars, d).vars?.gate;
    expect(gate(signedIn(), caseWorkerFixture())).toBe('in');
    expect(gate({}, caseWorkerFixture())).toBe('pin');
    expect(gate({}, caseWorkerFixture({}, { state: 'none' }))).toBe('otp');
    expect(gate({}, caseWorkerFixture({}, { state: 'none', otpRecent: 3 }))).toBe('busy');
    expect(gate({}, caseWorkerFixture({}, { state: 'locked', lockedUntil: NOW.getTime() + 90_000 }))).toBe('locked');
    expect(
      act('caseworker.begin', {}, caseWorkerFixture({}, { state: 'locked', lockedUntil: NOW.getTime() + 90_000 })).vars
        ?.lockMinutes,
    ).toBe(2);
    expect(gate({}, null)).toBe('unknown');
    // A PIN left by another DHIS2 user who had this phone: the new one signs in with a code.
    expect(gate({}, caseWorkerFixture({}, { userId: 'JbUsrOther1' }))).toBe('otp');
  });

  it('clear the typed code in every outcome, and refuse an expired one', () => {
    const code = '482913';
    const base = { otpSalt: 's', otpHash: otpHash(code, 's'), otpExpires: NOW.getTime() + 60_000 };
    for (const [typed, gate] of [
      [code, 'otp_ok'],
      ['000000', 'otp_retry'],
      ['12', 'otp_retry'],
    ] as const) {
      const r = act('caseworker.checkOtp', { ...base, otp: typed });
      expect([r.vars?.gate, r.vars?.otp]).toEqual([gate, null]);
    }
    expect(
      act('caseworker.checkOtp', { ...base, otp: code }, caseWorkerFixture(), {}, new Date(NOW.getTime() + 61_000))
        .vars,
    ).toMatchObject({ gate: 'otp_expired', otp: null });
    expect(act('caseworker.checkOtp', { ...base, otp: '111111', otpTries: 2 }).vars).toMatchObject({
      gate: 'otp_failed',
      otp: null,
    });
  });

  it('never keep a typed PIN: the new one becomes a hash at once, the login one is cleared', () => {
    const held = act('caseworker.holdPin', { pinNew: '4821' });
    expect(held.vars).toMatchObject({ pinNew: null });
    expect(JSON.stringify(held.vars)).not.toContain('4821');
    const setPin = act(
      'caseworker.setPin',
      { ...held.vars, pinAgain: '4821' },
      caseWorkerFixture({}, { state: 'none' }),
    );
    expect(setPin.vars).toMatchObject({ gate: 'in', pinAgain: null, pinHash: null, signedInAs: 'JbUsrCw0001' });
    expect(setPin.effects).toEqual([
      {
        type: 'notify',
        kind: 'caseworker.credential',
        payload: expect.objectContaining({ op: 'set', hash: held.vars?.pinHash }),
      },
    ]);
    expect(JSON.stringify([setPin.vars, setPin.effects])).not.toContain('4821');
    expect(act('caseworker.setPin', { ...held.vars, pinAgain: '4822' }).vars).toMatchObject({
      gate: 'mismatch',
      pinHash: null,
    });
    for (const pin of ['4821', '0000']) expect(act('caseworker.checkPin', { pin }).vars?.pin).toBeNull();
  });

  it('count wrong tries of this dial whose writes are not stored yet, and lock at the fifth', () => {
    // Three stored, one of this dial on its way, and this one: five.
    const r = act(
      'caseworker.checkPin',
      { pin: '1111', failed: ['pending-1'] },
      caseWorkerFixture({}, { tries: 3, applied: [] }),
    );
    expect(r.vars).toMatchObject({ gate: 'locked', lockMinutes: 60 });
    // The same try already stored is not counted twice.
    expect(
      act(
        'caseworker.checkPin',
        { pin: '1111', failed: ['pending-1'] },
        caseWorkerFixture({}, { tries: 3, applied: ['pending-1'] }),
      ).vars,
    ).toMatchObject({ gate: 'retry', triesLeft: 1 });
    expect(
      act('caseworker.checkPin', { pin: '1111' }, caseWorkerFixture({}, { locks: 2, tries: 4 })).vars,
    ).toMatchObject({ gate: 'locked', lockMinutes: 240 });
  });

  it('keep a sign-in only while the PIN it used is the PIN in force', () => {
    const vars = signedIn();
    expect(isSignedIn(vars, caseWorkerFixture())).toBe(true);
    expect(
      isSignedIn(vars, caseWorkerFixture({ worker: { ...caseWorkerFixture().worker, userId: 'JbUsrOther1' } })),
    ).toBe(false);
    expect(isSignedIn(vars, caseWorkerFixture({}, { state: 'locked' }))).toBe(false);
    expect(isSignedIn(vars, caseWorkerFixture({}, { state: 'none' }))).toBe(false); // reset by an admin
    expect(isSignedIn(vars, caseWorkerFixture({}, { hash: hashPin('9182', salt) }))).toBe(false); // replaced since
    // A PIN set in this dial, whose write has not landed yet.
    expect(isSignedIn({ ...vars, pendingFp: vars.credFp }, caseWorkerFixture({}, { state: 'none' }))).toBe(true);
  });
});

describe('writes', () => {
  const defaulter = { event: 'EvMissed001', trackedEntity: 'TeKidutani1', name: 'Zuri Achieng' };

  it('write each built-in outcome as the deployment says', () => {
    const w = (name: string, date?: string) => outcomeWrite(DEFAULT_OUTCOMES[name]!, 'EvMissed001', 'n', date);
    expect(w('will_come', '2025-12-01')).toEqual({
      op: 'event.reschedule',
      event: 'EvMissed001',
      scheduledAt: '2025-12-01',
      note: 'n',
    });
    expect(w('vaccinated_elsewhere')).toEqual({
      op: 'event.update',
      event: 'EvMissed001',
      status: 'SKIPPED',
      note: 'n',
    });
    expect(w('moved_away')).toEqual({ op: 'event.update', event: 'EvMissed001', status: 'SKIPPED', note: 'n' });
    expect(w('refused')).toEqual({ op: 'event.update', event: 'EvMissed001', followUp: true, note: 'n' });
    expect(w('not_found')).toEqual({ op: 'event.update', event: 'EvMissed001', followUp: true, note: 'n' });
    expect(w('died')).toEqual({
      op: 'event.update',
      event: 'EvMissed001',
      status: 'SKIPPED',
      followUp: true,
      note: 'n',
    });
    expect(outcomeWrite({ note: 'x' }, 'EvMissed001', 'n')).toEqual({
      op: 'event.note',
      event: 'EvMissed001',
      note: 'n',
    });
  });

  it("write a country's own outcome with its own note text", () => {
    const r = act('caseworker.recordOutcome', { ...signedIn(), defaulter }, caseWorkerFixture(), {
      outcome: 'transferred',
    });
    expect(r.effects).toEqual([
      {
        type: 'dhis2Write',
        op: 'event.update',
        ref: r.vars?.ref,
        payload: {
          op: 'event.update',
          event: 'EvMissed001',
          status: 'SKIPPED',
          note: `Transferred to another facility. Reported by cw.zawadi via Jibu USSD, ref ${r.vars?.ref}.`,
        },
      },
    ]);
  });

  it('a death skips every other booked visit of the child too', () => {
    const r = act('caseworker.recordOutcome', { ...signedIn(), defaulter }, caseWorkerFixture(), { outcome: 'died' });
    expect(r.vars).toMatchObject({
      gate: 'died',
      skipped: ['EvMissed001', 'EvLater0001'],
      subject: { kind: 'child', trackedEntity: 'TeKidutani1', name: 'Zuri Achieng' },
    });
    expect(
      r.effects?.map(
        (e) =>
          e.type === 'dhis2Write' && [
            (e.payload as { event: string }).event,
            (e.payload as { status?: string }).status,
          ],
      ),
    ).toEqual([
      ['EvMissed001', 'SKIPPED'],
      ['EvLater0001', 'SKIPPED'],
    ]);
  });

  it("write nothing for a child or event that this hop's scoped data does not hold, whatever the variables say", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{10}$/),
        fc.constantFrom('refused', 'died', 'will_come', 'nonsense'),
        (event, outcome) => {
          fc.pre(event !== 'EvMissed001');
          const r = act(
            'caseworker.recordOutcome',
            { ...signedIn(), defaulter: { ...defaulter, event } },
            caseWorkerFixture(),
            { outcome, date: '2025-12-01' },
          );
          return r.vars?.gate === 'denied' && !r.effects?.length;
        },
      ),
    );
    // The trusted entry itself, if its path left the worker's area, is refused too.
    const moved = caseWorkerFixture();
    moved.trusted.events.EvMissed001!.path = '/JbKenya0001/JbDstKwl001/JbFacMsb001/JbVilBmn001';
    expect(
      act('caseworker.recordOutcome', { ...signedIn(), defaulter }, moved, { outcome: 'refused' }).vars?.gate,
    ).toBe('denied');
    // Not signed in: nothing, even for the worker's own child.
    expect(act('caseworker.recordOutcome', { defaulter }, caseWorkerFixture(), { outcome: 'refused' }).vars?.gate).toBe(
      'denied',
    );
    expect(
      act('caseworker.notifyDeath', {
        subject: { kind: 'child', trackedEntity: 'TeKidutani1' },
        deathDate: '2025-11-24',
        deathPlace: 'home',
      }).vars?.gate,
    ).toBe('denied');
    expect(
      act('caseworker.reportAefi', {
        ...signedIn(),
        subject: { trackedEntity: 'TeOutside01' },
        reaction: 'fever',
        severity: 'mild',
        reactionDate: '2025-11-24',
      }).vars?.gate,
    ).toBe('denied');
  });

  it('refuse a birth or death dated in the future even if a step let it through', () => {
    const vars = {
      ...signedIn(),
      dob: '2025-11-26',
      sex: 'female',
      place: 'home',
      carerName: 'A B',
      carerPhone: '+254700000001',
    };
    expect(act('caseworker.notifyBirth', vars).vars?.gate).toBe('denied');
    expect(act('caseworker.notifyBirth', { ...vars, dob: '2025-11-25' }).vars?.gate).toBe('saved');
    expect(
      act('caseworker.notifyDeath', {
        ...signedIn(),
        subject: { kind: 'child', trackedEntity: 'TeKidutani1' },
        deathDate: '2025-12-01',
        deathPlace: 'home',
      }).vars?.gate,
    ).toBe('denied');
  });
});

describe('people and places', () => {
  it('judge scope on the org unit path', () => {
    expect(inScope(PATH, ['JbFacMtw001'])).toBe(true);
    expect(inScope(PATH, ['JbVilKdt001'])).toBe(true);
    expect(inScope(PATH, ['JbFacMtw00'])).toBe(false);
    expect(inScope(undefined, ['JbFacMtw001'])).toBe(false);
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[A-Z][a-z0-9]{10}$/), { minLength: 1, maxLength: 5 }),
        fc.stringMatching(/^[A-Z][a-z0-9]{10}$/),
        (ids, other) => {
          fc.pre(!ids.includes(other));
          return inScope(`/${ids.join('/')}`, [ids.at(-1)!]) && !inScope(`/${ids.join('/')}`, [other]);
        },
      ),
    );
  });

  it('see the same child in names as field workers type them', () => {
    expect(similarNames('Aminah', 'Amina Salim')).toBe(true);
    expect(similarNames('zuri', 'Zuri Achieng')).toBe(true);
    expect(similarNames('Mwanaisa', 'Mwanaisha')).toBe(true);
    expect(similarNames('Juma', 'Amina Salim')).toBe(false);
    expect(similarNames('Al', 'Ali Baya')).toBe(false);
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z]{3,12}( [A-Za-z]{3,12})?$/),
        fc.stringMatching(/^[A-Za-z]{1,12}$/),
        (a, b) => similarNames(a, a) && similarNames(a, b) === similarNames(b, a),
      ),
    );
    expect(nameMatches('ami sal', 'Amina Salim')).toBe(true);
    expect(nameMatches('imani', 'Amina Salim')).toBe(false);
  });

  it('count ages in whole months and keep names short enough for a screen line', () => {
    expect([
      ageInMonths('2025-08-13', '2025-11-25'),
      ageInMonths('2025-08-26', '2025-11-25'),
      ageInMonths('2025-11-25', '2025-11-25'),
      ageInMonths(undefined, '2025-11-25'),
    ]).toEqual([3, 2, 0, undefined]);
    expect(clipName('Mwanajuma Wanjiku Mwamburi Chengo')).toBe('Mwanajuma Wanjiku Mwa.');
    expect(clipName('Ali *99#')).toBe('Ali 99');
  });
});
