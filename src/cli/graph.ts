import type { Branch, FlowFile, InputSpec, Step } from '../conversation/schema.ts';

/**
 * A flow as a Mermaid `flowchart`: one node per step (shape by kind), one edge per way out, labelled
 * with what the person chooses or answers. Pure, so it is tested without files and usable by any tool.
 */

export interface MermaidOptions {
  /** Text for a locale key (default: the key itself). */
  label?: (key: string) => string;
  /** Shown in a comment at the top. */
  source?: string;
  /** Longest label before it is cut with `…` (default 48). */
  maxLabel?: number;
}

/** Mermaid ids must not be keywords (`end` is one, and a fine step id), so every step id is prefixed. */
export const nodeId = (stepId: string): string => `s_${stepId}`;

/** Text inside a quoted Mermaid label: entity codes for what would end or break it. */
function esc(s: string): string {
  return s
    .replace(/#/g, '#35;')
    .replace(/"/g, '#quot;')
    .replace(/</g, '#lt;')
    .replace(/>/g, '#gt;')
    .replace(/\|/g, '#124;')
    .replace(/\r?\n/g, ' ');
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

function describeInput(input: InputSpec): string {
  switch (input.kind) {
    case 'number':
      return `number ${input.min}–${input.max}`;
    case 'text':
      return `text ≤ ${input.maxLength}`;
    case 'choice':
      return `choice of ${input.options.length}`;
    default:
      return input.kind;
  }
}

function describeWhen(b: Branch): string {
  const w = b.when;
  if ('guard' in w) return `if ${w.guard}`;
  if ('equals' in w) return `if ${w.var} = ${String(w.equals)}`;
  return `if ${w.var} in ${w.in.map(String).join(', ')}`;
}

/**
 * Render `def` as Mermaid. `flowToMermaid(def, { label: (k) => texts[k] ?? k })`:
 *
 * ```
 * flowchart TD
 *   s_welcome{{"welcome: Jibu demo. What would you like to do?"}}
 *   s_welcome -->|"1. Vaccine facts"| s_facts
 * ```
 */
export function flowToMermaid(def: FlowFile, opts: MermaidOptions = {}): string {
  const max = opts.maxLabel ?? 48;
  const text = (key: string) => clip(opts.label ? opts.label(key) : key, max);
  const lines: string[] = ['flowchart TD'];
  lines.push(
    `  %% flow ${def.id} v${def.version}${opts.source ? ` (${opts.source})` : ''}; channels: ${def.channels.join(', ')}`,
  );
  lines.push(`  start((start)) --> ${nodeId(def.start)}`);

  const kinds = new Map<Step['type'], string[]>();
  for (const [id, step] of Object.entries(def.steps)) {
    kinds.set(step.type, [...(kinds.get(step.type) ?? []), nodeId(id)]);
    const n = nodeId(id);
    const body = (s: string) => `"${esc(s)}"`;
    switch (step.type) {
      case 'menu':
        lines.push(`  ${n}{{${body(`${id}: ${text(step.text)}`)}}}`);
        break;
      case 'ask':
        lines.push(`  ${n}[/${body(`${id}: ${text(step.text)} (${describeInput(step.input)})`)}/]`);
        break;
      case 'say':
        lines.push(`  ${n}[${body(`${id}: ${text(step.text)}`)}]`);
        break;
      case 'action':
        lines.push(`  ${n}[[${body(`${id}: ${step.action}`)}]]`);
        break;
      case 'end':
        lines.push(`  ${n}([${body(step.text ? `${id}: ${text(step.text)}` : id)}])`);
        break;
    }
  }

  const edge = (from: string, to: string, label?: string, dotted = false) =>
    lines.push(
      `  ${nodeId(from)} ${dotted ? '-.->' : '-->'}${label ? `|"${esc(clip(label, max))}"|` : ''} ${nodeId(to)}`,
    );
  for (const [id, step] of Object.entries(def.steps)) {
    if (step.type === 'end') continue;
    step.branches?.forEach((b) => edge(id, b.next, describeWhen(b)));
    const otherwise = step.branches?.length ? 'otherwise' : undefined;
    if (step.type === 'menu') {
      step.options?.forEach((o, i) => edge(id, o.next ?? step.next ?? '', `${i + 1}. ${text(o.label)}`));
      if (step.optionsFrom) {
        if (step.next) edge(id, step.next, `one of ${step.optionsFrom.data}`);
        if (step.optionsFrom.empty) edge(id, step.optionsFrom.empty, `no ${step.optionsFrom.data}`, true);
      }
    } else if (step.type === 'ask') {
      edge(id, step.next, otherwise ?? `answer → ${step.save}`);
    } else {
      edge(id, step.next, otherwise);
    }
    if ((step.type === 'menu' || step.type === 'ask') && step.timeout)
      edge(id, step.timeout.next, `no reply in ${step.timeout.after}`, true);
  }

  // Colours tell kinds apart in renderers that ignore shapes (and for colour-blind readers the shapes stay).
  const styles: Record<Step['type'], string> = {
    menu: 'fill:#e8f0fe,stroke:#1a56db',
    ask: 'fill:#fef3c7,stroke:#b45309',
    say: 'fill:#f3f4f6,stroke:#4b5563',
    action: 'fill:#dcfce7,stroke:#15803d',
    end: 'fill:#fee2e2,stroke:#b91c1c',
  };
  for (const [kind, ids] of kinds) {
    lines.push(`  classDef kind_${kind} ${styles[kind]}`);
    lines.push(`  class ${ids.join(',')} kind_${kind}`);
  }
  return `${lines.join('\n')}\n`;
}
