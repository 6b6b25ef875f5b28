// DOM helpers: elements are built node by node; text from the server is only ever a text node.
import { t } from './i18n.js';

/**
 * h('button.primary#send', {type: 'button', onclick: fn, dataset: {testid: 'x'}}, 'text', child…)
 * Strings become text nodes; null/false children are skipped; arrays are flattened.
 */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** Appends children as h() does (strings as text, null/false skipped). */
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

const SVGNS = 'http://www.w3.org/2000/svg';
const ICONS = {
  attach: 'M16.5 6.5 8.6 14.4a2 2 0 0 0 2.8 2.8l8-8a4 4 0 0 0-5.6-5.6l-8.2 8.2a6 6 0 0 0 8.5 8.5L21 13.4',
  file: 'M6 2h8l5 5v15H6zM14 2v5h5',
  voice: 'M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zM5 11a7 7 0 0 0 14 0M12 18v3',
  video: 'M3 6h12v12H3zM15 10l6-4v12l-6-4',
  theme: 'M12 3a9 9 0 1 0 0 18zM12 3a9 9 0 0 1 0 18',
};
/** A small line icon (decorative: hidden from screen readers). */
export function icon(name) {
  const svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'ico');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVGNS, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

let uid = 0;
export function nextId(prefix) { uid += 1; return `${prefix}-${uid}`; }

/** A labelled field: <label for> + the control (and an optional hint). */
export function field(labelKey, control, hintKey) {
  if (!control.id) control.id = nextId('f');
  const hint = hintKey ? h('small.hint', { id: `${control.id}-hint` }, t(hintKey)) : null;
  if (hint) control.setAttribute('aria-describedby', hint.id);
  return h('div.field', h('label', { for: control.id }, t(labelKey)), control, hint);
}

/** What an error means, in the reader's language, with the server's detail. */
export function errorText(err) {
  if (!err) return t('error.http');
  const kind = err.kind || 'http';
  const key = `error.${kind}`;
  let base = t(key);
  if (base === key) base = err.title || t('error.http');
  if (err.detail && err.detail !== base) return `${base} (${err.detail})`;
  if (err.status && kind === 'http') return `${base} (HTTP ${err.status})`;
  return base;
}

// Toasts: a polite live region; errors stay until closed, the rest fade after 5 s.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const close = h('button.icon.close', { type: 'button', 'aria-label': t('common.close') }, '×');
  const el = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, h('span', message), close);
  close.addEventListener('click', () => el.remove());
  box.append(el);
  if (kind !== 'error') setTimeout(() => el.remove(), 5000);
  else setTimeout(() => el.remove(), 15000);
  return el;
}

export const toastError = (err) => toast(errorText(err), 'error');

/** Something screen readers should hear (new messages). */
export function announce(text) {
  const a = document.getElementById('announcer');
  a.textContent = '';
  setTimeout(() => { a.textContent = text; }, 30);
}

/**
 * A modal <dialog> (Esc cancels). `body` is a node; `onConfirm` may return false (or throw) to
 * keep it open. Resolves true when confirmed, false when cancelled.
 */
export function dialog({ title, body, confirm, danger = false, onConfirm, id }) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const err = h('p.error', { role: 'alert', hidden: true });
    const ok = h(`button.${danger ? 'danger' : 'primary'}`, { type: 'submit', dataset: { testid: 'dialog-confirm' } }, confirm || t('common.ok'));
    const cancel = h('button.ghost', { type: 'button', dataset: { testid: 'dialog-cancel' } }, t('common.cancel'));
    const form = h('form', { method: 'dialog' },
      h('h2', { id: titleId }, title), body, err, h('div.actions', cancel, ok));
    const dlg = h('dialog.dialog', { 'aria-labelledby': titleId, id }, form);
    let result = false;
    cancel.addEventListener('click', () => dlg.close());
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      ok.disabled = true;
      try {
        const r = onConfirm ? await onConfirm() : true;
        if (r !== false) { result = true; dlg.close(); }
      } catch (ex) {
        err.textContent = errorText(ex);
        err.hidden = false;
      } finally { ok.disabled = false; }
    });
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('input, textarea, select');
    if (first) { first.focus(); if (first.select) first.select(); }
  });
}

export function badge(text, kind = '') {
  return h(`span.badge${kind ? `.${kind}` : ''}`, text);
}

/** Calls fn once things have been quiet for `ms` (the last call wins). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; fn(...args); }, ms);
  };
}

/** Calls fn `ms` after the first of a burst of calls (once per burst, never starved). */
export function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (!timer) timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}
