import { createHash } from 'node:crypto';
import { rmKeys } from '../../dhis2/readmodel/types.ts';
import type { Deployment } from '../../dhis2/deployment.ts';
import type { Dhis2Write } from '../../dhis2/outbox/types.ts';
import { daysBetween } from '../input.ts';
import { shortRef, type ActionResult, type ActionSpec, type GuardFn, type ValidatorSpec } from '../registry.ts';
import type { Effect } from '../types.ts';
import {
  DEFAULT_LOCK_POLICY,
  DEFAULT_PIN_HASHING,
  hashPin,
  isPinShaped,
  isWeakPin,
  lockPeriod,
  otpFrom,
  otpHash,
  otpMatches,
  needsRehash,
  saltFrom,
  verifyPin,
  type CredentialOp,
  type LockPolicy,
  type PinHashing,
} from '../../caseworker/credentials.ts';
import { CASEWORKER_FLOW, loadCaseWorkerData, type CaseWorkerData, type LoaderOptions } from '../../caseworker/data.ts';
import { inScope } from '../../caseworker/people.ts';
import {
  aefiAlertText,
  aefiCaseWrite,
  aefiWrite,
  birthWrite,
  deathWrite,
  outcomeNote,
  outcomeWrite,
  skipVisit,
  VITAL_EVENTS_DEFAULTS,
  type VitalEventsExtra,
} from '../../caseworker/writes.ts';
import type { CaseWorkerSms } from '../../caseworker/jobs.ts';
import type { DomainModule } from './index.ts';

/**
 * Community case workers on USSD (`flows/caseworker.yaml`): sign-in with a code sent by SMS and a
 * PIN, the missed-visit (defaulter) list and its outcomes, birth and death notifications, and adverse
 * events after immunization.
 *
 * Security is enforced here, not only in what menus show: every write re-checks at write time that
 * the worker signed in during this session, and that the child or event it names is in the data this
 * hop's loader read for the caller's own org units (`trusted`). A number guessed in a menu, a replayed
 * session or a child uid carried in the variables from elsewhere finds nothing there and writes nothing.
 */

export interface CaseWorkerModuleOptions {
  lock?: LockPolicy;
  /**
   * How new PINs are hashed: scrypt cost and the server's pepper (`PIN_PEPPER`). Default: the current
   * cost with the public demo pepper, which only the all-embedded demo may use (config enforces it).
   */
  pinHashing?: PinHashing;
  /** Sign-in codes expire after this long. Default 5 minutes (a USSD dial lasts 3; the code dies with it anyway). */
  otpTtlMs?: number;
  /** Wrong codes before the dial ends. Default 3. */
  otpTries?: number;
  /** Codes per phone per hour. Default 3. */
  otpPerHour?: number;
  vitalEvents?: Partial<VitalEventsExtra>;
  loader?: LoaderOptions;
}

/** Data name the flow declares; the role of the same name needs it. */
export const CASEWORKER_DATA = 'caseWorker';

type Vars = Readonly<Record<string, unknown>>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
const field = (v: unknown, k: string): unknown =>
  v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const isIso = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v);

/** The loader's data for this hop, or null when the caller is not (or no longer) a case worker. */
function cwData(data: Readonly<Record<string, unknown>>): CaseWorkerData | null {
  const d = data[CASEWORKER_DATA];
  return d && typeof d === 'object' && 'worker' in d ? (d as CaseWorkerData) : null;
}

/** A short fingerprint of a stored hash: tells whether the PIN a session signed in with is still the PIN. */
const fingerprint = (hash: string): string => createHash('sha256').update(hash).digest('base64').slice(0, 16);

/**
 * Signed in during this session, as this worker, with the PIN still in force: not locked since, not
 * reset by an admin, not replaced by another session. A PIN set in this very session may not be stored
 * yet (its write is on its way), which `pendingFp` accounts for.
 */
export function isSignedIn(vars: Vars, d: CaseWorkerData): boolean {
  if (str(vars.signedInAs) !== d.worker.userId) return false;
  if (d.cred.state === 'locked') return false;
  const fp = str(vars.credFp);
  if (!fp) return false;
  if (d.cred.state === 'set') return d.cred.hash !== undefined && fingerprint(d.cred.hash) === fp;
  return str(vars.pendingFp) === fp;
}

const minutesUntil = (until: number | undefined, now: Date) =>
  Math.max(1, Math.ceil(((until ?? now.getTime()) - now.getTime()) / 60_000));

/**
 * Build the module. `caseWorkerModule` is the default instance; tests build one with other limits.
 *
 * @example createDomainRegistry(deployment, [createCaseWorkerModule({ lock: { maxTries: 5, lockMs: 3_600_000, maxLockMs: 86_400_000 } })])
 */
export function createCaseWorkerModule(opts: CaseWorkerModuleOptions = {}): DomainModule {
  const policy = opts.lock ?? DEFAULT_LOCK_POLICY;
  const hashing = opts.pinHashing ?? DEFAULT_PIN_HASHING;
  const peppered = hashing.pepper !== undefined ? { peppered: true as const } : {};
  /** A new hash of `pin` under the module's scheme. */
  const hashNew = (pin: string, salt: string) => hashPin(pin, salt, hashing.params, hashing.pepper);
  const otpTtlMs = opts.otpTtlMs ?? 5 * 60_000;
  const otpTries = opts.otpTries ?? 3;
  const otpPerHour = opts.otpPerHour ?? 3;
  const extra: VitalEventsExtra = { ...VITAL_EVENTS_DEFAULTS, ...opts.vitalEvents };

  const credential = (op: CredentialOp): Effect => ({ type: 'notify', kind: 'caseworker.credential', payload: op });
  const sms = (payload: CaseWorkerSms): Effect => ({ type: 'notify', kind: 'caseworker.sms', payload });
  const denied = (): ActionResult => ({ vars: { gate: 'denied' } });
  const write = (w: Dhis2Write, ref: string): Effect => ({ type: 'dhis2Write', op: w.op, payload: w, ref });

  /** The trusted record of a child this hop's loader found in the worker's scope, or null. */
  const trustedChild = (d: CaseWorkerData, te: unknown) => {
    const id = str(te);
    const c = id ? d.trusted.children[id] : undefined;
    return id && c && inScope(c.path, d.worker.orgUnits) ? { trackedEntity: id, ...c } : null;
  };

  function parts(deployment: Deployment) {
    const actions: Record<string, ActionSpec> = {
      'caseworker.begin': {
        description:
          'Decide where a dial starts: the menu (signed in), the PIN, a sign-in code, or a polite stop (locked, too many codes, unknown).',
        sets: ['gate', 'lockMinutes'],
        run: ({ vars, data, now }) => {
          const d = cwData(data);
          if (!d) return { vars: { gate: 'unknown' } };
          if (isSignedIn(vars, d)) return { vars: { gate: 'in' } };
          if (d.cred.state === 'locked')
            return { vars: { gate: 'locked', lockMinutes: minutesUntil(d.cred.lockedUntil, now) } };
          // A PIN set by another DHIS2 user who had this phone before does not let the new one in.
          if (d.cred.state === 'set' && (!d.cred.userId || d.cred.userId === d.worker.userId))
            return { vars: { gate: 'pin' } };
          return { vars: { gate: d.cred.otpRecent >= otpPerHour ? 'busy' : 'otp' } };
        },
      },
      'caseworker.sendOtp': {
        description: 'Send a 6-digit sign-in code by SMS; the session keeps only its salted hash.',
        sets: ['otpHash', 'otpSalt', 'otpExpires', 'otpTries'],
        run: ({ data, phone, locale, now, newId }) => {
          const d = cwData(data);
          if (!d) return denied();
          const id = newId();
          const code = otpFrom(newId());
          const salt = saltFrom(id);
          return {
            vars: { otpHash: otpHash(code, salt), otpSalt: salt, otpExpires: now.getTime() + otpTtlMs, otpTries: 0 },
            effects: [
              sms({ kind: 'otp', id, to: phone, locale, code }),
              credential({ op: 'otpSent', id, phone, at: now.getTime() }),
            ],
          };
        },
      },
      'caseworker.checkOtp': {
        description: 'Check the typed sign-in code (the typed code is cleared in the same step).',
        sets: ['gate', 'otp', 'otpTries', 'otpLeft', 'otpHash'],
        run: ({ vars, data, now }) => {
          const typed = (str(vars.otp) ?? '').replace(/\D/g, '');
          const tries = (typeof vars.otpTries === 'number' ? vars.otpTries : 0) + 1;
          const hash = str(vars.otpHash);
          const salt = str(vars.otpSalt);
          if (!cwData(data) || !hash || !salt) return { vars: { otp: null, gate: 'otp_failed' } };
          if (typeof vars.otpExpires !== 'number' || now.getTime() > vars.otpExpires)
            return { vars: { otp: null, otpHash: null, gate: 'otp_expired' } };
          if (typed.length === 6 && otpMatches(typed, salt, hash))
            return { vars: { otp: null, otpHash: null, gate: 'otp_ok' } };
          if (tries >= otpTries) return { vars: { otp: null, otpHash: null, otpTries: tries, gate: 'otp_failed' } };
          return { vars: { otp: null, otpTries: tries, otpLeft: otpTries - tries, gate: 'otp_retry' } };
        },
      },
      'caseworker.holdPin': {
        description: 'Replace the new PIN just typed by its salted hash, so the plain PIN is never stored.',
        sets: ['pinNew', 'pinHash', 'pinSalt'],
        run: ({ vars, newId }) => {
          const pin = str(vars.pinNew) ?? '';
          const salt = saltFrom(newId());
          return { vars: { pinNew: null, pinSalt: salt, pinHash: isPinShaped(pin) ? hashNew(pin, salt) : null } };
        },
      },
      'caseworker.setPin': {
        description:
          'Confirm the new PIN and store its hash (a credential write committed with this step); signs the worker in.',
        sets: ['gate', 'pinAgain', 'pinHash', 'pinSalt', 'signedInAs', 'credFp', 'pendingFp', 'failed'],
        run: ({ vars, data, phone, now, newId }) => {
          const d = cwData(data);
          const again = str(vars.pinAgain) ?? '';
          const hash = str(vars.pinHash);
          const salt = str(vars.pinSalt);
          const cleared = { pinAgain: null, pinHash: null, pinSalt: null };
          if (!d) return { vars: { ...cleared, gate: 'denied' } };
          if (!hash || !salt || !verifyPin(again, { hash, salt, params: hashing.params, ...peppered }, hashing.pepper))
            return { vars: { ...cleared, gate: 'mismatch' } };
          const fp = fingerprint(hash);
          return {
            vars: { ...cleared, gate: 'in', signedInAs: d.worker.userId, credFp: fp, pendingFp: fp, failed: [] },
            effects: [
              credential({
                op: 'set',
                id: newId(),
                phone,
                userId: d.worker.userId,
                hash,
                salt,
                params: { ...hashing.params },
                ...peppered,
                at: now.getTime(),
              }),
            ],
          };
        },
      },
      'caseworker.checkPin': {
        description:
          'Check the typed PIN against the stored hash; count a wrong try (committed with this step) and lock after too many.',
        sets: ['gate', 'pin', 'signedInAs', 'credFp', 'failed', 'triesLeft', 'lockMinutes'],
        run: ({ vars, data, phone, now, newId }) => {
          const d = cwData(data);
          const typed = str(vars.pin) ?? '';
          if (!d || d.cred.state === 'none') return { vars: { pin: null, gate: 'denied' } };
          if (d.cred.state === 'locked')
            return { vars: { pin: null, gate: 'locked', lockMinutes: minutesUntil(d.cred.lockedUntil, now) } };
          const id = newId();
          if (verifyPin(typed, d.cred, hashing.pepper)) {
            // A hash made under an older scheme (lower cost, no pepper) is replaced now, while the PIN is at hand.
            const salt = needsRehash(d.cred, hashing) ? saltFrom(newId()) : undefined;
            const rehash = salt
              ? { hash: hashNew(typed, salt), salt, params: { ...hashing.params }, ...peppered }
              : undefined;
            return {
              vars: {
                pin: null,
                gate: 'in',
                signedInAs: d.worker.userId,
                credFp: fingerprint(rehash?.hash ?? d.cred.hash ?? ''),
                failed: [],
              },
              effects: [credential({ op: 'succeeded', id, phone, at: now.getTime(), ...(rehash ? { rehash } : {}) })],
            };
          }
          // Tries of this session whose writes are not applied yet still count.
          const failed = [...strings(vars.failed), id];
          const pending = failed.filter((f) => !d.cred.applied.includes(f)).length;
          const tries = d.cred.tries + pending;
          const effects = [credential({ op: 'failed', id, phone, at: now.getTime() })];
          if (tries >= policy.maxTries) {
            return {
              vars: {
                pin: null,
                failed,
                gate: 'locked',
                lockMinutes: Math.ceil(lockPeriod(d.cred.locks, policy) / 60_000),
              },
              effects,
            };
          }
          return { vars: { pin: null, failed, gate: 'retry', triesLeft: policy.maxTries - tries }, effects };
        },
      },
      'caseworker.recordOutcome': {
        description: 'Write a follow-up outcome on the missed visit as the deployment says (params: outcome, date).',
        sets: ['gate', 'ref', 'handled', 'subject', 'skipped'],
        run: ({ vars, params, data, newId }) => {
          const d = cwData(data);
          if (!d || !isSignedIn(vars, d)) return denied();
          const event = str(field(vars.defaulter, 'event'));
          const trusted = event ? d.trusted.events[event] : undefined;
          const name = str(params.outcome);
          const outcome = name ? deployment.outcomes[name] : undefined;
          if (!event || !trusted || !inScope(trusted.path, d.worker.orgUnits) || !outcome) return denied();
          const date = isIso(params.date) ? params.date : undefined;
          if (outcome.reschedule && !date) return denied();
          const ref = shortRef(newId());
          const note = outcomeNote(outcome, { date, username: d.worker.username, ref, locale: deployment.staffLocale });
          const effects: Effect[] = [write(outcomeWrite(outcome, event, note, date), ref)];
          const handled = [...strings(vars.handled), event];
          if (name !== 'died') return { vars: { gate: 'saved', ref, handled }, effects };
          // A child who died gets no more visits: skip the others too, so no reminder goes out.
          const child = d.trusted.children[trusted.trackedEntity];
          const others = (child?.scheduled ?? []).filter((e) => e !== event);
          for (const e of others)
            effects.push(
              write(skipVisit(e, { username: d.worker.username, ref, locale: deployment.staffLocale }), ref),
            );
          return {
            vars: {
              gate: 'died',
              ref,
              handled,
              skipped: [...strings(vars.skipped), event, ...others],
              subject: {
                kind: 'child',
                trackedEntity: trusted.trackedEntity,
                name: field(vars.defaulter, 'name') ?? '',
              },
            },
            effects,
          };
        },
      },
      'caseworker.notifyBirth': {
        description:
          "Notify a birth in Vital Events (a new child, or the registry child the worker recognised) at the worker's org unit.",
        sets: ['gate', 'ref', 'dob'],
        run: ({ vars, data, newId }) => {
          const d = cwData(data);
          if (!d || !isSignedIn(vars, d)) return denied();
          const dob = vars.dob;
          const sex = vars.sex === 'female' || vars.sex === 'male' ? vars.sex : undefined;
          const place = str(vars.place);
          const carerName = str(vars.carerName);
          const carerPhone = str(vars.carerPhone);
          if (!isIso(dob) || daysBetween(dob, d.today) < 0 || !sex || !place || !carerName || !carerPhone)
            return denied();
          let existing: { trackedEntity: string } | undefined;
          if (field(vars.dup, 'kind') === 'child') {
            const child = trustedChild(d, field(vars.dup, 'trackedEntity'));
            if (!child) return denied();
            existing = { trackedEntity: child.trackedEntity };
          }
          const name = str(vars.name);
          const id = newId();
          const ref = shortRef(id);
          const w = birthWrite(deployment, extra, {
            id,
            ref,
            area: d.worker.orgUnits,
            username: d.worker.username,
            orgUnit: d.worker.home.id,
            today: d.today,
            sex,
            dateOfBirth: dob,
            place,
            carerName,
            carerPhone,
            ...(name && name !== '0' ? { childName: name } : {}),
            ...(existing ? { existing } : {}),
          });
          // The duplicate check is done: stop the loader looking again on the next hops.
          return { vars: { gate: 'saved', ref, dob: null }, effects: [write(w, ref)] };
        },
      },
      'caseworker.notifyDeath': {
        description:
          "Notify a death in Vital Events, for a registry child in the worker's area or a new person; skips the child's remaining visits.",
        sets: ['gate', 'ref', 'dob', 'skipped'],
        run: ({ vars, data, newId }) => {
          const d = cwData(data);
          if (!d || !isSignedIn(vars, d)) return denied();
          const date = vars.deathDate;
          const place = str(vars.deathPlace);
          if (!isIso(date) || daysBetween(date, d.today) < 0 || !place) return denied();
          const id = newId();
          const ref = shortRef(id);
          const base = { id, ref, username: d.worker.username, today: d.today, dateOfDeath: date, place };
          const subject = vars.subject;
          const effects: Effect[] = [];
          let skipped = strings(vars.skipped);
          if (field(subject, 'kind') === 'child') {
            const child = trustedChild(d, field(subject, 'trackedEntity'));
            if (!child) return denied();
            effects.push(
              write(
                deathWrite(deployment, extra, {
                  ...base,
                  orgUnit: child.orgUnit,
                  existing: { trackedEntity: child.trackedEntity },
                }),
                ref,
              ),
            );
            const rest = (child.scheduled ?? []).filter((e) => !skipped.includes(e));
            for (const e of rest)
              effects.push(
                write(skipVisit(e, { username: d.worker.username, ref, locale: deployment.staffLocale }), ref),
              );
            skipped = [...skipped, ...rest];
          } else {
            const name = str(vars.name);
            const dob = vars.dob;
            const sex = vars.sex === 'female' || vars.sex === 'male' ? vars.sex : undefined;
            if (!name || !isIso(dob) || !sex) return denied();
            if (field(vars.dup, 'kind') === 'child') {
              // The worker recognised the person in the registry after all.
              const child = trustedChild(d, field(vars.dup, 'trackedEntity'));
              if (!child) return denied();
              effects.push(
                write(
                  deathWrite(deployment, extra, {
                    ...base,
                    orgUnit: child.orgUnit,
                    existing: { trackedEntity: child.trackedEntity },
                  }),
                  ref,
                ),
              );
            } else {
              effects.push(
                write(
                  deathWrite(deployment, extra, {
                    ...base,
                    orgUnit: d.worker.home.id,
                    person: { name, sex, dateOfBirth: dob },
                  }),
                  ref,
                ),
              );
            }
          }
          return { vars: { gate: 'saved', ref, dob: null, skipped }, effects };
        },
      },
      'caseworker.reportAefi': {
        description:
          "Report an adverse event after immunization: a case in the AEFI programme (with the batch number from the card) when the deployment sets aefi.program, else a note on the child's latest visit; a severe one alerts the responsible case workers (aefi.severe).",
        sets: ['gate', 'ref'],
        run: ({ vars, data, phone, now, newId }) => {
          const d = cwData(data);
          if (!d || !isSignedIn(vars, d)) return denied();
          const child = trustedChild(d, field(vars.subject, 'trackedEntity'));
          const reaction = str(vars.reaction);
          const severity = str(vars.severity);
          const date = vars.reactionDate;
          if (!child?.latestEvent || !reaction || !severity || !isIso(date)) return denied();
          const id = newId();
          const ref = shortRef(id);
          const report = { reaction, severity, date, username: d.worker.username, ref };
          const batch = str(vars.batch);
          const effects: Effect[] = [
            write(
              deployment.aefi.program
                ? aefiCaseWrite(deployment, {
                    ...report,
                    trackedEntity: child.trackedEntity,
                    visit: child.latestEvent,
                    // A new case goes to the vaccination site (the visit's org unit); this is the fallback.
                    orgUnit: d.worker.home.id || child.orgUnit,
                    today: d.today,
                    worker: { name: d.worker.name, phone },
                    ...(batch && batch !== '0'
                      ? { batch: { number: batch, vaccine: str(vars.batchVaccine) ?? 'other' } }
                      : {}),
                  })
                : aefiWrite(deployment, { ...report, event: child.latestEvent }),
              ref,
            ),
          ];
          if (severity === 'severe') {
            // The shared alert (the scheduler sends it to every case worker responsible for the child).
            const childName = str(field(vars.subject, 'name')) ?? '';
            effects.push({
              type: 'notify',
              kind: 'aefi.severe',
              payload: {
                ref,
                event: child.latestEvent,
                trackedEntity: child.trackedEntity,
                orgUnit: child.orgUnit,
                childName,
                reporterPhone: phone,
                reaction,
                severity,
                since: date,
                channel: 'ussd',
                reportedAt: now.toISOString(),
                text: aefiAlertText({
                  reaction,
                  childName,
                  since: date,
                  reporter: d.worker.name,
                  ref,
                  locale: deployment.staffLocale,
                }),
              },
            });
          }
          return { vars: { gate: 'saved', ref }, effects };
        },
      },
    };

    const guards: Record<string, GuardFn> = {
      /** Reactions go to the AEFI programme (`aefi.program` set): ask for the batch number on the card too. */
      'caseworker.aefiProgram': () => deployment.aefi.program !== undefined,
      /** Many missed visits: offer a choice of place first. */
      'caseworker.listIsLong': ({ data }) => cwData(data)?.long === true,
      /** The chosen child has a vaccination on record (an AEFI attaches to the latest one). */
      'caseworker.hasVaccination': ({ vars, data }) => {
        const d = cwData(data);
        const id = str(field(vars.subject, 'trackedEntity'));
        return !!(d && id && d.trusted.children[id]?.latestEvent);
      },
    };

    const validators: Record<string, ValidatorSpec> = {
      /** Four digits, not all the same and not a run (1234, 9876). */
      'caseworker.pin': {
        kinds: ['text'],
        hints: ['caseworker.signin.pin_hint'],
        run: (v) => (typeof v === 'string' && !isWeakPin(v.trim()) ? true : { hint: 'caseworker.signin.pin_hint' }),
      },
      /** A new visit date inside the deployment's reschedule window. */
      'caseworker.rescheduleDate': {
        kinds: ['date'],
        hints: ['invalid.date_past', 'invalid.date_window'],
        run: (v, { today }) => {
          const { minDaysAhead, maxDaysAhead } = deployment.reschedule;
          if (!isIso(v)) return { hint: 'invalid.date_window', params: { days: maxDaysAhead } };
          const ahead = daysBetween(today, v);
          if (ahead < minDaysAhead) return { hint: 'invalid.date_past' };
          if (ahead > maxDaysAhead) return { hint: 'invalid.date_window', params: { days: maxDaysAhead } };
          return true;
        },
      },
      /** A birth notified from the community: today or within the last year. */
      'caseworker.birthDate': {
        kinds: ['date'],
        hints: ['caseworker.birth.dob_hint'],
        run: (v, { today }) =>
          isIso(v) && daysBetween(v, today) >= 0 && daysBetween(v, today) <= 366
            ? true
            : { hint: 'caseworker.birth.dob_hint' },
      },
    };

    return {
      actions,
      guards,
      validators,
      roles: {
        caseWorker: {
          needs: [CASEWORKER_DATA],
          test: (data: Readonly<Record<string, unknown>>) => cwData(data) !== null,
        },
      },
    };
  }

  return {
    name: 'caseworker',
    parts,
    loaders: {
      [CASEWORKER_DATA]: ({ store, deployment, phone, channel, now, vars }) =>
        channel === 'ussd'
          ? loadCaseWorkerData(store, deployment, phone, now, opts.loader, vars?.(CASEWORKER_FLOW))
          : Promise.resolve(null),
    },
    // Anyone else is answered by this one read; a case worker's other documents are read after it.
    loaderKeys: { [CASEWORKER_DATA]: ({ phone, channel }) => (channel === 'ussd' ? [rmKeys.worker(phone)] : []) },
  };
}

/** The case-worker capability with the default limits (5 wrong PINs lock it for an hour, doubling). */
export const caseWorkerModule: DomainModule = createCaseWorkerModule();
