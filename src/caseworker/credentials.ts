import { createHash, createHmac, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { normalizePhone } from '../channels/phone.ts';
import { offloadable } from '../conversation/offload.ts';
import { JibuError } from '../errors.ts';
import type { Store } from '../store/types.ts';

/**
 * A case worker's sign-in credential: a 4-digit PIN kept only as a salted scrypt hash, the count of
 * wrong tries and the lock they lead to. Stored as one JSON document `cred:{phone}`.
 *
 * Why hashing is asked for by the (pure, synchronous) conversation step: the runner's data loader runs
 * before the step and never sees what the worker typed, so the only place that holds both the typed
 * PIN and the stored hash is the step itself. scrypt with a salt that comes in the document (or from
 * the step's `newId()`) is deterministic and does no I/O, so the step stays pure and replayable. In the
 * runner the hash itself is computed off the event loop and the step taken again with it
 * ({@link hashPin}, src/conversation/offload.ts).
 * The typed PIN is cleared from the conversation variables in the very step that reads it, so it is
 * never persisted. What must be stored (a new hash, a wrong try, a success) leaves the step as a
 * `notify` effect that the runner applies inside the step's own atomic commit (`credentialUpdates`),
 * and {@link applyCredentialOp} applies it idempotently.
 *
 * A 4-digit PIN has 10 000 values, so no hash cost alone protects a stolen hash. The PIN is first
 * keyed with a server-side pepper (`PIN_PEPPER`, HMAC-SHA256), which lives in the gateway's
 * environment and never in Redis: a copy of Redis alone gives nothing to brute-force. scrypt's cost
 * is the second line, for a pepper that leaked too (SECURITY.md "PINs and sign-in codes").
 */

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * scrypt cost of new hashes: N = 2^15, r = 8, p = 1 (32 MiB; 50–100 ms on one core, measured in
 * bench/pin-hash.ts). Stored with each hash, so it can be raised later: older hashes are upgraded on
 * the next correct sign-in.
 */
export const SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 32768, r: 8, p: 1 });
/** What hashes stored before the pepper were made with (and what a document without `params` means). */
export const LEGACY_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 8192, r: 8, p: 1 });
const KEY_LENGTH = 32;

/** How a case-worker module hashes PINs: the scrypt cost of new hashes and the server-side pepper. */
export interface PinHashing {
  params: ScryptParams;
  /** HMAC key applied to the PIN before scrypt. Unset: PINs are hashed without one (legacy). */
  pepper?: string;
}

/**
 * The pepper of the all-embedded demo (no DHIS2_URL and no PIN_PEPPER). It is public, so it protects
 * nothing: a deployment connected to a real DHIS2 must set its own (config refuses to start without).
 */
export const DEMO_PIN_PEPPER = 'jibu-demo-pin-pepper-public-not-a-secret';

export const DEFAULT_PIN_HASHING: PinHashing = Object.freeze({ params: SCRYPT_PARAMS, pepper: DEMO_PIN_PEPPER });
/** The scheme before PIN_PEPPER: N = 2^13 and no pepper. Only for reading (and upgrading) old hashes. */
export const LEGACY_PIN_HASHING: PinHashing = Object.freeze({ params: LEGACY_SCRYPT_PARAMS });

export interface LockPolicy {
  /** Wrong tries in a row that lock the PIN. */
  maxTries: number;
  /** First lock period; each later lock (without a successful sign-in between) doubles it. */
  lockMs: number;
  /** Longest lock period. */
  maxLockMs: number;
}

export const DEFAULT_LOCK_POLICY: LockPolicy = { maxTries: 5, lockMs: 60 * 60_000, maxLockMs: 7 * 24 * 60 * 60_000 };

const ScryptParamsSchema = z.object({
  N: z.number().int().min(1024),
  r: z.number().int().min(1),
  p: z.number().int().min(1),
});

/** The stored document (`cred:{phone}`). Read back with zod: it crosses a process boundary. */
export const CredentialSchema = z.object({
  v: z.literal(1),
  /** The DHIS2 user the PIN belongs to: a phone number moved to another user must sign in afresh. */
  userId: z.string().optional(),
  hash: z.string().optional(),
  salt: z.string().optional(),
  params: ScryptParamsSchema.optional(),
  /** The hash was made from the PIN keyed with the server's pepper. Absent: a legacy hash without one. */
  peppered: z.literal(true).optional(),
  setAt: z.number().optional(),
  tries: z.number().int().min(0).default(0),
  /** Locks so far without a successful sign-in in between (each doubles the period). */
  locks: z.number().int().min(0).default(0),
  lockedUntil: z.number().optional(),
  /** Sign-in codes sent (epoch ms), the last hour only: a worker cannot be sent codes without end. */
  otpSent: z.array(z.number()).default([]),
  /** Ids of the last operations applied, so a job delivered twice counts once. */
  applied: z.array(z.string()).default([]),
});
export type Credential = z.infer<typeof CredentialSchema>;

/** What a conversation step asks to be written. `id` makes it idempotent. */
export const CredentialOpSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('set'),
    id: z.string().min(1),
    phone: z.string(),
    userId: z.string(),
    hash: z.string(),
    salt: z.string(),
    params: ScryptParamsSchema,
    peppered: z.literal(true).optional(),
    at: z.number(),
  }),
  z.object({ op: z.literal('failed'), id: z.string().min(1), phone: z.string(), at: z.number() }),
  z.object({
    op: z.literal('succeeded'),
    id: z.string().min(1),
    phone: z.string(),
    at: z.number(),
    /** A hash of the PIN just typed under the current scheme, replacing an older one (stronger cost, pepper). */
    rehash: z
      .object({
        hash: z.string(),
        salt: z.string(),
        params: ScryptParamsSchema,
        peppered: z.literal(true).optional(),
      })
      .optional(),
  }),
  z.object({ op: z.literal('otpSent'), id: z.string().min(1), phone: z.string(), at: z.number() }),
]);
export type CredentialOp = z.infer<typeof CredentialOpSchema>;

export const credentialKey = (phone: string): string => `cred:${phone}`;

const APPLIED_KEEP = 20;
const OTP_WINDOW_MS = 60 * 60_000;

/** The lock period after the `locks`-th lock (0-based): doubling from `lockMs`, capped. */
export function lockPeriod(locks: number, policy: LockPolicy = DEFAULT_LOCK_POLICY): number {
  return Math.min(policy.maxLockMs, policy.lockMs * 2 ** Math.min(locks, 20));
}

/**
 * Apply one operation to a credential (pure). A repeated `id` changes nothing. Five wrong tries in a
 * row lock the PIN; a success clears the tries and the lock history.
 *
 * @example applyCredentialOp(null, { op: 'failed', id: 'a1', phone, at: 0 }).tries // 1
 */
export function applyCredentialOp(
  current: Credential | null,
  op: CredentialOp,
  policy: LockPolicy = DEFAULT_LOCK_POLICY,
): Credential {
  const doc: Credential = current ?? { v: 1, tries: 0, locks: 0, otpSent: [], applied: [] };
  if (doc.applied.includes(op.id)) return doc;
  const applied = [...doc.applied, op.id].slice(-APPLIED_KEEP);
  switch (op.op) {
    case 'set':
      return {
        v: 1,
        userId: op.userId,
        hash: op.hash,
        salt: op.salt,
        params: op.params,
        ...(op.peppered ? { peppered: true as const } : {}),
        setAt: op.at,
        tries: 0,
        locks: 0,
        otpSent: doc.otpSent,
        applied,
      };
    case 'succeeded': {
      const { lockedUntil: _gone, ...rest } = doc;
      if (!op.rehash || !doc.hash) return { ...rest, tries: 0, locks: 0, applied };
      const { peppered: _old, ...kept } = rest;
      const { hash, salt, params, peppered } = op.rehash;
      return { ...kept, hash, salt, params, ...(peppered ? { peppered } : {}), tries: 0, locks: 0, applied };
    }
    case 'failed': {
      // A try that arrives while locked (a hop already in flight) does not extend the lock.
      if (doc.lockedUntil !== undefined && doc.lockedUntil > op.at) return { ...doc, applied };
      const tries = doc.tries + 1;
      if (tries < policy.maxTries) return { ...doc, tries, applied };
      return { ...doc, tries: 0, locks: doc.locks + 1, lockedUntil: op.at + lockPeriod(doc.locks, policy), applied };
    }
    case 'otpSent':
      return { ...doc, otpSent: [...doc.otpSent.filter((t) => t > op.at - OTP_WINDOW_MS), op.at], applied };
  }
}

/** Codes sent within the last hour before `now`. */
export function recentOtps(doc: Credential | null, now: number): number {
  return (doc?.otpSent ?? []).filter((t) => t > now - OTP_WINDOW_MS).length;
}

/**
 * The salted scrypt hash of a PIN, base64: `scrypt(HMAC-SHA256(pepper, pin), salt)`, or
 * `scrypt(pin, salt)` without a pepper. Deterministic: the same PIN, salt, parameters and pepper always
 * give the same hash, which is what keeps the conversation step pure.
 */
export function hashPin(pin: string, salt: string, params: ScryptParams = SCRYPT_PARAMS, pepper?: string): string {
  return offloadedHash(pin, salt, params, pepper);
}

type HashArgs = [pin: string, salt: string, params: ScryptParams, pepper: string | undefined];
const scryptInput = (pin: string, pepper: string | undefined) =>
  pepper === undefined ? pin : createHmac('sha256', pepper).update(pin).digest();
const scryptOptions = (params: ScryptParams) => ({
  N: params.N,
  r: params.r,
  p: params.p,
  maxmem: 256 * params.N * params.r + 1024 * 1024,
});
/** What a step sees while its hash is computed: no stored hash is 32 zero bytes, so it never verifies. */
const STAND_IN = Buffer.alloc(KEY_LENGTH).toString('base64');

/**
 * In a runner's turn the hash is computed on libuv's thread pool, one at a time per process (scrypt holds
 * 32 MiB while it runs), and the step is taken again with it (src/conversation/offload.ts): the event loop
 * keeps answering other callers meanwhile. Elsewhere it is computed synchronously.
 */
const offloadedHash = offloadable<HashArgs, string>({
  name: 'pin-hash',
  concurrency: 1,
  key: (pin, salt, params, pepper) => JSON.stringify([pin, salt, params.N, params.r, params.p, pepper ?? null]),
  sync: (pin, salt, params, pepper) =>
    scryptSync(scryptInput(pin, pepper), salt, KEY_LENGTH, scryptOptions(params)).toString('base64'),
  async: (pin, salt, params, pepper) =>
    new Promise((resolve, reject) =>
      scrypt(scryptInput(pin, pepper), salt, KEY_LENGTH, scryptOptions(params), (err, key) =>
        err ? reject(err) : resolve(key.toString('base64')),
      ),
    ),
  standIn: () => STAND_IN,
});

type StoredHash = Pick<Credential, 'hash' | 'salt' | 'params' | 'peppered'>;

/**
 * Compare a typed PIN with a stored hash in constant time, with the parameters and pepper the hash
 * was made with (a peppered hash never matches without the pepper).
 */
export function verifyPin(pin: string, stored: StoredHash, pepper?: string): boolean {
  if (!stored.hash || !stored.salt || !isPinShaped(pin)) return false;
  if (stored.peppered && pepper === undefined) return false;
  const want = Buffer.from(stored.hash, 'base64');
  const got = Buffer.from(
    hashPin(pin, stored.salt, stored.params ?? LEGACY_SCRYPT_PARAMS, stored.peppered ? pepper : undefined),
    'base64',
  );
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Whether a stored hash was made with another scheme than `hashing` (older cost, no pepper). */
export function needsRehash(stored: StoredHash, hashing: PinHashing): boolean {
  const p = stored.params ?? LEGACY_SCRYPT_PARAMS;
  const q = hashing.params;
  return p.N !== q.N || p.r !== q.r || p.p !== q.p || (stored.peppered === true) !== (hashing.pepper !== undefined);
}

export const isPinShaped = (pin: string): boolean => /^\d{4}$/.test(pin);

/**
 * Whether a 4-digit PIN is too easy to guess: all one digit (`7777`) or a run up or down (`1234`,
 * `9876`). Those are the first a person holding someone else's phone would try.
 */
export function isWeakPin(pin: string): boolean {
  if (!isPinShaped(pin)) return true;
  const d = [...pin].map(Number);
  const steps = d.slice(1).map((x, i) => x - d[i]!);
  return steps.every((s) => s === 0) || steps.every((s) => s === 1) || steps.every((s) => s === -1);
}

/** A salt from a fresh id (the step's `newId()`): 16 bytes of its hash, base64. */
export function saltFrom(id: string): string {
  return createHash('sha256').update(`jibu-pin-salt:${id}`).digest().subarray(0, 16).toString('base64');
}

/**
 * A 6-digit sign-in code derived from a fresh random id (`crypto.randomUUID()` in production), so the
 * step that makes it stays pure. 122 random bits folded to 6 digits: uniform enough for a code that
 * lives ten minutes and allows three tries.
 */
export function otpFrom(id: string): string {
  const n = createHash('sha256').update(`jibu-otp:${id}`).digest().readUInt32BE(0);
  return String(n % 1_000_000).padStart(6, '0');
}

/** What the session keeps of a code: a salted hash, never the code. */
export function otpHash(code: string, salt: string): string {
  return createHash('sha256').update(`${salt}:${code.trim()}`).digest('base64');
}

export function otpMatches(typed: string, salt: string, hash: string): boolean {
  const a = Buffer.from(otpHash(typed, salt), 'base64');
  const b = Buffer.from(hash, 'base64');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Read a stored credential leniently: a corrupt document counts as none (the worker signs in afresh). */
export function parseCredential(raw: unknown): Credential | null {
  if (raw === null || raw === undefined) return null;
  const r = CredentialSchema.safeParse(raw);
  return r.success ? r.data : null;
}

/**
 * Apply a credential operation under the caller's contact lock (`lock:{phone}`), the lock every
 * conversation step of that phone also holds: a write never races a sign-in in progress.
 */
export async function writeCredentialOp(
  store: Store,
  op: CredentialOp,
  policy: LockPolicy = DEFAULT_LOCK_POLICY,
): Promise<Credential> {
  const loaded = await store.lockAndLoad(op.phone, `cred-lock:${op.phone}`);
  try {
    const next = applyCredentialOp(parseCredential(await store.getJson(credentialKey(op.phone))), op, policy);
    await store.setJson(credentialKey(op.phone), next);
    return next;
  } finally {
    await store.release(loaded.lock);
  }
}

/**
 * Forget a case worker's PIN (and any lock), so the next dial signs in with a code sent by SMS again.
 * For `jibu pin reset <phone>` and the admin API. Returns the E.164 number and whether a PIN existed;
 * throws JibuError `JIBU_BAD_PHONE` when `phone` is not a phone number.
 *
 * @example await resetPin(store, '0711 000 001', { defaultCountry: 'KE' }) // { phone: '+254711000001', reset: true }
 */
export async function resetPin(
  store: Store,
  phone: string,
  opts: { defaultCountry?: string } = {},
): Promise<{ phone: string; reset: boolean }> {
  const e164 = normalizePhone(phone, opts.defaultCountry);
  if (!e164) throw new JibuError('JIBU_BAD_PHONE');
  const loaded = await store.lockAndLoad(e164, `cred-lock:${e164}`);
  try {
    const existed = !!parseCredential(await store.getJson(credentialKey(e164)))?.hash;
    await store.delete([credentialKey(e164)]);
    return { phone: e164, reset: existed };
  } finally {
    await store.release(loaded.lock);
  }
}
