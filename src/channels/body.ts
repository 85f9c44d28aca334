import { z } from 'zod';
import type { ParseResult } from './types.ts';

/**
 * Read a webhook body (urlencoded or JSON, as express parsed it) with a zod schema. Never throws:
 * a body that is not an object, or misses or mistypes fields, becomes `JIBU_BAD_REQUEST` with a
 * detail naming each field, e.g. `phoneNumber: missing; text: expected a single string`.
 */
export function readBody<S extends z.ZodType>(schema: S, body: unknown): ParseResult<z.output<S>> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return {
      ok: false,
      code: 'JIBU_BAD_REQUEST',
      detail: `body: expected form fields or a JSON object, got ${describe(body)}`,
    };
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    code: 'JIBU_BAD_REQUEST',
    detail: describeIssues(parsed.error.issues, body as Record<string, unknown>),
  };
}

function describeIssues(issues: readonly z.core.$ZodIssue[], body: Record<string, unknown>): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const issue of issues) {
    const field = issue.path.map(String).join('.') || 'body';
    if (seen.has(field)) continue;
    seen.add(field);
    const value = issue.path.length === 1 ? body[String(issue.path[0])] : undefined;
    if (issue.path.length === 1 && value === undefined) parts.push(`${field}: missing`);
    else if (issue.code === 'invalid_type')
      parts.push(`${field}: expected a single ${issue.expected}, got ${describe(value)}`);
    else if (issue.code === 'too_big') parts.push(`${field}: too long`);
    else if (issue.code === 'too_small') parts.push(`${field}: empty`);
    else parts.push(`${field}: ${issue.message}`);
  }
  return parts.join('; ');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list (repeated field?)';
  return typeof value;
}

/** A required text field of bounded length (provider ids, numbers, codes). */
export const requiredText = (max: number) => z.string().trim().min(1).max(max);

/** An optional text field; an empty value (AT sends `linkId=`) reads as absent. */
export const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** First query value of `name`, when it is a single non-empty string. */
export function queryValue(query: unknown, name: string): string | undefined {
  if (query === null || typeof query !== 'object') return undefined;
  const value = (query as Record<string, unknown>)[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
