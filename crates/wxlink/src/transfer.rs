//! Watching media transfers. Sends and downloads announce each upload or download they start and
//! report its bytes; the CLI draws progress bars from that, every other caller passes
//! [`Unobserved`].

/// Someone who watches media transfers.
pub trait TransferObserver: Send + Sync {
    /// A transfer starts; `label` says what moves ("Uploading photo.jpg"). Returns where its
    /// byte progress goes.
    fn start(&self, label: &str) -> ilink::Progress;
}

/// Watches nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl TransferObserver for Unobserved {
    fn start(&self, _label: &str) -> ilink::Progress {
        ilink::Progress::none()
    }
}
