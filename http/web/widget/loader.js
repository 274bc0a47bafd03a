// Parley loader: the bubble, the panel's iframe when first needed, window.Parley.
(() => {
  const me = document.currentScript || document.querySelector('script[data-site]');
  if (!me || (window.Parley && window.Parley.v)) return;
  const key = me.dataset.site, base = new URL(me.src).origin;
  const flag = 'parley:' + key, handlers = {}, queue = [];
  let frame, ready = false, open = false;
  const emit = (e, d) => (handlers[e] || []).forEach((f) => { try { f(d); } catch (_) {} });
  const post = (m) => ready ? frame.contentWindow.postMessage(m, base) : queue.push(m);
  const host = document.createElement('div');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = '<style>' +
    '.b{position:fixed;bottom:20px;right:20px;width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;' +
    'background:var(--c,#2563eb);color:#fff;font-size:26px;box-shadow:0 4px 14px #0004;z-index:2147483646}' +
    '.b:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}' +
    '.n{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#dc2626;font:bold 12px/20px sans-serif}' +
    '.p{position:fixed;bottom:88px;right:20px;width:370px;height:min(600px,calc(100vh - 110px));border-radius:12px;overflow:hidden;' +
    'box-shadow:0 8px 30px #0005;z-index:2147483647;background:#fff}' +
    '.p iframe{border:0;width:100%;height:100%}.l .b{right:auto;left:20px}.l .p{right:auto;left:20px}' +
    '@media (max-width:480px){.p{inset:0;width:100%;height:100%;border-radius:0}}' +
    '[hidden]{display:none!important}</style>' +
    '<div class="w"><div class="p" hidden></div><button class="b" aria-label="Open chat" aria-expanded="false">' +
    '💬<span class="n" hidden></span></button></div>';
  const [wrap, box, bubble, badge] = ['.w', '.p', '.b', '.n'].map((s) => root.querySelector(s));
  const page = () => post({ t: 'page', p: { url: location.href, title: document.title, referrer: document.referrer } });
  const load = () => {
    if (frame) return;
    frame = document.createElement('iframe');
    frame.title = 'Chat';
    frame.src = base + '/widget/frame?site=' + encodeURIComponent(key);
    box.append(frame);
  };
  const show = (on) => {
    if (on) load();
    open = on;
    box.hidden = !on;
    bubble.setAttribute('aria-expanded', on);
    bubble.setAttribute('aria-label', on ? 'Close chat' : 'Open chat');
    post({ t: on ? 'open' : 'close' });
    emit(on ? 'open' : 'close');
  };
  bubble.onclick = () => show(!open);
  addEventListener('message', (e) => {
    if (!frame || e.source !== frame.contentWindow || e.origin !== base) return;
    const m = e.data || {};
    if (m.t === 'ready') { ready = true; page(); queue.splice(0).forEach(post); if (open) post({ t: 'open' }); }
    else if (m.t === 'unread') { badge.hidden = !m.n; badge.textContent = m.n; }
    else if (m.t === 'close') { show(false); bubble.focus(); }
    else if (m.t === 'open') show(true);
    else if (m.t === 'active') { try { localStorage[flag] = 1; } catch (_) {} }
    else if (m.t === 'message') emit('message', m.m);
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
    identify: (i) => { load(); post({ t: 'identify', i }); },
    on: (e, f) => (handlers[e] = handlers[e] || []).push(f),
  };
  fetch(base + '/api/v1/public/' + encodeURIComponent(key) + '/config')
    .then((r) => r.json())
    .then((c) => { wrap.style.setProperty('--c', c.color); if (c.position === 'bottom_left') wrap.className = 'w l'; })
    .catch(() => {});
  // A conversation under way: load the panel hidden, so replies count as unread.
  try { if (localStorage[flag]) load(); } catch (_) {}
  (document.body || document.documentElement).append(host);
})();
