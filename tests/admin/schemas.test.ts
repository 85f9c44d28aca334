import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSchemas, staleSchemas, writeSchemas } from '../../src/cli/schemas.ts';
import { ROOT } from './helpers.ts';

type JsonSchema = {
  $schema?: string;
  title?: string;
  type?: string;
  required?: string[];
  additionalProperties?: unknown;
  properties?: Record<string, JsonSchema>;
  [k: string]: unknown;
};

describe('JSON Schemas', () => {
  it('committed schemas/*.schema.json are exactly what the zod schemas generate (run `npx jibu schemas write` after a schema change)', async () => {
    expect(await staleSchemas(ROOT)).toEqual([]);
  });

  it('notices a schema file that was edited by hand or is missing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'jibu-schemas-'));
    try {
      expect(await writeSchemas(dir)).toEqual(['schemas/flow.schema.json', 'schemas/deployment.schema.json']);
      expect(await staleSchemas(dir)).toEqual([]);
      await writeFile(path.join(dir, 'schemas/flow.schema.json'), '{}\n');
      await rm(path.join(dir, 'schemas/deployment.schema.json'));
      expect(await staleSchemas(dir)).toEqual(['schemas/flow.schema.json', 'schemas/deployment.schema.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('describe what an author writes: fields with defaults are optional, unknown keys are refused', () => {
    const flow = JSON.parse(generateSchemas()['schemas/flow.schema.json'] ?? '{}') as JsonSchema;
    expect(flow.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(flow.title).toBe('Jibu flow');
    expect([...(flow.required ?? [])].sort()).toEqual(['channels', 'id', 'start', 'steps', 'version']);
    expect(flow.additionalProperties).toBe(false);
    expect(flow.properties?.channels).toMatchObject({ type: 'array', items: { enum: ['ussd', 'sms'] } });
    expect(JSON.stringify(flow.properties?.steps)).toContain('"const":"menu"');

    const deployment = JSON.parse(generateSchemas()['schemas/deployment.schema.json'] ?? '{}') as JsonSchema;
    expect(deployment.required ?? []).toEqual([]);
    expect(deployment.properties?.sms?.properties?.segmentBudget).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 10,
      default: 1,
    });
  });

  it('every shipped flow file points editors at the flow schema on its first line', async () => {
    const files = (await readdir(path.join(ROOT, 'flows'))).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const first = (await readFile(path.join(ROOT, 'flows', f), 'utf8')).split('\n')[0];
      expect(first, f).toBe('# yaml-language-server: $schema=../schemas/flow.schema.json');
    }
  });
});
