// The landing page: sign up (tenant, owner, first site) or sign in, then
// straight into the dashboard.

import { request, keep, session, lastReason, validateInline } from './api.js';

validateInline(document);

const why = lastReason();
if (why) { const p = document.getElementById('why'); p.textContent = why; p.hidden = false; }
if (session.get()) document.getElementById('signed-in').hidden = false;

function wire(id, path, next) {
  const form = document.getElementById(id);
  const out = form.querySelector('.error');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    out.textContent = '';
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const values = Object.fromEntries(new FormData(form));
      const pair = await request('POST', path, values);
      if (!pair) {
        // This instance confirms addresses by mail before creating anything.
        form.replaceChildren(Object.assign(document.createElement('h2'), { textContent: 'Check your mail' }),
          Object.assign(document.createElement('p'), { textContent: `We sent a link to ${values.email}. Open it within a day to create your workspace and sign in.` }));
        form.setAttribute('role', 'status');
        return;
      }
      keep(pair);
      location.assign(next);
    } catch (err) {
      out.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
}

// The plans this instance sells, from its config; none shown while billing is off.
const limit = (n, what) => (n == null ? `Unlimited ${what}` : `${n.toLocaleString()} ${n === 1 ? what.replace(/s\b/, '') : what}`);
request('GET', '/api/v1/plans').then((r) => {
  if (!r.billing) return;
  document.getElementById('pricing').closest('section').hidden = false;
  const el = (tag, text) => Object.assign(document.createElement(tag), { textContent: text });
  document.getElementById('pricing').replaceChildren(...r.items.map((p) => {
    const card = document.createElement('div');
    card.className = 'card stack';
    const list = document.createElement('ul');
    list.append(...[limit(p.conversations_per_month, 'conversations a month'), limit(p.sites, 'sites'), limit(p.staff, 'staff seats'),
      p.retention_days == null ? 'History kept forever' : `${p.retention_days} days of history`,
      ...p.features.map((f) => f[0].toUpperCase() + f.slice(1).replaceAll('_', ' '))].map((t) => el('li', t)));
    card.append(el('h3', p.name[0].toUpperCase() + p.name.slice(1)), el('p', p.price_cents ? `$${(p.price_cents / 100).toFixed(0)} a month` : 'No charge'), list);
    card.querySelector('p').className = 'price';
    return card;
  }));
}).catch(() => {});

wire('signup', '/api/v1/auth/register', '/app/#/welcome');
wire('signin', '/api/v1/auth/login', '/app/#/inbox/waiting');
if (location.hash === '#signin') document.querySelector('#signin input').focus();
