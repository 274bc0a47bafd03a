// System admin at /admin/: the instance operator signs in and sees every
// tenant with its usage and plan, platform totals (tenants by plan, monthly
// recurring revenue), sets plans, and suspends or resumes tenants.

import { request, h } from './api.js';
import { day, dateTime, zone, axisLabel } from './time.js';
import { confirmDialog, toast, autoLabelTables } from './ui.js';

const KEY = 'parley:operator';
const main = document.getElementById('main');
const out = document.getElementById('out');
// Tables turn into cards on phones, as in the dashboard.
autoLabelTables(main);
const tokenOf = () => sessionStorage.getItem(KEY);

function signIn(message) {
  sessionStorage.removeItem(KEY);
  out.hidden = true;
  const err = h('p', { class: 'error', role: 'alert' }, message || '');
  const form = h('form', { class: 'stack card', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await request('POST', '/api/v1/admin/auth/login', Object.fromEntries(new FormData(form)));
      sessionStorage.setItem(KEY, r.access_token);
      tenants();
    } catch (x) { err.textContent = x.message; }
  } }, h('h1', {}, 'Operator sign-in'),
  h('label', {}, 'Email', h('input', { name: 'email', type: 'email', required: true })),
  h('label', {}, 'Password', h('input', { name: 'password', type: 'password', required: true })),
  h('button', { type: 'submit' }, 'Sign in'), err);
  main.replaceChildren(form);
}

async function call(method, path, body) {
  try { return await request(method, path, body, tokenOf()); } catch (e) {
    if (e.status === 401) signIn('Your operator session expired.');
    throw e;
  }
}

async function tenants() {
  out.hidden = false;
  const [r, stats, plans] = await Promise.all([call('GET', '/api/v1/admin/tenants'), call('GET', '/api/v1/admin/stats'),
    request('GET', '/api/v1/plans')]);
  const cap = (s) => s[0].toUpperCase() + s.slice(1);
  const price = (p) => (p.price_cents ? `$${(p.price_cents / 100).toFixed(0)} a month` : 'no charge');
  // Billing off: every workspace has everything; there is no plan to set.
  const planSelect = (t) => (!plans.billing ? h('span', { class: 'muted' }, 'Unlimited') : h('select', { 'aria-label': 'Plan of ' + t.name, onchange: async (e) => {
    const to = plans.items.find((p) => p.name === e.target.value);
    const ok = await confirmDialog({ title: `Put ${t.name} on ${cap(to.name)}?`, body: `From now on, whatever it paid: ${price(to)}, ` +
      `${to.sites ?? 'unlimited'} site${to.sites === 1 ? '' : 's'}, ${to.staff ?? 'unlimited'} staff seat${to.staff === 1 ? '' : 's'}. The change is audited.`, confirm: 'Change plan' });
    if (!ok) { e.target.value = t.plan; return; }
    try {
      await call('PATCH', `/api/v1/admin/tenants/${t.id}`, { plan: to.name });
      toast(`${t.name} is on ${cap(to.name)}.`);
    } catch (x) { toast(x.message); }
    tenants();
  } }, plans.items.map((p) => h('option', { value: p.name, selected: p.name === t.plan }, cap(p.name)))));
  // The ID is for support tickets and logs: behind a copy button, not spelled out in the row.
  const copyId = (t) => h('button', { type: 'button', class: 'ghost small copy-id', title: t.id, 'aria-label': `Copy the ID of ${t.name}`, onclick: async () => {
    try { await navigator.clipboard.writeText(t.id); toast(`Copied ${t.name}'s ID.`); } catch (_) { toast('Copy failed: ' + t.id); }
  } }, 'Copy ID');
  // Under the name, who owns it and its first site: two tenants may share a name.
  const row = (t) => h('tr', {}, h('td', {}, h('strong', {}, t.name),
    h('div', { class: 'muted tenant-owner' }, [t.owner_email, t.first_site].filter(Boolean).join(' · ') || 'No owner'), h('div', {}, copyId(t))),
    h('td', {}, h('time', { datetime: t.created_at, title: dateTime(t.created_at) + ` (${zone()})` }, day(t.created_at, { year: true }))),
    h('td', {}, `${t.usage.staff} staff · ${t.usage.sites} site${t.usage.sites === 1 ? '' : 's'}`), h('td', {}, `${t.usage.conversations} conversations · ${t.usage.messages} messages`),
    h('td', {}, `${t.usage.visitors} visitors · ${Math.ceil(t.usage.storage_bytes / 1024)} KiB`),
    h('td', {}, planSelect(t)),
    h('td', {}, h('span', { class: 'pill ' + (t.suspended ? 'suspended' : 'active') }, t.suspended ? 'Suspended' : 'Active')),
    h('td', {}, h('button', { class: t.suspended ? 'ghost' : 'danger-outline', onclick: async () => {
      if (!t.suspended && !await confirmDialog({ title: `Suspend ${t.name}?`, body: 'Its staff are signed out and its widgets show offline until you resume it.', confirm: 'Suspend', danger: true })) return;
      await call('POST', `/api/v1/admin/tenants/${t.id}/${t.suspended ? 'resume' : 'suspend'}`);
      tenants();
    } }, t.suspended ? 'Resume' : 'Suspend')));
  const byPlan = plans.billing ? Object.entries(stats.tenants_by_plan).map(([p, n]) => `${n} on ${p}`).join(' · ')
    : `${r.items.length} workspace${r.items.length === 1 ? '' : 's'} · billing off: every workspace has everything`;
  main.replaceChildren(h('h1', {}, 'Tenants'),
    h('p', { class: 'totals', role: 'status' }, plans.billing ? h('strong', {}, `$${(stats.mrr_cents / 100).toFixed(2)} a month`) : null, `${plans.billing ? ' · ' : ''}${byPlan} · ${stats.conversations} conversations · ${stats.messages} messages`),
    h('div', { class: 'table-wrap' }, h('table', { class: 'per-day keep-table', 'aria-label': 'Messages a day' }, h('thead', {}, h('tr', {}, h('th', {}, 'Messages a day'),
      (stats.messages_per_day || []).map((d) => h('th', { scope: 'col', title: day(d.day + 'T00:00:00Z', { zone: 'UTC', year: true }) },
        // A phone gets the short form ("Dec 2": noon UTC is that day in any zone), so the week stays one compact table.
        h('span', { class: 'day-long' }, day(d.day + 'T00:00:00Z', { zone: 'UTC' })), h('span', { class: 'day-short' }, axisLabel(d.day + 'T12:00:00Z', false)))))),
    h('tbody', {}, h('tr', {}, h('th', { scope: 'row' }, 'All tenants'), (stats.messages_per_day || []).map((d) => h('td', {}, d.messages.toLocaleString())))))),
    h('table', { class: 'cards tenants', 'aria-label': 'Tenants' }, h('thead', {}, h('tr', {}, ['Tenant', 'Since', 'Team', 'Chat', 'Visitors', 'Plan', 'State', ''].map((x) => h('th', {}, x)))),
    h('tbody', {}, r.items.map(row))));
}

out.onclick = () => signIn();
if (tokenOf()) tenants().catch(() => {}); else signIn();
