//! The servers under test: `liaisond` (seeded, on SQLite or a PostgreSQL database of its own) and
//! the bare echo server, each a child process whose CPU time and memory `/proc` can tell.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use crate::population::Seeded;
use crate::{procfs, BenchResult};

/// The password every seeded user gets.
pub const PASSWORD: &str = "liaison bench password, not a secret";

/// Officers per agency (four agencies).
const OFFICERS_PER_AGENCY: usize = 50;

/// The binaries built beside this one.
fn sibling(name: &str) -> BenchResult<PathBuf> {
    let me = std::env::current_exe().map_err(|e| format!("where am I: {e}"))?;
    let path = me.with_file_name(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it too (cargo build --release --workspace --bins)",
            path.display()
        ))
    }
}

fn free_port() -> BenchResult<SocketAddr> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}

/// Where `liaisond` keeps its data: a fresh SQLite file, or a PostgreSQL database.
pub enum Store {
    Sqlite,
    /// A database this run made on the server at `admin_url`, dropped at the end unless kept.
    Postgres {
        admin_url: String,
        name: String,
    },
    /// A database that already exists and stays.
    Existing(String),
}

impl Store {
    /// For `--database`: `sqlite`, a PostgreSQL admin URL (a fresh database is made on that
    /// server), or, with `existing`, a database URL to use as it is.
    pub async fn open(database: &str, existing: bool) -> BenchResult<Store> {
        if database == "sqlite" {
            return Ok(Store::Sqlite);
        }
        if existing {
            return Ok(Store::Existing(database.to_string()));
        }
        let name = format!("liaison_bench_{}", uuid::Uuid::new_v4().simple());
        admin(database, &format!("CREATE DATABASE {name}")).await?;
        Ok(Store::Postgres {
            admin_url: database.to_string(),
            name,
        })
    }

    pub fn url(&self) -> Option<String> {
        match self {
            Store::Sqlite => None,
            Store::Postgres { admin_url, name } => Some(database_url(admin_url, name)),
            Store::Existing(url) => Some(url.clone()),
        }
    }

    pub async fn drop_database(&self) -> BenchResult<()> {
        if let Store::Postgres { admin_url, name } = self {
            admin(
                admin_url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await?;
        }
        Ok(())
    }
}

/// The URL of database `name` on the server `admin_url` points at.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let base = match base.rsplit_once('/') {
        Some((server, _)) if server.contains("://") && !server.ends_with('/') => server,
        _ => base.trim_end_matches('/'),
    };
    format!("{base}/{name}{query}")
}

async fn admin(url: &str, sql: &str) -> BenchResult<()> {
    use sea_orm::sqlx::{Connection, Executor};
    let mut conn = sea_orm::sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    conn.execute(sql).await.map_err(|e| format!("{sql}: {e}"))?;
    conn.close().await.ok();
    Ok(())
}

/// A running server process.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub database_url: Option<String>,
    /// Where it serves Prometheus metrics (`liaisond` only).
    pub metrics_addr: Option<SocketAddr>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Connections to it; the load shares them round-robin.
    pub fn channels(&self, n: usize) -> BenchResult<Vec<Channel>> {
        (0..n.max(1))
            .map(|_| {
                Channel::from_shared(format!("http://{}", self.addr))
                    .map(|e| {
                        e.tcp_nodelay(true)
                            .timeout(Duration::from_secs(60))
                            .connect_lazy()
                    })
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    /// Resident memory now and at its peak, in MiB.
    pub fn memory_mib(&self) -> Option<(f64, f64)> {
        procfs::memory(self.pid()).map(|(rss, peak)| (mib(rss), mib(peak)))
    }

    /// The cumulative buckets of one of its histograms, `(upper bound in seconds, count)` in
    /// order, read from its metrics endpoint.
    pub async fn histogram(&self, name: &str) -> BenchResult<Vec<(f64, u64)>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.metrics_addr.ok_or("the server serves no metrics")?;
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("metrics at {addr}: {e}"))?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut body = String::new();
        stream
            .read_to_string(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        Ok(histogram_buckets(&body, name))
    }

    /// Stops it gracefully (SIGTERM), waiting at most ten seconds.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `le` buckets of histogram `name` in a Prometheus text exposition.
pub fn histogram_buckets(exposition: &str, name: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (bound, count) = rest.split_once("\"} ")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, count.trim().parse().ok()?))
        })
        .collect()
}

/// The upper bound of the bucket holding quantile `q` of what was observed between two reads of
/// one histogram, and how many observations that was.
pub fn quantile_between(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> (f64, u64) {
    let counted = |buckets: &[(f64, u64)], bound: f64| {
        buckets
            .iter()
            .find(|(b, _)| *b == bound)
            .map_or(0, |(_, c)| *c)
    };
    let deltas: Vec<(f64, u64)> = after
        .iter()
        .map(|(bound, count)| (*bound, count.saturating_sub(counted(before, *bound))))
        .collect();
    let total = deltas.last().map_or(0, |(_, c)| *c);
    let wanted = (total as f64 * q).ceil() as u64;
    let bound = deltas
        .iter()
        .find(|(_, c)| *c >= wanted.max(1))
        .map_or(f64::NAN, |(b, _)| *b);
    (bound, total)
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `liaisond` with the settings every run shares.
fn liaisond(data_dir: &Path, database_url: Option<&str>) -> BenchResult<Command> {
    Ok(configured(
        Command::new(sibling("liaisond")?),
        data_dir,
        database_url,
    ))
}

/// `command` (`liaisond`, or this program's `seed`) with the settings every run shares.
fn configured(mut command: Command, data_dir: &Path, database_url: Option<&str>) -> Command {
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LIAISON_DATA_DIR", data_dir)
        .env("LIAISON_PASSWORD", PASSWORD)
        // Runs last minutes; no token should expire mid-run.
        .env("LIAISON_TOKEN_TTL_SECONDS", "7200")
        .env("LIAISON_LOG_FORMAT", "json");
    if let Some(url) = database_url {
        command.env("LIAISON_DATABASE_URL", url);
    }
    command
}

/// Seeds the store with `liaison-bench seed` (this program, in a process of its own, configured
/// like the server) and answers what it made.
pub fn seed(
    data_dir: &Path,
    database_url: Option<&str>,
    cases: u64,
    audit_entries: u64,
) -> BenchResult<Seeded> {
    std::fs::create_dir_all(data_dir).map_err(|e| e.to_string())?;
    let me = std::env::current_exe().map_err(|e| format!("where am I: {e}"))?;
    let output = configured(Command::new(me), data_dir, database_url)
        .args([
            "seed",
            "--cases",
            &cases.to_string(),
            "--audit-entries",
            &audit_entries.to_string(),
            // 200 officers in all: the sign-in burst is 200 different people.
            "--officers",
            &OFFICERS_PER_AGENCY.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("liaison-bench seed: {e}"))?;
    if !output.status.success() {
        return Err(format!("liaison-bench seed failed ({})", output.status));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("liaison-bench seed's summary: {e}"))
}

/// Starts `liaisond` on the store and waits until its health service says SERVING.
pub async fn start(data_dir: &Path, database_url: Option<&str>) -> BenchResult<Server> {
    let addr = free_port()?;
    let metrics_addr = free_port()?;
    let child = liaisond(data_dir, database_url)?
        .env("LIAISON_LISTEN", addr.to_string())
        .env("LIAISON_METRICS_LISTEN", metrics_addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("liaisond: {e}"))?;
    let server = Server {
        child,
        addr,
        database_url: database_url.map(str::to_string),
        metrics_addr: Some(metrics_addr),
    };
    wait_serving(&server).await?;
    Ok(server)
}

async fn wait_serving(server: &Server) -> BenchResult<()> {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if let Ok(channel) = Channel::from_shared(format!("http://{}", server.addr))
            .map_err(|e| e.to_string())?
            .connect()
            .await
        {
            let answer = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            if answer.is_ok_and(|a| a.into_inner().status == 1) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "liaisond on {} did not become healthy",
        server.addr
    ))
}

/// Starts the echo server (this binary's `echo-server` command).
pub async fn start_echo() -> BenchResult<Server> {
    let addr = free_port()?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(me)
        .args(["echo-server", "--listen", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("echo server: {e}"))?;
    let server = Server {
        child,
        addr,
        database_url: None,
        metrics_addr: None,
    };
    let until = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > until {
            return Err("the echo server did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(server)
}

/// `liaisond audit verify` over the whole chain: how long it took and how many entries it read.
pub fn verify_chain(data_dir: &Path, database_url: Option<&str>) -> BenchResult<(Duration, u64)> {
    let started = Instant::now();
    let output = liaisond(data_dir, database_url)?
        .args(["audit", "verify"])
        .output()
        .map_err(|e| format!("liaisond audit verify: {e}"))?;
    let took = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "the chain did not verify: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("liaisond audit verify's report: {e}"))?;
    let entries = report["entries_checked"].as_u64().unwrap_or(0);
    Ok((took, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_name_the_new_database() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            database_url("postgres://u@h/postgres?sslmode=disable", "b"),
            "postgres://u@h/b?sslmode=disable"
        );
    }

    #[test]
    fn a_quantile_is_read_from_the_buckets_observed_between_two_reads() {
        let exposition = |counts: [u64; 4]| {
            format!(
                "# TYPE liaison_audit_seal_lag_seconds histogram\n\
                 liaison_audit_seal_lag_seconds_bucket{{le=\"0.01\"}} {}\n\
                 liaison_audit_seal_lag_seconds_bucket{{le=\"0.05\"}} {}\n\
                 liaison_audit_seal_lag_seconds_bucket{{le=\"0.1\"}} {}\n\
                 liaison_audit_seal_lag_seconds_bucket{{le=\"+Inf\"}} {}\n\
                 liaison_audit_seal_lag_seconds_sum 1.5\n",
                counts[0], counts[1], counts[2], counts[3]
            )
        };
        let name = "liaison_audit_seal_lag_seconds";
        let before = histogram_buckets(&exposition([50, 60, 60, 60]), name);
        assert_eq!(before.len(), 4);
        assert_eq!(before[3], (f64::INFINITY, 60));
        // Between the reads: 100 observations, 90 under 10 ms, 99 under 50 ms, one over 100 ms.
        let after = histogram_buckets(&exposition([140, 159, 159, 160]), name);
        assert_eq!(quantile_between(&before, &after, 0.99), (0.05, 100));
        assert_eq!(quantile_between(&before, &after, 0.5), (0.01, 100));
        assert_eq!(quantile_between(&before, &after, 1.0).0, f64::INFINITY);
    }
}
