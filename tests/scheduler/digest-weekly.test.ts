import { afterEach, describe, expect, it } from 'vitest';
import { parseDeployment } from '../../src/dhis2/deployment.ts';
import { runDigest } from '../../src/scheduler/digest.ts';
import { createWorld, DEMO, defaultersOf, type World } from './world.ts';
import { eventually } from '../store/harness.ts';

/** `digest: weekly`: the SMS speaks of the week, and still gives the total the USSD menu shows. */

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

describe('weekly digest', () => {
  it("words the count as this week's and gives the total", async () => {
    w = await createWorld('memory', 'digest-weekly');
    await w.sync('full');
    w.startSmsRelay();
    const deps = { ...w.deps, deployment: parseDeployment({ digest: 'weekly' }) };
    const report = await runDigest(deps, '2025-03-03');
    const zawadi = report.notified.find((x) => x.username === 'cw.zawadi')!;
    const total = defaultersOf(w.emulator, DEMO.caseWorkers.kidutani, '2025-03-03', '2022-06-07');
    expect(zawadi).toEqual({ username: 'cw.zawadi', count: total, total });
    const text = await eventually(
      () => w!.sent.find((s) => s.to === DEMO.caseWorkers.kidutani.phone)?.text,
      (t) => t !== undefined,
    );
    expect(text).toBe(
      `${total} children newly missed a vaccination visit this week, ${total} in total in your area. Dial *384*12# to see who and record the follow-up.`,
    );
  });
});
