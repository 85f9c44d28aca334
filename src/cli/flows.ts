import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ParsedFlow } from '../conversation/check.ts';
import { buildFlowSet, parseFlowFile } from '../conversation/index.ts';
import { readLocales } from '../conversation/locales.ts';
import { createDomainRegistry } from '../conversation/actions/index.ts';
import { ALL_MODULES } from '../conversation/actions/all.ts';
import type { Registry } from '../conversation/registry.ts';
import type { FlowProblem } from '../conversation/types.ts';
import { defaultDeployment, loadDeployment, type Deployment } from '../dhis2/deployment.ts';
import { JibuError } from '../errors.ts';
import { flowToMermaid } from './graph.ts';
import { smsBudgetProblems } from './sms-budget.ts';

/**
 * `jibu flows check` and `jibu flows graph`: what an admin runs before a flow edit reaches anyone.
 * The check is the engine's own loader and checker (so what passes here is what the gateway loads),
 * plus the deployment file and its SMS segment budget.
 */

export interface FlowsCheckOptions {
  flowsDir: string;
  localesDir: string;
  /**
   * Flow files to check in place of (or in addition to) the files of the same name in `flowsDir`,
   * e.g. an edited copy. The whole set is always checked: texts, ids and keys span files.
   */
  files?: string[];
  /** Deployment file (`JIBU_CONFIG`); unset: the built-in defaults. */
  deploymentFile?: string;
  defaultLocale: string;
  /** Problem paths are shown relative to this folder (default: the working directory). */
  baseDir?: string;
  /** The registry to check names against (default: the gateway's, built from the deployment). */
  registry?: Registry;
}

export interface FlowsCheckReport {
  /** True when the gateway would load this set (no errors; warnings allowed). */
  ok: boolean;
  problems: FlowProblem[];
  flows: string[];
  locales: string[];
  /** The flow set version the gateway would report, when it loads. */
  version?: string;
}

/** The engine's own segment warning (fixed budget) is replaced by ours, which uses the deployment's. */
const ENGINE_SEGMENT_WARNING = /SMS segments in \S+ \([^)]*\); budget \d+$/;
const UNUSED_KEY_WARNING = / is not used by any flow$/;

/** `loadDeployment` problems read `path (line 12): message`; keep the line for the `file:line` output. */
function deploymentProblems(file: string, err: JibuError): FlowProblem[] {
  const detail = Array.isArray(err.detail) ? err.detail.map(String) : [err.message];
  return detail.map((d) => {
    const line = /\(line (\d+)\)/.exec(d)?.[1] ?? /^[^:]+:(\d+):/.exec(d)?.[1];
    return {
      file,
      ...(line ? { line: Number(line) } : {}),
      message: `deployment: ${d.replace(/ \(line \d+\)/, '').replace(/^[^:]+:\d+: /, '')}`,
      hint: 'see schemas/deployment.schema.json for the fields and their defaults',
      severity: 'error' as const,
    };
  });
}

function compareProblems(a: FlowProblem, b: FlowProblem): number {
  return (
    a.file.localeCompare(b.file) ||
    (a.line ?? 0) - (b.line ?? 0) ||
    (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1)
  );
}

/**
 * Check every flow and locale as the gateway would load them, the deployment file, and every SMS
 * reply against the deployment's segment budget. Reads files; never throws for a bad set.
 *
 * @example
 * const r = await checkFlows({ flowsDir: 'flows', localesDir: 'locales', defaultLocale: 'en' });
 * if (!r.ok) process.exitCode = 1;
 */
export async function checkFlows(opts: FlowsCheckOptions): Promise<FlowsCheckReport> {
  const base = opts.baseDir ?? process.cwd();
  const rel = (p: string) => path.relative(base, path.resolve(base, p)) || p;
  const problems: FlowProblem[] = [];

  let deployment: Deployment | undefined;
  try {
    deployment = loadDeployment(opts.deploymentFile ? path.resolve(base, opts.deploymentFile) : undefined);
  } catch (err) {
    if (!(err instanceof JibuError)) throw err;
    problems.push(...deploymentProblems(rel(opts.deploymentFile ?? 'deployment'), err));
  }

  // The registry the gateway builds: the same actions, guards and validators, configured the same way.
  const registry = opts.registry ?? createDomainRegistry(deployment ?? defaultDeployment(), ALL_MODULES);
  const loc = await readLocales(path.resolve(base, opts.localesDir), {
    defaultLocale: opts.defaultLocale,
    relativeTo: base,
  });

  const byName = new Map<string, { file: string; text: string }>();
  const flowsDir = path.resolve(base, opts.flowsDir);
  try {
    for (const n of (await readdir(flowsDir)).filter((x) => /\.ya?ml$/.test(x)).sort()) {
      byName.set(n, { file: rel(path.join(flowsDir, n)), text: await readFile(path.join(flowsDir, n), 'utf8') });
    }
  } catch {
    // Checking only the given files is fine; with none, the loader reports "no flow files".
    if (!opts.files?.length)
      problems.push({ file: rel(opts.flowsDir), message: 'the flows folder cannot be read', severity: 'error' });
  }
  for (const f of opts.files ?? []) {
    const full = path.resolve(base, f);
    try {
      byName.set(path.basename(full), { file: rel(full), text: await readFile(full, 'utf8') });
    } catch {
      problems.push({ file: rel(f), message: 'the file cannot be read', severity: 'error' });
    }
  }
  const flowFiles = [...byName.values()];

  const built = buildFlowSet({
    flowFiles,
    locales: loc.set,
    localeProblems: loc.problems,
    localeFiles: loc.files,
    registry,
    localesDir: rel(opts.localesDir),
  });
  const engineProblems = built.ok ? built.warnings : built.problems;

  const parsed = flowFiles.map((f) => parseFlowFile(f.file, f.text).flow).filter((f): f is ParsedFlow => !!f);
  // While a flow does not parse, which keys it uses is unknown: "unused" would be noise, not news.
  const unknownUse = parsed.length < flowFiles.length;
  problems.push(
    ...engineProblems.filter(
      (p) =>
        !(deployment && ENGINE_SEGMENT_WARNING.test(p.message)) && !(unknownUse && UNUSED_KEY_WARNING.test(p.message)),
    ),
  );
  if (deployment) {
    problems.push(
      ...smsBudgetProblems(parsed, loc.set, {
        budget: deployment.sms.segmentBudget,
        foldAccents: deployment.sms.foldAccents,
      }),
    );
  }

  problems.sort(compareProblems);
  return {
    ok: built.ok && !problems.some((p) => p.severity === 'error'),
    problems,
    flows: built.ok ? [...built.set.flows.keys()] : flowFiles.map((f) => f.file),
    locales: [...loc.set.locales],
    ...(built.ok ? { version: built.set.version } : {}),
  };
}

/** One problem as an admin reads it: `flows/demo.yaml:42  error  message  (hint)`. */
export function formatProblem(p: FlowProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}  ${p.severity}  ${p.message}${p.hint ? `  (${p.hint})` : ''}`;
}

/** The whole report as printed by `jibu flows check`, ending with a one-line summary. */
export function formatReport(r: FlowsCheckReport): string {
  const errors = r.problems.filter((p) => p.severity === 'error').length;
  const warnings = r.problems.length - errors;
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const summary = errors
    ? `✗ ${plural(errors, 'error')}, ${plural(warnings, 'warning')}: the gateway would refuse this set`
    : `✓ ${plural(r.flows.length, 'flow')} in ${plural(r.locales.length, 'locale')} (${r.locales.join(', ')}): ${warnings ? plural(warnings, 'warning') : 'no problems'}${r.version ? `, version ${r.version}` : ''}`;
  return [...r.problems.map(formatProblem), summary].join('\n');
}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const consoleIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

/**
 * `jibu flows check [files…]`. Returns the exit code: 1 on any error (or any warning with `strict`),
 * else 0.
 */
export async function flowsCheckCommand(
  opts: FlowsCheckOptions & { json?: boolean; strict?: boolean },
  io: CliIo = consoleIo,
): Promise<number> {
  const report = await checkFlows(opts);
  io.out(opts.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (!report.ok) return 1;
  return opts.strict && report.problems.length ? 1 : 0;
}

export interface FlowsGraphOptions {
  flowsDir: string;
  localesDir: string;
  defaultLocale: string;
  /** Label steps with this locale's texts (default: the default locale). */
  locale?: string;
  /** Label steps with locale keys instead of texts. */
  keys?: boolean;
  /** Write here instead of stdout. `.mmd`/`.md` only: no offline SVG renderer is installed. */
  out?: string;
  baseDir?: string;
}

/** Where the flow is: a path to a YAML file, or a flow id in `flowsDir`. */
async function readFlowSource(
  flow: string,
  flowsDir: string,
  base: string,
): Promise<{ file: string; text: string } | null> {
  const candidates = /\.ya?ml$/.test(flow) ? [path.resolve(base, flow)] : [];
  const dir = path.resolve(base, flowsDir);
  candidates.push(path.join(dir, `${flow}.yaml`), path.join(dir, `${flow}.yml`));
  for (const c of candidates) {
    try {
      return { file: path.relative(base, c) || c, text: await readFile(c, 'utf8') };
    } catch {
      // try the next spelling
    }
  }
  // The file name may differ from the id (the checker only warns about that).
  try {
    for (const n of (await readdir(dir)).filter((x) => /\.ya?ml$/.test(x))) {
      const text = await readFile(path.join(dir, n), 'utf8');
      if (parseFlowFile(n, text).flow?.def.id === flow) return { file: path.relative(base, path.join(dir, n)), text };
    }
  } catch {
    return null;
  }
  return null;
}

/**
 * `jibu flows graph <flow>`: the flow's steps and choices as a Mermaid flowchart, labelled with the
 * texts people see. Returns the exit code.
 */
export async function flowsGraphCommand(flow: string, opts: FlowsGraphOptions, io: CliIo = consoleIo): Promise<number> {
  const base = opts.baseDir ?? process.cwd();
  if (opts.out && !/\.(mmd|md|mermaid)$/i.test(opts.out)) {
    io.err(
      `cannot write ${opts.out}: only Mermaid text (.mmd) is written. No offline SVG renderer is installed; ` +
        'paste the .mmd into https://mermaid.live, view it in GitHub/GitLab markdown, or render it with @mermaid-js/mermaid-cli (mmdc) where available.',
    );
    return 2;
  }
  const src = await readFlowSource(flow, opts.flowsDir, base);
  if (!src) {
    io.err(`no flow "${flow}" (looked for a file of that name and for a flow with that id in ${opts.flowsDir})`);
    return 2;
  }
  const parsed = parseFlowFile(src.file, src.text);
  if (!parsed.flow) {
    for (const p of parsed.problems) io.err(formatProblem(p));
    io.err(`✗ ${src.file} does not parse; fix it (jibu flows check) before drawing it`);
    return 1;
  }
  let label: ((key: string) => string) | undefined;
  if (!opts.keys) {
    const loc = await readLocales(path.resolve(base, opts.localesDir), {
      defaultLocale: opts.defaultLocale,
      relativeTo: base,
    });
    const locale = loc.set.resolve(opts.locale ?? opts.defaultLocale);
    // The raw message (with its {params}) is what an admin edits, so that is what the diagram shows.
    label = (key) => {
      const v = loc.set.entry(locale, key)?.value;
      return typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : key;
    };
  }
  const text = flowToMermaid(parsed.flow.def, { ...(label ? { label } : {}), source: src.file });
  if (opts.out) {
    await writeFile(path.resolve(base, opts.out), /\.md$/i.test(opts.out) ? `\`\`\`mermaid\n${text}\`\`\`\n` : text);
    io.err(`wrote ${opts.out}`);
  } else {
    io.out(text.trimEnd());
  }
  return 0;
}
