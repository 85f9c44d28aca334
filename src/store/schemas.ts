import { z } from 'zod';
import type { Contact, QueuedJob, SessionRecord } from './types.ts';
import { QUEUE_NAMES } from './types.ts';

/**
 * Schemas for what the store reads back from Redis (or from its in-memory twin). Anything read from
 * outside the process is a boundary: a record written by an older release or edited by hand must be
 * recognised as such, not trusted into a conversation.
 */

// Loose: fields added to SessionRecord by a newer release survive a read-modify-write by this one.
export const sessionRecordSchema = z.looseObject({
  flowId: z.string(),
  flowVersion: z.string(),
  channel: z.enum(['ussd', 'sms']),
  snapshot: z.unknown(),
  locale: z.string(),
  startedAt: z.number(),
  updatedAt: z.number(),
  ussdSessionId: z.string().optional(),
  pathDigest: z.string().optional(),
  lastReply: z.object({ text: z.string(), end: z.boolean() }).optional(),
  ended: z.boolean().optional(),
  invalidCount: z.number().int().nonnegative().optional(),
}) satisfies z.ZodType<SessionRecord>;

export const queuedJobSchema = z.object({
  id: z.string().min(1),
  queue: z.enum(QUEUE_NAMES as [QueuedJob['queue'], ...QueuedJob['queue'][]]),
  name: z.string().min(1),
  data: z.unknown(),
  runAt: z.number().optional(),
}) satisfies z.ZodType<QueuedJob>;

/**
 * A contact as stored in the `contact:{phone}` hash: every field a string. Booleans are `'1'`/`'0'`
 * so an operator reading the hash with redis-cli sees something obvious.
 */
const contactHashSchema = z.object({
  optedOut: z.enum(['0', '1']).optional(),
  locale: z.string().min(1).optional(),
  undeliverable: z.enum(['0', '1']).optional(),
});

/** Read a contact hash (HGETALL result); unknown fields are ignored, a missing hash is a default contact. */
export function contactFromHash(hash: Record<string, string>): Contact {
  // Most callers have no contact record: what the schema would make of an empty hash, without it.
  if (isEmpty(hash)) return { optedOut: false };
  const parsed = contactHashSchema.safeParse(hash);
  const h = parsed.success ? parsed.data : {};
  const contact: Contact = { optedOut: h.optedOut === '1' };
  if (h.locale !== undefined) contact.locale = h.locale;
  if (h.undeliverable !== undefined) contact.undeliverable = h.undeliverable === '1';
  return contact;
}

/** Flatten a contact patch to hash field/value pairs; `undefined` fields are left untouched. */
export function contactPatchToHash(patch: Partial<Contact>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (patch.optedOut !== undefined) out.push(['optedOut', patch.optedOut ? '1' : '0']);
  if (patch.locale !== undefined) out.push(['locale', patch.locale]);
  if (patch.undeliverable !== undefined) out.push(['undeliverable', patch.undeliverable ? '1' : '0']);
  return out;
}

/**
 * Parse a stored session. A record that no longer fits the schema is reported as corrupt so the store
 * can log it and treat the conversation as new, rather than fail every message from that phone.
 */
export function parseSession(
  json: string | null,
): { ok: true; session: SessionRecord | null } | { ok: false; error: string } {
  if (json === null) return { ok: true, session: null };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  // A record as this release writes it is checked by hand (the schema's cost showed on every hop); anything
  // else goes through the schema, which decides. tests/store/session-schema.test.ts holds the two together.
  const plain = plainSessionRecord(raw);
  if (plain) return { ok: true, session: plain };
  const parsed = sessionRecordSchema.safeParse(raw);
  return parsed.success
    ? { ok: true, session: parsed.data as SessionRecord }
    : { ok: false, error: parsed.error.message };
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** A plain object, as JSON.parse makes (the schema's output is one, whatever the input's prototype). */
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const optional = (v: unknown, test: (x: unknown) => boolean) => v === undefined || test(v);

/**
 * `raw` itself when it certainly passes {@link sessionRecordSchema} with nothing for the schema to change
 * (its only stripping object, `lastReply`, has exactly its two fields), else null: not necessarily invalid,
 * only left to the schema.
 */
export function plainSessionRecord(raw: unknown): SessionRecord | null {
  if (!isRecord(raw)) return null;
  const ok =
    typeof raw.flowId === 'string' &&
    typeof raw.flowVersion === 'string' &&
    'snapshot' in raw && // z.unknown() in an object still wants the key
    (raw.channel === 'ussd' || raw.channel === 'sms') &&
    typeof raw.locale === 'string' &&
    isFiniteNumber(raw.startedAt) &&
    isFiniteNumber(raw.updatedAt) &&
    optional(raw.ussdSessionId, (v) => typeof v === 'string') &&
    optional(raw.pathDigest, (v) => typeof v === 'string') &&
    optional(raw.ended, (v) => typeof v === 'boolean') &&
    optional(raw.invalidCount, (v) => Number.isSafeInteger(v) && (v as number) >= 0) &&
    optional(
      raw.lastReply,
      (v) => isRecord(v) && typeof v.text === 'string' && typeof v.end === 'boolean' && Object.keys(v).length === 2,
    );
  return ok ? (raw as unknown as SessionRecord) : null;
}
