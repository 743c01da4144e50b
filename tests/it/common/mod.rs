//! The test kit: a real `liaisond` on a free port, on SQLite or on the real PostgreSQL, with a
//! manual clock and a small world of two agencies (India's NCB and Canada's RCMP), a third
//! country's agency, their users and an active channel.

use std::sync::Arc;

use liaison_server::clock::ManualClock;
use liaison_server::config::Config;
use liaison_server::model::{Role, Roles};
use liaison_server::pb;
use liaison_server::state::AppState;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::sync::oneshot;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub use pb::admin_service_client::AdminServiceClient;
pub use pb::audit_service_client::AuditServiceClient;
pub use pb::auth_service_client::AuthServiceClient;
pub use pb::case_service_client::CaseServiceClient;
pub use pb::directory_service_client::DirectoryServiceClient;
pub use pb::stats_service_client::StatsServiceClient;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend when `LIAISON_TEST_POSTGRES_URL` is set. When it is not, the
    /// PostgreSQL tests are skipped, unless `LIAISON_TEST_REQUIRE_POSTGRES=1` makes that a failure.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("LIAISON_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                assert!(
                    std::env::var("LIAISON_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "LIAISON_TEST_REQUIRE_POSTGRES=1 but LIAISON_TEST_POSTGRES_URL is not set"
                );
                eprintln!("skipped: LIAISON_TEST_POSTGRES_URL is not set");
                None
            }
        }
    }
}

/// Declares each listed `async fn name(backend: Backend)` as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(liaison_test_postgres),
                    ignore = "PostgreSQL: set LIAISON_TEST_POSTGRES_URL to run it"
                )]
                async fn $name() {
                    if let Some(backend) = $crate::common::Backend::postgres() {
                        super::$name(backend).await;
                    }
                }
            )+
        }
    };
}

/// A running server.
pub struct TestServer {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub addr: std::net::SocketAddr,
    pub database_url: String,
    channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The PostgreSQL server's admin URL and this test's database, dropped on `stop`.
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

pub async fn fresh_postgres_database(admin_url: &str) -> (String, String) {
    let admin = Database::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    let name = format!("liaison_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
    (format!("{base}/{name}"), name)
}

impl TestServer {
    pub async fn start(backend: &Backend) -> TestServer {
        TestServer::start_through(backend, None).await
    }

    /// Starts a server whose PostgreSQL connections go through `proxy` (host:port) instead.
    pub async fn start_through(
        backend: &Backend,
        proxy: Option<std::net::SocketAddr>,
    ) -> TestServer {
        TestServer::start_with(backend, proxy, |_| {}, None).await
    }

    /// Starts a server with `configure` applied to its configuration; its default channel speaks
    /// TLS with `client_tls` when given.
    pub async fn start_with(
        backend: &Backend,
        proxy: Option<std::net::SocketAddr>,
        configure: impl FnOnce(&mut Config),
        client_tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path());
        configure(&mut config);
        let mut postgres = None;
        if let Backend::Postgres(admin_url) = backend {
            let (mut url, name) = fresh_postgres_database(admin_url).await;
            if let Some(proxy) = proxy {
                let scheme_end = url.find("://").expect("scheme") + 3;
                let host_start = url[scheme_end..]
                    .find('@')
                    .map_or(scheme_end, |at| scheme_end + at + 1);
                let host_end = host_start + url[host_start..].find('/').expect("path");
                url.replace_range(host_start..host_end, &proxy.to_string());
            }
            config.database_url = Some(url);
            config.database_max_connections = 8;
            postgres = Some((admin_url.clone(), name));
        }
        let database_url = config.database_url();
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let state = liaison_server::open(&config, clock.clone())
            .await
            .expect("open state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel();
        let server_state = state.clone();
        let task = tokio::spawn(async move {
            liaison_server::serve_state(server_state, &config, listener, async {
                rx.await.ok();
            })
            .await
            .expect("server ran");
        });
        let channel = match client_tls {
            Some(tls) => Channel::from_shared(format!("https://localhost:{}", addr.port()))
                .expect("uri")
                .tls_config(tls)
                .expect("client TLS"),
            None => Channel::from_shared(format!("http://{addr}")).expect("uri"),
        }
        .connect_lazy();
        TestServer {
            addr,
            state,
            clock,
            database_url,
            channel,
            shutdown: Some(tx),
            task: Some(task),
            postgres,
            _dir: dir,
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Waits until every audit record committed so far is sealed into the chain.
    pub async fn sealed(&self) {
        let state = &self.state;
        assert!(
            state
                .sealer
                .settle(&state.db, &state.keys.current(), &*state.clock)
                .await
                .expect("seal"),
            "the audit records were not sealed"
        );
    }

    /// A second connection to the server's database, as an operator (or an attacker) would have,
    /// once every audit record committed so far is sealed into the chain.
    pub async fn raw_db(&self) -> DatabaseConnection {
        self.sealed().await;
        Database::connect(&self.database_url)
            .await
            .expect("raw database connection")
    }

    /// Stops the server gracefully; in-flight calls finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
        if let Some((admin_url, name)) = self.postgres.take() {
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("drop test database");
            admin.close().await.ok();
        }
    }

    pub fn anonymous(&self) -> Client {
        Client {
            channel: self.channel(),
            bearer: Bearer(None),
            user_id: String::new(),
            username: String::new(),
            refresh_token: String::new(),
        }
    }

    /// A client carrying `token` as its bearer token.
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            channel: self.channel(),
            bearer: Bearer(Some(format!("Bearer {token}").parse().expect("metadata"))),
            user_id: String::new(),
            username: String::new(),
            refresh_token: String::new(),
        }
    }
}

#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    pub fn token(token: &str) -> Bearer {
        Bearer(Some(format!("Bearer {token}").parse().expect("metadata")))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

/// A signed-in user's clients.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    bearer: Bearer,
    pub user_id: String,
    pub username: String,
    pub refresh_token: String,
}

impl Client {
    /// The bearer token this client sends.
    pub fn bearer_token(&self) -> String {
        self.bearer
            .0
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_string()
    }

    pub fn auth(&self) -> AuthServiceClient<Authed> {
        AuthServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn directory(&self) -> DirectoryServiceClient<Authed> {
        DirectoryServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn admin(&self) -> AdminServiceClient<Authed> {
        AdminServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn cases(&self) -> CaseServiceClient<Authed> {
        CaseServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn audit(&self) -> AuditServiceClient<Authed> {
        AuditServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
    pub fn stats(&self) -> StatsServiceClient<Authed> {
        StatsServiceClient::with_interceptor(self.channel.clone(), self.bearer.clone())
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// Two agencies with an ACTIVE channel covering DRUGS and FRAUD (not CYBER), their users, and a
/// third country's agency that is party to nothing.
pub struct World {
    pub server: TestServer,
    pub in_ncb: pb::Agency,
    pub ca_rcmp: pb::Agency,
    pub us_fbi: pb::Agency,
    pub channel: pb::Channel,
    pub admin_in: Client,
    pub admin_ca: Client,
    pub sup_in: Client,
    pub sup_ca: Client,
    pub officer_in: Client,
    pub officer_ca: Client,
    pub officer_ca2: Client,
    pub auditor_in: Client,
    pub auditor_ca: Client,
    pub sup_us: Client,
}

impl World {
    pub async fn new(backend: Backend) -> World {
        World::with_config(backend, |_| {}).await
    }

    /// The same world on a server with `configure` applied to its configuration.
    pub async fn with_config(backend: Backend, configure: impl FnOnce(&mut Config)) -> World {
        let server = TestServer::start_with(&backend, None, configure, None).await;
        let state = &server.state;
        let agency = |code: &'static str, name: &'static str, country: &'static str| async move {
            let a = liaison_server::ops::add_agency(state, code, name, country)
                .await
                .expect("add agency");
            pb::Agency {
                id: a.id.into(),
                code: a.code,
                name: a.name,
                country: a.country,
                time_zone: a.time_zone,
                holidays: Vec::new(),
            }
        };
        let in_ncb = agency("IN-NCB", "Narcotics Control Bureau", "IN").await;
        let ca_rcmp = agency("CA-RCMP", "Royal Canadian Mounted Police", "CA").await;
        let us_fbi = agency("US-FBI", "Federal Bureau of Investigation", "US").await;

        let admin_in = server.user("IN-NCB", "admin.in", &[Role::Admin]).await;
        let admin_ca = server.user("CA-RCMP", "admin.ca", &[Role::Admin]).await;
        let sup_in = server.user("IN-NCB", "sup.in", &[Role::Supervisor]).await;
        let sup_ca = server.user("CA-RCMP", "sup.ca", &[Role::Supervisor]).await;
        let officer_in = server.user("IN-NCB", "officer.in", &[Role::Officer]).await;
        let officer_ca = server.user("CA-RCMP", "officer.ca", &[Role::Officer]).await;
        let officer_ca2 = server
            .user("CA-RCMP", "officer.ca2", &[Role::Officer])
            .await;
        let auditor_in = server.user("IN-NCB", "auditor.in", &[Role::Auditor]).await;
        let auditor_ca = server.user("CA-RCMP", "auditor.ca", &[Role::Auditor]).await;
        let sup_us = server
            .user("US-FBI", "sup.us", &[Role::Supervisor, Role::Officer])
            .await;

        let proposed = admin_in
            .admin()
            .propose_channel(pb::ProposeChannelRequest {
                partner_agency_id: ca_rcmp.id.clone(),
                categories: vec![pb::Category::Drugs as i32, pb::Category::Fraud as i32],
            })
            .await
            .expect("propose channel")
            .into_inner();
        let channel = admin_ca
            .admin()
            .approve_channel(pb::ApproveChannelRequest {
                id: proposed.id,
                etag: proposed.etag,
            })
            .await
            .expect("approve channel")
            .into_inner();

        World {
            server,
            in_ncb,
            ca_rcmp,
            us_fbi,
            channel,
            admin_in,
            admin_ca,
            sup_in,
            sup_ca,
            officer_in,
            officer_ca,
            officer_ca2,
            auditor_in,
            auditor_ca,
            sup_us,
        }
    }

    /// Files a referral from India to Canada as `who`.
    pub async fn file(&self, who: &Client, title: &str, priority: pb::Priority) -> pb::Case {
        let case = who
            .cases()
            .file_referral(self.referral(title, priority))
            .await
            .expect("file referral")
            .into_inner();
        self.server.clock.advance(chrono::Duration::milliseconds(1));
        case
    }

    pub fn referral(&self, title: &str, priority: pb::Priority) -> pb::FileReferralRequest {
        pb::FileReferralRequest {
            legal_basis_id: String::new(),
            items: Vec::new(),
            category_code: String::new(),
            preservation: None,
            kind: 0,
            markings: None,
            request_id: uuid::Uuid::new_v4().to_string(),
            channel_id: self.channel.id.clone(),
            category: pb::Category::Drugs as i32,
            priority: priority as i32,
            title: title.to_string(),
            summary: format!("Summary of {title}: shipment of precursors via courier."),
        }
    }

    /// A term proposed by India's admin and agreed by Canada's.
    pub async fn agree_term(&self, request: pb::ProposeChannelTermRequest) -> pb::ChannelTerm {
        let proposed = self
            .admin_in
            .admin()
            .propose_channel_term(request)
            .await
            .expect("propose")
            .into_inner();
        self.admin_ca
            .admin()
            .approve_channel_term(pb::ApproveChannelTermRequest {
                id: proposed.id,
                reason: String::new(),
            })
            .await
            .expect("agree")
            .into_inner()
    }

    /// Files, acknowledges and assigns a case to `officer_ca`: IN_PROGRESS.
    pub async fn case_in_progress(&self, title: &str) -> pb::Case {
        let case = self
            .file(&self.officer_in, title, pb::Priority::Routine)
            .await;
        self.acknowledge_and_assign(&self.sup_ca, case).await
    }

    /// `sup` (a Canadian supervisor) acknowledges `case` and assigns it to `officer_ca`.
    pub async fn acknowledge_and_assign(&self, sup: &Client, case: pb::Case) -> pb::Case {
        let case = sup
            .cases()
            .acknowledge_case(pb::AcknowledgeCaseRequest {
                id: case.id,
                etag: case.etag,
            })
            .await
            .expect("acknowledge")
            .into_inner();
        sup.cases()
            .assign_case(pb::AssignCaseRequest {
                id: case.id,
                assignee_id: self.officer_ca.user_id.clone(),
                etag: case.etag,
            })
            .await
            .expect("assign")
            .into_inner()
    }

    /// officer.in's current access token.
    pub fn officer_in_token(&self) -> String {
        self.officer_in.bearer_token()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

impl TestServer {
    /// The same user signed in again now (after the clock moved past the old token's expiry).
    pub async fn fresh(&self, client: &Client) -> Client {
        self.sign_in(&client.username, PASSWORD).await
    }

    /// Signs in over gRPC.
    pub async fn sign_in(&self, username: &str, password: &str) -> Client {
        let tokens = self
            .anonymous()
            .auth()
            .login(pb::LoginRequest {
                username: username.into(),
                password: password.into(),
            })
            .await
            .expect("sign in")
            .into_inner();
        let claims = self
            .state
            .keys
            .verify(&tokens.access_token, self.state.clock.now())
            .expect("token");
        let mut client = self.with_token(&tokens.access_token);
        client.user_id = claims.sub;
        client.username = username.to_string();
        client.refresh_token = tokens.refresh_token;
        client
    }

    /// Adds a user with the operator command and signs them in.
    pub async fn user(&self, agency: &str, username: &str, roles: &[Role]) -> Client {
        let roles: Roles = roles.iter().copied().collect();
        let user =
            liaison_server::ops::add_user(&self.state, agency, username, username, roles, PASSWORD)
                .await
                .expect("add user");
        let client = self.sign_in(username, PASSWORD).await;
        assert_eq!(client.user_id, user.id);
        client
    }
}

/// The status code of a call's result.
pub fn code<T>(result: &Result<tonic::Response<T>, Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// Asserts a call failed with `expected`, showing the message when it did not.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>, expected: Code) {
    match result {
        Ok(response) => panic!("expected {expected:?}, got OK: {:?}", response.into_inner()),
        Err(status) => assert_eq!(status.code(), expected, "message: {}", status.message()),
    }
}

/// Registers India's NCB and Canada's RCMP and the given users (agency code, username, role)
/// through the operator commands; Canada's agency comes back.
pub async fn seed_two_agencies(
    state: &AppState,
    users: &[(&str, &str, Role)],
) -> liaison_server::model::Agency {
    liaison_server::ops::add_agency(state, "IN-NCB", "Narcotics Control Bureau", "IN")
        .await
        .expect("add agency");
    let ca =
        liaison_server::ops::add_agency(state, "CA-RCMP", "Royal Canadian Mounted Police", "CA")
            .await
            .expect("add agency");
    for (agency, username, role) in users {
        let roles: Roles = [*role].into_iter().collect();
        liaison_server::ops::add_user(state, agency, username, username, roles, PASSWORD)
            .await
            .expect("add user");
    }
    ca
}

/// A program of another workspace crate (`liaisonctl`, `liaison-bench`), beside this test binary.
/// Cargo builds a package's programs for `cargo test` when the package has integration tests of
/// its own, as both have; `cargo test --workspace` (the README's command) therefore builds them
/// before any test runs. Cargo gives `CARGO_BIN_EXE_*` only for the test's own package.
pub fn workspace_program(name: &str) -> std::path::PathBuf {
    let test = std::env::current_exe().unwrap();
    // target/<profile>/deps/it-<hash> -> target/<profile>/<name>
    let profile_dir = test.parent().and_then(|deps| deps.parent()).unwrap();
    let program = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        program.exists(),
        "{} is not built: run the tests with `cargo test --workspace`, or `cargo build --workspace --bins` first",
        program.display()
    );
    program
}
