import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet } from '../../src/conversation/index.ts';
import { LANGS, TestPhone, loadShipped, text } from './helpers.ts';

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

describe('the demo flow over USSD', () => {
  it('walks from the dial through facts, the form and an action to END, with a reference number', async () => {
    const phone = new TestPhone(set, 'ussd');
    const first = await phone.dial();
    expect(first.outcome).toBe('started');
    expect(first.reply).toEqual({
      text: 'Jibu demo. What would you like to do?\n1. Vaccine facts\n2. Try a short form\n3. Exit',
      end: false,
    });

    expect(text(await phone.send('1'))).toMatch(/^Vaccine facts\. Choose one\n1\. BCG/);
    expect(text(await phone.send('1'))).toMatch(/^BCG is given at birth.*\n1\. Continue$/s);
    expect((await phone.send('1')).stepId).toBe('facts');
    expect((await phone.send('00')).stepId).toBe('welcome');

    expect(text(await phone.send('2'))).toBe('How old is your child, in months?');
    expect(text(await phone.send('9'))).toMatch(/^When is the next clinic visit\?/);
    expect(text(await phone.send('27112025'))).toBe("Do you have the child's vaccination card?\n1. Yes\n2. No");
    expect(text(await phone.send('1'))).toBe(
      'At 9 months, bring the vaccination card to the clinic on 27/11/2025.\n1. Continue',
    );
    const done = await phone.send('1');
    expect(done.reply?.end).toBe(true);
    expect(done.outcome).toBe('ended');
    expect(done.session).toBeNull();
    expect(done.reply?.text).toMatch(/^Thank you\. Your answers are recorded\. Reference [A-Z2-9]{6}\.$/);
    expect(done.effects).toEqual([
      {
        type: 'notify',
        kind: 'demo.record',
        payload: expect.objectContaining({
          phone: '+254700000001',
          answers: { age: 9, visit: '2025-11-27', card: true },
        }),
      },
    ]);
    for (const step of phone.log) {
      expect(step.result.sessionTtlMs).toBe(180_000);
      expect(step.result.reply?.text.length ?? 0).toBeLessThanOrEqual(160);
    }
    await expect(phone.transcript()).toMatchFileSnapshot('../golden/__golden__/demo.ussd.en.txt');
  });

  it('takes the no-card branch when the answer is no', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    const r = await phone.say('2', '14', '01/12', '2');
    expect(r.stepId).toBe('advice_no_card');
    expect(text(r)).toBe('Ask the clinic for a new vaccination card on 01/12/2025.\n1. Continue');
    expect((await phone.send('1')).reply?.end).toBe(true);
  });

  it('ends with the goodbye text when the person chooses Exit', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    const r = await phone.send('3');
    expect(r.reply).toEqual({ text: 'Thank you for trying Jibu. Dial *384*12# any time.', end: true });
    expect(r.session).toBeNull();
  });

  it("speaks the contact's language, and folds accents GSM-7 lacks on the screen", async () => {
    const phone = new TestPhone(set, 'ussd');
    phone.contact = { optedOut: false, locale: 'pt' };
    expect(text(await phone.dial())).toBe(
      'Demo Jibu. O que deseja fazer?\n1. Informacao sobre vacinas\n2. Experimentar um formulario curto\n3. Sair',
    );
    expect(phone.log[0]?.result.locale).toBe('pt');
  });
});

describe('the demo flow over SMS', () => {
  it('walks to the end: say steps join the next reply, each reply is measured', async () => {
    const phone = new TestPhone(set, 'sms');
    const first = await phone.send('Hello');
    expect(first.outcome).toBe('started');
    expect(first.reply?.measure).toEqual({ encoding: 'GSM-7', segments: 1 });
    await phone.send('2');
    await phone.send('9');
    await phone.send('kesho');
    const last = await phone.send('yes');
    expect(last.reply?.text).toMatch(
      /^At 9 months, bring the vaccination card to the clinic on 26\/11\/2025\.\nThank you\. Your answers are recorded\. Reference [A-Z2-9]{6}\.$/,
    );
    expect(last.reply?.end).toBe(true);
    expect(last.session).toBeNull();
    expect(phone.log[1]?.result.sessionTtlMs).toBe(3 * 86_400_000);
    await expect(phone.transcript()).toMatchFileSnapshot('../golden/__golden__/demo.sms.en.txt');
  });

  it('shows a long menu as one numbered list (no paging keys on SMS)', async () => {
    const phone = new TestPhone(set, 'sms');
    await phone.send('hi');
    const r = text(await phone.send('1'));
    expect(r.split('\n')).toHaveLength(12);
    expect(r).toContain('11. Done');
    expect(r).not.toContain('98.');
  });

  it('accepts the words of an option instead of its number', async () => {
    const phone = new TestPhone(set, 'sms');
    await phone.send('hi');
    expect((await phone.send('vaccine facts')).stepId).toBe('facts');
  });

  it('starts a reply timer on an SMS question and cancels it when the answer comes', async () => {
    const phone = new TestPhone(set, 'sms');
    await phone.send('hi');
    const asked = await phone.send('2');
    const timer = asked.effects.find((e) => e.type === 'startTimer');
    expect(timer).toEqual({
      type: 'startTimer',
      timerId: expect.any(String),
      fireAt: phone.now.getTime() + 24 * 3_600_000,
    });
    const answered = await phone.send('9');
    expect(answered.effects).toContainEqual({
      type: 'cancelTimer',
      timerId: timer?.type === 'startTimer' ? timer.timerId : '',
    });
  });
});

describe.each(LANGS)('golden transcripts in %s', (locale) => {
  it('USSD: paging, a fact, back, an invalid answer, a past date, the no-card branch, the end', async () => {
    const phone = new TestPhone(set, 'ussd');
    phone.contact = { optedOut: false, locale };
    await phone.dial();
    for (const i of ['1', '98', '8', '1', '0', '2', 'abc', '9', '01012020', '27112025', '2', '1']) await phone.send(i);
    expect(phone.log.at(-1)?.result.reply?.end).toBe(true);
    await expect(phone.transcript()).toMatchFileSnapshot(`../golden/__golden__/demo.ussd.walk.${locale}.txt`);
  });

  it('SMS: a long menu, a fact, the form with a date word, the end', async () => {
    const phone = new TestPhone(set, 'sms');
    phone.contact = { optedOut: false, locale };
    for (const i of ['hi', '1', '3', '11', '2', 'abc', '9', 'tomorrow', '1']) await phone.send(i);
    expect(phone.log.at(-1)?.result.reply?.end).toBe(true);
    await expect(phone.transcript()).toMatchFileSnapshot(`../golden/__golden__/demo.sms.walk.${locale}.txt`);
  });
});
