import { describe, expect, it } from 'vitest';
import { generateSchemas } from '../../src/cli/schemas.ts';

/**
 * Editors show a field's `description` as hover help and completion text, so every field of the flow
 * file must have one: a field added to `src/conversation/schema.ts` without `.describe()` fails here.
 */

type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);
const schemaList = (v: unknown): Schema[] => (Array.isArray(v) ? v.filter(isSchema) : isSchema(v) ? [v] : []);
const hasText = (v: unknown): boolean => typeof v === 'string' && v.trim() !== '';

/** The schema a local JSON pointer (`#/$defs/x`, `#/properties/steps/oneOf/0`) points at. */
function resolveRef(root: Schema, ref: unknown): Schema | undefined {
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return undefined;
  let cur: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    cur =
      typeof cur === 'object' && cur !== null
        ? (cur as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
        : undefined;
  }
  return isSchema(cur) ? cur : undefined;
}

/** A property is documented by its own description, or by the one of the definition it only refers to. */
function documented(root: Schema, s: Schema): boolean {
  if (hasText(s.description)) return true;
  const target = resolveRef(root, s.$ref);
  return target !== undefined && hasText(target.description);
}

/** Keywords whose value holds subschemas: walked so a property nested anywhere is found. */
const NESTED = [
  'items',
  'prefixItems',
  'additionalProperties',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'contains',
] as const;

/**
 * Every object property in a JSON Schema, found recursively through `properties`, `patternProperties`,
 * `items`, `additionalProperties`, `anyOf`/`oneOf`/`allOf` and `$defs`/`definitions`, as JSON pointers,
 * with those that have no description. `undescribedKinds` are the branches of a `oneOf` (zod's output for a
 * discriminated union: the kinds of step and of answer) without a description of their own. `anyOf`
 * branches are left alone: an editor shows a matching branch's description instead of the field's.
 *
 * @example docsAudit({ type: 'object', properties: { a: { type: 'string' } } }).missing // ['/properties/a']
 */
function docsAudit(root: Schema): { properties: string[]; missing: string[]; undescribedKinds: string[] } {
  const properties: string[] = [];
  const missing: string[] = [];
  const undescribedKinds: string[] = [];
  const walk = (s: Schema, at: string) => {
    for (const key of ['properties', 'patternProperties'] as const) {
      const props = s[key];
      if (!isSchema(props)) continue;
      for (const [name, p] of Object.entries(props)) {
        if (!isSchema(p)) continue;
        const here = `${at}/${key}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        properties.push(here);
        if (!documented(root, p)) missing.push(here);
        walk(p, here);
      }
    }
    for (const key of NESTED) {
      const value = s[key];
      schemaList(value).forEach((sub, i) => {
        const here = Array.isArray(value) ? `${at}/${key}/${i}` : `${at}/${key}`;
        if (key === 'oneOf' && !hasText(sub.description)) undescribedKinds.push(here);
        walk(sub, here);
      });
    }
    for (const key of ['$defs', 'definitions'] as const) {
      const defs = s[key];
      if (isSchema(defs))
        for (const [name, d] of Object.entries(defs)) if (isSchema(d)) walk(d, `${at}/${key}/${name}`);
    }
  };
  walk(root, '');
  return { properties, missing, undescribedKinds };
}

const flowSchema = (): Schema => JSON.parse(generateSchemas()['schemas/flow.schema.json'] ?? '{}') as Schema;

describe('flow schema documentation (editor hover help)', () => {
  it('finds undocumented properties wherever they are nested, and accepts a $ref to a documented definition', () => {
    const bare = { type: 'string' };
    const audit = docsAudit({
      type: 'object',
      properties: {
        top: bare,
        ok: { type: 'string', description: 'documented' },
        viaRef: { $ref: '#/$defs/Doc' },
        list: { description: 'a list', type: 'array', items: { type: 'object', properties: { inItems: bare } } },
        tuple: { description: 'a tuple', type: 'array', items: [{ type: 'object', properties: { inTuple: bare } }] },
        map: {
          description: 'a map',
          type: 'object',
          additionalProperties: { type: 'object', description: 'a value', properties: { inMap: bare } },
        },
        any: {
          description: 'anyOf',
          anyOf: [{ type: 'string' }, { type: 'object', description: 'branch', properties: { inAnyOf: bare } }],
        },
        one: { description: 'oneOf', oneOf: [{ type: 'object', properties: { inOneOf: bare } }] },
        all: { description: 'allOf', allOf: [{ properties: { inAllOf: bare } }] },
        blank: { type: 'string', description: '  ' },
      },
      $defs: {
        Doc: { type: 'string', description: 'from the definition' },
        Other: { type: 'object', properties: { inDefs: bare } },
      },
      definitions: { Old: { type: 'object', properties: { inDefinitions: bare } } },
    });
    expect(audit.missing).toEqual([
      '/properties/top',
      '/properties/list/items/properties/inItems',
      '/properties/tuple/items/0/properties/inTuple',
      '/properties/map/additionalProperties/properties/inMap',
      '/properties/any/anyOf/1/properties/inAnyOf',
      '/properties/one/oneOf/0/properties/inOneOf',
      '/properties/all/allOf/0/properties/inAllOf',
      '/properties/blank',
      '/$defs/Other/properties/inDefs',
      '/definitions/Old/properties/inDefinitions',
    ]);
    expect(audit.undescribedKinds).toEqual(['/properties/one/oneOf/0']);
  });

  it('every property of the flow schema, at any depth, has a description (add .describe() in src/conversation/schema.ts)', () => {
    const audit = docsAudit(flowSchema());
    // The walk reaches into steps (a record of a discriminated union) and answer kinds, not just the top level.
    expect(audit.properties.length).toBeGreaterThan(80);
    expect(audit.properties).toContain(
      '/properties/steps/additionalProperties/oneOf/1/properties/input/oneOf/5/properties/maxLength',
    );
    expect(audit.missing).toEqual([]);
  });

  it('every kind of step and of answer has its own description, on the kind and on its type or kind key, and step kinds a title', () => {
    const schema = flowSchema();
    expect(docsAudit(schema).undescribedKinds).toEqual([]);
    const props = (s: Schema) => s.properties as Record<string, Schema>;
    const steps = (schema.properties as Record<string, Schema>).steps?.additionalProperties as Schema;
    const kinds = (steps.oneOf as Schema[]).map((k) => ({ type: props(k).type?.const, title: k.title }));
    expect(kinds).toEqual(['menu', 'ask', 'say', 'action', 'end'].map((type) => ({ type, title: `${type} step` })));
    // Hovering `type: menu` or `kind: date` must tell as much as hovering the step or the input.
    for (const k of steps.oneOf as Schema[]) expect(props(k).type?.description).toBe(k.description);
    const ask = (steps.oneOf as Schema[])[1] as Schema;
    const inputs = props(ask).input?.oneOf as Schema[];
    expect(inputs.map((k) => props(k).kind?.const)).toEqual(['number', 'date', 'yesno', 'choice', 'phone', 'text']);
    for (const k of inputs) expect(props(k).kind?.description).toBe(k.description);
  });

  it('says what editors most need to know: units, channel limits and examples', () => {
    const schema = flowSchema();
    const text = (pointer: string) => String(resolveRef(schema, `#${pointer}`)?.description ?? '');
    const menu = '/properties/steps/additionalProperties/oneOf/0';
    expect(text(`${menu}/properties/timeout`)).toMatch(/SMS only.*Ignored on USSD/);
    expect(text(`${menu}/properties/timeout/properties/after`)).toMatch(/24h/);
    expect(text(`${menu}/properties/type`)).toMatch(/98 more, 0 back, 00 main menu.*160 characters/);
    expect(text(`${menu}/properties/text`)).toMatch(/demo\.welcome/);
    expect(text('/properties/entry/properties/role')).toMatch(/any \(default\)/);
    expect(text('/properties/session/properties/ttl')).toMatch(/3d.*USSD sessions always last 180 s/);
  });
});
