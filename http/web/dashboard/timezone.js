// The Account page's "Time zone" section: which zone this person's
// dashboard (and their own mail) shows times in — their browser's, or one
// they choose (stored with them: PATCH /api/v1/me {timezone}). Saving
// re-renders the page so every time on it follows at once, then says so
// in a toast.

import { api, h } from './api.js';
import { browserZone, dateTime, setZone, zone, zones } from './time.js';
import { toast } from './ui.js';

/** The section, as a card form. */
export function zoneSection(app) {
  const mine = app.live.me?.timezone || '';
  const list = zones();
  const all = list.includes('UTC') ? list : ['UTC', ...list];
  const select = h('select', { name: 'timezone', id: 'account-timezone', 'aria-describedby': 'account-timezone-error account-timezone-now' },
    h('option', { value: '' }, `My browser's zone (${browserZone()})`),
    all.map((z) => h('option', { value: z, selected: z === mine }, z.replaceAll('_', ' '))));
  if (mine && !all.includes(mine)) select.append(h('option', { value: mine, selected: true }, mine));
  const error = h('p', { class: 'field-error', id: 'account-timezone-error', role: 'alert' });
  const now = h('p', { class: 'muted', id: 'account-timezone-now' }, `Now: ${dateTime(new Date())} (${zone()})`);
  const form = h('form', { class: 'stack card zone-form', onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = '';
    select.removeAttribute('aria-invalid');
    try {
      const r = await api('PATCH', '/api/v1/me', { timezone: select.value });
      const tz = r.prefs?.timezone || null;
      if (app.live.me) app.live.me.timezone = tz;
      setZone(tz);
      const saved = tz ? `Saved: times now show in ${tz}.` : `Saved: times now show in your browser's zone (${browserZone()}).`;
      // Everything on screen follows the new zone: the page is drawn again.
      await app.routeNow();
      toast(saved);
      document.getElementById('account-timezone')?.focus();
    } catch (err) {
      select.setAttribute('aria-invalid', 'true');
      error.textContent = err.message;
      select.focus();
    }
  } },
  h('h2', {}, 'Time zone'),
  h('p', { class: 'muted' }, 'The dashboard shows times in this zone. Times of another zone (a booking in its site’s zone, a visitor’s local time) say which zone they are in.'),
  h('label', { for: 'account-timezone' }, 'Show times in'), select, error, now,
  h('div', { class: 'setting-foot' }, h('button', { type: 'submit' }, 'Save time zone')));
  return form;
}
