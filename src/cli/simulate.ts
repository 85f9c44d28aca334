import { createInterface } from 'node:readline/promises';
import { stdin, stdout } from 'node:process';
import { randomUUID } from 'node:crypto';
import type { OutboundSms, SendResult, SmsSender } from '../channels/types.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import type { GatewayEvent } from '../server/events.ts';
import { startGateway, type Gateway } from '../server/lifecycle.ts';

export interface SimulateOptions {
  phone: string;
  ussd?: string;
  sms?: boolean;
  /** Talk to a running gateway instead of an embedded one. */
  url?: string;
  key?: string;
  /** Embedded gateway only: queue DHIS2 writes and show them, but never relay them to DHIS2. */
  dryRun?: boolean;
}

/** One simulated phone: the screens it shows and the SMS it receives. */
export interface SimPhone {
  dial(): Promise<{ text: string; end: boolean }>;
  answer(input: string): Promise<{ text: string; end: boolean }>;
  sms(text: string): Promise<void>;
  inbox: OutboundSms[];
}

/** A sender that keeps what would have gone out, so the terminal (or a test) shows it as the phone would. */
export function capturingSender(
  onSend?: (m: OutboundSms) => void,
  provider: SmsSender['provider'] = 'console',
): SmsSender & { sent: OutboundSms[] } {
  const sent: OutboundSms[] = [];
  return {
    provider,
    sent,
    async send(m): Promise<SendResult> {
      sent.push(m);
      onSend?.(m);
      return { ok: true, providerMessageId: `${provider}-${m.id}` };
    },
  };
}

/** Drive a gateway over its real webhooks (Africa's Talking USSD, generic HTTP SMS), like a provider would. */
export function simPhone(baseUrl: string, phone: string, serviceCode: string, key?: string): SimPhone {
  let sessionId = '';
  let path: string[] = [];
  const q = key ? `?key=${encodeURIComponent(key)}` : '';
  const hop = async (text: string) => {
    const body = new URLSearchParams({ sessionId, serviceCode, phoneNumber: phone, networkCode: '63902', text });
    const res = await fetch(`${baseUrl}/ussd/africastalking${q}`, { method: 'POST', body });
    const raw = await res.text();
    if (!raw.startsWith('CON ') && !raw.startsWith('END '))
      throw new Error(`unexpected USSD answer ${res.status}: ${raw}`);
    return { text: raw.slice(4), end: raw.startsWith('END ') };
  };
  return {
    inbox: [],
    dial() {
      sessionId = `ATUid_sim_${randomUUID().replace(/-/g, '')}`;
      path = [];
      return hop('');
    },
    answer(input) {
      path.push(input);
      return hop(path.join('*'));
    },
    async sms(text) {
      const res = await fetch(`${baseUrl}/sms/http${q}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: randomUUID(), from: phone, to: '21512', text }),
      });
      if (!res.ok) throw new Error(`SMS refused: ${res.status} ${await res.text()}`);
    },
  };
}

function box(title: string, text: string): string {
  const lines = text.split('\n');
  const width = Math.max(title.length + 2, ...lines.map((l) => l.length)) + 2;
  const bar = '─'.repeat(width);
  return [
    `┌${bar}┐`,
    `│ ${title.padEnd(width - 1)}│`,
    `├${bar}┤`,
    ...lines.map((l) => `│ ${l.padEnd(width - 1)}│`),
    `└${bar}┘`,
  ].join('\n');
}

/**
 * The DHIS2 side of a simulated conversation, as terminal text: in a dry run the writes the gateway
 * queued (and will never relay), otherwise what the relay wrote. Events from the feed are held and
 * shown after the screen of the step that caused them, so the terminal reads in order.
 */
export function dhis2Lines(e: GatewayEvent, dryRun: boolean): string | null {
  if (e.type === 'dhis2.queued' && dryRun) {
    return `\n${box(`DHIS2 write (dry run, not sent) · ${e.op} · ref ${e.ref}`, JSON.stringify(e.payload, null, 2))}`;
  }
  if (e.type === 'dhis2.written' && !dryRun) return `\n[dhis2.written ${e.status}] ${e.ids.join(', ')}`;
  if (e.type === 'dhis2.failed' && !dryRun) return `\n[dhis2.failed${e.permanent ? ' permanently' : ''}] ${e.error}`;
  return null;
}

/** `npm run simulate -- --phone +254700000001 --ussd "*384*12#"` (or `--sms`, `--dry-run`): a conversation in the terminal. */
export async function simulate(opts: SimulateOptions): Promise<void> {
  let gateway: Gateway | undefined;
  let baseUrl = opts.url?.replace(/\/$/, '');
  const dryRun = opts.dryRun === true;
  if (baseUrl && dryRun)
    throw new Error(
      '--dry-run needs the embedded gateway: it cannot stop a running gateway at --url from writing to DHIS2',
    );
  const held: string[] = [];
  /** Writes queued and not yet reported by the relay. */
  const pending = new Set<string>();
  let unsubscribe = () => {};
  if (!baseUrl) {
    const config = loadConfig({
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: '',
      REDIS_SENTINELS: '',
      SMS_PROVIDER: 'console',
    });
    const sender = capturingSender((m) => {
      if (m.to === opts.phone) console.log(`\n${box(`SMS to ${m.to} (${m.text.length} chars)`, m.text)}`);
      else console.log(`\n[SMS to ${m.to}] ${m.text}`);
    });
    gateway = await startGateway(config, createLogger({ level: 'silent' }), { sender, dhis2Relay: !dryRun });
    baseUrl = `http://127.0.0.1:${gateway.port}`;
    unsubscribe = gateway.events.on((e) => {
      if (e.type === 'dhis2.queued') pending.add(e.id);
      if (e.type === 'dhis2.written' || e.type === 'dhis2.failed') for (const id of e.ids) pending.delete(id);
      const line = dhis2Lines(e, dryRun);
      if (line) held.push(line);
    });
    if (dryRun) console.log('Dry run: DHIS2 writes are shown, not made.');
  }
  const flush = async (last = false) => {
    // The relay writes after the step is answered: wait (a little) for its result to show it with the step,
    // and after the last screen a moment more, so nothing the conversation caused is cut off by the exit.
    if (last && gateway) await new Promise((r) => setTimeout(r, 1_000));
    const until = Date.now() + 15_000;
    while (gateway && !dryRun && pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    for (const line of held.splice(0)) console.log(line);
  };
  const phone = simPhone(baseUrl, opts.phone, opts.ussd ?? '*384*12#', opts.key);
  const rl = createInterface({ input: stdin, output: stdout, terminal: stdin.isTTY });
  // Lines are buffered by the iterator, so input piped in ahead of the screens is not lost.
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (): Promise<string | null> => {
    stdout.write('> ');
    const r = await lines.next();
    return r.done ? null : String(r.value);
  };
  try {
    if (opts.sms) {
      console.log(`SMS mode as ${opts.phone}. Type a message; an empty line or Ctrl-D quits.`);
      for (;;) {
        const line = await ask();
        if (!line) break;
        await phone.sms(line);
        await new Promise((r) => setTimeout(r, 300)); // let the relay deliver the reply
        await flush();
      }
    } else {
      let screen = await phone.dial();
      for (;;) {
        console.log(`\n${box(`USSD ${screen.end ? 'END' : 'CON'} · ${screen.text.length}/160`, screen.text)}`);
        await flush(screen.end);
        if (screen.end) break;
        const line = await ask();
        if (line === null) break;
        screen = await phone.answer(line.trim());
      }
    }
  } finally {
    unsubscribe();
    rl.close();
    await gateway?.stop();
  }
}
