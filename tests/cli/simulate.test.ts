import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Dhis2WriteSchema } from '../../src/dhis2/outbox/schemas.ts';
import { DEMO } from '../../src/emulator/index.ts';

/**
 * `jibu simulate` as a person runs it: the real CLI in a child process with the embedded gateway,
 * answers typed on stdin (one line at a time, after the screen asks), the terminal output read back.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NEEMA = DEMO.caregivers.oneChildDueInTwoDays.phone;

/** Run `jibu simulate` with `args`, typing each of `inputs` once the previous screen is shown. */
async function simulate(args: string[], inputs: string[]): Promise<{ out: string; err: string; code: number | null }> {
  const child = spawn('npx', ['tsx', 'src/cli/main.ts', 'simulate', ...args], {
    cwd: ROOT,
    // Empty flow/locale overrides would make the embedded gateway load nothing: run on the shipped set.
    env: { ...process.env, FLOWS_DIR: '', LOCALES_DIR: '', REDIS_URL: '', DHIS2_URL: '', JIBU_CONFIG: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const prompts = () => out.split('\n> ').length - 1 + (out.startsWith('> ') ? 1 : 0);
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const waitFor = async (n: number) => {
    const until = Date.now() + 20_000;
    while (prompts() < n) {
      if (Date.now() > until || child.exitCode !== null)
        throw new Error(`no prompt ${n}; output so far:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  for (const [i, line] of inputs.entries()) {
    await waitFor(i + 1);
    child.stdin.write(`${line}\n`);
  }
  // The simulator leaves by itself after the END screen (and the DHIS2 results it waits for); stdin stays
  // open until then, as in a terminal, and is closed only if it has not left after a while.
  const giveUp = setTimeout(() => child.stdin.end(), 25_000);
  const code = await exited;
  clearTimeout(giveUp);
  child.stdin.end();
  return { out, err, code };
}

/** The JSON bodies of the boxes titled "DHIS2 write (dry run …)" in the output. */
function shownWrites(out: string): unknown[] {
  const writes: unknown[] = [];
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]?.includes('DHIS2 write (dry run, not sent)')) continue;
    const body: string[] = [];
    for (let j = i + 2; j < lines.length && !lines[j]?.startsWith('└'); j++)
      body.push((lines[j] ?? '').replace(/^│ /, '').replace(/│$/, ''));
    writes.push(JSON.parse(body.join('\n')));
  }
  return writes;
}

describe('jibu simulate --dry-run', () => {
  it("shows Neema's visit confirmed on the phone and the DHIS2 note it would write, and writes nothing", async () => {
    const { out, err, code } = await simulate(['--phone', NEEMA, '--dry-run'], ['1']);
    expect(code, err).toBe(0);
    expect(out).toContain('Dry run: DHIS2 writes are shown, not made.');
    expect(out).toMatch(/USSD CON · \d+\/160[\s\S]*Neema: next clinic visit \d\d\/\d\d\/\d{4}\./);
    expect(out).toMatch(
      /USSD END · \d+\/160[\s\S]*Thank you\. We expect Neema at the clinic on \d\d\/\d\d\/\d{4}\. Ref ([A-Z2-9]{6})\./,
    );
    const ref = /Ref ([A-Z2-9]{6})\./.exec(out)?.[1];
    expect(out).toContain(`DHIS2 write (dry run, not sent) · event.note · ref ${ref}`);
    const writes = shownWrites(out);
    expect(writes).toHaveLength(1);
    const parsed = Dhis2WriteSchema.parse(writes[0]);
    expect(parsed).toMatchObject({
      op: 'event.note',
      note: expect.stringContaining(`Caregiver confirmed the visit of`),
    });
    expect(parsed.op === 'event.note' && parsed.note).toContain(`(Jibu ref ${ref})`);
    // The relay never ran: no write result was reported.
    expect(out).not.toContain('dhis2.written');
    // The write is shown after the screen of the step that made it.
    expect(out.indexOf('DHIS2 write (dry run')).toBeGreaterThan(out.indexOf('USSD END'));
  }, 45_000);

  it('without --dry-run relays the same write to the embedded DHIS2 and shows its result', async () => {
    const { out, err, code } = await simulate(['--phone', NEEMA], ['1']);
    expect(code, err).toBe(0);
    expect(out).toContain('Thank you. We expect Neema at the clinic on');
    expect(out, err).toMatch(/\[dhis2\.written OK\] dhis2:[A-Z2-9]{6}:/);
    expect(out).not.toContain('dry run');
  }, 45_000);
});
