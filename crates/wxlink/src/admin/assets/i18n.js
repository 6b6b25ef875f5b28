// English and Chinese. The language comes from localStorage, else navigator.language.

const KEY = 'wxlink.lang';
export const LANGS = ['en', 'zh'];
let lang = 'en';
let strings = {};
let fallback = {};
const listeners = new Set();

function pick() {
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch { saved = null; }
  if (LANGS.includes(saved)) return saved;
  const navs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const n of navs) {
    const base = String(n).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

async function load(l) {
  const res = await fetch(`locales/${l}.json`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`locale ${l}: HTTP ${res.status}`);
  return res.json();
}

export async function init() {
  fallback = await load('en');
  await setLang(pick(), false);
}

export function getLang() { return lang; }
/** The BCP 47 tag for `lang` attributes and Intl. */
export function tag() { return lang === 'zh' ? 'zh-CN' : 'en'; }

export async function setLang(l, save = true) {
  if (!LANGS.includes(l)) l = 'en';
  strings = l === 'en' ? fallback : await load(l);
  lang = l;
  if (save) { try { localStorage.setItem(KEY, l); } catch { /* private mode */ } }
  document.documentElement.lang = tag();
  translate(document);
  for (const fn of listeners) fn(l);
}

export function onLangChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

/** The string for `key`, `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  let s = strings[key];
  if (s === undefined) s = fallback[key];
  if (s === undefined) return key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
  return s;
}

/** Fill `data-i18n` (text), `data-i18n-label` (aria-label), `data-i18n-placeholder`, `data-i18n-title`. */
export function translate(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

const fmtCache = new Map();
function fmt(kind, opts) {
  const k = `${lang}|${kind}`;
  if (!fmtCache.has(k)) fmtCache.set(k, new Intl.DateTimeFormat(tag(), opts));
  return fmtCache.get(k);
}

/** A time for people: today's as a clock time, older with the date. */
export function when(value) {
  if (value === null || value === undefined || value === '') return t('common.never');
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? fmt('time', { hour: '2-digit', minute: '2-digit' }).format(d)
    : fmt('datetime', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d);
}

export function number(n) { return new Intl.NumberFormat(tag()).format(n); }

export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${new Intl.NumberFormat(tag(), { maximumFractionDigits: i ? 1 : 0 }).format(n)} ${units[i]}`;
}
