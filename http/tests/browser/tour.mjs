// The tour: what a new user meets, measured. Signs up on the landing page
// of a running Parley, has a visitor write from the widget, then visits
// every page the dashboard's navigation links to (plus an open
// conversation, the Account page and the welcome page) at 1280x800,
// 1440x900 and 390x844, light and dark, and checks each one:
//   - no sideways scroll (document.scrollingElement.scrollWidth <= innerWidth);
//   - in an open conversation, the reply box and its Send button fully on screen;
//   - no console error and no uncaught page error;
//   - no axe-core violation of impact serious or critical;
//   - no SVG that draws <text> with preserveAspectRatio="none" (stretched text).
// Screenshots: PARLEY_SHOTS/NAME-viewport-scheme.png. Every failure is
// collected, then all are printed; the script fails if there is any.
// Run by http/tests/tour.rs (env: PARLEY_BASE, PARLEY_SHOTS).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const env = (k) => process.env[k] ?? assert.fail(`${k} is not set`);
const base = env('PARLEY_BASE');
const shots = env('PARLEY_SHOTS');
const step = (s) => console.log(`step: ${s}`);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const VIEWPORTS = [['1280', { width: 1280, height: 800 }], ['1440', { width: 1440, height: 900 }], ['390', { width: 390, height: 844 }]];
const SCHEMES = ['light', 'dark'];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const pages = [];
const failures = [];
let where = 'start';
const fail = (what) => { failures.push(`${where}: ${what}`); console.log(`FAIL ${where}: ${what}`); };

// PARLEY_WEB_DIR (optional, for iterating on the pages without a rebuild):
// serve /assets/* from that folder (http/web/dashboard) instead of the binary.
const webDir = process.env.PARLEY_WEB_DIR;

async function newPage(viewport = { width: 1280, height: 800 }, watch = true) {
  const ctx = await browser.newContext({ viewport });
  if (webDir) {
    await ctx.route(/\/assets\/[^/?]+$/, (r) => {
      const file = `${webDir}/${new URL(r.request().url()).pathname.split('/').pop()}`;
      return existsSync(file) ? r.fulfill({ path: file }) : r.continue();
    });
  }
  const page = await ctx.newPage();
  if (watch) {
    page.on('console', (m) => { if (m.type() === 'error') fail(`console error: ${m.text()} ${m.location()?.url || ''}`); });
    page.on('pageerror', (e) => fail(`page error: ${e.message}`));
  }
  pages.push(page);
  return page;
}

/** The checks every page gets; `conversation` adds the composer's. */
async function check(page, name, vp, scheme, { conversation = false } = {}) {
  where = `${name} ${vp} ${scheme}`;
  const wide = await page.evaluate(() => ({ sw: document.scrollingElement.scrollWidth, w: innerWidth }));
  if (wide.sw > wide.w) {
    const culprits = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && getComputedStyle(e).position !== 'fixed')
      .slice(0, 4).map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} right=${Math.round(e.getBoundingClientRect().right)}`));
    fail(`scrolls sideways: scrollWidth ${wide.sw} > ${wide.w} (${culprits.join('; ')})`);
  }
  // A value that never got its words: "null", "undefined", "NaN" or an
  // object's default string, standing alone in a text node.
  const raw = await page.evaluate(() => {
    const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const found = [];
    for (let n = w.nextNode(); n; n = w.nextNode()) {
      if (/^\s*(null|undefined|NaN|\[object Object\])\s*$/.test(n.textContent) && n.parentElement?.closest('script, style') == null) {
        found.push(`${n.parentElement?.tagName.toLowerCase()}: ${n.textContent.trim()}`);
      }
    }
    return found;
  });
  if (raw.length) fail(`shows a raw value: ${raw.slice(0, 3).join('; ')}`);
  if (conversation) {
    const inView = async (loc, what) => {
      const box = await loc.boundingBox();
      if (!box) return fail(`${what} is not shown`);
      if (box.x < 0 || box.y < 0 || box.x + box.width > wide.w + 0.5 || box.y + box.height > (await page.evaluate(() => innerHeight)) + 0.5) {
        fail(`${what} is not fully on screen: ${JSON.stringify(box)}`);
      }
    };
    await inView(page.getByRole('textbox', { name: 'Reply' }), 'the reply box');
    await inView(page.locator('.composer').getByRole('button', { name: 'Send' }), 'the Send button');
    const scrolls = await page.evaluate(() => document.scrollingElement.scrollHeight > innerHeight + 1);
    if (scrolls) fail('the inbox page itself scrolls');
  }
  const stretched = await page.evaluate(() => [...document.querySelectorAll('svg[preserveAspectRatio="none"]')]
    .filter((s) => s.querySelector('text')).length);
  if (stretched) fail(`${stretched} SVG(s) draw text with preserveAspectRatio="none" (charts.js)`);
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  });
  for (const v of found) fail('axe ' + v);
  await page.screenshot({ path: `${shots}/${name}-${vp}-${scheme}.png` });
}

/** Lets a view settle: its heading or the inbox, then fonts and a frame. */
async function settle(page) {
  await page.waitForFunction(() => document.querySelector('main h1, main .inbox .queue li, main .inbox .empty'), null, { timeout: 10000 }).catch(() => {});
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.waitForTimeout(150);
}

try {
  step('the landing page at every size and scheme');
  const staff = await newPage();
  await staff.goto(base + '/');
  for (const [vp, size] of VIEWPORTS) {
    await staff.setViewportSize(size);
    for (const scheme of SCHEMES) {
      await staff.emulateMedia({ colorScheme: scheme });
      await staff.waitForTimeout(100);
      await check(staff, 'landing', vp, scheme);
    }
  }
  await staff.setViewportSize({ width: 1280, height: 800 });
  await staff.emulateMedia({ colorScheme: 'light' });

  step('the dashboard\'s sign-in page (signed out) at every size and scheme');
  const gate = await newPage();
  await gate.goto(base + '/app/');
  await gate.getByRole('heading', { name: 'Sign in' }).waitFor();
  for (const [vp, size] of VIEWPORTS) {
    await gate.setViewportSize(size);
    for (const scheme of SCHEMES) {
      await gate.emulateMedia({ colorScheme: scheme });
      await gate.waitForTimeout(100);
      await check(gate, 'signin', vp, scheme);
      if (/\bnull\b/.test(await gate.locator('main').innerText())) fail('the page shows the word "null"');
      const card = await gate.locator('form.card').boundingBox();
      if (card && card.width > 480) fail(`the sign-in card is stretched to ${card.width}px`);
    }
  }
  await gate.context().close();

  step('sign up on the landing page');
  where = 'sign-up';
  const signup = staff.locator('#signup');
  step('an empty form shows each field\'s error next to it');
  await signup.getByRole('button', { name: 'Create my workspace' }).click();
  const company = signup.getByLabel('Company');
  await signup.locator('.field-error', { hasText: 'Company is required.' }).waitFor();
  const described = await company.getAttribute('aria-describedby');
  assert.ok(described && (await staff.locator('#' + described).textContent()).includes('required'), 'the error is tied to its field');
  assert.equal(await company.getAttribute('aria-invalid'), 'true');
  await signup.getByLabel('Email').fill('not an address');
  await signup.getByRole('button', { name: 'Create my workspace' }).click();
  await signup.locator('.field-error', { hasText: 'Enter an email address' }).waitFor();
  await signup.getByLabel('Company').fill('Tourco');
  await signup.getByLabel('Your name').fill('Tess Tour');
  await signup.getByLabel('Email').fill('tess@tourco.test');
  await signup.getByLabel('Password').fill('tour pass 4242');
  await signup.getByRole('button', { name: 'Create my workspace' }).click();
  await staff.waitForURL(/\/app\/#\/welcome/);
  await staff.getByRole('heading', { level: 1 }).first().waitFor();
  const key = await staff.evaluate(async () => {
    const t = JSON.parse(localStorage.getItem('parley:auth')).access_token;
    return (await (await fetch('/api/v1/sites', { headers: { authorization: 'Bearer ' + t } })).json()).items[0].key;
  });

  step('a visitor writes from the widget; the chat waits in the inbox');
  const visitor = await newPage({ width: 1000, height: 760 }, false);
  await visitor.goto(`${base}/demo?site=${key}`);
  await visitor.locator('div >> css=button.b').click();
  const panel = visitor.frameLocator('iframe[title="Chat"]');
  const input = panel.locator('textarea[aria-label="Your message"]');
  await input.fill('Hello, is anyone there?');
  await input.press('Enter');
  await panel.locator('.m.me:not(.pending)').first().waitFor();
  await staff.evaluate(() => { location.hash = '#/inbox/waiting'; });
  const item = staff.locator('.queue li a', { hasText: 'Hello, is anyone there?' });
  await item.waitFor({ timeout: 10000 });
  const convHash = '#/inbox/waiting/' + (await item.getAttribute('href')).split('/').pop();

  step('the phone menu opens the navigation as a drawer, Escape closes it');
  where = 'drawer 390';
  await staff.setViewportSize({ width: 390, height: 844 });
  await staff.getByRole('button', { name: 'Menu' }).click();
  const nav = staff.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Inbox' }).waitFor();
  const inside = await staff.waitForFunction(() => { const r = document.querySelector('nav.side-nav').getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth; }, null, { timeout: 2000 }).catch(() => null);
  if (!inside) fail(`the drawer is off screen: ${JSON.stringify(await nav.boundingBox())}`);
  await staff.keyboard.press('Escape');
  await staff.waitForFunction(() => !document.body.classList.contains('drawer-open'));
  await staff.setViewportSize({ width: 1280, height: 800 });

  step('the navigation collapses to icons (remembered), its links keep their names');
  where = 'collapse 1280';
  await staff.getByRole('button', { name: 'Collapse the navigation' }).click();
  await staff.getByRole('link', { name: 'Consultations' }).waitFor();
  const narrowNav = await nav.boundingBox();
  if (!narrowNav || narrowNav.width > 64) fail(`the collapsed navigation is ${narrowNav?.width}px wide`);
  await staff.reload();
  await staff.getByRole('button', { name: 'Expand the navigation' }).waitFor();
  await check(staff, 'inbox-collapsed', '1280', 'light');
  await staff.getByRole('button', { name: 'Expand the navigation' }).click();

  step('every page the navigation links to');
  const links = await staff.$$eval('nav.side-nav a[href^="#/"]', (as) => as.map((a) => [a.getAttribute('href'), (a.querySelector('.label') || a).textContent.trim()]));
  assert.ok(links.length >= 16, `the owner's navigation lists every page: ${JSON.stringify(links)}`);
  const tour = [...links.filter(([href]) => href !== '#/inbox/waiting').map(([href, label]) => [label.replace(/\W+/g, '-').replace(/-\d+$/, '').toLowerCase(), href]),
    ['conversation', convHash]];
  for (const want of ['#/welcome', '#/account']) if (!links.some(([href]) => href === want)) tour.push([want.slice(2), want]);
  for (const [vp, size] of VIEWPORTS) {
    await staff.setViewportSize(size);
    for (const scheme of SCHEMES) {
      await staff.emulateMedia({ colorScheme: scheme });
      for (const [name, hash] of tour) {
        step(`${name} ${vp} ${scheme}`);
        await staff.evaluate((h) => { location.hash = h; }, hash);
        await settle(staff);
        if (name === 'conversation') await staff.locator('.log .msg', { hasText: 'Hello, is anyone there?' }).waitFor();
        await check(staff, name, vp, scheme, { conversation: name === 'conversation' });
        if (name === 'conversation' && scheme === 'light') {
          // The details panel: a column on wide screens, a full-screen sheet on phones.
          where = `details ${vp}`;
          const details = staff.getByRole('button', { name: 'Visitor details' });
          const side = staff.getByRole('complementary', { name: 'Visitor details' });
          if (vp === '390') {
            await details.click();
            await side.getByRole('button', { name: 'Close details' }).waitFor();
            const box = await side.boundingBox();
            if (!box || box.x !== 0 || box.y !== 0 || box.width !== 390 || box.height !== 844) fail(`the details sheet is not full screen: ${JSON.stringify(box)}`);
            await staff.screenshot({ path: `${shots}/details-${vp}-${scheme}.png` });
            await side.getByRole('button', { name: 'Close details' }).click();
            await side.waitFor({ state: 'hidden' });
          } else {
            await side.waitFor();
            await details.click();
            await side.waitFor({ state: 'hidden' });
            await details.click();
            await side.waitFor();
          }
        }
      }
    }
  }
  if (failures.length) {
    const onlyCharts = failures.every((f) => f.includes('preserveAspectRatio'));
    console.log(`${failures.length} failure(s)${onlyCharts ? ' (only the charts\' stretched text)' : ''}:\n` + failures.join('\n'));
    process.exitCode = 1;
  } else {
    console.log('ok');
  }
} catch (e) {
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${shots}/failure-tour-${i}.png` }).catch(() => {});
  console.error('FAILED:', where, e.stack || e);
  if (failures.length) console.log(failures.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
  process.exit();
}
