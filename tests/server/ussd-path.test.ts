import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { latestInput, pathMark } from '../../src/conversation/runner.ts';

describe('the USSD path a session keeps', () => {
  it('is a length and digest, never the typed text (PINs and codes arrive inside the path)', () => {
    const mark = pathMark('1*4821*4821');
    expect(mark).not.toContain('4821');
    expect(mark).toMatch(/^#11:[A-Za-z0-9_-]{22}$/);
  });

  it('recovers the newest input: after the consumed path, empty when unchanged, whole when not an extension', () => {
    expect(latestInput('2', pathMark(''))).toBe('2');
    expect(latestInput('2*14', pathMark('2'))).toBe('14');
    expect(latestInput('2*14', pathMark('2*14'))).toBe('');
    expect(latestInput('1**3', pathMark('1*'))).toBe('3');
    expect(latestInput('7', pathMark('2'))).toBe('7'); // an aggregator that sends only the latest input
    expect(latestInput('3*5', pathMark('2'))).toBe('3*5');
  });

  it("replays a whole Africa's Talking dial hop by hop", () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[0-9#]{1,6}$/), { minLength: 1, maxLength: 10 }), (inputs) => {
        let consumed = pathMark('');
        const seen: string[] = [];
        for (let i = 1; i <= inputs.length; i++) {
          const path = inputs.slice(0, i).join('*');
          seen.push(latestInput(path, consumed));
          consumed = pathMark(path);
        }
        expect(seen).toEqual(inputs);
      }),
    );
  });
});
