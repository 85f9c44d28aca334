import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFlowSet, requiredData, startFlow, timerFired, type FlowSet } from '../../src/conversation/index.ts';
import { FIXTURES, NOW, ROOT, TZ, TestPhone, fixtureLocales, fixtureRegistry, idSource, text } from './helpers.ts';

let set: FlowSet;
let cleanup: () => Promise<void> = async () => undefined;
beforeAll(async () => {
  const loc = await fixtureLocales();
  cleanup = loc.cleanup;
  const r = await loadFlowSet({
    flowsDir: path.join(FIXTURES, 'flows'),
    localesDir: loc.dir,
    registry: fixtureRegistry(),
    defaultLocale: 'en',
    locales: ['en'],
    baseDir: ROOT,
    timeZone: TZ,
    defaultCountry: 'KE',
  });
  if (!r.ok) expect.fail(r.problems.map((p) => `${p.file}:${p.line} ${p.message}`).join('\n'));
  expect(r.warnings).toEqual([]);
  set = r.set;
});
afterAll(() => cleanup());

const amina = { name: 'Amina', due: '2025-11-27', eventId: 'EVT1' };
const juma = { name: 'Juma', due: '2025-11-28', eventId: 'EVT2' };

function caregiver(children: unknown[]): TestPhone {
  const phone = new TestPhone(set, 'sms');
  phone.data = { children };
  return phone;
}

describe('entry: which flow a new conversation lands in', () => {
  it('an SMS entry keyword opens its flow, in any case', async () => {
    const r = await caregiver([amina, juma]).send('clinic');
    expect(r.flowId).toBe('clinic');
    expect(text(r)).toBe('Which child?\n1. Amina (27/11/2025)\n2. Juma (28/11/2025)');
  });

  it('an SMS that is not an entry keyword finds no flow here and says so politely', async () => {
    const r = await caregiver([amina]).send('hello');
    expect(r.outcome).toBe('no_flow');
    expect(text(r)).toBe('Sorry, there is no service for you here yet. Please ask your health facility.');
    expect(r.session).toBeNull();
  });

  it('a USSD dial goes to the flow of its service code', async () => {
    const phone = new TestPhone(set, 'ussd', '+254700000002', '*384*99#');
    phone.data = { children: [amina, juma] };
    expect((await phone.dial()).flowId).toBe('clinic');
  });

  it('a role-specific flow wins over one for anyone, when the runner data shows the role', async () => {
    const phone = new TestPhone(set, 'ussd', '+254700000003', '*384*99#');
    phone.data = { worker: { name: 'Wanjiru' }, children: [] };
    const r = await phone.dial();
    expect(r.flowId).toBe('worker');
    expect(text(r)).toBe('Hello Wanjiru\n1. Check an age\n2. Goodbye');
  });

  it('asks the runner for the data every entry flow of the channel needs', () => {
    expect(requiredData(set, null, 'ussd')).toEqual(['children', 'worker']);
    expect(requiredData(set, null, 'sms')).toEqual(['children']);
  });
});

describe('menus built from data', () => {
  it('save the chosen item, whose fields later texts use', async () => {
    const phone = caregiver([amina, juma]);
    await phone.send('clinic');
    expect(text(await phone.send('2'))).toBe('Visit for Juma:\n1. Confirm\n2. Move to another day');
    expect(text(await phone.send('1'))).toBe('Thank you, the visit for Juma is confirmed.');
  });

  it('pick the only item without asking when single is auto', async () => {
    const r = await caregiver([amina]).send('CLINIC');
    expect(r.stepId).toBe('what');
    expect(text(r)).toBe('Visit for Amina:\n1. Confirm\n2. Move to another day');
  });

  it('go to the empty step when there is nothing to choose', async () => {
    const r = await caregiver([]).send('clinic');
    expect(r.reply).toEqual({
      text: 'You have no visits due.',
      end: true,
      measure: { encoding: 'GSM-7', segments: 1 },
    });
  });

  it('keep the numbers they showed even if the data changes before the answer', async () => {
    const phone = caregiver([amina, juma]);
    await phone.send('clinic');
    phone.data = { children: [juma] };
    expect(text(await phone.send('1'))).toMatch(/^Visit for Amina/);
  });
});

describe('branches, validators and typed answers', () => {
  it('moves a visit: choice branch, date within the window, phone, text, end with every value', async () => {
    const phone = caregiver([amina]);
    await phone.send('clinic');
    expect((await phone.send('2')).stepId).toBe('newdate');
    const late = await phone.send('25122025');
    expect(text(late)).toBe('Choose a date within the next 14 days.\nWhich new date? Enter it like 25122025.');
    expect((await phone.send('tomorrow')).stepId).toBe('phone');
    expect((await phone.send('0722 000 333')).stepId).toBe('note');
    const done = await phone.send('After 2pm');
    expect(text(done)).toBe('Amina moved to 26/11/2025. We will call +254722000333.');
    expect(done.outcome).toBe('ended');
  });

  it('a registry guard decides a branch', async () => {
    const phone = new TestPhone(set, 'ussd', '+254700000003', '*384*99#');
    phone.data = { worker: { name: 'Wanjiru' } };
    await phone.dial();
    await phone.send('1');
    expect(text(await phone.send('7'))).toBe('Under one year.');
    await phone.dial();
    await phone.send('1');
    expect(text(await phone.send('30'))).toBe('One year or more.');
  });
});

describe('reply timeouts', () => {
  async function waitingForDate(): Promise<{ phone: TestPhone; timerId: string }> {
    const phone = caregiver([amina]);
    await phone.send('clinic');
    const r = await phone.send('2');
    const start = r.effects.find((e) => e.type === 'startTimer');
    if (start?.type !== 'startTimer') return expect.fail('no timer started');
    expect(start.fireAt).toBe(NOW.getTime() + 48 * 3_600_000);
    return { phone, timerId: start.timerId };
  }

  it('when the timer fires, the flow moves on and what it says goes out as an SMS effect', async () => {
    const { phone, timerId } = await waitingForDate();
    const r = timerFired(set, phone.session, { timerId, now: new Date(NOW.getTime() + 48 * 3_600_000) });
    expect(r.outcome).toBe('ended');
    expect(r.reply).toBeNull();
    expect(r.session).toBeNull();
    expect(r.effects).toEqual([
      {
        type: 'sendSms',
        to: '+254700000001',
        text: 'We did not get a new date. Reply CLINIC to try again.',
        locale: 'en',
      },
    ]);
  });

  it('a timer for a step already left changes nothing', async () => {
    const { phone, timerId } = await waitingForDate();
    const answered = await phone.send('tomorrow');
    expect(answered.effects).toContainEqual({ type: 'cancelTimer', timerId });
    const r = timerFired(set, phone.session, { timerId, now: NOW });
    expect(r.outcome).toBe('ignored');
    expect(r.session).toEqual(phone.session);
    expect(r.effects).toEqual([]);
  });

  it('a timer with no session is ignored', () => {
    expect(timerFired(set, null, { timerId: 't-x', now: NOW }).outcome).toBe('ignored');
  });

  it('USSD sessions start no reply timers', async () => {
    const phone = new TestPhone(set, 'ussd', '+254700000002', '*384*99#');
    phone.data = { children: [amina] };
    await phone.dial();
    expect((await phone.send('2')).effects).toEqual([]);
  });
});

describe('conversations we start', () => {
  it('startFlow sends the first screen as an SMS and leaves the session waiting for the reply', async () => {
    const r = startFlow(set, null, {
      flowId: 'clinic',
      channel: 'sms',
      phone: '+254700000009',
      contact: { optedOut: false },
      now: NOW,
      newId: idSource(),
      data: { children: [amina, juma] },
    });
    expect(r.outcome).toBe('started');
    expect(r.reply).toBeNull();
    expect(r.effects).toEqual([
      {
        type: 'sendSms',
        to: '+254700000009',
        text: 'Which child?\n1. Amina (27/11/2025)\n2. Juma (28/11/2025)',
        locale: 'en',
      },
    ]);
    const phone = caregiver([amina, juma]);
    phone.session = r.session;
    expect((await phone.send('1')).stepId).toBe('what');
  });

  it('startFlow refuses a flow that does not exist', () => {
    expect(
      startFlow(set, null, {
        flowId: 'nope',
        channel: 'sms',
        phone: '+254700000009',
        contact: { optedOut: false },
        now: NOW,
        newId: idSource(),
        data: {},
      }).outcome,
    ).toBe('no_flow');
  });
});
