import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFlowSet, type FlowProblem, type FlowSet } from '../../src/conversation/index.ts';
import { createDomainRegistry, type DomainModule } from '../../src/conversation/actions/index.ts';
import { caseWorkerModule } from '../../src/conversation/actions/caseworker.ts';
import { defaultDeployment, type Deployment } from '../../src/dhis2/deployment.ts';
import { DEMO_PIN_PEPPER, SCRYPT_PARAMS, hashPin, saltFrom } from '../../src/caseworker/credentials.ts';
import type { CaseWorkerData } from '../../src/caseworker/data.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LANGS = ['en', 'fr', 'pt', 'rw', 'sw'] as const;
export const TZ = 'Africa/Nairobi';

/** Where the case-worker flows and texts live. */
export const SOURCE = { flows: path.join(ROOT, 'flows'), locales: path.join(ROOT, 'locales') };
const OWN_FLOWS = /^caseworker(-[a-z0-9-]+)?\.yaml$/;

/**
 * A flows folder with the case-worker flows only (and the demo flow unless `demo: false`), and a locales folder with every
 * shipped text: the gateway under test then depends on no other capability's flows being registered.
 */
export async function caseWorkerDirs(
  opts: { demo?: boolean } = {},
): Promise<{ flowsDir: string; localesDir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jibu-cw-'));
  const flowsDir = path.join(dir, 'flows');
  const localesDir = path.join(dir, 'locales');
  await mkdir(flowsDir, { recursive: true });
  if (opts.demo !== false) await cp(path.join(ROOT, 'flows', 'demo.yaml'), path.join(flowsDir, 'demo.yaml'));
  for (const f of await readdir(SOURCE.flows))
    if (OWN_FLOWS.test(f)) await cp(path.join(SOURCE.flows, f), path.join(flowsDir, f));
  for (const lang of LANGS) {
    await mkdir(path.join(localesDir, lang), { recursive: true });
    for (const f of await readdir(path.join(ROOT, 'locales', lang))) {
      if (f === 'demo.yaml' || f === 'system.yaml')
        await cp(path.join(ROOT, 'locales', lang, f), path.join(localesDir, lang, f));
    }
    await cp(path.join(SOURCE.locales, lang, 'caseworker.yaml'), path.join(localesDir, lang, 'caseworker.yaml'));
  }
  return { flowsDir, localesDir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Load the demo and case-worker flows with the case-worker module, or the problems. */
export async function loadCaseWorkerSet(
  opts: { modules?: DomainModule[]; deployment?: Deployment } = {},
): Promise<{ set?: FlowSet; problems: FlowProblem[]; warnings: FlowProblem[] }> {
  const dirs = await caseWorkerDirs();
  try {
    const registry = createDomainRegistry(opts.deployment ?? defaultDeployment(), opts.modules ?? [caseWorkerModule]);
    const r = await loadFlowSet({
      flowsDir: dirs.flowsDir,
      localesDir: dirs.localesDir,
      registry,
      defaultLocale: 'en',
      baseDir: ROOT,
      timeZone: TZ,
      defaultCountry: 'KE',
    });
    return r.ok ? { set: r.set, problems: [], warnings: r.warnings } : { problems: r.problems, warnings: [] };
  } finally {
    await dirs.cleanup();
  }
}

/** The org-unit path of Kidutani, the fixture worker's village. */
export const KIDUTANI_PATH = '/JbKenya0001/JbDstKlf001/JbFacMtw001/JbVilKdt001';
const fixtureSalt = saltFrom('fixture');
/** The fixture worker's PIN is 4821, hashed as the default module hashes new PINs. */
export const FIXTURE_PIN_HASH = hashPin('4821', fixtureSalt, SCRYPT_PARAMS, DEMO_PIN_PEPPER);

/**
 * What a hop loads for Zawadi, the fixture case worker of Kidutani (PIN 4821, signed in), with one child in
 * scope (a missed visit, a later one, a latest given dose): the input of the case-worker actions as pure functions.
 */
export function caseWorkerFixture(
  over: Partial<CaseWorkerData> = {},
  cred: Partial<CaseWorkerData['cred']> = {},
): CaseWorkerData {
  return {
    worker: {
      userId: 'JbUsrCw0001',
      username: 'cw.zawadi',
      name: 'Zawadi Mwangi',
      first: 'Zawadi',
      phone: '+254711000001',
      orgUnits: ['JbVilKdt001'],
      home: { id: 'JbVilKdt001', name: 'Kidutani' },
    },
    cred: {
      state: 'set',
      tries: 0,
      locks: 0,
      hash: FIXTURE_PIN_HASH,
      salt: fixtureSalt,
      params: SCRYPT_PARAMS,
      peppered: true,
      userId: 'JbUsrCw0001',
      applied: [],
      otpRecent: 0,
      ...cred,
    },
    today: '2025-11-25',
    signedIn: true,
    defaulterCount: 1,
    long: false,
    filters: [],
    defaulters: [],
    filtered: [],
    filteredCount: 0,
    found: [],
    duplicates: [],
    trusted: {
      children: {
        TeKidutani1: {
          orgUnit: 'JbVilKdt001',
          path: KIDUTANI_PATH,
          enrollment: 'EnKidutani1',
          scheduled: ['EvMissed001', 'EvLater0001'],
          latestEvent: 'EvGiven0001',
        },
      },
      events: {
        EvMissed001: {
          trackedEntity: 'TeKidutani1',
          enrollment: 'EnKidutani1',
          orgUnit: 'JbVilKdt001',
          path: KIDUTANI_PATH,
        },
      },
    },
    ...over,
  };
}
