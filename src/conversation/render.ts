import type { Channel } from '../channels/types.ts';
import type { LocaleSet } from './locales.ts';
import type { AskStep, EndStep, MenuStep, Params, SayStep } from './schema.ts';
import { clip, foldToGsm7 } from './text.ts';

/**
 * Screens. One flow definition serves both channels: on USSD a screen is at most 160 GSM-7
 * characters and long menus are paged (`98` more, `0` back, `00` main menu); on SMS a menu is the
 * whole numbered list in one message. Rendering is pure; the checker renders every static screen
 * in every locale with the same functions the engine uses, so what passes the check is what people see.
 */

export const USSD_LIMIT = 160;
export const NAV = { more: '98', back: '0', home: '00' } as const;

export interface RenderCtx {
  locales: LocaleSet;
  locale: string;
  channel: Channel;
  /** Resolve a step's ICU params (templates) to values; `item` for data-menu options. */
  params: (p: Params | undefined, item?: unknown) => Record<string, unknown>;
}

/** Translate one key for the channel: GSM-7 folded on USSD. */
export function t(ctx: RenderCtx, key: string, params: Record<string, unknown> = {}): string {
  const s = ctx.locales.format(ctx.locale, key, params).trim();
  return ctx.channel === 'ussd' ? foldToGsm7(s) : s;
}

export interface MenuView {
  title: string;
  /** Option labels in order (numbered 1..n across all pages). */
  labels: string[];
}

export interface Screen {
  text: string;
  /** Menus: how many USSD pages the list takes (1 on SMS). */
  pageCount: number;
}

const joinLines = (lines: Array<string | undefined>) =>
  lines.filter((l): l is string => l !== undefined && l !== '').join('\n');

/** The nav lines of a USSD menu page, in the order they are shown. */
export function navLines(ctx: RenderCtx, show: { more: boolean; back: boolean; home: boolean }): string[] {
  return [
    show.more ? `${NAV.more}. ${t(ctx, 'nav.more')}` : undefined,
    show.back ? `${NAV.back}. ${t(ctx, 'nav.back')}` : undefined,
    show.home ? `${NAV.home}. ${t(ctx, 'nav.home')}` : undefined,
  ].filter((l): l is string => l !== undefined);
}

/**
 * Split numbered option lines into USSD pages. After an invalid choice the hint takes the title's
 * line, so each page keeps room for the longer of the two, and for the back and home lines: page
 * breaks never move when a hint appears or history changes (option 8 stays on page 2).
 */
export function paginate(ctx: RenderCtx, view: MenuView, hintLength: number): number[][] {
  const cached = staticPages.get(view);
  if (!cached) return paginateUncached(ctx, view, hintLength);
  let pages = cached.get(hintLength);
  if (!pages) {
    pages = paginateUncached(ctx, view, hintLength);
    cached.set(hintLength, pages);
  }
  return pages;
}

function paginateUncached(ctx: RenderCtx, view: MenuView, hintLength: number): number[][] {
  const head = view.title.length >= hintLength ? view.title : 'x'.repeat(hintLength);
  const items = view.labels.map((l, i) => `${i + 1}. ${l}`);
  const fixed = navLines(ctx, { more: false, back: true, home: true });
  const more = navLines(ctx, { more: true, back: false, home: false });
  const fits = (lines: string[]) => joinLines(lines).length <= USSD_LIMIT;
  const pages: number[][] = [];
  let i = 0;
  while (i < items.length) {
    let j = i;
    while (j < items.length && fits([head, ...items.slice(i, j + 1), ...fixed])) j++;
    if (j < items.length) {
      j = i;
      while (j < items.length && fits([head, ...items.slice(i, j + 1), ...more, ...fixed])) j++;
      if (j === i) j = i + 1; // one option per page at least; it is clipped when rendered
    }
    pages.push(Array.from({ length: j - i }, (_, k) => i + k));
    i = j;
  }
  return pages.length ? pages : [[]];
}

/** Join notice and body, keeping a USSD screen within 160 characters (the notice goes first when it must). */
export function composeUssd(notice: string | undefined, body: string): string {
  if (notice && `${notice}\n${body}`.length <= USSD_LIMIT) return `${notice}\n${body}`;
  return clip(body, USSD_LIMIT);
}

/**
 * A menu screen. USSD: page `page` with its nav lines, the `hint` (after an invalid choice) in the
 * title's place, a `notice` above when it fits; SMS: every option, hint and notice first.
 */
export function renderMenu(
  ctx: RenderCtx,
  view: MenuView,
  opts: { page: number; hint?: string; notice?: string; canBack: boolean; atStart: boolean },
): Screen {
  if (ctx.channel === 'sms') {
    const text = joinLines([opts.notice, opts.hint, view.title, ...view.labels.map((l, i) => `${i + 1}. ${l}`)]);
    return { text, pageCount: 1 };
  }
  const pages = paginate(ctx, view, menuHintLength(ctx));
  const page = Math.min(Math.max(0, opts.page), pages.length - 1);
  const idx = pages[page] ?? [];
  const nav = navLines(ctx, {
    more: page < pages.length - 1,
    back: page > 0 || opts.canBack,
    home: page > 0 || !opts.atStart,
  });
  let items = idx.map((i) => `${i + 1}. ${view.labels[i] ?? ''}`);
  let head = opts.hint ?? view.title;
  let body = joinLines([head, ...items, ...nav]);
  if (body.length > USSD_LIMIT) {
    // Only a single option (or a long title) can overflow a page; cut them rather than the nav lines.
    const spare = USSD_LIMIT - joinLines([...items, ...nav]).length - 1;
    head = clip(head, Math.max(Math.min(head.length, 40), spare));
    const room = USSD_LIMIT - joinLines([head, ...nav]).length - items.length;
    const per = Math.max(8, Math.floor(room / Math.max(1, items.length)));
    items = items.map((l) => clip(l, per));
    body = joinLines([head, ...items, ...nav]);
  }
  return { text: composeUssd(opts.notice, body), pageCount: pages.length };
}

/** The answer lines an ask shows under its prompt (yes/no, choices). */
export function askLines(ctx: RenderCtx, step: AskStep): string[] {
  if (step.input.kind === 'yesno') return [`1. ${t(ctx, 'answer.yes')}`, `2. ${t(ctx, 'answer.no')}`];
  if (step.input.kind === 'choice') return step.input.options.map((o, i) => `${i + 1}. ${t(ctx, o.label)}`);
  return [];
}

export function renderAsk(ctx: RenderCtx, step: AskStep, notice?: string): Screen {
  const body = joinLines([t(ctx, step.text, ctx.params(step.params)), ...askLines(ctx, step)]);
  return { text: ctx.channel === 'ussd' ? composeUssd(notice, body) : joinLines([notice, body]), pageCount: 1 };
}

/** On USSD a `say` waits for any key (`1. Continue`); on SMS it is just part of the reply. */
export function renderSay(ctx: RenderCtx, step: SayStep, notice?: string): Screen {
  const text = t(ctx, step.text, ctx.params(step.params));
  if (ctx.channel === 'sms') return { text: joinLines([notice, text]), pageCount: 1 };
  return { text: composeUssd(notice, joinLines([text, `1. ${t(ctx, 'nav.continue')}`])), pageCount: 1 };
}

export function renderEnd(ctx: RenderCtx, step: EndStep | undefined, fallbackKey = 'system.goodbye'): Screen {
  const text = step?.text ? t(ctx, step.text, ctx.params(step.params)) : t(ctx, fallbackKey);
  return { text: ctx.channel === 'ussd' ? clip(text, USSD_LIMIT) : text, pageCount: 1 };
}

/**
 * Menus whose title and labels take no parameters read the same for everyone: their view (and its pages,
 * by hint length) is made once per translation set, step, locale and channel. Most USSD screens are such
 * menus, and rendering them was a measurable part of a hop (bench/README.md). The cache holds only what
 * the flow set and translations hold (weakly, so a reload lets go of it).
 */
const staticViews = new WeakMap<LocaleSet, WeakMap<MenuStep, Map<string, MenuView>>>();
const staticPages = new WeakMap<MenuView, Map<number, number[][]>>();

const isStaticMenu = (step: MenuStep): boolean =>
  step.params === undefined && step.options !== undefined && step.options.every((o) => o.params === undefined);

/** The menu view of a step: title and option labels (static, or the stored data options). */
export function menuView(
  ctx: RenderCtx,
  step: MenuStep,
  dynOptions: ReadonlyArray<{ params: Record<string, unknown> }>,
): MenuView {
  if (!isStaticMenu(step)) return menuViewUncached(ctx, step, dynOptions);
  let bySet = staticViews.get(ctx.locales);
  if (!bySet) staticViews.set(ctx.locales, (bySet = new WeakMap()));
  let byStep = bySet.get(step);
  if (!byStep) bySet.set(step, (byStep = new Map()));
  const id = `${ctx.locale}\u0000${ctx.channel}`;
  let view = byStep.get(id);
  if (!view) {
    const v = menuViewUncached(ctx, step, dynOptions);
    view = Object.freeze({ title: v.title, labels: Object.freeze(v.labels) as string[] });
    byStep.set(id, view);
    staticPages.set(view, new Map());
  }
  return view;
}

function menuViewUncached(
  ctx: RenderCtx,
  step: MenuStep,
  dynOptions: ReadonlyArray<{ params: Record<string, unknown> }>,
): MenuView {
  const title = t(ctx, step.text, ctx.params(step.params));
  const labels = step.options
    ? step.options.map((o) => t(ctx, o.label, ctx.params(o.params)))
    : dynOptions.map((o) => t(ctx, step.optionsFrom?.label ?? '', o.params));
  return { title, labels };
}

/** Length of the invalid-choice hint that takes a menu title's place (USSD). */
export function menuHintLength(ctx: RenderCtx): number {
  return t(ctx, 'invalid.menu').length;
}
