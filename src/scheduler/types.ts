import type { Clock } from '../clock.ts';
import type { FlowSet } from '../conversation/index.ts';
import type { DataLoader } from '../conversation/runner.ts';
import type { Dhis2Client } from '../dhis2/client.ts';
import type { Deployment } from '../dhis2/deployment.ts';
import type { CaseWorkerSource, SyncStats } from '../dhis2/readmodel/index.ts';
import type { EventFeed } from '../server/events.ts';
import type { Metrics } from '../server/metrics.ts';
import type { JobQueue, Store } from '../store/types.ts';
import type { JobName } from './decide.ts';

/** The slice of a pino logger the scheduler uses (counts and codes; never names, texts or whole phones). */
export interface SchedulerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SchedulerDeps {
  store: Store;
  queue: JobQueue;
  dhis2: Dhis2Client;
  deployment: Deployment;
  clock: Clock;
  logger: SchedulerLogger;
  /** The flow set in force (reminders open `caregiver-reminder`; the digest renders `scheduler-digest`). */
  flows: () => FlowSet;
  /** The deployment time zone: `deployment.timeZone ?? TZ`. Decides "today", quiet hours and cron times. */
  timeZone: string;
  /** `USSD_CODE`, shown in the case-worker digest. */
  ussdCode: string;
  /** `DEFAULT_COUNTRY`, for phone numbers stored in national form. */
  defaultCountry?: string;
  /** Case workers for the sync (DHIS2 users with a phone number); without it the sync leaves `rm:worker:*` alone. */
  users?: CaseWorkerSource;
  metrics?: Metrics;
  events?: EventFeed;
  /** Events per DHIS2 page and tracked entities per request. Default 100. */
  pageSize?: number;
  /** Loads the data a flow declares, as the runner does (only needed for flows other than the built-in ones). */
  loadData?: DataLoader;
}

/** What one caregiver rule of a run did (a reminder rule, or the missed-visit rule). */
export interface CaregiverRunReport {
  kind: 'reminder' | 'missed';
  /** `d2`: 2 days before; `g1`: 1 day of grace after. */
  rule: string;
  /** The appointment date looked at. */
  appointmentDate: string;
  /** Appointments DHIS2 listed for that date (open: SCHEDULE, no occurredAt). */
  events: number;
  /** Event pages read from DHIS2, and tracked-entity requests. */
  pages: number;
  entityRequests: number;
  /** Appointments an earlier run already handled. */
  alreadyDone: number;
  /** Caregivers messaged now (one message each), and the children those messages are about. */
  caregivers: number;
  children: number;
  /** Messages a concurrent or earlier run had committed (nothing sent twice). */
  duplicates: number;
  /** Caregivers not messaged: opted out (STOP) or number known to be undeliverable. */
  optedOut: number;
  /** Children with no readable caregiver phone. */
  noPhone: number;
  /** Caregivers whose conversation lock was busy (a live conversation); the job is retried for them. */
  busy: number;
  /** Caregivers not messaged because the reply flow is not loaded, or failed to start. */
  noFlow: number;
  failed: number;
  /** Missed visits only: children written into their case worker's defaulter list. */
  defaultersAdded?: number;
}

export interface DigestWorkerReport {
  /** DHIS2 username (never the phone: reports are shown to operators). */
  username: string;
  /** New defaulters counted in this worker's message. */
  count: number;
  /** Every defaulter in the worker's area (what the USSD menu counts). */
  total: number;
}

export interface DigestReport {
  /** Case workers looked at. */
  workers: number;
  /** Workers messaged now, with their counts. */
  notified: DigestWorkerReport[];
  /** Workers skipped: opted out or undeliverable. */
  optedOut: number;
  /** Defaulters dropped because DHIS2 says the visit was since completed, moved or deleted. */
  resolved: number;
  noFlow: number;
}

/** What a job run returns (`POST /admin/jobs/{name}/run` answers with it). */
export interface JobReport {
  job: JobName;
  /** "Today" the run judged by (`YYYY-MM-DD`, deployment time zone). */
  date: string;
  /** False when part of the work must be retried (the queue retries a scheduled run). */
  ok: boolean;
  durationMs: number;
  rules?: CaregiverRunReport[];
  digest?: DigestReport;
  sync?: SyncStats;
  /** Problems, with codes; no personal data. */
  errors: string[];
}

export interface JobRunOptions {
  /** `sync` only: `incremental` (default on demand) or `full`. */
  mode?: 'incremental' | 'full';
}

/** A job runnable on demand "as if today were" `date` (default: today in the deployment time zone). */
export type JobRunner = (date?: string, opts?: JobRunOptions) => Promise<JobReport>;
