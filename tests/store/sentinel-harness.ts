import { freePort } from '../server/harness.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/**
 * A Redis primary, one replica and three Sentinels on loopback, on free ports, in a temporary
 * directory: Debian's `redis-server` runs as a Sentinel with `--sentinel` (`.ci/run` installs it).
 * `stop()` kills every process and removes the directory, and runs on process exit too, so a failing
 * test leaves nothing behind.
 */
export interface SentinelGroup {
  name: string;
  /** `host:port,host:port,host:port`, as REDIS_SENTINELS takes it. */
  sentinels: string;
  primaryPort: number;
  replicaPort: number;
  /** SIGKILL the primary (no shutdown, no last write). */
  killPrimary(): void;
  /** Resolves with the new primary's port once the Sentinels agree it is the replica. */
  failedOver(timeoutMs: number): Promise<number>;
  /** A plain client on the port (for looking from the outside). */
  client(port: number): Redis;
  stop(): Promise<void>;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`sentinel group: ${what} not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

const quietClient = (port: number) => {
  const r = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 200,
  });
  r.on('error', () => undefined);
  return r;
};

export async function startSentinelGroup(name = 'jibu-test'): Promise<SentinelGroup> {
  const dir = mkdtempSync(path.join(tmpdir(), 'jibu-sentinel-'));
  const children: ChildProcess[] = [];
  const clients: Redis[] = [];
  let stopped = false;
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', killAll);

  const run = (args: string[], label: string) => {
    const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    // A missing binary shows up as the readiness wait failing; say why.
    child.on('error', (err) => console.error(`could not start redis-server (${label}): ${err.message}`));
    children.push(child);
    return child;
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of clients) c.disconnect();
    killAll();
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)));
    process.off('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const primaryPort = await freePort();
    const replicaPort = await freePort();
    const node = (port: number) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dbfilename',
      `dump-${port}.rdb`,
      '--dir',
      dir,
    ];
    const primary = run(node(primaryPort), 'primary');
    run([...node(replicaPort), '--replicaof', '127.0.0.1', String(primaryPort)], 'replica');
    const sentinelPorts = [await freePort(), await freePort(), await freePort()];
    for (const port of sentinelPorts) {
      const conf = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      run([conf, '--sentinel'], `sentinel ${port}`);
    }

    const client = (port: number) => {
      const r = quietClient(port);
      clients.push(r);
      return r;
    };
    // Ready when the replica is in sync and every Sentinel knows the replica and the two others: a
    // failover needs a majority of them to agree.
    const p = client(primaryPort);
    await until(
      'replica in sync',
      async () => ((await p.info('replication')).match(/slave0:.*state=online/) ? true : undefined),
      15_000,
    );
    for (const port of sentinelPorts) {
      const s = client(port);
      await until(
        `sentinel ${port} sees the group`,
        async () => {
          const replicas = (await s.call('SENTINEL', 'REPLICAS', name)) as unknown[];
          const others = (await s.call('SENTINEL', 'SENTINELS', name)) as unknown[];
          return replicas.length >= 1 && others.length >= 2 ? true : undefined;
        },
        20_000,
      );
    }
    const first = client(sentinelPorts[0]!);

    return {
      name,
      sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
      primaryPort,
      replicaPort,
      killPrimary: () => primary.kill('SIGKILL'),
      failedOver: (timeoutMs) =>
        until(
          'failover',
          async () => {
            const addr = (await first.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string] | null;
            return addr && Number(addr[1]) === replicaPort ? replicaPort : undefined;
          },
          timeoutMs,
        ),
      client,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
