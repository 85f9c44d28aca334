import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findBrowser } from './find-browser.ts';

describe('finding a browser for the browser tests', () => {
  it('takes CHROMIUM_PATH first when it names a file', async () => {
    const found = await findBrowser({ CHROMIUM_PATH: process.execPath });
    expect(found).toMatchObject({ executablePath: process.execPath, source: 'CHROMIUM_PATH' });
  });

  it('says what is wrong when CHROMIUM_PATH names nothing, instead of falling back silently', async () => {
    const found = await findBrowser({ CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(found).toEqual({ missing: expect.stringContaining('/nonexistent/chromium') });
  });

  it('finds one on this Linux machine without any setting (a system, Playwright or npm-packaged Chromium)', async () => {
    const found = await findBrowser({});
    if (process.platform === 'linux' && ['x64', 'arm64'].includes(process.arch)) {
      expect('missing' in found).toBe(false);
      if (!('missing' in found)) expect(existsSync(found.executablePath)).toBe(true);
    } else {
      expect(found).toBeDefined();
    }
  });
});
