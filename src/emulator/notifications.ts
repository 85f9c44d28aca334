import { EIR } from './metadata.ts';
import type { EmulatorState, StoredEvent } from './model.ts';
import { DAY, type ServerTime } from './time.ts';

/**
 * A small, on-demand subset of DHIS2's daily `PROGRAM_NOTIFICATIONS` job (docs/dhis2.md#program-notifications), so the
 * emulator can show what DHIS2's own due-date reminders look like when they leave through Jibu:
 *
 * - trigger `SCHEDULED_DAYS_DUE_DATE` only: the events of the template's stage that are not deleted, have
 *   no `occurredAt`, are not `SKIPPED` and are scheduled on `date − relativeScheduledDays` (so `-2` is two
 *   days before the visit; rescheduling an event moves its reminder);
 * - recipient `PROGRAM_ATTRIBUTE` only (the tracked entity's phone attribute), channel `SMS` only;
 * - one SMS per event, so a caregiver with two children due gets two messages (Jibu sends one);
 * - program-stage variables `V{…}` (`due_date`, `org_unit_name`, …) that an event has, `A{attribute}` and
 * `#{dataElement}`; unknown ones
 *   render empty.
 *
 * Not imitated: the other triggers and recipients, `sendRepeatable`, the message history
 * (`/api/messages/scheduled/sent`), and any memory of what was sent — running twice sends twice, as
 * running DHIS2's job twice on one day would.
 */

export interface ProgramNotificationTemplate {
  id: string;
  name: string;
  programStage: string;
  notificationTrigger: 'SCHEDULED_DAYS_DUE_DATE';
  relativeScheduledDays: number;
  notificationRecipient: 'PROGRAM_ATTRIBUTE';
  recipientProgramAttribute: string;
  deliveryChannels: Array<'SMS'>;
  messageTemplate: string;
}

/**
 * The EIR package's visit reminder (`cp2uesb41tP`, docs/dhis2.md#program-notifications). The package's exact wording
 * is not
 * reproduced here; this text uses the same ingredients (the child's EPI id, the org unit, the due date).
 */
export const EIR_VISIT_REMINDER: ProgramNotificationTemplate = {
  id: 'cp2uesb41tP',
  name: 'SMS: Next Immunization visit reminder',
  programStage: EIR.immunizationStage,
  notificationTrigger: 'SCHEDULED_DAYS_DUE_DATE',
  relativeScheduledDays: -2,
  notificationRecipient: 'PROGRAM_ATTRIBUTE',
  recipientProgramAttribute: EIR.attributes.phone,
  deliveryChannels: ['SMS'],
  messageTemplate: `Dear parent, A{${EIR.attributes.firstName}} (EPI A{${EIR.attributes.systemId}}) is due for the next immunization visit at V{org_unit_name} on V{due_date}.`,
};

export interface DueNotification {
  template: string;
  event: string;
  trackedEntity: string;
  /** The phone attribute as stored in DHIS2. */
  recipient: string;
  text: string;
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY);
}

/**
 * `V{name}`, `A{attribute}` and `#{dataElement}` replaced from `vars`, `attributes` and `dataValues`; an
 * unknown one becomes empty.
 *
 * @example renderNotification('Hi A{abc} V{due_date}', { due_date: '2025-03-05' }, { abc: 'Amina' }, {}) // 'Hi Amina 2025-03-05'
 */
export function renderNotification(
  template: string,
  vars: Readonly<Record<string, string>>,
  attributes: Readonly<Record<string, string>>,
  dataValues: Readonly<Record<string, string>>,
): string {
  return template.replace(/([VA#])\{([^}]*)\}/g, (_all, kind: string, name: string) => {
    const source = kind === 'V' ? vars : kind === 'A' ? attributes : dataValues;
    return Object.hasOwn(source, name) ? source[name]! : '';
  });
}

/** The notifications `templates` give for `date` (`YYYY-MM-DD` in the server time zone), in event order. */
export function dueNotifications(
  state: EmulatorState,
  time: ServerTime,
  date: string,
  templates: readonly ProgramNotificationTemplate[],
): DueNotification[] {
  const out: DueNotification[] = [];
  for (const template of templates) {
    const stage = state.metadata.stages.get(template.programStage);
    if (
      !stage ||
      template.notificationTrigger !== 'SCHEDULED_DAYS_DUE_DATE' ||
      !template.deliveryChannels.includes('SMS')
    )
      continue;
    const dueDate = addDays(date, -template.relativeScheduledDays);
    const events: StoredEvent[] = [];
    for (const e of state.events.values()) {
      if (
        e.programStage !== stage.id ||
        e.deleted ||
        e.occurredAt !== undefined ||
        e.status === 'SKIPPED' ||
        e.scheduledAt === undefined
      )
        continue;
      if (time.dateOf(e.scheduledAt) === dueDate) events.push(e);
    }
    events.sort((x, y) => x.seq - y.seq);
    for (const e of events) {
      const te = state.trackedEntities.get(e.trackedEntity);
      const recipient = te?.attributes[template.recipientProgramAttribute];
      if (!te || te.deleted || !recipient) continue;
      const program = state.metadata.programs.get(e.program);
      const enrollment = state.enrollments.get(e.enrollment);
      const ou = state.orgUnits.get(e.orgUnit);
      const enrollmentOu = enrollment ? state.orgUnits.get(enrollment.orgUnit) : undefined;
      const vars: Record<string, string> = {
        program_name: program?.name ?? '',
        program_stage_name: stage.name,
        org_unit_name: ou?.name ?? '',
        org_unit_id: e.orgUnit,
        org_unit_code: ou?.code ?? '',
        due_date: dueDate,
        days_since_due_date: String(daysBetween(dueDate, date)),
        days_until_due_date: String(daysBetween(date, dueDate)),
        current_date: date,
        program_id: e.program,
        program_stage_id: stage.id,
        event_org_unit_id: e.orgUnit,
        enrollment_id: e.enrollment,
        enrollment_org_unit_id: enrollment?.orgUnit ?? '',
        enrollment_org_unit_name: enrollmentOu?.name ?? '',
        enrollment_org_unit_code: enrollmentOu?.code ?? '',
        tracked_entity_id: e.trackedEntity,
      };
      const dataValues = Object.fromEntries((e.dataValues ?? []).map((d) => [d.dataElement, d.value]));
      out.push({
        template: template.id,
        event: e.event,
        trackedEntity: e.trackedEntity,
        recipient,
        text: renderNotification(template.messageTemplate, vars, te.attributes, dataValues),
      });
    }
  }
  return out;
}
