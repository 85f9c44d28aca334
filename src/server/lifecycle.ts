import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import type express from 'express';
import { allEmbedded, type Config } from '../config.ts';
import { isLoopback } from '../cidr.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { SmsSender } from '../channels/types.ts';
import { createSender } from '../channels/registry.ts';
import { loadFlowSet, type FlowSet } from '../conversation/index.ts';
import { createDataLoader, createDomainRegistry, createLoaderKeys } from '../conversation/actions/index.ts';
import { shippedModules } from '../conversation/actions/all.ts';
import { loadDeployment, type Deployment } from '../dhis2/deployment.ts';
import { createDhis2Client, type Dhis2Client } from '../dhis2/client.ts';
import type { Emulator } from './embedded.ts';
import { createCaseWorkerSource, syncReadModel, type CaseWorkerSource } from '../dhis2/readmodel/index.ts';
import { startDhis2Relay } from '../dhis2/outbox/index.ts';
import { createJobs, startScheduler, type SchedulerDeps } from '../scheduler/index.ts';
import { createCaseWorkerJobs, credentialUpdates, DEMO_PIN_PEPPER, SCRYPT_PARAMS } from '../caseworker/index.ts';
import { resetPin } from '../caseworker/credentials.ts';
import { z } from 'zod';
import { errorBody } from '../errors.ts';
import { dhis2GatewayRouter } from './dhis2-gateway.ts';
import { handleTimer, type DataLoader, type RunnerDeps } from '../conversation/runner.ts';
import { startSmsRelay } from '../messaging/outbox.ts';
import { createStoreAndQueue, redisTarget } from '../store/index.ts';
import type { JobQueue, RunningWorker, Store } from '../store/types.ts';
import { createApp, simulatorBridge, type AppDeps } from './app.ts';
import { createAttemptLimiter } from './attempt-limiter.ts';
import { createRequestListener } from './fast-ussd.ts';
import { createInboundLimiter, DEFAULT_INBOUND_LIMITS } from './inbound-limit.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { startMetricsServer } from './metrics-endpoint.ts';
import { createEventFeed, type EventFeed } from './events.ts';
import { adminAuth, adminRouter, adminSessionRouter } from './admin.ts';
import { simulatorRouter, type DemoPhone } from './simulator/router.ts';
import { JibuError } from '../errors.ts';
import { oneAtATime } from './one-at-a-time.ts';

export interface Gateway {
  app: express.Express;
  server: Server;
  port: number;
  store: Store;
  queue: JobQueue;
  metrics: Metrics;
  events: EventFeed;
  runner: RunnerDeps;
  deployment: Deployment;
  dhis2: Dhis2Client;
  /** The built-in DHIS2 when DHIS2_URL is unset (also served at `/dhis2` for a look at the demo data). */
  emulator?: Emulator;
  caseWorkers: CaseWorkerSource;
  /** Run the read-model sync now. */
  syncOnce(mode: 'full' | 'incremental'): Promise<unknown>;
  flows: () => FlowSet;
  /** Replace the running flow set (reload); refuses a set with errors. */
  reloadFlows(): Promise<{ ok: true; version: string } | { ok: false; problems: unknown[] }>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  clock?: Clock;
  /** Inject a sender (tests); default from SMS_PROVIDER. */
  sender?: SmsSender;
  /** Start the queue workers in this process (default true; `jibu worker` splits them out). */
  workers?: boolean;
  /** Relay DHIS2 writes to DHIS2 (default true). `jibu simulate --dry-run` turns it off: writes stay queued, shown not made. */
  dhis2Relay?: boolean;
  /** Key prefix in Redis (tests isolate themselves with it). */
  redisPrefix?: string;
  loadData?: DataLoader;
  /** Use this emulator instead of creating one (tests share one and inject faults). */
  emulator?: Emulator;
}

/**
 * Bring the gateway up in order — store and queue, flows, workers, HTTP — and unwind what was started
 * if a later part fails. `stop()` reverses it (STYLE.md habit 7): readiness off, stop accepting, drain
 * in-flight requests and jobs, close workers, close Redis.
 */
export async function startGateway(config: Config, logger: Logger, opts: GatewayOptions = {}): Promise<Gateway> {
  const clock = opts.clock ?? systemClock;
  const undo: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const f of undo.reverse()) await f().catch((err: unknown) => logger.error({ err }, 'error while unwinding'));
  };
  try {
    const metrics = createMetrics();
    const events = createEventFeed();
    const sq = await createStoreAndQueue({ redis: redisTarget(config), clock, prefix: opts.redisPrefix, logger });
    undo.push(() => sq.close());
    const { store, queue } = sq;
    metrics.watchQueues(queue);
    metrics.watchReadModel(store);
    if (config.embedded.store)
      logger.warn(
        { code: 'JIBU_EMBEDDED_STORE' },
        'REDIS_URL (or REDIS_SENTINELS) is not set: sessions, queues and opt-outs are kept in memory and do NOT survive a restart',
      );

    const deployment = loadDeployment(config.JIBU_CONFIG);
    let emulator: Emulator | undefined;
    let demoPhones: DemoPhone[] = [];
    let dhis2Options: Parameters<typeof createDhis2Client>[0];
    if (config.DHIS2_URL) {
      const auth = config.DHIS2_TOKEN
        ? { token: config.DHIS2_TOKEN }
        : { username: config.DHIS2_USERNAME ?? '', password: config.DHIS2_PASSWORD ?? '' };
      dhis2Options = { baseUrl: config.DHIS2_URL, auth, timeoutMs: config.DHIS2_TIMEOUT_MS };
    } else {
      // Loaded only here: the emulator and its demo data are no part of a gateway with a real DHIS2.
      const { embeddedDhis2 } = await import('./embedded.ts');
      const embedded = embeddedDhis2(config, clock, opts.emulator);
      emulator = embedded.emulator;
      dhis2Options = embedded.clientOptions;
      demoPhones = embedded.demoPhones;
      logger.info(
        { version: config.DHIS2_EMULATOR_VERSION },
        allEmbedded(config)
          ? 'DHIS2_URL is not set: using the built-in DHIS2 emulator with demo data (served at /dhis2 to this machine, user admin / district)'
          : 'DHIS2_URL is not set: using the built-in DHIS2 emulator with demo data (not served over HTTP outside the all-embedded demo)',
      );
    }
    const dhis2: Dhis2Client = createDhis2Client(dhis2Options);
    const caseWorkers: CaseWorkerSource = createCaseWorkerSource(dhis2Options);
    // "Today" for the read model follows the deployment file, else TZ (the same day the flows use).
    const syncDeployment: Deployment = { ...deployment, timeZone: deployment.timeZone ?? config.TZ };
    const syncOnce = (mode: 'full' | 'incremental') =>
      syncReadModel({
        client: dhis2,
        store,
        deployment: syncDeployment,
        clock,
        mode,
        logger,
        users: caseWorkers,
        defaultCountry: config.DEFAULT_COUNTRY,
      });

    // The PIN pepper comes from the environment only (config requires it with a real DHIS2).
    const modules = shippedModules({
      pinHashing: { params: SCRYPT_PARAMS, pepper: config.PIN_PEPPER ?? DEMO_PIN_PEPPER },
    });
    const registry = createDomainRegistry(deployment, modules);
    const loadOpts = {
      flowsDir: path.resolve(config.FLOWS_DIR),
      localesDir: path.resolve(config.LOCALES_DIR),
      registry,
      defaultLocale: config.DEFAULT_LOCALE,
      timeZone: deployment.timeZone ?? config.TZ,
      defaultCountry: config.DEFAULT_COUNTRY,
    };
    const loaded = await loadFlowSet(loadOpts);
    if (!loaded.ok) {
      const lines = loaded.problems.map((p) => `  - ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);
      const shown =
        lines.length > 40
          ? [...lines.slice(0, 40), `  … and ${lines.length - 40} more (run \`npx jibu flows check\`)`]
          : lines;
      throw new JibuError(
        'JIBU_FLOWS_INVALID',
        `Flows or locales are invalid (${lines.length} problems):\n${shown.join('\n')}`,
        loaded.problems,
      );
    }
    let current = loaded.set;
    logger.info({ flows: [...current.flows.keys()], version: current.version }, 'flows loaded');

    const runner: RunnerDeps = {
      store,
      flows: () => current,
      loadData: opts.loadData ?? createDataLoader(store, deployment, modules),
      ...(opts.loadData ? {} : { loaderKeys: createLoaderKeys(modules) }),
      clock,
      logger,
      metrics,
      events,
      inlineNotify: credentialUpdates(),
    };
    const sender = opts.sender ?? createSender(senderOptions(config));
    if (config.SMS_PROVIDER === 'console')
      logger.info('SMS_PROVIDER is not set: outbound SMS are printed to the console');

    const timeZone = deployment.timeZone ?? config.TZ;
    const quiet = { deliveryWindow: deployment.deliveryWindow, timeZone };
    const schedulerDeps: SchedulerDeps = {
      store,
      queue,
      dhis2,
      deployment: syncDeployment,
      clock,
      logger,
      flows: () => current,
      timeZone,
      ussdCode: config.USSD_CODE,
      defaultCountry: config.DEFAULT_COUNTRY,
      users: caseWorkers,
      metrics,
      events,
    };
    const jobs = createJobs(schedulerDeps);

    const workers: RunningWorker[] = [];
    if (opts.workers !== false) {
      workers.push(
        startSmsRelay({
          queue,
          store,
          sender,
          clock,
          logger,
          metrics,
          events,
          ratePerSecond: config.SMS_RATE_PER_SECOND,
          policy: {
            ...quiet,
            foldAccents: deployment.sms.foldAccents,
            unknownAfterMs: config.SMS_UNKNOWN_AFTER_HOURS * 3_600_000,
          },
        }),
      );
      workers.push(
        queue.process<{ channel: 'ussd' | 'sms'; phone: string; timerId: string }>(
          'timers',
          async (job) => {
            await handleTimer(runner, job.data);
            return { ok: true };
          },
          { concurrency: 4 },
        ),
      );
      if (opts.dhis2Relay !== false)
        workers.push(
          startDhis2Relay({ queue, store, client: dhis2, clock, logger, metrics, events, deployment: syncDeployment }),
        );
      // Registers the cluster-wide schedules (fixed ids: once per cluster however many replicas) and works the `jobs` queue.
      workers.push(
        await startScheduler(schedulerDeps, { handlers: createCaseWorkerJobs({ store, flows: () => current, clock }) }),
      );
      undo.push(async () => {
        await Promise.all(workers.map((w) => w.close()));
      });
    }

    // The read model must exist before conversations can show appointments. The embedded emulator is
    // in-process and quick, so the gateway waits for it; a real DHIS2 may be slow or down, so the first
    // sync runs in the background and readiness does not depend on it (the scheduler keeps it fresh).
    if (emulator) {
      const stats = await syncOnce('full');
      logger.info({ stats }, 'read model synced from the built-in DHIS2');
    } else {
      void syncOnce('full').then(
        (stats) => logger.info({ stats }, 'initial read-model sync done'),
        (err: unknown) =>
          logger.error(
            { err, code: 'JIBU_DHIS2_UNAVAILABLE' },
            'initial read-model sync failed; the scheduler will retry',
          ),
      );
    }

    // The one reload lock: the admin API and SIGHUP both come through here.
    const gatewayReload = oneAtATime(async () => {
      const next = await loadFlowSet({ ...loadOpts, previous: current });
      if (!next.ok) return { ok: false as const, problems: next.problems };
      current = next.set;
      logger.info({ version: current.version }, 'flows reloaded');
      return { ok: true as const, version: current.version };
    });
    const jobRunners: Record<string, (date?: string) => Promise<unknown>> = { ...jobs };

    let ready = false;
    const appDeps: AppDeps = {
      config,
      logger,
      clock,
      store,
      metrics,
      runner,
      isReady: () => ready,
      readiness: async () => {
        const stalled = (queue.workerHealth?.() ?? []).filter((w) => w.state === 'stalled').map((w) => w.queue);
        const workers = stalled.length === 0 ? 'ok' : `stalled, restarting: ${stalled.join(', ')}`;
        try {
          await store.ping();
          return { store: 'ok', workers };
        } catch (e) {
          return { store: `unreachable: ${(e as Error).message}`, workers };
        }
      },
      mount: (a) => {
        // Only in the all-embedded demo, and only to this machine (or with the admin token): the emulator
        // lists users' phones and makes outbound requests on `POST /api/sms/outbound` (SECURITY.md).
        if (emulator && allEmbedded(config)) a.use('/dhis2', emulatorGuard(config, clock), emulator.app);
        a.use(
          '/gateway/dhis2',
          dhis2GatewayRouter({
            store,
            clock,
            logger,
            secret: config.WEBHOOK_SECRET,
            embedded: allEmbedded(config),
            defaultCountry: config.DEFAULT_COUNTRY,
            quiet,
            events,
          }),
        );
        // Admin endpoints need ADMIN_TOKEN, except in the all-embedded demo where nothing real is at stake.
        // One limiter for every admin door, so a guesser cannot spread attempts across them.
        const embedded = allEmbedded(config);
        const limiter = createAttemptLimiter();
        const admin = { adminToken: config.ADMIN_TOKEN, embedded, limiter, clock };
        a.use('/admin/session', adminSessionRouter({ adminToken: config.ADMIN_TOKEN, limiter, clock }));
        a.post('/admin/pin/reset', adminAuth(admin), async (req, res) => {
          const body = z.object({ phone: z.string().min(3).max(32) }).safeParse(req.body);
          if (!body.success)
            return void res.status(400).json(errorBody('JIBU_BAD_REQUEST', 'expected {"phone": "+2547…"}'));
          try {
            res.json(await resetPin(store, body.data.phone, { defaultCountry: config.DEFAULT_COUNTRY }));
          } catch (err) {
            if (err instanceof JibuError) return void res.status(err.status).json(errorBody(err.code));
            throw err;
          }
        });
        a.use(
          '/admin',
          adminRouter({
            adminToken: config.ADMIN_TOKEN,
            embedded,
            reloadFlows: () => gatewayReload(),
            queue,
            store,
            flows: () => current,
            jobs: jobRunners,
            clock,
            timeZone: deployment.timeZone ?? config.TZ,
            logger,
            limiter,
          }),
        );
        if (config.SIMULATOR ?? embedded) {
          a.use(
            '/simulator',
            adminAuth({ ...admin, browser: true }),
            simulatorRouter({
              events,
              demoPhones,
              ussdCode: config.USSD_CODE,
              gateway: simulatorBridge(appDeps),
              mask: !embedded,
            }),
          );
        }
      },
      unavailableText: (locale) =>
        current.translate?.(locale ?? config.DEFAULT_LOCALE, 'errors.unavailable') ??
        'Sorry, the service is busy. Please try again in a few minutes.',
      inboundLimiter: createInboundLimiter({
        ...DEFAULT_INBOUND_LIMITS,
        smsPerPhone: config.INBOUND_SMS_PER_PHONE,
        ussdPerPhone: config.INBOUND_USSD_PER_PHONE,
        perIp: config.INBOUND_PER_IP,
      }),
      limitedText: (locale) =>
        current.translate?.(locale ?? config.DEFAULT_LOCALE, 'errors.rate_limited') ??
        'You have sent many messages in a short time. Please wait a few minutes and try again.',
    };
    const app = createApp(appDeps);

    const server = createServer(createRequestListener(app, appDeps)).listen(config.PORT, config.HOST);
    await once(server, 'listening');
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    undo.push(async () => {
      await closeServer(server, config.SHUTDOWN_GRACE_MS);
    });
    if (config.METRICS_PORT) {
      const metricsServer = await startMetricsServer({
        metrics,
        port: config.METRICS_PORT,
        host: config.HOST,
        token: config.METRICS_TOKEN,
      });
      undo.push(async () => {
        await closeServer(metricsServer, 1000);
      });
    }
    ready = true;
    logger.info(
      { port, store: store.kind, sms: sender.provider, dhis2: config.embedded.dhis2 ? 'embedded emulator' : 'remote' },
      `Jibu listening on http://localhost:${port}`,
    );

    let stopping: Promise<void> | undefined;
    return {
      app,
      server,
      port,
      store,
      queue,
      metrics,
      events,
      runner,
      deployment,
      dhis2,
      emulator,
      caseWorkers,
      syncOnce,
      flows: () => current,
      reloadFlows: gatewayReload,
      stop() {
        stopping ??= (async () => {
          ready = false;
          logger.info('stopping: draining requests and queue work');
          await unwind();
          logger.info('stopped');
          logger.flush();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * The emulator at `/dhis2`: a loopback client that came straight to the socket (no proxy header), or
 * the admin token. Never the demo's "open without a token": a container's port is reachable from outside.
 */
function emulatorGuard(config: Config, clock: Clock): express.RequestHandler {
  const withToken = adminAuth({ adminToken: config.ADMIN_TOKEN, embedded: false, clock });
  return (req, res, next) => {
    const direct = req.headers['x-forwarded-for'] === undefined && req.headers.forwarded === undefined;
    if (direct && isLoopback(req.socket.remoteAddress)) return next();
    return withToken(req, res, next);
  };
}

function senderOptions(config: Config): Parameters<typeof createSender>[0] {
  return {
    provider: config.SMS_PROVIDER,
    africastalking:
      config.AT_USERNAME && config.AT_API_KEY
        ? { username: config.AT_USERNAME, apiKey: config.AT_API_KEY, from: config.AT_SENDER_ID }
        : undefined,
    twilio:
      config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN
        ? {
            accountSid: config.TWILIO_ACCOUNT_SID,
            authToken: config.TWILIO_AUTH_TOKEN,
            from: config.TWILIO_FROM,
            messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID,
            statusCallbackUrl: config.PUBLIC_URL
              ? `${config.PUBLIC_URL.replace(/\/$/, '')}/sms/twilio/status`
              : undefined,
          }
        : undefined,
    http: config.SMS_HTTP_URL ? { url: config.SMS_HTTP_URL } : undefined,
    // The console stands in for the phone only in the all-embedded demo; anywhere else it hides texts.
    console: { mask: !allEmbedded(config) },
    publicUrl: config.PUBLIC_URL,
  };
}

/**
 * Stop accepting connections and wait for in-flight requests, up to the grace period. A connection
 * whose request has been answered becomes idle but stays open under keep-alive (providers keep their
 * connections), so idle ones are swept until the server has closed instead of waiting out the grace.
 */
async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(timer);
}
