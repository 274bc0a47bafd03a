// The staff dashboard at /app/: the shell (navigation by role,
// availability, the bell, notifications), the hash router, and attention — unread
// count in the title, a sound and a desktop notification while hidden.

import { api, h, session, schedule, signOut } from './api.js';
import { Live } from './live.js';
import { Inbox } from './inbox.js';
import { Visitors } from './visitors.js';
import * as manage from './manage.js';
import * as office from './backoffice.js';
import * as stats from './analytics.js';
import { gate } from './gate.js';

// Signed out, or opened from a mailed link: those pages first.
await gate();

class App {
  constructor() {
    this.live = new Live();
    this.unread = new Map();
    this.main = h('main', { id: 'main', tabindex: '-1' });
    this.banner = h('div', { class: 'banner', role: 'status', hidden: true });
    this.toastEl = h('div', { class: 'banner', role: 'alert', hidden: true });
    this.nav = h('nav', { 'aria-label': 'Main' });
    this.avail = h('select', { 'aria-label': 'Availability', onchange: () => this.live.setAvailability(this.avail.value) },
      h('option', { value: 'available' }, '● Available'), h('option', { value: 'away' }, '○ Away'));
    this.avail.value = this.live.availability;
    this.notifyBtn = h('button', { class: 'ghost hide-phone', hidden: !('Notification' in window) || Notification.permission !== 'default',
      onclick: () => Notification.requestPermission().then(() => { this.notifyBtn.hidden = true; }) }, 'Enable notifications');
    document.body.append(h('header', { class: 'top' }, h('a', { class: 'brand', href: '#/inbox/waiting' }, 'Parley'), this.nav,
      h('div', { class: 'right' }, this.notifyBtn, (this.bell = new office.Bell(this)).el, this.avail,
        h('button', { class: 'ghost', onclick: () => this.logout() }, 'Sign out'))), this.banner, this.toastEl, this.main);
    this.live.addEventListener('status', (e) => {
      this.banner.hidden = e.detail.online;
      this.banner.textContent = 'Reconnecting…';
    });
    this.live.addEventListener('ready', () => { this.renderNav(); this.title(); if (!this.view) this.routeNow(); });
    this.live.addEventListener('message', (e) => this.attention(e.detail));
    this.live.addEventListener('conversation', (e) => {
      if (e.detail.isNew && e.detail.conversation.status === 'waiting') this.alert('New conversation', 'A visitor is waiting.');
    });
    document.addEventListener('visibilitychange', () => this.title());
    addEventListener('hashchange', () => this.routeNow());
    document.addEventListener('keydown', (e) => {
      if (this.view instanceof Inbox && this.view.key(e)) e.preventDefault();
      if (e.altKey && e.key >= '1' && e.key <= '3') {
        e.preventDefault();
        this.go(['#/inbox/waiting', '#/inbox/mine', '#/visitors'][+e.key - 1]);
      }
    });
    schedule();
    this.live.connect();
  }

  /** What the signed-in member's role allows in the UI (the server decides). */
  can(what) {
    const role = this.live.me?.role;
    if (what === 'manage') return role === 'owner' || role === 'admin';
    return false;
  }

  go(hash) { if (location.hash !== hash) location.hash = hash; else this.routeNow(); }

  renderNav() {
    const links = [...(this.can('manage') ? [['#/home', 'Home']] : []), ['#/inbox', 'Inbox'], ['#/visitors', 'Visitors'], ['#/contacts', 'Messages'], ['#/consultations', 'Consultations'], ['#/canned', 'Canned'],
      ...(this.can('manage') ? [['#/analytics', 'Analytics'], ['#/performance', 'Performance'], ['#/admin/staff', 'Staff'], ['#/admin/sites', 'Sites'], ['#/admin/newsletter', 'Newsletter'], ['#/admin/webhooks', 'Webhooks'],
        ['#/admin/outbox', 'Outbox'], ['#/admin/audit', 'Audit log']] : []),
      ['#/account', 'Account']];
    const here = location.hash || '#/inbox';
    this.nav.replaceChildren(...links.map(([href, label]) => h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : false }, label,
      href === '#/inbox' && this.total() ? h('span', { class: 'badge', style: 'margin-left:.3em' }, this.total()) : null)));
  }

  mount(el, full = false) {
    this.view = el;
    this.main.className = full ? 'full' : '';
    this.main.replaceChildren(el);
  }

  async routeNow() {
    if (!this.live.ready) return;
    const [, section = 'inbox', a, b] = (location.hash || '#/inbox').split('/');
    this.renderNav();
    try {
      if (section === 'inbox') {
        if (!(this.view instanceof Inbox)) this.mount(new Inbox(this), true);
        this.view.route(a || 'waiting', b);
        return;
      }
      if (section === 'visitors') return this.mount(new Visitors(this));
      const page = h('div', { class: 'page' });
      this.mount(page);
      if (['admin', 'home', 'analytics', 'performance'].includes(section) && !this.can('manage')) {
        page.append(h('h1', {}, 'Not available'), h('p', {}, 'Only owners and admins manage the workspace.'));
        return;
      }
      const pages = { staff: manage.staffPage, sites: manage.sitesPage, outbox: manage.outboxPage, audit: manage.auditPage,
        newsletter: office.newsletterPage, webhooks: office.webhooksPage };
      if (section === 'admin') await (pages[a] || manage.staffPage)(this, page, b);
      else if (section === 'home') await stats.homePage(this, page);
      else if (section === 'analytics') await stats.analyticsPage(this, page);
      else if (section === 'performance') await stats.performancePage(this, page);
      else if (section === 'canned') await manage.cannedPage(this, page);
      else if (section === 'contacts') await manage.contactsPage(this, page, a);
      else if (section === 'consultations') await office.consultationsPage(this, page, a);
      else if (section === 'account') await manage.accountPage(this, page);
      else if (section === 'welcome') await manage.welcomePage(this, page);
      else this.go('#/inbox/waiting');
    } catch (e) {
      this.toast(e.message);
    }
  }

  // --- attention ---
  total() { let n = 0; for (const v of this.unread.values()) n += v; return n; }

  title() {
    const n = this.total();
    document.title = (n ? `(${n}) ` : '') + 'Parley';
    this.renderNav();
  }

  seen(id) { if (this.unread.delete(id)) this.title(); }

  attention(m) {
    if (m.from.kind !== 'visitor') return;
    const viewing = this.view instanceof Inbox && this.view.openId === m.conversation_id && !document.hidden;
    if (viewing) return;
    this.unread.set(m.conversation_id, (this.unread.get(m.conversation_id) || 0) + 1);
    this.title();
    this.alert('New message', m.body);
  }

  alert(title, body) {
    if (!document.hidden) return;
    this.beep();
    try { if ('Notification' in window && Notification.permission === 'granted') new Notification(title, { body, tag: 'parley' }); } catch (_) {}
  }

  beep() {
    try {
      this.audio = this.audio || new AudioContext();
      const a = this.audio, o = a.createOscillator(), g = a.createGain();
      o.frequency.value = 740;
      g.gain.setValueAtTime(0.06, a.currentTime);
      g.gain.exponentialRampToValueAtTime(0.0001, a.currentTime + 0.3);
      o.connect(g).connect(a.destination);
      o.start();
      o.stop(a.currentTime + 0.3);
    } catch (_) {}
  }

  toast(text) {
    this.toastEl.textContent = text;
    this.toastEl.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toastEl.hidden = true; }, 5000);
  }

  async logout() {
    const s = session.get();
    try { if (s) await api('POST', '/api/v1/auth/logout', { refresh_token: s.refresh_token }); } catch (_) {}
    signOut('You signed out.');
  }
}

window.parley = new App();
