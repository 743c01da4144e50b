//! Configuration: defaults, overridden by `LIAISON_*` environment variables, overridden by flags.
//! Secrets are never printed: `Debug` redacts the database URL's password.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Settings shared by the server and the operator commands.
#[derive(Clone, Args)]
pub struct Config {
    /// Directory for the SQLite database and the generated signing key.
    #[arg(
        long,
        env = "LIAISON_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Database URL; `postgres://...` for PostgreSQL. Default: SQLite in the data directory.
    #[arg(
        long,
        env = "LIAISON_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<String>,

    /// Do not migrate at start; refuse to start if the schema is behind. For a service role without
    /// DDL rights (run `liaisond migrate` as the schema owner instead).
    #[arg(long, env = "LIAISON_SKIP_MIGRATIONS", global = true)]
    pub skip_migrations: bool,

    /// Most database connections per process (PostgreSQL; SQLite always uses one writer).
    #[arg(
        long,
        env = "LIAISON_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_max_connections: u32,

    /// Directory of the Ed25519 signing keys (PKCS#8 PEM, one file per key). Default:
    /// `<data-dir>/keys`, with a first key made on first start. Every process serving one database
    /// must share it; `liaisond keys rotate` adds a key.
    #[arg(long, env = "LIAISON_KEY_DIR", global = true)]
    pub key_dir: Option<PathBuf>,

    /// Address the gRPC server listens on.
    #[arg(
        long,
        env = "LIAISON_LISTEN",
        default_value = "127.0.0.1:50051",
        global = true
    )]
    pub listen: SocketAddr,

    /// PEM certificate chain to serve TLS with (with --tls-key).
    #[arg(long, env = "LIAISON_TLS_CERT", global = true)]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of the TLS certificate.
    #[arg(long, env = "LIAISON_TLS_KEY", global = true)]
    pub tls_key: Option<PathBuf>,

    /// PEM CA bundle: when given, clients must present a certificate it signed (mutual TLS).
    #[arg(long, env = "LIAISON_CLIENT_CA", global = true)]
    pub client_ca: Option<PathBuf>,

    /// Serve plaintext on a non-loopback address (refused otherwise).
    #[arg(long, env = "LIAISON_INSECURE", global = true)]
    pub insecure: bool,

    /// Also serve only the gRPC health service, plaintext, on this (loopback) address: for probes
    /// inside the pod or container when the main port speaks TLS.
    #[arg(long, env = "LIAISON_HEALTH_LISTEN", global = true)]
    pub health_listen: Option<SocketAddr>,

    /// Serve Prometheus metrics at `http://<address>/metrics` (off by default).
    #[arg(long, env = "LIAISON_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    /// Most calls served at once; further calls are refused with RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "LIAISON_MAX_CONCURRENT_CALLS",
        default_value_t = 256,
        global = true
    )]
    pub max_concurrent_calls: usize,

    /// Most WatchCases streams open at once; further ones are refused with RESOURCE_EXHAUSTED.
    /// They do not count against --max-concurrent-calls.
    #[arg(
        long,
        env = "LIAISON_MAX_WATCH_STREAMS",
        default_value_t = 1024,
        global = true
    )]
    pub max_watch_streams: usize,

    /// Most audit entries one VerifyAuditChain call checks (the call is refused with
    /// FAILED_PRECONDITION beyond it); `liaisond audit verify` checks any range on the database.
    #[arg(
        long,
        env = "LIAISON_MAX_VERIFIED_PER_CALL",
        default_value_t = 1_000_000,
        global = true
    )]
    pub max_verified_per_call: u64,

    /// Most audit entries one page of QueryAuditLog looks through when no actor or case narrows it
    /// (within the time range's span, when one is asked): the page may then hold fewer entries than asked (even none) with a token to go
    /// on, instead of one call scanning the whole log for a filter nothing matches.
    #[arg(
        long,
        env = "LIAISON_MAX_AUDIT_SCAN",
        default_value_t = 200_000,
        global = true
    )]
    pub max_audit_scan: u64,

    /// Most calls open to anyone (Login, Refresh, GetPublicKeys) in flight at once, apart from
    /// --max-concurrent-calls: a flood of sign-ins never takes the capacity signed-in calls need.
    #[arg(
        long,
        env = "LIAISON_MAX_CONCURRENT_PUBLIC_CALLS",
        default_value_t = 32,
        global = true
    )]
    pub max_concurrent_public_calls: usize,

    /// Most sign-ins (password checks) this server starts per second, whoever sends them; beyond
    /// it a sign-in is refused with RESOURCE_EXHAUSTED before any hashing, so a flood cannot queue
    /// up work for the password hasher.
    #[arg(
        long,
        env = "LIAISON_MAX_SIGN_INS_PER_SECOND",
        default_value_t = 50,
        global = true
    )]
    pub max_sign_ins_per_second: u32,

    /// Most WatchCases streams one user may have open on this server at once: one person cannot
    /// take the server's streams, or multiply the audit log's watch deliveries, beyond this.
    #[arg(
        long,
        env = "LIAISON_MAX_WATCH_STREAMS_PER_USER",
        default_value_t = 8,
        global = true
    )]
    pub max_watch_streams_per_user: usize,

    /// Events a watch stream holds for a client that is not reading, beyond what the transport
    /// buffers.
    #[arg(
        long,
        env = "LIAISON_WATCH_BUFFER",
        default_value_t = 64,
        global = true
    )]
    pub watch_buffer: usize,

    /// A watcher whose buffer stays full this many seconds is dropped with RESOURCE_EXHAUSTED
    /// (it resumes with its last resume_token and misses nothing).
    #[arg(
        long,
        env = "LIAISON_WATCH_STALL_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub watch_stall_seconds: u64,

    /// A quiet watch stream gets a heartbeat (with a fresh resume_token) this often.
    #[arg(
        long,
        env = "LIAISON_WATCH_HEARTBEAT_SECONDS",
        default_value_t = 15,
        global = true
    )]
    pub watch_heartbeat_seconds: u64,

    /// Access-token lifetime in seconds.
    #[arg(
        long,
        env = "LIAISON_TOKEN_TTL_SECONDS",
        default_value_t = 900,
        global = true
    )]
    pub token_ttl_seconds: u64,

    /// A session's refresh token dies after this many seconds unused.
    #[arg(long, env = "LIAISON_REFRESH_IDLE_SECONDS", default_value_t = 12 * 3600, global = true)]
    pub refresh_idle_seconds: u64,

    /// A session ends this many seconds after sign-in, however it is used.
    #[arg(long, env = "LIAISON_REFRESH_LIFETIME_SECONDS", default_value_t = 7 * 24 * 3600, global = true)]
    pub refresh_lifetime_seconds: u64,

    /// The `iss` claim of access tokens.
    #[arg(
        long,
        env = "LIAISON_TOKEN_ISSUER",
        default_value = "liaison",
        global = true
    )]
    pub token_issuer: String,

    /// The `aud` claim of access tokens.
    #[arg(
        long,
        env = "LIAISON_TOKEN_AUDIENCE",
        default_value = "liaison",
        global = true
    )]
    pub token_audience: String,

    /// Largest request message accepted, in bytes.
    #[arg(long, env = "LIAISON_MAX_REQUEST_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_request_bytes: usize,

    /// Password hashes computed at once, each on a thread of its own (19 MiB each for a few
    /// milliseconds). Default: half the CPUs, at least one, so sign-in bursts leave the other
    /// calls the rest.
    #[arg(
        long,
        env = "LIAISON_MAX_CONCURRENT_HASHES",
        default_value_t = default_hashes(),
        global = true
    )]
    pub max_concurrent_hashes: usize,

    /// Export the handlers' trace spans over OTLP/gRPC to this collector (such as
    /// `http://otel-collector:4317`). Off by default. Spans carry no request content.
    #[arg(long, env = "LIAISON_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,

    /// Log format: `text` or `json`.
    #[arg(
        long,
        env = "LIAISON_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: String,
}

/// Half the CPUs this process may use, at least one.
pub fn default_hashes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl Config {
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("liaison.db").display()
            ),
        }
    }

    pub fn key_directory(&self) -> PathBuf {
        self.key_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys"))
    }

    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_seconds)
    }

    /// Defaults for everything, rooted at `data_dir`; what tests start from.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            database_url: None,
            database_max_connections: 16,
            skip_migrations: false,
            key_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            tls_cert: None,
            tls_key: None,
            client_ca: None,
            insecure: false,
            health_listen: None,
            metrics_listen: None,
            max_concurrent_calls: 256,
            max_watch_streams: 1024,
            max_verified_per_call: 1_000_000,
            max_audit_scan: 200_000,
            max_concurrent_public_calls: 32,
            max_sign_ins_per_second: 50,
            max_watch_streams_per_user: 8,
            watch_buffer: 64,
            watch_stall_seconds: 30,
            watch_heartbeat_seconds: 15,
            token_ttl_seconds: 900,
            refresh_idle_seconds: 12 * 3600,
            refresh_lifetime_seconds: 7 * 24 * 3600,
            token_issuer: "liaison".into(),
            token_audience: "liaison".into(),
            max_request_bytes: 1024 * 1024,
            max_concurrent_hashes: default_hashes(),
            log_format: "text".into(),
            otlp_endpoint: None,
        }
    }
}

/// A URL with its password replaced (in the user-info part and in a `password=` parameter), for logs.
pub fn redact_url(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => url.to_string(),
    };
    let url = url.as_str();
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url()))
            .field("database_max_connections", &self.database_max_connections)
            .field("skip_migrations", &self.skip_migrations)
            .field("key_dir", &self.key_directory())
            .field("listen", &self.listen)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("client_ca", &self.client_ca)
            .field("insecure", &self.insecure)
            .field("health_listen", &self.health_listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .field("max_watch_streams", &self.max_watch_streams)
            .field("max_verified_per_call", &self.max_verified_per_call)
            .field("max_audit_scan", &self.max_audit_scan)
            .field(
                "max_concurrent_public_calls",
                &self.max_concurrent_public_calls,
            )
            .field("max_sign_ins_per_second", &self.max_sign_ins_per_second)
            .field(
                "max_watch_streams_per_user",
                &self.max_watch_streams_per_user,
            )
            .field("watch_buffer", &self.watch_buffer)
            .field("watch_stall_seconds", &self.watch_stall_seconds)
            .field("watch_heartbeat_seconds", &self.watch_heartbeat_seconds)
            .field("token_ttl_seconds", &self.token_ttl_seconds)
            .field("refresh_idle_seconds", &self.refresh_idle_seconds)
            .field("refresh_lifetime_seconds", &self.refresh_lifetime_seconds)
            .field("token_issuer", &self.token_issuer)
            .field("token_audience", &self.token_audience)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_concurrent_hashes", &self.max_concurrent_hashes)
            .field("log_format", &self.log_format)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://liaison:hunter2@db:5432/liaison"),
            "postgres://liaison:***@db:5432/liaison"
        );
        assert_eq!(redact_url("postgres://db/liaison"), "postgres://db/liaison");
        assert_eq!(
            redact_url("postgres://db/liaison?user=l&password=hunter2"),
            "postgres://db/liaison?user=l&password=***"
        );
        let mut config = Config::for_data_dir("/tmp/x");
        config.database_url = Some("postgres://u:topsecret@h/d".into());
        assert!(!format!("{config:?}").contains("topsecret"));
    }
}
