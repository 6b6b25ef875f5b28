// Sessions: the table, rename / default / log out, and each session's users.
import * as api from '../api.js';
import * as events from '../events.js';
import { t, when, number } from '../i18n.js';
import { h, clear, field, errorText, toast, dialog, badge, throttle } from '../dom.js';
import { sessionBadges, backendText, chatHref } from './common.js';

export function render(root) {
  let alive = true;
  const open = new Set();
  const err = h('p.error', { role: 'alert', hidden: true });
  const wrap = h('div.table-wrap');
  root.append(h('div.page-head', h('h1', t('sessions.title')), h('a.button#sessions-add', { href: '#/login' }, t('sessions.add'))), err, wrap);

  async function load() {
    try {
      const res = await api.get('/api/v1/sessions');
      if (!alive) return;
      err.hidden = true;
      draw(res.sessions || []);
    } catch (ex) {
      if (!alive) return;
      err.textContent = errorText(ex);
      err.hidden = false;
    }
  }

  function draw(list) {
    clear(wrap);
    if (!list.length) {
      wrap.append(h('p.empty', t('dashboard.no_sessions'), ' ', h('a', { href: '#/login' }, t('dashboard.login_first'))));
      return;
    }
    const tbody = h('tbody');
    const table = h('table.sessions#sessions-table',
      h('caption.sr-only', t('sessions.title')),
      h('thead', h('tr', ['sessions.name', 'sessions.backend', 'sessions.bot_id', 'sessions.status', 'sessions.users', 'sessions.actions']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      tbody);
    for (const s of list) {
      const usersId = `users-${s.name.replace(/[^\w-]/g, '_')}`;
      const expand = h('button.icon.expand', {
        type: 'button', 'aria-expanded': open.has(s.name) ? 'true' : 'false', 'aria-controls': usersId,
        'aria-label': t('sessions.show_users', { name: s.name }), dataset: { testid: 'expand-users' },
      }, '▸');
      const row = h('tr.session-row', { dataset: { session: s.name } },
        h('th', { scope: 'row' }, h('div.name-cell', expand, h('span.session-name', s.name))),
        h('td', { 'data-label': t('sessions.backend') }, backendText(s.backend)),
        h('td.mono', { 'data-label': t('sessions.bot_id') }, s.bot_id || '–'),
        h('td', { 'data-label': t('sessions.status') }, h('div.badges', sessionBadges(s)),
          s.degraded ? h('small.error', s.degraded) : null),
        h('td', { 'data-label': t('sessions.users') }, number(s.users ?? 0)),
        h('td.actions-cell', { 'data-label': t('sessions.actions') }, actions(s)));
      const usersRow = h('tr.users-row', { id: usersId, hidden: !open.has(s.name) }, h('td', { colspan: 6 }, h('div.users-box')));
      expand.addEventListener('click', () => {
        const isOpen = expand.getAttribute('aria-expanded') === 'true';
        expand.setAttribute('aria-expanded', isOpen ? 'false' : 'true');
        usersRow.hidden = isOpen;
        if (isOpen) open.delete(s.name); else { open.add(s.name); loadUsers(s.name, usersRow.querySelector('.users-box')); }
      });
      if (open.has(s.name)) loadUsers(s.name, usersRow.querySelector('.users-box'));
      tbody.append(row, usersRow);
    }
    wrap.append(table);
  }

  function actions(s) {
    const rename = h('button.small', { type: 'button', dataset: { testid: 'rename' } }, t('sessions.rename'));
    rename.addEventListener('click', () => doRename(s));
    const def = h('button.small', { type: 'button', disabled: !!s.default, dataset: { testid: 'set-default' } }, t('sessions.set_default'));
    def.addEventListener('click', async () => {
      try {
        await api.patch(`/api/v1/sessions/${api.seg(s.name)}`, { default: true });
        toast(t('sessions.default_set', { name: s.name }));
        load();
      } catch (ex) { toast(errorText(ex), 'error'); }
    });
    const logout = h('button.small.danger', { type: 'button', disabled: s.status === 'logged_out', dataset: { testid: 'logout' } }, t('sessions.logout'));
    logout.addEventListener('click', () => doLogout(s));
    return h('div.row-actions', rename, def, logout);
  }

  async function doRename(s) {
    const input = h('input#rename-input', { type: 'text', value: s.name, required: true, maxlength: 64, autocomplete: 'off' });
    const ok = await dialog({
      id: 'rename-dialog',
      title: t('sessions.rename_title', { name: s.name }),
      body: field('sessions.new_name', input),
      confirm: t('sessions.rename'),
      onConfirm: async () => {
        const name = input.value.trim();
        if (!name) { input.focus(); return false; }
        if (name === s.name) return true;
        await api.patch(`/api/v1/sessions/${api.seg(s.name)}`, { name });
        if (open.delete(s.name)) open.add(name);
        return true;
      },
    });
    if (ok) { toast(t('sessions.renamed')); load(); }
  }

  async function doLogout(s) {
    const ok = await dialog({
      id: 'logout-dialog',
      title: t('sessions.logout_title', { name: s.name }),
      body: h('p', t('sessions.logout_text')),
      confirm: t('sessions.logout'),
      danger: true,
      onConfirm: () => api.post(`/api/v1/sessions/${api.seg(s.name)}/logout`, {}),
    });
    if (ok) { toast(t('sessions.logged_out', { name: s.name })); load(); }
  }

  async function loadUsers(name, box) {
    clear(box).append(h('p.muted', t('app.loading')));
    try {
      const res = await api.get(`/api/v1/sessions/${api.seg(name)}/users`);
      if (!alive) return;
      const users = res.users || [];
      clear(box);
      if (!users.length) { box.append(h('p.muted', t('sessions.no_users'))); return; }
      box.append(h('ul.users', users.map((u) => h('li.user', { dataset: { user: u.user } },
        h('a.mono', { href: chatHref(u.session || name, u.user) }, u.user),
        h('span.muted', t('sessions.last_received', { when: when(u.last_received_at) })),
        typeof u.sends_left === 'number' ? h('span', t('sessions.sends_left', { n: number(u.sends_left) })) : null,
        u.stale ? badge(t('sessions.stale'), 'warn') : badge(t('sessions.fresh'), 'ok')))));
    } catch (ex) {
      clear(box).append(h('p.error', errorText(ex)));
    }
  }

  const reload = throttle(load, 300);
  const offs = ['sessions', 'session_health', 'resync'].map((e) => events.on(e, reload));
  load();
  return () => { alive = false; offs.forEach((f) => f()); };
}
