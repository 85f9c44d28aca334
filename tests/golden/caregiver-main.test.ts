import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowSet } from '../../src/conversation/index.ts';
import { Caregiver, LANGS, PHONES, eventOf, text, writes } from '../caregiver/helpers.ts';
import { loadShipped } from '../conversation/helpers.ts';

/**
 * Golden transcripts of `caregiver-main` in every locale, on the set the gateway loads (every shipped
 * flow, every capability registered), with the caregiver read model of `tests/caregiver/fixtures`.
 * `tests/golden/__golden__/caregiver-moved.ussd.en.txt` holds another conversation (a missed visit moved);
 * these confirm a visit, change a date with a wrong answer first, and switch language.
 */

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

describe.each(LANGS)('caregiver-main golden transcripts in %s', (locale) => {
  it('USSD: one child confirmed; then, on a two-child phone, a wrong date, a good one, and the language menu', async () => {
    const neema = new Caregiver(set, 'ussd', PHONES.oneChild, locale);
    await neema.dial();
    const confirmed = await neema.send('1');
    expect(confirmed.reply?.end).toBe(true);
    expect(writes(confirmed).map((w) => w.payload)).toEqual([
      expect.objectContaining({ op: 'event.note', event: eventOf(PHONES.oneChild, 'Neema').next }),
    ]);

    const amina = new Caregiver(set, 'ussd', PHONES.twoChildren, locale);
    await amina.dial();
    await amina.say('2', '2', '01012020');
    expect(amina.log.at(-1)?.result.stepId).toBe('new_date');
    const moved = await amina.send('01122025');
    expect(moved.reply?.end).toBe(true);
    expect(writes(moved)).toHaveLength(1);
    await amina.dial();
    await amina.say('1', '4');
    expect(amina.log.at(-1)?.result.stepId).toBe('language');
    await amina.send('3');
    expect(amina.contact.locale).toBe('sw');

    for (const { result } of [...neema.log, ...amina.log]) expect(text(result).length).toBeLessThanOrEqual(160);
    await expect(`${neema.transcript()}\n${amina.transcript()}`).toMatchFileSnapshot(
      `__golden__/caregiver-main.ussd.${locale}.txt`,
    );
  });

  it('SMS: the menu by text, a child chosen by number, the visit confirmed', async () => {
    const grace = new Caregiver(set, 'sms', PHONES.oneChild, locale);
    await grace.send('menu');
    const done = await grace.say('1');
    expect(writes(done)).toHaveLength(1);
    await expect(grace.transcript()).toMatchFileSnapshot(`__golden__/caregiver-main.sms.${locale}.txt`);
  });
});
