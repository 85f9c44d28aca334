/** The DHIS2 write-back outbox: queued writes relayed in batches, idempotently, into `POST /api/tracker`. */
export { startDhis2Relay, createDhis2BatchHandler, type Dhis2RelayOptions, type RelayLogger } from './relay.ts';
export {
  buildImport,
  judgeErrors,
  planJob,
  applyChanges,
  type PlannedJob,
  type BuiltImport,
  type Verdict,
} from './batch.ts';
export { Dhis2WriteSchema, Dhis2WriteJobSchema } from './schemas.ts';
export { deriveUid, noteUid } from './uid.ts';
export type { Dhis2Write, Dhis2WriteOp, Dhis2WriteJob } from './types.ts';
