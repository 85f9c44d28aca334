import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where the browser tests find a headless Chromium, in order, so `npm install && npm test` runs them on
 * a fresh Linux machine with no browser installed:
 *
 * 1. `CHROMIUM_PATH`, when set (a test run that wants one particular browser);
 * 2. Playwright's own cache (`~/.cache/ms-playwright`, or `PLAYWRIGHT_BROWSERS_PATH`), for machines where
 *    someone ran `npx playwright install`;
 * 3. a system Chromium or Chrome (Debian's `chromium`, Ubuntu's `chromium-browser`, Google Chrome);
 * 4. the Chromium shipped inside the `@sparticuz/chromium` devDependency (Linux x64/arm64): a compressed
 *    binary in the npm package itself, unpacked to the temp folder on first use — nothing is downloaded.
 *
 * None found (another platform without a browser) is `missing`, with one line saying how to enable them.
 */

export type FoundBrowser = { executablePath: string; args: string[]; source: string } | { missing: string };

/** Flags for a headless browser on a machine with a closed network and no display. */
const HEADLESS_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SYSTEM_BROWSERS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

function fromPlaywrightCache(): string | undefined {
  const root = process.env.PLAYWRIGHT_BROWSERS_PATH || path.join(homedir(), '.cache', 'ms-playwright');
  if (!existsSync(root)) return undefined;
  const dirs = readdirSync(root)
    .filter((d) => d.startsWith('chromium'))
    .sort()
    .reverse();
  for (const d of dirs) {
    for (const rel of ['chrome-linux/chrome', 'chrome-linux64/chrome', 'chrome-linux/headless_shell']) {
      const exe = path.join(root, d, rel);
      if (existsSync(exe)) return exe;
    }
  }
  return undefined;
}

async function fromNpmPackage(): Promise<{ executablePath: string; args: string[] } | undefined> {
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return undefined;
  try {
    const { default: packaged } = await import('@sparticuz/chromium');
    const executablePath = await packaged.executablePath();
    // The package's own flags are tuned for it (fonts, swiftshader); one process per browser is
    // what it is built for, so its `--single-process` stays.
    return { executablePath, args: [...new Set([...packaged.args, ...HEADLESS_ARGS])] };
  } catch {
    return undefined;
  }
}

export async function findBrowser(env: NodeJS.ProcessEnv = process.env): Promise<FoundBrowser> {
  if (env.CHROMIUM_PATH) {
    return existsSync(env.CHROMIUM_PATH)
      ? { executablePath: env.CHROMIUM_PATH, args: HEADLESS_ARGS, source: 'CHROMIUM_PATH' }
      : { missing: `CHROMIUM_PATH=${env.CHROMIUM_PATH} does not exist` };
  }
  const cached = fromPlaywrightCache();
  if (cached) return { executablePath: cached, args: HEADLESS_ARGS, source: 'Playwright cache' };
  const system = SYSTEM_BROWSERS.find((p) => existsSync(p));
  if (system) return { executablePath: system, args: HEADLESS_ARGS, source: 'system' };
  const packaged = await fromNpmPackage();
  if (packaged) return { ...packaged, source: '@sparticuz/chromium' };
  return {
    missing:
      'no Chromium found: set CHROMIUM_PATH to a Chromium or Chrome binary, or install one ' +
      '(Debian: apt-get install chromium); on Linux x64/arm64 the @sparticuz/chromium devDependency provides one',
  };
}
