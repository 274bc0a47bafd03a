// REST with the refresh flow done right: the token pair lives in
// localStorage (shared by the dashboard's tabs), the access token is
// refreshed before it expires, one refresh at a time across tabs (Web
// Locks), and a session ended elsewhere signs the page out with a reason.

const KEY = 'parley:auth';
const WHY = 'parley:why';

export { icon, avatar, avatarColour, initials, toast, confirmDialog, fieldError, validateInline, labelTables } from './ui.js';

export class ApiError extends Error {
  /** `message` is for people (see `human`); `detail` is the server's own sentence. */
  constructor(status, code, message, detail = message, requestId = null) {
    super(message);
    this.status = status; this.code = code; this.detail = detail; this.requestId = requestId;
  }
}

// What a person can do about an error, by code (the server's sentence is
// kept when it says more than the generic line).
const HUMAN = {
  invalid_credentials: 'That email and password do not match. Check them, or choose a new password.',
  rate_limited: 'Too many attempts in a short time. Wait a minute, then try again.',
  forbidden: 'Your role does not allow this. Ask an owner or admin of the workspace.',
  not_found: 'This no longer exists. It may have been removed: reload the page.',
  conflict: 'Someone changed this at the same time. Reload the page and try again.',
  payload_too_large: 'That is too large to send. Shorten it and try again.',
  internal: 'Something went wrong on our side and nothing was saved. Try again in a moment.',
  unavailable: 'Parley is busy or restarting. Try again in a moment.',
  tenant_suspended: 'This workspace has been suspended. Contact the operator of this Parley.',
};

/** A sentence a person can act on, from a status, a code and the server's message. */
export function human(status, code, message) {
  // "business_hours: set …" names its field in words: "Business hours: set …".
  const said = String(message || '').trim().replace(/^([a-z][a-z_.]*): /, (_, f) => f.replace(/[_.]/g, ' ') + ': ');
  const sentence = said ? said[0].toUpperCase() + said.slice(1) + (/[.!?]$/.test(said) ? '' : '.') : '';
  if (status === 0) return 'Parley could not be reached. Check your connection, then try again.';
  if (HUMAN[code] && (status >= 500 || code === 'rate_limited' || code === 'invalid_credentials' || !said)) return HUMAN[code];
  if (status >= 500) return HUMAN.internal;
  if (status === 429) return HUMAN.rate_limited;
  // Validation and limit errors: the server's sentence names the field or the limit.
  if (/^[a-z_]+$/.test(said)) return HUMAN[said] || 'The request was refused. Check the form and try again.';
  return sentence || HUMAN[code] || 'The request failed. Try again.';
}

export const session = {
  get() { try { return JSON.parse(localStorage.getItem(KEY)); } catch (_) { return null; } },
  set(v) { localStorage.setItem(KEY, JSON.stringify(v)); },
  clear() { localStorage.removeItem(KEY); },
};

/** Keeps a token pair from login, register, refresh or invitation accept. */
export function keep(pair) {
  const ttl = pair.expires_in * 1000;
  session.set({
    access_token: pair.access_token, refresh_token: pair.refresh_token, ttl,
    expires_at: Date.now() + ttl, staff_id: pair.staff_id, tenant_id: pair.tenant_id,
    session_id: pair.session_id,
  });
  schedule();
}

// Refresh a third of the lifetime early (at most a minute early).
const margin = (s) => Math.min(60000, s.ttl / 3);
const fresh = (s) => s && s.expires_at - Date.now() > margin(s);

export async function request(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = 'Bearer ' + token;
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (_) {
    throw new ApiError(0, 'offline', human(0, 'offline', ''), 'network error');
  }
  if (r.status === 204 || r.status === 202) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const code = data.error?.code || 'error';
    const said = data.error?.message || '';
    throw new ApiError(r.status, code, human(r.status, code, said), said || r.statusText, r.headers.get('x-request-id'));
  }
  return data;
}

/** Why the last session ended, once (for the sign-in page). */
export function lastReason() {
  const why = sessionStorage.getItem(WHY);
  sessionStorage.removeItem(WHY);
  return why;
}

/** Leaves the dashboard for its sign-in page, saying why. */
export function signOut(why) {
  session.clear();
  if (why) sessionStorage.setItem(WHY, why);
  if (location.pathname.startsWith('/app')) {
    history.replaceState(null, '', '/app/#signin');
    location.reload();
  } else {
    location.replace('/#signin');
  }
}

let inflight = null;
const locked = (f) => (navigator.locks ? navigator.locks.request('parley-refresh', f) : f());

/** A new access token from the refresh token; `force` even if the current one looks fine. */
export function refresh(force = false) {
  inflight = inflight || locked(async () => {
    const s = session.get();
    if (!s) throw new ApiError(401, 'signed_out', 'signed out');
    // Another tab may have refreshed while this one waited for the lock.
    if (fresh(s) && (!force || s.access_token !== force)) return s.access_token;
    try {
      const pair = await request('POST', '/api/v1/auth/refresh', { refresh_token: s.refresh_token });
      keep(pair);
      return pair.access_token;
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        signOut(e.code === 'tenant_suspended' ? 'This workspace has been suspended.'
          : 'Your session was ended elsewhere. Please sign in again.');
      }
      throw e;
    }
  }).finally(() => { inflight = null; });
  return inflight;
}

/** A valid access token, refreshed first when it is about to expire. */
export async function token() {
  const s = session.get();
  if (!s) { signOut(); throw new ApiError(401, 'signed_out', 'signed out'); }
  return fresh(s) ? s.access_token : refresh();
}

/** An authenticated REST call; a 401 gets one refresh and one retry. */
export async function api(method, path, body) {
  const t = await token();
  try {
    return await request(method, path, body, t);
  } catch (e) {
    if (e.status !== 401) throw e;
    return request(method, path, body, await refresh(t));
  }
}

let timer;
/** Refreshes silently before the access token expires. */
export function schedule() {
  clearTimeout(timer);
  const s = session.get();
  if (!s) return;
  const wait = Math.max(1000, s.expires_at - Date.now() - margin(s) + 500);
  timer = setTimeout(() => refresh().catch(() => {}), wait);
}

// Another tab signing out signs this one out too.
addEventListener('storage', (e) => {
  if (e.key === KEY && !e.newValue && location.pathname.startsWith('/app')) signOut();
  if (e.key === KEY && e.newValue) schedule();
});

export const h = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'value') e.value = v;
    else if (v !== false && v != null) e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...kids.flat().filter((k) => k != null && k !== false));
  return e;
};

/** A link to an address a visitor's browser reported, only when it is a web
 * address; anything else (`javascript:`, `data:`…) is shown as plain text. */
export const webLink = (url, text) => (/^\s*https?:\/\//i.test(url || '')
  ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, text || url)
  : h('span', {}, text || url || ''));

export const ago = (ts, now = Date.now()) => {
  const s = Math.max(0, Math.round((now - new Date(ts)) / 1000));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d';
};

// Every time shown goes through time.js (the viewer's locale and zone).
export { clock } from './time.js';
