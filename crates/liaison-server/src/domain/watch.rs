//! Live queues: the events of the cases a caller may see, in commit order, from any server.
//!
//! Every case event carries the audit sequence number of the call that recorded it. Sequence
//! numbers are assigned under the audit head's lock, held until commit, so they are dense and in
//! commit order across every server: once a watcher has read an event, nothing can later commit
//! behind it. A watcher's position is therefore one (sequence, event id) pair, handed to the client
//! as an opaque resume token bound to the caller.
//!
//! Commits announce themselves through the [`EventHub`](crate::hub::EventHub): in process directly, and on PostgreSQL
//! through `NOTIFY`, which every server's listener feeds into its own hub.

use std::collections::HashMap;

use crate::authz::{self, CaseAction, CasePermit, CaseScope};
use crate::domain::call::{self, Call, Work};
use crate::domain::cases::{self, CaseFilter};
use crate::domain::paging;
use crate::error::{AppError, AppResult};
use crate::model::{Case, CaseEvent, CaseStatus, CaseView, EventKind, Principal, Timestamp};
use crate::repo;
/// Where a watcher stands: the last event it was handed (a repository query position).
pub use crate::repo::cases::EventCursor;
use crate::state::AppState;

/// Events read from the database at a time for one watcher.
pub const BATCH: u64 = 200;

fn binding(scope: &CaseScope) -> String {
    paging::binding(&["WatchCases", scope.user_id()])
}

/// The token a client passes back to continue after `cursor`.
pub fn resume_token(
    state: &AppState,
    scope: &CaseScope,
    cursor: &EventCursor,
) -> AppResult<String> {
    paging::encode(&state.keys.page_token_secret(), &binding(scope), cursor)
}

/// Starts a watch of the scope's cases: audits the call, and answers where the stream starts
/// (after `resume_token`, or after the newest committed event).
pub async fn open(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    filter: &CaseFilter,
    resume_token: Option<&str>,
) -> AppResult<EventCursor> {
    let resumed = resume_token
        .map(|token| {
            paging::decode::<EventCursor>(&state.keys.page_token_secret(), &binding(scope), token)
                .map_err(|_| {
                    AppError::invalid(
                        "resume_token",
                        "is not a resume token WatchCases issued to you",
                    )
                })
        })
        .transpose()?;
    let work = Work::begin(state, call).await?;
    if let Some(category) = &filter.category {
        cases::check_category_known(work.tx(), scope, category).await?;
    }
    let cursor = match resumed {
        Some(cursor) => cursor,
        None => repo::cases::newest_event_cursor(work.tx()).await?,
    };
    work.commit().await?;
    Ok(cursor)
}

/// One event for the watcher, with its case as it is now.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: CaseEvent,
    pub case: Case,
    pub cursor: EventCursor,
}

/// What a watcher gets from one read: the events it may see, where it now is (past the events it
/// may not see too), and whether more events are waiting.
#[derive(Debug)]
pub struct Batch {
    pub deliveries: Vec<Delivery>,
    pub cursor: EventCursor,
    pub more: bool,
}

/// The next events after `cursor` that the scope may see and `filter` matches. Each is audited as
/// a read of its case before it is handed out; a batch that cannot be audited is not delivered.
pub async fn next(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    filter: &CaseFilter,
    cursor: &EventCursor,
) -> AppResult<Batch> {
    let tx = state.db.begin().await?;
    let events = repo::cases::events_after(&tx, cursor, BATCH).await?;
    let mut ids: Vec<String> = events
        .iter()
        .map(|(_, e)| e.case_id().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    // One permit per case the scope may read; the cases it may not read are left out.
    let permits: HashMap<String, CasePermit> = repo::cases::find_many(&tx, &ids)
        .await?
        .into_iter()
        .filter_map(|case| authz::authorize(scope, case, CaseAction::Read).ok())
        .map(|permit| (permit.case_id().to_string(), permit))
        .collect();
    tx.commit().await?;

    let more = events.len() as u64 == BATCH;
    let now = state.clock.now();
    let mut last = cursor.clone();
    let mut deliveries = Vec::new();
    for (at, event) in events {
        last = at.clone();
        let Some(permit) = permits.get(event.case_id()) else {
            continue;
        };
        let Some(event) = permit.event(event) else {
            continue;
        };
        if matches(filter, scope.principal(), permit.case(), &event, now) {
            deliveries.push(Delivery {
                event,
                case: permit.case().clone(),
                cursor: at,
            });
        }
    }
    if !deliveries.is_empty() {
        let reads: Vec<(&Case, Option<&str>)> = deliveries
            .iter()
            .map(|d| (&d.case, d.event.visible_to_agency_id.as_deref()))
            .collect();
        call::audit_deliveries(state, call, &reads).await?;
    }
    Ok(Batch {
        deliveries,
        cursor: last,
        more,
    })
}

/// Whether the event belongs to the watched queue. The case is matched as it is now, except that
/// a status filter also matches the statuses the event moved between (so a queue sees a case
/// leave it) and `overdue_only` also matches the event that ended an overdue FILED case.
fn matches(f: &CaseFilter, p: &Principal, case: &Case, event: &CaseEvent, now: Timestamp) -> bool {
    let assigned_to = |user: &str| {
        case.assignee_id.as_deref() == Some(user) || event.assignee_id.as_deref() == Some(user)
    };
    let view = match f.view {
        CaseView::All => true,
        CaseView::Incoming => case.receiving_agency_id == p.agency_id,
        CaseView::Outgoing => case.originating_agency_id == p.agency_id,
        CaseView::AssignedToMe => assigned_to(p.user_id.as_str()),
    };
    let statuses = f.statuses.is_empty()
        || [Some(case.status), event.from_status, event.to_status]
            .into_iter()
            .flatten()
            .any(|s| f.statuses.contains(&s));
    let overdue = !f.overdue_only
        || case.is_overdue(now)
        || (event.kind == EventKind::Escalated)
        || (event.from_status == Some(CaseStatus::Filed) && event.at > case.acknowledge_due_at);
    let due = f.due_within.is_none_or(|within| {
        case.running_deadlines()
            .any(|due| due > now && due <= now + within)
    });
    let breached = !f.breached_only
        || matches!(event.kind, EventKind::Escalated | EventKind::Breached)
        || case.missed_a_deadline(now);
    view && statuses
        && overdue
        && due
        && breached
        && f.category.as_ref().is_none_or(|c| *c == case.category)
        && (f.kinds.is_empty() || f.kinds.contains(&case.kind))
        && f.priority.is_none_or(|pr| pr == case.priority)
        && f.channel_id
            .as_deref()
            .is_none_or(|ch| ch == case.channel_id)
        && f.assignee_id.as_deref().is_none_or(assigned_to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures;
    use crate::model::{Priority, Role};

    fn principal(user: &str, agency: &str, role: Role) -> Principal {
        fixtures::principal(user, agency, &[role])
    }

    fn filed_at(at: Timestamp) -> Case {
        Case {
            priority: Priority::Urgent,
            filed_at: at,
            updated_at: at,
            acknowledge_due_at: at + Priority::Urgent.acknowledge_within(),
            ..fixtures::case("in", "ca", "officer-in")
        }
    }

    fn event(
        kind: EventKind,
        from: Option<CaseStatus>,
        to: CaseStatus,
        at: Timestamp,
    ) -> CaseEvent {
        CaseEvent {
            preserved_until: None,
            ground: None,
            id: "e".into(),
            case_id: "c".into(),
            kind,
            actor_id: "a".into(),
            actor_agency_id: "ca".into(),
            at,
            from_status: from,
            to_status: Some(to),
            reason: None,
            assignee_id: None,
            resolution: None,
            note_id: None,
            markings: None,
            visible_to_agency_id: None,
            move_id: None,
            item_number: None,
            clock: None,
            due_at: None,
            extension_reason: None,
        }
    }

    fn filter(view: CaseView) -> CaseFilter {
        CaseFilter {
            kinds: vec![],
            view,
            statuses: vec![],
            category: None,
            priority: None,
            channel_id: None,
            assignee_id: None,
            overdue_only: false,
            due_within: None,
            breached_only: false,
        }
    }

    #[test]
    fn a_queue_sees_a_case_leave_it() {
        let t = chrono::Utc::now();
        let sup = principal("sup-ca", "ca", Role::Supervisor);
        let mut case = filed_at(t);
        case.status = CaseStatus::Acknowledged;
        let ack = event(
            EventKind::Acknowledged,
            Some(CaseStatus::Filed),
            CaseStatus::Acknowledged,
            t,
        );
        let mut filed_queue = filter(CaseView::Incoming);
        filed_queue.statuses = vec![CaseStatus::Filed];
        assert!(matches(&filed_queue, &sup, &case, &ack, t));
        let mut closed_queue = filter(CaseView::Incoming);
        closed_queue.statuses = vec![CaseStatus::Closed];
        assert!(!matches(&closed_queue, &sup, &case, &ack, t));
        assert!(!matches(&filter(CaseView::Outgoing), &sup, &case, &ack, t));
    }

    #[test]
    fn overdue_only_sees_escalations_and_the_end_of_an_overdue_case() {
        let t = chrono::Utc::now();
        let sup = principal("sup-ca", "ca", Role::Supervisor);
        let case = filed_at(t);
        let late = case.acknowledge_due_at + chrono::Duration::minutes(1);
        let mut overdue = filter(CaseView::Incoming);
        overdue.overdue_only = true;
        let filed = event(EventKind::Filed, None, CaseStatus::Filed, t);
        assert!(!matches(&overdue, &sup, &case, &filed, t));
        let escalated = event(
            EventKind::Escalated,
            Some(CaseStatus::Filed),
            CaseStatus::Filed,
            late,
        );
        assert!(matches(&overdue, &sup, &case, &escalated, late));
        let mut acked = case.clone();
        acked.status = CaseStatus::Acknowledged;
        let ack = event(
            EventKind::Acknowledged,
            Some(CaseStatus::Filed),
            CaseStatus::Acknowledged,
            late,
        );
        assert!(matches(&overdue, &sup, &acked, &ack, late));
    }

    /// What [`next`] delivers of an event: its case read under a permit, the event opened by it.
    fn may_see(p: &Principal, case: &Case, event: &CaseEvent) -> bool {
        use crate::authz::Unchecked;
        let scope = authz::case_scope(p).unwrap_or_else(|e| panic!("{e}"));
        authz::authorize(&scope, Unchecked::new(case.clone()), CaseAction::Read)
            .ok()
            .and_then(|permit| permit.event(Unchecked::new(event.clone())))
            .is_some()
    }

    #[test]
    fn internal_note_events_stay_with_their_agency() {
        let t = chrono::Utc::now();
        let case = filed_at(t);
        let mut note = event(EventKind::NoteAdded, None, CaseStatus::Filed, t);
        note.visible_to_agency_id = Some("ca".into());
        assert!(may_see(
            &principal("sup-ca", "ca", Role::Supervisor),
            &case,
            &note
        ));
        assert!(!may_see(
            &principal("sup-in", "in", Role::Supervisor),
            &case,
            &note
        ));
        // An officer sees only the cases they filed or are assigned.
        assert!(!may_see(
            &principal("officer-ca", "ca", Role::Officer),
            &case,
            &event(EventKind::Filed, None, CaseStatus::Filed, t)
        ));
    }
}
