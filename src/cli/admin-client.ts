import { z } from 'zod';
import type { CliIo } from './flows.ts';

/**
 * The CLI side of the admin API (`/admin/*` of a running gateway): `jibu outbox list|retry`,
 * `jibu jobs run`, `jibu flows reload`. Answers are validated with zod like any other boundary.
 */

export interface AdminTarget {
  /** Base URL of the gateway, e.g. `http://localhost:3000`. */
  url: string;
  /** `ADMIN_TOKEN` of that gateway (none: only an embedded default gateway answers). */
  token?: string;
}

const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), detail: z.unknown().optional() }),
});

/** An error answer of the admin API, with its catalogue code. */
export class AdminApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: unknown;
  constructor(status: number, code: string, message: string, detail?: unknown) {
    super(message);
    this.name = 'AdminApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/**
 * Call the admin API and validate the answer. Throws `AdminApiError` on a 4xx/5xx answer.
 *
 * @example await adminCall({ url: 'http://localhost:3000', token }, 'GET', '/admin/queues', queuesSchema)
 */
export async function adminCall<T>(
  target: AdminTarget,
  method: 'GET' | 'POST',
  pathname: string,
  schema: z.ZodType<T>,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${target.url.replace(/\/$/, '')}${pathname}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new AdminApiError(
      0,
      'UNREACHABLE',
      `the gateway at ${target.url} does not answer (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})`,
    );
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const e = errorSchema.safeParse(json);
    if (e.success) throw new AdminApiError(res.status, e.data.error.code, e.data.error.message, e.data.error.detail);
    throw new AdminApiError(res.status, `HTTP_${res.status}`, `the gateway answered ${res.status}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new AdminApiError(
      res.status,
      'BAD_ANSWER',
      `unexpected answer from ${pathname}: ${parsed.error.issues[0]?.message ?? ''}`,
    );
  return parsed.data;
}

const deadLetterSchema = z.object({
  id: z.string(),
  queue: z.string(),
  name: z.string(),
  data: z.unknown(),
  error: z.string(),
  detail: z.unknown().optional(),
  attempts: z.number(),
  failedAt: z.number(),
});
export const deadLettersSchema = z.object({ deadLetters: z.array(deadLetterSchema) });
const countsSchema = z.object({ waiting: z.number(), delayed: z.number(), active: z.number(), failed: z.number() });
export const queuesSchema = z.object({ queues: z.record(z.string(), countsSchema) });
export const retrySchema = z.object({ retried: z.literal(true), queue: z.string(), id: z.string() });
export const jobRunSchema = z.object({ job: z.string(), date: z.string(), result: z.unknown().optional() });
export const reloadSchema = z.object({ version: z.string(), flows: z.array(z.string()).optional() });

interface CommonOpts extends AdminTarget {
  json?: boolean;
}

/** Print an admin API error readably (the problems of a refused reload one per line); exit code 1. */
function fail(io: CliIo, err: unknown): number {
  if (!(err instanceof AdminApiError)) throw err;
  io.err(`${err.code}: ${err.message}`);
  const problems = (err.detail as { problems?: unknown } | undefined)?.problems;
  if (Array.isArray(problems)) {
    for (const p of problems as Array<{
      file?: string;
      line?: number;
      message?: string;
      hint?: string;
      severity?: string;
    }>) {
      io.err(
        `${p.file ?? '?'}${p.line ? `:${p.line}` : ''}  ${p.severity ?? 'error'}  ${p.message ?? ''}${p.hint ? `  (${p.hint})` : ''}`,
      );
    }
  } else if (err.detail !== undefined) {
    io.err(JSON.stringify(err.detail));
  }
  if (err.status === 401) io.err("pass --token or set ADMIN_TOKEN to the gateway's ADMIN_TOKEN");
  return 1;
}

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

/** `jibu outbox list [--queue q]`: queue counts and the dead letters, newest first. */
export async function outboxListCommand(
  opts: CommonOpts & { queue?: string; limit?: number },
  io: CliIo,
): Promise<number> {
  try {
    const q = new URLSearchParams();
    if (opts.queue) q.set('queue', opts.queue);
    if (opts.limit) q.set('limit', String(opts.limit));
    const [counts, dead] = await Promise.all([
      adminCall(opts, 'GET', '/admin/queues', queuesSchema),
      adminCall(opts, 'GET', `/admin/outbox/dead${q.size ? `?${q}` : ''}`, deadLettersSchema),
    ]);
    if (opts.json) {
      io.out(JSON.stringify({ ...counts, ...dead }, null, 2));
      return 0;
    }
    for (const [name, c] of Object.entries(counts.queues)) {
      if (opts.queue && name !== opts.queue) continue;
      io.out(`${name.padEnd(13)} waiting ${c.waiting}  delayed ${c.delayed}  active ${c.active}  dead ${c.failed}`);
    }
    if (!dead.deadLetters.length) {
      io.out('no dead letters');
      return 0;
    }
    io.out('');
    for (const d of dead.deadLetters) {
      io.out(`${d.queue}  ${d.id}  ${d.name}  ${when(d.failedAt)}  attempts ${d.attempts}  ${d.error}`);
    }
    io.out(`\nretry one with: jibu outbox retry <id>${opts.queue ? ` --queue ${opts.queue}` : ''}`);
    return 0;
  } catch (err) {
    return fail(io, err);
  }
}

/** `jibu outbox retry <id> [--queue q]`: put a dead letter back (the queue is looked up when not given). */
export async function outboxRetryCommand(
  id: string,
  opts: CommonOpts & { queue?: string },
  io: CliIo,
): Promise<number> {
  try {
    let queue = opts.queue;
    if (!queue) {
      const dead = await adminCall(opts, 'GET', '/admin/outbox/dead?limit=1000', deadLettersSchema);
      const hits = dead.deadLetters.filter((d) => d.id === id);
      if (hits.length !== 1) {
        io.err(
          hits.length
            ? `${id} is dead in several queues (${hits.map((h) => h.queue).join(', ')}): pass --queue`
            : `no dead letter with id ${id} (see jibu outbox list)`,
        );
        return 1;
      }
      queue = hits[0]?.queue;
    }
    const r = await adminCall(
      opts,
      'POST',
      `/admin/outbox/dead/${encodeURIComponent(queue ?? '')}/${encodeURIComponent(id)}/retry`,
      retrySchema,
    );
    io.out(opts.json ? JSON.stringify(r) : `requeued ${r.id} on ${r.queue}`);
    return 0;
  } catch (err) {
    return fail(io, err);
  }
}

/** `jibu jobs run <name> [--date YYYY-MM-DD]`: run a scheduled job now, "as if today were" the date. */
export async function jobsRunCommand(name: string, opts: CommonOpts & { date?: string }, io: CliIo): Promise<number> {
  try {
    const r = await adminCall(
      opts,
      'POST',
      `/admin/jobs/${encodeURIComponent(name)}/run`,
      jobRunSchema,
      opts.date ? { date: opts.date } : {},
    );
    io.out(
      opts.json
        ? JSON.stringify(r, null, 2)
        : `ran ${r.job} for ${r.date}${r.result === undefined ? '' : `: ${JSON.stringify(r.result)}`}`,
    );
    return 0;
  } catch (err) {
    return fail(io, err);
  }
}

/** `jibu flows reload`: ask a running gateway to re-read its flows and locales (same as SIGHUP). */
export async function flowsReloadCommand(opts: CommonOpts, io: CliIo): Promise<number> {
  try {
    const r = await adminCall(opts, 'POST', '/admin/flows/reload', reloadSchema);
    io.out(
      opts.json
        ? JSON.stringify(r)
        : `reloaded: version ${r.version}${r.flows?.length ? ` (${r.flows.join(', ')})` : ''}`,
    );
    return 0;
  } catch (err) {
    return fail(io, err);
  }
}

export const pinResetSchema = z.object({ phone: z.string(), reset: z.boolean() });

/** `jibu pin reset <phone>`: forget a case worker's PIN and lock; the next dial signs in with a new SMS code. */
export async function pinResetCommand(phone: string, opts: CommonOpts, io: CliIo): Promise<number> {
  try {
    const r = await adminCall(opts, 'POST', '/admin/pin/reset', pinResetSchema, { phone });
    if (opts.json) io.out(JSON.stringify(r));
    else
      io.out(
        r.reset
          ? `PIN of ${r.phone} reset: the next dial sends a new sign-in code by SMS`
          : `${r.phone} had no PIN set; nothing to reset`,
      );
    return 0;
  } catch (err) {
    return fail(io, err);
  }
}
