import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { flowFileSchema } from '../conversation/index.ts';
import { DeploymentSchema } from '../dhis2/deployment.ts';

/**
 * JSON Schemas for editors, generated from the zod schemas the gateway validates with, so the two
 * cannot drift (a test fails when the committed files differ from what this generates). Each flow
 * file points at its schema with `# yaml-language-server: $schema=../schemas/flow.schema.json`.
 */

/** Folder of the generated schemas, relative to the repository root. */
export const SCHEMAS_DIR = 'schemas';

/**
 * `io: 'input'` describes what an author writes (fields with defaults are optional), and draft-07 is
 * the dialect every YAML/JSON editor plugin understands.
 */
function toSchema(schema: z.ZodType, meta: { title: string; description: string }): string {
  const generated = z.toJSONSchema(schema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  const { $schema, ...rest } = generated;
  const doc = { $schema, title: meta.title, description: meta.description, ...rest };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * The schema files by path (relative to the repository root) and their exact contents.
 *
 * @example Object.keys(generateSchemas()) // ['schemas/flow.schema.json', 'schemas/deployment.schema.json']
 */
export function generateSchemas(): Record<string, string> {
  return {
    [`${SCHEMAS_DIR}/flow.schema.json`]: toSchema(flowFileSchema, {
      title: 'Jibu flow',
      description:
        'A conversation in flows/*.yaml: steps (menu, ask, say, action, end) that name locale keys. Generated from flowFileSchema by `jibu schemas write`; do not edit.',
    }),
    [`${SCHEMAS_DIR}/deployment.schema.json`]: toSchema(DeploymentSchema, {
      title: 'Jibu deployment',
      description:
        'The deployment file (JIBU_CONFIG): DHIS2 metadata roles and programme rules; every field has a default. Generated from DeploymentSchema by `jibu schemas write`; do not edit.',
    }),
  };
}

/** Write every schema under `root`; returns the paths written. */
export async function writeSchemas(root: string): Promise<string[]> {
  const files = generateSchemas();
  await mkdir(path.join(root, SCHEMAS_DIR), { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(root, file), text);
  return Object.keys(files);
}

/** The schema files under `root` that are missing or differ from what the zod schemas generate. */
export async function staleSchemas(root: string): Promise<string[]> {
  const stale: string[] = [];
  for (const [file, text] of Object.entries(generateSchemas())) {
    const current = await readFile(path.join(root, file), 'utf8').catch(() => null);
    if (current !== text) stale.push(file);
  }
  return stale;
}
