import express from 'express';
import fc from 'fast-check';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { capturingSender } from '../../src/cli/simulate.ts';
import { fixedClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { startSmsRelay } from '../../src/messaging/outbox.ts';
import { dhis2GatewayRouter, gatewayRecipients, gatewayText } from '../../src/server/dhis2-gateway.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import type { RunningWorker } from '../../src/store/types.ts';
import { eventually } from '../store/harness.ts';

const SECRET = 'dhis2-gateway-secret-0001';
const NOON = '2025-03-03T09:00:00.000Z'; // 12:00 in Nairobi
const NIGHT = '2025-03-03T19:00:00.000Z'; // 22:00
const QUIET = { deliveryWindow: { start: '08:00', end: '19:00' }, timeZone: 'Africa/Nairobi' };
const TEXT = 'Dear parent, Neema is due for vaccination at Jumba on 2025-03-05.';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The router mounted as the lead mounts it: behind the app's own body parsers, at /gateway/dhis2. */
function rig(opts: { start?: string; secret?: string; embedded?: boolean } = {}) {
  const clock = fixedClock(opts.start ?? NOON);
  const queue = createMemoryJobQueue({ clock, pollMs: 5 });
  const store = createMemoryStore({ clock, queue });
  const sender = capturingSender();
  const logs: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: {
      write: (s: string) => {
        logs.push(s);
      },
    },
  });
  const workers: RunningWorker[] = [
    startSmsRelay({ queue, store, sender, clock, logger, ratePerSecond: 1000, policy: QUIET }),
  ];
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json({ strict: false }));
  app.use(
    '/gateway/dhis2',
    dhis2GatewayRouter({
      store,
      clock,
      logger,
      secret: 'secret' in opts ? opts.secret : SECRET,
      embedded: opts.embedded ?? false,
      defaultCountry: 'KE',
      quiet: QUIET,
    }),
  );
  cleanups.push(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await queue.close();
  });
  return { app, clock, store, queue, sent: sender.sent, logs };
}

describe('DHIS2 Generic HTTP gateway: the shapes DHIS2 sends', () => {
  it('JSON {"to":"${recipients}","text":"${text}"} with several comma-separated recipients queues one SMS each through the outbox', async () => {
    const { app, sent } = rig();
    const res = await request(app)
      .post('/gateway/dhis2')
      .set('X-Jibu-Key', SECRET)
      .set('Content-Type', 'application/json')
      .send(`{"to":"+254700000002,+254700000008","text":"${TEXT}"}`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('accepted');
    expect(res.body.queued.map((q: { to: string }) => q.to)).toEqual(['+254700000002', '+254700000008']);
    await eventually(
      () => sent.length,
      (n) => n === 2,
    );
    expect(sent.map((s) => [s.to, s.text])).toEqual([
      ['+254700000002', TEXT],
      ['+254700000008', TEXT],
    ]);
  });

  it('DHIS2 2.39+ URL-encodes ${text} even inside JSON: it is decoded', async () => {
    const { app, sent } = rig();
    const encoded = new URLSearchParams({ t: TEXT }).toString().slice(2); // what Java's URLEncoder gives
    const res = await request(app)
      .post('/gateway/dhis2')
      .set('X-Jibu-Key', SECRET)
      .set('Content-Type', 'application/json')
      .send(`{"to":"+254700000002","text":"${encoded}"}`);
    expect(res.status).toBe(200);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
    expect(sent[0]!.text).toBe(TEXT);
  });

  it('a form body (FORM_URL_ENCODED) whose + in the numbers became spaces still reaches the right numbers', async () => {
    const { app, sent } = rig();
    const res = await request(app)
      .post('/gateway/dhis2')
      .set('X-Jibu-Key', SECRET)
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send(`to=+254700000002,0700000008&text=${encodeURIComponent(TEXT)}`);
    expect(res.status).toBe(200);
    await eventually(
      () => sent.length,
      (n) => n === 2,
    );
    expect(sent.map((s) => s.to)).toEqual(['+254700000002', '+254700000008']);
    expect(sent[0]!.text).toBe(TEXT);
  });

  it('GET with query parameters (useGet) and the key in the query (DHIS2 versions without header parameters)', async () => {
    const { app, sent } = rig();
    const res = await request(app).get('/gateway/dhis2').query({ key: SECRET, to: '+254700000002', text: TEXT });
    expect(res.status).toBe(200);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
    expect(sent[0]!.text).toBe(TEXT);
  });

  it('GET as DHIS2 2.39+ sends it: the URL-encoded text percent-encoded again by Spring is decoded to the original', async () => {
    const { app, sent } = rig();
    const once = new URLSearchParams({ t: TEXT }).toString().slice(2); // SmsUtils.encode (Java's URLEncoder)
    const twice = once.replace(/%/g, '%25'); // UriComponentsBuilder.encode() leaves + and , but encodes %
    const res = await request(app).get(`/gateway/dhis2?key=${SECRET}&to=254700000002&text=${twice}`);
    expect(res.status).toBe(200);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
    expect(sent[0]!.text).toBe(TEXT);
  });

  it('accepts recipients/message as names too, and Authorization: Bearer', async () => {
    const { app } = rig();
    const res = await request(app)
      .post('/gateway/dhis2')
      .set('Authorization', `Bearer ${SECRET}`)
      .send({ recipients: ['+254700000002'], message: TEXT });
    expect(res.status).toBe(200);
    expect(res.body.queued).toHaveLength(1);
  });
});

describe('DHIS2 gateway: policy', () => {
  it('refuses a missing or wrong key, and queues nothing', async () => {
    const { app, queue } = rig();
    const none = await request(app).post('/gateway/dhis2').send({ to: '+254700000002', text: TEXT });
    const wrong = await request(app)
      .post('/gateway/dhis2')
      .set('X-Jibu-Key', 'nope')
      .send({ to: '+254700000002', text: TEXT });
    expect([none.status, none.body.error.code, wrong.status, wrong.body.error.code]).toEqual([
      403,
      'JIBU_BAD_WEBHOOK_KEY',
      403,
      'JIBU_BAD_WEBHOOK_KEY',
    ]);
    expect(await queue.counts('outbox-sms')).toMatchObject({ waiting: 0, delayed: 0 });
  });

  it('without WEBHOOK_SECRET it is open only on the embedded default', async () => {
    expect(
      (
        await request(rig({ secret: undefined }).app)
          .post('/gateway/dhis2')
          .send({ to: '+254700000002', text: TEXT })
      ).status,
    ).toBe(403);
    expect(
      (
        await request(rig({ secret: undefined, embedded: true }).app)
          .post('/gateway/dhis2')
          .send({ to: '+254700000002', text: TEXT })
      ).status,
    ).toBe(200);
  });

  it('skips opted-out numbers and unreadable ones, and says so', async () => {
    const { app, store, sent } = rig();
    await store.setContact('+254700000008', { optedOut: true });
    const res = await request(app)
      .post('/gateway/dhis2')
      .set('X-Jibu-Key', SECRET)
      .send({ to: '+254700000002,+254700000008,not-a-number', text: TEXT });
    expect(res.status).toBe(200);
    expect(res.body.skipped).toEqual([
      { to: 'not-a-number', reason: 'invalid_number' },
      { to: '+254700000008', reason: 'opted_out' },
    ]);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
    expect(sent[0]!.to).toBe('+254700000002');
  });

  it('a notification arriving at 22:00 local waits for the delivery window', async () => {
    const { app, clock, queue, sent } = rig({ start: NIGHT });
    const res = await request(app)
      .post('/gateway/dhis2')
      .set('X-Jibu-Key', SECRET)
      .send({ to: '+254700000002', text: TEXT });
    expect(res.status).toBe(200);
    // Held in the queue for the morning (the relay took it and put it back delayed), so not sent.
    expect(await queue.counts('outbox-sms')).toMatchObject({ delayed: 1 });
    expect(sent).toEqual([]);
    clock.set('2025-03-04T05:00:00.000Z');
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
  });

  it('DHIS2 posting the same message again (a retry) sends it once', async () => {
    const { app, queue, sent } = rig();
    for (let i = 0; i < 2; i++)
      expect(
        (await request(app).post('/gateway/dhis2').set('X-Jibu-Key', SECRET).send({ to: '+254700000002', text: TEXT }))
          .status,
      ).toBe(200);
    await eventually(
      () => sent.length,
      (n) => n === 1,
    );
    // Both posts were answered after queueing, so once the queue is empty every job they made has run.
    await eventually(
      () => queue.counts('outbox-sms'),
      (c) => c.waiting === 0 && c.active === 0 && c.delayed === 0,
    );
    expect(sent).toHaveLength(1);
  });

  it('answers 400 with a code when the placeholders are missing or no number can be read', async () => {
    const { app } = rig();
    const noText = await request(app).post('/gateway/dhis2').set('X-Jibu-Key', SECRET).send({ to: '+254700000002' });
    const noNumber = await request(app)
      .post('/gateway/dhis2')
      .set('X-Jibu-Key', SECRET)
      .send({ to: 'abc,,', text: TEXT });
    expect([noText.status, noText.body.error.code]).toEqual([400, 'JIBU_BAD_REQUEST']);
    expect([noNumber.status, noNumber.body.error.code]).toEqual([400, 'JIBU_BAD_PHONE']);
  });

  it('logs counts and masked numbers, never the text or a whole number', async () => {
    const { app, logs } = rig();
    await request(app).post('/gateway/dhis2').set('X-Jibu-Key', SECRET).send({ to: '+254700000002', text: TEXT });
    const all = logs.join('\n');
    expect(all).toContain('DHIS2 notification queued');
    expect(all).not.toContain('Neema');
    expect(all).not.toContain('+254700000002');
    expect(all).not.toContain(SECRET);
  });

  it('never answers 5xx to any body DHIS2 (or anyone holding the key) might send', async () => {
    const { app } = rig();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.jsonValue(), fc.record({ to: fc.oneof(fc.string(), fc.array(fc.string())), text: fc.string() })),
        async (body) => {
          const res = await request(app)
            .post('/gateway/dhis2')
            .set('X-Jibu-Key', SECRET)
            .set('Content-Type', 'application/json')
            .send(JSON.stringify(body));
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('reading what DHIS2 put in the placeholders', () => {
  it('decodes URL-encoded texts and leaves raw ones alone', () => {
    expect(gatewayText('Vaccination+reminder%3A+05%2F03')).toBe('Vaccination reminder: 05/03');
    expect(gatewayText('Chanjo+ya+Amina+ni+kesho')).toBe('Chanjo ya Amina ni kesho');
    expect(gatewayText('Call 0700 000 000 + bring the card')).toBe('Call 0700 000 000 + bring the card');
    expect(gatewayText('100%')).toBe('100%');
    expect(gatewayText('Hello')).toBe('Hello');
  });

  it('a text from the query string (useGet/sendUrlParameters) arrives still URL-encoded once, because DHIS2 encoded it twice: decoded', () => {
    // SmsUtils.encode gives 'Visit+on+05%2F03%2C+50%25+done'; Spring encodes % again; the query parser undoes that and turns + into spaces.
    expect(gatewayText('Visit on 05%2F03%2C 50%25 done', { fromUrl: true })).toBe('Visit on 05/03, 50% done');
    expect(gatewayText('Habari%21', { fromUrl: true })).toBe('Habari!');
    // A raw text (DHIS2 2.38, or any text with characters URLEncoder would have encoded) is left as it is.
    expect(gatewayText('Pay 50%2F50, ok?', { fromUrl: true })).toBe('Pay 50%2F50, ok?');
    expect(gatewayText('Visit on 05/03', { fromUrl: true })).toBe('Visit on 05/03');
    // In a JSON or form body the same string is a raw text.
    expect(gatewayText('Visit on 05%2F03 done')).toBe('Visit on 05%2F03 done');
  });

  it('splits ${recipients} on commas or semicolons and reads each number', () => {
    expect(gatewayRecipients(' 254700000002, 0700000008;+254700000002 ', 'KE')).toEqual({
      valid: ['+254700000002', '+254700000008'],
      invalid: [],
    });
    expect(gatewayRecipients(['+254700000002', 'x'], 'KE')).toEqual({ valid: ['+254700000002'], invalid: ['x'] });
  });
});
