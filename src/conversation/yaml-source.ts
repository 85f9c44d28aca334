import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { FlowProblem } from './types.ts';

/**
 * A parsed YAML file that remembers where things are, so every problem an admin sees points at a
 * line (`flows/demo.yaml:42`) instead of a JSON path they have to count by hand.
 */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  value: unknown;
  /** 1-based line of the node at `path`, or of its deepest existing ancestor. */
  lineOf(path: ReadonlyArray<PropertyKey>): number | undefined;
  /** 1-based line of the key (not the value) at `path`, when the last element is a map key. */
  keyLineOf(path: ReadonlyArray<PropertyKey>): number | undefined;
}

/** Parse `text` (the contents of `file`); YAML syntax errors come back as problems with lines. */
export function parseYamlSource(file: string, text: string): { source: YamlSource; problems: FlowProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: FlowProblem[] = [];
  for (const e of doc.errors) {
    problems.push({
      file,
      line: lineCounter.linePos(e.pos[0]).line,
      message: `YAML: ${e.message.split('\n')[0]}`,
      severity: 'error',
    });
  }
  for (const w of doc.warnings) {
    problems.push({
      file,
      line: lineCounter.linePos(w.pos[0]).line,
      message: `YAML: ${w.message.split('\n')[0]}`,
      severity: 'warning',
    });
  }
  const line = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);

  const nodeAt = (path: ReadonlyArray<PropertyKey>): { node: Node | null; keyNode: Node | null } => {
    let node: unknown = doc.contents;
    let keyNode: Node | null = null;
    let last: Node | null = (doc.contents as Node | null) ?? null;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) break;
        keyNode = isScalar(pair.key) ? pair.key : null;
        node = pair.value;
        if (node && typeof node === 'object' && 'range' in node) last = node as Node;
        else if (keyNode) last = keyNode;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) break;
        keyNode = null;
        node = item;
        if (item && typeof item === 'object' && 'range' in item) last = item as Node;
      } else {
        break;
      }
    }
    return { node: last, keyNode };
  };

  const source: YamlSource = {
    file,
    doc,
    value: doc.errors.length ? undefined : doc.toJS(),
    lineOf: (path) => line(nodeAt(path).node?.range?.[0]),
    keyLineOf: (path) => {
      const { node, keyNode } = nodeAt(path);
      return line((keyNode ?? node)?.range?.[0]);
    },
  };
  return { source, problems };
}

/** Flatten a YAML map into dotted keys with the line of each leaf: strings and lists of strings. */
export function flattenLocaleDoc(source: YamlSource): {
  entries: Array<{ key: string; value: string | string[]; line?: number }>;
  problems: FlowProblem[];
} {
  const entries: Array<{ key: string; value: string | string[]; line?: number }> = [];
  const problems: FlowProblem[] = [];
  const walk = (node: unknown, prefix: string[]) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        walk(pair.value, [...prefix, k]);
      }
      return;
    }
    const path = prefix.join('.');
    const line = source.keyLineOf(prefix);
    if (isSeq(node)) {
      const words = node.items.map((i) => (isScalar(i) ? i.value : undefined));
      if (words.every((w): w is string => typeof w === 'string' && w.trim() !== ''))
        entries.push({ key: path, value: words, line });
      else
        problems.push({
          file: source.file,
          line,
          message: `${path}: a list must hold non-empty words only`,
          severity: 'error',
        });
      return;
    }
    if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')) {
      entries.push({ key: path, value: String(node.value), line });
      return;
    }
    problems.push({
      file: source.file,
      line,
      message: `${path}: expected a text or a list of words`,
      severity: 'error',
    });
  };
  if (source.doc.contents === null) return { entries, problems };
  if (!isMap(source.doc.contents)) {
    problems.push({ file: source.file, line: 1, message: 'a locale file is a map of keys', severity: 'error' });
    return { entries, problems };
  }
  walk(source.doc.contents, []);
  return { entries, problems };
}
