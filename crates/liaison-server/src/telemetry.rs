//! Logs and traces. One line per call on stderr (text, or JSON with `LIAISON_LOG_FORMAT=json`),
//! filtered by `LIAISON_LOG`; and, with `--otlp-endpoint`, the handlers' spans exported over
//! OTLP/gRPC. Handlers are instrumented with `skip_all`, so no request content reaches a span.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// What must be flushed before the process exits.
pub struct Telemetry {
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("LIAISON_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}

/// Installs the logger (and the trace exporter when an endpoint is given). Call once, inside the
/// Tokio runtime.
pub fn init(
    log_format: &str,
    default_filter: &str,
    otlp_endpoint: Option<&str>,
) -> Result<Telemetry, String> {
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if log_format == "json" {
        logs.json().with_filter(filter(default_filter)).boxed()
    } else {
        logs.with_filter(filter(default_filter)).boxed()
    };
    let traces = otlp_endpoint.map(exporter).transpose()?;
    let spans = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("liaisond"))
            .with_filter(filter(default_filter))
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init()
        .map_err(|e| format!("logging: {e}"))?;
    Ok(Telemetry { traces })
}

fn exporter(endpoint: &str) -> Result<opentelemetry_sdk::trace::SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| format!("--otlp-endpoint {endpoint}: {e}"))?;
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("liaisond")
                .build(),
        )
        .build())
}

impl Telemetry {
    /// Sends the spans still batched.
    pub async fn shutdown(self) {
        if let Some(provider) = self.traces {
            let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(e)) = flushed {
                eprintln!("liaisond: could not flush the trace exporter: {e}");
            }
        }
    }
}
