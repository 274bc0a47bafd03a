// Parley loader: the bubble, a small tracking socket (live presence, page
// views, proactive messages) until the panel's iframe is needed, window.Parley.
(() => {
  const me = document.currentScript || document.querySelector('script[data-site]');
  if (!me || window.Parley?.v) return;
  const key = me.dataset.site, base = new URL(me.src).origin, K = encodeURIComponent(key);
  const flag = 'parley:' + key, handlers = {}, queue = [], J = JSON.stringify;
  let frame, ws, ready = false, open = false, tok;
  const save = v => { try { localStorage[flag] = tok = v; } catch (_) {} };
  try { tok = localStorage[flag]; } catch (_) {}
  const emit = (e, d) => (handlers[e] || []).forEach(f => setTimeout(f, 0, d));
  const post = m => ready ? frame.contentWindow.postMessage(m, base) : queue.push(m);
  const host = document.createElement('div');
  const root = host.attachShadow({ mode: 'open' });
  // Styles from a file (versioned, cached for a year) into a constructed
  // sheet: no <style> element and no style attribute, so a page whose CSP
  // says `style-src 'self'` (the company page, or a strict customer page)
  // still gets a styled bubble. Shown once styled.
  const css = new CSSStyleSheet();
  root.adoptedStyleSheets = [css];
  host.hidden = true;
  fetch(base + '{{loader.css}}').then(r => r.text()).then(t => { css.replaceSync(t); host.hidden = false; });
  // The bubble's icon: Lucide "message-circle" (ISC licence).
  root.innerHTML = '<div><div class="p" hidden></div><div class="q" role="status" hidden></div>' +
    '<button class="b" aria-label="Open chat" aria-expanded="false"><svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2"><path d="M7.9 20A9 9 0 1 0 4 16.1L2 22Z"/></svg><span class="n" hidden></span></button></div>';
  const [wrap, box, peek, bubble, badge] = ['div', '.p', '.q', '.b', '.n'].map(s => root.querySelector(s));
  const here = () => ({ url: location.href, title: document.title, referrer: document.referrer });
  const page = () => frame ? post({ t: 'page', p: here() }) : ws && ws.readyState == 1 && ws.send(J({ type: 'page', ...here() }));
  const stop = () => ws && (ws.onclose = null, ws.close(), ws = 0);
  const load = () => {
    if (frame) return;
    frame = document.createElement('iframe');
    frame.title = 'Chat';
    // The fragment hands the frame this visitor's token (never sent to a server).
    frame.src = base + '/widget/frame?site=' + K + '&host=' + origin + '#' + (tok || '');
    box.append(frame);
  };
  // Until the panel loads, this socket keeps the visitor visible to staff.
  const track = () => {
    if (frame) return;
    ws = new WebSocket(base.replace(/^http/, 'ws') + '/ws/visitor?site=' + K);
    ws.onopen = () => ws.send(J({ type: 'hello', visitor_token: tok, page: here(), tz: Intl.DateTimeFormat().resolvedOptions().timeZone }));
    ws.onmessage = e => {
      const m = JSON.parse(e.data), c = m.conversation;
      if (m.type == 'welcome') { save(m.visitor_token); wrap.style.setProperty('--c', m.site.color); wrap.className = m.site.position + ' ' + m.site.theme; m.open && show(1); }
      // A conversation under way, or a message from staff: the panel loads (hidden) and counts it unread.
      if ((m.type == 'welcome' && c && c.status != 'closed') || m.type == 'message') load();
    };
    ws.onclose = e => e.code < 4e3 && setTimeout(track, 2e3 + Math.random() * 8e3);
  };
  const show = on => {
    if (on) load();
    open = on;
    box.hidden = !on;
    peek.hidden = true;
    bubble.ariaExpanded = !!on;
    bubble.ariaLabel = on ? 'Close chat' : 'Open chat';
    post({ t: on ? 'open' : 'close' });
    emit(on ? 'open' : 'close');
  };
  bubble.onclick = () => show(!open);
  peek.onclick = () => show(true);
  addEventListener('message', e => {
    if (e.source != frame?.contentWindow || e.origin != base) return;
    const m = e.data || {};
    if (m.t == 'ready') { ready = true; page(); queue.splice(0).forEach(post); if (open) post({ t: 'open' }); }
    else if (m.t == 'unread') { badge.hidden = !m.n; badge.textContent = m.n; }
    else if (m.t == 'close') { show(false); bubble.focus(); }
    else if (m.t == 'open') show(true);
    else if (m.t == 'token') { stop(); save(m.v); }
    else if (m.t == 'message') { emit('message', m.m); if (!open) peek.hidden = !(peek.textContent = m.m.body); }
  });
  for (const f of ['pushState', 'replaceState']) {
    const o = history[f];
    history[f] = function () { const r = o.apply(this, arguments); setTimeout(page); return r; };
  }
  addEventListener('popstate', () => setTimeout(page));
  window.Parley = {
    v: 1,
    open: () => show(true),
    close: () => show(false),
    identify: i => { load(); post({ t: 'identify', i }); },
    on: (e, f) => (handlers[e] ||= []).push(f),
  };
  track();
  (document.body || document.documentElement).append(host);
})();
