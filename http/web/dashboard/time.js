// Times, one way: every date and time the dashboard shows goes through
// here. They are shown in the viewer's locale (12 or 24 hours as that
// locale writes them, the same everywhere) and in the viewer's time zone —
// the browser's, or the zone the staff member chose in Account (`setZone`,
// called when the staff socket says who we are and when Account saves it).
// A time that belongs to another zone (a booking in its site's zone, a
// visitor's local time) is shown in that zone with the zone named.
// Nothing else formats times: no toLocale*, no raw ISO strings in the UI.

const browserZone = () => {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (_) { return 'UTC'; }
};

let chosen = null;
const cache = new Map();

/** Uses `tz` (an IANA name) for the viewer's times; empty or unknown: the browser's. */
export function setZone(tz) {
  const next = tz && validZone(tz) ? tz : null;
  if (next === chosen) return;
  chosen = next;
  cache.clear();
  dispatchEvent(new CustomEvent('parley:timezone', { detail: zone() }));
}

/** The viewer's zone: the one chosen in Account, else the browser's. */
export const zone = () => chosen || browserZone();

/** The browser's own zone (what "use my browser's zone" means). */
export { browserZone };

/** Whether `tz` is a zone this browser knows. */
export function validZone(tz) {
  try { new Intl.DateTimeFormat(undefined, { timeZone: tz }); return true; } catch (_) { return false; }
}

/** Every zone the browser knows, for a picker (a short list when it cannot say). */
export function zones() {
  try { if (Intl.supportedValuesOf) return Intl.supportedValuesOf('timeZone'); } catch (_) { /* older browser */ }
  return ['UTC', 'Europe/London', 'Europe/Paris', 'Europe/Berlin', 'America/New_York', 'America/Chicago',
    'America/Denver', 'America/Los_Angeles', 'America/Sao_Paulo', 'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Sydney'];
}

function fmt(opts, tz) {
  const key = JSON.stringify(opts) + '|' + tz;
  let f = cache.get(key);
  if (!f) {
    try { f = new Intl.DateTimeFormat(undefined, { ...opts, timeZone: tz }); } catch (_) { f = new Intl.DateTimeFormat(undefined, { ...opts, timeZone: 'UTC' }); }
    cache.set(key, f);
  }
  return f;
}

const toDate = (t) => (t instanceof Date ? t : new Date(typeof t === 'string' || typeof t === 'number' ? t : NaN));
const ok = (d) => !Number.isNaN(d.getTime());

// The calendar day of `d` in `tz`, as a comparable "YYYY-MM-DD".
const dayKey = (d, tz) => fmt({ year: 'numeric', month: '2-digit', day: '2-digit' }, tz).formatToParts(d)
  .filter((p) => p.type !== 'literal').map((p) => p.value).join('-');

// 12 or 24 hours as the locale writes them; a 24-hour clock keeps its leading zero (09:05).
const h12 = (() => { try { return new Intl.DateTimeFormat(undefined, { hour: 'numeric' }).resolvedOptions().hour12; } catch (_) { return false; } })();
const HM = { hour: h12 ? 'numeric' : '2-digit', minute: '2-digit' };
const named = (text, tz) => (tz && tz !== zone() ? `${text} (${tz})` : text);

/**
 * A full date and time: "Mon 7 Dec 2026, 16:06" in the viewer's zone;
 * with `{ zone }` another zone, named when it is not the viewer's.
 */
export function dateTime(t, opts = {}) {
  const d = toDate(t);
  if (!ok(d)) return '—';
  const tz = opts.zone || zone();
  return named(fmt({ weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', ...HM }, tz).format(d), opts.zone);
}

/**
 * A compact moment for lists and threads: the time alone today, day and
 * month and time this year, the full date before that.
 */
export function clock(t, opts = {}) {
  const d = toDate(t);
  if (!ok(d)) return '—';
  const tz = opts.zone || zone();
  const now = new Date();
  let text;
  if (dayKey(d, tz) === dayKey(now, tz)) text = fmt(HM, tz).format(d);
  else if (dayKey(d, tz).slice(0, 4) === dayKey(now, tz).slice(0, 4)) text = fmt({ day: 'numeric', month: 'short', ...HM }, tz).format(d);
  else text = fmt({ day: 'numeric', month: 'short', year: 'numeric', ...HM }, tz).format(d);
  return named(text, opts.zone);
}

/** The time of day alone: "16:06" or "4:06 PM", as the locale writes it. */
export function time(t, opts = {}) {
  const d = toDate(t);
  if (!ok(d)) return '—';
  return named(fmt(HM, opts.zone || zone()).format(d), opts.zone);
}

/** A day: "Mon 7 Dec" (`{ year: true }` adds the year, `{ long: true }` spells the month). */
export function day(t, opts = {}) {
  const d = toDate(t);
  if (!ok(d)) return '—';
  const o = opts.long ? { day: 'numeric', month: 'long', year: 'numeric' }
    : { weekday: 'short', day: 'numeric', month: 'short', ...(opts.year ? { year: 'numeric' } : {}) };
  return named(fmt(o, opts.zone || zone()).format(d), opts.zone);
}

/** A span: "Mon 7 Dec 2026, 14:00 – 14:30", the end's date only when it differs. */
export function span(start, end, opts = {}) {
  const s = toDate(start), e = toDate(end);
  if (!ok(s) || !ok(e)) return '—';
  const tz = opts.zone || zone();
  const first = fmt({ weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', ...HM }, tz).format(s);
  const last = dayKey(s, tz) === dayKey(e, tz) ? fmt(HM, tz).format(e) : fmt({ day: 'numeric', month: 'short', ...HM }, tz).format(e);
  return named(`${first} – ${last}`, opts.zone);
}

/** An hour of the day (0–23) as the locale writes it: "14:00" or "2 PM". */
export function hourLabel(hr) {
  const d = new Date(Date.UTC(2026, 0, 5, hr, 0));
  return fmt(HM, 'UTC').format(d);
}

/** A point of a chart's time axis: the hour for hourly data, else the day. */
export function axisLabel(t, hourly) {
  const d = toDate(t);
  if (!ok(d)) return '';
  return hourly ? fmt(HM, zone()).format(d) : fmt({ day: 'numeric', month: 'short' }, zone()).format(d);
}

/** Midnight today in the viewer's zone, as a Date. */
export function startOfToday() {
  const now = new Date();
  const tz = zone();
  const p = Object.fromEntries(fmt({ hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' }, tz)
    .formatToParts(now).map((x) => [x.type, x.value]));
  const since = ((+p.hour % 24) * 3600 + +p.minute * 60 + +p.second) * 1000 + now.getMilliseconds();
  return new Date(now.getTime() - since);
}

/** Whether two moments fall on the same day in the viewer's zone. */
export const sameDay = (a, b) => dayKey(toDate(a), zone()) === dayKey(toDate(b), zone());

/** The zone's short offset name for a label: "GMT+1", "UTC". */
export function offsetName(tz = zone()) {
  try {
    return new Intl.DateTimeFormat('en', { timeZone: tz, timeZoneName: 'shortOffset' }).formatToParts(new Date())
      .find((p) => p.type === 'timeZoneName')?.value || tz;
  } catch (_) { return tz; }
}

/** An hour of the day (0–23), short, for a chart's axis: "14" or "2 PM". */
export function hourShort(hr) {
  return fmt({ hour: 'numeric' }, 'UTC').format(new Date(Date.UTC(2026, 0, 5, hr, 0)));
}
