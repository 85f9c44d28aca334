import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './harness.ts';
import { pinResetCommand } from '../../src/cli/admin-client.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ ADMIN_TOKEN: 'adm1n-t0ken' });
});
afterAll(async () => {
  await t.stop();
});

const post = (body: unknown, token?: string) =>
  fetch(`${t.url}/admin/pin/reset`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });

describe('PIN reset (admin API and `jibu pin reset`)', () => {
  it('needs the admin token', async () => {
    expect((await post({ phone: '+254711000001' })).status).toBe(401);
    expect((await post({ phone: '+254711000001' }, 'wrong')).status).toBe(401);
  });

  it("forgets a worker's stored PIN so the next dial signs in again, and says when there was none", async () => {
    await t.gw.store.setJson('cred:+254711000001', {
      v: 1,
      hash: 'x',
      salt: 'y',
      tries: 5,
      locks: 1,
      lockedUntil: Date.now() + 3_600_000,
    });
    const res = await post({ phone: '0711000001' }, 'adm1n-t0ken');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ phone: '+254711000001', reset: true });
    expect(await t.gw.store.getJson('cred:+254711000001')).toBeNull();
    expect(await (await post({ phone: '+254711000001' }, 'adm1n-t0ken')).json()).toEqual({
      phone: '+254711000001',
      reset: false,
    });
  });

  it('answers a malformed request with 400 and a stable code', async () => {
    const bad = await post({ number: 1 }, 'adm1n-t0ken');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('JIBU_BAD_REQUEST');
    const garbage = await post({ phone: 'not-a-phone' }, 'adm1n-t0ken');
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { error: { code: string } }).error.code).toBe('JIBU_BAD_PHONE');
  });

  it('works from the CLI against a running gateway', async () => {
    await t.gw.store.setJson('cred:+254711000002', { v: 1, hash: 'x', salt: 'y', tries: 0 });
    const out: string[] = [];
    const code = await pinResetCommand(
      '+254711000002',
      { url: t.url, token: 'adm1n-t0ken' },
      { out: (s: string) => out.push(s), err: (s: string) => out.push(s) },
    );
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/PIN of \+254711000002 reset/);
  });
});
