/**
 * Community case workers on USSD: sign-in credentials (code by SMS, then a PIN kept as a scrypt hash),
 * the `caseWorker` read-model data their flow reads, the DHIS2 writes their reports become, and the job
 * handlers for what their conversation steps hand on. The conversation module itself (actions, guards,
 * validators, role) is `src/conversation/actions/caseworker.ts`.
 */
export {
  resetPin,
  writeCredentialOp,
  applyCredentialOp,
  hashPin,
  verifyPin,
  isWeakPin,
  lockPeriod,
  credentialKey,
  DEFAULT_LOCK_POLICY,
  SCRYPT_PARAMS,
  LEGACY_SCRYPT_PARAMS,
  DEMO_PIN_PEPPER,
  DEFAULT_PIN_HASHING,
  LEGACY_PIN_HASHING,
  needsRehash,
  type PinHashing,
  type ScryptParams,
  CredentialSchema,
  CredentialOpSchema,
  type Credential,
  type CredentialOp,
  type LockPolicy,
} from './credentials.ts';
export {
  createCaseWorkerJobs,
  credentialUpdates,
  CASEWORKER_JOBS,
  CASEWORKER_SMS_FLOW,
  type CaseWorkerJobDeps,
  type CaseWorkerSms,
  type JobHandler,
} from './jobs.ts';
export {
  loadCaseWorkerData,
  CASEWORKER_FLOW,
  type CaseWorkerData,
  type ChildItem,
  type DefaulterItem,
  type FilterItem,
  type LoaderOptions,
} from './data.ts';
export {
  VITAL_EVENTS_DEFAULTS,
  CASEWORKER_STAFF_TEXTS,
  type CaseWorkerStaffTexts,
  type VitalEventsExtra,
} from './writes.ts';
