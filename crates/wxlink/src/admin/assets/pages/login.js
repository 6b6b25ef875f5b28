// QR login: start a login, then show every phase live (SSE, long-poll as the fallback).
import * as api from '../api.js';
import { t } from '../i18n.js';
import { h, clear, field, errorText, toast } from '../dom.js';
import { backendText } from './common.js';

const FINAL = new Set(['confirmed', 'already_bound', 'failed']);

/** Only http(s) links are offered (the QR content is the server's word, but still). */
function safeLink(s) {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch { return null; }
}

/** The QR image: the server's svg_url when it is one of ours, else the documented path. */
function qrSrc(backend, q) {
  if (typeof q.svg_url === 'string' && q.svg_url.startsWith('/api/v1/')) return q.svg_url;
  return `/api/v1/logins/${api.seg(backend)}/qr.svg?g=${encodeURIComponent(q.generation)}`;
}

export function render(root) {
  let alive = true;
  let es = null;
  let pollAbort = null;
  let lastParams = null;
  let lastGeneration = null;
  let version = -1;

  // ---- the form
  const radio = (value, label) => {
    const input = h('input', { type: 'radio', name: 'backend', value, id: `login-backend-${value}`, checked: value === 'ilink' });
    return h('label.choice', { for: input.id }, input, ' ', label);
  };
  const sessionInput = h('input#login-session', { type: 'text', name: 'session', autocomplete: 'off', maxlength: 64 });
  const force = h('input#login-force', { type: 'checkbox', name: 'force' });
  const endpoint = h('input#login-endpoint', { type: 'text', name: 'endpoint', autocomplete: 'off', placeholder: 'host:port' });
  const token = h('input#login-token', { type: 'password', name: 'token', autocomplete: 'off' });
  const wechatyFields = h('div.wechaty-fields#login-wechaty', { hidden: true },
    field('login.endpoint', endpoint, 'login.endpoint_hint'), field('login.token', token));
  const start = h('button.primary#login-start', { type: 'submit' }, t('login.start'));
  const formErr = h('p.error#login-error', { role: 'alert', hidden: true });
  const form = h('form.card#login-form', { novalidate: true },
    h('fieldset.choices', h('legend', t('login.backend')), radio('ilink', 'iLink'), radio('wechaty', 'Wechaty')),
    field('login.session', sessionInput, 'login.session_hint'),
    wechatyFields,
    h('div.field.check', force, h('label', { for: force.id }, t('login.force'))),
    formErr,
    h('div.actions', start));
  const backendValue = () => form.querySelector('input[name=backend]:checked').value;
  form.addEventListener('change', () => {
    wechatyFields.hidden = backendValue() !== 'wechaty';
  });

  // ---- the live status
  const phase = h('p#login-phase.phase', { 'aria-live': 'polite', dataset: { phase: 'idle' } }, t('login.idle'));
  const statusBox = h('section.card.login-status#login-status', { 'aria-labelledby': 'login-status-title', hidden: true },
    h('h2#login-status-title', t('login.status')), phase, h('div#login-body'));
  const body = statusBox.querySelector('#login-body');

  root.append(h('h1', t('login.title')), h('div.login-grid', form, statusBox));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = { backend: backendValue(), force: force.checked };
    if (sessionInput.value.trim()) params.session = sessionInput.value.trim();
    if (params.backend === 'wechaty') {
      if (!endpoint.value.trim() || !token.value) {
        formErr.textContent = t('login.wechaty_needs');
        formErr.hidden = false;
        return;
      }
      params.endpoint = endpoint.value.trim();
      params.token = token.value;
    }
    begin(params);
  });

  async function begin(params) {
    lastParams = params;
    formErr.hidden = true;
    start.disabled = true;
    stopFollowing();
    lastGeneration = null;
    version = -1;
    try {
      const res = await api.post('/api/v1/logins', params);
      if (!alive) return;
      if (res && res.already_logged_in) {
        statusBox.hidden = false;
        setPhase('already_logged_in');
        clear(body).append(h('p#login-result', t('login.already_logged_in', { name: res.already_logged_in.name })),
          h('p', h('a', { href: '#/sessions' }, t('login.to_sessions'))));
        return;
      }
      show(res);
      if (params.session && res.session && res.session !== params.session) {
        toast(t('login.joined', { name: res.session }));
      }
      if (!FINAL.has(res.phase)) follow(res.backend || params.backend);
    } catch (ex) {
      formErr.textContent = errorText(ex);
      formErr.hidden = false;
    } finally { start.disabled = false; }
  }

  function stopFollowing() {
    if (es) { es.close(); es = null; }
    if (pollAbort) { pollAbort.abort(); pollAbort = null; }
  }

  function follow(backend) {
    stopFollowing();
    const source = new EventSource(`/api/v1/logins/${api.seg(backend)}/events`);
    es = source;
    let finished = false;
    source.addEventListener('state', (e) => {
      let login;
      try { login = JSON.parse(e.data); } catch { return; }
      show(login);
      if (FINAL.has(login.phase)) { finished = true; source.close(); if (es === source) es = null; }
    });
    source.addEventListener('error', () => {
      if (finished || es !== source) return;
      // The stream broke (or is not offered): long-poll instead.
      source.close();
      es = null;
      if (alive) longPoll(backend);
    });
  }

  async function longPoll(backend) {
    const ctl = new AbortController();
    pollAbort = ctl;
    let failures = 0;
    while (alive && !ctl.signal.aborted) {
      try {
        const login = await api.get(`/api/v1/logins/${api.seg(backend)}`, { after_version: version >= 0 ? version : undefined, wait: 25 }, { signal: ctl.signal });
        failures = 0;
        if (!alive || ctl.signal.aborted) return;
        show(login);
        if (FINAL.has(login.phase)) return;
      } catch (ex) {
        if (ctl.signal.aborted || !alive) return;
        failures += 1;
        if (failures > 5) { toast(errorText(ex), 'error'); return; }
        await new Promise((r) => setTimeout(r, 1000 * failures));
      }
    }
  }

  function setPhase(p) {
    phase.dataset.phase = p;
    phase.textContent = t(`login.phase.${p}`);
  }

  function show(login) {
    if (!alive || !login) return;
    if (typeof login.version === 'number') {
      if (login.version < version) return;
      version = login.version;
    }
    statusBox.hidden = false;
    setPhase(login.phase);
    const backend = login.backend || (lastParams && lastParams.backend) || 'ilink';
    // Keep the code input (and what is typed in it) while its phase lasts.
    if (login.phase === 'need_verify_code' && body.querySelector('#login-code')) {
      body.querySelector('#login-code-wrong').hidden = !login.wrong_code;
      return;
    }
    const parts = [];
    if (login.session) parts.push(h('p.muted', t('login.for_session', { name: login.session, backend: backendText(backend) })));

    if (login.phase === 'waiting_for_scan' && login.qr) {
      const q = login.qr;
      if (q.renewal && q.generation !== lastGeneration && lastGeneration !== null) {
        toast(t('login.new_qr'), 'info');
      }
      lastGeneration = q.generation;
      if (q.renewal) {
        const key = `login.renewal.${q.renewal}`;
        const why = t(key) === key ? String(q.renewal) : t(key);
        parts.push(h('p.note#qr-renewal', { role: 'status' }, t('login.renewed', { why })));
      }
      parts.push(h('figure.qr',
        h('img#qr-img', { src: qrSrc(backend, q), alt: t('login.qr_alt'), width: 280, height: 280, dataset: { generation: q.generation } }),
        h('figcaption', t('login.scan_hint'))));
      const link = safeLink(q.content);
      if (link) parts.push(h('p', h('a#qr-link', { href: link, target: '_blank', rel: 'noopener noreferrer' }, t('login.open_link'))));
    } else if (login.phase === 'scanned') {
      parts.push(h('p', t('login.confirm_on_phone')));
    } else if (login.phase === 'need_verify_code') {
      parts.push(codeForm(backend, login.wrong_code));
    } else if (login.phase === 'starting') {
      parts.push(h('p.muted', t('login.starting_hint')));
    } else if (login.phase === 'confirmed') {
      const s = login.confirmed || {};
      parts.push(h('p#login-result.success', t('login.confirmed_as', { name: s.name || login.session || '', bot: s.bot_id || '' })),
        h('p', h('a', { href: '#/sessions' }, t('login.to_sessions')), ' · ', h('a', { href: '#/chat' }, t('nav.chat'))));
    } else if (login.phase === 'already_bound') {
      parts.push(h('p#login-result', t('login.already_bound_text')));
    } else if (login.phase === 'failed') {
      const retry = h('button#login-retry', { type: 'button' }, t('login.retry'));
      retry.addEventListener('click', () => { if (lastParams) begin(lastParams); else form.requestSubmit(); });
      parts.push(h('p#login-result.error', { role: 'alert' }, login.error || t('login.failed_text')), h('div.actions', retry));
    }
    if (!FINAL.has(login.phase)) {
      const cancel = h('button#login-cancel', { type: 'button' }, t('login.cancel'));
      cancel.addEventListener('click', async () => {
        cancel.disabled = true;
        try {
          const ended = await api.del(`/api/v1/logins/${api.seg(backend)}`);
          stopFollowing();
          show(ended);
        } catch (ex) { toast(errorText(ex), 'error'); cancel.disabled = false; }
      });
      parts.push(h('div.actions', cancel));
    }
    clear(body).append(...parts);
  }

  function codeForm(backend, wrong) {
    const input = h('input#login-code', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 12, required: true });
    const wrongEl = h('p.error#login-code-wrong', { role: 'alert', hidden: !wrong }, t('login.wrong_code'));
    const submit = h('button.primary#login-code-submit', { type: 'submit' }, t('login.send_code'));
    const f = h('form.code-form', { novalidate: true }, h('p', t('login.code_hint')), field('login.code', input), wrongEl, h('div.actions', submit));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!input.value.trim()) { input.focus(); return; }
      submit.disabled = true;
      wrongEl.hidden = true;
      try {
        await api.post(`/api/v1/logins/${api.seg(backend)}/code`, { code: input.value.trim() });
        input.value = '';
      } catch (ex) { toast(errorText(ex), 'error'); } finally { submit.disabled = false; }
    });
    setTimeout(() => input.focus(), 0);
    return f;
  }

  // A login already under way (started elsewhere, or before a reload) is picked up.
  (async () => {
    try {
      const { logins } = await api.get('/api/v1/logins', null, { quiet401: true });
      const login = (logins || []).find((l) => l && l.phase && !FINAL.has(l.phase));
      if (alive && login && !es && !pollAbort) {
        lastParams = { backend: login.backend };
        show(login);
        follow(login.backend);
      }
    } catch { /* none */ }
  })();

  return () => { alive = false; stopFollowing(); };
}
