import express from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import type { FlowSet } from '../../src/conversation/index.ts';
import { ADMIN_COOKIE, adminAuth, adminRouter, adminSessionRouter, type AdminDeps } from '../../src/server/admin.ts';
import { createAttemptLimiter } from '../../src/server/attempt-limiter.ts';
import { createStoreAndQueue, type StoreAndQueue } from '../../src/store/index.ts';
import type { QueuedJob, RunningWorker } from '../../src/store/types.ts';
import { TEST_REDIS_URL, cleanupRedis, eventually, requireRedis, uniquePrefix } from '../store/harness.ts';

const TOKEN = 'admin-token-for-tests-1f3c';
const clock = fixedClock('2025-11-25T21:30:00Z'); // 00:30 on the 26th in Nairobi

/** A running set as the router sees it: only what `GET /admin/flows` reads. */
const runningSet = (version: string): FlowSet =>
  ({
    version,
    flows: new Map([
      ['demo', { id: 'demo', version: '1.abc', file: 'flows/demo.yaml', def: { channels: ['ussd', 'sms'] } }],
    ]),
  }) as unknown as FlowSet;

let sq: StoreAndQueue;
let workers: RunningWorker[] = [];
let current: FlowSet;
let reloadResult: Awaited<ReturnType<AdminDeps['reloadFlows']>>;
const jobRuns: string[] = [];

function app(overrides: Partial<AdminDeps> = {}): express.Express {
  const a = express();
  a.use(
    '/admin',
    adminRouter({
      adminToken: TOKEN,
      embedded: false,
      queue: sq.queue,
      store: sq.store,
      flows: () => current,
      reloadFlows: async () => {
        if (reloadResult.ok) current = runningSet(reloadResult.version);
        return reloadResult;
      },
      jobs: {
        reminders: async (date) => {
          jobRuns.push(date);
          return { sent: 3 };
        },
      },
      clock,
      timeZone: 'Africa/Nairobi',
      ...overrides,
    }),
  );
  return a;
}
const auth = { authorization: `Bearer ${TOKEN}` };

/** Make a dead letter the way the relay does: a handler that reports a permanent failure. */
async function deadLetter(queue: StoreAndQueue['queue'], job: QueuedJob): Promise<void> {
  let fail = true;
  workers.push(
    queue.process(job.queue, async () =>
      fail ? { ok: false, permanent: true, error: 'E1000: event refused' } : { ok: true },
    ),
  );
  await queue.add([job]);
  await eventually(
    () => queue.deadLetters(job.queue),
    (d) => d.some((x) => x.id === job.id),
  );
  fail = false;
}

beforeEach(async () => {
  sq = await createStoreAndQueue({ clock });
  current = runningSet('v1');
  reloadResult = { ok: true, version: 'v2' };
  jobRuns.length = 0;
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  workers = [];
  await sq.close();
});

describe('admin API authentication', () => {
  it('refuses a request without the bearer token, or with a wrong one, with 401 JIBU_UNAUTHORIZED', async () => {
    const none = await request(app()).get('/admin/queues');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('JIBU_UNAUTHORIZED');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await request(app()).get('/admin/queues').set('authorization', `Bearer ${TOKEN}x`);
    expect(wrong.status).toBe(401);
    const basic = await request(app())
      .get('/admin/queues')
      .set('authorization', `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`);
    expect(basic.status).toBe(401);
  });

  it('accepts the configured token', async () => {
    expect((await request(app()).get('/admin/queues').set(auth)).status).toBe(200);
  });

  it('without a configured token, lets requests through only on the embedded default', async () => {
    expect((await request(app({ adminToken: undefined, embedded: true })).get('/admin/queues')).status).toBe(200);
    const real = await request(app({ adminToken: undefined, embedded: false })).get('/admin/queues');
    expect(real.status).toBe(401);
    expect(real.body.error.code).toBe('JIBU_UNAUTHORIZED');
  });

  it('checks the token before anything else, so unknown admin paths do not leak their existence', async () => {
    expect((await request(app()).get('/admin/nothing-here')).status).toBe(401);
    const known = await request(app()).get('/admin/nothing-here').set(auth);
    expect(known.status).toBe(404);
    expect(known.body.error.code).toBe('JIBU_NOT_FOUND');
  });

  it('for browser pages, accepts the signed session POST /admin/session sets (never ?token=, never the raw token in the cookie)', async () => {
    const page = express();
    const limiter = createAttemptLimiter();
    page.use('/admin/session', adminSessionRouter({ adminToken: TOKEN, limiter, clock }));
    page.use(
      '/simulator',
      adminAuth({ adminToken: TOKEN, embedded: false, browser: true, limiter, clock }),
      (_req, res) => {
        res.send('page');
      },
    );
    const form = await request(page).get('/simulator/?x=1').set('accept', 'text/html');
    expect(form.status).toBe(401);
    expect(form.text).toContain('action="/admin/session"');
    expect(form.text).not.toContain(TOKEN);
    expect((await request(page).get(`/simulator/?token=${TOKEN}`)).status).toBe(401);
    const signIn = await request(page)
      .post('/admin/session')
      .type('form')
      .send({ token: TOKEN, next: '/simulator/?x=1' });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.location).toBe('/simulator/?x=1');
    const cookie = String(signIn.headers['set-cookie']);
    expect(cookie).toContain(`${ADMIN_COOKIE}=`);
    expect(cookie).not.toContain(TOKEN);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).toMatch(/SameSite=Strict/);
    const value = /jibu_admin=([^;]+)/.exec(cookie)?.[1] ?? '';
    expect((await request(page).get('/simulator/').set('cookie', `${ADMIN_COOKIE}=${value}`)).status).toBe(200);
    expect((await request(page).get('/simulator/').set('cookie', `${ADMIN_COOKIE}=${TOKEN}`)).status).toBe(401);
    // Never sends the browser off-site after sign-in.
    const away = await request(page)
      .post('/admin/session')
      .type('form')
      .send({ token: TOKEN, next: '//evil.example/' });
    expect(away.headers.location).toBe('/simulator/');
  });
});

describe('POST /admin/flows/reload', () => {
  it('answers the new version when the set loads', async () => {
    const res = await request(app()).post('/admin/flows/reload').set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ version: 'v2', flows: ['demo'] });
    expect((await request(app()).get('/admin/flows').set(auth)).body.version).toBe('v2');
  });

  it('answers 422 JIBU_FLOWS_INVALID with the problems when the set has errors, and the running set stays', async () => {
    const problems = [{ file: 'flows/demo.yaml', line: 12, message: 'unknown action "x"', severity: 'error' }];
    reloadResult = { ok: false, problems };
    const res = await request(app()).post('/admin/flows/reload').set(auth);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('JIBU_FLOWS_INVALID');
    expect(res.body.error.detail).toEqual({ problems });
    expect((await request(app()).get('/admin/flows').set(auth)).body).toEqual({
      version: 'v1',
      flows: [{ id: 'demo', version: '1.abc', file: 'flows/demo.yaml', channels: ['ussd', 'sms'] }],
    });
  });
});

describe('queues and dead letters', () => {
  it('GET /admin/queues counts every queue', async () => {
    await sq.queue.add([
      { id: 'sms-1', queue: 'outbox-sms', name: 'sendSms', data: {} },
      { id: 't-1', queue: 'timers', name: 'timer', data: {}, runAt: clock.now().getTime() + 60_000 },
    ]);
    const res = await request(app()).get('/admin/queues').set(auth);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.queues).sort()).toEqual(['jobs', 'outbox-dhis2', 'outbox-sms', 'timers']);
    expect(res.body.queues['outbox-sms']).toEqual({ waiting: 1, delayed: 0, active: 0, failed: 0 });
    expect(res.body.queues.timers).toEqual({ waiting: 0, delayed: 1, active: 0, failed: 0 });
  });

  it('lists dead letters of one queue, or of all, and refuses an unknown queue name', async () => {
    await deadLetter(sq.queue, {
      id: 'dhis2:ref1:a',
      queue: 'outbox-dhis2',
      name: 'confirmVisit',
      data: { ref: 'ref1' },
    });
    const one = await request(app()).get('/admin/outbox/dead?queue=outbox-dhis2').set(auth);
    expect(one.status).toBe(200);
    expect(one.body.deadLetters).toHaveLength(1);
    expect(one.body.deadLetters[0]).toMatchObject({
      id: 'dhis2:ref1:a',
      queue: 'outbox-dhis2',
      name: 'confirmVisit',
      error: 'E1000: event refused',
      data: { ref: 'ref1' },
    });
    expect((await request(app()).get('/admin/outbox/dead?queue=outbox-sms').set(auth)).body.deadLetters).toEqual([]);
    expect(
      (await request(app()).get('/admin/outbox/dead').set(auth)).body.deadLetters.map((d: { id: string }) => d.id),
    ).toEqual(['dhis2:ref1:a']);
    const bad = await request(app()).get('/admin/outbox/dead?queue=outbox-fax').set(auth);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('JIBU_BAD_REQUEST');
  });

  it('retries a dead letter: it runs again and leaves the dead letters', async () => {
    await deadLetter(sq.queue, { id: 'dhis2:ref2:b', queue: 'outbox-dhis2', name: 'confirmVisit', data: {} });
    const res = await request(app())
      .post(`/admin/outbox/dead/outbox-dhis2/${encodeURIComponent('dhis2:ref2:b')}/retry`)
      .set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ retried: true, queue: 'outbox-dhis2', id: 'dhis2:ref2:b' });
    await eventually(
      () => sq.queue.counts('outbox-dhis2'),
      (c) => c.failed === 0 && c.waiting === 0 && c.active === 0,
    );
    expect(await sq.queue.deadLetters('outbox-dhis2')).toEqual([]);
  });

  it('answers 404 JIBU_NOT_FOUND for a dead letter that does not exist', async () => {
    const res = await request(app()).post('/admin/outbox/dead/outbox-dhis2/nope/retry').set(auth);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('JIBU_NOT_FOUND');
  });
});

describe('POST /admin/jobs/:name/run', () => {
  it('runs the job as if today were the given date', async () => {
    const res = await request(app()).post('/admin/jobs/reminders/run').set(auth).send({ date: '2025-12-01' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ job: 'reminders', date: '2025-12-01', result: { sent: 3 } });
    expect(jobRuns).toEqual(['2025-12-01']);
  });

  it('without a date runs it for today in the deployment time zone', async () => {
    const res = await request(app()).post('/admin/jobs/reminders/run').set(auth);
    expect(res.status).toBe(200);
    expect(jobRuns).toEqual(['2025-11-26']);
  });

  it('answers 404 JIBU_UNKNOWN_JOB for a job nobody registered (also for inherited object keys)', async () => {
    for (const name of ['nightly-sync', 'constructor', '__proto__']) {
      const res = await request(app()).post(`/admin/jobs/${name}/run`).set(auth).send({});
      expect(res.status, name).toBe(404);
      expect(res.body.error.code).toBe('JIBU_UNKNOWN_JOB');
    }
    expect(jobRuns).toEqual([]);
  });

  it('refuses a date that is not a calendar day, other fields, and broken JSON with 400 JIBU_BAD_REQUEST', async () => {
    for (const body of [
      { date: '2025-02-30' },
      { date: '01/12/2025' },
      { date: '2025-12-01', dryRun: true },
      ['2025-12-01'],
    ]) {
      const res = await request(app()).post('/admin/jobs/reminders/run').set(auth).send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('JIBU_BAD_REQUEST');
    }
    const broken = await request(app())
      .post('/admin/jobs/reminders/run')
      .set(auth)
      .set('content-type', 'application/json')
      .send('{"date":');
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('JIBU_BAD_REQUEST');
    expect(jobRuns).toEqual([]);
  });

  it('answers 500 JIBU_INTERNAL, without a stack trace, when the job throws', async () => {
    const res = await request(
      app({
        jobs: {
          reminders: async () => {
            throw new Error('boom at /srv/jibu/x.ts:12');
          },
        },
      }),
    )
      .post('/admin/jobs/reminders/run')
      .set(auth);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'JIBU_INTERNAL', message: 'Internal error.' } });
  });
});

describe('dead letters on Redis (BullMQ)', () => {
  const prefix = uniquePrefix('admin-api');
  afterAll(async () => {
    await cleanupRedis([prefix]);
  });

  it('lists and retries a BullMQ dead letter through the API', async () => {
    await requireRedis();
    const redis = await createStoreAndQueue({ redisUrl: TEST_REDIS_URL, clock: { now: () => new Date() }, prefix });
    const redisWorkers: RunningWorker[] = [];
    try {
      let fail = true;
      redisWorkers.push(
        redis.queue.process('outbox-dhis2', async () =>
          fail ? { ok: false, permanent: true, error: 'E1000' } : { ok: true },
        ),
      );
      await redis.queue.add([{ id: 'dhis2-r1', queue: 'outbox-dhis2', name: 'confirmVisit', data: { ref: 'r1' } }]);
      await eventually(
        () => redis.queue.deadLetters('outbox-dhis2'),
        (d) => d.length === 1,
        10_000,
      );
      fail = false;
      const a = app({ queue: redis.queue, store: redis.store });
      const list = await request(a).get('/admin/outbox/dead?queue=outbox-dhis2').set(auth);
      expect(list.body.deadLetters.map((d: { id: string }) => d.id)).toEqual(['dhis2-r1']);
      expect((await request(a).post('/admin/outbox/dead/outbox-dhis2/dhis2-r1/retry').set(auth)).status).toBe(200);
      await eventually(
        () => redis.queue.deadLetters('outbox-dhis2'),
        (d) => d.length === 0,
        10_000,
      );
    } finally {
      await Promise.all(redisWorkers.map((w) => w.close()));
      await redis.close();
    }
  });
});
