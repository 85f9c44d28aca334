import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet, TurnResult } from '../../src/conversation/index.ts';
import { DEMO } from '../../src/emulator/index.ts';
import { Dhis2WriteSchema } from '../../src/dhis2/outbox/schemas.ts';
import { Caregiver, LANGS, type Lang } from '../caregiver/helpers.ts';
import { loadShipped } from '../conversation/helpers.ts';
import { caseWorkerReadModel, type CaseWorkerReadModel } from './caseworker-world.ts';

/**
 * Golden transcripts of the case-worker flow in every locale, run through the core loop with the set the
 * gateway loads. The `caseWorker` data comes from the real loader over a read model synced (in memory)
 * from the DHIS2 emulator's demo data at the fixed clock; the runner commits each hop's session into
 * that same store, where the loader reads the previous hop's variables.
 */

const ZAWADI = DEMO.caseWorkers.kidutani;

let set: FlowSet;
let rm: CaseWorkerReadModel;

beforeAll(async () => {
  set = await loadShipped();
  rm = await caseWorkerReadModel();
});

afterAll(async () => {
  await rm?.close();
});

/** A case worker's phone on the core loop, over the synced read model, with the real case-worker loader. */
class CaseWorker extends Caregiver {
  constructor(set: FlowSet, phone: string, locale: Lang) {
    super(set, 'ussd', phone, locale, {
      store: rm.store,
      load: async (p) => ({ caregiver: null, caseWorker: await rm.loadData(p.phone, p.now) }),
    });
  }

  async hop(input: string): Promise<TurnResult> {
    return input === '' ? await this.dial() : await this.send(input);
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
    const cw = new CaseWorker(set, ZAWADI.phone, locale);
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
