import { randomUUID } from 'node:crypto';
import { measureSms } from '../sms-text.ts';
import { maskPhone } from '../phone.ts';
import type { OutboundSms, SendResult, SmsSender } from '../types.ts';

export interface ConsoleSenderOptions {
  /** Where the box goes; defaults to stdout. */
  write?: (chunk: string) => void;
  /** Provider id generator (tests); defaults to `console-<uuid>`. */
  newId?: () => string;
  /**
   * Print the number masked and the text as its length only. The lead sets it everywhere but the
   * all-embedded demo: texts carry sign-in codes and children's names, and stdout ends up in logs.
   */
  mask?: boolean;
}

/** Widest text line inside the box before wrapping, so a message reads like a phone screen. */
const WIDTH = 48;

/**
 * The demo "provider": prints each outbound SMS in a box (recipient, encoding and segments, text) and
 * accepts it. It is the default when no provider is configured, so the gateway runs without accounts.
 *
 * @example
 * createConsoleSender().send({ id: 'm1', to: '+254700000001', text: 'Habari' });
 * // ┌─ SMS to +254700000001 · 1 segment, GSM-7 ──────┐
 * // │ Habari                                         │
 * // └────────────────────────────────────────────────┘
 */
export function createConsoleSender(options: ConsoleSenderOptions = {}): SmsSender {
  const write =
    options.write ??
    ((chunk: string) => {
      process.stdout.write(chunk);
    });
  const newId = options.newId ?? (() => `console-${randomUUID()}`);
  return {
    provider: 'console',
    async send(msg: OutboundSms): Promise<SendResult> {
      const measure = measureSms(msg.text);
      const shown = options.mask
        ? {
            to: maskPhone(msg.to),
            text: `[${[...msg.text].length}-character text hidden]`,
          }
        : msg;
      write(renderBox(shown, measure.segments, measure.encoding));
      return { ok: true, providerMessageId: newId(), segments: measure.segments };
    },
  };
}

/** The box as printed; exported so the simulator can show outbound SMS the same way. */
export function renderBox(msg: Pick<OutboundSms, 'to' | 'text'>, segments: number, encoding: string): string {
  const title = ` SMS to ${msg.to} · ${segments} segment${segments === 1 ? '' : 's'}, ${encoding} `;
  const lines = msg.text.split(/\r?\n/).flatMap((line) => wrap(line, WIDTH));
  const inner = Math.max(WIDTH, ...lines.map((l) => [...l].length), [...title].length + 1);
  const top = `┌─${title}${'─'.repeat(inner + 1 - [...title].length)}┐`;
  const body = lines.map((l) => `│ ${l}${' '.repeat(inner - [...l].length)} │`);
  const bottom = `└${'─'.repeat(inner + 2)}┘`;
  return `${[top, ...body, bottom].join('\n')}\n`;
}

function wrap(line: string, width: number): string[] {
  const chars = [...line];
  if (chars.length <= width) return [line];
  const out: string[] = [];
  let rest = chars;
  while (rest.length > width) {
    const slice = rest.slice(0, width + 1);
    const space = slice.lastIndexOf(' ');
    const cut = space > 0 ? space : width;
    out.push(rest.slice(0, cut).join(''));
    rest = rest.slice(space > 0 ? cut + 1 : cut);
  }
  out.push(rest.join(''));
  return out;
}
