//! The shutdown signal the long-running commands pass to what they run (`mcp`, `poll`,
//! `sandbox`): Ctrl-C or SIGTERM. The handlers are installed when [`shutdown_signal`] is called,
//! not when its future is first polled, so a signal that comes right after start-up is never
//! missed.

use std::future::Future;

/// Resolves on Ctrl-C or SIGTERM (installed now; call it inside the runtime).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            match (interrupt, terminate) {
                (Some(mut int), Some(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async move {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
