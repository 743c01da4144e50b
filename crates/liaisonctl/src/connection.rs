//! Reaching the server and calling it as the signed-in user: the channel (plaintext, TLS or mutual
//! TLS), the bearer token on every call, and the refresh that keeps the access token alive — ahead
//! of its expiry, or once after an UNAUTHENTICATED answer, with the call then tried again once.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use liaison_proto as pb;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Response, Status};

use crate::error::{describe, CliError};
use crate::output::Output;
use crate::session::{Session, Store, TlsFiles};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";
/// Each unary call's deadline (the server gives itself 30 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(45);
/// Large enough for a page of 500 cases with full summaries.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The generated clients, each allowed the large messages a full page of cases can make.
pub mod clients {
    use liaison_proto::admin_service_client::AdminServiceClient;
    use liaison_proto::audit_service_client::AuditServiceClient;
    use liaison_proto::auth_service_client::AuthServiceClient;
    use liaison_proto::case_service_client::CaseServiceClient;
    use liaison_proto::directory_service_client::DirectoryServiceClient;
    use liaison_proto::stats_service_client::StatsServiceClient;
    use tonic::transport::Channel;

    use super::MAX_MESSAGE_BYTES;

    pub fn auth(channel: Channel) -> AuthServiceClient<Channel> {
        AuthServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
    pub fn cases(channel: Channel) -> CaseServiceClient<Channel> {
        CaseServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
    pub fn admin(channel: Channel) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
    pub fn directory(channel: Channel) -> DirectoryServiceClient<Channel> {
        DirectoryServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
    pub fn audit(channel: Channel) -> AuditServiceClient<Channel> {
        AuditServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
    pub fn stats(channel: Channel) -> StatsServiceClient<Channel> {
        StatsServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
}

/// A closure calling one RPC of one generated client, for [`Ctl::call`]: `rpc!(cases.get_case)`.
macro_rules! rpc {
    ($client:ident . $method:ident) => {
        |channel, request| async move {
            $crate::connection::clients::$client(channel)
                .$method(request)
                .await
        }
    };
}

/// Where to connect, from the command line and the environment.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    pub server: Option<String>,
    pub tls: TlsFiles,
}

/// `host:port` becomes `http://host:port` (or `https://` when certificates are given).
pub fn normalize_server(server: &str, tls: &TlsFiles) -> String {
    let server = server.trim().trim_end_matches('/');
    if server.contains("://") {
        server.to_string()
    } else if tls.ca_cert.is_some() || tls.client_cert.is_some() {
        format!("https://{server}")
    } else {
        format!("http://{server}")
    }
}

/// A connected channel to `server`.
pub async fn connect(server: &str, tls: &TlsFiles) -> Result<Channel, CliError> {
    let https = server.starts_with("https://");
    if !https && !server.starts_with("http://") {
        return Err(CliError::Usage(format!(
            "the server must be http://host:port or https://host:port, not {server}"
        )));
    }
    if !https && (tls.ca_cert.is_some() || tls.client_cert.is_some() || tls.server_name.is_some()) {
        return Err(CliError::Usage(format!(
            "TLS options were given but {server} is plaintext: use https://"
        )));
    }
    let mut endpoint = Endpoint::from_shared(server.to_string())
        .map_err(|e| CliError::Usage(format!("bad server address {server}: {e}")))?
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("liaisonctl/", env!("CARGO_PKG_VERSION")))
        .map_err(|e| CliError::Other(describe(&e)))?;
    if https {
        endpoint = endpoint
            .tls_config(tls_config(tls)?)
            .map_err(|e| CliError::Usage(format!("TLS settings: {}", describe(&e))))?;
    }
    endpoint.connect().await.map_err(|e| CliError::Connect {
        server: server.to_string(),
        detail: describe(&e),
    })
}

fn tls_config(tls: &TlsFiles) -> Result<ClientTlsConfig, CliError> {
    let read = |path: &PathBuf| {
        std::fs::read(path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
    };
    let mut config = ClientTlsConfig::new();
    config = match &tls.ca_cert {
        // Only the given CA: an agency's private CA should not share trust with the public ones.
        Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca)?)),
        None => config.with_native_roots(),
    };
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        (None, None) => {}
        _ => {
            return Err(CliError::Usage(
                "mutual TLS needs both --client-cert and --client-key".into(),
            ))
        }
    }
    if let Some(name) = &tls.server_name {
        config = config.domain_name(name.clone());
    }
    Ok(config)
}

/// The state of one liaisonctl invocation: output, options, session and channel.
pub struct Ctl {
    pub out: Output,
    pub store: Store,
    options: ConnectOptions,
    session: Option<Session>,
    channel: Option<Channel>,
    /// The server `channel` goes to.
    server: Option<String>,
    /// An UNAUTHENTICATED answer has already been retried after a refresh.
    retried: bool,
}

impl Ctl {
    pub fn new(out: Output, store: Store, options: ConnectOptions) -> Ctl {
        Ctl {
            out,
            store,
            options,
            session: None,
            channel: None,
            server: None,
            retried: false,
        }
    }

    /// Where a new sign-in goes: the options, else the server of the last session, else the default.
    pub fn sign_in_target(&self) -> Result<(String, TlsFiles), CliError> {
        let previous = self.store.load().ok().flatten();
        let tls = merge_tls(
            &self.options.tls,
            previous.as_ref().map(|s| &s.tls),
            self.options.server.is_none(),
        );
        let server = match (&self.options.server, &previous) {
            (Some(server), _) => normalize_server(server, &tls),
            (None, Some(previous)) => previous.server.clone(),
            (None, None) => DEFAULT_SERVER.to_string(),
        };
        Ok((server, tls))
    }

    /// A channel to `server`, for calls made before there is a session (signing in).
    pub async fn connect_to(&mut self, server: &str, tls: &TlsFiles) -> Result<Channel, CliError> {
        let channel = connect(server, tls).await?;
        self.channel = Some(channel.clone());
        self.server = Some(server.to_string());
        Ok(channel)
    }

    /// The session, loaded once; an error telling the user to sign in when there is none.
    pub fn session(&mut self) -> Result<&Session, CliError> {
        if self.session.is_none() {
            let session = self.store.load()?.ok_or_else(|| {
                CliError::NotSignedIn("not signed in: run `liaisonctl login`".into())
            })?;
            if let Some(server) = &self.options.server {
                let wanted = normalize_server(server, &self.options.tls);
                if wanted != session.server {
                    return Err(CliError::NotSignedIn(format!(
                        "signed in to {}, not {wanted}: run `liaisonctl login --server {wanted}`",
                        session.server
                    )));
                }
            }
            self.session = Some(session);
        }
        self.session
            .as_ref()
            .ok_or_else(|| CliError::NotSignedIn("not signed in".into()))
    }

    /// Replaces the session in memory and on disk.
    pub fn save_session(&mut self, session: Session) -> Result<(), CliError> {
        self.store.save(&session)?;
        self.session = Some(session);
        Ok(())
    }

    /// Forgets the session in memory (the caller deletes the file).
    pub fn forget_session(&mut self) {
        self.session = None;
    }

    async fn channel(&mut self) -> Result<Channel, CliError> {
        if let Some(channel) = &self.channel {
            return Ok(channel.clone());
        }
        let session = self.session()?.clone();
        let tls = merge_tls(&self.options.tls, Some(&session.tls), true);
        let server = session.server;
        self.connect_to(&server, &tls).await
    }

    /// A unary call as the signed-in user.
    pub async fn call<Req, Resp, F, Fut>(&mut self, request: Req, rpc: F) -> Result<Resp, CliError>
    where
        Req: Clone,
        F: Fn(Channel, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        self.call_with(request, Some(CALL_TIMEOUT), rpc).await
    }

    /// A server-streaming call as the signed-in user: no deadline, the stream runs as long as it runs.
    pub async fn call_streaming<Req, Resp, F, Fut>(
        &mut self,
        request: Req,
        rpc: F,
    ) -> Result<Resp, CliError>
    where
        Req: Clone,
        F: Fn(Channel, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        self.call_with(request, None, rpc).await
    }

    async fn call_with<Req, Resp, F, Fut>(
        &mut self,
        request: Req,
        timeout: Option<Duration>,
        rpc: F,
    ) -> Result<Resp, CliError>
    where
        Req: Clone,
        F: Fn(Channel, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        self.ensure_fresh().await?;
        let channel = self.channel().await?;
        let first = rpc(channel.clone(), self.authorized(request.clone(), timeout)?).await;
        match first {
            Err(status) if status.code() == Code::Unauthenticated && !self.retried => {
                self.retried = true;
                self.refresh().await?;
                let second = rpc(channel, self.authorized(request, timeout)?).await;
                second
                    .map(Response::into_inner)
                    .map_err(|s| self.explain(s))
            }
            other => other.map(Response::into_inner).map_err(|s| self.explain(s)),
        }
    }

    /// A call that needs no session (signing in, the public keys).
    pub async fn call_public<Req, Resp, F, Fut>(
        &mut self,
        channel: Channel,
        request: Req,
        rpc: F,
    ) -> Result<Resp, CliError>
    where
        F: FnOnce(Channel, Request<Req>) -> Fut,
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let mut request = Request::new(request);
        request.set_timeout(CALL_TIMEOUT);
        rpc(channel, request)
            .await
            .map(Response::into_inner)
            .map_err(|s| self.explain(s))
    }

    /// The channel for public calls: the session's server when signed in, else the sign-in target.
    pub async fn public_channel(&mut self) -> Result<Channel, CliError> {
        if self.store.load()?.is_some() {
            return self.channel().await;
        }
        let (server, tls) = self.sign_in_target()?;
        self.connect_to(&server, &tls).await
    }

    fn authorized<Req>(
        &mut self,
        message: Req,
        timeout: Option<Duration>,
    ) -> Result<Request<Req>, CliError> {
        let token = &self.session()?.access_token;
        let value = format!("Bearer {token}").parse().map_err(|_| {
            CliError::NotSignedIn(
                "the stored access token is unusable: sign in again with `liaisonctl login`".into(),
            )
        })?;
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", value);
        if let Some(timeout) = timeout {
            request.set_timeout(timeout);
        }
        Ok(request)
    }

    /// A server error with advice where the session explains it.
    pub fn explain(&self, status: Status) -> CliError {
        if let Some(detail) = transport_failure(&status) {
            return CliError::Connect {
                server: self.server.clone().unwrap_or_else(|| "the server".into()),
                detail,
            };
        }
        let must_change = self
            .session
            .as_ref()
            .is_some_and(|s| s.must_change_password);
        let code = status.code();
        let error = CliError::from(status);
        if code == Code::FailedPrecondition && must_change {
            error.with_hint("an admin reset your password: run `liaisonctl password change`")
        } else {
            error
        }
    }

    /// Refreshes ahead of time when the access token is expired or about to expire.
    pub async fn ensure_fresh(&mut self) -> Result<(), CliError> {
        let now = Utc::now();
        let session = self.session()?;
        if session.ended(now) {
            return Err(session_ended());
        }
        if session.needs_refresh(now) {
            self.refresh().await?;
        }
        Ok(())
    }

    /// Trades the refresh token for new tokens and saves them. Under the session lock, and only if
    /// no other liaisonctl did it meanwhile: a refresh token presented twice ends the session.
    pub async fn refresh(&mut self) -> Result<(), CliError> {
        let stale = self.session()?.access_token.clone();
        let _lock = self.store.lock().await?;
        let mut current = self.store.load()?.ok_or_else(|| {
            CliError::NotSignedIn("signed out meanwhile: run `liaisonctl login`".into())
        })?;
        if current.access_token != stale && !current.needs_refresh(Utc::now()) {
            self.session = Some(current);
            return Ok(());
        }
        let channel = self.channel().await?;
        let mut request = Request::new(pb::RefreshRequest {
            refresh_token: current.refresh_token.clone(),
        });
        request.set_timeout(CALL_TIMEOUT);
        let answer = clients::auth(channel).refresh(request).await;
        match answer {
            Ok(tokens) => {
                current.take_tokens(&tokens.into_inner());
                self.save_session(current)
            }
            Err(status) if status.code() == Code::Unauthenticated => Err(session_ended()),
            Err(status) => Err(self.explain(status)),
        }
    }
}

/// What went wrong, when a call failed in the transport (a refused TLS handshake, a dropped
/// connection, HTTP/2 spoken to a TLS port) rather than being answered by the server: only such
/// statuses, made on this side, carry the error they came from.
pub fn transport_failure(status: &Status) -> Option<String> {
    std::error::Error::source(status).map(describe)
}

fn session_ended() -> CliError {
    CliError::NotSignedIn(
        "your session has ended (signed out, revoked, idle too long or past its lifetime): \
         sign in again with `liaisonctl login`"
            .into(),
    )
}

/// The certificate files given now, filling in from the session's those not given — unless the
/// server was named anew (`keep_session`: false), when the session's certificates do not apply.
fn merge_tls(given: &TlsFiles, session: Option<&TlsFiles>, keep_session: bool) -> TlsFiles {
    let Some(session) = session.filter(|_| keep_session) else {
        return given.clone();
    };
    TlsFiles {
        ca_cert: given.ca_cert.clone().or_else(|| session.ca_cert.clone()),
        client_cert: given
            .client_cert
            .clone()
            .or_else(|| session.client_cert.clone()),
        client_key: given
            .client_key
            .clone()
            .or_else(|| session.client_key.clone()),
        server_name: given
            .server_name
            .clone()
            .or_else(|| session.server_name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        let none = TlsFiles::default();
        let ca = TlsFiles {
            ca_cert: Some("ca.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            normalize_server("127.0.0.1:50051", &none),
            "http://127.0.0.1:50051"
        );
        assert_eq!(
            normalize_server("liaison.example:443", &ca),
            "https://liaison.example:443"
        );
        assert_eq!(
            normalize_server("https://liaison.example/", &none),
            "https://liaison.example"
        );
    }

    #[tokio::test]
    async fn tls_options_need_https() {
        let ca = TlsFiles {
            ca_cert: Some("ca.pem".into()),
            ..Default::default()
        };
        let err = connect("http://127.0.0.1:1", &ca).await.unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = connect("ftp://x", &TlsFiles::default()).await.unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
