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
  /**
   * Create new objects (births, deaths) with client-made uids, nested or flat as DHIS2 accepts them. With
   * `duplicateCheck` (a birth of a new child) the relay first searches the whole registry for the child.
   */
  | {
      op: 'tracker.create';
      trackedEntities?: unknown[];
      enrollments?: unknown[];
      events?: unknown[];
      duplicateCheck?: DuplicateCheck;
    }
  /** A reaction after vaccination filed as a case of the AEFI programme (`aefi.program` set). */
  | AefiReport;

/**
 * A birth's registry-wide duplicate check, done by the relay before it creates the child (a USSD hop never
 * waits on DHIS2; the worker already checked their own area on the phone).
 */
export interface DuplicateCheck {
  /** The new child and their Vital Events enrollment (client-made uids of the same write). */
  trackedEntity: string;
  enrollment: string;
  firstName?: string;
  /** `YYYY-MM-DD` */
  dateOfBirth: string;
  /** Caregiver phone as written (E.164). */
  phone?: string;
  /** The worker's org units: a likely match inside them was offered on the phone and turned down. */
  area: string[];
}

/**
 * A reaction after vaccination for the AEFI programme. The relay resolves it when it writes: the vaccines
 * given at `visit` and the child's AEFI enrollments, read from DHIS2, decide whether it opens a case
 * (enrollment and AEFI event), updates the case of the same visit, or adds a note to another open case.
 */
export interface AefiReport {
  op: 'aefi.report';
  trackedEntity: string;
  /** The EIR Immunization event (the visit) the reaction follows. */
  visit: string;
  /** Where a new case is enrolled when the visit's own org unit (the vaccination site) cannot be read. */
  orgUnit: string;
  /** `YYYY-MM-DD`: enrollment date and report date. */
  reportedAt: string;
  /** `YYYY-MM-DD`: when the reaction started. */
  onset: string;
  /** As the flow saved it (`fever`, `seizure`, `fits`, ...). */
  reaction: string;
  /** The reaction in the staff language, for the "specify other" text. */
  reactionText: string;
  serious: boolean;
  /** Read from the child's card by a case worker, with the vaccine it belongs to (`other` when not sure). */
  batch?: { number: string; vaccine: string };
  reporter: { name: string; phone?: string };
  /** Staff-language note on the AEFI event. */
  note: string;
}

export type Dhis2WriteOp = Dhis2Write['op'];

/** What the runner puts on `outbox-dhis2` (one job per write). */
export interface Dhis2WriteJob {
  op: Dhis2WriteOp;
  payload: Dhis2Write;
  /** Short reference the user was given (e.g. `JB-7K3Q`). */
  ref: string;
  phone: string;
}
