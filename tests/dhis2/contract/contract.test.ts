import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createDhis2Client, type Dhis2Client } from '../../../src/dhis2/client.ts';
import { Dhis2TransportError } from '../../../src/dhis2/errors.ts';
import type { TrackerPayload } from '../../../src/dhis2/payloads.ts';
import { newUid } from '../../../src/dhis2/uid.ts';
import { EIR, createEmulator, type Emulator } from '../../../src/emulator/index.ts';
import { eventually } from '../../store/harness.ts';
import { emulator, PHONES, scheduledEvent } from '../helpers.ts';

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
      const url = new URL(input);
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
  ['2.40', 'trackedEntities', 'trackedEntity'],
  ['2.40', 'enrollments', 'enrollment'],
  ['2.40', 'events', 'event'],
  ['2.38', 'trackedEntities', 'trackedEntity'],
  ['2.38', 'enrollments', 'enrollment'],
  ['2.38', 'events', 'event'],
] as const;

/** The documented paging fields: the `pager` object from 2.41, flat at the top up to 2.40. */
const documentedPager = (body: Json) => (body.pager ?? body) as { page: number; pageSize: number; total?: number };

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
    // 2.38–2.40 list under `instances`, later versions under the resource's own name.
    const documentedItems = (body.instances ?? body[key]) as Json[];
    expect(documentedItems.length).toBeGreaterThan(0);
    expect(page.items.map((i) => (i as unknown as Json)[idKey])).toEqual(uidsOf(documentedItems, idKey));
    const pager = documentedPager(body);
    expect({ page: page.page, pageSize: page.pageSize }).toEqual({ page: pager.page, pageSize: pager.pageSize });
    expect(page.total).toBe(pager.total);
  });

  it.each(LISTS)('%s %s: the emulator answers with the same envelope', async (version, key) => {
    const documented = fixture(version, `${key}-list`);
    const emu = createEmulator({ version, seed: { children: 5 } });
    // The documented totals come with totalPages=true; ask for them when the document shows one.
    const totals = documentedPager(documented).total === undefined ? '' : '&totalPages=true';
    const ouMode = Number(version.split('.')[1]) <= 40 ? 'ouMode' : 'orgUnitMode';
    const type = key === 'trackedEntities' ? `&trackedEntityType=${EIR.trackedEntityType}` : '';
    const res = await call(emu, 'GET', `/api/tracker/${key}?${ouMode}=ALL&pageSize=1${type}${totals}`);
    expect(res.status).toBe(200);
    const body = res.json as Json;
    // Every key DHIS2 shows at the top level is there, the items under the same key, the paging where documented.
    for (const k of Object.keys(documented)) expect(body, `top-level ${k}`).toHaveProperty(k);
    const itemsKey = 'instances' in documented ? 'instances' : key;
    expect(Array.isArray(body[itemsKey])).toBe(true);
    expect(documentedPager(body)).toMatchObject({ page: 1, pageSize: 1 });
    // 2.42 dropped the flat paging fields and `instances`; 2.38–2.40 had no `pager` and no named key.
    if (version === '2.42') for (const k of ['instances', 'page', 'pageSize']) expect(body).not.toHaveProperty(k);
    if ('instances' in documented) for (const k of ['pager', key]) expect(body).not.toHaveProperty(k);
  });
});

const SINGLES = [
  ['2.42', 'trackedEntity'],
  ['2.42', 'enrollment'],
  ['2.42', 'event'],
  ['2.41', 'trackedEntity'],
  ['2.41', 'enrollment'],
  ['2.40', 'trackedEntity'],
  ['2.40', 'enrollment'],
  ['2.40', 'event'],
  ['2.38', 'trackedEntity'],
  ['2.38', 'enrollment'],
  ['2.38', 'event'],
] as const;

type DocTe = Json & { attributes: Json[]; enrollments: Array<Json & { events: Json[] }> };

/**
 * Keys DHIS2 leaves out when the value is null (docs/dhis2.md#object-json): an emulator object whose data has no
 * such value may lack them.
 */
const NULLABLE = new Set([
  'createdAtClient',
  'updatedAtClient',
  'occurredAt',
  'scheduledAt',
  'completedAt',
  'geometry',
]);
/** Documented keys the emulator does not send, each with its reason in tests/dhis2/contract/README.md. */
const NOT_IMITATED: Record<string, string[]> = { '2.38 event': ['href'], '2.42 event': ['followup'] };

describe('single objects as DHIS2 documents them', () => {
  it.each(SINGLES)('%s %s: the client parses it, nested objects included', async (version, kind) => {
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
      const doc = body as DocTe;
      const te = got as unknown as DocTe;
      expect(te.attributes.map((a) => a.value)).toEqual(doc.attributes.map((a) => a.value));
      const docEvent = doc.enrollments[0]!.events[0]!;
      const event = te.enrollments[0]!.events[0]!;
      expect(event.event).toBe(docEvent.event);
      // One name after parsing, whichever spelling the version sends (docs/dhis2.md#object-json).
      expect(event.followUp).toBe(docEvent.followUp ?? docEvent.followup);
    }
  });

  it.each(SINGLES)('%s %s: the emulator sends every documented field its data has', async (version, kind) => {
    const doc = fixture(version, kind);
    const emu = createEmulator({ version, seed: { children: 5 } });
    const te = [...emu.state.trackedEntities.values()][0]!;
    const teJson = (await call(emu, 'GET', `/api/tracker/trackedEntities/${te.trackedEntity}?fields=*`)).json as DocTe;
    const enrollment = teJson.enrollments[0]!;
    const pairs: Array<[string, Json, Json]> = [];
    if (kind === 'trackedEntity') {
      const docTe = doc as DocTe;
      pairs.push([kind, docTe, teJson], ['enrollment', docTe.enrollments[0]!, enrollment]);
      pairs.push(['event', docTe.enrollments[0]!.events[0]!, enrollment.events[0]!]);
    } else {
      const uid = kind === 'enrollment' ? enrollment.enrollment : enrollment.events[0]!.event;
      const res = await call(emu, 'GET', `/api/tracker/${kind}s/${String(uid)}?fields=*`);
      expect(res.status).toBe(200);
      pairs.push([kind, doc, res.json as Json]);
    }
    for (const [name, documented, emulated] of pairs) {
      const skip = new Set(name === kind ? (NOT_IMITATED[`${version} ${kind}`] ?? []) : []);
      const missing = Object.keys(documented).filter((k) => !(k in emulated) && !NULLABLE.has(k) && !skip.has(k));
      expect(missing, `${version} ${name} keys the emulator lacks`).toEqual([]);
    }
  });
});

/** Versions whose documentation gives the import report fragments (E1005, stats, bundle report). */
const REPORT_VERSIONS = ['2.38', '2.40', '2.42'] as const;

describe('import reports as DHIS2 documents them', () => {
  const post = (version: string, status: number, body: unknown) =>
    clientAnswering(version, () => ({ status, body })).importTracker({ events: [] } as TrackerPayload);

  it('a sync import summary: status, stats and no issues', async () => {
    const r = await post('2.42', 200, fixture('2.42', 'import-summary-ok'));
    expect(r).toMatchObject({ status: 'OK', errors: [], warnings: [], httpStatus: 200 });
    expect(r.stats).toEqual({ created: 3, updated: 0, deleted: 0, ignored: 0, total: 3 });
  });

  it.each(REPORT_VERSIONS)(
    '%s: the documented validation error (E1005) reads as an issue with its type and uid',
    async (v) => {
      const r = await post(v, 409, { status: 'ERROR', ...fixture<Json>(v, 'import-report-E1005') });
      expect(r.errors).toEqual([
        {
          code: 'E1005',
          message: 'Could not find TrackedEntityType: `Q9GufDoplCL`.',
          trackerType: 'TRACKED_ENTITY',
          uid: 'Kj6vYde4LHh',
        },
      ]);
      expect(r.httpStatus).toBe(409);
    },
  );

  it.each(REPORT_VERSIONS)(
    '%s: the documented stats and bundle report fragments read as part of a report',
    async (v) => {
      const r = await post(v, 200, {
        status: 'OK',
        ...fixture<Json>(v, 'import-report-stats'),
        ...fixture<Json>(v, 'import-report-bundle'),
      });
      expect(r.stats).toEqual({ created: 2, updated: 2, deleted: 1, ignored: 5, total: 10 });
    },
  );

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

  it.each(['2.38', '2.40'])(
    '%s: the documented async job receipt is refused as a report, never read as one',
    async (v) => {
      const receipt = fixture<{ response: Json }>(v, 'import-async-job');
      expect(receipt.response.responseType).toBe('TrackerJob');
      const attempt = post(v, 200, receipt);
      await expect(attempt).rejects.toThrow(Dhis2TransportError);
      await expect(attempt).rejects.toThrow(/was it run asynchronously/);
    },
  );
});

const REQUESTS = [
  ['2.42', 'import-nested-payload', 'CREATE_AND_UPDATE'],
  ['2.42', 'import-update-attribute', 'UPDATE'],
  ['2.42', 'import-delete-attribute', 'UPDATE'],
  ['2.42', 'import-update-datavalue', 'UPDATE'],
  ['2.42', 'import-delete-datavalue', 'UPDATE'],
  ['2.42', 'import-delete-events', 'DELETE'],
  ['2.42', 'import-delete-trackedEntities', 'DELETE'],
  ['2.40', 'import-nested-payload', 'CREATE_AND_UPDATE'],
  ['2.38', 'import-nested-payload', 'CREATE_AND_UPDATE'],
] as const;

/** The keys a version's documentation gives a validation report and the import stats. */
function documentedReportKeys(version: string): { report: string[]; stats: string[] } {
  return {
    report: Object.keys(fixture<{ validationReport: Json }>(version, 'import-report-E1005').validationReport).sort(),
    stats: Object.keys(fixture<{ stats: Json }>(version, 'import-report-stats').stats).sort(),
  };
}

type Bundle = { typeReportMap: Record<string, Json & { objectReports: Json[] }> } & Json;

describe("the emulator's import reports have DHIS2's documented shape", () => {
  it.each(REQUESTS)(
    '%s %s (importStrategy=%s), sent as documented: a report DHIS2 would give, 409 exactly when ERROR',
    async (version, name, strategy) => {
      const keys = documentedReportKeys(version);
      const emu = createEmulator({ version });
      const res = await call(
        emu,
        'POST',
        `/api/tracker?async=false&importStrategy=${strategy}`,
        fixture(version, name),
      );
      const report = res.json as Json & { status: string; validationReport: Json; stats: Json };
      expect(['OK', 'WARNING', 'ERROR']).toContain(report.status);
      expect(res.status).toBe(report.status === 'ERROR' ? 409 : 200);
      expect(Object.keys(report.validationReport).sort()).toEqual(keys.report);
      expect(Object.keys(report.stats).sort()).toEqual(keys.stats);
      // The docs' uids belong to DHIS2's demo database, not the emulator's: each finding names its object.
      for (const e of report.validationReport.errorReports as Json[]) {
        expect(Object.keys(e)).toEqual(expect.arrayContaining(['message', 'errorCode', 'trackerType', 'uid']));
        expect(e.errorCode).toMatch(/^E\d{4}$/);
      }
    },
  );

  it.each(REPORT_VERSIONS)('%s: a saved import carries the bundle report the version documents', async (version) => {
    const documented = fixture<{ bundleReport: Bundle }>(version, 'import-report-bundle').bundleReport;
    const docType = Object.values(documented.typeReportMap)[0]!;
    // A new scheduled visit for a demo child: valid on every version, so the report has a bundle.
    const emu = emulator(version);
    const base = scheduledEvent(emu, PHONES.oneDue, 'Neema');
    const event = { event: newUid(), program: EIR.program, programStage: EIR.immunizationStage };
    const payload = {
      events: [
        { ...event, enrollment: base.enrollment, orgUnit: base.orgUnit, status: 'SCHEDULE', scheduledAt: '2025-04-01' },
      ],
    };
    const res = await call(emu, 'POST', '/api/tracker?async=false', payload);
    expect(res.status).toBe(200);
    const bundle = (res.json as { bundleReport: Bundle }).bundleReport;
    // `bundleReport.status` is documented up to 2.39; object reports carry `index` up to 2.40.
    expect('status' in bundle).toBe('status' in documented);
    const eventType = bundle.typeReportMap.EVENT!;
    expect(Object.keys(eventType)).toEqual(expect.arrayContaining(Object.keys(docType)));
    expect(Object.keys(eventType.objectReports[0]!).sort()).toEqual(Object.keys(docType.objectReports[0]!).sort());
  });

  it.each(REPORT_VERSIONS)(
    '%s: an async import answers a TrackerJob whose log looks like the documented one',
    async (version) => {
      const documentedLog = fixture<Json[]>(version, 'job-notifications');
      const emu = createEmulator({ version });
      const payload = version === '2.42' ? 'import-delete-events' : 'import-nested-payload';
      const started = await call(emu, 'POST', '/api/tracker', fixture(version, payload));
      expect(started.status).toBe(200);
      const receipt = started.json as Json & { response: Json & { id: string } };
      const job = receipt.response;
      expect(job.responseType).toBe('TrackerJob');
      if (version !== '2.42') {
        // 2.38 and 2.40 document the receipt itself: the same WebMessage, the job's own id in the location.
        const documented = fixture<Json & { response: Json }>(version, 'import-async-job');
        const { response: docResponse, ...docMessage } = documented;
        const { response: _response, ...message } = receipt;
        expect(message).toEqual(docMessage);
        expect(Object.keys(job).sort()).toEqual(Object.keys(docResponse).sort());
        expect(job.location).toBe(`${emu.baseUrl}/api/tracker/jobs/${job.id}`);
      }
      // Wait on the job's own state: done when an entry says `completed`.
      const log = await eventually(
        async () => (await call(emu, 'GET', `/api/tracker/jobs/${job.id}`)).json as Json[],
        (entries) => Array.isArray(entries) && entries.some((e) => e.completed === true),
      );
      const keys = new Set(documentedLog.flatMap((e) => Object.keys(e)));
      for (const entry of log) {
        for (const k of Object.keys(entry)) expect(keys, `notification key ${k}`).toContain(k);
        expect(entry.category).toBe(documentedLog[0]!.category);
      }
      // Newest first, as documented: the completed entry leads.
      expect(log[0]!.completed).toBe(true);
      const report = await call(emu, 'GET', `/api/tracker/jobs/${job.id}/report`);
      // The job's report is the sync import's report (as documented).
      expect(report.status).toBe(200);
      expect(Object.keys((report.json as Json).stats as Json).sort()).toEqual(documentedReportKeys(version).stats);
    },
  );
});
