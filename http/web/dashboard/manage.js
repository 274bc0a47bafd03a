// Administration and account pages: staff (invitation and reset links to
// copy when the instance has no SMTP), sites (settings in tabs, one Save
// each, a live preview, the dangerous actions apart in a danger zone),
// the audit log as sentences with details on demand, contact messages,
// canned responses (edited in place), the outbox (a mail opens), the
// signed-in member's sessions by device, and the welcome checklist.
// With billing on, what the plan lacks is shown locked, with its reason,
// before the click (`planInfo`, `quotaLock`, `featureLock`, `locked`).

import { api, h, clock, signOut, keep, webLink } from './api.js';
import { zoneSection } from './timezone.js';
import { browserZone, dateTime, zone, zones, time, sameDay } from './time.js';
import { formsCard, download, planCard, statusText } from './backoffice.js';
import { confirmDialog, toast, icon, fieldError } from './ui.js';

const fields = (form) => Object.fromEntries(new FormData(form));
const field = (label, input) => h('label', {}, label, input);
// A moment in a list, always with its day: "Today 12:24", "7 Dec, 12:24"; the full date on hover.
const when = (t) => h('time', { datetime: t, title: dateTime(t) + ` (${zone()})` }, sameDay(t, new Date()) ? 'Today ' + time(t) : clock(t));
const say = (el, text, bad) => { el.textContent = text; el.className = bad ? 'error' : 'muted'; };

async function tryApi(out, f) {
  try { await f(); } catch (e) { say(out, e.message, true); }
}

/** A link the owner or admin passes on by hand (no SMTP server to mail it). */
function linkBox(kind, email, link) {
  return h('div', { class: 'secret link-box', role: 'status' },
    h('p', {}, h('strong', {}, 'Mail is not configured on this instance. '),
      `Copy this ${kind} link and send it to ${email} yourself:`),
    h('code', {}, link), copyButton(() => link, 'Copy link'));
}

export async function staffPage(app, root) {
  const out = h('p', { role: 'status' });
  const links = h('div', { class: 'stack' });
  const body = h('tbody');
  const manage = app.can('manage');
  const info = manage ? await planInfo().catch(() => null) : null;
  const load = async () => {
    const r = await api('GET', '/api/v1/staff');
    body.replaceChildren(...r.items.map((s) => h('tr', {},
      h('td', {}, s.name || '—', h('div', { class: 'muted' }, s.email)),
      h('td', {}, manage && s.id !== app.live.me?.id
        ? h('select', { 'aria-label': 'Role of ' + s.email, onchange: (e) => tryApi(out, async () => { await api('PATCH', '/api/v1/staff/' + s.id, { role: e.target.value }); say(out, ''); toast('Role changed.'); }) },
          ['agent', 'admin', 'owner'].map((role) => h('option', { value: role, selected: role === s.role }, title(role))))
        : title(s.role)),
      h('td', {}, h('span', { class: 'pill ' + s.status }, statusText(s.status))),
      !manage ? null : s.id === app.live.me?.id
        // Nobody manages their own seat here: say so rather than leave a hole.
        ? h('td', { class: 'row-actions' }, h('span', { class: 'muted' }, 'You · '), h('a', { href: '#/account' }, 'Your account'))
        : h('td', { class: 'row-actions' },
        manage && s.id !== app.live.me?.id && s.status !== 'deactivated'
          ? h('button', { class: 'ghost', onclick: () => tryApi(out, async () => {
            const x = await api('POST', `/api/v1/staff/${s.id}/link`);
            const kind = s.status === 'invited' ? 'invitation' : 'password reset';
            if (x.link) links.replaceChildren(linkBox(kind, s.email, x.link));
            else { links.replaceChildren(); toast(`A ${kind} link was mailed to ${s.email}.`); }
          }) }, s.status === 'invited' ? 'Invite again' : 'Reset password') : null,
        manage && s.id !== app.live.me?.id && s.status !== 'invited'
          ? h('button', { class: 'ghost', onclick: () => tryApi(out, async () => {
            if (s.active && !await confirmDialog({ title: `Deactivate ${s.name || s.email}?`, body: 'Their sessions end at once; they cannot sign in until reactivated.', confirm: 'Deactivate', danger: true })) return;
            await api('PATCH', '/api/v1/staff/' + s.id, { active: !s.active });
            toast(s.active ? 'Deactivated.' : 'Reactivated.');
            await load();
          }) }, s.active ? 'Deactivate' : 'Reactivate') : null,
        manage && s.id !== app.live.me?.id
          ? h('button', { class: 'danger-outline', 'aria-label': 'Remove ' + s.email, onclick: () => tryApi(out, async () => {
            if (!await confirmDialog({ title: `Remove ${s.name || s.email}?`, body: 'Their sessions end at once; their messages keep their name.', confirm: 'Remove', danger: true })) return;
            await api('DELETE', '/api/v1/staff/' + s.id);
            say(out, '');
            toast('Removed.');
            await load();
          }) }, 'Remove') : null))));
  };
  const inviteButton = h('button', { type: 'submit' }, 'Invite');
  const invite = h('form', { class: 'stack card', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    const made = await api('POST', '/api/v1/staff', fields(e.target));
    e.target.reset();
    if (made.invite_link) {
      links.replaceChildren(linkBox('invitation', made.email, made.invite_link));
      say(out, 'Invitation created. Mail is not configured: copy its link below.');
    } else {
      links.replaceChildren();
      say(out, 'Invitation sent. Its delivery shows in the Outbox.');
    }
    await load();
  }); } }, h('h2', {}, 'Invite a colleague'),
  field('Name', h('input', { name: 'name', required: true })), field('Email', h('input', { name: 'email', type: 'email', required: true })),
  field('Role', h('select', { name: 'role' }, h('option', { value: 'agent' }, 'Agent'), h('option', { value: 'admin' }, 'Admin'), h('option', { value: 'owner' }, 'Owner'))),
  locked(inviteButton, quotaLock(info, 'staff'), 'invite-why'));
  root.replaceChildren(h('h1', {}, 'Staff'), out, links, h('div', { class: 'table-wrap' }, h('table', { class: 'cards' }, h('thead', {}, h('tr', {}, h('th', {}, 'Member'), h('th', {}, 'Role'), h('th', {}, 'Status'), manage ? h('th', {}, h('span', { class: 'sr' }, 'Actions')) : null)), body)),
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
    h('div', { class: 'pv-bubble', style: `${side};background:${s.color}`, 'aria-hidden': 'true' }, chatIcon()));
}

/** A speech-bubble icon (Lucide's message-circle, ISC licence). */
function chatIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: 22, height: 22, fill: 'none', stroke: '#fff', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' })) svg.setAttribute(k, v);
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', 'M7.9 20A9 9 0 1 0 4 16.1L2 22Z');
  svg.append(p);
  return svg;
}

const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];

/**
 * Business hours: set or not, a time zone, and each day open or closed with
 * its hours; apart from them, whether chat is offered only inside them (the
 * hours bound bookings either way).
 */
function hoursEditor(bh, chatOnly) {
  const on = h('input', { type: 'checkbox', name: 'hours_on', 'data-field': 'business_hours', checked: !!bh });
  const gate = h('input', { type: 'checkbox', name: 'chat_only_in_hours', 'data-field': 'chat_only_in_hours', checked: !!bh && chatOnly !== false });
  // The site's zone, else the browser's (or UTC): never merely the list's first.
  const want = bh?.timezone || browserZone() || 'UTC';
  const list = zones();
  const all = [...new Set(['UTC', ...list, want])];
  const tz = h('select', { name: 'timezone', 'data-field': 'timezone', 'aria-label': 'Time zone' },
    all.map((z) => h('option', { value: z, selected: z === want }, z.replaceAll('_', ' '))));
  const rows = DAYS.map(([d, label]) => {
    const set = bh?.days.find((x) => x.day === d);
    const open = h('input', { type: 'checkbox', 'aria-label': label + ' open', checked: bh ? !!set : !['sat', 'sun'].includes(d) });
    const from = h('input', { type: 'time', 'aria-label': label + ' from', value: set?.open || '09:00' });
    const to = h('input', { type: 'time', 'aria-label': label + ' to', value: set?.close || '17:00' });
    return { d, el: h('div', { class: 'day' }, h('label', { class: 'check' }, open, label), from, '–', to), open, from, to };
  });
  const sync = () => {
    if (on.disabled) return; // read-only: the form is disabled as a whole
    gate.disabled = !on.checked;
    if (!on.checked) gate.checked = false;
    for (const x of [tz, ...rows.flatMap((r) => [r.open, r.from, r.to])]) x.disabled = !on.checked;
  };
  on.addEventListener('change', () => { if (on.checked) gate.checked = true; sync(); });
  const el = h('fieldset', { class: 'stack' }, h('legend', {}, 'Business hours'),
    h('label', { class: 'check' }, on, 'Set business hours (bookings are offered inside them)'),
    h('label', {}, 'Time zone', tz), ...rows.map((r) => r.el),
    h('label', { class: 'check' }, gate, 'Offer chat only during these hours (the widget shows the offline form outside them; off: chat stays open around the clock)'));
  queueMicrotask(sync);
  return {
    el,
    value: () => on.checked
      ? { business_hours: { timezone: tz.value, days: rows.filter((r) => r.open.checked).map((r) => ({ day: r.d, open: r.from.value, close: r.to.value })) }, chat_only_in_hours: gate.checked }
      : { business_hours: null },
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
      h('button', { type: 'button', class: 'ghost', 'aria-label': 'Remove field', onclick: () => { el.remove(); items.splice(items.indexOf(item), 1); } }, 'Remove'));
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

// --- plans, as the pages show them ---

const title = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);
/** "1 site", "5 sites", "unlimited sites". */
export const count = (n, one, many = one + 's') => (n == null ? 'unlimited ' + many : `${n} ${n === 1 ? one : many}`);

/** The tenant's plan, usage and the plans on offer; `billing` false: nothing is limited. */
export async function planInfo() {
  const [t, plans] = await Promise.all([api('GET', '/api/v1/tenant'), api('GET', '/api/v1/plans')]);
  return { tenant: t, plans: plans.items, billing: !!t.billing?.enabled };
}

/** Why one more of `what` (`sites` or `staff`) is not allowed now, or null. */
export function quotaLock(info, what) {
  if (!info?.billing) return null;
  const t = info.tenant;
  const limit = t.limits[what];
  if (limit == null || t.usage[what] < limit) return null;
  const [one, many] = what === 'sites' ? ['site', 'sites'] : ['staff seat', 'staff seats'];
  const next = info.plans.find((p) => p.name !== t.plan && (p[what] == null || p[what] > limit));
  return `Your plan (${title(t.plan)}) includes ${count(limit, one, many)}` +
    (next ? ` — upgrade to ${title(next.name)} for ${count(next[what], one, many)}.` : '.');
}

/** Why `feature` is not available now, or null. */
export function featureLock(info, feature) {
  if (!info?.billing || info.tenant.limits.features.includes(feature)) return null;
  const next = info.plans.find((p) => p.features.includes(feature));
  return `Your plan (${title(info.tenant.plan)}) does not include ${feature.replaceAll('_', ' ')}` +
    (next ? ` — upgrade to ${title(next.name)} to use it.` : '.');
}

/** A control shown locked: disabled, with the reason beside it (and read with it). */
export function locked(control, reason, id) {
  if (!reason) return control;
  control.disabled = true;
  control.setAttribute('aria-describedby', id);
  return h('div', { class: 'locked' }, control, h('p', { class: 'lock-why', id }, reason));
}

// --- sites ---

const TABS = [['general', 'General'], ['widget', 'Widget'], ['hours', 'Hours'], ['prechat', 'Pre-chat'], ['bookings', 'Bookings'], ['security', 'Security']];
let lastTab = 'general';

/** Tabs with one panel each; arrow keys move between them (the WAI-ARIA pattern). */
function tabs(panels, current, onchange) {
  const buttons = TABS.map(([id, label]) => h('button', { type: 'button', role: 'tab', id: 'tab-' + id, class: 'tab',
    'aria-controls': 'panel-' + id, 'aria-selected': String(id === current), tabindex: id === current ? '0' : '-1',
    onclick: () => select(id) }, label));
  const list = h('div', { role: 'tablist', 'aria-label': 'Site settings', class: 'tabs' }, buttons);
  const select = (id) => {
    for (const [i, [tid]] of TABS.entries()) {
      buttons[i].setAttribute('aria-selected', String(tid === id));
      buttons[i].tabIndex = tid === id ? 0 : -1;
      panels[tid].hidden = tid !== id;
    }
    onchange(id);
    showTab(list, buttons[TABS.findIndex(([tid]) => tid === id)]);
  };
  list.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (j === undefined) return;
    e.preventDefault();
    const k = (j + TABS.length) % TABS.length;
    buttons[k].focus();
    select(TABS[k][0]);
  });
  for (const [id] of TABS) {
    panels[id].setAttribute('role', 'tabpanel');
    panels[id].id = 'panel-' + id;
    panels[id].setAttribute('aria-labelledby', 'tab-' + id);
    panels[id].hidden = id !== current;
  }
  // On a phone the tabs are one row that scrolls sideways: the current one in view,
  // and a fade on each edge that has more tabs past it.
  const edges = () => {
    list.classList.toggle('more-left', list.scrollLeft > 1);
    list.classList.toggle('more-right', list.scrollLeft + list.clientWidth < list.scrollWidth - 1);
  };
  list.addEventListener('scroll', edges, { passive: true });
  new ResizeObserver(edges).observe(list);
  requestAnimationFrame(() => { showTab(list, buttons[TABS.findIndex(([tid]) => tid === current)]); edges(); });
  return list;
}

/** Scrolls the tab row (not the page) so that tab `b` is fully in view. */
function showTab(list, b) {
  if (!b || !list.isConnected) return;
  const l = b.getBoundingClientRect().left - list.getBoundingClientRect().left + list.scrollLeft, r = l + b.offsetWidth;
  if (l < list.scrollLeft) list.scrollLeft = l;
  else if (r > list.scrollLeft + list.clientWidth) list.scrollLeft = r - list.clientWidth;
}

/** A reopen window in words: "Never", "1 hour", "7 days". */
function windowWords(secs) {
  if (!secs) return 'Never: always a new conversation';
  const [n, unit] = secs % 86400 === 0 ? [secs / 86400, 'day'] : secs % 3600 === 0 ? [secs / 3600, 'hour'] : secs % 60 === 0 ? [secs / 60, 'minute'] : [secs, 'second'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** The site's reopen window (`null`: the server's), as a choice of sensible spans. */
function reopenField(st) {
  const cur = st.reopen_window_secs;
  const spans = [...new Set([0, 300, 3600, 86400, 604800, 2592000, ...(cur == null ? [] : [cur])])].sort((a, b) => a - b);
  const select = h('select', { name: 'reopen_window_secs', 'aria-describedby': 'reopen-hint' },
    h('option', { value: '', selected: cur == null }, `Server default (${windowWords(st.reopen_window_default_secs || 0)})`),
    spans.map((s) => h('option', { value: String(s), selected: cur === s }, windowWords(s))));
  return h('div', { class: 'stack' }, field('Reopen a closed chat if the visitor writes within', select),
    h('p', { id: 'reopen-hint', class: 'muted' }, 'Within this time after a close, the visitor\'s next message reopens the same conversation (unless they rated it); after it, their message starts a new one.'));
}

/** One tab's form: its fields, and one Save that sends only them. */
function tabForm(out, manage, kids, patch) {
  // Errors show here, next to Save; success is the toast alone.
  const status = h('p', { role: 'status', class: 'muted' });
  const form = h('form', { class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    for (const x of form.querySelectorAll('[aria-invalid]')) fieldError(x, '');
    try {
      await patch(form);
      say(status, '');
      toast('Settings updated.');
    } catch (err) { refusedHere(form, status, err.detail || err.message, err.message); }
  } }, kids, manage ? h('div', { class: 'row-actions' }, h('button', { type: 'submit' }, 'Save'), status) : null);
  if (!manage) for (const el of form.elements) el.disabled = true;
  return form;
}

/**
 * A refused save, said next to the field it is about: the API names it first
 * (`business_hours: …`) or in its sentence (`timezone "X" must …`); the rest
 * goes beside the Save button.
 */
function refusedHere(form, status, message, human = message) {
  const m = /^(\w+)(?:\.\w+)?: (.*)$/s.exec(message) || /^(\w+) /.exec(message);
  const key = m?.[1].toLowerCase();
  const target = key && [...form.elements].find((x) => x.dataset?.field === key || x.name === key);
  if (!target) { say(status, human, true); return; }
  const said = m[2] || message;
  const text = said[0].toUpperCase() + said.slice(1) + (/[.!?]$/.test(said) ? '' : '.');
  say(status, 'Not saved: see the message above.', true);
  fieldError(target, text);
  if (!target.disabled) target.focus();
}

export async function sitesPage(app, root, id) {
  const out = h('p', { role: 'status' });
  const [r, info] = await Promise.all([api('GET', '/api/v1/sites'), planInfo().catch(() => null)]);
  const site = r.items.find((s) => s.id === id) || r.items[0];
  const manage = app.can('manage');
  const addButton = h('button', { type: 'submit' }, '+ Add site');
  const create = manage ? h('form', { class: 'row-actions add-site', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    const made = await api('POST', '/api/v1/sites', { name: fields(e.target).name });
    toast(`Site ${made.name} added.`);
    app.go('#/admin/sites/' + made.id);
  }); } }, h('input', { name: 'name', required: true, placeholder: 'New site name', 'aria-label': 'New site name' }),
  locked(addButton, quotaLock(info, 'sites'), 'add-site-why')) : null;
  const nav = h('div', { class: 'subnav' }, r.items.map((s) => h('a', { href: '#/admin/sites/' + s.id, 'aria-current': s.id === site?.id ? 'page' : false }, s.name)));
  const owner = app.live.me?.role === 'owner';
  const company = owner ? h('div', { class: info?.billing ? 'split wide' : '' }, await companyForm(out), info?.billing ? await planCard(app, out) : null) : null;
  if (!site) { root.replaceChildren(...[h('h1', {}, 'Sites'), company, out, h('p', {}, 'No site yet: add one to get its embed snippet.'), create].filter(Boolean)); return; }
  const st = site.settings;
  const patch = (body) => api('PATCH', '/api/v1/sites/' + site.id, body).then((x) => { if (x?.settings) site.settings = x.settings; return x; });

  // General: the name, the snippet and where to try it.
  const code = h('pre', { class: 'snippet' }, snippet(site.key));
  const copy = copyButton(() => snippet(site.key), 'Copy snippet');
  const general = h('div', { class: 'card stack' },
    tabForm(out, manage, [field('Name', h('input', { name: 'name', value: site.name, required: true }))],
      async (f) => {
        const x = await patch({ name: fields(f).name });
        const chip = nav.querySelector('[aria-current="page"]');
        if (chip) chip.textContent = x.name;
        root.querySelector('.site-title').textContent = x.name;
      }),
    h('h2', {}, 'Install'), h('p', { class: 'muted' }, 'Put this snippet on every page of your site, before </body>:'), code,
    h('div', { class: 'row-actions' }, copy,
      h('a', { href: '/demo?site=' + encodeURIComponent(site.key), target: '_blank' }, 'Try it on the demo page')));

  // Widget: how it looks, with a live preview.
  const pv = h('div', {}, preview(st));
  const widgetForm = tabForm(out, manage, [
    field('Colour', h('input', { name: 'color', type: 'color', value: st.color })),
    field('Position', h('select', { name: 'position' }, ['bottom_right', 'bottom_left'].map((p) => h('option', { value: p, selected: p === st.position }, p === 'bottom_right' ? 'Bottom right' : 'Bottom left')))),
    field('Widget colours', h('select', { name: 'theme' }, [['auto', 'Follow the visitor\'s light or dark mode'], ['light', 'Always light'], ['dark', 'Always dark']].map(([v, t]) => h('option', { value: v, selected: v === (st.theme || 'auto') }, t)))),
    field('Greeting', h('input', { name: 'greeting', value: st.greeting })),
    field('Offline message', h('textarea', { name: 'offline_message' }, st.offline_message)),
    reopenField(st)],
  (f) => { const d = fields(f); return patch({ color: d.color, position: d.position, theme: d.theme, greeting: d.greeting, offline_message: d.offline_message,
    reopen_window_secs: d.reopen_window_secs === '' ? null : Number(d.reopen_window_secs) }); });
  widgetForm.addEventListener('input', () => pv.replaceChildren(preview({ ...st, ...fields(widgetForm) })));
  const widget = h('div', { class: 'split' }, h('div', { class: 'card' }, widgetForm), h('div', { class: 'stack' }, h('strong', {}, 'Preview'), pv));

  const hours = hoursEditor(st.business_hours, st.chat_only_in_hours);
  // Saved hours let the Bookings tab turn bookings on: it is drawn again.
  const hoursPanel = h('div', { class: 'card' }, tabForm(out, manage, [hours.el], async () => {
    await patch(hours.value());
    bookings.replaceChildren(formsCard(site, out, manage));
  }));
  const prechat = preChatEditor(st.pre_chat_fields);
  const prechatPanel = h('div', { class: 'card' }, tabForm(out, manage, [prechat.el], () => patch({ pre_chat_fields: prechat.value() })));
  const bookings = h('div', { class: 'bookings-tab' }, formsCard(site, out, manage));

  const security = h('div', { class: 'stack' },
    h('div', { class: 'card' }, tabForm(out, manage, [
      field('Allowed origins (one per line; empty allows any)', h('textarea', { name: 'allowed_origins', rows: 3 }, st.allowed_origins.join('\n')))],
    (f) => patch({ allowed_origins: fields(f).allowed_origins.split(/\s+/).filter(Boolean) }))),
    manage ? identityCard(site, out, info) : null);

  const panels = { general, widget, hours: hoursPanel, prechat: prechatPanel, bookings, security };
  // `#/admin/sites/ID/bookings` opens that tab (links from other pages).
  const asked = location.hash.split('/')[4];
  if (TABS.some(([t]) => t === asked)) lastTab = asked;
  // The danger zone is about the whole site: it shows under General only.
  let danger = null;
  const tabList = tabs(panels, lastTab, (t) => { lastTab = t; if (danger) danger.hidden = t !== 'general'; });

  // Danger zone: apart from everything else, each asks first.
  const rotate = h('button', { class: 'danger', onclick: () => tryApi(out, async () => {
    if (!await confirmDialog({ title: 'Rotate the site key?', body: 'The current key stops working at once: every page with the old snippet shows no chat until you paste the new one.', confirm: 'Rotate key', danger: true })) return;
    await api('POST', `/api/v1/sites/${site.id}/rotate-key`, { key: 'site_key' });
    toast('Site key rotated: update the snippet on your pages.');
    await sitesPage(app, root, site.id);
  }) }, 'Rotate site key');
  const remove = h('button', { class: 'danger', onclick: () => tryApi(out, async () => {
    if (!await confirmDialog({ title: `Delete ${site.name}?`, body: 'Its widget stops working at once and its settings are gone. Conversations stay in the history.', confirm: 'Delete site', danger: true })) return;
    await api('DELETE', '/api/v1/sites/' + site.id);
    toast(`Site ${site.name} deleted.`);
    app.go('#/admin/sites');
    await sitesPage(app, root);
  }) }, 'Delete site');
  danger = manage ? h('section', { class: 'card danger-zone', 'aria-labelledby': 'danger-title' }, h('h2', { id: 'danger-title' }, 'Danger zone'),
    h('div', { class: 'danger-row' }, h('div', {}, h('strong', {}, 'Rotate the site key'), h('p', { class: 'muted' }, 'For a leaked key. Pages with the old snippet stop showing the chat.')), rotate),
    h('div', { class: 'danger-row' }, h('div', {}, h('strong', {}, 'Delete this site'), h('p', { class: 'muted' }, 'Its widget stops working at once.')), remove)) : null;
  if (danger) danger.hidden = lastTab !== 'general';

  // The open site's name heads its tabs; "+ Add site" sits beside it.
  const heading = h('h2', { class: 'site-title' }, site.name);
  root.replaceChildren(...[h('h1', {}, 'Sites'), company, r.items.length > 1 ? h('div', { class: 'sites-bar' }, nav) : null,
    h('div', { class: 'site-head' }, heading, create), out,
    tabList, ...Object.values(panels), danger].filter(Boolean));
}

/** A button that copies `text()` and says so. */
export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'ghost', onclick: async () => {
    try { await navigator.clipboard.writeText(text()); b.textContent = 'Copied'; toast('Copied to the clipboard.'); } catch (_) { b.textContent = 'Select and copy it'; }
    setTimeout(() => { b.textContent = label; }, 2000);
  } }, label);
  return b;
}

/** The workspace (tenant) name (owners only): it names the company, not a site. */
async function companyForm(out) {
  const t = await api('GET', '/api/v1/tenant');
  return h('form', { class: 'row-actions card company', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    await api('PATCH', '/api/v1/tenant', { name: fields(e.target).name });
    say(out, 'Workspace name saved.');
  }); } }, field('Workspace name', h('input', { name: 'name', value: t.name, required: true, autocomplete: 'organization' })),
  h('button', { type: 'submit' }, 'Save name'));
}

/** Identity verification: on or off; the secret is shown once, when made. */
function identityCard(site, out, info) {
  const on = !!site.settings.identity_verification;
  const secret = h('div', { class: 'secret', hidden: true, role: 'status' });
  const reveal = (s) => {
    secret.hidden = false;
    secret.replaceChildren(h('p', {}, 'Copy this secret to your server now; it is not shown again:'), h('code', {}, s),
      h('button', { class: 'ghost', onclick: () => navigator.clipboard?.writeText(s).catch(() => {}) }, 'Copy secret'));
  };
  const card = h('div', { class: 'stack card' }, h('strong', {}, 'Identity verification'),
    h('p', { class: 'muted' }, on
      ? 'On: when your site tells the chat who a signed-in visitor is (Parley.identify()), your server must also send a signature made with this secret (user_hash: the hex HMAC-SHA256 of your own ID for that user). Without it, the visitor is not identified.'
      : 'Off: a visitor could pretend to be another of your users by sending their ID. Turn it on so your server signs who each visitor is and nobody can pose as someone else.'),
    h('div', { class: 'row-actions' },
      locked(h('button', { class: on ? 'ghost' : '', onclick: () => tryApi(out, async () => {
        const r = await api('PATCH', '/api/v1/sites/' + site.id, { identity_verification: !on });
        site.settings = r.settings;
        const next = identityCard(site, out, info);
        card.replaceWith(next);
        if (!on) next.reveal(r.settings.identity_secret);
      }) }, on ? 'Turn off' : 'Turn on'), on ? null : featureLock(info, 'identity_verification'), 'identity-why'),
      on ? h('button', { class: 'danger', onclick: () => tryApi(out, async () => {
        if (!await confirmDialog({ title: 'Rotate the identity secret?', body: 'Your server must sign with the new secret: until it does, visitors cannot be identified.', confirm: 'Rotate secret', danger: true })) return;
        const r = await api('POST', `/api/v1/sites/${site.id}/rotate-key`, { key: 'identity_secret' });
        reveal(r.settings.identity_secret);
      }) }, 'Rotate secret') : null),
    secret);
  card.reveal = reveal;
  return card;
}

// What an audit action reads as, after the actor's name ("claimed", "changed the settings of").
const VERBS = {
  'conversation.claim': 'claimed', 'conversation.close': 'closed', 'conversation.reopen': 'reopened', 'conversation.transfer': 'transferred',
  'staff.create': 'added', 'staff.invite': 'invited', 'staff.invite_again': 'sent a new invitation to', 'staff.update': 'changed', 'staff.delete': 'removed',
  'staff.password_reset_sent': 'sent a password reset to', 'site.create': 'created', 'site.update': 'changed the settings of', 'site.delete': 'deleted',
  'site.rotate_key': 'rotated the key of', 'tenant.update': 'renamed', 'tenant.plan': 'changed the plan of', 'auth.login': 'signed in',
  'auth.logout': 'signed out', 'auth.logout_all': 'signed out everywhere', 'auth.password_reset_requested': 'asked for a password reset for',
  'campaign.create': 'wrote', 'campaign.update': 'edited', 'campaign.send': 'sent', 'canned.create': 'added', 'canned.update': 'edited',
  'canned.delete': 'deleted', 'webhook.create': 'added', 'webhook.delete': 'removed', 'webhook.rotate': 'rotated the secret of',
  'mail.retry': 'retried', 'visitor.erase': 'erased the data of', 'contact.update': 'updated', 'contact.reply': 'replied to', 'contact.note': 'added a note to',
  'consultation.update': 'updated', 'auth.login_failed': 'failed to sign in as', 'auth.password_change': 'changed the password of',
  'auth.password_reset': 'reset the password of', 'auth.refresh_reused': 'reused an old sign-in token of', 'auth.session_revoked': 'ended a session of',
  'consultation.booked': 'booked', 'staff.invitation_accepted': 'accepted the invitation of', 'subscriber.confirmed': 'confirmed',
  'tenant.register': 'created', 'visitor.erased': 'erased the data of', 'webhook.rotate_secret': 'rotated the secret of',
};
const SELF = new Set(['auth.login', 'auth.logout', 'auth.logout_all']);
export const sentenceOf = (a) => {
  const who = a.actor?.name || a.actor?.email || a.actor?.kind || 'Someone';
  const verb = VERBS[a.action] || a.action.replace(/[._]/g, ' ');
  return SELF.has(a.action) ? `${who} ${verb}` : `${who} ${verb} ${a.entity_label || ''}`.trim();
};

export async function auditPage(app, root) {
  const out = h('p', { role: 'status' });
  const list = h('ol', { class: 'audit-list', 'aria-label': 'Audit entries' });
  let cursor = null;
  const more = h('button', { class: 'ghost', hidden: true, onclick: () => load(true) }, 'Load more');
  const staff = (await api('GET', '/api/v1/staff')).items;
  const filters = h('form', { class: 'row-actions filters', onsubmit: (e) => { e.preventDefault(); load(false); } },
    h('select', { name: 'action', 'aria-label': 'What', onchange: () => load(false) }, [['', 'Everything'], ['conversation.', 'Conversations'], ['staff.', 'Staff'],
      ['site.', 'Sites'], ['auth.', 'Sign-ins'], ['campaign.', 'Newsletter'], ['canned.', 'Canned responses'], ['webhook.', 'Webhooks'], ['tenant.', 'Workspace']]
      .map(([v, l]) => h('option', { value: v }, l))),
    h('select', { name: 'actor_id', 'aria-label': 'Who', onchange: () => load(false) }, h('option', { value: '' }, 'By anyone'),
      staff.map((s) => h('option', { value: s.id }, s.name || s.email))),
    h('label', { class: 'inline' }, 'Since', h('input', { name: 'since', type: 'date' })), h('button', { type: 'submit' }, 'Filter'));
  const load = (next) => tryApi(out, async () => {
    const d = fields(filters);
    const q = new URLSearchParams({ limit: 50 });
    if (d.action) q.set('action', d.action);
    if (d.actor_id) q.set('actor_id', d.actor_id);
    if (d.since) q.set('since', new Date(d.since).toISOString());
    if (next && cursor) q.set('cursor', cursor);
    const r = await api('GET', '/api/v1/audit?' + q);
    const rows = r.items.map((a) => {
      const changes = a.changes && Object.keys(a.changes).length ? JSON.stringify(a.changes, null, 2) : null;
      return h('li', { class: 'audit-item' },
        h('time', { class: 'audit-when', datetime: a.at, title: dateTime(a.at) + ` (${zone()})` }, sameDay(a.at, new Date()) ? 'Today ' + time(a.at) : clock(a.at)),
        h('div', { class: 'audit-line' }, h('span', { class: 'audit-what' }, sentenceOf(a))),
        h('details', {}, h('summary', {}, 'Details'),
          h('dl', { class: 'kv' },
            h('dt', {}, 'When'), h('dd', {}, dateTime(a.at) + ` (${zone()})`),
            h('dt', {}, 'Action'), h('dd', {}, h('code', {}, a.action)),
            h('dt', {}, 'Device'), h('dd', {}, a.device || '—', a.user_agent ? h('div', { class: 'muted ua' }, a.user_agent) : null),
            h('dt', {}, 'IP'), h('dd', {}, a.ip || '—'),
            h('dt', {}, 'Changes'), h('dd', {}, changes ? h('pre', {}, changes) : 'Nothing recorded'))));
    });
    if (next) list.append(...rows); else list.replaceChildren(...rows);
    if (!next && !rows.length) list.append(h('li', { class: 'muted' }, 'Nothing recorded for these filters.'));
    cursor = r.next_cursor;
    more.hidden = !cursor;
  });
  root.replaceChildren(h('h1', {}, 'Audit log'), h('p', { class: 'muted' }, 'Who did what in this workspace, newest first.'), filters, out, list, more);
  await load(false);
}

export async function cannedPage(app, root) {
  const out = h('p', { role: 'status' });
  const list = h('div', { class: 'stack canned-list' });
  // A shortcut: lower-case letters, digits, - and _ (the `v`-flag pattern escapes the dash).
  const shortcut = (value = '') => h('input', { name: 'shortcut', required: true, pattern: '[a-z0-9_\\-]{1,32}', value, placeholder: 'thanks',
    title: '1 to 32 lower-case letters, digits, - or _', autocapitalize: 'off', spellcheck: 'false' });
  const editor = (c, done) => h('form', { class: 'stack', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    await api('PATCH', '/api/v1/canned-responses/' + c.id, fields(e.target));
    toast('Saved.');
    await done();
  }); } }, field('Shortcut', shortcut(c.shortcut)), field('Reply', h('textarea', { name: 'body', required: true, rows: 4 }, c.body)),
  h('div', { class: 'row-actions' }, h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', class: 'ghost', onclick: () => done() }, 'Cancel')));
  const load = async () => {
    const r = await api('GET', '/api/v1/canned-responses');
    list.replaceChildren(...r.items.map((c) => {
      const card = h('div', { class: 'card canned' });
      const view = () => card.replaceChildren(h('div', { class: 'row-actions canned-head' }, h('code', {}, '/' + c.shortcut),
        h('span', { class: 'spacer' }),
        h('button', { class: 'ghost', 'aria-label': 'Edit /' + c.shortcut, onclick: () => { card.replaceChildren(editor(c, load)); card.querySelector('input').focus(); } }, 'Edit'),
        h('button', { class: 'ghost', 'aria-label': 'Delete /' + c.shortcut, onclick: () => tryApi(out, async () => {
          if (!await confirmDialog({ title: `Delete /${c.shortcut}?`, body: 'Nobody can insert it any more.', confirm: 'Delete', danger: true })) return;
          await api('DELETE', '/api/v1/canned-responses/' + c.id);
          toast('Deleted.');
          await load();
        }) }, 'Delete')), h('p', { class: 'msg-body' }, c.body));
      view();
      return card;
    }));
    if (!r.items.length) list.append(h('p', { class: 'muted' }, 'No canned responses yet. Add your common answers, then type / and the shortcut in a reply.'));
  };
  const form = h('form', { class: 'stack card', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    await api('POST', '/api/v1/canned-responses', fields(e.target));
    e.target.reset();
    say(out, 'Saved. Type / and the shortcut in a reply.');
    await load();
  }); } }, h('h2', {}, 'Add a canned response'), field('Shortcut', shortcut()),
  field('Reply', h('textarea', { name: 'body', required: true })), h('button', { type: 'submit' }, 'Add'));
  root.replaceChildren(h('h1', {}, 'Canned responses'), out, h('div', { class: 'split wide' }, list, form));
  await load();
}

export async function contactsPage(app, root, id) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  const more = h('button', { class: 'ghost', hidden: true, onclick: () => load(true) }, 'Load more');
  const staff = (await api('GET', '/api/v1/staff')).items.filter((s) => s.active);
  const filters = h('form', { class: 'row-actions filter-bar', role: 'search', onsubmit: (e) => { e.preventDefault(); load(false); } },
    h('select', { name: 'status', 'aria-label': 'Filter by status', onchange: () => load(false) },
      ['', 'new', 'read', 'replied', 'archived'].map((v) => h('option', { value: v }, v ? statusText(v) : 'Any status'))),
    h('select', { name: 'assignee', 'aria-label': 'Filter by assignee', onchange: () => load(false) },
      h('option', { value: '' }, 'Assigned to: anyone'), h('option', { value: 'me' }, 'Assigned to: me'), h('option', { value: 'none' }, 'Unassigned')),
    h('input', { name: 'q', type: 'search', placeholder: 'Search name, email or message', 'aria-label': 'Search messages' }),
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
      h('td', {}, h('span', { class: 'pill ' + c.status }, statusText(c.status))), h('td', { class: 'received' }, when(c.created_at))));
    if (next) body.append(...rows); else body.replaceChildren(...rows);
    if (!next && !rows.length) {
      const filtered = d.status || d.assignee || d.q;
      body.append(h('tr', {}, h('td', { colspan: 4, class: 'empty empty-state' }, icon('mail'),
        h('p', {}, h('strong', {}, filtered ? 'No message matches these filters.' : 'No contact messages yet.')),
        h('p', {}, filtered ? 'Clear the search or pick another status.' : 'When nobody is available, the chat widget and your company page offer a contact form; what visitors send lands here to answer by mail.'))));
    }
    cursor = r.next_cursor;
    more.hidden = !cursor;
  });
  const detail = h('div', { class: 'stack' });
  const csv = app.can('manage') ? h('button', { class: 'ghost', onclick: () => download('/api/v1/contact-messages/export.csv', 'contact-messages.csv', out) }, 'Export CSV') : null;
  root.replaceChildren(h('h1', {}, 'Contact messages'), h('div', { class: 'row-actions' }, filters, csv), out,
    h('div', { class: 'split wide list-split' }, h('div', {}, h('table', { 'aria-label': 'Contact messages', class: 'contacts-list' },
      h('thead', {}, h('tr', {}, h('th', {}, 'From'), h('th', {}, 'Message'), h('th', {}, 'Status'), h('th', {}, 'Received'))), body), more), detail));
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
    h('p', { class: 'muted' }, dateTime(c.created_at), c.page_url ? h('span', {}, ' · from ', webLink(c.page_url)) : null),
    h('blockquote', { class: 'msg-body' }, c.message),
    h('div', { class: 'row-actions' },
      field('Status', h('select', { 'aria-label': 'Status', onchange: (e) => set({ status: e.target.value }) }, ['new', 'read', 'replied', 'archived'].map((v) => h('option', { value: v, selected: v === c.status }, statusText(v))))),
      field('Assignee', h('select', { 'aria-label': 'Assignee', onchange: (e) => set({ assignee: e.target.value || null }) }, h('option', { value: '' }, 'Nobody'),
        staff.map((s) => h('option', { value: s.id, selected: s.id === c.assignee }, s.name || s.email))))),
    h('ol', { class: 'thread', 'aria-label': 'Replies and notes' }, thread.map((e) => h('li', { class: e.reply ? 'reply' : 'note' },
      h('div', { class: 'muted' }, (e.reply ? 'Reply by ' : 'Note by ') + (e.by?.name || '') + ' · ', when(e.created_at)), h('div', { class: 'msg-body' }, e.body)))),
    entryForm('Reply to ' + c.email + ' (sent by mail)', 'replies', 'Send reply'),
    entryForm('Internal note (never sent)', 'notes', 'Add note')));
}

export async function accountPage(app, root) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  const me = app.live.me || {};
  const load = async () => {
    const r = await api('GET', '/api/v1/sessions');
    body.replaceChildren(...r.items.map((s) => h('tr', {},
      h('td', {}, h('span', { title: s.device || '' }, s.device_name || 'Unknown device'), s.current ? h('strong', {}, ' (this one)') : null),
      h('td', {}, s.ip || ''), h('td', {}, clock(s.last_seen_at || s.last_seen || s.created_at)),
      h('td', {}, s.current ? null : h('button', { class: 'ghost', 'aria-label': `Sign out ${s.device_name || 'device'} (${s.ip || ''})`, onclick: () => tryApi(out, async () => { await api('DELETE', '/api/v1/sessions/' + s.id); toast('Signed out.'); await load(); }) }, 'Sign out')))));
  };
  // One settings section: a heading, what it is for, its fields, its own Save.
  const section = (name, about, kids, onsave, button) => {
    const err = h('p', { class: 'error', role: 'alert' });
    return h('form', { class: 'card stack setting', 'aria-labelledby': 'set-' + name.toLowerCase().replace(/\W+/g, '-'), onsubmit: (e) => {
      e.preventDefault();
      err.textContent = '';
      onsave(e.target).catch((x) => { err.textContent = x.message; });
    } }, h('h2', { id: 'set-' + name.toLowerCase().replace(/\W+/g, '-') }, name), about ? h('p', { class: 'muted' }, about) : null, kids, err,
    h('div', { class: 'setting-foot' }, h('button', { type: 'submit' }, button)));
  };
  const profile = section('Profile', `${me.email || ''} · ${title(me.role || '')}`,
    field('Your name (visitors see it)', h('input', { name: 'name', required: true, value: me.name || '', autocomplete: 'name' })),
    async (form) => {
      const staff = await api('PATCH', '/api/v1/me', { name: fields(form).name });
      if (app.live.me) app.live.me.name = staff.name;
      toast('Name saved.');
    }, 'Save name');
  const mine = await api('GET', '/api/v1/me');
  const notices = section('Notifications', 'Which mail Parley sends you. Chats always show in the bell and the inbox.',
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'contact_alerts', checked: mine.prefs?.contact_alerts !== false }),
      'Mail me each new contact-form message'),
    async (form) => {
      const on = form.elements.contact_alerts.checked;
      await api('PATCH', '/api/v1/me', { contact_alerts: on });
      toast(on ? 'Saved: you will get contact messages by mail.' : 'Saved: no more contact messages by mail.');
    }, 'Save notifications');
  const password = section('Password', 'At least 10 characters, with letters and digits or symbols. Your other sessions end.', [
    field('Current password', h('input', { name: 'current_password', type: 'password', required: true, autocomplete: 'current-password' })),
    field('New password', h('input', { name: 'new_password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' }))],
  async (form) => {
    const v = fields(form);
    keep(await api('POST', '/api/v1/me/password', { current_password: v.current_password, new_password: v.new_password }));
    form.reset();
    toast('Password changed. Every other session was signed out.');
    await load();
  }, 'Change password');
  const sessions = h('section', { class: 'card stack setting', 'aria-labelledby': 'set-sessions' },
    h('h2', { id: 'set-sessions' }, 'Sessions'), h('p', { class: 'muted' }, 'Where you are signed in. Sign out a device you do not recognise.'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'cards sessions', 'aria-label': 'Sessions' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Device'), h('th', {}, 'IP address'), h('th', {}, 'Last active'), h('th', {}, h('span', { class: 'sr' }, 'Actions')))), body)),
    h('div', { class: 'setting-foot' }, h('button', { class: 'danger', onclick: () => tryApi(out, async () => {
      if (!await confirmDialog({ title: 'Sign out everywhere?', body: 'Every session ends, this one too.', confirm: 'Sign out everywhere', danger: true })) return;
      await api('POST', '/api/v1/auth/logout-all');
      signOut('You signed out everywhere.');
    }) }, 'Sign out everywhere')));
  const zoneCard = zoneSection(app);
  zoneCard.classList.add('setting');
  root.classList.add('settings-page');
  root.replaceChildren(h('h1', {}, 'Your account'), h('p', { class: 'muted' }, 'Your profile, time zone, notifications, password and sessions.'), out,
    h('div', { class: 'settings-stack' }, profile, zoneCard, notices, password, sessions));
  await load();
}

/** One mail opened: who, what, its state, its attempts and its rendered body. */
async function mailDetail(el, id, out, reload) {
  const m = await api('GET', '/api/v1/outbox/' + id);
  const frame = m.html ? h('iframe', { title: 'Mail: ' + m.subject, sandbox: '', class: 'preview-frame mail-frame' }) : null;
  if (frame) frame.srcdoc = `<!doctype html><meta charset="utf-8"><body style="font-family:system-ui;margin:12px">${m.html}</body>`;
  el.replaceChildren(h('div', { class: 'card stack mail-detail', role: 'region', 'aria-label': 'Mail ' + m.subject },
    h('div', { class: 'row-actions' }, h('h2', {}, m.subject), h('span', { class: 'spacer' }),
      h('button', { class: 'ghost', 'aria-label': 'Close the mail', onclick: () => { el.replaceChildren(); history.replaceState(null, '', '#/admin/outbox'); } }, 'Close')),
    h('dl', { class: 'kv' },
      h('dt', {}, 'To'), h('dd', {}, m.to),
      h('dt', {}, 'Status'), h('dd', {}, h('span', { class: 'pill ' + m.status }, statusText(m.status)), m.last_error ? h('span', { class: 'error' }, ' ' + m.last_error) : null),
      h('dt', {}, 'Queued'), h('dd', {}, clock(m.created_at)),
      m.sent_at ? [h('dt', {}, 'Sent'), h('dd', {}, clock(m.sent_at))] : null,
      h('dt', {}, 'Attempts'), h('dd', {}, m.history.length
        ? h('ol', { class: 'attempts' }, m.history.map((a) => h('li', {}, clock(a.at), ' · ', a.ok ? 'delivered' : 'failed', a.reply ? h('span', { class: 'muted' }, ' — ' + a.reply) : null)))
        : 'None yet')),
    m.status === 'failed' ? h('button', { onclick: () => tryApi(out, async () => {
      await api('POST', `/api/v1/outbox/${m.id}/retry`);
      toast('Queued again.');
      await reload();
      await mailDetail(el, id, out, reload);
    }) }, 'Retry') : null,
    frame || (m.body != null ? h('pre', { class: 'mail-text' }, m.body) : h('p', { class: 'muted' }, 'Only owners see mail bodies (they hold sign-in links).'))));
  el.querySelector('h2').tabIndex = -1;
  el.querySelector('h2').focus();
}

export async function outboxPage(app, root, id) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  const detail = h('div', { class: 'mail-pane' });
  const status = h('select', { 'aria-label': 'Status', onchange: () => tryApi(out, load) },
    ['', 'pending', 'sent', 'failed'].map((v) => h('option', { value: v }, v ? title(v) : 'All mail')));
  const open = (m) => tryApi(out, async () => {
    history.replaceState(null, '', '#/admin/outbox/' + m.id);
    await mailDetail(detail, m.id, out, load);
  });
  const load = async () => {
    const r = await api('GET', '/api/v1/outbox' + (status.value ? '?status=' + status.value : ''));
    body.replaceChildren(...r.items.map((m) => h('tr', { class: 'clickable', onclick: (e) => { if (!e.target.closest('button, a')) open(m); } },
      // The subject speaks for itself: no "Mail" label over it on a phone's card.
      h('td', { 'data-label': '' }, h('a', { href: '#/admin/outbox/' + m.id, onclick: (e) => { e.preventDefault(); open(m); } }, m.subject), h('div', { class: 'muted' }, m.to)),
      h('td', {}, h('span', { class: 'pill ' + m.status }, statusText(m.status)), m.attempts ? h('div', { class: 'muted' }, `${m.attempts} attempt${m.attempts > 1 ? 's' : ''}`) : null),
      // Without SMTP the banner above says why nothing leaves; each row need not repeat it.
      h('td', { class: 'hide-phone' }, m.sent_at ? clock(m.sent_at) : (m.last_error && !noSmtp ? h('span', { class: 'error' }, m.last_error) : '—')),
      // The queued time stays on a phone's card, on one line.
      h('td', { class: 'when' }, clock(m.created_at)))));
    if (!r.items.length) body.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No mail yet. Invitations, password resets and transcripts show up here.')));
  };
  // No SMTP server: nothing leaves, and the page says so before anything else.
  const tenant = await api('GET', '/api/v1/tenant').catch(() => null);
  const noSmtp = tenant?.mail && !tenant.mail.configured
    ? h('div', { class: 'notice warn', role: 'note', 'aria-labelledby': 'no-smtp-title' }, icon('alert'),
      h('div', {}, h('strong', { id: 'no-smtp-title' }, 'Mail is not being sent: no SMTP server is configured.'),
        h('p', {}, 'Invitations, password resets, transcripts and replies wait here as "pending" and will not leave until one is. ',
          'To send them, set ', h('code', {}, '[mail] smtp_url'), ' and ', h('code', {}, 'from'), ' in the server\'s config (or ',
          h('code', {}, 'PARLEY_SMTP_URL'), ' and ', h('code', {}, 'PARLEY_MAIL_FROM'), ') and restart Parley: the waiting mail goes out then. ',
          'Until then, Staff hands you invitation and reset links to copy.')))
    : null;
  root.replaceChildren(h('h1', {}, 'Outbox'), noSmtp, h('p', { class: 'muted' }, 'Every mail this workspace sends, and whether it was delivered. Open one to read it.'),
    h('p', {}, status), out,
    h('div', { class: 'split wide' }, h('div', { class: 'table-wrap' }, h('table', { class: 'cards', 'aria-label': 'Outgoing mail' }, h('thead', {}, h('tr', {}, h('th', {}, 'Mail'), h('th', {}, 'Status'), h('th', { class: 'hide-phone' }, 'Result'), h('th', { class: 'when' }, 'Queued'))), body)), detail));
  await load();
  if (id) await mailDetail(detail, id, out, load);
}

// --- welcome: the set-up checklist ---

/** The set-up steps and whether each is done, from the workspace's real state.
 * The snippet counts as installed once the server saw a site's widget load on
 * a page that is not Parley's own (`installed_at`; the demo and company pages
 * do not count). */
export async function setupSteps() {
  const [sites, staff, convs] = await Promise.all([api('GET', '/api/v1/sites'), api('GET', '/api/v1/staff'),
    api('GET', '/api/v1/conversations?limit=100')]);
  const installed = sites.items.find((s) => s.installed_at);
  return {
    site: installed || sites.items[0],
    installed: !!installed,
    teammate: staff.items.length > 1,
    hours: sites.items.some((s) => s.settings.business_hours),
    answered: convs.items.some((c) => c.assignee || c.status === 'closed'),
  };
}

export async function welcomePage(app, root) {
  const s = await setupSteps();
  const site = s.site;
  const snippetBox = () => h('div', { class: 'stack' },
    h('p', {}, 'Put this snippet on every page of your site, before </body>:'), h('pre', { class: 'snippet' }, site ? snippet(site.key) : ''),
    h('div', { class: 'row-actions' }, site ? copyButton(() => snippet(site.key), 'Copy snippet') : null,
      h('a', { href: '/demo?site=' + encodeURIComponent(site?.key || ''), target: '_blank' }, 'Try it on the demo page')));
  const install = s.installed
    // Done: when and where, and the snippet folded away (a toggle shows it).
    ? h('div', { class: 'stack' }, h('p', { class: 'muted' }, `The chat first loaded on ${site.name} on ${dateTime(site.installed_at)}.`),
      h('details', { class: 'snippet-toggle' }, h('summary', {}, h('span', { class: 'shut' }, 'Show snippet'), h('span', { class: 'open' }, 'Hide snippet')), snippetBox()))
    : h('div', { class: 'stack' }, snippetBox(),
      h('p', { class: 'muted' }, 'This ticks by itself once the chat loads on a page of your site (the demo page does not count).'),
      h('div', { class: 'row-actions' }, h('button', { type: 'button', class: 'ghost', onclick: async () => { await welcomePage(app, root); toast(root.querySelector('li.done[data-step="installed"]') ? 'Installed: the chat is on your site.' : 'Not seen on your site yet.'); } },
        icon('history'), 'Check again')));
  const steps = [
    ['installed', 'Install the chat on your site', install],
    ['teammate', 'Invite a teammate', h('p', {}, h('a', { href: '#/admin/staff' }, 'Invite a colleague'), ' so nobody waits alone.')],
    ['hours', 'Set your business hours', h('p', {}, 'Tell visitors when someone answers: ', h('a', { href: '#/admin/sites' }, 'Sites → Hours'), '.')],
    ['answered', 'Answer your first chat', h('p', {}, 'Open the demo page in another window, write as a visitor, and answer from the ', h('a', { href: '#/inbox/waiting' }, 'inbox'), '.')],
  ];
  const done = steps.filter(([k]) => s[k]).length;
  root.replaceChildren(h('h1', {}, 'Welcome to Parley'),
    h('p', { class: 'muted' }, done === steps.length ? 'All set: your workspace is ready.' : 'Finish setting up, and you are ready for your first visitor:'),
    h('div', { class: 'setup-progress' }, h('progress', { max: steps.length, value: done, 'aria-label': 'Set-up progress' }),
      h('strong', {}, `${done} of ${steps.length} done`)),
    h('ol', { class: 'checklist', 'aria-label': 'Set-up checklist' }, steps.map(([k, label, more]) => h('li', { class: s[k] ? 'done' : '', 'data-step': k },
      h('div', { class: 'check-head' }, h('span', { class: 'tick', 'aria-hidden': 'true' }, s[k] ? icon('check') : ''), h('strong', {}, label),
        h('span', { class: s[k] ? 'step-state done' : 'sr' }, s[k] ? 'Done' : ' (to do)')),
      s[k] && k !== 'installed' ? null : more))));
}
