import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  CASEWORKER_STAFF_TEXTS,
  OUTCOME_NOTE_KEYS,
  PLACE_KEYS,
  REACTION_KEYS,
  SEVERITY_KEYS,
  VITAL_EVENTS_DEFAULTS,
} from '../../src/caseworker/writes.ts';
import { ALL_MODULES } from '../../src/conversation/actions/all.ts';
import { STAFF_TEXTS } from '../../src/conversation/actions/caregiver.ts';
import { createDomainRegistry } from '../../src/conversation/actions/index.ts';
import type { ActionArgs, Registry } from '../../src/conversation/registry.ts';
import type { Effect } from '../../src/conversation/types.ts';
import {
  DEFAULT_OUTCOMES,
  STAFF_LOCALES,
  defaultDeployment,
  parseDeployment,
  type StaffLocale,
} from '../../src/dhis2/deployment.ts';
import { DEMO } from '../../src/emulator/index.ts';
import { rmKeys, type DefaulterList } from '../../src/dhis2/readmodel/index.ts';
import { changesSince, missedVisit, snapshot, type Dhis2Snapshot } from './dhis2.ts';
import { ROOT, caseWorkerFixture } from './helpers.ts';
import { startWorld, type World } from './world.ts';

/**
 * The deployment's staff language (`staffLocale`): what a case worker's reports become in DHIS2 (notes,
 * the place of birth or death) and the severe-reaction alert are written in it, through the module set
 * the gateway registers (`ALL_MODULES`), whatever language the worker's own screens are in.
 */

const NOW = new Date('2025-11-25T07:00:00Z');

/** The gateway's registry for a deployment, and its actions run the way the engine runs them. */
function gateway(locale?: StaffLocale) {
  const deployment = parseDeployment({
    ...(locale ? { staffLocale: locale } : {}),
    outcomes: { transferred: { note: 'Transferred to another facility.', status: 'SKIPPED' } },
  });
  const registry: Registry = createDomainRegistry(deployment, ALL_MODULES);
  let ids = 0;
  return (name: string, vars: Record<string, unknown>, params: Record<string, unknown> = {}) => {
    // The worker's own language is Swahili: it must not leak into what staff read.
    const args: ActionArgs = {
      vars,
      params,
      data: { caseWorker: caseWorkerFixture() },
      phone: '+254711000001',
      locale: 'sw',
      channel: 'ussd',
      now: NOW,
      newId: () => `id-${++ids}`,
    };
    return registry.actions[name]!.run(args);
  };
}

const SIGNED = {
  signedInAs: 'JbUsrCw0001',
  credFp: gateway()('caseworker.checkPin', { pin: '4821' }).vars?.credFp as string,
};
const defaulter = { event: 'EvMissed001', trackedEntity: 'TeKidutani1', name: 'Zuri Achieng' };

type Write = Extract<Effect, { type: 'dhis2Write' }>;
const dhis2Writes = (effects: readonly Effect[] | undefined): Write[] =>
  (effects ?? []).filter((e): e is Write => e.type === 'dhis2Write');

/** Every note and data value inside a write, however DHIS2 nests them. */
function contents(
  value: unknown,
  out: { notes: string[]; values: Array<[string, string]> } = { notes: [], values: [] },
) {
  if (Array.isArray(value)) for (const v of value) contents(v, out);
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.note === 'string' && typeof o.value === 'string') out.notes.push(o.value);
    else if (typeof o.dataElement === 'string' && typeof o.value === 'string')
      out.values.push([o.dataElement, o.value]);
    else if (typeof o.note === 'string' && typeof o.op === 'string') out.notes.push(o.note);
    for (const v of Object.values(o)) if (v && typeof v === 'object') contents(v, out);
  }
  return out;
}

interface Expected {
  willCome: string;
  refused: string;
  died: string;
  skipped: string;
  custom: string;
  birth: string;
  home: string;
  death: string;
  aefi: string;
  alert: string;
  sign: string;
}

/** What staff read, by language; `{ref}` is the report's reference. */
const EXPECTED: Record<'en' | 'fr' | 'sw', Expected> = {
  en: {
    willCome: 'Case worker follow-up: the caregiver will bring the child on 2025-12-01.',
    refused: 'Case worker follow-up: the caregiver refused the vaccination.',
    died: 'Case worker follow-up: the child has died.',
    skipped: 'Visit skipped: the child was reported dead by a case worker.',
    custom: 'Transferred to another facility.',
    birth: 'Birth notified by a case worker: Home.',
    home: 'Home',
    death: 'Death notified by a case worker: Health facility.',
    aefi: 'Adverse event after immunization: fits (convulsions), severe (hospital or life-threatening), since 2025-11-24.',
    alert:
      'Jibu alert: severe reaction after vaccination (fits (convulsions)) in Zuri Achieng since 24/11/2025, reported by case worker Zawadi Mwangi. Ref {ref}. Please follow up today.',
    sign: 'Reported by cw.zawadi via Jibu USSD, ref {ref}.',
  },
  fr: {
    willCome: "Suivi par l'agent communautaire : le parent amènera l'enfant le 2025-12-01.",
    refused: "Suivi par l'agent communautaire : le parent a refusé la vaccination.",
    died: "Suivi par l'agent communautaire : l'enfant est décédé.",
    skipped: "Visite annulée : l'enfant a été déclaré décédé par un agent communautaire.",
    custom: 'Transferred to another facility.',
    birth: 'Naissance notifiée par un agent communautaire : Domicile.',
    home: 'Domicile',
    death: 'Décès notifié par un agent communautaire : Centre de santé.',
    aefi: 'Manifestation post-vaccinale indésirable (MAPI) : convulsions, grave (hospitalisation ou danger de mort), depuis le 2025-11-24.',
    alert:
      "Alerte Jibu : réaction grave après vaccination (convulsions) chez Zuri Achieng depuis le 24/11/2025, signalée par l'agent communautaire Zawadi Mwangi. Réf. {ref}. Merci de faire le suivi aujourd'hui.",
    sign: 'Signalé par cw.zawadi via Jibu USSD, réf. {ref}.',
  },
  sw: {
    willCome: 'Ufuatiliaji wa mhudumu wa afya ya jamii: mlezi atamleta mtoto tarehe 2025-12-01.',
    refused: 'Ufuatiliaji wa mhudumu wa afya ya jamii: mlezi amekataa chanjo.',
    died: 'Ufuatiliaji wa mhudumu wa afya ya jamii: mtoto amefariki.',
    skipped: 'Ziara imefutwa: mhudumu wa afya ya jamii ameripoti kwamba mtoto amefariki.',
    custom: 'Transferred to another facility.',
    birth: 'Kuzaliwa kumeripotiwa na mhudumu wa afya ya jamii: Nyumbani.',
    home: 'Nyumbani',
    death: 'Kifo kimeripotiwa na mhudumu wa afya ya jamii: Kituo cha afya.',
    aefi: 'Madhara baada ya chanjo (AEFI): degedege, makali (hospitali au hatari ya kifo), tangu 2025-11-24.',
    alert:
      'Tahadhari ya Jibu: madhara makali baada ya chanjo (degedege) kwa Zuri Achieng tangu 24/11/2025, yameripotiwa na mhudumu wa afya ya jamii Zawadi Mwangi. Kumb. {ref}. Tafadhali fuatilia leo.',
    sign: 'Imeripotiwa na cw.zawadi kupitia Jibu USSD, kumb. {ref}.',
  },
};

const CASES: Array<{ name: string; locale: StaffLocale | undefined; x: Expected }> = [
  { name: 'French', locale: 'fr', x: EXPECTED.fr },
  { name: 'Swahili', locale: 'sw', x: EXPECTED.sw },
  { name: 'English (no staffLocale: the default)', locale: undefined, x: EXPECTED.en },
];

describe.each(CASES)('with staff notes in $name', ({ locale, x }) => {
  const act = gateway(locale);
  const signed = (ref: unknown) => x.sign.replace('{ref}', String(ref));

  it('writes each outcome note, a custom note as given, and the skipped visits of a child reported dead', () => {
    const willCome = act(
      'caseworker.recordOutcome',
      { ...SIGNED, defaulter },
      { outcome: 'will_come', date: '2025-12-01' },
    );
    expect(dhis2Writes(willCome.effects).map((w) => w.payload)).toEqual([
      {
        op: 'event.reschedule',
        event: 'EvMissed001',
        scheduledAt: '2025-12-01',
        note: `${x.willCome} ${signed(willCome.vars?.ref)}`,
      },
    ]);
    const refused = act('caseworker.recordOutcome', { ...SIGNED, defaulter }, { outcome: 'refused' });
    expect(dhis2Writes(refused.effects).map((w) => w.payload)).toEqual([
      { op: 'event.update', event: 'EvMissed001', followUp: true, note: `${x.refused} ${signed(refused.vars?.ref)}` },
    ]);
    const custom = act('caseworker.recordOutcome', { ...SIGNED, defaulter }, { outcome: 'transferred' });
    expect(dhis2Writes(custom.effects).map((w) => w.payload)).toEqual([
      { op: 'event.update', event: 'EvMissed001', status: 'SKIPPED', note: `${x.custom} ${signed(custom.vars?.ref)}` },
    ]);
    const died = act('caseworker.recordOutcome', { ...SIGNED, defaulter }, { outcome: 'died' });
    expect(
      dhis2Writes(died.effects).map((w) => [
        (w.payload as { event: string }).event,
        (w.payload as { note: string }).note,
      ]),
    ).toEqual([
      ['EvMissed001', `${x.died} ${signed(died.vars?.ref)}`],
      ['EvLater0001', `${x.skipped} ${signed(died.vars?.ref)}`],
    ]);
  });

  it('writes the birth and death notifications, their place included', () => {
    const birth = act('caseworker.notifyBirth', {
      ...SIGNED,
      dob: '2025-11-20',
      sex: 'female',
      place: 'home',
      carerName: 'Mwanaisha Salim',
      carerPhone: '+254700000001',
    });
    const b = contents(dhis2Writes(birth.effects).map((w) => w.payload));
    expect(b.notes).toEqual([`${x.birth} ${signed(birth.vars?.ref)}`]);
    expect(b.values).toContainEqual([VITAL_EVENTS_DEFAULTS.placeOfBirthDataElement, x.home]);
    const death = act('caseworker.notifyDeath', {
      ...SIGNED,
      subject: { kind: 'child', trackedEntity: 'TeKidutani1' },
      deathDate: '2025-11-24',
      deathPlace: 'facility',
    });
    const [notification, ...skipped] = dhis2Writes(death.effects).map((w) => contents(w.payload));
    expect(notification?.notes).toEqual([`${x.death} ${signed(death.vars?.ref)}`]);
    expect(skipped.flatMap((s) => s.notes)).toEqual([
      `${x.skipped} ${signed(death.vars?.ref)}`,
      `${x.skipped} ${signed(death.vars?.ref)}`,
    ]);
  });

  it('writes a severe reaction on the latest visit and alerts the case workers', () => {
    const r = act('caseworker.reportAefi', {
      ...SIGNED,
      subject: { trackedEntity: 'TeKidutani1', name: 'Zuri Achieng' },
      reaction: 'fits',
      severity: 'severe',
      reactionDate: '2025-11-24',
    });
    expect(dhis2Writes(r.effects).map((w) => w.payload)).toEqual([
      { op: 'event.update', event: 'EvGiven0001', followUp: true, note: `${x.aefi} ${signed(r.vars?.ref)}` },
    ]);
    const alert = (r.effects ?? []).find((e) => e.type === 'notify');
    expect(alert?.type === 'notify' && alert.payload).toMatchObject({
      text: x.alert.replace('{ref}', String(r.vars?.ref)),
    });
  });
});

describe('every staff language has every text', () => {
  /** The choices the case-worker flow offers at the steps that save one of `names` (what the writes look up). */
  function offered(...names: string[]): string[] {
    type Step = { save?: string; input?: { options?: Array<{ value: string }> } };
    const flow = parseYaml(readFileSync(path.join(ROOT, 'flows/caseworker.yaml'), 'utf8')) as {
      steps: Record<string, Step>;
    };
    const values = Object.values(flow.steps)
      .filter((s) => names.includes(s.save ?? ''))
      .flatMap((s) => (s.input?.options ?? []).map((o) => o.value));
    return [...new Set(values)].sort();
  }

  it('the case-worker flow offers exactly the places, reactions and severities that have texts', () => {
    expect(offered('place', 'deathPlace')).toEqual([...PLACE_KEYS].sort());
    expect(offered('reaction')).toEqual([...REACTION_KEYS].sort());
    expect(offered('severity')).toEqual([...SEVERITY_KEYS].sort());
  });

  it.each(STAFF_LOCALES)(
    '%s: a text for every built-in outcome, place, reaction and severity, none empty, every value used',
    (locale) => {
      const t = CASEWORKER_STAFF_TEXTS[locale];
      const builtIn = new Set(Object.values(DEFAULT_OUTCOMES).map((o) => o.note));
      expect(Object.keys(t.outcomes).sort()).toEqual([...builtIn].sort());
      expect(Object.keys(t.outcomes).sort()).toEqual([...OUTCOME_NOTE_KEYS].sort());
      for (const [key, note] of Object.entries(t.outcomes)) {
        expect(note({}).trim(), key).not.toBe('');
        expect(note({ date: '2031-07-09' }), key).toMatch(key === 'outcome.will_come' ? /2031-07-09/ : /\S/);
      }
      expect(Object.keys(t.places).sort()).toEqual([...PLACE_KEYS].sort());
      expect(Object.keys(t.reactions).sort()).toEqual([...REACTION_KEYS].sort());
      expect(Object.keys(t.severities).sort()).toEqual([...SEVERITY_KEYS].sort());
      for (const s of [
        ...Object.values(t.places),
        ...Object.values(t.reactions),
        ...Object.values(t.severities),
        t.visitSkipped,
      ])
        expect(s.trim()).not.toBe('');
      // Each template keeps every value it is given.
      expect(t.signature({ username: 'USERNAME', ref: 'REF123' })).toMatch(/USERNAME.*REF123/);
      expect(t.birth({ place: 'PLACE' })).toContain('PLACE');
      expect(t.death({ place: 'PLACE' })).toContain('PLACE');
      expect(t.aefi({ reaction: 'REACTION', severity: 'SEVERITY', since: '2031-07-09' })).toMatch(
        /REACTION.*SEVERITY.*2031-07-09/,
      );
      const alert = t.alert({
        reaction: 'REACTION',
        child: 'CHILD',
        since: '09/07/2031',
        reporter: 'REPORTER',
        ref: 'REF123',
      });
      for (const v of ['REACTION', 'CHILD', '09/07/2031', 'REPORTER', 'REF123']) expect(alert).toContain(v);
      expect(
        t.alert({ reaction: 'REACTION', child: '', since: '09/07/2031', reporter: 'REPORTER', ref: 'REF123' }),
      ).not.toMatch(/\(\)|\s\s/);
    },
  );

  it.each(STAFF_LOCALES.filter((l) => l !== 'en'))('%s: translated, not English copied over', (locale) => {
    const t = CASEWORKER_STAFF_TEXTS[locale];
    const en = CASEWORKER_STAFF_TEXTS.en;
    for (const key of OUTCOME_NOTE_KEYS)
      expect(t.outcomes[key]({ date: '2031-07-09' }), key).not.toBe(en.outcomes[key]({ date: '2031-07-09' }));
    expect(t.signature({ username: 'u', ref: 'r' })).not.toBe(en.signature({ username: 'u', ref: 'r' }));
    expect(t.visitSkipped).not.toBe(en.visitSkipped);
    expect(t.places.facility).not.toBe(en.places.facility);
    expect(t.severities.severe).not.toBe(en.severities.severe);
    expect(t.aefi({ reaction: 'x', severity: 'y', since: 'z' })).not.toBe(
      en.aefi({ reaction: 'x', severity: 'y', since: 'z' }),
    );
  });

  it.each(STAFF_LOCALES)('%s: every caregiver note and alert text too', (locale) => {
    const t = STAFF_TEXTS[locale];
    for (const s of [...Object.values(t.via), ...Object.values(t.reactions), ...Object.values(t.severities)])
      expect(s.trim()).not.toBe('');
    expect(t.confirmed({ via: 'VIA', date: '2031-07-09', ref: 'REF123' })).toMatch(/2031-07-09/);
    expect(t.rescheduled({ via: 'VIA', from: '2031-07-09', to: '2031-08-01', ref: 'REF123' })).toMatch(
      /2031-07-09.*2031-08-01.*REF123/,
    );
    expect(
      t.reaction({ via: 'VIA', reaction: 'REACTION', severity: 'SEVERITY', since: '2031-07-09', ref: 'REF123' }),
    ).toMatch(/REACTION.*SEVERITY.*2031-07-09.*REF123/);
    expect(
      t.alert({ child: 'CHILD', phone: '+254700000001', reaction: 'REACTION', since: '2031-07-09', ref: 'REF123' }),
    ).toMatch(/CHILD.*\+254700000001.*REACTION.*2031-07-09.*REF123/);
  });

  it('the default deployment writes English', () => {
    expect(defaultDeployment().staffLocale).toBe('en');
  });
});

describe('through the gateway, with staffLocale in the deployment file (JIBU_CONFIG)', () => {
  let w: World;
  let before: Dhis2Snapshot;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'jibu-staff-'));
    const file = path.join(dir, 'deployment.yaml');
    await writeFile(file, 'staffLocale: fr\n');
    w = await startWorld({ env: { JIBU_CONFIG: file } });
    before = snapshot(w.emulator);
  });
  afterAll(async () => {
    await w?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an English-speaking worker reports "refused": DHIS2 gets the note in French', async () => {
    const { dial } = await w.signIn(DEMO.caseWorkers.kidutani.phone);
    const list = await dial.send('1');
    // The list line is compact (`Asha B. 9m 26d`): the oldest defaulter's full name comes from the read model.
    const oldest = (await w.t.gw.store.getJson<DefaulterList>(rmKeys.defaulters(DEMO.orgUnits.kidutani)))!
      .defaulters[0]!;
    const visit = missedVisit(w.emulator, oldest.name);
    expect(list.text).toContain(`1. ${oldest.name.split(' ')[0]} ${oldest.name.split(' ')[1]![0]}.`);
    await dial.send('1');
    await dial.send('1');
    const saved = await dial.send('4');
    expect(saved.text).toMatch(/^Saved\. Reference [A-Z2-9]{6}\./);
    const ref = /Reference ([A-Z2-9]{6})/.exec(saved.text)?.[1];
    await w.settle();
    const changed = changesSince(w.emulator, before).changed;
    expect(changed.map((e) => e.event)).toEqual([visit.event]);
    expect(changed[0]?.notes?.map((n) => n.value)).toEqual([
      `Suivi par l'agent communautaire : le parent a refusé la vaccination. Signalé par cw.zawadi via Jibu USSD, réf. ${ref}.`,
    ]);
  });
});
