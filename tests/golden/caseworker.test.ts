import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_SCRYPT_PARAMS, credentialKey, hashPin, saltFrom } from '../../src/caseworker/credentials.ts';
import type { FlowSet, TurnResult } from '../../src/conversation/index.ts';
import { addDays } from '../../src/dhis2/readmodel/index.ts';
import { DEMO, EIR, type Emulator } from '../../src/emulator/index.ts';
import { Dhis2WriteSchema } from '../../src/dhis2/outbox/schemas.ts';
import { Caregiver, LANGS, TODAY, type Lang } from '../caregiver/helpers.ts';
import { loadShipped } from '../conversation/helpers.ts';
import { LEGACY_PIN_HASHING } from '../../src/caseworker/credentials.ts';
import { createDomainRegistry } from '../../src/conversation/actions/index.ts';
import { caregiverModule } from '../../src/conversation/actions/caregiver.ts';
import { createCaseWorkerModule } from '../../src/conversation/actions/caseworker.ts';
import { defaultDeployment } from '../../src/dhis2/deployment.ts';
import { caseWorkerReadModel, type CaseWorkerReadModel } from './caseworker-world.ts';

/**
 * Golden transcripts of the case-worker flow in every locale, run on the pure engine with the set the
 * gateway loads. The `caseWorker` data comes from the real loader over a read model synced (in memory)
 * from the DHIS2 emulator's demo data at the fixed clock; between hops the session is put in that
 * store, as the runner commits it, and the loader reads the variables there.
 */

const ZAWADI = DEMO.caseWorkers.kidutani;

let set: FlowSet;
let rm: CaseWorkerReadModel;
/** Zawadi with 60 defaulters, 1 to 400 days overdue, already holding a PIN. */
let sixty: CaseWorkerReadModel;

beforeAll(async () => {
  // The transcripts show the PIN hash a step hands on; they were recorded with the scheme before the
  // pepper (scrypt N = 2^13). The current scheme is pinned by tests/security/pins.test.ts instead.
  const registry = createDomainRegistry(defaultDeployment(), [
    caregiverModule,
    createCaseWorkerModule({ pinHashing: LEGACY_PIN_HASHING }),
  ]);
  set = await loadShipped({ registry });
  rm = await caseWorkerReadModel();
  sixty = await caseWorkerReadModel(sixtyInKidutani);
  const salt = saltFrom('golden');
  await sixty.store.setJson(credentialKey(ZAWADI.phone), {
    v: 1,
    userId: ZAWADI.id,
    hash: hashPin('4821', salt, LEGACY_SCRYPT_PARAMS),
    salt,
    tries: 0,
    locks: 0,
    otpSent: [],
    applied: [],
  });
});

afterAll(async () => {
  await rm?.close();
  await sixty?.close();
});

/** Generated children moved into Kidutani until it holds 60 overdue visits, from 1 to 400 days late. */
function sixtyInKidutani(emu: Emulator): void {
  const village = DEMO.orgUnits.kidutani;
  const today = emu.time.startOfDay(TODAY);
  const scheduled = [...emu.state.events.values()]
    .filter((e) => e.programStage === EIR.immunizationStage && e.status === 'SCHEDULE' && !e.deleted)
    .sort((a, b) => (a.event < b.event ? -1 : 1));
  const already = scheduled.filter((e) => e.orgUnit === village && e.scheduledAt! < today).length;
  const named = new Set(Object.values(DEMO.caregivers).map((c) => c.phone as string));
  const movable = scheduled.filter(
    (e) =>
      e.orgUnit !== village &&
      !named.has(emu.state.trackedEntities.get(e.trackedEntity)?.attributes[EIR.attributes.phone] ?? ''),
  );
  const n = 60 - already;
  movable.slice(0, n).forEach((e, j) => {
    const te = emu.state.trackedEntities.get(e.trackedEntity)!;
    te.orgUnit = village;
    for (const en of emu.state.enrollmentsByTrackedEntity.get(te.trackedEntity) ?? []) {
      en.orgUnit = village;
      for (const ev of emu.state.eventsByEnrollment.get(en.enrollment) ?? []) ev.orgUnit = village;
    }
    e.scheduledAt = emu.time.startOfDay(addDays(TODAY, -(1 + Math.floor((j * 399) / (n - 1)))));
  });
  emu.state.touch();
}

/** A case worker's phone on the pure engine: the caregiver test phone with the case-worker loader's data. */
class CaseWorker extends Caregiver {
  private loaded: unknown = null;

  override get data(): { caregiver: null } {
    const data = { caregiver: null, caseWorker: this.loaded };
    return data;
  }

  constructor(
    set: FlowSet,
    channel: 'ussd' | 'sms',
    phone: string,
    locale: Lang,
    private readonly model: () => CaseWorkerReadModel = () => rm,
  ) {
    super(set, channel, phone, locale);
  }

  /**
   * Commit the session as the runner would, load this hop's data, then take the turn. As the runner does,
   * a turn that chose what its next screen lists (a filter, letters of a name) is taken again on data
   * loaded for the variables it left, so the list shows in the same hop.
   */
  async hop(input: string): Promise<TurnResult> {
    const before = { session: this.session, contact: this.contact };
    this.loaded = await this.model().load(this.phone, this.session, this.now);
    const first = input === '' ? this.dial() : this.send(input);
    if (input === '' || !this.session) return first;
    const again = await this.model().load(this.phone, this.session, this.now);
    if (JSON.stringify(again) === JSON.stringify(this.loaded)) return first;
    this.session = before.session;
    this.contact = before.contact;
    this.log.pop();
    this.loaded = again;
    return this.send(input);
  }

  async says(...inputs: string[]): Promise<TurnResult> {
    let last: TurnResult | undefined;
    for (const i of inputs) last = await this.hop(i);
    if (!last) throw new Error('no input');
    return last;
  }

  /** The sign-in code the flow sent by SMS on this dial. */
  code(): string {
    for (const { result } of this.log) {
      for (const e of result.effects) {
        if (e.type === 'notify' && e.kind === 'caseworker.sms') {
          const code = (e.payload as { code?: unknown }).code;
          if (typeof code === 'string') return code;
        }
      }
    }
    return expect.fail('no sign-in code was sent');
  }
}

describe.each(LANGS)('caseworker golden transcripts in %s', (locale: Lang) => {
  it('USSD: signs in with a code and a new PIN, opens the missed visits, records that a child will come', async () => {
    const cw = new CaseWorker(set, 'ussd', ZAWADI.phone, locale);
    await cw.hop('');
    expect(cw.log.at(-1)?.result.flowId).toBe('caseworker');
    await cw.says(cw.code(), '4821', '4821', '1');
    expect(cw.log.at(-1)?.result.stepId).toBe('main');
    await cw.says('1', '1', '1', '1', '01122025');
    expect(cw.log.at(-1)?.result.stepId).toBe('saved');
    const all = cw.log.map((s) => s.result);
    for (const r of all) expect(r.reply?.text.length ?? 0).toBeLessThanOrEqual(160);
    const written = all.flatMap((r) => r.effects).filter((e) => e.type === 'dhis2Write');
    expect(written.length).toBeGreaterThan(0);
    for (const w of written) expect(Dhis2WriteSchema.safeParse(w.payload).success).toBe(true);
    await expect(cw.transcript()).toMatchFileSnapshot(`__golden__/caseworker.ussd.${locale}.txt`);
  });
});

/** The numbered options of a USSD screen, navigation (98, 0, 00) left out. */
const optionsOf = (text: string) =>
  text
    .split('\n')
    .map((l) => /^(\d+)\. (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && !['98', '0', '00'].includes(m[1]!))
    .map((m) => ({ n: m[1]!, label: m[2]! }));
const CONTINUE = /^(Continue|Continuer|Continuar|Endelea|Komeza)$/;

describe.each(LANGS)('caseworker golden: paging 60 defaulters in %s', (locale: Lang) => {
  it('USSD: at least 3 children a screen, every one reached oldest first; filters and a name search show their list at once', async () => {
    const cw = new CaseWorker(set, 'ussd', ZAWADI.phone, locale, () => sixty);
    await cw.hop('');
    const main = await cw.hop('4821');
    expect(main.stepId).toBe('main');
    expect(main.reply?.text).toMatch(/\(60\)/);
    const filters = await cw.hop('1');
    expect(filters.stepId).toBe('filters');
    expect(optionsOf(filters.reply!.text)[0]!.label).toMatch(/\(60\)/);

    // Everything, page after page.
    const pages = [await cw.hop('1')];
    while (/\n98\. /.test(pages.at(-1)!.reply!.text)) pages.push(await cw.hop('98'));
    const items = pages.map((p) => optionsOf(p.reply!.text));
    for (const [i, page] of items.entries()) {
      expect(pages[i]!.stepId).toBe('list');
      if (i < items.length - 1) expect(page.length, `page ${i + 1}`).toBeGreaterThanOrEqual(3);
    }
    const days = items.flat().map((o) => Number(/(\d+)\D*$/.exec(o.label)![1]));
    expect(days).toHaveLength(60);
    expect(days).toEqual([...days].sort((a, b) => b - a));
    expect(days[0]).toBe(400);

    // How late: the first page of the oldest shows at once, and its count is exact.
    await cw.hop('00');
    const again = await cw.hop('1');
    const over90 = optionsOf(again.reply!.text)[2]!;
    const late = await cw.hop(over90.n);
    expect(late.stepId).toBe('list');
    expect(over90.label).toContain(`(${days.filter((d) => d > 90).length})`);
    const child = await cw.hop('1');
    expect(child.stepId).toBe('child');

    // A name from the main menu in four hops: missed visits, find a name, letters, the child.
    await cw.hop('00');
    const menu = await cw.hop('1');
    const byName = optionsOf(menu.reply!.text).find((o) => !/\d/.test(o.label))!;
    expect((await cw.hop(byName.n)).stepId).toBe('name_ask');
    const letters = items[0]![0]!.label.slice(0, 3);
    const found = await cw.hop(letters);
    expect(found.stepId).toBe('list');
    expect((await cw.hop('1')).stepId).toBe('child');

    for (const { result } of cw.log) {
      expect(result.reply?.text.length ?? 0).toBeLessThanOrEqual(160);
      const options = optionsOf(result.reply?.text ?? '');
      expect(options.length === 1 && CONTINUE.test(options[0]!.label), result.reply?.text).toBe(false);
    }
    await expect(cw.transcript()).toMatchFileSnapshot(`__golden__/caseworker-list.ussd.${locale}.txt`);
  });
});
