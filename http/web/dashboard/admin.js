// System admin at /admin/: the instance operator signs in and sees every
// tenant with its usage and plan, platform totals (tenants by plan, monthly
// recurring revenue), sets plans, and suspends or resumes tenants.

import { request, h, clock } from './api.js';
import { autoLabelTables } from './ui.js';

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
  const planSelect = (t) => h('select', { 'aria-label': 'Plan of ' + t.name, onchange: async (e) => {
    await call('PATCH', `/api/v1/admin/tenants/${t.id}`, { plan: e.target.value });
    tenants();
  } }, plans.items.map((p) => h('option', { value: p.name, selected: p.name === t.plan }, p.name)));
  const row = (t) => h('tr', {}, h('td', {}, h('strong', {}, t.name), h('div', { class: 'muted' }, t.id)), h('td', {}, clock(t.created_at)),
    h('td', {}, `${t.usage.staff} staff · ${t.usage.sites} sites`), h('td', {}, `${t.usage.conversations} conversations · ${t.usage.messages} messages`),
    h('td', {}, `${t.usage.visitors} visitors · ${Math.ceil(t.usage.storage_bytes / 1024)} KiB`),
    h('td', {}, planSelect(t)),
    h('td', {}, t.suspended ? 'suspended' : 'active'),
    h('td', {}, h('button', { class: t.suspended ? '' : 'danger', onclick: async () => {
      await call('POST', `/api/v1/admin/tenants/${t.id}/${t.suspended ? 'resume' : 'suspend'}`);
      tenants();
    } }, t.suspended ? 'Resume' : 'Suspend')));
  const byPlan = Object.entries(stats.tenants_by_plan).map(([p, n]) => `${n} on ${p}`).join(' · ');
  main.replaceChildren(h('h1', {}, 'Tenants'),
    h('p', { class: 'totals', role: 'status' }, h('strong', {}, `$${(stats.mrr_cents / 100).toFixed(2)} a month`), ` · ${byPlan} · ${stats.conversations} conversations · ${stats.messages} messages`),
    h('table', { class: 'per-day', 'aria-label': 'Messages a day' }, h('thead', {}, h('tr', {}, h('th', {}, 'Messages a day'),
      (stats.messages_per_day || []).map((d) => h('th', { scope: 'col' }, new Date(d.day + 'T00:00:00Z').toLocaleDateString([], { weekday: 'short', day: 'numeric', timeZone: 'UTC' }))))),
    h('tbody', {}, h('tr', {}, h('th', { scope: 'row' }, 'All tenants'), (stats.messages_per_day || []).map((d) => h('td', {}, d.messages.toLocaleString()))))),
    h('table', {}, h('thead', {}, h('tr', {}, ['Tenant', 'Since', 'Team', 'Chat', 'Visitors', 'Plan', 'State', ''].map((x) => h('th', {}, x)))),
    h('tbody', {}, r.items.map(row))));
}

out.onclick = () => signIn();
if (tokenOf()) tenants().catch(() => {}); else signIn();
