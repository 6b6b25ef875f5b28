// Conversations: the list, and one conversation as a live chat with a composer.
import * as api from '../api.js';
import * as events from '../events.js';
import { t, when, number } from '../i18n.js';
import { h, clear, errorText, toast, announce, debounce, icon, throttle } from '../dom.js';
import { chatHref, preview } from './common.js';
import { bubbleRow, fill } from './message.js';

const PAGE = 30;
const FINAL = new Set(['sent', 'failed', 'received', 'unknown']);

/** Message ids are decimal strings that may exceed 2^53: compare them as such. */
export function cmpId(a, b) {
  a = String(a); b = String(b);
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function render(root, args) {
  const [session, user] = args;
  const hasChat = !!(session && user);
  const cleanups = [];
  const listBox = h('nav.conv-list#conv-list', { 'aria-label': t('chat.list') });
  const layout = h(`div.chat-layout${hasChat ? '.has-chat' : ''}`, listBox);
  root.append(h('h1.sr-only', t('nav.chat')), layout);
  cleanups.push(conversationList(listBox, session, user));
  if (hasChat) cleanups.push(chatView(layout, session, user));
  else layout.append(h('section.chat.placeholder', h('p.muted', t('chat.choose'))));
  return () => cleanups.forEach((f) => f());
}

function conversationList(box, session, user) {
  let alive = true;
  const ul = h('ul.convs');
  box.append(h('h2', t('chat.list')), ul);
  async function load() {
    try {
      const res = await api.get('/api/v1/conversations');
      if (!alive) return;
      const convs = res.conversations || [];
      clear(ul);
      if (!convs.length) { ul.append(h('li.empty', t('chat.no_conversations'))); return; }
      for (const c of convs) {
        const current = c.session === session && c.user === user;
        const last = c.last || {};
        ul.append(h('li', h('a.conv', { href: chatHref(c.session, c.user), 'aria-current': current ? 'page' : null, dataset: { user: c.user, session: c.session } },
          h('span.conv-top', h('span.conv-user', c.user), h('time', when(last.time))),
          h('span.conv-bottom', h('span.conv-preview', `${last.direction === 'out' ? `${t('chat.you')}: ` : ''}${preview(last)}`), h('span.conv-session', c.session)))));
      }
    } catch (ex) {
      if (!alive) return;
      clear(ul).append(h('li.error', errorText(ex)));
    }
  }
  const reload = throttle(load, 400);
  const offs = ['message', 'sessions', 'resync'].map((e) => events.on(e, reload));
  load();
  return () => { alive = false; offs.forEach((f) => f()); };
}

function chatView(layout, session, user) {
  let alive = true;
  const rows = new Map(); // id → {m, row}
  let cursor = null;
  let loading = false;
  let text = ''; // the search within the conversation ('' = live)
  let generation = 0;

  // ---- header and search
  const searchInput = h('input#chat-search', { type: 'search', autocomplete: 'off', placeholder: t('chat.search_placeholder') });
  const searchLabel = h('label.sr-only', { for: 'chat-search' }, t('chat.search'));
  const searchInfo = h('p.search-info#chat-search-info', { 'aria-live': 'polite', hidden: true });
  const header = h('header.chat-head',
    h('a.back', { href: '#/chat' }, `← ${t('chat.list')}`),
    h('div.chat-title', h('h2#chat-user.mono', user), h('span.badge.muted#chat-session', session)),
    h('form.chat-search', { role: 'search', onsubmit: (e) => e.preventDefault() }, searchLabel, searchInput));

  // ---- messages
  const older = h('button.small.ghost#load-older', { type: 'button', hidden: true }, t('chat.load_older'));
  const list = h('div.messages-inner#messages-inner');
  const scroller = h('div.messages#messages', { tabindex: 0, 'aria-label': t('chat.messages'), dataset: { user, session } },
    h('div.older-wrap', older), list);
  const jump = h('button.jump#jump-new', { type: 'button', hidden: true }, `↓ ${t('chat.new_messages')}`);

  // ---- composer
  const textarea = h('textarea#composer-text', { rows: 1, autocomplete: 'off', placeholder: t('chat.composer_placeholder') });
  const fileInput = h('input#composer-file.sr-only', { type: 'file', multiple: true, tabindex: -1, 'aria-hidden': 'true' });
  const attach = h('button.icon#composer-attach', { type: 'button', 'aria-label': t('chat.attach'), title: t('chat.attach') }, icon('attach'));
  const send = h('button.primary#composer-send', { type: 'submit' }, t('chat.send'));
  const progress = h('progress#upload-progress', { max: 100, value: 0, hidden: true, 'aria-label': t('chat.uploading') });
  const cError = h('p.error#composer-error', { role: 'alert', hidden: true });
  const cInfo = h('p.muted.small#composer-info', { 'aria-live': 'polite' });
  const composer = h('form.composer#composer', { novalidate: true },
    h('label.sr-only', { for: 'composer-text' }, t('chat.message')), textarea, fileInput, attach, send);
  const chat = h('section.chat#chat', { 'aria-labelledby': 'chat-user' },
    header, searchInfo, scroller, jump, h('div.composer-wrap', progress, cError, composer, cInfo));
  layout.append(chat);

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  let stuck = true; // at the bottom: stay there while images load and rows grow
  const toBottom = () => { scroller.scrollTop = scroller.scrollHeight; jump.hidden = true; stuck = true; };
  const resized = new ResizeObserver(() => { if (stuck) scroller.scrollTop = scroller.scrollHeight; });
  resized.observe(list);

  function insert(m) {
    if (!m || m.id === undefined) return null;
    m.id = String(m.id);
    const have = rows.get(m.id);
    if (have) {
      if (m.status === 'pending' && FINAL.has(have.m.status)) m = { ...m, status: have.m.status, error: have.m.error };
      have.m = m;
      fill(have.row, m);
      return null;
    }
    const row = bubbleRow(m);
    let before = null;
    for (let el = list.lastElementChild; el; el = el.previousElementSibling) {
      if (cmpId(el.dataset.id, m.id) < 0) break;
      before = el;
    }
    list.insertBefore(row, before);
    rows.set(m.id, { m, row });
    return row;
  }

  function query(extra) {
    return { user, session, limit: PAGE, text: text || undefined, ...extra };
  }

  async function loadFirst() {
    const gen = ++generation;
    loading = true;
    rows.clear();
    clear(list);
    cursor = null;
    older.hidden = true;
    try {
      const res = await api.get('/api/v1/messages', query());
      if (!alive || gen !== generation) return;
      for (const m of (res.messages || []).slice().reverse()) insert(m);
      cursor = res.next_cursor || null;
      older.hidden = !cursor;
      if (text) {
        searchInfo.hidden = false;
        searchInfo.textContent = t('chat.search_results', { n: number(res.total ?? rows.size), q: text });
      } else searchInfo.hidden = true;
      if (!rows.size) list.append(h('p.empty#chat-empty', text ? t('chat.no_results') : t('chat.empty')));
      toBottom();
    } catch (ex) {
      if (alive && gen === generation) list.append(h('p.error', errorText(ex)));
    } finally { if (gen === generation) loading = false; }
  }

  async function loadOlder() {
    if (loading || !cursor) return;
    const gen = generation;
    loading = true;
    older.disabled = true;
    try {
      const res = await api.get('/api/v1/messages', query({ cursor }));
      if (!alive || gen !== generation) return;
      const height = scroller.scrollHeight;
      const top = scroller.scrollTop;
      for (const m of res.messages || []) insert(m);
      cursor = res.next_cursor || null;
      older.hidden = !cursor;
      scroller.scrollTop = top + (scroller.scrollHeight - height);
    } catch (ex) { toast(errorText(ex), 'error'); } finally {
      older.disabled = false;
      if (gen === generation) loading = false;
    }
  }

  older.addEventListener('click', loadOlder);
  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < 60) loadOlder();
    stuck = nearBottom();
    if (stuck) jump.hidden = true;
  }, { passive: true });
  jump.addEventListener('click', toBottom);

  searchInput.addEventListener('input', debounce(() => {
    const q = searchInput.value.trim();
    if (q === text) return;
    text = q;
    loadFirst();
  }, 300));

  // ---- live updates
  const offs = [
    events.on('message', (m) => {
      if (text || m.user !== user || m.session !== session) return;
      const stick = nearBottom();
      const empty = list.querySelector('#chat-empty');
      if (empty) empty.remove();
      const row = insert(m);
      if (!row) return;
      if (stick || m.direction === 'out') toBottom(); else jump.hidden = false;
      if (m.direction === 'in') announce(t('chat.announce', { who: m.speaker || m.from || user, text: (m.text || '').slice(0, 140) }));
    }),
    events.on('message_status', (s) => {
      const have = rows.get(String(s.id));
      if (!have) return;
      have.m = { ...have.m, status: s.status, error: s.error };
      fill(have.row, have.m);
    }),
    events.on('resync', () => loadFirst()),
  ];

  // ---- sending
  /** The rows of what was just sent, if the event stream has not brought them yet. */
  async function showSent(res) {
    for (const s of (res && res.sent) || []) {
      if (s.id === undefined || rows.has(String(s.id))) continue;
      try {
        const m = await api.get(`/api/v1/messages/${api.seg(s.id)}`);
        if (alive && !text && m && m.user === user) { insert(m); toBottom(); }
      } catch { /* the event will bring it */ }
    }
    if (res && typeof res.quota_left === 'number') cInfo.textContent = t('chat.quota_left', { n: number(res.quota_left) });
  }

  function sendFailed(res, ex) {
    cError.textContent = ex ? errorText(ex) : (res && res.error) || t('error.http');
    cError.hidden = false;
  }

  composer.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = textarea.value;
    if (!body.trim()) { textarea.focus(); return; }
    send.disabled = true;
    cError.hidden = true;
    try {
      const res = await api.post('/api/v1/messages', { to: user, text: body, session });
      if (res && res.success === false) sendFailed(res);
      else { textarea.value = ''; resize(); }
      if (text) { searchInput.value = ''; text = ''; await loadFirst(); }
      showSent(res);
    } catch (ex) { sendFailed(null, ex); } finally { send.disabled = false; textarea.focus(); }
  });

  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      composer.requestSubmit();
    }
  });
  function resize() {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight + textarea.offsetHeight - textarea.clientHeight, 160)}px`;
  }
  textarea.addEventListener('input', resize);

  attach.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', async () => {
    const files = [...fileInput.files];
    if (!files.length) return;
    const form = new FormData();
    form.append('to', user);
    form.append('session', session);
    for (const f of files) form.append('file', f, f.name);
    cError.hidden = true;
    progress.hidden = false;
    progress.value = 0;
    attach.disabled = true;
    cInfo.textContent = t('chat.uploading_name', { name: files.map((f) => f.name).join(', ') });
    try {
      const res = await api.upload('/api/v1/messages', form, (done, total) => { progress.value = Math.round((done / total) * 100); });
      cInfo.textContent = '';
      if (res && res.success === false) sendFailed(res);
      showSent(res);
    } catch (ex) { cInfo.textContent = ''; sendFailed(null, ex); } finally {
      progress.hidden = true;
      attach.disabled = false;
      fileInput.value = '';
    }
  });

  loadFirst();
  return () => { alive = false; resized.disconnect(); offs.forEach((f) => f()); };
}
