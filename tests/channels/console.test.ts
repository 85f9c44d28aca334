import { describe, expect, it } from 'vitest';
import { createConsoleSender, renderBox } from '../../src/channels/console/index.ts';

describe('createConsoleSender', () => {
  it('prints the recipient, segment count, encoding and text in a box, and accepts the message', async () => {
    const out: string[] = [];
    const sender = createConsoleSender({ write: (s) => out.push(s), newId: () => 'console-1' });
    const result = await sender.send({
      id: 'm1',
      to: '+254700000001',
      text: 'Habari! Chanjo ya Amani ni kesho.\nJibu 1 kuthibitisha.',
    });
    expect(result).toEqual({ ok: true, providerMessageId: 'console-1', segments: 1 });
    expect(out.join('')).toBe(
      [
        '┌─ SMS to +254700000001 · 1 segment, GSM-7 ────────┐',
        '│ Habari! Chanjo ya Amani ni kesho.                │',
        '│ Jibu 1 kuthibitisha.                             │',
        '└──────────────────────────────────────────────────┘',
        '',
      ].join('\n'),
    );
  });

  it('wraps long lines at word boundaries and keeps every line the same width', () => {
    const text =
      'Rappel : la vaccination de votre enfant est prévue demain au centre de santé de Kicukiro. Répondez 1 pour confirmer.';
    const box = renderBox({ to: '+250788123456', text }, 2, 'UCS-2');
    const lines = box.trimEnd().split('\n');
    expect(lines[0]).toContain('2 segments, UCS-2');
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1);
    expect(
      lines
        .slice(1, -1)
        .map((l) => l.slice(2, -2).trim())
        .join(' '),
    ).toBe(text);
  });

  it('gives every message its own provider id by default', async () => {
    const sender = createConsoleSender({ write: () => undefined });
    const a = await sender.send({ id: 'm1', to: '+254700000001', text: 'a' });
    const b = await sender.send({ id: 'm2', to: '+254700000001', text: 'b' });
    expect(a.ok && b.ok && a.providerMessageId !== b.providerMessageId).toBe(true);
    expect(a.ok && a.providerMessageId).toMatch(/^console-/);
  });
});
