import { z } from 'zod';
import type { Clock } from '../clock.ts';
import { startFlow, type FlowSet } from '../conversation/index.ts';
import type { SendSmsJob } from '../messaging/outbox.ts';
import type { DocUpdate, JobOutcome, QueuedJob, Store } from '../store/types.ts';
import {
  CredentialOpSchema,
  DEFAULT_LOCK_POLICY,
  applyCredentialOp,
  credentialKey,
  parseCredential,
  writeCredentialOp,
  type LockPolicy,
} from './credentials.ts';

/**
 * Job handlers for what case-worker conversation steps hand on as `notify` effects (the runner queues
 * them on `jobs` as `notify.<kind>`): credential writes, and the sign-in code sent by SMS. Give them
 * to the scheduler's `jobs` worker (`startScheduler(deps, { handlers })`). A severe reaction a case
 * worker reports goes out as the shared `aefi.severe` notification, which the scheduler's alert job sends.
 *
 * The SMS text is the one-step flow `flows/caseworker-sms.yaml` rendered with `startFlow`, so it is
 * an ordinary locale key: translated, checked for parity and measured like every other text.
 */

/** The flow whose end screens are the case-worker SMS texts. */
export const CASEWORKER_SMS_FLOW = 'caseworker-sms';

export const CaseWorkerSmsSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('otp'),
    id: z.string().min(1),
    to: z.string(),
    locale: z.string(),
    code: z.string().regex(/^\d{6}$/),
  }),
]);
export type CaseWorkerSms = z.infer<typeof CaseWorkerSmsSchema>;

export interface CaseWorkerJobDeps {
  store: Store;
  /** The flow set in force (the gateway's `flows()`): SMS texts are rendered from it. */
  flows: () => FlowSet;
  clock: Clock;
  lock?: LockPolicy;
}

export type JobHandler = (job: QueuedJob, attempt: number) => Promise<JobOutcome>;

/** Job names the handlers answer to, as the runner names `notify` effects. */
export const CASEWORKER_JOBS = { credential: 'notify.caseworker.credential', sms: 'notify.caseworker.sms' } as const;

const permanent = (error: string): JobOutcome => ({ ok: false, permanent: true, error });

/**
 * The runner's `inlineNotify` for case workers: credential operations (a wrong PIN, a success, a new
 * PIN, a code sent) are applied to `cred:{phone}` in the same atomic commit as the step that decided
 * them, before the answer is sent. A wrong-try count that waited on the `jobs` queue could be outrun by
 * dialling again and again while the queue is busy (SECURITY.md "PINs and sign-in codes"). The
 * `notify.caseworker.credential` job handler stays for operations queued by an older version.
 */
export function credentialUpdates(
  policy: LockPolicy = DEFAULT_LOCK_POLICY,
): Record<string, (payload: unknown) => DocUpdate | null> {
  return {
    'caseworker.credential': (payload) => {
      const op = CredentialOpSchema.safeParse(payload);
      if (!op.success) return null;
      return {
        key: credentialKey(op.data.phone),
        update: (current) => applyCredentialOp(parseCredential(current), op.data, policy),
      };
    },
  };
}

/**
 * The handlers, by job name.
 *
 * @example
 * const cw = createCaseWorkerJobs({ store, flows: gw.flows, clock });
 * queue.process('jobs', (job, attempt) => cw[job.name]?.(job, attempt) ?? otherHandlers(job, attempt));
 */
export function createCaseWorkerJobs(deps: CaseWorkerJobDeps): Record<string, JobHandler> {
  const { store } = deps;

  /** Render one SMS of the `caseworker-sms` flow and queue it; the job id keeps a retry from sending twice. */
  async function queueSms(
    key: string,
    to: string,
    locale: string | undefined,
    vars: Record<string, unknown>,
    purpose: string,
    reply: boolean,
  ): Promise<boolean> {
    const set = deps.flows();
    let n = 0;
    const contact = await store.getContact(to);
    const r = startFlow(set, null, {
      flowId: CASEWORKER_SMS_FLOW,
      channel: 'sms',
      phone: to,
      contact,
      now: deps.clock.now(),
      newId: () => `${key}.${++n}`,
      data: {},
      vars,
      ...((locale ?? contact.locale) ? { locale: locale ?? contact.locale } : {}),
    });
    const text = r.effects.find((e) => e.type === 'sendSms');
    if (!text || text.type !== 'sendSms') return false;
    const job: QueuedJob<SendSmsJob> = {
      id: `sms:${key}`,
      queue: 'outbox-sms',
      name: 'sendSms',
      data: { to, text: text.text, locale: text.locale, reply, purpose },
    };
    await store.enqueue([job]);
    return true;
  }

  return {
    async [CASEWORKER_JOBS.credential](job) {
      const op = CredentialOpSchema.safeParse(job.data);
      if (!op.success) return permanent('invalid credential operation');
      await writeCredentialOp(store, op.data, deps.lock ?? DEFAULT_LOCK_POLICY);
      return { ok: true };
    },

    async [CASEWORKER_JOBS.sms](job) {
      const parsed = CaseWorkerSmsSchema.safeParse(job.data);
      if (!parsed.success) return permanent('invalid case-worker SMS request');
      const m = parsed.data;
      // The worker asked for it this minute: it goes out even if the number once sent STOP.
      const ok = await queueSms(`cw-otp:${m.id}`, m.to, m.locale, { kind: m.kind, code: m.code }, 'otp', true);
      return ok ? { ok: true } : permanent(`flow ${CASEWORKER_SMS_FLOW} is missing or has no ${m.kind} text`);
    },
  };
}
