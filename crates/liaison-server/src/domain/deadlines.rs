//! The deadlines a referral runs under: the acknowledgement's, and for a REQUEST or a
//! PRESERVATION the answer's (EU Directive 2023/977 Art. 5). Their windows are fixed on the case
//! when it is filed; the answer's clock starts when the receiver receives the referral, stands
//! still while the case awaits information from the requester, and stops at the answer. The
//! receiving side may extend it, once per reason; the service records DUE_SOON and BREACHED on
//! each, once, however many servers run.
//!
//! The answer's clock starts at receipt, not at the acknowledgement: Art. 5 counts from the
//! receipt of the request, and an acknowledgement that takes a day must not lengthen an 8-hour
//! answer window by a day without anyone noticing.

use std::collections::HashMap;

use crate::authz::{self, CaseAction, CaseScope};
use crate::domain::call::Call;
use crate::domain::call::Work;
use crate::domain::cases::{self, event, load};
use crate::domain::terms;
use crate::error::{AppError, AppResult};
use crate::model::{
    Case, CaseEvent, CaseId, ChannelId, ChannelTerm, DeadlineClock, DeadlineExtension,
    DeadlineTerm, EventActor, EventKind, ExtensionReason, Priority, RequestKind, ResponseClock,
    Timestamp, DUE_SOON_PERCENT,
};
use crate::repo::cases::Alarm;
use crate::repo::{self, Tx};
use crate::state::AppState;

/// The windows a channel gives its referrals: the service's defaults, save where the channel's
/// agencies agreed a DEADLINE term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlines {
    pub due_soon_percent: i16,
    agreed: HashMap<DeadlineTerm, chrono::Duration>,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            due_soon_percent: DUE_SOON_PERCENT,
            agreed: HashMap::new(),
        }
    }
}

impl Deadlines {
    /// The defaults with the channel's agreed DEADLINE terms over them.
    pub fn agreed(terms: &[ChannelTerm]) -> Self {
        let mut deadlines = Deadlines::default();
        for term in terms {
            match (DeadlineTerm::parse(&term.code), term.span, term.percent) {
                (Some(DeadlineTerm::DueSoon), _, Some(percent)) => {
                    deadlines.due_soon_percent = percent
                }
                (Some(deadline), Some(span), _) => {
                    deadlines.agreed.insert(deadline, span);
                }
                _ => {}
            }
        }
        deadlines
    }

    pub fn acknowledge_within(&self, priority: Priority) -> chrono::Duration {
        self.agreed
            .get(&DeadlineTerm::Acknowledge(priority))
            .copied()
            .unwrap_or_else(|| priority.acknowledge_within())
    }

    /// The answer's window for a referral of `kind`: none for SPONTANEOUS information, which
    /// asks for nothing.
    pub fn answer_within(&self, kind: RequestKind, priority: Priority) -> Option<chrono::Duration> {
        match kind {
            RequestKind::Request | RequestKind::Preservation => Some(
                self.agreed
                    .get(&DeadlineTerm::Answer(kind, priority))
                    .copied()
                    .unwrap_or_else(|| priority.answer_within()),
            ),
            RequestKind::Spontaneous => None,
        }
    }

    /// The clocks of a case filed now: the answer's starts at once unless the referral is held.
    pub fn clock_for(
        &self,
        kind: RequestKind,
        priority: Priority,
        released: Option<Timestamp>,
    ) -> Option<ResponseClock> {
        self.answer_within(kind, priority).map(|window| {
            let mut clock = ResponseClock::new(window);
            if let Some(at) = released {
                clock.start(at);
            }
            clock
        })
    }
}

/// The deadlines in force on a channel.
pub async fn in_force(tx: &Tx, channel: &ChannelId) -> AppResult<Deadlines> {
    Ok(Deadlines::agreed(
        &terms::deadlines_in_force(tx, channel).await?,
    ))
}

/// Marks on `ev` what the move from `before` to `after` did to the answer's clock: started,
/// paused, resumed or stopped it (RESPONSE, with the deadline that stands after it, if it runs).
pub(crate) fn note_clock(before: Option<&Case>, after: &Case, ev: &mut CaseEvent) {
    let Some(clock) = after.response.as_ref() else {
        return;
    };
    if before.and_then(|b| b.response.as_ref()) == Some(clock) {
        return;
    }
    ev.clock = Some(DeadlineClock::Response);
    ev.due_at = clock.due_at.filter(|_| clock.is_running());
}

/// What the receiving side asks of an answer's deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub due_at: Timestamp,
    pub reason: ExtensionReason,
    pub text: Option<String>,
}

/// How far past the deadline in force one extension may move it.
pub const MAX_EXTENSION: chrono::Duration = chrono::Duration::days(365);

/// The case with its answer's deadline moved as `ext` asks, by `by` at `now`.
pub fn extended(case: &Case, ext: &Extension, by: &str, now: Timestamp) -> AppResult<Case> {
    let Some(clock) = case.response.as_ref() else {
        return Err(AppError::FailedPrecondition(match case.kind {
            RequestKind::Spontaneous => {
                "information given on the provider's own initiative is owed no answer, so it has \
                 no deadline to extend"
                    .into()
            }
            _ => "the case was filed before answer deadlines existed: it has none to extend".into(),
        }));
    };
    if case.closed_at.is_some() || clock.stopped_at.is_some() {
        return Err(AppError::FailedPrecondition(format!(
            "the case is {} and its answer's clock has stopped: a deadline is extended only \
             before the answer",
            case.status
        )));
    }
    let Some(due_at) = clock.due_at else {
        return Err(AppError::FailedPrecondition(
            "the referral is not released yet: its clock has not started".into(),
        ));
    };
    if let Some(earlier) = clock.extensions.iter().find(|e| e.reason == ext.reason) {
        return Err(AppError::FailedPrecondition(format!(
            "the deadline was already extended for {} on {}: each reason extends it once",
            ext.reason,
            earlier.at.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    if ext.due_at <= due_at {
        return Err(AppError::invalid(
            "due_at",
            format!(
                "must be later than the deadline in force, {}",
                due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    if ext.due_at > due_at + MAX_EXTENSION {
        return Err(AppError::invalid(
            "due_at",
            "must be at most 365 days after the deadline in force",
        ));
    }
    let mut next = case.clone();
    let clock = next
        .response
        .as_mut()
        .ok_or_else(|| AppError::internal("clock vanished"))?;
    clock.due_at = Some(ext.due_at);
    clock.extensions.push(DeadlineExtension {
        reason: ext.reason,
        text: ext.text.clone(),
        from: due_at,
        to: ext.due_at,
        by: by.into(),
        at: now,
    });
    next.updated_at = now;
    next.version = case.version + 1;
    Ok(next)
}

/// Extends the answer's deadline of the case at the version the caller saw: an event both sides
/// see at once. A new deadline is warned of again as it nears.
pub async fn extend(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    id: &CaseId,
    etag: &str,
    ext: Extension,
) -> AppResult<Case> {
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let permit = load(tx, call, scope, id, CaseAction::ExtendDeadline).await?;
    let case = permit.case();
    if case.etag() != etag {
        return Err(cases::stale());
    }
    let now = work.now();
    let next = extended(case, &ext, scope.user_id().as_str(), now)?;
    if !repo::cases::update(tx, &next, case.version).await? {
        return Err(cases::stale());
    }
    rearm_if_later(tx, &next, now).await?;
    let mut ev = event(
        &next,
        EventKind::DeadlineExtended,
        scope.principal().as_actor(),
        now,
    );
    ev.from_status = Some(case.status);
    ev.to_status = Some(next.status);
    ev.clock = Some(DeadlineClock::Response);
    ev.due_at = Some(ext.due_at);
    ev.extension_reason = Some(ext.reason);
    ev.reason = ext.text;
    work.record_event(ev);
    work.commit().await?;
    Ok(next)
}

/// Lets DUE_SOON fire again on the case's answer when its deadline moved and is no longer near
/// (a resume, an extension); a deadline still near keeps the warning it had.
pub(crate) async fn rearm_if_later(tx: &Tx, case: &Case, now: Timestamp) -> AppResult<()> {
    if case.response_warn_at().is_some_and(|warn| warn > now) {
        repo::cases::rearm(tx, &case.id, Alarm::ResponseDueSoon).await?;
    }
    Ok(())
}

/// Records DUE_SOON on each deadline most of whose window has gone and BREACHED on each answer
/// past its deadline, once per case however many servers run this at once; the acknowledgement's
/// breach is [`cases::escalate_overdue`]'s ESCALATED. Each is its own transaction with its own
/// audit entry, made by the service. Answers how many events it recorded.
pub async fn raise_alarms(state: &AppState) -> AppResult<usize> {
    let mut raised = 0;
    for alarm in [
        Alarm::AcknowledgeDueSoon,
        Alarm::ResponseDueSoon,
        Alarm::ResponseBreached,
    ] {
        let now = state.clock.now();
        let due = cases::due_cases(state, now, async move |tx: &Tx, now| {
            repo::cases::due_for_alarm(tx, &authz::service(), alarm, now, cases::TIMER_BATCH).await
        })
        .await?;
        raised += cases::service_pass(
            state,
            alarm.method(),
            due,
            now,
            async move |tx: &Tx, case: &Case, now| repo::cases::raise(tx, case, alarm, now).await,
            move |case, now| alarm_event(case, alarm, now),
        )
        .await?;
    }
    Ok(raised)
}

fn alarm_event(case: &Case, alarm: Alarm, now: Timestamp) -> CaseEvent {
    let (kind, clock) = match alarm {
        Alarm::AcknowledgeDueSoon => (EventKind::DueSoon, DeadlineClock::Acknowledge),
        Alarm::ResponseDueSoon => (EventKind::DueSoon, DeadlineClock::Response),
        Alarm::ResponseBreached => (EventKind::Breached, DeadlineClock::Response),
    };
    let due_at = match clock {
        DeadlineClock::Acknowledge => Some(case.acknowledge_due_at),
        DeadlineClock::Response => case.response.as_ref().and_then(|r| r.due_at),
    };
    let mut ev = event(case, kind, EventActor::Service, now);
    ev.from_status = Some(case.status);
    ev.to_status = Some(case.status);
    ev.clock = Some(clock);
    ev.due_at = due_at;
    ev.reason = due_at.map(|due| {
        let what = match clock {
            DeadlineClock::Acknowledge => "acknowledgement",
            DeadlineClock::Response => "answer",
        };
        match kind {
            EventKind::Breached => format!(
                "the {what} was due at {} (overdue by {})",
                due.format("%Y-%m-%d %H:%M UTC"),
                span(now - due)
            ),
            _ => format!(
                "the {what} is due at {} (in {})",
                due.format("%Y-%m-%d %H:%M UTC"),
                span(due - now)
            ),
        }
    });
    ev
}

/// A span in words, to the minute: "2 h 05 min", "3 d 4 h".
pub fn span(d: chrono::Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, _) => format!("{hours} h {mins:02} min"),
        _ => format!("{days} d {hours} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_micros;
    use crate::model::{fixtures, CaseStatus};

    fn hours(h: i64) -> Timestamp {
        from_micros(h * 3_600_000_000)
    }

    fn request() -> Case {
        let mut case = fixtures::case("IN", "CA", "filer");
        case.status = CaseStatus::InProgress;
        case.priority = Priority::Urgent;
        case.response =
            Deadlines::default().clock_for(RequestKind::Request, Priority::Urgent, Some(hours(0)));
        case
    }

    fn ext(due_at: Timestamp, reason: ExtensionReason) -> Extension {
        Extension {
            due_at,
            reason,
            text: None,
        }
    }

    #[test]
    fn a_paused_clock_moves_the_deadline_by_the_pause() {
        let mut clock = request().response.unwrap();
        assert_eq!(clock.due_at, Some(hours(8)));
        clock.pause(hours(2));
        assert!(!clock.is_running());
        assert_eq!(
            clock.elapsed(hours(0), hours(5)),
            chrono::Duration::hours(2)
        );
        assert_eq!(clock.paused_for(hours(5)), chrono::Duration::hours(3));
        clock.resume(hours(5));
        assert_eq!(clock.due_at, Some(hours(11)));
        assert_eq!(
            clock.elapsed(hours(0), hours(6)),
            chrono::Duration::hours(3)
        );
        clock.stop(hours(12));
        assert!(clock.is_breached(hours(20)));
        assert_eq!(
            clock.elapsed(hours(0), hours(20)),
            chrono::Duration::hours(9)
        );
        // A clock stopped while paused ends its pause first.
        let mut paused = request().response.unwrap();
        paused.pause(hours(1));
        paused.stop(hours(30));
        assert_eq!(paused.paused, chrono::Duration::hours(29));
        assert!(!paused.is_breached(hours(40)));
    }

    #[test]
    fn due_soon_comes_when_the_share_of_the_window_has_gone() {
        let case = request();
        // 75 % of 8 hours.
        assert_eq!(case.response_warn_at(), Some(hours(6)));
        let mut paused = case.clone();
        paused.response.as_mut().unwrap().pause(hours(1));
        assert_eq!(paused.response_warn_at(), None);
    }

    #[test]
    fn spontaneous_information_runs_no_answer_clock() {
        let d = Deadlines::default();
        assert!(d
            .clock_for(RequestKind::Spontaneous, Priority::Urgent, Some(hours(0)))
            .is_none());
        let held = d
            .clock_for(RequestKind::Preservation, Priority::Routine, None)
            .unwrap();
        assert_eq!(held.due_at, None);
        assert_eq!(held.window, chrono::Duration::days(7));
    }

    #[test]
    fn an_extension_moves_the_deadline_later_once_per_reason() {
        let case = request();
        let why = ExtensionReason::JudicialAuthorisationPending;
        let next = extended(&case, &ext(hours(48), why), "sup", hours(3)).unwrap();
        let clock = next.response.as_ref().unwrap();
        assert_eq!(clock.due_at, Some(hours(48)));
        assert_eq!(clock.extensions[0].from, hours(8));
        assert_eq!(next.version, case.version + 1);
        let again = extended(&next, &ext(hours(72), why), "sup", hours(4)).unwrap_err();
        assert!(matches!(again, AppError::FailedPrecondition(_)), "{again}");
        let other = extended(
            &next,
            &ext(hours(72), ExtensionReason::Volume),
            "sup",
            hours(4),
        );
        assert!(other.is_ok());
        let earlier = extended(
            &next,
            &ext(hours(40), ExtensionReason::Volume),
            "sup",
            hours(4),
        );
        assert!(matches!(earlier, Err(AppError::InvalidArgument(_))));
    }

    #[test]
    fn no_extension_after_the_answer() {
        let mut closed = request();
        closed.status = CaseStatus::Closed;
        closed.closed_at = Some(hours(3));
        closed.response.as_mut().unwrap().stop(hours(3));
        let err = extended(
            &closed,
            &ext(hours(48), ExtensionReason::Volume),
            "s",
            hours(4),
        );
        assert!(matches!(err, Err(AppError::FailedPrecondition(_))));
        let mut spontaneous = request();
        spontaneous.kind = RequestKind::Spontaneous;
        spontaneous.response = None;
        let err = extended(
            &spontaneous,
            &ext(hours(48), ExtensionReason::Volume),
            "s",
            hours(4),
        );
        assert!(matches!(err, Err(AppError::FailedPrecondition(_))));
    }

    #[test]
    fn spans_read_to_the_minute() {
        assert_eq!(span(chrono::Duration::minutes(7)), "7 min");
        assert_eq!(span(chrono::Duration::minutes(125)), "2 h 05 min");
        assert_eq!(span(chrono::Duration::hours(76)), "3 d 4 h");
    }
}
