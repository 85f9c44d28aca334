/**
 * `{name}` templates in flow params: `{age}` is a variable, `{data.caseWorker.name}` runner data,
 * `{item.childName}` the list item of a dynamic menu option. A template that is exactly one
 * reference keeps the value's type (a number stays a number for ICU plurals).
 */
export interface TemplateScope {
  vars: Readonly<Record<string, unknown>>;
  data: Readonly<Record<string, unknown>>;
  item?: unknown;
}

const ONE_REF = /^\{([a-zA-Z_$][\w$]*(?:\.[\w$]+)*)\}$/;
const ANY_REF = /\{([a-zA-Z_$][\w$]*(?:\.[\w$]+)*)\}/g;

/** Look a dotted path up in the scope: `data.x.y`, `item.name`, or a variable. */
export function lookup(ref: string, scope: TemplateScope): unknown {
  const [head, ...rest] = ref.split('.');
  let cur: unknown = head === 'data' ? scope.data : head === 'item' ? scope.item : scope.vars[head ?? ''];
  for (const seg of rest) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** Resolve one template value. `resolveTemplate('{age}', { vars: { age: 9 }, data: {} })` -> `9`. */
export function resolveTemplate(tpl: unknown, scope: TemplateScope): unknown {
  if (typeof tpl !== 'string') return tpl;
  const one = ONE_REF.exec(tpl);
  if (one) return lookup(one[1] ?? '', scope);
  return tpl.replace(ANY_REF, (_m, ref: string) => {
    const v = lookup(ref, scope);
    return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

/** Resolve every template inside a (JSON-like) value. */
export function resolveDeep(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') return resolveTemplate(value, scope);
  if (Array.isArray(value)) return value.map((v) => resolveDeep(v, scope));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveDeep(v, scope);
    return out;
  }
  return value;
}

/** The references a value mentions (for the checker): `'{age} / {data.x}'` -> `['age', 'data.x']`. */
export function templateRefs(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(ANY_REF)].map((m) => m[1] ?? '');
  if (Array.isArray(value)) return value.flatMap(templateRefs);
  if (value && typeof value === 'object') return Object.values(value).flatMap(templateRefs);
  return [];
}
