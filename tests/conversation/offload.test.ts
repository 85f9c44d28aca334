import { describe, expect, it } from 'vitest';
import { OffloadScope, offloadable, offloadCounts } from '../../src/conversation/offload.ts';
import { hashPin, saltFrom, verifyPin, LEGACY_SCRYPT_PARAMS } from '../../src/caseworker/credentials.ts';

/** A costly pure function whose calls are counted per way of computing. */
function counted(name: string, concurrency = 1) {
  const calls = { sync: 0, async: 0, running: 0, mostAtOnce: 0 };
  const f = offloadable<[number], number>({
    name,
    concurrency,
    key: (n) => String(n),
    sync: (n) => {
      calls.sync++;
      return n * n;
    },
    async: async (n) => {
      calls.async++;
      calls.running++;
      calls.mostAtOnce = Math.max(calls.mostAtOnce, calls.running);
      await new Promise((r) => setTimeout(r, 5));
      calls.running--;
      return n * n;
    },
    standIn: () => -1,
  });
  return { f, calls };
}

describe('offloadable', () => {
  it('runs synchronously outside a scope', () => {
    const { f, calls } = counted('square-sync');
    expect(f(7)).toBe(49);
    expect(calls).toMatchObject({ sync: 1, async: 0 });
  });

  it('inside a scope: a stand-in first, the real answer computed asynchronously, then from memory', async () => {
    const { f, calls } = counted('square-scope');
    const scope = new OffloadScope();
    const step = () => f(3) + f(4);
    expect(scope.run(step)).toBe(-2); // two stand-ins: this attempt is dropped
    expect(scope.pending()).toBe(true);
    await scope.settle();
    expect(scope.pending()).toBe(false);
    expect(scope.run(step)).toBe(25);
    expect(scope.pending()).toBe(false);
    expect(calls).toMatchObject({ sync: 0, async: 2 });
    expect(offloadCounts.get('square-scope')).toBe(2);
  });

  it('asks once for a call repeated in one attempt, and keeps to its concurrency', async () => {
    const { f, calls } = counted('square-limit', 2);
    const scope = new OffloadScope();
    scope.run(() => [1, 2, 3, 4, 5, 1, 2].map((n) => f(n)));
    expect(scope.wanted.size).toBe(5);
    await scope.settle();
    expect(calls.async).toBe(5);
    expect(calls.mostAtOnce).toBe(2);
  });

  it('gives synchronous answers once a step has asked for new calls too many times', async () => {
    const { f, calls } = counted('square-rounds');
    const scope = new OffloadScope();
    let n = 0;
    // A step that asks for something new every time (not deterministic) still ends.
    for (let round = 0; round < 10 && !scope.exhausted; round++) {
      scope.run(() => f(n++));
      expect(scope.pending()).toBe(true);
      await scope.settle();
    }
    expect(scope.exhausted).toBe(true);
    expect(scope.run(() => f(100))).toBe(10_000);
    expect(calls.sync).toBeGreaterThan(0);
  });

  it('restores the outer scope after a run, also when the step throws', () => {
    const { f } = counted('square-throw');
    const scope = new OffloadScope();
    expect(() =>
      scope.run(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(f(2)).toBe(4); // no scope in force: synchronous
  });
});

describe('PIN hashes offloaded', () => {
  const salt = saltFrom('offload-test');
  const params = LEGACY_SCRYPT_PARAMS; // quick: the scheme is the same at any cost
  it('the thread-pool hash equals the synchronous one, and the stand-in never verifies', async () => {
    const sync = hashPin('4821', salt, params, 'pepper');
    const scope = new OffloadScope();
    const standIn = scope.run(() => hashPin('4821', salt, params, 'pepper'));
    expect(standIn).not.toBe(sync);
    expect(scope.run(() => verifyPin('4821', { hash: sync, salt, params, peppered: true }, 'pepper'))).toBe(false);
    await scope.settle();
    expect(scope.run(() => hashPin('4821', salt, params, 'pepper'))).toBe(sync);
    expect(scope.run(() => verifyPin('4821', { hash: sync, salt, params, peppered: true }, 'pepper'))).toBe(true);
    // Another pepper or PIN is another call, not a memory hit.
    scope.run(() => hashPin('4821', salt, params, 'other'));
    scope.run(() => hashPin('4822', salt, params, 'pepper'));
    expect(scope.wanted.size).toBe(2);
  });
});
