//! The shutdown signal the long-running commands pass to what they run (`mcp`, `poll`,
//! `sandbox`): Ctrl-C or SIGTERM. The handlers are installed when [`shutdown_signal`] is called,
//! not when its future is first polled, so a signal that comes right after start-up is never
//! missed. [`parent_gone`] resolves when the process that started us is gone (a stdio server
//! whose client died without closing the pipe).

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

/// How often the parent process is checked.
const PARENT_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// Resolves when this process is reparented (its parent died); never on other systems.
pub async fn parent_gone() {
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        loop {
            tokio::time::sleep(PARENT_CHECK).await;
            if std::os::unix::process::parent_id() != parent {
                return;
            }
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}
