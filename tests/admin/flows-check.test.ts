import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFlows, flowsCheckCommand, formatProblem, type FlowsCheckReport } from '../../src/cli/flows.ts';
import type { FlowProblem } from '../../src/conversation/index.ts';
import { ROOT, captureIo, fixtureSet, markerLine, runJibu } from './helpers.ts';

/**
 * `jibu flows check` against deliberately broken fixture sets: each must report exactly its problems,
 * each at the file and line its `# !marker` names (or, for a key missing from a whole locale, at the
 * file a translator must add it to).
 */

interface Expected {
  file: string;
  /** Marker name in `file`, or null for file-level problems. */
  marker: string | null;
  severity: FlowProblem['severity'];
  message: RegExp;
  hint?: RegExp;
}

const FLOW = 'flows/visit.yaml';
const EN = 'locales/en/visit.yaml';
const FR = 'locales/fr/visit.yaml';

const CASES: Array<{ fixture: string; what: string; ok: boolean; expected: Expected[] }> = [
  {
    fixture: 'broken-schema',
    what: 'schema errors: an unknown step type, a number without its range, a misspelt key',
    ok: false,
    expected: [
      {
        file: FLOW,
        marker: 'bad-type',
        severity: 'error',
        message: /steps\.age\.type: .*'menu' \| 'ask' \| 'say' \| 'action' \| 'end'/,
      },
      { file: FLOW, marker: 'no-range', severity: 'error', message: /steps\.count\.input\.min: .*expected number/ },
      { file: FLOW, marker: 'no-range', severity: 'error', message: /steps\.count\.input\.max: .*expected number/ },
      {
        file: FLOW,
        marker: 'typo',
        severity: 'error',
        message: /steps\.count: unknown key "nxt"/,
        hint: /check the spelling/,
      },
      // `nxt` is not `next`, so the required `next` is missing too, reported at the step's first line.
      { file: FLOW, marker: 'typo-step', severity: 'error', message: /steps\.count\.next: .*expected string/ },
    ],
  },
  {
    fixture: 'broken-registry',
    what: 'unknown action, guard and validator names, with the known names as the hint',
    ok: false,
    expected: [
      {
        file: FLOW,
        marker: 'unknown-validator',
        severity: 'error',
        message: /unknown validator "date\.withinWeek"/,
        hint: /known validators: .*date\.notPast/,
      },
      {
        file: FLOW,
        marker: 'unknown-guard',
        severity: 'error',
        message: /unknown guard "child\.isOverdue"/,
        hint: /known guards: /,
      },
      {
        file: FLOW,
        marker: 'unknown-action',
        severity: 'error',
        message: /unknown action "dhis2\.bookVisit"/,
        hint: /known actions: .*demo\.record/,
      },
    ],
  },
  {
    fixture: 'broken-unreachable',
    what: 'a step nothing leads to',
    ok: false,
    expected: [
      {
        file: FLOW,
        marker: 'unreachable',
        severity: 'error',
        message: /step reminder_again cannot be reached from pick/,
      },
    ],
  },
  {
    fixture: 'broken-cannot-end',
    what: 'steps from which no path leads to an end',
    ok: false,
    expected: [
      {
        file: FLOW,
        marker: 'cannot-end-1',
        severity: 'error',
        message: /from step which_week no path leads to an end step/,
      },
      {
        file: FLOW,
        marker: 'cannot-end-2',
        severity: 'error',
        message: /from step which_day no path leads to an end step/,
      },
    ],
  },
  {
    fixture: 'broken-missing-key',
    what: 'a text in no locale, a text French lacks, and the text the edit left unused',
    ok: false,
    expected: [
      {
        file: FLOW,
        marker: 'missing-everywhere',
        severity: 'error',
        message: /text visit\.thanks_sms is not in the locale files \(missing in en, fr\)/,
      },
      {
        file: FR,
        marker: null,
        severity: 'error',
        message: /visit\.move is missing in fr \(en has it at locales\/en\/visit\.yaml:4\)/,
        hint: /translate it into fr/,
      },
      { file: EN, marker: 'was-used', severity: 'warning', message: /visit\.thanks is not used by any flow/ },
    ],
  },
  {
    fixture: 'broken-unused-key',
    what: 'a leftover text no flow uses (a warning: the set still loads)',
    ok: true,
    expected: [
      { file: EN, marker: 'unused', severity: 'warning', message: /visit\.old_reminder is not used by any flow/ },
    ],
  },
  {
    fixture: 'broken-icu',
    what: 'ICU parameters: renamed in one locale, and not given by the step',
    ok: false,
    expected: [
      {
        file: FR,
        marker: 'fr-param',
        severity: 'error',
        message: /visit\.moved uses parameters \{jour\} in fr but \{date\} in en/,
      },
      {
        file: FLOW,
        marker: 'no-param',
        severity: 'error',
        message: /visit\.thanks_name uses \{name\} but the step gives no params\.name/,
      },
    ],
  },
  {
    fixture: 'broken-ussd-length',
    what: 'a USSD screen over 160 characters in one locale only, with its longest rendering',
    ok: false,
    expected: [
      {
        file: FLOW,
        marker: 'ussd-long',
        severity: 'error',
        message: /ask when with its hint is \d{3} characters in fr \(USSD limit 160\)/,
        hint: /longest rendering: "Cette date est pass.*Quel jour vous conviendrait/,
      },
    ],
  },
  {
    fixture: 'broken-sms-budget',
    what: "an SMS reply (a say flowing into the end text) over the deployment's segment budget",
    ok: true,
    expected: [
      {
        file: FLOW,
        marker: 'over-budget',
        severity: 'warning',
        message:
          /SMS reply at end moved after say moved_info is over the deployment's budget of 1 segment in en: up to 2 segments/,
        hint: /worst: en, \d+ GSM-7 units/,
      },
    ],
  },
  {
    fixture: 'broken-deployment',
    what: 'a deployment file with a zero budget and a misspelt section',
    ok: false,
    expected: [
      {
        file: 'deployment.yaml',
        marker: 'budget-zero',
        severity: 'error',
        message: /deployment: sms\.segmentBudget: Too small/,
      },
      {
        file: 'deployment.yaml',
        marker: 'unknown-section',
        severity: 'error',
        message: /deployment: \(root\): unknown key 'reminder'/,
      },
    ],
  },
];

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

// The real CLI, spawned at the start so it runs while the in-process tests do.
let broken: ReturnType<typeof runJibu>;
let brokenDir = '';
beforeAll(async () => {
  const b = await fixtureSet('broken-icu');
  cleanups.push(b.cleanup);
  brokenDir = b.dir;
  const env = { JIBU_CONFIG: '', FLOWS_DIR: '', LOCALES_DIR: '' };
  broken = runJibu(['flows', 'check', '--flows', 'flows', '--locales', 'locales'], { cwd: brokenDir, env });
});

async function check(fixture: string): Promise<{ dir: string; report: FlowsCheckReport }> {
  const set = await fixtureSet(fixture);
  cleanups.push(set.cleanup);
  const hasDeployment = fixture === 'broken-sms-budget' || fixture === 'broken-deployment';
  const report = await checkFlows({
    flowsDir: 'flows',
    localesDir: 'locales',
    defaultLocale: 'en',
    baseDir: set.dir,
    ...(hasDeployment ? { deploymentFile: 'deployment.yaml' } : {}),
  });
  return { dir: set.dir, report };
}

describe('jibu flows check on broken fixtures', () => {
  for (const c of CASES) {
    it(`reports ${c.what} at the right file and line, and nothing else (${c.fixture})`, async () => {
      const { dir, report } = await check(c.fixture);
      const remaining = [...report.problems];
      for (const e of c.expected) {
        const line = e.marker ? await markerLine(dir, e.file, e.marker) : undefined;
        const i = remaining.findIndex(
          (p) =>
            p.file === e.file &&
            p.line === line &&
            p.severity === e.severity &&
            e.message.test(p.message) &&
            (!e.hint || e.hint.test(p.hint ?? '')),
        );
        expect(
          i,
          `expected ${e.severity} ${e.message} at ${e.file}:${line ?? '-'}; got:\n${report.problems.map(formatProblem).join('\n')}`,
        ).toBeGreaterThanOrEqual(0);
        remaining.splice(i, 1);
      }
      expect(remaining.map(formatProblem)).toEqual([]);
      expect(report.ok).toBe(c.ok);
    });
  }

  it('prints each problem as file:line, severity, message and hint, and exits 1 on an error', async () => {
    const set = await fixtureSet('broken-registry');
    cleanups.push(set.cleanup);
    const io = captureIo();
    const code = await flowsCheckCommand(
      { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', baseDir: set.dir },
      io,
    );
    expect(code).toBe(1);
    const line = await markerLine(set.dir, FLOW, 'unknown-action');
    expect(io.stdout.join('\n')).toContain(
      `flows/visit.yaml:${line}  error  unknown action "dhis2.bookVisit"  (known actions: `,
    );
    expect(io.stdout.join('\n').split('\n').at(-1)).toBe('✗ 3 errors, 0 warnings: the gateway would refuse this set');
  });

  it('exits 0 on warnings alone, and 1 with --strict', async () => {
    const set = await fixtureSet('broken-unused-key');
    cleanups.push(set.cleanup);
    const opts = { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', baseDir: set.dir };
    expect(await flowsCheckCommand(opts, captureIo())).toBe(0);
    expect(await flowsCheckCommand({ ...opts, strict: true }, captureIo())).toBe(1);
  });

  it('checks a file given on the command line in place of the same-named file in the flows folder', async () => {
    const set = await fixtureSet('broken-registry');
    cleanups.push(set.cleanup);
    const good = await fixtureSet('good');
    cleanups.push(good.cleanup);
    // The broken set's locales are fine; its flow is the problem. An edited copy elsewhere replaces it.
    await mkdir(path.join(set.dir, 'edits'));
    await writeFile(
      path.join(set.dir, 'edits/visit.yaml'),
      await readFile(path.join(good.dir, 'flows/visit.yaml'), 'utf8'),
    );
    const fixed = await checkFlows({
      flowsDir: 'flows',
      localesDir: 'locales',
      defaultLocale: 'en',
      baseDir: set.dir,
      files: ['edits/visit.yaml'],
    });
    expect(fixed.problems.map(formatProblem)).toEqual([]);
    expect(fixed.ok).toBe(true);
  });

  it('says which locales it checked and the version the gateway would run', async () => {
    const { report } = await check('good');
    expect(report).toMatchObject({ ok: true, problems: [], flows: ['visit'], locales: ['en', 'fr'] });
    expect(report.version).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('jibu flows check, the command', () => {
  it('passes on the shipped flows', async () => {
    const io = captureIo();
    const code = await flowsCheckCommand(
      { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', baseDir: ROOT },
      io,
    );
    expect(io.stderr).toEqual([]);
    expect(code).toBe(0);
    const out = io.stdout.join('\n');
    expect(out).not.toMatch(/ {2}error {2}/);
    expect(out.split('\n').at(-1)).toMatch(/^✓ \d+ flows? in 5 locales \(en, fr, pt, rw, sw\)/);
  });

  it('lists each problem of a broken set with file and line and exits non-zero', async () => {
    const r = await broken;
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(
      `locales/fr/visit.yaml:${await markerLine(brokenDir, FR, 'fr-param')}  error  visit.moved uses parameters {jour} in fr but {date} in en  (the same parameters must appear in every language (ICU names are not translated))`,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^flows/visit\\.yaml:${await markerLine(brokenDir, FLOW, 'no-param')} {2}error {2}visit\\.thanks_name uses \\{name\\}`,
        ),
      ),
    );
    expect(lines.at(-1)).toBe('✗ 2 errors, 0 warnings: the gateway would refuse this set');
  });
});
