// One message as a WeChat-like bubble: items, quotes, media, speaker, send status.
import { t, when } from '../i18n.js';
import { h, clear, append, icon } from '../dom.js';
import { typeLabel, sizeText } from './common.js';

const MEDIA = new Set(['image', 'voice', 'file', 'video']);

export function mediaUrl(id, index) {
  return `/api/v1/messages/${encodeURIComponent(id)}/media?index=${index}`;
}

function seconds(ms) { return typeof ms === 'number' ? Math.max(1, Math.round(ms / 1000)) : null; }

function quoteView(q) {
  if (!q) return null;
  const inner = q.item ? (q.item.text || q.item.transcript || q.item.file_name || `[${typeLabel(q.item.type)}]`) : '';
  return h('blockquote.quote', q.title ? h('span.quote-title', q.title) : null, inner ? h('span', inner) : null);
}

/** The content of a message: its items (or its text when it has none). */
export function content(m) {
  const out = [];
  const items = Array.isArray(m.items) && m.items.length ? m.items : [{ type: m.type === 'text' || m.text ? 'text' : m.type, text: m.text }];
  let index = 0;
  for (const it of items) {
    const q = quoteView(it.quote);
    if (q) out.push(q);
    const i = MEDIA.has(it.type) ? index++ : -1;
    const href = i >= 0 && m.id ? mediaUrl(m.id, i) : null;
    switch (it.type) {
      case 'text':
        if (it.text) out.push(h('p.text', it.text));
        break;
      case 'image': {
        const img = h('img.media-img', { src: href, loading: 'lazy', alt: t('type.image'), dataset: { index: i } });
        if (it.thumb_width > 0 && it.thumb_height > 0) { img.width = it.thumb_width; img.height = it.thumb_height; }
        out.push(h('a.media-link', { href, target: '_blank', rel: 'noopener', 'aria-label': t('message.open_image') }, img));
        break;
      }
      case 'voice': {
        const s = seconds(it.duration_ms);
        out.push(h('a.file-link', { href, download: '', dataset: { index: i } }, icon('voice'), `${t('type.voice')}${s ? ` · ${t('message.seconds', { n: s })}` : ''}`));
        if (it.transcript) out.push(h('p.transcript', it.transcript));
        break;
      }
      case 'file':
        out.push(h('a.file-link', { href, download: it.file_name || '', dataset: { index: i } },
          icon('file'), `${it.file_name || t('type.file')}${it.size ? ` · ${sizeText(it.size)}` : ''}`));
        break;
      case 'video': {
        const s = seconds(typeof it.play_length === 'number' ? it.play_length * 1000 : null);
        out.push(h('a.file-link', { href, download: '', dataset: { index: i } },
          icon('video'), `${t('type.video')}${s ? ` · ${t('message.seconds', { n: s })}` : ''}${it.size ? ` · ${sizeText(it.size)}` : ''}`));
        break;
      }
      default:
        if (it.text) out.push(h('p.text', it.text));
        else out.push(h('p.muted', `[${typeLabel(it.type || 'unknown')}]`));
    }
  }
  if (!out.length) out.push(h('p.muted', `[${typeLabel(m.type || 'unknown')}]`));
  return out;
}

/** The status line under an outbound bubble (empty for sent and received). */
export function statusView(m) {
  const st = m.status;
  if (!st || st === 'sent' || st === 'received') return null;
  const text = st === 'failed' && m.error ? `${t(`message.status.${st}`)}: ${m.error}` : t(`message.status.${st}`);
  return h(`span.status.${st}`, { dataset: { testid: 'status' } }, text);
}

/** A chat row: the bubble with its speaker, time and status. */
export function bubbleRow(m) {
  const dir = m.direction === 'out' ? 'out' : 'in';
  const row = h(`div.msg.${dir}`, { dataset: { id: m.id, status: m.status || '' } });
  fill(row, m);
  return row;
}

export function fill(row, m) {
  const dir = m.direction === 'out' ? 'out' : 'in';
  row.dataset.status = m.status || '';
  append(clear(row), [
    dir === 'in' && m.speaker ? h('div.speaker', m.speaker) : null,
    h('div.bubble', { dataset: { id: m.id, testid: 'bubble' } }, content(m)),
    h('div.meta', h('time', { datetime: m.time || '' }, when(m.time || m.timestamp_ms)), statusView(m))]);
}
