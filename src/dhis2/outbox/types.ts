/**
 * DHIS2 writes as conversation effects. A flow action emits one of these as a `dhis2Write` effect; it is
 * committed with the session step and relayed by the outbox worker, batched into `POST /api/tracker`.
 * Notes get a uid derived from the job id, so a retried batch re-sends the same note uid and DHIS2
 * answers E1119 (ignored) instead of adding it twice.
 */
export type Dhis2Write =
  /** Add a note to an event (a confirmation: E1315 refuses data values on SCHEDULE events). */
  | { op: 'event.note'; event: string; note: string }
  /** Move a scheduled event and say why. */
  | { op: 'event.reschedule'; event: string; scheduledAt: string; note: string }
  /** Any other change to one event: status (e.g. SKIPPED), scheduledAt, follow-up flag, plus a note. */
  | {
      op: 'event.update';
      event: string;
      status?: 'SCHEDULE' | 'SKIPPED' | 'COMPLETED' | 'ACTIVE';
      scheduledAt?: string;
      occurredAt?: string;
      followUp?: boolean;
      note?: string;
    }
  /** Create new objects (births, deaths) with client-made uids, nested or flat as DHIS2 accepts them. */
  | { op: 'tracker.create'; trackedEntities?: unknown[]; enrollments?: unknown[]; events?: unknown[] };

export type Dhis2WriteOp = Dhis2Write['op'];

/** What the runner puts on `outbox-dhis2` (one job per write). */
export interface Dhis2WriteJob {
  op: Dhis2WriteOp;
  payload: Dhis2Write;
  /** Short reference the user was given (e.g. `JB-7K3Q`). */
  ref: string;
  phone: string;
}
