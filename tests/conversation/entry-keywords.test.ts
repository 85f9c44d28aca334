import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFlowSet, type FlowSet } from '../../src/conversation/index.ts';
import { FIXTURES, ROOT, TZ, TestPhone, fixtureLocales, fixtureRegistry, flowsDir, text } from './helpers.ts';

// On SMS a whole message that is another flow's entry keyword (here CLINIC) starts that flow even in the
// middle of a conversation, unless the step waits for free text (where it may be the answer itself).

const SURVEY = `
id: survey
version: 1
channels: [sms]
entry:
  sms: true
  role: any
start: pick
steps:
  pick:
    type: menu
    text: test.child.pick
    options:
      - { label: test.what.confirm, next: note }
      - { label: test.what.move, next: note }
  note:
    type: ask
    text: test.note
    input: { kind: text, maxLength: 20 }
    save: note
    next: bye
  bye:
    type: end
    text: test.worker.bye
`;

let set: FlowSet;
const cleanups: Array<() => Promise<void>> = [];
beforeAll(async () => {
  const loc = await fixtureLocales();
  cleanups.push(loc.cleanup);
  const dir = await flowsDir({
    'survey.yaml': SURVEY,
    'clinic.yaml': await readFile(path.join(FIXTURES, 'flows', 'clinic.yaml'), 'utf8'),
  });
  cleanups.push(dir.cleanup);
  const r = await loadFlowSet({
    flowsDir: dir.dir,
    localesDir: loc.dir,
    registry: fixtureRegistry(),
    defaultLocale: 'en',
    locales: ['en'],
    baseDir: ROOT,
    timeZone: TZ,
  });
  if (!r.ok) expect.fail(r.problems.map((p) => p.message).join('\n'));
  set = r.set;
});
afterAll(async () => {
  for (const c of cleanups) await c();
});

const juma = { id: 'c2', name: 'Juma', due: '2025-11-27' };

async function inSurvey(): Promise<TestPhone> {
  const phone = new TestPhone(set, 'sms');
  phone.data = { children: [juma] };
  expect((await phone.send('hello')).flowId).toBe('survey');
  return phone;
}

describe('entry keywords in the middle of an SMS conversation', () => {
  it("a keyword at a menu leaves the conversation and starts the keyword's flow", async () => {
    const phone = await inSurvey();
    const r = await phone.send('kliniki');
    expect(r.flowId).toBe('clinic');
    expect(r.outcome).toBe('started');
    expect(text(r)).toContain('Visit for Juma');
  });

  it('a keyword typed where free text is asked for is the answer, not a command', async () => {
    const phone = await inSurvey();
    expect(text(await phone.send('1'))).toBe('Any note for the nurse?');
    const r = await phone.send('CLINIC');
    expect(r.flowId).toBe('survey');
    expect(r.session).toBeNull();
    expect(text(r)).toBe('Goodbye');
  });

  it("a flow's own keyword inside it is an ordinary answer", async () => {
    const phone = new TestPhone(set, 'sms');
    phone.data = { children: [juma] };
    expect((await phone.send('CLINIC')).flowId).toBe('clinic');
    const r = await phone.send('CLINIC');
    expect(r.flowId).toBe('clinic');
    expect(r.outcome).toBe('reprompt');
  });

  it('a word that is no keyword is handled by the step as before', async () => {
    const phone = await inSurvey();
    const r = await phone.send('banana');
    expect(r.flowId).toBe('survey');
    expect(r.outcome).toBe('reprompt');
  });
});
