import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { capturingSender } from '../../src/cli/simulate.ts';
import type { OutboundSms } from '../../src/channels/types.ts';
import { fixedClock } from '../../src/clock.ts';
import { caregiverModule } from '../../src/conversation/actions/caregiver.ts';
import { createDataLoader, createDomainRegistry } from '../../src/conversation/actions/index.ts';
import { loadFlowSet, type FlowSet } from '../../src/conversation/index.ts';
import { handleInbound, type RunnerDeps } from '../../src/conversation/runner.ts';
import { createDhis2Client, type Dhis2Client } from '../../src/dhis2/client.ts';
import { defaultDeployment, type Deployment } from '../../src/dhis2/deployment.ts';
import { createEmulator, DEMO, EIR, type Emulator, type EmulatorUserInput } from '../../src/emulator/index.ts';
import type { StoredEvent } from '../../src/emulator/model.ts';
import { startDhis2Relay } from '../../src/dhis2/outbox/index.ts';
import { createCaseWorkerSource, syncReadModel } from '../../src/dhis2/readmodel/index.ts';
import { createLogger } from '../../src/log.ts';
import { startSmsRelay } from '../../src/messaging/outbox.ts';
import { createJobs, type JobName, type JobRunner, type SchedulerDeps } from '../../src/scheduler/index.ts';
import { createStoreAndQueue } from '../../src/store/index.ts';
import type { JobQueue, RunningWorker, Store } from '../../src/store/types.ts';
import { TEST_REDIS_URL, deletePrefix, eventually, requireRedis, uniquePrefix } from '../store/harness.ts';

export type Kind = 'memory' | 'redis';

export const TZ = 'Africa/Nairobi';
/** 10:00 in Nairobi on Monday 3 March 2025: the emulator's demo data is placed relative to this day. */
export const MONDAY_10AM = '2025-03-03T07:00:00.000Z';
export const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * The flows the scheduler opens, loaded on their own (the caregiver reply flow and the digest) with
 * English texts, so these tests do not depend on flows other capabilities are still writing.
 */
async function schedulerFlows(deployment: Deployment): Promise<{ set: FlowSet; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jibu-sched-flows-'));
  await mkdir(path.join(dir, 'flows'));
  await mkdir(path.join(dir, 'locales', 'en'), { recursive: true });
  for (const f of ['caregiver-reminder.yaml', 'scheduler-digest.yaml'])
    await copyFile(path.join(ROOT, 'flows', f), path.join(dir, 'flows', f));
  for (const f of ['system.yaml', 'caregiver.yaml', 'scheduler.yaml'])
    await copyFile(path.join(ROOT, 'locales', 'en', f), path.join(dir, 'locales', 'en', f));
  const r = await loadFlowSet({
    flowsDir: path.join(dir, 'flows'),
    localesDir: path.join(dir, 'locales'),
    registry: createDomainRegistry(deployment, [caregiverModule]),
    defaultLocale: 'en',
    locales: ['en'],
    timeZone: TZ,
    defaultCountry: 'KE',
    baseDir: dir,
  });
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.file}:${p.line ?? ''} ${p.message}`).join('\n'));
  return { set: r.set, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface World {
  kind: Kind;
  /** Redis key prefix (store and BullMQ) of this world. */
  prefix?: string;
  clock: ReturnType<typeof fixedClock>;
  emulator: Emulator;
  client: Dhis2Client;
  store: Store;
  queue: JobQueue;
  set: FlowSet;
  deployment: Deployment;
  deps: SchedulerDeps;
  jobs: Record<JobName, JobRunner>;
  /** SMS the provider was handed, once the SMS relay runs. */
  sent: OutboundSms[];
  logs: string[];
  startSmsRelay(): void;
  startDhis2Relay(): void;
  sync(mode?: 'full' | 'incremental'): Promise<void>;
  /** An SMS from `phone`, through the real core loop. */
  reply(phone: string, text: string): Promise<string | undefined>;
  /**
   * Wait until every job queued so far has been worked: nothing waiting or running on `jobs` and
   * `outbox-sms` and, on Redis, nothing left in the store's outbox. Only then is "nothing more was
   * sent" a fact rather than a hope.
   */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function createWorld(
  kind: Kind,
  file: string,
  opts: {
    emulatorNow?: string;
    children?: number;
    /** DHIS2 version of the emulator. Default 2.40. */
    version?: string;
    /** Case workers added to the demo ones. */
    users?: EmulatorUserInput[];
    /** Generated children's past visits (the emulator's default: on up to 5 000 children). */
    history?: boolean;
  } = {},
): Promise<World> {
  const clock = fixedClock(opts.emulatorNow ?? MONDAY_10AM);
  const emulator = createEmulator({
    version: opts.version ?? '2.40',
    clock,
    serverTimeZone: TZ,
    seed: { children: opts.children ?? 120, ...(opts.history === undefined ? {} : { history: opts.history }) },
    ...(opts.users ? { users: opts.users } : {}),
  });
  const client = createDhis2Client({
    baseUrl: emulator.baseUrl,
    auth: { token: emulator.credentials.token },
    fetch: emulator.fetch,
  });
  const deployment = defaultDeployment();
  let prefix: string | undefined;
  if (kind === 'redis') {
    await requireRedis();
    prefix = uniquePrefix(file);
  }
  const sq = await createStoreAndQueue({ redisUrl: kind === 'redis' ? TEST_REDIS_URL : undefined, clock, prefix });
  const { store, queue } = sq;
  const flows = await schedulerFlows(deployment);
  const logs: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: {
      write: (s: string) => {
        logs.push(s);
      },
    },
  });
  const users = createCaseWorkerSource({
    baseUrl: emulator.baseUrl,
    auth: { token: emulator.credentials.token },
    fetch: emulator.fetch,
  });
  const deps: SchedulerDeps = {
    store,
    queue,
    dhis2: client,
    deployment,
    clock,
    logger,
    flows: () => flows.set,
    timeZone: TZ,
    ussdCode: '*384*12#',
    defaultCountry: 'KE',
    users,
  };
  const sender = capturingSender();
  const workers: RunningWorker[] = [];
  const runner: RunnerDeps = {
    store,
    flows: () => flows.set,
    loadData: createDataLoader(store, deployment, [caregiverModule]),
    clock,
    logger,
    newId: randomUUID,
  };

  return {
    kind,
    prefix,
    clock,
    emulator,
    client,
    store,
    queue,
    set: flows.set,
    deployment,
    deps,
    jobs: createJobs(deps),
    sent: sender.sent,
    logs,
    startSmsRelay() {
      workers.push(
        startSmsRelay({
          queue,
          store,
          sender,
          clock,
          logger,
          ratePerSecond: 1000,
          policy: { deliveryWindow: deployment.deliveryWindow, timeZone: TZ },
        }),
      );
    },
    startDhis2Relay() {
      workers.push(startDhis2Relay({ queue, store, client, clock, logger, deployment, timeZone: TZ, intervalMs: 20 }));
    },
    async sync(mode = 'full') {
      await syncReadModel({ client, store, deployment, clock, mode, users, defaultCountry: 'KE' });
    },
    async reply(phone, text) {
      const out = await handleInbound(runner, {
        channel: 'sms',
        provider: 'http',
        from: phone,
        providerFrom: phone,
        to: '12345',
        text,
        providerMessageId: randomUUID(),
        receivedAt: clock.now(),
      });
      return out.reply?.text;
    },
    async settled() {
      const admin = prefix ? await requireRedis() : undefined;
      await eventually(
        async () => {
          const [jobs, sms] = await Promise.all([queue.counts('jobs'), queue.counts('outbox-sms')]);
          const outbox = admin
            ? (await admin.llen(`${prefix}outbox`)) + (await admin.llen(`${prefix}outbox:inflight`))
            : 0;
          return jobs.waiting + jobs.active + sms.waiting + sms.active + outbox;
        },
        (n) => n === 0,
      );
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await sq.close();
      await flows.cleanup();
      if (prefix) await deletePrefix(await requireRedis(), prefix);
    },
  };
}

// ------------------------------------------------------------------------------- what DHIS2 holds

export interface Appointment {
  event: StoredEvent;
  phone: string;
  firstName: string;
  trackedEntity: string;
}

/** Open Immunization appointments on `date` (local), straight from the emulator's store. */
export function openOn(emu: Emulator, date: string): Appointment[] {
  return [...emu.state.events.values()]
    .filter(
      (e) =>
        !e.deleted &&
        e.programStage === EIR.immunizationStage &&
        e.status === 'SCHEDULE' &&
        e.occurredAt === undefined &&
        e.scheduledAt !== undefined &&
        emu.time.dateOf(e.scheduledAt) === date,
    )
    .map((e) => {
      const te = emu.state.trackedEntities.get(e.trackedEntity)!;
      return {
        event: e,
        phone: te.attributes[EIR.attributes.phone] ?? '',
        firstName: te.attributes[EIR.attributes.firstName] ?? '',
        trackedEntity: te.trackedEntity,
      };
    });
}

/** Defaulters (missed, within the read model's look-back) inside a case worker's subtree, per DHIS2. */
export function defaultersOf(emu: Emulator, worker: { orgUnit: string }, today: string, lookbackFrom: string): number {
  const root = worker.orgUnit;
  return [...emu.state.events.values()].filter((e) => {
    if (
      e.deleted ||
      e.programStage !== EIR.immunizationStage ||
      e.status !== 'SCHEDULE' ||
      e.occurredAt !== undefined ||
      e.scheduledAt === undefined
    )
      return false;
    const d = emu.time.dateOf(e.scheduledAt);
    if (d >= today || d < lookbackFrom) return false;
    const path = emu.state.orgUnits.get(e.orgUnit)?.path ?? '';
    return path.split('/').includes(root);
  }).length;
}

export { DEMO, EIR };
