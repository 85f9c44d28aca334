import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../src/emulator/demo.ts';
import { startTestGateway, type TestGateway } from '../server/harness.ts';
import { findBrowser } from './find-browser.ts';

/**
 * The web phone simulator end to end in headless Chromium (found by `findBrowser`: a system or
 * Playwright browser, else the one inside the `@sparticuz/chromium` devDependency): a tester picks a
 * demo caregiver, dials, answers the demo flow to the end, then holds the same conversation by SMS and
 * sees the effects appear beside the phone; and, on the caregiver flows, confirms a visit and sees the
 * real DHIS2 write queued and then written to the embedded DHIS2 (screenshots kept in `__artifacts__/`).
 * Only where no browser can be found at all (an unsupported platform) are these tests skipped, with one
 * line saying how to enable them; under `CI=true` a missing browser fails the run.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const found = await findBrowser();
if ('missing' in found) {
  if (process.env.CI) throw new Error(`browser tests need Chromium under CI=true: ${found.missing}`);
  console.warn(`tests/browser skipped: ${found.missing}`);
}
const describeWithBrowser = describe.skipIf('missing' in found);
const ARTIFACTS = path.join(ROOT, 'tests/browser/__artifacts__');
const PHONE = DEMO.caregivers.oneChildDueInTwoDays.phone;
/** A date in the coming year as typed on a keypad: never in the past for the demo's date question. */
const NEXT_YEAR_DATE = `1506${new Date().getUTCFullYear() + 1}`;

let dir = '';
let t: TestGateway;
let url = '';
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if ('missing' in found) return;
  // The embedded default on the demo flow only, so this test does not depend on other flows in progress.
  dir = await mkdtemp(path.join(tmpdir(), 'jibu-browser-'));
  await cp(path.join(ROOT, 'flows/demo.yaml'), path.join(dir, 'flows/demo.yaml'));
  await cp(path.join(ROOT, 'locales'), path.join(dir, 'locales'), { recursive: true });
  t = await startTestGateway({
    FLOWS_DIR: path.join(dir, 'flows'),
    LOCALES_DIR: path.join(dir, 'locales'),
    TZ: 'Africa/Nairobi',
  });
  // The gateway mounts the simulator itself in the all-embedded demo; the page posts to its api/ussd and
  // api/sms, which hand dials and texts to the gateway server-side.
  url = t.url;
  browser = await chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Type into the phone's entry field and press Enter, as a keyboard user would. */
async function enter(text: string): Promise<void> {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

/** Wait for one more received SMS containing `text` than there was before `action`. */
async function receives(text: string, action: () => Promise<void>): Promise<void> {
  const matching = page.locator('#inbox li.msg.in', { hasText: text });
  const before = await matching.count();
  await action();
  await page.waitForFunction(
    ([t, n]) =>
      Array.from(document.querySelectorAll('#inbox li.msg.in')).filter((li) => li.textContent?.includes(t as string))
        .length > (n as number),
    [text, before],
    { timeout: 5_000 },
  );
}

async function screenShows(text: string | RegExp): Promise<string> {
  await page.locator('#screen-text', { hasText: text }).waitFor({ timeout: 5_000 });
  return page.locator('#screen-text').innerText();
}

describeWithBrowser('web phone simulator', () => {
  it('dials the demo flow as a demo caregiver and answers it to the end on the phone screen', async () => {
    await page.goto(`${url}/simulator/`);
    await page.locator(`#number option[value="${PHONE}"]`).waitFor({ state: 'attached' });
    await page.selectOption('#number', PHONE);
    expect(await page.locator('#number-note').innerText()).toContain('one child due in 2 days');

    await page.fill('#input', '*384*12#');
    await page.click('#call');
    const first = await screenShows('Jibu demo. What would you like to do?');
    expect(await page.locator('#screen-meta').innerText()).toBe(`${first.length}/160 characters`);
    expect(await page.locator('#screen-state').innerText()).toMatch(/waiting for your answer/i);

    // The keypad works like the keyboard.
    await page.click('.keypad button[data-key="2"]');
    await page.click('#call');
    await screenShows('How old is your child, in months?');
    await enter('9');
    await screenShows('When is the next clinic visit?');
    await enter(NEXT_YEAR_DATE);
    await screenShows("Do you have the child's vaccination card?");
    await enter('1');
    await screenShows('At 9 months, bring the vaccination card');
    await enter('1');
    await screenShows(/Thank you\. Your answers are recorded\. Reference [A-Z2-9]{6}\./);
    expect(await page.locator('#screen-state').innerText()).toMatch(/session ended/i);
  });

  it('holds the same conversation by SMS: replies arrive in the inbox and the effects appear in the feed', async () => {
    await enter('hi');
    await page
      .locator('#inbox li.msg.in', { hasText: 'Jibu demo. What would you like to do?' })
      .waitFor({ timeout: 5_000 });
    await page
      .locator('#feed li[data-type="sms.sent"]', { hasText: 'Jibu demo. What would you like to do?' })
      .waitFor({ timeout: 5_000 });

    await enter('2');
    // On SMS the age question waits a day for a reply: a durable timer, shown as an effect.
    await page.locator('#feed li[data-type="timer.set"]').waitFor({ timeout: 5_000 });
    await page
      .locator('#inbox li.msg.in', { hasText: 'How old is your child, in months?' })
      .waitFor({ timeout: 5_000 });
    await enter('9');
    await page.locator('#inbox li.msg.in', { hasText: 'When is the next clinic visit?' }).waitFor({ timeout: 5_000 });
    await enter(NEXT_YEAR_DATE);
    await page
      .locator('#inbox li.msg.in', { hasText: "Do you have the child's vaccination card?" })
      .waitFor({ timeout: 5_000 });
    await enter('2');
    const last = page.locator('#feed li[data-type="sms.sent"]', { hasText: /Reference [A-Z2-9]{6}/ });
    await last.waitFor({ timeout: 5_000 });
    expect(await last.innerText()).toContain(`SMS sent to ${PHONE} via console`);

    // Each message shows its length and how many SMS it costs.
    const meta = await page.locator('#inbox li.msg.in .meta').last().innerText();
    expect(meta).toMatch(/^\d+ characters · (GSM-7|UCS-2) · \d+ SMS$/);
    // Only this number's effects are listed.
    const others = await page
      .locator('#feed li')
      .evaluateAll(
        (items, me) =>
          items.filter((li) => !li.textContent?.includes(me as string) && li.getAttribute('data-type') !== 'timer.set')
            .length,
        PHONE,
      );
    expect(others).toBe(0);

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'simulator.png'), fullPage: true });
    expect(existsSync(path.join(ARTIFACTS, 'simulator.png'))).toBe(true);
  });

  it('marks where a long SMS breaks into parts', async () => {
    // A fact text and the facts menu together take several parts in English.
    await receives('Jibu demo. What would you like to do?', () => enter('hi'));
    await receives('Vaccine facts. Choose one', () => enter('1'));
    await receives('Pentavalent, at 6, 10 and 14 weeks', () => enter('3'));
    const long = page.locator('#inbox li.msg.in', { hasText: 'Pentavalent, at 6, 10 and 14 weeks' }).last();
    expect(await long.locator('.page-break').count()).toBeGreaterThanOrEqual(1);
    expect(await long.locator('.page-break').first().innerText()).toBe('— part 2 —');
  });

  it('shows a DHIS2 write with its payload, and its result when the relay reports it', async () => {
    // The page's side of the feed contract: what the runner and the DHIS2 relay emit for a write.
    const payload = {
      events: [
        { event: 'Ev1Abcdefgh', status: 'SCHEDULE', scheduledAt: '2027-06-15', notes: [{ value: 'confirmed by SMS' }] },
      ],
    };
    const at = Date.now();
    t.gw.events.emit({
      type: 'dhis2.queued',
      id: 'dhis2:R1:x',
      op: 'confirmVisit',
      ref: 'R1',
      phone: PHONE,
      payload,
      at,
    });
    t.gw.events.emit({ type: 'dhis2.written', ids: ['dhis2:R1:x'], status: 'OK', at });
    t.gw.events.emit({
      type: 'dhis2.queued',
      id: 'dhis2:R2:y',
      op: 'confirmVisit',
      ref: 'R2',
      phone: '+254700000099',
      payload,
      at,
    });
    const queued = page.locator('#feed li[data-type="dhis2.queued"]');
    await queued.waitFor({ timeout: 5_000 });
    expect(await queued.count()).toBe(1);
    expect(await queued.innerText()).toContain('DHIS2 write queued: confirmVisit');
    await queued.locator('summary').click();
    expect(JSON.parse(await queued.locator('pre').innerText())).toEqual(payload);
    await page
      .locator('#feed li[data-type="dhis2.written"]', { hasText: 'DHIS2 write OK' })
      .waitFor({ timeout: 5_000 });
    // "Show every number" brings the other caller's write in.
    await page.check('#all-numbers');
    expect(await page.locator('#feed li[data-type="dhis2.queued"]').count()).toBe(2);
    await page.uncheck('#all-numbers');
  });

  it('can be used with the keyboard alone: Tab goes number, other number, screen, entry field; Enter dials', async () => {
    await page.goto(`${url}/simulator/`);
    await page.locator(`#number option[value="${PHONE}"]`).waitFor({ state: 'attached' });
    await page.focus('#number');
    const order: Array<string | undefined> = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement?.id));
    }
    expect(order).toEqual(['custom', 'screen', 'input']);
    await page.keyboard.type('*384*12#');
    await page.keyboard.press('Enter');
    await screenShows('Jibu demo. What would you like to do?');
  });
});

describeWithBrowser('web phone simulator on the caregiver flows', () => {
  let cgDir = '';
  let cg: TestGateway;
  let cgUrl = '';

  beforeAll(async () => {
    // The caregiver flows (and the demo they fall back to) on a gateway whose DHIS2 relay writes to its embedded emulator.
    cgDir = await mkdtemp(path.join(tmpdir(), 'jibu-browser-cg-'));
    await mkdir(path.join(cgDir, 'flows'), { recursive: true });
    for (const f of ['demo.yaml', 'caregiver-main.yaml', 'caregiver-aefi.yaml', 'caregiver-reminder.yaml'])
      await cp(path.join(ROOT, 'flows', f), path.join(cgDir, 'flows', f));
    await cp(path.join(ROOT, 'locales'), path.join(cgDir, 'locales'), { recursive: true });
    cg = await startTestGateway({
      FLOWS_DIR: path.join(cgDir, 'flows'),
      LOCALES_DIR: path.join(cgDir, 'locales'),
      TZ: 'Africa/Nairobi',
    });
    cgUrl = cg.url;
  }, 30_000);

  afterAll(async () => {
    await cg?.stop();
    if (cgDir) await rm(cgDir, { recursive: true, force: true });
  });

  it('a caregiver confirms the visit by USSD and sees the real DHIS2 write queued, then written to DHIS2', async () => {
    const p = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    try {
      await p.goto(`${cgUrl}/simulator/`);
      await p.locator(`#number option[value="${PHONE}"]`).waitFor({ state: 'attached' });
      await p.selectOption('#number', PHONE);
      await p.fill('#input', '*384*12#');
      await p.click('#call');
      await p
        .locator('#screen-text', { hasText: /^Neema: next clinic visit \d\d\/\d\d\/\d{4}\./ })
        .waitFor({ timeout: 5_000 });
      expect(await p.locator('#screen-text').innerText()).toContain('1. Confirm the visit');
      await p.fill('#input', '1');
      await p.press('#input', 'Enter');
      await p
        .locator('#screen-text', { hasText: /Thank you\. We expect Neema at the clinic on/ })
        .waitFor({ timeout: 5_000 });
      const ref = /Ref ([A-Z2-9]{6})\./.exec(await p.locator('#screen-text').innerText())?.[1];
      expect(ref).toMatch(/^[A-Z2-9]{6}$/);

      const queued = p.locator('#feed li[data-type="dhis2.queued"]');
      await queued.waitFor({ timeout: 5_000 });
      expect(await queued.count()).toBe(1);
      expect(await queued.innerText()).toContain('DHIS2 write queued: event.note');
      expect(await queued.innerText()).toContain(`ref ${ref}`);
      await queued.locator('summary').click();
      const payload = JSON.parse(await queued.locator('pre').innerText()) as {
        op: string;
        event: string;
        note: string;
      };
      expect(payload).toMatchObject({ op: 'event.note', note: expect.stringContaining(`(Jibu ref ${ref})`) });

      // The relay writes to the embedded DHIS2 and reports it: no event is emitted by this test.
      const written = p.locator('#feed li[data-type="dhis2.written"]', { hasText: 'DHIS2 write OK' });
      await written.waitFor({ timeout: 10_000 });
      const emulator = cg.gw.emulator;
      if (!emulator) return expect.fail('the embedded gateway has no emulator');
      expect(emulator.state.notesOf(payload.event).map((n) => n.value)).toContainEqual(payload.note);

      await mkdir(ARTIFACTS, { recursive: true });
      await p.screenshot({ path: path.join(ARTIFACTS, 'simulator-dhis2-write.png'), fullPage: true });
      expect(existsSync(path.join(ARTIFACTS, 'simulator-dhis2-write.png'))).toBe(true);
    } finally {
      await p.close();
    }
  });
});
