import { describe, expect, it } from 'vitest';
import { inRanges, isLoopback, parseCidrList } from '../../src/cidr.ts';
import { createAttemptLimiter } from '../../src/server/attempt-limiter.ts';
import { sessionValue, validSession } from '../../src/server/admin-session.ts';

describe('address ranges (WEBHOOK_ALLOWED_IPS, TRUST_PROXY)', () => {
  it('a caller outside the ranges, or one that is not an address at all, is not let in', () => {
    const r = parseCidrList('196.201.214.0/24, 2001:db8::/32, 10.0.0.7');
    expect(r.ok).toBe(true);
    const allowed = inRanges(r.ok ? r.value : []);
    expect(allowed('196.201.214.200')).toBe(true);
    expect(allowed('::ffff:196.201.214.9')).toBe(true);
    expect(allowed('2001:db8::1')).toBe(true);
    expect(allowed('10.0.0.7')).toBe(true);
    for (const ip of ['196.201.215.1', '10.0.0.8', '2001:db9::1', 'localhost', '', undefined])
      expect(allowed(ip), String(ip)).toBe(false);
    expect(parseCidrList('10.0.0.0/8, *').ok).toBe(false);
    expect(parseCidrList('').ok).toBe(false);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('192.168.1.2')).toBe(false);
  });
});

describe('failed admin attempts', () => {
  it('a guesser is held off for the window, then may try again; the table of clients stays bounded', () => {
    let now = 0;
    const l = createAttemptLimiter({ max: 3, windowMs: 1000, capacity: 2, now: () => now });
    for (let i = 0; i < 3; i++) l.fail('a');
    expect(l.retryAfterMs('a')).toBe(1000);
    now = 999;
    expect(l.retryAfterMs('a')).toBe(1);
    now = 1000;
    expect(l.retryAfterMs('a')).toBe(0);
    // A flood of new addresses cannot grow the table: the oldest is forgotten.
    for (let i = 0; i < 3; i++) l.fail('b');
    for (const c of ['c', 'd', 'e']) l.fail(c);
    expect(l.retryAfterMs('b')).toBe(0);
  });

  it('a session cookie forged, expired, or signed with another token is refused', () => {
    const now = 1_000_000;
    const v = sessionValue('token-one', now + 60_000);
    expect(validSession(v, 'token-one', now)).toBe(true);
    expect(validSession(v, 'token-two', now)).toBe(false);
    expect(validSession(v, 'token-one', now + 60_000)).toBe(false);
    expect(validSession(v.replace(/^\d+/, String(now + 120_000)), 'token-one', now)).toBe(false);
    expect(validSession('token-one', 'token-one', now)).toBe(false);
  });
});
