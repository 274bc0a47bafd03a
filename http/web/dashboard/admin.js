// System admin at /admin/: the instance operator signs in and sees every
// tenant with its usage, and suspends or resumes them.

import { request, h, clock } from './api.js';

const KEY = 'parley:operator';
const main = document.getElementById('main');
const out = document.getElementById('out');
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

async function call(method, path) {
  try { return await request(method, path, undefined, tokenOf()); } catch (e) {
    if (e.status === 401) signIn('Your operator session expired.');
    throw e;
  }
}

async function tenants() {
  out.hidden = false;
  const r = await call('GET', '/api/v1/admin/tenants');
  const row = (t) => h('tr', {}, h('td', {}, h('strong', {}, t.name), h('div', { class: 'muted' }, t.id)), h('td', {}, clock(t.created_at)),
    h('td', {}, `${t.usage.staff} staff · ${t.usage.sites} sites`), h('td', {}, `${t.usage.conversations} conversations · ${t.usage.messages} messages`),
    h('td', {}, `${t.usage.visitors} visitors · ${Math.ceil(t.usage.storage_bytes / 1024)} KiB`),
    h('td', {}, t.suspended ? 'suspended' : 'active'),
    h('td', {}, h('button', { class: t.suspended ? '' : 'danger', onclick: async () => {
      await call('POST', `/api/v1/admin/tenants/${t.id}/${t.suspended ? 'resume' : 'suspend'}`);
      tenants();
    } }, t.suspended ? 'Resume' : 'Suspend')));
  main.replaceChildren(h('h1', {}, 'Tenants'), h('table', {}, h('thead', {}, h('tr', {}, ['Tenant', 'Since', 'Team', 'Chat', 'Visitors', 'State', ''].map((x) => h('th', {}, x)))),
    h('tbody', {}, r.items.map(row))));
}

out.onclick = () => signIn();
if (tokenOf()) tenants().catch(() => {}); else signIn();
