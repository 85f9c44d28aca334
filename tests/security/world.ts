import { expect } from 'vitest';
import { sessionKey } from '../../src/conversation/runner.ts';
import { QUEUE_NAMES } from '../../src/store/types.ts';
import type { TestGateway } from '../server/harness.ts';

/** A caregiver of the emulator's demo seed (two children, one visit due): a forged reply would move her child's visit. */
export const CAREGIVER = '+254700000001';

/** Waiting, delayed and active jobs across every queue (what an accepted message would have queued). */
export async function queuedJobs(t: TestGateway): Promise<number> {
  let n = 0;
  for (const q of QUEUE_NAMES) {
    const c = await t.gw.queue.counts(q);
    n += c.waiting + c.delayed + c.active;
  }
  return n;
}

/**
 * Nothing happened for `phone`: no conversation started, no opt-out, no SMS queued or sent, no DHIS2
 * write queued, no timer. Webhooks answer only after everything a message causes is stored, so once
 * the refusal is back, anything it had caused would already be visible here.
 */
export async function expectUntouched(t: TestGateway, phone: string, jobsBefore: number): Promise<void> {
  expect(await t.gw.store.getSession(sessionKey('ussd', phone)), 'USSD session').toBeNull();
  expect(await t.gw.store.getSession(sessionKey('sms', phone)), 'SMS session').toBeNull();
  expect((await t.gw.store.getContact(phone)).optedOut, 'opted out').toBe(false);
  expect(
    t.sent.filter((m) => m.to === phone),
    'SMS sent',
  ).toEqual([]);
  const effects = t.gw.events
    .since(0, 1000)
    .events.filter((e) => ('to' in e && e.to === phone) || ('phone' in e && e.phone === phone));
  expect(effects, 'effects in the event feed').toEqual([]);
  expect(await queuedJobs(t), 'jobs queued').toBe(jobsBefore);
}
