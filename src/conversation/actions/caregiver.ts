import { z } from 'zod';
import type { Channel } from '../../channels/types.ts';
import type { Deployment, StaffLocale } from '../../dhis2/deployment.ts';
import type { Dhis2Write } from '../../dhis2/outbox/types.ts';
import { rmKeys, type CaregiverView, type ChildView } from '../../dhis2/readmodel/types.ts';
import { UID_PATTERN } from '../../dhis2/uid.ts';
import { isTimeZone } from '../../dhis2/readmodel/calendar.ts';
import { byStaffLocale, staffWords, SURVEILLANCE_TEXTS } from '../../dhis2/staff-texts.ts';
import { daysBetween, todayIn } from '../input.ts';
import {
  shortRef,
  type ActionArgs,
  type ActionResult,
  type ActionSpec,
  type GuardFn,
  type RegistryParts,
  type RoleSpec,
  type ValidatorSpec,
} from '../registry.ts';
import type { Effect } from '../types.ts';
import type { DomainModule, LoaderContext } from './index.ts';

/**
 * Caregivers: the reply to a reminder (confirm / reschedule), the caregiver's own menu (SMS or USSD:
 * next visits, missed ones marked, report a reaction, language) and reaction reports (AEFI).
 *
 * Flows: `flows/caregiver-reminder.yaml` (opened by the scheduler with `startFlow`),
 * `flows/caregiver-main.yaml` (an unsolicited SMS or a USSD dial from a caregiver),
 * `flows/caregiver-aefi.yaml` (the reaction keyword, or `startFlow` after a visit).
 *
 * Everything here is pure apart from the loader, which reads the read model only: a USSD hop never
 * waits on DHIS2, and what reaches DHIS2 goes out as `dhis2Write` effects through the outbox.
 */

export const CAREGIVER_REMINDER_FLOW = 'caregiver-reminder';
export const CAREGIVER_MAIN_FLOW = 'caregiver-main';
export const CAREGIVER_AEFI_FLOW = 'caregiver-aefi';
/** The data name caregiver flows declare (`data: [caregiver]`). */
const CAREGIVER_DATA = 'caregiver';

/** Where a child's next visit stands, as the caregiver flows show it. */
export type VisitStatus = 'missed' | 'today' | 'upcoming' | 'none';

/** One child as the caregiver flows list it (menu items are these; the chosen one is saved as `child`). */
export interface CaregiverChild {
  trackedEntity: string;
  /** First name: what a caregiver calls the child, and short enough for a USSD line. */
  name: string;
  orgUnit: string;
  status: VisitStatus;
  /** The next SCHEDULE Immunization event (missed or upcoming), when there is one. */
  event?: string;
  enrollment?: string;
  /** `YYYY-MM-DD` of that event. */
  scheduledAt?: string;
  /** The last visit that happened: reaction reports attach to it. */
  latestEvent?: string;
}

/**
 * The `caregiver` data the flows declare: the read model's `CaregiverView` of the caller, with each
 * child's visit status worked out for today and the lists the menus offer.
 */
export interface CaregiverData {
  phone: string;
  locale?: string;
  /** `YYYY-MM-DD` the statuses were judged on. */
  today: string;
  /** Every child on this phone: missed visits first, then the earliest, then those with none. */
  children: CaregiverChild[];
  /** Children with a visit to confirm or move (missed or upcoming). */
  due: CaregiverChild[];
  /** Children with a recorded visit, who can have a reaction to report. */
  vaccinated: CaregiverChild[];
}

// The read model is written by another process (possibly an older release): check it at this boundary.
const appointmentSchema = z.looseObject({
  event: z.string(),
  enrollment: z.string().optional(),
  scheduledAt: z.string(),
  orgUnit: z.string().optional(),
});
const childViewSchema = z.looseObject({
  trackedEntity: z.string(),
  enrollment: z.string().optional(),
  firstName: z.string(),
  orgUnit: z.string().optional(),
  next: appointmentSchema.optional(),
  latestEvent: z.string().optional(),
});
const caregiverViewSchema = z.looseObject({
  phone: z.string(),
  locale: z.string().optional(),
  children: z.array(childViewSchema),
});
const syncStateSchema = z.looseObject({ timeZone: z.string().refine(isTimeZone).optional() });

function visitStatus(scheduledAt: string | undefined, today: string): VisitStatus {
  if (!scheduledAt) return 'none';
  const d = daysBetween(today, scheduledAt);
  return d < 0 ? 'missed' : d === 0 ? 'today' : 'upcoming';
}

const STATUS_ORDER: Record<VisitStatus, number> = { missed: 0, today: 1, upcoming: 2, none: 3 };

type ChildInput = Pick<ChildView, 'trackedEntity' | 'firstName'> & {
  enrollment?: string;
  orgUnit?: string;
  latestEvent?: string;
  next?: { event: string; enrollment?: string; scheduledAt: string; orgUnit?: string };
};

function toChild(c: ChildInput, today: string): CaregiverChild {
  const scheduledAt = c.next?.scheduledAt.slice(0, 10);
  const child: CaregiverChild = {
    trackedEntity: c.trackedEntity,
    name: c.firstName.trim() || '?',
    orgUnit: c.next?.orgUnit ?? c.orgUnit ?? '',
    status: visitStatus(scheduledAt, today),
  };
  if (c.next) {
    child.event = c.next.event;
    child.scheduledAt = scheduledAt;
    const enrollment = c.next.enrollment ?? c.enrollment;
    if (enrollment) child.enrollment = enrollment;
  }
  if (c.latestEvent) child.latestEvent = c.latestEvent;
  return child;
}

/**
 * The caregiver data of a read-model view, judged on `today` (pure).
 *
 * @example caregiverData(view, '2025-11-25').due.map((c) => `${c.name} ${c.status}`) // ['Saida missed', 'Hamisi upcoming']
 */
export function caregiverData(
  view: Pick<CaregiverView, 'phone' | 'locale'> & { children: readonly ChildInput[] },
  today: string,
): CaregiverData {
  const children = view.children
    .map((c) => toChild(c, today))
    .sort(
      (a, b) =>
        STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
        (a.scheduledAt ?? '').localeCompare(b.scheduledAt ?? '') ||
        a.name.localeCompare(b.name),
    );
  return {
    phone: view.phone,
    ...(view.locale ? { locale: view.locale } : {}),
    today,
    children,
    due: children.filter((c) => c.status !== 'none'),
    vaccinated: children.filter((c) => c.latestEvent !== undefined),
  };
}

/** "Today" as the read model judged missed visits: the deployment's zone, else the one the sync used. */
function zoneOf(deployment: Deployment, sync: unknown): string {
  const synced = syncStateSchema.safeParse(sync);
  return (
    deployment.timeZone ??
    (synced.success ? synced.data.timeZone : undefined) ??
    Intl.DateTimeFormat().resolvedOptions().timeZone
  );
}

/**
 * The `caregiver` loader: the caller's children from the read model (one store round trip), or null
 * when the phone has no child there (then the `caregiver` role does not apply).
 */
export async function loadCaregiver(ctx: LoaderContext): Promise<CaregiverData | null> {
  const [raw, sync] = await ctx.store.getJsonMany<unknown>([rmKeys.caregiver(ctx.phone), rmKeys.sync()]);
  // Most callers are not caregivers: no view, no schema error to build.
  if (raw === null || raw === undefined) return null;
  const view = caregiverViewSchema.safeParse(raw);
  if (!view.success || view.data.children.length === 0) return null;
  return caregiverData(view.data, todayIn(ctx.now, zoneOf(ctx.deployment, sync)));
}

/** One child a reminder (or missed-visit message) is about, as the scheduler knows it. */
export interface ReminderChild {
  trackedEntity: string;
  firstName: string;
  /** The SCHEDULE Immunization event the message is about. */
  event: string;
  /** `YYYY-MM-DD` or a DHIS2 timestamp. */
  scheduledAt: string;
  enrollment?: string;
  orgUnit?: string;
  latestEvent?: string;
}

/**
 * What the scheduler hands to the engine's `startFlow` to send a reminder or a missed-visit message
 * that a reply can answer: one message per phone, whatever the number of children. With one child the
 * message asks "1 confirm / 2 change the date" (a missed visit asks for a new date at once); with
 * several it first asks which child. The menu is fixed from `data` when the message is made, so a
 * reply means what the caregiver read even if the read model changes meanwhile.
 *
 * @example
 * const start = reminderStart({ phone, today: '2025-11-25', children: [{ trackedEntity, firstName: 'Neema', event, scheduledAt: '2025-11-27' }] });
 * const r = startFlow(set, session, { ...start, channel: 'sms', phone, contact, now, newId });
 * // r.effects holds the sendSms; commit r.session with it as the runner does.
 */
export function reminderStart(input: {
  phone: string;
  today: string;
  children: readonly ReminderChild[];
  locale?: string;
}): {
  flowId: typeof CAREGIVER_REMINDER_FLOW;
  vars: Record<string, unknown>;
  data: { caregiver: CaregiverData };
} {
  const children: ChildInput[] = input.children.map((c) => ({
    trackedEntity: c.trackedEntity,
    firstName: c.firstName,
    ...(c.orgUnit ? { orgUnit: c.orgUnit } : {}),
    ...(c.latestEvent ? { latestEvent: c.latestEvent } : {}),
    next: {
      event: c.event,
      scheduledAt: c.scheduledAt,
      ...(c.enrollment ? { enrollment: c.enrollment } : {}),
      ...(c.orgUnit ? { orgUnit: c.orgUnit } : {}),
    },
  }));
  return {
    flowId: CAREGIVER_REMINDER_FLOW,
    vars: {},
    data: {
      caregiver: caregiverData(
        { phone: input.phone, ...(input.locale ? { locale: input.locale } : {}), children },
        input.today,
      ),
    },
  };
}

/** The children of a read-model view whose next visit is one of `events` (what a reminder job selected). */
export function reminderChildren(view: CaregiverView, events: ReadonlySet<string>): ReminderChild[] {
  const out: ReminderChild[] = [];
  for (const c of view.children) {
    if (!c.next || !events.has(c.next.event)) continue;
    out.push({
      trackedEntity: c.trackedEntity,
      firstName: c.firstName,
      event: c.next.event,
      scheduledAt: c.next.scheduledAt,
      enrollment: c.next.enrollment,
      orgUnit: c.next.orgUnit,
      ...(c.latestEvent ? { latestEvent: c.latestEvent } : {}),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// What DHIS2 staff read: notes in the deployment's staff language.

/** Reactions a caregiver can report, as the flows save them. */
export const REACTIONS = ['fever', 'site', 'rash', 'vomiting', 'crying', 'seizure', 'breathing', 'other'] as const;
export type Reaction = (typeof REACTIONS)[number];
export const SEVERITIES = ['mild', 'moderate', 'severe'] as const;
export type Severity = (typeof SEVERITIES)[number];
/** Reactions that are serious whatever severity the caregiver chose (WHO AEFI: seizures, breathing). */
const ALWAYS_SEVERE: ReadonlySet<Reaction> = new Set(['seizure', 'breathing']);

export type { StaffLocale };

interface StaffTexts {
  via: Record<Channel, string>;
  confirmed: (a: { via: string; date: string; ref: string }) => string;
  rescheduled: (a: { via: string; from: string; to: string; ref: string }) => string;
  reaction: (a: { via: string; reaction: string; severity: string; since: string; ref: string }) => string;
  reactions: Record<Reaction, string>;
  severities: Record<Severity, string>;
  alert: (a: { child: string; phone: string; reaction: string; since: string; ref: string }) => string;
}

/**
 * Note texts by staff language (the deployment's `staffLocale`), from `locales/<lang>/staff.yaml`
 * (`staff.caregiver.*`). They are written into DHIS2, where the staff of a deployment read them, so they
 * follow the deployment, not the caregiver's language. Dates are ISO: unambiguous in every DHIS2 locale.
 */
export const STAFF_TEXTS = byStaffLocale<StaffTexts>((m) => ({
  via: { sms: m('caregiver.via.sms'), ussd: m('caregiver.via.ussd') },
  confirmed: (a) => m('caregiver.confirmed', a),
  rescheduled: (a) => m('caregiver.rescheduled', a),
  reaction: (a) => m('caregiver.reaction', a),
  reactions: staffWords(m, 'caregiver.reactions', REACTIONS),
  severities: staffWords(m, 'caregiver.severities', SEVERITIES),
  alert: (a) => m('caregiver.alert', a),
}));

// ---------------------------------------------------------------------------------------------------
// Actions: params come from the flow (templates over the saved child and answers), checked here.

const Uid = z.string().regex(UID_PATTERN, { error: 'must be a DHIS2 uid' });
const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be YYYY-MM-DD' });

const confirmParams = z.object({ event: Uid, date: IsoDate });
const rescheduleParams = z.object({ event: Uid, from: IsoDate.optional(), to: IsoDate });
const reactionParams = z.object({
  event: Uid,
  reaction: z.enum(REACTIONS),
  severity: z.enum(SEVERITIES),
  since: IsoDate,
  child: z.object({ trackedEntity: z.string(), name: z.string(), orgUnit: z.string() }).loose(),
});

/** A flow that hands an action the wrong params is a bug in the flow file: say which, loudly. */
function parse<T>(schema: z.ZodType<T>, action: string, params: unknown): T {
  const r = schema.safeParse(params);
  if (!r.success)
    throw new Error(
      `${action}: bad params (${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`,
    );
  return r.data;
}

function write(payload: Dhis2Write, ref: string): Effect {
  return { type: 'dhis2Write', op: payload.op, payload, ref };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The saved child a guard or validator looks at (`params.var`, default `child`). */
function savedChild(
  vars: Readonly<Record<string, unknown>>,
  params: Record<string, unknown>,
): Partial<CaregiverChild> | undefined {
  const v = vars[str(params.var) ?? 'child'];
  return v && typeof v === 'object' ? (v as Partial<CaregiverChild>) : undefined;
}

function isCaregiverData(v: unknown): v is CaregiverData {
  return !!v && typeof v === 'object' && Array.isArray((v as { children?: unknown }).children);
}

/**
 * The registry parts of the caregiver flows for a deployment (pure; exported for tests and tools).
 * Notes and alerts are in the deployment's `staffLocale`.
 */
export function caregiverParts(deployment: Deployment): RegistryParts {
  const staff = STAFF_TEXTS[deployment.staffLocale];
  const { minDaysAhead, maxDaysAhead } = deployment.reschedule;

  const confirm: ActionSpec = {
    description: "Confirm the child's next visit: a note on the scheduled event (params: event, date). Sets ref.",
    sets: ['ref'],
    // E1315: DHIS2 refuses data values on SCHEDULE events, so a confirmation is a note.
    run: ({ params, channel, newId }: ActionArgs): ActionResult => {
      const p = parse(confirmParams, 'caregiver.confirm', params);
      const ref = shortRef(newId());
      const note = staff.confirmed({ via: staff.via[channel], date: p.date, ref });
      return { vars: { ref }, effects: [write({ op: 'event.note', event: p.event, note }, ref)] };
    },
  };

  const reschedule: ActionSpec = {
    description: "Move the child's next visit to a new date with a note (params: event, from, to). Sets ref.",
    sets: ['ref'],
    run: ({ params, channel, newId }: ActionArgs): ActionResult => {
      const p = parse(rescheduleParams, 'caregiver.reschedule', params);
      const ref = shortRef(newId());
      const note = staff.rescheduled({ via: staff.via[channel], from: p.from ?? '?', to: p.to, ref });
      return {
        vars: { ref },
        effects: [write({ op: 'event.reschedule', event: p.event, scheduledAt: p.to, note }, ref)],
      };
    },
  };

  const reportReaction: ActionSpec = {
    description:
      "Report a reaction after vaccination: a case in the AEFI programme when the deployment sets aefi.program, else a note and the follow-up flag on the child's latest visit; severe ones alert the case worker (params: event, reaction, severity, since, child). Sets ref, severe.",
    sets: ['ref', 'severe'],
    run: ({ params, data, channel, phone, now, newId }: ActionArgs): ActionResult => {
      const p = parse(reactionParams, 'caregiver.reportReaction', params);
      const ref = shortRef(newId());
      const severe = p.severity === 'severe' || ALWAYS_SEVERE.has(p.reaction);
      const note = staff.reaction({
        via: staff.via[channel],
        reaction: staff.reactions[p.reaction],
        severity: staff.severities[p.severity],
        since: p.since,
        ref,
      });
      const today = isCaregiverData(data[CAREGIVER_DATA]) ? data[CAREGIVER_DATA].today : now.toISOString().slice(0, 10);
      const onVisit: Dhis2Write = {
        op: 'event.update',
        event: p.event,
        ...(deployment.aefi.followUp ? { followUp: true } : {}),
        note,
      };
      // With the AEFI programme the report becomes a case on the child (resolved by the relay at write time).
      const asCase: Dhis2Write | undefined =
        deployment.aefi.program && UID_PATTERN.test(p.child.orgUnit)
          ? {
              op: 'aefi.report',
              trackedEntity: p.child.trackedEntity,
              visit: p.event,
              orgUnit: p.child.orgUnit,
              reportedAt: today,
              onset: p.since,
              reaction: p.reaction,
              reactionText: staff.reactions[p.reaction],
              serious: severe,
              reporter: {
                name: SURVEILLANCE_TEXTS[deployment.staffLocale].reporterCaregiver({ via: staff.via[channel] }),
                phone,
              },
              note,
            }
          : undefined;
      const effects: Effect[] = [write(asCase ?? onVisit, ref)];
      if (severe) {
        effects.push({
          type: 'notify',
          kind: 'aefi.severe',
          payload: {
            ref,
            event: p.event,
            trackedEntity: p.child.trackedEntity,
            orgUnit: p.child.orgUnit,
            childName: p.child.name,
            caregiverPhone: phone,
            reaction: p.reaction,
            severity: p.severity,
            since: p.since,
            channel,
            reportedAt: now.toISOString(),
            // Ready to send to the case worker in the staff language; the alert job may write its own.
            text: staff.alert({
              child: p.child.name,
              phone,
              reaction: staff.reactions[p.reaction],
              since: p.since,
              ref,
            }),
          },
        });
      }
      return { vars: { ref, severe }, effects };
    },
  };

  const guards: Record<string, GuardFn> = {
    /** The saved child's visit status is `params.is` (one status or a list). */
    'caregiver.status': ({ vars, params }) => {
      const status = savedChild(vars, params)?.status;
      const is = params.is;
      return status !== undefined && (Array.isArray(is) ? is.includes(status) : is === status);
    },
    /** The saved child has a recorded visit a reaction can be reported on. */
    'caregiver.vaccinated': ({ vars, params }) => typeof savedChild(vars, params)?.latestEvent === 'string',
  };

  const validators: Record<string, ValidatorSpec> = {
    /** A new visit date: not past, within the deployment's reschedule window, not the date it already has. */
    'caregiver.rescheduleDate': {
      kinds: ['date'],
      hints: ['invalid.date_past', 'caregiver.hint.too_soon', 'invalid.date_window', 'caregiver.hint.same_date'],
      run: (v, { today, vars }) => {
        if (typeof v !== 'string') return { hint: 'invalid.date_past' };
        const d = daysBetween(today, v);
        if (d < 0) return { hint: 'invalid.date_past' };
        if (d < minDaysAhead) return { hint: 'caregiver.hint.too_soon', params: { days: minDaysAhead } };
        if (d > maxDaysAhead) return { hint: 'invalid.date_window', params: { days: maxDaysAhead } };
        if (savedChild(vars, {})?.scheduledAt === v) return { hint: 'caregiver.hint.same_date' };
        return true;
      },
    },
  };

  const roles: Record<string, RoleSpec> = {
    /** At least one child on this phone in the read model. */
    caregiver: {
      needs: ['caregiver'],
      test: (data) => isCaregiverData(data.caregiver) && data.caregiver.children.length > 0,
    },
  };

  return {
    actions: {
      'caregiver.confirm': confirm,
      'caregiver.reschedule': reschedule,
      'caregiver.reportReaction': reportReaction,
    },
    guards,
    validators,
    roles,
  };
}

/**
 * The caregiver capability. Its notes follow the deployment it is registered with, so one module
 * serves every deployment.
 *
 * @example createDomainRegistry(parseDeployment({ staffLocale: 'fr' }), [createCaregiverModule()]) // notes in French
 */
export function createCaregiverModule(): DomainModule {
  return {
    name: 'caregiver',
    parts: caregiverParts,
    loaders: { caregiver: loadCaregiver },
    loaderKeys: { caregiver: ({ phone }) => [rmKeys.caregiver(phone), rmKeys.sync()] },
  };
}

/** The caregiver capability (in `ALL_MODULES`). */
export const caregiverModule: DomainModule = createCaregiverModule();
