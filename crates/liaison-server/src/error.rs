//! One error type for the whole service and ONE table of statuses: [`AppError::code`], exhaustive
//! on purpose (no catch-all arm), so a new variant must decide its status there. The conversion to
//! `tonic::Status` takes the code from it and adds only the details some variants carry. Internal
//! and database errors are answered with a generic message; the caller logs the detail with the
//! request id. Database errors become `AppError`s inside `repo`, the only module that knows them.

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
    /// `FAILED_PRECONDITION`, with a `google.rpc.PreconditionFailure` of type `FOUR_EYES` whose
    /// subject is the channel's rule: the move needs a second supervisor, so it must be proposed.
    #[error("{message}")]
    FourEyes { rule: &'static str, message: String },
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
    #[error("the server is serving as many calls as it may at once; retry shortly")]
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
            AppError::FailedPrecondition(_) | AppError::FourEyes { .. } => Code::FailedPrecondition,
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

    /// What the caller is told: the error itself, except for a server fault, whose detail stays in
    /// the logs.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Unavailable(_) => "the database is unavailable; try again".into(),
            AppError::Internal(_) => "internal error".into(),
            _ => self.to_string(),
        }
    }

    /// Whether the detail must stay in the logs rather than reach the caller.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, AppError::Unavailable(_) | AppError::Internal(_))
    }
}

impl From<AppError> for Status {
    fn from(err: AppError) -> Self {
        let code = err.code();
        let message = err.public_message();
        match err {
            AppError::InvalidArgument(violations) => {
                let details = ErrorDetails::with_bad_request(
                    violations
                        .into_iter()
                        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                Status::with_error_details(code, message, details)
            }
            AppError::TooManyAttempts { retry_after_secs } => Status::with_error_details(
                code,
                message,
                ErrorDetails::with_retry_info(Some(std::time::Duration::from_secs(
                    retry_after_secs,
                ))),
            ),
            AppError::FourEyes { rule, .. } => Status::with_error_details(
                code,
                message.clone(),
                ErrorDetails::with_precondition_failure(vec![
                    tonic_types::PreconditionViolation::new("FOUR_EYES", rule, message),
                ]),
            ),
            _ => Status::new(code, message),
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
    fn a_move_under_four_eyes_names_its_rule() {
        let status: Status = AppError::FourEyes {
            rule: "FOUR_EYES_DECLINE",
            message: "propose it".into(),
        }
        .into();
        assert_eq!(status.code(), Code::FailedPrecondition);
        let failure = status.get_details_precondition_failure().unwrap();
        assert_eq!(failure.violations[0].r#type, "FOUR_EYES");
        assert_eq!(failure.violations[0].subject, "FOUR_EYES_DECLINE");
    }

    #[test]
    fn internal_detail_never_reaches_the_caller() {
        let status: Status = AppError::internal("secret table name").into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }
}
