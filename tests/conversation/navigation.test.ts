import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet } from '../../src/conversation/index.ts';
import { TestPhone, loadShipped, text } from './helpers.ts';

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

async function atFacts(locale?: string): Promise<TestPhone> {
  const phone = new TestPhone(set, 'ussd');
  if (locale) phone.contact = { optedOut: false, locale };
  await phone.dial();
  await phone.send('1');
  return phone;
}

describe('USSD paging of a long menu', () => {
  it('shows the first page with 98 More, 0 Back and 00 Main menu', async () => {
    const screen = text((await atFacts()).log[1]?.result ?? expect.fail('no screen'));
    expect(screen).toBe(
      'Vaccine facts. Choose one\n1. BCG (tuberculosis)\n2. Polio\n3. Pentavalent\n4. Pneumococcal (PCV)\n5. Rotavirus\n98. More\n0. Back\n00. Main menu',
    );
  });

  it('98 shows the next page, numbered on from the first, without More on the last page', async () => {
    const last = text(await (await atFacts()).send('98'));
    expect(last).toBe(
      'Vaccine facts. Choose one\n6. Measles-rubella\n7. Yellow fever\n8. Malaria\n9. HPV\n10. Tetanus (Td)\n11. Done\n0. Back\n00. Main menu',
    );
  });

  it('0 goes to the previous page, and on the first page to the previous menu', async () => {
    const phone = await atFacts();
    await phone.send('98');
    expect(text(await phone.send('0'))).toMatch(/\n1\. BCG/);
    expect((await phone.send('0')).stepId).toBe('welcome');
  });

  it('00 goes to the main menu from any page', async () => {
    const phone = await atFacts();
    await phone.send('98');
    const r = await phone.send('00');
    expect(r.stepId).toBe('welcome');
    expect(text(r)).not.toContain('00.');
  });

  it('98 on the last page is an invalid choice, not a crash', async () => {
    const phone = await atFacts();
    await phone.send('98');
    const r = await phone.send('98');
    expect(r.outcome).toBe('reprompt');
    expect(text(r)).toMatch(/^Please choose a number from the list\.\n6\. Measles/);
  });

  it('an option number from another page still chooses that option', async () => {
    expect((await (await atFacts()).send('9')).stepId).toBe('fact_hpv');
  });

  it('keeps the same page breaks when a hint replaces the title', async () => {
    const phone = await atFacts();
    const before = text(await phone.send('98'))
      .split('\n')
      .slice(1);
    const after = text(await phone.send('42')).split('\n');
    expect(after[0]).toBe('Please choose a number from the list.');
    expect(after.slice(1)).toEqual(before);
  });

  it('pages in every language within 160 characters, with every option reachable', async () => {
    for (const locale of ['fr', 'pt', 'rw', 'sw']) {
      const phone = await atFacts(locale);
      const seen = new Set<number>();
      let screen = text(phone.log[1]?.result ?? expect.fail('no screen'));
      for (let i = 0; i < 6; i++) {
        expect(screen.length).toBeLessThanOrEqual(160);
        for (const m of screen.matchAll(/^(\d+)\. /gm))
          if (Number(m[1]) >= 1 && Number(m[1]) < 90) seen.add(Number(m[1]));
        if (!/^98\. /m.test(screen)) break;
        screen = text(await phone.send('98'));
      }
      expect(
        [...seen].sort((a, b) => a - b),
        locale,
      ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    }
  });
});

describe('going back', () => {
  it('skips say screens: back from the facts menu after reading a fact returns to the main menu', async () => {
    const phone = await atFacts();
    await phone.send('2');
    await phone.send('1');
    expect((await phone.send('0')).stepId).toBe('welcome');
  });

  it('does not offer 0 Back on the first screen, and treats 0 there as invalid', async () => {
    const phone = new TestPhone(set, 'ussd');
    expect(text(await phone.dial())).not.toMatch(/^0\. /m);
    expect((await phone.send('0')).outcome).toBe('reprompt');
  });

  it('reads 0 as a value, not Back, on a number question', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    await phone.send('2');
    const r = await phone.send('0');
    expect(r.stepId).toBe('visit');
  });

  it('reads 00 as the main menu on a date question', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    await phone.say('2', '9');
    expect((await phone.send('00')).stepId).toBe('welcome');
  });
});

describe('invalid answers', () => {
  it('re-prompt with a short hint above the question', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    await phone.send('2');
    const r = await phone.send('seventy');
    expect(r.outcome).toBe('reprompt');
    expect(r.reply).toEqual({
      text: 'Enter the age in months, from 0 to 60.\nHow old is your child, in months?',
      end: false,
    });
    expect(r.session?.invalidCount).toBe(1);
  });

  it('are re-prompted at most 3 times, then the conversation ends politely', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    await phone.send('2');
    for (let i = 1; i <= 3; i++) expect((await phone.send('999')).outcome).toBe('reprompt');
    const last = await phone.send('999');
    expect(last.reply).toEqual({
      text: 'Sorry, we could not understand your answer. Please try again later.',
      end: true,
    });
    expect(last.outcome).toBe('ended');
    expect(last.session).toBeNull();
  });

  it('count again from zero after a valid answer', async () => {
    const phone = new TestPhone(set, 'ussd');
    await phone.dial();
    await phone.send('2');
    await phone.say('x', 'x', 'x');
    await phone.send('9');
    for (let i = 0; i < 3; i++) expect((await phone.send('not a date')).outcome).toBe('reprompt');
  });

  it("on SMS re-prompt with the hint first, in the contact's language", async () => {
    const phone = new TestPhone(set, 'sms');
    phone.contact = { optedOut: false, locale: 'sw' };
    await phone.send('habari');
    const r = await phone.send('7');
    expect(text(r).split('\n')[0]).toBe('Tafadhali chagua nambari kutoka kwenye orodha.');
    expect(r.locale).toBe('sw');
  });
});
