// The inbox: queues (Waiting, Mine, All open, Closed) per site, the open
// conversation (history scrolled back by pages, composer with typing,
// notes, canned responses, claim/transfer/close/reopen) and the visitor
// sidebar. Live through the staff socket; history through REST.
//
// The open view follows the live state: whoever changes the conversation
// (this tab, another tab, another agent), its header, actions, composer
// and details show its current status; every action either happens with
// visible feedback (a toast, the button busy until the server answers) or
// says why not (not connected, the conversation changed, a refusal).

import { api, h, ago, clock, webLink, icon, avatar, toast, confirmDialog } from './api.js';
import { download } from './backoffice.js';
import { time } from './time.js';

/** A 1–5 rating as stars. */
const stars = (n) => '★'.repeat(n) + '☆'.repeat(5 - n);

const LATE_MINUTES = Number(localStorage.getItem('parley:late-minutes') || 3);
// [key, visible label, the rest of its name for screen readers ("All open")].
const QUEUES = [['waiting', 'Waiting', ''], ['mine', 'Mine', ''], ['open', 'All', ' open'], ['closed', 'Closed', '']];
const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now() + '-' + Math.random().toString(36).slice(2));
const who = (c) => c.visitor?.name || c.visitor?.email || 'Visitor ' + String(c.visitor_id).slice(-5);
const SIDE_OFF = 'parley:details-off';
const narrow = () => matchMedia('(max-width: 1100px)').matches;

// What a socket error means for the person who acted.
const WS_ERRORS = {
  already_claimed: 'Someone else has just taken this conversation.',
  invalid_state: 'This conversation changed meanwhile; the view now shows its current state.',
  forbidden: 'Your role does not allow this here. Ask an owner or admin.',
  not_found: 'This conversation no longer exists for you.',
  rate_limited: 'Too many actions at once. Wait a moment, then try again.',
  overloaded: 'Parley is busy with this conversation. Try again in a moment.',
  internal: 'The server could not store that; nothing was sent. Try again.',
  too_long: 'The message is too long (4,000 characters at most). Shorten it.',
  empty: 'The message is empty.',
};
const wsError = (e) => WS_ERRORS[e.code] || (e.message ? e.message[0].toUpperCase() + e.message.slice(1) : 'That did not work. Try again.');
const DONE = { claim: 'You have this conversation now.', close: 'Conversation closed.', reopen: 'Conversation reopened.', transfer: 'Conversation transferred.' };

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
    this.list.id = 'queue-list';
    // One segmented control (arrow keys move between tabs); a select where the pane is too narrow for it.
    this.tabs = h('div', { class: 'tabs seg', role: 'tablist', 'aria-label': 'Queues', onkeydown: (e) => this.tabKey(e) }, QUEUES.map(([k, label, rest]) =>
      h('button', { type: 'button', role: 'tab', id: 'queue-tab-' + k, 'data-q': k, 'aria-controls': 'queue-list', onclick: () => this.goQueue(k) },
        h('span', { class: 'label' }, label, rest ? h('span', { class: 'sr' }, rest) : null), h('span', { class: 'count' }))));
    this.queueSel = h('select', { class: 'queue-select', 'aria-label': 'Queue', onchange: () => this.goQueue(this.queueSel.value) },
      QUEUES.map(([k, label, rest]) => h('option', { value: k }, label + rest)));
    this.siteSel = h('select', { 'aria-label': 'Site', onchange: () => { this.site = this.siteSel.value; this.closed.loaded = false; this.renderList(); } },
      h('option', { value: '' }, 'All sites'));
    this.more = h('button', { class: 'ghost more', hidden: true, onclick: () => this.loadClosed(true) }, 'Load more');
    this.convPane = h('section', { class: 'conv', 'aria-label': 'Conversation' });
    this.side = h('aside', { class: 'side', 'aria-label': 'Visitor details', id: 'visitor-details' });
    this.clearOpen();
    if (localStorage.getItem(SIDE_OFF) === '1') this.classList.add('side-off');
    this.append(h('section', { class: 'queue', 'aria-label': 'Queues' }, this.tabs, h('div', { class: 'queue-filters' }, this.queueSel, this.siteSel), this.list, this.more), this.convPane, this.side);
    const on = (type, f) => { this.live.addEventListener(type, f); this.off.push(() => this.live.removeEventListener(type, f)); };
    on('ready', () => {
      this.enrich();
      this.renderList();
      if (!this.openId) return;
      // Whatever changed while the socket was away: the live snapshot wins.
      const now = this.live.conversations.get(this.openId);
      if (now) this.current = { ...this.current, ...now, rating: now.rating ?? null };
      this.renderHeader();
      this.resume();
    });
    on('conversation', (e) => this.onConversation(e.detail.conversation));
    on('message', (e) => this.onMessage(e.detail));
    on('ack', (e) => this.onAck(e.detail));
    on('typing', (e) => this.onTyping(e.detail));
    on('read', (e) => this.onRead(e.detail));
    on('visitor', (e) => { if (this.current && e.detail.id === this.current.visitor_id) this.renderSide(); });
    on('error', (e) => this.onError(e.detail));
    on('status', (e) => { if (!e.detail.online) this.renderComposerState(); });
    this.ticker = setInterval(() => this.renderList(), 15000);
    api('GET', '/api/v1/sites').then((r) => {
      for (const s of r.items) this.siteSel.append(h('option', { value: s.id }, s.name));
    }).catch(() => {});
    api('GET', '/api/v1/canned-responses').then((r) => { this.canned = r.items; }).catch(() => {});
    api('GET', '/api/v1/staff').then((r) => { this.staff = r.items.filter((s) => s.active); this.renderHeader(); }).catch(() => {});
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

  /** Switching queue keeps the open conversation open (and working). */
  goQueue(k) { this.app.go(`#/inbox/${k}` + (this.openId ? '/' + this.openId : '')); }

  /** Left/Right (Home/End) move between the queue tabs and select the one reached. */
  tabKey(e) {
    const tabs = [...this.tabs.children];
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    const to = { ArrowRight: (i + 1) % tabs.length, ArrowLeft: (i + tabs.length - 1) % tabs.length, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    tabs[to].focus();
    this.goQueue(tabs[to].dataset.q);
  }

  route(queue, id) {
    this.queue = QUEUES.some(([k]) => k === queue) ? queue : 'waiting';
    if (this.queue === 'closed' && !this.closed.loaded) this.loadClosed(false);
    this.renderList();
    if (id && id !== this.openId) this.open(id);
    if (!id && this.openId) this.clearOpen();
  }

  /** No conversation open: an empty pane that says what to do, no stale actions. */
  clearOpen() {
    this.openId = null;
    this.current = null;
    this.header = null;
    this.log = null;
    this.endAction();
    this.classList.remove('open', 'show-side');
    const n = this.live.ready ? this.items(this.queue).length : 0;
    this.convPane.replaceChildren(h('div', { class: 'empty conv-empty' }, icon('chat'),
      h('p', { class: 'conv-empty-line' }, n ? 'Pick a conversation from the list.' : 'No conversation here yet. New chats from your sites appear in Waiting.'),
      n ? h('p', { class: 'muted conv-empty-keys' }, h('kbd', {}, 'Alt'), '+', h('kbd', {}, 'J'), ' / ', h('kbd', {}, 'Alt'), '+', h('kbd', {}, 'K'), ' open the next or previous conversation') : null));
    this.side.replaceChildren(h('p', { class: 'muted' }, 'The visitor\'s details show here when a conversation is open.'));
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
      b.tabIndex = q === this.queue ? 0 : -1;
      b.querySelector('.count').textContent = q === 'closed' ? '' : String(this.items(q).length);
    }
    this.queueSel.value = this.queue;
    for (const o of this.queueSel.options) {
      const n = o.value === 'closed' ? '' : ` (${this.items(o.value).length})`;
      const [, label, rest] = QUEUES.find(([k]) => k === o.value);
      o.textContent = label + rest + n;
    }
    this.list.setAttribute('aria-labelledby', 'queue-tab-' + this.queue);
    const now = Date.now();
    const me = this.live.me?.id;
    const rows = this.items(this.queue).map((c) => {
      const since = c.waiting_since || c.created_at;
      const late = c.status === 'waiting' && now - new Date(since) > LATE_MINUTES * 60000;
      const unread = this.app.unread.get(c.id) || 0;
      const at = c.last_message?.ts || c.updated_at;
      const line = c.last_message ? c.last_message.body.replace(/\s+/g, ' ').trim() : '';
      return h('li', { class: late ? 'late' : '' }, h('a', { href: `#/inbox/${this.queue}/${c.id}`, 'aria-current': c.id === this.openId },
        avatar(c.visitor_id, who(c)),
        h('span', { class: 'who' }, h('span', { class: 'name' }, who(c)), h('time', { class: 'at', datetime: at }, clock(at))),
        h('span', { class: 'prev' }, c.last_message?.private ? [icon('lock'), h('span', { class: 'sr' }, 'Note: ')] : null,
          h('span', { class: 'text' }, line || (c.last_message ? '' : 'No message yet')),
          unread ? h('span', { class: 'badge', 'aria-label': unread + ' unread' }, unread) : null),
        h('span', { class: 'wait' }, c.status === 'waiting' ? 'waiting ' + ago(since, now) : c.status === 'closed' ? 'closed'
          : c.assignee ? (c.assignee === me ? 'with you' : 'with ' + this.staffName(c.assignee)) : 'active',
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
    if (c.id === this.openId) {
      const before = this.current?.status;
      // The frame is the whole current state: a reopened chat has no rating.
      this.current = { ...this.current, ...c, rating: c.rating ?? null };
      if (this.action && (c.status !== before || this.action.type === 'transfer' || this.action.type === 'claim')) {
        toast(DONE[this.action.type] || 'Done.');
        this.endAction();
      }
      this.renderHeader();
      this.renderReceipts();
      this.renderSideSoon();
    } else if (this.current && c.visitor_id === this.current.visitor_id) this.renderSideSoon();
  }

  onError(e) {
    if (e.client_id && this.pending.has(e.client_id)) return this.failPending(e.client_id, wsError(e));
    if (this.action) { this.endAction(); this.renderHeader(); }
    toast(wsError(e), 'error');
  }

  // --- the open conversation ---
  async open(id) {
    this.openId = id;
    this.classList.add('open');
    this.shown.clear();
    this.pending.clear();
    this.oldest = null;
    this.current = this.live.conversations.get(id) || this.closed.items.find((c) => c.id === id) || null;
    this.endAction();
    this.log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', tabindex: '0', onscroll: () => { if (this.log.scrollTop < 40) this.older(); } });
    this.typing = h('div', { class: 'typing', 'aria-live': 'polite' });
    this.header = h('header');
    this.convPane.replaceChildren(this.header, this.log, this.typing, this.composer());
    this.renderHeader();
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
      if (this.openId !== id) return;
      this.header = null;
      this.convPane.replaceChildren(h('div', { class: 'empty' }, e.status === 404 ? 'This conversation does not exist (or is no longer yours to see).' : e.message));
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
    const name = m.from.name || (m.from.kind === 'visitor' ? who(this.current || {}) : '');
    const el = kind === 'system' ? h('div', { class: 'msg system', 'data-seq': m.seq }, m.body)
      : this.bubble(kind, m.seq, m.body, (m.private ? 'Note · ' : '') + name + ' · ' + clock(m.ts),
        m.from.kind === 'visitor' ? (this.current?.visitor_id || m.from.id) : (m.from.id || name), name);
    this.shown.set(m.seq, el);
    const after = [...this.log.children].find((x) => +x.dataset.seq > m.seq);
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
    this.log.insertBefore(el, after || null);
    if (stick && !after) this.log.scrollTop = this.log.scrollHeight;
    this.renderReceipts();
    return el;
  }

  /** A message bubble with its author's avatar. */
  bubble(kind, seq, body, meta, avatarId, name) {
    return h('div', { class: 'msg ' + kind, 'data-seq': seq }, avatar(avatarId, name, 'sm'),
      h('div', { class: 'bubble' }, body, h('span', { class: 'meta' }, meta)));
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
    clearTimeout(p.timer);
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

  /**
   * Claim, close, reopen or transfer the open conversation: the buttons stay
   * busy until the server's answer (the conversation's new state, or an
   * error), and a missing answer is said, never silently dropped.
   */
  command(type, extra = {}) {
    if (!this.openId || !this.current) { toast('Open a conversation first.', 'error'); return; }
    if (this.action) { toast('Still waiting for the server to answer the last action.', 'error'); return; }
    const c = this.current;
    const why = type === 'claim' && c.status === 'closed' ? 'This conversation is closed: reopen it first.'
      : type === 'close' && c.status === 'closed' ? 'This conversation is already closed.'
      : type === 'reopen' && c.status !== 'closed' ? 'This conversation is already open.'
      : type === 'claim' && c.status === 'active' && c.assignee === this.live.me?.id ? 'You already have this conversation.'
      : null;
    if (why) { toast(why, 'error'); return; }
    if (!this.live.send({ type, conversation_id: this.openId, ...extra })) {
      toast('Not connected to Parley: nothing was done. Reconnecting — try again in a moment.', 'error');
      return;
    }
    this.action = { type, timer: setTimeout(() => {
      this.endAction();
      this.renderHeader();
      toast('No answer from the server. Check the conversation and try again.', 'error');
    }, 8000) };
    this.renderHeader();
  }

  endAction() { if (this.action) clearTimeout(this.action.timer); this.action = null; }

  /** Shows or hides the details panel (remembered on wide screens; a sheet on narrow ones). */
  toggleSide(open) {
    if (narrow()) {
      const on = open ?? !this.classList.contains('show-side');
      this.classList.toggle('show-side', on);
      if (on) this.side.querySelector('button, a')?.focus();
    } else {
      const on = open ?? this.classList.contains('side-off');
      this.classList.toggle('side-off', !on);
      localStorage.setItem(SIDE_OFF, on ? '0' : '1');
    }
    this.header?.querySelector('.details-btn')?.setAttribute('aria-expanded', String(this.sideShown()));
  }

  sideShown() { return narrow() ? this.classList.contains('show-side') : !this.classList.contains('side-off'); }

  renderHeader() {
    const c = this.current;
    if (!c || !this.header) return;
    const me = this.live.me?.id;
    const busy = this.action?.type;
    const others = this.staff.filter((s) => s.id !== me);
    const transfer = h('select', { 'aria-label': 'Transfer to', disabled: !!busy, onchange: (e) => { if (e.target.value) this.command('transfer', { to_staff_id: e.target.value }); e.target.value = ''; } },
      h('option', { value: '' }, 'Transfer to…'), others.map((s) => h('option', { value: s.id }, s.name || s.email)));
    const act = (type, label, cls, extra = {}) => h('button', { type: 'button', class: cls, disabled: !!busy, 'aria-busy': busy === type ? 'true' : false,
      onclick: () => this.command(type), ...extra }, busy === type ? label + '…' : label);
    const canTake = c.status === 'waiting' || (c.status === 'active' && c.assignee !== me && this.app.can('manage'));
    this.header.replaceChildren(
      h('button', { type: 'button', class: 'icon-btn back', 'aria-label': 'Back to the list', onclick: () => this.app.go(`#/inbox/${this.queue}`) }, icon('arrow-left')),
      h('div', { class: 'title' }, avatar(c.visitor_id, who(c)), h('h2', {}, who(c)),
        h('span', { class: 'status ' + c.status }, c.status),
        c.status === 'active' && c.assignee ? h('span', { class: 'assignee muted' }, c.assignee === me ? 'with you' : 'with ' + this.staffName(c.assignee)) : null,
        c.status === 'closed' && c.rating ? h('span', { class: 'rating', 'aria-label': `rated ${c.rating.score} of 5` }, stars(c.rating.score),
          c.rating.comment ? h('q', {}, c.rating.comment) : null) : null),
      h('div', { class: 'actions' },
        canTake ? act('claim', c.status === 'waiting' ? 'Claim' : 'Take over', '', { title: 'Alt+C' }) : null,
        c.status !== 'closed' ? transfer : null,
        c.status !== 'closed' ? act('close', 'Close', 'ghost', { title: 'Alt+X' }) : act('reopen', 'Reopen', ''),
        h('button', { type: 'button', class: 'icon-btn details-btn', 'aria-label': 'Visitor details', title: 'Visitor details',
          'aria-controls': 'visitor-details', 'aria-expanded': String(this.sideShown()), onclick: () => this.toggleSide() }, icon('panel-right'))));
    this.renderComposerState();
  }

  staffName(id) {
    const s = this.staff.find((x) => x.id === id);
    return s ? (s.name || s.email) : 'a colleague';
  }

  /** The composer says why it cannot send, when it cannot. */
  renderComposerState() {
    if (!this.state || !this.box) return;
    const c = this.current;
    const closed = c?.status === 'closed';
    const why = !c ? '' : closed ? 'This conversation is closed. Reopen it to reply.'
      : !this.live.ready ? 'Not connected: messages wait until the connection is back.' : '';
    this.state.textContent = why;
    this.state.hidden = !why;
    this.box.disabled = closed;
    this.sendBtn.disabled = closed;
    // Closed: the whole composer reads as read-only (greyed), the bar says why.
    const form = this.box.closest('form');
    form?.classList.toggle('is-closed', closed);
    for (const x of form?.querySelectorAll('.note-toggle input') || []) x.disabled = closed;
    if (closed) this.box.placeholder = 'Closed: reopen the conversation to reply';
    else if (this.box.placeholder.startsWith('Closed')) this.box.placeholder = 'Reply…';
  }

  failPending(clientId, why) {
    const p = this.pending.get(clientId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(clientId);
    p.el.classList.add('failed');
    const meta = p.el.querySelector('.meta');
    meta.replaceChildren(h('span', { class: 'error' }, 'Not sent: ' + why + ' '),
      h('button', { type: 'button', class: 'ghost small', onclick: () => { p.el.remove(); this.box.value = p.body; this.box.focus(); } }, 'Edit and resend'));
  }

  composer() {
    const box = h('textarea', { 'aria-label': 'Reply', placeholder: 'Reply… (Enter sends, Shift+Enter new line, / for canned responses)' });
    const note = h('input', { type: 'checkbox', 'aria-label': 'Private note' });
    const suggest = h('ul', { class: 'suggest', role: 'listbox', hidden: true });
    this.state = h('p', { class: 'state', role: 'status', hidden: true });
    this.sendBtn = h('button', { type: 'submit' }, icon('send'), 'Send');
    const form = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); send(); } }, suggest, this.state, box,
      h('div', { class: 'row' }, h('span', { class: 'hint' }, 'Alt+N note · Alt+C claim · Alt+X close'),
        h('label', { class: 'note-toggle' }, note, 'Note'), this.sendBtn));
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
      if (!this.openId) { toast('Open a conversation first.', 'error'); return; }
      if (!body) { box.focus(); return; }
      if (this.current?.status === 'closed') { toast('This conversation is closed. Reopen it to reply.', 'error'); return; }
      const client_id = uuid();
      const me = this.live.me || {};
      const el = this.bubble(note.checked ? 'note' : 'staff', Number.MAX_SAFE_INTEGER, body, 'sending…', me.id, me.name || me.email || 'You');
      const p = { el, body, private: note.checked };
      if (!this.live.send({ type: 'send', conversation_id: this.openId, client_id, body, private: note.checked })) {
        toast('Not connected to Parley: your message was not sent. It is still in the box; send it again once reconnected.', 'error');
        return;
      }
      this.pending.set(client_id, p);
      p.timer = setTimeout(() => this.failPending(client_id, 'no answer from the server.'), 15000);
      this.log.append(el);
      this.log.scrollTop = this.log.scrollHeight;
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
    this.sideFor = id;
    const live = this.live.visitors.get(id);
    const page = live?.page || v.page;
    const d = v.device || {};
    let local = '';
    if (d.timezone) local = time(Date.now(), { zone: d.timezone });
    const row = (k, val) => (val ? [h('dt', {}, k), h('dd', {}, val)] : []);
    const name = v.name || v.email || who(c);
    this.side.replaceChildren(
      h('div', { class: 'side-head' }, avatar(id, name), h('h2', {}, name),
        h('button', { type: 'button', class: 'icon-btn side-close', 'aria-label': 'Close details', onclick: () => { this.toggleSide(false); this.header?.querySelector('.details-btn')?.focus(); } }, icon('x'))),
      h('dl', {}, row('Email', v.email), row('Status', live ? 'online' : 'offline · last seen ' + clock(v.last_seen)),
        row('Now on', page ? webLink(page.url, page.title) : null),
        row('Device', [d.kind, d.os, d.browser].filter((x) => x && x !== 'Other').join(' · ')),
        row('Local time', local), row('Location', d.location), row('Language', d.language),
        row('Rating', c.rating ? [this.ratingBadge(c.rating), c.rating.comment ? h('q', { class: 'muted' }, c.rating.comment) : null] : null)),
      h('h3', {}, 'Pages visited'),
      h('ol', {}, v.pages.slice().reverse().map((p) => h('li', {}, webLink(p.url, p.title),
        h('span', { class: 'muted' }, ' · ' + (p.seconds == null ? 'now' : ago(Date.now() - p.seconds * 1000)))))),
      h('h3', {}, 'Conversations', h('span', { class: 'count' }, String(v.conversations.length))),
      this.history(v.conversations),
      this.privacy(id));
  }

  /**
   * Every conversation of this visitor, newest first (closed ones too): its
   * date, status, first and last line; each opens in the conversation pane
   * (a closed one read-only, with Reopen).
   */
  history(list) {
    if (!list.length) return h('p', { class: 'muted' }, 'No conversations yet.');
    const line = (m) => (m ? m.body.replace(/\s+/g, ' ').trim() : '');
    return h('ul', { class: 'history' }, list.map((x) => {
      // The live state is newer than the REST answer.
      const status = this.live.conversations.get(x.id)?.status || x.status;
      const first = line(x.first_message), last = line(x.last_message);
      const here = x.id === this.openId;
      // Opens in the pane and keeps the list where it was (no queue switch).
      return h('li', { class: here ? 'here' : '' }, h('a', { href: `#/inbox/${this.queue}/${x.id}`, 'aria-current': here ? 'true' : false },
        h('span', { class: 'h-top' }, h('time', { datetime: x.created_at }, clock(x.created_at)),
          h('span', { class: 'status ' + status }, status),
          x.rating && status === 'closed' ? this.ratingBadge(x.rating) : null,
          here ? h('span', { class: 'muted' }, 'this one') : null),
        first ? h('span', { class: 'h-line' }, first) : h('span', { class: 'h-line muted' }, 'No message'),
        last && last !== first ? h('span', { class: 'h-line muted' }, h('span', { class: 'sr' }, 'Last: '), last) : null));
    }));
  }

  /** A rating as stars with its score for screen readers, the comment on hover. */
  ratingBadge(r) {
    return h('span', { class: 'stars', title: r.comment || '', 'aria-label': `rated ${r.score} of 5` }, stars(r.score));
  }

  renderSideSoon() {
    clearTimeout(this.sideTimer);
    this.sideTimer = setTimeout(() => this.renderSide(), 150);
  }

  // Owners and admins: the visitor's data as a download, or erased for good.
  privacy(id) {
    if (!['owner', 'admin'].includes(this.live.me?.role)) return null;
    const out = h('p', { class: 'muted', role: 'status' });
    const erase = async () => {
      if (!await confirmDialog({ title: 'Erase this visitor?', body: 'Everything stored about this visitor — their conversations, pages and contact messages — is deleted. This cannot be undone.', confirm: 'Erase visitor', danger: true })) return;
      try {
        const r = await api('DELETE', '/api/v1/visitors/' + id);
        this.side.replaceChildren(h('p', { class: 'muted', role: 'status' }, `This visitor's data was erased (${r.erased_records} records).`));
        toast('Visitor erased.');
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
