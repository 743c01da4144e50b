//! `liaisond serve` (the default) and `liaisond migrate`.

use std::sync::Arc;

use liaison_server::clock::SystemClock;
use liaison_server::config::Config;

/// Serves until SIGTERM or Ctrl-C, then finishes the calls in flight.
pub async fn serve(config: Config) -> Result<(), String> {
    tracing::info!(config = ?config, "starting");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let state = liaison_server::open(&config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    let address = listener
        .local_addr()
        .map_or_else(|_| config.listen.to_string(), |a| a.to_string());
    // Standard error, whatever the log format: it is for the person who just started it.
    if let Some(steps) = liaison_server::ops::first_steps(&state, &address)
        .await
        .map_err(|e| e.to_string())?
    {
        eprintln!("liaisond: {steps}");
    }
    liaison_server::serve_state(state, &config, listener, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// Applies the migrations, even under `--skip-migrations`.
pub async fn migrate(config: Config) -> Result<(), String> {
    let config = Config {
        skip_migrations: false,
        ..config
    };
    liaison_server::open(&config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    println!("database is up to date");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
