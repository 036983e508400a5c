//! `writeback run -c FILE`: serve until SIGINT or SIGTERM, then drain.

use std::path::Path;

use writeback_host::{CancellationToken, Host};

use super::{fail_config, load_config};

pub async fn run(config_path: &Path) -> i32 {
    let config = load_config(config_path);
    let registry = crate::builtin_registry();
    let host = match Host::build_with(config, &registry, crate::builtin_options()).await {
        Ok(h) => h,
        Err(e) => fail_config(&e),
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %config_path.display(), "writeback starting");
    match host.run(shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "writeback stopped with an error");
            1
        }
    }
}

pub(crate) async fn cancel_on_signal(token: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop writeback with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining in-flight requests"),
        _ = int.recv() => tracing::info!("SIGINT: draining in-flight requests"),
    }
    token.cancel();
}
