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

use std::time::Instant;

use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::authn::{self, Principal};
use crate::domain::call::{self, Call};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Shared by every service implementation.
#[derive(Clone)]
pub struct Api {
    pub(crate) state: AppState,
}

impl Api {
    pub fn new(state: AppState) -> Self {
        Api { state }
    }
}

/// A call that has begun: its audit context, its message, and who is calling.
pub(crate) struct Started<M> {
    pub call: Call,
    pub message: M,
    pub principal: AppResult<Principal>,
    started: Instant,
}

fn request_id<M>(request: &Request<M>) -> String {
    request
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

impl Api {
    /// Starts a call that needs a signed-in caller.
    pub(crate) async fn begin<M>(&self, request: Request<M>, method: &str) -> Started<M> {
        let started = Instant::now();
        let call = Call::new(
            format!("liaison.v1.{method}"),
            request_id(&request),
            request.remote_addr().map(|a| a.to_string()),
        );
        let principal = authn::authenticate(&self.state, request.metadata()).await;
        if let Ok(p) = &principal {
            call.set_principal(p);
        }
        Started {
            call,
            message: request.into_inner(),
            principal,
            started,
        }
    }

    /// Starts a call open to anyone (signing in).
    pub(crate) fn begin_public<M>(&self, request: Request<M>, method: &str) -> Started<M> {
        let started = Instant::now();
        let call = Call::new(
            format!("liaison.v1.{method}"),
            request_id(&request),
            request.remote_addr().map(|a| a.to_string()),
        );
        Started {
            call,
            message: request.into_inner(),
            principal: Err(AppError::Unauthenticated("not signed in")),
            started,
        }
    }

    pub(crate) async fn finish<M, T>(
        &self,
        started: Started<M>,
        result: AppResult<T>,
    ) -> Result<Response<T>, Status> {
        let Started { call, started, .. } = started;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let request_id = MetadataValue::try_from(call.request_id.as_str()).ok();
        let user_id = call.actor_id().unwrap_or_default();
        match result {
            Ok(value) => {
                tracing::info!(method = %call.method, request_id = %call.request_id, %user_id, status = "OK", latency_ms, "call");
                let mut response = Response::new(value);
                if let Some(id) = request_id {
                    response.metadata_mut().insert("x-request-id", id);
                }
                Ok(response)
            }
            Err(err) => {
                if let Err(audit_err) = call::audit_failure(&self.state, &call, &err).await {
                    tracing::error!(request_id = %call.request_id, error = %audit_err, "could not audit a failed call");
                }
                let code = err.code();
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
