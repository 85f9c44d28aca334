import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { createDhis2Client } from '../../src/dhis2/client.ts';
import { createEmulator, EIR } from '../../src/emulator/index.ts';

describe('demo data at bench scale', () => {
  it('generates 100 000 scheduled events in memory and pages through them', async () => {
    const emu = createEmulator({
      version: '2.42',
      clock: fixedClock('2025-03-03T06:00:00Z'),
      seed: { children: 100_000 },
    });
    const scheduled = [...emu.state.events.values()].filter(
      (e) => e.programStage === EIR.immunizationStage && e.status === 'SCHEDULE',
    );
    expect(scheduled.length).toBeGreaterThanOrEqual(99_990);
    // Without history every generated child is just its next appointment: one event each.
    expect(emu.state.events.size).toBeLessThan(100_100);
    const client = createDhis2Client({
      baseUrl: emu.baseUrl,
      auth: { token: emu.credentials.token },
      fetch: emu.fetch,
    });
    const overdue = await client.events({
      programStage: EIR.immunizationStage,
      status: 'OVERDUE',
      pageSize: 1000,
      totalPages: true,
      fields: 'event',
    });
    expect(overdue.items).toHaveLength(1000);
    expect(overdue.total).toBeGreaterThan(5_000);
  });
});
