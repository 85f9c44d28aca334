import { describe, expect, it } from 'vitest';
import { pathDigest, placeHop } from '../../src/conversation/runner.ts';
import type { SessionRecord } from '../../src/store/types.ts';

describe('the USSD dial a session keeps', () => {
  it('is a length and digest of the path, never the typed text (PINs and codes arrive inside the path)', () => {
    const digest = pathDigest('1*4821*4821');
    expect(digest).not.toContain('4821');
    expect(digest).toMatch(/^#11:[A-Za-z0-9_-]{22}$/);
    expect(pathDigest('1*4821*4821')).toBe(digest);
    expect(pathDigest('1*4821*4822')).not.toBe(digest);
  });

  const session = (over: Partial<SessionRecord> = {}): SessionRecord => ({
    flowId: 'demo',
    flowVersion: '1.abc',
    channel: 'ussd',
    snapshot: {},
    locale: 'en',
    startedAt: 0,
    updatedAt: 0,
    ussdSessionId: 'ATUid_1',
    pathDigest: pathDigest('1'),
    lastReply: { text: 'Menu', end: false },
    ...over,
  });

  it('places a hop: a re-sent one, a new dial, or a continuation', () => {
    expect(placeHop(null, 'ATUid_1', pathDigest(''))).toEqual({ kind: 'new-dial' });
    expect(placeHop(session(), 'ATUid_2', pathDigest('1'))).toEqual({ kind: 'new-dial' });
    expect(placeHop(session(), 'ATUid_1', pathDigest('1'))).toEqual({
      kind: 'resent',
      reply: { text: 'Menu', end: false },
    });
    expect(placeHop(session(), 'ATUid_1', pathDigest('1*2'))).toEqual({ kind: 'continues' });
    // A provider without hop ids cannot have its re-sends told apart: the hop continues.
    expect(placeHop(session(), 'ATUid_1', undefined)).toEqual({ kind: 'continues' });
    // A dial that reached its final screen replays it to a re-send, and starts afresh otherwise.
    const ended = session({ ended: true, lastReply: { text: 'Bye', end: true } });
    expect(placeHop(ended, 'ATUid_1', pathDigest('1'))).toEqual({ kind: 'resent', reply: { text: 'Bye', end: true } });
    expect(placeHop(ended, 'ATUid_1', pathDigest('1*1'))).toEqual({ kind: 'new-dial' });
  });
});
