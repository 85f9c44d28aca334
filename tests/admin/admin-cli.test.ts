import type { Server } from 'node:http';
import { once } from 'node:events';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  flowsReloadCommand,
  jobsRunCommand,
  outboxListCommand,
  outboxRetryCommand,
} from '../../src/cli/admin-client.ts';
import { systemClock } from '../../src/clock.ts';
import type { FlowSet } from '../../src/conversation/index.ts';
import { adminRouter } from '../../src/server/admin.ts';
import { createStoreAndQueue, type StoreAndQueue } from '../../src/store/index.ts';
import type { RunningWorker } from '../../src/store/types.ts';
import { eventually } from '../store/harness.ts';
import { captureIo } from './helpers.ts';

/** The CLI's admin commands against a real admin API on a port (in-memory queue). */

const TOKEN = 'cli-test-token-77a1';
let sq: StoreAndQueue;
let server: Server;
let url = '';
let worker: RunningWorker;
let failing = true;
let reloadOk = false;
const runs: string[] = [];

beforeAll(async () => {
  sq = await createStoreAndQueue({ clock: systemClock });
  const app = express();
  app.use(
    '/admin',
    adminRouter({
      adminToken: TOKEN,
      embedded: false,
      queue: sq.queue,
      store: sq.store,
      flows: () => ({ version: 'v1', flows: new Map() }) as unknown as FlowSet,
      reloadFlows: async () =>
        reloadOk
          ? { ok: true, version: 'v9' }
          : {
              ok: false,
              problems: [
                {
                  file: 'flows/demo.yaml',
                  line: 88,
                  message: 'unknown action "demo.recrod"',
                  hint: 'known actions: demo.record',
                  severity: 'error',
                },
              ],
            },
      jobs: {
        missedVisits: async (date) => {
          runs.push(date);
          return { messages: 2 };
        },
      },
    }),
  );
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  worker = sq.queue.process('outbox-sms', async () =>
    failing ? { ok: false, permanent: true, error: 'InvalidPhoneNumber' } : { ok: true },
  );
  await sq.queue.add([
    { id: 'sms:42', queue: 'outbox-sms', name: 'sendSms', data: { to: '+254700000099', text: 'x' } },
  ]);
  await eventually(
    () => sq.queue.deadLetters('outbox-sms'),
    (d) => d.length === 1,
  );
});

afterAll(async () => {
  await worker.close();
  await sq.close();
  server.close();
});

describe('jibu outbox', () => {
  it('list shows the counts of every queue and each dead letter with its error', async () => {
    const io = captureIo();
    expect(await outboxListCommand({ url, token: TOKEN }, io)).toBe(0);
    const out = io.stdout.join('\n');
    expect(out).toMatch(/^outbox-sms {4}waiting 0 {2}delayed 0 {2}active 0 {2}dead 1$/m);
    expect(out).toMatch(
      /^outbox-sms {2}sms:42 {2}sendSms {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}attempts \d+ {2}InvalidPhoneNumber$/m,
    );
  });

  it('says how to pass the token when the gateway refuses', async () => {
    const io = captureIo();
    expect(await outboxListCommand({ url }, io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/^JIBU_UNAUTHORIZED: /);
    expect(io.stderr.join('\n')).toContain('pass --token or set ADMIN_TOKEN');
  });

  it('says when the gateway does not answer at all', async () => {
    const io = captureIo();
    expect(await outboxListCommand({ url: 'http://127.0.0.1:9', token: TOKEN }, io)).toBe(1);
    expect(io.stderr.join('\n')).toMatch(/^UNREACHABLE: the gateway at http:\/\/127\.0\.0\.1:9 does not answer/);
  });

  it('retry finds the queue of a dead letter by its id and puts it back', async () => {
    failing = false;
    const io = captureIo();
    expect(await outboxRetryCommand('sms:42', { url, token: TOKEN }, io)).toBe(0);
    expect(io.stdout).toEqual(['requeued sms:42 on outbox-sms']);
    await eventually(
      () => sq.queue.deadLetters('outbox-sms'),
      (d) => d.length === 0,
    );
    const again = captureIo();
    expect(await outboxRetryCommand('sms:42', { url, token: TOKEN }, again)).toBe(1);
    expect(again.stderr).toEqual(['no dead letter with id sms:42 (see jibu outbox list)']);
  });
});

describe('jibu jobs run', () => {
  it('runs the job for the given date and prints what it did', async () => {
    const io = captureIo();
    expect(await jobsRunCommand('missedVisits', { url, token: TOKEN, date: '2025-12-24' }, io)).toBe(0);
    expect(io.stdout).toEqual(['ran missedVisits for 2025-12-24: {"messages":2}']);
    expect(runs).toContain('2025-12-24');
  });

  it('reports an unknown job with its code', async () => {
    const io = captureIo();
    expect(await jobsRunCommand('nightly', { url, token: TOKEN }, io)).toBe(1);
    expect(io.stderr[0]).toBe('JIBU_UNKNOWN_JOB: No such job.');
  });
});

describe('jibu flows reload', () => {
  it('prints each problem of a refused reload with file and line', async () => {
    reloadOk = false;
    const io = captureIo();
    expect(await flowsReloadCommand({ url, token: TOKEN }, io)).toBe(1);
    expect(io.stderr).toEqual([
      'JIBU_FLOWS_INVALID: The flows or locales contain errors; the running set was kept.',
      'flows/demo.yaml:88  error  unknown action "demo.recrod"  (known actions: demo.record)',
    ]);
  });

  it('prints the new version when the reload is accepted', async () => {
    reloadOk = true;
    const io = captureIo();
    expect(await flowsReloadCommand({ url, token: TOKEN }, io)).toBe(0);
    expect(io.stdout).toEqual(['reloaded: version v9']);
  });
});
