import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The DHIS2 emulator (src/emulator/) is a fake of another system. Product code reaches it only through
// the embedded-default wiring (src/server/embedded.ts); the lint rule is what holds that wall.
describe('the emulator wall', () => {
  const eslint = new ESLint();
  const probe = (filePath: string, spec: string) =>
    eslint.lintText(`import { DEMO } from '${spec}';\nexport const x = DEMO;\n`, { filePath });
  const restricted = async (filePath: string, spec: string) =>
    (await probe(filePath, spec))[0]!.messages.some((m) => m.ruleId === 'no-restricted-imports');

  it('refuses an import of the emulator from product code', async () => {
    expect(await restricted('src/server/anything.ts', '../emulator/index.ts')).toBe(true);
    expect(await restricted('src/conversation/anything.ts', '../emulator/demo.ts')).toBe(true);
    expect(await restricted('src/dhis2/readmodel/anything.ts', '../../emulator/index.ts')).toBe(true);
  });

  it('lets the embedded wiring, the emulator CLI, the emulator itself and the tests import it', async () => {
    expect(await restricted('src/server/embedded.ts', '../emulator/index.ts')).toBe(false);
    expect(await restricted('src/cli/dhis2-emulator.ts', '../emulator/index.ts')).toBe(false);
    expect(await restricted('src/emulator/handler.ts', './demo.ts')).toBe(false);
    expect(await restricted('tests/dhis2/anything.test.ts', '../../src/emulator/index.ts')).toBe(false);
  });
});
