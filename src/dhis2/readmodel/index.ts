/**
 * The DHIS2 read model: synced views of caregivers, defaulters, case workers and org units that
 * conversations read without waiting on DHIS2.
 */
export { syncReadModel, type SyncLogger, type SyncOptions, type SyncStats } from './sync.ts';
export { getCaregiver, getCaseWorker, getDefaultersFor, getOrgUnitTree, isWithin } from './read.ts';
export { createCaseWorkerSource, type CaseWorkerSource } from './users.ts';
export { applyWrittenEvents, type WriteBackResult } from './writer.ts';
export { isMissed, isAppointment, toSnapshot, type SyncWindow } from './views.ts';
export { dateIn, addDays, datePart } from './calendar.ts';
export * from './types.ts';
