// The inbox: queues (Waiting, Mine, All open, Closed) per site, the open
// conversation (history scrolled back by pages, composer with typing,
// notes, canned responses, claim/transfer/close/reopen) and the visitor
// sidebar. Live through the staff socket; history through REST.

import { api, h, ago, clock, webLink } from './api.js';
import { download } from './backoffice.js';
import { time } from './time.js';

/** A 1–5 rating as stars. */
const stars = (n) => '★'.repeat(n) + '☆'.repeat(5 - n);

const LATE_MINUTES = Number(localStorage.getItem('parley:late-minutes') || 3);
const QUEUES = [['waiting', 'Waiting'], ['mine', 'Mine'], ['open', 'All open'], ['closed', 'Closed']];
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now() + '-' + Math.random().toString(36).slice(2));
const who = (c) => c.visitor?.name || c.visitor?.email || 'Visitor ' + String(c.visitor_id).slice(-5);

export class Inbox extends HTMLElement {
  constructor(app) {
    super();
    this.app = app;
    this.live = app.live;
    this.queue = 'waiting';
    this.site = '';
    this.openId = null;
    this.closed = { items: [], cursor: null, loaded: false };
    this.shown = new Map(); // seq -> element
    this.pending = new Map(); // client_id -> element
    this.oldest = null;
    this.canned = [];
    this.staff = [];
    this.off = [];
  }

  connectedCallback() {
    this.className = 'inbox';
    this.list = h('ul', { 'aria-label': 'Conversations' });
    this.tabs = h('div', { class: 'tabs', role: 'tablist' }, QUEUES.map(([k, label]) =>
      h('button', { role: 'tab', 'data-q': k, onclick: () => this.app.go(`#/inbox/${k}`) }, label, ' ', h('span', { class: 'count' }))));
    this.siteSel = h('select', { 'aria-label': 'Site', onchange: () => { this.site = this.siteSel.value; this.closed.loaded = false; this.renderList(); } },
      h('option', { value: '' }, 'All sites'));
    this.more = h('button', { class: 'ghost more', hidden: true, onclick: () => this.loadClosed(true) }, 'Load more');
    this.convPane = h('section', { class: 'conv', 'aria-label': 'Conversation' }, h('div', { class: 'empty' }, 'Pick a conversation.'));
    this.side = h('aside', { class: 'side', 'aria-label': 'Visitor' });
    this.append(h('section', { class: 'queue', 'aria-label': 'Queues' }, this.tabs, this.siteSel, this.list, this.more), this.convPane, this.side);
    const on = (type, f) => { this.live.addEventListener(type, f); this.off.push(() => this.live.removeEventListener(type, f)); };
    on('ready', () => { this.enrich(); this.renderList(); if (this.openId) this.resume(); });
    on('conversation', (e) => this.onConversation(e.detail.conversation));
    on('message', (e) => this.onMessage(e.detail));
    on('ack', (e) => this.onAck(e.detail));
    on('typing', (e) => this.onTyping(e.detail));
    on('read', (e) => this.onRead(e.detail));
    on('visitor', (e) => { if (this.current && e.detail.id === this.current.visitor_id) this.renderSide(); });
    on('error', (e) => this.app.toast(e.detail.message));
    this.ticker = setInterval(() => this.renderList(), 15000);
    api('GET', '/api/v1/sites').then((r) => {
      for (const s of r.items) this.siteSel.append(h('option', { value: s.id }, s.name));
    }).catch(() => {});
    api('GET', '/api/v1/canned-responses').then((r) => { this.canned = r.items; }).catch(() => {});
    api('GET', '/api/v1/staff').then((r) => { this.staff = r.items.filter((s) => s.active); }).catch(() => {});
    if (this.live.ready) this.enrich();
  }

  disconnectedCallback() { this.off.forEach((f) => f()); clearInterval(this.ticker); }

  /** Names and last messages for the open conversations the socket listed. */
  async enrich() {
    try {
      const r = await api('GET', '/api/v1/conversations?status=open&limit=200');
      for (const c of r.items) {
        const live = this.live.conversations.get(c.id);
        if (live) { live.visitor = c.visitor; live.last_message = live.last_message || c.last_message; }
      }
      this.renderList();
    } catch (_) {}
  }

  route(queue, id) {
    this.queue = QUEUES.some(([k]) => k === queue) ? queue : 'waiting';
    if (this.queue === 'closed' && !this.closed.loaded) this.loadClosed(false);
    this.renderList();
    if (id && id !== this.openId) this.open(id);
    if (!id) { this.openId = null; this.classList.remove('open'); }
  }

  async loadClosed(more) {
    const q = new URLSearchParams({ status: 'closed', limit: 30 });
    if (this.site) q.set('site_id', this.site);
    if (more && this.closed.cursor) q.set('cursor', this.closed.cursor);
    const r = await api('GET', '/api/v1/conversations?' + q);
    this.closed = { items: more ? [...this.closed.items, ...r.items] : r.items, cursor: r.next_cursor, loaded: true };
    this.renderList();
  }

  items(queue) {
    const me = this.live.me?.id;
    const bySite = (c) => !this.site || c.site_id === this.site;
    if (queue === 'closed') return this.closed.items.filter(bySite);
    const all = [...this.live.conversations.values()].filter(bySite);
    const keep = { waiting: (c) => c.status === 'waiting', mine: (c) => c.status === 'active' && c.assignee === me,
      open: (c) => c.status !== 'closed' }[queue];
    return all.filter(keep).sort((a, b) => (queue === 'waiting' ? a.created_at.localeCompare(b.created_at) : b.updated_at.localeCompare(a.updated_at)));
  }

  renderList() {
    for (const b of this.tabs.children) {
      const q = b.dataset.q;
      b.setAttribute('aria-selected', q === this.queue);
      b.querySelector('.count').textContent = q === 'closed' ? '' : '(' + this.items(q).length + ')';
    }
    const now = Date.now();
    const rows = this.items(this.queue).map((c) => {
      const since = c.waiting_since || c.created_at;
      const late = c.status === 'waiting' && now - new Date(since) > LATE_MINUTES * 60000;
      const unread = this.app.unread.get(c.id) || 0;
      return h('li', { class: late ? 'late' : '' }, h('a', { href: `#/inbox/${this.queue}/${c.id}`, 'aria-current': c.id === this.openId },
        h('span', { class: 'who' }, h('span', {}, who(c)), unread ? h('span', { class: 'badge', 'aria-label': unread + ' unread' }, unread) : null),
        h('span', { class: 'prev' }, c.last_message ? (c.last_message.private ? '🔒 ' : '') + c.last_message.body : ''),
        h('span', { class: 'wait' }, c.status === 'waiting' ? 'waiting ' + ago(since, now) : c.status === 'closed' ? 'closed ' + clock(c.updated_at) : 'active · ' + ago(c.updated_at, now) + ' ago',
          c.rating ? h('span', { class: 'stars', title: c.rating.comment || '', 'aria-label': `rated ${c.rating.score} of 5` }, ' ' + stars(c.rating.score)) : null)));
    });
    this.list.replaceChildren(...(rows.length ? rows : [h('li', { class: 'empty' }, 'Nothing here.')]));
    this.more.hidden = !(this.queue === 'closed' && this.closed.cursor);
  }

  onConversation(c) {
    if (c.status === 'waiting' && !c.waiting_since) c.waiting_since = new Date().toISOString();
    if (c.status !== 'waiting') delete c.waiting_since;
    if (c.status === 'closed' && this.closed.loaded) {
      this.closed.items = [c, ...this.closed.items.filter((x) => x.id !== c.id)];
    }
    if (c.status !== 'closed') this.closed.items = this.closed.items.filter((x) => x.id !== c.id);
    if (!c.visitor) api('GET', '/api/v1/conversations/' + c.id).then((full) => { c.visitor = full.visitor; c.last_message = c.last_message || full.last_message; this.renderList(); }).catch(() => {});
    this.renderList();
    if (c.id === this.openId) { this.current = { ...this.current, ...c }; this.renderHeader(); this.renderReceipts(); }
  }

  // --- the open conversation ---
  async open(id) {
    this.openId = id;
    this.classList.add('open');
    this.shown.clear();
    this.pending.clear();
    this.oldest = null;
    this.current = this.live.conversations.get(id) || this.closed.items.find((c) => c.id === id) || null;
    this.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', onscroll: () => { if (this.log.scrollTop < 40) this.older(); } });
    this.typing = h('div', { class: 'typing', 'aria-live': 'polite' });
    this.header = h('header');
    this.convPane.replaceChildren(this.header, this.log, this.typing, this.composer());
    try {
      const full = await api('GET', '/api/v1/conversations/' + id);
      if (this.openId !== id) return;
      this.current = { ...full, ...(this.live.conversations.get(id) || {}), visitor: full.visitor };
      this.renderHeader();
      const page = await api('GET', `/api/v1/conversations/${id}/messages?before_seq=18446744073709551615&limit=50`);
      if (this.openId !== id) return;
      page.items.forEach((m) => this.add(m));
      this.oldest = page.next_cursor;
      this.log.scrollTop = this.log.scrollHeight;
      this.resume();
      this.renderSide();
    } catch (e) {
      this.convPane.replaceChildren(h('div', { class: 'empty' }, e.status === 404 ? 'No such conversation.' : e.message));
    }
    this.app.seen(id);
    this.renderList();
  }

  resume() {
    const seqs = [...this.shown.keys()];
    this.live.send({ type: 'resume', conversation_id: this.openId, after_seq: seqs.length ? Math.max(...seqs) : 0 });
    this.markRead();
  }

  async older() {
    if (!this.oldest || this.loadingOlder) return;
    this.loadingOlder = true;
    const id = this.openId;
    try {
      const page = await api('GET', `/api/v1/conversations/${id}/messages?before_seq=${this.oldest}&limit=50`);
      if (this.openId !== id) return;
      const before = this.log.scrollHeight;
      page.items.forEach((m) => this.add(m));
      this.oldest = page.next_cursor;
      this.log.scrollTop += this.log.scrollHeight - before;
    } finally { this.loadingOlder = false; }
  }

  add(m) {
    if (this.shown.has(m.seq)) return this.shown.get(m.seq);
    const kind = m.from.kind === 'system' ? 'system' : m.private ? 'note' : m.from.kind;
    const el = h('div', { class: 'msg ' + kind, 'data-seq': m.seq },
      m.body, kind === 'system' ? null : h('span', { class: 'meta' },
        (m.private ? 'Note · ' : '') + (m.from.name || (m.from.kind === 'visitor' ? who(this.current || {}) : '')) + ' · ' + clock(m.ts)));
    this.shown.set(m.seq, el);
    const after = [...this.log.children].find((x) => +x.dataset.seq > m.seq);
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
    this.log.insertBefore(el, after || null);
    if (stick && !after) this.log.scrollTop = this.log.scrollHeight;
    this.renderReceipts();
    return el;
  }

  onMessage(m) {
    if (m.conversation_id !== this.openId) { this.renderList(); return; }
    const mine = [...this.pending.entries()].find(([, p]) => p.id === m.id);
    if (mine) { mine[1].el.remove(); this.pending.delete(mine[0]); }
    this.add(m);
    if (m.from.kind === 'visitor') { this.typing.textContent = ''; this.markRead(); }
    this.renderList();
  }

  onAck(a) {
    const p = this.pending.get(a.client_id);
    if (!p) return;
    p.id = a.id;
    if (this.shown.has(a.seq)) { p.el.remove(); this.pending.delete(a.client_id); }
    else p.el.querySelector('.meta').textContent = (p.private ? 'Note · ' : '') + 'You · ' + clock(a.ts);
  }

  onTyping(t) {
    if (t.conversation_id === this.openId && t.from?.kind === 'visitor') this.typing.textContent = t.on ? who(this.current) + ' is typing…' : '';
  }

  onRead(r) {
    if (r.conversation_id !== this.openId || r.by?.kind !== 'visitor') return;
    this.current.visitor_read_seq = Math.max(this.current.visitor_read_seq || 0, r.seq);
    this.renderReceipts();
  }

  renderReceipts() {
    const upTo = this.current?.visitor_read_seq || 0;
    for (const [seq, el] of this.shown) {
      if (!el.classList.contains('staff')) continue;
      const meta = el.querySelector('.meta');
      if (meta && seq <= upTo && !meta.textContent.endsWith('Seen')) meta.textContent += ' · Seen';
    }
  }

  markRead() {
    if (!this.openId || document.hidden) return;
    const seqs = [...this.shown.keys()];
    if (seqs.length) this.live.send({ type: 'read', conversation_id: this.openId, seq: Math.max(...seqs) });
    this.app.seen(this.openId);
  }

  command(type, extra = {}) { this.live.send({ type, conversation_id: this.openId, ...extra }); }

  renderHeader() {
    const c = this.current;
    if (!c || !this.header) return;
    const me = this.live.me?.id;
    const others = this.staff.filter((s) => s.id !== me);
    const transfer = h('select', { 'aria-label': 'Transfer to', onchange: (e) => { if (e.target.value) this.command('transfer', { to_staff_id: e.target.value }); e.target.value = ''; } },
      h('option', { value: '' }, 'Transfer to…'), others.map((s) => h('option', { value: s.id }, s.name || s.email)));
    this.header.replaceChildren(...[
      h('button', { class: 'ghost', 'aria-label': 'Back to the list', onclick: () => this.app.go(`#/inbox/${this.queue}`) }, '←'),
      h('h2', {}, who(c)),
      h('span', { class: 'status' }, c.status),
      c.rating ? h('span', { class: 'rating', 'aria-label': `rated ${c.rating.score} of 5` }, stars(c.rating.score),
        c.rating.comment ? h('q', {}, c.rating.comment) : null) : null,
      c.status === 'waiting' || (c.status === 'active' && c.assignee !== me && this.app.can('manage'))
        ? h('button', { onclick: () => this.command('claim'), title: 'Alt+C' }, c.status === 'waiting' ? 'Claim' : 'Take over') : null,
      c.status !== 'closed' ? transfer : null,
      c.status !== 'closed' ? h('button', { class: 'ghost', onclick: () => this.command('close'), title: 'Alt+X' }, 'Close') : h('button', { onclick: () => this.command('reopen') }, 'Reopen'),
      h('button', { class: 'ghost', 'aria-label': 'Visitor details', onclick: () => this.classList.toggle('show-side') }, 'Details'),
    ].filter(Boolean));
  }

  composer() {
    const box = h('textarea', { 'aria-label': 'Reply', placeholder: 'Reply… (Enter sends, Shift+Enter new line, / for canned responses)' });
    const note = h('input', { type: 'checkbox', 'aria-label': 'Private note' });
    const suggest = h('ul', { class: 'suggest', role: 'listbox', hidden: true });
    const form = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); send(); } }, suggest, box,
      h('div', { class: 'row' }, h('span', { class: 'hint' }, 'Alt+N note · Alt+C claim · Alt+X close'),
        h('label', { style: 'display:flex;gap:.3em;align-items:center' }, note, 'Note'), h('button', { type: 'submit' }, 'Send')));
    const setNote = (on) => { note.checked = on; form.classList.toggle('private', on); box.placeholder = on ? 'Private note: the visitor never sees it' : 'Reply…'; };
    note.onchange = () => setNote(note.checked);
    let choices = [], pick = 0, typingAt = 0, typingOff;
    const showSuggest = () => {
      const m = /^\/(\S*)$/.exec(box.value);
      choices = m ? this.canned.filter((c) => c.shortcut.startsWith(m[1])) : [];
      pick = Math.min(pick, Math.max(0, choices.length - 1));
      suggest.hidden = !choices.length;
      suggest.replaceChildren(...choices.map((c, i) => h('li', { role: 'option', 'aria-selected': i === pick, onmousedown: (e) => { e.preventDefault(); use(c); } },
        h('b', {}, '/' + c.shortcut), ' ', c.body.slice(0, 80))));
    };
    const use = (c) => { box.value = c.body; suggest.hidden = true; choices = []; box.focus(); };
    const send = () => {
      const body = box.value.trim();
      if (!body || !this.openId) return;
      const client_id = uuid();
      const el = h('div', { class: 'msg ' + (note.checked ? 'note' : 'staff'), 'data-seq': Number.MAX_SAFE_INTEGER }, body, h('span', { class: 'meta' }, 'sending…'));
      this.pending.set(client_id, { el, private: note.checked });
      this.log.append(el);
      this.log.scrollTop = this.log.scrollHeight;
      this.live.send({ type: 'send', conversation_id: this.openId, client_id, body, private: note.checked });
      if (typingAt) this.live.send({ type: 'typing', conversation_id: this.openId, on: false });
      typingAt = 0;
      box.value = '';
      setNote(false);
    };
    box.addEventListener('keydown', (e) => {
      if (!suggest.hidden && ['ArrowDown', 'ArrowUp'].includes(e.key)) {
        e.preventDefault();
        pick = (pick + (e.key === 'ArrowDown' ? 1 : choices.length - 1)) % choices.length;
        showSuggest();
      } else if (!suggest.hidden && (e.key === 'Enter' || e.key === 'Tab')) { e.preventDefault(); use(choices[pick]); }
      else if (e.key === 'Escape' && !suggest.hidden) suggest.hidden = true;
      else if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); }
    });
    box.addEventListener('input', () => {
      showSuggest();
      if (note.checked || !this.openId) return;
      const now = Date.now();
      if (now - typingAt > 2000) { typingAt = now; this.live.send({ type: 'typing', conversation_id: this.openId, on: true }); }
      clearTimeout(typingOff);
      typingOff = setTimeout(() => { if (typingAt) this.live.send({ type: 'typing', conversation_id: this.openId, on: false }); typingAt = 0; }, 3000);
    });
    this.toggleNote = () => setNote(!note.checked);
    this.box = box;
    return form;
  }

  /** Keyboard shortcuts of the inbox. */
  key(e) {
    if (!e.altKey) return false;
    const k = e.key.toLowerCase();
    if (k === 'c' && this.openId) this.command('claim');
    else if (k === 'x' && this.openId) this.command('close');
    else if (k === 'n' && this.toggleNote) { this.toggleNote(); this.box?.focus(); }
    else if (k === 'j' || k === 'k') {
      const list = this.items(this.queue);
      const i = list.findIndex((c) => c.id === this.openId);
      const next = list[Math.max(0, Math.min(list.length - 1, i + (k === 'j' ? 1 : -1)))];
      if (next) this.app.go(`#/inbox/${this.queue}/${next.id}`);
    } else return false;
    return true;
  }

  // --- the visitor sidebar ---
  async renderSide() {
    const c = this.current;
    if (!c) return;
    const id = c.visitor_id;
    let v;
    try { v = await api('GET', '/api/v1/visitors/' + id); } catch (_) { this.side.replaceChildren(h('p', { class: 'muted' }, 'No details yet.')); return; }
    if (this.current?.visitor_id !== id) return;
    const live = this.live.visitors.get(id);
    const page = live?.page || v.page;
    const d = v.device || {};
    let local = '';
    if (d.timezone) local = time(Date.now(), { zone: d.timezone });
    const row = (k, val) => (val ? [h('dt', {}, k), h('dd', {}, val)] : []);
    this.side.replaceChildren(
      h('h3', {}, v.name || 'Visitor'),
      h('dl', {}, row('Email', v.email), row('Status', live ? 'online' : 'offline · last seen ' + clock(v.last_seen)),
        row('Now on', page ? webLink(page.url, page.title) : null),
        row('Device', [d.kind, d.os, d.browser].filter((x) => x && x !== 'Other').join(' · ')),
        row('Local time', local), row('Location', d.location), row('Language', d.language)),
      h('h3', {}, 'Pages visited'),
      h('ol', {}, v.pages.slice().reverse().map((p) => h('li', {}, webLink(p.url, p.title),
        h('span', { class: 'muted' }, ' · ' + (p.seconds == null ? 'now' : ago(Date.now() - p.seconds * 1000)))))),
      h('h3', {}, 'Conversations'),
      h('ul', {}, v.conversations.map((x) => h('li', {}, h('a', { href: `#/inbox/${x.status === 'closed' ? 'closed' : 'open'}/${x.id}` }, clock(x.created_at)), ' · ' + x.status))),
      this.privacy(id));
  }

  // Owners and admins: the visitor's data as a download, or erased for good.
  privacy(id) {
    if (!['owner', 'admin'].includes(this.live.me?.role)) return null;
    const out = h('p', { class: 'muted', role: 'status' });
    const erase = async () => {
      if (!confirm('Erase everything stored about this visitor — their conversations, pages and contact messages? This cannot be undone.')) return;
      try {
        const r = await api('DELETE', '/api/v1/visitors/' + id);
        this.side.replaceChildren(h('p', { class: 'muted', role: 'status' }, `This visitor's data was erased (${r.erased_records} records).`));
      } catch (e) { out.textContent = e.message; }
    };
    return h('details', { class: 'privacy' }, h('summary', {}, 'Privacy'),
      h('p', { class: 'row-actions' },
        h('button', { type: 'button', class: 'ghost', onclick: () => download('/api/v1/visitors/' + id + '/export', `visitor-${id}.json`, out) }, 'Export data'),
        h('button', { type: 'button', class: 'danger', onclick: erase }, 'Erase visitor…')),
      out);
  }
}
customElements.define('parley-inbox', Inbox);
