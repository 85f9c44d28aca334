import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFlowSet, type FlowSet } from '../../src/conversation/index.ts';
import type { SessionRecord } from '../../src/store/types.ts';
import { ROOT, TZ, TestPhone, fixtureLocales, fixtureRegistry, flowsDir, loadShipped, text } from './helpers.ts';

const V1 = `
id: visit
version: 1
channels: [sms, ussd]
entry: { sms: true, ussd: true }
start: pick
steps:
  pick:
    type: menu
    text: test.child.pick
    options:
      - { label: test.what.confirm, next: when }
      - { label: test.what.move, next: bye }
  when: { type: ask, text: test.newdate, input: { kind: date }, save: d, next: bye }
  bye: { type: end, text: test.none }
`;
/** Same major version, a text changed: declared compatible. */
const V1_EDITED = V1.replace('bye: { type: end, text: test.none }', 'bye: { type: end, text: test.expired }');
/** Major version 2: the date question is gone. */
const V2 = `
id: visit
version: 2
channels: [sms, ussd]
entry: { sms: true, ussd: true }
start: pick
steps:
  pick:
    type: menu
    text: test.child.pick
    options:
      - { label: test.what.confirm, next: bye }
  bye: { type: end, text: test.expired }
`;

let localesDir = '';
const registry = fixtureRegistry();
const cleanups: Array<() => Promise<void>> = [];
beforeAll(async () => {
  const loc = await fixtureLocales();
  localesDir = loc.dir;
  cleanups.push(loc.cleanup);
});
afterAll(async () => {
  for (const c of cleanups) await c();
});

async function load(yaml: string, previous?: FlowSet, keepVersions?: number): Promise<FlowSet> {
  const dir = await flowsDir({ 'visit.yaml': yaml });
  cleanups.push(dir.cleanup);
  const r = await loadFlowSet({
    flowsDir: dir.dir,
    localesDir,
    registry,
    defaultLocale: 'en',
    locales: ['en'],
    baseDir: ROOT,
    timeZone: TZ,
    previous,
    keepVersions,
  });
  if (!r.ok) expect.fail(r.problems.map((p) => p.message).join('\n'));
  return r.set;
}

async function waitingOnDate(set: FlowSet): Promise<TestPhone> {
  const phone = new TestPhone(set, 'sms');
  await phone.send('hi');
  expect((await phone.send('1')).stepId).toBe('when');
  return phone;
}

describe('snapshots', () => {
  it('survive a JSON round trip: the conversation continues exactly as without it', async () => {
    const set = await loadShipped();
    const a = new TestPhone(set, 'ussd');
    const b = new TestPhone(set, 'ussd');
    const inputs = ['', '1', '98', '9', '1', '0', '2', 'x', '12', 'kesho', '2', '1'];
    for (const [i, input] of inputs.entries()) {
      const ra = i === 0 ? await a.dial() : await a.send(input);
      b.session = b.session && (JSON.parse(JSON.stringify(b.session)) as SessionRecord);
      const rb = i === 0 ? await b.dial() : await b.send(input);
      expect(rb.reply).toEqual(ra.reply);
      expect(rb.effects).toEqual(ra.effects);
      expect(JSON.parse(JSON.stringify(rb.session))).toEqual(JSON.parse(JSON.stringify(ra.session)));
    }
    expect(a.log.at(-1)?.result.reply?.end).toBe(true);
  });

  it('store no effects and pin the flow version', async () => {
    const set = await loadShipped();
    const phone = new TestPhone(set, 'sms');
    await phone.say('hi', '2');
    const s = phone.session;
    expect(s?.flowVersion).toBe(set.flows.get('demo')?.version);
    expect(s?.flowVersion).toMatch(/^1\.[0-9a-f]{12}$/);
    expect((s?.snapshot as { context: { effects: unknown[] } }).context.effects).toEqual([]);
  });
});

describe('flow versions', () => {
  it('a session on a version the set no longer has is restarted politely', async () => {
    const v1 = await load(V1);
    const phone = await waitingOnDate(v1);
    const v2 = await load(V2);
    const r = new TestPhone(v2, 'sms');
    r.session = phone.session;
    const res = await r.send('25122025');
    expect(res.outcome).toBe('incompatible');
    expect(text(res)).toBe("The service was updated. Let's start again.\nWhich child?\n1. Confirm");
    expect(res.session?.flowVersion).toBe(v2.flows.get('visit')?.version);
  });

  it('a snapshot that does not fit its flow is treated as incompatible, not as a crash', async () => {
    const v1 = await load(V1);
    const phone = await waitingOnDate(v1);
    phone.session = {
      ...(phone.session as SessionRecord),
      snapshot: { value: 'nowhere', context: { nonsense: true } },
    };
    const res = await phone.send('25122025');
    expect(res.outcome).toBe('incompatible');
    expect(res.error).toBeUndefined();
  });

  it('an edit without a version bump lets the session continue on the new definition', async () => {
    const v1 = await load(V1);
    const phone = await waitingOnDate(v1);
    const edited = await load(V1_EDITED);
    expect(edited.flows.get('visit')?.version).not.toBe(v1.flows.get('visit')?.version);
    const p2 = new TestPhone(edited, 'sms');
    p2.session = phone.session;
    expect(text(await p2.send('25122025'))).toBe('We did not get a new date. Reply CLINIC to try again.');
  });

  it('after a reload with the previous set, a session started before finishes on its old version', async () => {
    const v1 = await load(V1);
    const phone = await waitingOnDate(v1);
    const v2 = await load(V2, v1);
    expect(v2.flows.get('visit')?.major).toBe(2);
    const p2 = new TestPhone(v2, 'sms');
    p2.session = phone.session;
    const res = await p2.send('25122025');
    expect(res.outcome).toBe('ended');
    expect(text(res)).toBe('You have no visits due.');
    const fresh = new TestPhone(v2, 'sms');
    await fresh.send('hi');
    expect(fresh.session?.flowVersion).toBe(v2.flows.get('visit')?.version);
    expect(text(await fresh.send('1'))).toBe('We did not get a new date. Reply CLINIC to try again.');
  });

  it('keeps only the newest few versions of a flow', async () => {
    let set = await load(V1);
    const first = set.flows.get('visit')?.version ?? '';
    for (let i = 0; i < 3; i++)
      set = await load(V1.replace('version: 1', `version: 1\ndescription: edit ${i}`), set, 3);
    const kept = [...set.retained.values()].filter((f) => f.id === 'visit').map((f) => f.version);
    expect(kept).toHaveLength(3);
    expect(kept).not.toContain(first);
    expect(kept).toContain(set.flows.get('visit')?.version);
  });

  it('the set version changes with any file; an unchanged flow keeps its version and compiled machine', async () => {
    const dir = await flowsDir({ 'visit.yaml': V1 });
    cleanups.push(dir.cleanup);
    const opts = {
      flowsDir: dir.dir,
      localesDir,
      registry,
      defaultLocale: 'en',
      locales: ['en'],
      baseDir: ROOT,
      timeZone: TZ,
    };
    const a = await loadFlowSet(opts);
    const b = await loadFlowSet({ ...opts, previous: a.ok ? a.set : undefined });
    if (!a.ok || !b.ok) return expect.fail('fixture set did not load');
    expect(b.set.flows.get('visit')).toBe(a.set.flows.get('visit'));
    expect(b.set.version).toBe(a.set.version);
    const c = await load(V1_EDITED, b.set);
    expect(c.version).not.toBe(b.set.version);
  });
});

describe('USSD dialogs', () => {
  it('a new dial starts afresh even when an old session is still stored', async () => {
    const set = await loadShipped();
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    await phone.send('2');
    const r = await phone.dial();
    expect(r.outcome).toBe('started');
    expect(r.stepId).toBe('welcome');
  });
});
