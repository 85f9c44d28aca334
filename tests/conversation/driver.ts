import { toUssdInbound } from '../../src/channels/africastalking/index.ts';
import type { InboundMessage } from '../../src/channels/types.ts';
import { dataNames, type FlowSet, type TurnResult } from '../../src/conversation/index.ts';
import { handleInbound, sessionKey, type RunnerDeps } from '../../src/conversation/runner.ts';
import { openConversation, type OpenRequest } from '../../src/scheduler/outbound.ts';
import { createLogger } from '../../src/log.ts';
import { keys } from '../../src/store/keys.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import type { Contact, SessionRecord, Store } from '../../src/store/types.ts';

/** Deterministic ids: `id1`, `id2`, … */
export function idSource(prefix = 'id'): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

/** Where a phone keeps its state and how it loads data, when not its own memory store and `data`. */
export interface RunnerPhoneOptions {
  store?: Store;
  /** The read-model data for a hop (the phone adds every other data name as absent). */
  load?: (phone: RunnerPhone, ctx: Parameters<RunnerDeps['loadData']>[1]) => Promise<Record<string, unknown>>;
}

let phones = 0;

export interface Step {
  input: string;
  result: TurnResult;
}

/**
 * A phone that talks to the gateway's core loop exactly as a webhook does: every hop becomes the
 * `InboundMessage` a channel adapter makes (USSD through the Africa's Talking adapter, with the
 * accumulated path) and goes through `handleInbound` on a memory store — lock, load, the pure step,
 * one commit. Tests read and set `session`, `contact`, `data` and `now` as before; the phone moves them
 * in and out of its store around each hop.
 */
export class RunnerPhone {
  contact: Contact = { optedOut: false };
  log: Step[] = [];
  now: Date;
  readonly store: Store;
  readonly deps: RunnerDeps;
  private current: SessionRecord | null = null;
  private seeded = false;
  private readonly newId = idSource();
  private dials = 0;
  private inputs: string[] = [];
  private messages = 0;
  private reminders = 0;
  private readonly dialPrefix: string;

  constructor(
    readonly set: FlowSet,
    readonly channel: 'ussd' | 'sms',
    readonly phone: string,
    readonly serviceCode: string,
    dialPrefix: string,
    now: Date,
    opts: RunnerPhoneOptions = {},
  ) {
    this.now = now;
    // Provider session ids unique per phone object, so phones sharing a store never share a dial.
    this.dialPrefix = `${dialPrefix}${++phones}_`;
    const clock = { now: () => this.now };
    this.store = opts.store ?? createMemoryStore({ clock, queue: createMemoryJobQueue({ clock }) });
    const load = opts.load ?? (async (p: RunnerPhone) => p.data);
    let jobs = 0;
    this.deps = {
      store: this.store,
      flows: () => this.set,
      // Every name a turn may read, so a turn is never taken twice and ids stay those of one pure step.
      loadData: async (_names, ctx) => {
        const data = await load(this, ctx);
        return Object.fromEntries([...dataNames(this.set)].map((n) => [n, data[n]]));
      },
      clock,
      logger: createLogger({ level: 'silent' }),
      newId: this.newId,
      jobIds: () => `job${++jobs}`,
    };
  }

  private loaded: Record<string, unknown> = {};

  /** The read-model data the loader gives (subclasses may compute it). */
  get data(): Record<string, unknown> {
    return this.loaded;
  }

  set data(d: Record<string, unknown>) {
    this.loaded = d;
  }

  /** The session as the last step left it (the engine's record, without the runner's dial fields). */
  get session(): SessionRecord | null {
    return this.current;
  }

  /** Put a session in the store before the next hop (a test tampering, or moving it to another set). */
  set session(s: SessionRecord | null) {
    this.current = s;
    this.seeded = true;
  }

  /** USSD: start a new dial (empty first hop). */
  dial(): Promise<TurnResult> {
    this.dials++;
    this.inputs = [];
    return this.step('', '');
  }

  send(input: string): Promise<TurnResult> {
    if (this.channel === 'ussd') this.inputs.push(input);
    return this.step(input, this.inputs.join('*'));
  }

  /** Send several inputs; returns the last result. */
  async say(...inputs: string[]): Promise<TurnResult> {
    let last: TurnResult | undefined;
    for (const i of inputs) last = await this.send(i);
    if (!last) throw new Error('no input');
    return last;
  }

  /** The scheduler's side: open `flowId` by SMS as the reminder job does (`openConversation`). */
  async open(req: Pick<OpenRequest, 'flowId' | 'vars' | 'data'>, label = '(reminder)'): Promise<TurnResult> {
    await this.prepare();
    const n = ++this.reminders;
    const opened = await openConversation(
      { store: this.store, clock: { now: () => this.now }, flows: () => this.set },
      {
        ...req,
        phone: this.phone,
        locale: this.contact.locale ?? '',
        data: req.data ?? this.data,
        dedupeKey: `test:open:${n}`,
        dedupeTtlMs: 60_000,
        idBase: `open${n}`,
        purpose: 'reminder',
      },
    );
    if (!opened.result) throw new Error(`the flow ${req.flowId} did not open: ${opened.outcome}`);
    return this.record(label, opened.result);
  }

  private async step(input: string, path: string): Promise<TurnResult> {
    await this.prepare();
    const receivedAt = this.now;
    const msg: InboundMessage =
      this.channel === 'ussd'
        ? toUssdInbound(
            {
              sessionId: `${this.dialPrefix}${this.dials}`,
              serviceCode: this.serviceCode,
              phone: this.phone,
              providerPhone: this.phone,
              path,
              isNew: path === '',
            },
            receivedAt,
          )
        : {
            channel: 'sms',
            provider: 'http',
            from: this.phone,
            providerFrom: this.phone,
            to: '100',
            text: input,
            providerMessageId: `test-${++this.messages}`,
            receivedAt,
          };
    const out = await handleInbound(this.deps, msg);
    if (out.result) return this.record(input, out.result);
    // Taken as the provider re-sending the last hop (an empty input reported as an unchanged path):
    // the same screen again, nothing changed.
    const last = this.log.at(-1)?.result;
    if (!out.duplicate || !out.reply || !last) throw new Error(`hop "${input}" got no answer`);
    return this.record(input, { ...last, reply: out.reply, effects: [] });
  }

  /** Move what the test set (contact, a tampered session) into the store. */
  private async prepare(): Promise<void> {
    await this.store.delete([keys.contact(this.phone)]);
    await this.store.setContact(this.phone, this.contact);
    if (!this.seeded) return;
    this.seeded = false;
    const key = sessionKey(this.channel, this.phone);
    const { lock, session: stored } = await this.store.lockAndLoad(this.phone, key);
    // The dial's own fields stay the runner's: a tampered record is still this dial's.
    const dial = stored?.ussdSessionId ? { ussdSessionId: stored.ussdSessionId } : {};
    const session = this.current ? { ...this.current, ...dial } : null;
    await this.store.commit(lock, { sessionKey: key, session, sessionTtlMs: 24 * 3_600_000, jobs: [] });
  }

  private async record(input: string, result: TurnResult): Promise<TurnResult> {
    this.contact = await this.store.getContact(this.phone);
    this.current = result.session;
    this.log.push({ input, result });
    return result;
  }
}
