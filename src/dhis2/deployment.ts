import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';
import { JibuError } from '../errors.ts';
import { UID_PATTERN } from './uid.ts';
import { isTimeZone } from './readmodel/calendar.ts';

/**
 * The deployment file (`JIBU_CONFIG`, YAML): which DHIS2 metadata plays which role, and the programme's
 * rules for reminders, rescheduling and outcomes. Every field has a default taken from the public WHO
 * EIR and Vital Events packages (reference §10), so a country on the standard packages needs no file.
 * The schema is exported so `z.toJSONSchema(DeploymentSchema)` can feed editors.
 */

const Uid = z
  .string()
  .regex(UID_PATTERN, { error: 'must be a DHIS2 UID: 11 letters or digits, starting with a letter' });

const hhmm = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be a time of day as HH:MM (24-hour), e.g. 08:00' });

/**
 * The languages Jibu ships texts in. The staff language is one of them: what Jibu writes into DHIS2
 * (notes, text data values) and its alerts to staff are read by programme staff, not by caregivers.
 */
export const STAFF_LOCALES = ['en', 'fr', 'pt', 'sw', 'rw'] as const;
export type StaffLocale = (typeof STAFF_LOCALES)[number];

export const ImmunizationSchema = z
  .strictObject({
    program: Uid.default('SSLpOM0r1U7').describe('EIR programme'),
    stage: Uid.default('s53RFfXA75f').describe('Immunization stage: its scheduled events are the appointments'),
    birthStage: Uid.default('RcbCl5ww8XY').describe('Birth details stage (non-repeatable)'),
    attributes: z
      .strictObject({
        phone: Uid.default('pjexi5YaAPa').describe('Caregiver phone (PHONE_NUMBER): who gets the reminders'),
        firstName: Uid.default('sB1IHYu2xQT'),
        surname: Uid.default('ENRjVGxVL6l'),
        dateOfBirth: Uid.default('NI0QRzJvQ0k'),
        sex: Uid.default('oindugucx72'),
        caregiverFirstName: Uid.default('ftFBu8mHZ4H'),
        caregiverSurname: Uid.default('EpbquVl5OD6'),
        preferredLanguage: Uid.optional().describe(
          'Attribute holding the caregiver language (a locale code); none in the package',
        ),
      })
      .prefault({}),
  })
  .prefault({});

export const VitalEventsSchema = z
  .strictObject({
    program: Uid.default('FTBBLOT3sO7').describe('Vital Events programme'),
    birthStage: Uid.default('OwdV5tSOMSv'),
    deathStage: Uid.default('SjC6EZvwPKs'),
    stillbirthStage: Uid.default('wTAeBwb4gse'),
    reasonAttribute: Uid.default('ArHk8hosBBh').describe('Registration Reason (NUMBER)'),
    reasonCodes: z
      .strictObject({
        birth: z.string().min(1).default('1'),
        stillbirth: z.string().min(1).default('2'),
        death: z.string().min(1).default('3'),
      })
      .prefault({}),
    dateOfDeathAttribute: Uid.default('whdKMBo0pZx'),
    notificationDataElement: Uid.default('noSCyx2btEF').describe(
      'Send Notification (TRUE_ONLY, compulsory on every stage)',
    ),
  })
  .prefault({});

export const OutcomeSchema = z.strictObject({
  note: z.string().min(1).describe('Locale key of the note written on the event'),
  status: z
    .enum(['ACTIVE', 'COMPLETED', 'SCHEDULE', 'SKIPPED'])
    .optional()
    .describe('New event status, if the outcome changes it'),
  reschedule: z.boolean().optional().describe('Ask for a new date'),
  followUp: z.boolean().optional().describe('Flag the event for follow-up'),
});
export type Outcome = z.infer<typeof OutcomeSchema>;

/** How each follow-up outcome a case worker reports is written to DHIS2. */
export const DEFAULT_OUTCOMES: Readonly<Record<string, Outcome>> = {
  will_come: { note: 'outcome.will_come', reschedule: true },
  vaccinated_elsewhere: { note: 'outcome.vaccinated_elsewhere', status: 'SKIPPED' },
  moved_away: { note: 'outcome.moved_away', status: 'SKIPPED' },
  refused: { note: 'outcome.refused', followUp: true },
  not_found: { note: 'outcome.not_found', followUp: true },
  died: { note: 'outcome.died', status: 'SKIPPED', followUp: true },
};

export const DeploymentSchema = z.strictObject({
  timeZone: z
    .string()
    .refine(isTimeZone, { error: 'must be an IANA time zone such as Africa/Nairobi' })
    .optional()
    .describe("The programme's time zone; unset: DHIS2's serverTimeZoneId"),
  staffLocale: z
    .enum(STAFF_LOCALES, { error: `must be one of the languages Jibu ships: ${STAFF_LOCALES.join(', ')}` })
    .default('en')
    .describe(
      'Language of what programme staff read: the notes and text values Jibu writes into DHIS2 and its alerts to case workers (caregivers keep their own language)',
    ),
  immunization: ImmunizationSchema,
  vitalEvents: VitalEventsSchema,
  reschedule: z
    .strictObject({
      minDaysAhead: z
        .int()
        .min(0)
        .max(365)
        .default(0)
        .describe('Earliest new date, in days from today (0 = today allowed)'),
      maxDaysAhead: z.int().min(0).max(365).default(60).describe('Latest new date, in days from today'),
    })
    .refine((r) => r.minDaysAhead <= r.maxDaysAhead, {
      error: 'minDaysAhead must not be after maxDaysAhead',
      path: ['minDaysAhead'],
    })
    .prefault({}),
  reminders: z
    .strictObject({
      rules: z
        .array(z.strictObject({ daysBefore: z.int().min(0).max(60) }))
        .default([{ daysBefore: 2 }])
        .describe('One reminder per rule, N days before the visit'),
    })
    .prefault({}),
  missedVisits: z
    .strictObject({
      graceDays: z.int().min(0).max(60).default(1).describe('Days after the visit date before a missed-visit message'),
    })
    .prefault({}),
  deliveryWindow: z
    .strictObject({ start: hhmm.default('08:00'), end: hhmm.default('19:00') })
    // Only compare well-formed times; a malformed one already has its own problem listed.
    .refine((w) => !/^\d\d:\d\d$/.test(w.start) || !/^\d\d:\d\d$/.test(w.end) || w.start < w.end, {
      error: 'start must be before end',
      path: ['start'],
    })
    .prefault({})
    .describe('Local hours in which reminders and missed-visit messages may be sent'),
  outcomes: z
    .record(z.string().regex(/^[a-z][a-z0-9_]*$/, { error: 'outcome names are lower_snake_case' }), OutcomeSchema)
    .optional()
    .describe('Merged over the built-in outcomes'),
  aefi: z
    .strictObject({
      followUp: z.boolean().default(true).describe('Flag the event for follow-up when a reaction is reported'),
      note: z.string().min(1).default('aefi.note'),
    })
    .prefault({}),
  sms: z
    .strictObject({
      segmentBudget: z.int().min(1).max(10).default(1).describe('Most SMS segments one message may use'),
      foldAccents: z.boolean().default(false).describe('Replace accented letters so messages stay GSM-7'),
    })
    .prefault({}),
});

/** A validated deployment: every default filled in, outcomes merged over {@link DEFAULT_OUTCOMES}. */
export type Deployment = Omit<z.output<typeof DeploymentSchema>, 'outcomes'> & { outcomes: Record<string, Outcome> };

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  if (issue.code === 'invalid_key') return 'not a valid name: outcome names are lower_snake_case (a-z, 0-9, _)';
  return issue.message;
}

/**
 * Validate a parsed deployment object (pure). Throws JibuError `JIBU_CONFIG_INVALID` whose `detail` lists
 * every problem as `path: message` (with the line when `lineOf` can tell it).
 *
 * @example parseDeployment({}).immunization.program // 'SSLpOM0r1U7'
 */
export function parseDeployment(
  raw: unknown,
  source = 'deployment',
  lineOf?: (path: ReadonlyArray<PropertyKey>) => number | undefined,
): Deployment {
  const r = DeploymentSchema.safeParse(raw ?? {});
  if (!r.success) {
    const problems = r.error.issues.map((i) => {
      // An unknown key is best located at the key itself.
      const line = lineOf?.(
        i.code === 'unrecognized_keys' && i.keys[0] !== undefined ? [...i.path, i.keys[0]] : i.path,
      );
      return `${formatPath(i.path)}${line ? ` (line ${line})` : ''}: ${issueMessage(i)}`;
    });
    throw new JibuError('JIBU_CONFIG_INVALID', `Invalid ${source}:\n  - ${problems.join('\n  - ')}`, problems);
  }
  return { ...r.data, outcomes: { ...DEFAULT_OUTCOMES, ...(r.data.outcomes ?? {}) } };
}

/** The built-in deployment (no file): EIR/VEN package UIDs and the default rules. */
export function defaultDeployment(): Deployment {
  return parseDeployment({});
}

/**
 * Read and validate the deployment file; no path means the built-in defaults. An empty file is valid.
 * On any problem (unreadable file, YAML syntax, schema) throws JibuError `JIBU_CONFIG_INVALID` with
 * `detail: string[]` listing every problem.
 *
 * @example const deployment = loadDeployment(process.env.JIBU_CONFIG)
 */
export function loadDeployment(path?: string): Deployment {
  if (!path) return defaultDeployment();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : `cannot be read (${(err as Error).message})`;
    throw new JibuError('JIBU_CONFIG_INVALID', `Deployment file ${path}: ${reason}`, [`${path}: ${reason}`]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length) {
    const problems = doc.errors.map(
      (e) =>
        `${path}:${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    );
    throw new JibuError(
      'JIBU_CONFIG_INVALID',
      `Deployment file ${path} is not valid YAML:\n  - ${problems.join('\n  - ')}`,
      problems,
    );
  }
  const lineOf = (p: ReadonlyArray<PropertyKey>): number | undefined => {
    for (let n = p.length; n >= 0; n--) {
      const node: unknown = n === 0 ? doc.contents : doc.getIn(p.slice(0, n) as Array<string | number>, true);
      if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return parseDeployment(doc.toJS() ?? {}, `deployment file ${path}`, lineOf);
}
