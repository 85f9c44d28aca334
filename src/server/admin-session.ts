import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The admin session a browser holds after signing in with `ADMIN_TOKEN` (the simulator page cannot
 * send an `Authorization` header). The cookie carries an expiry and an HMAC of it keyed by the token,
 * never the token itself: a leaked cookie expires, and changing ADMIN_TOKEN ends every session.
 */

/** Cookie name; HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS. */
export const ADMIN_COOKIE = 'jibu_admin';

/** How long a browser session lasts. */
export const SESSION_MS = 12 * 3_600_000;

function mac(token: string, expiresAt: number): string {
  return createHmac('sha256', token).update(`jibu-admin-session:v1:${expiresAt}`).digest('base64url');
}

/** The cookie value for a session ending at `expiresAt` (ms since epoch). */
export function sessionValue(token: string, expiresAt: number): string {
  return `${expiresAt}.${mac(token, expiresAt)}`;
}

/** True for an unexpired session signed with `token`. */
export function validSession(value: string, token: string, now: number): boolean {
  const m = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m) return false;
  const expiresAt = Number(m[1]);
  if (expiresAt <= now || expiresAt > now + SESSION_MS) return false;
  const expected = Buffer.from(mac(token, expiresAt));
  const given = Buffer.from(m[2] ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** One cookie from a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) {
      try {
        return decodeURIComponent(v.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Only a path on this site (`/simulator/`), never `//evil.example` or a full URL. */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])[^\s]*$/.test(next) ? next : '/simulator/';
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** The sign-in page: one password field posting to `/admin/session`. No secret is ever in it. */
export function signInPage(next: string, message?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Jibu — sign in</title></head>
<body><main><h1>Jibu admin sign-in</h1>
${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/admin/session">
<label for="token">Admin token (ADMIN_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Sign in</button>
</form></main></body></html>
`;
}
