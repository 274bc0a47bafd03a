// The company site's back office in the dashboard: consultations (a week
// calendar and a list), the newsletter (subscribers, CSV, campaigns with a
// preview), webhooks (endpoints, secrets shown once, delivery log), the
// bell, and each site's form settings (services, booking rules).

import { api, h, clock, token, icon } from './api.js';
import { day, time, span, sameDay, zone } from './time.js';
import { confirmDialog, toast, fieldError } from './ui.js';
import { planInfo, featureLock, locked, count } from './manage.js';

const fields = (form) => Object.fromEntries(new FormData(form));
const field = (label, input) => h('label', {}, label, input);
const say = (el, text, bad) => { el.textContent = text; el.className = bad ? 'error' : 'muted'; };
async function tryApi(out, f) {
  try { await f(); } catch (e) { say(out, e.message, true); }
}

/** Downloads a CSV the API answers (it needs the bearer token). */
export async function download(path, name, out) {
  await tryApi(out, async () => {
    const r = await fetch(path, { headers: { authorization: 'Bearer ' + await token() } });
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error?.message || r.statusText);
    const url = URL.createObjectURL(await r.blob());
    const a = h('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}

// --- site settings: services and consultations ---

/** The card on a site's settings with its contact services and booking rules. */
export function formsCard(site, out, canManage) {
  const st = site.settings;
  const c = st.consultations || {};
  const num = (name, label, value, min, max) => field(label, h('input', { name, type: 'number', min, max, value, required: true }));
  // A refusal about the bookings switch (no business hours, no such staff) is said next to it.
  const refused = (err) => {
    const said = err.detail || err.message;
    if (!/^(business_hours|consultations)\b/i.test(said)) throw err;
    fieldError(form.elements.enabled, said.replace(/^[\w.]+: /, '').replace(/^./, (c) => c.toUpperCase()).replace(/([^.!?])$/, '$1.'));
    form.elements.enabled.focus();
  };
  const form = h('form', { class: 'stack card', 'aria-labelledby': 'forms-title', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    fieldError(form.elements.enabled, '');
    const d = fields(form);
    const lines = (v) => v.split('\n').map((s) => s.trim()).filter(Boolean);
    const r = await api('PATCH', '/api/v1/sites/' + site.id, {
      services: lines(d.services),
      consultations: {
        enabled: form.elements.enabled.checked, slot_minutes: +d.slot_minutes, buffer_minutes: +d.buffer_minutes,
        min_notice_hours: +d.min_notice_hours, horizon_days: +d.horizon_days, topics: lines(d.topics),
      },
    }).catch(refused);
    if (!r) return;
    site.settings = r.settings;
    say(out, 'Form settings saved.');
  }); } },
  h('strong', { id: 'forms-title' }, 'Contact form and bookings'),
  field('Services visitors can pick (one per line)', h('textarea', { name: 'services', rows: 3 }, (st.services || []).join('\n'))),
  h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'enabled', checked: !!c.enabled, disabled: !st.business_hours?.days?.length && !c.enabled, 'aria-describedby': 'bookings-hours' }), ' Take consultation bookings (inside the business hours)'),
  // Bookings are offered inside business hours only (the API refuses them without any).
  h('p', { id: 'bookings-hours', class: 'muted' }, st.business_hours?.days?.length ? 'Slots are offered inside the business hours (the Hours tab).' : 'Set and save business hours in the Hours tab first: bookings are offered inside them.'),
  h('div', { class: 'grid2' },
    num('slot_minutes', 'Length (minutes)', c.slot_minutes ?? 30, 5, 480),
    num('buffer_minutes', 'Buffer between (minutes)', c.buffer_minutes ?? 0, 0, 240),
    num('min_notice_hours', 'Notice (hours)', c.min_notice_hours ?? 2, 0, 1440),
    num('horizon_days', 'Bookable ahead (days)', c.horizon_days ?? 30, 1, 365)),
  field('Topics (one per line; empty: any)', h('textarea', { name: 'topics', rows: 3 }, (c.topics || []).join('\n'))),
  h('p', { class: 'muted' }, 'Company page (contact form, booking, newsletter and chat, no code needed): ',
    h('a', { href: '/s/' + encodeURIComponent(site.key), target: '_blank' }, location.origin + '/s/' + site.key)),
  h('details', {}, h('summary', {}, 'Embed a form on your own pages'),
    ['contact', 'booking', 'newsletter'].map((f) => h('pre', {}, `<iframe src="${location.origin}/s/${site.key}?form=${f}" title="${f}" style="width:100%;min-height:${f === 'newsletter' ? 160 : 560}px;border:0"></iframe>`))),
  canManage ? h('button', { type: 'submit' }, 'Save form settings') : null);
  if (!canManage) for (const el of form.elements) el.disabled = true;
  return form;
}

// --- consultations ---

const STATUSES = ['requested', 'confirmed', 'completed', 'cancelled', 'no_show'];
const label = (s) => s.replace('_', ' ');
/** A status as a pill or a filter shows it: "No show", "Requested". */
export const statusText = (s) => (s ? s[0].toUpperCase() + s.slice(1).replace(/_/g, ' ') : '');
// The week grid runs in the viewer's zone (Account's, else the browser's):
// midnight there, the nearest one to `d` (so a DST change never shifts a day).
const inZone = (d, o) => new Intl.DateTimeFormat('en-US', { ...o, timeZone: zone() }).formatToParts(d);
const midnight = (d) => {
  const p = Object.fromEntries(inZone(d, { hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' }).map((x) => [x.type, x.value]));
  const since = ((+p.hour % 24) * 3600 + +p.minute * 60 + +p.second) * 1000 + d.getMilliseconds();
  return new Date(+d + (since > 432e5 ? 864e5 - since : -since));
};
const DAY_MS = 864e5;
const addDays = (d, n) => midnight(new Date(+d + n * DAY_MS));
const startOfWeek = (d) => {
  const wd = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(inZone(d, { weekday: 'short' })[0].value);
  return addDays(midnight(d), -Math.max(0, wd));
};
const dayName = (d) => day(d);
const hm = (t) => time(t);

export async function consultationsPage(app, root, id) {
  const out = h('p', { role: 'status' });
  const staff = (await api('GET', '/api/v1/staff')).items.filter((s) => s.active);
  const name = (sid) => { const s = staff.find((x) => x.id === sid); return s ? (s.name || s.email) : '—'; };
  let week = startOfWeek(new Date());
  const cal = h('div', { class: 'week', role: 'list', 'aria-label': 'Week calendar' });
  const body = h('tbody');
  const detail = h('div', { class: 'stack' });
  const title = h('h2', { class: 'week-title' });
  const sites = (await api('GET', '/api/v1/sites').catch(() => ({ items: [] }))).items;
  const empty = h('div', { class: 'empty empty-state', hidden: true });
  const zoneNote = h('p', { class: 'muted week-zone' });
  const status = h('select', { 'aria-label': 'Filter by status', onchange: () => load() }, h('option', { value: '' }, 'Any status'), STATUSES.map((s) => h('option', { value: s }, statusText(s))));
  const table = h('table', { 'aria-label': 'Consultations this week' },
    h('thead', {}, h('tr', {}, ['When', 'Who', 'Topic', 'With', 'Status'].map((t, i) => h('th', { class: i === 2 || i === 3 ? 'hide-phone' : '' }, t)))), body);
  const load = () => tryApi(out, async () => {
    const to = addDays(week, 7);
    const q = new URLSearchParams({ from: week.toISOString(), to: to.toISOString(), limit: 500 });
    if (status.value) q.set('status', status.value);
    const r = await api('GET', '/api/v1/consultations?' + q);
    const items = r.items.sort((a, b) => a.start.localeCompare(b.start));
    title.textContent = 'Week of ' + day(week, { long: true });
    zoneNote.textContent = 'Times in your time zone: ' + zone();
    const days = [...Array(7)].map((_, i) => addDays(week, i));
    cal.replaceChildren(...days.map((d) => {
      const mine = items.filter((b) => sameDay(b.start, d));
      return h('div', { class: 'wday', role: 'listitem', 'aria-label': dayName(d) }, h('div', { class: 'wday-name' }, dayName(d)),
        mine.length ? mine.map((b) => h('a', { class: 'slot pill ' + b.status, href: '#/consultations/' + b.id },
          h('strong', {}, hm(b.start)), ' ', b.name, b.topic ? h('span', { class: 'muted' }, ' · ' + b.topic) : null)) : h('div', { class: 'muted' }, '—'));
    }));
    body.replaceChildren(...items.map((b) => h('tr', {},
      h('td', {}, h('a', { href: '#/consultations/' + b.id }, clock(b.start))),
      h('td', {}, b.name, h('div', { class: 'muted' }, b.email)),
      h('td', { class: 'hide-phone' }, b.topic || '—'), h('td', { class: 'hide-phone' }, name(b.assignee)),
      h('td', {}, h('span', { class: 'pill ' + b.status }, statusText(b.status))))));
    // Nothing this week: say what appears here, and where bookings are turned on.
    const off = !sites.some((s) => s.settings?.consultations?.enabled);
    cal.hidden = off && !items.length;
    table.hidden = !items.length;
    empty.hidden = !!items.length;
    const first = sites.find((s) => !s.settings?.consultations?.enabled) || sites[0];
    empty.replaceChildren(icon('calendar'),
      h('p', {}, h('strong', {}, status.value ? `No ${label(status.value).toLowerCase()} consultations this week.` : 'No consultations this week.')),
      h('p', { class: 'muted' }, 'Visitors book a call from your company page and the chat; each booking appears here to confirm, complete or cancel.'),
      ...(off && first ? [app.can('manage')
        ? h('p', {}, 'Bookings are off. ', h('a', { href: `#/admin/sites/${first.id}/bookings` }, 'Turn them on in Sites › Bookings'))
        : h('p', { class: 'muted' }, 'Bookings are off: an owner or admin turns them on in Sites › Bookings.')] : []));
  });
  const move = (days) => { week = addDays(week, days); load(); };
  root.replaceChildren(h('h1', {}, 'Consultations'), out,
    h('div', { class: 'row-actions' }, h('button', { class: 'ghost', onclick: () => move(-7), 'aria-label': 'Previous week' }, '← Previous'),
      h('button', { class: 'ghost', onclick: () => { week = startOfWeek(new Date()); load(); } }, 'This week'),
      h('button', { class: 'ghost', onclick: () => move(7), 'aria-label': 'Next week' }, 'Next →'), status),
    title, zoneNote, cal,
    h('div', { class: 'split wide list-split' }, h('div', {}, table, empty), detail));
  await load();
  if (id) await bookingDetail(detail, id, staff, out, load);
}

async function bookingDetail(root, id, staff, out, reload) {
  const b = await api('GET', '/api/v1/consultations/' + id);
  const siteZone = (await api('GET', '/api/v1/sites/' + b.site_id).catch(() => null))?.settings?.business_hours?.timezone;
  const set = (patch) => tryApi(out, async () => {
    await api('PATCH', '/api/v1/consultations/' + id, patch);
    say(out, 'Saved.');
    await bookingDetail(root, id, staff, out, reload);
    reload();
  });
  const next = STATUSES.filter((s) => s === b.status || ({
    requested: ['confirmed', 'cancelled', 'completed', 'no_show'], confirmed: ['completed', 'cancelled', 'no_show'],
  }[b.status] || []).includes(s));
  root.replaceChildren(h('div', { class: 'card stack' },
    h('h2', {}, b.name), h('p', {}, h('a', { href: 'mailto:' + b.email }, b.email), b.phone ? ' · ' + b.phone : '', b.company ? ' · ' + b.company : ''),
    h('p', {}, h('strong', {}, span(b.start, b.end)), b.topic ? ' · ' + b.topic : '',
      siteZone && siteZone !== zone() ? h('span', { class: 'muted' }, h('br'), 'For the site: ' + span(b.start, b.end, { zone: siteZone })) : null,
      // The zone the visitor booked from (their browser's), and their own time when it differs.
      b.timezone ? h('span', { class: 'muted visitor-zone' }, h('br'), b.timezone !== zone()
        ? 'For the visitor: ' + span(b.start, b.end, { zone: b.timezone }) : 'The visitor\'s time zone: ' + b.timezone + ', the same as yours') : null),
    b.message ? h('blockquote', { class: 'msg-body' }, b.message) : null,
    h('div', { class: 'row-actions' },
      field('Status', h('select', { 'aria-label': 'Status', onchange: async (e) => {
        const to = e.target.value;
        const ok = await confirmDialog({ title: `Mark as ${label(to)}?`, body: `${b.name}'s consultation on ${clock(b.start)} becomes “${label(to)}”.` +
          (['cancelled', 'completed', 'no_show'].includes(to) ? ' This cannot be undone.' : ''), confirm: 'Mark as ' + label(to), danger: to === 'cancelled' || to === 'no_show' });
        if (ok) set({ status: to }); else e.target.value = b.status;
      } },
        next.map((s) => h('option', { value: s, selected: s === b.status }, statusText(s))))),
      field('With', h('select', { 'aria-label': 'Assignee', onchange: (e) => set({ assignee: e.target.value || null }) },
        h('option', { value: '' }, 'Anyone free'), staff.map((s) => h('option', { value: s.id, selected: s.id === b.assignee }, s.name || s.email))))),
    h('form', { class: 'stack', onsubmit: (e) => { e.preventDefault(); set({ notes: fields(e.target).notes }); } },
      field('Notes (staff only)', h('textarea', { name: 'notes', rows: 3 }, b.notes || '')), h('button', { type: 'submit' }, 'Save notes')),
    h('ol', { class: 'thread', 'aria-label': 'History' }, b.history.map((e) => h('li', {}, h('span', { class: 'muted' }, clock(e.at) + ' · '), label(e.what), ' by ', e.by)))));
}

// --- newsletter ---

export async function newsletterPage(app, root) {
  const out = h('p', { role: 'status' });
  const body = h('tbody');
  // Everyone by default: a pending sign-up is somebody too.
  const status = h('select', { 'aria-label': 'Filter subscribers', onchange: () => load() },
    [['all', 'All subscribers'], ['confirmed', 'Confirmed'], ['pending', 'Pending'], ['unsubscribed', 'Unsubscribed']]
      .map(([v, l]) => h('option', { value: v }, l)));
  const none = {
    all: 'Nobody has subscribed yet. Your company page has a sign-up form.',
    confirmed: 'No confirmed subscriber yet: a sign-up counts once its owner clicks the link in the mail.',
    pending: 'Nobody is waiting to confirm.',
    unsubscribed: 'Nobody has unsubscribed.',
  };
  const load = () => tryApi(out, async () => {
    const r = await api('GET', '/api/v1/newsletter?limit=500&status=' + status.value);
    body.replaceChildren(...r.items.map((s) => h('tr', {}, h('td', {}, s.email), h('td', { class: 'hide-phone' }, s.name || ''),
      h('td', {}, h('span', { class: 'pill ' + s.status }, statusText(s.status))),
      h('td', { class: 'hide-phone' }, s.history.map((e) => `${HAPPENED[e.status] || statusText(e.status)} ${clock(e.at)}`).join(' → ')))));
    if (!r.items.length) body.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, none[status.value] || none.all)));
  });
  // No SMTP server: pending sign-ups cannot get their confirmation mail, and the page says so.
  const waiting = h('div', { hidden: true });
  const checkWaiting = async () => {
    const [t, p] = await Promise.all([api('GET', '/api/v1/tenant').catch(() => null), api('GET', '/api/v1/newsletter?limit=500&status=pending').catch(() => null)]);
    const n = p?.items?.length || 0;
    if (!t?.mail || t.mail.configured || !n) { waiting.hidden = true; return; }
    const many = `${n}${p.next_cursor ? '+' : ''}`;
    waiting.replaceChildren(h('div', { class: 'notice warn', role: 'note' }, icon('alert'),
      h('p', {}, n === 1 && !p.next_cursor ? '1 subscriber is waiting to confirm; mail is not configured, so they can\'t yet.'
        : `${many} subscribers are waiting to confirm; mail is not configured, so they can't yet.`)));
    waiting.hidden = false;
  };
  const campaigns = h('div', { class: 'stack' });
  const preview = h('div', { class: 'stack' });
  const info = await planInfo().catch(() => null);
  const sendLock = featureLock(info, 'campaigns');
  const loadCampaigns = () => tryApi(out, async () => {
    const r = await api('GET', '/api/v1/newsletter/campaigns');
    campaigns.replaceChildren(...r.items.map((c, i) => h('div', { class: 'card row-actions campaign' },
      h('strong', {}, c.subject), h('span', { class: 'pill ' + c.status }, statusText(c.status) + (c.status !== 'draft' ? ` · ${c.queued} queued` : '')),
      h('span', { class: 'spacer' }),
      h('button', { class: 'ghost', onclick: () => show(c.id) }, 'Preview'),
      c.status === 'draft' ? h('button', { class: 'ghost', 'aria-label': 'Edit ' + c.subject, onclick: () => edit(c) }, 'Edit') : null,
      c.status === 'draft' ? locked(h('button', { onclick: () => tryApi(out, async () => {
        if (!await confirmDialog({ title: `Send “${c.subject}”?`, body: 'It goes to every confirmed subscriber, through the outbox. A sent newsletter cannot be edited or recalled.', confirm: 'Send now' })) return;
        await api('POST', `/api/v1/newsletter/campaigns/${c.id}/send`);
        say(out, 'Sending: it goes out through the outbox.');
        toast('Sending.');
        loadCampaigns();
      }) }, 'Send'), sendLock, 'send-why-' + i) : null)));
    if (!r.items.length) campaigns.append(h('p', { class: 'muted no-campaign' }, 'No newsletter yet: write your first one with the form here.'));
  });
  // The form writes a new draft, or rewrites the one being edited.
  let editing = null;
  const heading = h('h2', {}, 'Write a newsletter');
  const saveButton = h('button', { type: 'submit' }, 'Save draft');
  const cancelEdit = h('button', { type: 'button', class: 'ghost', hidden: true, onclick: () => edit(null) }, 'Cancel');
  const edit = (c) => {
    editing = c;
    write.elements.subject.value = c?.subject || '';
    write.elements.body.value = c?.body || '';
    heading.textContent = c ? `Edit “${c.subject}”` : 'Write a newsletter';
    saveButton.textContent = c ? 'Save changes' : 'Save draft';
    cancelEdit.hidden = !c;
    if (c) write.elements.subject.focus();
  };
  const show = (id) => tryApi(out, async () => {
    const c = await api('GET', '/api/v1/newsletter/campaigns/' + id);
    const frame = h('iframe', { title: 'Preview of ' + c.subject, sandbox: '', class: 'preview-frame' });
    frame.srcdoc = `<!doctype html><meta charset="utf-8"><body style="font-family:system-ui;margin:16px">${c.preview.html}</body>`;
    preview.replaceChildren(h('div', { class: 'card stack' }, h('strong', {}, 'Subject: ' + c.preview.subject), frame));
  });
  const write = h('form', { class: 'stack card', onsubmit: (e) => { e.preventDefault(); tryApi(out, async () => {
    const d = fields(e.target);
    const c = editing
      ? await api('PATCH', '/api/v1/newsletter/campaigns/' + editing.id, { subject: d.subject, body: d.body })
      : await api('POST', '/api/v1/newsletter/campaigns', { subject: d.subject, body: d.body });
    edit(null);
    e.target.reset();
    say(out, 'Draft saved: preview it, then send.');
    toast('Draft saved.');
    await loadCampaigns();
    await show(c.id);
  }); } }, heading,
  field('Subject', h('input', { name: 'subject', required: true, maxlength: 200 })),
  field('Text (Markdown: **bold**, _italic_, [links](https://…), lists)', h('textarea', { name: 'body', required: true, rows: 8 })),
  h('div', { class: 'row-actions' }, saveButton, cancelEdit));
  root.replaceChildren(h('h1', {}, 'Newsletter'), waiting, out,
    h('div', { class: 'split wide' }, h('div', { class: 'stack' }, write, h('h2', {}, 'Campaigns'), campaigns), preview),
    h('h2', { class: 'subscribers-title' }, 'Subscribers'),
    h('div', { class: 'row-actions' }, status, h('button', { class: 'ghost', onclick: () => download('/api/v1/newsletter/export.csv', 'subscribers.csv', out) }, 'Export CSV')),
    h('table', { 'aria-label': 'Subscribers' }, h('thead', {}, h('tr', {}, h('th', {}, 'Email'), h('th', { class: 'hide-phone' }, 'Name'), h('th', {}, 'Status'), h('th', { class: 'hide-phone' }, 'History'))), body));
  await Promise.all([load(), loadCampaigns(), checkWaiting()]);
}

/** A subscriber's history in events, so it does not repeat the status column. */
const HAPPENED = { pending: 'Signed up', confirmed: 'Confirmed', unsubscribed: 'Unsubscribed' };

// --- webhooks ---

const EVENTS = ['conversation.created', 'conversation.closed', 'message.created', 'contact_message.created', 'consultation.booked', 'subscriber.confirmed'];
// What each event means, in words; its identifier (what the payload's `type` says) goes alongside in small type.
const EVENT_NAMES = {
  'conversation.created': 'New conversation', 'conversation.closed': 'Conversation closed', 'message.created': 'New chat message',
  'contact_message.created': 'Contact form message', 'consultation.booked': 'Consultation booked', 'subscriber.confirmed': 'Newsletter subscriber confirmed',
};
const eventName = (ev) => EVENT_NAMES[ev] || ev;

export async function webhooksPage(app, root) {
  const out = h('p', { role: 'status' });
  const lock = featureLock(await planInfo().catch(() => null), 'webhooks');
  const list = h('div', { class: 'stack' });
  const secret = h('div', { class: 'secret card stack', role: 'status', hidden: true });
  const reveal = (s, title = 'Endpoint added') => {
    secret.hidden = false;
    secret.replaceChildren(h('strong', {}, title), h('p', {}, 'Its signing secret — copy it now, it is not shown again:'),
      h('div', { class: 'secret-row' }, h('code', {}, s),
        h('button', { class: 'ghost', type: 'button', onclick: () => navigator.clipboard?.writeText(s).then(() => toast('Secret copied.')).catch(() => {}) }, icon('copy'), 'Copy secret')));
  };
  const log = h('div', { class: 'stack' });
  const load = () => tryApi(out, async () => {
    const r = await api('GET', '/api/v1/webhooks');
    list.replaceChildren(...r.items.map((w) => h('div', { class: 'card stack' },
      h('strong', { class: 'hook-url' }, w.url),
      h('ul', { class: 'hook-events', 'aria-label': 'Events' }, w.events.map((ev) => h('li', {}, eventName(ev), ' ', h('code', { class: 'event-id' }, ev)))),
      w.rotating_until ? h('p', { class: 'muted' }, 'The previous secret also signs until ' + clock(w.rotating_until)) : null,
      h('div', { class: 'row-actions' },
        h('button', { class: 'ghost', onclick: () => deliveries(w) }, 'Deliveries'),
        h('button', { class: 'ghost', onclick: () => tryApi(out, async () => {
          const x = await api('POST', `/api/v1/webhooks/${w.id}/rotate-secret`);
          reveal(x.secret, 'Secret rotated');
          load();
        }) }, 'Rotate secret'),
        h('button', { class: 'danger-outline', onclick: () => tryApi(out, async () => {
          if (!await confirmDialog({ title: 'Remove this endpoint?', body: `Parley stops sending events to ${w.url}.`, confirm: 'Remove', danger: true })) return;
          await api('DELETE', '/api/v1/webhooks/' + w.id);
          toast('Endpoint removed.');
          load();
        }) }, 'Remove')))));
    if (!r.items.length) {
      list.append(h('div', { class: 'card empty-state hooks-empty' }, icon('webhook'),
        h('p', {}, h('strong', {}, 'No endpoint yet')),
        h('p', {}, 'Add one with the form: Parley then sends each event you pick to it as a signed POST, so your own systems hear about new chats, messages and bookings.')));
    }
  });
  const deliveries = (w) => tryApi(out, async () => {
    const r = await api('GET', `/api/v1/webhooks/${w.id}/deliveries`);
    log.replaceChildren(h('h2', {}, 'Deliveries to ' + w.url), h('table', { 'aria-label': 'Deliveries' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Event'), h('th', {}, 'Status'), h('th', {}, 'Attempts'))),
      h('tbody', {}, r.items.map((d) => h('tr', {}, h('td', {}, eventName(d.event), ' ', h('code', { class: 'event-id' }, d.event), h('div', { class: 'muted' }, clock(d.created_at))),
        h('td', {}, h('span', { class: 'pill ' + d.status }, statusText(d.status))),
        h('td', {}, d.attempts.map((a) => `${a.status ?? 'no answer'} in ${a.ms} ms${a.error ? ' (' + a.error + ')' : ''}`).join('; ')))))));
  });
  const eventsBox = h('fieldset', { class: 'hook-events-pick' }, h('legend', {}, 'Events'), EVENTS.map((ev) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'ev-' + ev, onchange: () => fieldError(eventsBox, '') }), h('span', { class: 'ev-name' }, eventName(ev) + ' ', h('code', { class: 'event-id' }, ev)))));
  const form = h('form', { class: 'stack card', onsubmit: (e) => {
    e.preventDefault();
    out.textContent = '';
    const events = EVENTS.filter((ev) => form.elements['ev-' + ev].checked);
    // Said next to the events, before any request: nothing to send without one.
    if (!events.length) { fieldError(eventsBox, 'Pick at least one event.'); eventsBox.querySelector('input')?.focus(); return; }
    fieldError(eventsBox, '');
    tryApi(out, async () => {
      const w = await api('POST', '/api/v1/webhooks', { url: fields(form).url, events });
      out.textContent = '';
      reveal(w.secret);
      toast('Endpoint added.');
      form.reset();
      load();
    });
  } }, h('strong', {}, 'Add an endpoint'),
  field('URL', h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://example.com/hooks/parley' })),
  eventsBox,
  h('p', { class: 'muted' }, 'Each delivery is signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature) and retried with backoff until your endpoint answers 2xx.'),
  locked(h('button', { type: 'submit' }, 'Add endpoint'), lock, 'webhook-why'));
  root.replaceChildren(h('h1', {}, 'Webhooks'), ...(lock ? [h('p', { class: 'card lock-note' }, 'Webhooks are locked on your plan: ' + lock.replace(/^.* — /, '').replace('use it.', 'use them.')) ] : []), out, secret, h('div', { class: 'split wide' }, form, h('section', { class: 'stack hooks-list', 'aria-labelledby': 'hooks-title' }, h('h2', { id: 'hooks-title' }, 'Endpoints'), list)), log);
  await load();
}

// --- plan and usage ---

const meter = (label, used, limit) => h('div', { class: 'meter' }, h('span', {}, label),
  limit == null ? h('span', { class: 'muted' }, `${used} (unlimited)`)
    : [h('progress', { max: limit, value: Math.min(used, limit), 'aria-label': `${label}: ${used} of ${limit}` }), h('span', {}, `${used} / ${limit}`)]);
const cap = (s) => s[0].toUpperCase() + s.slice(1);

/** The tenant's plan with usage meters (shown only with billing on); owners
 * get upgrade buttons when the instance has a checkout page. */
export async function planCard(app, out) {
  const [t, plans] = await Promise.all([api('GET', '/api/v1/tenant'), api('GET', '/api/v1/plans')]);
  const l = t.limits;
  const owner = app.live.me?.role === 'owner' && t.billing?.checkout;
  const upgrade = (p) => h('button', { class: p.name === t.plan ? 'ghost' : '', disabled: p.name === t.plan, onclick: () => tryApi(out, async () => {
    const r = await api('POST', '/api/v1/billing/checkout', { plan: p.name });
    location.assign(r.url);
  }) }, p.name === t.plan ? `On ${cap(p.name)}` : `Go ${cap(p.name)} — $${(p.price_cents / 100).toFixed(0)}/mo`);
  return h('div', { class: 'card stack plan' }, h('h2', {}, `${cap(t.plan)} plan`),
    t.billing?.next_plan ? h('p', { class: 'muted' }, `Moves to ${t.billing.next_plan} on ${clock(t.billing.period_end)}.`) : null,
    t.billing?.status === 'past_due' ? h('p', { class: 'error' }, `A payment failed: the plan holds until ${clock(t.billing.grace_until)}.`) : null,
    meter('Conversations this month', t.usage.conversations_this_month, l.conversations_per_month),
    meter('Sites', t.usage.sites, l.sites), meter('Staff seats', t.usage.staff, l.staff),
    h('p', { class: 'muted' }, `Includes ${count(l.sites, 'site')}, ${count(l.staff, 'staff seat')}` +
      (l.features.length ? ', ' + l.features.join(', ').replaceAll('_', ' ') : '') + '.'),
    owner ? h('div', { class: 'row-actions' }, plans.items.filter((p) => p.price_cents > 0).map(upgrade)) : null);
}

// --- the bell ---

/** The header's bell: unread count, a list, live updates. */
export class Bell {
  constructor(app) {
    this.app = app;
    this.items = [];
    this.unread = 0;
    this.badge = h('span', { class: 'badge', hidden: true });
    this.button = h('button', { class: 'ghost bell', 'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-label': 'Notifications', onclick: () => this.toggle() }, icon('bell'), this.badge);
    this.panel = h('div', { class: 'bell-panel card', hidden: true, role: 'region', 'aria-label': 'Notifications' });
    this.el = h('div', { class: 'bell-wrap' }, this.button, this.panel);
    this.panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') { this.toggle(false); this.button.focus(); } });
    app.live.addEventListener('notification', (e) => {
      this.items.unshift(e.detail.notification);
      this.set(e.detail.unread);
      this.render();
      app.alert(e.detail.notification.title, '');
    });
    app.live.addEventListener('ready', () => this.load());
    document.addEventListener('click', (e) => { if (!this.panel.hidden && !this.el.contains(e.target)) this.toggle(false); });
  }

  set(n) {
    this.unread = n;
    this.badge.hidden = !n;
    this.badge.textContent = n;
    this.button.setAttribute('aria-label', n ? `Notifications, ${n} unread` : 'Notifications');
  }

  async load() {
    try {
      const r = await api('GET', '/api/v1/notifications');
      this.items = r.items;
      this.set(r.unread);
      this.render();
    } catch (_) {}
  }

  render() {
    const list = this.items.slice(0, 30).map((n) => h('li', { class: n.read ? '' : 'unread' },
      h('a', { href: n.link, onclick: () => { this.toggle(false); this.read([n.id]); } }, n.title), h('div', { class: 'muted' }, clock(n.created_at))));
    this.panel.replaceChildren(h('div', { class: 'row-actions bell-head' }, h('strong', {}, 'Notifications'),
      this.unread ? h('button', { class: 'ghost', onclick: () => this.read() }, 'Mark all read') : null),
    list.length ? h('ul', { class: 'bell-list' }, list) : h('p', { class: 'muted' }, 'Nothing new.'));
  }

  async read(ids) {
    try {
      const r = await api('POST', '/api/v1/notifications/read', ids ? { ids } : {});
      for (const n of this.items) if (!ids || ids.includes(n.id)) n.read = true;
      this.set(r.unread);
      this.render();
    } catch (_) {}
  }

  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) this.panel.querySelector('a, button')?.focus();
  }
}
