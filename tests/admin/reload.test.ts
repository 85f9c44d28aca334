import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { parseDocument } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminRouter } from '../../src/server/admin.ts';
import { atUssd, startTestGateway, type TestGateway } from '../server/harness.ts';
import { ROOT } from './helpers.ts';

/**
 * Safe reload against a real gateway (embedded default) whose flows and locales live in a temp
 * folder the test edits: a broken edit is refused and the running flows keep answering; a session
 * started before a good reload finishes on the version it started with.
 */

const TOKEN = 'reload-test-token';
let dir = '';
let t: TestGateway;
let admin: express.Express;

/**
 * Only the demo flow is copied: these tests are about reload, and must not depend on other flows
 * being finished. All locales are copied (keys other flows use are then merely unused: warnings).
 */
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'jibu-reload-'));
  await cp(path.join(ROOT, 'flows/demo.yaml'), path.join(dir, 'flows/demo.yaml'), { recursive: true });
  await cp(path.join(ROOT, 'locales'), path.join(dir, 'locales'), { recursive: true });
  t = await startTestGateway({
    FLOWS_DIR: path.join(dir, 'flows'),
    LOCALES_DIR: path.join(dir, 'locales'),
    TZ: 'Africa/Nairobi',
  });
  admin = express();
  admin.use(
    '/admin',
    adminRouter({
      adminToken: TOKEN,
      embedded: true,
      reloadFlows: t.gw.reloadFlows,
      queue: t.gw.queue,
      store: t.gw.store,
      flows: t.gw.flows,
    }),
  );
});
afterEach(async () => {
  await t.stop();
  await rm(dir, { recursive: true, force: true });
});

const reload = () => request(admin).post('/admin/flows/reload').set('authorization', `Bearer ${TOKEN}`);
const running = async () =>
  (await request(admin).get('/admin/flows').set('authorization', `Bearer ${TOKEN}`)).body as { version: string };

/** One USSD caller, hop by hop, as Africa's Talking sends them (the whole path each time). */
function caller(phoneNumber: string, sessionId: string) {
  const path: string[] = [];
  return async (input?: string) => {
    if (input !== undefined) path.push(input);
    const r = await atUssd(t.url, { sessionId, phoneNumber, text: path.join('*') });
    expect(r.status).toBe(200);
    return r.body;
  };
}

async function editFlow(edit: (text: string) => string): Promise<void> {
  const file = path.join(dir, 'flows/demo.yaml');
  await writeFile(file, edit(await readFile(file, 'utf8')));
}

/** A day in the coming year as typed on a keypad (`DDMMYYYY`): never in the past for `date.notPast`. */
const nextYear = `1506${new Date().getUTCFullYear() + 1}`;

describe('POST /admin/flows/reload on a running gateway', () => {
  it('refuses a broken edit with its problems, keeps the running version, and the running flows keep answering', async () => {
    const before = await running();
    const a = caller('+254700000002', 'ATUid_reload_a');
    expect(await a()).toMatch(/^CON Jibu demo/);
    expect(await a('2')).toMatch(/^CON How old is your child/);

    await editFlow((s) => s.replace('action: demo.record', 'action: demo.recrod'));
    const res = await reload();
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('JIBU_FLOWS_INVALID');
    const lineOfAction =
      (await readFile(path.join(dir, 'flows/demo.yaml'), 'utf8'))
        .split('\n')
        .findIndex((l) => l.includes('demo.recrod')) + 1;
    expect(res.body.error.detail.problems).toContainEqual(
      expect.objectContaining({
        file: expect.stringMatching(/flows\/demo\.yaml$/),
        line: lineOfAction,
        message: 'unknown action "demo.recrod"',
        severity: 'error',
      }),
    );
    expect((await running()).version).toBe(before.version);

    // The conversation in progress goes on, through the action the broken edit misspelt.
    expect(await a('9')).toMatch(/^CON When is the next clinic visit\?/);
    expect(await a(nextYear)).toMatch(/^CON Do you have the child's vaccination card\?/);
    expect(await a('1')).toMatch(/^CON At 9 months, bring the vaccination card/);
    expect(await a('1')).toMatch(/^END Thank you\. Your answers are recorded\. Reference [A-Z2-9]{6}\./);
    // And a new caller still gets the running flow.
    expect(await caller('+254700000003', 'ATUid_reload_b')()).toMatch(/^CON Jibu demo/);
  });

  it('lets a session started before a good reload finish on its old version while a new session gets the new text', async () => {
    const before = await running();
    const old = caller('+254700000002', 'ATUid_pinned_old');
    expect(await old()).toMatch(/^CON Jibu demo/);
    expect(await old('2')).toMatch(/^CON How old is your child/);

    // The edit: the date question (a later step) now shows a new text, in every language.
    const newText: Record<string, string> = {
      en: 'Which day is your next clinic visit? Type it like 25122025.',
      fr: 'Quel jour est votre prochaine visite ? Tapez-le comme 25122025.',
      sw: 'Ni siku gani ya kliniki ijayo? Andika kama 25122025.',
      rw: 'Ni uwuhe munsi uzajya ku ivuriro? Andika nka 25122025.',
      pt: 'Qual o dia da proxima consulta? Escreva como 25122025.',
    };
    for (const lang of await readdir(path.join(dir, 'locales'))) {
      const file = path.join(dir, 'locales', lang, 'demo.yaml');
      const doc = parseDocument(await readFile(file, 'utf8'));
      doc.setIn(['demo', 'ask', 'visit_v2'], newText[lang] ?? newText.en);
      await writeFile(file, doc.toString());
    }
    await editFlow((s) => s.replace('text: demo.ask.visit\n', 'text: demo.ask.visit_v2\n'));
    const res = await reload();
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.version).not.toBe(before.version);
    expect((await running()).version).toBe(res.body.version);

    const fresh = caller('+254700000003', 'ATUid_pinned_new');
    expect(await fresh()).toMatch(/^CON Jibu demo/);
    expect(await fresh('2')).toMatch(/^CON How old is your child/);
    expect(await fresh('9')).toBe(`CON ${newText.en}`);

    // The session from before the reload is still on the version it started with.
    expect(await old('9')).toBe('CON When is the next clinic visit? Enter the date, e.g. 25122025.');
    expect(await old(nextYear)).toMatch(/^CON Do you have the child's vaccination card\?/);
    expect(await old('2')).toMatch(/^CON Ask the clinic for a new vaccination card/);
    expect(await old('1')).toMatch(/^END Thank you\. Your answers are recorded\. Reference [A-Z2-9]{6}\./);
  });
});
