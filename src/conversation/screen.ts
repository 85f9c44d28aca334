import type { AnyMachineSnapshot } from 'xstate';
import { INVALID_END, NOTHING_END, type CompiledFlow, type FlowContext, type FlowEvent } from './compile.ts';
import { parseAnswer, todayIn } from './input.ts';
import { stepOf } from './machine.ts';
import { menuHintLength, menuView, paginate, renderAsk, renderEnd, renderMenu, renderSay, t } from './render.ts';
import { refName } from './schema.ts';
import { normalizeWord } from './text.ts';
import { envFor, renderCtx, type TurnContext } from './turn-context.ts';

/**
 * The two sides of a screen: rendering where a conversation stands (the waiting step, or the end
 * text), and reading what the person typed into a machine event. Menu numbers, paging (`98`), back
 * (`0`) and home (`00`) are read here; typed values are parsed by input.ts; texts come from render.ts.
 */

/** Render where the conversation stands: the waiting screen, or the end text. */
export function screenOf(
  ctx: TurnContext,
  flow: CompiledFlow,
  snap: AnyMachineSnapshot,
  notice?: string,
  hint?: string,
): { text: string; end: boolean; stepId: string } {
  const context = snap.context as FlowContext;
  const rendering = renderCtx(ctx, context);
  const { id, step } = stepOf(flow, snap);
  if (snap.status !== 'active') {
    if (id === INVALID_END) return { text: t(rendering, 'system.too_many_invalid'), end: true, stepId: id };
    if (id === NOTHING_END) return { text: t(rendering, 'system.nothing'), end: true, stepId: id };
    return { text: renderEnd(rendering, step?.type === 'end' ? step : undefined).text, end: true, stepId: id };
  }
  if (!step) return { text: t(rendering, 'system.error'), end: true, stepId: id };
  switch (step.type) {
    case 'menu': {
      const view = menuView(rendering, step, context.options);
      const canBack = snap.can({ type: 'BACK' });
      const s = renderMenu(rendering, view, {
        page: context.page,
        hint,
        notice,
        canBack,
        atStart: id === flow.def.start,
      });
      return { text: s.text, end: false, stepId: id };
    }
    case 'ask':
      return {
        text: renderAsk(rendering, step, [notice, hint].filter(Boolean).join('\n') || undefined).text,
        end: false,
        stepId: id,
      };
    case 'say':
      return {
        text: renderSay(rendering, step, [notice, hint].filter(Boolean).join('\n') || undefined).text,
        end: false,
        stepId: id,
      };
    default:
      return { text: t(rendering, 'system.error'), end: true, stepId: id };
  }
}

/** Turn what the person typed into a machine event (and the hint to show when it is not valid). */
export function interpret(
  ctx: TurnContext,
  flow: CompiledFlow,
  snap: AnyMachineSnapshot,
  raw: string,
): { event: FlowEvent; hint?: string } {
  const env = envFor(ctx);
  const context = snap.context as FlowContext;
  const rendering = renderCtx(ctx, context);
  const text = raw.trim();
  const { step } = stepOf(flow, snap);
  const ussd = ctx.channel === 'ussd';
  const invalid = (key: string, params?: Record<string, unknown>) => ({
    event: { type: 'INVALID', env } as FlowEvent,
    hint: t(rendering, key, params),
  });
  if (!step) return invalid('invalid.menu');
  switch (step.type) {
    case 'menu': {
      const view = menuView(rendering, step, context.options);
      if (ussd && text === '98') {
        const pages = paginate(rendering, view, menuHintLength(rendering));
        return context.page < pages.length - 1 ? { event: { type: 'MORE', env } } : invalid('invalid.menu');
      }
      if (ussd && text === '00') return { event: { type: 'HOME', env } };
      if (ussd && text === '0')
        return snap.can({ type: 'BACK', env }) ? { event: { type: 'BACK', env } } : invalid('invalid.menu');
      if (/^\d{1,3}$/.test(text)) {
        const n = Number(text);
        return n >= 1 && n <= view.labels.length
          ? { event: { type: 'CHOOSE', index: n - 1, env } }
          : invalid('invalid.menu');
      }
      // On SMS people often answer with the option's words rather than its number.
      const w = normalizeWord(text);
      const hit = w ? view.labels.findIndex((l) => normalizeWord(l) === w) : -1;
      return hit >= 0 ? { event: { type: 'CHOOSE', index: hit, env } } : invalid('invalid.menu');
    }
    case 'say':
      if (ussd && text === '00') return { event: { type: 'HOME', env } };
      return { event: { type: 'CONTINUE', env } };
    case 'ask': {
      // `00` is a value for numbers, phone numbers and free text; elsewhere it means the main menu.
      if (ussd && text === '00' && !['number', 'phone', 'text'].includes(step.input.kind))
        return { event: { type: 'HOME', env } };
      const today = todayIn(new Date(ctx.now), ctx.set.timeZone);
      const parsed = parseAnswer(
        step.input,
        text,
        { locales: ctx.set.locales, locale: ctx.locale, today, defaultCountry: ctx.set.defaultCountry },
        step.hint,
      );
      if (!parsed.ok) return invalid(parsed.hint, parsed.params);
      if (step.validator) {
        const { name, params } = refName(step.validator);
        const v = ctx.set.registry.validators[name];
        const verdict = v
          ? v.run(parsed.value, { params, vars: context.vars, data: ctx.data, now: new Date(ctx.now), today })
          : true;
        if (verdict !== true) return invalid(step.hint ?? verdict.hint, verdict.params);
      }
      return { event: { type: 'ANSWER', value: parsed.value, env } };
    }
    default:
      return invalid('invalid.menu');
  }
}
