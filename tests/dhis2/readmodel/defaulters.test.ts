import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../src/clock.ts';
import { createDhis2Client } from '../../../src/dhis2/client.ts';
import { parseDeployment, type Deployment } from '../../../src/dhis2/deployment.ts';
import { getDefaultersFor, rmKeys, syncReadModel, type SyncState } from '../../../src/dhis2/readmodel/index.ts';
import { createEmulator, DEMO, EIR, type Emulator } from '../../../src/emulator/index.ts';
import type { StoredEvent } from '../../../src/emulator/model.ts';
import { ServerTime } from '../../../src/emulator/time.ts';
import { adminRouter } from '../../../src/server/admin.ts';
import { createMetrics } from '../../../src/server/metrics.ts';
import type { FlowSet } from '../../../src/conversation/index.ts';
import { NOW, TODAY } from '../helpers.ts';
import { makeStore, type TestStore } from './harness.ts';

/**
 * Who is a defaulter (deployment `defaulters`): an overdue visit the definition leaves out is counted by
 * reason in the sync stats, in `rm:sync`, in the admin view and in `/metrics`; nothing vanishes silently.
 */

const open: TestStore[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

interface Planted {
  old: StoredEvent;
  aged: StoredEvent;
  closed: StoredEvent;
  kept: StoredEvent;
}

/** Four generated children's next visits made overdue: 1 100 days (outside the lookback), an old child, a completed enrollment, 500 days. */
function plant(emu: Emulator): Planted {
  const named = new Set(Object.values(DEMO.caregivers).map((c) => c.phone as string));
  const scheduled = [...emu.state.events.values()].filter((e) => {
    if (e.programStage !== EIR.immunizationStage || e.status !== 'SCHEDULE') return false;
    const phone = emu.state.trackedEntities.get(e.trackedEntity)?.attributes[EIR.attributes.phone];
    return phone !== undefined && !named.has(phone);
  });
  const [old, aged, closed, kept] = scheduled as [StoredEvent, StoredEvent, StoredEvent, StoredEvent];
  const ago = (days: number) => emu.time.startOfDay(ServerTime.addDays(TODAY, -days));
  old.scheduledAt = ago(1100);
  aged.scheduledAt = ago(200);
  emu.state.trackedEntities.get(aged.trackedEntity)!.attributes[EIR.attributes.dateOfBirth] = '2021-11-03'; // 40 months
  closed.scheduledAt = ago(50);
  emu.state.enrollments.get(closed.enrollment)!.status = 'COMPLETED';
  kept.scheduledAt = ago(500);
  emu.state.touch();
  return { old, aged, closed, kept };
}

async function syncWith(deployment: Deployment) {
  const clock = fixedClock(NOW);
  const emu = createEmulator({ version: '2.41', clock, seed: { children: 60 } });
  const planted = plant(emu);
  const client = createDhis2Client({
    baseUrl: emu.baseUrl,
    auth: { token: emu.credentials.token },
    fetch: emu.fetch,
    timeoutMs: 5000,
  });
  const s = await makeStore('memory', clock, 'rm-defaulters');
  open.push(s);
  const stats = await syncReadModel({ client, store: s.store, deployment, clock, mode: 'full' });
  const listed = new Set((await getDefaultersFor(s.store, [DEMO.orgUnits.country])).map((d) => d.event));
  return { store: s.store, stats, planted, listed };
}

describe('who is a defaulter', () => {
  it('keeps overdue visits up to the lookback (1 000 days by default) and counts the older ones', async () => {
    const { stats, planted, listed } = await syncWith(parseDeployment({ timeZone: 'Africa/Nairobi' }));
    expect(stats.window.from).toBe(ServerTime.addDays(TODAY, -1000));
    expect(listed.has(planted.kept.event)).toBe(true); // 500 days late
    expect(listed.has(planted.aged.event)).toBe(true); // no age limit by default
    expect(listed.has(planted.old.event)).toBe(false);
    expect(listed.has(planted.closed.event)).toBe(false);
    expect(stats.excluded).toEqual({ lookback: 1, enrollment: 1, age: 0, grace: 0 });
    expect(stats.defaulters).toBe(listed.size);
  });

  it('leaves out a child past maxAgeMonths, counted under "age", visible to admins and in /metrics', async () => {
    const deployment = parseDeployment({ timeZone: 'Africa/Nairobi', defaulters: { maxAgeMonths: 36 } });
    const { store, stats, planted, listed } = await syncWith(deployment);
    expect(listed.has(planted.aged.event)).toBe(false);
    expect(listed.has(planted.kept.event)).toBe(true);
    expect(stats.excluded).toEqual({ lookback: 1, enrollment: 1, age: 1, grace: 0 });

    const state = await store.getJson<SyncState>(rmKeys.sync());
    expect(state?.defaulters).toMatchObject({ count: listed.size, excluded: stats.excluded });
    expect(state?.defaulters?.rule.bornAfter).toBe('2022-03-03');

    const app = express();
    app.use(
      '/admin',
      adminRouter({
        embedded: true,
        store,
        queue: undefined as never,
        flows: () => ({}) as FlowSet,
        reloadFlows: async () => ({ ok: true, version: 'x' }),
      }),
    );
    const res = await request(app).get('/admin/defaulters');
    expect(res.status).toBe(200);
    expect(res.body.defaulters).toMatchObject({
      count: listed.size,
      excluded: { lookback: 1, enrollment: 1, age: 1, grace: 0 },
    });
    // Counts only: no child, no phone number.
    expect(JSON.stringify(res.body)).not.toMatch(/\+2547|trackedEntity/);

    const metrics = createMetrics({ defaultMetrics: false });
    metrics.watchReadModel(store);
    const text = await metrics.registry.metrics();
    expect(text).toContain('jibu_defaulters_excluded{reason="age"} 1');
    expect(text).toContain('jibu_defaulters_excluded{reason="lookback"} 1');
    expect(text).toContain('jibu_defaulters_excluded{reason="enrollment"} 1');
    expect(text).toContain(`jibu_defaulters ${listed.size}`);
  });

  it('counts visits within the grace days apart, and lists them once the grace has passed', async () => {
    const { stats, listed, planted } = await syncWith(
      parseDeployment({ timeZone: 'Africa/Nairobi', defaulters: { graceDays: 3, lookbackDays: 1200 } }),
    );
    expect(listed.has(planted.old.event)).toBe(true); // 1 100 days: inside a 1 200-day lookback
    expect(stats.excluded.lookback).toBe(0);
    // The generated registry has visits missed 1–30 days ago: those of the last 3 days wait.
    expect(stats.excluded.grace).toBeGreaterThan(0);
  });
});
