// The live event stream (/api/v1/events) shared by every page.
// Pages subscribe with on(type, fn); 'live' reports the connection ('on' / 'off').

const TYPES = ['message', 'message_status', 'sessions', 'session_health', 'resync'];
const listeners = new Map();
let source = null;
let retry = null;
let wanted = false;
let everOpen = false;

export function on(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  return () => listeners.get(type).delete(fn);
}

function emit(type, data) {
  for (const fn of listeners.get(type) || []) {
    try { fn(data); } catch (e) { console.error(e); }
  }
}

function open() {
  clearTimeout(retry);
  const es = new EventSource('/api/v1/events');
  source = es;
  es.addEventListener('open', () => {
    // A stream opened anew (not resumed by the browser with Last-Event-ID) may have missed events.
    if (everOpen && es.reconnected) emit('resync', {});
    everOpen = true;
    emit('live', 'on');
  });
  for (const type of TYPES) {
    es.addEventListener(type, (e) => {
      let data = {};
      try { data = e.data ? JSON.parse(e.data) : {}; } catch { return; }
      emit(type, data);
    });
  }
  es.addEventListener('error', () => {
    emit('live', 'off');
    if (es.readyState === EventSource.CLOSED && wanted) {
      // The browser gave up (an HTTP error): try again later with a new stream.
      es.close();
      retry = setTimeout(() => {
        if (!wanted) return;
        open();
        source.reconnected = true;
      }, 3000);
      emit('closed', {});
    }
  });
}

export function start() {
  if (source) return;
  wanted = true;
  everOpen = false;
  open();
}

export function stop() {
  wanted = false;
  clearTimeout(retry);
  if (source) source.close();
  source = null;
  emit('live', 'off');
}
