import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Dhis2ClientOptions } from '../dhis2/client.ts';
import { createEmulator, DEMO, type Emulator } from '../emulator/index.ts';
import type { DemoPhone } from './simulator/router.ts';

/**
 * The all-embedded demo's wiring: the one product module allowed to import the DHIS2 emulator
 * (`src/emulator/`, a fake of another system). ESLint's `no-restricted-imports` holds the wall; see
 * docs/architecture.md. Everything else reaches the emulator through what this module hands over: a
 * DHIS2 client configuration, the emulator's Express app to mount, and the demo phone list.
 */

export type { Emulator };

export interface EmbeddedDhis2 {
  emulator: Emulator;
  /** Client options that talk to the emulator in process (no socket). */
  clientOptions: Dhis2ClientOptions;
  /** The demo caregivers and case workers, for the simulator's number picker. */
  demoPhones: DemoPhone[];
}

/** The built-in DHIS2 with demo data relative to today (or the emulator a test injects). */
export function embeddedDhis2(config: Config, clock: Clock, injected?: Emulator): EmbeddedDhis2 {
  const emulator =
    injected ?? createEmulator({ version: config.DHIS2_EMULATOR_VERSION, clock, serverTimeZone: config.TZ });
  return {
    emulator,
    clientOptions: {
      baseUrl: emulator.baseUrl,
      auth: { token: emulator.credentials.token },
      timeoutMs: config.DHIS2_TIMEOUT_MS,
      fetch: emulator.fetch,
    },
    demoPhones: demoPhoneList(),
  };
}

/**
 * The demo caregivers and case workers of the emulator's seed, for the number picker.
 *
 * @example demoPhoneList()[0] // { phone: '+254700000001', label: 'Mwanaisha Salim (caregiver)', role: 'caregiver', note: 'two children…' }
 */
export function demoPhoneList(demo: typeof DEMO = DEMO): DemoPhone[] {
  const out: DemoPhone[] = [];
  for (const c of Object.values(demo.caregivers))
    out.push({ phone: c.phone, label: `${c.name} (caregiver)`, role: 'caregiver', note: c.demonstrates });
  for (const w of Object.values(demo.caseWorkers))
    out.push({ phone: w.phone, label: `${w.name} (case worker)`, role: 'caseWorker', note: w.demonstrates });
  return out;
}
