// The staff dashboard in real headless Chromium, against a running Parley.
// Run by http/tests/dashboard.rs, which starts the server and passes:
//   PARLEY_BASE, PARLEY_SITE_KEY, PARLEY_PASSWORD, PARLEY_SHOTS (dir),
//   PARLEY_SCENARIO (inbox | transfer | session | operator | settings | accounts | backoffice | analytics | times | pages | billing | live | history). Exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const env = (k) => process.env[k] ?? assert.fail(`${k} is not set`);
const base = env('PARLEY_BASE');
const key = env('PARLEY_SITE_KEY');
const password = env('PARLEY_PASSWORD');
const shots = env('PARLEY_SHOTS');
const scenario = env('PARLEY_SCENARIO');
const step = (s) => console.log(`step: ${s}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const pages = [];
// PARLEY_WEB_DIR (optional, to iterate without a rebuild): /assets/* from that folder.
const webDir = process.env.PARLEY_WEB_DIR;
async function newPage(viewport = { width: 1280, height: 800 }) {
  const ctx = await browser.newContext({ viewport });
  if (webDir) {
    await ctx.route(/\/assets\/[^/?]+$/, (r) => {
      const file = `${webDir}/${new URL(r.request().url()).pathname.split('/').pop()}`;
      return existsSync(file) ? r.fulfill({ path: file }) : r.continue();
    });
  }
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('page error:', e.message));
  pages.push(page);
  return page;
}

/** Signs in through the landing page's form; lands in the inbox. */
async function signIn(email) {
  const page = await newPage();
  await page.goto(base + '/');
  const form = page.locator('#signin');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/app\//);
  await page.getByRole('tab', { name: /Waiting/ }).waitFor();
  return page;
}

/** A visitor in the widget on the demo page, who writes `text`. */
async function visitorWrites(text) {
  const page = await newPage({ width: 1000, height: 760 });
  await page.goto(`${base}/demo?site=${key}`);
  await page.locator('div >> css=button.b').click();
  const panel = page.frameLocator('iframe[title="Chat"]');
  const input = panel.locator('textarea[aria-label="Your message"]');
  await input.fill(text);
  await input.press('Enter');
  await panel.locator('.m.me:not(.pending)').first().waitFor();
  return { page, panel };
}

/** A visitor speaking the protocol directly (no browser needed). */
async function socketVisitor(text) {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/visitor?site=${key}`);
  await new Promise((r, j) => { ws.onopen = r; ws.onerror = j; });
  const acked = new Promise((r) => { ws.onmessage = (e) => { const f = JSON.parse(e.data); if (f.type === 'ack') r(f); }; });
  ws.send(JSON.stringify({ type: 'hello', page: { url: 'https://shop.test/', title: 'Shop', referrer: '' } }));
  ws.send(JSON.stringify({ type: 'send', client_id: 'v1', body: text }));
  return { ws, ack: await acked };
}

/** The mail to `to` whose subject has `subject`, from the SMTP sink's dir (waits up to 20 s). */
async function mailTo(dir, to, subject) {
  for (let i = 0; i < 200; i++) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const m = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'));
      if (m.rcpt_tos[0] === to && m.headers.subject.includes(subject)) return m;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no mail to ${to} about ${subject}`);
}

/** The link in a mail's text that holds `fragment`. */
const linkIn = (text, fragment) => text.split(/\s+/).find((w) => w.includes(fragment));

async function shotsOf(page, name, hash) {
  for (const [device, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    for (const scheme of ['light', 'dark']) {
      await page.setViewportSize(viewport);
      await page.emulateMedia({ colorScheme: scheme });
      await page.evaluate((h) => { location.hash = h; }, hash);
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${shots}/${name}-${device}-${scheme}.png` });
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Fails when the page scrolls sideways (at the current viewport). */
async function noSideScroll(page, what) {
  const [sw, w] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(sw <= w, `${what} scrolls sideways: ${sw} > ${w}`);
}

const axeSource = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
/** axe-core on the page as it is: no serious or critical violation (colour
 * contrast, which the shared design tokens own, is only reported). */
async function axeCheck(page, what) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })));
  const contrast = found.filter((v) => v.id === 'color-contrast');
  if (contrast.length) console.log(`axe on ${what}: color-contrast at ${JSON.stringify(contrast[0].nodes)}`);
  const rest = found.filter((v) => v.id !== 'color-contrast');
  assert.deepEqual(rest, [], `axe on ${what}`);
}

/** Every page of `hashes` at phone width, light: no sideways scroll. */
async function fitsPhone(page, hashes) {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const hash of hashes) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.waitForTimeout(400);
    await noSideScroll(page, hash + ' at 390 px');
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** The owner's token, for checking what the pages did through the API. */
const apiOf = (page) => (path) => page.evaluate(async (p) => (await fetch(p, { headers: { authorization: 'Bearer ' + JSON.parse(localStorage.getItem('parley:auth')).access_token } })).json(), path);

/** The inbox's list pane and the visitor's history: the queue tabs are one
 * segmented control on one row (or a select where the pane is too narrow),
 * moved by arrow keys; a long last message is one line with an ellipsis,
 * name and time on the first line; the details list every conversation of
 * the visitor, closed ones too, each opening (a closed one read-only, with
 * Reopen); the site's reopen window is set in Sites > Widget. */
async function historyScenario() {
  const LONG = env('PARLEY_LONG');
  const owner = await signIn(env('PARLEY_OWNER'));
  const tabs = owner.getByRole('tablist', { name: 'Queues' });
  for (const [w, hgt] of [[1280, 800], [1440, 900], [390, 844], [1024, 768]]) {
    step(`the queue tabs fit the list pane at ${w}x${hgt}`);
    await owner.setViewportSize({ width: w, height: hgt });
    await owner.waitForTimeout(200);
    const fit = await owner.evaluate(() => {
      const pane = document.querySelector('.queue').getBoundingClientRect();
      const list = document.querySelector('.queue .tabs');
      const sel = document.querySelector('.queue .queue-select');
      if (getComputedStyle(list).display === 'none') return { select: getComputedStyle(sel).display !== 'none' && sel.getBoundingClientRect().right <= pane.right + 0.5 };
      const boxes = [...list.children].map((b) => b.getBoundingClientRect());
      return {
        rows: new Set(boxes.map((b) => Math.round(b.top))).size,
        inside: boxes.every((b) => b.left >= pane.left - 0.5 && b.right <= pane.right + 0.5),
        clipped: [...list.children].some((b) => b.scrollWidth > b.clientWidth + 1),
        tall: Math.round(list.getBoundingClientRect().height),
      };
    });
    if ('select' in fit) assert.ok(fit.select, `the queue select shows at ${w}: ${JSON.stringify(fit)}`);
    else assert.deepEqual([fit.rows, fit.inside, fit.clipped], [1, true, false], `tabs at ${w}: ${JSON.stringify(fit)}`);
    await noSideScroll(owner, `the inbox at ${w}`);
  }
  await owner.setViewportSize({ width: 1280, height: 800 });
  step('arrow keys move between the queue tabs (roving focus)');
  await tabs.getByRole('tab', { name: /Waiting/ }).focus();
  await owner.keyboard.press('ArrowRight');
  await tabs.getByRole('tab', { name: /Mine/, selected: true }).waitFor();
  assert.equal(await owner.evaluate(() => document.activeElement.dataset.q), 'mine');
  assert.match(owner.url(), /#\/inbox\/mine/);
  await owner.keyboard.press('End');
  await tabs.getByRole('tab', { name: /Closed/, selected: true }).waitFor();
  await owner.keyboard.press('ArrowRight');
  await tabs.getByRole('tab', { name: /Waiting/, selected: true }).waitFor();
  await owner.keyboard.press('ArrowLeft');
  await tabs.getByRole('tab', { name: /Closed/, selected: true }).waitFor();
  await owner.keyboard.press('Home');
  await tabs.getByRole('tab', { name: /Waiting/, selected: true }).waitFor();
  assert.equal(await tabs.getByRole('tab').evaluateAll((ts) => ts.filter((t) => t.tabIndex === 0).length), 1, 'one tab in the tab order');
  await tabs.getByRole('tab', { name: /All open/ }).click();
  await tabs.getByRole('tab', { name: /All open/, selected: true }).waitFor();
  await tabs.getByRole('tab', { name: /Waiting/ }).click();

  step('a long last message: one line, ellipsis, name and time on the first line');
  const row = owner.locator('.queue li a', { hasText: LONG.slice(0, 30) });
  await row.waitFor();
  for (const w of [1280, 390]) {
    await owner.setViewportSize({ width: w, height: w > 400 ? 800 : 844 });
    await owner.waitForTimeout(200);
    const m = await row.evaluate((a) => {
      const text = a.querySelector('.prev .text'), name = a.querySelector('.who .name'), at = a.querySelector('.who .at');
      const cs = getComputedStyle(text);
      const [nb, tb, pb] = [name.getBoundingClientRect(), at.getBoundingClientRect(), text.getBoundingClientRect()];
      return { ellipsis: cs.textOverflow, nowrap: cs.whiteSpace, cut: text.scrollWidth > text.clientWidth, lines: Math.round(pb.height / parseFloat(cs.lineHeight)),
        sameLine: Math.abs(nb.top - tb.top) < nb.height, timeRight: tb.left > nb.left, inside: pb.right <= a.getBoundingClientRect().right, time: at.textContent };
    });
    assert.deepEqual([m.ellipsis, m.nowrap, m.cut, m.lines, m.sameLine, m.timeRight, m.inside], ['ellipsis', 'nowrap', true, 1, true, true, true], `row at ${w}: ${JSON.stringify(m)}`);
    assert.ok(m.time && m.time !== '—', 'a time is shown');
  }
  await owner.setViewportSize({ width: 1280, height: 800 });

  step('the details list every conversation of the visitor, the closed one too');
  await row.click();
  const side = owner.getByRole('complementary', { name: 'Visitor details' });
  const history = side.locator('ul.history > li');
  await history.nth(1).waitFor();
  assert.equal(await history.count(), 2);
  await side.locator('h3', { hasText: 'Conversations' }).locator('.count', { hasText: '2' }).waitFor();
  const here = history.filter({ hasText: 'this one' });
  await here.locator('.status', { hasText: 'waiting' }).waitFor();
  const old = history.filter({ hasText: 'Where is my parcel?' });
  await old.locator('.status', { hasText: 'closed' }).waitFor();
  await old.filter({ hasText: 'It left our warehouse today' }).waitFor();
  await noSideScroll(owner, 'the inbox with details');
  await axeCheck(owner, 'the inbox with the visitor history');
  await shotsOf(owner, 'inbox-history', await owner.evaluate(() => location.hash));
  await owner.setViewportSize({ width: 1440, height: 900 });
  await owner.screenshot({ path: `${shots}/inbox-history-1440-light.png` });
  step('phones: the list pane and the details sheet, light and dark');
  for (const scheme of ['light', 'dark']) {
    await owner.emulateMedia({ colorScheme: scheme });
    await owner.setViewportSize({ width: 390, height: 844 });
    await owner.evaluate(() => { location.hash = '#/inbox/waiting'; });
    await row.waitFor();
    await noSideScroll(owner, 'the list on a phone');
    await owner.screenshot({ path: `${shots}/inbox-list-phone-${scheme}.png` });
    await row.click();
    await owner.getByRole('button', { name: 'Visitor details' }).click();
    await history.nth(1).waitFor();
    await noSideScroll(owner, 'the details sheet on a phone');
    await owner.screenshot({ path: `${shots}/inbox-details-phone-${scheme}.png` });
    await owner.getByRole('button', { name: 'Close details' }).click();
  }
  await owner.emulateMedia({ colorScheme: 'light' });
  await owner.setViewportSize({ width: 1280, height: 800 });
  await history.nth(1).waitFor();

  step('a closed conversation opens read-only, with Reopen');
  await old.getByRole('link').click();
  await owner.locator('.log .msg', { hasText: 'Where is my parcel?' }).waitFor();
  await owner.locator('.conv > header .status', { hasText: 'closed' }).waitFor();
  await owner.getByText('This conversation is closed. Reopen it to reply.').waitFor();
  assert.ok(await owner.getByLabel('Reply').isDisabled(), 'read-only');
  step('closed: the reply box is greyed, not a box that looks editable');
  const greyed = await owner.getByLabel('Reply').evaluate((t) => ({ bg: getComputedStyle(t).backgroundColor, cursor: getComputedStyle(t).cursor,
    form: t.closest('form').classList.contains('is-closed'), panel: getComputedStyle(t.closest('form')).backgroundColor }));
  assert.deepEqual([greyed.form, greyed.cursor], [true, 'not-allowed']);
  assert.notEqual(greyed.bg, greyed.panel, 'the box is tinted, unlike the composer around it');
  await history.filter({ hasText: 'this one' }).filter({ hasText: 'Where is my parcel?' }).waitFor();
  await tabs.getByRole('tab', { name: /Waiting/, selected: true }).waitFor();
  await row.waitFor();
  await owner.getByRole('button', { name: 'Reopen' }).click();
  await owner.getByText('Conversation reopened.').waitFor();
  assert.ok(await owner.getByLabel('Reply').isEnabled(), 'the composer is back');
  assert.equal(await owner.locator('form.composer.is-closed').count(), 0, 'no longer greyed');
  step('the composer on a phone: Send at the right edge, the focus ring inside the screen');
  await owner.setViewportSize({ width: 390, height: 844 });
  await owner.getByLabel('Reply').focus();
  const cb = await owner.locator('form.composer').boundingBox(), sb = await owner.locator('form.composer button[type=submit]').boundingBox();
  assert.ok(cb.x + cb.width - (sb.x + sb.width) < 24, `Send sits at the right (${sb.x + sb.width} of ${cb.x + cb.width})`);
  const ring = await owner.getByLabel('Reply').evaluate((t) => { const r = t.getBoundingClientRect(), s = getComputedStyle(t);
    return r.left - (parseFloat(s.outlineWidth) + parseFloat(s.outlineOffset)); });
  assert.ok(ring >= 0, `the focus ring starts on screen (${ring})`);
  await owner.setViewportSize({ width: 1280, height: 800 });
  await old.locator('.status', { hasText: /waiting|active/ }).waitFor();

  step('Sites > Widget: the site\'s own reopen window, the server\'s by default');
  await owner.evaluate(() => { location.hash = '#/admin/sites'; });
  await owner.getByRole('tab', { name: 'Widget' }).click();
  const win = owner.getByLabel('Reopen a closed chat if the visitor writes within');
  assert.match(await win.locator('option:checked').textContent(), /Server default \(Never/);
  await win.selectOption({ label: '1 hour' });
  await owner.getByRole('tabpanel').getByRole('button', { name: 'Save' }).click();
  await owner.getByText('Settings updated.').waitFor();
  const sites = await apiOf(owner)('/api/v1/sites');
  assert.equal(sites.items[0].settings.reopen_window_secs, 3600);
  await owner.reload();
  await owner.getByRole('tab', { name: 'Widget' }).click();
  assert.equal(await owner.getByLabel('Reopen a closed chat if the visitor writes within').locator('option:checked').textContent(), '1 hour');
  await owner.screenshot({ path: `${shots}/sites-widget-reopen-desktop-light.png`, fullPage: true });
  await owner.setViewportSize({ width: 390, height: 844 });
  await owner.emulateMedia({ colorScheme: 'dark' });
  await noSideScroll(owner, 'Sites > Widget on a phone');
  await owner.screenshot({ path: `${shots}/sites-widget-reopen-phone-dark.png`, fullPage: true });
  await owner.emulateMedia({ colorScheme: 'light' });
  await owner.setViewportSize({ width: 1280, height: 800 });
}

/** Self-hosted, no SMTP: the welcome checklist, copyable invitation links,
 * Sites in tabs with a danger zone, an outbox mail opened, the audit log in
 * sentences, canned responses edited. */
async function pagesScenario() {
  const owner = await signIn(env('PARLEY_OWNER'));
  const get = apiOf(owner);
  step('the welcome checklist: nothing done yet but what is real');
  await owner.evaluate(() => { location.hash = '#/welcome'; });
  const list = owner.getByRole('list', { name: 'Set-up checklist' });
  const item = (k) => list.locator(`li[data-step="${k}"]`);
  await item('installed').waitFor();
  for (const k of ['installed', 'teammate', 'hours', 'answered']) assert.equal(await item(k).getAttribute('class'), '', k + ' is not done yet');
  await item('installed').getByRole('button', { name: 'Copy snippet' }).waitFor();
  step('the progress bar says how far: a track, its filled part and "0 of 4 done"; Check again is a button of its own');
  await owner.locator('.setup-progress', { hasText: '0 of 4 done' }).locator('progress[value="0"][max="4"]').waitFor();
  assert.equal(await item('installed').locator('p button').count(), 0, 'not a button inside the hint text');
  assert.ok((await item('installed').locator('pre').textContent()).includes('data-site="' + key + '"'));
  await shotsOf(owner, 'welcome', '#/welcome');
  step("the widget on Parley's own demo page does not count as installed");
  const demo = await newPage();
  await demo.goto(`${base}/demo?site=${key}`);
  await demo.locator('div >> css=button.b').waitFor();
  await owner.waitForFunction(async () => (await (await fetch('/api/v1/visitors?online=true', { headers: { authorization: 'Bearer ' + JSON.parse(localStorage.getItem('parley:auth')).access_token } })).json()).items.length > 0);
  await item('installed').getByRole('button', { name: 'Check again' }).click();
  await owner.getByText('Not seen on your site yet.').waitFor();
  assert.equal(await item('installed').getAttribute('class'), '', 'the demo page is not the customer\'s site');
  assert.equal((await get('/api/v1/sites')).items[0].installed_at, null);
  assert.equal(await item('installed').getByRole('button', { name: 'I have installed it' }).count(), 0, 'no hand-made mark');
  step('the snippet on a real site (another origin): the server notes it, the step ticks');
  const shop = await newPage();
  // The shop's own site: another origin, served by this script on another port.
  const shopSite = createServer((q, r) => { r.setHeader('content-type', 'text/html'); r.end(`<!doctype html><html lang="en"><title>Shop</title><h1>Shop</h1><script src="${base}/widget.js" data-site="${key}" async></script></html>`); });
  await new Promise((r) => shopSite.listen(0, '127.0.0.1', r));
  await shop.goto(`http://localhost:${shopSite.address().port}/`);
  await shop.locator('div >> css=button.b').waitFor();
  await owner.waitForFunction(async () => !!(await (await fetch('/api/v1/sites', { headers: { authorization: 'Bearer ' + JSON.parse(localStorage.getItem('parley:auth')).access_token } })).json()).items[0].installed_at);
  await item('installed').getByRole('button', { name: 'Check again' }).click();
  await list.locator('li.done[data-step="installed"]').waitFor();
  await owner.getByText('1 of 4 done').waitFor();
  step('done: the snippet folds away behind "Show snippet"; no strike-through');
  const snip = item('installed').locator('pre.snippet');
  assert.equal(await snip.isVisible(), false, 'the snippet is folded');
  await item('installed').getByText('Show snippet').click();
  await snip.waitFor();
  assert.equal(await item('installed').locator('strong').first().evaluate((e) => getComputedStyle(e).textDecorationLine), 'none');
  await shotsOf(owner, 'welcome-done', '#/welcome');

  step('no SMTP: inviting shows a copyable link and says mail is not configured');
  await owner.evaluate(() => { location.hash = '#/admin/staff'; });
  const form = owner.locator('form', { hasText: 'Invite a colleague' });
  await form.getByLabel('Name').fill('Ada');
  await form.getByLabel('Email').fill('ada@acme.test');
  await form.getByRole('button', { name: 'Invite' }).click();
  const box = owner.locator('.link-box');
  await box.getByText('Mail is not configured').waitFor();
  const link = await box.locator('code').textContent();
  assert.ok(link.includes('#invite='), link);
  await box.getByRole('button', { name: 'Copy link' }).waitFor();
  assert.equal(await owner.getByText('Invitation sent').count(), 0, 'never "sent" without SMTP');
  step('invite again: a fresh link, copyable, mail still not configured');
  await owner.getByRole('row', { name: /ada@acme.test/ }).getByRole('button', { name: 'Invite again' }).click();
  await owner.waitForFunction((old) => { const c = document.querySelector('.link-box code'); return c && c.textContent !== old; }, link);
  await box.getByText('Mail is not configured').waitFor();
  await shotsOf(owner, 'staff-link', '#/admin/staff');
  step('the link works: it opens the invitation page');
  const invited = await newPage();
  await invited.goto(await box.locator('code').textContent());
  await invited.getByText('ada@acme.test').first().waitFor();
  step('the checklist ticks the teammate');
  await owner.evaluate(() => { location.hash = '#/welcome'; });
  await list.locator('li.done[data-step="teammate"]').waitFor();

  step('"Get started" stays in the navigation until every step is done, then leaves it');
  const getStarted = owner.getByRole('link', { name: 'Get started' });
  await getStarted.waitFor();
  const first = (await get('/api/v1/sites')).items[0];
  const hours = await owner.evaluate(async (id) => (await fetch('/api/v1/sites/' + id, { method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + JSON.parse(localStorage.getItem('parley:auth')).access_token },
    body: JSON.stringify({ business_hours: { timezone: 'UTC', days: [{ day: 'mon', open: '09:00', close: '17:00' }] } }) })).status, first.id);
  assert.equal(hours, 200, 'business hours saved');
  await socketVisitor('Set-up chat');
  await owner.evaluate(() => { location.hash = '#/inbox/waiting'; });
  const waiting = owner.locator('.queue li a', { hasText: 'Set-up chat' });
  await waiting.waitFor();
  await waiting.click();
  await owner.getByRole('button', { name: 'Claim' }).click();
  await owner.locator('.log .msg.system', { hasText: 'joined the conversation' }).waitFor();
  await owner.reload();
  await owner.evaluate(() => { location.hash = '#/welcome'; });
  await owner.getByText('All set: your workspace is ready.').waitFor();
  await owner.evaluate(() => { location.hash = '#/inbox'; });
  await owner.locator('nav').getByRole('link', { name: 'Inbox' }).waitFor();
  await owner.waitForFunction(() => ![...document.querySelectorAll('nav a')].some((a) => a.textContent.includes('Get started')));

  step('Sites in tabs: one tab saves only its own fields');
  let site = (await get('/api/v1/sites')).items[0];
  await owner.evaluate((id) => { location.hash = '#/admin/sites/' + id; }, site.id);
  await owner.getByRole('tab', { name: 'Widget' }).click();
  assert.equal(await owner.getByRole('tabpanel').count(), 1, 'one tab panel shown at a time');
  assert.equal(await owner.getByRole('button', { name: 'Save', exact: true }).count(), 1, 'one Save on screen');
  await owner.getByLabel('Greeting').fill('Not saved');
  await owner.getByRole('tab', { name: 'General' }).click();
  const general = owner.getByRole('tabpanel', { name: 'General' });
  await general.getByLabel('Name').fill('Demo shop 2');
  await general.getByRole('button', { name: 'Save' }).click();
  await owner.locator('.toast', { hasText: 'Settings updated.' }).waitFor();
  assert.equal(await general.getByText('Saved.').count(), 0, 'the toast alone says it saved, no second "Saved." inline');
  site = (await get('/api/v1/sites')).items[0];
  assert.equal(site.name, 'Demo shop 2');
  assert.notEqual(site.settings.greeting, 'Not saved', 'the Widget tab was not saved with General');
  step('the tabs follow the arrow keys');
  await owner.getByRole('tab', { name: 'General' }).focus();
  await owner.keyboard.press('ArrowRight');
  assert.equal(await owner.getByRole('tab', { name: 'Widget' }).getAttribute('aria-selected'), 'true');
  await owner.getByRole('tab', { name: 'General' }).click();
  step('one site: no site chip repeating its name; the toast sits bottom right, off the form');
  assert.equal(await owner.locator('.sites-bar .subnav').count(), 0, 'a lone site needs no chip');
  await owner.locator('.toast').waitFor({ state: 'detached' });
  await general.getByRole('button', { name: 'Save' }).click();
  const savedToast = owner.locator('.toast', { hasText: 'Settings updated.' });
  await savedToast.waitFor();
  const saved = await savedToast.boundingBox();
  assert.ok(saved, 'the toast is on screen');
  const vp = owner.viewportSize();
  assert.ok(saved.y + saved.height > vp.height - 80 && saved.x + saved.width > vp.width - 80, `the toast is in the bottom-right corner (${JSON.stringify(saved)})`);
  step('on a phone the six tabs are one row that scrolls by itself, the current tab in view, the page never sideways');
  await owner.setViewportSize({ width: 390, height: 844 });
  await owner.getByRole('tab', { name: 'General' }).focus();
  const tabRow = owner.getByRole('tablist', { name: 'Site settings' });
  await owner.waitForFunction(() => document.querySelector('[role="tablist"].tabs')?.classList.contains('more-right'));
  assert.equal(await tabRow.evaluate((l) => l.classList.contains('more-left')), false, 'no fade on the left at the first tab');
  await owner.keyboard.press('End');
  await owner.waitForFunction(() => !document.querySelector('[role="tablist"].tabs').classList.contains('more-right'));
  assert.equal(await tabRow.evaluate((l) => l.classList.contains('more-left')), true, 'at the last tab the fade is on the left');
  const row = await owner.getByRole('tablist', { name: 'Site settings' }).evaluate((l) => {
    const tabs = [...l.querySelectorAll('[role="tab"]')].map((t) => t.getBoundingClientRect());
    const me = l.querySelector('[aria-selected="true"]').getBoundingClientRect(), box = l.getBoundingClientRect();
    return { tops: new Set(tabs.map((t) => Math.round(t.top))).size, scrolls: l.scrollWidth > l.clientWidth, inView: me.left >= box.left - 1 && me.right <= box.right + 1,
      page: document.documentElement.scrollWidth };
  });
  assert.deepEqual(row, { tops: 1, scrolls: true, inView: true, page: 390 }, 'one row of tabs, the current one in view');
  await owner.setViewportSize({ width: 1280, height: 800 });
  await owner.getByRole('tab', { name: 'General' }).click();
  step('the site\'s name heads the tabs, "+ Add site" beside it; the danger zone shows under General only');
  assert.equal(await owner.locator('.site-head h2').textContent(), site.name);
  assert.ok(!/\bnull\b/.test(await owner.locator('main').innerText()), 'no stray "null" on the page');
  await owner.locator('.site-head').getByRole('button', { name: '+ Add site' }).waitFor();
  await owner.getByRole('tab', { name: 'Widget' }).click();
  await owner.getByRole('region', { name: 'Danger zone' }).waitFor({ state: 'hidden' });
  await owner.getByRole('tab', { name: 'General' }).click();
  step('rotate the key: it asks first; cancel keeps the key');
  const zone = owner.getByRole('region', { name: 'Danger zone' });
  assert.equal(await general.getByRole('button', { name: 'Rotate site key' }).count(), 0, 'not beside the snippet');
  await zone.getByRole('button', { name: 'Rotate site key' }).click();
  const ask = owner.getByRole('dialog', { name: 'Rotate the site key?' });
  await ask.waitFor();
  await shotsOf(owner, 'sites-rotate', '#/admin/sites/' + site.id);
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await ask.waitFor({ state: 'detached' });
  assert.equal((await get('/api/v1/sites')).items[0].key, site.key, 'cancelled: same key');
  await zone.getByRole('button', { name: 'Rotate site key' }).click();
  await ask.getByRole('button', { name: 'Rotate key' }).click();
  await owner.getByText('Site key rotated').waitFor();
  const rotated = (await get('/api/v1/sites')).items[0].key;
  assert.notEqual(rotated, site.key);
  await shotsOf(owner, 'sites-tabs', '#/admin/sites/' + site.id);

  step('an outbox row opens the mail: to, subject, status, attempts, rendered body');
  await owner.evaluate(() => { location.hash = '#/admin/outbox'; });
  step('no SMTP: the Outbox says at the top that mail waits and how to configure it');
  const notice = owner.getByRole('note');
  await notice.getByText('Mail is not being sent: no SMTP server is configured.').waitFor();
  await notice.getByText('[mail] smtp_url').waitFor();
  assert.ok(await notice.evaluate((n) => n.compareDocumentPosition(document.querySelector('main table')) & Node.DOCUMENT_POSITION_FOLLOWING), 'the notice comes before the mail');
  await owner.locator('table[aria-label="Outgoing mail"] tbody tr').first().waitFor();
  assert.equal(await owner.locator('table[aria-label="Outgoing mail"] tbody .error').count(), 0, 'under the banner, no row repeats that SMTP is missing');
  assert.equal(await owner.locator('table[aria-label="Outgoing mail"] tbody tr td:first-child').first().evaluate((td) => getComputedStyle(td, '::before').content), 'none',
    'a mail card carries no "Mail" label');
  await owner.locator('table[aria-label="Outgoing mail"] .pill', { hasText: /^Pending$/ }).first().waitFor();
  step('outbox: "Result" and "Queued" headers; the queued time on one line, kept on a phone\'s card');
  const mailTable = owner.getByRole('table', { name: 'Outgoing mail' });
  assert.deepEqual(await mailTable.locator('thead th').allTextContents(), ['Mail', 'Status', 'Result', 'Queued']);
  for (const width of [1280, 390]) {
    await owner.setViewportSize({ width, height: width === 390 ? 844 : 800 });
    const queued = mailTable.locator('tbody tr td.when').first();
    assert.ok(await queued.isVisible(), `the queued time shows at ${width}`);
    assert.equal(await queued.evaluate((td) => getComputedStyle(td).whiteSpace), 'nowrap');
    assert.equal(await queued.getAttribute('data-label'), 'Queued');
  }
  await owner.setViewportSize({ width: 1280, height: 800 });
  await owner.locator('tr', { hasText: 'invited you' }).first().click();
  const mail = owner.getByRole('region', { name: /^Mail .*invited you/ });
  await mail.getByText('ada@acme.test').waitFor();
  await mail.locator('.pill.pending').waitFor();
  await mail.getByText('None yet').waitFor();
  await mail.frameLocator('iframe').locator('a[href*="invite="]').first().waitFor();
  await shotsOf(owner, 'outbox-mail', await owner.evaluate(() => location.hash));

  step('canned responses: add, then edit in place (the shortcut pattern is valid)');
  await owner.evaluate(() => { location.hash = '#/canned'; });
  const add = owner.locator('form', { hasText: 'Add a canned response' });
  await add.getByLabel('Shortcut').fill('Bad Shortcut');
  assert.equal(await add.getByLabel('Shortcut').evaluate((i) => i.validity.patternMismatch), true, 'the pattern validates');
  await add.getByLabel('Shortcut').fill('thanks');
  await add.getByLabel('Reply').fill('Thank you!');
  await add.getByRole('button', { name: 'Add' }).click();
  await owner.getByRole('button', { name: 'Edit /thanks' }).click();
  const edit = owner.locator('.canned form');
  await edit.getByLabel('Reply').fill('Thanks a lot!');
  await edit.getByRole('button', { name: 'Save' }).click();
  await owner.locator('.canned', { hasText: 'Thanks a lot!' }).waitFor();
  assert.equal((await get('/api/v1/canned-responses')).items[0].body, 'Thanks a lot!');
  await shotsOf(owner, 'canned', '#/canned');

  step('the audit log reads as sentences with names, details on demand');
  await owner.evaluate(() => { location.hash = '#/admin/audit'; });
  const mine = (await get('/api/v1/me')).staff;
  const me = mine.name || mine.email;
  await owner.locator('.audit-what', { hasText: `${me} invited Ada` }).waitFor();
  await owner.locator('.audit-what', { hasText: `${me} rotated the key of site Demo shop 2` }).waitFor();
  const entry = owner.locator('.audit-item', { hasText: `${me} invited Ada` });
  await entry.locator('summary').click();
  await entry.getByText('"email": "ada@acme.test"').waitFor();
  await entry.getByText(/ on /).first().waitFor();
  assert.match(await entry.locator('time.audit-when').textContent(), /^Today \d/, 'a time from today says so');
  await shotsOf(owner, 'audit', '#/admin/audit');

  step('sessions name their device; headings in order on Account');
  await owner.evaluate(() => { location.hash = '#/account'; });
  await owner.locator('table.sessions td', { hasText: / on Linux/ }).first().waitFor();
  const sizes = await owner.evaluate(() => ['h1', 'h2'].map((t) => parseFloat(getComputedStyle(document.querySelector('main ' + t)).fontSize)));
  assert.ok(sizes[0] > sizes[1], `h1 ${sizes[0]} px is larger than h2 ${sizes[1]} px`);
  await owner.evaluate(() => { location.hash = '#/admin/newsletter'; });
  await owner.getByRole('heading', { name: 'Subscribers' }).waitFor();
  const news = await owner.evaluate(() => ['h1', 'h2'].map((t) => parseFloat(getComputedStyle(document.querySelector('main ' + t)).fontSize)));
  assert.ok(news[0] > news[1], 'Newsletter: h1 larger than h2');
  assert.equal(await owner.getByLabel('Filter subscribers').inputValue(), 'all', 'the subscriber list shows everyone at first');
  await owner.locator('table[aria-label="Subscribers"] td', { hasText: 'Nobody has subscribed yet' }).waitFor();
  await owner.getByLabel('Filter subscribers').selectOption('pending');
  await owner.locator('table[aria-label="Subscribers"] td', { hasText: 'Nobody is waiting to confirm.' }).waitFor();
  step('Newsletter with no SMTP: a pending sign-up is named as stuck; its history does not repeat its status');
  assert.equal(await owner.locator('.notice', { hasText: 'waiting to confirm' }).count(), 0, 'no notice with nobody pending');
  const signed = await owner.evaluate(async (k) => (await fetch(`/api/v1/public/${k}/newsletter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'stuck@visitor.test' }) })).status, (await get('/api/v1/sites')).items[0].key);
  assert.equal(signed, 202);
  await owner.reload();
  await owner.locator('.notice[role="note"]', { hasText: "1 subscriber is waiting to confirm; mail is not configured, so they can't yet." }).waitFor();
  const stuck = owner.locator('table[aria-label="Subscribers"] tr', { hasText: 'stuck@visitor.test' });
  const history = await stuck.locator('td').nth(3).innerText();
  assert.match(history, /^Signed up \d/, history);
  assert.doesNotMatch(history, /Pending/, 'the history does not repeat the status');
  await owner.getByRole('heading', { name: 'Subscribers' }).waitFor();
  const gap = await owner.evaluate(() => {
    const last = [...document.querySelectorAll('main .split')].at(-1).getBoundingClientRect().bottom;
    return document.querySelector('main h2.subscribers-title').getBoundingClientRect().top - last;
  });
  assert.ok(gap >= 16, `room above "Subscribers": ${gap}px`);
  await shotsOf(owner, 'newsletter-no-smtp', '#/admin/newsletter');
  step('Webhooks: without an endpoint, an empty state where the list goes; events in words');
  await owner.evaluate(() => { location.hash = '#/admin/webhooks'; });
  await owner.getByRole('region', { name: 'Endpoints' }).locator('.empty-state', { hasText: 'No endpoint yet' }).waitFor();
  await owner.getByLabel('Contact form message').waitFor();
  assert.equal(await owner.locator('label.check', { hasText: 'Contact form message' }).locator('code').textContent(), 'contact_message.created');
  await shotsOf(owner, 'account', '#/account');
  step('Account: every settings section has its own Save');
  const sections = owner.locator('.settings-stack > form');
  assert.ok(await sections.count() >= 4, 'profile, time zone, notifications, password');
  for (const f of await sections.all()) assert.equal(await f.locator('button[type=submit]').count(), 1, await f.locator('h2').textContent());

  step('Staff: no empty actions cell, the owner\'s own row says it is hers');
  await owner.evaluate(() => { location.hash = '#/admin/staff'; });
  await owner.getByRole('row', { name: /ada@acme.test/ }).waitFor();
  const blank = await owner.evaluate(() => [...document.querySelectorAll('main tbody tr')].filter((tr) => !tr.lastElementChild.textContent.trim()).length);
  assert.equal(blank, 0, 'a staff row with an empty actions cell');
  step('Staff: Remove is a red outline in the row, solid red only in its dialog; statuses capitalised');
  const removeAda = owner.getByRole('button', { name: 'Remove ada@acme.test' });
  assert.equal(await removeAda.evaluate((b) => getComputedStyle(b).backgroundColor), 'rgba(0, 0, 0, 0)', 'no solid red in the row');
  await owner.getByRole('row', { name: /ada@acme.test/ }).locator('.pill', { hasText: /^Invited$/ }).waitFor();
  await removeAda.click();
  const sure = owner.getByRole('dialog').getByRole('button', { name: 'Remove' });
  assert.notEqual(await sure.evaluate((b) => getComputedStyle(b).backgroundColor), 'rgba(0, 0, 0, 0)', 'the dialog\'s Remove is solid');
  await owner.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  await owner.getByRole('row', { name: new RegExp(env('PARLEY_OWNER')) }).getByRole('link', { name: 'Your account' }).waitFor();

  step('Messages: column headers, the assignee filter says what it filters');
  await owner.setViewportSize({ width: 1280, height: 800 });
  await owner.evaluate(() => { location.hash = '#/contacts'; });
  const heads = owner.locator('table[aria-label="Contact messages"] thead th');
  await heads.first().waitFor();
  assert.deepEqual(await heads.allTextContents(), ['From', 'Message', 'Status', 'Received'], 'column headers');
  assert.equal(await owner.getByLabel('Filter by assignee').locator('option').first().textContent(), 'Assigned to: anyone');
  step('Messages: the search placeholder is whole at every width');
  for (const width of [1280, 1000, 390]) {
    await owner.setViewportSize({ width, height: 844 });
    await owner.evaluate(() => { location.hash = '#/contacts'; });
    const search = owner.getByRole('searchbox', { name: 'Search messages' });
    await search.waitFor();
    const room = await search.evaluate((i) => {
      const cs = getComputedStyle(i);
      const c = document.createElement('canvas').getContext('2d');
      c.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      return i.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - c.measureText(i.placeholder).width;
    });
    assert.ok(room >= 0, `the placeholder is cut off at ${width} px (${room})`);
  }
  await owner.setViewportSize({ width: 1280, height: 800 });

  step('Consultations: an empty state that says what appears here and links to turn bookings on');
  await owner.evaluate(() => { location.hash = '#/consultations'; });
  const empty = owner.locator('.empty-state');
  await empty.getByText('No consultations this week.').waitFor();
  assert.equal(await empty.locator('svg.icon').count(), 1, 'an icon');
  await shotsOf(owner, 'consultations-empty', '#/consultations');
  await empty.getByRole('link', { name: 'Turn them on in Sites › Bookings' }).click();
  await owner.getByRole('tab', { name: 'Bookings', selected: true }).waitFor();

  step('Audit: the time in its own column at the left, the full date on hover');
  await owner.evaluate(() => { location.hash = '#/admin/audit'; });
  const when = owner.locator('.audit-item time.audit-when').first();
  await when.waitFor();
  const [tx, sx] = await owner.locator('.audit-item').first().evaluate((li) => [li.querySelector('time').getBoundingClientRect().left, li.querySelector('.audit-what').getBoundingClientRect().left]);
  assert.ok(tx < sx, 'the time comes before the sentence');
  const xs = await owner.locator('.audit-item time.audit-when').evaluateAll((ts) => new Set(ts.map((t) => Math.round(t.getBoundingClientRect().left))).size);
  assert.equal(xs, 1, 'every time at the same place');
  assert.match(await when.getAttribute('title'), /\d{4}/, 'the full date, with its year, on hover');

  step('axe-core finds nothing serious on these pages');
  for (const hash of ['#/welcome', '#/admin/sites', '#/admin/staff', '#/admin/outbox', '#/admin/audit', '#/canned', '#/account', '#/consultations', '#/contacts']) {
    await owner.evaluate((h) => { location.hash = h; }, hash);
    await owner.waitForTimeout(400);
    await axeCheck(owner, hash);
  }
  step('no sideways scroll on a phone, in every Sites tab too');
  await owner.setViewportSize({ width: 390, height: 844 });
  await owner.evaluate(() => { location.hash = '#/admin/sites'; });
  for (const tab of ['General', 'Widget', 'Hours', 'Pre-chat', 'Bookings', 'Security']) {
    await owner.getByRole('tab', { name: tab }).click();
    await noSideScroll(owner, `Sites, ${tab} tab, at 390 px`);
  }
  await fitsPhone(owner, ['#/welcome', '#/admin/sites', '#/admin/staff', '#/admin/outbox', '#/admin/audit', '#/canned', '#/account', '#/consultations', '#/contacts']);
}

/** Billing on (no checkout page): what the free plan lacks is locked with
 * its reason before the click; no "Go pro" without a checkout page. */
async function billingScenario() {
  const owner = await signIn(env('PARLEY_OWNER'));
  step('Add site is locked, and says why, before any click');
  await owner.evaluate(() => { location.hash = '#/admin/sites'; });
  const add = owner.getByRole('button', { name: 'Add site' });
  await add.waitFor();
  assert.ok(await add.isDisabled(), 'locked');
  const why = owner.getByText('Your plan (Free) includes 1 site — upgrade to Pro for 5 sites.');
  await why.waitFor();
  assert.equal(await add.getAttribute('aria-describedby'), 'add-site-why');
  const plan = owner.locator('.plan');
  await plan.getByRole('heading', { name: 'Free plan' }).waitFor();
  assert.equal(await plan.getByRole('button', { name: /^Go / }).count(), 0, 'no checkout page: no "Go pro"');
  await shotsOf(owner, 'sites-billing', '#/admin/sites');
  step('identity verification is locked too');
  await owner.getByRole('tab', { name: 'Security' }).click();
  assert.ok(await owner.getByRole('button', { name: 'Turn on' }).isDisabled());
  await owner.getByText(/does not include identity verification — upgrade to Pro/).waitFor();
  step('webhooks are locked with their reason');
  await owner.evaluate(() => { location.hash = '#/admin/webhooks'; });
  assert.ok(await owner.getByRole('button', { name: 'Add endpoint' }).isDisabled());
  await owner.getByText('Your plan (Free) does not include webhooks — upgrade to Pro to use it.').waitFor();
  await shotsOf(owner, 'webhooks-billing', '#/admin/webhooks');
  step('the landing page shows the pricing with billing on');
  const landing = await newPage();
  await landing.goto(base + '/');
  await landing.getByRole('region', { name: 'Pricing' }).getByText('1 site', { exact: true }).waitFor();
}

/** What the charts on the page measure: stretched SVGs, scaled text, tick values. */
const chartFacts = (page) => page.evaluate(() => {
  const svgs = [...document.querySelectorAll('svg')];
  const texts = [...document.querySelectorAll('svg.pchart text.axis')].filter((t) => t.getBBox().width > 0);
  return {
    stretched: svgs.filter((x) => (x.getAttribute('preserveAspectRatio') || '').trim().startsWith('none')).length,
    texts: texts.length,
    scaled: texts.map((t) => {
      const box = t.getBoundingClientRect(), bb = t.getBBox(), font = parseFloat(getComputedStyle(t).fontSize);
      return { text: t.textContent, wx: box.width / bb.width, hy: box.height / font };
    }).filter((m) => Math.abs(m.wx - 1) > 0.05 || m.hy < 0.8 || m.hy > 1.7),
    ticks: [...document.querySelectorAll('svg.pchart text.tick')].map((t) => t.textContent),
    wide: [...document.querySelectorAll('figure.chart, table.leaderboard')].filter((f) => f.getBoundingClientRect().right > innerWidth + 1).length,
  };
});

/** Serious or critical axe-core violations inside the elements `selectors` match. */
async function axeOn(page, selectors) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ path: new URL('./node_modules/axe-core/axe.min.js', import.meta.url).pathname });
  const found = await page.evaluate(async (sel) => {
    const include = sel.filter((x) => document.querySelector(x)).map((x) => [x]);
    if (!include.length) return { checked: 1, bad: [] };
    const r = await window.axe.run({ include }, { resultTypes: ['violations'] });
    return { checked: r.passes.length, bad: r.violations.filter((v) => ['serious', 'critical'].includes(v.impact))
      .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`) };
  }, selectors);
  assert.ok(found.checked > 0, 'axe-core checked something');
  return found.bad;
}

/** The charts and times of issue 29: real-size charts, integer ticks, values by
 * hover and keyboard, the leaderboard, and the Account time zone. */
async function timesScenario() {
  // bypassCSP only lets the test inject axe-core; the app itself runs as served.
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'UTC', bypassCSP: true });
  const owner = await ctx.newPage();
  owner.on('pageerror', (e) => console.log('page error:', e.message));
  pages.push(owner);
  await owner.goto(base + '/');
  const form = owner.locator('#signin');
  await form.getByLabel('Email').fill(env('PARLEY_OWNER'));
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await owner.waitForURL(/\/app\//);
  for (const [device, viewport] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    await owner.setViewportSize(viewport);
    for (const [name, hash, ready] of [['home', '#/home', '.tile svg.pspark'], ['analytics', '#/analytics', 'figure.chart svg.pchart'],
      ['performance', '#/performance', 'table.leaderboard tbody tr']]) {
      step(`${name} at ${viewport.width}×${viewport.height}: drawn at real size`);
      await owner.evaluate((h) => { location.hash = h; }, hash);
      await owner.locator(ready).first().waitFor();
      await owner.waitForTimeout(200);
      const f = await chartFacts(owner);
      assert.equal(f.stretched, 0, `${name}: an SVG with preserveAspectRatio="none"`);
      assert.deepEqual(f.scaled, [], `${name}: chart text is scaled`);
      assert.equal(f.wide, 0, `${name}: a chart or table wider than the screen`);
      if (name === 'performance' && device === 'phone') {
        // A card per person: every figure shows, labelled, none cut off or hidden.
        const cut = await owner.evaluate(() => [...document.querySelectorAll('table.leaderboard tbody td, table.leaderboard tbody th')]
          .filter((c) => { const r = c.getBoundingClientRect(); return !r.width || r.left < 0 || r.right > innerWidth; }).length);
        assert.equal(cut, 0, 'performance on a phone: a figure is hidden or cut off');
        assert.equal(await owner.locator('table.leaderboard tbody tr').first().locator('td[data-label="Handle time"]').isVisible(), true);
      }
      for (const t of f.ticks) assert.match(t, /^\d[\d,]*$/, `${name}: tick ${t} is not a whole number`);
      if (name === 'analytics') {
        assert.ok(f.texts > 10, 'axis labels are drawn');
        assert.ok(f.ticks.length >= 4, 'value axes have ticks');
        step('a point shows its value on keyboard focus and on hover');
        const trend = owner.locator('figure', { hasText: 'Visitors and conversations' });
        const first = trend.locator('.chart-hit[tabindex="0"]');
        await first.focus();
        const tip = trend.locator('.chart-tip');
        await tip.waitFor({ state: 'visible' });
        const said = await tip.textContent();
        assert.match(said, /Conversations \d+/, said);
        assert.equal(said, await first.getAttribute('aria-label'), 'the tooltip says what the label says');
        await owner.keyboard.press('End');
        const last = await tip.textContent();
        assert.notEqual(last, said, 'End moves to the last point');
        assert.equal(await trend.locator('.chart-hit[tabindex="0"]').count(), 1, 'one tab stop per chart');
        const total = await trend.locator('.chart-hit').evaluateAll((els) => els.reduce((n, e) => n + Number(/Conversations (\d+)/.exec(e.getAttribute('aria-label'))[1]), 0));
        assert.equal(total, 3, 'the points hold the three conversations');
        const heat = owner.locator('figure', { hasText: 'When conversations start' });
        const cell = heat.locator('.chart-hit').nth(30);
        await cell.hover();
        await heat.locator('.chart-tip').waitFor({ state: 'visible' });
        assert.match(await heat.locator('.chart-tip').textContent(), /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) .+: \d+ conversations$/);
        await trend.locator('.chart-hit').first().focus();
        await owner.screenshot({ path: `${shots}/times-analytics-focus-${device}.png` });
      }
      if (name === 'performance') {
        const row = owner.locator('table.leaderboard tbody tr').first();
        assert.equal((await row.locator('.lb-rank').textContent()).trim(), '1');
        assert.equal((await row.locator('.lb-avatar').textContent()).trim(), 'O');
        await row.locator('th', { hasText: 'Olive' }).waitFor();
        // On a desktop a table; on a phone a compact card per person (never one slab).
        const box = await (device === 'phone' ? row : owner.locator('table.leaderboard')).boundingBox();
        assert.ok(box.height < (device === 'phone' ? 260 : 400), `the leaderboard is a table, not a slab (${box.height}px)`);
      }
      for (const scheme of ['light', 'dark']) {
        await owner.emulateMedia({ colorScheme: scheme });
        await owner.screenshot({ path: `${shots}/times-${name}-${device}-${scheme}.png`, fullPage: name !== 'home' });
        assert.deepEqual(await axeOn(owner, ['figure.chart', 'table.leaderboard', '.tiles']), [], `${name} (${device}, ${scheme}): axe-core`);
      }
      await owner.emulateMedia({ colorScheme: 'light' });
    }
  }
  await owner.setViewportSize({ width: 1280, height: 800 });
  step('Account: a zone change changes every time shown, and stays');
  await owner.evaluate(() => { location.hash = '#/account'; });
  const zoneSel = owner.getByLabel('Show times in');
  await zoneSel.waitFor();
  const seen = () => owner.locator('table tbody tr').first().locator('td').nth(2).textContent();
  const before = await seen();
  assert.doesNotMatch(before, /\d{4}-\d\d-\d\dT/, 'no raw ISO time');
  assert.ok(await owner.locator('#account-timezone-now', { hasText: '(UTC)' }).count(), 'the browser zone at first');
  await zoneSel.selectOption('Asia/Tokyo');
  await owner.getByRole('button', { name: 'Save time zone' }).click();
  await owner.locator('#account-timezone-now', { hasText: '(Asia/Tokyo)' }).waitFor();
  const after = await seen();
  assert.notEqual(after, before, `the session's time follows the zone (${before} → ${after})`);
  await owner.screenshot({ path: `${shots}/times-account-zone.png`, fullPage: true });
  assert.deepEqual(await axeOn(owner, ['.zone-form']), [], 'the time zone form: axe-core');
  await owner.reload();
  await owner.evaluate(() => { location.hash = '#/account'; });
  await owner.locator('#account-timezone-now', { hasText: '(Asia/Tokyo)' }).waitFor();
  assert.equal(await seen(), after, 'the zone is kept with the staff member');
  assert.equal(await owner.getByLabel('Show times in').inputValue(), 'Asia/Tokyo');
  step('the heatmap and Home follow the chosen zone');
  await owner.evaluate(() => { location.hash = '#/analytics'; });
  await owner.locator('figure', { hasText: 'When conversations start (Asia/Tokyo)' }).waitFor();
  await owner.evaluate(() => { location.hash = '#/home'; });
  await owner.getByText('Since midnight (Asia/Tokyo)').waitFor();
  step("a booking shows the viewer's time and the site's, named");
  await owner.evaluate((id) => { location.hash = '#/consultations/' + id; }, env('PARLEY_BOOKING'));
  await owner.getByText(/For the site: .+ \(America\/New_York\)/).waitFor();
  await owner.screenshot({ path: `${shots}/times-booking-zone.png` });
  step('no page shows a raw ISO time');
  for (const hash of ['#/inbox/waiting', '#/visitors', '#/contacts', '#/consultations', '#/admin/staff', '#/admin/outbox', '#/admin/audit', '#/account']) {
    await owner.evaluate((h) => { location.hash = h; }, hash);
    await owner.waitForTimeout(400);
    const iso = await owner.evaluate(() => /\d{4}-\d\d-\d\dT\d\d:\d\d/.exec(document.body.innerText)?.[0]);
    assert.equal(iso, undefined, `${hash} shows a raw ISO time`);
  }
  step('back to the browser zone');
  await owner.evaluate(() => { location.hash = '#/account'; });
  await owner.getByLabel('Show times in').selectOption('');
  await owner.getByRole('button', { name: 'Save time zone' }).click();
  await owner.locator('#account-timezone-now', { hasText: '(UTC)' }).waitFor();
  assert.equal(await seen(), before);
}

try {
  if (scenario === 'inbox') {
    const agent = await signIn('agent@acme.test');
    step('an agent sees no administration');
    assert.equal(await agent.getByRole('link', { name: 'Staff' }).count(), 0);
    await agent.evaluate(() => { location.hash = '#/admin/staff'; });
    await agent.getByText('Only owners and admins manage the workspace.').waitFor();
    await agent.evaluate(() => { location.hash = '#/inbox/waiting'; });
    step('a visitor writes; the conversation appears live in Waiting');
    const { page: visitor, panel } = await visitorWrites('Need help with my order');
    const item = agent.locator('.queue li a', { hasText: 'Need help with my order' });
    await item.waitFor({ timeout: 5000 });
    await item.click();
    await agent.locator('.log .msg', { hasText: 'Need help with my order' }).waitFor();
    step('claim, reply; the visitor gets it');
    await agent.getByRole('button', { name: 'Claim' }).click();
    await agent.locator('.log .msg.system', { hasText: 'joined the conversation' }).waitFor();
    const box = agent.getByLabel('Reply');
    await box.fill('Hello from the dashboard');
    await box.press('Enter');
    await panel.locator('.m.them', { hasText: 'Hello from the dashboard' }).waitFor();
    step('a note stays private');
    await agent.getByLabel('Private note').check();
    await box.fill('secret note: VIP customer');
    await box.press('Enter');
    await agent.locator('.log .msg.note', { hasText: 'secret note' }).waitFor();
    await box.fill('Anything else?');
    await box.press('Enter');
    await panel.locator('.m.them', { hasText: 'Anything else?' }).waitFor();
    assert.equal(await panel.getByText('secret note').count(), 0, 'the visitor never sees a note');
    step('the visitor typing and reading show in the dashboard');
    await panel.locator('textarea[aria-label="Your message"]').pressSequentially('typing', { delay: 30 });
    await agent.getByText('is typing…').waitFor();
    await agent.locator('.log .msg.staff .meta', { hasText: 'Seen' }).first().waitFor();
    step('the visitor sidebar shows the current page');
    await agent.locator('.side', { hasText: 'Demo shop' }).waitFor();
    const convHash = await agent.evaluate(() => location.hash);
    step('live visitors show a page change within a second');
    await agent.evaluate(() => { location.hash = '#/visitors'; });
    await agent.getByRole('table', { name: 'Visitors online now' }).waitFor();
    await visitor.locator('nav a', { hasText: 'Shoes' }).click();
    await agent.locator('td.page-cell', { hasText: 'Shoes' }).waitFor({ timeout: 1000 });
    step('visitors on a phone: each card keeps its On site / On page times and shows the page title, not its address');
    await agent.setViewportSize({ width: 390, height: 844 });
    const vrow = agent.getByRole('table', { name: 'Visitors online now' }).locator('tbody tr').first();
    assert.ok(await vrow.locator('td.on-site').isVisible() && await vrow.locator('td.on-page').isVisible(), 'both times on the card');
    assert.equal(await vrow.locator('td.on-site').getAttribute('data-label'), 'On site');
    assert.equal(await vrow.locator('.page-url').isVisible(), false, 'no raw address on a phone');
    await vrow.locator('td.page-cell a', { hasText: 'Shoes' }).waitFor();
    await agent.setViewportSize({ width: 1280, height: 800 });
    step('screenshots: inbox, conversation, visitors; desktop and phone; light and dark');
    await shotsOf(agent, 'inbox', '#/inbox/open');
    await shotsOf(agent, 'conversation', convHash);
    await shotsOf(agent, 'visitors', '#/visitors');
  } else if (scenario === 'transfer') {
    const one = await signIn('agent@acme.test');
    const two = await signIn('agent2@acme.test');
    const { ack } = await socketVisitor('Please transfer me');
    const item = one.locator('.queue li a', { hasText: 'Please transfer me' });
    const row = (page) => page.locator(`.queue li a[href$="/${ack.conversation_id}"]`);
    step('agent one claims and transfers to agent two');
    await item.click();
    await one.getByRole('button', { name: 'Claim' }).click();
    await one.locator('.log .msg.system', { hasText: 'joined' }).waitFor();
    const name = await two.evaluate(() => window.parley.live.me.name || window.parley.live.me.email);
    await one.getByLabel('Transfer to').selectOption({ label: name });
    await one.locator('.log .msg.system', { hasText: 'transferred the conversation' }).waitFor();
    step('agent two finds it in Mine, closes it; it moves to Closed');
    await two.getByRole('tab', { name: /Mine/ }).click();
    await row(two).click();
    await two.getByRole('button', { name: 'Close', exact: true }).click();
    await two.locator('.log .msg.system', { hasText: 'closed the conversation' }).waitFor();
    await two.getByRole('tab', { name: /Closed/ }).click();
    await row(two).waitFor();
    assert.equal(await two.getByRole('button', { name: 'Reopen' }).count(), 1);
    await one.getByRole('tab', { name: /Mine/ }).click();
    assert.equal(await row(one).count(), 0);
    assert.equal(await one.getByRole('button', { name: 'Claim' }).count(), 0, 'an agent cannot take it over');
  } else if (scenario === 'live') {
    // Views follow the live state: two agents on the same conversation.
    const one = await signIn('agent@acme.test');
    const two = await signIn('agent2@acme.test');
    const { ws, ack } = await socketVisitor('Is my order shipped?');
    const open = async (page) => {
      await page.locator(`.queue li a[href$="/${ack.conversation_id}"]`).click();
      await page.locator('.log .msg', { hasText: 'Is my order shipped?' }).waitFor();
    };
    const status = (page) => page.locator('.conv header .status');
    await open(one);
    await open(two);
    step('agent two claims: agent one\'s open view shows it at once, without Claim');
    await two.getByRole('button', { name: 'Claim' }).click();
    await two.getByText('You have this conversation now.').waitFor();
    await status(one).filter({ hasText: 'active' }).waitFor();
    const bert = await two.evaluate(() => window.parley.live.me.name || window.parley.live.me.email);
    await one.locator('.conv header .assignee', { hasText: 'with ' + bert }).waitFor();
    await two.locator('.conv header .assignee', { hasText: 'with you' }).waitFor();
    await one.getByRole('button', { name: 'Claim' }).waitFor({ state: 'detached' });
    step('agent two closes: agent one sees it closed, with Reopen and a composer that says why it cannot send');
    await two.getByRole('button', { name: 'Close', exact: true }).click();
    await two.getByText('Conversation closed.').waitFor();
    await status(one).filter({ hasText: 'closed' }).waitFor();
    await one.getByRole('button', { name: 'Reopen' }).waitFor();
    await one.getByText('This conversation is closed. Reopen it to reply.').waitFor();
    assert.ok(await one.getByLabel('Reply').isDisabled(), 'no silent send into a closed conversation');
    step('the visitor rates; a reopen clears the rating everywhere');
    ws.send(JSON.stringify({ type: 'rate', conversation_id: ack.conversation_id, score: 5, comment: 'Great' }));
    await one.locator('.conv .rating', { hasText: 'Great' }).waitFor();
    await two.getByRole('button', { name: 'Reopen' }).click();
    await two.getByText('Conversation reopened.').waitFor();
    await status(one).filter({ hasNotText: 'closed' }).waitFor();
    await one.locator('.conv .rating').waitFor({ state: 'detached' });
    assert.ok(await one.getByLabel('Reply').isEnabled(), 'the composer is back');
    step('the details panel follows the status');
    await one.locator('.side li', { hasText: /this one/ }).filter({ hasNotText: 'closed' }).waitFor();
    step('after a queue switch the open conversation stays, and its actions still act, with feedback');
    await two.getByRole('tab', { name: /All open/ }).click();
    await two.getByRole('tab', { name: /All open/, selected: true }).waitFor();
    await two.waitForFunction(() => !document.querySelector('.toast'), null, { timeout: 10000 });
    await two.getByRole('button', { name: 'Close', exact: true }).click();
    await two.getByText('Conversation closed.').waitFor();
    await status(one).filter({ hasText: 'closed' }).waitFor();
    step('the back button leaves no stale conversation with dead buttons');
    await one.setViewportSize({ width: 390, height: 844 });
    await one.getByRole('button', { name: 'Back to the list' }).click();
    await one.locator('.queue').waitFor();
    assert.equal(await one.getByRole('button', { name: 'Send' }).count(), 0, 'no Send without a conversation');
    await one.setViewportSize({ width: 1280, height: 800 });
    await two.waitForFunction(() => !document.querySelector('.toast'), null, { timeout: 10000 });
    await two.getByRole('button', { name: 'Reopen' }).click();
    await two.getByText('Conversation reopened.').waitFor();
    step('offline: Send says it was not sent, and keeps the text');
    await two.evaluate(() => { window.parley.live.ws.onclose = null; window.parley.live.ws.close(); window.parley.live.ws = null; });
    const box = two.getByLabel('Reply');
    await box.fill('Are you there?');
    await box.press('Enter');
    await two.getByText(/Not connected to Parley: your message was not sent/).waitFor();
    assert.equal(await box.inputValue(), 'Are you there?');
    ws.close();
  } else if (scenario === 'session') {
    const owner = await signIn(env('PARLEY_OWNER'));
    let refreshed = 0;
    owner.on('request', (r) => { if (r.url().endsWith('/api/v1/auth/refresh')) refreshed++; });
    step('an owner sees the administration');
    await owner.getByRole('link', { name: 'Staff' }).click();
    await owner.getByRole('cell', { name: /agent@acme.test/ }).first().waitFor();
    await owner.getByRole('link', { name: 'Sites' }).click();
    await owner.getByRole('button', { name: 'Copy snippet' }).waitFor();
    step('the access token expires mid-session and is refreshed unnoticed');
    const ttl = Number(env('PARLEY_TTL_SECS'));
    await owner.waitForTimeout((ttl + 5) * 1000);
    assert.ok(refreshed >= 1, 'a silent refresh happened');
    await owner.getByRole('link', { name: 'Audit', exact: true }).click();
    await owner.locator('.audit-what', { hasText: 'signed in' }).first().waitFor();
    assert.equal(await owner.locator('.banner', { hasText: 'Reconnecting' }).isVisible(), false);
    assert.ok(owner.url().includes('/app/'), 'still in the dashboard');
    step('logout-all from another session signs the dashboard out');
    const login = await fetch(base + '/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: env('PARLEY_OWNER'), password }) }).then((r) => r.json());
    const out = await fetch(base + '/api/v1/auth/logout-all', { method: 'POST', headers: { authorization: 'Bearer ' + login.access_token } });
    assert.equal(out.status, 204);
    await owner.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 10000 });
    await owner.getByText('Your session was ended elsewhere').waitFor();
  } else if (scenario === 'operator') {
    const page = await newPage();
    await page.goto(base + '/admin');
    step('the operator signs in and sees tenants with usage');
    await page.getByLabel('Email').fill(env('PARLEY_OPERATOR'));
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const row = page.getByRole('row', { name: /Acme/ });
    await row.getByText(/staff · 1 site$/).waitFor();
    step('under the name, the owner\'s email and first site, so two tenants of one name differ');
    const owned = (await row.locator('.tenant-owner').textContent()).split(' · ');
    assert.equal(owned[0], 'owner@acme.test');
    assert.equal(owned.length, 2, `the first site too (${owned})`);
    assert.ok(owned[1].length > 0);
    step('a tenant row: since a date, the ID behind a copy button, Suspend a red outline, no word broken');
    assert.match(await row.locator('td').nth(1).textContent(), /\d{4}/, 'Since has the year');
    assert.equal(await row.getByText(/^[0-9A-HJKMNP-TV-Z]{26}$/).count(), 0, 'no raw tenant ID in the row');
    await row.getByRole('button', { name: 'Copy the ID of Acme' }).waitFor();
    assert.equal(await row.getByRole('button', { name: 'Suspend' }).evaluate((b) => getComputedStyle(b).backgroundColor), 'rgba(0, 0, 0, 0)');
    const broken = await page.evaluate(() => [...document.querySelectorAll('table[aria-label="Tenants"] td, table[aria-label="Messages a day"] th, table[aria-label="Messages a day"] td')]
      .filter((c) => getComputedStyle(c).overflowWrap === 'anywhere' || getComputedStyle(c).wordBreak === 'break-all').length);
    assert.equal(broken, 0, 'cells that may break a word');
    step('suspend (it asks first), then resume');
    await row.getByRole('button', { name: 'Suspend' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Suspend' }).click();
    await row.getByRole('cell', { name: 'suspended' }).waitFor();
    const config = await fetch(`${base}/api/v1/public/${key}/config`).then((r) => r.json());
    assert.equal(config.available, false, 'a suspended tenant shows offline');
    await page.screenshot({ path: `${shots}/admin-tenants.png` });
    await page.setViewportSize({ width: 390, height: 844 });
    await noSideScroll(page, 'the operator page at 390 px');
    assert.equal(await page.locator('table[aria-label="Messages a day"] tbody tr').evaluate((tr) => getComputedStyle(tr).display), 'table-row', 'messages a day stays a table on a phone');
    await page.screenshot({ path: `${shots}/admin-tenants-phone.png` });
    await page.setViewportSize({ width: 1280, height: 800 });
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByRole('cell', { name: 'active' }).waitFor();
    step('the operator puts the tenant on pro: the totals show its revenue');
    await page.getByLabel(/^Plan of Acme/).selectOption('pro');
    step('the plan change asks first: cancelled, nothing changes');
    const ask = page.getByRole('dialog', { name: 'Put Acme on Pro?' });
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await ask.waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.querySelector('select[aria-label^="Plan of Acme"]')?.value === 'free');
    await page.getByLabel(/^Plan of Acme/).selectOption('pro');
    await ask.getByRole('button', { name: 'Change plan' }).click();
    await page.getByRole('status').filter({ hasText: '$29.00 a month' }).waitFor();
    await page.getByText(/1 on pro/).waitFor();
    step('the landing page lists the plans');
    const landing = await newPage();
    await landing.goto(base + '/');
    const pricing = landing.getByRole('region', { name: 'Pricing' });
    await pricing.getByRole('heading', { name: 'Business' }).waitFor();
    await pricing.getByText('$29 a month').waitFor();
    await shotsOf(landing, 'landing', '');
  } else if (scenario === 'settings') {
    const owner = await signIn(env('PARLEY_OWNER'));
    owner.on('dialog', (d) => d.accept());
    const get = (path) => owner.evaluate(async (p) => (await fetch(p, { headers: { authorization: 'Bearer ' + JSON.parse(localStorage.getItem('parley:auth')).access_token } })).json(), path);
    step('company name');
    await owner.evaluate(() => { location.hash = '#/admin/sites'; });
    step('billing off: no plan, no upgrade anywhere');
    await owner.getByLabel('Workspace name').waitFor();
    assert.equal(await owner.locator('.plan').count(), 0);
    assert.equal(await owner.getByText(/upgrade/i).count(), 0);
    await owner.getByLabel('Workspace name').fill('Acme Ltd');
    await owner.getByRole('button', { name: 'Save name' }).click();
    await owner.getByText('Workspace name saved.').waitFor();
    assert.equal((await get('/api/v1/tenant')).name, 'Acme Ltd');
    step('business hours in a time zone (the Hours tab), and a pre-chat field (the Pre-chat tab)');
    await owner.getByRole('tab', { name: 'Hours' }).click();
    // The zone starts as the browser's (or UTC), never the list's first.
    const browserTz = await owner.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
    assert.equal(await owner.getByLabel('Time zone').inputValue(), browserTz);
    assert.equal(await owner.getByLabel('Offer chat only during these hours').isDisabled(), true, 'no hours: no chat gate');
    await owner.getByLabel('Set business hours').check();
    assert.equal(await owner.getByLabel('Offer chat only during these hours').isChecked(), true, 'hours gate chat unless told otherwise');
    await owner.getByLabel('Time zone').selectOption('Europe/Paris');
    await owner.getByLabel('Friday to').fill('16:00');
    await Promise.all([owner.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/sites/')),
      owner.getByRole('button', { name: 'Save', exact: true }).click()]);
    await owner.locator('.toast', { hasText: 'Settings updated.' }).waitFor();
    await owner.getByRole('tab', { name: 'Pre-chat' }).click();
    await owner.getByRole('button', { name: 'Add a field' }).click();
    await Promise.all([owner.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/sites/')),
      owner.getByRole('button', { name: 'Save', exact: true }).click()]);
    await owner.locator('.toast', { hasText: 'Settings updated.' }).waitFor();
    let site = (await get('/api/v1/sites')).items[0];
    assert.equal(site.settings.business_hours.timezone, 'Europe/Paris');
    assert.deepEqual(site.settings.business_hours.days.map((d) => d.day), ['mon', 'tue', 'wed', 'thu', 'fri']);
    assert.equal(site.settings.business_hours.days[4].close, '16:00');
    assert.equal(site.settings.pre_chat_fields[0].name, 'email');
    assert.equal(site.settings.chat_only_in_hours, true);
    step('bookings on; chat open around the clock while the hours stay');
    await owner.getByRole('tab', { name: 'Bookings' }).click();
    await owner.getByLabel('Take consultation bookings').check();
    await owner.getByRole('button', { name: 'Save form settings' }).click();
    await owner.getByText('Form settings saved.').waitFor();
    await owner.getByRole('tab', { name: 'Hours' }).click();
    await owner.getByLabel('Offer chat only during these hours').uncheck();
    await Promise.all([owner.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/sites/')),
      owner.getByRole('button', { name: 'Save', exact: true }).click()]);
    await owner.locator('.toast', { hasText: 'Settings updated.' }).waitFor();
    site = (await get('/api/v1/sites')).items[0];
    assert.equal(site.settings.chat_only_in_hours, false);
    assert.equal(site.settings.business_hours.timezone, 'Europe/Paris');
    assert.equal(site.settings.consultations.enabled, true);
    step('a refused save says why next to the field');
    await owner.getByLabel('Set business hours').uncheck();
    await owner.getByRole('button', { name: 'Save', exact: true }).click();
    const hoursBox = owner.getByLabel('Set business hours');
    await owner.locator('.field-error', { hasText: 'Set the site\'s business hours before turning bookings on' }).waitFor();
    assert.equal(await hoursBox.getAttribute('aria-invalid'), 'true');
    assert.ok(await hoursBox.evaluate((el) => el === document.activeElement), 'the field has the focus');
    assert.ok((await get('/api/v1/sites')).items[0].settings.business_hours, 'the hours are kept');
    await hoursBox.check();
    await shotsOf(owner, 'sites', '#/admin/sites/' + site.id);
    step('identity verification: the secret is shown once');
    await owner.getByRole('tab', { name: 'Security' }).click();
    await owner.getByRole('button', { name: 'Turn on' }).click();
    await owner.getByText('Copy this secret to your server now').waitFor();
    site = (await get('/api/v1/sites')).items[0];
    assert.equal(site.settings.identity_verification, true);
    assert.ok(await owner.getByText(site.settings.identity_secret).isVisible());
    await owner.reload();
    await owner.getByRole('tab', { name: 'Security' }).click();
    await owner.getByRole('button', { name: 'Rotate secret' }).waitFor();
    assert.equal(await owner.getByText(site.settings.identity_secret).count(), 0, 'not shown again');
    step('create a site, then delete it');
    await owner.getByLabel('New site name').fill('Blog');
    await owner.getByRole('button', { name: 'Add site' }).click();
    await owner.locator('.subnav a', { hasText: 'Blog' }).waitFor();
    // The danger zone lives under General only.
    await owner.getByRole('tab', { name: 'General' }).click();
    await owner.getByRole('button', { name: 'Delete site' }).click();
    await owner.getByRole('dialog', { name: 'Delete Blog?' }).getByRole('button', { name: 'Delete site' }).click();
    await owner.locator('.subnav a', { hasText: 'Blog' }).waitFor({ state: 'detached' });
    assert.equal((await get('/api/v1/sites')).items.length, 1);
    step('remove a staff member');
    await owner.evaluate(() => { location.hash = '#/admin/staff'; });
    await owner.getByRole('button', { name: 'Remove agent2@acme.test' }).click();
    await owner.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await owner.getByText('Removed.').waitFor();
    assert.ok(!(await get('/api/v1/staff')).items.some((x) => x.email === 'agent2@acme.test'));
    step('a rating shows in the Closed list and the conversation');
    await owner.evaluate(() => { location.hash = '#/inbox/waiting'; });
    step('no conversation open: an empty state in the middle of the pane');
    const empty = owner.locator('.conv > .conv-empty');
    await empty.waitFor();
    const [eb, pb] = [await empty.boundingBox(), await owner.locator('.inbox > .conv').boundingBox()];
    assert.ok(Math.abs(eb.y + eb.height / 2 - (pb.y + pb.height / 2)) < 40, `centred in the pane (${eb.y}+${eb.height} in ${pb.y}+${pb.height})`);
    const { ws, ack } = await socketVisitor('Thanks for the help');
    const item = owner.locator('.queue li a', { hasText: 'Thanks for the help' });
    await owner.setViewportSize({ width: 390, height: 844 });
    await item.click();
    await owner.getByRole('button', { name: 'Claim' }).click();
    await owner.locator('.log .msg.system', { hasText: 'joined' }).waitFor();
    step('the claim toast covers neither the conversation header nor the composer (on a phone)');
    const claimToast = owner.locator('.toast', { hasText: 'You have this conversation now.' });
    await claimToast.waitFor();
    const claimed = await claimToast.boundingBox();
    const apart = (a, b) => a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
    assert.ok(apart(claimed, await owner.locator('.conv > header').boundingBox()), 'the toast is off the header');
    assert.ok(apart(claimed, await owner.locator('.composer').boundingBox()), 'the toast is off the composer');
    await owner.screenshot({ path: `${shots}/claim-toast-phone-light.png` });
    await owner.setViewportSize({ width: 1280, height: 800 });
    await owner.getByRole('button', { name: 'Close', exact: true }).click();
    await owner.getByRole('button', { name: 'Reopen' }).waitFor();
    ws.send(JSON.stringify({ type: 'rate', conversation_id: ack.conversation_id, score: 4, comment: 'Quick and kind' }));
    await owner.locator('.conv .rating', { hasText: 'Quick and kind' }).waitFor();
    step('the visitor panel shows the rating: in its details and in the history list');
    await owner.locator('.side dd .stars', { hasText: '★★★★☆' }).waitFor();
    await owner.locator('.side .history li.here .stars', { hasText: '★★★★☆' }).waitFor();
    await owner.screenshot({ path: `${shots}/rated-conversation-desktop-light.png` });
    await owner.getByRole('tab', { name: /Closed/ }).click();
    await owner.locator('.queue li .stars', { hasText: '★★★★☆' }).waitFor();
  } else if (scenario === 'accounts') {
    const maildir = env('PARLEY_MAILDIR');
    const owner = await signIn(env('PARLEY_OWNER'));
    step('the owner invites an agent on the Staff page');
    await owner.evaluate(() => { location.hash = '#/admin/staff'; });
    const form = owner.locator('form', { hasText: 'Invite a colleague' });
    await form.getByLabel('Name').fill('Ada');
    await form.getByLabel('Email').fill('ada@acme.test');
    await form.getByRole('button', { name: 'Invite' }).click();
    await owner.getByText('Invitation sent').waitFor();
    step('the invitation arrives over SMTP; the agent opens its link, sets a password, lands in the inbox');
    const invite = await mailTo(maildir, 'ada@acme.test', 'invited you');
    const link = linkIn(invite.text, '#invite=');
    assert.ok(link.startsWith(base + '/app/#invite='), link);
    const ada = await newPage();
    await ada.goto(link);
    await ada.getByRole('heading', { name: /^Join / }).waitFor();
    await shotsOf(ada, 'invite', new URL(link).hash);
    await ada.getByLabel('Password').fill('ada new pass 42');
    await ada.getByRole('button', { name: 'Join and sign in' }).click();
    await ada.getByRole('tab', { name: /Waiting/ }).waitFor();
    step('and answers a widget chat');
    const { page: visitor, panel } = await visitorWrites('Hello, anyone there?');
    const item = ada.locator('.queue li a', { hasText: 'Hello, anyone there?' });
    await item.waitFor({ timeout: 5000 });
    await item.click();
    await ada.getByRole('button', { name: 'Claim' }).click();
    await ada.locator('.log .msg.system', { hasText: 'joined the conversation' }).waitFor();
    const box = ada.getByLabel('Reply');
    await box.fill('Hi, Ada here');
    await box.press('Enter');
    await panel.locator('.m.them', { hasText: 'Hi, Ada here' }).waitFor();
    step('the visitor gives an email and closes the tab; the next reply reaches them by mail, and its link reopens the chat');
    await visitor.evaluate(() => window.Parley.identify({ name: 'Vic', email: 'vic@visitor.test' }));
    await ada.locator('.side', { hasText: 'vic@visitor.test' }).waitFor();
    const visitorCtx = visitor.context();
    await visitor.close();
    await box.fill('We shipped it today');
    await box.press('Enter');
    await ada.locator('.log .msg.staff', { hasText: 'We shipped it today' }).waitFor();
    const missed = await mailTo(maildir, 'vic@visitor.test', 'replied to you');
    assert.ok(missed.text.includes('We shipped it today'), missed.text);
    assert.ok(!missed.text.includes('Hi, Ada here'), 'what the visitor read is not mailed again');
    const back = await visitorCtx.newPage();
    pages.push(back);
    await back.goto(linkIn(missed.text, '#parley-chat'));
    await back.frameLocator('iframe[title="Chat"]').locator('.m.them', { hasText: 'We shipped it today' }).waitFor();
    step("the owner exports the visitor's data, then erases it");
    await owner.evaluate(() => { location.hash = '#/inbox/open'; });
    await owner.locator('.queue li a', { hasText: /Vic|We shipped it today|Hello, anyone there/ }).first().click();
    await owner.locator('.side', { hasText: 'vic@visitor.test' }).waitFor();
    await owner.locator('.side summary', { hasText: 'Privacy' }).click();
    const [file] = await Promise.all([owner.waitForEvent('download'),
      owner.getByRole('button', { name: 'Export data' }).click()]);
    const exported = JSON.parse(readFileSync(await file.path(), 'utf8'));
    assert.equal(exported.visitor.email, 'vic@visitor.test');
    assert.ok(exported.conversations[0].messages.some((m) => m.body === 'We shipped it today'));
    await owner.getByRole('button', { name: 'Erase visitor…' }).click();
    const ask = owner.getByRole('dialog', { name: 'Erase this visitor?' });
    const [erased] = await Promise.all([
      owner.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/api/v1/visitors/')),
      ask.getByRole('button', { name: 'Erase visitor' }).click()]);
    assert.equal(erased.status(), 200);
    assert.ok((await erased.json()).erased_records > 0);
    await owner.locator('.side', { hasText: 'vic@visitor.test' }).waitFor({ state: 'detached' });
    step('an invitation link works once');
    const again = await newPage();
    await again.goto(link);
    await again.getByRole('heading', { name: 'This invitation cannot be used' }).waitFor();
    step('signed out, /app/ shows only the sign-in form; forgot password → mail → reset page → signed in');
    const p = await newPage();
    await p.goto(base + '/app/');
    await p.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await p.getByText('Create my workspace').count(), 0, 'no sign-up form in /app/');
    await shotsOf(p, 'signin', '#signin');
    await p.getByRole('link', { name: 'Forgot your password?' }).click();
    await p.getByLabel('Email').fill('ada@acme.test');
    await p.getByRole('button', { name: 'Send the link' }).click();
    await p.getByRole('heading', { name: 'Check your mail' }).waitFor();
    const reset = await mailTo(maildir, 'ada@acme.test', 'Reset your password');
    const resetLink = linkIn(reset.text, '#reset=');
    await p.goto(resetLink);
    await p.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await p.getByLabel('New password', { exact: true }).fill('ada reset pass 7');
    await p.getByRole('button', { name: 'Save and sign in' }).click();
    await p.getByRole('tab', { name: /Waiting/ }).waitFor();
    step('the old session is gone, and a mail says the password changed');
    await ada.getByText('Your session was ended elsewhere').waitFor({ timeout: 15000 });
    await mailTo(maildir, 'ada@acme.test', 'was changed');
    step('the used reset link says so');
    const used = await newPage();
    await used.goto(resetLink);
    await used.getByRole('heading', { name: 'This link cannot be used' }).waitFor();
    step('Account: the agent renames herself');
    await p.evaluate(() => { location.hash = '#/account'; });
    await p.getByLabel('Your name (visitors see it)').fill('Ada L.');
    await p.getByRole('button', { name: 'Save name' }).click();
    await p.getByText('Name saved.').waitFor();
    await p.getByLabel('Mail me each new contact-form message').uncheck();
    await p.getByRole('button', { name: 'Save notifications' }).click();
    await p.getByText('Saved: no more contact messages by mail.').waitFor();
    const me = await p.evaluate(async () => (await fetch('/api/v1/me', { headers: { authorization: 'Bearer ' + JSON.parse(localStorage.getItem('parley:auth')).access_token } })).json());
    assert.equal(me.prefs.contact_alerts, false);
    assert.equal(me.staff.name, 'Ada L.');
    await shotsOf(p, 'account', '#/account');
    step('the owner sees every mail delivered in the Outbox');
    await owner.evaluate(() => { location.hash = '#/admin/outbox'; });
    await owner.locator('tr', { hasText: 'Reset your password' }).locator('.pill.sent').waitFor();
    await owner.locator('tr', { hasText: 'invited you' }).locator('.pill.sent').waitFor();
    assert.equal(await owner.getByText('no SMTP server is configured').count(), 0, 'with SMTP: no "not configured" notice');
    await shotsOf(owner, 'outbox', '#/admin/outbox');
    step('a contact-form message: the alert links to it; assign, note, reply; the reply arrives by mail');
    const posted = await fetch(`${base}/api/v1/public/${key}/contact`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Zoe', email: 'zoe@visitor.test', phone: '+1 555', service: 'Repairs', message: 'My order arrived broken.', website: '' }) });
    assert.equal(posted.status, 201);
    const alert = await mailTo(maildir, env('PARLEY_OWNER'), 'New message from Zoe');
    await owner.goto(linkIn(alert.text, '#/contacts/'));
    await owner.getByRole('heading', { name: 'Zoe' }).waitFor();
    await owner.getByLabel('Assignee', { exact: true }).selectOption({ index: 1 });
    await owner.getByText('Saved.').waitFor();
    await owner.getByLabel('Internal note (never sent)').fill('Offer a refund');
    await owner.getByRole('button', { name: 'Add note' }).click();
    await owner.locator('.thread li.note', { hasText: 'Offer a refund' }).waitFor();
    await owner.getByLabel('Reply to zoe@visitor.test (sent by mail)').fill('Sorry! A new one is on its way.');
    await owner.getByRole('button', { name: 'Send reply' }).click();
    await owner.locator('.thread li.reply', { hasText: 'A new one is on its way' }).waitFor();
    const answer = await mailTo(maildir, 'zoe@visitor.test', 'Re: your message');
    assert.ok(answer.text.includes('A new one is on its way') && !answer.text.includes('refund'), answer.text);
    await owner.locator('tr', { hasText: 'Zoe' }).locator('.pill.replied').waitFor();
    step('Messages: the day and time at every width, in full on hover');
    for (const width of [1280, 390]) {
      await owner.setViewportSize({ width, height: 844 });
      const got = owner.locator('tr', { hasText: 'Zoe' }).locator('td.received time');
      assert.ok(await got.isVisible(), `the time shows at ${width} px`);
      assert.match(await got.textContent(), /^Today \d/);
      assert.match(await got.getAttribute('title'), /\d{4}/, 'the full date on hover');
    }
    await owner.setViewportSize({ width: 1280, height: 800 });
    await shotsOf(owner, 'contacts', new URL(owner.url()).hash);
    step('sign-up on a mail-sending instance: check your mail, open the link, land on the welcome page');
    const newcomer = await newPage();
    await newcomer.goto(base + '/');
    const signup = newcomer.locator('#signup');
    await signup.getByLabel('Company').fill('Newco');
    await signup.getByLabel('Your name').fill('Nina');
    await signup.getByLabel('Email').fill('nina@newco.test');
    await signup.getByLabel('Password').fill('nina pass 4242');
    await signup.getByRole('button', { name: 'Create my workspace' }).click();
    await newcomer.getByRole('heading', { name: 'Check your mail' }).waitFor();
    const welcome = await mailTo(maildir, 'nina@newco.test', 'Confirm your email');
    await newcomer.goto(linkIn(welcome.text, '#signup='));
    await newcomer.getByRole('heading', { name: 'Welcome to Parley' }).waitFor();
  } else if (scenario === 'backoffice') {
    const maildir = env('PARLEY_MAILDIR');
    const owner = await signIn(env('PARLEY_OWNER'));
    owner.on('dialog', (d) => d.accept());
    step('the owner lists services for the contact form on the Sites page');
    await owner.evaluate(() => { location.hash = '#/admin/sites'; });
    await owner.getByRole('tab', { name: 'Bookings' }).click();
    const forms = owner.locator('form', { hasText: 'Contact form and bookings' });
    await forms.getByLabel('Services visitors can pick').fill('Web design\nSEO');
    assert.ok(await forms.getByLabel(/Take consultation bookings/).isChecked());
    await forms.getByRole('button', { name: 'Save form settings' }).click();
    await owner.getByText('Form settings saved.').waitFor();
    await owner.evaluate(() => { location.hash = '#/inbox/waiting'; });

    step('a visitor writes through the company page (phone width); the owner hears it live in the bell');
    const visitor = await newPage({ width: 390, height: 844 });
    await visitor.goto(`${base}/s/${key}`);
    const contact = visitor.locator('#contact-form');
    await contact.getByLabel('Name').fill('Zed');
    await contact.getByLabel('Email').fill('zed@visitor.test');
    await contact.getByLabel('About').selectOption('SEO');
    await contact.getByLabel('Message').fill('Can you look at our rankings?');
    await contact.getByRole('button', { name: 'Send message' }).click();
    await visitor.locator('#contact .success', { hasText: 'Thanks! Your message is with us' }).waitFor();
    const bell = owner.getByRole('button', { name: /Notifications, 1 unread/ });
    await bell.waitFor({ timeout: 5000 });
    step('the bell at phone width: "Mark all read" apart from the heading, its focus ring too');
    await owner.setViewportSize({ width: 390, height: 844 });
    await bell.click();
    const panel = owner.getByRole('region', { name: 'Notifications' });
    const [head, mark] = await Promise.all([panel.locator('.bell-head strong'), panel.getByRole('button', { name: 'Mark all read' })].map((l) => l.boundingBox()));
    assert.ok(mark.x - (head.x + head.width) >= 12, `heading and button ${mark.x - (head.x + head.width)} px apart`);
    await owner.screenshot({ path: `${shots}/bell-phone.png` });
    await owner.keyboard.press('Escape');
    await owner.setViewportSize({ width: 1280, height: 800 });
    await bell.click();
    await owner.getByRole('link', { name: 'New message from Zed' }).click();
    await owner.getByRole('heading', { name: 'Zed' }).waitFor();
    await owner.locator('.contact').getByLabel('Assignee', { exact: true }).selectOption({ index: 2 });
    assert.ok(await owner.getByRole('region', { name: 'Notifications' }).isHidden(), 'the bell closes when a notification is opened');
    await owner.getByText('Saved.').waitFor();
    await owner.getByLabel(/Reply to zed@visitor.test/).fill('We will, this week.');
    await owner.getByRole('button', { name: 'Send reply' }).click();
    const reply = await mailTo(maildir, 'zed@visitor.test', 'Re: your message');
    assert.ok(reply.text.includes('We will, this week.'), reply.text);

    step('the visitor books a slot: a confirmation mail with an .ics');
    const booking = visitor.locator('#booking-form');
    await booking.getByLabel('Day').waitFor();
    const first = booking.locator('input[name="start"]').first();
    const start = await first.getAttribute('value');
    await first.check();
    await booking.getByLabel('Name').fill('Zed');
    await booking.getByLabel('Email').fill('zed@visitor.test');
    await booking.getByRole('button', { name: 'Book' }).click();
    await visitor.locator('#booking .success', { hasText: 'Booked for' }).waitFor();
    assert.equal(await booking.locator(`input[value="${start}"]`).count(), 0, 'the booked time is gone from the form');
    const confirm = await mailTo(maildir, 'zed@visitor.test', 'Your consultation');
    const ics = confirm.attachments.find((a) => a.content_type === 'text/calendar');
    assert.ok(ics && Buffer.from(ics.data, 'base64').toString().includes('BEGIN:VEVENT'), JSON.stringify(confirm.attachments));
    step('staff see it in the week calendar');
    await owner.evaluate(() => { location.hash = '#/consultations'; });
    await owner.locator('.week .slot', { hasText: 'Zed' }).first().waitFor();
    const booked = owner.locator('table[aria-label="Consultations this week"] tbody tr', { hasText: 'Zed' });
    const cells = await booked.locator('td').allTextContents();
    assert.equal(cells[2], '—', 'an empty topic says so');
    assert.equal(cells[4], 'Requested', 'the status is capitalised');
    await shotsOf(owner, 'consultations', '#/consultations');
    step('a status change asks first: cancelled, it stays; confirmed, it changes');
    await owner.locator('.week .slot', { hasText: 'Zed' }).first().click();
    step('the booking names the zone the visitor booked from; the week names the viewer\'s');
    const visitorZone = await visitor.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    assert.ok((await owner.locator('.visitor-zone').innerText()).includes(visitorZone), 'the visitor\'s zone is shown');
    assert.match(await owner.locator('.week-zone').innerText(), /Times in your time zone: \S+/);
    const status = owner.locator('.card').getByLabel('Status', { exact: true });
    await status.selectOption('confirmed');
    const sure = owner.getByRole('dialog', { name: 'Mark as confirmed?' });
    await sure.getByRole('button', { name: 'Cancel' }).click();
    await sure.waitFor({ state: 'detached' });
    assert.equal(await status.inputValue(), 'requested');
    await status.selectOption('confirmed');
    await sure.getByRole('button', { name: 'Mark as confirmed' }).click();
    await owner.locator('.week .slot.confirmed', { hasText: 'Zed' }).first().waitFor();

    step('the visitor cancels by the mailed link; the slot is free again');
    const manage = await newPage({ width: 390, height: 844 });
    await manage.goto(linkIn(confirm.text, '/l/'));
    await manage.getByRole('heading', { name: /Your consultation with/ }).waitFor();
    await shotsOf(manage, 'booking-link', '');
    await manage.getByRole('button', { name: 'Cancel this consultation' }).click();
    await manage.getByRole('heading', { name: 'Your consultation is cancelled' }).waitFor();
    await mailTo(maildir, 'zed@visitor.test', 'Cancelled');
    await visitor.reload();
    await visitor.locator(`#booking-form input[value="${start}"]`).waitFor();
    step('the same link again: a clear page, nothing changed');
    await manage.reload();
    await manage.getByRole('heading', { name: 'This link no longer works' }).waitFor();

    step('subscribe, confirm by mail, appear in the list');
    const news = visitor.locator('#newsletter-form');
    await news.getByLabel('Email').fill('zed@visitor.test');
    await news.getByRole('button', { name: 'Subscribe' }).click();
    await visitor.locator('#newsletter .success', { hasText: 'Almost done' }).waitFor();
    await shotsOf(visitor, 'company', '');
    const optin = await mailTo(maildir, 'zed@visitor.test', 'Confirm your subscription');
    const confirmPage = await newPage();
    await confirmPage.goto(linkIn(optin.text, '/l/'));
    await confirmPage.getByRole('heading', { name: 'You are subscribed' }).waitFor();
    await owner.evaluate(() => { location.hash = '#/admin/newsletter'; });
    await owner.locator('table[aria-label="Subscribers"] td', { hasText: 'zed@visitor.test' }).waitFor();

    step('a campaign: draft, preview, send; it arrives with one-click unsubscribe');
    const write = owner.locator('form', { hasText: 'Write a newsletter' });
    await write.getByLabel('Subject').fill('Spring offers');
    await write.getByLabel(/^Text/).fill('Hello **friends**');
    await write.getByRole('button', { name: 'Save draft' }).click();
    await owner.frameLocator('iframe[title="Preview of Spring offers"]').locator('strong', { hasText: 'friends' }).waitFor();
    step('the draft is edited in place before it goes');
    await owner.getByRole('button', { name: 'Edit Spring offers' }).click();
    const editing = owner.locator('form', { hasText: 'Edit “Spring offers”' });
    assert.equal(await editing.getByLabel(/^Text/).inputValue(), 'Hello **friends**');
    await editing.getByLabel(/^Text/).fill('Hello **dear friends**');
    await editing.getByRole('button', { name: 'Save changes' }).click();
    const frame = owner.frameLocator('iframe[title="Preview of Spring offers"]');
    await frame.locator('strong', { hasText: 'dear friends' }).waitFor();
    assert.equal(await owner.locator('.campaign', { hasText: 'Spring offers' }).count(), 1, 'edited, not a second draft');
    await owner.locator('.campaign', { hasText: 'Spring offers' }).getByRole('button', { name: 'Send' }).click();
    await owner.getByRole('dialog').getByRole('button', { name: 'Send now' }).click();
    const letter = await mailTo(maildir, 'zed@visitor.test', 'Spring offers');
    assert.equal(letter.headers['list-unsubscribe-post'], 'List-Unsubscribe=One-Click');
    await shotsOf(owner, 'newsletter', '#/admin/newsletter');
    const leave = await newPage();
    await leave.goto(letter.headers['list-unsubscribe'].replace(/^<|>$/g, ''));
    await leave.getByRole('heading', { name: 'You are unsubscribed' }).waitFor();
    await owner.reload();
    await owner.getByLabel('Filter subscribers').selectOption('unsubscribed');
    await owner.locator('table[aria-label="Subscribers"] td', { hasText: 'zed@visitor.test' }).waitFor();

    step('a webhook endpoint: its secret is shown once');
    await owner.evaluate(() => { location.hash = '#/admin/webhooks'; });
    const hook = owner.locator('form', { hasText: 'Add an endpoint' });
    await hook.getByLabel('URL').fill('https://hooks.example.com/parley');
    // No event picked: said under the events, before any request.
    let posted = 0;
    const count = (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/v1/webhooks')) posted++; };
    owner.on('request', count);
    await hook.getByRole('button', { name: 'Add endpoint' }).click();
    await hook.locator('fieldset + .field-error', { hasText: 'Pick at least one event.' }).waitFor();
    assert.equal(await hook.locator('fieldset').getAttribute('aria-invalid'), 'true');
    assert.equal(posted, 0, 'nothing sent without an event');
    await hook.getByLabel('consultation.booked').check();
    assert.equal(await hook.locator('.field-error').count(), 0, 'picking an event clears the error');
    await hook.getByRole('button', { name: 'Add endpoint' }).click();
    await owner.locator('.secret code', { hasText: /^whsec_/ }).waitFor();
    owner.off('request', count);
    assert.equal(posted, 1);
    await owner.locator('.secret', { hasText: 'Endpoint added' }).waitFor();
    assert.equal((await owner.locator('main p[role=status]').first().textContent()).trim(), '', 'no stale error after a success');
    await owner.getByText('https://hooks.example.com/parley').waitFor();
    await shotsOf(owner, 'webhooks', '#/admin/webhooks');
    step('keyboard: the bell opens and closes with Enter and Escape');
    await owner.getByRole('button', { name: /^Notifications/ }).focus();
    await owner.keyboard.press('Enter');
    await owner.getByRole('region', { name: 'Notifications' }).waitFor();
    await owner.keyboard.press('Escape');
    await owner.getByRole('region', { name: 'Notifications' }).waitFor({ state: 'hidden' });
  } else if (scenario === 'analytics') {
    const agent = await signIn('agent@acme.test');
    step('agents see neither analytics nor performance');
    assert.equal(await agent.getByRole('link', { name: 'Analytics' }).count(), 0);
    assert.equal(await agent.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home', exact: true }).count(), 0);
    const owner = await signIn(env('PARLEY_OWNER'));
    step('home: today in numbers, with sparklines');
    await owner.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home', exact: true }).click();
    const tile = (name) => owner.locator('.tile', { has: owner.locator('span', { hasText: new RegExp(`^${name}$`) }) });
    await tile('Conversations').locator('.big', { hasText: '3' }).waitFor();
    await tile('Missed').locator('.big', { hasText: '0' }).waitFor();
    await tile('Staff replies').locator('.big', { hasText: '2' }).waitFor();
    assert.ok(await owner.locator('.tile svg.pspark').count() >= 10);
    step('home: each tile\'s last 7 days as bars on a baseline, today on the right; who waits; the latest chats');
    const week = tile('Conversations').locator('svg.pbars');
    assert.match(await week.getAttribute('aria-label'), /^Conversations, day by day: (\S+ \d+, ){6}\S+ 3$/);
    assert.equal(await week.locator('rect').count(), 1, 'one bar: today');
    assert.equal(await tile('Bookings').locator('svg.pbars rect').count(), 0, 'no bookings, no bars: only the baseline');
    const waiting = owner.getByRole('region', { name: 'Waiting now' }).locator('li a');
    await waiting.first().waitFor();
    assert.equal(await waiting.count(), 1, 'the one chat nobody claimed');
    assert.match(await waiting.first().getAttribute('href'), /^#\/inbox\/waiting\//);
    const recent = owner.getByRole('region', { name: 'Recent conversations' }).locator('li a');
    assert.equal(await recent.count(), 3);
    const hrefs = await recent.evaluateAll((as) => as.map((a) => a.getAttribute('href').split('/')[2]).sort());
    assert.deepEqual(hrefs, ['open', 'open', 'waiting'], 'each opens in its own queue');
    await waiting.first().click();
    await owner.locator('.conv > header').waitFor();
    await owner.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home', exact: true }).click();
    await tile('Conversations').locator('.big', { hasText: '3' }).waitFor();
    await shotsOf(owner, 'home', '#/home');
    step('analytics: charts with a table behind each, by keyboard');
    await owner.getByRole('link', { name: 'Analytics', exact: true }).click();
    const trend = owner.locator('figure', { hasText: 'Visitors and conversations' });
    await trend.locator('svg polyline').first().waitFor();
    const toggle = trend.getByRole('button', { name: 'Show as table' });
    await toggle.focus();
    await owner.keyboard.press('Enter');
    const rows = trend.locator('table tbody tr');
    assert.ok(await rows.count() >= 7, 'a row a day');
    const total = await rows.evaluateAll((trs) => trs.reduce((n, tr) => n + Number(tr.children[2].textContent), 0));
    assert.equal(total, 3, 'the table holds the conversations');
    await owner.locator('figure', { hasText: 'When conversations start' }).locator('svg rect').first().waitFor();
    const pages = owner.getByRole('region', { name: 'Top pages' });
    await pages.locator('td', { hasText: '3' }).waitFor();
    await owner.getByRole('region', { name: 'Countries' }).waitFor();
    step('analytics: each top list keeps its Count column and CSV button inside its card');
    for (const width of [1280, 390]) {
      await owner.setViewportSize({ width, height: width === 390 ? 844 : 800 });
      for (const name of ['Top pages', 'Referrers']) {
        const card = owner.getByRole('region', { name });
        const cb = await card.boundingBox();
        for (const part of [card.getByRole('columnheader', { name: 'Count' }), card.getByRole('button', { name: 'CSV' })]) {
          if (!(await part.count())) continue;
          const b = await part.boundingBox();
          assert.ok(b.x >= cb.x - 0.5 && b.x + b.width <= cb.x + cb.width + 0.5, `${name} at ${width}: inside its card (${b.x}+${b.width} in ${cb.x}+${cb.width})`);
        }
      }
      const cell = pages.locator('tbody th').first();
      assert.ok(await cell.evaluate((e) => e.scrollWidth >= e.clientWidth && getComputedStyle(e).textOverflow === 'ellipsis'), 'long paths end in an ellipsis');
      assert.ok(await cell.getAttribute('title'), 'the full path on hover');
    }
    await owner.setViewportSize({ width: 1280, height: 800 });
    step('analytics on a phone: the chart comes first, above the numbers');
    await owner.setViewportSize({ width: 390, height: 844 });
    const [chartBox, tileBox] = [await trend.boundingBox(), await owner.locator('.tile').first().boundingBox()];
    assert.ok(chartBox.y < tileBox.y && chartBox.y < 600, `the chart is above the tiles, in the first screen (${chartBox.y}, ${tileBox.y})`);
    await owner.setViewportSize({ width: 1280, height: 800 });
    step('one range and one site');
    await owner.getByLabel('Range').selectOption('24h');
    await owner.locator('.tile', { hasText: 'Conversations' }).locator('.big', { hasText: '3' }).waitFor();
    await owner.getByLabel('Site').selectOption({ index: 1 });
    await owner.locator('.tile', { hasText: 'Conversations' }).locator('.big', { hasText: '3' }).waitFor();
    await shotsOf(owner, 'analytics', '#/analytics');
    step('performance: the leaderboard');
    await owner.getByRole('link', { name: 'Performance', exact: true }).click();
    const me = owner.locator('table.leaderboard tbody tr').first();
    await me.locator('th', { hasText: 'Olive' }).waitFor();
    assert.equal(await me.locator('td').nth(1).textContent(), '2', 'two chats answered');
    await shotsOf(owner, 'performance', '#/performance');
  } else if (scenario === 'pages') {
    await pagesScenario();
  } else if (scenario === 'billing') {
    await billingScenario();
  } else if (scenario === 'times') {
    await timesScenario();
  } else if (scenario === 'history') {
    await historyScenario();
  } else {
    assert.fail('unknown scenario ' + scenario);
  }
  console.log('ok');
} catch (e) {
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${shots}/failure-${scenario}-${i}.png` }).catch(() => {});
  console.error('FAILED:', e.stack || e);
  process.exitCode = 1;
} finally {
  await browser.close();
  // Open sockets (the protocol-level visitor) would keep node alive.
  process.exit();
}
