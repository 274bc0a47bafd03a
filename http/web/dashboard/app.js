// The staff dashboard at /app/: the shell (a left navigation by role, in
// groups, collapsible to icons and a drawer on phones; a top bar with the
// bell, availability and the signed-in person's menu), the hash router, and
// attention — unread count in the title, a sound and a desktop
// notification while hidden.

import { api, h, session, schedule, signOut, icon, avatar, toast, validateInline } from './api.js';
import { autoLabelTables } from './ui.js';
import { Live } from './live.js';
import { Inbox } from './inbox.js';
import { Visitors } from './visitors.js';
import * as manage from './manage.js';
import * as office from './backoffice.js';
import * as stats from './analytics.js';
import { gate } from './gate.js';

// Signed out, or opened from a mailed link: those pages first.
await gate();

// The navigation: groups of [hash, label, icon, who may see it].
const NAV = [
  ['Conversations', [['#/inbox', 'Inbox', 'inbox'], ['#/visitors', 'Visitors', 'eye']]],
  ['Customers', [['#/contacts', 'Messages', 'mail'], ['#/consultations', 'Consultations', 'calendar'],
    ['#/admin/newsletter', 'Newsletter', 'newspaper', 'manage']]],
  ['Reports', [['#/home', 'Home', 'home', 'manage'], ['#/analytics', 'Analytics', 'chart', 'manage'],
    ['#/performance', 'Performance', 'gauge', 'manage']]],
  ['Settings', [['#/welcome', 'Get started', 'flag', 'manage'], ['#/admin/sites', 'Sites', 'globe', 'manage'],
    ['#/admin/staff', 'Staff', 'users', 'manage'], ['#/canned', 'Canned', 'canned'],
    ['#/admin/webhooks', 'Webhooks', 'webhook', 'manage'], ['#/admin/outbox', 'Outbox', 'send', 'manage'],
    ['#/admin/audit', 'Audit', 'history', 'manage'], ['#/account', 'Account', 'user']]],
];
const COLLAPSED = 'parley:nav-collapsed';

class App {
  constructor() {
    this.live = new Live();
    this.unread = new Map();
    this.main = h('main', { id: 'main', tabindex: '-1' });
    this.banner = h('div', { class: 'banner', role: 'status', hidden: true });
    this.nav = h('nav', { class: 'side-nav', 'aria-label': 'Main', id: 'side-nav' });
    this.navList = h('div', { class: 'nav-groups' });
    const collapse = h('button', { type: 'button', class: 'icon-btn nav-collapse', 'aria-controls': 'side-nav', onclick: () => this.collapse(!document.body.classList.contains('nav-collapsed')) },
      icon('panel-left'), h('span', { class: 'label' }, 'Collapse'));
    this.collapseBtn = collapse;
    this.nav.append(h('a', { class: 'brand', href: '#/inbox/waiting' }, h('img', { src: '/assets/favicon.svg', alt: '', width: 24, height: 24 }), h('span', { class: 'label' }, 'Parley')),
      this.navList, collapse);
    this.scrim = h('div', { class: 'scrim', hidden: true, onclick: () => this.drawer(false) });
    this.menuBtn = h('button', { type: 'button', class: 'icon-btn menu-btn', 'aria-label': 'Menu', 'aria-controls': 'side-nav', 'aria-expanded': 'false', onclick: () => this.drawer(true) }, icon('menu'));
    this.avail = h('select', { class: 'avail', 'aria-label': 'Availability', onchange: () => { this.live.setAvailability(this.avail.value); this.availDot(); } },
      h('option', { value: 'available' }, 'Available'), h('option', { value: 'away' }, 'Away'));
    this.avail.value = this.live.availability;
    this.availWrap = h('label', { class: 'avail-wrap' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), this.avail);
    this.availDot();
    this.notifyBtn = h('button', { class: 'ghost small hide-phone', hidden: !('Notification' in window) || Notification.permission !== 'default',
      onclick: () => Notification.requestPermission().then(() => { this.notifyBtn.hidden = true; }) }, 'Enable notifications');
    this.person = h('div', { class: 'person' });
    this.bell = new office.Bell(this);
    this.pageTitle = h('span', { class: 'page-title' });
    const top = h('header', { class: 'top' }, this.menuBtn, this.pageTitle,
      h('div', { class: 'right' }, this.notifyBtn, this.bell.el, this.availWrap, this.person));
    document.body.classList.add('shell');
    this.collapse(localStorage.getItem(COLLAPSED) === '1', false);
    document.body.append(this.nav, this.scrim, h('div', { class: 'work' }, top, this.banner, this.main));
    validateInline(document);
    autoLabelTables(this.main);
    this.renderPerson();
    this.live.addEventListener('status', (e) => {
      this.banner.hidden = e.detail.online;
      this.banner.textContent = 'Reconnecting to Parley… Until then, nothing you send can reach it.';
    });
    this.live.addEventListener('ready', () => {
      this.renderNav(); this.renderPerson(); this.title(); if (!this.view) this.routeNow();
      // "Get started" stays in the navigation until every set-up step is done.
      if (this.can('manage')) manage.setupSteps().then((s) => {
        this.setupDone = s.installed && s.teammate && s.hours && s.answered;
        this.renderNav();
      }).catch(() => {});
    });
    this.live.addEventListener('message', (e) => this.attention(e.detail));
    this.live.addEventListener('conversation', (e) => {
      if (e.detail.isNew && e.detail.conversation.status === 'waiting') this.alert('New conversation', 'A visitor is waiting.');
    });
    document.addEventListener('visibilitychange', () => this.title());
    addEventListener('hashchange', () => { this.drawer(false); this.routeNow(); });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && document.body.classList.contains('drawer-open')) { this.drawer(false); this.menuBtn.focus(); return; }
      if (this.view instanceof Inbox && this.view.key(e)) e.preventDefault();
      if (e.altKey && e.key >= '1' && e.key <= '3') {
        e.preventDefault();
        this.go(['#/inbox/waiting', '#/inbox/mine', '#/visitors'][+e.key - 1]);
      }
    });
    schedule();
    this.live.connect();
  }

  /** Collapses the navigation to icons (remembered), or expands it. */
  collapse(on, remember = true) {
    document.body.classList.toggle('nav-collapsed', on);
    if (remember) localStorage.setItem(COLLAPSED, on ? '1' : '0');
    this.collapseBtn.setAttribute('aria-expanded', String(!on));
    this.collapseBtn.setAttribute('aria-label', on ? 'Expand the navigation' : 'Collapse the navigation');
    this.collapseBtn.title = on ? 'Expand' : 'Collapse';
  }

  /** The navigation as a drawer (phones). */
  drawer(open) {
    const was = document.body.classList.contains('drawer-open');
    document.body.classList.toggle('drawer-open', open);
    this.scrim.hidden = !open;
    this.menuBtn.setAttribute('aria-expanded', String(open));
    if (open && !was) this.nav.querySelector('a[aria-current="page"], a')?.focus();
  }

  availDot() { this.availWrap.dataset.status = this.avail.value; }

  /** The signed-in person's menu: name, Account, Sign out. */
  renderPerson() {
    const me = this.live.me || {};
    const name = me.name || me.email || 'You';
    const menu = h('div', { class: 'person-menu card', hidden: true, id: 'person-menu' },
      h('div', { class: 'who' }, h('strong', {}, name), h('span', { class: 'muted' }, [me.email, me.role && me.role[0].toUpperCase() + me.role.slice(1)].filter(Boolean).join(' · '))),
      h('a', { class: 'menu-item', href: '#/account', onclick: () => toggle(false) }, icon('user'), 'Account'),
      h('button', { type: 'button', class: 'menu-item', onclick: () => this.logout() }, icon('log-out'), 'Sign out'));
    const btn = h('button', { type: 'button', class: 'person-btn', 'aria-controls': 'person-menu', 'aria-expanded': 'false', title: 'Your account' },
      avatar(me.id || name, name, 'sm'), h('span', { class: 'name' }, name), icon('chevron-down', 'hide-phone'));
    const toggle = (open = menu.hidden) => {
      menu.hidden = !open;
      btn.setAttribute('aria-expanded', String(open));
      if (open) menu.querySelector('a')?.focus();
    };
    btn.onclick = () => toggle();
    menu.addEventListener('keydown', (e) => {
      const items = [...menu.querySelectorAll('.menu-item')];
      const i = items.indexOf(document.activeElement);
      if (e.key === 'Escape') { toggle(false); btn.focus(); }
      else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length].focus(); }
    });
    if (!this.personClicks) {
      this.personClicks = true;
      document.addEventListener('click', (e) => {
        const m = this.person.querySelector('.person-menu');
        if (m && !m.hidden && !this.person.contains(e.target)) { m.hidden = true; this.person.querySelector('.person-btn')?.setAttribute('aria-expanded', 'false'); }
      });
    }
    this.person.replaceChildren(btn, menu);
  }

  /** What the signed-in member's role allows in the UI (the server decides). */
  can(what) {
    const role = this.live.me?.role;
    if (what === 'manage') return role === 'owner' || role === 'admin';
    return false;
  }

  go(hash) { if (location.hash !== hash) location.hash = hash; else this.routeNow(); }

  renderNav() {
    const here = location.hash || '#/inbox';
    let current = null;
    const groups = NAV.map(([group, links]) => {
      const shown = links.filter(([href, , , who]) => (!who || this.can(who))
        && !(href === '#/welcome' && this.setupDone && !here.startsWith('#/welcome')));
      if (!shown.length) return null;
      const id = 'nav-' + group.toLowerCase();
      return h('div', { class: 'nav-group' }, h('span', { class: 'nav-head', id }, group), h('ul', { 'aria-labelledby': id }, shown.map(([href, label, ic]) => {
        const on = here === href || here.startsWith(href + '/');
        if (on) current = label;
        const n = href === '#/inbox' ? this.total() : 0;
        return h('li', {}, h('a', { href, 'aria-current': on ? 'page' : false, title: label }, icon(ic), h('span', { class: 'label' }, label),
          n ? h('span', { class: 'badge', 'aria-label': `, ${n} unread` }, n) : null));
      })));
    });
    this.navList.replaceChildren(...groups.filter(Boolean));
    this.pageTitle.textContent = current || '';
  }

  mount(el, full = false) {
    this.view = el;
    this.main.className = full ? 'full' : '';
    document.body.classList.toggle('fit', full);
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
      else if (section === 'welcome') { page.classList.add('welcome'); await manage.welcomePage(this, page); }
      else this.go('#/inbox/waiting');
    } catch (e) {
      this.toast(e.message, 'error');
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

  /** A short notice (see ui.js `toast`); `kind` 'ok' or 'error'. */
  toast(text, kind = 'error') { return toast(text, kind); }

  async logout() {
    const s = session.get();
    try { if (s) await api('POST', '/api/v1/auth/logout', { refresh_token: s.refresh_token }); } catch (_) {}
    signOut('You signed out.');
  }
}

window.parley = new App();
