import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/flows.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = path.join(ROOT, 'tests/admin/fixtures');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

/**
 * A fixture set in a temp folder laid out like a deployment (`flows/`, `locales/<lang>/`,
 * `deployment.yaml`), with the shipped `system.yaml` of each locale added: the engine needs its own
 * texts, and copying them at test time keeps fixtures current when the engine adds a system key.
 */
export async function fixtureSet(name: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `jibu-admin-${name}-`));
  await cp(path.join(FIXTURES, name), dir, { recursive: true });
  for (const lang of await readdir(path.join(dir, 'locales'))) {
    await cp(path.join(ROOT, 'locales', lang, 'system.yaml'), path.join(dir, 'locales', lang, 'system.yaml'));
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A temp copy of the shipped `flows/` and `locales/`, for gateways whose flows a test edits. */
export async function shippedCopy(): Promise<{
  dir: string;
  flowsDir: string;
  localesDir: string;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jibu-admin-shipped-'));
  await cp(path.join(ROOT, 'flows'), path.join(dir, 'flows'), { recursive: true });
  await cp(path.join(ROOT, 'locales'), path.join(dir, 'locales'), { recursive: true });
  return {
    dir,
    flowsDir: path.join(dir, 'flows'),
    localesDir: path.join(dir, 'locales'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The 1-based line of `# !<marker>` in a fixture file: where the fixture says the problem is. */
export async function markerLine(dir: string, file: string, marker: string): Promise<number> {
  const lines = (await readFile(path.join(dir, file), 'utf8')).split('\n');
  const i = lines.findIndex((l) => new RegExp(`#\\s*!${marker}(?![\\w-])`).test(l));
  if (i < 0) throw new Error(`no marker !${marker} in ${file}`);
  return i + 1;
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Collects what a CLI command prints. */
export function captureIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

/** Run the real `jibu` CLI (`tsx src/cli/main.ts …`) in `cwd`. */
export function runJibu(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [path.join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
