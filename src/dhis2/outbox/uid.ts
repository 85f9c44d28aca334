import { uidFromKey } from '../uid.ts';

/**
 * A DHIS2-valid uid (11 characters, a letter first) derived from `seed` by hashing, so the same seed
 * always gives the same uid. The outbox seeds note uids with the job id (`noteUid`): a retried or
 * redelivered job re-sends a note DHIS2 already has, which it skips with warning E1119 instead of adding
 * it twice.
 *
 * @example deriveUid('outbox-dhis2:JB-7K3Q:note') === deriveUid('outbox-dhis2:JB-7K3Q:note') // true
 */
export function deriveUid(seed: string): string {
  return uidFromKey(seed);
}

/** The uid of the note a job writes: one per job, stable across retries and redeliveries. */
export function noteUid(jobId: string): string {
  return deriveUid(`outbox-dhis2:${jobId}:note`);
}
