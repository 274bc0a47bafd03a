// Parley chat panel: runs in the widget's iframe on Parley's origin. It
// keeps the visitor token in this frame's storage, reconnects with backoff
// and jitter, resumes from the last seq seen, and re-sends unacknowledged
// messages with their client ids, so nothing is lost or shown twice.

const site = new URLSearchParams(location.search).get('site') || '';
const api = '/api/v1/public/' + encodeURIComponent(site);
const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
  '/ws/visitor?site=' + encodeURIComponent(site);
const K = { token: 'parley:t:' + site, queue: 'parley:q:' + site };

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
const time = (ts) => new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now() + '-' + Math.random().toString(36).slice(2));
const toParent = (m) => parent !== window && parent.postMessage(m, '*');

// --- state ---
let ws, cfg = {}, conv = null, lastSeq = 0, attempts = 0, timer, agents = false, isOpen = false;
let unread = 0, readSent = 0, staffRead = 0, typingSent = 0, typingOff, identity = null, page = null;
const shown = new Map(); // message id -> element
const pending = new Map(store.get(K.queue, []).map((p) => [p.client_id, p])); // unacked sends

// --- view ---
const title = h('h1', {}, 'Chat');
const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
const typing = h('div', { class: 'typing', 'aria-live': 'polite' });
const note = h('div', { class: 'note', role: 'status' });
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
  stars.append(h('button', { type: 'button', 'aria-pressed': 'false', 'aria-label': i + ' of 5', onclick: (e) => {
    score = i;
    for (const b of stars.children) b.setAttribute('aria-pressed', b === e.currentTarget);
  } }, '★'.repeat(i)));
}
const rating = h('form', { hidden: true, 'aria-label': 'Rate the conversation', onsubmit: (e) => { e.preventDefault(); rate(); } },
  h('p', {}, 'How did we do?'), stars, h('textarea', { name: 'comment', 'aria-label': 'Comment (optional)' }),
  h('button', { type: 'submit' }, 'Send rating'));
document.getElementById('app').append(
  h('header', {}, title, h('button', { type: 'button', 'aria-label': 'Close chat', onclick: () => toParent({ t: 'close' }) }, '×')),
  log, typing, note, composer, offline, rating);

const add = (m, mine) => {
  const from = m.from?.kind;
  const cls = from === 'system' ? 'sys' : mine ? 'me' : 'them';
  const el = h('div', { class: 'm ' + cls }, ...linkify(m.body));
  if (from !== 'system') {
    el.append(h('span', { class: 'meta' }, (from === 'staff' && m.from.name ? m.from.name + ' · ' : '') +
      (m.ts ? time(m.ts) : 'sending…')));
  }
  log.append(el);
  log.scrollTop = log.scrollHeight;
  return el;
};

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

function rate() {
  if (!score || !conv) return;
  send({ type: 'rate', conversation_id: conv.id, score, comment: rating.elements.comment.value });
  rating.hidden = true;
  note.textContent = 'Thank you for your rating!';
}

function markRead() {
  if (isOpen && !document.hidden && conv && lastSeq > readSent) {
    readSent = lastSeq;
    send({ type: 'read', conversation_id: conv.id, seq: lastSeq });
  }
  if (isOpen && unread) { unread = 0; toParent({ t: 'unread', n: 0 }); }
}

function mode() {
  const away = !agents && !conv;
  offline.hidden = !away;
  log.hidden = away && !log.children.length;
  composer.hidden = away || conv?.status === 'closed';
  offline.querySelector('.off').textContent = cfg.offline_message || 'Leave us a message.';
}

// --- the socket ---
function connect() {
  clearTimeout(timer);
  if (ws && ws.readyState < 2) return;
  ws = new WebSocket(wsUrl);
  ws.onopen = () => {
    attempts = 0;
    send({ type: 'hello', visitor_token: store.get(K.token, null), page: page || { url: '', title: '', referrer: '' } });
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
      agents = f.agents_online;
      if (f.conversation) {
        conv = f.conversation;
        send({ type: 'resume', conversation_id: conv.id, after_seq: lastSeq });
        toParent({ t: 'active' });
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
      if (!conv) { conv = { id: f.conversation_id, status: 'waiting' }; toParent({ t: 'active' }); mode(); }
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
    case 'conversation':
      conv = f.conversation;
      rating.hidden = conv.status !== 'closed';
      mode();
      break;
    case 'error':
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
  if (e.source !== parent) return;
  const m = e.data || {};
  if (m.t === 'open') { isOpen = true; markRead(); input.focus(); }
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
  document.documentElement.style.setProperty('--c', c.color);
  title.textContent = c.greeting || 'Chat';
  mode();
}).catch(() => {});
connect();
toParent({ t: 'ready' });
