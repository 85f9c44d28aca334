/**
 * The DHIS2 `fields` filter (docs/dhis2.md#reading-the-tracker-export-endpoints): a comma list with nesting `a[b,c]`,
 * `*` (or `:all`) for
 * every field and `!x` to drop one. Renderers ask a selector which keys to build, so nested objects
 * that were not asked for (a tracked entity's enrollments) are never computed.
 */

export interface FieldSpec {
  all: boolean;
  named: Map<string, string | undefined>;
  excluded: Set<string>;
}

/** Split at top-level commas (commas inside brackets belong to a nested list). */
function splitTopLevel(spec: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of spec) {
    if (ch === '[' || ch === '(') depth++;
    if (ch === ']' || ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

function parseSpec(spec: string): FieldSpec {
  const out: FieldSpec = { all: false, named: new Map(), excluded: new Set() };
  for (const item of splitTopLevel(spec)) {
    if (item === '*' || item === ':all') {
      out.all = true;
      continue;
    }
    if (item.startsWith('!')) {
      out.excluded.add(item.slice(1));
      continue;
    }
    const open = item.search(/[[(]/);
    if (open === -1) out.named.set(item, out.named.get(item));
    else out.named.set(item.slice(0, open), item.slice(open + 1, item.length - 1));
  }
  return out;
}

// Selectors are immutable, so parsed specs are shared: rendering 100 000 events parses `*` once.
const cache = new Map<string, FieldSelector>();

function cached(spec: string): FieldSelector {
  let sel = cache.get(spec);
  if (!sel) {
    if (cache.size > 1000) cache.clear();
    sel = new FieldSelector(parseSpec(spec));
    cache.set(spec, sel);
  }
  return sel;
}

export class FieldSelector {
  private readonly spec: FieldSpec;
  constructor(spec: FieldSpec) {
    this.spec = spec;
  }

  /** The selector for a request: its `fields` parameter, or the endpoint's default set when absent. */
  static parse(fields: string | null | undefined, defaults: string): FieldSelector {
    return cached(fields && fields.trim() ? fields : defaults);
  }

  includes(key: string): boolean {
    if (this.spec.excluded.has(key)) return false;
    return this.spec.all || this.spec.named.has(key);
  }

  /**
   * The selector for a nested object. `a[b,c]` gives `b,c`; a bare `a` (or `*`) gives `fallback`: every
   * field for tracker objects, `id` for metadata references (DHIS2 renders references as `{id}`).
   */
  child(key: string, fallback = '*'): FieldSelector {
    const nested = this.spec.named.get(key);
    return cached(nested && nested.trim() ? nested : fallback);
  }
}

/** How to compute each output field of one object type; `child` gives the selector for nested values. */
export type FieldTable<T, C> = Record<string, (obj: T, ctx: C, child: () => FieldSelector) => unknown>;

/**
 * Build an object from the fields the selector includes, computing only those, omitting null/undefined
 * values (DHIS2 omits nulls from all JSON). Keys in `refs` are metadata references: bare, they render as `{id}`.
 */
export function pick<T, C>(
  sel: FieldSelector,
  table: FieldTable<T, C>,
  obj: T,
  ctx: C,
  refs?: ReadonlySet<string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in table) {
    if (!sel.includes(key)) continue;
    const value = table[key]!(obj, ctx, () => sel.child(key, refs?.has(key) ? 'id' : '*'));
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}
