import { getShortestPaths, type StatePath } from '@xstate/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyMachineSnapshot } from 'xstate';
import type { Channel } from '../../src/channels/types.ts';
import { hashPin, otpFrom, saltFrom, SCRYPT_PARAMS } from '../../src/caseworker/credentials.ts';
import type { CaseWorkerData } from '../../src/caseworker/data.ts';
import {
  startFlow,
  turn,
  type Env,
  type FlowEvent,
  type FlowFile,
  type FlowSet,
  type TurnResult,
} from '../../src/conversation/index.ts';
import { reminderChildren, reminderStart } from '../../src/conversation/actions/caregiver.ts';
import { DEMO } from '../../src/emulator/index.ts';
import { Dhis2WriteSchema } from '../../src/dhis2/outbox/schemas.ts';
import type { SessionRecord } from '../../src/store/types.ts';
import {
  dataFor as cgDataFor,
  NOW as CG_NOW,
  PHONES,
  TODAY as CG_TODAY,
  viewOf as cgViewOf,
} from '../caregiver/helpers.ts';
import { caseWorkerReadModel, type CaseWorkerReadModel } from '../golden/caseworker-world.ts';
import { LANGS, loadShipped } from './helpers.ts';

let set: FlowSet;
beforeAll(async () => {
  set = await loadShipped();
});

/** Events a person can cause on the demo (any answer of the right type will do for a walk). */
const EVENTS: FlowEvent[] = [
  ...Array.from({ length: 11 }, (_, index) => ({ type: 'CHOOSE', index }) as const),
  { type: 'ANSWER', value: 9 },
  { type: 'ANSWER', value: true },
  { type: 'ANSWER', value: false },
  { type: 'CONTINUE' },
  { type: 'INVALID' },
  { type: 'MORE' },
  { type: 'BACK' },
  { type: 'HOME' },
];

describe('compiled machines', () => {
  it('can be walked by XState graph tools: every step of the demo is reached, every end too', () => {
    const flow = set.flows.get('demo');
    if (!flow) return expect.fail('no demo flow');
    const paths = getShortestPaths(flow.machine, {
      events: EVENTS,
      input: { phone: '+254700000001', channel: 'ussd' },
      // The step, page and invalid count identify a screen; variables and history do not change the graph.
      serializeState: (s: AnyMachineSnapshot) => JSON.stringify([s.value, s.context.page, s.context.invalid]),
    });
    const reached = new Set(paths.map((p) => String(p.state.value)));
    for (const [id, step] of Object.entries(flow.def.steps)) {
      if (step.type === 'action') continue; // passed through within a step, never waited in
      if (id === 'no_reply') continue; // only a reply timeout (an SMS timer) leads there
      expect(reached, id).toContain(id);
    }
    expect(reached).toContain('__invalid');
    const toDone = paths.find((p) => p.state.value === 'done');
    expect(toDone?.steps.map((s) => s.event.type)).toEqual([
      'xstate.init',
      'CHOOSE',
      'ANSWER',
      'ANSWER',
      'ANSWER',
      'CONTINUE',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Every shipped flow, walked: the graph tools find a shortest path to every step and every end in a few
// "worlds" (the data a loader could give), then each path is replayed through the engine in every
// locale, checking the screens a person reads and the DHIS2 writes the gateway would queue.
// ---------------------------------------------------------------------------------------------------

/** A world a flow can be walked in: who is calling, the loaders' data, the variables a start passes. */
interface World {
  name: string;
  phone: string;
  channel: Channel;
  data: Record<string, unknown>;
  vars?: Record<string, unknown>;
  /** Steps where the walk of this world stops (the rest of the flow is walked in other worlds). */
  stopAt?: string[];
}

interface FlowWalk {
  flowId: string;
  worlds: () => Promise<World[]>;
  /** Texts typed at ask steps whose values matter (sign-in codes and PINs); others come from the step's kind. */
  texts?: string[];
  /**
   * The variables that tell states apart (default: those the flow's `var:` conditions read). Names,
   * dates and hashes would only multiply states; so would a variable an action sets and branches on
   * at once (`gate`), which no later step reads.
   */
  keyVars?: string[];
  /** Steps no world of this walk can wait in, and why. */
  unreachable?: Record<string, string>;
}

const DAY = 86_400_000;
const iso = (d: Date) => d.toISOString().slice(0, 10);
/** A date the date questions accept: a few days after the walks' "today" (and after the visits it moves). */
const SOON = iso(new Date(CG_NOW.getTime() + 5 * DAY));
const PAST = iso(new Date(CG_NOW.getTime() - 2 * DAY));
const PIN = '4821';

/** The ANSWER events an ask step can produce, with the text a person types for each. */
function answersFor(step: FlowFile['steps'][string], texts: string[]): Array<{ value: unknown; text: string }> {
  if (step.type !== 'ask') return [];
  const input = step.input;
  switch (input.kind) {
    case 'number':
      return [
        {
          value: Math.min(Math.max(9, input.min), input.max),
          text: String(Math.min(Math.max(9, input.min), input.max)),
        },
      ];
    // A date the step's validator accepts: the past for what already happened, else the coming days.
    case 'date':
      return [/notFuture|birthDate/.test(JSON.stringify(step.validator ?? '')) ? PAST : SOON].map((d) => ({
        value: d,
        text: d.split('-').reverse().join(''),
      }));
    case 'yesno':
      return [
        { value: true, text: '1' },
        { value: false, text: '2' },
      ];
    case 'choice':
      return input.options.map((o, i) => ({ value: o.value, text: String(i + 1) }));
    case 'phone':
      return [{ value: PHONES.oneChild, text: PHONES.oneChild }];
    case 'text':
      return texts
        .filter((t) => t.length >= input.minLength && t.length <= input.maxLength)
        .map((t) => ({ value: t, text: t }));
  }
}

/** The text that makes the engine raise `event` at `step`, or null when nothing typed can. */
function textFor(event: FlowEvent, step: FlowFile['steps'][string] | undefined, texts: string[]): string | null {
  switch (event.type) {
    case 'CHOOSE':
      return String(event.index + 1);
    case 'CONTINUE':
      return '1';
    case 'MORE':
      return '98';
    case 'BACK':
      return '0';
    case 'HOME':
      return '00';
    case 'INVALID':
      return '#'.repeat(161);
    case 'ANSWER': {
      if (!step) return null;
      const hit = answersFor(step, texts).find((a) => JSON.stringify(a.value) === JSON.stringify(event.value));
      return hit?.text ?? null;
    }
    case 'TIMEOUT':
      return null;
  }
}

/** The caregiver loader's data for a phone of the read-model fixture. */
const caregiverWorld = (name: string, phone: string, channel: Channel): World => ({
  name,
  phone,
  channel,
  data: cgDataFor(phone),
});

let cwModel: CaseWorkerReadModel | undefined;
afterAll(async () => {
  await cwModel?.close();
});

/** The "none of these: a new child" item a duplicate list opens with. */
const NEW_CHILD = {
  kind: 'new',
  trackedEntity: '',
  name: '',
  age: '',
  dateOfBirth: '',
  orgUnit: '',
  village: '',
  caregiverPhone: '',
  latestEvent: '',
} as const;

/** Zawadi's data in the states her sign-in can be in (signed in: with her lists loaded). */
async function caseWorkerWorlds(): Promise<World[]> {
  cwModel ??= await caseWorkerReadModel();
  const zawadi = DEMO.caseWorkers.kidutani;
  const out = await cwModel.load(zawadi.phone, null);
  if (!out) return expect.fail('Zawadi is not a case worker in the read model');
  const signedIn = { signedInAs: out.worker.userId, credFp: 'walk', pendingFp: 'walk' };
  const session = {
    flowId: 'caseworker',
    flowVersion: '1',
    channel: 'ussd' as const,
    snapshot: { context: { vars: signedIn } },
    locale: 'en',
    startedAt: 0,
    updatedAt: 0,
  } as unknown as SessionRecord;
  const lists = await cwModel.load(zawadi.phone, session);
  if (!lists) return expect.fail('no signed-in data for Zawadi');
  // A search by a caregiver's phone in her village (two children), as the loader answers it on the next hop.
  const searched = { ...signedIn, findBy: 'phone', searchPhone: PHONES.twoChildren };
  const found = await cwModel.load(zawadi.phone, {
    ...session,
    snapshot: { context: { vars: searched } },
  } as unknown as SessionRecord);
  const first = found?.found[0];
  if (!found || !first) return expect.fail('the search found nobody');
  const salt = saltFrom('walk-salt');
  const world = (name: string, d: CaseWorkerData, vars?: Record<string, unknown>): World => ({
    name,
    phone: zawadi.phone,
    channel: 'ussd',
    data: { caseWorker: d },
    ...(vars ? { vars } : {}),
    // Worlds that sign in stop at the menu: what follows is walked signed in, without hashing PINs at every step.
    ...(vars ? {} : { stopAt: ['main'] }),
  });
  // Signed-in worlds first: a path is replayed in the first world that reaches its step, and these
  // skip the sign-in (whose PIN hashing is slow on purpose).
  return [
    world('signed in', lists, signedIn),
    world(
      'signed in, nothing missed',
      { ...lists, defaulters: [], filtered: [], defaulterCount: 0, found: [], duplicates: [] },
      signedIn,
    ),
    world('signed in, long list', { ...lists, long: true }, signedIn),
    // The list after a choice is loaded for it: here, letters of a name that match no child.
    world(
      'signed in, a name search finds nobody',
      {
        ...lists,
        long: true,
        filters: lists.filters.filter((f) => f.id === 'name'),
        filtered: [],
        filteredCount: 0,
        found: [],
        duplicates: [],
      },
      signedIn,
    ),
    // One more child found, with no vaccination on record: nothing to attach a reaction to.
    world(
      'signed in, a search found children',
      {
        ...found,
        found: [...found.found, { ...first, trackedEntity: 'JbWalkNoVac1', name: 'Baby Walk', latestEvent: '' }],
        duplicates: [NEW_CHILD, ...found.found],
      },
      signedIn,
    ),
    world('first dial: a code by SMS', out),
    world('too many codes', { ...out, cred: { ...out.cred, otpRecent: 9 } }),
    world('PIN set', {
      ...out,
      cred: {
        ...out.cred,
        state: 'set',
        hash: hashPin(PIN, salt),
        salt,
        params: { ...SCRYPT_PARAMS },
        userId: out.worker.userId,
      },
    }),
    world('locked', {
      ...out,
      cred: { ...out.cred, state: 'locked', lockedUntil: CG_NOW.getTime() + 3_600_000, hash: 'x', salt },
    }),
    { name: 'not a case worker', phone: zawadi.phone, channel: 'ussd', data: { caseWorker: null } },
  ];
}

const WALKS: FlowWalk[] = [
  {
    flowId: 'demo',
    worlds: async () => [
      { name: 'anyone', phone: '+254700000099', channel: 'ussd', data: {} },
      { name: 'anyone by SMS', phone: '+254700000099', channel: 'sms', data: {} },
    ],
    unreachable: { no_reply: 'only a reply timeout (an SMS timer) leads there' },
  },
  {
    flowId: 'caregiver-main',
    worlds: async () => [
      caregiverWorld('one child', PHONES.oneChild, 'ussd'),
      caregiverWorld('two children', PHONES.twoChildren, 'ussd'),
      caregiverWorld('a missed visit', PHONES.threeChildren, 'ussd'),
      caregiverWorld('no visit', PHONES.noVisit, 'ussd'),
      caregiverWorld('nothing vaccinated', PHONES.noVaccination, 'ussd'),
    ],
    // The reaction's severity decides the severe end (the action sets `severe` and branches at once).
    keyVars: ['severity'],
  },
  {
    flowId: 'caregiver-aefi',
    worlds: async () => [
      caregiverWorld('one child', PHONES.oneChild, 'ussd'),
      caregiverWorld('two children', PHONES.twoChildren, 'sms'),
      caregiverWorld('nothing vaccinated', PHONES.noVaccination, 'ussd'),
    ],
    // The reaction's severity decides the severe end (the action sets `severe` and branches at once).
    keyVars: ['severity'],
  },
  {
    flowId: 'caregiver-reminder',
    worlds: async () =>
      [PHONES.oneChild, PHONES.twoChildren, PHONES.missedYesterday, PHONES.dueToday, PHONES.noVisit].map((phone) => {
        const view = cgViewOf(phone);
        if (!view) return expect.fail(`no fixture caregiver ${phone}`);
        // No visit left to remind about (written away since): the reminder has nothing due.
        const chosen = new Set(view.children.flatMap((c) => (c.next ? [c.next.event] : [])));
        const start = reminderStart({ phone, today: CG_TODAY, children: reminderChildren(view, chosen) });
        return { name: `reminder to ${phone}`, phone, channel: 'sms' as const, data: start.data, vars: start.vars };
      }),
  },
  {
    flowId: 'caseworker',
    worlds: caseWorkerWorlds,
    // The sign-in code the flow sends when every new id is "walk", a PIN, a weak one, names.
    texts: [otpFrom('walk'), PIN, '1111', 'Asha'],
    // Wrong codes and PINs count towards the end of a dial and a lock; `purpose` is a birth or a death.
    keyVars: ['otpTries', 'failed', 'purpose'],
    unreachable: {
      otp_expired: 'the code expires with time; the walks run at a fixed clock (tests/caseworker/signin.test.ts)',
      denied:
        'only when the sign-in ends or the child leaves the area between two hops (tests/caseworker/scope.test.ts)',
      aefi_batch: 'only when the deployment sets aefi.program (tests/caseworker/aefi-programme.test.ts)',
      aefi_batch_vaccine: 'only when the deployment sets aefi.program (tests/caseworker/aefi-programme.test.ts)',
    },
  },
  {
    flowId: 'caseworker-sms',
    worlds: async () => [
      {
        name: 'a sign-in code',
        phone: DEMO.caseWorkers.kidutani.phone,
        channel: 'sms',
        data: {},
        vars: { kind: 'otp', code: '123456' },
      },
    ],
  },
  {
    flowId: 'scheduler-digest',
    worlds: async () => [
      {
        name: 'a digest',
        phone: DEMO.caseWorkers.kidutani.phone,
        channel: 'sms',
        data: {},
        vars: { count: 3, code: '*384*12#' },
      },
    ],
  },
];

/** The engine's environment for the graph walk: the world's data at the walks' fixed clock. */
const envOf = (w: World, locale = 'en'): Env => ({
  now: CG_NOW.getTime(),
  newId: () => 'walk',
  data: w.data,
  locale,
  channel: w.channel,
  phone: w.phone,
});

describe.each(WALKS)('every path of $flowId', (walk) => {
  it('reaches every step and every end, and replays each path in every locale within the screen and DHIS2 limits', async () => {
    const flow = set.flows.get(walk.flowId);
    if (!flow) return expect.fail(`no flow ${walk.flowId}`);
    const texts = walk.texts ?? [];
    const menu = Array.from({ length: 12 }, (_, index) => ({ type: 'CHOOSE', index }) as const);
    const nav: FlowEvent[] = [{ type: 'INVALID' }, { type: 'MORE' }, { type: 'BACK' }, { type: 'HOME' }];
    /** What a person can cause at a step: its choices, its answers (of the step's kind), continue, the navigation keys. */
    const eventsAt = (s: AnyMachineSnapshot, world: World): FlowEvent[] => {
      const step = flow.def.steps[String(s.value)];
      if (!step || s.status !== 'active' || world.stopAt?.includes(String(s.value))) return [];
      if (step.type === 'menu') return [...menu, ...nav];
      if (step.type === 'ask')
        return [...answersFor(step, texts).map((a) => ({ type: 'ANSWER', value: a.value }) as const), ...nav];
      return [{ type: 'CONTINUE' }, ...nav];
    };
    // Variables that choose a branch tell states apart; the rest (names, dates, hashes) would only multiply them.
    const branchVars = walk.keyVars ?? [
      ...new Set([...JSON.stringify(flow.def).matchAll(/"var":"([^"]+)"/g)].map((m) => m[1] ?? '')),
    ];
    const worlds = await walk.worlds();
    /** Shortest path per waiting state, from the first world that reaches it. */
    const byState = new Map<string, { world: World; path: StatePath<AnyMachineSnapshot, FlowEvent> }>();
    for (const world of worlds) {
      const env = envOf(world);
      const paths: Array<StatePath<AnyMachineSnapshot, FlowEvent>> = getShortestPaths(flow.machine, {
        events: (s: AnyMachineSnapshot) => eventsAt(s, world).map((e) => ({ ...e, env })),
        input: { phone: world.phone, channel: world.channel, vars: world.vars ?? {}, env },
        serializeState: (s: AnyMachineSnapshot) =>
          JSON.stringify([
            s.value,
            s.context.page,
            s.context.invalid,
            s.context.options.length,
            branchVars.map((v) => s.context.vars[v]),
          ]),
        serializeEvent: (e) => JSON.stringify({ ...e, env: undefined }),
        limit: 20_000,
      });
      for (const p of paths) {
        const id = String(p.state.value);
        // Action steps are passed through within a turn; a person never reads them.
        if (flow.def.steps[id]?.type === 'action') continue;
        if (!byState.has(id)) byState.set(id, { world, path: p });
      }
    }
    const unreachable = walk.unreachable ?? {};
    const missing = Object.entries(flow.def.steps)
      .filter(([id, step]) => step.type !== 'action' && !unreachable[id] && !byState.has(id))
      .map(([id]) => id);
    expect(missing, `steps of ${walk.flowId} no path reaches`).toEqual([]);
    // The compiler's own end: too many invalid answers, wherever a person answers.
    if (Object.values(flow.def.steps).some((st) => st.type === 'menu' || st.type === 'ask'))
      expect([...byState.keys()]).toContain('__invalid');

    for (const locale of LANGS) {
      for (const [id, { world, path }] of byState) {
        // Ids as in the graph walk, so the sign-in code the flow checks is the one typed.
        const newId = () => 'walk';
        const base = {
          channel: world.channel,
          phone: world.phone,
          locale,
          contact: { optedOut: false, locale },
          now: CG_NOW,
          newId,
          data: world.data,
        };
        let result = startFlow(set, null, { ...base, flowId: walk.flowId, vars: world.vars ?? {} });
        const seen: TurnResult[] = [result];
        for (const { event, state } of path.steps.slice(1)) {
          const text = textFor(event, result.stepId ? flow.def.steps[result.stepId] : undefined, texts);
          if (text === null) break; // a timer, or an answer no text gives: the path ends here for a person
          result = turn(set, result.session, { ...base, text });
          seen.push(result);
          expect(result.stepId, `${walk.flowId} ${locale} path to ${id} (${world.name}): after "${text}"`).toBe(
            String(state.value),
          );
        }
        for (const r of seen) {
          const screen = r.reply?.text ?? r.effects.find((e) => e.type === 'sendSms')?.text ?? '';
          if (world.channel === 'ussd')
            expect(screen.length, `${walk.flowId} ${locale} ${r.stepId}:\n${screen}`).toBeLessThanOrEqual(160);
          for (const e of r.effects) {
            if (e.type !== 'dhis2Write') continue;
            const parsed = Dhis2WriteSchema.safeParse(e.payload);
            expect(parsed.success, `${walk.flowId} ${r.stepId} ${JSON.stringify(e.payload)}`).toBe(true);
          }
        }
      }
    }
  }, 120_000); // the sign-in worlds hash PINs with the production scrypt cost (N = 2^15) on purpose
});
