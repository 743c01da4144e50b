//! The gRPC transport: one file per service. A handler decodes and validates its request, calls one
//! domain function, and converts the answer; prost types stop here.
//!
//! Every handler runs through [`Api::begin`] and [`Api::finish`]: `begin` names the call and
//! authenticates it, `finish` audits a failure (a success was audited in its own transaction), logs
//! one line, and maps the error to a status in the one place that does so.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod cases;
mod convert;
pub mod directory;
mod people;
pub mod stats;
mod watch;

use std::sync::Arc;
use std::time::Instant;

use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::authn;
use crate::authz::{self, AgencyAdmin, AuditScope, CaseScope};
use crate::config::Config;
use crate::domain::call::{self, Call};
use crate::error::{AppError, AppResult};
use crate::limits::MAX_ID_CHARS;
use crate::model::Principal;
use crate::state::AppState;

/// Shared by every service implementation.
#[derive(Clone)]
pub struct Api {
    pub(crate) state: AppState,
    /// One permit per signed-in call in flight: a bound on concurrent calls, refused beyond it.
    calls: Arc<tokio::sync::Semaphore>,
    /// The same for the calls open to anyone, apart: a sign-in flood leaves `calls` alone.
    public_calls: Arc<tokio::sync::Semaphore>,
    /// The watch streams: their bound, their settings, and the signal that ends them at shutdown.
    watch: Arc<watch::Streams>,
}

impl Api {
    pub fn new(state: AppState, config: &Config) -> Self {
        Api {
            state,
            calls: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_calls.max(1),
            )),
            public_calls: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_public_calls.max(1),
            )),
            watch: Arc::new(watch::Streams::new(config)),
        }
    }

    /// Ends every watch stream (with UNAVAILABLE, so clients resume elsewhere): graceful shutdown
    /// waits for open calls, and a watch stream would otherwise never end.
    pub fn drain(&self) {
        self.watch.drain();
    }
}

/// A call that has begun: its audit context, its message, and who is calling.
pub(crate) struct Started<M> {
    pub call: Arc<Call>,
    pub message: M,
    principal: AppResult<Principal>,
    /// The call's place among the calls in flight, or why it has none.
    admission: AppResult<tokio::sync::OwnedSemaphorePermit>,
    /// The access token the call came with, or why it has none.
    bearer: AppResult<String>,
    started: Instant,
    guard: CancelGuard,
}

impl<M> Started<M> {
    /// The signed-in caller, unless an admin reset their password and they have not changed it.
    pub fn caller(&self) -> AppResult<&Principal> {
        let p = self.caller_changing_password()?;
        authz::require_settled_password(p)?;
        Ok(p)
    }

    /// The access token the call came with (a watch stream re-authenticates it before each read).
    pub fn bearer(&self) -> AppResult<&str> {
        self.bearer.as_deref().map_err(Clone::clone)
    }

    /// The signed-in caller, even with a password they must change (for ChangePassword itself).
    pub fn caller_changing_password(&self) -> AppResult<&Principal> {
        self.admitted()?;
        self.principal.as_ref().map_err(Clone::clone)
    }

    /// Refuses the call when the server is at its limit of concurrent calls (what the calls open
    /// to anyone check; signed-in calls check it through [`Started::caller`]).
    pub fn admitted(&self) -> AppResult<()> {
        self.admission.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// The caller as an admin of their agency. Checked before the request is validated, so a
    /// caller without the role is refused (and audited as DENIED) whatever they sent.
    pub fn admin(&self) -> AppResult<AgencyAdmin> {
        authz::agency_admin(self.caller()?)
    }

    /// The caller as an auditor: the part of the log they may read; checked like [`Started::admin`].
    pub fn auditor(&self) -> AppResult<AuditScope> {
        authz::auditor(self.caller()?)
    }

    /// The caller as a reader of their agency's channels' figures; checked like
    /// [`Started::admin`].
    pub fn stats_reader(&self) -> AppResult<authz::StatsReader> {
        authz::stats_reader(self.caller()?)
    }

    /// The cases the caller may work (OFFICER or SUPERVISOR); checked like [`Started::admin`].
    pub fn case_worker(&self) -> AppResult<CaseScope> {
        authz::case_scope(self.caller()?)
    }
}

/// Audits a call whose future is dropped before [`Api::finish`] (the client cancelled, or the
/// deadline passed): the entry is written from a task of its own.
struct CancelGuard {
    armed: Option<(AppState, Arc<Call>)>,
}

impl CancelGuard {
    fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some((state, call)) = self.armed.take() {
            if call.is_audited() {
                return;
            }
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = call::audit_refusal(&state, &call, &AppError::Cancelled).await {
                        tracing::error!(request_id = %call.request_id, error = %e, "could not audit a cancelled call");
                    }
                    tracing::info!(method = %call.method, request_id = %call.request_id, status = "Cancelled", "call");
                });
            }
        }
    }
}

/// The access token of `authorization: Bearer <access_token>` metadata.
fn bearer_token(metadata: &tonic::metadata::MetadataMap) -> AppResult<&str> {
    let header = metadata
        .get("authorization")
        .ok_or(AppError::Unauthenticated(
            "missing authorization: Bearer <access_token> metadata",
        ))?;
    header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthenticated(
            "authorization metadata must be: Bearer <access_token>",
        ))
}

/// A place among the calls in flight that `bound` counts, or `Busy` when they are all taken.
fn admit(bound: &Arc<tokio::sync::Semaphore>) -> AppResult<tokio::sync::OwnedSemaphorePermit> {
    bound
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::Busy)
}

fn request_id<M>(request: &Request<M>) -> String {
    request
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=MAX_ID_CHARS).contains(&v.len())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

impl Api {
    /// Who `token` stands for now (every call, and every read of a watch stream, asks afresh).
    pub(crate) async fn authenticate(&self, token: &str) -> AppResult<Principal> {
        let state = &self.state;
        authn::authenticate(&state.db, &state.keys, state.clock.now(), token).await
    }

    /// Starts a call that needs a signed-in caller. A missing token, or one that does not verify,
    /// is refused within the public calls' bound, before the call takes a place among the
    /// signed-in calls: a flood of forged tokens leaves signed-in people their capacity.
    pub(crate) async fn begin<M>(&self, request: Request<M>, method: &str) -> Started<M> {
        let mut started = self.start(request, method);
        let state = &self.state;
        let now = state.clock.now();
        let claims = match &started.bearer {
            Ok(token) => authn::verify_token(&state.keys, now, token),
            Err(e) => Err(e.clone()),
        };
        let claims = match claims {
            Ok(claims) => claims,
            Err(e) => {
                started.admission = admit(&self.public_calls);
                started.principal = Err(e);
                return started;
            }
        };
        started.admission = admit(&self.calls);
        if started.admission.is_err() {
            return started;
        }
        started.principal = authn::signed_in(&state.db, now, &claims).await;
        if let Ok(p) = &started.principal {
            started.call.set_principal(p);
        }
        started
    }

    /// Starts a call open to anyone (signing in), within the public calls' own bound.
    pub(crate) fn begin_public<M>(&self, request: Request<M>, method: &str) -> Started<M> {
        let mut started = self.start(request, method);
        started.admission = admit(&self.public_calls);
        started
    }

    /// Names the call; it has no place among the calls in flight until [`admit`] gives it one.
    fn start<M>(&self, request: Request<M>, method: &str) -> Started<M> {
        let call = Arc::new(Call::new(
            format!("liaison.v1.{method}"),
            request_id(&request),
            request.remote_addr().map(|a| a.to_string()),
        ));
        let (metadata, _, message) = request.into_parts();
        let bearer = bearer_token(&metadata).map(str::to_string);
        Started {
            admission: Err(AppError::Busy),
            guard: CancelGuard {
                armed: Some((self.state.clone(), call.clone())),
            },
            call,
            message,
            bearer,
            principal: Err(AppError::Unauthenticated("not signed in")),
            started: Instant::now(),
        }
    }

    pub(crate) async fn finish<M, T>(
        &self,
        started: Started<M>,
        result: AppResult<T>,
    ) -> Result<Response<T>, Status> {
        let Started {
            call,
            started,
            mut guard,
            ..
        } = started;
        let elapsed = started.elapsed();
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let request_id = MetadataValue::try_from(call.request_id.as_str()).ok();
        let user_id = call.actor_id().unwrap_or_default();
        match result {
            Ok(value) => {
                guard.disarm();
                self.state
                    .metrics
                    .observe_call(&call.method, tonic::Code::Ok, elapsed);
                tracing::info!(method = %call.method, request_id = %call.request_id, %user_id, status = "OK", latency_ms, "call");
                let mut response = Response::new(value);
                if let Some(id) = request_id {
                    response.metadata_mut().insert("x-request-id", id);
                }
                Ok(response)
            }
            Err(err) => {
                // A call that cannot be audited fails, whatever it was going to answer.
                // Until the entry is written, a cancellation still leaves the guard to write one.
                let audited = call::audit_refusal(&self.state, &call, &err).await;
                guard.disarm();
                let err = match audited {
                    Ok(()) => err,
                    Err(audit_err) => {
                        tracing::error!(request_id = %call.request_id, error = %audit_err, original = %err, "could not audit a failed call");
                        audit_err
                    }
                };
                let code = err.code();
                self.state.metrics.observe_call(&call.method, code, elapsed);
                if err.is_server_fault() {
                    tracing::error!(method = %call.method, request_id = %call.request_id, %user_id, status = ?code, latency_ms, error = %err, "call failed");
                } else {
                    tracing::info!(method = %call.method, request_id = %call.request_id, %user_id, status = ?code, latency_ms, "call");
                }
                let mut status = Status::from(err);
                if let Some(id) = request_id {
                    status.metadata_mut().insert("x-request-id", id);
                }
                Err(status)
            }
        }
    }
}
