// The staff socket and the live state it keeps: conversations, visitors
// online, who I am. Reconnects with backoff and jitter; a 4401 refreshes
// the token once (or signs out when the session was ended elsewhere).

import { token, refresh, signOut } from './api.js';
import { setZone } from './time.js';

export class Live extends EventTarget {
  constructor() {
    super();
    this.conversations = new Map();
    this.visitors = new Map();
    this.me = null;
    this.ready = false;
    this.attempts = 0;
    this.used = null;
    this.availability = localStorage.getItem('parley:availability') || 'available';
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  async connect() {
    clearTimeout(this.timer);
    let t;
    try { t = await token(); } catch (_) { return; }
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/staff');
    this.ws = ws;
    this.used = t;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: t }));
    ws.onmessage = (e) => this.on(JSON.parse(e.data));
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ready = false;
      this.emit('status', { online: false });
      if (e.code === 4403) return signOut('This workspace has been suspended.');
      if (e.code === 4401) {
        // Expired, or revoked: a refresh tells which (and signs out if revoked).
        refresh(this.used).then(() => this.connect(), () => {});
        return;
      }
      const delay = e.code === 1012 ? 100 : Math.min(30000, 500 * 2 ** this.attempts++) * (0.5 + Math.random());
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  send(f) {
    if (this.ws && this.ws.readyState === 1) { this.ws.send(JSON.stringify(f)); return true; }
    return false;
  }

  setAvailability(status) {
    this.availability = status;
    localStorage.setItem('parley:availability', status);
    this.send({ type: 'availability', status });
    this.emit('availability', status);
  }

  on(f) {
    switch (f.type) {
      case 'ready':
        this.attempts = 0;
        this.ready = true;
        this.me = f.staff;
        setZone(f.staff.timezone);
        this.conversations = new Map(f.conversations.map((c) => [c.id, c]));
        this.visitors = new Map(f.visitors.map((v) => [v.id, v]));
        // `ready` lists the visitors who arrived last; this many were online.
        this.visitorsOnline = f.visitors_online ?? f.visitors.length;
        if (this.availability !== 'available') this.send({ type: 'availability', status: this.availability });
        this.emit('status', { online: true });
        this.emit('ready', f);
        break;
      case 'conversation': {
        const known = this.conversations.get(f.conversation.id);
        const c = { ...known, ...f.conversation };
        this.conversations.set(c.id, c);
        this.emit('conversation', { conversation: c, isNew: !known });
        break;
      }
      case 'message': {
        const c = this.conversations.get(f.conversation_id);
        if (c) {
          c.last_seq = Math.max(c.last_seq || 0, f.seq);
          if (!c.last_message || c.last_message.seq <= f.seq) c.last_message = f;
        }
        this.emit('message', f);
        break;
      }
      case 'visitor':
        if (f.visitor.online) this.visitors.set(f.visitor.id, f.visitor);
        else this.visitors.delete(f.visitor.id);
        this.emit('visitor', f.visitor);
        break;
      default:
        this.emit(f.type, f);
    }
  }
}
