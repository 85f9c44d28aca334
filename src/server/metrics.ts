import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { rmKeys, type SyncState } from '../dhis2/readmodel/types.ts';
import type { JobQueue, QueueName, Store } from '../store/types.ts';
import { QUEUE_NAMES } from '../store/types.ts';

/** The Prometheus metrics Jibu exposes at `GET /metrics`. One registry per process (or per test app). */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'channel' | 'route' | 'status'>;
  httpDuration: Histogram<'channel'>;
  flowSteps: Counter<'flow' | 'outcome'>;
  dhis2Requests: Counter<'kind' | 'outcome'>;
  smsStatus: Counter<'provider' | 'status'>;
  ussdSessions: Counter<'status'>;
  /** Inbound messages not processed for a rate limit, by channel and limit (`phone`, `ip`); never the phone. */
  inboundLimited: Counter<'channel' | 'reason'>;
  duplicates: Counter<'provider'>;
  /** Registry-wide duplicate checks of births, by outcome (`filed`, `noted`, `no_match`, `unsearchable`, …). */
  birthDuplicateChecks: Counter<'outcome'>;
  /** Reactions filed in the AEFI programme, by what they did to the case (`enrolled`, `updated`, `added`, `noted`). */
  aefiReports: Counter<'outcome'>;
  /** Called by the lifecycle once the queue exists, so depth is read at scrape time. */
  watchQueues(queue: JobQueue): void;
  /** Called by the lifecycle with the store the read model lives in: defaulter counts are read at scrape time. */
  watchReadModel(store: Store): void;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'jibu_' });
  let watched: JobQueue | undefined;
  new Gauge({
    name: 'jibu_queue_depth',
    help: 'Jobs per queue and state (waiting, delayed, active, failed = dead letters).',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      if (!watched) return;
      for (const q of QUEUE_NAMES as QueueName[]) {
        try {
          const c = await watched.counts(q);
          for (const [state, n] of Object.entries(c)) this.set({ queue: q, state }, n);
        } catch {
          // A scrape during a Redis outage must not fail the whole /metrics answer.
        }
      }
    },
  });
  // Whichever replica ran the last full sync, every replica reports its counts (they live in `rm:sync`).
  let readModel: Store | undefined;
  const lastDefaulters = async () => {
    if (!readModel) return undefined;
    try {
      return (await readModel.getJson<SyncState>(rmKeys.sync()))?.defaulters;
    } catch {
      return undefined; // a scrape during a Redis outage must not fail
    }
  };
  new Gauge({
    name: 'jibu_defaulters',
    help: 'Defaulters (overdue Immunization visits on the case-worker lists) at the last full read-model sync.',
    registers: [registry],
    async collect() {
      const d = await lastDefaulters();
      if (d) this.set(d.count);
    },
  });
  new Gauge({
    name: 'jibu_defaulters_excluded',
    help: 'Overdue Immunization visits the defaulter definition left off the lists at the last full sync, by reason (grace, lookback, age, enrollment).',
    labelNames: ['reason'],
    registers: [registry],
    async collect() {
      const d = await lastDefaulters();
      if (d) for (const [reason, n] of Object.entries(d.excluded)) this.set({ reason }, n);
    },
  });
  return {
    registry,
    httpRequests: new Counter({
      name: 'jibu_http_requests_total',
      help: 'Webhook and API requests by channel, route and status.',
      labelNames: ['channel', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'jibu_http_request_duration_seconds',
      help: 'Request latency by channel.',
      labelNames: ['channel'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    flowSteps: new Counter({
      name: 'jibu_flow_steps_total',
      help: 'Conversation steps by flow and outcome.',
      labelNames: ['flow', 'outcome'],
      registers: [registry],
    }),
    dhis2Requests: new Counter({
      name: 'jibu_dhis2_requests_total',
      help: 'DHIS2 requests by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    smsStatus: new Counter({
      name: 'jibu_sms_status_total',
      help: 'Outbound SMS status changes by provider.',
      labelNames: ['provider', 'status'],
      registers: [registry],
    }),
    ussdSessions: new Counter({
      name: 'jibu_ussd_sessions_ended_total',
      help: 'USSD sessions ended, by provider-reported status.',
      labelNames: ['status'],
      registers: [registry],
    }),
    inboundLimited: new Counter({
      name: 'jibu_inbound_rate_limited_total',
      help: 'Inbound SMS and USSD hops not processed because a per-phone or per-address rate limit was reached.',
      labelNames: ['channel', 'reason'],
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'jibu_duplicate_webhooks_total',
      help: 'Provider retries acknowledged without processing.',
      labelNames: ['provider'],
      registers: [registry],
    }),
    birthDuplicateChecks: new Counter({
      name: 'jibu_birth_duplicate_checks_total',
      help: 'Registry-wide duplicate checks of notified births, by outcome (filed = potential duplicate in DHIS2, noted = note and follow-up instead).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    aefiReports: new Counter({
      name: 'jibu_aefi_reports_total',
      help: 'Reactions after vaccination filed in the AEFI programme, by what they did to the case.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    watchQueues(queue) {
      watched = queue;
    },
    watchReadModel(store) {
      readModel = store;
    },
  };
}
