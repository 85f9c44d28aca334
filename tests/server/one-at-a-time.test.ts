import { describe, expect, it } from 'vitest';
import { oneAtATime } from '../../src/server/one-at-a-time.ts';

/** A task whose calls the test finishes by hand, so "at the same time" is decided by the test, not a timer. */
function heldTask() {
  const started: number[] = [];
  const release: Array<(v: number) => void> = [];
  let active = 0;
  let most = 0;
  const task = () =>
    new Promise<number>((resolve) => {
      active += 1;
      most = Math.max(most, active);
      started.push(started.length + 1);
      release.push((v) => {
        active -= 1;
        resolve(v);
      });
    });
  return { task, started, release, most: () => most };
}

describe('oneAtATime (the reload lock)', () => {
  it('runs overlapping calls one after the other, in order, each with its own result', async () => {
    const h = heldTask();
    const run = oneAtATime(h.task);
    const results = [run(), run(), run()];
    await Promise.resolve();
    expect(h.started).toEqual([1]); // the second waits for the first
    h.release[0]!(10);
    expect(await results[0]).toBe(10);
    await new Promise((r) => setImmediate(r));
    expect(h.started).toEqual([1, 2]);
    h.release[1]!(20);
    await new Promise((r) => setImmediate(r));
    h.release[2]!(30);
    expect(await Promise.all(results)).toEqual([10, 20, 30]);
    expect(h.most()).toBe(1);
  });

  it('a failed call does not block the next one', async () => {
    let n = 0;
    const run = oneAtATime(async () => {
      n += 1;
      if (n === 1) throw new Error('broken');
      return n;
    });
    const first = run();
    const second = run();
    await expect(first).rejects.toThrow('broken');
    expect(await second).toBe(2);
  });
});
