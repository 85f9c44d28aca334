import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { atUssd, eventually } from '../server/harness.ts';
import { ROOT, shippedCopy } from './helpers.ts';

/** `kill -HUP` on the real process (`tsx src/main.ts`) re-reads flows and locales like the admin API. */

let copy: Awaited<ReturnType<typeof shippedCopy>>;
let child: ChildProcess;
let url = '';
const logLines: string[] = [];
let session = 0;

const dial = async () =>
  (await atUssd(url, { sessionId: `ATUid_hup_${++session}`, phoneNumber: '+254700000002', text: '' })).body;
const enDemo = () => path.join(copy.localesDir, 'en/demo.yaml');

beforeAll(async () => {
  copy = await shippedCopy();
  // Only the demo flow: this is about reloading, not about flows other engineers are still writing.
  for (const f of await readdir(copy.flowsDir)) if (f !== 'demo.yaml') await rm(path.join(copy.flowsDir, f));
  // One process, `node --import tsx`: the `tsx` wrapper relays SIGINT and SIGTERM but not SIGHUP,
  // which would kill the wrapper and orphan the gateway.
  child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      FLOWS_DIR: copy.flowsDir,
      LOCALES_DIR: copy.localesDir,
      TZ: 'Africa/Nairobi',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    logLines.push(...lines);
  });
  child.stderr?.on('data', (d: Buffer) => {
    logLines.push(d.toString());
  });
  const listening = await eventually(
    () =>
      logLines
        .map((l) => {
          try {
            return JSON.parse(l) as { port?: number; msg?: string };
          } catch {
            return null;
          }
        })
        .find((j) => j?.msg?.startsWith('Jibu listening') && j.port),
    'the gateway to listen',
    15_000,
  );
  url = `http://127.0.0.1:${listening.port}`;
}, 20_000);

afterAll(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  await copy.cleanup();
});

describe('SIGHUP', () => {
  it('reloads an edited text, refuses a broken edit keeping the running set, and SIGTERM still stops cleanly', async () => {
    expect(await dial()).toMatch(/^CON Jibu demo\. What would you like to do\?/);

    const original = await readFile(enDemo(), 'utf8');
    await writeFile(
      enDemo(),
      original.replace(
        'welcome: Jibu demo. What would you like to do?',
        'welcome: Jibu demo, reloaded. What would you like to do?',
      ),
    );
    child.kill('SIGHUP');
    await eventually(async () => (await dial()).startsWith('CON Jibu demo, reloaded.'), 'the reloaded text', 5_000);
    // pino writes asynchronously: the log line may arrive after the first answer with the new text.
    await eventually(() => logLines.some((l) => l.includes('SIGHUP: flows reloaded')), 'the reload in the log', 5_000);

    // A broken edit: an ICU syntax error. Refused; the last good set keeps answering.
    await writeFile(
      enDemo(),
      original.replace('welcome: Jibu demo. What would you like to do?', "welcome: 'Jibu demo {oops'"),
    );
    child.kill('SIGHUP');
    await eventually(() => logLines.some((l) => l.includes('SIGHUP: reload refused')), 'the refusal in the log', 5_000);
    expect(logLines.find((l) => l.includes('SIGHUP: reload refused'))).toContain('JIBU_FLOWS_INVALID');
    expect(await dial()).toMatch(/^CON Jibu demo, reloaded\./);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
