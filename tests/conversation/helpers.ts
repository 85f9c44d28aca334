import { cp, mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  createRegistry,
  loadFlowSet,
  turn,
  type FlowSet,
  type LoadFlowSetOptions,
  type Registry,
  type TurnResult,
} from '../../src/conversation/index.ts';
import type { Contact, SessionRecord } from '../../src/store/types.ts';
import { createDomainRegistry } from '../../src/conversation/actions/index.ts';
import { ALL_MODULES } from '../../src/conversation/actions/all.ts';
import { defaultDeployment } from '../../src/dhis2/deployment.ts';

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

/** Deterministic ids: `id1`, `id2`, … */
export function idSource(prefix = 'id'): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

export interface Step {
  input: string;
  result: TurnResult;
}

/**
 * A phone that talks to the pure engine the way the runner does: it keeps the session, applies
 * contact patches, and (USSD) marks the first hop of a dial as new.
 */
export class TestPhone {
  session: SessionRecord | null = null;
  contact: Contact = { optedOut: false };
  log: Step[] = [];
  now = NOW;
  data: Record<string, unknown> = {};
  private readonly newId = idSource();
  private dialCount = 0;
  private fresh = false;

  constructor(
    readonly set: FlowSet,
    readonly channel: 'ussd' | 'sms',
    readonly phone = '+254700000001',
    readonly serviceCode = '*384*12#',
  ) {}

  /** USSD: start a new dial (empty first hop). */
  dial(): TurnResult {
    this.dialCount++;
    this.fresh = true;
    return this.send('');
  }

  send(input: string): TurnResult {
    const ussd =
      this.channel === 'ussd'
        ? { sessionId: `ATUid_test_${this.dialCount}`, serviceCode: this.serviceCode, isNew: this.fresh }
        : undefined;
    this.fresh = false;
    const result = turn(this.set, this.session, {
      channel: this.channel,
      phone: this.phone,
      text: input,
      locale: this.contact.locale,
      contact: this.contact,
      now: this.now,
      newId: this.newId,
      data: this.data,
      ...(ussd ? { ussd } : {}),
    });
    for (const e of result.effects) if (e.type === 'setContact') this.contact = { ...this.contact, ...e.patch };
    this.session = result.session;
    this.log.push({ input, result });
    return result;
  }

  /** Send several inputs; returns the last result. */
  say(...inputs: string[]): TurnResult {
    let last: TurnResult | undefined;
    for (const i of inputs) last = this.send(i);
    if (!last) throw new Error('no input');
    return last;
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
