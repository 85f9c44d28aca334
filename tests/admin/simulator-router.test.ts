import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DEMO } from '../../src/emulator/demo.ts';
import { createEventFeed } from '../../src/server/events.ts';
import { SIMULATOR_PUBLIC_DIR, simulatorRouter, type SimulatorBridge } from '../../src/server/simulator/router.ts';
import { demoPhoneList } from '../../src/server/embedded.ts';

/** A bridge that records what the router hands the gateway (the gateway's side is tested in tests/security). */
function recordingBridge() {
  const calls: Array<{ kind: string; arg: unknown }> = [];
  const bridge: SimulatorBridge = {
    async ussd(hop) {
      calls.push({ kind: 'ussd', arg: hop });
      return { status: 200, contentType: 'text/plain; charset=utf-8', body: 'CON Hello' };
    },
    async sms(msg) {
      calls.push({ kind: 'sms', arg: msg });
      return { status: 200, contentType: 'application/json; charset=utf-8', body: '{"status":"accepted"}' };
    },
  };
  return { bridge, calls };
}

function app(feed = createEventFeed(), mask = false) {
  const a = express();
  const { bridge, calls } = recordingBridge();
  a.use(
    '/simulator',
    simulatorRouter({ events: feed, demoPhones: demoPhoneList(), ussdCode: '*384*12#', gateway: bridge, mask }),
  );
  return { a, feed, calls };
}

describe('simulator router', () => {
  it('redirects /simulator to /simulator/ so the page finds its script and stylesheet', async () => {
    const res = await request(app().a).get('/simulator?x=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/simulator/?x=1');
  });

  it('serves the page, its script and its stylesheet with the right types', async () => {
    const { a } = app();
    const page = await request(a).get('/simulator/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<script type="module" src="phone.js"></script>');
    expect((await request(a).get('/simulator/phone.js')).headers['content-type']).toMatch(/javascript/);
    expect((await request(a).get('/simulator/phone.css')).headers['content-type']).toMatch(/^text\/css/);
    for (const p of ['/simulator/%2e%2e/router.ts', '/simulator/..%2frouter.ts'])
      expect((await request(a).get(p)).status, p).not.toBe(200);
  });

  it('stays light: page, script and stylesheet together under 30 KB', async () => {
    let total = 0;
    for (const f of ['index.html', 'phone.js', 'phone.css'])
      total += (await stat(path.join(SIMULATOR_PUBLIC_DIR, f))).size;
    expect(total).toBeLessThan(30 * 1024);
  });

  it('labels every control of the page and announces the screen to screen readers', async () => {
    const html = await readFile(path.join(SIMULATOR_PUBLIC_DIR, 'index.html'), 'utf8');
    const ids = [...html.matchAll(/<(?:input|select)\b[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(2);
    for (const id of ids)
      expect(html, `label for #${id}`).toMatch(
        new RegExp(`<label[^>]*for="${id}"|<label[^>]*>\\s*<input[^>]*id="${id}"`),
      );
    expect(html).toMatch(/id="screen"[^>]*aria-live="polite"/);
    expect(html).toMatch(/id="feed"[^>]*aria-live="polite"/);
    expect(html).toMatch(/<html lang="en">/);
  });

  it('offers the demo caregivers and case workers', async () => {
    const res = await request(app().a).get('/simulator/api/config');
    expect(res.status).toBe(200);
    expect(res.body.ussdCode).toBe('*384*12#');
    const phones = res.body.phones as Array<{ phone: string; role: string }>;
    expect(phones).toContainEqual(
      expect.objectContaining({ phone: DEMO.caregivers.oneChildDueInTwoDays.phone, role: 'caregiver' }),
    );
    expect(phones).toContainEqual(
      expect.objectContaining({ phone: DEMO.caseWorkers.kidutani.phone, role: 'caseWorker' }),
    );
    expect(phones).toHaveLength(Object.keys(DEMO.caregivers).length + Object.keys(DEMO.caseWorkers).length);
  });

  it('pages the event feed with a cursor that never skips an event', async () => {
    const { a, feed } = app();
    for (let i = 0; i < 5; i++) feed.emit({ type: 'timer.set', id: `t${i}`, phone: '+254700000002', fireAt: 1, at: 1 });
    const first = await request(a).get('/simulator/api/events?since=0&limit=2');
    expect(first.body.events.map((e: { id: string }) => e.id)).toEqual(['t0', 't1']);
    const second = await request(a).get(`/simulator/api/events?since=${first.body.next}&limit=2`);
    expect(second.body.events.map((e: { id: string }) => e.id)).toEqual(['t2', 't3']);
    const rest = await request(a).get(`/simulator/api/events?since=${second.body.next}`);
    expect(rest.body.events.map((e: { id: string }) => e.id)).toEqual(['t4']);
    const none = await request(a).get(`/simulator/api/events?since=${rest.body.next}`);
    expect(none.body).toEqual({ next: rest.body.next, events: [] });
    expect(none.headers['cache-control']).toBe('no-store');
  });

  it('refuses a cursor that is not a number', async () => {
    const res = await request(app().a).get('/simulator/api/events?since=abc');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('JIBU_BAD_REQUEST');
  });

  it('hands dials and texts to the gateway server-side, JSON only, and never offers a webhook key', async () => {
    const { a, calls } = app();
    const config = await request(a).get('/simulator/api/config');
    expect(JSON.stringify(config.body)).not.toMatch(/key|secret|token/i);
    const hop = await request(a)
      .post('/simulator/api/ussd')
      .send({ sessionId: 's1', serviceCode: '*384*12#', phone: '+254700000001', text: '' });
    expect(hop.status).toBe(200);
    expect(hop.text).toBe('CON Hello');
    const sms = await request(a).post('/simulator/api/sms').send({ id: 'w1', phone: '+254700000001', text: 'hi' });
    expect(sms.status).toBe(200);
    expect(calls).toEqual([
      { kind: 'ussd', arg: { sessionId: 's1', serviceCode: '*384*12#', phoneNumber: '+254700000001', text: '' } },
      { kind: 'sms', arg: { id: 'w1', from: '+254700000001', to: 'simulator', text: 'hi' } },
    ]);
    // A cross-site form cannot post JSON: a form body is refused before it reaches the gateway.
    const form = await request(a)
      .post('/simulator/api/sms')
      .type('form')
      .send({ id: 'w2', phone: '+254700000001', text: 'STOP' });
    expect(form.status).toBe(415);
    expect((await request(a).post('/simulator/api/sms').send({ id: 'w3', phone: '+2547' })).status).toBe(400);
    expect(calls).toHaveLength(2);
  });

  it('masks texts and payloads in the feed when asked (everywhere but the all-embedded demo)', async () => {
    const { a, feed } = app(createEventFeed(), true);
    feed.emit({
      type: 'sms.sent',
      id: 'm1',
      to: '+254711000001',
      text: 'Your sign-in code is 482913',
      provider: 'x',
      at: 1,
    });
    feed.emit({
      type: 'dhis2.queued',
      id: 'd1',
      op: 'note',
      ref: 'r',
      phone: '+254711000001',
      payload: { pin: '1234' },
      at: 1,
    });
    const res = await request(a).get('/simulator/api/events?since=0');
    expect(res.body.events).toHaveLength(2);
    expect(JSON.stringify(res.body)).not.toMatch(/482913|1234|sign-in code/);
    expect(res.body.events[0].text).toMatch(/27-character text hidden/);
    expect(res.body.events[0].to).toBe('+254711000001');
  });
});
