//! The work plan's figures for a channel: what came of the referrals received in a period, by
//! category and kind. Each figure is computed from case events both agencies see, never from a
//! counter that could drift, and only from events sealed at or before the newest signed audit
//! checkpoint, which the answer names: either side can compute the same figure from the same
//! events.
//!
//! A referral belongs to the period it was received in (filed, or released when held), and is
//! followed up to the checkpoint. Medians and 90th percentiles are nearest-rank.

use std::collections::BTreeMap;

use crate::authz::{StatsReader, CHANNEL_NOT_FOUND};
use crate::chain::Checkpoint;
use crate::domain::call::{Call, Work};
use crate::error::{AppError, AppResult};
use crate::model::{
    CategoryCode, ChannelId, DeadlineClock, EventKind, ExtensionReason, RefusalGround, RequestKind,
    Timestamp,
};
use crate::repo::{self, stats::Counted, stats::Filed};
use crate::state::AppState;

/// The longest period one answer covers.
pub const MAX_PERIOD: chrono::Duration = chrono::Duration::days(366);

/// What came of one referral, read from its events in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub received_at: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    /// The acknowledgement's deadline, as its ACKNOWLEDGED event names it.
    pub acknowledge_due: Option<Timestamp>,
    /// When the one who owes the answer gave it: the answer, or a refusal.
    pub responded_at: Option<Timestamp>,
    /// The answer: a request's first close, a preservation's confirmation.
    pub answered_at: Option<Timestamp>,
    /// From receipt to the answer, time awaiting information excluded.
    pub answer_time: Option<chrono::Duration>,
    /// Declined, on the ground stated (if one was).
    pub declined: Option<Option<RefusalGround>>,
    pub withdrawn: bool,
    pub escalated: bool,
    /// The answer's deadline as it stood when the clock stopped (or stands now).
    pub due_at: Option<Timestamp>,
    pub breached: bool,
    pub extensions: Vec<ExtensionReason>,
}

impl Outcome {
    /// Reads a referral's events, oldest first.
    pub fn of(kind: RequestKind, events: &[Counted]) -> Outcome {
        let mut o = Outcome::default();
        let mut paused_since: Option<Timestamp> = None;
        let mut paused = chrono::Duration::zero();
        let mut stopped = false;
        let owed = kind != RequestKind::Spontaneous;
        for e in events {
            let response = e.clock == Some(DeadlineClock::Response);
            match e.kind {
                EventKind::Filed | EventKind::Released => {
                    o.received_at.get_or_insert(e.at);
                    if response && o.due_at.is_none() {
                        o.due_at = e.due_at;
                    }
                }
                EventKind::Acknowledged if o.acknowledged_at.is_none() => {
                    o.acknowledged_at = Some(e.at);
                    o.acknowledge_due = e
                        .due_at
                        .filter(|_| e.clock == Some(DeadlineClock::Acknowledge));
                }
                EventKind::Escalated => o.escalated = true,
                EventKind::Breached => o.breached = true,
                EventKind::DeadlineExtended => {
                    if let Some(reason) = e.extension_reason {
                        o.extensions.push(reason);
                    }
                    if !stopped && e.due_at.is_some() {
                        o.due_at = e.due_at;
                    }
                }
                EventKind::InformationRequested if !stopped => {
                    paused_since.get_or_insert(e.at);
                }
                EventKind::InformationProvided if !stopped => {
                    if let Some(since) = paused_since.take() {
                        paused += e.at - since;
                    }
                    if response && e.due_at.is_some() {
                        o.due_at = e.due_at;
                    }
                }
                EventKind::Closed
                | EventKind::PreservationConfirmed
                | EventKind::Declined
                | EventKind::Withdrawn
                    if !stopped =>
                {
                    stopped = true;
                    // A pause in course ends with the clock, and moves the deadline as a resume
                    // would.
                    if let Some(since) = paused_since.take() {
                        let stood = e.at - since;
                        paused += stood;
                        o.due_at = o.due_at.map(|due| due + stood);
                    }
                    match e.kind {
                        EventKind::Declined => {
                            o.declined = Some(e.ground);
                            o.responded_at = Some(e.at);
                        }
                        EventKind::Withdrawn => o.withdrawn = true,
                        _ if owed => {
                            o.answered_at = Some(e.at);
                            o.responded_at = Some(e.at);
                            o.answer_time = o.received_at.map(|r| e.at - r - paused);
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        o
    }

    /// The answer (or refusal) came after the deadline in force.
    fn answer_late(&self) -> bool {
        match (self.responded_at, self.due_at) {
            (Some(at), Some(due)) => at > due,
            _ => false,
        }
    }

    /// ESCALATED, or acknowledged after the deadline its event names (before the timer said so).
    fn acknowledge_late(&self) -> bool {
        self.escalated
            || matches!((self.acknowledged_at, self.acknowledge_due), (Some(at), Some(due)) if at > due)
    }
}

/// The figures of one category and kind, or of them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub category: Option<CategoryCode>,
    pub kind: Option<RequestKind>,
    pub received: i64,
    pub acknowledged: i64,
    pub answered: i64,
    pub declined: i64,
    pub withdrawn: i64,
    pub declined_by_ground: BTreeMap<i16, i64>,
    pub acknowledge_times: Vec<chrono::Duration>,
    pub answer_times: Vec<chrono::Duration>,
    pub acknowledge_met: i64,
    pub acknowledge_breached: i64,
    pub answer_met: i64,
    pub answer_breached: i64,
    pub extensions_by_reason: BTreeMap<i16, i64>,
}

impl Row {
    fn add(&mut self, o: &Outcome) {
        self.received += 1;
        if let (Some(received), Some(at)) = (o.received_at, o.acknowledged_at) {
            self.acknowledged += 1;
            self.acknowledge_times.push(at - received);
        }
        if o.acknowledge_late() {
            self.acknowledge_breached += 1;
        } else if o.acknowledged_at.is_some() {
            self.acknowledge_met += 1;
        }
        if let Some(time) = o.answer_time {
            self.answered += 1;
            self.answer_times.push(time);
        }
        if o.breached || o.answer_late() {
            self.answer_breached += 1;
        } else if o.responded_at.is_some() && o.due_at.is_some() {
            self.answer_met += 1;
        }
        if let Some(ground) = o.declined {
            self.declined += 1;
            *self
                .declined_by_ground
                .entry(ground.map_or(0, RefusalGround::code))
                .or_default() += 1;
        }
        if o.withdrawn {
            self.withdrawn += 1;
        }
        for reason in &o.extensions {
            *self.extensions_by_reason.entry(reason.code()).or_default() += 1;
        }
    }

    /// The nearest-rank `q` quantile (0 < q <= 1) of `times`; none of none.
    pub fn quantile(times: &[chrono::Duration], q: f64) -> Option<chrono::Duration> {
        if times.is_empty() {
            return None;
        }
        let mut sorted = times.to_vec();
        sorted.sort();
        let rank = (q * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
    }
}

/// A period of receipt: from `start`, until `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The figures of a channel's period, and the checkpoint they were computed at.
#[derive(Debug, Clone)]
pub struct Figures {
    pub channel_id: ChannelId,
    pub period: Period,
    /// None while the log has no signed checkpoint yet: then nothing counts.
    pub checkpoint: Option<Checkpoint>,
    pub rows: Vec<Row>,
    pub total: Row,
}

/// The figures from `filed` referrals and their `events` (each case's together, in order). A
/// referral whose receipt is not among the events (sealed after the checkpoint) does not count.
pub fn figures(
    filed: &std::collections::HashMap<crate::model::CaseId, Filed>,
    events: &[Counted],
) -> (Vec<Row>, Row) {
    let mut rows: BTreeMap<(String, i16), Row> = BTreeMap::new();
    let mut total = Row::default();
    for events in events.chunk_by(|a, b| a.case_id == b.case_id) {
        let Some(f) = filed.get(&events[0].case_id) else {
            continue;
        };
        let outcome = Outcome::of(f.kind, events);
        if outcome.received_at.is_none() {
            continue;
        }
        let row = rows
            .entry((f.category.to_string(), f.kind.code()))
            .or_insert_with(|| Row {
                category: Some(f.category.clone()),
                kind: Some(f.kind),
                ..Row::default()
            });
        row.add(&outcome);
        total.add(&outcome);
    }
    (rows.into_values().collect(), total)
}

pub async fn channel_stats(
    state: &AppState,
    call: &Call,
    reader: &StatsReader,
    channel_id: &ChannelId,
    period: Period,
    at_checkpoint: Option<i64>,
) -> AppResult<Figures> {
    call.concerns("channel", channel_id.as_str());
    let work = Work::begin(state, call).await?;
    let tx = work.tx();
    let channel = repo::channels::find(tx, channel_id)
        .await?
        .filter(|c| reader.may_read(c))
        .ok_or(CHANNEL_NOT_FOUND)?;
    let checkpoint = match at_checkpoint {
        None => repo::audit::latest_checkpoint(tx).await?,
        Some(seq) => Some(repo::audit::checkpoint_at(tx, seq).await?.ok_or_else(|| {
            AppError::invalid(
                "checkpoint_seq",
                "is not the sequence number of a signed checkpoint",
            )
        })?),
    };
    let (rows, total) = match &checkpoint {
        Some(checkpoint) => {
            let (filed, events) =
                repo::stats::received(tx, &channel.id, period.start, period.end, checkpoint.seq)
                    .await?;
            figures(&filed, &events)
        }
        None => (Vec::new(), Row::default()),
    };
    work.commit().await?;
    Ok(Figures {
        channel_id: channel.id,
        period,
        checkpoint,
        rows,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_micros;
    use crate::model::CaseId;

    fn hours(h: i64) -> Timestamp {
        from_micros(h * 3_600_000_000)
    }

    fn ev(kind: EventKind, at: i64) -> Counted {
        Counted {
            case_id: CaseId::from("c"),
            kind,
            at: hours(at),
            clock: None,
            due_at: None,
            ground: None,
            extension_reason: None,
        }
    }

    fn clocked(kind: EventKind, at: i64, due: Option<i64>) -> Counted {
        let mut e = ev(kind, at);
        e.clock = Some(DeadlineClock::Response);
        e.due_at = due.map(hours);
        e
    }

    #[test]
    fn an_answer_counts_its_time_without_the_pauses() {
        let events = [
            clocked(EventKind::Filed, 0, Some(8)),
            ev(EventKind::Acknowledged, 1),
            clocked(EventKind::InformationRequested, 2, None),
            clocked(EventKind::InformationProvided, 5, Some(11)),
            clocked(EventKind::Closed, 10, None),
            // A reopened and closed again case keeps its first answer.
            ev(EventKind::Reopened, 12),
            clocked(EventKind::Closed, 20, None),
        ];
        let o = Outcome::of(RequestKind::Request, &events);
        assert_eq!(o.answer_time, Some(chrono::Duration::hours(7)));
        assert_eq!(o.answered_at, Some(hours(10)));
        assert!(!o.answer_late());
    }

    #[test]
    fn a_close_while_paused_moves_the_deadline_first() {
        let events = [
            clocked(EventKind::Filed, 0, Some(8)),
            clocked(EventKind::InformationRequested, 6, None),
            clocked(EventKind::Closed, 12, None),
        ];
        let o = Outcome::of(RequestKind::Request, &events);
        assert_eq!(o.answer_time, Some(chrono::Duration::hours(6)));
        assert_eq!(o.due_at, Some(hours(14)));
        assert!(!o.answer_late());
    }

    #[test]
    fn declines_withdrawals_and_breaches_are_counted_once() {
        let mut declined = ev(EventKind::Declined, 3);
        declined.ground = Some(RefusalGround::NotAvailable);
        let d = Outcome::of(RequestKind::Request, &[ev(EventKind::Filed, 0), declined]);
        assert_eq!(d.declined, Some(Some(RefusalGround::NotAvailable)));
        assert_eq!(d.answered_at, None);
        let late = Outcome::of(
            RequestKind::Request,
            &[
                clocked(EventKind::Filed, 0, Some(8)),
                ev(EventKind::Breached, 8),
                clocked(EventKind::Closed, 9, None),
            ],
        );
        let mut row = Row::default();
        row.add(&late);
        row.add(&d);
        assert_eq!(
            (
                row.received,
                row.answered,
                row.declined,
                row.answer_breached
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(
            row.declined_by_ground
                .get(&RefusalGround::NotAvailable.code()),
            Some(&1)
        );
    }

    #[test]
    fn late_acknowledgements_and_refusals_count_as_breached() {
        let mut acked = ev(EventKind::Acknowledged, 5);
        acked.clock = Some(DeadlineClock::Acknowledge);
        acked.due_at = Some(hours(4));
        let mut declined = ev(EventKind::Declined, 9);
        declined.ground = Some(RefusalGround::NotAvailable);
        let o = Outcome::of(
            RequestKind::Request,
            &[clocked(EventKind::Filed, 0, Some(8)), acked, declined],
        );
        let mut row = Row::default();
        row.add(&o);
        assert_eq!((row.acknowledge_met, row.acknowledge_breached), (0, 1));
        assert_eq!((row.answer_met, row.answer_breached), (0, 1));
        assert_eq!(row.answered, 0);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let times: Vec<_> = [5, 1, 3, 2, 4].map(chrono::Duration::hours).to_vec();
        assert_eq!(Row::quantile(&times, 0.5), Some(chrono::Duration::hours(3)));
        assert_eq!(Row::quantile(&times, 0.9), Some(chrono::Duration::hours(5)));
        assert_eq!(Row::quantile(&[], 0.5), None);
    }
}
