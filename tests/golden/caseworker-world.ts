import { fixedClock } from '../../src/clock.ts';
import type { SessionRecord } from '../../src/store/types.ts';
import { sessionKey } from '../../src/conversation/runner.ts';
import { loadCaseWorkerData, type CaseWorkerData } from '../../src/caseworker/data.ts';
import { createDhis2Client } from '../../src/dhis2/client.ts';
import { defaultDeployment, type Deployment } from '../../src/dhis2/deployment.ts';
import { createEmulator, type Emulator } from '../../src/emulator/index.ts';
import { createCaseWorkerSource, syncReadModel } from '../../src/dhis2/readmodel/index.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import type { Store } from '../../src/store/types.ts';
import { NOW } from '../caregiver/helpers.ts';
import { TZ } from '../conversation/helpers.ts';

/** The read model the case-worker loader reads, synced in memory from the emulator's demo data at {@link NOW}. */
export interface CaseWorkerReadModel {
  store: Store;
  deployment: Deployment;
  /** Put `session` where the runner commits it (the loader reads the previous hop's variables there), then load. */
  load(phone: string, session: SessionRecord | null, now?: Date): Promise<CaseWorkerData | null>;
  /** What the case-worker loader gives for `phone`, reading the session the runner committed in `store`. */
  loadData(phone: string, now?: Date): Promise<CaseWorkerData | null>;
  close(): Promise<void>;
}

/**
 * Sync the demo DHIS2 into a memory store, as the gateway does at start-up; `plant` edits the demo data first.
 *
 * @example const rm = await caseWorkerReadModel(); const data = await rm.loadData('+254711000001');
 */
export async function caseWorkerReadModel(plant?: (emulator: Emulator) => void): Promise<CaseWorkerReadModel> {
  const clock = fixedClock(NOW);
  const deployment = { ...defaultDeployment(), timeZone: TZ };
  const emulator = createEmulator({ version: '2.40', clock });
  plant?.(emulator);
  const auth = { token: emulator.credentials.token };
  const store = createMemoryStore({ clock, queue: createMemoryJobQueue({ clock }) });
  const client = createDhis2Client({ baseUrl: emulator.baseUrl, auth, fetch: emulator.fetch });
  const users = createCaseWorkerSource({ baseUrl: emulator.baseUrl, auth, fetch: emulator.fetch });
  await syncReadModel({ client, store, deployment, clock, mode: 'full', users, defaultCountry: 'KE' });
  return {
    store,
    deployment,
    async load(phone, session, now = NOW) {
      const key = sessionKey('ussd', phone);
      const { lock } = await store.lockAndLoad(phone, key);
      await store.commit(lock, { sessionKey: key, session, sessionTtlMs: 180_000, jobs: [] });
      return loadCaseWorkerData(store, deployment, phone, now);
    },
    loadData: (phone, now = NOW) => loadCaseWorkerData(store, deployment, phone, now),
    close: () => store.close(),
  };
}
