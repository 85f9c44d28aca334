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
  .regex(
    /^[a-z][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)+$/,
    'a text is a dotted locale key such as demo.welcome, never literal text',
  );

export const varNameSchema = z.string().regex(/^[a-z][a-zA-Z0-9_]*$/, 'a variable name is a lower-case identifier');

/** Registry names: `demo.record`, `date.notPast`, `caregiver`. */
export const registryNameSchema = z
  .string()
  .regex(/^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9_]+)*$/, 'a registry name looks like demo.record');

/** `30s`, `15m`, `48h`, `3d`. */
export const durationSchema = z.string().regex(/^\d+(s|m|h|d)$/, 'a duration looks like 30s, 15m, 48h or 3d');

const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/*
 * Every field and every kind of step carries a `.describe()`: it is the hover help and completion
 * text editors show from `schemas/flow.schema.json`, and a test fails when a field has none. The
 * shared building blocks above (step ids, locale keys, names, durations) stay undescribed on purpose,
 * so each field says what it means where it is used. Descriptions never change what is accepted.
 */

/** ICU parameters of a text: parameter name -> template (`'{age}'`, `'{data.worker.name}'`) or a literal. */
export const paramsSchema = z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), scalarSchema);

/** The `params` of a text, with its help (`of` names the text: "text", "the label"). */
const textParams = (of: string) =>
  paramsSchema
    .optional()
    .describe(
      `ICU parameters of ${of}: name -> template or literal, e.g. { age: '{age}', name: '{data.caseWorker.worker.first}' }; every {parameter} the translation uses must be given. ` +
        '{var} is a saved variable, {data.name.field} data the flow declares; a template that is exactly one reference keeps its type (a number for plurals).',
    );

/**
 * A named registry entry, optionally with static parameters. Its branches carry no description: an
 * editor shows a matching branch's description instead of the field's, and the field says it all.
 */
export const namedRefSchema = z.union([
  registryNameSchema,
  z.strictObject({
    name: registryNameSchema.describe('Registry name, e.g. date.within.'),
    params: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Static parameters passed as they are (not templates), e.g. { days: 14 }.'),
  }),
]);

export const whenSchema = z
  .union([
    z
      .strictObject({
        guard: registryNameSchema.describe(
          'A guard from the registry: var.isSet, data.has, channel.is, or one the deployment adds (caregiver.status…). An unknown name is an error.',
        ),
        params: z
          .record(z.string(), z.unknown())
          .optional()
          .describe(
            'Static parameters for the guard (not templates), e.g. { var: phone } for var.isSet, { name: caregiver } for data.has, { channel: sms } for channel.is.',
          ),
      })
      .describe('True when the registry guard says so, e.g. { guard: caregiver.status, params: { is: missed } }.'),
    z
      .strictObject({
        var: varNameSchema.describe('A variable some step saves (save:) or an action sets.'),
        equals: scalarSchema.describe(
          'Strict comparison: yes/no answers are true/false, menu choices without value are numbers (1, 2…), so false is not "false" and 1 is not "1".',
        ),
      })
      .describe('True when the variable equals a value, e.g. { var: card, equals: false }.'),
    z
      .strictObject({
        var: varNameSchema.describe('A variable some step saves (save:) or an action sets.'),
        in: z.array(scalarSchema).min(1).describe('At least one value; strict comparison, as for equals. E.g. [1, 2].'),
      })
      .describe('True when the variable is one of the values, e.g. { var: choice, in: [1, 2] }.'),
  ])
  .describe('The condition: a registry guard ({ guard }), or a test of a variable ({ var, equals } or { var, in }).');

export const branchSchema = z
  .strictObject({
    when: whenSchema,
    next: stepIdSchema.describe('The step to go to when the condition holds.'),
  })
  .describe('When the condition (when) holds, go to next.');

/** Help for a step's `branches`: `after` says when they are tried. */
const branchesOf = (after: string) =>
  z
    .array(branchSchema)
    .optional()
    .describe(
      `Conditional next steps, tried in order ${after}: the first whose when holds is taken, otherwise next (which is then required). ` +
        'E.g. [{ when: { var: card, equals: false }, next: no_card }].',
    );

export const timeoutSchema = z
  .strictObject({
    after: durationSchema.describe(
      'How long to wait for a reply: a number and s, m, h or d, e.g. 30m, 24h, 3d. Must be shorter than session.ttl.',
    ),
    next: stepIdSchema.describe('The step to go to when no reply came; what it says is sent as an SMS.'),
  })
  .describe(
    'SMS only: when no reply comes within after, go to next (a durable timer; leaving the step cancels it). Ignored on USSD, whose sessions last 180 s. E.g. { after: 24h, next: no_reply }.',
  );

export const menuOptionSchema = z
  .strictObject({
    label: localeKeySchema.describe('Locale key of the option text, e.g. demo.menu.facts; shown as "1. <text>".'),
    params: textParams('the label'),
    value: scalarSchema
      .optional()
      .describe(
        "Saved in the menu's save variable when chosen: a string, number, true/false or null. Default: the option's number (1, 2…).",
      ),
    next: stepIdSchema
      .optional()
      .describe("The step to go to when chosen; default: the menu's next. Wins over the menu's branches."),
  })
  .describe('One numbered choice.');

export const optionsFromSchema = z
  .strictObject({
    data: z
      .string()
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)*$/)
      .describe(
        'The list to offer: a data name the flow declares in data, or a dotted path into it, e.g. caregiver.children. Anything but a list counts as empty.',
      ),
    label: localeKeySchema.describe(
      "Locale key of each option's text, e.g. caregiver.child.option; its parameters come from params.",
    ),
    params: paramsSchema
      .optional()
      .describe(
        "ICU parameters of label for each item: {item.field} is a field of the list item, e.g. { name: '{item.name}', date: '{item.scheduledAt}' }; variables and {data…} work too.",
      ),
    value: z
      .string()
      .optional()
      .describe(
        "What the menu's save variable gets for the chosen item: a template, e.g. '{item.trackedEntity}'. Default: the whole item.",
      ),
    single: z
      .enum(['ask', 'auto'])
      .default('ask')
      .describe(
        'With exactly one item: ask (default) still shows the menu; auto chooses it without asking and goes on to next.',
      ),
    empty: stepIdSchema
      .optional()
      .describe(
        'The step to go to when the list is empty. Without it an empty list ends the conversation with system.nothing.',
      ),
    max: z
      .number()
      .int()
      .min(1)
      .max(97)
      .default(30)
      .describe('At most this many items are offered, the first ones of the list (1-97, default 30).'),
  })
  .describe(
    "Options built from a list in the runner's data, fixed when the menu is shown so a number always means what the person saw. The menu then needs next. E.g. { data: caregiver.children, label: caregiver.child.option, params: { name: '{item.name}' } }.",
  );

/** Each kind's help goes on its `type` and on the step: editors show the first on `type:`, the second on the step's key. */
const MENU_STEP =
  "menu: numbered choices. USSD: a long menu pages by itself (98 more, 0 back, 00 main menu), each screen at most 160 characters. SMS: the whole numbered list in one message; people may also answer with an option's words. Has options or optionsFrom, not both.";
export const menuStepSchema = z
  .strictObject({
    type: z.literal('menu').describe(MENU_STEP),
    text: localeKeySchema.describe(
      "Locale key of the menu title, e.g. demo.welcome. On USSD each page (title, options, 98/0/00 lines) must fit 160 characters in every language; after an invalid choice a short hint takes the title's place.",
    ),
    params: textParams('text'),
    branches: branchesOf("after the choice is saved (an option's own next wins)"),
    options: z
      .array(menuOptionSchema)
      .min(1)
      .max(97)
      .optional()
      .describe('Fixed choices, numbered 1, 2… in this order (1-97). Exactly one of options and optionsFrom.'),
    optionsFrom: optionsFromSchema.optional(),
    save: varNameSchema
      .optional()
      .describe(
        "Variable that keeps the choice (the option's value, its number, or the optionsFrom value), e.g. choice; later texts use it as {choice}, branches as var: choice.",
      ),
    next: stepIdSchema
      .optional()
      .describe('Default next step, for options without their own next; required with optionsFrom or branches.'),
    timeout: timeoutSchema.optional(),
  })
  .meta({
    title: 'menu step',
    description: MENU_STEP,
  });

/** Each kind's help goes on its `kind` and on the input, as for steps. */
const NUMBER_INPUT =
  'number: from min to max, e.g. { kind: number, min: 0, max: 60 }. Spaces are ignored and a comma is a decimal point; on USSD 00 is an answer here, not the main menu.';
const DATE_INPUT =
  'date: 25122025 (the USSD keypad has no /), 25/12/2025, 25-12-25, 25/12 (the year nearest today) or a words.today/tomorrow/yesterday word of any language. Saved as YYYY-MM-DD.';
const YESNO_INPUT =
  'yesno: shown as 1. Yes / 2. No (answer.yes, answer.no); 1, 2 or a words.yes/words.no word of any language. Saved as true or false.';
const CHOICE_INPUT =
  "choice: one of 1-9 choices listed under the question, answered by number or by its words; saves the choice's value. Unlike a menu: no paging and no next per choice (use branches).";
const PHONE_INPUT =
  'phone: a phone number, saved in E.164 form (+254712345678); on USSD 00 is an answer here, not the main menu.';
const TEXT_INPUT =
  "text: free text, spaces collapsed, e.g. { kind: text, maxLength: 30 }. Keep it short and never rely on * (USSD joins inputs with *). On SMS another flow's entry keyword is an answer here, not a new conversation.";

export const inputSchema = z
  .discriminatedUnion('kind', [
    // A range is required: it is what the re-prompt hint tells the person.
    z
      .strictObject({
        kind: z.literal('number').describe(NUMBER_INPUT),
        min: z
          .number()
          .describe('Smallest accepted value (inclusive); the default hint invalid.number shows it as {min}.'),
        max: z
          .number()
          .describe('Largest accepted value (inclusive), not below min; the default hint shows it as {max}.'),
        integer: z
          .boolean()
          .default(true)
          .describe('true (default): whole numbers only; false: decimals too (2.5 or 2,5).'),
      })
      .describe(NUMBER_INPUT),
    z.strictObject({ kind: z.literal('date').describe(DATE_INPUT) }).describe(DATE_INPUT),
    z.strictObject({ kind: z.literal('yesno').describe(YESNO_INPUT) }).describe(YESNO_INPUT),
    z
      .strictObject({
        kind: z.literal('choice').describe(CHOICE_INPUT),
        options: z
          .array(
            z
              .strictObject({
                value: scalarSchema.describe(
                  'Saved when this choice is taken (string, number, true/false or null); typing it as a word also chooses it.',
                ),
                label: localeKeySchema.describe('Locale key of the choice text, e.g. caregiver.aefi.fever.'),
              })
              .describe('One listed choice.'),
          )
          .min(1)
          .max(9)
          .describe('1-9 choices, listed under the question as 1. …, 2. …'),
      })
      .describe(CHOICE_INPUT),
    z
      .strictObject({
        kind: z.literal('phone').describe(PHONE_INPUT),
        country: z
          .string()
          .length(2)
          .optional()
          .describe(
            "Two-letter country for numbers typed without + or 00, e.g. KE. Default: the deployment's country.",
          ),
      })
      .describe(PHONE_INPUT),
    // USSD joins inputs with `*`, so free text is kept short and must not rely on `*`.
    z
      .strictObject({
        kind: z.literal('text').describe(TEXT_INPUT),
        maxLength: z
          .number()
          .int()
          .min(1)
          .max(160)
          .describe('Most characters accepted (1-160); the default hint invalid.text shows it as {max}.'),
        minLength: z.number().int().min(1).default(1).describe('Fewest characters accepted (default 1).'),
      })
      .describe(TEXT_INPUT),
  ])
  .describe('The answer expected, by kind: number, date, yesno, choice, phone or text.');

const ASK_STEP =
  'ask: a question with a typed answer (number, date, yes/no, choice, phone, text), parsed and saved in save. An invalid answer is asked again with a hint; after maxInvalid of them in a row the conversation ends.';
export const askStepSchema = z
  .strictObject({
    type: z.literal('ask').describe(ASK_STEP),
    text: localeKeySchema.describe(
      'Locale key of the question, e.g. demo.ask.age. On USSD it must fit 160 characters in every language with its answer lines and the longest hint.',
    ),
    params: textParams('text'),
    branches: branchesOf('after the answer is saved'),
    input: inputSchema,
    save: varNameSchema.describe(
      'Variable that keeps the parsed answer (a number, YYYY-MM-DD, true/false, the choice value, E.164 or text), e.g. age; later texts use it as {age}.',
    ),
    next: stepIdSchema.describe('The step after a valid answer (unless a branch is taken).'),
    hint: localeKeySchema
      .optional()
      .describe(
        "Locale key shown above the question after an invalid answer, e.g. demo.ask.age_hint. Replaces both the kind's default (invalid.number, invalid.date…) and the validator's hint.",
      ),
    validator: namedRefSchema
      .optional()
      .describe(
        'An extra check of the parsed answer, by registry name: date.notPast, date.notFuture, { name: date.within, params: { days: 14 } }, or one the deployment adds. It must handle the input kind; a refused answer is re-asked with its hint.',
      ),
    timeout: timeoutSchema.optional(),
  })
  .meta({
    title: 'ask step',
    description: ASK_STEP,
  });

const SAY_STEP =
  'say: information, then on to next. USSD shows it with 1. Continue (any answer continues, 00 main menu); SMS puts it in the same message as what follows. 0 Back never returns to a say.';
export const sayStepSchema = z
  .strictObject({
    type: z.literal('say').describe(SAY_STEP),
    text: localeKeySchema.describe(
      'Locale key of the information, e.g. demo.fact.bcg. On USSD it must fit 160 characters with the 1. Continue line in every language.',
    ),
    params: textParams('text'),
    branches: branchesOf('when the person continues (USSD) or at once (SMS)'),
    next: stepIdSchema.describe('The step that follows (unless a branch is taken).'),
  })
  .meta({
    title: 'say step',
    description: SAY_STEP,
  });

const ACTION_STEP =
  'action: runs a named registry action, with effects (an SMS, a DHIS2 write, a timer, a contact change) and/or variables, then goes on at once without waiting. Actions alone must not loop: put a menu or ask in any loop.';
export const actionStepSchema = z
  .strictObject({
    type: z.literal('action').describe(ACTION_STEP),
    action: registryNameSchema.describe(
      'Registry name of the action, e.g. vars.set, contact.setLocale, demo.record, caregiver.confirm. An unknown name is an error that lists the known ones.',
    ),
    params: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "Parameters for the action, any YAML values; templates in strings are resolved first, e.g. { age: '{age}', visit: '{visit}' }. vars.set sets each one as a variable.",
      ),
    branches: branchesOf('after the action ran (they see the variables it set)'),
    next: stepIdSchema.describe('The step that follows (unless a branch is taken).'),
  })
  .meta({
    title: 'action step',
    description: ACTION_STEP,
  });

const END_STEP = 'end: the last words; the conversation is over. Every step must be able to reach one.';
export const endStepSchema = z
  .strictObject({
    type: z.literal('end').describe(END_STEP),
    text: localeKeySchema
      .optional()
      .describe(
        'Locale key of the last words, e.g. demo.done (default: system.goodbye). On USSD at most 160 characters.',
      ),
    params: textParams('text'),
  })
  .meta({
    title: 'end step',
    description: END_STEP,
  });

export const stepSchema = z
  .discriminatedUnion('type', [menuStepSchema, askStepSchema, sayStepSchema, actionStepSchema, endStepSchema])
  .describe('A step, by type: menu, ask, say, action or end.');

export const entrySchema = z
  .strictObject({
    ussd: z
      .union([z.literal(true), z.array(z.string().regex(/^\*[0-9*]+#$/, 'a USSD code looks like *384*12#')).min(1)])
      .optional()
      .describe(
        "USSD service codes that open this flow, e.g. ['*384*12#'], or true for any code. Needs ussd in channels.",
      ),
    sms: z
      .union([
        z.boolean(),
        z
          .strictObject({
            keywords: localeKeySchema.describe(
              'Locale key of a word list (a YAML list in locales/<lang>/*.yaml), e.g. caregiver.keywords.reaction; the whole message must be one of its words, in any language.',
            ),
          })
          .describe(
            'Only an SMS that is one of the keywords; such a keyword also starts this flow in the middle of another conversation, except on a free-text question.',
          ),
      ])
      .optional()
      .describe(
        'true: any SMS with no conversation in progress may start this flow; { keywords: key }: only one of those words; false or omitted: never an SMS. Needs sms in channels.',
      ),
    role: registryNameSchema
      .default('any')
      .describe(
        'Who may enter: any (default) or a registry role decided from data the runner loads, e.g. caregiver, caseWorker.',
      ),
    priority: z
      .number()
      .int()
      .default(0)
      .describe(
        'Tie-breaker among flows a new conversation could start (integer, default 0, higher wins). A keyword match comes first, then a specific role over any, then priority, then the id.',
      ),
  })
  .describe(
    'How a new conversation lands here (no conversation in progress). Omit it for a flow only the gateway starts, such as a reminder.',
  );

export const flowFileSchema = z
  .strictObject({
    $schema: z
      .string()
      .optional()
      .describe(
        'For editors only; the gateway ignores it. The shipped flows name their schema in the first-line comment # yaml-language-server: $schema=../schemas/flow.schema.json instead.',
      ),
    id: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/, 'a flow id is lower-case letters, digits, _ or -')
      .describe(
        'Unique flow id: lower-case letters, digits, _ or -, starting with a letter, e.g. caregiver-main. Name the file after it (flows/<id>.yaml).',
      ),
    version: z
      .number()
      .int()
      .min(1)
      .describe(
        'Whole number from 1; bump it on an incompatible change (steps renamed or removed, answers saved differently). A session finishes on the version it started on while the gateway keeps it (a few recent ones); after that, a bumped version restarts it politely (system.updated), an unchanged one lets it go on in the edited flow.',
      ),
    description: z.string().optional().describe('A note for admins; people never see it.'),
    channels: z
      .array(z.enum(['ussd', 'sms']))
      .min(1)
      .describe(
        'Where the flow runs: [ussd], [sms] or [ussd, sms]. USSD screens are checked against 160 characters only with ussd, SMS lengths only with sms.',
      ),
    entry: entrySchema.optional(),
    data: z
      .array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/))
      .default([])
      .describe(
        'Data the runner loads before each turn, by read-model name, e.g. [caregiver]; templates read it as {data.caregiver…} and optionsFrom lists from it. A name the runner does not provide is an error. Default [].',
      ),
    session: z
      .strictObject({
        ttl: durationSchema
          .default('3d')
          .describe(
            'SMS: how long a conversation waits for a reply before it is forgotten, counted from the last message: 30s, 15m, 48h, 3d (default 3d). Every timeout.after must be shorter. USSD sessions always last 180 s.',
          ),
      })
      .default({ ttl: '3d' })
      .describe('How long a conversation is kept.'),
    maxInvalid: z
      .number()
      .int()
      .min(1)
      .max(9)
      .default(3)
      .describe(
        'How many times one step asks again after an invalid answer (1-9, default 3); one more invalid answer ends the conversation with system.too_many_invalid.',
      ),
    start: stepIdSchema.describe('Id of the first step; 00 (main menu, USSD) also returns here.'),
    steps: z
      .record(stepIdSchema, stepSchema)
      .describe(
        'The steps by id: a lower-case identifier without __, e.g. ask_age. Each has a type: menu, ask, say, action or end; all must be reachable from start and able to reach an end.',
      ),
  })
  .superRefine((flow, ctx) => {
    for (const [id, step] of Object.entries(flow.steps)) {
      if (step.type !== 'menu') continue;
      if (!step.options === !step.optionsFrom) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', id],
          message: 'a menu has either options or optionsFrom, not both and not neither',
        });
      }
      if (step.options && !step.next) {
        step.options.forEach((o, i) => {
          if (!o.next)
            ctx.addIssue({
              code: 'custom',
              path: ['steps', id, 'options', i],
              message: 'this option has no next and the menu has no default next',
            });
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
