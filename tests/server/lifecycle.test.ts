import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { atUssd, eventually, startTestGateway } from './harness.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

describe('process lifecycle', () => {
  it('npm start on embedded defaults says which defaults are in use, serves, and exits 0 on SIGTERM after draining', async () => {
    const port = await freePort();
    const p = startMain({ PORT: String(port), HOST: '127.0.0.1', REDIS_URL: '', DHIS2_URL: '', SMS_PROVIDER: '' });
    const url = `http://127.0.0.1:${port}`;
    await eventually(async () => (await fetch(`${url}/readyz`).catch(() => null))?.status === 200, 'readiness', 15_000);
    expect(p.output()).toMatch(/do NOT survive a restart/);
    expect(p.output()).toMatch(/printed to the console/);
    const screen = await atUssd(url, { sessionId: 'life-1', phoneNumber: '+254700000601', text: '' });
    expect(screen.body).toMatch(/^CON /);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/stopped/);
  }, 30_000);

  it('refuses to start on an invalid configuration and lists every problem readably', async () => {
    const p = startMain({ PORT: 'eighty', SMS_PROVIDER: 'twilio', TZ: 'Nowhere/Land' });
    expect(await p.exited).toBe(78);
    const out = p.output();
    expect(out).toMatch(/Invalid configuration/);
    expect(out).toMatch(/PORT:/);
    expect(out).toMatch(/TWILIO_AUTH_TOKEN:/);
    expect(out).toMatch(/TZ: unknown time zone/);
    expect(out).not.toMatch(/\n\s+at .+:\d+:\d+/);
  }, 30_000);

  it('turns readiness off while draining and answers webhooks 503 instead of half-processing them', async () => {
    const t = await startTestGateway();
    const stopping = t.stop();
    const r = await fetch(`${t.url}/readyz`).catch(() => null);
    // Either the listener is already closed or it answers not-ready: never a 200 during shutdown.
    if (r) expect(r.status).toBe(503);
    await stopping;
  });
});

describe('logs', () => {
  it('never contain message texts, and phone numbers only masked, across a whole conversation', async () => {
    const t = await startTestGateway({ LOG_LEVEL: 'trace' });
    const phone = '+254799887766';
    const secret = 'SENTINEL-TEXT-7f3e';
    try {
      await fetch(`${t.url}/sms/http`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'log-1', from: phone, to: '21512', text: secret }),
      });
      await eventually(() => t.sent.some((m) => m.to === phone), 'reply');
      await fetch(`${t.url}/sms/http`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"broken":',
      });
    } finally {
      await t.stop();
    }
    const all = t.logs.join('');
    expect(all.length).toBeGreaterThan(0);
    expect(all).not.toContain(secret);
    expect(all).not.toContain(phone);
    expect(all).not.toContain('Jibu demo'); // the reply text
  });
});
