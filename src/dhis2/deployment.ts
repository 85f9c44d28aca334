import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';
import { JibuError } from '../errors.ts';
import { UID_PATTERN } from './uid.ts';
import { isTimeZone } from './readmodel/calendar.ts';

/**
 * The deployment file (`JIBU_CONFIG`, YAML): which DHIS2 metadata plays which role, and the programme's
 * rules for reminders, rescheduling and outcomes. Every field has a default taken from the public WHO
 * EIR and Vital Events packages (docs/dhis2.md#package-metadata-jibu-defaults-to), so a country on the standard
 * packages needs no file.
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

/**
 * Reactions the flows save (caregiver and case-worker words both) and the families of vaccines a case worker
 * can name for a batch number. `other` is "not sure" for a batch and any reaction without its own data element.
 */
export const AEFI_REACTIONS = [
  'fever',
  'site',
  'swelling',
  'rash',
  'vomiting',
  'crying',
  'seizure',
  'fits',
  'breathing',
  'other',
] as const;
export type AefiReaction = (typeof AEFI_REACTIONS)[number];
export const VACCINE_FAMILIES = [
  'bcg',
  'opv',
  'penta',
  'pcv',
  'rota',
  'ipv',
  'measles',
  'yellow_fever',
  'other',
] as const;
export type VaccineFamily = (typeof VACCINE_FAMILIES)[number];

const AefiVaccineSchema = z.strictObject({
  name: z.string().min(1).describe('Value written to the AEFI vaccine-name data element (its option code)'),
  dose: z.string().min(1).optional().describe('Value of the vaccine-dose data element, e.g. "1"'),
  family: z.enum(VACCINE_FAMILIES).describe('What a case worker picks when giving a batch number'),
});
export type AefiVaccine = z.infer<typeof AefiVaccineSchema>;

/**
 * The EIR vaccine data elements (the EIR package's Immunization stage) and how each is named in the AEFI programme. The names
 * are the vaccine names of the AEFI package's form; a country whose AEFI vaccine option set uses other
 * codes maps its own (the whole map replaces this one).
 */
export const DEFAULT_AEFI_VACCINES: Readonly<Record<string, AefiVaccine>> = {
  bpBUOvqy1Jn: { name: 'BCG', family: 'bcg' },
  zSugskT1NC7: { name: 'BCG', family: 'bcg' },
  no7SkAxepi7: { name: 'bOPV', dose: '0', family: 'opv' },
  CfPM8lsEMzH: { name: 'bOPV', dose: '1', family: 'opv' },
  sDORmAKh32v: { name: 'bOPV', dose: '2', family: 'opv' },
  nQeUfqPjK5o: { name: 'bOPV', dose: '3', family: 'opv' },
  K3TcJM1ySQA: { name: 'Pentavalent', dose: '1', family: 'penta' },
  GPOoPDqle3V: { name: 'Pentavalent', dose: '2', family: 'penta' },
  pxCZNoqDVJC: { name: 'Pentavalent', dose: '3', family: 'penta' },
  fmXCCPENnwR: { name: 'PCV', dose: '1', family: 'pcv' },
  PvHUllrtPiy: { name: 'PCV', dose: '2', family: 'pcv' },
  B4eJCy6LFLZ: { name: 'PCV', dose: '3', family: 'pcv' },
  nIqQYeSwU9E: { name: 'Rotavirus', dose: '1', family: 'rota' },
  wYg2gOWSyJG: { name: 'Rotavirus', dose: '2', family: 'rota' },
  Fu83xQ4NKuQ: { name: 'IPV', dose: '1', family: 'ipv' },
  g8dMiUOTFla: { name: 'Measles', dose: '1', family: 'measles' },
  Bxh1xgIY9nA: { name: 'Measles', dose: '2', family: 'measles' },
  qEtgKXZlMLE: { name: 'Hepatitis B', dose: '1', family: 'other' },
  AstoeChIWIN: { name: 'Hepatitis B', dose: '2', family: 'other' },
  Iiw3GMEbEAB: { name: 'Hepatitis B', dose: '3', family: 'other' },
  mH9watsYzvq: { name: 'Yellow fever', dose: '1', family: 'yellow_fever' },
};

/** The AEFI package's "Adverse event" data elements (TRUE_ONLY) each reaction a flow saves is written to. */
export const DEFAULT_AEFI_REACTIONS: Readonly<Partial<Record<AefiReaction, string>>> = {
  fever: 'rzhHSqK3lQq',
  site: 'P4oSprWWqrn',
  swelling: 'P4oSprWWqrn',
  rash: 'xgqzqv0p2Us',
  vomiting: 'NAiZTRCHRWL',
  crying: 'GTyK3p976de',
  seizure: 'wCGZpudXuYx',
  fits: 'wCGZpudXuYx',
};

/** Four slots, as the AEFI package's form has them (vaccine 1 to 4). */
const slots = (uids: readonly string[]) =>
  z
    .array(Uid)
    .max(8)
    .default([...uids]);

export const AefiSchema = z
  .strictObject({
    followUp: z.boolean().default(true).describe('Flag the event for follow-up when a reaction is reported'),
    note: z.string().min(1).default('aefi.note'),
    program: Uid.optional().describe(
      'AEFI programme (AEFI package: EZkN8vYZwjR). Set: reactions are filed as AEFI cases (enrollment and AEFI event) on the child; unset: a note and the follow-up flag on the latest visit',
    ),
    stage: Uid.default('so8YZ9J3MeO').describe('The AEFI stage (non-repeatable): one event per case'),
    dataElements: z
      .strictObject({
        vaccineNames: slots(['uSVcZzSM3zg', 'g9PjywVj2fs', 'OU5klvkk3SM', 'menOXwIFZh5']).describe(
          'Vaccine 1..n name: the vaccines given at the visit the reaction follows',
        ),
        vaccineDoses: slots(['LIyV4t7eCfZ', 'E3F414izniN', 'WlE0K4xCc14', 'Aya8C25DXHe']),
        vaccinationDates: slots(['dOkuCjpD978', 'VrzEutEnzSJ', 'f4WCAVwjHz0', 'H3TKHMFIN6V']),
        batchNumbers: slots(['LNqkAlvGplL', 'b1rSwGRcY5W', 'YBnFoNouH6f', 'BHAfwo6JPDa']).describe(
          'Batch/lot number of vaccine 1..n (asked from case workers)',
        ),
        onsetDate: Uid.default('vNGUuAZA2C2').describe('AEFI start date ("since when")'),
        serious: Uid.default('fq1c1A3EOX5').describe('Severe event reported (BOOLEAN)'),
        outcome: Uid.default('yRrSDiR5v1M').describe('AEFI outcome, written when the case is created'),
        otherReaction: Uid.default('tWcNgbkOETR').describe('Other (adverse event), for reactions without their own'),
        otherReactionText: Uid.default('iTm5wvq16iq').describe('Specify other (adverse event)'),
        reporter: Uid.default('uZ9c4fKXuNS').describe('Reporter of the AEFI case'),
        reporterPhone: Uid.default('iLaon1495vY').describe("Reporter's contact number"),
        comments: Uid.default('LaMvzTltCOP').describe('Comments: a batch number whose vaccine is not known'),
      })
      .prefault({}),
    reactions: z
      .partialRecord(z.enum(AEFI_REACTIONS), Uid)
      .default({ ...DEFAULT_AEFI_REACTIONS })
      .describe('Reaction -> its TRUE_ONLY data element; others go to otherReaction with the reaction as text'),
    vaccines: z
      .record(Uid, AefiVaccineSchema)
      .default({ ...DEFAULT_AEFI_VACCINES })
      .describe('EIR vaccine data element -> how the AEFI programme names it (replaces the built-in map)'),
    values: z
      .strictObject({
        yes: z.string().min(1).default('true'),
        no: z.string().min(1).default('false'),
        outcome: z.string().min(1).default('Unknown').describe('Outcome option code written when a case is created'),
      })
      .prefault({}),
  })
  .prefault({});
export type AefiSettings = z.output<typeof AefiSchema>;

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
  defaulters: z
    .strictObject({
      lookbackDays: z
        .int()
        .min(1)
        .max(3650)
        .default(1000)
        .describe(
          "Oldest missed visit a case worker still follows up, in days (the EIR package's Missed appointments working list: 1000)",
        ),
      graceDays: z
        .int()
        .min(0)
        .max(60)
        .default(0)
        .describe(
          'Days after the visit date before a child counts as a defaulter (0: overdue from the next day, as DHIS2)',
        ),
      maxAgeMonths: z
        .int()
        .min(1)
        .max(240)
        .optional()
        .describe('Only children younger than this many months are defaulters (unset: any age, as DHIS2)'),
    })
    .prefault({})
    .describe(
      'Who is a defaulter: an Immunization visit still SCHEDULE, never given, in an ACTIVE enrollment, overdue by more than graceDays and not older than lookbackDays',
    ),
  digest: z
    .enum(['daily', 'weekly'])
    .default('daily')
    .describe(
      "Case workers' defaulter SMS: every morning with the new ones since yesterday, or Monday mornings with the week's new ones; both give the total",
    ),
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
  aefi: AefiSchema,
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
