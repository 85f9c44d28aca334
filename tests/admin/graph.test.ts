import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { flowsGraphCommand } from '../../src/cli/flows.ts';
import { flowToMermaid, nodeId } from '../../src/cli/graph.ts';
import { parseFlowFile } from '../../src/conversation/index.ts';
import { stepEdges } from '../../src/conversation/compile.ts';
import type { FlowFile } from '../../src/conversation/schema.ts';
import { ROOT, captureIo } from './helpers.ts';

async function shippedDemo(): Promise<FlowFile> {
  const r = parseFlowFile('flows/demo.yaml', await readFile(path.join(ROOT, 'flows/demo.yaml'), 'utf8'));
  if (!r.flow) throw new Error(r.problems.map((p) => p.message).join('\n'));
  return r.flow.def;
}

/** Edges as `from -> to` pairs, read back from the Mermaid text. */
function edgesOf(mermaid: string): Array<{ from: string; to: string; label?: string; dotted: boolean }> {
  return [...mermaid.matchAll(/^ {2}(\S+) (-->|-\.->)(?:\|"([^"]*)"\|)? (\S+)$/gm)].map((m) => ({
    from: m[1] ?? '',
    dotted: m[2] === '-.->',
    label: m[3],
    to: m[4] ?? '',
  }));
}

describe('flowToMermaid', () => {
  it('draws one node per step and one edge per way out of each step, starting at start', async () => {
    const def = await shippedDemo();
    const out = flowToMermaid(def);
    expect(out.split('\n')[0]).toBe('flowchart TD');
    for (const id of Object.keys(def.steps)) expect(out).toMatch(new RegExp(`^ {2}${nodeId(id)}[[{(]`, 'm'));
    const drawn = edgesOf(out);
    expect(drawn).toContainEqual({ from: 'start((start))', to: nodeId(def.start), label: undefined, dotted: false });
    const expected = Object.entries(def.steps)
      .flatMap(([id, s]) => stepEdges(s).map((e) => `${nodeId(id)}>${nodeId(e.target)}`))
      .sort();
    const got = drawn
      .filter((e) => e.from !== 'start((start))')
      .map((e) => `${e.from}>${e.to}`)
      .sort();
    expect(got).toEqual(expected);
  });

  it('labels choices with their number and text, branches with their condition, timeouts dotted', async () => {
    const def = await shippedDemo();
    const texts: Record<string, string> = { 'demo.menu.facts': 'Vaccine facts', 'demo.menu.form': 'Try a short form' };
    const drawn = edgesOf(flowToMermaid(def, { label: (k) => texts[k] ?? k }));
    expect(drawn).toContainEqual({ from: 's_welcome', to: 's_facts', label: '1. Vaccine facts', dotted: false });
    expect(drawn).toContainEqual({ from: 's_welcome', to: 's_age', label: '2. Try a short form', dotted: false });
    expect(drawn).toContainEqual({ from: 's_card', to: 's_advice_no_card', label: 'if card = false', dotted: false });
    expect(drawn).toContainEqual({ from: 's_card', to: 's_advice', label: 'otherwise', dotted: false });
    expect(drawn).toContainEqual({ from: 's_age', to: 's_no_reply', label: 'no reply in 24h', dotted: true });
  });

  it('keeps Mermaid keywords and quotes in texts from breaking the diagram', () => {
    const def: FlowFile = {
      id: 'x',
      version: 1,
      channels: ['sms'],
      data: [],
      session: { ttl: '3d' },
      maxInvalid: 3,
      start: 'ask',
      steps: {
        ask: { type: 'menu', text: 'x.title', options: [{ label: 'x.quote', next: 'end' }] },
        end: { type: 'end', text: 'x.bye' },
      },
    };
    const out = flowToMermaid(def, { label: (k) => (k === 'x.quote' ? 'Say "yes" | <b>#1</b>' : k) });
    // `end` is a Mermaid keyword: as a bare node id it would close the chart.
    expect(out).not.toMatch(/(^|\s)end(\s|$|\[|\()/m);
    expect(out).toContain('s_ask -->|"1. Say #quot;yes#quot; #124; #lt;b#gt;#35;1#lt;/b#gt;"| s_end');
    expect(out).not.toMatch(/\|"[^"]*"[^|]*"\|/);
  });

  it('cuts long texts so boxes stay readable', () => {
    const def: FlowFile = {
      id: 'x',
      version: 1,
      channels: ['sms'],
      data: [],
      session: { ttl: '3d' },
      maxInvalid: 3,
      start: 'a',
      steps: { a: { type: 'end', text: 'x.long' } },
    };
    const out = flowToMermaid(def, { label: () => 'word '.repeat(40), maxLabel: 30 });
    const label = /s_a\(\["a: (.*)"\]\)/.exec(out)?.[1] ?? '';
    expect(label.length).toBe(30);
    expect(label.endsWith('…')).toBe(true);
  });
});

describe('jibu flows graph', () => {
  it('prints the shipped demo flow labelled with its English texts', async () => {
    const io = captureIo();
    const code = await flowsGraphCommand(
      'demo',
      { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', baseDir: ROOT },
      io,
    );
    expect(code).toBe(0);
    const out = io.stdout.join('\n');
    expect(out).toContain('s_welcome -->|"1. Vaccine facts"| s_facts');
    expect(out).toContain('s_welcome{{"welcome: Jibu demo. What would you like to do?"}}');
  });

  it('labels with another locale, or with keys', async () => {
    const sw = captureIo();
    await flowsGraphCommand(
      'demo',
      { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', locale: 'sw', baseDir: ROOT },
      sw,
    );
    const keys = captureIo();
    await flowsGraphCommand(
      'flows/demo.yaml',
      { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', keys: true, baseDir: ROOT },
      keys,
    );
    expect(sw.stdout.join('\n')).not.toContain('Vaccine facts');
    expect(keys.stdout.join('\n')).toContain('s_welcome -->|"1. demo.menu.facts"| s_facts');
  });

  it('writes a .mmd file, and refuses SVG with the reason: no offline renderer is installed', async () => {
    const out = path.join(tmpdir(), `jibu-graph-${process.pid}.mmd`);
    try {
      const io = captureIo();
      expect(
        await flowsGraphCommand(
          'demo',
          { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', out, baseDir: ROOT },
          io,
        ),
      ).toBe(0);
      expect(await readFile(out, 'utf8')).toMatch(/^flowchart TD\n/);
      const svg = captureIo();
      expect(
        await flowsGraphCommand(
          'demo',
          { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', out: 'demo.svg', baseDir: ROOT },
          svg,
        ),
      ).toBe(2);
      expect(svg.stderr.join('\n')).toMatch(/No offline SVG renderer is installed/);
    } finally {
      await rm(out, { force: true });
    }
  });

  it('says so when there is no such flow', async () => {
    const io = captureIo();
    expect(
      await flowsGraphCommand(
        'nosuchflow',
        { flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en', baseDir: ROOT },
        io,
      ),
    ).toBe(2);
    expect(io.stderr.join('\n')).toContain('no flow "nosuchflow"');
  });
});
