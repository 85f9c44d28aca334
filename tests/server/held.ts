import type { DataLoader } from '../../src/conversation/runner.ts';
import { createDataLoader } from '../../src/conversation/actions/index.ts';
import { ALL_MODULES } from '../../src/conversation/actions/all.ts';
import type { Gateway } from '../../src/server/lifecycle.ts';
import { deferred } from '../store/harness.ts';

/**
 * The gateway's own data loader with a gate in front: `hold()` makes the next webhook stop inside the
 * core loop (contact locked, step not yet committed) until `release()`, so a test can act on the
 * gateway — stop it, fail its store — while that request is in flight.
 */
export function heldLoader() {
  let real: DataLoader | undefined;
  let armed: { entered: ReturnType<typeof deferred<void>>; gate: ReturnType<typeof deferred<void>> } | undefined;
  const loadData: DataLoader = async (names, ctx) => {
    const held = armed;
    armed = undefined;
    if (held) {
      held.entered.resolve();
      await held.gate.promise;
    }
    if (!real) throw new Error('heldLoader: bind(gateway) before the first request');
    return real(names, ctx);
  };
  return {
    loadData,
    /** Load through the running gateway's store, as it would without the gate. */
    bind(gw: Gateway): void {
      real = createDataLoader(gw.store, gw.deployment, ALL_MODULES);
    },
    /** Hold the next request; resolves `entered` once it is inside the core loop. */
    hold(): { entered: Promise<void>; release: () => void } {
      const entered = deferred();
      const gate = deferred();
      armed = { entered, gate };
      return { entered: entered.promise, release: () => gate.resolve() };
    },
  };
}
