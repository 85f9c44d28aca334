import { createInterface } from 'node:readline/promises';
import { stdin, stdout } from 'node:process';
import { randomUUID } from 'node:crypto';
import type { OutboundSms, SendResult, SmsSender } from '../channels/types.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { startGateway, type Gateway } from '../server/lifecycle.ts';

export interface SimulateOptions {
  phone: string;
  ussd?: string;
  sms?: boolean;
  /** Talk to a running gateway instead of an embedded one. */
  url?: string;
  key?: string;
}

/** One simulated phone: the screens it shows and the SMS it receives. */
export interface SimPhone {
  dial(): Promise<{ text: string; end: boolean }>;
  answer(input: string): Promise<{ text: string; end: boolean }>;
  sms(text: string): Promise<void>;
  inbox: OutboundSms[];
}

/** A sender that keeps what would have gone out, so the terminal (or a test) shows it as the phone would. */
export function capturingSender(onSend?: (m: OutboundSms) => void, provider: SmsSender['provider'] = 'console'): SmsSender & { sent: OutboundSms[] } {
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
    if (!raw.startsWith('CON ') && !raw.startsWith('END ')) throw new Error(`unexpected USSD answer ${res.status}: ${raw}`);
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
  return [`┌${bar}┐`, `│ ${title.padEnd(width - 1)}│`, `├${bar}┤`, ...lines.map((l) => `│ ${l.padEnd(width - 1)}│`), `└${bar}┘`].join('\n');
}

/** `npm run simulate -- --phone +254700000001 --ussd "*384*12#"` (or `--sms`): a conversation in the terminal. */
export async function simulate(opts: SimulateOptions): Promise<void> {
  let gateway: Gateway | undefined;
  let baseUrl = opts.url?.replace(/\/$/, '');
  if (!baseUrl) {
    const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', REDIS_URL: '', SMS_PROVIDER: 'console' });
    const sender = capturingSender((m) => {
      if (m.to === opts.phone) console.log(`\n${box(`SMS to ${m.to} (${m.text.length} chars)`, m.text)}`);
      else console.log(`\n[SMS to ${m.to}] ${m.text}`);
    });
    gateway = await startGateway(config, createLogger({ level: 'silent' }), { sender });
    baseUrl = `http://127.0.0.1:${gateway.port}`;
  }
  const phone = simPhone(baseUrl, opts.phone, opts.ussd ?? '*384*12#', opts.key);
  const rl = createInterface({ input: stdin, output: stdout });
  try {
    if (opts.sms) {
      console.log(`SMS mode as ${opts.phone}. Type a message; an empty line or Ctrl-D quits.`);
      for (;;) {
        const line = await rl.question('> ').catch(() => '');
        if (!line) break;
        await phone.sms(line);
        await new Promise((r) => setTimeout(r, 300)); // let the relay deliver the reply
      }
    } else {
      let screen = await phone.dial();
      for (;;) {
        console.log(`\n${box(`USSD ${screen.end ? 'END' : 'CON'} · ${screen.text.length}/160`, screen.text)}`);
        if (screen.end) break;
        const line = await rl.question('> ').catch(() => null);
        if (line === null) break;
        screen = await phone.answer(line.trim());
      }
    }
  } finally {
    rl.close();
    await gateway?.stop();
  }
}
