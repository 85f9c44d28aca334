import { z } from 'zod';
import type { SessionRecord } from '../store/types.ts';
import { startNew } from './entry.ts';
import { matchKeyword, matchLocaleName, type KeywordHit } from './keywords.ts';
import { flowOf, pendingTimer } from './machine.ts';
import { reshow } from './progress.ts';
import { composeUssd, t } from './render.ts';
import { renderCtx, textAnswer, ttlFor, type TurnContext } from './turn-context.ts';
import type { Effect, TurnResult } from './types.ts';

/**
 * Global keywords (STOP, START, HELP, language, restart: keywords.ts recognises them in every locale)
 * and the language picker the language keyword opens. The picker is no XState flow: its session
 * (`flowId` {@link LANGUAGE_FLOW}) holds the session it will resume, and only this module looks inside.
 */

/** The session of the language picker opened by the language keyword; not an XState flow. */
export const LANGUAGE_FLOW = '$language';
const SYSTEM_VERSION = 'system';
const languageSnapshotSchema = z.object({ resume: z.unknown().nullable() });

function resumeOf(session: SessionRecord): SessionRecord | null {
  const parsed = languageSnapshotSchema.safeParse(session.snapshot);
  const r = parsed.success ? parsed.data.resume : null;
  return r && typeof r === 'object' && 'flowId' in r ? (r as SessionRecord) : null;
}

/** Cancel the timers a dropped session holds (and, under the language picker, the resumed one's). */
export function cancelTimers(session: SessionRecord | null): Effect[] {
  const id = pendingTimer(session);
  const inner = session?.flowId === LANGUAGE_FLOW ? pendingTimer(resumeOf(session)) : undefined;
  return [id, inner].filter((x): x is string => !!x).map((timerId) => ({ type: 'cancelTimer', timerId }));
}

/** A global keyword in `text`, answered; null when the text is none. */
export function answerKeyword(ctx: TurnContext, session: SessionRecord | null, text: string): TurnResult | null {
  if (!text.trim()) return null;
  const kw = matchKeyword(text, ctx.set.locales);
  return kw ? onKeyword(ctx, session, kw, text) : null;
}

/** The answer to the language picker, when `session` is one; else null. */
export function answerLanguagePicker(ctx: TurnContext, session: SessionRecord | null, text: string): TurnResult | null {
  return session?.flowId === LANGUAGE_FLOW ? languageTurn(ctx, session, text) : null;
}

function languageMenu(ctx: TurnContext, notice?: string): string {
  const rendering = renderCtx(ctx, null);
  const lines = ctx.set.locales.locales.map((l, i) => `${i + 1}. ${t({ ...rendering, locale: l }, 'meta.name')}`);
  const body = [t(rendering, 'system.language_prompt'), ...lines].join('\n');
  return ctx.channel === 'ussd' ? composeUssd(notice, body) : [notice, body].filter(Boolean).join('\n');
}

function switchLanguage(ctx: TurnContext, session: SessionRecord | null, locale: string): TurnResult {
  const localized: TurnContext = { ...ctx, locale };
  const effects: Effect[] = [{ type: 'setContact', patch: { locale } }];
  const notice = t(renderCtx(localized, null), 'system.language_set');
  if (session) {
    const again = reshow(localized, { ...session, locale }, notice, effects);
    if (again) return again;
  }
  return textAnswer(localized, notice, {
    end: true,
    outcome: 'keyword',
    session: null,
    effects: [...cancelTimers(session), ...effects],
  });
}

function onKeyword(ctx: TurnContext, session: SessionRecord | null, kw: KeywordHit, text: string): TurnResult {
  const rendering = renderCtx(ctx, null);
  switch (kw.kind) {
    case 'stop':
      return textAnswer(ctx, t(rendering, 'system.stopped'), {
        end: true,
        outcome: 'keyword',
        session: null,
        effects: [...cancelTimers(session), { type: 'setContact', patch: { optedOut: true } }],
      });
    case 'start': {
      // START opts back in when needed and, either way, begins afresh: in Swahili or Kinyarwanda
      // the word (ANZA, TANGIRA) is also simply how a newcomer says "begin".
      const wasOut = ctx.contact.optedOut;
      return startNew(ctx, text, {
        outcome: 'started',
        notices: wasOut ? [t(rendering, 'system.started')] : [],
        effects: [
          ...cancelTimers(session),
          ...(wasOut ? [{ type: 'setContact', patch: { optedOut: false } } as Effect] : []),
        ],
      });
    }
    case 'help': {
      // SMS: the help text alone, the conversation keeps waiting. USSD: help above the screen when
      // both fit, else the help alone to end the dialog (the person dials again when ready).
      const help = t(rendering, 'system.help');
      if (session && ctx.channel === 'ussd') {
        const again = reshow(ctx, session, help, []);
        if (again?.reply?.text.startsWith(help)) return again;
      }
      // Asking for help is activity: the waiting conversation gets its full time again.
      const keep = ctx.channel === 'sms' ? session : null;
      return textAnswer(ctx, help, {
        end: keep === null,
        outcome: 'keyword',
        session: keep ? { ...keep, updatedAt: ctx.now } : null,
        effects: keep ? [] : cancelTimers(session),
        ttlMs: ttlFor(ctx, keep ? (flowOf(ctx.set, keep) ?? undefined) : undefined),
      });
    }
    case 'language': {
      if (kw.locale) return switchLanguage(ctx, session, kw.locale);
      const resume = session?.flowId === LANGUAGE_FLOW ? resumeOf(session) : session;
      const picker: SessionRecord = {
        flowId: LANGUAGE_FLOW,
        flowVersion: SYSTEM_VERSION,
        channel: ctx.channel,
        snapshot: { resume },
        locale: ctx.locale,
        startedAt: ctx.now,
        updatedAt: ctx.now,
        invalidCount: 0,
      };
      return textAnswer(ctx, languageMenu(ctx), {
        end: false,
        outcome: 'keyword',
        session: picker,
        ttlMs: ttlFor(ctx),
      });
    }
    case 'restart':
      return startNew(ctx, text, { outcome: 'started', effects: cancelTimers(session) });
  }
}

function languageTurn(ctx: TurnContext, session: SessionRecord, text: string): TurnResult {
  const locales = ctx.set.locales.locales;
  const w = text.trim();
  const chosen = /^\d+$/.test(w) ? locales[Number(w) - 1] : matchLocaleName(w, ctx.set.locales);
  if (chosen) {
    const resume = resumeOf(session);
    return switchLanguage(ctx, resume, chosen);
  }
  const invalid = (session.invalidCount ?? 0) + 1;
  const rendering = renderCtx(ctx, null);
  if (invalid > 3) {
    return textAnswer(ctx, t(rendering, 'system.too_many_invalid'), {
      end: true,
      outcome: 'ended',
      session: null,
      effects: cancelTimers(session),
    });
  }
  return textAnswer(ctx, languageMenu(ctx, t(rendering, 'invalid.menu')), {
    end: false,
    outcome: 'reprompt',
    session: { ...session, invalidCount: invalid, updatedAt: ctx.now },
    ttlMs: ttlFor(ctx),
  });
}
