// Live visitors: everyone on the tenant's sites right now, their current
// page and time on site and on the page, updated as `visitor` frames
// arrive; staff can start a conversation with any of them.

import { h, ago, webLink, avatar } from './api.js';

const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now() + '-' + Math.random().toString(36).slice(2));

export class Visitors extends HTMLElement {
  constructor(app) {
    super();
    this.app = app;
    this.live = app.live;
    this.off = [];
  }

  connectedCallback() {
    this.className = 'page';
    this.count = h('span', { class: 'muted' });
    this.body = h('tbody');
    this.append(h('h1', {}, 'Live visitors ', this.count),
      h('table', { 'aria-label': 'Visitors online now' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Visitor'), h('th', {}, 'Current page'), h('th', {}, 'On site'),
          h('th', {}, 'On page'), h('th', {}, ''))), this.body));
    const render = () => this.render();
    for (const t of ['visitor', 'ready']) {
      this.live.addEventListener(t, render);
      this.off.push(() => this.live.removeEventListener(t, render));
    }
    const acked = (e) => {
      const to = this.starting?.get(e.detail.client_id);
      if (to) this.app.go(`#/inbox/mine/${e.detail.conversation_id}`);
    };
    this.live.addEventListener('ack', acked);
    this.off.push(() => this.live.removeEventListener('ack', acked));
    this.starting = new Map();
    this.ticker = setInterval(() => this.tick(), 1000);
    this.render();
  }

  disconnectedCallback() { this.off.forEach((f) => f()); clearInterval(this.ticker); }

  tick() {
    const now = Date.now();
    for (const tr of this.body.children) {
      const v = this.live.visitors.get(tr.dataset.id);
      if (!v) continue;
      tr.querySelector('.on-site').textContent = ago(v.since, now);
      tr.querySelector('.on-page').textContent = v.page_since ? ago(v.page_since, now) : '';
    }
  }

  render() {
    const list = [...this.live.visitors.values()].sort((a, b) => String(b.since).localeCompare(String(a.since)));
    const online = this.live.visitorsOnline || 0;
    this.count.textContent = online > list.length
      ? `(${list.length} who arrived last, of ${online} online at sign-in)`
      : '(' + list.length + ')';
    const open = this.body.querySelector('form');
    const openFor = open?.closest('tr')?.dataset.id;
    const draft = open?.elements.body.value;
    this.body.replaceChildren(...list.map((v) => {
      const name = v.name || v.email || 'Visitor ' + v.id.slice(-5);
      const td = h('td', {});
      const start = () => {
        const input = h('input', { name: 'body', 'aria-label': 'Message to ' + name, placeholder: 'Say hello…', required: true });
        td.replaceChildren(h('form', { class: 'row-actions', onsubmit: (e) => {
          e.preventDefault();
          const client_id = uuid();
          this.starting.set(client_id, v.id);
          this.live.send({ type: 'start', visitor_id: v.id, client_id, body: input.value.trim() });
        } }, input, h('button', { type: 'submit' }, 'Send')));
        input.focus();
        return input;
      };
      td.append(h('button', { class: 'ghost', onclick: start }, 'Start chat'));
      const tr = h('tr', { 'data-id': v.id },
        h('td', {}, h('div', { class: 'person-cell' }, avatar(v.id, name, 'sm'),
          h('div', {}, h('strong', {}, name), v.email && v.name ? h('div', { class: 'muted' }, v.email) : null))),
        h('td', { class: 'page-cell' }, v.page ? webLink(v.page.url, v.page.title) : '',
          // A phone's card shows the page's title; the raw address only on wider screens.
          v.page ? h('div', { class: 'muted page-url', style: 'font-size:.8em;overflow-wrap:anywhere' }, v.page.url) : null),
        h('td', { class: 'on-site when' }, ago(v.since)),
        h('td', { class: 'on-page when' }, v.page_since ? ago(v.page_since) : ''), td);
      if (v.id === openFor) { const input = start(); input.value = draft || ''; }
      return tr;
    }));
    if (!list.length) this.body.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'Nobody is on your sites right now.')));
  }
}
customElements.define('parley-visitors', Visitors);
