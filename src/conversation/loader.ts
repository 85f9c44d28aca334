import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { checkFlowSet, type ParsedFlow } from './check.ts';
import { compileFlow, type CompiledFlow } from './compile.ts';
import { retainKey, type FlowSet } from './flowset.ts';
import { readLocales, type LocaleSet } from './locales.ts';
import type { Registry } from './registry.ts';
import { flowFileSchema } from './schema.ts';
import type { FlowProblem } from './types.ts';
import { parseYamlSource, type YamlSource } from './yaml-source.ts';

export interface LoadFlowSetOptions {
  flowsDir: string;
  localesDir: string;
  registry: Registry;
  defaultLocale: string;
  /** Languages to load (default: every folder in `localesDir`). */
  locales?: string[];
  /** The set running now: its compiled flows stay available to the sessions pinned to them. */
  previous?: FlowSet;
  /** How many versions of one flow to keep for live sessions (default 5, current included). */
  keepVersions?: number;
  /** Time zone for "today" in date answers (default: the process time zone, i.e. `TZ`). */
  timeZone?: string;
  /** Country for national phone numbers in `phone` answers. */
  defaultCountry?: string;
  /** Problem paths are relative to this folder (default: the working directory). */
  baseDir?: string;
}

export type LoadFlowSetResult =
  { ok: true; set: FlowSet; warnings: FlowProblem[] } | { ok: false; problems: FlowProblem[] };

/** JSON with sorted keys, so a content hash ignores key order and comments. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const sha = (s: string, n = 12) => createHash('sha256').update(s).digest('hex').slice(0, n);

function pathLabel(p: ReadonlyArray<PropertyKey>): string {
  return (
    p
      .map((s) => (typeof s === 'number' ? `[${s}]` : String(s)))
      .join('.')
      .replace(/\.\[/g, '[') || '(top)'
  );
}

/** zod issues -> problems with lines. Union failures report the branch that got furthest. */
export function zodProblems(file: string, source: YamlSource, error: z.ZodError): FlowProblem[] {
  const out: FlowProblem[] = [];
  const visit = (issue: z.core.$ZodIssue, prefix: ReadonlyArray<PropertyKey>) => {
    const p = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          file,
          line: source.keyLineOf([...p, key]),
          message: `${pathLabel(p)}: unknown key "${key}"`,
          hint: 'check the spelling; unknown keys are refused so typos do not pass silently',
          severity: 'error',
        });
      }
      return;
    }
    if (issue.code === 'invalid_union' && issue.errors.length) {
      // The branch with the deepest first issue is the one the author meant.
      const depth = (errs: z.core.$ZodIssue[]) => Math.max(...errs.map((e) => e.path.length), 0) - errs.length / 100;
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      if (best.length && best.some((e) => e.path.length > 0)) {
        best.forEach((e) => visit(e, p));
        return;
      }
    }
    const hint =
      issue.code === 'invalid_union' && String(p[p.length - 1]) !== 'type' && p[0] === 'steps' && p.length === 2
        ? 'a step needs type: menu, ask, say, action or end'
        : undefined;
    out.push({
      file,
      line: source.lineOf(p),
      message: `${pathLabel(p)}: ${issue.message}`,
      ...(hint ? { hint } : {}),
      severity: 'error',
    });
  };
  for (const issue of error.issues) visit(issue, []);
  return out;
}

/** Parse and validate one flow file. Pure apart from nothing: text in, flow or problems out. */
export function parseFlowFile(file: string, text: string): { flow?: ParsedFlow; problems: FlowProblem[] } {
  const { source, problems } = parseYamlSource(file, text);
  if (problems.some((p) => p.severity === 'error')) return { problems };
  const parsed = flowFileSchema.safeParse(source.value);
  if (!parsed.success) return { problems: [...problems, ...zodProblems(file, source, parsed.error)] };
  const base = path.basename(file).replace(/\.ya?ml$/, '');
  if (base !== parsed.data.id) {
    problems.push({
      file,
      line: source.lineOf(['id']),
      message: `flow id "${parsed.data.id}" differs from its file name ${path.basename(file)}`,
      hint: 'name the file after the id so admins find it',
      severity: 'warning',
    });
  }
  return { flow: { file, source, def: parsed.data }, problems };
}

/**
 * Check, compile and assemble a flow set from already-read files. Used by `loadFlowSet` and by tools
 * that check files outside the running set.
 */
export function buildFlowSet(input: {
  flowFiles: Array<{ file: string; text: string }>;
  locales: LocaleSet;
  localeProblems?: FlowProblem[];
  localeFiles?: Array<{ file: string; text: string }>;
  registry: Registry;
  localesDir: string;
  previous?: FlowSet;
  keepVersions?: number;
  timeZone?: string;
  defaultCountry?: string;
}): LoadFlowSetResult {
  const problems: FlowProblem[] = [...(input.localeProblems ?? [])];
  const parsed: ParsedFlow[] = [];
  for (const f of input.flowFiles) {
    const r = parseFlowFile(f.file, f.text);
    problems.push(...r.problems);
    if (r.flow) parsed.push(r.flow);
  }
  if (!input.flowFiles.length)
    problems.push({ file: input.localesDir, message: 'no flow files found', severity: 'error' });
  // A scratch copy: the check's renderings (every screen, every locale) are not kept by the running set.
  problems.push(...checkFlowSet(parsed, input.locales.scratch(), input.registry, { localesDir: input.localesDir }));
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length) return { ok: false, problems: sortProblems(problems) };

  const flows = new Map<string, CompiledFlow>();
  const prev = input.previous;
  for (const pf of parsed) {
    const version = `${pf.def.version}.${sha(stableStringify(pf.def))}`;
    // An unchanged flow keeps its compiled machine (same registry, same file): cheap reloads.
    const old = prev && prev.registry === input.registry ? prev.retained.get(retainKey(pf.def.id, version)) : undefined;
    const reuse = old?.file === pf.file ? old : undefined;
    try {
      flows.set(pf.def.id, reuse ?? compileFlow(pf.def, input.registry, { version, file: pf.file }));
    } catch (err) {
      problems.push({
        file: pf.file,
        message: `the flow could not be compiled: ${(err as Error).message}`,
        severity: 'error',
      });
    }
  }
  if (problems.some((p) => p.severity === 'error')) return { ok: false, problems: sortProblems(problems) };

  // Older versions stay for the sessions that started on them, newest last, a few per flow.
  const keep = Math.max(1, input.keepVersions ?? 5);
  const ordered: CompiledFlow[] = [...(prev?.retained.values() ?? [])].filter(
    (f) => flows.get(f.id)?.version !== f.version,
  );
  ordered.push(...flows.values());
  const perFlow = new Map<string, CompiledFlow[]>();
  for (const f of ordered) perFlow.set(f.id, [...(perFlow.get(f.id) ?? []), f]);
  const retained = new Map<string, CompiledFlow>();
  for (const list of perFlow.values()) for (const f of list.slice(-keep)) retained.set(retainKey(f.id, f.version), f);

  const hash = createHash('sha256');
  for (const f of [...input.flowFiles, ...(input.localeFiles ?? [])].sort((a, b) => a.file.localeCompare(b.file))) {
    hash.update(f.file).update('\u0000').update(f.text).update('\u0000');
  }
  const locales = input.locales;
  const set: FlowSet = {
    version: hash.digest('hex').slice(0, 12),
    flows,
    retained,
    locales,
    registry: input.registry,
    defaultLocale: locales.defaultLocale,
    timeZone: input.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    ...(input.defaultCountry ? { defaultCountry: input.defaultCountry } : {}),
    translate: (locale, key, params) => locales.format(locales.resolve(locale), key, params),
  };
  return { ok: true, set, warnings: sortProblems(problems) };
}

function sortProblems(problems: FlowProblem[]): FlowProblem[] {
  return [...problems].sort(
    (a, b) =>
      (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1) ||
      a.file.localeCompare(b.file) ||
      (a.line ?? 0) - (b.line ?? 0),
  );
}

/**
 * Read `flowsDir/*.yaml` and `localesDir/<lang>/*.yaml`, check everything together and compile.
 * A set with any error does not load: the caller keeps the set it has.
 *
 * @example
 * const r = await loadFlowSet({ flowsDir: 'flows', localesDir: 'locales', registry: createRegistry(), defaultLocale: 'en' });
 * if (!r.ok) for (const p of r.problems) console.error(`${p.file}:${p.line} ${p.message}`);
 */
export async function loadFlowSet(opts: LoadFlowSetOptions): Promise<LoadFlowSetResult> {
  const base = opts.baseDir ?? process.cwd();
  const rel = (p: string) => path.relative(base, p) || p;
  const loc = await readLocales(opts.localesDir, {
    defaultLocale: opts.defaultLocale,
    locales: opts.locales,
    relativeTo: base,
  });
  const flowFiles: Array<{ file: string; text: string }> = [];
  try {
    const names = (await readdir(opts.flowsDir)).filter((n) => /\.ya?ml$/.test(n)).sort();
    for (const n of names)
      flowFiles.push({
        file: rel(path.join(opts.flowsDir, n)),
        text: await readFile(path.join(opts.flowsDir, n), 'utf8'),
      });
  } catch {
    return {
      ok: false,
      problems: [{ file: rel(opts.flowsDir), message: 'the flows folder cannot be read', severity: 'error' }],
    };
  }
  return buildFlowSet({
    flowFiles,
    locales: loc.set,
    localeProblems: loc.problems,
    localeFiles: loc.files,
    registry: opts.registry,
    localesDir: rel(opts.localesDir),
    previous: opts.previous,
    keepVersions: opts.keepVersions,
    timeZone: opts.timeZone,
    defaultCountry: opts.defaultCountry,
  });
}
