/**
 * `npx tsx bench/capacity.ts [--seconds=15] [--connections=48] [--children=20000]`: the per-unit costs the
 * capacity note in bench/README.md is computed from. Prints JSON.
 *
 * 1. A private `redis-server` on a free loopback port (so its INFO counters see only this bench), and the
 *    gateway as `npm start` runs it (`src/main.ts`, Redis-backed, log level error) as a child process.
 * 2. Hops: `--connections` sessions back to back walking demo-flow paths for `--seconds` after a warm-up;
 *    measured: the gateway's CPU time (/proc utime+stime), Redis's own CPU (INFO cpu) and commands
 *    (INFO commandstats) over the window, divided by the hops answered.
 * 3. Read model: a full sync of an emulator with `--children` children into the same Redis under its own
 *    prefix; measured: Redis `used_memory` before and after, per child and per caregiver.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { systemClock } from '../src/clock.ts';
import { createDhis2Client } from '../src/dhis2/client.ts';
import { defaultDeployment } from '../src/dhis2/deployment.ts';
import { syncReadModel } from '../src/dhis2/readmodel/index.ts';
import { createEmulator } from '../src/emulator/index.ts';
import { createRedisStore } from '../src/store/redis.ts';

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const SECONDS = Number(args.seconds ?? 15);
const CONNECTIONS = Number(args.connections ?? 48);
const CHILDREN = Number(args.children ?? 20_000);
const PATHS = [
  ['', '1', '1*2', '1*2*1', '1*2*1*11', '1*2*1*11*2', '1*2*1*11*2*7', '1*2*1*11*2*7*1'],
  ['', '2', '2*7', '2*7*x', '2*7*x*0', '2*7*x*0*00'],
  ['', '1', '1*98', '1*98*0', '1*98*0*5', '1*98*0*5*1', '1*98*0*5*1*00', '1*98*0*5*1*00*3'],
];

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command), in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function info(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function commandCalls(r: Redis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(info(await r.info('commandstats'))))
    out[k.replace('cmdstat_', '')] = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
  return out;
}

async function redisCpuMs(r: Redis): Promise<number> {
  const i = info(await r.info('cpu'));
  return (Number(i.used_cpu_user) + Number(i.used_cpu_sys)) * 1000;
}

const dir = mkdtempSync(path.join(tmpdir(), 'jibu-capacity-'));
const redisPort = await freePort();
const redisProc = spawn(
  'redis-server',
  ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
  {
    stdio: 'ignore',
  },
);
const gwPort = await freePort();
let gateway: ReturnType<typeof spawn> | undefined;
const cleanup = () => {
  gateway?.kill('SIGKILL');
  redisProc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);

try {
  const url = `redis://127.0.0.1:${redisPort}`;
  const r = new Redis(url);
  for (let i = 0; i < 50 && (await r.ping().catch(() => '')) !== 'PONG'; i++) await sleep(100);

  gateway = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      REDIS_URL: url,
      PORT: String(gwPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      WEBHOOK_SECRET: 'bench-webhook-key',
      INBOUND_USSD_PER_PHONE: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const gw = `http://127.0.0.1:${gwPort}`;
  for (let i = 0; i < 600; i++) {
    if ((await fetch(`${gw}/readyz`).catch(() => undefined))?.status === 200) break;
    await sleep(100);
  }

  let hops = 0;
  let bad = 0;
  let stop = false;
  async function session(c: number, n: number): Promise<void> {
    const p = PATHS[(c + n) % PATHS.length]!;
    for (const text of p) {
      const body = new URLSearchParams({
        sessionId: `cap-${c}-${n}`,
        phoneNumber: `+25479${String(c).padStart(3, '0')}${String(n % 10_000).padStart(4, '0')}`,
        serviceCode: '*384*12#',
        networkCode: '63902',
        text,
      });
      const res = await fetch(`${gw}/ussd/africastalking?key=bench-webhook-key`, { method: 'POST', body });
      const t = await res.text();
      if (res.status === 200 && /^(CON|END) /.test(t)) hops += 1;
      else bad += 1;
      if (stop) return;
    }
  }
  const drive = async (seconds: number) => {
    stop = false;
    const until = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, c) => {
        for (let n = 0; Date.now() < until; n++) await session(c, n);
      }),
    );
  };

  await drive(3); // warm-up: JIT, script cache, connection pools
  // What the gateway and Redis spend with no hops (queue workers polling, timers), subtracted below.
  const idle0 = { cpu: cpuMs(gateway.pid!), rcpu: await redisCpuMs(r), t: Date.now() };
  await sleep(5_000);
  const idle1 = { cpu: cpuMs(gateway.pid!), rcpu: await redisCpuMs(r), t: Date.now() };
  const idleRate = {
    cpu: (idle1.cpu - idle0.cpu) / (idle1.t - idle0.t),
    rcpu: (idle1.rcpu - idle0.rcpu) / (idle1.t - idle0.t),
  };
  const before = {
    hops,
    cpu: cpuMs(gateway.pid!),
    rcpu: await redisCpuMs(r),
    calls: await commandCalls(r),
    t: Date.now(),
  };
  await drive(SECONDS);
  const after = {
    hops,
    cpu: cpuMs(gateway.pid!),
    rcpu: await redisCpuMs(r),
    calls: await commandCalls(r),
    t: Date.now(),
  };
  const measured = after.hops - before.hops;
  const calls: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.calls)) {
    const d = v - (before.calls[k] ?? 0);
    if (d > 0) calls[k] = Math.round((d / measured) * 100) / 100;
  }
  delete calls.info; // the bench's own snapshots
  const sessionKeys = await r.keys('jibu:session:*');
  const sampled = await Promise.all(sessionKeys.slice(0, 200).map((k) => r.memory('USAGE', k)));
  const hopResult = {
    hops: measured,
    wrong: bad,
    seconds: (after.t - before.t) / 1000,
    hopsPerSecond: Math.round(measured / ((after.t - before.t) / 1000)),
    gatewayCpuUsPerHop: Math.round(((after.cpu - before.cpu - idleRate.cpu * (after.t - before.t)) * 1000) / measured),
    redisCpuUsPerHop: Math.round(((after.rcpu - before.rcpu - idleRate.rcpu * (after.t - before.t)) * 1000) / measured),
    idleCpuMsPerSecond: { gateway: Math.round(idleRate.cpu * 1000), redis: Math.round(idleRate.rcpu * 1000) },
    redisCommandsPerHop: Math.round(Object.values(calls).reduce((a, b) => a + b, 0) * 100) / 100,
    commandsPerHop: calls,
    liveSessions: sessionKeys.length,
    bytesPerSession: Math.round(sampled.reduce<number>((a, b) => a + (b ?? 0), 0) / Math.max(1, sampled.length)),
  };
  gateway.kill('SIGTERM');
  await once(gateway, 'exit');
  gateway = undefined;

  // Read model: bytes per child and per caregiver after a full sync.
  await r.flushall();
  const memBefore = Number(info(await r.info('memory')).used_memory);
  const emulator = createEmulator({ version: '2.41', clock: systemClock, seed: { children: CHILDREN } });
  const client = createDhis2Client({
    baseUrl: emulator.baseUrl,
    auth: { token: emulator.credentials.token },
    fetch: emulator.fetch,
  });
  const store = createRedisStore({ redis: url, prefix: 'rm-bench:' });
  const sync = await syncReadModel({
    client,
    store,
    deployment: { ...defaultDeployment(), timeZone: 'Africa/Nairobi' },
    clock: systemClock,
    mode: 'full',
  });
  const memAfter = Number(info(await r.info('memory')).used_memory);
  const caregivers = (await r.keys('rm-bench:rm:caregiver:*')).length;
  await store.close();
  const readModel = {
    children: CHILDREN,
    caregivers,
    keys: await r.dbsize(),
    usedMemoryBytes: memAfter - memBefore,
    bytesPerChild: Math.round((memAfter - memBefore) / CHILDREN),
    sync,
  };
  r.disconnect();
  console.log(JSON.stringify({ hop: hopResult, readModel }, null, 2));
} finally {
  cleanup();
}
process.exit(0);
