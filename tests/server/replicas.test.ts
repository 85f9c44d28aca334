import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createEmulator, EIR, type Emulator } from '../../src/emulator/index.ts';
import { cleanupRedis, TEST_REDIS_URL, uniquePrefix } from '../store/harness.ts';
import { atUssd, eventually } from './harness.ts';

/**
 * Two gateway replicas as two processes on one Redis (database 15, a prefix of their own) and one DHIS2
 * (the emulator served over HTTP): every hop of every USSD session goes to the other replica than the
 * hop before, a few hundred hops at once, and both replicas run the reminders for the same day at the
 * same moment. Every screen must be the one a single process shows, and every caregiver due gets one
 * reminder.
 */

const NOW = '2025-11-25T09:00:00.000Z';
const TZ = 'Africa/Nairobi';
// The replicas run the production shape (DHIS2_URL set): real-strength secrets, a signed-or-keyed provider.
const TOKEN = randomBytes(32).toString('hex');
const WEBHOOK_SECRET = randomBytes(32).toString('hex');
const REDIS_URL = TEST_REDIS_URL;
const prefix = uniquePrefix('replicas');

/** Demo-flow walks: facts and back, the form, the paged menu. Each hop's text is cumulative (AT style). */
const PATHS = [
  ['', '1', '1*2', '1*2*1', '1*2*1*11', '1*2*1*11*2', '1*2*1*11*2*7', '1*2*1*11*2*7*1'],
  ['', '2', '2*7', '2*7*x', '2*7*x*0', '2*7*x*0*00'],
  ['', '1', '1*98', '1*98*0', '1*98*0*5', '1*98*0*5*1', '1*98*0*5*1*00', '1*98*0*5*1*00*3'],
];
const SESSIONS = 48;

interface Replica {
  child: ChildProcess;
  url: string;
  sms: Array<{ id: string; to: string; text: string }>;
}

const children: ChildProcess[] = [];
let emu: Emulator | undefined;
let emuServer: { close(): Promise<void> } | undefined;

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.send('stop');
    const exited = once(c, 'exit');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  await emuServer?.close();
  await cleanupRedis([prefix]);
});

async function startReplica(dhis2Url: string, token: string): Promise<Replica> {
  const child = fork(fileURLToPath(new URL('./replica-child.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      REDIS_URL,
      REDIS_SENTINELS: '',
      DHIS2_URL: dhis2Url,
      DHIS2_TOKEN: token,
      ADMIN_TOKEN: TOKEN,
      WEBHOOK_SECRET,
      PIN_PEPPER: randomBytes(32).toString('hex'),
      TZ,
      LOG_LEVEL: 'error',
      SMS_PROVIDER: 'africastalking',
      AT_USERNAME: 'sandbox',
      AT_API_KEY: randomBytes(16).toString('hex'),
      JIBU_TEST_NOW: NOW,
      JIBU_TEST_PREFIX: prefix,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  const sms: Replica['sms'] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: { type: string; port?: number; id?: string; to?: string; text?: string }) => {
      if (m.type === 'ready') resolve(m.port!);
      if (m.type === 'sms') sms.push({ id: m.id!, to: m.to!, text: m.text! });
    });
    child.once('exit', (code) => reject(new Error(`replica exited with ${code} before it was ready`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, sms };
}

async function admin(r: Replica, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${r.url}/admin${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json();
}

describe('two replicas on one Redis', () => {
  it('answer alternating hops exactly as one process does, and send each reminder once when both run them', async () => {
    emu = createEmulator({ version: '2.40', clock: fixedClock(NOW), seed: { children: 60 } });
    const server = await emu.listen(0, '127.0.0.1');
    emuServer = server;
    const [a, b] = await Promise.all([
      startReplica(server.url, emu.credentials.token),
      startReplica(server.url, emu.credentials.token),
    ]);
    const replicas = [a, b] as const;

    // What one process answers, each path walked on one replica alone.
    const expected: string[][] = [];
    for (const [p, path] of PATHS.entries()) {
      const screens: string[] = [];
      for (const text of path) {
        const r = await atUssd(
          a.url,
          { sessionId: `oracle-${p}`, phoneNumber: `+2547920000${p}0`, text },
          WEBHOOK_SECRET,
        );
        expect(r.status).toBe(200);
        screens.push(r.body);
      }
      expect(screens.every((s) => /^(CON|END) /.test(s))).toBe(true);
      expected.push(screens);
    }

    // Load: every session alternates replicas hop by hop (starting on either), all sessions at once.
    const wrong: Array<{ session: number; hop: number; got: string; want: string }> = [];
    let hops = 0;
    await Promise.all(
      Array.from({ length: SESSIONS }, async (_, s) => {
        const p = s % PATHS.length;
        for (const [hop, text] of PATHS[p]!.entries()) {
          const to = replicas[(s + hop) % 2]!;
          const r = await atUssd(
            to.url,
            {
              sessionId: `load-${s}`,
              phoneNumber: `+25479300${String(s).padStart(4, '0')}`,
              text,
            },
            WEBHOOK_SECRET,
          );
          hops += 1;
          const want = expected[p]![hop]!;
          if (r.status !== 200 || r.body !== want) wrong.push({ session: s, hop, got: `${r.status} ${r.body}`, want });
        }
      }),
    );
    expect(hops).toBeGreaterThanOrEqual(300);
    expect(wrong).toEqual([]);

    // Reminders fired on both replicas at the same moment, after the read model is in place.
    await admin(a, '/jobs/sync/run', { date: '2025-11-25' });
    const due = [...emu.state.events.values()].filter(
      (e) =>
        !e.deleted &&
        e.programStage === EIR.immunizationStage &&
        e.status === 'SCHEDULE' &&
        e.scheduledAt !== undefined &&
        emu!.time.dateOf(e.scheduledAt) === '2025-11-27',
    );
    const phones = [
      ...new Set(
        due.map((e) => emu!.state.trackedEntities.get(e.trackedEntity)!.attributes[EIR.attributes.phone] ?? ''),
      ),
    ]
      .filter(Boolean)
      .sort();
    expect(phones.length).toBeGreaterThanOrEqual(3);
    type Report = { result: { rules: Array<{ caregivers: number }> } };
    const [ra, rb] = (await Promise.all([
      admin(a, '/jobs/reminders/run', { date: '2025-11-25' }),
      admin(b, '/jobs/reminders/run', { date: '2025-11-25' }),
    ])) as [Report, Report];
    expect(ra.result.rules[0]!.caregivers + rb.result.rules[0]!.caregivers).toBe(phones.length);

    const reminders = () => [...a.sms, ...b.sms].filter((m) => phones.includes(m.to));
    await eventually(() => reminders().length >= phones.length, 'every reminder', 20_000);
    // Nothing left that could still double one: both replicas' SMS queue is empty.
    const r = new Redis(REDIS_URL);
    try {
      await eventually(
        async () => {
          const keys = ['wait', 'active', 'delayed'].map((s) => `${prefix.replace(/:$/, '')}:outbox-sms:${s}`);
          const n = await Promise.all([r.llen(keys[0]!), r.llen(keys[1]!), r.zcard(keys[2]!)]);
          return n.every((x) => x === 0);
        },
        'the SMS queue drained',
        20_000,
      );
    } finally {
      r.disconnect();
    }
    expect(
      reminders()
        .map((m) => m.to)
        .sort(),
    ).toEqual(phones);
  }, 120_000);
});
