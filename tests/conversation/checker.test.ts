import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { flowFileSchema, loadFlowSet, type FlowProblem } from '../../src/conversation/index.ts';
import { FIXTURES, ROOT, TZ, fixtureLocales, fixtureRegistry } from './helpers.ts';

/** The 1-based line of `# !marker` in a fixture file, so tests never hard-code line numbers. */
function markerLine(file: string, marker: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(`# !${marker}`));
  if (i < 0) throw new Error(`no marker ${marker} in ${file}`);
  return i + 1;
}

let problems: FlowProblem[] = [];
let localesDir = '';
let cleanup: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  const loc = await fixtureLocales(path.join(FIXTURES, 'locales'), path.join(FIXTURES, 'locales-broken'));
  localesDir = loc.dir;
  cleanup = loc.cleanup;
  const r = await loadFlowSet({
    flowsDir: path.join(FIXTURES, 'broken'),
    localesDir,
    registry: fixtureRegistry(),
    defaultLocale: 'en',
    locales: ['en', 'fr'],
    baseDir: ROOT,
    timeZone: TZ,
  });
  expect(r.ok).toBe(false);
  if (!r.ok) problems = r.problems;
});
afterAll(() => cleanup());

const flowFile = (name: string) => `tests/conversation/fixtures/broken/${name}.yaml`;

function expectProblem(
  file: string,
  line: number | undefined,
  message: RegExp,
  severity: 'error' | 'warning' = 'error',
): FlowProblem {
  const hit = problems.find(
    (p) => p.file.endsWith(file) && p.line === line && message.test(p.message) && p.severity === severity,
  );
  if (!hit) {
    expect.fail(
      `no ${severity} ${message} at ${file}:${line}; got:\n${problems.map((p) => `  ${p.severity} ${p.file}:${p.line} ${p.message}`).join('\n')}`,
    );
  }
  return hit;
}

const at = (name: string, marker: string) => {
  const file = flowFile(name);
  return [file, markerLine(path.join(ROOT, file), marker)] as const;
};

describe('schema problems carry file and line', () => {
  it('reports a misspelt key on its own line', () => {
    const p = expectProblem(...at('schema', 'unknown-key'), /unknown key "nxt"/);
    expect(p.hint).toMatch(/spelling/);
  });
  it('reports an unknown step type with the allowed ones', () => {
    expectProblem(...at('schema', 'bad-type'), /Expected 'menu' \| 'ask' \| 'say' \| 'action' \| 'end'/);
  });
  it('refuses literal text where a locale key belongs', () => {
    expectProblem(...at('schema', 'literal-text'), /locale key/);
  });
  it('reports YAML syntax errors with their line', () => {
    const [file, line] = at('syntax', 'yaml-syntax');
    expect(
      problems.some((p) => p.file === file && p.message.startsWith('YAML:') && p.line !== undefined && p.line >= line),
    ).toBe(true);
  });
});

describe('compiler problems carry file and line', () => {
  it('reports a next step that does not exist, listing the steps', () => {
    expect(expectProblem(...at('graph', 'unknown-target'), /goes to "nowhere"/).hint).toMatch(/steps are: menu/);
  });
  it('reports steps that cannot reach an end', () => {
    expectProblem(...at('graph', 'cannot-end'), /from step loop1 no path leads to an end step/);
  });
  it('reports unreachable steps and loops that never wait for an answer', () => {
    expectProblem(...at('graph', 'unreachable'), /step spin1 cannot be reached/);
    expectProblem(...at('graph', 'unreachable'), /loop without waiting/);
  });
  it('reports unknown actions, guards and data names, with the known ones in the hint', () => {
    expect(expectProblem(...at('graph', 'unknown-action'), /unknown action "dhis2.nothing"/).hint).toMatch(
      /demo\.record/,
    );
    expect(expectProblem(...at('graph', 'unknown-guard'), /unknown guard "no.such.guard"/).hint).toMatch(
      /child\.isInfant/,
    );
    expect(expectProblem(...at('graph', 'unknown-data'), /unknown data "unknownthing"/).hint).toMatch(
      /children, worker/,
    );
  });
  it('refuses a validator on an input kind it does not check', () => {
    expectProblem(...at('graph', 'validator-kind'), /date\.notPast does not check number answers/);
  });
});

describe('text problems carry file and line', () => {
  it('reports a text key no locale has', () => {
    expectProblem(
      ...at('texts', 'missing-key'),
      /test\.nope\.missing is not in the locale files \(missing in en, fr\)/,
    );
  });
  it('reports an ICU parameter the step does not give', () => {
    expectProblem(...at('texts', 'icu-params'), /uses \{name\} but the step gives no params\.name/);
    expectProblem(...at('texts', 'icu-params'), /uses \{date\}/);
  });
  it('reports a reference to a variable no step saves', () => {
    expectProblem(...at('texts', 'unknown-var'), /\{nobody\} refers to variable "nobody"/);
  });
  it('renders the screen in every locale and reports the one over 160 characters, with the rendering', () => {
    const en = expectProblem(...at('texts', 'too-long'), /say long is 172 characters in en \(USSD limit 160\)/);
    expect(en.hint).toContain('1. Continue');
    expectProblem(...at('texts', 'too-long'), /in fr/);
  });
});

describe('locale problems carry file and line', () => {
  const lfile = (lang: string) => `${lang}/broken.yaml`;
  const lline = (lang: string, marker: string) =>
    markerLine(path.join(FIXTURES, 'locales-broken', lang, 'broken.yaml'), marker);

  it('reports a key missing in one locale, naming the file to add it to', () => {
    const p = problems.find((x) => /broken\.long is missing in fr/.test(x.message));
    expect(p?.file).toMatch(/fr\/broken\.yaml$/);
    expect(p?.severity).toBe('error');
  });
  it('reports ICU parameters that differ between locales', () => {
    expectProblem(
      lfile('fr'),
      lline('fr', 'icu-mismatch'),
      /uses parameters \{count, nom\} in fr but \{count, name\} in en/,
    );
  });
  it('explains the YAML comment trap behind a broken plural', () => {
    const p = expectProblem(lfile('en'), lline('en', 'yaml-comment'), /ICU message syntax error/);
    expect(p.hint).toMatch(/starts a comment/);
  });
  it('refuses a word that means two things across locales', () => {
    expectProblem(lfile('fr'), lline('fr', 'collision'), /"OUI" is in broken\.kw \(fr\) and also in words\.yes/);
  });
  it('warns about keys only one locale has', () => {
    expectProblem(lfile('fr'), lline('fr', 'orphan'), /broken\.extra exists in fr but not in en/, 'warning');
  });
});

describe('the flow schema', () => {
  it('converts to JSON Schema for editors', () => {
    const schema = z.toJSONSchema(flowFileSchema, { io: 'input' }) as {
      properties?: Record<string, unknown>;
      required?: string[];
    };
    expect(Object.keys(schema.properties ?? {})).toEqual(
      expect.arrayContaining(['id', 'version', 'channels', 'entry', 'start', 'steps']),
    );
    expect(schema.required).toEqual(expect.arrayContaining(['id', 'version', 'channels', 'start', 'steps']));
  });
});
