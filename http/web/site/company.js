// A site's public company page at /s/{site_key}: its contact form, its
// consultation booking and its newsletter sign-up, plus the chat widget —
// the company site with no code on the customer's side. `?form=contact`,
// `?form=booking` or `?form=newsletter` shows just that form, for an
// iframe on the customer's own pages.
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

const values = (form) => Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));
const option = (value, text) => Object.assign(document.createElement('option'), { value, textContent: text ?? value });

function contact(cfg) {
  const form = $('contact-form');
  if (cfg.services?.length) {
    $('service-label').hidden = false;
    form.service.replaceChildren(option('', 'Choose…'), ...cfg.services.map((s) => option(s)));
  }
  $('contact').hidden = false;
  form.onsubmit = async (e) => {
    e.preventDefault();
    const d = values(form);
    try {
      await post('/contact', { name: d.name, email: d.email, phone: d.phone, service: d.service || '', message: d.message, website: d.website, page_url: location.href });
      form.reset();
      status(form, 'Thanks! Your message is with us; we will answer by mail.');
    } catch (err) { status(form, err.message, true); }
  };
}

const dayKey = (t) => new Date(t).toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
const time = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

async function booking() {
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
    list.replaceChildren(...slots.map((s, i) => {
      const id = 'slot-' + i;
      const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'start', value: s.start, id, required: true });
      const l = Object.assign(document.createElement('label'), { htmlFor: id, className: 'slot-choice' });
      l.append(input, ' ' + time(s.start));
      return l;
    }));
    if (!slots.length) list.textContent = 'No free time left; we are fully booked for now.';
  };
  form.day.replaceChildren(...[...days.keys()].map((k) => option(k)));
  form.day.onchange = pick;
  pick();
  $('booking').hidden = false;
  form.onsubmit = async (e) => {
    e.preventDefault();
    const d = values(form);
    try {
      const b = await post('/consultations', { name: d.name, email: d.email, phone: d.phone, company: d.company, topic: d.topic || '', start: d.start, notes: d.notes, website: d.website });
      form.reset();
      status(form, `Booked for ${dayKey(b.start)} at ${time(b.start)}. We mailed you the invitation and a link to change it.`);
      for (const [k, v] of days) days.set(k, v.filter((s) => s.start !== b.start));
      pick();
    } catch (err) {
      status(form, err.code === 'slot_taken' ? 'Someone just took that time. Please pick another.' : err.message, true);
      if (err.code === 'slot_taken') { const again = await fetch(base + '/consultations/slots').then((x) => x.json()); days.clear(); for (const s of again.slots) { const k = dayKey(s.start); if (!days.has(k)) days.set(k, []); days.get(k).push(s); } pick(); }
    }
  };
}

function newsletter() {
  const form = $('newsletter-form');
  $('newsletter').hidden = false;
  form.onsubmit = async (e) => {
    e.preventDefault();
    const d = values(form);
    try {
      await post('/newsletter', { email: d.email, name: d.name, website: d.website });
      form.reset();
      status(form, 'Almost done: open the mail we sent you to confirm.');
    } catch (err) { status(form, err.message, true); }
  };
}

try {
  const r = await fetch(base + '/config');
  if (!r.ok) throw new Error('This page does not exist.');
  const cfg = await r.json();
  document.title = cfg.name || 'Contact us';
  $('name').textContent = cfg.name || '';
  $('greeting').textContent = only ? '' : cfg.greeting || '';
  if (/^#[0-9a-f]{3,8}$/i.test(cfg.color || '')) document.documentElement.style.setProperty('--accent', cfg.color);
  if (only) document.body.classList.add('embedded');
  if (!cfg.available) {
    $('gone').hidden = false;
    $('gone').textContent = 'This page is not taking messages right now.';
  } else {
    if (shows('contact')) contact(cfg);
    if (shows('booking')) await booking();
    if (shows('newsletter')) newsletter();
    if (!only) {
      const s = document.createElement('script');
      s.src = '/widget.js';
      s.async = true;
      s.dataset.site = key;
      document.body.append(s);
    }
  }
} catch (e) {
  $('gone').hidden = false;
  $('gone').textContent = e.message;
}
