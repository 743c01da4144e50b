//! Prometheus metrics, served on `--metrics-listen` when it is set: calls by method and status,
//! call latency, audit intake latency and seal lag, database pool use, and the watch streams.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::error::{AppError, AppResult};
use crate::repo::Db;

pub struct Metrics {
    registry: Registry,
    calls: IntCounterVec,
    latency: HistogramVec,
    audit_append: HistogramVec,
    seal_lag: prometheus::Histogram,
    sealed: IntCounter,
    rejected: IntCounter,
    truncations: IntCounter,
    lost_checkpoint: IntGauge,
    refusals: IntCounterVec,
    pool: IntGaugeVec,
    watch_streams: IntGauge,
    watch_deliveries: IntCounter,
    watch_ends: IntCounterVec,
}

fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: Result<C, prometheus::Error>,
) -> AppResult<C> {
    let collector = collector.map_err(|e| AppError::internal(format!("metric: {e}")))?;
    registry
        .register(Box::new(collector.clone()))
        .map_err(|e| AppError::internal(format!("metric: {e}")))?;
    Ok(collector)
}

impl Metrics {
    pub fn new() -> AppResult<Metrics> {
        let registry = Registry::new_custom(Some("liaison".into()), None)
            .map_err(|e| AppError::internal(format!("metrics: {e}")))?;
        let buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        Ok(Metrics {
            calls: registered(
                &registry,
                IntCounterVec::new(
                    Opts::new("calls_total", "gRPC calls by method and status code"),
                    &["method", "code"],
                ),
            )?,
            latency: registered(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new("call_duration_seconds", "gRPC call latency")
                        .buckets(buckets.clone()),
                    &["method"],
                ),
            )?,
            audit_append: registered(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "audit_append_seconds",
                        "Time to put a call's audit record into the intake",
                    )
                    .buckets(buckets.clone()),
                    &["outcome"],
                ),
            )?,
            seal_lag: registered(
                &registry,
                prometheus::Histogram::with_opts(
                    HistogramOpts::new(
                        "audit_seal_lag_seconds",
                        "From a call's audit record to its sealed, signed entry",
                    )
                    .buckets(buckets),
                ),
            )?,
            sealed: registered(
                &registry,
                IntCounter::new("audit_sealed_entries_total", "Audit entries sealed here"),
            )?,
            rejected: registered(
                &registry,
                IntCounter::new(
                    "audit_intake_rejected_total",
                    "Audit records refused by the sealer: no valid MAC of the service's",
                ),
            )?,
            refusals: registered(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "audit_refusals_counted_total",
                        "Calls refused before authentication, counted into summary entries",
                    ),
                    &["method", "code"],
                ),
            )?,
            truncations: registered(
                &registry,
                IntCounter::new(
                    "audit_truncations_witnessed_total",
                    "Seals that found the chain shorter than this server saw it",
                ),
            )?,
            lost_checkpoint: registered(
                &registry,
                IntGauge::new(
                    "audit_head_checkpoint_missing",
                    "1 while the checkpoint over the head this server sealed is gone (deleted with \
                     database access); 0 once a seal signs a newer head",
                ),
            )?,
            pool: registered(
                &registry,
                IntGaugeVec::new(
                    Opts::new("db_pool_connections", "Database connections by state"),
                    &["state"],
                ),
            )?,
            watch_streams: registered(
                &registry,
                IntGauge::new("watch_streams_open", "WatchCases streams open now"),
            )?,
            watch_deliveries: registered(
                &registry,
                IntCounter::new(
                    "watch_events_delivered_total",
                    "Case events delivered to watchers",
                ),
            )?,
            watch_ends: registered(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "watch_streams_ended_total",
                        "WatchCases streams ended, by the status they ended with",
                    ),
                    &["code"],
                ),
            )?,
            registry,
        })
    }

    pub fn observe_call(&self, method: &str, code: tonic::Code, latency: Duration) {
        self.calls
            .with_label_values(&[method, &format!("{code:?}")])
            .inc();
        self.latency
            .with_label_values(&[method])
            .observe(latency.as_secs_f64());
    }

    pub fn observe_audit_append(&self, outcome: &str, latency: Duration) {
        self.audit_append
            .with_label_values(&[outcome])
            .observe(latency.as_secs_f64());
    }

    /// Counts a call refused before authentication (its summary is written at the next flush).
    pub fn observe_refusal(&self, method: &str, code: tonic::Code) {
        self.refusals
            .with_label_values(&[method, &format!("{code:?}")])
            .inc();
    }

    /// Counts what a seal did.
    pub fn observe_seal(&self, batch: &crate::audit::seal::Batch) {
        for lag in &batch.lags {
            self.seal_lag.observe(lag.as_secs_f64());
        }
        self.sealed.inc_by(batch.entries as u64);
        self.rejected.inc_by(batch.rejected as u64);
        if batch.witnessed_truncation.is_some() {
            self.truncations.inc();
        }
        self.lost_checkpoint
            .set(i64::from(batch.missing_checkpoint.is_some()));
    }

    /// Counts a watch stream as open until the returned guard is dropped.
    pub fn watch_opened(self: &std::sync::Arc<Self>) -> WatchStreamGuard {
        self.watch_streams.inc();
        WatchStreamGuard(self.clone())
    }

    pub fn observe_watch_delivery(&self) {
        self.watch_deliveries.inc();
    }

    pub fn observe_watch_end(&self, code: tonic::Code) {
        self.watch_ends
            .with_label_values(&[&format!("{code:?}")])
            .inc();
    }

    /// The metrics in the Prometheus text format, with the pool read now.
    pub fn render(&self, db: &Db) -> String {
        let (size, idle) = db.pool_stats();
        self.pool.with_label_values(&["open"]).set(i64::from(size));
        self.pool.with_label_values(&["idle"]).set(idle as i64);
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "could not encode metrics");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// An open watch stream, for the gauge.
pub struct WatchStreamGuard(std::sync::Arc<Metrics>);

impl Drop for WatchStreamGuard {
    fn drop(&mut self) {
        self.0.watch_streams.dec();
    }
}

/// Serves `GET /metrics` on `listener` until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, metrics: std::sync::Arc<Metrics>, db: Db) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (metrics, db) = (metrics.clone(), db.clone());
            async move { metrics.render(&db) }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}
