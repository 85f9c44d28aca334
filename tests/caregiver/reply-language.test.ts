import { beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import type { FlowSet } from '../../src/conversation/index.ts';
import { handleInbound, type RunnerDeps } from '../../src/conversation/runner.ts';
import { CAREGIVER_REMINDER_FLOW, reminderChildren, reminderStart } from '../../src/conversation/actions/caregiver.ts';
import { openConversation } from '../../src/scheduler/outbound.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import { NOW, PHONES, TODAY, dataFor, loadCaregiverSet, viewOf } from './helpers.ts';

// A reminder is written in the caregiver's DHIS2 language attribute's language even when they never
// chose one with LANG; the conversation it opens must go on in that language, through the real core loop.

let set: FlowSet;
beforeAll(async () => {
  set = await loadCaregiverSet();
});

async function remindThenReply(locale: string, contactLocale?: string) {
  const phone = PHONES.oneChild;
  const clock = fixedClock(NOW);
  const queue = createMemoryJobQueue({ clock });
  const store = createMemoryStore({ clock, queue });
  if (contactLocale) await store.setContact(phone, { locale: contactLocale });
  const view = viewOf(phone)!;
  const start = reminderStart({
    phone,
    today: TODAY,
    children: reminderChildren(view, new Set(view.children.flatMap((c) => (c.next ? [c.next.event] : [])))),
  });
  const opened = await openConversation(
    { store, clock, flows: () => set },
    {
      phone,
      flowId: CAREGIVER_REMINDER_FLOW,
      vars: start.vars,
      data: start.data,
      locale,
      dedupeKey: 'reminder:test',
      dedupeTtlMs: 60_000,
      idBase: 'reminder-test',
      purpose: 'reminder',
    },
  );
  expect(opened.outcome).toBe('committed');
  let n = 0;
  const deps: RunnerDeps = {
    store,
    flows: () => set,
    loadData: async () => dataFor(phone),
    clock,
    logger: createLogger({ level: 'silent' }),
    newId: () => `id-${++n}`,
  };
  const reply = await handleInbound(deps, {
    channel: 'sms',
    provider: 'http',
    from: phone,
    providerFrom: phone,
    to: '100',
    text: '2',
    providerMessageId: 'r1',
    receivedAt: clock.now(),
  });
  return { reminder: opened.result?.effects[0], reply };
}

describe('the language of a reminder conversation', () => {
  it.each(['sw', 'fr', 'rw', 'pt'])(
    'a reminder in %s is answered in %s, though the caregiver never chose a language',
    async (locale) => {
      const { reminder, reply } = await remindThenReply(locale);
      expect(reminder).toMatchObject({ type: 'sendSms', locale });
      expect(reply.result?.locale).toBe(locale);
      expect(reply.reply?.text).toBe(set.translate(locale, 'caregiver.ask.new_date', { name: 'Neema' }));
      expect(reply.reply?.text).not.toBe(set.translate('en', 'caregiver.ask.new_date', { name: 'Neema' }));
    },
  );

  it("keeps the reminder's language over a different earlier choice until the conversation ends", async () => {
    const { reply } = await remindThenReply('sw', 'fr');
    expect(reply.reply?.text).toBe(set.translate('sw', 'caregiver.ask.new_date', { name: 'Neema' }));
  });
});
