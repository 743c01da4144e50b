//! The workloads: what each simulated person does, in a closed loop, until the time is up.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use liaison_proto as pb;
use pb::audit_service_client::AuditServiceClient;
use pb::case_service_client::CaseServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::population::{Population, Session};
use crate::stats::RunStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// FileReferral only.
    File,
    /// GetCase and ListCases queue pages.
    Read,
    /// About 10 % filing, 10 % lifecycle moves, 20 % notes, 50 % reads, 10 % audit queries.
    Mixed,
    /// `read`, with a burst of 200 concurrent sign-ins a third of the way through.
    Login,
    /// ListCases pages of 50: INCOMING newest first, and INCOMING overdue by due time.
    Queue,
    /// QueryAuditLog by case, by actor and by a day's time range.
    Audit,
    /// GetChannelStats: a supervisor's year of figures for one of their agency's channels.
    Stats,
}

/// How a run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub workload: Workload,
    pub concurrency: usize,
    pub duration: Duration,
    /// Calls in the first moments are made but not counted.
    pub warmup: Duration,
}

/// Sign-ins in the `login` workload's burst.
pub const LOGIN_BURST: usize = 200;

/// Where the load goes, and who makes it.
#[derive(Clone)]
pub struct Target {
    /// A few HTTP/2 connections; the simulated people share them round-robin.
    pub channels: Vec<Channel>,
    pub population: Arc<Population>,
    /// Usernames and the password, for the sign-in burst.
    pub credentials: Arc<(Vec<String>, String)>,
    /// Case ids to read, known before the run (for auditors, who cannot list cases).
    pub known_cases: Arc<Vec<String>>,
    /// The server's address, for the sign-in burst's own connections.
    pub addr: Option<std::net::SocketAddr>,
}

/// The phase of a `login` run: reads are counted apart while the burst is in flight.
const UNLOADED: u8 = 0;
const BURST: u8 = 1;
const AFTER: u8 = 2;

/// The outcome of a run: per-method stats and how long the measured part lasted.
pub struct Outcome {
    pub stats: RunStats,
    pub measured: Duration,
    /// For `login`: how long the burst took, and its sign-ins' stats.
    pub burst: Option<Duration>,
}

/// Runs `plan` against `target` and gathers what every simulated person saw.
pub async fn run(target: &Target, plan: Plan) -> Outcome {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let deadline = measure_from + plan.duration;
    let phase = Arc::new(AtomicU8::new(UNLOADED));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..plan.concurrency.max(1) {
        let person = Person::new(target, i, plan.workload, phase.clone());
        tasks.spawn(person.work(measure_from, deadline));
    }
    let burst = if plan.workload == Workload::Login {
        let at = measure_from + plan.duration / 3;
        tokio::time::sleep_until(at.into()).await;
        Some(sign_in_burst(target, phase.clone()).await)
    } else {
        None
    };
    let mut stats = RunStats::default();
    while let Some(done) = tasks.join_next().await {
        if let Ok(s) = done {
            stats.merge(s);
        }
    }
    let (burst_time, burst_stats) = burst.unzip();
    if let Some(s) = burst_stats {
        stats.merge(s);
    }
    Outcome {
        stats,
        measured: Instant::now().min(deadline) - measure_from,
        burst: burst_time,
    }
}

/// 200 sign-ins at once, while the readers keep reading. Each comes from a loopback address of
/// its own, as people sign in from their own machines: the server throttles sign-ins per peer
/// address, and 200 from one address would be mostly refused by design.
async fn sign_in_burst(target: &Target, phase: Arc<AtomicU8>) -> (Duration, RunStats) {
    let mut stats = RunStats::default();
    let Some(addr) = target.addr else {
        return (Duration::ZERO, stats);
    };
    let (usernames, password) = &*target.credentials;
    // Connections first, so the burst is the sign-ins alone.
    let mut channels = Vec::with_capacity(LOGIN_BURST);
    for i in 0..LOGIN_BURST {
        let source = std::net::Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, 2 + (i % 250) as u8);
        match from_address(addr, source.into()).await {
            Ok(channel) => channels.push(channel),
            Err(e) => {
                eprintln!("a connection from {source} failed: {e}");
                stats
                    .method("Login (burst)")
                    .error(tonic::Code::Unavailable);
            }
        }
    }
    phase.store(BURST, Ordering::SeqCst);
    let started = Instant::now();
    let mut logins = tokio::task::JoinSet::new();
    for (i, channel) in channels.into_iter().enumerate() {
        let username = usernames[i % usernames.len().max(1)].clone();
        let password = password.clone();
        logins.spawn(async move {
            let began = Instant::now();
            let result = pb::auth_service_client::AuthServiceClient::new(channel)
                .login(pb::LoginRequest { username, password })
                .await;
            (began.elapsed(), result.map(|_| ()))
        });
    }
    while let Some(done) = logins.join_next().await {
        if let Ok((latency, result)) = done {
            match result {
                Ok(()) => stats.method("Login (burst)").ok(latency),
                Err(status) => stats.method("Login (burst)").error(status.code()),
            }
        }
    }
    phase.store(AFTER, Ordering::SeqCst);
    (started.elapsed(), stats)
}

/// A connection to `addr` from the local address `source`.
async fn from_address(
    addr: std::net::SocketAddr,
    source: std::net::IpAddr,
) -> Result<Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect_with_connector(tower::service_fn(move |_: http::Uri| async move {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::new(source, 0))?;
            let stream = socket.connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }))
        .await
}

/// One simulated person: their sessions, what they have seen, and a cheap random source.
struct Person {
    channel: Channel,
    workload: Workload,
    officer: Session,
    supervisor: Session,
    auditor: Option<Session>,
    population: Arc<Population>,
    known_cases: Arc<Vec<String>>,
    /// Cases this person saw lately.
    seen: Vec<String>,
    rng: u64,
    filed: u64,
    phase: Arc<AtomicU8>,
}

fn with_token<M>(message: M, session: &Session) -> Request<M> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", session.bearer.clone());
    request
}

impl Person {
    fn new(target: &Target, i: usize, workload: Workload, phase: Arc<AtomicU8>) -> Person {
        let p = &target.population;
        Person {
            channel: target.channels[i % target.channels.len()].clone(),
            workload,
            officer: p.officers[i % p.officers.len()].clone(),
            supervisor: p.supervisors[i % p.supervisors.len()].clone(),
            auditor: (!p.auditors.is_empty()).then(|| p.auditors[i % p.auditors.len()].clone()),
            population: p.clone(),
            known_cases: target.known_cases.clone(),
            seen: Vec::new(),
            rng: 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            filed: 0,
            phase,
        }
    }

    /// xorshift64*: enough to spread choices, and the same sequence every run.
    fn random(&mut self, below: usize) -> usize {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % below.max(1)
    }

    async fn work(mut self, measure_from: Instant, deadline: Instant) -> RunStats {
        let mut stats = RunStats::default();
        while Instant::now() < deadline {
            let began = Instant::now();
            let counted = began >= measure_from;
            let (method, result) = self.step().await;
            let latency = began.elapsed();
            if counted && Instant::now() <= deadline {
                let method = match (self.workload, self.phase.load(Ordering::SeqCst)) {
                    (Workload::Login, UNLOADED) => unloaded(method),
                    (Workload::Login, BURST) => during_burst(method),
                    _ => method,
                };
                match result {
                    Ok(()) => stats.method(method).ok(latency),
                    Err(code) => stats.method(method).error(code),
                }
            }
        }
        stats
    }

    /// One call (or, for a lifecycle move, the read that picks the case and the move).
    async fn step(&mut self) -> (&'static str, Result<(), tonic::Code>) {
        match self.workload {
            Workload::File => self.file().await,
            Workload::Read | Workload::Login => self.read().await,
            Workload::Queue => self.queue().await,
            Workload::Audit => self.audit().await,
            Workload::Stats => self.stats().await,
            Workload::Mixed => match self.random(10) {
                0 => self.file().await,
                1 => self.lifecycle_move().await,
                2 | 3 => self.note().await,
                4..=8 => self.read().await,
                _ => self.audit().await,
            },
        }
    }

    fn cases(&self) -> CaseServiceClient<Channel> {
        CaseServiceClient::new(self.channel.clone())
    }

    fn remember(&mut self, cases: &[pb::Case]) {
        if !cases.is_empty() {
            self.seen = cases.iter().map(|c| c.id.clone()).collect();
        }
    }

    async fn file(&mut self) -> (&'static str, Result<(), tonic::Code>) {
        let routes = self
            .population
            .routes
            .get(&self.officer.agency_code)
            .cloned()
            .unwrap_or_default();
        if routes.is_empty() {
            return ("FileReferral", Err(tonic::Code::FailedPrecondition));
        }
        let route = routes[self.random(routes.len())].clone();
        self.filed += 1;
        let request = with_token(
            pb::FileReferralRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                channel_id: route.channel_id,
                category: route.category as i32,
                priority: [
                    pb::Priority::Routine,
                    pb::Priority::Priority,
                    pb::Priority::Urgent,
                ][self.random(3)] as i32,
                title: format!("Courier consignment, lead {}", self.filed),
                markings: None,
                kind: pb::RequestKind::Request as i32,
                preservation: None,
                legal_basis_id: String::new(),
                items: Vec::new(),
                category_code: String::new(),
                summary: "Parcel routed through a freight forwarder with a declared value far \
                          below its weight; the consignee's address matches earlier seizures. \
                          Requesting checks on the forwarder and the consignee's accounts."
                    .into(),
            },
            &self.officer,
        );
        let result = self.cases().file_referral(request).await;
        ("FileReferral", outcome(result))
    }

    async fn read(&mut self) -> (&'static str, Result<(), tonic::Code>) {
        if self.seen.is_empty() || self.random(2) == 0 {
            return self.list_incoming("ListCases", false).await;
        }
        let i = self.random(self.seen.len());
        let id = self.seen[i].clone();
        let request = with_token(pb::GetCaseRequest { id }, &self.supervisor);
        ("GetCase", outcome(self.cases().get_case(request).await))
    }

    async fn stats(&mut self) -> (&'static str, Result<(), tonic::Code>) {
        const METHOD: &str = "GetChannelStats a year";
        let routes = self
            .population
            .routes
            .get(&self.supervisor.agency_code)
            .cloned()
            .unwrap_or_default();
        let Some(route) = routes.get(self.random(routes.len())) else {
            return (METHOD, Err(tonic::Code::FailedPrecondition));
        };
        let now = chrono::Utc::now();
        let request = with_token(
            pb::GetChannelStatsRequest {
                channel_id: route.channel_id.clone(),
                period_start: Some(timestamp(now - chrono::Duration::days(365))),
                period_end: Some(timestamp(now)),
                checkpoint_seq: 0,
            },
            &self.supervisor,
        );
        let result = pb::stats_service_client::StatsServiceClient::new(self.channel.clone())
            .max_decoding_message_size(16 * 1024 * 1024)
            .get_channel_stats(request)
            .await;
        (METHOD, result.map(|_| ()).map_err(|s| s.code()))
    }

    async fn queue(&mut self) -> (&'static str, Result<(), tonic::Code>) {
        if self.random(2) == 0 {
            self.list_incoming("ListCases incoming newest", false).await
        } else {
            self.list_incoming("ListCases incoming overdue by due", true)
                .await
        }
    }

    async fn list_incoming(
        &mut self,
        method: &'static str,
        overdue: bool,
    ) -> (&'static str, Result<(), tonic::Code>) {
        let request = with_token(
            pb::ListCasesRequest {
                view: pb::CaseView::Incoming as i32,
                overdue_only: overdue,
                order: if overdue {
                    pb::CaseOrder::DueFirst
                } else {
                    pb::CaseOrder::NewestFirst
                } as i32,
                page_size: 50,
                ..Default::default()
            },
            &self.supervisor,
        );
        let result = self.cases().list_cases(request).await;
        if let Ok(page) = &result {
            let cases = page.get_ref().cases.clone();
            self.remember(&cases);
        }
        (method, outcome(result))
    }

    /// Acknowledges a FILED incoming case, or assigns an ACKNOWLEDGED one.
    async fn lifecycle_move(&mut self) -> (&'static str, Result<(), tonic::Code>) {
        let request = with_token(
            pb::ListCasesRequest {
                view: pb::CaseView::Incoming as i32,
                statuses: vec![
                    pb::CaseStatus::Filed as i32,
                    pb::CaseStatus::Acknowledged as i32,
                ],
                page_size: 20,
                ..Default::default()
            },
            &self.supervisor,
        );
        let page = match self.cases().list_cases(request).await {
            Ok(page) => page.into_inner().cases,
            Err(status) => return ("ListCases", Err(status.code())),
        };
        if page.is_empty() {
            return self.file().await;
        }
        let case = page[self.random(page.len())].clone();
        if case.status() == pb::CaseStatus::Filed {
            let request = with_token(
                pb::AcknowledgeCaseRequest {
                    id: case.id,
                    etag: case.etag,
                },
                &self.supervisor,
            );
            (
                "AcknowledgeCase",
                outcome(self.cases().acknowledge_case(request).await),
            )
        } else {
            let officers = self
                .population
                .officer_ids
                .get(&self.supervisor.agency_code)
                .cloned()
                .unwrap_or_default();
            if officers.is_empty() {
                return ("AssignCase", Err(tonic::Code::FailedPrecondition));
            }
            let request = with_token(
                pb::AssignCaseRequest {
                    id: case.id,
                    assignee_id: officers[self.random(officers.len())].clone(),
                    etag: case.etag,
                },
                &self.supervisor,
            );
            (
                "AssignCase",
                outcome(self.cases().assign_case(request).await),
            )
        }
    }

    async fn note(&mut self) -> (&'static str, Result<(), tonic::Code>) {
        if self.seen.is_empty() {
            return self.list_incoming("ListCases", false).await;
        }
        let i = self.random(self.seen.len());
        let case_id = self.seen[i].clone();
        let request = with_token(
            pb::AddNoteRequest {
                case_id,
                body: "Checked with the port authority: the container left on schedule.".into(),
                markings: None,
                visibility: if self.random(4) == 0 {
                    pb::NoteVisibility::Internal
                } else {
                    pb::NoteVisibility::Shared
                } as i32,
            },
            &self.supervisor,
        );
        ("AddNote", outcome(self.cases().add_note(request).await))
    }

    async fn audit(&mut self) -> (&'static str, Result<(), tonic::Code>) {
        let Some(auditor) = self.auditor.clone() else {
            return ("QueryAuditLog", Err(tonic::Code::FailedPrecondition));
        };
        let mut query = pb::QueryAuditLogRequest {
            page_size: 50,
            ..Default::default()
        };
        let method = match self.random(3) {
            0 if !self.known_cases.is_empty() => {
                let i = self.random(self.known_cases.len());
                query.case_id = self.known_cases[i].clone();
                "QueryAuditLog by case"
            }
            1 => {
                let officers = self
                    .population
                    .officer_ids
                    .get(&auditor.agency_code)
                    .cloned()
                    .unwrap_or_default();
                if let Some(id) = officers.get(self.random(officers.len())) {
                    query.actor_id = id.clone();
                }
                "QueryAuditLog by actor"
            }
            _ => {
                let days_ago = self.random(365) as i64;
                let until = chrono::Utc::now() - chrono::Duration::days(days_ago);
                let since = until - chrono::Duration::days(1);
                query.since = Some(timestamp(since));
                query.until = Some(timestamp(until));
                "QueryAuditLog by time range"
            }
        };
        let request = with_token(query, &auditor);
        let result = AuditServiceClient::new(self.channel.clone())
            .query_audit_log(request)
            .await;
        (method, outcome(result))
    }
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

fn outcome<T>(result: Result<Response<T>, Status>) -> Result<(), tonic::Code> {
    result.map(|_| ()).map_err(|s| s.code())
}

/// Method names for the `login` workload's two phases.
fn unloaded(method: &'static str) -> &'static str {
    match method {
        "GetCase" => "GetCase (unloaded)",
        _ => "ListCases (unloaded)",
    }
}

fn during_burst(method: &'static str) -> &'static str {
    match method {
        "GetCase" => "GetCase (during login burst)",
        _ => "ListCases (during login burst)",
    }
}
