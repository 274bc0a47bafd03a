// The signed-out side of /app/: sign in, forgot password, and the pages the
// mailed links open — choose a new password (#reset=TOKEN), accept an
// invitation (#invite=TOKEN), confirm a sign-up (#signup=TOKEN) — each
// ending signed in. A used or expired
// link says so at once (the page asks the server about the link before
// showing a form). `gate()` resolves when there is a session to start the
// dashboard with.

import { request, keep, session, lastReason, h, validateInline } from './api.js';

/** A labelled input. */
const field = (label, attrs) => h('label', {}, label, h('input', attrs));

/** A form whose submit runs `action(values)`, showing its error. */
function form(title, kids, button, action) {
  const out = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, button);
  const f = h('form', { class: 'stack card', 'aria-labelledby': 'gate-title' },
    h('h1', { id: 'gate-title' }, title), ...kids, submit, out);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    out.textContent = '';
    submit.disabled = true;
    try {
      await action(Object.fromEntries(new FormData(f)));
    } catch (err) {
      out.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

function show(root, ...kids) {
  // (replaceChildren would write a null kid as the text "null")
  root.replaceChildren(h('p', { class: 'brand-line' }, h('a', { href: '/' }, h('img', { src: '/assets/favicon.svg', alt: '', width: 28, height: 28 }), 'Parley')),
    ...kids.filter((k) => k != null && k !== false));
  root.querySelector('input')?.focus();
}

function signinPage(root, done) {
  const why = lastReason();
  show(root,
    why ? h('p', { class: 'error', role: 'alert', id: 'why' }, why) : null,
    form('Sign in', [
      field('Email', { name: 'email', type: 'email', required: true, autocomplete: 'username' }),
      field('Password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' }),
    ], 'Sign in', async (v) => {
      keep(await request('POST', '/api/v1/auth/login', v));
      done('#/inbox/waiting');
    }),
    h('p', {}, h('a', { href: '#forgot' }, 'Forgot your password?')),
    h('p', { class: 'muted' }, 'New to Parley? ', h('a', { href: '/' }, 'Create a workspace'), '.'));
}

function forgotPage(root) {
  show(root, form('Reset your password', [
    h('p', {}, 'Give the email you sign in with; we mail you a link to choose a new password.'),
    field('Email', { name: 'email', type: 'email', required: true, autocomplete: 'username' }),
  ], 'Send the link', async (v) => {
    await request('POST', '/api/v1/auth/password-reset', v);
    show(root, h('div', { class: 'stack card', role: 'status' },
      h('h1', { id: 'gate-title' }, 'Check your mail'),
      h('p', {}, `If ${v.email} has an account, a link to choose a new password is on its way. It works once, for an hour.`),
      h('p', {}, h('a', { href: '#signin' }, 'Back to sign in'))));
  }), h('p', {}, h('a', { href: '#signin' }, 'Back to sign in')));
}

function deadLinkPage(root, what) {
  const invite = what === 'invitation';
  show(root, h('div', { class: 'stack card', role: 'alert' },
    h('h1', { id: 'gate-title' }, invite ? 'This invitation cannot be used' : 'This link cannot be used'),
    h('p', {}, invite
      ? 'It has expired or was already used. Ask the person who invited you to send a new invitation.'
      : 'It has expired or was already used (a link works once, and a newer one replaces it).'),
    invite ? null : h('p', {}, h('a', { class: 'button', href: '#forgot' }, 'Send me a new link')),
    h('p', {}, h('a', { href: '#signin' }, 'Sign in'))));
}

/** What the server says about a mailed link, or null when it is dead. */
async function linkInfo(token, kind) {
  try {
    const info = await request('POST', '/api/v1/auth/link', { token });
    return info.kind === kind ? info : null;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

async function resetPage(root, token, done) {
  const info = await linkInfo(token, 'password_reset');
  if (!info) return deadLinkPage(root, 'reset');
  show(root, form('Choose a new password', [
    h('p', {}, `For ${info.email} at ${info.tenant}. Every other session of this account will be signed out.`),
    field('New password', { name: 'password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' }),
    h('p', { class: 'muted' }, 'At least 10 characters, with letters and digits or symbols.'),
  ], 'Save and sign in', async (v) => {
    try {
      keep(await request('POST', '/api/v1/auth/password-reset/confirm', { token, password: v.password }));
    } catch (e) {
      if (e.status === 401) return deadLinkPage(root, 'reset');
      throw e;
    }
    done('#/inbox/waiting');
  }));
}

async function invitePage(root, token, done) {
  const info = await linkInfo(token, 'invitation');
  if (!info) return deadLinkPage(root, 'invitation');
  show(root, form(`Join ${info.tenant}`, [
    h('p', {}, `You were invited as ${info.email}. Choose how your name appears to visitors and your password.`),
    field('Your name', { name: 'name', required: true, autocomplete: 'name', value: info.name }),
    field('Password', { name: 'password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' }),
    h('p', { class: 'muted' }, 'At least 10 characters, with letters and digits or symbols.'),
  ], 'Join and sign in', async (v) => {
    try {
      keep(await request('POST', '/api/v1/auth/invitation/accept', { token, name: v.name, password: v.password }));
    } catch (e) {
      if (e.status === 401) return deadLinkPage(root, 'invitation');
      throw e;
    }
    done('#/inbox/waiting');
  }));
}

async function signupPage(root, token, done) {
  show(root, h('div', { class: 'stack card', role: 'status' }, h('h1', { id: 'gate-title' }, 'Creating your workspace…')));
  try {
    keep(await request('POST', '/api/v1/auth/register/confirm', { token }));
  } catch (e) {
    if (e.status !== 401 && e.status !== 409) throw e;
    return show(root, h('div', { class: 'stack card', role: 'alert' },
      h('h1', { id: 'gate-title' }, 'This sign-up link cannot be used'),
      h('p', {}, e.status === 409
        ? 'This address already has an account. Sign in, or choose a new password if you forgot it.'
        : 'It has expired or was already used. If your workspace was created, sign in; else sign up again.'),
      h('p', {}, h('a', { class: 'button', href: '#signin' }, 'Sign in'), ' ', h('a', { href: '#forgot' }, 'Forgot your password?')),
      h('p', {}, h('a', { href: '/' }, 'Sign up again'))));
  }
  done('#/welcome');
}

/** Shows the signed-out pages until there is a session; then resolves. */
export function gate() {
  return new Promise((resolve) => {
    const root = h('main', { class: 'landing gate', id: 'main', tabindex: '-1' });
    document.body.append(root);
    validateInline(root);
    let route;
    const done = (hash) => {
      removeEventListener('hashchange', route);
      root.remove();
      history.replaceState(null, '', '/app/' + hash);
      resolve();
    };
    route = () => {
      const hash = location.hash;
      const fail = (e) => show(root, h('p', { class: 'error', role: 'alert' }, e.message));
      if (hash.startsWith('#invite=')) return invitePage(root, hash.slice(8), done).catch(fail);
      if (hash.startsWith('#reset=')) return resetPage(root, hash.slice(7), done).catch(fail);
      if (hash.startsWith('#signup=')) return signupPage(root, hash.slice(8), done).catch(fail);
      if (hash === '#forgot') return forgotPage(root);
      if (session.get()) return done(hash && hash !== '#signin' ? hash : '#/inbox/waiting');
      return signinPage(root, done);
    };
    addEventListener('hashchange', route);
    route();
  });
}
