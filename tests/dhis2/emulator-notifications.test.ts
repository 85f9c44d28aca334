import { describe, expect, it } from 'vitest';
import { EIR } from '../../src/emulator/index.ts';
import { renderNotification } from '../../src/emulator/notifications.ts';
import { child, emulator, PHONES, raw, scheduledEvent, TODAY } from './helpers.ts';

const GATEWAY = {
  type: 'http',
  name: 'Jibu',
  urlTemplate: 'https://jibu.example.org/gateway/dhis2',
  contentType: 'APPLICATION_JSON',
  configurationTemplate: '{"to":"${recipients}","text":"${text}"}',
  parameters: [],
};

const IN_TWO_DAYS = '2025-03-05';
const ONE_DAY = 86_400_000;

function rig() {
  const sent: Array<{ to: string; text: string }> = [];
  const fake: typeof fetch = async (_input, init) => {
    const body = JSON.parse(String(init?.body)) as { to: string; text: string };
    sent.push({ to: body.to, text: decodeURIComponent(body.text.replace(/\+/g, ' ')) });
    return new Response('{}', { status: 200 });
  };
  const emu = emulator('2.40', { sms: { fetch: fake } });
  return { emu, sent };
}

type Run = {
  response: {
    date: string;
    total: number;
    sent: number;
    failed: number;
    notifications: Array<{ event: string; recipient: string; status: string; text: string }>;
  };
};

describe('program notifications on demand (a subset of PROGRAM_NOTIFICATIONS)', () => {
  it('sends the EIR reminder 2 days before each scheduled Immunization visit: one SMS per event, to the phone attribute', async () => {
    const { emu, sent } = rig();
    await raw(emu, '/api/gateways', { json: GATEWAY });
    const res = await raw(emu, '/api/emulator/programNotifications/run', { method: 'POST' });
    expect(res.status).toBe(200);
    const run = (res.body as Run).response;
    expect(run.date).toBe(TODAY);
    expect(run.total).toBeGreaterThanOrEqual(3);
    expect(run).toMatchObject({ sent: run.total, failed: 0 });
    // Exactly the Immunization visits scheduled in two days that have not happened and have a phone are notified.
    const expected = [...emu.state.events.values()]
      .filter(
        (e) =>
          e.programStage === EIR.immunizationStage &&
          !e.deleted &&
          e.occurredAt === undefined &&
          e.status !== 'SKIPPED',
      )
      .filter(
        (e) =>
          e.scheduledAt !== undefined &&
          emu.time.dateOf(e.scheduledAt) === IN_TWO_DAYS &&
          emu.state.trackedEntities.get(e.trackedEntity)?.attributes[EIR.attributes.phone],
      )
      .map((e) => e.event);
    expect(run.notifications.map((n) => n.event).sort()).toEqual(expected.sort());
    for (const n of run.notifications) {
      const e = emu.state.events.get(n.event)!;
      expect(e.programStage).toBe(EIR.immunizationStage);
      expect(emu.time.dateOf(e.scheduledAt!)).toBe(IN_TWO_DAYS);
      expect(e.occurredAt).toBeUndefined();
    }
    // The caregiver of Amina and Juma gets two messages (DHIS2 sends per event; Jibu would send one).
    const toTwoDue = sent.filter((s) => s.to === PHONES.twoDue.slice(1));
    expect(toTwoDue).toHaveLength(2);
    const amina = child(emu, PHONES.twoDue, 'Amina');
    expect(toTwoDue.map((s) => s.text)).toContain(
      `Dear parent, Amina (EPI ${amina.attributes[EIR.attributes.systemId]}) is due for the next immunization visit at ${emu.state.orgUnits.get(scheduledEvent(emu, PHONES.twoDue, 'Amina').orgUnit)!.name} on ${IN_TWO_DAYS}.`,
    );
    expect(sent.filter((s) => s.to === PHONES.oneDue.slice(1))).toHaveLength(1);
    for (const phone of [PHONES.dueToday, PHONES.missedYesterday, PHONES.visitedYesterday])
      expect(sent.some((s) => s.to === phone.slice(1))).toBe(false);
    expect(emu.sms.outbound).toEqual([]);
  });

  it('a rescheduled visit moves its reminder; a visit with occurredAt or SKIPPED gets none', async () => {
    const { emu } = rig();
    await raw(emu, '/api/gateways', { json: GATEWAY });
    const neema = scheduledEvent(emu, PHONES.oneDue, 'Neema');
    neema.scheduledAt = neema.scheduledAt! + 3 * ONE_DAY;
    const juma = scheduledEvent(emu, PHONES.twoDue, 'Juma');
    juma.occurredAt = juma.scheduledAt;
    const amina = scheduledEvent(emu, PHONES.twoDue, 'Amina');
    amina.status = 'SKIPPED';
    emu.state.touch();
    const today = (await emu.sms.runProgramNotifications()).notifications.map((n) => n.event);
    expect(today).not.toContain(neema.event);
    expect(today).not.toContain(juma.event);
    expect(today).not.toContain(amina.event);
    expect((await emu.sms.runProgramNotifications('2025-03-06')).notifications.map((n) => n.event)).toContain(
      neema.event,
    );
  });

  it('without a gateway every notification fails, and a bad date is a 400', async () => {
    const { emu, sent } = rig();
    const run = (await raw(emu, `/api/emulator/programNotifications/run?date=${TODAY}`, { method: 'POST' }))
      .body as Run;
    expect(run.response.total).toBeGreaterThan(0);
    expect(run.response.sent).toBe(0);
    expect(sent).toEqual([]);
    expect((await raw(emu, '/api/emulator/programNotifications/run?date=03/03/2025', { method: 'POST' })).status).toBe(
      400,
    );
  });

  it('lists the template at /api/programNotificationTemplates', async () => {
    const { emu } = rig();
    const body = (
      await raw(
        emu,
        '/api/programNotificationTemplates?fields=id,notificationTrigger,relativeScheduledDays,recipientProgramAttribute',
      )
    ).body;
    expect(body).toMatchObject({
      programNotificationTemplates: [
        {
          id: 'cp2uesb41tP',
          notificationTrigger: 'SCHEDULED_DAYS_DUE_DATE',
          relativeScheduledDays: -2,
          recipientProgramAttribute: { id: EIR.attributes.phone },
        },
      ],
    });
  });

  it('renders V{…}, A{…} and #{…}, unknown ones as empty', () => {
    expect(
      renderNotification(
        'V{due_date}|A{a1}|#{d1}|V{nope}|A{zz}',
        { due_date: '2025-03-05' },
        { a1: 'Amina' },
        { d1: 'true' },
      ),
    ).toBe('2025-03-05|Amina|true||');
  });
});
