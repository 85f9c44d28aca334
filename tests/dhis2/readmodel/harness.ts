import type { Clock } from '../../../src/clock.ts';
import { createMemoryJobQueue, createMemoryStore, createRedisStore } from '../../../src/store/index.ts';
import type { Store } from '../../../src/store/types.ts';
import { EIR, type Emulator } from '../../../src/emulator/index.ts';
import type { StoredEvent } from '../../../src/emulator/model.ts';
import { TEST_REDIS_URL, deletePrefix, requireRedis, uniquePrefix } from '../../store/harness.ts';

export type StoreKind = 'memory' | 'redis';

export interface TestStore {
  store: Store;
  close(): Promise<void>;
}

/**
 * A fresh store of either kind. The Redis one lives under a prefix of its own and is deleted on close;
 * it fails (never skips) when Redis does not answer.
 */
export async function makeStore(kind: StoreKind, clock: Clock, file: string): Promise<TestStore> {
  if (kind === 'memory') {
    const queue = createMemoryJobQueue({ clock });
    const store = createMemoryStore({ clock, queue });
    return {
      store,
      async close() {
        await queue.close();
        await store.close();
      },
    };
  }
  const admin = await requireRedis();
  const prefix = uniquePrefix(file);
  const store = createRedisStore({ redis: TEST_REDIS_URL, prefix });
  return {
    store,
    async close() {
      await store.close();
      await deletePrefix(admin, prefix);
    },
  };
}

/** The SCHEDULE Immunization events of the emulator whose local date is in [from, to]: what the read model must hold. */
export function appointmentsIn(emu: Emulator, from: string, to: string): StoredEvent[] {
  return [...emu.state.events.values()].filter((e) => {
    if (e.deleted || e.programStage !== EIR.immunizationStage || e.status !== 'SCHEDULE' || e.scheduledAt === undefined)
      return false;
    const d = emu.time.dateOf(e.scheduledAt);
    return d >= from && d <= to;
  });
}

/** The appointment's local date (`YYYY-MM-DD`). */
export function dateOf(emu: Emulator, e: StoredEvent): string {
  return emu.time.dateOf(e.scheduledAt!);
}
