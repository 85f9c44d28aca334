import { prepareSms, type SmsMeasure } from '../channels/sms-text.ts';
import { sampleParams, type ParsedFlow } from '../conversation/check.ts';
import { stepEdges } from '../conversation/compile.ts';
import type { LocaleSet } from '../conversation/locales.ts';
import { askLines, t, type RenderCtx } from '../conversation/render.ts';
import type { Params, Step } from '../conversation/schema.ts';
import type { FlowProblem } from '../conversation/types.ts';

/**
 * The deployment's SMS segment budget (`sms.segmentBudget`), checked over every SMS reply a flow can
 * send. On SMS the engine lets `say` steps flow into the next reply, so a reply is the texts of the
 * say steps passed on the way plus the screen the conversation waits on (or ends with); that whole
 * message is what the provider bills, so that is what is measured, in every locale.
 */

export interface SmsBudgetOptions {
  /** Most segments one message may use (deployment `sms.segmentBudget`). */
  budget: number;
  /** Deployment `sms.foldAccents`: accents are folded before sending, so measure the folded text. */
  foldAccents?: boolean;
}

/** Say chains longer than this are not followed (a loop of says is the checker's error, not ours). */
const MAX_CHAIN = 12;

/** The SMS text a step shows on its own (no say prefix), or null for steps that show nothing. */
function stepSms(ctx: RenderCtx, step: Step): string | null {
  const text = (key: string, params?: Params) => t(ctx, key, sampleParams(ctx.locales, ctx.locale, key, params));
  switch (step.type) {
    case 'menu': {
      const labels = step.options
        ? step.options.map((o) => text(o.label, o.params))
        : // A data menu's length is only known at runtime: measure it with one item.
          [text(step.optionsFrom?.label ?? '', step.optionsFrom?.params)];
      return [text(step.text, step.params), ...labels.map((l, i) => `${i + 1}. ${l}`)].join('\n');
    }
    case 'ask':
      return [text(step.text, step.params), ...askLines(ctx, step)].join('\n');
    case 'say':
      return text(step.text, step.params);
    case 'end':
      return step.text ? text(step.text, step.params) : null;
    default:
      return null;
  }
}

/**
 * For each step, the chains of `say` steps that can flow into the same SMS reply before it, as step
 * ids in reading order. Actions between them are passed silently; `[]` is the step reached directly.
 */
function sayChains(steps: Readonly<Record<string, Step>>): Map<string, string[][]> {
  const preds = new Map<string, string[]>();
  for (const [id, s] of Object.entries(steps)) {
    for (const e of stepEdges(s)) {
      if (e.via === 'timeout') continue;
      preds.set(e.target, [...new Set([...(preds.get(e.target) ?? []), id])]);
    }
  }
  const chains = new Map<string, string[][]>();
  for (const id of Object.keys(steps)) {
    const out: string[][] = [[]];
    const walk = (at: string, chain: string[], seen: Set<string>) => {
      if (chain.length >= MAX_CHAIN) return;
      for (const p of preds.get(at) ?? []) {
        const ps = steps[p];
        if (!ps || seen.has(p) || (ps.type !== 'say' && ps.type !== 'action')) continue;
        const next = ps.type === 'say' ? [p, ...chain] : chain;
        if (ps.type === 'say') out.push(next);
        walk(p, next, new Set([...seen, p]));
      }
    };
    walk(id, [], new Set([id]));
    chains.set(id, out);
  }
  return chains;
}

interface Over {
  locale: string;
  measure: SmsMeasure;
  chain: string[];
}

/**
 * Every SMS reply of every flow that uses more segments than the deployment allows, one warning per
 * step naming the locales over budget and the worst rendering. Pure.
 *
 * @example smsBudgetProblems(flows, locales, { budget: 1 })
 * // [{ file: 'flows/demo.yaml', line: 24, severity: 'warning', message: 'SMS reply at menu facts takes 2 segments in en, fr …' }]
 */
export function smsBudgetProblems(
  flows: readonly ParsedFlow[],
  locales: LocaleSet,
  opts: SmsBudgetOptions,
): FlowProblem[] {
  const problems: FlowProblem[] = [];
  for (const flow of flows) {
    const { def } = flow;
    if (!def.channels.includes('sms')) continue;
    const chains = sayChains(def.steps);
    for (const [id, step] of Object.entries(def.steps)) {
      // A say on SMS never waits: it is measured as part of the reply it flows into.
      if (step.type === 'say' || step.type === 'action') continue;
      const over: Over[] = [];
      for (const locale of locales.locales) {
        const ctx: RenderCtx = { locales, locale, channel: 'sms', params: () => ({}) };
        const own = stepSms(ctx, step);
        if (own === null) continue;
        let worst: Over | undefined;
        for (const chain of chains.get(id) ?? [[]]) {
          const said = chain
            .map((s) => {
              const st = def.steps[s];
              return st ? stepSms(ctx, st) : null;
            })
            .filter((x): x is string => !!x);
          const measure = prepareSms([...said, own].join('\n'), { foldAccents: opts.foldAccents === true });
          if (
            !worst ||
            measure.segments > worst.measure.segments ||
            (measure.segments === worst.measure.segments && measure.units > worst.measure.units)
          ) {
            worst = { locale, measure, chain };
          }
        }
        if (worst && worst.measure.segments > opts.budget) over.push(worst);
      }
      if (!over.length) continue;
      const top = over.reduce((a, b) =>
        b.measure.segments > a.measure.segments ||
        (b.measure.segments === a.measure.segments && b.measure.units > a.measure.units)
          ? b
          : a,
      );
      const m = top.measure;
      const why =
        m.encoding === 'UCS-2' && m.nonGsmCharacters.length
          ? `; UCS-2 because of ${m.nonGsmCharacters.map((c) => JSON.stringify(c)).join(' ')}`
          : '';
      const after = top.chain.length ? ` after say ${top.chain.join(', ')}` : '';
      problems.push({
        file: flow.file,
        line: flow.source.lineOf(['steps', id, 'text']) ?? flow.source.keyLineOf(['steps', id]),
        message: `SMS reply at ${step.type} ${id}${after} is over the deployment's budget of ${opts.budget} segment${opts.budget === 1 ? '' : 's'} in ${over.map((o) => o.locale).join(', ')}: up to ${m.segments} segments`,
        hint: `worst: ${top.locale}, ${m.units} ${m.encoding} units${why}; shorten the texts or raise sms.segmentBudget`,
        severity: 'warning',
      });
    }
  }
  return problems;
}
