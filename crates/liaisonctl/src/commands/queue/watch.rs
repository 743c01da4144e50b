//! `liaisonctl queue watch`: a queue followed live. Each event is printed as it arrives, and the
//! watch outlives what ends a stream — an expired access token, a server shutting down or busy, a
//! dropped connection — by opening a new one with the last resume token received, so no event is
//! printed twice or missed.

use std::time::Duration;

use liaison_proto as pb;
use serde_json::{json, Value};
use tonic::{Code, Status, Streaming};

use crate::cli::WatchArgs;
use crate::commands::agency_codes;
use crate::connection::Ctl;
use crate::error::CliError;
use crate::json;
use crate::names::{proto_name, ViewArg};
use crate::views::{self, Viewer};

/// Failed attempts in a row (no message received in between) before the watch gives up.
const MAX_ATTEMPTS: u32 = 10;
/// The pause after the first failure, doubled after each further one up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(30);

pub async fn watch(ctl: &mut Ctl, args: WatchArgs) -> Result<(), CliError> {
    let mut signals = Signals::new()?;
    let viewer = ViewerData {
        user_id: ctl.session()?.user_id.clone(),
        agency_id: ctl.session()?.agency_id.clone(),
        agencies: agency_codes(ctl).await,
    };
    let mut watch = Watch {
        view: args.view,
        request: request(args.view, &args),
        token: args.resume.unwrap_or_default(),
        received: false,
        shown: 0,
        max_events: args.max_events,
        header_shown: false,
        watching: false,
        viewer,
    };
    let outcome = watch.run(ctl, &mut signals).await;
    if !ctl.out.json_mode()
        && watch.received
        && !watch.token.is_empty()
        && !matches!(outcome, Err(CliError::BrokenPipe))
    {
        ctl.out.note(&format!(
            "{} event(s) shown; to go on from here, run the same watch with --resume {}",
            watch.shown, watch.token
        ));
    }
    outcome
}

/// The request for a view and the queue filters; the resume token is set per attempt.
fn request(view: ViewArg, args: &WatchArgs) -> pb::WatchCasesRequest {
    let list = super::request(view.into(), &args.filters);
    pb::WatchCasesRequest {
        view: list.view,
        statuses: list.statuses,
        category: list.category,
        category_code: list.category_code,
        priority: list.priority,
        channel_id: list.channel_id,
        assignee_id: list.assignee_id,
        overdue_only: list.overdue_only,
        due_within: list.due_within,
        breached_only: list.breached_only,
        kinds: list.kinds,
        resume_token: String::new(),
    }
}

fn view_phrase(view: ViewArg) -> &'static str {
    match view {
        ViewArg::Incoming => "the incoming queue",
        ViewArg::Outgoing => "the outgoing queue",
        ViewArg::Mine => "the cases assigned to you",
        ViewArg::All => "every case you may see",
    }
}

/// What the table view needs to name people and agencies.
struct ViewerData {
    user_id: String,
    agency_id: String,
    agencies: views::Agencies,
}

/// One watch: where it is, and what it has printed.
struct Watch {
    view: ViewArg,
    request: pb::WatchCasesRequest,
    /// The last resume token received (from an event or a heartbeat), else the one given.
    token: String,
    /// The server has sent something: `token` is one it issued.
    received: bool,
    shown: u64,
    max_events: Option<u64>,
    header_shown: bool,
    /// A stream is delivering, and standard error has said so.
    watching: bool,
    viewer: ViewerData,
}

/// How one stream ended without an error.
enum End {
    /// `--max-events` were printed.
    Enough,
    /// Ctrl-C or SIGTERM.
    Stopped,
}

/// What to do after a stream failed.
#[derive(Debug, PartialEq, Eq)]
enum Recovery {
    /// The access token expired or was refused: refresh the session, then resume.
    Refresh,
    /// Something that passes: resume after a pause.
    Pause,
    /// Something that will not change by trying again: stop with it.
    Stop,
}

fn recovery(error: &CliError) -> Recovery {
    match error {
        CliError::Connect { .. } => Recovery::Pause,
        CliError::Status { status, .. } => match status.code() {
            Code::Unauthenticated => Recovery::Refresh,
            Code::Unavailable | Code::ResourceExhausted | Code::DeadlineExceeded => Recovery::Pause,
            Code::Ok
            | Code::Cancelled
            | Code::Unknown
            | Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unimplemented
            | Code::Internal
            | Code::DataLoss => Recovery::Stop,
        },
        CliError::Usage(_)
        | CliError::NotSignedIn(_)
        | CliError::Other(_)
        | CliError::BrokenPipe
        | CliError::GaveUp { .. } => Recovery::Stop,
    }
}

/// The pause before attempt `failures + 1`: doubling from [`FIRST_PAUSE`] up to [`MAX_PAUSE`],
/// the upper half of it random so that watchers dropped together do not return together.
fn pause(failures: u32, random: u64) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    let full = FIRST_PAUSE.saturating_mul(1 << doublings).min(MAX_PAUSE);
    let half = full / 2;
    let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_millis(random % spread)
}

fn random() -> u64 {
    let mut bytes = [0u8; 8];
    // Without randomness the pauses are merely all the same length.
    let _ = getrandom::getrandom(&mut bytes);
    u64::from_le_bytes(bytes)
}

impl Watch {
    async fn run(&mut self, ctl: &mut Ctl, signals: &mut Signals) -> Result<(), CliError> {
        let mut failures = 0u32;
        loop {
            let mut delivered = false;
            let error = match self.attempt(ctl, signals, &mut delivered).await {
                Ok(End::Enough | End::Stopped) => return Ok(()),
                Err(error) => error,
            };
            if delivered {
                failures = 0;
            }
            failures += 1;
            let mut recovery = recovery(&error);
            if recovery == Recovery::Stop {
                return Err(error);
            }
            if failures >= MAX_ATTEMPTS {
                return Err(CliError::GaveUp {
                    attempts: failures,
                    last: Box::new(error),
                });
            }
            if recovery == Recovery::Refresh {
                // Not cut short by Ctrl-C: the server spends the refresh token when it answers,
                // and the new one must reach the session file.
                match ctl.refresh().await {
                    Ok(()) if failures == 1 => continue,
                    Ok(()) => {}
                    Err(refresh_error) => {
                        if recovery_of_refresh(&refresh_error) == Recovery::Stop {
                            return Err(refresh_error);
                        }
                        recovery = Recovery::Pause;
                    }
                }
            }
            let wait = pause(failures, random()).max(error.retry_after().unwrap_or_default());
            if recovery == Recovery::Pause {
                self.watching = false;
                self.notice(
                    ctl,
                    &format!(
                        "the watch stopped ({}); trying again in {} s (attempt {} of {MAX_ATTEMPTS})",
                        summary(&error),
                        wait.as_secs_f64().ceil(),
                        failures + 1
                    ),
                    json!({ "reconnecting": {
                        "error": error.to_json()["error"],
                        "attempt": failures + 1,
                        "max_attempts": MAX_ATTEMPTS,
                        "retry_in_seconds": wait.as_secs_f64(),
                    }}),
                );
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = signals.recv() => return Ok(()),
            }
        }
    }

    /// One stream, from opening it to its end. `delivered` turns true with its first message.
    async fn attempt(
        &mut self,
        ctl: &mut Ctl,
        signals: &mut Signals,
        delivered: &mut bool,
    ) -> Result<End, CliError> {
        // A refresh ahead of expiry, outside the select below: it must not be cut short.
        ctl.ensure_fresh().await?;
        let mut request = self.request.clone();
        request.resume_token = self.token.clone();
        let mut stream: Streaming<pb::WatchCasesResponse> = tokio::select! {
            opened = ctl.call_streaming(request, rpc!(cases.watch_cases)) => opened?,
            () = signals.recv() => return Ok(End::Stopped),
        };
        loop {
            let message = tokio::select! {
                message = stream.message() => message,
                () = signals.recv() => return Ok(End::Stopped),
            };
            let message = match message {
                Ok(Some(message)) => message,
                Ok(None) => {
                    return Err(ctl.explain(Status::unavailable(
                        "the server ended the watch without saying why",
                    )))
                }
                Err(status) => return Err(ctl.explain(status)),
            };
            *delivered = true;
            self.received = true;
            if !self.watching {
                self.watching = true;
                let view = view_phrase(self.view);
                self.notice(
                    ctl,
                    &format!("watching {view}; Ctrl-C to stop"),
                    json!({ "watching": {
                        "view": proto_name::<pb::CaseView>(self.request.view),
                        "resume_token": message.resume_token,
                    }}),
                );
            }
            if let Some(event) = &message.event {
                self.print(ctl, event, &message)?;
                self.shown += 1;
            }
            if !message.resume_token.is_empty() {
                self.token = message.resume_token;
            }
            if self.max_events.is_some_and(|max| self.shown >= max) {
                return Ok(End::Enough);
            }
        }
    }

    fn print(
        &mut self,
        ctl: &Ctl,
        event: &pb::CaseEvent,
        message: &pb::WatchCasesResponse,
    ) -> Result<(), CliError> {
        if ctl.out.json_mode() {
            let line = json!({
                "event": json::event(event),
                "case": message.case.as_ref().map(json::case),
                "resume_token": message.resume_token,
            });
            return ctl.out.print(&line.to_string());
        }
        if !self.header_shown {
            self.header_shown = true;
            ctl.out.print(&views::watch_header(&ctl.out))?;
        }
        let viewer = Viewer {
            user_id: &self.viewer.user_id,
            agency_id: &self.viewer.agency_id,
            agencies: &self.viewer.agencies,
        };
        ctl.out.print(&views::watch_line(
            &ctl.out,
            &viewer,
            event,
            message.case.as_ref(),
        ))
    }

    /// A line on standard error about the watch itself: text for people, or one JSON object in
    /// JSON mode, so that standard error is then NDJSON too.
    fn notice(&self, ctl: &Ctl, text: &str, value: Value) {
        if ctl.out.json_mode() {
            eprintln!("{value}");
        } else {
            ctl.out.note(text);
        }
    }
}

/// A failed refresh: the session ended (stop) or the server could not answer (pause).
fn recovery_of_refresh(error: &CliError) -> Recovery {
    match recovery(error) {
        Recovery::Refresh | Recovery::Stop => Recovery::Stop,
        Recovery::Pause => Recovery::Pause,
    }
}

/// An error in a few words, for the line that says the watch will try again.
fn summary(error: &CliError) -> String {
    let json = error.to_json();
    let code = json["error"]["code"]
        .as_str()
        .unwrap_or("ERROR")
        .to_string();
    match json["error"]["message"].as_str() {
        Some(message) if !message.is_empty() => format!("{code}: {message}"),
        _ => code,
    }
}

/// Ctrl-C, and on unix SIGTERM: registered when the watch starts, so that one arriving at any
/// moment ends it cleanly (exit 0, the resume token printed) instead of killing the process.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> Result<Signals, CliError> {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind| {
            signal(kind).map_err(|e| CliError::Other(format!("cannot listen for signals: {e}")))
        };
        Ok(Signals {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn new() -> Result<Signals, CliError> {
        Ok(Signals {})
    }

    /// Waits for a signal; cancel-safe.
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            // Elsewhere Ctrl-C is listened for from the first wait on.
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_a_cap_with_a_random_upper_half() {
        for (failures, full) in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (9, 30)] {
            let full = Duration::from_secs(full);
            assert_eq!(pause(failures, 0), full / 2, "after {failures}");
            let longest = pause(failures, u64::MAX - 1);
            assert!(longest >= full / 2 && longest < full, "after {failures}");
        }
        assert_eq!(pause(u32::MAX, 0), MAX_PAUSE / 2);
        // Ten attempts span minutes, not hours.
        let worst: Duration = (1..MAX_ATTEMPTS).map(|n| pause(n, u64::MAX - 1)).sum();
        assert!(worst < Duration::from_secs(240), "{worst:?}");
    }

    #[test]
    fn what_is_tried_again() {
        let status = |code| CliError::from(Status::new(code, "x"));
        assert_eq!(recovery(&status(Code::Unauthenticated)), Recovery::Refresh);
        for code in [
            Code::Unavailable,
            Code::ResourceExhausted,
            Code::DeadlineExceeded,
        ] {
            assert_eq!(recovery(&status(code)), Recovery::Pause, "{code:?}");
        }
        let connect = CliError::Connect {
            server: "http://127.0.0.1:1".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(recovery(&connect), Recovery::Pause);
        for code in [
            Code::PermissionDenied,
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::Internal,
        ] {
            assert_eq!(recovery(&status(code)), Recovery::Stop, "{code:?}");
        }
        let ended = CliError::NotSignedIn("your session has ended".into());
        assert_eq!(recovery(&ended), Recovery::Stop);
        assert_eq!(
            recovery_of_refresh(&status(Code::Unauthenticated)),
            Recovery::Stop
        );
        assert_eq!(recovery_of_refresh(&connect), Recovery::Pause);
    }

    #[test]
    fn giving_up_exits_like_the_last_failure() {
        let error = CliError::GaveUp {
            attempts: MAX_ATTEMPTS,
            last: Box::new(CliError::from(Status::unavailable(
                "the server is shutting down",
            ))),
        };
        assert_eq!(error.exit_code(), 8);
        let text = error.render_text(str::to_string);
        assert!(
            text.starts_with(
                "error: gave up after 10 failed attempts in a row: the server is shutting down (UNAVAILABLE)"
            ),
            "{text}"
        );
        assert_eq!(error.to_json()["error"]["code"], "UNAVAILABLE");
    }
}
