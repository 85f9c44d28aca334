import type { ChildProcessByStdio } from 'node:child_process';
import { createServer } from 'node:net';
import { Writable, type Readable } from 'node:stream';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/server/lifecycle.ts';
import { capturingSender } from '../../src/cli/simulate.ts';

export interface TestGateway {
  gw: Gateway;
  url: string;
  sent: ReturnType<typeof capturingSender>['sent'];
  logs: string[];
  stop(): Promise<void>;
}

/** A real gateway on an ephemeral port with captured SMS and logs. */
export async function startTestGateway(
  env: Record<string, string> = {},
  opts: GatewayOptions & { senderProvider?: 'console' | 'africastalking' | 'twilio' | 'http' } = {},
): Promise<TestGateway> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _e, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  // Tests send many messages from one phone on a fixed clock; the rate limits have their own tests
  // (tests/security/inbound-rate-limit.test.ts), which set them.
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    INBOUND_SMS_PER_PHONE: '0',
    INBOUND_USSD_PER_PHONE: '0',
    ...env,
  });
  const sender = capturingSender(undefined, opts.senderProvider);
  const gw = await startGateway(config, createLogger({ level: 'debug', destination }), { sender, ...opts });
  return { gw, url: `http://127.0.0.1:${gw.port}`, sent: sender.sent, logs, stop: () => gw.stop() };
}

/** POST an Africa's Talking-shaped USSD hop. */
export async function atUssd(
  url: string,
  f: { sessionId: string; phoneNumber: string; text: string; serviceCode?: string },
  key?: string,
) {
  const body = new URLSearchParams({ serviceCode: '*384*12#', networkCode: '63902', ...f });
  const res = await fetch(`${url}/ussd/africastalking${key ? `?key=${key}` : ''}`, { method: 'POST', body });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** Wait until `cond` holds (jobs are relayed asynchronously), or fail with `what`. */
export async function eventually<T>(
  cond: () => T | Promise<T>,
  what: string,
  timeoutMs = 5000,
): Promise<NonNullable<Exclude<T, false | '' | 0>>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<Exclude<T, false | '' | 0>>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A child process started with piped output: its exit code, and everything it printed (stdout and stderr). */
export function captured<T extends ChildProcessByStdio<null, Readable, Readable>>(child: T) {
  let out = '';
  const add = (c: Buffer) => {
    out += c.toString();
  };
  child.stdout.on('data', add);
  child.stderr.on('data', add);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

/** A TCP port free on loopback right now (for a child process or a second listener to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}
