//! Liaison: referral cases between two countries' agencies over agreed liaison channels.
//!
//! A request takes one path: `api` (decode, validate) -> `authn` (who) -> `authz` (may they) ->
//! `domain` (rules, one transaction) -> `repo` (rows) + `audit` (entry, same transaction), and
//! errors go back out through `error`.

pub mod api;
pub mod audit;
pub mod authn;
pub mod authz;
pub mod chain;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod fuzzing;
pub mod hub;
pub mod ids;
pub mod jobs;
#[cfg(test)]
mod layering;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod ops;
pub mod rate;
pub mod repo;
pub mod state;
pub mod sync;
pub mod telemetry;
pub mod validate;

/// The generated protobuf types and gRPC stubs of `liaison.v1` (the contract crate).
pub use liaison_proto as pb;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;

use crate::api::Api;
use crate::authn::jwt::Keyring;
use crate::authn::password::Passwords;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::AppError;
use crate::rate::RateLimit;
use crate::repo::Db;
use crate::state::{AppState, SessionPolicy};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("{0}")]
    Config(String),
}

/// The TLS settings to serve with, or none; refuses plaintext on a non-loopback address unless
/// `--insecure` says so.
fn transport_security(
    config: &Config,
    addr: std::net::SocketAddr,
) -> Result<Option<tonic::transport::ServerTlsConfig>, ServeError> {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let read = |path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| ServeError::Config(format!("cannot read {}: {e}", path.display())))
    };
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let mut tls =
                ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
            if let Some(ca) = &config.client_ca {
                tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
            }
            Ok(Some(tls))
        }
        (None, None) if config.client_ca.is_some() => Err(ServeError::Config(
            "--client-ca needs TLS: give --tls-cert and --tls-key too".into(),
        )),
        (None, None) if !addr.ip().is_loopback() && !config.insecure => {
            Err(ServeError::Config(format!(
                "refusing to serve plaintext on {addr}, which is not a loopback address: give \
             --tls-cert and --tls-key, or --insecure if something else (a mesh, a proxy) encrypts \
             the traffic"
            )))
        }
        (None, None) => Ok(None),
        _ => Err(ServeError::Config(
            "--tls-cert and --tls-key go together".into(),
        )),
    }
}

/// Connects to the database, applies migrations, and loads (or creates) the signing key.
pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> Result<AppState, AppError> {
    let db = Db::connect(config).await?;
    if config.skip_migrations {
        db.check_migrated().await?;
    } else {
        db.migrate().await?;
    }
    let keys = Keyring::open(
        config.key_directory(),
        config.token_issuer.clone(),
        config.token_audience.clone(),
        config.token_ttl(),
        clock.now(),
    )?;
    Ok(AppState {
        db,
        clock,
        keys: Arc::new(keys),
        passwords: Passwords::new(config.max_concurrent_hashes)?,
        sign_ins: Arc::new(RateLimit::per_second(config.max_sign_ins_per_second)),
        metrics: Arc::new(metrics::Metrics::new()?),
        events: Arc::new(hub::EventHub::default()),
        sealer: Arc::new(audit::seal::Sealer::default()),
        references: Arc::default(),
        people: Arc::default(),
        refusals: Arc::new(audit::refusals::RefusalTallies::default()),
        max_verified_per_call: i64::try_from(config.max_verified_per_call).unwrap_or(i64::MAX),
        max_audit_scan: i64::try_from(config.max_audit_scan)
            .unwrap_or(i64::MAX)
            .max(1),
        sessions: SessionPolicy {
            idle: seconds(config.refresh_idle_seconds)?,
            lifetime: seconds(config.refresh_lifetime_seconds)?,
        },
    })
}

fn seconds(n: u64) -> Result<chrono::Duration, AppError> {
    i64::try_from(n)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| AppError::internal(format!("{n} seconds is out of range")))
}

/// Serves the gRPC API on `listener` until `shutdown` completes; in-flight calls finish first.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let state = open(&config, Arc::new(SystemClock)).await?;
    serve_state(state, &config, listener, shutdown).await
}

/// Like [`serve`], with a state the caller opened (tests bring their own clock).
pub async fn serve_state(
    state: AppState,
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    use pb::admin_service_server::AdminServiceServer;
    use pb::audit_service_server::AuditServiceServer;
    use pb::auth_service_server::AuthServiceServer;
    use pb::case_service_server::CaseServiceServer;
    use pb::directory_service_server::DirectoryServiceServer;
    use pb::stats_service_server::StatsServiceServer;

    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Config(format!("listener has no address: {e}")))?;
    let tls = transport_security(config, addr)?;
    let api = Api::new(state.clone(), config);
    let limit = config.max_request_bytes;
    let (health, health_service) = tonic_health::server::health_reporter();
    let health_watch = tokio::spawn(jobs::report_database_health(
        state.db.clone(),
        health.clone(),
    ));
    let timers = [
        tokio::spawn(jobs::seal_audit_records(state.clone())),
        tokio::spawn(jobs::write_refusal_summaries(state.clone())),
        tokio::spawn(jobs::prune_login_failures(state.clone())),
        tokio::spawn(jobs::escalate_overdue_cases(state.clone())),
        tokio::spawn(jobs::reload_keys(state.clone())),
        tokio::spawn(jobs::follow_other_servers_events(state.clone())),
    ];
    let health_only = match config.health_listen {
        Some(addr) if !addr.ip().is_loopback() && !config.insecure => {
            return Err(ServeError::Config(format!(
                "--health-listen {addr} is not a loopback address: give --insecure to serve health there"
            )));
        }
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| ServeError::Config(format!("cannot listen on {addr}: {e}")))?;
            let service = health_service.clone();
            Some(tokio::spawn(async move {
                let served = tonic::transport::Server::builder()
                    .add_service(service)
                    .serve_with_incoming(TcpListenerStream::new(listener))
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the health listener stopped");
                }
            }))
        }
        None => None,
    };
    let metrics_server = match config.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| ServeError::Config(format!("cannot listen on {addr}: {e}")))?;
            tracing::info!(%addr, "serving metrics");
            Some(tokio::spawn(metrics::serve(
                listener,
                state.metrics.clone(),
                state.db.clone(),
            )))
        }
        None => None,
    };
    // Both versions of reflection: grpcurl before 1.9, Python's grpcio-reflection, Postman, grpcui
    // and evans ask for v1alpha only.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let mut server = tonic::transport::Server::builder().timeout(Duration::from_secs(30));
    if let Some(tls) = tls {
        server = server.tls_config(tls)?;
    }
    tracing::info!(%addr, tls = config.tls_cert.is_some(), mutual_tls = config.client_ca.is_some(), "liaisond serving");
    let result = server
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(AuthServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(DirectoryServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(AdminServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(CaseServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(AuditServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .add_service(StatsServiceServer::new(api.clone()).max_decoding_message_size(limit))
        .serve_with_incoming_shutdown(without_nagle(listener), async {
            shutdown.await;
            api.drain();
            health_watch.abort();
            jobs::report_health(&health, ServingStatus::NotServing).await;
            tracing::info!("shutting down: finishing in-flight calls");
        })
        .await;
    for task in timers {
        task.abort();
    }
    for task in [health_only, metrics_server].into_iter().flatten() {
        task.abort();
    }
    if let Err(e) = domain::call::flush_refusals(&state).await {
        tracing::warn!(error = %e, "could not write the refusal summaries at shutdown");
    }
    // The last calls' records are sealed and signed before the server goes: a clean stop leaves
    // nothing in the intake for the next start (or an offline verification) to wonder about.
    if let Err(e) =
        audit::checkpoint_head(&state.db, &state.keys.current(), state.clock.now()).await
    {
        tracing::warn!(error = %e, "could not seal the audit records at shutdown");
    }
    state.db.close().await;
    Ok(result?)
}

/// The connections `listener` accepts, with Nagle's algorithm off: a small response must not wait
/// for the client's delayed ACK (about 40 ms a call otherwise). `Server::tcp_nodelay` applies only
/// to the listeners tonic binds itself.
pub fn without_nagle(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|accepted| {
        let stream = accepted?;
        stream.set_nodelay(true)?;
        Ok(stream)
    })
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    #[tokio::test]
    async fn accepted_connections_do_not_wait_for_delayed_acks() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = Box::pin(super::without_nagle(listener));
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let accepted = incoming.next().await.unwrap().unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
