import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createEmulator, DEMO, EIR, VEN } from '../../src/emulator/index.ts';
import { isUid } from '../../src/dhis2/uid.ts';
import { child, emulator, PHONES, scheduledEvent, TODAY } from './helpers.ts';

const day = (emu: ReturnType<typeof emulator>, ms: number | undefined) => emu.time.dateOf(ms!);

describe('demo data', () => {
  const emu = emulator('2.40', { seed: {} });

  it('holds 300 children by default, enough that listings need paging', () => {
    const children = [...emu.state.trackedEntities.values()].filter((te) =>
      (emu.state.enrollmentsByTrackedEntity.get(te.trackedEntity) ?? []).some((en) => en.program === EIR.program),
    );
    expect(children).toHaveLength(300);
    const scheduled = [...emu.state.events.values()].filter(
      (e) => e.programStage === EIR.immunizationStage && e.status === 'SCHEDULE',
    );
    expect(scheduled.length).toBeGreaterThan(250);
  });

  it('places the named appointments relative to today', () => {
    expect(day(emu, scheduledEvent(emu, PHONES.twoDue, 'Amina').scheduledAt)).toBe('2025-03-05');
    expect(day(emu, scheduledEvent(emu, PHONES.twoDue, 'Juma').scheduledAt)).toBe('2025-03-05');
    expect(day(emu, scheduledEvent(emu, PHONES.oneDue, 'Neema').scheduledAt)).toBe('2025-03-05');
    expect(day(emu, scheduledEvent(emu, PHONES.dueToday, 'Baraka').scheduledAt)).toBe(TODAY);
    expect(day(emu, scheduledEvent(emu, PHONES.missedYesterday, 'Imani').scheduledAt)).toBe('2025-03-02');
    expect(day(emu, scheduledEvent(emu, PHONES.missedSeveral, 'Zuri').scheduledAt)).toBe('2025-02-25');
    const tumaini = emu.state.eventsOfTrackedEntity(child(emu, PHONES.visitedYesterday, 'Tumaini').trackedEntity);
    const lastVisit = tumaini
      .filter((e) => e.programStage === EIR.immunizationStage && e.status === 'COMPLETED')
      .sort((a, b) => b.occurredAt! - a.occurredAt!)[0]!;
    expect(day(emu, lastVisit.occurredAt)).toBe('2025-03-02');
    expect(lastVisit.dataValues!.length).toBeGreaterThan(1);
    expect(day(emu, scheduledEvent(emu, PHONES.visitedYesterday, 'Tumaini').scheduledAt)).toBe('2025-03-30');
  });

  it('has caregivers with several children on one phone, and a fully vaccinated child with nothing scheduled', () => {
    expect(emu.state.trackedEntitiesWhere(EIR.attributes.phone, PHONES.three)).toHaveLength(3);
    const omari = child(emu, PHONES.three, 'Omari');
    expect(emu.state.eventsOfTrackedEntity(omari.trackedEntity).some((e) => e.status === 'SCHEDULE')).toBe(false);
    const byPhone = new Map<string, number>();
    for (const te of emu.state.trackedEntities.values()) {
      const phone = te.attributes[EIR.attributes.phone]!;
      byPhone.set(phone, (byPhone.get(phone) ?? 0) + 1);
    }
    expect([...byPhone.values()].filter((n) => n > 1).length).toBeGreaterThan(20);
    expect([...byPhone.keys()].every((p) => /^\+2547\d{8}$/.test(p))).toBe(true);
    expect(byPhone.has(DEMO.unknownPhone)).toBe(false);
  });

  it('notifies the newborn’s birth on Vital Events', () => {
    const wema = child(emu, PHONES.newborn, 'Wema');
    const ven = emu.state.enrollmentsByTrackedEntity.get(wema.trackedEntity)!.find((en) => en.program === VEN.program)!;
    expect(ven).toBeDefined();
    expect(emu.state.eventsByEnrollment.get(ven.enrollment)![0]).toMatchObject({
      programStage: VEN.birthStage,
      status: 'COMPLETED',
    });
    expect(wema.attributes[VEN.attributes.registrationReason]).toBe('1');
  });

  it('has case workers as users with phone numbers and village or facility org units, one disabled', () => {
    const users = [...emu.state.users.values()].filter((u) => u.phoneNumber?.startsWith('+2547110000'));
    expect(users).toHaveLength(5);
    expect(emu.state.users.get(DEMO.caseWorkers.kidutani.id)).toMatchObject({
      phoneNumber: '+254711000001',
      organisationUnits: [DEMO.orgUnits.kidutani],
      disabled: false,
    });
    expect(emu.state.orgUnits.get(DEMO.caseWorkers.mtwapa.orgUnit)!.level).toBe(3);
    expect(emu.state.orgUnits.get(DEMO.caseWorkers.kidutani.orgUnit)!.level).toBe(4);
    expect(emu.state.users.get(DEMO.caseWorkers.disabled.id)!.disabled).toBe(true);
  });

  it('builds a country → district → facility → village tree of valid UIDs', () => {
    const levels = [...emu.state.orgUnits.values()].map((o) => o.level);
    expect(new Set(levels)).toEqual(new Set([1, 2, 3, 4]));
    for (const ou of emu.state.orgUnits.values()) {
      expect(isUid(ou.id)).toBe(true);
      expect(ou.path.split('/').filter(Boolean)).toHaveLength(ou.level);
    }
    for (const id of [...emu.state.trackedEntities.keys(), ...emu.state.enrollments.keys(), ...emu.state.events.keys()])
      expect(isUid(id)).toBe(true);
  });

  it('is deterministic for a seed and differs for another', () => {
    const ids = (seed?: number) => [
      ...createEmulator({
        clock: fixedClock('2025-03-03T06:00:00Z'),
        seed: { children: 40, ...(seed ? { seed } : {}) },
      }).state.events.keys(),
    ];
    expect(ids()).toEqual(ids());
    expect(ids(7)).not.toEqual(ids());
  });

  it('moves with the clock, so the demo is always fresh', () => {
    const later = createEmulator({ clock: fixedClock('2025-07-01T06:00:00Z'), seed: { children: 20 } });
    expect(later.time.dateOf(scheduledEvent(later, PHONES.twoDue, 'Amina').scheduledAt!)).toBe('2025-07-03');
    expect(later.time.dateOf(scheduledEvent(later, PHONES.missedYesterday, 'Imani').scheduledAt!)).toBe('2025-06-30');
  });

  it('without demo people keeps the metadata, the org unit tree and the admin', () => {
    const empty = emulator('2.42', { seed: false });
    expect(empty.state.trackedEntities.size).toBe(0);
    expect(empty.state.orgUnits.size).toBe(19);
    expect(empty.state.metadata.programs.has(EIR.program)).toBe(true);
    expect(empty.state.userByUsername('admin')).toBeDefined();
  });
});
