// A site's public company page at /s/{site_key}: a small homepage (name,
// greeting, services), its contact form, its consultation booking and its
// newsletter sign-up, plus the chat widget — the company site with no code
// on the customer's side. `?form=contact`, `?form=booking` or
// `?form=newsletter` shows just that form, for an iframe on the customer's
// own pages. Under the page's CSP (`style-src 'self'`) only CSSOM is used
// for styling (custom properties), never a style attribute.
const key = decodeURIComponent(location.pathname.split('/')[2] || '');
const only = new URLSearchParams(location.search).get('form');
const base = `/api/v1/public/${encodeURIComponent(key)}`;
const $ = (id) => document.getElementById(id);
const shows = (name) => !only || only === name;

async function post(path, body) {
  const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(data.error?.message || r.statusText);
    e.code = data.error?.code;
    throw e;
  }
  return data;
}

function status(form, text, bad) {
  const s = form.querySelector('.status');
  s.textContent = text;
  s.className = 'status ' + (bad ? 'error' : 'ok');
}

// After a send the form gives way, in place, to a success panel (a tick,
// one line, "Send another"), scrolled into view and focused so the visitor
// sees at once that it worked; "Send another" brings the form back.
function done(form, text, again = 'Send another') {
  form.parentElement.querySelector('.success')?.remove();
  const panel = Object.assign(document.createElement('div'), { className: 'success', tabIndex: -1 });
  panel.setAttribute('role', 'status');
  const tick = Object.assign(document.createElement('span'), { className: 'tick', textContent: '✓' });
  tick.setAttribute('aria-hidden', 'true');
  const line = Object.assign(document.createElement('p'), { textContent: text });
  const more = Object.assign(document.createElement('button'), { type: 'button', className: 'link', textContent: again });
  more.onclick = () => { panel.remove(); form.hidden = false; form.querySelector('input:not([type=hidden]):not([tabindex="-1"]), select, textarea')?.focus(); };
  panel.append(tick, line, more);
  status(form, '');
  form.hidden = true;
  form.after(panel);
  panel.scrollIntoView({ block: 'center', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
  panel.focus({ preventScroll: true });
}

// Inline validation: the browser's own bubbles are off (`novalidate`); each
// field's problem shows under it, tied to it by aria-describedby, and the
// first one gets the focus. A field is checked again as it is corrected.
const FIELD_WORDS = { email: 'your email', name: 'your name', message: 'your message', start: 'a time' };
function fieldOf(form, name) {
  const el = form.elements[name];
  return el instanceof RadioNodeList || el?.type === 'radio' ? $('times') : el;
}
function mark(form, name, text) {
  const el = fieldOf(form, name);
  if (!el) return;
  const box = el.closest('.field') || el.parentElement;
  const id = (el.id || name) + '-error';
  let p = document.getElementById(id);
  if (!text) {
    p?.remove();
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
    return;
  }
  if (!p) { p = Object.assign(document.createElement('p'), { id, className: 'field-error' }); box.append(p); }
  p.textContent = text;
  // A group of times is described by its message; a control is also marked invalid.
  if (el.tagName !== 'FIELDSET') el.setAttribute('aria-invalid', 'true');
  el.setAttribute('aria-describedby', id);
}
function problem(form, el) {
  const v = el.validity;
  if (v.valid) return '';
  if (v.valueMissing) return el.type === 'radio' ? 'Please pick a time.' : `Please enter ${FIELD_WORDS[el.name] || 'this'}.`;
  if (v.typeMismatch) return 'Please enter an email address like name@example.com.';
  if (v.tooLong) return `Please keep it under ${el.maxLength} characters.`;
  return el.validationMessage;
}
function check(form) {
  let first = null;
  const seen = new Set();
  for (const el of form.elements) {
    if (!el.name || seen.has(el.name) || el.closest('.hp') || el.closest('[hidden]') || el.tagName === 'BUTTON') continue;
    seen.add(el.name);
    const group = el.type === 'radio' ? form.elements[el.name] : null;
    const bad = group ? (group[0] || group) : el;
    const text = bad && bad.validity ? problem(form, bad) : '';
    mark(form, el.name, text);
    if (text && !first) first = el;
  }
  if (first) first.focus();
  form.dataset.checked = '1';
  return !first;
}
function live(form) {
  form.addEventListener('input', (e) => {
    if (!form.dataset.checked || !e.target.name || e.target.type === 'radio') return;
    mark(form, e.target.name, problem(form, e.target));
  });
  form.addEventListener('change', (e) => { if (e.target.type === 'radio') mark(form, e.target.name, ''); });
}
/** A refusal from the server about one field ("email must …") shows under that field. */
function refused(form, err) {
  const name = /^(\w+) /.exec(err.message || '')?.[1];
  if (name && form.elements[name] && name !== 'website') {
    const msg = err.message.charAt(0).toUpperCase() + err.message.slice(1);
    mark(form, name, msg.endsWith('.') ? msg : msg + '.');
    fieldOf(form, name).focus();
    return true;
  }
  return false;
}

const values = (form) => Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));
const option = (value, text) => Object.assign(document.createElement('option'), { value, textContent: text ?? value });

function contact(cfg) {
  const form = $('contact-form');
  if (cfg.services?.length) {
    $('service-label').hidden = false;
    form.service.replaceChildren(option('', 'Choose…'), ...cfg.services.map((s) => option(s)));
  }
  $('contact').hidden = false;
  if (!only) { $('nav-contact').hidden = false; $('hero-contact').hidden = false; }
  live(form);
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (!check(form)) return;
    const d = values(form);
    try {
      await post('/contact', { name: d.name, email: d.email, phone: d.phone, service: d.service || '', message: d.message, website: d.website, page_url: location.href });
      form.reset();
      done(form, 'Thanks! Your message is with us; we will answer by mail.');
    } catch (err) { if (!refused(form, err)) status(form, err.message, true); }
  };
}

// Slots in the visitor's own time zone, and that zone named.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const dayKey = (t) => new Date(t).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
const clock = (t) => new Date(t).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
/** `HH:MM` (a wall-clock time in some zone) in the visitor's locale's format, as `clock` shows slots. */
const wall = (hhmm) => new Date(Date.UTC(2000, 0, 1, +hhmm.slice(0, 2), +hhmm.slice(3))).toLocaleTimeString([], { hour: 'numeric', minute: '2-digit', timeZone: 'UTC' });
/** Which part of the visitor's day a slot falls in. */
const PARTS = [['Morning', 0], ['Afternoon', 12], ['Evening', 17]];
const part = (t) => { const h = new Date(t).getHours(); return PARTS.filter(([, from]) => h >= from).at(-1)[0]; };
const time = (t) => `${clock(t)} (${zone})`;

async function booking(cfg) {
  const r = await fetch(base + '/consultations/slots');
  if (!r.ok) return;
  const info = await r.json();
  if (!info.enabled) return;
  const form = $('booking-form');
  if (info.topics?.length) {
    $('topic-label').hidden = false;
    form.topic.replaceChildren(...info.topics.map((t) => option(t)));
  }
  const days = new Map();
  for (const s of info.slots) {
    const k = dayKey(s.start);
    if (!days.has(k)) days.set(k, []);
    days.get(k).push(s);
  }
  const pick = () => {
    const list = $('time-list');
    const slots = days.get(form.day.value) || [];
    // Grouped by part of the day, each group a grid of equal chips.
    list.replaceChildren(...PARTS.map(([name]) => {
      const mine = slots.map((s, i) => [s, i]).filter(([s]) => part(s.start) === name);
      if (!mine.length) return '';
      const group = Object.assign(document.createElement('div'), { className: 'slot-group' });
      const head = Object.assign(document.createElement('p'), { className: 'slot-part', textContent: name });
      const grid = Object.assign(document.createElement('div'), { className: 'slot-grid' });
      grid.append(...mine.map(([s, i]) => {
        const id = 'slot-' + i;
        const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'start', value: s.start, id, required: true });
        const l = Object.assign(document.createElement('label'), { htmlFor: id, className: 'slot-choice' });
        l.append(input, ' ' + clock(s.start));
        return l;
      }));
      group.append(head, grid);
      return group;
    }));
    if (!slots.length) list.textContent = 'No free time left; we are fully booked for now.';
  };
  $('times-legend').textContent = `Time (your time zone: ${zone})`;
  form.day.replaceChildren(...[...days.keys()].map((k) => option(k)));
  form.day.onchange = pick;
  pick();
  $('booking').hidden = false;
  if (!only) $('nav-booking').hidden = false;
  live(form);
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (!check(form)) return;
    const d = values(form);
    try {
      // The visitor's own time zone goes with the booking: staff see it.
      const b = await post('/consultations', { name: d.name, email: d.email, phone: d.phone, company: d.company, topic: d.topic || '', start: d.start, notes: d.notes, website: d.website, timezone: zone });
      form.reset();
      // Only promise a mail when this server can send one.
      done(form, cfg.mail?.configured
        ? `Booked for ${dayKey(b.start)} at ${time(b.start)}. We mailed you the invitation and a link to change it.`
        : `Booked for ${dayKey(b.start)} at ${time(b.start)} — we'll confirm by email.`, 'Book another time');
      for (const [k, v] of days) days.set(k, v.filter((s) => s.start !== b.start));
      pick();
    } catch (err) {
      if (err.code !== 'slot_taken' && refused(form, err)) return;
      status(form, err.code === 'slot_taken' ? 'Someone just took that time. Please pick another.' : err.message, true);
      if (err.code === 'slot_taken') { const again = await fetch(base + '/consultations/slots').then((x) => x.json()); days.clear(); for (const s of again.slots) { const k = dayKey(s.start); if (!days.has(k)) days.set(k, []); days.get(k).push(s); } pick(); }
    }
  };
}

function newsletter(cfg) {
  const form = $('newsletter-form');
  $('newsletter').hidden = false;
  if (!only) $('nav-newsletter').hidden = false;
  live(form);
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (!check(form)) return;
    const d = values(form);
    try {
      await post('/newsletter', { email: d.email, name: d.name, website: d.website });
      form.reset();
      // Only point at a mail this server can actually send.
      done(form, cfg.mail?.configured ? 'Almost done: open the mail we sent you to confirm.' : "Thanks! We'll email you a link to confirm.", 'Subscribe another address');
    } catch (err) { if (!refused(form, err)) status(form, err.message, true); }
  };
}

// The relative luminance of `#rrggbb` and the contrast ratio of two (WCAG).
const lum = (hex) => {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
};
const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };

/** The site's colour as the page's accent, with text that stays readable (AA) on it and links readable on the page. */
function paint(color) {
  if (!/^#[0-9a-f]{6}$/i.test(color || '')) return;
  const root = document.documentElement.style;
  const dark = matchMedia('(prefers-color-scheme: dark)');
  const apply = () => {
    root.setProperty('--accent', color);
    root.setProperty('--accent-text', contrast(color, '#ffffff') >= contrast(color, '#0b0d12') ? '#ffffff' : '#0b0d12');
    const bg = dark.matches ? '#171a21' : '#ffffff';
    root.setProperty('--link', contrast(color, bg) >= 4.5 ? color : dark.matches ? '#9db9ff' : '#1d4ed8');
  };
  apply();
  dark.addEventListener('change', apply);
}

// The site's business hours, day by day, in the site's zone (named).
const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
function hours(cfg) {
  const bh = cfg.business_hours;
  if (!bh?.days?.length) return;
  const today = new Intl.DateTimeFormat('en-US', { timeZone: bh.timezone, weekday: 'short' }).format(new Date()).slice(0, 3).toLowerCase();
  const list = $('hours-list');
  for (const [key, name] of DAYS) {
    const spans = bh.days.filter((d) => d.day === key).sort((a, b) => a.open.localeCompare(b.open));
    const dt = Object.assign(document.createElement('dt'), { textContent: name });
    const dd = Object.assign(document.createElement('dd'), { textContent: spans.length ? spans.map((d) => `${wall(d.open)}–${wall(d.close)}`).join(', ') : 'Closed' });
    if (key === today) { dt.className = dd.className = 'today'; dt.textContent += ' (today)'; }
    list.append(dt, dd);
  }
  $('hours-zone').textContent = `Times in ${bh.timezone}.`;
  $('hours').hidden = false;
}

function services(cfg) {
  if (!cfg.services?.length) return;
  $('service-list').replaceChildren(...cfg.services.map((s) => Object.assign(document.createElement('li'), { textContent: s })));
  $('services').hidden = false;
  $('nav-services').hidden = false;
}

try {
  const r = await fetch(base + '/config');
  if (!r.ok) throw new Error('This page does not exist.');
  const cfg = await r.json();
  document.title = cfg.name || 'Contact us';
  for (const id of ['name', 'brand-name', 'foot-name']) $(id).textContent = cfg.name || '';
  $('logo').textContent = (cfg.name || '?').trim().charAt(0).toUpperCase();
  $('greeting').textContent = cfg.greeting || '';
  paint(cfg.color);
  if (only) document.body.classList.add('embedded');
  if (!cfg.available) {
    $('gone').hidden = false;
    $('gone').textContent = 'This page is not taking messages right now.';
  } else {
    if (!only) { services(cfg); hours(cfg); $('nav').hidden = false; }
    if (shows('contact')) contact(cfg);
    if (shows('booking')) await booking(cfg);
    if (shows('newsletter')) newsletter(cfg);
    if (!only) {
      // The footer and the "how to reach us" card name only what this site offers.
      const offered = [['contact', 'contact'], ['booking', 'booking'], ['newsletter', 'newsletter']].filter(([id]) => !$(id).hidden);
      for (const [id] of offered) $('way-' + id).hidden = false;
      const words = ['Chat', ...offered.map(([, w]) => w)];
      $('foot-what').textContent = words.length > 1 ? words.slice(0, -1).join(', ') + ' and ' + words.at(-1) : words[0];
      $('reach').hidden = false;
      const s = document.createElement('script');
      s.src = '/widget.js';
      s.async = true;
      s.dataset.site = key;
      document.body.append(s);
      $('hero-actions').hidden = false;
      $('chat-now').onclick = () => window.Parley?.open();
      $('way-chat-open').onclick = () => window.Parley?.open();
    }
  }
} catch (e) {
  $('gone').hidden = false;
  $('gone').textContent = e.message;
}
