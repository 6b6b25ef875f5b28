//! Memory given back after a burst. A burst of received messages (a thousand accounts answering
//! at once) is parsed into JSON trees on every runtime thread; once stored they are freed, but
//! glibc keeps the freed pages in its per-thread arenas: `bench/scale.py` saw RSS stay at
//! 245 MB after 40,000 messages over 1,000 accounts, a third of it free. Once a burst is over
//! (messages came, then none for a while), `malloc_trim` hands the free pages back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// Messages received by this process so far (every listener adds its batches).
static RECEIVED: AtomicU64 = AtomicU64::new(0);

/// How often the quiet is checked.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Messages since the last trim that make a burst worth trimming after.
const BURST: u64 = 2_000;

/// Counts `n` received messages.
pub fn received(n: usize) {
    RECEIVED.fetch_add(n as u64, Ordering::Relaxed);
}

/// Whether to trim now: at least [`BURST`] messages since the last trim (`at_trim`), and none
/// since the last check (`at_check`): the burst is over.
fn burst_over(now: u64, at_check: u64, at_trim: u64) -> bool {
    now == at_check && now.saturating_sub(at_trim) >= BURST
}

/// Runs until `shutdown`: trims after each burst.
pub async fn trim_after_bursts(mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut at_check, mut at_trim) = (0, 0);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let now = RECEIVED.load(Ordering::Relaxed);
        if burst_over(now, at_check, at_trim) {
            at_trim = now;
            // It walks the heap: a few milliseconds, not for a runtime thread.
            let _ = tokio::task::spawn_blocking(trim).await;
        }
        at_check = now;
    }
}

/// Returns the allocator's free pages to the system (glibc only; elsewhere nothing to do).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: `malloc_trim` takes no pointers and is safe to call from any thread at any time.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(released = released == 1, "memory trimmed after a burst");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_a_burst_is_over() {
        // Messages still coming: not yet.
        assert!(!burst_over(5_000, 4_000, 0));
        // Quiet after a burst: now.
        assert!(burst_over(5_000, 5_000, 0));
        // Quiet, but few messages since the last trim: no.
        assert!(!burst_over(5_000 + BURST - 1, 5_000 + BURST - 1, 5_000));
        // Nothing ever received: no.
        assert!(!burst_over(0, 0, 0));
    }
}
