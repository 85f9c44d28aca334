import { cp, mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  createRegistry,
  loadFlowSet,
  type FlowSet,
  type LoadFlowSetOptions,
  type Registry,
  type TurnResult,
} from '../../src/conversation/index.ts';
import { RunnerPhone } from './driver.ts';
import { createDomainRegistry } from '../../src/conversation/actions/index.ts';
import { ALL_MODULES } from '../../src/conversation/actions/all.ts';
import { defaultDeployment } from '../../src/dhis2/deployment.ts';
import type { InboundMessage } from '../../src/channels/types.ts';

/** The registry the gateway builds: built-ins plus every shipped capability. */
const shippedRegistry = () => createDomainRegistry(defaultDeployment(), ALL_MODULES);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FLOWS = path.join(ROOT, 'flows');
export const LOCALES = path.join(ROOT, 'locales');
export const FIXTURES = path.join(ROOT, 'tests/conversation/fixtures');
export const LANGS = ['en', 'fr', 'pt', 'rw', 'sw'] as const;

/** 09:00 UTC = noon in Nairobi, so "today" is the same date in every African time zone. */
export const NOW = new Date('2025-11-25T09:00:00Z');
export const TZ = 'Africa/Nairobi';

/** Load the shipped flows and locales, failing the test with every problem listed. */
export async function loadShipped(opts: Partial<LoadFlowSetOptions> = {}): Promise<FlowSet> {
  const r = await loadFlowSet({
    flowsDir: FLOWS,
    localesDir: LOCALES,
    registry: shippedRegistry(),
    defaultLocale: 'en',
    baseDir: ROOT,
    timeZone: TZ,
    defaultCountry: 'KE',
    ...opts,
  });
  if (!r.ok) expect.fail(r.problems.map((p) => `${p.severity} ${p.file}:${p.line ?? '?'} ${p.message}`).join('\n'));
  return r.set;
}

/**
 * A locales folder for fixture flows: the shipped system texts of every language plus fixture
 * texts (`<extra>/<lang>/*.yaml`), so fixtures never carry a drifting copy of system.yaml.
 */
export async function fixtureLocales(...extras: string[]): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jibu-locales-'));
  for (const lang of LANGS) {
    await mkdir(path.join(dir, lang), { recursive: true });
    await cp(path.join(LOCALES, lang, 'system.yaml'), path.join(dir, lang, 'system.yaml'));
    for (const extra of extras.length ? extras : [path.join(FIXTURES, 'locales')]) {
      const fixtureLang = path.join(extra, lang);
      for (const f of await readdir(fixtureLang).catch(() => []))
        await cp(path.join(fixtureLang, f), path.join(dir, lang, f));
    }
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A flows folder holding exactly `files` (name -> YAML text). */
export async function flowsDir(files: Record<string, string>): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jibu-flows-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The registry fixture flows run with: the built-ins plus the data names they use. */
export function fixtureRegistry(): Registry {
  return createRegistry({
    data: ['children', 'worker'],
    roles: { caseWorker: { needs: ['worker'], test: (d) => d.worker != null } },
    guards: { 'child.isInfant': ({ vars }) => typeof vars.months === 'number' && vars.months < 12 },
  });
}

export { idSource, type Step } from './driver.ts';

/** A phone on the gateway's core loop (see {@link RunnerPhone}), with the golden transcript format. */
export class TestPhone extends RunnerPhone {
  constructor(set: FlowSet, channel: 'ussd' | 'sms', phone = '+254700000001', serviceCode = '*384*12#') {
    super(set, channel, phone, serviceCode, 'ATUid_test_', NOW);
  }

  /** The conversation as a person would read it, with the state and effects of each turn (golden files). */
  transcript(): string {
    return (
      this.log
        .map(({ input, result }) => {
          const said = input === '' && this.channel === 'ussd' ? '(dial)' : input;
          const label =
            this.channel === 'ussd' ? (result.reply?.end ? 'END' : 'CON') : `SMS${result.reply?.end ? ' (ended)' : ''}`;
          const screen = result.reply ? `${label} ${result.reply.text}` : '(no reply)';
          const effects = result.effects.length ? `\n  effects: ${JSON.stringify(result.effects)}` : '';
          return `> ${said}\n${screen}\n  [${result.outcome} ${result.flowId ?? '-'}/${result.stepId ?? '-'} ${result.locale}]${effects}`;
        })
        .join('\n\n') + '\n'
    );
  }
}

/** The text of a result's reply, failing when there is none. */
export function text(r: TurnResult): string {
  if (!r.reply) expect.fail(`expected a reply, got outcome ${r.outcome}`);
  return r.reply.text;
}

/** An SMS from `from` through the generic HTTP provider, as the runner receives it. */
export function inboundSms(from: string, text: string, providerMessageId: string, receivedAt: Date): InboundMessage {
  return { channel: 'sms', provider: 'http', from, providerFrom: from, to: '100', text, providerMessageId, receivedAt };
}
