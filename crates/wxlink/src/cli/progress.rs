//! Progress bars for uploads and downloads on a terminal: one bar, reused for each transfer in
//! turn, showing bytes moved, total, rate and time left. Hidden when stderr is not a terminal
//! or `--json` is on.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::Output;
use crate::transfer::TransferObserver;

/// The bar a command draws its transfers on.
pub struct TransferBars {
    bar: ProgressBar,
}

impl TransferBars {
    /// A bar for this run that shows `waiting` until the first transfer starts (a send of text
    /// only never starts one).
    pub fn new(out: &Output, waiting: &str) -> Self {
        if !out.interactive() {
            return Self {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(spinner_style());
        bar.set_message(waiting.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl TransferObserver for TransferBars {
    fn start(&self, label: &str) -> ilink::Progress {
        let bar = self.bar.clone();
        bar.set_message(label.to_string());
        bar.set_position(0);
        ilink::Progress::new(move |t| match t.total {
            Some(total) => {
                if bar.length() != Some(total) {
                    bar.set_style(bytes_style());
                    bar.set_length(total);
                }
                bar.set_position(t.done);
            }
            // No size known: keep the spinner and show the count.
            None => bar.set_position(t.done),
        })
    }
}
