// The dashboard's shared UI pieces, for every page: icons (an inline SVG
// sprite), avatars, the confirmation dialog, the success toast, inline
// field errors, and tables that turn into cards on phones. No framework:
// each returns plain elements. Re-exported by api.js.
//
// Icons: paths from Lucide (https://lucide.dev), ISC licence,
// Copyright (c) for portions of Lucide are held by Cole Bemis 2013-2022 as
// part of Feather (MIT); all other copyright (c) for Lucide are held by
// Lucide Contributors 2022. Written here by hand, 24×24, stroked.

const SVG = 'http://www.w3.org/2000/svg';

const ICONS = {
  inbox: '<polyline points="22 12 16 12 14 15 10 15 8 12 2 12"/><path d="M5.45 5.11 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 1.11z"/>',
  eye: '<path d="M2 12s3-7 10-7 10 7 10 7-3 7-10 7-10-7-10-7Z"/><circle cx="12" cy="12" r="3"/>',
  mail: '<rect width="20" height="16" x="2" y="4" rx="2"/><path d="m22 7-8.97 5.7a1.94 1.94 0 0 1-2.06 0L2 7"/>',
  calendar: '<rect width="18" height="18" x="3" y="4" rx="2"/><path d="M16 2v4"/><path d="M8 2v4"/><path d="M3 10h18"/>',
  newspaper: '<path d="M4 22h16a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2H8a2 2 0 0 0-2 2v16a2 2 0 0 1-2 2Zm0 0a2 2 0 0 1-2-2v-9c0-1.1.9-2 2-2h2"/><path d="M18 14h-8"/><path d="M15 18h-5"/><path d="M10 6h8v4h-8V6Z"/>',
  home: '<path d="m3 9 9-7 9 7v11a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/><polyline points="9 22 9 12 15 12 15 22"/>',
  chart: '<path d="M3 3v18h18"/><path d="M18 17V9"/><path d="M13 17V5"/><path d="M8 17v-3"/>',
  gauge: '<path d="m12 14 4-4"/><path d="M3.34 19a10 10 0 1 1 17.32 0"/>',
  globe: '<circle cx="12" cy="12" r="10"/><path d="M2 12h20"/><path d="M12 2a15.3 15.3 0 0 1 4 10 15.3 15.3 0 0 1-4 10 15.3 15.3 0 0 1-4-10 15.3 15.3 0 0 1 4-10z"/>',
  users: '<path d="M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/><path d="M22 21v-2a4 4 0 0 0-3-3.87"/><path d="M16 3.13a4 4 0 0 1 0 7.75"/>',
  canned: '<path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/><path d="M13 8H7"/><path d="M17 12H7"/>',
  webhook: '<path d="M18 16.98h-5.99c-1.1 0-1.95.94-2.48 1.9A4 4 0 0 1 2 17c.01-.7.2-1.4.57-2"/><path d="m6 17 3.13-5.78c.53-.97.1-2.18-.5-3.1a4 4 0 1 1 6.89-4.06"/><path d="m12 6 3.13 5.73C15.66 12.7 16.9 13 18 13a4 4 0 0 1 0 8"/>',
  send: '<path d="m22 2-7 20-4-9-9-4Z"/><path d="M22 2 11 13"/>',
  history: '<path d="M3 12a9 9 0 1 0 9-9 9.75 9.75 0 0 0-6.74 2.74L3 8"/><path d="M3 3v5h5"/><path d="M12 7v5l4 2"/>',
  user: '<circle cx="12" cy="12" r="10"/><circle cx="12" cy="10" r="3"/><path d="M7 20.662V19a2 2 0 0 1 2-2h6a2 2 0 0 1 2 2v1.662"/>',
  bell: '<path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9"/><path d="M10.3 21a1.94 1.94 0 0 0 3.4 0"/>',
  menu: '<path d="M4 6h16"/><path d="M4 12h16"/><path d="M4 18h16"/>',
  'panel-left': '<rect width="18" height="18" x="3" y="3" rx="2"/><path d="M9 3v18"/>',
  'panel-right': '<rect width="18" height="18" x="3" y="3" rx="2"/><path d="M15 3v18"/>',
  x: '<path d="M18 6 6 18"/><path d="m6 6 12 12"/>',
  'log-out': '<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"/><polyline points="16 17 21 12 16 7"/><path d="M21 12H9"/>',
  'arrow-left': '<path d="m12 19-7-7 7-7"/><path d="M19 12H5"/>',
  check: '<path d="M20 6 9 17l-5-5"/>',
  flag: '<path d="M4 15s1-1 4-1 5 2 8 2 4-1 4-1V3s-1 1-4 1-5-2-8-2-4 1-4 1z"/><path d="M4 22v-7"/>',
  chat: '<path d="M7.9 20A9 9 0 1 0 4 16.1L2 22Z"/>',
  lock: '<rect width="18" height="11" x="3" y="11" rx="2"/><path d="M7 11V7a5 5 0 0 1 10 0v4"/>',
  'chevron-down': '<path d="m6 9 6 6 6-6"/>',
  alert: '<circle cx="12" cy="12" r="10"/><path d="M12 8v4"/><path d="M12 16h.01"/>',
  copy: '<rect width="14" height="14" x="8" y="8" rx="2"/><path d="M4 16c-1.1 0-2-.9-2-2V4c0-1.1.9-2 2-2h10c1.1 0 2 .9 2 2"/>',
};

/** The names `icon()` knows. */
export const iconNames = Object.keys(ICONS);

let sprite = null;
function ensureSprite() {
  if (sprite || typeof document === 'undefined') return;
  sprite = document.createElementNS(SVG, 'svg');
  sprite.setAttribute('aria-hidden', 'true');
  sprite.setAttribute('style', 'position:absolute;width:0;height:0;overflow:hidden');
  sprite.innerHTML = Object.entries(ICONS).map(([k, d]) => `<symbol id="i-${k}" viewBox="0 0 24 24">${d}</symbol>`).join('');
  document.body.prepend(sprite);
}

/** An icon from the sprite, decorative (the control it sits in carries the name). */
export function icon(name, cls = '') {
  ensureSprite();
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', ('icon ' + cls).trim());
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', '#i-' + (ICONS[name] ? name : 'alert'));
  svg.append(use);
  return svg;
}

const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...kids.flat().filter((k) => k != null && k !== false));
  return e;
};

// Avatar colours: white initials on each meet WCAG AA (≥ 4.5:1).
const AVATAR_COLOURS = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be123c', '#0e7490', '#4d7c0f', '#a21caf', '#c2410c', '#4338ca'];

/** A stable colour for an id (FNV-1a hash into the palette). */
export function avatarColour(id) {
  let x = 0x811c9dc5;
  for (const ch of String(id || '')) { x ^= ch.codePointAt(0); x = Math.imul(x, 0x01000193) >>> 0; }
  return AVATAR_COLOURS[x % AVATAR_COLOURS.length];
}

/** One or two initials of a name or email ("Ada Lovelace" → "AL", "zoe@x" → "Z"). */
export function initials(name) {
  const words = String(name || '').replace(/@.*/, '').split(/[\s._-]+/).filter((w) => /\p{L}|\p{N}/u.test(w));
  if (!words.length) return '?';
  const first = (w) => [...w.replace(/^[^\p{L}\p{N}]+/u, '')][0] || '';
  return (first(words[0]) + (words.length > 1 ? first(words[words.length - 1]) : '')).toUpperCase();
}

/**
 * An avatar: initials on a colour stable for `id`. `size` is 'sm' or 'md'
 * (default). Decorative: the name is always written beside it.
 */
export function avatar(id, name, size = 'md') {
  return el('span', { class: `avatar ${size}`, 'aria-hidden': 'true', style: `background:${avatarColour(id)}` }, initials(name));
}

// --- the toast: success and short notices, announced politely ---

let toastBox = null;
/**
 * Shows `text` briefly at the bottom of the screen (a polite live region).
 * `kind`: 'ok' (default) or 'error' (announced assertively, stays longer).
 */
export function toast(text, kind = 'ok') {
  if (!toastBox) {
    toastBox = el('div', { class: 'toasts' },
      el('div', { class: 'toast-live', role: 'status', 'aria-live': 'polite' }),
      el('div', { class: 'toast-live', role: 'alert', 'aria-live': 'assertive' }));
    document.body.append(toastBox);
  }
  const t = el('div', { class: 'toast ' + kind }, icon(kind === 'error' ? 'alert' : 'check'), el('span', {}, String(text)));
  // One notice at a time: a newer one of the same kind replaces the last.
  toastBox.children[kind === 'error' ? 1 : 0].replaceChildren(t);
  // Bottom right (bottom centre on a phone), but never over a composer on
  // screen: above it then, so the reply box stays usable.
  toastBox.style.bottom = '';
  const r = document.querySelector('.composer')?.getBoundingClientRect();
  const b = toastBox.getBoundingClientRect();
  const over = r && r.height && r.top < innerHeight && r.bottom > 0 && b.left < r.right && b.right > r.left && b.bottom > r.top;
  if (over) toastBox.style.bottom = `${Math.round(innerHeight - r.top + 12)}px`;
  setTimeout(() => t.remove(), kind === 'error' ? 7000 : 4000);
  return t;
}

// --- the confirmation dialog ---

/**
 * Asks before a destructive or irreversible action, in a modal <dialog>:
 * Escape or Cancel answers false, the confirm button true. Focus starts on
 * Cancel when `danger`, else on the confirm button, and returns to where it
 * was. Resolves to a boolean.
 */
export function confirmDialog({ title, body = '', confirm = 'Confirm', danger = false } = {}) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const cancelBtn = el('button', { type: 'button', class: 'ghost', value: 'cancel' }, 'Cancel');
    const okBtn = el('button', { type: 'button', class: danger ? 'danger' : '', value: 'ok' }, confirm);
    const d = el('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-body' },
      el('h2', { id: 'confirm-title' }, title || 'Are you sure?'),
      el('p', { id: 'confirm-body' }, body),
      el('div', { class: 'dialog-actions' }, cancelBtn, okBtn));
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (d.open) d.close();
      d.remove();
      if (back && back.focus) back.focus();
      resolve(v);
    };
    cancelBtn.onclick = () => finish(false);
    okBtn.onclick = () => finish(true);
    d.addEventListener('cancel', (e) => { e.preventDefault(); finish(false); });
    d.addEventListener('close', () => finish(false));
    d.addEventListener('click', (e) => { if (e.target === d) finish(false); });
    document.body.append(d);
    d.showModal();
    (danger ? cancelBtn : okBtn).focus();
  });
}

// --- inline validation ---

let errorSeq = 0;
/**
 * Shows `message` right after `input` (its error, tied with
 * aria-describedby and aria-invalid); an empty message clears it.
 */
export function fieldError(input, message) {
  const host = input.closest('label') || input;
  let note = input._errorNote;
  if (!message) {
    if (note) note.remove();
    input._errorNote = null;
    input.removeAttribute('aria-invalid');
    const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== note?.id);
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' ')); else input.removeAttribute('aria-describedby');
    return;
  }
  if (!note) {
    note = el('span', { class: 'field-error', id: 'field-error-' + ++errorSeq });
    host.after(note);
    input._errorNote = note;
    const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    input.setAttribute('aria-describedby', [...ids, note.id].join(' '));
  }
  note.replaceChildren(icon('alert'), el('span', {}, message));
  input.setAttribute('aria-invalid', 'true');
}

/** A person's sentence for a field the browser found invalid. */
function validityMessage(input) {
  const v = input.validity;
  const name = (input.closest('label')?.firstChild?.textContent || input.getAttribute('aria-label') || 'This field').trim();
  if (v.valueMissing) return `${name} is required.`;
  if (v.typeMismatch && input.type === 'email') return 'Enter an email address, like name@example.com.';
  if (v.typeMismatch && input.type === 'url') return 'Enter a web address starting with https://.';
  if (v.tooShort) return `At least ${input.minLength} characters.`;
  if (v.tooLong) return `At most ${input.maxLength} characters.`;
  if (v.rangeUnderflow) return `At least ${input.min}.`;
  if (v.rangeOverflow) return `At most ${input.max}.`;
  if (v.patternMismatch) return input.title || 'This value is not in the expected form.';
  return input.validationMessage;
}

/**
 * Inline validation for every form under `root`: an invalid field shows its
 * error next to it (instead of the browser's bubble) and gets focus; the
 * error clears as it is corrected. Idempotent.
 */
export function validateInline(root = document) {
  if (root._inlineValidation) return;
  root._inlineValidation = true;
  root.addEventListener('invalid', (e) => {
    const input = e.target;
    e.preventDefault();
    fieldError(input, validityMessage(input));
    const form = input.form;
    if (form && !form._focusedInvalid) {
      form._focusedInvalid = true;
      input.focus();
      setTimeout(() => { form._focusedInvalid = false; }, 0);
    }
  }, true);
  root.addEventListener('input', (e) => {
    const input = e.target;
    if (input._errorNote && input.checkValidity && input.validity.valid) fieldError(input, '');
  }, true);
}

// --- tables that become cards on phones ---

/**
 * Labels each body cell of every table under `root` with its column's
 * header (`data-label`), which the phone layout shows above the value.
 */
export function labelTables(root) {
  for (const table of root.querySelectorAll('table')) {
    // A table laid out for phones itself (the leaderboard) opts out.
    if (table.classList.contains('keep-table')) continue;
    const heads = [...(table.tHead?.rows[0]?.cells || [])].map((c) => c.textContent.trim());
    table.classList.add('cards');
    if (!heads.length) continue;
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        let i = 0;
        for (const cell of row.cells) {
          if (!cell.hasAttribute('data-label') && heads[i] != null && !cell.hasAttribute('colspan')) cell.setAttribute('data-label', heads[i]);
          i += cell.colSpan || 1;
        }
      }
    }
  }
}

/** Keeps `labelTables` applied to whatever is rendered under `root`. */
export function autoLabelTables(root) {
  let queued = false;
  const run = () => { queued = false; labelTables(root); };
  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(run); } })
    .observe(root, { childList: true, subtree: true });
  run();
}
