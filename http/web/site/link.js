// The page behind a signed link from a mail: a booking to cancel or move,
// a newsletter sign-up to confirm, a list to leave, an address to confirm
// for a chat transcript, a whole conversation to read. It asks the API what
// the link is for; a used or tampered link gets a clear page.
const token = decodeURIComponent(location.pathname.split('/').pop() || '');
const api = `/api/v1/public/links/${encodeURIComponent(token)}`;
const $ = (id) => document.getElementById(id);

function say(title, text) {
  $('title').textContent = title;
  $('status').textContent = text || '';
  document.title = title;
}

function fail(e) {
  const el = $('error');
  el.hidden = false;
  el.textContent = e.message || 'Something went wrong. Please try again.';
}

async function call(method, body) {
  const r = await fetch(api, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(data.error?.message || r.statusText);
    err.code = data.error?.code;
    throw err;
  }
  return data;
}

const fmt = (t) => new Date(t).toLocaleString(undefined, {
  weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit',
});

function invalid() {
  say('This link no longer works',
    'It may have been used already, or it expired. Nothing was changed. The latest mail we sent you has a fresh link.');
}

async function booking(info) {
  const b = info.booking;
  say(`Your consultation with ${info.site.name || 'us'}`);
  $('when').textContent = fmt(b.start);
  $('topic').textContent = b.topic ? `About: ${b.topic}` : '';
  $('booking').hidden = false;
  $('cancel').onclick = async () => {
    try {
      await call('POST', { action: 'cancel' });
      $('booking').hidden = true;
      say('Your consultation is cancelled', 'We sent you a mail that removes it from your calendar. The time is free for others again.');
    } catch (e) { e.code === 'invalid_token' ? invalid() : fail(e); }
  };
  $('move').onclick = async () => {
    const list = $('slot-list');
    list.replaceChildren();
    $('slots').hidden = false;
    try {
      const r = await fetch(`/api/v1/public/${encodeURIComponent(info.site.key)}/consultations/slots`);
      const { slots = [] } = await r.json();
      if (!slots.length) list.append(Object.assign(document.createElement('p'), { textContent: 'No other free times right now.' }));
      for (const s of slots.slice(0, 40)) {
        const btn = Object.assign(document.createElement('button'), { type: 'button', className: 'ghost', textContent: fmt(s.start) });
        btn.onclick = async () => {
          try {
            const moved = await call('POST', { action: 'reschedule', start: s.start });
            $('booking').hidden = true;
            say('Your consultation is moved', `New time: ${fmt(moved.start)}. We sent you a mail with the updated invitation.`);
          } catch (e) { e.code === 'invalid_token' ? invalid() : fail(e); }
        };
        list.append(btn);
      }
      list.querySelector('button')?.focus();
    } catch (e) { fail(e); }
  };
}

async function once(action, done) {
  try {
    await call('POST', { action });
    say(...done);
  } catch (e) { e.code === 'invalid_token' ? invalid() : fail(e); }
}

async function conversation(info) {
  say(`Your conversation with ${info.site.name || 'us'}`);
  $('conversation').hidden = false;
  const more = $('more');
  const show = (page) => {
    for (const m of page.messages) {
      const li = document.createElement('li');
      const when = Object.assign(document.createElement('small'), { className: 'muted', textContent: fmt(m.ts) });
      const who = Object.assign(document.createElement('strong'), { textContent: `${m.who}: ` });
      const body = Object.assign(document.createElement('span'), { textContent: m.body, style: 'white-space:pre-wrap' });
      li.append(when, document.createElement('br'), who, body);
      $('messages').append(li);
    }
    more.hidden = page.next_after == null;
    more.onclick = async () => {
      try {
        const r = await fetch(`${api}?after=${page.next_after}`);
        if (!r.ok) throw new Error((await r.json()).error?.message || r.statusText);
        show(await r.json());
      } catch (e) { fail(e); }
    };
  };
  show(info);
}

try {
  const info = await call('GET');
  if (info.act === 'booking') await booking(info);
  else if (info.act === 'confirm') await once('confirm', ['You are subscribed', `Thanks for confirming: you will get ${info.site.name || 'our'} newsletter.`]);
  else if (info.act === 'transcript') await once('send', ['Your transcript is on its way', `We are mailing the conversation to ${info.email}.`]);
  else if (info.act === 'conversation') await conversation(info);
  else if (info.act === 'unsubscribe') await once('unsubscribe', ['You are unsubscribed', `You will get no more newsletters from ${info.site.name || 'us'}.`]);
  else invalid();
} catch (e) {
  e.code === 'invalid_token' ? invalid() : fail(e);
}
