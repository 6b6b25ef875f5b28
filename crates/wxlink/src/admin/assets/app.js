// The panel's shell: sign-in, the hash router, language and theme switches.
import * as api from './api.js';
import * as i18n from './i18n.js';
import * as events from './events.js';
import { t } from './i18n.js';
import { h, clear, field, errorText, toast } from './dom.js';
import * as dashboard from './pages/dashboard.js';
import * as login from './pages/login.js';
import * as sessions from './pages/sessions.js';
import * as chat from './pages/chat.js';
import * as history from './pages/history.js';

const PAGES = { dashboard, login, sessions, chat, history };
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signoutBtn = document.getElementById('signout');
let state = { signed_in: false, token_required: true, csrf: null, version: '' };
let cleanup = null;

// ---- theme ---------------------------------------------------------------------------------
const THEME_KEY = 'wxlink.theme';
const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');
function currentTheme() {
  let saved = null;
  try { saved = localStorage.getItem(THEME_KEY); } catch { saved = null; }
  if (saved === 'light' || saved === 'dark') return saved;
  return darkQuery.matches ? 'dark' : 'light';
}
function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const btn = document.getElementById('theme-switch');
  btn.setAttribute('aria-pressed', theme === 'dark' ? 'true' : 'false');
  btn.title = t('app.dark');
}
applyTheme(currentTheme());
i18n.onLangChange(() => applyTheme(currentTheme()));
darkQuery.addEventListener('change', () => applyTheme(currentTheme()));
document.getElementById('theme-switch').addEventListener('click', () => {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  try { localStorage.setItem(THEME_KEY, next); } catch { /* private mode */ }
  applyTheme(next);
});

// ---- live indicator --------------------------------------------------------------------------
events.on('live', (s) => {
  const el = document.getElementById('live-status');
  el.dataset.state = s;
  const label = document.getElementById('live-label');
  label.dataset.i18n = s === 'on' ? 'live.on' : 'live.off';
  label.textContent = t(label.dataset.i18n);
});

// The event stream was refused: signed out elsewhere (or the token changed)?
events.on('closed', async () => {
  if (!state.signed_in) return;
  try {
    await fetchSession();
    if (!state.signed_in) showSignIn(t('signin.expired'));
  } catch { /* the server is away: the stream keeps retrying */ }
});

// ---- sign-in ---------------------------------------------------------------------------------
async function fetchSession() {
  state = await api.get('/admin/session', null, { quiet401: true });
  api.setCsrf(state.csrf);
  document.getElementById('version').textContent = state.version ? `wxlink ${state.version}` : '';
  return state;
}

function showSignIn(message) {
  if (cleanup) { cleanup(); cleanup = null; }
  events.stop();
  nav.hidden = true;
  signoutBtn.hidden = true;
  document.title = `${t('signin.title')} · wxlink`;
  const input = h('input#token', { type: 'password', name: 'token', autocomplete: 'current-password', required: true });
  const err = h('p.error#signin-error', { role: 'alert', hidden: !message }, message || '');
  const btn = h('button.primary#signin', { type: 'submit' }, t('signin.submit'));
  const form = h('form.card.signin#signin-form', { novalidate: true },
    h('h1', t('signin.title')), h('p.muted', t('signin.intro')),
    field('signin.token', input), err, h('div.actions', btn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!input.value) { err.textContent = t('signin.empty'); err.hidden = false; input.focus(); return; }
    btn.disabled = true;
    err.hidden = true;
    try {
      await api.post('/admin/session', { token: input.value }, { quiet401: true });
      await fetchSession();
      if (!state.signed_in) throw new api.ApiError(401, 'unauthorized');
      input.value = '';
      enter();
    } catch (ex) {
      err.textContent = ex.status === 401 ? t('signin.wrong') : errorText(ex);
      err.hidden = false;
      input.focus();
      input.select();
    } finally { btn.disabled = false; }
  });
  clear(main).append(form);
  input.focus();
}

async function signOut() {
  try { await api.del('/admin/session'); } catch (ex) { if (ex.status !== 401) { toast(errorText(ex), 'error'); return; } }
  api.setCsrf(null);
  try { await fetchSession(); } catch { /* shown on the form */ }
  if (state.signed_in) { enter(); return; }
  location.hash = '';
  showSignIn();
}
signoutBtn.addEventListener('click', signOut);

api.setUnauthorizedHandler(() => {
  if (!state.signed_in) return;
  state.signed_in = false;
  showSignIn(t('signin.expired'));
});

function enter() {
  nav.hidden = false;
  signoutBtn.hidden = !state.token_required;
  events.start();
  if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/dashboard';
  else route();
}

// ---- router ----------------------------------------------------------------------------------
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  return { page: parts[0] || 'dashboard', args: parts.slice(1), query: new URLSearchParams(query) };
}

function route() {
  if (!state.signed_in) return;
  const r = parseHash();
  const page = PAGES[r.page] ? r.page : 'dashboard';
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.route === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  const container = clear(main);
  container.dataset.page = page;
  document.title = `${t(`nav.${page}`)} · wxlink`;
  cleanup = PAGES[page].render(container, r.args, r.query) || null;
}

window.addEventListener('hashchange', route);

// ---- language --------------------------------------------------------------------------------
const langSwitch = document.getElementById('lang-switch');
langSwitch.addEventListener('change', async () => {
  await i18n.setLang(langSwitch.value);
  if (state.signed_in) route(); else showSignIn();
});

async function boot() {
  try { await i18n.init(); } catch (e) { console.error(e); }
  langSwitch.value = i18n.getLang();
  applyTheme(currentTheme());
  try {
    await fetchSession();
  } catch (ex) {
    clear(main).append(h('p.error', { role: 'alert' }, errorText(ex)));
    return;
  }
  if (state.signed_in) enter(); else showSignIn();
}

boot();
