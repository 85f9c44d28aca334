import { expect } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { credentialKey } from '../../src/caseworker/credentials.ts';
import { createCaseWorkerJobs } from '../../src/caseworker/jobs.ts';
import { createEmulator, type Emulator, type EmulatorUserInput } from '../../src/emulator/index.ts';
import { startDhis2Relay } from '../../src/dhis2/outbox/index.ts';
import { rmKeys } from '../../src/dhis2/readmodel/index.ts';
import { startSmsRelay } from '../../src/messaging/outbox.ts';
import { aefiAlertJobs, AEFI_ALERT_JOB } from '../../src/scheduler/alerts.ts';
import type { JobOutcome, QueueName, RunningWorker } from '../../src/store/types.ts';
import { atUssd, eventually, startTestGateway, type TestGateway } from '../server/harness.ts';
import { caseWorkerDirs } from './helpers.ts';

/**
 * A whole gateway for case-worker tests: the built-in DHIS2 emulator with its demo data, the read model
 * synced from it, and the workers a deployment runs (SMS out, DHIS2 write-back, the `jobs` queue with
 * the case-worker handlers). The gateway's own workers are off so this file decides exactly what runs.
 */

/** 10:00 in Nairobi: "today" is 2025-11-25 for the emulator, the read model and the flows. */
export const NOW = '2025-11-25T07:00:00Z';
export const TODAY = '2025-11-25';

/** Extra case workers, one per village, so each language can run on its own children. */
export const EXTRA_WORKERS: Record<string, { phone: string; id: string; orgUnit: string; name: string }> = {
  mgamboni: { phone: '+254711000101', id: 'JbUsrTst001', orgUnit: 'JbVilMgm001', name: 'Amani Chengo' },
  mwele: { phone: '+254711000102', id: 'JbUsrTst002', orgUnit: 'JbVilMwl001', name: 'Neema Masha' },
  jumba: { phone: '+254711000103', id: 'JbUsrTst003', orgUnit: 'JbVilJmb001', name: 'Jean Uwase' },
  majengo: { phone: '+254711000104', id: 'JbUsrTst004', orgUnit: 'JbVilMjg001', name: 'Ana Macuacua' },
  rabai: { phone: '+254711000105', id: 'JbUsrTst005', orgUnit: 'JbFacRbi001', name: 'Said Karisa' },
};

export interface Screen {
  text: string;
  end: boolean;
}

/** One USSD dial over the AT webhook: each hop posts the accumulated `text` like Africa's Talking does. */
export class Dial {
  readonly inputs: string[] = [];
  readonly screens: string[] = [];
  constructor(
    readonly url: string,
    readonly phone: string,
    readonly sessionId: string,
    /** WEBHOOK_SECRET, when the gateway has one (outside the all-embedded demo it must). */
    readonly key?: string,
  ) {}

  private async post(text: string): Promise<Screen> {
    const r = await atUssd(this.url, { sessionId: this.sessionId, phoneNumber: this.phone, text }, this.key);
    expect(r.status, `hop "${text}" answered ${r.status}: ${r.body}`).toBe(200);
    expect(r.body).toMatch(/^(CON|END) /);
    const screen = r.body.slice(4);
    expect(screen.length, `screen over 160 characters:\n${screen}`).toBeLessThanOrEqual(160);
    this.screens.push(screen);
    return { text: screen, end: r.body.startsWith('END ') };
  }

  start(): Promise<Screen> {
    return this.post('');
  }

  send(input: string): Promise<Screen> {
    this.inputs.push(input);
    return this.post(this.inputs.join('*'));
  }

  /** Send several inputs; the last screen. */
  async say(...inputs: string[]): Promise<Screen> {
    let last: Screen | undefined;
    for (const i of inputs) last = await this.send(i);
    if (!last) throw new Error('no input');
    return last;
  }

  /** Re-post exactly the last hop (a provider retry or a replay). */
  resend(): Promise<Screen> {
    return this.post(this.inputs.join('*'));
  }
}

/** The number of the option whose label matches, on a menu screen (`3. Kato Ngala, ...` -> '3'). */
export function option(screen: Screen | string, label: RegExp): string {
  const text = typeof screen === 'string' ? screen : screen.text;
  for (const line of text.split('\n')) {
    const m = /^(\d+)\. (.*)$/.exec(line);
    if (m && label.test(m[2] ?? '')) return m[1]!;
  }
  throw new Error(`no option ${label} on screen:\n${text}`);
}

export interface World {
  t: TestGateway;
  emulator: Emulator;
  clock: ReturnType<typeof fixedClock>;
  url: string;
  /** A new dial from `phone` (a fresh AT session id). */
  dial(phone: string): Dial;
  /** SMS the gateway sent to `phone`, oldest first. */
  smsTo(phone: string): string[];
  /** Wait for the sign-in code sent to `phone` (the newest one after `after` messages). */
  otp(phone: string, after?: number): Promise<string>;
  /** Wait until every queued SMS, DHIS2 write and job is done (or dead-lettered). */
  settle(): Promise<void>;
  /** Sign in on a new dial: code by SMS and a PIN the first time, the PIN after that. Returns the dial at the main menu. */
  signIn(phone: string, pin?: string): Promise<{ dial: Dial; screen: Screen }>;
  /** Stop working the `jobs` queue (as if it were stuck): jobs queued from now on wait. */
  stopJobs(): Promise<void>;
  stop(): Promise<void>;
}

let sessions = 0;

export async function startWorld(
  opts: {
    env?: Record<string, string>;
    users?: EmulatorUserInput[];
    demo?: boolean;
    dhis2Version?: string;
    /** Key prefix when `env` names a Redis (tests on a shared Redis keep to their own keys). */
    redisPrefix?: string;
  } = {},
): Promise<World> {
  const clock = fixedClock(NOW);
  const users: EmulatorUserInput[] =
    opts.users ??
    Object.values(EXTRA_WORKERS).map((w) => ({
      id: w.id,
      username: `cw.${w.id.toLowerCase()}`,
      firstName: w.name.split(' ')[0],
      surname: w.name.split(' ')[1],
      phoneNumber: w.phone,
      organisationUnits: [w.orgUnit],
    }));
  const emulator = createEmulator({ version: opts.dhis2Version ?? '2.40', clock, users });
  const dirs = await caseWorkerDirs({ demo: opts.demo ?? true });
  const t = await startTestGateway(
    {
      FLOWS_DIR: dirs.flowsDir,
      LOCALES_DIR: dirs.localesDir,
      DEFAULT_COUNTRY: 'KE',
      TZ: 'Africa/Nairobi',
      ...opts.env,
    },
    { emulator, clock, workers: false, ...(opts.redisPrefix ? { redisPrefix: opts.redisPrefix } : {}) },
  );
  const { gw } = t;
  // The gateway syncs the read model from the built-in DHIS2 at start-up; make sure of it.
  if (!(await gw.store.getJson(rmKeys.sync()))) await gw.syncOnce('full');
  const jobs = createCaseWorkerJobs({ store: gw.store, flows: gw.flows, clock });
  const workers: RunningWorker[] = [
    startSmsRelay({
      queue: gw.queue,
      store: gw.store,
      sender: {
        provider: 'console',
        send: async (m) => {
          t.sent.push(m);
          return { ok: true, providerMessageId: `console-${m.id}` };
        },
      },
      clock,
      logger: gw.runner.logger,
      ratePerSecond: 1000,
    }),
    startDhis2Relay({
      queue: gw.queue,
      store: gw.store,
      client: gw.dhis2,
      clock,
      logger: gw.runner.logger,
      metrics: gw.metrics,
      deployment: { ...gw.deployment, timeZone: 'Africa/Nairobi' },
      intervalMs: 10,
      backoffMs: 20,
      maxBackoffMs: 50,
    }),
  ];
  const jobsWorker = gw.queue.process('jobs', async (job, attempt): Promise<JobOutcome> => {
    if (job.name === AEFI_ALERT_JOB) {
      const r = await aefiAlertJobs(gw.store, job.data);
      if (!r.ok) return { ok: false, permanent: true, error: r.error };
      await gw.store.enqueue(r.jobs);
      return { ok: true };
    }
    const handler = jobs[job.name];
    return handler ? handler(job, attempt) : { ok: false, permanent: true, error: `no handler for ${job.name}` };
  });
  workers.push(jobsWorker);
  const smsTo = (phone: string) => t.sent.filter((m) => m.to === phone).map((m) => m.text);
  const world: World = {
    t,
    emulator,
    clock,
    url: t.url,
    dial: (phone) => new Dial(t.url, phone, `ATUid_cw_${process.pid}_${++sessions}`, opts.env?.WEBHOOK_SECRET),
    smsTo,
    async otp(phone, after = 0) {
      const text = await eventually(
        () =>
          smsTo(phone)
            .slice(after)
            .find((m) => /\b\d{6}\b/.test(m)),
        `a sign-in code sent to ${phone}`,
      );
      return /\b(\d{6})\b/.exec(text)![1]!;
    },
    async settle() {
      const queues: QueueName[] = ['jobs', 'outbox-sms', 'outbox-dhis2'];
      await eventually(
        async () => {
          let busy = false;
          for (const q of queues) {
            const c = await gw.queue.counts(q);
            if (c.waiting + c.active > 0) busy = true;
            // Retries wait on the (fixed) test clock: let a little time pass for them.
            if (c.delayed > 0) {
              busy = true;
              clock.advance(100);
            }
          }
          return !busy;
        },
        'queues to drain',
        8000,
      );
    },
    async signIn(phone, pin = '4821') {
      const dial = world.dial(phone);
      const hasPin = ((await gw.store.getJson<{ hash?: string }>(credentialKey(phone)))?.hash ?? '') !== '';
      const before = smsTo(phone).length;
      let screen = await dial.start();
      if (hasPin) {
        screen = await dial.send(pin);
        return { dial, screen };
      }
      const code = await world.otp(phone, before);
      await dial.send(code);
      await dial.send(pin);
      await dial.send(pin);
      // "PIN set. 1. Continue", then the main menu.
      screen = await dial.send('1');
      return { dial, screen };
    },
    async stopJobs() {
      const i = workers.indexOf(jobsWorker);
      if (i >= 0) workers.splice(i, 1);
      await jobsWorker.close();
    },
    async stop() {
      await Promise.all(workers.map((w) => w.close()));
      await t.stop();
      await dirs.cleanup();
    },
  };
  return world;
}
