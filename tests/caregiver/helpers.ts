import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  buildFlowSet,
  type Effect,
  type FlowSet,
  type LoadFlowSetResult,
  type TurnResult,
} from '../../src/conversation/index.ts';
import { readLocales } from '../../src/conversation/locales.ts';
import { createDomainRegistry } from '../../src/conversation/actions/index.ts';
import {
  caregiverData,
  createCaregiverModule,
  reminderChildren,
  reminderStart,
  type CaregiverData,
} from '../../src/conversation/actions/caregiver.ts';
import { defaultDeployment, type Deployment } from '../../src/dhis2/deployment.ts';
import type { CaregiverView } from '../../src/dhis2/readmodel/types.ts';
import { RunnerPhone, type RunnerPhoneOptions } from '../conversation/driver.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LANGS = ['en', 'fr', 'pt', 'rw', 'sw'] as const;
export type Lang = (typeof LANGS)[number];

/** 09:00 UTC = noon in Nairobi: "today" is 2025-11-25 in every African time zone. */
export const NOW = new Date('2025-11-25T09:00:00Z');
export const TODAY = '2025-11-25';
export const TZ = 'Africa/Nairobi';

/**
 * The read model as the sync wrote it for the demo caregivers, against the emulator at {@link NOW}
 * (`syncReadModel` full, DHIS2 2.40, demo seed): `fixtures/read-model.json`.
 */
const fixture = JSON.parse(readFileSync(path.join(ROOT, 'tests/caregiver/fixtures/read-model.json'), 'utf8')) as {
  caregivers: Record<string, CaregiverView>;
};

export const PHONES = {
  /** Amina and Juma, both due on 27/11. */
  twoChildren: '+254700000001',
  /** Neema, due on 27/11. */
  oneChild: '+254700000002',
  /** Baraka, due today. */
  dueToday: '+254700000003',
  /** Imani, missed yesterday. */
  missedYesterday: '+254700000004',
  /** Tumaini: vaccinated yesterday, next visit in 27 days. */
  visitedYesterday: '+254700000006',
  /** Saida (missed 22/11) and Hamisi (due 27/11). */
  threeChildren: '+254700000007',
  /** Not in DHIS2. */
  unknown: '+254700000099',
  /**
   * Tumaini's view after his last appointment was written away: the read model keeps the child
   * without `next` until the next sync (see `applyWrittenEvents`).
   */
  noVisit: '+254700000010',
  /** Wema (born two days ago) as if no visit had been recorded yet: nothing to attach a reaction to. */
  noVaccination: '+254700000011',
} as const;

export function viewOf(phone: string): CaregiverView | null {
  if (phone === PHONES.noVisit) {
    const base = fixture.caregivers[PHONES.visitedYesterday];
    if (!base) return null;
    return { ...base, phone, children: base.children.map(({ next: _next, ...c }) => c) };
  }
  if (phone === PHONES.noVaccination) {
    const base = fixture.caregivers['+254700000009'];
    if (!base) return null;
    return { ...base, phone, children: base.children.map(({ latestEvent: _latest, ...c }) => c) };
  }
  return fixture.caregivers[phone] ?? null;
}

/** What the `caregiver` loader gives for `phone` today. */
export function dataFor(phone: string, today = TODAY): { caregiver: CaregiverData | null } {
  const view = viewOf(phone);
  return { caregiver: view ? caregiverData(view, today) : null };
}

/** The demo events by child name, for asserting which event a write targets. */
export function eventOf(phone: string, firstName: string): { next: string; latest: string } {
  const child = viewOf(phone)?.children.find((c) => c.firstName === firstName);
  if (!child?.next || !child.latestEvent) throw new Error(`no fixture child ${firstName} on ${phone}`);
  return { next: child.next.event, latest: child.latestEvent };
}

/** The shipped flow files these tests run: the caregiver flows, and the demo that non-caregivers land on. */
export async function caregiverFlowFiles(): Promise<Array<{ file: string; text: string }>> {
  const names = (await readdir(path.join(ROOT, 'flows'))).filter((n) => /^(caregiver-.*|demo)\.yaml$/.test(n)).sort();
  return Promise.all(
    names.map(async (n) => ({ file: `flows/${n}`, text: await readFile(path.join(ROOT, 'flows', n), 'utf8') })),
  );
}

/**
 * Build the flow set of the caregiver flows (and the demo) with the caregiver module, over the shipped
 * locales, failing with every error. Other capabilities' flows are left out on purpose: their modules
 * are not this folder's to load, and the full set is checked where every module is registered.
 */
export async function loadCaregiverSet(opts: { deployment?: Deployment } = {}): Promise<FlowSet> {
  const r = await buildCaregiverSet(opts);
  if (!r.ok) expect.fail(r.problems.map((p) => `${p.severity} ${p.file}:${p.line ?? '?'} ${p.message}`).join('\n'));
  return r.set;
}

export async function buildCaregiverSet(opts: { deployment?: Deployment } = {}): Promise<LoadFlowSetResult> {
  const deployment = opts.deployment ?? defaultDeployment();
  const registry = createDomainRegistry(deployment, [createCaregiverModule()]);
  const loc = await readLocales(path.join(ROOT, 'locales'), { defaultLocale: 'en', relativeTo: ROOT });
  return buildFlowSet({
    flowFiles: await caregiverFlowFiles(),
    locales: loc.set,
    localeProblems: loc.problems,
    localeFiles: loc.files,
    registry,
    localesDir: 'locales',
    timeZone: TZ,
    defaultCountry: 'KE',
  });
}

export { idSource } from '../conversation/driver.ts';

/**
 * A caregiver's phone on the gateway's core loop ({@link RunnerPhone}): the caregiver data is loaded
 * each turn, and a reminder opens the reply flow the way the scheduler does.
 */
export class Caregiver extends RunnerPhone {
  constructor(set: FlowSet, channel: 'ussd' | 'sms', phone: string, locale?: Lang, opts?: RunnerPhoneOptions) {
    super(set, channel, phone, '*384*12#', 'ATUid_cg_', NOW, opts);
    this.contact = { optedOut: false, ...(locale ? { locale } : {}) };
  }

  override get data(): { caregiver: CaregiverData | null } {
    return dataFor(this.phone);
  }

  /** The scheduler's side: a reminder about `events` (default: every child due) opens the reply flow. */
  remind(events?: string[]): Promise<TurnResult> {
    const view = viewOf(this.phone);
    if (!view) throw new Error(`no caregiver ${this.phone}`);
    const chosen = new Set(events ?? view.children.flatMap((c) => (c.next ? [c.next.event] : [])));
    const start = reminderStart({ phone: this.phone, today: TODAY, children: reminderChildren(view, chosen) });
    return this.open(start);
  }

  /** The conversation as the caregiver reads it, with state and effects (golden files). */
  transcript(): string {
    return (
      this.log
        .map(({ input, result }) => {
          const said = input === '' && this.channel === 'ussd' ? '(dial)' : input;
          const sent = result.effects
            .filter((e): e is Extract<Effect, { type: 'sendSms' }> => e.type === 'sendSms')
            .map((e) => `SMS out ${e.text}`);
          const label =
            this.channel === 'ussd' ? (result.reply?.end ? 'END' : 'CON') : `SMS${result.reply?.end ? ' (ended)' : ''}`;
          const screen = result.reply ? `${label} ${result.reply.text}` : sent.join('\n') || '(no reply)';
          const effects = result.effects.filter((e) => e.type !== 'sendSms');
          const fx = effects.length ? `\n  effects: ${JSON.stringify(effects)}` : '';
          return `> ${said}\n${screen}\n  [${result.outcome} ${result.flowId ?? '-'}/${result.stepId ?? '-'} ${result.locale}]${fx}`;
        })
        .join('\n\n') + '\n'
    );
  }
}

/** The text of a reply, or of the SMS a started flow sends. */
export function text(r: TurnResult): string {
  if (r.reply) return r.reply.text;
  const sms = r.effects.find((e) => e.type === 'sendSms');
  if (sms?.type === 'sendSms') return sms.text;
  return expect.fail(`expected a reply or an SMS, got outcome ${r.outcome}`);
}

/** The DHIS2 writes of a result. */
export function writes(r: TurnResult): Array<Extract<Effect, { type: 'dhis2Write' }>> {
  return r.effects.filter((e): e is Extract<Effect, { type: 'dhis2Write' }> => e.type === 'dhis2Write');
}
