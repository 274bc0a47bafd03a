// The widget in real headless Chromium, against a running Parley.
// Run by http/tests/browser.rs, which starts the server and passes:
//   PARLEY_BASE, PARLEY_SITE_KEY, PARLEY_STAFF_TOKEN, PARLEY_SHOTS (dir),
//   PARLEY_SCENARIO (chat | restart | offline | hours | prechat | identity | engage |
//   anew | proactive | history | company).
// For `restart` it prints `RESTART` and waits for a line on stdin once the
// server is back on the same address. Exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import readline from 'node:readline';
import { readFileSync } from 'node:fs';

const env = (k) => process.env[k] ?? assert.fail(`${k} is not set`);
const base = env('PARLEY_BASE');
const key = env('PARLEY_SITE_KEY');
const shots = env('PARLEY_SHOTS');
const scenario = env('PARLEY_SCENARIO');
const wsBase = base.replace(/^http/, 'ws');
const step = (s) => console.log(`step: ${s}`);
const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((r) => lines.once('line', r));

/** A staff member's socket, speaking the protocol directly. */
async function staff(token) {
  const ws = new WebSocket(`${wsBase}/ws/staff`);
  const frames = [];
  const waiters = [];
  ws.onmessage = (e) => {
    const f = JSON.parse(e.data);
    frames.push(f);
    for (const w of [...waiters]) if (w.pred(f)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(f); }
  };
  await new Promise((r, j) => { ws.onopen = r; ws.onerror = j; });
  const s = {
    send: (f) => ws.send(JSON.stringify(f)),
    until: (pred, ms = 10000) => {
      const seen = frames.find(pred);
      if (seen) { frames.splice(frames.indexOf(seen), 1); return Promise.resolve(seen); }
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => reject(new Error('staff: no matching frame in ' + ms + ' ms')), ms);
      });
    },
    close: () => ws.close(),
  };
  s.send({ type: 'auth', token });
  await s.until((f) => f.type === 'ready');
  return s;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
page.on('pageerror', (e) => console.log('page error:', e.message));
const panel = page.frameLocator('iframe[title="Chat"]');
const bubble = page.locator('div >> css=button.b');

async function openDemo() {
  await page.goto(`${base}/demo?site=${key}`);
  await bubble.waitFor();
}

async function openPanel() {
  if ((await bubble.getAttribute('aria-expanded')) !== 'true') await bubble.click();
  await panel.locator('textarea[aria-label="Your message"]:visible, form[aria-label="Leave a message"]:visible, form[aria-label="Before we start"]:visible').first().waitFor();
}

async function say(text) {
  const input = panel.locator('textarea[aria-label="Your message"]');
  await input.fill(text);
  await input.press('Enter');
}

const bubbles = (cls) => panel.locator(`.m.${cls}`);
async function texts(cls) {
  return (await bubbles(cls).allInnerTexts()).map((t) => t.split('\n')[0]);
}

/** A conversation as the dashboard's API shows it. */
async function conversation(id) {
  const r = await fetch(`${base}/api/v1/conversations/${id}`, { headers: { authorization: 'Bearer ' + env('PARLEY_STAFF_TOKEN') } });
  assert.equal(r.status, 200, `GET conversation ${id}`);
  const b = await r.json();
  return b.conversation || b;
}

/** Ids of the conversations listed with `?status=`. */
async function listed(status) {
  const r = await fetch(`${base}/api/v1/conversations?status=${status}`, { headers: { authorization: 'Bearer ' + env('PARLEY_STAFF_TOKEN') } });
  return (await r.json()).items.map((c) => c.id);
}

const rateForm = panel.locator('form[aria-label="Rate the conversation"]');
const transcriptForm = panel.locator('form[aria-label="Email me the transcript"]');
const composer = panel.locator('textarea[aria-label="Your message"]');

/** The visitor's chat so far, closed by staff; returns the conversation id. */
async function chatThenClose(agent, text) {
  await openPanel();
  await say(text);
  const m = await agent.until((f) => f.type === 'message' && f.body === text);
  agent.send({ type: 'claim', conversation_id: m.conversation_id });
  agent.send({ type: 'send', conversation_id: m.conversation_id, client_id: 'x' + Date.now(), body: 'Glad to help' });
  await panel.locator('.m.them', { hasText: 'Glad to help' }).waitFor();
  agent.send({ type: 'close', conversation_id: m.conversation_id });
  await rateForm.waitFor();
  return m.conversation_id;
}

/** Fails on any console error or CSP violation seen on `p` from now on. */
function watch(p, label) {
  const problems = [];
  p.on('console', (m) => { if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  return problems;
}

/** Serious or critical axe-core violations on `p` (run in the page, under its CSP). */
async function axe(p) {
  const src = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
  await p.evaluate(src);
  const r = await p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`));
  return r;
}

/** The company page: two columns from 1024 px, one on a phone; each field's problem under it. */
async function companyLayoutAndFields(p, w, scheme) {
  const services = await p.locator('#services').boundingBox();
  const contact = await p.locator('#contact').boundingBox();
  if (w >= 1024) assert.ok(contact.x >= services.x + services.width, `the forms sit right of the company: ${JSON.stringify([services, contact])}`);
  else assert.ok(Math.abs(contact.x - services.x) < 1 && contact.y > services.y, 'one column on a phone');
  assert.match(await p.locator('.site-foot').innerText(), /Chat, contact, booking and newsletter by Parley/);
  assert.match(await p.locator('#hours').innerText(), /Opening hours[\s\S]*Monday[\s\S]*Sunday[\s\S]*Times in UTC\./, 'the opening hours, in the site\'s zone, named');
  if (scheme !== 'light') return;
  step(`inline validation at ${w}`);
  const f = p.locator('#contact-form');
  await f.getByRole('button', { name: 'Send message' }).click();
  const email = f.locator('input[name=email]');
  assert.equal(await email.getAttribute('aria-invalid'), 'true');
  const said = p.locator('#' + await email.getAttribute('aria-describedby'));
  assert.equal(await said.innerText(), 'Please enter your email.');
  assert.ok(await email.evaluate((el) => el === document.activeElement), 'the first wrong field has the focus');
  assert.equal(await f.locator('textarea[name=message]').getAttribute('aria-invalid'), 'true');
  await email.fill('not-an-address');
  assert.match(await said.innerText(), /email address like name@example.com/);
  await p.screenshot({ path: `${shots}/company-errors-${w}.png` });
  await email.fill('ok@mail.test');
  assert.equal(await email.getAttribute('aria-invalid'), null, 'a corrected field is no longer marked');
  assert.equal(await said.count(), 0);
  await f.locator('textarea[name=message]').fill('x');
  assert.equal(await f.locator('.field-error').count(), 0);
  step('the booking form asks for a time under the times');
  const b = p.locator('#booking-form');
  await b.getByRole('button', { name: 'Book' }).click();
  assert.equal(await p.locator('#times-error').innerText(), 'Please pick a time.');
  step(`a sent message: the form gives way to a success panel, in view and focused, at ${w}`);
  await f.getByRole('button', { name: 'Send message' }).click();
  const sent = await successShown(p, '#contact');
  assert.match(sent, /Thanks! Your message is with us/);
  assert.ok(await f.isHidden(), 'the form is replaced in place');
  await p.locator('#contact .success').getByRole('button', { name: 'Send another' }).click();
  await f.waitFor();
  assert.equal(await p.locator('#contact .success').count(), 0, '"Send another" brings the form back');
  step(`a newsletter sign-up with no mail server: no mail promised as sent, at ${w}`);
  const n = p.locator('#newsletter-form');
  await n.locator('input[name=email]').fill(`news${w}@mail.test`);
  await n.getByRole('button', { name: 'Subscribe' }).click();
  assert.equal(await successShown(p, '#newsletter'), "Thanks! We'll email you a link to confirm.");
  if (w < 1024) return;
  step('a booking, with no mail server: no promise of a mail already sent');
  await b.locator('.slot-choice').first().click();
  await b.locator('input[name=name]').fill('Bea');
  await b.locator('input[name=email]').fill('bea@mail.test');
  await b.getByRole('button', { name: 'Book' }).click();
  const booked = await successShown(p, '#booking');
  assert.match(booked, /^Booked for .*— we'll confirm by email\.$/);
  assert.doesNotMatch(booked, /mailed/);
}

/** The success panel in `section` after a submit: wholly inside the viewport, focused, a status; its line. */
async function successShown(p, section) {
  const panel = p.locator(`${section} .success`);
  await panel.waitFor();
  assert.equal(await panel.getAttribute('role'), 'status');
  let where;
  for (let i = 0; i < 40; i++) {
    where = await panel.evaluate((el) => { const r = el.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, vh: innerHeight, focused: el === document.activeElement }; });
    if (where.top >= 0 && where.bottom <= where.vh && where.focused) break;
    await p.waitForTimeout(50);
  }
  assert.ok(where.top >= 0 && where.bottom <= where.vh, `${section}: the success panel is inside the viewport: ${JSON.stringify(where)}`);
  assert.ok(where.focused, `${section}: the success panel has the focus`);
  for (const scheme of ['light', 'dark']) {
    await p.emulateMedia({ colorScheme: scheme });
    await p.screenshot({ path: `${shots}/company-sent${section.replace('#', '-')}-${p.viewportSize().width}-${scheme}.png` });
  }
  return (await panel.locator('p').innerText()).trim();
}

try {
  if (scenario === 'chat') {
    await openDemo();
    await page.screenshot({ path: `${shots}/bubble-closed.png` });
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    step('the visitor opens the panel and writes');
    await openPanel();
    await say('Hello from the browser');
    const m = await agent.until((f) => f.type === 'message' && f.body === 'Hello from the browser');
    const conv = m.conversation_id;
    await panel.locator('.m.me:not(.pending)').first().waitFor();
    step('staff claims, types and answers');
    agent.send({ type: 'claim', conversation_id: conv });
    agent.send({ type: 'typing', conversation_id: conv, on: true });
    await panel.getByText('is typing…').waitFor();
    agent.send({ type: 'send', conversation_id: conv, client_id: 'a1', body: 'Hi! See https://example.com/help' });
    await panel.locator('.m.them', { hasText: 'Hi! See' }).waitFor();
    const link = panel.locator('.m.them a');
    assert.equal(await link.getAttribute('href'), 'https://example.com/help');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
    step('a single-page-app navigation reaches staff live');
    await page.locator('nav a', { hasText: 'Shoes' }).click();
    const moved = await agent.until((f) => f.type === 'visitor' && f.visitor.page?.url?.includes('page=shoes'));
    assert.equal(moved.visitor.page.title, 'Shoes — Demo shop');
    step('read receipts both ways');
    const read = await agent.until((f) => f.type === 'read' && f.by?.kind === 'visitor');
    assert.ok(read.seq >= 2, JSON.stringify(read));
    agent.send({ type: 'read', conversation_id: conv, seq: m.seq });
    await panel.locator('.m.me .meta', { hasText: 'Seen' }).waitFor();
    await page.screenshot({ path: `${shots}/panel-open.png` });
    step('Escape closes the panel and gives the focus back to the bubble');
    await panel.locator('textarea[aria-label="Your message"]').press('Escape');
    await page.locator('.p').waitFor({ state: 'hidden' });
    assert.equal(await bubble.getAttribute('aria-expanded'), 'false');
    await openPanel();
    step('a reload brings the history back and the chat goes on');
    await page.reload();
    await bubble.waitFor();
    await openPanel();
    await panel.locator('.m.them', { hasText: 'Hi! See' }).waitFor();
    assert.deepEqual(await texts('me'), ['Hello from the browser']);
    await say('Still here after a reload');
    await agent.until((f) => f.type === 'message' && f.body === 'Still here after a reload');
    step('an unread reply while closed shows on the bubble');
    await bubble.click();
    agent.send({ type: 'send', conversation_id: conv, client_id: 'a2', body: 'Anything else?' });
    await page.locator('button.b .n', { hasText: '1' }).waitFor();
    await bubble.click();
    await page.locator('button.b .n').waitFor({ state: 'hidden' });
    step('close, then rate');
    agent.send({ type: 'close', conversation_id: conv });
    const rate = panel.locator('form[aria-label="Rate the conversation"]');
    await rate.waitFor();
    await rate.getByRole('button', { name: '4 of 5' }).click();
    step('the chosen stars are pressed and filled with the brand colour; the others grey; the whole card in view');
    const looks = await rate.locator('.stars button').evaluateAll((bs) => bs.map((b) => {
      const c = getComputedStyle(b);
      return { pressed: b.getAttribute('aria-pressed'), bg: c.backgroundColor, fg: c.color };
    }));
    assert.deepEqual(looks.map((l) => l.pressed), ['true', 'true', 'true', 'true', 'false']);
    const accent = await panel.locator('header').evaluate((el) => getComputedStyle(el).backgroundColor);
    for (const l of looks.slice(0, 4)) assert.deepEqual([l.bg, l.fg], [accent, 'rgb(255, 255, 255)'], 'a white star on the accent: ' + JSON.stringify(l));
    assert.notEqual(looks[4].bg, accent, 'an unchosen star stays grey');
    const trRow = panel.locator('form[aria-label="Email me the transcript"]');
    let seen;
    for (let i = 0; i < 40; i++) {
      seen = await trRow.evaluate((el) => { const log = el.closest('.log').getBoundingClientRect(); const r = el.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, logTop: log.top, logBottom: log.bottom }; });
      if (seen.top >= seen.logTop && seen.bottom <= seen.logBottom + 0.5) break;
      await page.waitForTimeout(50);
    }
    assert.ok(seen.top >= seen.logTop && seen.bottom <= seen.logBottom + 0.5, 'the transcript row is fully visible: ' + JSON.stringify(seen));
    await page.screenshot({ path: `${shots}/rating-chosen.png` });
    await rate.locator('textarea').fill('Quick and kind');
    await rate.getByRole('button', { name: 'Send rating' }).click();
    await panel.getByText('Thank you for your rating!').waitFor();
    const tr = panel.locator('form[aria-label="Email me the transcript"]');
    await tr.locator('input').fill('visitor@mail.test');
    await tr.getByRole('button', { name: 'Email me' }).click();
    await panel.getByText('Check your inbox: open the link we sent to get the transcript.').waitFor();
    agent.close();
  } else if (scenario === 'restart') {
    await openDemo();
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    await openPanel();
    await say('before the restart');
    const m = await agent.until((f) => f.type === 'message' && f.body === 'before the restart');
    agent.send({ type: 'send', conversation_id: m.conversation_id, client_id: 'r1', body: 'reply before' });
    await panel.locator('.m.them', { hasText: 'reply before' }).waitFor();
    step('the server goes down and comes back');
    agent.close();
    console.log('RESTART');
    await nextLine();
    step('a message typed while the server was away is sent on reconnect');
    await say('typed during the outage');
    const again = await staff(env('PARLEY_STAFF_TOKEN'));
    again.send({ type: 'resume', conversation_id: m.conversation_id, after_seq: 0 });
    await again.until((f) => f.type === 'message' && f.body === 'typed during the outage', 20000);
    again.send({ type: 'send', conversation_id: m.conversation_id, client_id: 'r2', body: 'reply after' });
    await panel.locator('.m.them', { hasText: 'reply after' }).waitFor({ timeout: 20000 });
    await panel.locator('.m.me.pending').first().waitFor({ state: 'detached' }).catch(() => {});
    assert.deepEqual(await texts('me'), ['before the restart', 'typed during the outage']);
    assert.deepEqual(await texts('them'), ['reply before', 'reply after']);
    again.close();
  } else if (scenario === 'engage') {
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    step('a visitor who never opens the widget is seen live, with no panel loaded');
    await openDemo();
    const seen = await agent.until((f) => f.type === 'visitor' && f.visitor.online && f.visitor.page?.url?.includes('/demo'));
    const vid = seen.visitor.id;
    assert.ok(seen.visitor.page_since, JSON.stringify(seen));
    assert.equal(await page.locator('iframe').count(), 0, 'the panel loads only when needed');
    await page.locator('nav a', { hasText: 'Shoes' }).click();
    await agent.until((f) => f.type === 'visitor' && f.visitor.id === vid && f.visitor.page?.url?.includes('page=shoes'));
    step('staff start the conversation: a preview and an unread badge appear');
    agent.send({ type: 'start', visitor_id: vid, client_id: 'p1', body: 'Looking for running shoes?' });
    const ack = await agent.until((f) => f.type === 'ack' && f.client_id === 'p1');
    const peek = page.locator('.q');
    await peek.filter({ hasText: 'Looking for running shoes?' }).waitFor();
    await page.locator('button.b .n', { hasText: '1' }).waitFor();
    await page.screenshot({ path: `${shots}/proactive-preview.png` });
    await peek.click();
    await panel.locator('.m.them', { hasText: 'Looking for running shoes?' }).waitFor();
    await say('Yes, size 42');
    const answer = await agent.until((f) => f.type === 'message' && f.body === 'Yes, size 42');
    assert.equal(answer.conversation_id, ack.conversation_id, 'one visitor, one conversation');
    step('a second visitor waiting for staff sees their place in line');
    const other = await browser.newContext();
    const p2 = await other.newPage();
    await p2.goto(`${base}/demo?site=${key}`);
    await p2.locator('div >> css=button.b').click();
    const panel2 = p2.frameLocator('iframe[title="Chat"]');
    const input2 = panel2.locator('textarea[aria-label="Your message"]');
    await input2.fill('Anyone there?');
    await input2.press('Enter');
    await panel2.getByText('You are next in line').waitFor();
    await other.close();
    agent.close();
  } else if (scenario === 'offline') {
    await openDemo();
    await openPanel();
    const form = panel.locator('form[aria-label="Leave a message"]');
    await form.waitFor();
    await page.screenshot({ path: `${shots}/offline-form.png` });
    await form.locator('input[name=name]').fill('Olga');
    await form.locator('input[name=email]').fill('olga@mail.test');
    await form.locator('textarea[name=message]').fill('Please call me back');
    await form.getByRole('button', { name: 'Send message' }).click();
    await panel.getByText('Thanks! We will answer by email.').waitFor();
  } else if (scenario === 'hours') {
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    await openDemo();
    await openPanel();
    const form = panel.locator('form[aria-label="Leave a message"]');
    await form.waitFor();
    await panel.getByText(/We are back tomorrow at 09:00 \(UTC\)/).waitFor();
    step('the header agrees with the form: away, and when we are back');
    assert.equal(await panel.locator('header .sub').textContent(), 'Away · back tomorrow at 09:00 (UTC)');
    agent.close();
  } else if (scenario === 'prechat') {
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    await openDemo();
    await openPanel();
    const form = panel.locator('form[aria-label="Before we start"]');
    await form.locator('input[name=name]').fill('Petra');
    await form.locator('input[name=email]').fill('petra@mail.test');
    await form.getByRole('button', { name: 'Start the chat' }).click();
    await say('Hi, it is Petra');
    await agent.until((f) => f.type === 'message' && f.body === 'Hi, it is Petra');
    const v = await agent.until((f) => f.type === 'visitor' && f.visitor.name === 'Petra');
    assert.equal(v.visitor.email, 'petra@mail.test');
    agent.close();
  } else if (scenario === 'identity') {
    await openDemo();
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    await page.evaluate(() => window.Parley.identify({ name: 'Mallory', email: 'ceo@acme.test', user_id: 'u-1', user_hash: '00' }));
    await openPanel();
    await panel.getByText(/user_hash must be/).waitFor();
    await page.evaluate((h) => window.Parley.identify({ name: 'Ulla', email: 'ulla@acme.test', user_id: 'u-1', user_hash: h }),
      env('PARLEY_USER_HASH'));
    const v = await agent.until((f) => f.type === 'visitor' && f.visitor.name === 'Ulla');
    assert.equal(v.visitor.email, 'ulla@acme.test');
    agent.close();
  } else if (scenario === 'anew') {
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    await openDemo();
    step('an empty chat opens on the site\'s greeting, not a blank page');
    await openPanel();
    const hello = panel.locator('.log .hello');
    await hello.waitFor();
    const site = await (await fetch(`${base}/api/v1/public/${key}/config`)).json();
    assert.equal(await hello.locator('strong').textContent(), site.greeting || 'Hi! How can we help?');
    assert.equal(await panel.locator('header h1').textContent(), site.name, 'the header names the company until someone answers');
    step('a chat, closed by staff: the visitor can write again at once');
    const first = await chatThenClose(agent, 'First question');
    await transcriptForm.waitFor();
    assert.ok(await composer.isVisible(), 'the composer stays after the close');
    step('a reload keeps the rating and transcript offers');
    await page.reload();
    await bubble.waitFor();
    await openPanel();
    await rateForm.waitFor();
    await transcriptForm.waitFor();
    await page.screenshot({ path: `${shots}/closed-offers.png` });
    step('after a close the thread keeps the panel: one compact card at its end; the header is the company\'s again');
    assert.equal(await panel.locator('header h1').textContent(), site.name, 'a closed chat names nobody in the header');
    assert.equal(await panel.locator('header .av').isVisible(), false);
    const geo = await panel.locator('#app').evaluate((app) => {
      const log = app.querySelector('.log'), card = app.querySelector('.end-card');
      return { app: app.clientHeight, log: log.clientHeight, last: log.lastElementChild === card,
        forms: [...card.querySelectorAll('form')].filter((f) => !f.hidden).length };
    });
    assert.ok(geo.last && geo.forms === 2, 'the rating and transcript offers are one card at the end of the thread: ' + JSON.stringify(geo));
    assert.ok(geo.log >= 0.6 * geo.app, 'the thread keeps at least 60% of the panel: ' + JSON.stringify(geo));
    assert.equal(await rateForm.locator('textarea').isVisible(), false, 'the comment box waits for a star');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(200);
    const phone = await panel.locator('#app').evaluate((app) => [app.clientHeight, app.querySelector('.log').clientHeight]);
    assert.ok(phone[1] >= 0.6 * phone[0], 'on a phone too: ' + JSON.stringify(phone));
    await page.screenshot({ path: `${shots}/closed-offers-390-dark.png` });
    await page.setViewportSize({ width: 1100, height: 760 });
    await page.emulateMedia({ colorScheme: 'light' });
    step('rated, then reloaded: only the transcript offer is left');
    await rateForm.getByRole('button', { name: '5 of 5' }).click();
    await rateForm.getByRole('button', { name: 'Send rating' }).click();
    await panel.getByText('Thank you for your rating!').waitFor();
    await agent.until((f) => f.type === 'conversation' && f.conversation.id === first && f.conversation.rating);
    await page.reload();
    await bubble.waitFor();
    await openPanel();
    await transcriptForm.waitFor();
    assert.equal(await rateForm.isVisible(), false, 'a used rating offer stays gone');
    await transcriptForm.locator('input').fill('visitor@mail.test');
    await transcriptForm.getByRole('button', { name: 'Email me' }).click();
    await panel.getByText(/Check your inbox|on its way/).waitFor();
    await page.reload();
    await bubble.waitFor();
    await openPanel();
    await composer.waitFor();
    assert.equal(await transcriptForm.isVisible(), false, 'a used transcript offer stays gone');
    step('the visitor writes again: a new conversation waits in the inbox, the old one is in the history');
    await say('A new question');
    const m = await agent.until((f) => f.type === 'message' && f.body === 'A new question');
    assert.notEqual(m.conversation_id, first, 'a new conversation');
    await panel.locator('.m.me:not(.pending)', { hasText: 'A new question' }).waitFor();
    assert.equal((await conversation(m.conversation_id)).status, 'waiting');
    assert.equal((await conversation(first)).status, 'closed');
    assert.ok((await listed('open')).includes(m.conversation_id));
    assert.ok((await listed('closed')).includes(first));
    step('staff answer in the new conversation; the visitor sees who answers');
    assert.equal(await panel.locator('header .av').isVisible(), false, 'nobody is named before someone answers the new one');
    agent.send({ type: 'claim', conversation_id: m.conversation_id });
    agent.send({ type: 'send', conversation_id: m.conversation_id, client_id: 'n1', body: 'Happy to help again' });
    await panel.locator('.m.them', { hasText: 'Happy to help again' }).waitFor();
    const face = panel.locator('header .av');
    await face.waitFor();
    assert.match(await face.innerText(), /^[A-Z?]{1,2}$/);
    assert.equal(await panel.locator('.row-m .av').first().innerText(), await face.innerText());
    await page.screenshot({ path: `${shots}/new-conversation.png` });
    step('the agent\'s avatar has the dashboard\'s colour for them');
    const me = await (await fetch(`${base}/api/v1/me`, { headers: { authorization: 'Bearer ' + env('PARLEY_STAFF_TOKEN') } })).json();
    const staffId = me.id || me.staff?.id;
    assert.ok(staffId, 'the staff id: ' + JSON.stringify(me));
    const hex = await page.evaluate(async (id) => (await import('/assets/ui.js')).avatarColour(id), staffId);
    const rgb = 'rgb(' + [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ') + ')';
    assert.equal(await face.evaluate((el) => getComputedStyle(el).backgroundColor), rgb, 'the header avatar');
    assert.equal(await panel.locator('.row-m .av').first().evaluate((el) => getComputedStyle(el).backgroundColor), rgb, 'the thread avatar');
    agent.close();
  } else if (scenario === 'history') {
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    const lazy = [];
    page.on('request', (r) => { if (/\/widget\/assets\/history\./.test(r.url())) lazy.push(r.url()); });
    await openDemo();
    step('a chat, closed by staff, then a new one');
    const first = await chatThenClose(agent, 'An old question');
    await say('A newer question');
    const m = await agent.until((f) => f.type === 'message' && f.body === 'A newer question');
    assert.notEqual(m.conversation_id, first);
    await panel.locator('.m.me:not(.pending)', { hasText: 'A newer question' }).waitFor();
    assert.equal(lazy.length, 0, 'the history code loads only when opened');
    step('the new conversation starts on a clean page; the old one is a tap away');
    assert.equal(await panel.locator('.log .m', { hasText: 'An old question' }).count(), 0);
    await panel.locator('.log .hello').waitFor();
    await panel.getByRole('button', { name: 'See your earlier conversations' }).click();
    await panel.getByRole('list', { name: 'Your conversations' }).waitFor();
    await panel.getByRole('button', { name: '← Back to the chat' }).click();
    await composer.waitFor();
    step('"Your conversations" lists both, newest first, from the header');
    const open = panel.getByRole('button', { name: 'Your conversations' });
    await open.click();
    const list = panel.getByRole('list', { name: 'Your conversations' });
    await list.waitFor();
    assert.equal(new Set(lazy).size, 1, 'the history code loaded on demand, once');
    const rows = list.locator('button.conv');
    // The list fills when the history call answers.
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    assert.match(await rows.nth(0).innerText(), /Ongoing[\s\S]*A newer question/);
    assert.match(await rows.nth(1).innerText(), /Closed[\s\S]*Glad to help/);
    assert.equal(await composer.isVisible(), false, 'the chat steps aside');
    await page.screenshot({ path: `${shots}/history-list.png` });
    step('the closed one opens read-only with its date');
    await rows.nth(1).click();
    const past = panel.locator('.hist .log.past');
    await past.waitFor();
    assert.deepEqual((await past.locator('.m.me').allInnerTexts()).map((t) => t.split('\n')[0]), ['An old question']);
    assert.deepEqual((await past.locator('.m.them').allInnerTexts()).map((t) => t.split('\n')[0]), ['Glad to help']);
    assert.match(await panel.locator('.hist h2').innerText(), /\d/, 'the heading is its date');
    assert.equal(await panel.locator('.hist textarea, .hist input').count(), 0, 'read-only');
    await panel.getByText('This conversation is closed.').waitFor();
    assert.deepEqual(await panel.locator('.hist-head button').allInnerTexts(), ['← All conversations'], 'a single back link');
    await panel.locator('.closed-note').getByRole('button', { name: 'Start a new conversation' }).waitFor();
    await page.screenshot({ path: `${shots}/history-one.png` });
    step('at phone size in dark mode');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await panel.locator('.hist').evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.notEqual(bg, 'rgb(249, 250, 251)', 'the history follows dark mode');
    await page.screenshot({ path: `${shots}/history-one-390-dark.png` });
    await panel.getByRole('button', { name: '← All conversations' }).click();
    await list.waitFor();
    await page.screenshot({ path: `${shots}/history-list-390-dark.png` });
    step('back to the chat: the current conversation, the composer ready');
    await panel.getByRole('button', { name: '← Back to the chat' }).click();
    await composer.waitFor();
    assert.equal(await panel.locator('.hist').isVisible(), false);
    await panel.locator('.m.me', { hasText: 'A newer question' }).waitFor();
    step('Escape leaves the history first, the panel stays open');
    await open.click();
    await list.waitFor();
    await page.keyboard.press('Escape');
    await composer.waitFor();
    assert.equal(await bubble.getAttribute('aria-expanded'), 'true');
    step('the ongoing one in the list leads back to the chat too');
    await open.click();
    await rows.nth(0).click();
    await composer.waitFor();
    await say('Still here');
    const again = await agent.until((f) => f.type === 'message' && f.body === 'Still here');
    assert.equal(again.conversation_id, m.conversation_id, 'the chat goes on in the current conversation');
    step('with bookings off, the company page never mentions them');
    const cp = await browser.newPage();
    await cp.goto(`${base}/s/${key}`);
    await cp.locator('#contact').waitFor();
    assert.equal(await cp.locator('#booking').isVisible(), false);
    assert.doesNotMatch(await cp.locator('body').innerText(), /book/i);
    step('"How to reach us" opens the chat');
    await cp.getByRole('button', { name: 'Start a chat' }).click();
    await cp.frameLocator('iframe[title="Chat"]').locator('textarea[aria-label="Your message"]').waitFor();
    await cp.close();
    agent.close();
  } else if (scenario === 'proactive') {
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    await openDemo();
    const first = await chatThenClose(agent, 'Just one thing');
    await rateForm.getByRole('button', { name: '3 of 5' }).click();
    await rateForm.getByRole('button', { name: 'Send rating' }).click();
    await agent.until((f) => f.type === 'conversation' && f.conversation.id === first && f.conversation.rating);
    step('later, on another page load, staff start a chat: a new conversation, not the rated one');
    await page.reload();
    await bubble.waitFor();
    const seen = await agent.until((f) => f.type === 'visitor' && f.visitor.online);
    agent.send({ type: 'start', visitor_id: seen.visitor.id, client_id: 'p1', body: 'We have a new offer for you' });
    const ack = await agent.until((f) => f.type === 'ack' && f.client_id === 'p1');
    assert.notEqual(ack.conversation_id, first, 'the rated conversation stays closed');
    await page.locator('.q').filter({ hasText: 'We have a new offer for you' }).waitFor();
    await page.locator('.q').click();
    await panel.locator('.m.them', { hasText: 'We have a new offer for you' }).waitFor();
    assert.equal(await rateForm.isVisible(), false, 'no rating offer in the new conversation');
    await say('Tell me more');
    const m = await agent.until((f) => f.type === 'message' && f.body === 'Tell me more');
    assert.equal(m.conversation_id, ack.conversation_id);
    assert.equal((await conversation(first)).status, 'closed');
    assert.equal((await conversation(first)).rating?.score, 3);
    agent.close();
  } else if (scenario === 'company') {
    const agent = await staff(env('PARLEY_STAFF_TOKEN'));
    const problems = [];
    for (const [w, hgt] of [[1280, 800], [390, 844]]) {
      for (const scheme of ['light', 'dark']) {
        const label = `${w}x${hgt} ${scheme}`;
        step(`the company page at ${label}`);
        const ctx = await browser.newContext({ viewport: { width: w, height: hgt }, colorScheme: scheme, timezoneId: 'Europe/Paris', locale: 'en-US' });
        const p = await ctx.newPage();
        problems.push(...watch(p, label));
        // A CSP violation is reported in the page; make it a console error.
        await p.addInitScript(() => document.addEventListener('securitypolicyviolation',
          (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`)));
        await p.goto(`${base}/s/${key}`);
        await p.locator('h1#name', { hasText: 'Acme' }).waitFor();
        await p.locator('#services li').first().waitFor();
        assert.deepEqual(await p.locator('#services li').allInnerTexts(), ['Repairs', 'Installations']);
        // Booking slots in the visitor's zone, the zone named.
        await p.locator('#times-legend', { hasText: 'Europe/Paris' }).waitFor();
        const slot = await p.locator('.slot-choice').first().innerText();
        assert.match(slot.trim(), /^\d{1,2}:\d{2}\s?(AM|PM)$/, slot);
        // Opening hours in the same format as the slots (the visitor's locale).
        assert.match(await p.locator('#hours-list dd').first().innerText(), /^\d{1,2}:\d{2}\s?(AM|PM)–\d{1,2}:\d{2}\s?(AM|PM)$/);
        // Slots grouped by part of the day, in chips of one width.
        const parts = await p.locator('.slot-part').allInnerTexts();
        assert.ok(parts.length >= 1 && parts.every((x) => ['Morning', 'Afternoon', 'Evening'].includes(x)), JSON.stringify(parts));
        const widths = await p.locator('.slot-choice').evaluateAll((els) => [...new Set(els.map((e) => Math.round(e.getBoundingClientRect().width)))]);
        assert.equal(widths.length, 1, 'equal-width slot chips: ' + JSON.stringify(widths));
        const b = p.locator('div >> css=button.b');
        await b.waitFor();
        const box = await b.boundingBox();
        assert.ok(box && Math.abs(box.width - 56) < 1 && Math.abs(box.height - 56) < 1, 'a 56 px bubble: ' + JSON.stringify(box));
        const [vw, vh] = await p.evaluate(() => [document.documentElement.clientWidth, document.documentElement.clientHeight]);
        assert.ok(Math.abs(vw - (box.x + box.width) - 20) < 2 && Math.abs(vh - (box.y + box.height) - 20) < 2, 'bottom-right: ' + JSON.stringify(box));
        const look = await b.evaluate((el) => { const c = getComputedStyle(el); return { bg: c.backgroundColor, radius: c.borderRadius, position: c.position }; });
        assert.equal(look.position, 'fixed');
        assert.notEqual(look.bg, 'rgba(0, 0, 0, 0)', 'the bubble is coloured');
        assert.equal(look.radius, '50%');
        assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), `${label}: the page scrolls sideways`);
        assert.deepEqual(await axe(p), [], `${label}: axe-core`);
        await p.screenshot({ path: `${shots}/company-${w}-${scheme}.png`, fullPage: true });
        await companyLayoutAndFields(p, w, scheme);
        step(`the chat opens and sends at ${label}`);
        await b.click();
        const frame = p.frameLocator('iframe[title="Chat"]');
        const input = frame.locator('textarea[aria-label="Your message"]');
        await input.waitFor();
        const pbox = await p.locator('div >> css=.p').boundingBox();
        if (w > 480) assert.ok(Math.abs(pbox.width - 380) < 1 && pbox.height >= 500, 'a 380 px panel: ' + JSON.stringify(pbox));
        else assert.ok(Math.abs(pbox.width - vw) < 1 && Math.abs(pbox.height - vh) < 1, 'full screen on a phone: ' + JSON.stringify(pbox));
        const body = `Hello from the company page (${label})`;
        await input.fill(body);
        await input.press('Enter');
        const m = await agent.until((f) => f.type === 'message' && f.body === body);
        agent.send({ type: 'send', conversation_id: m.conversation_id, client_id: `c${w}${scheme}`, body: 'Hi! How can we help?' });
        await frame.locator('.m.them', { hasText: 'Hi! How can we help?' }).waitFor();
        if (scheme === 'dark') {
          const bg = await frame.locator('.log').evaluate((el) => getComputedStyle(el).backgroundColor);
          assert.notEqual(bg, 'rgb(249, 250, 251)', 'the panel follows dark mode');
        }
        await p.screenshot({ path: `${shots}/company-chat-${w}-${scheme}.png` });
        await ctx.close();
      }
    }
    step('an embedded form still works in an iframe');
    const host = await browser.newContext();
    const hp = await host.newPage();
    problems.push(...watch(hp, 'embed'));
    await hp.goto(`${base}/demo?site=${key}`);
    await hp.evaluate((src) => { const f = document.createElement('iframe'); f.src = src; f.title = 'contact'; f.width = 400; f.height = 600; document.body.append(f); }, `${base}/s/${key}?form=contact`);
    const form = hp.frameLocator('iframe[title="contact"]');
    await form.locator('#contact-form input[name=email]').fill('embed@mail.test');
    await form.locator('#contact-form textarea[name=message]').fill('From an embedded form');
    await form.getByRole('button', { name: 'Send message' }).click();
    await form.getByText('Thanks! Your message is with us').waitFor();
    await host.close();
    assert.deepEqual(problems, [], 'no console error and no CSP violation');
    agent.close();
  } else {
    assert.fail('unknown scenario ' + scenario);
  }
  console.log('ok');
} catch (e) {
  await page.screenshot({ path: `${shots}/failure-${scenario}.png` }).catch(() => {});
  console.error('FAILED:', e.stack || e);
  process.exitCode = 1;
} finally {
  lines.close();
  await browser.close();
  // A scenario that failed midway may leave a socket open; never hang the test.
  process.exit();
}
