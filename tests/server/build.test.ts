import { freePort } from './harness.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { atUssd, captured, eventually } from './harness.ts';

// The Docker image runs the compiled gateway (`npm run build`, then `node dist/main.js`); no Docker engine
// is at hand here, so this builds the same way into a scratch folder inside the repository (so that
// node_modules resolves as in the image), copies what the Dockerfile copies, and runs it.

const ROOT = path.resolve(import.meta.dirname, '../..');
const OUT = path.join(ROOT, `.tmp-build-${process.pid}`);

beforeAll(async () => {
  await promisify(execFile)(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', OUT],
    { cwd: ROOT },
  );
  await cp(path.join(ROOT, 'src/server/simulator/public'), path.join(OUT, 'server/simulator/public'), {
    recursive: true,
  });
}, 120_000);
afterAll(async () => {
  await rm(OUT, { recursive: true, force: true });
});

describe('the compiled gateway (what the Docker image runs)', () => {
  it('starts with plain node, serves a USSD dial and the simulator, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(OUT, 'main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        REDIS_URL: '',
        DHIS2_URL: '',
        SMS_PROVIDER: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { exited, output } = captured(child);
    const url = `http://127.0.0.1:${port}`;
    try {
      await eventually(
        async () => (await fetch(`${url}/readyz`).catch(() => null))?.status === 200,
        `readiness (output: ${output().slice(-500)})`,
        20_000,
      );
      const first = await atUssd(url, { sessionId: 'build-1', phoneNumber: '+254790000301', text: '' });
      expect(first.status).toBe(200);
      expect(first.body).toMatch(/^CON Jibu demo/);
      expect((await atUssd(url, { sessionId: 'build-1', phoneNumber: '+254790000301', text: '3' })).body).toMatch(
        /^END /,
      );
      const sim = await fetch(`${url}/simulator/`);
      expect(sim.status).toBe(200);
      expect(await sim.text()).toMatch(/<html/i);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output()).toMatch(/stopped/);
  }, 60_000);
});
