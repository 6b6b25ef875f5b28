// History search: every filter of GET /api/v1/messages, results with "load more".
import * as api from '../api.js';
import { t, when, number } from '../i18n.js';
import { h, clear, field, errorText } from '../dom.js';
import { chatHref, typeLabel } from './common.js';
import { content, statusView } from './message.js';

const TYPES = ['text', 'image', 'voice', 'file', 'video', 'mixed', 'unknown'];

/** A datetime-local value as unix ms ('' when empty or unreadable). */
function ms(value) {
  if (!value) return '';
  const n = new Date(value).getTime();
  return Number.isFinite(n) ? n : '';
}

export function render(root, args, params) {
  let alive = true;
  let cursor = null;
  let current = null;
  let generation = 0;

  const input = (id, type = 'text') => h(`input#${id}`, { type, name: id.replace('history-', ''), autocomplete: 'off' });
  const text = input('history-text', 'search');
  const user = input('history-user');
  const session = h('select#history-session', { name: 'session' }, h('option', { value: '' }, t('history.any')));
  const type = h('select#history-type', { name: 'type' }, h('option', { value: '' }, t('history.any')),
    TYPES.map((v) => h('option', { value: v }, typeLabel(v))));
  const direction = h('select#history-direction', { name: 'direction' }, h('option', { value: '' }, t('history.any')),
    h('option', { value: 'in' }, t('history.dir_in')), h('option', { value: 'out' }, t('history.dir_out')));
  const since = input('history-since', 'datetime-local');
  const until = input('history-until', 'datetime-local');
  const submit = h('button.primary#history-submit', { type: 'submit' }, t('history.search'));
  const reset = h('button.ghost#history-reset', { type: 'reset' }, t('history.reset'));
  const form = h('form.card.history-form#history-form', { role: 'search', novalidate: true },
    h('div.grid',
      field('history.text', text), field('history.user', user), field('history.session', session),
      field('history.type', type), field('history.direction', direction),
      field('history.since', since), field('history.until', until)),
    h('div.actions', reset, submit));
  const total = h('p#history-total', { 'aria-live': 'polite' });
  const results = h('ol.results#history-results');
  const more = h('button#history-more', { type: 'button', hidden: true }, t('history.more'));
  const err = h('p.error', { role: 'alert', hidden: true });
  root.append(h('h1', t('history.title')), form, err, total, results, h('div.actions.center', more));

  // Filters may come in the hash: #/history?user=…&text=…
  for (const [k, el] of [['text', text], ['user', user], ['type', type], ['direction', direction]]) {
    if (params && params.get(k)) el.value = params.get(k);
  }

  api.get('/api/v1/sessions').then((res) => {
    if (!alive) return;
    for (const s of res.sessions || []) session.append(h('option', { value: s.name }, s.name));
    if (params && params.get('session')) session.value = params.get('session');
  }).catch(() => {});

  function filters() {
    return {
      text: text.value.trim(), user: user.value.trim(), session: session.value, type: type.value,
      direction: direction.value, since: ms(since.value), until: ms(until.value), limit: 30,
    };
  }

  async function search(append) {
    const gen = append ? generation : ++generation;
    if (!append) { current = filters(); cursor = null; }
    submit.disabled = true;
    more.disabled = true;
    err.hidden = true;
    try {
      const res = await api.get('/api/v1/messages', { ...current, cursor: append ? cursor : undefined });
      if (!alive || gen !== generation) return;
      if (!append) clear(results);
      for (const m of res.messages || []) results.append(item(m));
      cursor = res.next_cursor || null;
      more.hidden = !cursor;
      total.textContent = t('history.total', { n: number(res.total ?? 0), shown: number(results.children.length) });
    } catch (ex) {
      if (!alive) return;
      err.textContent = errorText(ex);
      err.hidden = false;
    } finally { submit.disabled = false; more.disabled = false; }
  }

  function item(m) {
    const dir = m.direction === 'out' ? 'out' : 'in';
    return h(`li.result.${dir}`, { dataset: { id: m.id } },
      h('div.result-head',
        h('time', { datetime: m.time || '' }, when(m.time || m.timestamp_ms)),
        h('span.badge', dir === 'out' ? t('history.dir_out') : t('history.dir_in')),
        h('span.badge.muted', m.session),
        h('a.mono', { href: chatHref(m.session, m.user) }, m.user),
        m.speaker ? h('span.muted', m.speaker) : null,
        statusView(m)),
      h('div.result-body', content(m)));
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); search(false); });
  form.addEventListener('reset', () => setTimeout(() => search(false), 0));
  more.addEventListener('click', () => search(true));
  search(false);
  return () => { alive = false; };
}
