//! Byte progress of media transfers. Uploads and downloads report how many bytes have moved so
//! that a frontend can draw a progress bar; by default nobody listens and reporting costs a
//! branch.

use std::fmt;
use std::sync::Arc;

/// Where a transfer stands: `done` bytes moved of `total` (when the size is known).
///
/// A retried upload starts again from `done = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes moved so far.
    pub done: u64,
    /// Bytes to move in all, when known.
    pub total: Option<u64>,
}

/// A listener for [`Transfer`] updates, cheap to clone. [`Progress::none`] (the default) ignores
/// them.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
///
/// let seen = Arc::new(AtomicU64::new(0));
/// let sink = seen.clone();
/// let progress = ilink::Progress::new(move |t| sink.store(t.done, Ordering::Relaxed));
/// progress.report(ilink::Transfer { done: 42, total: Some(100) });
/// assert_eq!(seen.load(Ordering::Relaxed), 42);
/// ```
#[derive(Clone, Default)]
pub struct Progress {
    listener: Option<Arc<dyn Fn(Transfer) + Send + Sync>>,
}

impl Progress {
    /// Calls `listener` with every update.
    pub fn new(listener: impl Fn(Transfer) + Send + Sync + 'static) -> Self {
        Self {
            listener: Some(Arc::new(listener)),
        }
    }

    /// Reports nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Passes `transfer` to the listener, if any.
    pub fn report(&self, transfer: Transfer) {
        if let Some(listener) = &self.listener {
            listener(transfer);
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("listening", &self.listener.is_some())
            .finish()
    }
}
