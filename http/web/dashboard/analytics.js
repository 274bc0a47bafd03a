// What the chat is worth, for owners and admins: Home (today's numbers
// with their last 7 days as small bars, who waits, the latest chats),
// Analytics (a range of one site or all: trends, the busy hours of the week, pages, referrers, devices,
// browsers, systems, countries) and Performance (the staff leaderboard).
// Everything comes from GET /api/v1/analytics[/staff]; CSV of every table.

import { api, h, clock } from './api.js';
import { line, bars, heatmap, sparkBars } from './charts.js';
import { avatar } from './ui.js';
import { download } from './backoffice.js';
import { axisLabel, startOfToday, zone } from './time.js';
import { avatarColour } from './ui.js';

const q = (o) => new URLSearchParams(Object.entries(o).filter(([, v]) => v != null && v !== '')).toString();

/** A duration in ms, short: "42 s", "3 min", "1.5 h", "2 d". */
export function dur(ms) {
  if (ms == null) return '—';
  const sec = ms / 1000;
  if (sec < 90) return `${Math.round(sec)} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  if (sec < 172800) return `${(sec / 3600).toFixed(1)} h`;
  return `${(sec / 86400).toFixed(1)} d`;
}
const num = (v) => (v == null ? '—' : Number(v).toLocaleString());
const label = axisLabel;

const METRICS = [
  ['visitors', 'Visitors', num], ['page_views', 'Page views', num], ['conversations', 'Conversations', num], ['missed', 'Missed', num],
  ['messages_visitor', 'Visitor messages', num], ['messages_staff', 'Staff replies', num],
  ['first_response_ms_p50', 'First response (median)', dur], ['resolution_ms_p50', 'Resolution (median)', dur],
  ['rating_avg', 'Rating', (v) => (v == null ? '—' : `${v.toFixed(1)} ★`)],
  ['contact_messages', 'Contact messages', num], ['bookings', 'Bookings', num], ['subscribers', 'New subscribers', num],
];

/** The stat tiles; with `series` (one point a day) each has its days as small bars. */
function tiles(totals, series) {
  const days = series ? series.map((p) => new Date(p.t).toLocaleDateString(undefined, { weekday: 'short' })) : [];
  const average = (k) => k === 'rating_avg' || k.endsWith('_ms_p50');
  return h('div', { class: 'tiles' }, METRICS.map(([k, name, fmt]) => h('div', { class: 'tile card' },
    h('span', { class: 'muted' }, name), h('strong', { class: 'big' }, fmt(totals[k])),
    series ? sparkBars(series.map((p) => (average(k) ? p[k] ?? null : p[k] || 0)), days, `${name}, day by day`) : null)));
}

const QUEUE_OF = { waiting: 'waiting', closed: 'closed' };
/** A short list of conversations for Home, each opening in the inbox. */
function convList(title, items, queue, empty) {
  const who = (c) => c.visitor?.name || c.visitor?.email || 'Visitor ' + String(c.visitor_id).slice(-5);
  const stars = (n) => '★'.repeat(n) + '☆'.repeat(5 - n);
  return h('section', { class: 'card home-list', 'aria-label': title },
    h('div', { class: 'row-actions' }, h('h2', {}, title), h('a', { href: '#/inbox/' + queue }, 'Open inbox →')),
    items.length ? h('ul', {}, items.map((c) => h('li', {}, h('a', { href: `#/inbox/${QUEUE_OF[c.status] || 'open'}/${c.id}` },
      avatar(c.visitor_id, who(c), 'sm'),
      h('span', { class: 'hl-main' }, h('span', { class: 'hl-top' }, h('strong', {}, who(c)),
        queue === 'waiting' ? null : h('span', { class: 'status ' + c.status }, c.status),
        c.rating ? h('span', { class: 'stars', 'aria-label': `rated ${c.rating.score} of 5` }, stars(c.rating.score)) : null),
      h('span', { class: 'hl-line muted' }, c.last_message ? c.last_message.body.replace(/\s+/g, ' ').trim() : 'No message yet')),
      h('time', { class: 'muted', datetime: c.updated_at }, clock(c.updated_at))))))
      : h('p', { class: 'muted' }, empty));
}

function out() { return h('p', { role: 'status', class: 'muted' }); }
async function attempt(msg, f) {
  try { await f(); } catch (e) { msg.textContent = e.message; msg.className = 'error'; }
}

/** Home: today so far, the last 7 days as small bars, who waits now and the latest conversations. */
export async function homePage(app, root) {
  const msg = out();
  const midnight = startOfToday();
  const TZ = zone();
  root.replaceChildren(h('h1', {}, 'Today'), msg);
  await attempt(msg, async () => {
    const [today, week, waiting, recent] = await Promise.all([
      api('GET', '/api/v1/analytics?' + q({ from: midnight.toISOString(), tz: TZ, resolution: 'hour' })),
      api('GET', '/api/v1/analytics?' + q({ range: '7d', tz: TZ, resolution: 'day' })),
      api('GET', '/api/v1/conversations?' + q({ status: 'waiting', limit: 5 })).catch(() => ({ items: [] })),
      api('GET', '/api/v1/conversations?' + q({ limit: 6 })).catch(() => ({ items: [] })),
    ]);
    root.append(
      h('p', { class: 'muted' }, `Since midnight (${TZ}). The small bars are the last 7 days, today on the right.`),
      tiles(today.totals, week.series.slice(-7)),
      h('div', { class: 'home-lists' },
        convList('Waiting now', waiting.items, 'waiting', 'Nobody is waiting. New chats show here and in the inbox.'),
        convList('Recent conversations', recent.items, 'open', 'No conversation yet.')),
      h('p', { class: 'row-actions' }, h('a', { href: '#/analytics' }, 'Analytics →'), h('a', { href: '#/performance' }, 'Team performance →')));
  });
}

const RANGES = [['24h', 'Last 24 hours'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['90d', 'Last 90 days'], ['365d', 'Last 12 months']];

function rangeSelect(value, onchange) {
  return h('select', { 'aria-label': 'Range', onchange }, RANGES.map(([v, t]) => h('option', { value: v, selected: v === value }, t)));
}

function topCard(title, rows, file, params, msg, head) {
  // Long names (page paths, referrer URLs) are cut with an ellipsis and
  // shown whole on hover; the company page (/s/{key}) is named as such.
  const name = (n) => (file === 'top_pages' && /^\/s\/[^/?#]+\/?$/.test(n) ? 'Company page' : n);
  const tab = rows.length
    ? h('table', { class: 'top-table keep-table' }, h('caption', { class: 'sr' }, title),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, head), h('th', { scope: 'col', class: 'num' }, 'Count'))),
      h('tbody', {}, rows.map((r) => h('tr', {},
        h('th', { scope: 'row', title: String(r.name) }, String(name(r.name))),
        h('td', { class: 'num' }, String(num(r.count)))))))
    : h('p', { class: 'muted' }, 'Nothing yet.');
  return h('section', { class: 'card stack top-list', 'aria-label': title },
    h('div', { class: 'row-actions' }, h('h3', {}, title),
      h('button', { class: 'ghost small', onclick: () => download('/api/v1/analytics/export.csv?' + q({ ...params, table: file }), `${file}.csv`, msg) }, 'CSV')),
    tab);
}

/** Analytics: one site or every site over a range. */
export async function analyticsPage(app, root) {
  const msg = out();
  const state = { range: sessionStorage.getItem('parley.range') || '7d', site: '' };
  const body = h('div', { class: 'stack analytics-body' });
  const sites = await api('GET', '/api/v1/sites').catch(() => ({ items: [] }));
  const siteSel = h('select', { 'aria-label': 'Site', onchange: (e) => { state.site = e.target.value; load(); } },
    h('option', { value: '' }, 'All sites'), (sites.items || []).map((s) => h('option', { value: s.id }, s.name)));
  const load = () => attempt(msg, async () => {
    msg.textContent = 'Loading…';
    msg.className = 'muted';
    const params = { range: state.range, tz: zone(), site_id: state.site };
    const r = await api('GET', '/api/v1/analytics?' + q(params));
    msg.textContent = '';
    const hourly = r.resolution === 'hour';
    const labels = r.series.map((p) => label(p.t, hourly));
    const col = (k) => r.series.map((p) => p[k] || 0);
    body.replaceChildren(
      tiles(r.totals, null),
      line('Visitors and conversations', labels, [{ name: 'Visitors', values: col('visitors') }, { name: 'Conversations', values: col('conversations') }, { name: 'Missed', values: col('missed') }]),
      bars('Messages', labels, [{ name: 'From visitors', values: col('messages_visitor') }, { name: 'From staff', values: col('messages_staff') }]),
      heatmap(`When conversations start (${r.tz || zone()})`, r.heatmap),
      h('div', { class: 'row-actions' },
        h('button', { class: 'ghost', onclick: () => download('/api/v1/analytics/export.csv?' + q({ ...params, table: 'series' }), 'analytics-series.csv', msg) }, 'Export series (CSV)'),
        h('button', { class: 'ghost', onclick: () => download('/api/v1/analytics/export.csv?' + q({ ...params, table: 'heatmap' }), 'analytics-heatmap.csv', msg) }, 'Export heatmap (CSV)')),
      h('div', { class: 'tops' },
        topCard('Top pages', r.top_pages, 'top_pages', params, msg, 'Page'),
        topCard('Referrers', r.referrers, 'referrers', params, msg, 'Referrer'),
        topCard('Devices', r.devices, 'devices', params, msg, 'Device'),
        topCard('Browsers', r.browsers, 'browsers', params, msg, 'Browser'),
        topCard('Operating systems', r.os, 'os', params, msg, 'System'),
        topCard('Countries', r.countries, 'countries', params, msg, 'Country')),
      h('p', { class: 'muted' }, r.geo_source === 'geoip' ? 'Countries come from visitors’ addresses (GeoIP).' : 'Countries come from visitors’ time zones (no GeoIP database is set).'));
  });
  const range = rangeSelect(state.range, (e) => { state.range = e.target.value; sessionStorage.setItem('parley.range', state.range); load(); });
  root.replaceChildren(h('h1', {}, 'Analytics'), h('div', { class: 'row-actions' }, range, siteSel), msg, body);
  await load();
}

/** Initials of a name, for an avatar: "Olive Smith" → "OS". */
const initials = (name) => (name || '?').trim().split(/\s+/).slice(0, 2).map((w) => w[0]).join('').toUpperCase() || '?';

/** Performance: every staff member over a range, leaders first. */
export async function performancePage(app, root) {
  const msg = out();
  const state = { range: sessionStorage.getItem('parley.range') || '7d' };
  const body = h('div', { class: 'stack' });
  const load = () => attempt(msg, async () => {
    const r = await api('GET', '/api/v1/analytics/staff?' + q({ range: state.range }));
    const items = [...r.items].sort((a, b) => (b.chats || 0) - (a.chats || 0));
    const most = Math.max(1, ...items.map((x) => x.chats || 0));
    const hours = (s) => (s / 3600).toFixed(1) + ' h';
    // On a phone each person is a card: rank, name and chats on top, every
    // other figure below with its label (data-label), nothing cut off.
    const cols = [['Rank', 'rank'], ['Name', 'who'], ['Chats', 'num'], ['First response (median)', 'num'], ['Rating', 'num'],
      ['First response (p90)', 'num'], ['Handle time', 'num'], ['Online', 'num'],
      ['Contact replies', 'num'], ['Bookings', 'num']];
    const cell = (i, v) => h('td', { class: 'num', 'data-label': cols[i][0] }, v);
    body.replaceChildren(...[
      h('table', { class: 'leaderboard lb keep-table' }, h('caption', { class: 'sr' }, 'Team performance, most chats first'),
        h('thead', {}, h('tr', {}, cols.map(([c, cls]) => h('th', { scope: 'col', class: cls }, c)))),
        h('tbody', {}, items.map((x, i) => h('tr', {},
          h('td', { class: 'rank' }, h('span', { class: 'lb-rank' + (i < 3 && x.chats ? ' lead' : ''), 'aria-label': 'Rank ' + (i + 1) }, String(i + 1))),
          h('th', { scope: 'row', class: 'who' }, h('span', { class: 'lb-who' },
            h('span', { class: 'lb-avatar', 'aria-hidden': 'true', style: `background:${avatarColour(x.staff_id || x.name)}` }, initials(x.name)),
            h('span', { class: 'lb-name' }, x.name))),
          h('td', { class: 'num lb-chats-cell', 'data-label': 'Chats' }, h('span', { class: 'lb-chats' }, num(x.chats),
            h('span', { class: 'lb-bar', 'aria-hidden': 'true' }, h('i', { style: `width:${Math.round((100 * (x.chats || 0)) / most)}%` })))),
          cell(3, dur(x.first_response_ms_p50)),
          cell(4, x.rating_avg == null ? '—' : `${x.rating_avg.toFixed(1)} ★` + (x.ratings ? ` (${x.ratings})` : '')),
          cell(5, dur(x.first_response_ms_p90)),
          cell(6, dur(x.handle_ms_p50)),
          cell(7, hours(x.online_secs || 0)),
          cell(8, num(x.contact_replies)),
          cell(9, num(x.bookings)))))),
      items.length ? null : h('p', { class: 'muted' }, 'No staff yet.')].filter(Boolean));
  });
  const range = rangeSelect(state.range, (e) => { state.range = e.target.value; sessionStorage.setItem('parley.range', state.range); load(); });
  root.replaceChildren(h('h1', {}, 'Team performance'),
    h('div', { class: 'row-actions' }, range,
      h('button', { class: 'ghost', onclick: () => download('/api/v1/analytics/export.csv?' + q({ range: state.range, table: 'staff' }), 'team-performance.csv', msg) }, 'Export CSV')),
    msg, body);
  await load();
}
