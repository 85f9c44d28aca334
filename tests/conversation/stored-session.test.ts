import { beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { handleInbound, pathDigest, sessionKey, type RunnerDeps } from '../../src/conversation/runner.ts';
import type { FlowSet } from '../../src/conversation/index.ts';
import { toUssdInbound } from '../../src/channels/africastalking/index.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import { NOW } from '../caregiver/helpers.ts';
import { inboundSms, loadShipped } from './helpers.ts';

// What the runner stores after a hop: the turn's session plus the hop's own fields (the dial, the path digest,
// the answer). The runner writes that record out field by field (`withHop`, docs/architecture.md#the-hop-and-
// the-garbage-collector), so these tests hold it to keeping every field of the turn's session and replacing
// only its own.

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

function world() {
  const clock = fixedClock(NOW);
  const queue = createMemoryJobQueue({ clock });
  const store = createMemoryStore({ clock, queue });
  let id = 0;
  const deps: RunnerDeps = {
    store,
    flows: () => set,
    loadData: async (names) => Object.fromEntries(names.map((n) => [n, null])),
    clock,
    logger: createLogger({ level: 'silent' }),
    newId: () => `id-${++id}`,
  };
  const ussd = (from: string, sessionId: string, path: string) =>
    handleInbound(
      deps,
      toUssdInbound(
        { sessionId, serviceCode: '*384*12#', phone: from, providerPhone: from, path, isNew: path === '' },
        clock.now(),
      ),
    );
  let seq = 0;
  const sms = (from: string, text: string) => handleInbound(deps, inboundSms(from, text, `m${++seq}`, clock.now()));
  return { clock, store, ussd, sms };
}

describe('the session the runner stores after a hop', () => {
  it('on USSD: the turn’s session with the dial, the digest of the path and the screen; the start kept across hops', async () => {
    const w = world();
    const phone = '+254790000101';
    const first = await w.ussd(phone, 'dial-1', '');
    const started = w.clock.now().getTime();
    expect(await w.store.getSession(sessionKey('ussd', phone))).toEqual({
      ...first.result?.session,
      ussdSessionId: 'dial-1',
      pathDigest: pathDigest(''),
      lastReply: first.reply,
    });

    w.clock.advance(5_000);
    // Not an option of the welcome menu: the turn counts it, and the record keeps the count.
    const wrong = await w.ussd(phone, 'dial-1', '9');
    const stored = await w.store.getSession(sessionKey('ussd', phone));
    expect(wrong.result?.session?.invalidCount).toBe(1);
    expect(stored).toEqual({
      ...wrong.result?.session,
      ussdSessionId: 'dial-1',
      pathDigest: pathDigest('9'),
      lastReply: wrong.reply,
    });
    expect(stored).toMatchObject({
      flowId: 'demo',
      channel: 'ussd',
      locale: first.result?.locale,
      startedAt: started,
      updatedAt: started + 5_000,
      invalidCount: 1,
    });
    expect(stored?.snapshot).toEqual(wrong.result?.session?.snapshot);
  });

  it('on USSD, a final screen is kept for the rest of the dial with the same fields', async () => {
    const w = world();
    const phone = '+254790000102';
    await w.ussd(phone, 'dial-2', '');
    const bye = await w.ussd(phone, 'dial-2', '3');
    expect(bye.reply?.end).toBe(true);
    expect(await w.store.getSession(sessionKey('ussd', phone))).toMatchObject({
      flowId: 'demo',
      ended: true,
      snapshot: null,
      ussdSessionId: 'dial-2',
      pathDigest: pathDigest('3'),
      lastReply: bye.reply,
    });
  });

  it('on SMS: the turn’s session with the answer, and no dial fields', async () => {
    const w = world();
    const phone = '+254790000103';
    const r = await w.sms(phone, 'hello');
    const stored = await w.store.getSession(sessionKey('sms', phone));
    // The store keeps the answer's text and end (an SMS answer also carries its segment count).
    expect(stored).toEqual({ ...r.result?.session, lastReply: { text: r.reply?.text, end: r.reply?.end } });
    expect(stored?.ussdSessionId).toBeUndefined();
    expect(stored?.pathDigest).toBeUndefined();
  });
});
