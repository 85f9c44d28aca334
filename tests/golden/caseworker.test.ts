import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet, TurnResult } from '../../src/conversation/index.ts';
import { DEMO } from '../../src/emulator/index.ts';
import { Dhis2WriteSchema } from '../../src/dhis2/outbox/schemas.ts';
import { Caregiver, LANGS, type Lang } from '../caregiver/helpers.ts';
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
 * store, as the runner commits it, because the loader reads the previous hop's variables there.
 */

const ZAWADI = DEMO.caseWorkers.kidutani;

let set: FlowSet;
let rm: CaseWorkerReadModel;

beforeAll(async () => {
  // The transcripts show the PIN hash a step hands on; they were recorded with the scheme before the
  // pepper (scrypt N = 2^13). The current scheme is pinned by tests/security/pins.test.ts instead.
  const registry = createDomainRegistry(defaultDeployment(), [
    caregiverModule,
    createCaseWorkerModule({ pinHashing: LEGACY_PIN_HASHING }),
  ]);
  set = await loadShipped({ registry });
  rm = await caseWorkerReadModel();
});

afterAll(async () => {
  await rm?.close();
});

/** A case worker's phone on the pure engine: the caregiver test phone with the case-worker loader's data. */
class CaseWorker extends Caregiver {
  private loaded: unknown = null;

  override get data(): { caregiver: null } {
    const data = { caregiver: null, caseWorker: this.loaded };
    return data;
  }

  /** Commit the session as the runner would, load this hop's data, then take the turn. */
  async hop(input: string): Promise<TurnResult> {
    this.loaded = await rm.load(this.phone, this.session, this.now);
    return input === '' ? this.dial() : this.send(input);
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
