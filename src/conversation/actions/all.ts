import type { DomainModule } from './index.ts';
import { caregiverModule } from './caregiver.ts';
import { caseWorkerModule, createCaseWorkerModule, type CaseWorkerModuleOptions } from './caseworker.ts';

/** Every capability this build ships, in the order their parts are merged (later wins on a name clash). */
export const ALL_MODULES: readonly DomainModule[] = [caregiverModule, caseWorkerModule];

/** The shipped capabilities with the case-worker module set up for this gateway (its PIN pepper). */
export function shippedModules(caseWorker: CaseWorkerModuleOptions): DomainModule[] {
  return [caregiverModule, createCaseWorkerModule(caseWorker)];
}
