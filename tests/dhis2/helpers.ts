import { fixedClock } from '../../src/clock.ts';
import { createDhis2Client, type Dhis2Client, type Dhis2ClientOptions } from '../../src/dhis2/client.ts';
import { createEmulator, DEMO, EIR, type Emulator, type EmulatorOptions } from '../../src/emulator/index.ts';
import type { StoredEvent, StoredTrackedEntity } from '../../src/emulator/model.ts';

/** Monday 3 March 2025, 09:00 in Nairobi (UTC+3): the tests' "now". */
export const NOW = '2025-03-03T06:00:00.000Z';
export const TODAY = '2025-03-03';

/** An emulator at `version` on the fixed clock; 60 demo children unless `seed` says otherwise (keeps files fast). */
export function emulator(version: string, opts: Omit<EmulatorOptions, 'version'> = {}): Emulator {
  return createEmulator({ version, clock: fixedClock(NOW), seed: { children: 60 }, ...opts });
}

export function clientFor(emu: Emulator, opts: Partial<Dhis2ClientOptions> = {}): Dhis2Client {
  return createDhis2Client({
    baseUrl: emu.baseUrl,
    auth: { token: emu.credentials.token },
    fetch: emu.fetch,
    timeoutMs: 5000,
    ...opts,
  });
}

export interface RawAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** A raw request to the emulator as the admin, for envelope tests that must see exactly what DHIS2 sends. */
export async function raw(
  emu: Emulator,
  pathAndQuery: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<RawAnswer> {
  const { json, ...rest } = init;
  const res = await emu.fetch(`${emu.baseUrl}${pathAndQuery}`, {
    ...rest,
    headers: {
      Authorization: `ApiToken ${emu.credentials.token}`,
      'Content-Type': 'application/json',
      ...(rest.headers as Record<string, string> | undefined),
    },
    ...(json === undefined ? {} : { method: rest.method ?? 'POST', body: JSON.stringify(json) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** The demo child with this first name on this caregiver phone. */
export function child(emu: Emulator, phone: string, firstName: string): StoredTrackedEntity {
  const te = emu.state
    .trackedEntitiesWhere(EIR.attributes.phone, phone)
    .find((t) => t.attributes[EIR.attributes.firstName] === firstName);
  if (!te) throw new Error(`No demo child ${firstName} on ${phone}`);
  return te;
}

/** The child's scheduled Immunization event (the next appointment). */
export function scheduledEvent(emu: Emulator, phone: string, firstName: string): StoredEvent {
  const ev = emu.state
    .eventsOfTrackedEntity(child(emu, phone, firstName).trackedEntity)
    .find((e) => e.programStage === EIR.immunizationStage && e.status === 'SCHEDULE');
  if (!ev) throw new Error(`No scheduled event for ${firstName}`);
  return ev;
}

export const PHONES = {
  twoDue: DEMO.caregivers.twoChildrenDueInTwoDays.phone,
  oneDue: DEMO.caregivers.oneChildDueInTwoDays.phone,
  dueToday: DEMO.caregivers.dueToday.phone,
  missedYesterday: DEMO.caregivers.missedYesterday.phone,
  missedSeveral: DEMO.caregivers.missedSeveralDays.phone,
  visitedYesterday: DEMO.caregivers.visitedYesterday.phone,
  three: DEMO.caregivers.threeChildren.phone,
  newborn: DEMO.caregivers.newborn.phone,
};
