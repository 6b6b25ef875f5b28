// Pieces several pages share: session status badges, message previews, chat links.
import { t, bytes } from '../i18n.js';
import { h, badge } from '../dom.js';

export function chatHref(session, user) {
  return `#/chat/${encodeURIComponent(session)}/${encodeURIComponent(user)}`;
}

/** The badges of a Session: connected/expired, default, polling/degraded. */
export function sessionBadges(s) {
  const out = [];
  out.push(s.connected ? badge(t('status.connected'), 'ok') : badge(statusText(s.status), 'warn'));
  if (s.default) out.push(badge(t('sessions.default'), 'accent'));
  if (s.degraded) out.push(h('span.badge.bad', { title: s.degraded }, t('status.degraded')));
  else if (s.polling === true && s.connected) out.push(badge(t('status.polling'), 'ok'));
  else if (s.polling === false && s.connected) out.push(badge(t('status.not_polling'), 'muted'));
  return out;
}

export function statusText(status) {
  const key = `status.${status}`;
  const s = t(key);
  return s === key ? String(status || '') : s;
}

export function backendText(b) {
  return b === 'wechaty' ? 'Wechaty' : b === 'ilink' ? 'iLink' : String(b || '');
}

/** A one-line description of a message for lists. */
export function preview(m) {
  if (!m) return '';
  if (m.text) return m.text;
  const items = m.items || [];
  const first = items.find((i) => i.type !== 'text') || items[0];
  if (!first) return t(`type.${m.type}`) || '';
  if (first.type === 'file' && first.file_name) return `[${t('type.file')}] ${first.file_name}`;
  return `[${t(`type.${first.type}`)}]`;
}

export function typeLabel(type) {
  const key = `type.${type}`;
  const s = t(key);
  return s === key ? String(type) : s;
}

export function sizeText(n) { return typeof n === 'number' ? bytes(n) : ''; }
