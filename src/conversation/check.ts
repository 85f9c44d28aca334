import { measureSms } from '../channels/sms-text.ts';
import { isInteractive, stepEdges } from './compile.ts';
import { SYSTEM_KEYS } from './flowset.ts';
import { defaultHint } from './input.ts';
import { icuArgs, type ArgKind, type LocaleSet } from './locales.ts';
import type { Registry } from './registry.ts';
import { USSD_LIMIT, askLines, navLines, paginate, t, type RenderCtx } from './render.ts';
import { durationMs, refName, type FlowFile, type Params, type Step } from './schema.ts';
import { templateRefs } from './templates.ts';
import { normalizeWord } from './text.ts';
import type { FlowProblem } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

/**
 * The load-time checker: everything that would otherwise surprise a caregiver at runtime. Each
 * problem names a file and line and, where we can tell, how to fix it. Errors stop a set from
 * loading; warnings are shown and the set loads.
 */

export interface ParsedFlow {
  file: string;
  source: YamlSource;
  def: FlowFile;
}

/** SMS texts longer than this many segments get a warning (docs/providers.md#sms-encoding-and-segments). */
export const SMS_SEGMENT_BUDGET = 3;
/** Placeholder for a text parameter whose value is only known at runtime (names, places). */
const SAMPLE_TEXT = 'XXXXXXXXXXXX';

type Path = ReadonlyArray<string | number>;

interface TextUse {
  key: string;
  /** Names of params the step provides; null when the engine provides them (hints). */
  provided: Record<string, unknown> | null;
  flow: ParsedFlow;
  path: Path;
}

const WORD_KEYS = [
  'keywords.stop',
  'keywords.start',
  'keywords.help',
  'keywords.language',
  'keywords.restart',
  'words.yes',
  'words.no',
  'words.today',
  'words.tomorrow',
  'words.yesterday',
];

/** The texts a step shows (key, the params it gives, and where in the file). */
function stepTexts(
  id: string,
  step: Step,
): Array<{ key: string; params: Params | null | undefined; path: Path; item?: boolean }> {
  const base: Path = ['steps', id];
  const out: Array<{ key: string; params: Params | null | undefined; path: Path; item?: boolean }> = [];
  if (step.type === 'action') return out;
  if (step.text) out.push({ key: step.text, params: step.params, path: [...base, 'text'] });
  if (step.type === 'menu') {
    step.options?.forEach((o, i) =>
      out.push({ key: o.label, params: o.params, path: [...base, 'options', i, 'label'] }),
    );
    if (step.optionsFrom)
      out.push({
        key: step.optionsFrom.label,
        params: step.optionsFrom.params,
        path: [...base, 'optionsFrom', 'label'],
        item: true,
      });
  }
  if (step.type === 'ask') {
    if (step.hint) out.push({ key: step.hint, params: null, path: [...base, 'hint'] });
    if (step.input.kind === 'choice')
      step.input.options.forEach((o, i) =>
        out.push({ key: o.label, params: {}, path: [...base, 'input', 'options', i, 'label'] }),
      );
  }
  return out;
}

/** Sample values for rendering a screen whose values are only known at runtime (the checker and `jibu flows check`'s SMS budget). */
export function sampleParams(
  locales: LocaleSet,
  locale: string,
  key: string,
  provided: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const entry = locales.entry(locale, key);
  if (!entry || typeof entry.value !== 'string') return {};
  let args: Map<string, ArgKind>;
  try {
    args = icuArgs(entry.value);
  } catch {
    return {};
  }
  const out: Record<string, unknown> = {};
  for (const [name, kind] of args) {
    const p = provided?.[name];
    if (p !== undefined && templateRefs(p).length === 0) out[name] = p;
    else
      out[name] =
        kind === 'number'
          ? 99
          : kind === 'date'
            ? new Date(Date.UTC(2025, 11, 31))
            : kind === 'select'
              ? 'other'
              : SAMPLE_TEXT;
  }
  return out;
}

function sampleCtx(locales: LocaleSet, locale: string, channel: 'ussd' | 'sms'): RenderCtx {
  return { locales, locale, channel, params: () => ({}) };
}

/** Check every flow and every locale together. */
export function checkFlowSet(
  flows: ParsedFlow[],
  locales: LocaleSet,
  registry: Registry,
  opts: { localesDir: string },
): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const uses: TextUse[] = [];
  const usedKeys = new Set<string>(Object.keys(SYSTEM_KEYS));
  const def = locales.defaultLocale;

  const seenIds = new Map<string, ParsedFlow>();
  for (const flow of flows) {
    const other = seenIds.get(flow.def.id);
    if (other) {
      problems.push({
        file: flow.file,
        line: flow.source.lineOf(['id']),
        message: `flow id "${flow.def.id}" is also used by ${other.file}`,
        hint: 'give each flow a unique id',
        severity: 'error',
      });
    }
    seenIds.set(flow.def.id, flow);
    problems.push(...checkFlowGraph(flow, registry, locales));
    for (const [id, step] of Object.entries(flow.def.steps)) {
      for (const x of stepTexts(id, step)) {
        uses.push({ key: x.key, provided: x.params === null ? null : (x.params ?? {}), flow, path: x.path });
      }
    }
    if (flow.def.entry?.sms && typeof flow.def.entry.sms === 'object') usedKeys.add(flow.def.entry.sms.keywords);
  }
  for (const v of Object.values(registry.validators)) v.hints.forEach((h) => usedKeys.add(h));

  // Texts the flows use: present, translated, with matching parameters.
  for (const u of uses) {
    usedKeys.add(u.key);
    const file = u.flow.file;
    const line = u.flow.source.lineOf(u.path);
    const missingIn = locales.locales.filter((l) => !locales.has(l, u.key));
    if (!locales.has(def, u.key)) {
      problems.push({
        file,
        line,
        message: `text ${u.key} is not in the locale files (missing in ${missingIn.join(', ')})`,
        hint: `add ${u.key} to ${opts.localesDir}/<lang>/*.yaml for every language`,
        severity: 'error',
      });
      continue;
    }
    const entry = locales.entry(def, u.key);
    if (!entry || typeof entry.value !== 'string') {
      problems.push({ file, line, message: `${u.key} is a word list, not a text`, severity: 'error' });
      continue;
    }
    if (u.provided === null) continue;
    const args = icuArgs(entry.value);
    for (const name of args.keys()) {
      if (!(name in u.provided)) {
        problems.push({
          file,
          line,
          message: `${u.key} uses {${name}} but the step gives no params.${name}`,
          hint: `add params: { ${name}: '{${name}}' } (a variable) or a fixed value`,
          severity: 'error',
        });
      }
    }
    for (const name of Object.keys(u.provided)) {
      if (!args.has(name))
        problems.push({ file, line, message: `params.${name} is not used by ${u.key}`, severity: 'warning' });
    }
  }

  problems.push(...checkLocales(locales, usedKeys, opts.localesDir));
  problems.push(...checkWords(locales, flows));
  for (const flow of flows) problems.push(...checkScreens(flow, locales, registry));
  problems.push(...checkSystemScreens(locales));
  return problems;
}

function checkFlowGraph(flow: ParsedFlow, registry: Registry, locales: LocaleSet): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const { def, file, source } = flow;
  const at = (path: Path) => source.lineOf(path);
  const keyAt = (path: Path) => source.keyLineOf(path);
  const err = (path: Path, message: string, hint?: string) =>
    problems.push({ file, line: at(path), message, ...(hint ? { hint } : {}), severity: 'error' });
  const warn = (path: Path, message: string, hint?: string) =>
    problems.push({ file, line: at(path), message, ...(hint ? { hint } : {}), severity: 'warning' });
  const steps = def.steps;
  const ids = Object.keys(steps);
  const known = (id: string) => id in steps;
  const suggest = (id: string) => {
    const near = ids.find((s) => s.toLowerCase() === id.toLowerCase() || s.startsWith(id) || id.startsWith(s));
    return near ? `did you mean ${near}?` : `steps are: ${ids.join(', ')}`;
  };

  if (!known(def.start)) err(['start'], `start step "${def.start}" does not exist`, suggest(def.start));

  // Targets and registry names.
  for (const [id, step] of Object.entries(steps)) {
    const base: Path = ['steps', id];
    for (const e of stepEdges(step)) {
      if (known(e.target)) continue;
      const path: Path =
        e.via === 'option'
          ? [...base, 'options', e.index ?? 0, 'next']
          : e.via === 'branch'
            ? [...base, 'branches', e.index ?? 0, 'next']
            : e.via === 'timeout'
              ? [...base, 'timeout', 'next']
              : e.via === 'empty'
                ? [...base, 'optionsFrom', 'empty']
                : [...base, 'next'];
      err(path, `step ${id} goes to "${e.target}", which does not exist`, suggest(e.target));
    }
    if (step.type === 'action' && !registry.actions[step.action]) {
      err(
        [...base, 'action'],
        `unknown action "${step.action}"`,
        `known actions: ${Object.keys(registry.actions).sort().join(', ')}`,
      );
    }
    if (step.type !== 'end') {
      step.branches?.forEach((b, i) => {
        if ('guard' in b.when && !registry.guards[b.when.guard]) {
          err(
            [...base, 'branches', i, 'when', 'guard'],
            `unknown guard "${b.when.guard}"`,
            `known guards: ${Object.keys(registry.guards).sort().join(', ')}`,
          );
        }
      });
      if (step.branches?.length && isInteractive(step) && !('next' in step && step.next))
        err(base, `step ${id} has branches but no default next`);
    }
    if (step.type === 'ask' && step.validator) {
      const { name } = refName(step.validator);
      const v = registry.validators[name];
      if (!v)
        err(
          [...base, 'validator'],
          `unknown validator "${name}"`,
          `known validators: ${Object.keys(registry.validators).sort().join(', ')}`,
        );
      else if (v.kinds && !v.kinds.includes(step.input.kind))
        err(
          [...base, 'validator'],
          `validator ${name} does not check ${step.input.kind} answers`,
          `it checks: ${v.kinds.join(', ')}`,
        );
    }
    if (step.type === 'ask' && step.input.kind === 'number' && step.input.min > step.input.max)
      err([...base, 'input'], 'min is greater than max');
    if (step.type === 'menu' && step.optionsFrom) {
      const head = step.optionsFrom.data.split('.')[0] ?? '';
      if (!def.data.includes(head))
        err(
          [...base, 'optionsFrom', 'data'],
          `optionsFrom uses data "${head}" that the flow does not declare`,
          `add ${head} to the flow's data: list`,
        );
    }
    if ('timeout' in step && step.timeout) {
      if (!def.channels.includes('sms'))
        warn([...base, 'timeout'], 'timeouts only apply to SMS conversations and this flow has no sms channel');
      if (durationMs(step.timeout.after) >= durationMs(def.session.ttl)) {
        err(
          [...base, 'timeout', 'after'],
          `timeout ${step.timeout.after} is not shorter than the session ttl ${def.session.ttl}`,
          'the session would be gone before the timer fires: lengthen session.ttl',
        );
      }
    }
  }

  // Entry and data.
  def.data.forEach((d, i) => {
    if (!registry.data.has(d))
      err(
        ['data', i],
        `unknown data "${d}"`,
        registry.data.size
          ? `the runner provides: ${[...registry.data].sort().join(', ')}`
          : 'the registry declares no data names yet',
      );
  });
  if (def.entry) {
    if (!registry.roles[def.entry.role])
      err(
        ['entry', 'role'],
        `unknown role "${def.entry.role}"`,
        `known roles: ${Object.keys(registry.roles).sort().join(', ')}`,
      );
    if (def.entry.ussd && !def.channels.includes('ussd'))
      err(['entry', 'ussd'], 'entry.ussd is set but ussd is not in channels');
    if (def.entry.sms && !def.channels.includes('sms'))
      err(['entry', 'sms'], 'entry.sms is set but sms is not in channels');
    if (def.entry.sms && typeof def.entry.sms === 'object') {
      const key = def.entry.sms.keywords;
      const e = locales.entry(locales.defaultLocale, key);
      if (!e || !Array.isArray(e.value))
        err(['entry', 'sms', 'keywords'], `${key} must be a list of words in the locale files`);
    }
  }

  // Variables: every reference must be saved somewhere in the flow (or set by an action).
  const vars = new Set<string>();
  for (const step of Object.values(steps)) {
    if ((step.type === 'ask' || step.type === 'menu') && step.save) vars.add(step.save);
    if (step.type === 'action') {
      registry.actions[step.action]?.sets?.forEach((v) => vars.add(v));
      if (step.action === 'vars.set') Object.keys(step.params ?? {}).forEach((v) => vars.add(v));
    }
  }
  const checkRefs = (value: unknown, path: Path, itemAllowed: boolean) => {
    for (const ref of templateRefs(value)) {
      const [head, second] = ref.split('.');
      if (head === 'data') {
        if (!second || !def.data.includes(second))
          err(
            path,
            `{${ref}} uses data "${second ?? ''}" that the flow does not declare`,
            "add it to the flow's data: list",
          );
      } else if (head === 'item') {
        if (!itemAllowed) err(path, `{${ref}} is only available in optionsFrom params and value`);
      } else if (!vars.has(head ?? '')) {
        err(
          path,
          `{${ref}} refers to variable "${head}", which no step saves`,
          vars.size ? `variables: ${[...vars].sort().join(', ')}` : 'save it with an ask or menu step (save: name)',
        );
      }
    }
  };
  for (const [id, step] of Object.entries(steps)) {
    const base: Path = ['steps', id];
    if (step.type !== 'action' && step.params) checkRefs(step.params, [...base, 'params'], false);
    if (step.type === 'action' && step.params) checkRefs(step.params, [...base, 'params'], false);
    if (step.type === 'menu') {
      step.options?.forEach((o, i) => o.params && checkRefs(o.params, [...base, 'options', i, 'params'], false));
      if (step.optionsFrom) {
        checkRefs(step.optionsFrom.params ?? {}, [...base, 'optionsFrom', 'params'], true);
        checkRefs(step.optionsFrom.value ?? '', [...base, 'optionsFrom', 'value'], true);
      }
    }
    if (step.type !== 'end') {
      step.branches?.forEach((b, i) => {
        if ('var' in b.when && !vars.has(b.when.var))
          err([...base, 'branches', i, 'when', 'var'], `branch tests variable "${b.when.var}", which no step saves`);
      });
    }
  }

  // Reachability from start, and every reachable step able to reach an end.
  if (known(def.start)) {
    const reach = new Set<string>();
    const queue = [def.start];
    while (queue.length) {
      const id = queue.shift() ?? '';
      if (reach.has(id) || !known(id)) continue;
      reach.add(id);
      const s = steps[id];
      if (s) queue.push(...stepEdges(s).map((e) => e.target));
    }
    for (const id of ids)
      if (!reach.has(id))
        problems.push({
          file,
          line: keyAt(['steps', id]),
          message: `step ${id} cannot be reached from ${def.start}`,
          hint: 'link it from another step or delete it',
          severity: 'error',
        });

    const canEnd = new Set<string>();
    for (const [id, s] of Object.entries(steps))
      if (s.type === 'end' || (s.type === 'menu' && s.optionsFrom && !s.optionsFrom.empty)) canEnd.add(id);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [id, s] of Object.entries(steps)) {
        if (canEnd.has(id)) continue;
        if (stepEdges(s).some((e) => canEnd.has(e.target))) {
          canEnd.add(id);
          grew = true;
        }
      }
    }
    for (const id of ids) {
      if (reach.has(id) && !canEnd.has(id))
        problems.push({
          file,
          line: keyAt(['steps', id]),
          message: `from step ${id} no path leads to an end step`,
          hint: 'add a way out (an option or next) that reaches an end step',
          severity: 'error',
        });
    }
  }

  // Loops with nothing to wait for would spin forever: actions (and, on SMS, say steps) only.
  const auto = (s: Step) => s.type === 'action' || (s.type === 'say' && def.channels.includes('sms'));
  const color = new Map<string, number>();
  const reported = new Set<string>();
  const visit = (id: string, trail: string[]) => {
    const s = steps[id];
    if (!s || !auto(s)) return;
    if (color.get(id) === 1) {
      const loop = trail.slice(trail.indexOf(id));
      const keyId = [...loop].sort().join(',');
      if (!reported.has(keyId)) {
        reported.add(keyId);
        problems.push({
          file,
          line: keyAt(['steps', id]),
          message: `steps ${[...loop, id].join(' -> ')} loop without waiting for an answer`,
          hint: 'put a menu or ask step in the loop',
          severity: 'error',
        });
      }
      return;
    }
    if (color.get(id) === 2) return;
    color.set(id, 1);
    for (const e of stepEdges(s)) if (e.via !== 'timeout') visit(e.target, [...trail, id]);
    color.set(id, 2);
  };
  for (const id of ids) visit(id, []);
  return problems;
}

function checkLocales(locales: LocaleSet, usedKeys: Set<string>, localesDir: string): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const def = locales.defaultLocale;
  const defEntries = locales.entries.get(def) ?? new Map();
  const dirOf = (l: string) => `${localesDir}/${l}`;

  for (const [key, expected] of Object.entries(SYSTEM_KEYS)) {
    const e = defEntries.get(key);
    if (!e) {
      problems.push({
        file: dirOf(def),
        message: `system text ${key} is missing in ${def}`,
        hint: 'the engine shows it; every locale needs it',
        severity: 'error',
      });
      continue;
    }
    if (expected === 'words' && !Array.isArray(e.value))
      problems.push({ file: e.file, line: e.line, message: `${key} must be a list of words`, severity: 'error' });
    if (expected !== 'words') {
      if (Array.isArray(e.value)) {
        problems.push({ file: e.file, line: e.line, message: `${key} must be a text, not a list`, severity: 'error' });
        continue;
      }
      const args = [...icuArgs(e.value).keys()].sort();
      const want = [...expected].sort();
      if (args.join() !== want.join()) {
        problems.push({
          file: e.file,
          line: e.line,
          message: `${key} must use exactly the parameters ${want.map((a) => `{${a}}`).join(' ') || '(none)'}; it uses ${args.map((a) => `{${a}}`).join(' ') || 'none'}`,
          severity: 'error',
        });
      }
    }
  }

  for (const locale of locales.locales) {
    if (locale === def) continue;
    const entries = locales.entries.get(locale) ?? new Map();
    for (const [key, d] of defEntries) {
      const e = entries.get(key);
      if (!e) {
        // Point at the file of the same name in that locale: that is where a translator adds it.
        const file = `${dirOf(locale)}/${d.file.split(/[\\/]/).pop() ?? ''}`;
        problems.push({
          file,
          message: `${key} is missing in ${locale} (${def} has it at ${d.file}:${d.line ?? '?'})`,
          hint: `translate it into ${locale}`,
          severity: 'error',
        });
        continue;
      }
      if (Array.isArray(d.value) !== Array.isArray(e.value)) {
        problems.push({
          file: e.file,
          line: e.line,
          message: `${key} is a ${Array.isArray(e.value) ? 'word list' : 'text'} in ${locale} but a ${Array.isArray(d.value) ? 'word list' : 'text'} in ${def}`,
          severity: 'error',
        });
        continue;
      }
      if (typeof d.value === 'string' && typeof e.value === 'string') {
        const a = [...icuArgs(d.value).keys()].sort().join(', ');
        const b = [...icuArgs(e.value).keys()].sort().join(', ');
        if (a !== b) {
          problems.push({
            file: e.file,
            line: e.line,
            message: `${key} uses parameters {${b}} in ${locale} but {${a}} in ${def}`,
            hint: 'the same parameters must appear in every language (ICU names are not translated)',
            severity: 'error',
          });
        }
      }
    }
    for (const [key, e] of entries) {
      if (!defEntries.has(key))
        problems.push({
          file: e.file,
          line: e.line,
          message: `${key} exists in ${locale} but not in ${def}`,
          hint: 'delete it, or add it to the default locale',
          severity: 'warning',
        });
    }
  }

  // `staff.*` is what Jibu writes into DHIS2 for programme staff: the code uses it, not the flows
  // (src/dhis2/staff-texts.ts reads it at start-up and refuses a missing key).
  for (const [key, e] of defEntries) {
    if (!usedKeys.has(key) && !key.startsWith('staff.'))
      problems.push({
        file: e.file,
        line: e.line,
        message: `${key} is not used by any flow`,
        hint: 'delete it or use it',
        severity: 'warning',
      });
  }
  return problems;
}

/** Keywords and answer words must not mean two things (in any locale), nor be numbers. */
function checkWords(locales: LocaleSet, flows: ParsedFlow[]): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const keys = [...WORD_KEYS];
  for (const f of flows)
    if (f.def.entry?.sms && typeof f.def.entry.sms === 'object') keys.push(f.def.entry.sms.keywords);
  const owner = new Map<string, { key: string; locale: string }>();
  for (const key of keys) {
    for (const locale of locales.locales) {
      const e = locales.entries.get(locale)?.get(key);
      for (const word of locales.words(locale, key)) {
        if (/^\d+$/.test(word) && key.startsWith('keywords.')) {
          problems.push({
            file: e?.file ?? locale,
            line: e?.line,
            message: `keyword "${word}" (${key}) is a number; numbers are menu choices and USSD navigation`,
            severity: 'error',
          });
        }
        const prev = owner.get(word);
        if (prev && prev.key !== key) {
          problems.push({
            file: e?.file ?? locale,
            line: e?.line,
            message: `"${word}" is in ${key} (${locale}) and also in ${prev.key} (${prev.locale})`,
            hint: 'a word people type must mean one thing in every language',
            severity: 'error',
          });
        } else if (!prev) owner.set(word, { key, locale });
      }
    }
  }
  return problems;
}

function screenProblem(flow: ParsedFlow, path: Path, locale: string, what: string, text: string): FlowProblem {
  return {
    file: flow.file,
    line: flow.source.lineOf(path),
    message: `${what} is ${text.length} characters in ${locale} (USSD limit ${USSD_LIMIT})`,
    hint: `shorten the ${locale} text; longest rendering: ${JSON.stringify(text)}`,
    severity: 'error',
  };
}

/** Render every static screen of a flow in every locale, the way the engine will. */
function checkScreens(flow: ParsedFlow, locales: LocaleSet, registry: Registry): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const { def } = flow;
  for (const locale of locales.locales) {
    for (const [id, step] of Object.entries(def.steps)) {
      const base: Path = ['steps', id];
      const ussd = sampleCtx(locales, locale, 'ussd');
      // Runtime values are unknown here: each text is rendered with sample values of its parameters.
      const render = (channel: 'ussd' | 'sms', key: string, params: Params | undefined): string =>
        t(sampleCtx(locales, locale, channel), key, sampleParams(locales, locale, key, params));
      const screens: Array<{ path: Path; what: string; ussd?: string; sms?: string }> = [];
      if (step.type === 'menu' && def.channels.includes('ussd')) {
        const title = render('ussd', step.text, step.params);
        const labels = step.options
          ? step.options.map((o) => render('ussd', o.label, o.params))
          : [render('ussd', step.optionsFrom?.label ?? '', step.optionsFrom?.params)];
        const view = { title, labels };
        const hint = t(ussd, 'invalid.menu');
        // The hint takes the title's place after an invalid choice: check the longer of the two.
        const head = hint.length > title.length ? hint : title;
        const pages = paginate(ussd, view, hint.length);
        pages.forEach((idx, p) => {
          const more = p < pages.length - 1 || (!step.options && p === 0);
          const text = [
            head,
            ...idx.map((i) => `${i + 1}. ${labels[i] ?? ''}`),
            ...navLines(ussd, { more, back: true, home: true }),
          ].join('\n');
          screens.push({
            path: [...base, 'text'],
            what: `menu ${id}${pages.length > 1 ? ` page ${p + 1}` : ''}`,
            ussd: text,
          });
        });
      }
      if (step.type === 'ask') {
        const hints: string[] = [];
        const d = defaultHint(step.input);
        hints.push(step.hint ? render('ussd', step.hint, undefined) : t(ussd, d.hint, d.params));
        if (step.validator && !step.hint) {
          const v = registry.validators[refName(step.validator).name];
          v?.hints.forEach((h) => hints.push(render('ussd', h, undefined)));
        }
        const longest = hints.reduce((a, b) => (b.length > a.length ? b : a), '');
        const prompt = [render('ussd', step.text, step.params), ...askLines(ussd, step)].join('\n');
        if (def.channels.includes('ussd'))
          screens.push({ path: [...base, 'text'], what: `ask ${id} with its hint`, ussd: `${longest}\n${prompt}` });
        screens.push({
          path: [...base, 'text'],
          what: `ask ${id}`,
          sms: [render('sms', step.text, step.params), ...askLines({ ...ussd, channel: 'sms' }, step)].join('\n'),
        });
      }
      if (step.type === 'say') {
        if (def.channels.includes('ussd'))
          screens.push({
            path: [...base, 'text'],
            what: `say ${id}`,
            ussd: `${render('ussd', step.text, step.params)}\n1. ${t(ussd, 'nav.continue')}`,
          });
      }
      if (step.type === 'end' && step.text) {
        if (def.channels.includes('ussd'))
          screens.push({ path: [...base, 'text'], what: `end ${id}`, ussd: render('ussd', step.text, step.params) });
        screens.push({ path: [...base, 'text'], what: `end ${id}`, sms: render('sms', step.text, step.params) });
      }
      if (step.type === 'menu' && def.channels.includes('sms')) {
        const title = render('sms', step.text, step.params);
        const labels = step.options ? step.options.map((o) => render('sms', o.label, o.params)) : [];
        screens.push({
          path: [...base, 'text'],
          what: `menu ${id}`,
          sms: [title, ...labels.map((l, i) => `${i + 1}. ${l}`)].join('\n'),
        });
      }
      for (const s of screens) {
        if (s.ussd !== undefined && s.ussd.length > USSD_LIMIT)
          problems.push(screenProblem(flow, s.path, locale, s.what, s.ussd));
        if (s.sms !== undefined && def.channels.includes('sms')) {
          const m = measureSms(s.sms);
          if (m.segments > SMS_SEGMENT_BUDGET) {
            problems.push({
              file: flow.file,
              line: flow.source.lineOf(s.path),
              message: `${s.what} takes ${m.segments} SMS segments in ${locale} (${m.encoding}); budget ${SMS_SEGMENT_BUDGET}`,
              hint: 'shorten it, or avoid characters that force UCS-2',
              severity: 'warning',
            });
          }
        }
      }
    }
  }
  return problems;
}

/** System screens people see on USSD: each must fit 160 characters in every locale. */
function checkSystemScreens(locales: LocaleSet): FlowProblem[] {
  const problems: FlowProblem[] = [];
  const keys = [
    'system.stopped',
    'system.started',
    'system.help',
    'system.updated',
    'system.no_flow',
    'system.too_many_invalid',
    'system.goodbye',
    'system.opted_out',
    'system.nothing',
    'system.error',
    'system.language_set',
  ];
  for (const locale of locales.locales) {
    const ctx: RenderCtx = { locales, locale, channel: 'ussd', params: () => ({}) };
    for (const key of keys) {
      const e = locales.entries.get(locale)?.get(key);
      const text = t(ctx, key);
      if (text.length > USSD_LIMIT)
        problems.push({
          file: e?.file ?? locale,
          line: e?.line,
          message: `${key} is ${text.length} characters in ${locale} (USSD limit ${USSD_LIMIT})`,
          hint: 'shorten it',
          severity: 'error',
        });
    }
    const menu = [
      t(ctx, 'invalid.menu'),
      t(ctx, 'system.language_prompt'),
      ...locales.locales.map((l, i) => `${i + 1}. ${t({ ...ctx, locale: l }, 'meta.name')}`),
    ].join('\n');
    if (menu.length > USSD_LIMIT) {
      const e = locales.entries.get(locale)?.get('system.language_prompt');
      problems.push({
        file: e?.file ?? locale,
        line: e?.line,
        message: `the language menu is ${menu.length} characters in ${locale} (USSD limit ${USSD_LIMIT})`,
        severity: 'error',
      });
    }
    for (const w of WORD_KEYS)
      for (const word of locales.words(locale, w))
        if (normalizeWord(word) === '')
          problems.push({ file: locale, message: `${w} has an empty word`, severity: 'error' });
  }
  return problems;
}
