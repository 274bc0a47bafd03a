// Parley chat panel: runs in the widget's iframe on Parley's origin. It
// keeps the visitor token in this frame's storage, reconnects with backoff
// and jitter, resumes from the last seq seen, and re-sends unacknowledged
// messages with their client ids, so nothing is lost or shown twice.

const q = new URLSearchParams(location.search);
const site = q.get('site') || '';
// The embedding page's origin, as the loader gave it: the only window the
// panel talks to (its messages carry the visitor token and message bodies).
const host = /^https?:\/\/[^/?#\s]+$/.test(q.get('host') || '') ? q.get('host') : null;
const api = '/api/v1/public/' + encodeURIComponent(site);
const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
  '/ws/visitor?site=' + encodeURIComponent(site);
const K = { token: 'parley:t:' + site, queue: 'parley:q:' + site, pre: 'parley:p:' + site,
  // The closed conversation whose rating / transcript offer the visitor used.
  rated: 'parley:r:' + site, sent: 'parley:s:' + site };

const store = {
  get(k, d) { try { return JSON.parse(localStorage.getItem(k)) ?? d; } catch (_) { return d; } },
  set(k, v) { try { localStorage.setItem(k, JSON.stringify(v)); } catch (_) {} },
};

const h = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...kids);
  return e;
};

// Text with http(s) links made clickable; never parsed as HTML.
const linkify = (text) => {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(/\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g)) {
    out.push(text.slice(last, m.index), h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer nofollow' }, m[0]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
};
const time = (ts) => new Date(ts).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
// Avatars: initials on a colour picked from the person's id (or name). The
// same hash and palette as the dashboard's `avatarColour` (ui.js), so a
// person has one colour everywhere; white text on each meets AA contrast.
const HUES = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be123c', '#0e7490', '#4d7c0f', '#a21caf', '#c2410c', '#4338ca'];
const initials = (name) => (name || '?').trim().split(/\s+/).slice(0, 2).map((w) => w[0]).join('').toUpperCase() || '?';
const hue = (key) => {
  let x = 0x811c9dc5;
  for (const ch of String(key || '')) { x ^= ch.codePointAt(0); x = Math.imul(x, 0x01000193) >>> 0; }
  return HUES[x % HUES.length];
};
const avatar = (who) => {
  const el = h('span', { class: 'av', 'aria-hidden': 'true' }, initials(who?.name));
  el.style.setProperty('--a', hue(who?.id || who?.name || ''));
  return el;
};
// The WCAG contrast ratio of two `#rrggbb` colours.
const lum = (x) => [1, 3, 5].map((i) => parseInt(x.slice(i, i + 2), 16) / 255)
  .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now() + '-' + Math.random().toString(36).slice(2));
const toParent = (m) => parent !== window && host && parent.postMessage(m, host);

// --- state ---
let ws, cfg = {}, conv = null, lastSeq = 0, attempts = 0, timer, agents = false, isOpen = false;
// The loader hands over the visitor's token in the fragment: one visitor, whether
// tracked by the loader's socket or chatting here.
let given = decodeURIComponent(location.hash.slice(1)) || null, place = 0;
let unread = 0, readSent = 0, staffRead = 0, typingSent = 0, typingOff, identity = null, page = null;
const shown = new Map(); // message id -> element
const pending = new Map(store.get(K.queue, []).map((p) => [p.client_id, p])); // unacked sends

// --- view ---
const title = h('h1', {}, 'Chat');
const sub = h('span', { class: 'sub' });
const face = h('span', { hidden: true });
let agent = null; // the staff member who last wrote: shown in the header
const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
const typing = h('div', { class: 'typing', 'aria-live': 'polite' });
const note = h('div', { class: 'note', role: 'status' });
const line = h('div', { class: 'note', role: 'status' });
const input = h('textarea', { 'aria-label': 'Your message', placeholder: 'Write a message…', maxlength: 4000 });
const composer = h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); submit(); } },
  input, h('button', { type: 'submit' }, 'Send'));
const field = (name, label, type = 'text', req = false) =>
  h('label', {}, label, h('input', { name, type, required: req, autocomplete: name }));
const offline = h('form', { hidden: true, 'aria-label': 'Leave a message', onsubmit: (e) => { e.preventDefault(); contact(); } },
  h('p', { class: 'off' }), field('name', 'Name'), field('email', 'Email', 'email', true),
  h('label', {}, 'Message', h('textarea', { name: 'message', required: true })),
  h('div', { class: 'hp', 'aria-hidden': 'true' }, h('input', { name: 'website', tabindex: '-1', autocomplete: 'off' })),
  h('button', { type: 'submit' }, 'Send message'));
const stars = h('div', { class: 'stars', role: 'group', 'aria-label': 'Rate this conversation' });
let score = 0;
for (let i = 1; i <= 5; i++) {
  // Five stars of one size; choosing one lights it and those before it.
  stars.append(h('button', { type: 'button', 'aria-pressed': 'false', 'aria-label': i + ' of 5', onclick: () => {
    score = i;
    // Every lit star is pressed; the card grows, so the thread scrolls to show all of it.
    [...stars.children].forEach((b, j) => { b.setAttribute('aria-pressed', j < i); b.classList.toggle('on', j < i); });
    rateMore.hidden = false;
    requestAnimationFrame(() => { log.scrollTop = log.scrollHeight; });
  } }, '★'));
}
// The comment and its button appear once a star is chosen: the card stays small.
const rateMore = h('div', { class: 'row', hidden: true }, h('textarea', { name: 'comment', 'aria-label': 'Comment (optional)', placeholder: 'Comment (optional)' }),
  h('button', { type: 'submit' }, 'Send rating'));
const rating = h('form', { hidden: true, 'aria-label': 'Rate the conversation', onsubmit: (e) => { e.preventDefault(); rate(); } },
  h('p', {}, 'How did we do?'), stars, rateMore);
const prechat = h('form', { hidden: true, 'aria-label': 'Before we start', onsubmit: (e) => { e.preventDefault(); pre(); } });
const transcript = h('form', { hidden: true, class: 'row', 'aria-label': 'Email me the transcript', onsubmit: (e) => { e.preventDefault(); mailTranscript(); } },
  h('input', { name: 'email', type: 'email', required: true, 'aria-label': 'Your email', placeholder: 'Email for the transcript' }),
  h('button', { type: 'submit' }, 'Email me'));
// A closed conversation's rating and transcript offers: one compact card at
// the end of the thread, which keeps the panel.
const endCard = h('div', { class: 'end-card', hidden: true }, rating, transcript);
// "Your conversations": the visitor's past conversations, read-only; its
// code loads only when first opened.
const app = document.getElementById('app');
const past = h('section', { class: 'hist', 'aria-label': 'Your conversations', hidden: true });
const pastButton = h('button', { type: 'button', class: 'icon', 'aria-label': 'Your conversations', title: 'Your conversations', 'aria-expanded': 'false', onclick: () => showPast(!app.classList.contains('past')) });
// Lucide "history" (ISC licence); a constant, never data.
pastButton.innerHTML = '<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M3 12a9 9 0 1 0 9-9 9.75 9.75 0 0 0-6.74 2.74L3 8"/><path d="M3 3v5h5"/><path d="M12 7v5l4 2"/></svg>';
async function showPast(on) {
  app.classList.toggle('past', on);
  past.hidden = !on;
  pastButton.setAttribute('aria-expanded', on);
  if (!on) { input.focus(); log.scrollTop = log.scrollHeight; return; }
  const view = await import('{{history.js}}');
  view.show(past, { h, linkify, avatar, api, token: () => store.get(K.token, null), current: () => conv?.id, back: () => showPast(false) });
}
app.append(
  h('header', {}, face, h('div', { class: 'who' }, title, sub), pastButton, h('button', { type: 'button', 'aria-label': 'Close chat', onclick: () => toParent({ t: 'close' }) }, '×')),
  past,
  log, typing, line, note, prechat, composer, offline);

const add = (m, mine) => {
  const from = m.from?.kind;
  const cls = from === 'system' ? 'sys' : mine ? 'me' : 'them';
  const el = h('div', { class: 'm ' + cls }, ...linkify(m.body));
  if (from !== 'system') {
    el.append(h('span', { class: 'meta' }, (from === 'staff' && m.from.name ? m.from.name + ' · ' : '') +
      (m.ts ? time(m.ts) : 'sending…')));
  }
  // Staff messages carry their author's avatar; the header shows who is answering.
  // Messages go above the closed conversation's card, when it shows.
  const at = endCard.parentNode === log ? endCard : null;
  if (from === 'staff') {
    log.insertBefore(h('div', { class: 'row-m them' }, avatar(m.from), el), at);
    if (m.from.name) { agent = m.from; header(); }
  } else log.insertBefore(el, at);
  log.scrollTop = log.scrollHeight;
  return el;
};

// The greeting at the top of the log, so an empty chat is never a blank page.
const hello = h('div', { class: 'hello' });

let awayNext = null; // when the offline form shows: when we are back, or ''
function header() {
  // A closed conversation has nobody answering: the header is the company's again.
  const who = conv?.status === 'closed' || awayNext != null ? null : agent;
  face.hidden = !who;
  if (who) face.replaceChildren(avatar(who));
  title.textContent = who?.name || cfg.name || 'Chat';
  sub.textContent = awayNext != null ? 'Away · ' + (awayNext ? 'back ' + awayNext : 'we reply by email')
    : who ? (cfg.name ? cfg.name + ' · ' : '') + 'here to help' : agents ? 'We are online' : 'We reply as soon as we can';
  hello.replaceChildren(h('strong', {}, cfg.greeting || 'Hi! How can we help?'),
    h('span', {}, agents ? 'Write below: someone from the team answers right here.' : 'Write below: we answer right here as soon as we can.'));
  if (!hello.isConnected) log.prepend(hello);
}

// A new conversation replaced the closed one (the visitor wrote again, or
// staff started one): it starts on a clean page under the greeting, as a
// new thread does; the old one is a tap away under "Your conversations".
function follow(c) {
  if (conv && c && conv.id !== c.id) {
    const keep = new Set([hello, ...[...pending.values()].map((p) => p.el)]);
    const ours = (el) => el.dataset.c === c.id || [...el.querySelectorAll('[data-c]')].some((x) => x.dataset.c === c.id);
    for (const el of [...log.children]) if (!keep.has(el) && !ours(el)) el.remove();
    for (const [id, el] of shown) if (!el.isConnected) shown.delete(id);
    hello.after(h('div', { class: 'earlier' }, h('button', { type: 'button', onclick: () => showPast(true) }, 'See your earlier conversations')),
      h('div', { class: 'sep', role: 'separator' }, 'New conversation'));
    lastSeq = 0; readSent = 0; staffRead = 0; place = 0;
    // Nobody answers the new one yet: the header stops naming the last agent.
    agent = null;
  }
  conv = c;
  offers();
}

// The rating and transcript offers of a closed conversation: shown until
// used, across reloads (the server knows the rating; this frame remembers
// the transcript request).
function offers() {
  const closed = conv?.status === 'closed';
  rating.hidden = !closed || !!conv.rating || store.get(K.rated, null) === conv.id;
  transcript.hidden = !closed || store.get(K.sent, null) === conv.id;
  endCard.hidden = rating.hidden && transcript.hidden;
  if (!endCard.hidden && log.lastElementChild !== endCard) {
    log.append(endCard);
    requestAnimationFrame(() => { log.scrollTop = log.scrollHeight; });
  }
}

const saveQueue = () => store.set(K.queue, [...pending.values()].map(({ client_id, body }) => ({ client_id, body })));
const send = (f) => ws && ws.readyState === 1 && ws.send(JSON.stringify(f));

// --- actions ---
function submit() {
  const body = input.value.trim();
  if (!body) return;
  input.value = '';
  const p = { client_id: uuid(), body };
  p.el = add({ body, from: { kind: 'visitor' } }, true);
  p.el.classList.add('pending');
  pending.set(p.client_id, p);
  saveQueue();
  send({ type: 'send', client_id: p.client_id, body });
  if (conv && typingSent) send({ type: 'typing', on: false });
  typingSent = 0;
}

// Escape steps back: out of "Your conversations" first, then the panel closes.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  if (app.classList.contains('past')) showPast(false); else toParent({ t: 'close' });
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); submit(); }
});
input.addEventListener('input', () => {
  const now = Date.now();
  if (conv && now - typingSent > 2000) { typingSent = now; send({ type: 'typing', on: true }); }
  clearTimeout(typingOff);
  typingOff = setTimeout(() => { if (conv && typingSent) send({ type: 'typing', on: false }); typingSent = 0; }, 3000);
});

async function contact() {
  const d = Object.fromEntries(new FormData(offline));
  d.page_url = page?.url || '';
  d.visitor_token = store.get(K.token, null);
  const r = await fetch(api + '/contact', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(d) });
  note.textContent = r.ok ? 'Thanks! We will answer by email.' : 'That did not work: ' + ((await r.json()).error?.message || r.status);
  if (r.ok) offline.hidden = true;
}

function pre() {
  const d = Object.fromEntries(new FormData(prechat));
  identity = { ...(identity || {}), ...(d.name ? { name: d.name } : {}), ...(d.email ? { email: d.email } : {}) };
  send({ type: 'identify', ...identity });
  store.set(K.pre, 1);
  mode();
  input.focus();
}

async function mailTranscript() {
  const r = await fetch(api + '/transcript', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ visitor_token: store.get(K.token, ''), email: transcript.elements.email.value }) });
  const data = await r.json().catch(() => ({}));
  // An address the visitor has not proven gets a confirmation link first.
  note.textContent = !r.ok ? 'That did not work: ' + (data.error?.message || r.status)
    : data.status === 'confirmation_sent' ? 'Check your inbox: open the link we sent to get the transcript.'
      : 'The transcript is on its way.';
  if (r.ok) { store.set(K.sent, conv?.id); transcript.hidden = true; endCard.hidden = rating.hidden; }
}

// Business hours in the site's time zone: open now, and when next.
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
function hours() {
  const bh = cfg.business_hours;
  // Hours that only bound bookings leave chat open around the clock.
  if (!bh || cfg.chat_only_in_hours === false) return { open: true };
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: bh.timezone, weekday: 'short',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date()).map((p) => [p.type, p.value]));
  const today = DAYS.indexOf(parts.weekday.toLowerCase().slice(0, 3));
  const now = +parts.hour * 60 + +parts.minute;
  const min = (t) => +t.slice(0, 2) * 60 + +t.slice(3);
  const open = bh.days.some((d) => d.day === DAYS[today] && min(d.open) <= now && now < min(d.close));
  let next;
  for (let i = 0; i < 8 && !open && !next; i++) {
    const day = DAYS[(today + i) % 7];
    const d = bh.days.filter((x) => x.day === day && (i > 0 || min(x.open) > now)).sort((a, b) => min(a.open) - min(b.open))[0];
    if (d) next = (i === 0 ? 'today' : i === 1 ? 'tomorrow' : day[0].toUpperCase() + day.slice(1)) + ' at ' + d.open + ' (' + bh.timezone + ')';
  }
  return { open, next };
}

function rate() {
  if (!score || !conv) return;
  send({ type: 'rate', conversation_id: conv.id, score, comment: rating.elements.comment.value });
  store.set(K.rated, conv.id);
  rating.hidden = true;
  endCard.hidden = transcript.hidden;
  note.textContent = 'Thank you for your rating!';
}

function markRead() {
  if (isOpen && !document.hidden && conv && lastSeq > readSent) {
    readSent = lastSeq;
    send({ type: 'read', conversation_id: conv.id, seq: lastSeq });
  }
  if (isOpen && unread) { unread = 0; toParent({ t: 'unread', n: 0 }); }
}

let full = false;
function mode() {
  const when = hours();
  // `full`: the workspace's plan takes no new chats this month.
  // A closed conversation does not stop the visitor: they write again (a
  // new conversation) unless nobody answers now, when the form shows.
  const open = conv && conv.status !== 'closed';
  const away = (!agents || !when.open || full) && !open;
  const fields = cfg.pre_chat_fields || [];
  const asking = !away && !open && fields.length > 0 && !store.get(K.pre, 0);
  offline.hidden = !away;
  awayNext = away ? when.next || '' : null;
  line.textContent = conv?.status !== 'waiting' || !place ? '' : place === 1
    ? 'You are next in line: someone will be with you shortly.' : 'You are number ' + place + ' in line.';
  log.hidden = away && ![...log.children].some((c) => c !== hello);
  prechat.hidden = !asking;
  composer.hidden = away || asking;
  input.placeholder = conv?.status === 'closed' ? 'Start a new conversation…' : 'Write a message…';
  header();
  offline.querySelector('.off').textContent = (cfg.offline_message || 'Leave us a message.') +
    (when.next ? ' We are back ' + when.next + '.' : '');
  if (asking && !prechat.children.length) {
    prechat.append(h('p', {}, 'Before we start, tell us who you are.'), ...fields.map((f) =>
      field(f.name, f.label, f.kind === 'phone' ? 'tel' : f.kind, f.required)), h('button', { type: 'submit' }, 'Start the chat'));
  }
}

// --- the socket ---
function connect() {
  clearTimeout(timer);
  if (ws && ws.readyState < 2) return;
  ws = new WebSocket(wsUrl);
  ws.onopen = () => {
    attempts = 0;
    send({ type: 'hello', visitor_token: given || store.get(K.token, null), page: page || { url: '', title: '', referrer: '' },
      tz: Intl.DateTimeFormat().resolvedOptions().timeZone });
  };
  ws.onmessage = (e) => on(JSON.parse(e.data));
  ws.onclose = (e) => {
    if (e.code === 4404 || e.code === 4403) { note.textContent = 'Chat is unavailable.'; agents = false; conv = null; mode(); return; }
    note.textContent = 'Reconnecting…';
    const delay = Math.min(30000, 500 * 2 ** attempts++) * (0.5 + Math.random());
    timer = setTimeout(connect, delay);
  };
}

function on(f) {
  switch (f.type) {
    case 'welcome':
      note.textContent = '';
      store.set(K.token, f.visitor_token);
      given = null;
      toParent({ t: 'token', v: f.visitor_token });
      agents = f.agents_online;
      if (f.conversation) {
        follow(f.conversation);
        send({ type: 'resume', conversation_id: conv.id, after_seq: lastSeq });
      }
      if (identity) send({ type: 'identify', ...identity });
      if (page) send({ type: 'page', ...page });
      for (const p of pending.values()) {
        if (!p.el) { p.el = add({ body: p.body, from: { kind: 'visitor' } }, true); p.el.classList.add('pending'); }
        send({ type: 'send', client_id: p.client_id, body: p.body });
      }
      mode();
      break;
    case 'ack': {
      const p = pending.get(f.client_id);
      if (!conv || conv.id !== f.conversation_id) { follow({ id: f.conversation_id, status: 'waiting' }); mode(); }
      if (p) {
        pending.delete(f.client_id);
        saveQueue();
        if (!shown.has(f.id)) {
          p.el.classList.remove('pending');
          p.el.querySelector('.meta').textContent = time(f.ts);
          p.el.dataset.seq = f.seq;
          shown.set(f.id, p.el);
        } else p.el.remove();
      }
      lastSeq = Math.max(lastSeq, f.seq);
      break;
    }
    case 'message': {
      lastSeq = Math.max(lastSeq, f.seq);
      if (shown.has(f.id)) break;
      const mine = f.from.kind === 'visitor';
      const el = add(f, mine);
      el.dataset.seq = f.seq;
      if (f.conversation_id) el.dataset.c = f.conversation_id;
      shown.set(f.id, el);
      if (f.from.kind === 'staff') {
        typing.textContent = '';
        toParent({ t: 'message', m: { body: f.body, from: f.from.name, ts: f.ts } });
        if (!isOpen || document.hidden) {
          unread++;
          toParent({ t: 'unread', n: unread });
          beep();
        }
      }
      markRead();
      break;
    }
    case 'typing':
      if (f.from?.kind === 'staff') typing.textContent = f.on ? (f.from.name || 'Someone') + ' is typing…' : '';
      break;
    case 'read':
      if (f.by?.kind === 'staff' && f.seq > staffRead) {
        staffRead = f.seq;
        for (const el of log.querySelectorAll('.m.me')) {
          const meta = el.querySelector('.meta');
          if (+el.dataset.seq <= staffRead && meta && !meta.textContent.endsWith('Seen')) meta.textContent += ' · Seen';
        }
      }
      break;
    case 'queue':
      place = f.position;
      mode();
      break;
    case 'conversation':
      follow(f.conversation);
      mode();
      break;
    case 'error':
      if (f.code === 'quota_exceeded') { full = true; mode(); }
      if (f.client_id && pending.has(f.client_id) && !['rate_limited', 'overloaded', 'internal'].includes(f.code)) {
        const p = pending.get(f.client_id);
        pending.delete(f.client_id);
        saveQueue();
        p.el.querySelector('.meta').textContent = 'Not sent: ' + f.message;
      } else if (f.client_id) setTimeout(() => { const p = pending.get(f.client_id); if (p) send({ type: 'send', client_id: p.client_id, body: p.body }); }, 1000);
      else note.textContent = f.message;
      break;
  }
}

let audio;
function beep() {
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = 660;
    g.gain.setValueAtTime(0.05, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.25);
  } catch (_) {}
}

// --- the host page ---
addEventListener('message', (e) => {
  if (e.source !== parent || e.origin !== host) return;
  const m = e.data || {};
  if (m.t === 'open') { isOpen = true; markRead(); input.focus(); requestAnimationFrame(() => { log.scrollTop = log.scrollHeight; }); }
  else if (m.t === 'close') isOpen = false;
  else if (m.t === 'page') { page = m.p; send({ type: 'page', ...page }); }
  else if (m.t === 'identify') { identity = m.i; send({ type: 'identify', ...identity }); }
});
const revive = () => { if (!ws || ws.readyState > 1) { attempts = 0; connect(); } };
document.addEventListener('visibilitychange', () => { if (!document.hidden) { revive(); markRead(); } });
addEventListener('online', revive);
addEventListener('pageshow', revive);

fetch(api + '/config').then((r) => r.json()).then((c) => {
  cfg = c;
  const root = document.documentElement;
  root.style.setProperty('--c', c.color);
  // Text on the site's colour: white or near-black, whichever reads better.
  if (/^#[0-9a-f]{6}$/i.test(c.color || '')) root.style.setProperty('--ct', contrast(c.color, '#ffffff') >= contrast(c.color, '#111827') ? '#fff' : '#111827');
  // The site's theme: `auto` follows the visitor's dark mode.
  if (c.theme === 'light' || c.theme === 'dark') root.classList.add(c.theme);
  mode();
}).catch(() => {});
connect();
toParent({ t: 'ready' });
