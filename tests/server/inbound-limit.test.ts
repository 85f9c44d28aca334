import { describe, expect, it } from 'vitest';
import { createInboundLimiter, DEFAULT_INBOUND_LIMITS } from '../../src/server/inbound-limit.ts';

const limits = { ...DEFAULT_INBOUND_LIMITS, smsPerPhone: 2, ussdPerPhone: 3, perIp: 4 };

describe('inbound limiter', () => {
  it('refuses a phone past its limit until the window ends, with one "first" refusal', () => {
    const l = createInboundLimiter(limits);
    const t0 = 1_000_000;
    expect(l.phone('sms', '+254700000001', t0)).toEqual({ ok: true });
    expect(l.phone('sms', '+254700000001', t0 + 1)).toEqual({ ok: true });
    expect(l.phone('sms', '+254700000001', t0 + 2)).toEqual({ ok: false, reason: 'phone', first: true });
    expect(l.phone('sms', '+254700000001', t0 + 3)).toEqual({ ok: false, reason: 'phone', first: false });
    // USSD is counted apart from SMS, and another phone apart from this one.
    expect(l.phone('ussd', '+254700000001', t0 + 4)).toEqual({ ok: true });
    expect(l.phone('sms', '+254700000002', t0 + 5)).toEqual({ ok: true });
    expect(l.phone('sms', '+254700000001', t0 + limits.phoneWindowMs)).toEqual({ ok: true });
  });

  it('keeps a flooding number counted while an attacker sprays other numbers past the table size', () => {
    const l = createInboundLimiter(limits, 50);
    let now = 5_000_000;
    for (let i = 0; i < 3; i++) l.phone('sms', '+254700000009', now++);
    for (let i = 0; i < 1_000; i++) {
      l.phone('sms', `+2547${String(i).padStart(8, '0')}`, now++);
      // The flooder keeps sending: it must stay refused however many other numbers arrive.
      expect(l.phone('sms', '+254700000009', now++).ok).toBe(false);
      expect(l.tracked()).toBeLessThanOrEqual(50);
    }
  });

  it('drops the least recently hit key, not every key, when the table is full', () => {
    const l = createInboundLimiter(limits, 3);
    const now = 9_000_000;
    for (const p of ['+254700000011', '+254700000012']) for (let i = 0; i < 3; i++) l.phone('sms', p, now);
    l.phone('sms', '+254700000013', now);
    l.phone('sms', '+254700000014', now); // the table holds 3: ...11, hit longest ago, goes
    expect(l.tracked()).toBe(3);
    expect(l.phone('sms', '+254700000012', now).ok).toBe(false);
    expect(l.phone('sms', '+254700000011', now).ok).toBe(true);
  });

  it('counts source addresses per minute and ignores a missing address', () => {
    const l = createInboundLimiter(limits);
    const now = 1_000;
    for (let i = 0; i < 4; i++) expect(l.ip('10.0.0.1', now).ok).toBe(true);
    expect(l.ip('10.0.0.1', now)).toEqual({ ok: false, reason: 'ip', first: true });
    expect(l.ip(undefined, now).ok).toBe(true);
    expect(l.ip('10.0.0.1', now + 60_000).ok).toBe(true);
  });
});
