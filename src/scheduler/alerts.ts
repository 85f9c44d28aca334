import { z } from 'zod';
import { getOrgUnitTree, isWithin } from '../dhis2/readmodel/read.ts';
import { rmKeys, type CaseWorkerView } from '../dhis2/readmodel/types.ts';
import { readIndex, readMany } from '../dhis2/readmodel/writer.ts';
import type { QueuedJob, Store } from '../store/types.ts';
import type { SendSmsJob } from '../messaging/outbox.ts';

/**
 * A severe reaction after vaccination, reported by a caregiver (`notify` effect `aefi.severe` from the
 * caregiver flows), goes to the case workers responsible for the child's org unit as an SMS. It is a
 * clinical alert, so it is `urgent`: it leaves at once, even outside the delivery window.
 */

export const AEFI_ALERT_JOB = 'notify.aefi.severe';

const payloadSchema = z.looseObject({
  ref: z.string().min(1),
  orgUnit: z.string().min(1),
  /** Ready to send, in the deployment's staff language. */
  text: z.string().min(1),
  /** A case worker who reported it themselves is not alerted about their own report. */
  reporterPhone: z.string().optional(),
});

/**
 * The SMS jobs alerting every case worker whose org units contain the child's, or an error naming
 * what was wrong with the payload. Job ids derive from the report's ref, so a retried notify job sends
 * nothing twice.
 */
export async function aefiAlertJobs(
  store: Store,
  payload: unknown,
): Promise<{ ok: true; jobs: Array<QueuedJob<SendSmsJob>> } | { ok: false; error: string }> {
  const p = payloadSchema.safeParse(payload);
  if (!p.success)
    return {
      ok: false,
      error: `aefi.severe payload: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    };
  const [tree, phones] = await Promise.all([getOrgUnitTree(store), readIndex(store, 'workers')]);
  const workers = (await readMany<CaseWorkerView>(store, phones.map(rmKeys.worker))).filter(
    (w): w is CaseWorkerView => w !== null,
  );
  const responsible = workers.filter(
    (w) =>
      w.phone !== p.data.reporterPhone &&
      isWithin(
        tree,
        p.data.orgUnit,
        w.orgUnits.map((o) => o.id),
      ),
  );
  return {
    ok: true,
    jobs: responsible.map((w) => ({
      id: `sms:aefi:${p.data.ref}:${w.phone}`,
      queue: 'outbox-sms',
      name: 'sendSms',
      data: { to: w.phone, text: p.data.text, locale: 'staff', reply: false, purpose: 'aefi-alert', urgent: true },
    })),
  };
}
