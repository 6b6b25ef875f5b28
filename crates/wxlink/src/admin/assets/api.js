// The one way the panel talks to the server: same-origin fetch, the CSRF header on every
// request that changes something, problem+json turned into ApiError.

let csrf = null;
let onUnauthorized = () => {};

export function setCsrf(value) { csrf = value || null; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, kind, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.kind = kind || (status === 0 ? 'network' : 'http');
    this.title = title || '';
    this.detail = detail || '';
  }
}

const CHANGES = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** `/api/v1/x` plus a query string from an object (empty values left out). */
export function url(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function headers(method, extra) {
  const h = { Accept: 'application/json, application/problem+json', ...extra };
  if (CHANGES.has(method) && csrf) h['X-CSRF-Token'] = csrf;
  return h;
}

/** The error a non-2xx answer stands for (its problem+json when there is one). */
export function problem(status, text) {
  let p = null;
  try { p = text ? JSON.parse(text) : null; } catch { p = null; }
  if (p && typeof p === 'object') {
    return new ApiError(status, p.kind, p.title, p.detail || (p.error && p.error.message));
  }
  return new ApiError(status, statusKind(status), '', '');
}

function statusKind(status) {
  return {
    400: 'invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict',
    413: 'too_large', 422: 'invalid', 429: 'quota_exhausted', 502: 'upstream', 503: 'unavailable',
  }[status] || 'http';
}

/** A request; JSON bodies for plain objects, FormData as it is. Resolves to the parsed body or null. */
export async function request(method, path, body, opts = {}) {
  const init = { method, credentials: 'same-origin', cache: 'no-store', signal: opts.signal };
  const extra = {};
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) { extra['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  init.headers = headers(method, extra);
  let res;
  try { res = await fetch(path, init); } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', '', '');
  }
  const text = await res.text();
  if (!res.ok) {
    const err = problem(res.status, text);
    if (res.status === 401 && !opts.quiet401) onUnauthorized(err);
    throw err;
  }
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

export const get = (path, query, opts) => request('GET', url(path, query), undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const patch = (path, body, opts) => request('PATCH', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);

/** A multipart POST with upload progress (fetch cannot report it): resolves to the parsed body. */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json, application/problem+json');
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'network', '', ''));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', '', ''));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try { resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null); } catch { resolve(null); }
      } else {
        const err = problem(xhr.status, xhr.responseText);
        if (xhr.status === 401) onUnauthorized(err);
        reject(err);
      }
    };
    xhr.send(form);
  });
}

/** Path segment, escaped. */
export const seg = (s) => encodeURIComponent(s);
