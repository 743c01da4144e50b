//! `CaseService/WatchCases` as a transport: one task per stream that re-authenticates the caller
//! before every read, reads what `domain::watch` lets them see, and pushes it into a small bounded
//! buffer. A client that stops reading is dropped once the buffer has stayed full for the stall
//! time, instead of making the server hold more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch as signal, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::people::named;
use super::{convert, Api};
use crate::authz;
use crate::config::Config;
use crate::domain::call::Call;
use crate::domain::cases::CaseFilter;
use crate::domain::watch::EventCursor;
use crate::domain::watch::{self, Delivery};
use crate::error::{AppError, AppResult};
use crate::model::UserId;
use crate::pb;
use crate::sync::lock;

pub type WatchStream = ReceiverStream<Result<pb::WatchCasesResponse, Status>>;

/// What every watch stream of this server shares.
pub(super) struct Streams {
    open: Arc<Semaphore>,
    /// Streams open per user, and how many each may have.
    per_user: Arc<Mutex<HashMap<UserId, usize>>>,
    max_per_user: usize,
    /// Messages held for a client that is not reading, beyond what HTTP/2 buffers.
    buffer: usize,
    stall: Duration,
    heartbeat: Duration,
    draining: signal::Sender<bool>,
}

/// How often a quiet watcher looks for events even without being told (a lost notification).
const POLL: Duration = Duration::from_secs(5);

impl Streams {
    pub fn new(config: &Config) -> Self {
        Streams {
            open: Arc::new(Semaphore::new(config.max_watch_streams.max(1))),
            per_user: Arc::default(),
            max_per_user: config.max_watch_streams_per_user.max(1),
            buffer: config.watch_buffer.max(1),
            stall: Duration::from_secs(config.watch_stall_seconds.max(1)),
            heartbeat: Duration::from_secs(config.watch_heartbeat_seconds.max(1)),
            draining: signal::Sender::new(false),
        }
    }

    pub fn drain(&self) {
        self.draining.send_replace(true);
    }

    /// A place for one more stream of `user`'s, or RESOURCE_EXHAUSTED: when the user has as many
    /// open as one user may, or the server as many as it may.
    pub fn admit(&self, user: &UserId) -> AppResult<Slot> {
        let mut open = lock(&self.per_user);
        let mine = open.entry(user.clone()).or_default();
        if *mine >= self.max_per_user {
            return Err(AppError::Exhausted(format!(
                "you have {} watch streams open on this server, as many as one user may; close one \
                 first",
                self.max_per_user
            )));
        }
        let server = self.open.clone().try_acquire_owned().map_err(|_| {
            AppError::Exhausted(
                "this server has as many watch streams open as it may; retry shortly".into(),
            )
        })?;
        *mine += 1;
        Ok(Slot {
            _server: server,
            user: user.clone(),
            per_user: self.per_user.clone(),
        })
    }
}

/// An open stream's place: among the server's streams and among its user's. Freed when dropped.
pub(super) struct Slot {
    _server: OwnedSemaphorePermit,
    user: UserId,
    per_user: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = lock(&self.per_user);
        if let Some(mine) = open.get_mut(&self.user) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// A stream that has been opened and audited: who asked, for what, from where.
pub(super) struct Opened {
    /// The access token the stream was opened with.
    pub bearer: String,
    pub filter: CaseFilter,
    pub cursor: EventCursor,
    pub slot: Slot,
}

impl Api {
    /// Starts the task that feeds an opened stream and answers with the stream.
    pub(super) fn stream(&self, call: Arc<Call>, opened: Opened) -> WatchStream {
        // One slot more than the buffer: the last one is kept for the status that ends the stream.
        let (tx, rx) = mpsc::channel(self.watch.buffer + 1);
        let feed = Feed {
            api: self.clone(),
            call,
            bearer: opened.bearer,
            filter: opened.filter,
            cursor: opened.cursor,
            tx,
        };
        tokio::spawn(feed.run(opened.slot));
        ReceiverStream::new(rx)
    }
}

struct Feed {
    api: Api,
    call: Arc<Call>,
    bearer: String,
    filter: CaseFilter,
    cursor: EventCursor,
    tx: mpsc::Sender<Result<pb::WatchCasesResponse, Status>>,
}

/// Why feeding a stream stopped.
enum Stop {
    /// The client went away: nobody to tell.
    Gone,
    /// End the stream with this error.
    Fail(AppError),
    /// The server is shutting down: the client resumes on another (UNAVAILABLE), and nothing
    /// failed.
    Draining,
}

impl From<AppError> for Stop {
    fn from(err: AppError) -> Self {
        Stop::Fail(err)
    }
}

impl Feed {
    async fn run(mut self, _slot: Slot) {
        let metrics = self.api.state.metrics.clone();
        let _open = metrics.watch_opened();
        let stop = self.feed().await;
        let code = match stop {
            Stop::Gone => tonic::Code::Cancelled,
            Stop::Draining => {
                tracing::info!(request_id = %self.call.request_id, "watch stream ended: the server is shutting down");
                // The buffer always keeps one slot free for this.
                let _ = self.tx.try_send(Err(Status::unavailable(
                    "the server is shutting down; resume the watch on another",
                )));
                tonic::Code::Unavailable
            }
            Stop::Fail(err) => {
                let code = err.code();
                if err.is_server_fault() {
                    tracing::error!(request_id = %self.call.request_id, error = %err, "watch stream failed");
                } else {
                    tracing::info!(request_id = %self.call.request_id, status = ?code, "watch stream ended");
                }
                // The buffer always keeps one slot free for this.
                let _ = self.tx.try_send(Err(Status::from(err)));
                code
            }
        };
        metrics.observe_watch_end(code);
    }

    async fn feed(&mut self) -> Stop {
        let state = self.api.state.clone();
        let mut commits = state.events.subscribe();
        let mut draining = self.api.watch.draining.subscribe();
        // The first message is a heartbeat: it tells the client the stream is live.
        let mut heartbeat_at = Instant::now();
        loop {
            if *draining.borrow_and_update() {
                return Stop::Draining;
            }
            // Permissions are checked afresh for every read: an expired token, an ended session,
            // a disabled user or a lost role ends the stream.
            let scope = match self.api.authenticate(&self.bearer).await.and_then(|p| {
                authz::require_settled_password(&p)?;
                authz::case_scope(&p)
            }) {
                Ok(scope) => scope,
                Err(e) => return e.into(),
            };
            let batch =
                match watch::next(&state, &self.call, &scope, &self.filter, &self.cursor).await {
                    Ok(batch) => batch,
                    Err(e) => return e.into(),
                };
            for Delivery {
                event,
                case,
                cursor,
            } in batch.deliveries
            {
                let (event, case) = named(
                    &state,
                    (
                        convert::event(event),
                        convert::case(case, state.clock.now()),
                    ),
                )
                .await;
                let message = pb::WatchCasesResponse {
                    event: Some(event),
                    case: Some(case),
                    resume_token: match watch::resume_token(&state, &scope, &cursor) {
                        Ok(token) => token,
                        Err(e) => return e.into(),
                    },
                };
                if let Err(stop) = self.send(message).await {
                    return stop;
                }
                state.metrics.observe_watch_delivery();
                self.cursor = cursor;
                heartbeat_at = Instant::now() + self.api.watch.heartbeat;
            }
            self.cursor = batch.cursor;
            if batch.more {
                continue;
            }
            if Instant::now() >= heartbeat_at {
                let beat = pb::WatchCasesResponse {
                    event: None,
                    case: None,
                    resume_token: match watch::resume_token(&state, &scope, &self.cursor) {
                        Ok(token) => token,
                        Err(e) => return e.into(),
                    },
                };
                if let Err(stop) = self.send(beat).await {
                    return stop;
                }
                heartbeat_at = Instant::now() + self.api.watch.heartbeat;
            }
            let wake = heartbeat_at.min(Instant::now() + POLL);
            tokio::select! {
                changed = commits.changed() => if changed.is_err() {
                    return Stop::Draining;
                },
                _ = draining.changed() => {}
                _ = tokio::time::sleep_until(wake) => {}
                _ = self.tx.closed() => return Stop::Gone,
            }
        }
    }

    /// Queues one message, keeping a slot free for the final status. Waits at most the stall time
    /// for the client to read.
    async fn send(&self, message: pb::WatchCasesResponse) -> Result<(), Stop> {
        match tokio::time::timeout(self.api.watch.stall, self.tx.reserve_many(2)).await {
            Ok(Ok(mut permits)) => {
                if let Some(permit) = permits.next() {
                    permit.send(Ok(message));
                }
                Ok(())
            }
            Ok(Err(_)) => Err(Stop::Gone),
            Err(_) => Err(Stop::Fail(AppError::Exhausted(format!(
                "the watcher fell behind: it read nothing for {} s while events waited; open a new \
                 WatchCases with the last resume_token received to continue without missing any",
                self.api.watch.stall.as_secs()
            )))),
        }
    }
}
