import type { DomainModule } from './index.ts';
import { caregiverModule } from './caregiver.ts';
import { caseWorkerModule } from './caseworker.ts';

/** Every capability this build ships, in the order their parts are merged (later wins on a name clash). */
export const ALL_MODULES: readonly DomainModule[] = [caregiverModule, caseWorkerModule];
