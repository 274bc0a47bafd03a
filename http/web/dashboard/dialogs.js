// Confirmations and toasts for the dashboard's pages: a modal <dialog>
// that asks before a destructive or irreversible action (its answer a
// promise), and a short-lived message after one succeeded. (A stand-in:
// the shell's shared helpers take these names and signatures.)

import { h } from './api.js';

/** Asks in a modal dialog; resolves true when confirmed, false when cancelled (Escape too). */
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : '' }, confirm);
    const dlg = h('dialog', { class: 'confirm-dialog', 'aria-labelledby': 'confirm-title' },
      h('form', { method: 'dialog', class: 'stack' },
        h('h2', { id: 'confirm-title' }, title),
        body ? h('p', {}, body) : null,
        h('div', { class: 'row-actions dialog-actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'ghost' }, 'Cancel'), ok)));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok'); });
    document.body.append(dlg);
    dlg.showModal();
    ok.focus();
  });
}

let toastEl, timer;
/** Shows `text` for a few seconds in a polite live region. */
export function toast(text) {
  if (!toastEl) {
    toastEl = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite', hidden: true });
    document.body.append(toastEl);
  }
  toastEl.textContent = text;
  toastEl.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(() => { toastEl.hidden = true; }, 4000);
}
