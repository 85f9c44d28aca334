import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createDhis2Client, type Dhis2Client } from '../../../src/dhis2/client.ts';
import type { TrackerPayload } from '../../../src/dhis2/payloads.ts';
import { EIR, createEmulator, type Emulator } from '../../../src/emulator/index.ts';
import { eventually } from '../../store/harness.ts';

/*
 * The emulator and the client's parsers against DHIS2's own examples (tests/dhis2/contract/README.md
 * cites each fixture's version and source). The emulator is Jibu's stand-in for DHIS2: where it and a
 * fixture disagree, the emulator is wrong.
 */

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
type Json = Record<string, unknown>;
const fixture = <T = Json>(version: string, name: string): T =>
  JSON.parse(readFileSync(path.join(DIR, version, `${name}.json`), 'utf8')) as T;

/** A client whose DHIS2 answers `/api/system/info` with `version` and everything else with `answer`. */
function clientAnswering(version: string, answer: (url: URL) => { status: number; body: unknown }): Dhis2Client {
  const respond = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  return createDhis2Client({
    baseUrl: 'http://dhis2.contract',
    auth: { username: 'admin', password: 'district' },
    fetch: async (input) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname === '/api/system/info') return respond(200, { version: `${version}.0` });
      const a = answer(url);
      return respond(a.status, a.body);
    },
  });
}

/** A GET or POST to the emulator's API as the admin's token. */
async function call(emu: Emulator, method: 'GET' | 'POST', pathAndQuery: string, body?: unknown) {
  const res = await emu.fetch(`${emu.baseUrl}${pathAndQuery}`, {
    method,
    headers: {
      authorization: `ApiToken ${emu.credentials.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as unknown };
}

const uidsOf = (items: Json[], key: string) => items.map((i) => i[key]);

const LISTS = [
  ['2.42', 'trackedEntities', 'trackedEntity'],
  ['2.42', 'enrollments', 'enrollment'],
  ['2.42', 'events', 'event'],
  ['2.41', 'trackedEntities', 'trackedEntity'],
  ['2.41', 'enrollments', 'enrollment'],
] as const;

describe('list envelopes as DHIS2 documents them', () => {
  it.each(LISTS)('%s %s: the client reads the items and the pager', async (version, key, idKey) => {
    const body = fixture(version, `${key}-list`);
    const client = clientAnswering(version, () => ({ status: 200, body }));
    const page =
      key === 'trackedEntities'
        ? await client.trackedEntities({ orgUnits: ['DiszpKrYNg8'], program: 'IpHINAT79UW' })
        : key === 'enrollments'
          ? await client.enrollments({ orgUnits: ['DiszpKrYNg8'] })
          : await client.events({ orgUnit: 'DiszpKrYNg8', program: 'eBAyeGv0exc' });
    expect(page.items.map((i) => (i as unknown as Json)[idKey])).toEqual(uidsOf(body[key] as Json[], idKey));
    const pager = body.pager as { page: number; pageSize: number };
    expect({ page: page.page, pageSize: page.pageSize }).toEqual(pager);
  });

  it.each(LISTS)('%s %s: the emulator answers with the same envelope', async (version, key) => {
    const documented = fixture(version, `${key}-list`);
    const emu = createEmulator({ version, seed: { children: 5 } });
    const query =
      key === 'events'
        ? 'orgUnitMode=ALL&pageSize=1'
        : key === 'enrollments'
          ? 'orgUnitMode=ALL&pageSize=1'
          : `orgUnitMode=ALL&pageSize=1&trackedEntityType=${EIR.trackedEntityType}`;
    const res = await call(emu, 'GET', `/api/tracker/${key}?${query}`);
    expect(res.status).toBe(200);
    const body = res.json as Json;
    // Every key DHIS2 shows at the top level is there, items under the resource's own name, a pager object.
    for (const k of Object.keys(documented)) expect(body, `top-level ${k}`).toHaveProperty(k);
    expect(body.pager).toMatchObject({ page: 1, pageSize: 1 });
    expect(Array.isArray(body[key])).toBe(true);
    // 2.42 dropped the flat paging fields and `instances` (docs show the pager only).
    if (version === '2.42') for (const k of ['instances', 'page', 'pageSize']) expect(body).not.toHaveProperty(k);
  });
});

describe('single objects as DHIS2 documents them', () => {
  it.each([
    ['2.42', 'trackedEntity'],
    ['2.42', 'enrollment'],
    ['2.42', 'event'],
    ['2.41', 'trackedEntity'],
    ['2.41', 'enrollment'],
  ] as const)('%s %s: the client parses it, nested objects included', async (version, kind) => {
    const body = fixture(version, kind);
    const client = clientAnswering(version, () => ({ status: 200, body }));
    const uid = body[kind] as string;
    const got =
      kind === 'trackedEntity'
        ? await client.trackedEntity(uid)
        : kind === 'enrollment'
          ? await client.enrollment(uid)
          : await client.event(uid);
    expect((got as unknown as Json)[kind]).toBe(uid);
    if (kind === 'trackedEntity') {
      const te = got as unknown as { attributes: Json[]; enrollments: Array<{ events: Json[] }> };
      expect(te.attributes.map((a) => a.value)).toEqual(['John', 'Kelly']);
      expect(te.enrollments[0]?.events.map((e) => e.event)).toEqual(['Zq2dg6pTNoj']);
    }
  });
});

describe('import reports as DHIS2 documents them', () => {
  const post = (version: string, status: number, body: unknown) =>
    clientAnswering(version, () => ({ status, body })).importTracker({ events: [] } as TrackerPayload);

  it('a sync import summary: status, stats and no issues', async () => {
    const r = await post('2.42', 200, fixture('2.42', 'import-summary-ok'));
    expect(r).toMatchObject({ status: 'OK', errors: [], warnings: [], httpStatus: 200 });
    expect(r.stats).toEqual({ created: 3, updated: 0, deleted: 0, ignored: 0, total: 3 });
  });

  it('the documented validation error (E1005) reads as an issue with its type and uid', async () => {
    const r = await post('2.42', 409, { status: 'ERROR', ...fixture<Json>('2.42', 'import-report-E1005') });
    expect(r.errors).toEqual([
      {
        code: 'E1005',
        message: 'Could not find TrackedEntityType: `Q9GufDoplCL`.',
        trackerType: 'TRACKED_ENTITY',
        uid: 'Kj6vYde4LHh',
      },
    ]);
    expect(r.httpStatus).toBe(409);
  });

  it('the documented stats and bundle report fragments read as part of a report', async () => {
    const r = await post('2.42', 200, {
      status: 'OK',
      ...fixture<Json>('2.42', 'import-report-stats'),
      ...fixture<Json>('2.42', 'import-report-bundle'),
    });
    expect(r.stats).toEqual({ created: 2, updated: 2, deleted: 1, ignored: 5, total: 10 });
  });

  it.each(['E1000', 'E1315'])('a 409 ERROR report with %s is returned, not thrown', async (code) => {
    const r = await post('2.42', 409, fixture('2.42', `import-409-${code}`));
    expect(r.status).toBe('ERROR');
    expect(r.errors.map((e) => e.code)).toEqual([code]);
    expect(r.httpStatus).toBe(409);
  });

  it('E1119 (a note that already exists) is a warning, the import still OK to act on', async () => {
    const r = await post('2.42', 200, fixture('2.42', 'import-warning-E1119'));
    expect(r.status).toBe('WARNING');
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.code)).toEqual(['E1119']);
  });
});

const REQUESTS = [
  ['import-nested-payload', 'CREATE_AND_UPDATE'],
  ['import-update-attribute', 'UPDATE'],
  ['import-delete-attribute', 'UPDATE'],
  ['import-update-datavalue', 'UPDATE'],
  ['import-delete-datavalue', 'UPDATE'],
  ['import-delete-events', 'DELETE'],
  ['import-delete-trackedEntities', 'DELETE'],
] as const;

describe("the emulator's import reports have DHIS2's documented shape", () => {
  const documented = fixture('2.42', 'import-summary-ok');
  const reportKeys = Object.keys(documented.validationReport as Json).sort();
  const statsKeys = Object.keys(documented.stats as Json).sort();

  it.each(REQUESTS)(
    '%s (importStrategy=%s), sent as documented: a report DHIS2 would give, 409 exactly when ERROR',
    async (name, strategy) => {
      const emu = createEmulator({ version: '2.42' });
      const res = await call(emu, 'POST', `/api/tracker?async=false&importStrategy=${strategy}`, fixture('2.42', name));
      const report = res.json as Json & { status: string; validationReport: Json; stats: Json };
      expect(['OK', 'WARNING', 'ERROR']).toContain(report.status);
      expect(res.status).toBe(report.status === 'ERROR' ? 409 : 200);
      expect(Object.keys(report.validationReport).sort()).toEqual(reportKeys);
      expect(Object.keys(report.stats).sort()).toEqual(statsKeys);
      // The docs' uids belong to DHIS2's demo database, not the emulator's: each finding names its object.
      for (const e of report.validationReport.errorReports as Json[]) {
        expect(Object.keys(e)).toEqual(expect.arrayContaining(['message', 'errorCode', 'trackerType', 'uid']));
        expect(e.errorCode).toMatch(/^E\d{4}$/);
      }
    },
  );

  it('an async import answers a TrackerJob whose notifications look like the documented ones', async () => {
    const documentedLog = fixture<Json[]>('2.42', 'job-notifications');
    const emu = createEmulator({ version: '2.42' });
    const started = await call(emu, 'POST', '/api/tracker', fixture('2.42', 'import-delete-events'));
    expect(started.status).toBe(200);
    const job = (started.json as { response: { responseType: string; id: string } }).response;
    expect(job.responseType).toBe('TrackerJob');
    // Wait on the job's own state: done when an entry says `completed`.
    const log = await eventually(
      async () => (await call(emu, 'GET', `/api/tracker/jobs/${job.id}`)).json as Json[],
      (entries) => Array.isArray(entries) && entries.some((e) => e.completed === true),
    );
    const keys = new Set(['uid', 'level', 'category', 'time', 'message', 'completed', 'id', 'dataType', 'data']);
    for (const entry of log) {
      for (const k of Object.keys(entry)) expect(keys, `notification key ${k}`).toContain(k);
      expect(entry.category).toBe(documentedLog[0]!.category);
    }
    // Newest first, as documented: the completed entry leads.
    expect(log[0]!.completed).toBe(true);
    const report = await call(emu, 'GET', `/api/tracker/jobs/${job.id}/report`);
    // The job's report is the sync import's report (as documented).
    expect(report.status).toBe(200);
    expect(Object.keys((report.json as Json).stats as Json).sort()).toEqual(
      Object.keys(fixture('2.42', 'import-summary-ok').stats as Json).sort(),
    );
  });
});
