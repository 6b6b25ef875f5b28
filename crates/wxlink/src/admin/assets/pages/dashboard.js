// Dashboard: the counters and each session's state.
import * as api from '../api.js';
import * as events from '../events.js';
import { t, number, when } from '../i18n.js';
import { h, clear, errorText, throttle } from '../dom.js';
import { sessionBadges, backendText } from './common.js';

function localMidnight() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function render(root) {
  const counters = h('div.counters#counters');
  const list = h('div#dash-sessions');
  const err = h('p.error', { role: 'alert', hidden: true });
  root.append(h('h1', t('dashboard.title')), err, counters,
    h('h2', t('dashboard.sessions')), list);
  let alive = true;

  const counter = (key, value, id) => h('div.counter', { id, dataset: { testid: id } },
    h('span.value', number(value ?? 0)), h('span.label', t(key)));

  async function load() {
    try {
      const [status, sess] = await Promise.all([
        api.get('/api/v1/status', { today_since: localMidnight() }),
        api.get('/api/v1/sessions'),
      ]);
      if (!alive) return;
      err.hidden = true;
      clear(counters).append(
        counter('dashboard.sessions_count', status.sessions, 'count-sessions'),
        counter('dashboard.connected', status.connected, 'count-connected'),
        counter('dashboard.users', status.users, 'count-users'),
        counter('dashboard.messages_today', status.messages_today, 'count-today'));
      const degraded = new Map((status.degraded || []).map((d) => [d.session, d.problem]));
      clear(list);
      const rows = sess.sessions || [];
      if (!rows.length) {
        list.append(h('p.empty', t('dashboard.no_sessions'), ' ', h('a', { href: '#/login' }, t('dashboard.login_first'))));
        return;
      }
      list.append(h('ul.cards', rows.map((s) => {
        const problem = s.degraded || degraded.get(s.name);
        return h('li.card.session-card', { dataset: { session: s.name } },
          h('div.row', h('strong', s.name), h('span.muted', backendText(s.backend))),
          h('div.badges', sessionBadges({ ...s, degraded: problem })),
          problem ? h('p.error', t('dashboard.degraded', { problem })) : null,
          h('p.muted.small', t('dashboard.last_message', { when: when(s.last_message_at) }),
            ' · ', t('dashboard.user_count', { n: number(s.users ?? 0) })));
      })));
    } catch (ex) {
      if (!alive) return;
      err.textContent = errorText(ex);
      err.hidden = false;
    }
  }

  const reload = throttle(load, 400);
  const offs = ['message', 'sessions', 'session_health', 'resync'].map((e) => events.on(e, reload));
  const timer = setInterval(load, 30000);
  load();
  return () => { alive = false; clearInterval(timer); offs.forEach((f) => f()); };
}
