/**
 * `npx tsx bench/webhooks-soak.ts [--requests=10000] [--seconds=120]` — a soak of the webhooks with
 * random and malformed bodies (the generators of tests/server/hostile-webhooks.ts) against one embedded
 * gateway: every answer must be as promised (no 5xx, no stack trace, stable error codes, USSD screens of
 * at most 160 characters), and the whole run should finish within `--seconds` on this machine kind.
 *
 * The correctness property also runs in the test suite (tests/server/webhooks.property.test.ts) at a few
 * hundred requests; the count and the time budget live here because a timed window belongs in a bench,
 * not in a test a loaded machine can miss. Exit code 0 only when every answer was right and the run
 * finished in time.
 */
import fc from 'fast-check';
import { Agent } from 'node:http';
import { startTestGateway } from '../tests/server/harness.ts';
import { hostileRequest, judge, poster } from '../tests/server/hostile-webhooks.ts';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k ?? '', v ?? 'true'];
  }),
);
const REQUESTS = Number(args.get('requests') ?? 10_000);
const SECONDS = Number(args.get('seconds') ?? 120);

const t = await startTestGateway({ LOG_LEVEL: 'silent' });
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
const post = poster(t.url, agent);
const problems: string[] = [];
let screens = 0;
const started = Date.now();
try {
  for (const [route, b] of fc.sample(hostileRequest, REQUESTS)) {
    const r = judge(route, b, await post(route, b.raw, b.ct));
    if (r.problem) problems.push(r.problem);
    if (r.screen) screens++;
  }
} finally {
  agent.destroy();
  await t.stop();
}
const seconds = (Date.now() - started) / 1000;
const healthy = problems.length === 0 && screens > REQUESTS / 10;
console.log(
  JSON.stringify(
    {
      requests: REQUESTS,
      seconds,
      perSecond: Math.round(REQUESTS / seconds),
      ussdScreens: screens,
      problems: problems.slice(0, 10),
    },
    null,
    2,
  ),
);
process.exit(healthy && seconds <= SECONDS ? 0 : 1);
