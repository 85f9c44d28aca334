import { JibuError } from '../errors.ts';
import { dateIn } from '../dhis2/readmodel/calendar.ts';
import { syncReadModel } from '../dhis2/readmodel/sync.ts';
import { checkDelivery, DELIVERY_CHECK_JOB, type DeliveryCheckJob } from '../messaging/delivery-check.ts';
import type { JobOutcome, QueuedJob, RunningWorker } from '../store/types.ts';
import { AEFI_ALERT_JOB, aefiAlertJobs } from './alerts.ts';
import { runCaregiverRule } from './caregivers.ts';
import {
  defaultSchedules,
  JOB_NAMES,
  jobHandlerName,
  missedRule,
  reminderRules,
  type JobName,
  type ScheduleSpec,
} from './decide.ts';
import { runDigest } from './digest.ts';
import type { CaregiverRunReport, JobReport, JobRunner, JobRunOptions, SchedulerDeps } from './types.ts';

/**
 * The scheduler (docs/design.md#scheduled-jobs): reminders, missed visits, case-worker digests and the read-model sync,
 * each a pure decision (`decide.ts`) with a thin runner, each idempotent, each run once cluster-wide by
 * a BullMQ job scheduler with a fixed id (the memory queue has the same API), and each runnable on
 * demand for a given day (`POST /admin/jobs/{name}/run`, the CLI).
 */

export { JOB_NAMES, defaultSchedules, jobHandlerName, type JobName, type ScheduleSpec } from './decide.ts';
export { DIGEST_FLOW } from './digest.ts';
export { AEFI_ALERT_JOB } from './alerts.ts';
export type {
  CaregiverRunReport,
  DigestReport,
  JobReport,
  JobRunner,
  JobRunOptions,
  SchedulerDeps,
  SchedulerLogger,
} from './types.ts';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

function todayFor(deps: SchedulerDeps, date?: string): string {
  if (date === undefined) return dateIn(deps.timeZone, deps.clock.now());
  const d = new Date(`${date}T00:00:00Z`);
  if (!ISO_DATE.test(date) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== date) {
    throw new JibuError('JIBU_BAD_REQUEST', `not a calendar date: ${date} (expected YYYY-MM-DD)`);
  }
  return date;
}

function rulesOk(rules: CaregiverRunReport[]): { ok: boolean; errors: string[] } {
  const errors: string[] = [];
  for (const r of rules) {
    if (r.busy)
      errors.push(
        `JIBU_BUSY: ${r.busy} caregiver(s) were in a conversation (${r.kind} ${r.rule}); run again to reach them`,
      );
    if (r.noFlow)
      errors.push(
        `JIBU_FLOWS_INVALID: the reply flow is not loaded; ${r.noFlow} caregiver(s) not messaged (${r.kind} ${r.rule})`,
      );
    if (r.failed)
      errors.push(`JIBU_INTERNAL: the reply flow failed to start for ${r.failed} caregiver(s) (${r.kind} ${r.rule})`);
  }
  return { ok: errors.length === 0, errors };
}

/**
 * The jobs, each runnable "as if today were" `date` (default: today in the deployment time zone).
 * The lead passes them to the admin router (`POST /admin/jobs/:name/run`) and the CLI.
 *
 * @example
 * const jobs = createJobs({ store, queue, dhis2, deployment, clock, logger, flows, timeZone: 'Africa/Nairobi', ussdCode: '*384*12#' });
 * const report = await jobs.reminders('2025-03-03'); // report.rules[0].caregivers
 */
export function createJobs(deps: SchedulerDeps): Record<JobName, JobRunner> {
  const timed = async (
    job: JobName,
    date: string,
    body: () => Promise<Omit<JobReport, 'job' | 'date' | 'durationMs'>>,
  ): Promise<JobReport> => {
    const began = performance.now();
    const r = await body();
    const report: JobReport = { job, date, durationMs: Math.round(performance.now() - began), ...r };
    const counts = report.rules?.map(
      ({
        kind,
        rule,
        appointmentDate,
        events,
        caregivers,
        children,
        duplicates,
        optedOut,
        noPhone,
        busy,
        alreadyDone,
      }) => ({
        kind,
        rule,
        appointmentDate,
        events,
        caregivers,
        children,
        duplicates,
        optedOut,
        noPhone,
        busy,
        alreadyDone,
      }),
    );
    const digest = report.digest
      ? { workers: report.digest.workers, notified: report.digest.notified.length, resolved: report.digest.resolved }
      : undefined;
    deps.logger.info(
      {
        job,
        date,
        ok: report.ok,
        durationMs: report.durationMs,
        ...(counts ? { rules: counts } : {}),
        ...(digest ? { digest } : {}),
        errors: report.errors,
      },
      `job ${job} done`,
    );
    return report;
  };

  const caregiverJob =
    (job: 'reminders' | 'missed-appointments'): JobRunner =>
    async (date) => {
      const today = todayFor(deps, date);
      return timed(job, today, async () => {
        const rules =
          job === 'reminders' ? reminderRules(today, deps.deployment) : [missedRule(today, deps.deployment)];
        const reports: CaregiverRunReport[] = [];
        for (const rule of rules) reports.push(await runCaregiverRule(deps, rule, today));
        return { ...rulesOk(reports), rules: reports };
      });
    };

  return {
    reminders: caregiverJob('reminders'),
    'missed-appointments': caregiverJob('missed-appointments'),
    'defaulter-digest': async (date) => {
      const today = todayFor(deps, date);
      return timed('defaulter-digest', today, async () => {
        const digest = await runDigest(deps, today);
        const errors = digest.noFlow
          ? [`JIBU_FLOWS_INVALID: the digest flow is not loaded; ${digest.noFlow} case worker(s) not messaged`]
          : [];
        return { ok: errors.length === 0, digest, errors };
      });
    },
    // The sync always works on the present (its watermarks are instants); `date` only labels the report.
    sync: async (date, opts?: JobRunOptions) => {
      const today = todayFor(deps, date);
      return timed('sync', today, async () => {
        // "Today" in the same zone as every other job (the deployment's, else TZ), not DHIS2's server zone.
        const deployment = { ...deps.deployment, timeZone: deps.deployment.timeZone ?? deps.timeZone };
        const sync = await syncReadModel({
          client: deps.dhis2,
          store: deps.store,
          deployment,
          clock: deps.clock,
          mode: opts?.mode ?? 'incremental',
          logger: deps.logger,
          ...(deps.users ? { users: deps.users } : {}),
          ...(deps.defaultCountry ? { defaultCountry: deps.defaultCountry } : {}),
          ...(deps.pageSize ? { pageSize: deps.pageSize } : {}),
        });
        return { ok: true, sync, errors: [] };
      });
    },
  };
}

export type JobHandler = (job: QueuedJob, attempt: number) => Promise<JobOutcome>;

export interface SchedulerOptions {
  /** What repeats when (default {@link defaultSchedules}). */
  schedules?: ScheduleSpec[];
  /** Handlers for other jobs on the `jobs` queue, by name (e.g. `notify.*` kinds of later capabilities). */
  handlers?: Record<string, JobHandler>;
  /** Jobs run at once on this process. Default 2. */
  concurrency?: number;
}

export interface RunningScheduler extends RunningWorker {
  jobs: Record<JobName, JobRunner>;
  schedules: ScheduleSpec[];
}

/**
 * Register the job schedulers (fixed ids: every replica may call this, each tick still runs once
 * cluster-wide) and work the `jobs` queue: scheduler ticks, delivery checks (`unknown` after a time),
 * severe-reaction alerts to case workers, and any `handlers` given. A run that left work to retry
 * (a caregiver busy in a conversation) fails transiently, so the queue runs it again; being
 * idempotent, the rerun only does what is left.
 *
 * @example
 * const scheduler = await startScheduler(deps); // … on shutdown:
 * await scheduler.close();
 */
export async function startScheduler(deps: SchedulerDeps, opts: SchedulerOptions = {}): Promise<RunningScheduler> {
  const jobs = createJobs(deps);
  const schedules = opts.schedules ?? defaultSchedules(deps.deployment, deps.timeZone);
  for (const s of schedules)
    await deps.queue.schedule('jobs', s.schedulerId, s.repeat, { name: jobHandlerName(s.job), data: s.data });
  const byName = new Map<string, JobName>(JOB_NAMES.map((n) => [jobHandlerName(n), n]));

  const worker = deps.queue.process<unknown>(
    'jobs',
    async (job, attempt): Promise<JobOutcome> => {
      const name = byName.get(job.name);
      if (name) {
        const data = (job.data ?? {}) as { mode?: unknown };
        const report = await jobs[name](
          undefined,
          data.mode === 'full' || data.mode === 'incremental' ? { mode: data.mode } : undefined,
        );
        return report.ok ? { ok: true } : { ok: false, permanent: false, error: report.errors.join('; ') };
      }
      if (job.name === DELIVERY_CHECK_JOB) {
        const id = (job.data as Partial<DeliveryCheckJob> | null)?.id;
        if (typeof id !== 'string') return { ok: false, permanent: true, error: 'delivery check without a message id' };
        await checkDelivery(deps.store, id, deps.clock, deps.metrics);
        return { ok: true };
      }
      if (job.name === AEFI_ALERT_JOB && !opts.handlers?.[AEFI_ALERT_JOB]) {
        const r = await aefiAlertJobs(deps.store, job.data);
        if (!r.ok) return { ok: false, permanent: true, error: r.error };
        await deps.store.enqueue(r.jobs);
        if (!r.jobs.length)
          deps.logger.warn(
            { code: 'JIBU_NOT_FOUND', job: job.name },
            'severe reaction reported where no case worker is registered',
          );
        return { ok: true };
      }
      const handler = opts.handlers?.[job.name];
      if (handler) return handler(job, attempt);
      // A notify effect tells whoever listens; with no listener there is nothing to do.
      if (job.name.startsWith('notify.')) {
        deps.logger.info({ job: job.name }, 'notification with no handler: acknowledged');
        return { ok: true };
      }
      return { ok: false, permanent: true, error: `no handler for job ${job.name} on the jobs queue` };
    },
    { concurrency: opts.concurrency ?? 2 },
  );
  return { jobs, schedules, close: () => worker.close() };
}
