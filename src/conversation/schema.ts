import { z } from 'zod';

/**
 * The flow file format (`flows/*.yaml`). Strict objects everywhere: a misspelt key (`nxt:`) is an
 * error with a line number, not a silently ignored field. The JSON Schema for editors is generated
 * from this with `z.toJSONSchema(flowFileSchema)`.
 */

/** Step ids: identifiers without `__`, which the compiler reserves for its own states. */
export const stepIdSchema = z
  .string()
  .regex(/^[a-z][a-zA-Z0-9_]*$/, 'a step id is a lower-case identifier (letters, digits, _)')
  .refine((s) => !s.includes('__'), 'a step id may not contain "__" (reserved)');

/** Locale keys are dotted paths into `locales/<lang>/*.yaml`, never literal text. */
export const localeKeySchema = z
  .string()
  .regex(/^[a-z][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)+$/, 'a text is a dotted locale key such as demo.welcome, never literal text');

export const varNameSchema = z.string().regex(/^[a-z][a-zA-Z0-9_]*$/, 'a variable name is a lower-case identifier');

/** Registry names: `demo.record`, `date.notPast`, `caregiver`. */
export const registryNameSchema = z.string().regex(/^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9_]+)*$/, 'a registry name looks like demo.record');

/** `30s`, `15m`, `48h`, `3d`. */
export const durationSchema = z.string().regex(/^\d+(s|m|h|d)$/, 'a duration looks like 30s, 15m, 48h or 3d');

const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** ICU parameters of a text: parameter name -> template (`'{age}'`, `'{data.worker.name}'`) or a literal. */
export const paramsSchema = z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), scalarSchema);

/** A named registry entry, optionally with static parameters. */
export const namedRefSchema = z.union([
  registryNameSchema,
  z.strictObject({ name: registryNameSchema, params: z.record(z.string(), z.unknown()).optional() }),
]);

export const whenSchema = z.union([
  z.strictObject({ guard: registryNameSchema, params: z.record(z.string(), z.unknown()).optional() }),
  z.strictObject({ var: varNameSchema, equals: scalarSchema }),
  z.strictObject({ var: varNameSchema, in: z.array(scalarSchema).min(1) }),
]);

export const branchSchema = z.strictObject({ when: whenSchema, next: stepIdSchema });

export const timeoutSchema = z.strictObject({ after: durationSchema, next: stepIdSchema });

const common = {
  text: localeKeySchema,
  params: paramsSchema.optional(),
  branches: z.array(branchSchema).optional(),
};

export const menuOptionSchema = z.strictObject({
  label: localeKeySchema,
  params: paramsSchema.optional(),
  /** Saved into the step's `save` variable when chosen (default: the option's 1-based number). */
  value: scalarSchema.optional(),
  next: stepIdSchema.optional(),
});

export const optionsFromSchema = z.strictObject({
  /** A data name the runner provides (declared in the flow's `data`); must be a list. */
  data: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)*$/),
  label: localeKeySchema,
  /** Templates may use `{item.field}` for the list item. */
  params: paramsSchema.optional(),
  /** What to save: a template over `item` (default: the whole item). */
  value: z.string().optional(),
  /** With exactly one item, `auto` picks it without asking. */
  single: z.enum(['ask', 'auto']).default('ask'),
  /** Where to go when the list is empty (without it an empty list ends the flow with `system.nothing`). */
  empty: stepIdSchema.optional(),
  /** At most this many items are offered (USSD menus stay short). */
  max: z.number().int().min(1).max(97).default(30),
});

export const menuStepSchema = z.strictObject({
  type: z.literal('menu'),
  ...common,
  options: z.array(menuOptionSchema).min(1).max(97).optional(),
  optionsFrom: optionsFromSchema.optional(),
  save: varNameSchema.optional(),
  next: stepIdSchema.optional(),
  timeout: timeoutSchema.optional(),
});

export const inputSchema = z.discriminatedUnion('kind', [
  // A range is required: it is what the re-prompt hint tells the person.
  z.strictObject({ kind: z.literal('number'), min: z.number(), max: z.number(), integer: z.boolean().default(true) }),
  z.strictObject({ kind: z.literal('date') }),
  z.strictObject({ kind: z.literal('yesno') }),
  z.strictObject({
    kind: z.literal('choice'),
    options: z.array(z.strictObject({ value: scalarSchema, label: localeKeySchema })).min(1).max(9),
  }),
  z.strictObject({ kind: z.literal('phone'), country: z.string().length(2).optional() }),
  // USSD joins inputs with `*`, so free text is kept short and must not rely on `*`.
  z.strictObject({ kind: z.literal('text'), maxLength: z.number().int().min(1).max(160), minLength: z.number().int().min(1).default(1) }),
]);

export const askStepSchema = z.strictObject({
  type: z.literal('ask'),
  ...common,
  input: inputSchema,
  save: varNameSchema,
  next: stepIdSchema,
  /** Shown above the prompt after an invalid answer (default: a hint for the input kind). */
  hint: localeKeySchema.optional(),
  validator: namedRefSchema.optional(),
  timeout: timeoutSchema.optional(),
});

export const sayStepSchema = z.strictObject({
  type: z.literal('say'),
  ...common,
  next: stepIdSchema,
});

export const actionStepSchema = z.strictObject({
  type: z.literal('action'),
  action: registryNameSchema,
  /** Templates (`'{age}'`) are resolved against variables before the action runs. */
  params: z.record(z.string(), z.unknown()).optional(),
  branches: z.array(branchSchema).optional(),
  next: stepIdSchema,
});

export const endStepSchema = z.strictObject({
  type: z.literal('end'),
  text: localeKeySchema.optional(),
  params: paramsSchema.optional(),
});

export const stepSchema = z.discriminatedUnion('type', [menuStepSchema, askStepSchema, sayStepSchema, actionStepSchema, endStepSchema]);

export const entrySchema = z.strictObject({
  /** USSD service codes that open this flow, or `true` for any code. */
  ussd: z.union([z.literal(true), z.array(z.string().regex(/^\*[0-9*]+#$/, 'a USSD code looks like *384*12#')).min(1)]).optional(),
  /**
   * `true`: an unsolicited SMS with no conversation in progress lands here.
   * `{ keywords: key }`: only an SMS whose whole text is one of that locale key's words (any locale).
   */
  sms: z.union([z.boolean(), z.strictObject({ keywords: localeKeySchema })]).optional(),
  /** Who may enter: `any`, or a role the registry recognises from runner-provided data. */
  role: registryNameSchema.default('any'),
  /** Among several candidates for a new conversation the highest priority wins. */
  priority: z.number().int().default(0),
});

export const flowFileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    id: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'a flow id is lower-case letters, digits, _ or -'),
    /** Bump on an incompatible change: sessions on an older major version are restarted politely. */
    version: z.number().int().min(1),
    description: z.string().optional(),
    channels: z.array(z.enum(['ussd', 'sms'])).min(1),
    entry: entrySchema.optional(),
    /** Data the runner must load for this flow (read model names, e.g. appointments). */
    data: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)).default([]),
    /** SMS conversations wait this long for a reply (USSD sessions always last 180 s). */
    session: z.strictObject({ ttl: durationSchema.default('3d') }).default({ ttl: '3d' }),
    maxInvalid: z.number().int().min(1).max(9).default(3),
    start: stepIdSchema,
    steps: z.record(stepIdSchema, stepSchema),
  })
  .superRefine((flow, ctx) => {
    for (const [id, step] of Object.entries(flow.steps)) {
      if (step.type !== 'menu') continue;
      if (!step.options === !step.optionsFrom) {
        ctx.addIssue({ code: 'custom', path: ['steps', id], message: 'a menu has either options or optionsFrom, not both and not neither' });
      }
      if (step.options && !step.next) {
        step.options.forEach((o, i) => {
          if (!o.next) ctx.addIssue({ code: 'custom', path: ['steps', id, 'options', i], message: 'this option has no next and the menu has no default next' });
        });
      }
      if (step.optionsFrom && !step.next) {
        ctx.addIssue({ code: 'custom', path: ['steps', id], message: 'a menu with optionsFrom needs a next step' });
      }
    }
  });

export type FlowFile = z.infer<typeof flowFileSchema>;
export type Step = z.infer<typeof stepSchema>;
export type MenuStep = z.infer<typeof menuStepSchema>;
export type AskStep = z.infer<typeof askStepSchema>;
export type SayStep = z.infer<typeof sayStepSchema>;
export type ActionStep = z.infer<typeof actionStepSchema>;
export type EndStep = z.infer<typeof endStepSchema>;
export type InputSpec = z.infer<typeof inputSchema>;
export type Branch = z.infer<typeof branchSchema>;
export type When = z.infer<typeof whenSchema>;
export type NamedRef = z.infer<typeof namedRefSchema>;
export type Params = z.infer<typeof paramsSchema>;
export type Entry = z.infer<typeof entrySchema>;

/** `48h` -> milliseconds. */
export function durationMs(d: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** Split a `namedRefSchema` value into name and params. */
export function refName(ref: NamedRef): { name: string; params: Record<string, unknown> } {
  return typeof ref === 'string' ? { name: ref, params: {} } : { name: ref.name, params: ref.params ?? {} };
}
