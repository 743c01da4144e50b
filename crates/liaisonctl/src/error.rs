//! What can go wrong, the exit code each answers with, and how it is told: the server's message,
//! each bad field on its own line, and what to do about it.

use serde_json::{json, Value};
use tonic::Code;
use tonic_types::StatusExt;

/// The exit codes, for `--help` and the README.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  any other error (an internal server error, a local file, a broken audit chain)
  2  usage error: a bad flag or argument
  3  not signed in, or the session ended: run `liaisonctl login` (UNAUTHENTICATED)
  4  not allowed for your roles (PERMISSION_DENIED)
  5  not found, or not visible to you (NOT_FOUND)
  6  invalid input; each bad field is named (INVALID_ARGUMENT, OUT_OF_RANGE)
  7  conflict: the case changed since you looked, it exists already, or the lifecycle forbids the
     move (ABORTED, ALREADY_EXISTS, FAILED_PRECONDITION)
  8  server unreachable or unavailable (UNAVAILABLE, DEADLINE_EXCEEDED, connection failures)
  9  too many attempts or the server is busy: try again later (RESOURCE_EXHAUSTED)";

#[derive(Debug)]
pub enum CliError {
    /// A flag or argument that cannot work; exit 2 like clap's own usage errors.
    Usage(String),
    /// No session, or one that ended; exit 3.
    NotSignedIn(String),
    /// The server answered with an error.
    Status {
        status: Box<tonic::Status>,
        hint: Option<String>,
    },
    /// The server could not be reached; exit 8.
    Connect { server: String, detail: String },
    /// Anything else: local files, a broken audit chain; exit 1.
    Other(String),
    /// Standard output was closed (`| head`): stop quietly.
    BrokenPipe,
    /// A watch stopped reconnecting after this many failed attempts in a row; exits like the last.
    GaveUp { attempts: u32, last: Box<CliError> },
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        CliError::Status {
            status: Box::new(status),
            hint: None,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Other(e.to_string())
        }
    }
}

impl CliError {
    /// Adds what to do about a server error, unless one is there already.
    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        match self {
            CliError::Status { status, hint: None } => CliError::Status {
                status,
                hint: Some(hint.into()),
            },
            other => other,
        }
    }

    pub fn code(&self) -> Option<Code> {
        match self {
            CliError::Status { status, .. } => Some(status.code()),
            CliError::GaveUp { last, .. } => last.code(),
            _ => None,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::NotSignedIn(_) => 3,
            CliError::Connect { .. } => 8,
            CliError::Other(_) => 1,
            CliError::BrokenPipe => 0,
            CliError::Status { status, .. } => exit_code_for(status.code()),
            CliError::GaveUp { last, .. } => last.exit_code(),
        }
    }

    /// A stable name for the kind of error: the gRPC code's name, or one of our own.
    fn kind(&self) -> &'static str {
        match self {
            CliError::Usage(_) => "USAGE",
            CliError::NotSignedIn(_) => "NOT_SIGNED_IN",
            CliError::Connect { .. } => "CONNECTION_FAILED",
            CliError::Other(_) | CliError::BrokenPipe => "ERROR",
            CliError::Status { status, .. } => code_name(status.code()),
            CliError::GaveUp { last, .. } => last.kind(),
        }
    }

    fn message(&self) -> String {
        match self {
            CliError::Usage(m) | CliError::NotSignedIn(m) | CliError::Other(m) => m.clone(),
            CliError::Connect { server, detail } => format!("cannot reach {server}: {detail}"),
            CliError::Status { status, .. } => status.message().to_string(),
            CliError::BrokenPipe => "standard output closed".into(),
            CliError::GaveUp { attempts, last } => {
                format!(
                    "gave up after {attempts} failed attempts in a row: {}",
                    last.message()
                )
            }
        }
    }

    /// The message without the field violations it repeats, when they are listed one a line.
    fn headline(&self) -> String {
        let message = self.message();
        let Some((field, description)) = self.violations().into_iter().next() else {
            return message;
        };
        match message.find(&format!("{field}: {description}")) {
            Some(at) if at > 0 => message[..at].trim_end_matches([':', ' ']).to_string(),
            _ => message,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            CliError::Status { status, .. } => status
                .get_details_bad_request()
                .map(|b| {
                    b.field_violations
                        .into_iter()
                        .map(|v| (v.field, v.description))
                        .collect()
                })
                .unwrap_or_default(),
            CliError::GaveUp { last, .. } => last.violations(),
            _ => Vec::new(),
        }
    }

    /// How long the server asked to wait before trying again (RetryInfo), if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            CliError::Status { status, .. } => {
                status.get_details_retry_info().and_then(|r| r.retry_delay)
            }
            CliError::GaveUp { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    fn request_id(&self) -> Option<String> {
        match self {
            CliError::Status { status, .. } => status
                .metadata()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            CliError::GaveUp { last, .. } => last.request_id(),
            _ => None,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CliError::Status {
                hint: Some(hint), ..
            } => Some(hint.clone()),
            CliError::Status { status, .. } => match status.code() {
                Code::Unauthenticated => Some("sign in again with `liaisonctl login`".to_string()),
                Code::Aborted => Some(
                    "the record changed since its etag was read: look at it again and retry"
                        .to_string(),
                ),
                _ => None,
            },
            CliError::Connect { server, detail } => {
                let lower = detail.to_ascii_lowercase();
                let tls = server.starts_with("https://")
                    || ["certificate", "alert", "tls", "handshake"]
                        .iter()
                        .any(|word| lower.contains(word));
                let mut hint = String::from(
                    "is liaisond running there? Choose the server with --server or LIAISON_SERVER",
                );
                if tls {
                    hint.push_str(
                        "; for TLS check --ca-cert (the server's CA), and --client-cert with \
                         --client-key where the server wants mutual TLS",
                    );
                }
                Some(hint)
            }
            CliError::GaveUp { last, .. } => last.hint(),
            _ => None,
        }
    }

    /// The error as people read it on standard error: the message, each bad field on its own line
    /// as `  field: description`, then what to do.
    pub fn render_text(&self, paint: impl Fn(&str) -> String) -> String {
        let mut text = format!("{} {}", paint("error:"), self.headline());
        if let Some(code) = self.code() {
            text.push_str(&format!(" ({})", code_name(code)));
        }
        for (field, description) in self.violations() {
            text.push_str(&format!("\n  {field}: {description}"));
        }
        if let Some(delay) = self.retry_after() {
            text.push_str(&format!("\ntry again in {} s", delay.as_secs().max(1)));
        }
        if let Some(hint) = self.hint() {
            text.push_str(&format!("\nhint: {hint}"));
        }
        if let Some(id) = self.request_id() {
            text.push_str(&format!("\nrequest id: {id}"));
        }
        text
    }

    /// The error as one JSON document, for `--output json`.
    pub fn to_json(&self) -> Value {
        let violations: Vec<Value> = self
            .violations()
            .into_iter()
            .map(|(field, description)| json!({ "field": field, "description": description }))
            .collect();
        let mut error = json!({
            "code": self.kind(),
            "exit_code": self.exit_code(),
            "message": self.message(),
            "violations": violations,
        });
        if let Some(map) = error.as_object_mut() {
            if let Some(delay) = self.retry_after() {
                map.insert("retry_after_seconds".into(), json!(delay.as_secs()));
            }
            if let Some(hint) = self.hint() {
                map.insert("hint".into(), json!(hint));
            }
            if let Some(id) = self.request_id() {
                map.insert("request_id".into(), json!(id));
            }
        }
        json!({ "error": error })
    }
}

pub fn exit_code_for(code: Code) -> u8 {
    match code {
        Code::Ok => 0,
        Code::Unauthenticated => 3,
        Code::PermissionDenied => 4,
        Code::NotFound => 5,
        Code::InvalidArgument | Code::OutOfRange => 6,
        Code::Aborted | Code::AlreadyExists | Code::FailedPrecondition => 7,
        Code::Unavailable | Code::DeadlineExceeded => 8,
        Code::ResourceExhausted => 9,
        Code::Cancelled | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
            1
        }
    }
}

pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A transport error with its causes, which is where tonic keeps the useful part.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn bad_fields_each_on_a_line_and_in_json() {
        let mut details = ErrorDetails::new();
        details
            .add_bad_request_violation("title", "must be 1 to 200 characters")
            .add_bad_request_violation("summary", "must be set");
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "invalid request: title: must be 1 to 200 characters; summary: must be set",
            details,
        );
        let error = CliError::from(status);
        assert_eq!(error.exit_code(), 6);
        let text = error.render_text(str::to_string);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "error: invalid request (INVALID_ARGUMENT)");
        assert_eq!(lines[1], "  title: must be 1 to 200 characters");
        assert_eq!(lines[2], "  summary: must be set");
        let json = error.to_json();
        assert_eq!(json["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(json["error"]["violations"][1]["field"], "summary");
        assert!(json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid request: title"));
    }

    #[test]
    fn every_code_has_its_documented_exit_code() {
        assert_eq!(exit_code_for(Code::Unauthenticated), 3);
        assert_eq!(exit_code_for(Code::PermissionDenied), 4);
        assert_eq!(exit_code_for(Code::NotFound), 5);
        assert_eq!(exit_code_for(Code::Aborted), 7);
        assert_eq!(exit_code_for(Code::FailedPrecondition), 7);
        assert_eq!(exit_code_for(Code::Unavailable), 8);
        assert_eq!(exit_code_for(Code::ResourceExhausted), 9);
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(CliError::NotSignedIn("x".into()).exit_code(), 3);
    }
}
