import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet, LoadFlowSetResult } from '../../src/conversation/index.ts';
import { addDays, daysBetween } from '../../src/conversation/input.ts';
import { Caregiver, LANGS, PHONES, TODAY, buildCaregiverSet, text, writes } from './helpers.ts';

let set: FlowSet;
let loaded: LoadFlowSetResult;
beforeAll(async () => {
  loaded = await buildCaregiverSet();
  if (!loaded.ok) expect.fail(loaded.problems.map((p) => `${p.file}:${p.line ?? '?'} ${p.message}`).join('\n'));
  set = loaded.set;
});

describe('whatever a caregiver types', () => {
  it('a reply to a reminder writes at most one thing, and only a note or a move of the reminded event within the window', async () => {
    const answer = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom(
        '1',
        '2',
        '3',
        '0',
        '00',
        '98',
        'kesho',
        'demain',
        'tomorrow',
        'ejo',
        'amanhã',
        'leo',
        'yesterday',
      ),
      fc.integer({ min: -30, max: 90 }).map((d) => addDays(TODAY, d).split('-').reverse().join('')),
      fc.integer({ min: -30, max: 90 }).map((d) => {
        const [, m, day] = addDays(TODAY, d).split('-');
        return `${day}/${m}`;
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...LANGS),
        fc.constantFrom(PHONES.oneChild, PHONES.twoChildren, PHONES.missedYesterday),
        fc.array(answer, { maxLength: 6 }),
        async (locale, phone, inputs) => {
          const cg = new Caregiver(set, 'sms', phone, locale);
          const reminded = await cg.remind();
          expect(reminded.session).not.toBeNull();
          const events = new Set((cg.data.caregiver?.due ?? []).map((c) => c.event));
          const all = [];
          for (const input of inputs) {
            const r = await cg.send(input);
            expect(text(r).length).toBeGreaterThan(0);
            all.push(...writes(r));
            if (!r.session) break;
          }
          expect(all.length).toBeLessThanOrEqual(1);
          for (const w of all) {
            const p = w.payload as { op: string; event: string; scheduledAt?: string };
            expect(events.has(p.event)).toBe(true);
            expect(['event.note', 'event.reschedule']).toContain(p.op);
            if (p.scheduledAt) {
              const d = daysBetween(TODAY, p.scheduledAt);
              expect(d).toBeGreaterThanOrEqual(0);
              expect(d).toBeLessThanOrEqual(60);
            }
          }
        },
      ),
      { numRuns: 120 },
    );
  });

  it('every USSD screen of the caregiver menu fits 160 characters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...LANGS),
        fc.constantFrom(PHONES.oneChild, PHONES.threeChildren, PHONES.noVisit, PHONES.visitedYesterday),
        fc.array(fc.constantFrom('1', '2', '3', '4', '5', '7', '0', '00', '98', 'x', '28112025'), { maxLength: 8 }),
        async (locale, phone, inputs) => {
          const cg = new Caregiver(set, 'ussd', phone, locale);
          expect(text(await cg.dial()).length).toBeLessThanOrEqual(160);
          for (const input of inputs) {
            const r = await cg.send(input);
            expect(text(r).length).toBeLessThanOrEqual(160);
            if (!r.session) break;
          }
        },
      ),
      { numRuns: 120 },
    );
  });
});

describe('the caregiver flows and texts', () => {
  it('load with no problem at all in their own files: no error and no warning', () => {
    const mine = (loaded.ok ? loaded.warnings : loaded.problems).filter((p) => /caregiver/.test(p.file));
    expect(mine).toEqual([]);
  });
});
