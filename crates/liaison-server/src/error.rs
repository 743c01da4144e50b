//! One error type for the whole service and ONE mapping to `tonic::Status`.
//!
//! The mapping is exhaustive on purpose (no catch-all arm): a new variant must decide its status here.
//! Internal and database errors are answered with a generic message; the caller logs the detail with
//! the request id.

use sea_orm::DbErr;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// `UNAUTHENTICATED`: missing, malformed, expired or forged token, or wrong credentials.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// `PERMISSION_DENIED`: the caller's roles do not allow this.
    #[error("{0}")]
    PermissionDenied(String),
    /// `NOT_FOUND`: does not exist, or the caller may not see it (the same answer for both).
    #[error("{0}")]
    NotFound(&'static str),
    /// `INVALID_ARGUMENT`, with a `google.rpc.BadRequest` naming each bad field.
    #[error("invalid request: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// `FAILED_PRECONDITION`: a move the lifecycle or the channel forbids.
    #[error("{0}")]
    FailedPrecondition(String),
    /// `ABORTED`: the record changed since the caller read it (stale etag).
    #[error("{0}")]
    Aborted(String),
    /// `ALREADY_EXISTS`: a taken username, agency code or channel.
    #[error("{0}")]
    AlreadyExists(String),
    /// `RESOURCE_EXHAUSTED`, with a `google.rpc.RetryInfo`: too many failed sign-ins; try later.
    #[error("too many failed sign-in attempts; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// `RESOURCE_EXHAUSTED`: the server is serving as many calls as it may at once.
    #[error("the server is busy; retry shortly")]
    Busy,
    /// RESOURCE_EXHAUSTED with a message of its own: a watcher that fell behind, or one too many.
    #[error("{0}")]
    Exhausted(String),
    /// `CANCELLED`: the caller went away, or the deadline passed, before the call finished.
    #[error("the call was cancelled before it finished")]
    Cancelled,
    /// `UNAVAILABLE`: the database cannot be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// `INTERNAL`: a bug or an unexpected database answer; never shown to the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        AppError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        AppError::Internal(detail.to_string())
    }

    /// The gRPC code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            AppError::Unauthenticated(_) => Code::Unauthenticated,
            AppError::PermissionDenied(_) => Code::PermissionDenied,
            AppError::NotFound(_) => Code::NotFound,
            AppError::InvalidArgument(_) => Code::InvalidArgument,
            AppError::FailedPrecondition(_) => Code::FailedPrecondition,
            AppError::Aborted(_) => Code::Aborted,
            AppError::AlreadyExists(_) => Code::AlreadyExists,
            AppError::Cancelled => Code::Cancelled,
            AppError::TooManyAttempts { .. } | AppError::Busy | AppError::Exhausted(_) => {
                Code::ResourceExhausted
            }
            AppError::Unavailable(_) => Code::Unavailable,
            AppError::Internal(_) => Code::Internal,
        }
    }

    /// Whether the detail must stay in the logs rather than reach the caller.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, AppError::Unavailable(_) | AppError::Internal(_))
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        use sea_orm::sqlx;
        let unreachable = |e: &sqlx::Error| match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => true,
            // SQLITE_BUSY and SQLITE_LOCKED: another process held the database past busy_timeout.
            sqlx::Error::Database(db) => {
                matches!(db.code().as_deref(), Some("5") | Some("6") | Some("517"))
            }
            _ => false,
        };
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => AppError::Unavailable(err.to_string()),
            DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
            | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
                if unreachable(e) =>
            {
                AppError::Unavailable(err.to_string())
            }
            _ => AppError::Internal(err.to_string()),
        }
    }
}

impl From<AppError> for Status {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Unauthenticated(msg) => Status::unauthenticated(msg),
            AppError::PermissionDenied(msg) => Status::permission_denied(msg),
            AppError::NotFound(msg) => Status::not_found(msg),
            AppError::InvalidArgument(violations) => {
                let message = format!("invalid request: {}", describe(&violations));
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            AppError::FailedPrecondition(msg) => Status::failed_precondition(msg),
            AppError::Aborted(msg) => Status::aborted(msg),
            AppError::AlreadyExists(msg) => Status::already_exists(msg),
            AppError::Cancelled => Status::cancelled("the call was cancelled before it finished"),
            AppError::Busy => Status::resource_exhausted(
                "the server is serving as many calls as it may at once; retry shortly",
            ),
            AppError::Exhausted(msg) => Status::resource_exhausted(msg),
            AppError::TooManyAttempts { retry_after_secs } => Status::with_error_details(
                Code::ResourceExhausted,
                format!("too many failed sign-in attempts; retry in {retry_after_secs} s"),
                ErrorDetails::with_retry_info(Some(std::time::Duration::from_secs(
                    retry_after_secs,
                ))),
            ),
            AppError::Unavailable(_) => {
                Status::unavailable("the database is unavailable; try again")
            }
            AppError::Internal(_) => Status::internal("internal error"),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_bad_request_details() {
        let status: Status = AppError::InvalidArgument(vec![
            FieldViolation::new("title", "must be 1 to 200 characters"),
            FieldViolation::new("priority", "must be set"),
        ])
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details
            .bad_request()
            .map(|b| b.field_violations.clone())
            .unwrap_or_default();
        let fields: Vec<_> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["title", "priority"]);
    }

    #[test]
    fn internal_detail_never_reaches_the_caller() {
        let status: Status = AppError::internal("secret table name").into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
