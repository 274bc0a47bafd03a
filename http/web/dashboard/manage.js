// Administration and account pages: staff, sites (settings with a live
// preview, embed snippet, key rotation), audit log, contact messages,
// canned responses, and the signed-in member's sessions.

import { api, h, clock, session, signOut, keep, webLink } from './api.js';
import { formsCard, download, planCard } from './backoffice.js';

const fields = (form) => Object.fromEntries(new FormData(form));
const field = (label, input) => h('label', {}, label, input);
const say = (el, text, bad) => { el.textContent = text; el.className = bad ? 'error' : 'muted'; };

async function tryApi(out, f) {
  try { await f(); } catch (e) { say(out, e.message, true); }
}

export async function staffPage(app, root) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  const manage = app.can('manage');
  const load = async () => {
    const r = await api('GET', '/api/v1/staff');
    body.replaceChildren(...r.items.map((s) => h('tr', {},
      h('td', {}, s.name || '—', h('div', { class: 'muted' }, s.email)),
      h('td', {}, manage && s.id !== app.live.me?.id
        ? h('select', { 'aria-label': 'Role of ' + s.email, onchange: (e) => tryApi(out, async () => { await api('PATCH', '/api/v1/staff/' + s.id, { role: e.target.value }); say(out, 'Role changed.'); }) },
          ['agent', 'admin', 'owner'].map((role) => h('option', { value: role, selected: role === s.role }, role)))
        : s.role),
      h('td', {}, s.status),
      h('td', { class: 'row-actions' }, manage && s.id !== app.live.me?.id && s.status !== 'invited'
        ? h('button', { class: 'ghost', onclick: () => tryApi(out, async () => { await api('PATCH', '/api/v1/staff/' + s.id, { active: !s.active }); await load(); }) },
          s.active ? 'Deactivate' : 'Reactivate') : null,
      manage && s.id !== app.live.me?.id
        ? h('button', { class: 'danger', 'aria-label': 'Remove ' + s.email, onclick: () => tryApi(out, async () => {
          if (!confirm(`Remove ${s.name || s.email}? Their sessions end at once; their messages keep their name.`)) return;
          await api('DELETE', '/api/v1/staff/' + s.id);
          say(out, 'Removed.');
          await load();
        }) }, 'Remove') : null))));
  };
  const invite = h('form', { class: 'stack card', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    await api('POST', '/api/v1/staff', fields(e.target));
    e.target.reset();
    say(out, 'Invitation sent. Its delivery shows in the Outbox.');
    await load();
  }); } }, h('strong', {}, 'Invite a colleague'),
  field('Name', h('input', { name: 'name', required: true })), field('Email', h('input', { name: 'email', type: 'email', required: true })),
  field('Role', h('select', { name: 'role' }, h('option', {}, 'agent'), h('option', {}, 'admin'), h('option', {}, 'owner'))),
  h('button', { type: 'submit' }, 'Invite'));
  root.replaceChildren(h('h1', {}, 'Staff'), out, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Member'), h('th', {}, 'Role'), h('th', {}, 'Status'), h('th', {}, ''))), body),
    h('div', { style: 'margin-top:1rem' }, manage ? invite : null));
  await load();
}

const snippet = (key) => `<script src="${location.origin}/widget.js" data-site="${key}" async></script>`;

function preview(s) {
  const left = s.position === 'bottom_left';
  const side = left ? 'left:14px' : 'right:14px';
  return h('div', { class: 'preview', 'aria-label': 'Widget preview' },
    h('div', { class: 'pv-panel', style: side }, h('div', { class: 'pv-head', style: 'background:' + s.color }, s.greeting || 'Chat'),
      h('div', { class: 'pv-body' }, 'Write a message…')),
    h('div', { class: 'pv-bubble', style: `${side};background:${s.color}` }, '💬'));
}

const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
const zones = () => { try { return Intl.supportedValuesOf('timeZone'); } catch (_) { return ['UTC']; } };

/** Business hours: on or off, a time zone, and each day open or closed with its hours. */
function hoursEditor(bh) {
  const on = h('input', { type: 'checkbox', name: 'hours_on', checked: !!bh });
  const tz = h('select', { name: 'timezone', 'aria-label': 'Time zone' },
    zones().map((z) => h('option', { value: z, selected: z === (bh?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone) }, z)));
  const rows = DAYS.map(([d, label]) => {
    const set = bh?.days.find((x) => x.day === d);
    const open = h('input', { type: 'checkbox', 'aria-label': label + ' open', checked: bh ? !!set : !['sat', 'sun'].includes(d) });
    const from = h('input', { type: 'time', 'aria-label': label + ' from', value: set?.open || '09:00' });
    const to = h('input', { type: 'time', 'aria-label': label + ' to', value: set?.close || '17:00' });
    return { d, el: h('div', { class: 'day' }, h('label', { class: 'check' }, open, label), from, '–', to), open, from, to };
  });
  const el = h('fieldset', { class: 'stack' }, h('legend', {}, 'Business hours'),
    h('label', { class: 'check' }, on, 'Offer chat only during these hours (the widget shows the offline form outside them)'),
    h('label', {}, 'Time zone', tz), ...rows.map((r) => r.el));
  return {
    el,
    value: () => on.checked
      ? { timezone: tz.value, days: rows.filter((r) => r.open.checked).map((r) => ({ day: r.d, open: r.from.value, close: r.to.value })) }
      : null,
  };
}

/** Pre-chat fields: what the widget asks before the first message. */
function preChatEditor(fieldsNow) {
  const list = h('div', { class: 'stack' });
  // What the widget does with a field depends on its name: `name` and
  // `email` tell staff who the visitor is; anything else is shown as given.
  const KINDS = [['name', 'Name', 'text'], ['email', 'Email', 'email'], ['phone', 'Phone', 'phone'], ['other', 'Other text', 'text']];
  const row = (f = { name: 'email', label: 'Your email', kind: 'email', required: true }) => {
    const label = h('input', { 'aria-label': 'Field label', value: f.label, placeholder: 'e.g. Your email', required: true });
    const which = ['name', 'email', 'phone'].includes(f.name) ? f.name : 'other';
    const kind = h('select', { 'aria-label': 'Field kind' }, KINDS.map(([v, l]) => h('option', { value: v, selected: v === which }, l)));
    const req = h('input', { type: 'checkbox', 'aria-label': 'Required', checked: f.required });
    const el = h('div', { class: 'row-actions prechat' }, label, kind, h('label', { class: 'check' }, req, 'required'),
      h('button', { type: 'button', class: 'ghost', 'aria-label': 'Remove field', onclick: () => { el.remove(); items.splice(items.indexOf(item), 1); } }, '✕'));
    const slug = () => label.value.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '').slice(0, 40) || 'field';
    const item = { el, value: () => {
      const k = KINDS.find(([v]) => v === kind.value);
      const name = k[0] === 'other' ? (which === 'other' && f.name ? f.name : slug()) : k[0];
      return { name, label: label.value, kind: k[2], required: req.checked };
    } };
    items.push(item);
    list.append(el);
  };
  const items = [];
  (fieldsNow || []).forEach(row);
  return {
    el: h('fieldset', { class: 'stack' }, h('legend', {}, 'Pre-chat form'), h('p', { class: 'muted' }, 'Asked before the first message; none: visitors write straight away.'),
      list, h('button', { type: 'button', class: 'ghost', onclick: () => row() }, 'Add a field')),
    value: () => items.map((i) => i.value()),
  };
}

export async function sitesPage(app, root, id) {
  const out = h('p', { role: 'status' });
  const r = await api('GET', '/api/v1/sites');
  const site = r.items.find((s) => s.id === id) || r.items[0];
  const manage = app.can('manage');
  const create = manage ? h('form', { class: 'row-actions', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    const made = await api('POST', '/api/v1/sites', { name: fields(e.target).name });
    app.go('#/admin/sites/' + made.id);
  }); } }, h('input', { name: 'name', required: true, placeholder: 'New site name', 'aria-label': 'New site name' }), h('button', { type: 'submit' }, 'Add site')) : null;
  const nav = h('div', { class: 'subnav' }, r.items.map((s) => h('a', { href: '#/admin/sites/' + s.id, 'aria-current': s.id === site?.id ? 'page' : false }, s.name)));
  const company = app.live.me?.role === 'owner' ? h('div', { class: 'split wide' }, await companyForm(out), await planCard(app, out)) : null;
  if (!site) { root.replaceChildren(h('h1', {}, 'Sites'), company, out, h('p', {}, 'No site yet: add one to get its embed snippet.'), create); return; }
  const st = site.settings;
  const pv = h('div', {}, preview(st));
  const hours = hoursEditor(st.business_hours);
  const prechat = preChatEditor(st.pre_chat_fields);
  const form = h('form', { class: 'stack', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    const d = fields(form);
    await api('PATCH', '/api/v1/sites/' + site.id, {
      name: d.name, color: d.color, position: d.position, greeting: d.greeting, offline_message: d.offline_message,
      allowed_origins: d.allowed_origins.split(/\s+/).filter(Boolean),
      business_hours: hours.value(), pre_chat_fields: prechat.value(), theme: d.theme,
    });
    say(out, 'Saved.');
  }); }, oninput: () => { const d = fields(form); pv.replaceChildren(preview({ ...st, ...d })); } },
  field('Name', h('input', { name: 'name', value: site.name, required: true })),
  field('Colour', h('input', { name: 'color', type: 'color', value: st.color })),
  field('Position', h('select', { name: 'position' }, ['bottom_right', 'bottom_left'].map((p) => h('option', { value: p, selected: p === st.position }, p.replace('_', ' '))))),
  field('Widget colours', h('select', { name: 'theme' }, [['auto', 'Follow the visitor\'s light or dark mode'], ['light', 'Always light'], ['dark', 'Always dark']].map(([v, t]) => h('option', { value: v, selected: v === (st.theme || 'auto') }, t)))),
  field('Greeting', h('input', { name: 'greeting', value: st.greeting })),
  field('Offline message', h('textarea', { name: 'offline_message' }, st.offline_message)),
  field('Allowed origins (one per line; empty allows any)', h('textarea', { name: 'allowed_origins' }, st.allowed_origins.join('\n'))),
  hours.el, prechat.el,
  manage ? h('button', { type: 'submit' }, 'Save') : null);
  if (!manage) for (const el of form.elements) el.disabled = true;
  const code = h('pre', {}, snippet(site.key));
  const copy = h('button', { class: 'ghost', onclick: async () => {
    try { await navigator.clipboard.writeText(snippet(site.key)); say(out, 'Copied.'); } catch (_) { say(out, 'Select the snippet and copy it.', true); }
  } }, 'Copy snippet');
  const rotate = manage ? h('button', { class: 'danger', onclick: () => tryApi(out, async () => {
    if (!confirm('The current key stops working at once. Rotate?')) return;
    await api('POST', `/api/v1/sites/${site.id}/rotate-key`, { key: 'site_key' });
    await sitesPage(app, root, site.id);
  }) }, 'Rotate site key') : null;
  const remove = manage ? h('button', { class: 'danger', onclick: () => tryApi(out, async () => {
    if (!confirm(`Delete ${site.name}? Its widget stops working at once.`)) return;
    await api('DELETE', '/api/v1/sites/' + site.id);
    app.go('#/admin/sites');
    await sitesPage(app, root);
  }) }, 'Delete site') : null;
  root.replaceChildren(h('h1', {}, 'Sites'), company, nav, create, out, h('div', { class: 'split' }, h('div', { class: 'card' }, form),
    h('div', { class: 'stack' }, h('strong', {}, 'Preview'), pv, h('strong', {}, 'Embed'), code, h('div', { class: 'row-actions' }, copy, rotate),
      h('a', { href: '/demo?site=' + encodeURIComponent(site.key), target: '_blank' }, 'Try it on the demo page'),
      manage ? identityCard(site, out) : null, formsCard(site, out, manage), remove)));
}

/** The company name (owners only). */
async function companyForm(out) {
  const t = await api('GET', '/api/v1/tenant');
  return h('form', { class: 'row-actions card company', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    await api('PATCH', '/api/v1/tenant', { name: fields(e.target).name });
    say(out, 'Company name saved.');
  }); } }, field('Company name', h('input', { name: 'name', value: t.name, required: true, autocomplete: 'organization' })),
  h('button', { type: 'submit' }, 'Save name'));
}

/** Identity verification: on or off; the secret is shown once, when made. */
function identityCard(site, out) {
  const on = !!site.settings.identity_verification;
  const secret = h('div', { class: 'secret', hidden: true, role: 'status' });
  const reveal = (s) => {
    secret.hidden = false;
    secret.replaceChildren(h('p', {}, 'Copy this secret to your server now; it is not shown again:'), h('code', {}, s),
      h('button', { class: 'ghost', onclick: () => navigator.clipboard?.writeText(s).catch(() => {}) }, 'Copy secret'));
  };
  const card = h('div', { class: 'stack card' }, h('strong', {}, 'Identity verification'),
    h('p', { class: 'muted' }, on
      ? 'On: Parley.identify() needs user_hash = hex HMAC-SHA256 of user_id with the secret, computed on your server.'
      : 'Off: anyone can claim any user_id. Turn it on so identities cannot be forged.'),
    h('div', { class: 'row-actions' },
      h('button', { class: on ? 'ghost' : '', onclick: () => tryApi(out, async () => {
        const r = await api('PATCH', '/api/v1/sites/' + site.id, { identity_verification: !on });
        site.settings = r.settings;
        const next = identityCard(site, out);
        card.replaceWith(next);
        if (!on) next.reveal(r.settings.identity_secret);
      }) }, on ? 'Turn off' : 'Turn on'),
      on ? h('button', { class: 'danger', onclick: () => tryApi(out, async () => {
        if (!confirm('Sites using the old secret fail to identify visitors until updated. Rotate?')) return;
        const r = await api('POST', `/api/v1/sites/${site.id}/rotate-key`, { key: 'identity_secret' });
        reveal(r.settings.identity_secret);
      }) }, 'Rotate secret') : null),
    secret);
  card.reveal = reveal;
  return card;
}

export async function auditPage(app, root) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  let cursor = null;
  const more = h('button', { class: 'ghost', hidden: true, onclick: () => load(true) }, 'Load more');
  const filters = h('form', { class: 'row-actions', onsubmit: (e) => { e.preventDefault(); load(false); } },
    h('input', { name: 'action', placeholder: 'action (e.g. staff. or conversation.claim)', 'aria-label': 'Action' }),
    h('input', { name: 'actor_id', placeholder: 'actor id', 'aria-label': 'Actor id' }),
    h('input', { name: 'since', type: 'date', 'aria-label': 'Since' }), h('button', { type: 'submit' }, 'Filter'));
  const load = (next) => tryApi(out, async () => {
    const d = fields(filters);
    const q = new URLSearchParams({ limit: 50 });
    if (d.action) q.set('action', d.action);
    if (d.actor_id) q.set('actor_id', d.actor_id);
    if (d.since) q.set('since', new Date(d.since).toISOString());
    if (next && cursor) q.set('cursor', cursor);
    const r = await api('GET', '/api/v1/audit?' + q);
    const rows = r.items.map((a) => h('tr', {}, h('td', {}, clock(a.at || a.created_at)), h('td', {}, a.actor?.email || a.actor?.kind || ''),
      h('td', {}, h('code', {}, a.action)), h('td', {}, (a.entity_type || '') + ' ' + (a.entity_id || '')), h('td', { class: 'hide-phone' }, a.ip || '')));
    if (next) body.append(...rows); else body.replaceChildren(...rows);
    cursor = r.next_cursor;
    more.hidden = !cursor;
  });
  root.replaceChildren(h('h1', {}, 'Audit log'), filters, out,
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Who'), h('th', {}, 'Action'), h('th', {}, 'What'), h('th', { class: 'hide-phone' }, 'IP'))), body), more);
  await load(false);
}

export async function cannedPage(app, root) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  const load = async () => {
    const r = await api('GET', '/api/v1/canned-responses');
    body.replaceChildren(...r.items.map((c) => h('tr', {}, h('td', {}, h('code', {}, '/' + c.shortcut)), h('td', { style: 'white-space:pre-wrap' }, c.body),
      h('td', {}, h('button', { class: 'ghost', onclick: () => tryApi(out, async () => { await api('DELETE', '/api/v1/canned-responses/' + c.id); await load(); }) }, 'Delete')))));
  };
  const form = h('form', { class: 'stack card', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    await api('POST', '/api/v1/canned-responses', fields(e.target));
    e.target.reset();
    say(out, 'Saved. Type / and the shortcut in a reply.');
    await load();
  }); } }, field('Shortcut', h('input', { name: 'shortcut', required: true, pattern: '[a-z0-9_-]{1,32}', placeholder: 'thanks' })),
  field('Reply', h('textarea', { name: 'body', required: true })), h('button', { type: 'submit' }, 'Add'));
  root.replaceChildren(h('h1', {}, 'Canned responses'), out, h('table', {}, body), h('div', { style: 'margin-top:1rem' }, form));
  await load();
}

export async function contactsPage(app, root, id) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  const more = h('button', { class: 'ghost', hidden: true, onclick: () => load(true) }, 'Load more');
  const staff = (await api('GET', '/api/v1/staff')).items.filter((s) => s.active);
  const filters = h('form', { class: 'row-actions', onsubmit: (e) => { e.preventDefault(); load(false); } },
    h('select', { name: 'status', 'aria-label': 'Filter by status', onchange: () => load(false) },
      ['', 'new', 'read', 'replied', 'archived'].map((v) => h('option', { value: v }, v || 'Any status'))),
    h('select', { name: 'assignee', 'aria-label': 'Filter by assignee', onchange: () => load(false) },
      h('option', { value: '' }, 'Anyone'), h('option', { value: 'me' }, 'Mine'), h('option', { value: 'none' }, 'Unassigned')),
    h('input', { name: 'q', type: 'search', placeholder: 'Search name, email, message…', 'aria-label': 'Search' }),
    h('button', { type: 'submit' }, 'Search'));
  let cursor = null;
  const load = (next) => tryApi(out, async () => {
    const d = fields(filters);
    const q = new URLSearchParams({ limit: 50 });
    for (const k of ['status', 'assignee', 'q']) if (d[k]) q.set(k, d[k]);
    if (next && cursor) q.set('cursor', cursor);
    const r = await api('GET', '/api/v1/contact-messages?' + q);
    const rows = r.items.map((c) => h('tr', { class: c.status === 'new' ? 'unread' : '' },
      h('td', {}, h('a', { href: '#/contacts/' + c.id }, c.name || c.email), h('div', { class: 'muted' }, c.email)),
      h('td', { class: 'prev' }, c.service ? h('strong', {}, c.service + ' · ') : null, c.message.slice(0, 140)),
      h('td', {}, h('span', { class: 'pill ' + c.status }, c.status)), h('td', { class: 'hide-phone' }, clock(c.created_at))));
    if (next) body.append(...rows); else body.replaceChildren(...rows);
    if (!next && !rows.length) body.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No messages here. The widget shows its contact form when nobody is available.')));
    cursor = r.next_cursor;
    more.hidden = !cursor;
  });
  const detail = h('div', { class: 'stack' });
  const csv = app.can('manage') ? h('button', { class: 'ghost', onclick: () => download('/api/v1/contact-messages/export.csv', 'contact-messages.csv', out) }, 'Export CSV') : null;
  root.replaceChildren(h('h1', {}, 'Contact messages'), h('div', { class: 'row-actions' }, filters, csv), out,
    h('div', { class: 'split wide' }, h('div', {}, h('table', { 'aria-label': 'Contact messages' }, body), more), detail));
  await load(false);
  if (id) await contactDetail(detail, id, staff, out, () => load(false));
}

async function contactDetail(root, id, staff, out, reload) {
  const c = await api('GET', '/api/v1/contact-messages/' + id);
  if (c.status === 'new') {
    Object.assign(c, await api('PATCH', '/api/v1/contact-messages/' + id, { status: 'read' }));
    reload();
  }
  const set = (patch) => tryApi(out, async () => {
    await api('PATCH', '/api/v1/contact-messages/' + id, patch);
    say(out, 'Saved.');
    reload();
  });
  const thread = [...c.replies.map((e) => ({ ...e, reply: true })), ...c.notes].sort((a, b) => a.created_at.localeCompare(b.created_at));
  const entryForm = (label, path, button) => h('form', { class: 'stack', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    await api('POST', `/api/v1/contact-messages/${id}/${path}`, { body: fields(e.target).body });
    say(out, path === 'replies' ? 'Reply sent.' : 'Note added.');
    await contactDetail(root, id, staff, out, reload);
    reload();
  }); } }, field(label, h('textarea', { name: 'body', required: true, rows: 3 })), h('button', { type: 'submit' }, button));
  root.replaceChildren(h('div', { class: 'card stack contact' },
    h('h2', {}, c.name || c.email),
    h('p', {}, h('a', { href: 'mailto:' + c.email }, c.email), c.phone ? ' · ' + c.phone : '', c.service ? ' · ' + c.service : ''),
    h('p', { class: 'muted' }, clock(c.created_at), c.page_url ? h('span', {}, ' · from ', webLink(c.page_url)) : null),
    h('blockquote', { class: 'msg-body' }, c.message),
    h('div', { class: 'row-actions' },
      field('Status', h('select', { 'aria-label': 'Status', onchange: (e) => set({ status: e.target.value }) }, ['new', 'read', 'replied', 'archived'].map((v) => h('option', { value: v, selected: v === c.status }, v)))),
      field('Assignee', h('select', { 'aria-label': 'Assignee', onchange: (e) => set({ assignee: e.target.value || null }) }, h('option', { value: '' }, 'Nobody'),
        staff.map((s) => h('option', { value: s.id, selected: s.id === c.assignee }, s.name || s.email))))),
    h('ol', { class: 'thread', 'aria-label': 'Replies and notes' }, thread.map((e) => h('li', { class: e.reply ? 'reply' : 'note' },
      h('div', { class: 'muted' }, (e.reply ? 'Reply by ' : 'Note by ') + (e.by?.name || '') + ' · ' + clock(e.created_at)), h('div', { class: 'msg-body' }, e.body)))),
    entryForm('Reply to ' + c.email + ' (sent by mail)', 'replies', 'Send reply'),
    entryForm('Internal note (never sent)', 'notes', 'Add note')));
}

export async function accountPage(app, root) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  const me = app.live.me || {};
  const load = async () => {
    const r = await api('GET', '/api/v1/sessions');
    body.replaceChildren(...r.items.map((s) => h('tr', {}, h('td', {}, s.device || s.user_agent || 'Unknown device', s.current ? h('strong', {}, ' (this one)') : null),
      h('td', {}, s.ip || ''), h('td', {}, clock(s.last_seen_at || s.last_seen || s.created_at)),
      h('td', {}, s.current ? null : h('button', { class: 'ghost', onclick: () => tryApi(out, async () => { await api('DELETE', '/api/v1/sessions/' + s.id); await load(); }) }, 'Sign out')))));
  };
  const profile = h('form', { class: 'stack card', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    const staff = await api('PATCH', '/api/v1/me', { name: fields(e.target).name });
    if (app.live.me) app.live.me.name = staff.name;
    say(out, 'Name saved.');
  }); } }, h('h2', {}, 'Profile'), h('p', { class: 'muted' }, `${me.email || ''} · ${me.role || ''}`),
  field('Your name (visitors see it)', h('input', { name: 'name', required: true, value: me.name || '', autocomplete: 'name' })),
  h('button', { type: 'submit' }, 'Save name'));
  const mine = await api('GET', '/api/v1/me');
  const alerts = h('input', { type: 'checkbox', checked: mine.prefs?.contact_alerts !== false,
    onchange: (e) => tryApi(out, async () => {
      await api('PATCH', '/api/v1/me', { contact_alerts: e.target.checked });
      say(out, e.target.checked ? 'You will get contact messages by mail.' : 'No more contact messages by mail.');
    }) });
  const notices = h('div', { class: 'stack card' }, h('h2', {}, 'Mail'),
    h('label', { class: 'check' }, alerts, 'Mail me each new contact-form message'));
  const password = h('form', { class: 'stack card', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    const v = fields(e.target);
    keep(await api('POST', '/api/v1/me/password', { current_password: v.current_password, new_password: v.new_password }));
    e.target.reset();
    say(out, 'Password changed. Every other session was signed out.');
    await load();
  }); } }, h('h2', {}, 'Password'),
  field('Current password', h('input', { name: 'current_password', type: 'password', required: true, autocomplete: 'current-password' })),
  field('New password', h('input', { name: 'new_password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' })),
  h('p', { class: 'muted' }, 'At least 10 characters, with letters and digits or symbols. Other sessions end.'),
  h('button', { type: 'submit' }, 'Change password'));
  root.replaceChildren(h('h1', {}, 'Your account'), out, h('div', { class: 'grid2' }, profile, password, notices),
    h('h2', {}, 'Sessions'), h('table', {}, body),
    h('p', {}, h('button', { class: 'danger', onclick: () => tryApi(out, async () => {
      await api('POST', '/api/v1/auth/logout-all');
      signOut('You signed out everywhere.');
    }) }, 'Sign out everywhere')));
  await load();
}

export async function outboxPage(app, root) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  const status = h('select', { 'aria-label': 'Status', onchange: () => tryApi(out, load) },
    ['', 'pending', 'sent', 'failed'].map((v) => h('option', { value: v }, v || 'All')));
  const load = async () => {
    const r = await api('GET', '/api/v1/outbox' + (status.value ? '?status=' + status.value : ''));
    body.replaceChildren(...r.items.map((m) => h('tr', {},
      h('td', {}, m.subject, h('div', { class: 'muted' }, m.to)),
      h('td', {}, h('span', { class: 'pill ' + m.status }, m.status), m.attempts ? h('div', { class: 'muted' }, `${m.attempts} attempt${m.attempts > 1 ? 's' : ''}`) : null),
      h('td', {}, m.sent_at ? clock(m.sent_at) : (m.last_error ? h('span', { class: 'error' }, m.last_error) : '—')),
      h('td', {}, clock(m.created_at)),
      h('td', {}, m.status === 'failed' ? h('button', { class: 'ghost', onclick: () => tryApi(out, async () => {
        await api('POST', `/api/v1/outbox/${m.id}/retry`);
        say(out, 'Queued again.');
        await load();
      }) }, 'Retry') : null))));
    if (!r.items.length) body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No mail yet. Invitations, password resets and transcripts show up here.')));
  };
  root.replaceChildren(h('h1', {}, 'Outbox'), h('p', { class: 'muted' }, 'Every mail this workspace sends, and whether it was delivered.'),
    h('p', {}, status), out,
    h('table', { 'aria-label': 'Outgoing mail' }, h('thead', {}, h('tr', {}, h('th', {}, 'Mail'), h('th', {}, 'Status'), h('th', {}, 'Sent / last error'), h('th', {}, 'Queued'), h('th', {}, ''))), body));
  await load();
}

export async function welcomePage(app, root) {
  const r = await api('GET', '/api/v1/sites');
  const site = r.items[0];
  root.replaceChildren(h('h1', {}, 'Welcome to Parley'),
    h('p', {}, 'Put this snippet on every page of your site, before </body>:'), h('pre', {}, site ? snippet(site.key) : ''),
    h('p', {}, 'Try it now: open ', h('a', { href: '/demo?site=' + encodeURIComponent(site?.key || ''), target: '_blank' }, 'the demo page'),
      ' in another window, write as a visitor, and answer from the ', h('a', { href: '#/inbox/waiting' }, 'inbox'), '.'));
  session.get();
}
