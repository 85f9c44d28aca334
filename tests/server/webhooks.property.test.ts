import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Agent } from 'node:http';
import { startTestGateway, type TestGateway } from './harness.ts';
import { hostileRequest, judge, poster } from './hostile-webhooks.ts';

// Random or malformed webhook bodies across every route: never a 5xx, never a crash, and every USSD
// answer is a CON/END screen that fits 160 characters. A correctness property, so a few hundred runs;
// the ten-thousand-request soak with its timing is bench/webhooks-soak.ts.
const RUNS = 400;

let t: TestGateway;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

beforeAll(async () => {
  t = await startTestGateway({ LOG_LEVEL: 'silent' });
});
afterAll(async () => {
  agent.destroy();
  await t.stop();
});

describe('webhooks under random and malformed input', () => {
  it(`answer ${RUNS} hostile bodies without a 5xx, and USSD answers are always a CON/END screen of at most 160 characters`, async () => {
    const post = poster(t.url, agent);
    let ussdScreens = 0;
    await fc.assert(
      fc.asyncProperty(hostileRequest, async ([route, b]) => {
        const { problem, screen } = judge(route, b, await post(route, b.raw, b.ct));
        expect(problem).toBeNull();
        if (screen) ussdScreens++;
      }),
      { numRuns: RUNS },
    );
    expect(ussdScreens).toBeGreaterThan(RUNS / 10); // the generator really reached the conversation, not just the parser
    // The process is still healthy after all of it.
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  }, 60_000);
});
