// The widget's "Your conversations": loaded by the panel only when the
// visitor opens it. Lists this visitor's conversations on the site (the
// server reads them by the visitor's token: nobody else's), newest first;
// a past one opens read-only (its one back link leads to the list), and "Back to the chat" returns to the current
// one. Text is only ever set as text, never parsed as HTML.

const when = (ts) => new Date(ts).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
// A message's time under a heading that gives the day: the time alone on that day.
const at = (ts, day) => (new Date(ts).toDateString() === new Date(day).toDateString()
  ? new Date(ts).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' }) : when(ts));

/**
 * Shows the history in `view` (a section the panel shows instead of the
 * chat). `ctx`: `{ h, linkify, avatar, api, token, current, back }`.
 */
export async function show(view, ctx) {
  const { h } = ctx;
  const title = h('h2', { tabindex: '-1' }, 'Your conversations');
  const backToChat = () => h('button', { type: 'button', class: 'back', onclick: ctx.back }, '← Back to the chat');
  view.replaceChildren(h('div', { class: 'hist-head' }, title, backToChat()), h('p', { class: 'muted' }, 'Loading…'));
  title.focus();
  let items;
  try {
    const r = await fetch(ctx.api + '/history', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ visitor_token: ctx.token() || '' }) });
    if (r.status === 404) items = [];
    else if (!r.ok) throw new Error(String(r.status));
    else items = (await r.json()).conversations || [];
  } catch (_) {
    view.replaceChildren(h('div', { class: 'hist-head' }, title, backToChat()),
      h('p', { class: 'muted', role: 'alert' }, 'Your conversations could not be loaded. Check your connection and try again.'));
    return;
  }
  const list = () => {
    const rows = items.map((c) => {
      const said = c.messages.filter((m) => m.from.kind !== 'system');
      const last = said[said.length - 1];
      const current = c.id === ctx.current();
      const label = current ? 'Ongoing' : c.status === 'closed' ? 'Closed' : 'Open';
      return h('li', {}, h('button', { type: 'button', class: 'conv', 'aria-label': `${when(c.created_at)}, ${label}${last ? ': ' + last.body.slice(0, 80) : ''}`,
        onclick: () => (current ? ctx.back() : one(c)) },
      h('span', { class: 'conv-top' }, h('strong', {}, when(c.created_at)), h('span', { class: 'pill ' + (current ? 'live' : c.status) }, label)),
      h('span', { class: 'conv-last' }, last ? (last.from.kind === 'visitor' ? 'You: ' : (last.from.name || 'Us') + ': ') + last.body : 'No messages'),
      c.rating ? h('span', { class: 'conv-rate' }, `Rated ${c.rating} of 5`) : ''));
    });
    view.replaceChildren(h('div', { class: 'hist-head' }, title, backToChat()),
      rows.length ? h('ul', { class: 'convs', 'aria-label': 'Your conversations' }, ...rows)
        : h('p', { class: 'muted empty' }, 'No conversations yet. Write to us: it will be listed here.'));
    title.focus();
  };
  const one = (c) => {
    const head = h('h2', { tabindex: '-1' }, when(c.created_at));
    const log = h('div', { class: 'log past', role: 'log', 'aria-label': 'Messages of ' + when(c.created_at) });
    for (const m of c.messages) {
      const kind = m.from.kind;
      const el = h('div', { class: 'm ' + (kind === 'system' ? 'sys' : kind === 'visitor' ? 'me' : 'them') }, ...ctx.linkify(m.body));
      if (kind !== 'system') el.append(h('span', { class: 'meta' }, (kind === 'staff' && m.from.name ? m.from.name + ' · ' : '') + at(m.ts, c.created_at)));
      log.append(kind === 'staff' ? h('div', { class: 'row-m them' }, ctx.avatar(m.from), el) : el);
    }
    view.replaceChildren(
      // One way back (to the list, which leads on to the chat); a new question starts from the note.
      h('div', { class: 'hist-head' }, h('button', { type: 'button', class: 'back', onclick: list }, '← All conversations')),
      head, log,
      c.status === 'closed' ? h('p', { class: 'muted closed-note' }, 'This conversation is closed. ',
        h('button', { type: 'button', class: 'back', onclick: ctx.back }, 'Start a new conversation')) : '');
    head.focus();
  };
  list();
}
