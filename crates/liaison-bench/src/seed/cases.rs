//! Cases over the past [`HISTORY_DAYS`] days with their timelines and notes.
//!
//! First a compact plan of every case (when, on which channel, by whom, how far its lifecycle got)
//! is drawn; the audit entries refer to it. Then each case's rows are made from its plan: the
//! events its status implies, in the order the lifecycle allows, by the people allowed to make
//! them, with versions, etags and times as the service would have left them.

use std::collections::BTreeMap;

use chrono::Datelike;

use super::rng::Rng;
use super::text;
use super::world::{World, FILED_FROM_INDIA};
use liaison_server::clock::{from_micros, to_micros};
use liaison_server::model::{
    Case, CaseEvent, CaseStatus, Category, EventActor, EventKind, Markings, Note, NoteVisibility,
    Priority, RequestKind, Resolution, Timestamp,
};
use liaison_server::repo::seed::{CaseBatch, NewCase};

/// How far back the seeded history goes.
pub const HISTORY_DAYS: i64 = 400;

const PLAN_STREAM: u64 = 2;
const DETAIL_STREAM: u64 = 3;

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// How far a case's lifecycle got before it ended where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    Filed,
    Acknowledged,
    Assigned,
}

/// What the audit entries and the rows need to know of a case, in 48 bytes.
#[derive(Debug, Clone, Copy)]
pub struct PlannedCase {
    pub id: uuid::Uuid,
    pub filed_at: i64,
    pub filer: u32,
    pub assignee: Option<u32>,
    pub number: u32,
    pub channel: u8,
    pub from_india: bool,
    pub category: Category,
    pub priority: Priority,
    pub status: CaseStatus,
    pub reached: Reached,
}

impl PlannedCase {
    /// The agencies that filed and received the case (indices into the world's agencies).
    pub fn parties(&self, world: &World) -> (usize, usize) {
        let [india, canada] = world.channels[usize::from(self.channel)].parties;
        if self.from_india {
            (india, canada)
        } else {
            (canada, india)
        }
    }
}

/// Every case, oldest first, and the reference counters they leave behind.
pub struct Plan {
    pub cases: Vec<PlannedCase>,
    /// Channel id, year, last reference number used.
    pub counters: Vec<(String, i32, i64)>,
}

/// Final statuses by age, in weights per thousand: old cases are mostly over, recent ones open.
fn statuses_for_age(age_days: i64) -> &'static [(CaseStatus, u32)] {
    use CaseStatus::*;
    match age_days {
        0 => &[
            (Filed, 550),
            (Acknowledged, 200),
            (InProgress, 200),
            (AwaitingInfo, 20),
            (Declined, 20),
            (Withdrawn, 10),
        ],
        1..=6 => &[
            (Filed, 120),
            (Acknowledged, 150),
            (InProgress, 450),
            (AwaitingInfo, 120),
            (Closed, 80),
            (Declined, 50),
            (Withdrawn, 30),
        ],
        7..=29 => &[
            (Filed, 30),
            (Acknowledged, 50),
            (InProgress, 400),
            (AwaitingInfo, 150),
            (Closed, 270),
            (Declined, 60),
            (Withdrawn, 40),
        ],
        30..=89 => &[
            (Filed, 5),
            (Acknowledged, 10),
            (InProgress, 200),
            (AwaitingInfo, 80),
            (Closed, 580),
            (Declined, 75),
            (Withdrawn, 50),
        ],
        _ => &[
            (InProgress, 30),
            (AwaitingInfo, 20),
            (Closed, 800),
            (Declined, 90),
            (Withdrawn, 60),
        ],
    }
}

/// Draws the plan of `count` cases filed between `HISTORY_DAYS` days before `now` and a few
/// minutes before it, spread evenly, oldest first.
pub fn plan(world: &World, seed: u64, now: Timestamp, count: u64) -> Plan {
    let now = to_micros(now);
    let start = now - HISTORY_DAYS * DAY;
    let span = i128::from(HISTORY_DAYS * DAY - 10 * MINUTE);
    let channel_weights = world.channel_weights();
    let mut numbers: BTreeMap<(u8, i32), u32> = BTreeMap::new();
    let mut cases = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    for i in 0..count {
        let mut rng = Rng::for_item(seed, PLAN_STREAM, i);
        let slot = i128::from(i) * 1_000_000 + rng.below(1_000_000) as i128;
        let offset = slot * span / (i128::from(count.max(1)) * 1_000_000);
        let filed_at = start + i64::try_from(offset).unwrap_or_default();
        let channel_index = rng.weighted(&channel_weights).unwrap_or_default();
        let channel = &world.channels[channel_index];
        let from_india = rng.chance(FILED_FROM_INDIA);
        let [india, canada] = channel.parties;
        let (originating, receiving) = if from_india {
            (india, canada)
        } else {
            (canada, india)
        };
        let category = rng
            .pick(&channel.categories)
            .copied()
            .unwrap_or(Category::Fraud);
        let priority = rng
            .weighted(&[
                (Priority::Routine, 70),
                (Priority::Priority, 25),
                (Priority::Urgent, 5),
            ])
            .unwrap_or(Priority::Routine);
        let status = rng
            .weighted(statuses_for_age((now - filed_at) / DAY))
            .unwrap_or(CaseStatus::Closed);
        let reached = match status {
            CaseStatus::Filed | CaseStatus::Declined | CaseStatus::PendingRelease => Reached::Filed,
            CaseStatus::Acknowledged => Reached::Acknowledged,
            CaseStatus::Withdrawn => rng
                .weighted(&[
                    (Reached::Filed, 50),
                    (Reached::Acknowledged, 20),
                    (Reached::Assigned, 30),
                ])
                .unwrap_or(Reached::Filed),
            CaseStatus::InProgress | CaseStatus::AwaitingInfo | CaseStatus::Closed => {
                Reached::Assigned
            }
        };
        let filer = rng
            .pick(&world.officers[originating])
            .copied()
            .unwrap_or_default();
        let assignee = (reached == Reached::Assigned)
            .then(|| rng.pick(&world.officers[receiving]).copied())
            .flatten();
        let year = from_micros(filed_at).year();
        let channel_id = u8::try_from(channel_index).unwrap_or_default();
        let number = numbers.entry((channel_id, year)).or_insert(0);
        *number += 1;
        cases.push(PlannedCase {
            id: rng.uuid_v7(from_micros(filed_at)),
            filed_at,
            filer: u32::try_from(filer).unwrap_or_default(),
            assignee: assignee.and_then(|a| u32::try_from(a).ok()),
            number: *number,
            channel: channel_id,
            from_india,
            category,
            priority,
            status,
            reached,
        });
    }
    let counters = numbers
        .into_iter()
        .map(|((channel, year), last)| {
            (
                world.channels[usize::from(channel)].channel.id.to_string(),
                year,
                i64::from(last),
            )
        })
        .collect();
    Plan { cases, counters }
}

/// Builds one case's rows.
struct Timeline<'a> {
    world: &'a World,
    rng: Rng,
    now: i64,
    case_id: String,
    events: Vec<CaseEvent>,
    notes: Vec<Note>,
    version: i64,
    updated_at: i64,
}

impl Timeline<'_> {
    /// A moment `typical` after `t`, give or take, never past now: recent cases move faster.
    fn after(&mut self, t: i64, typical: i64) -> i64 {
        let wanted = (typical as f64 * self.rng.between(0.3, 1.7)) as i64;
        let room = ((self.now - t) as f64 * self.rng.between(0.2, 0.6)) as i64;
        (t + wanted.min(room).max(1)).min(self.now)
    }

    fn event(&mut self, kind: EventKind, actor: Option<usize>, at: i64) -> &mut CaseEvent {
        let id = self.rng.uuid_v7(from_micros(at)).to_string();
        let actor = match actor {
            Some(user) => {
                let user = &self.world.user(user).user;
                EventActor::User {
                    id: &user.id,
                    agency_id: &user.agency_id,
                }
            }
            // The service's own events (escalation) have no actor.
            None => EventActor::Service,
        };
        let event = CaseEvent::new(
            id.into(),
            self.case_id.clone().into(),
            kind,
            actor,
            from_micros(at),
        );
        self.events.push(event);
        let last = self.events.len() - 1;
        &mut self.events[last]
    }

    /// A lifecycle move: an event from one status to another, and a new version of the case.
    fn moved(
        &mut self,
        kind: EventKind,
        actor: usize,
        at: i64,
        from: CaseStatus,
        to: CaseStatus,
    ) -> &mut CaseEvent {
        self.version += 1;
        self.updated_at = self.updated_at.max(at);
        let event = self.event(kind, Some(actor), at);
        event.from_status = Some(from);
        event.to_status = Some(to);
        event
    }
}

/// The rows of case `index` of the plan, added to `batch`.
pub fn generate(
    world: &World,
    seed: u64,
    now: Timestamp,
    index: u64,
    planned: &PlannedCase,
    batch: &mut CaseBatch,
) {
    use CaseStatus::*;
    let (originating, receiving) = planned.parties(world);
    let channel = &world.channels[usize::from(planned.channel)];
    let filer = planned.filer as usize;
    let assignee = planned.assignee.map(|a| a as usize);
    let filed_at = planned.filed_at;
    let within = planned
        .priority
        .acknowledge_within()
        .num_microseconds()
        .unwrap_or(DAY);
    let due = filed_at + within;
    let mut t = Timeline {
        world,
        rng: Rng::for_item(seed, DETAIL_STREAM, index),
        now: to_micros(now),
        case_id: planned.id.to_string(),
        events: Vec::with_capacity(8),
        notes: Vec::new(),
        version: 1,
        updated_at: filed_at,
    };
    let receiving_supervisor = t
        .rng
        .pick(&world.supervisors[receiving])
        .copied()
        .unwrap_or_default();
    let originating_supervisor = t
        .rng
        .pick(&world.supervisors[originating])
        .copied()
        .unwrap_or_default();

    t.event(EventKind::Filed, Some(filer), filed_at).to_status = Some(Filed);

    // The receiving side answers within the deadline, mostly; a late answer was escalated first.
    let answer_after = if t.rng.chance(0.85) {
        t.rng.between(0.05, 0.9)
    } else {
        t.rng.between(1.05, 2.5)
    };
    let mut answered = filed_at + (within as f64 * answer_after) as i64;
    if answered >= t.now {
        answered = filed_at + ((t.now - filed_at) as f64 * t.rng.between(0.2, 0.8)) as i64;
    }
    let answers = planned.status != Filed;
    let escalated_at = due + t.rng.below(59) as i64 * SECOND + SECOND;
    let escalated = escalated_at < t.now && (!answers || answered > escalated_at);
    if escalated {
        let overdue_minutes = (escalated_at - due) / MINUTE;
        let event = t.event(EventKind::Escalated, None, escalated_at);
        event.from_status = Some(Filed);
        event.to_status = Some(Filed);
        event.reason = Some(format!(
            "not acknowledged within {} hours of filing (overdue by {overdue_minutes} minutes)",
            within / HOUR
        ));
    }

    let mut acknowledged_at = None;
    let mut closed_at = None;
    let mut resolution = None;
    let mut assigned_at = None;
    match (planned.status, planned.reached) {
        (Filed, _) => {}
        (Declined, _) => {
            let at = answered;
            let reason = text::decline_reason(&mut t.rng);
            t.moved(
                EventKind::Declined,
                receiving_supervisor,
                at,
                Filed,
                Declined,
            )
            .reason = Some(reason);
            closed_at = Some(at);
        }
        (Withdrawn, Reached::Filed) => {
            let at = answered;
            let reason = text::withdraw_reason(&mut t.rng);
            t.moved(EventKind::Withdrawn, filer, at, Filed, Withdrawn)
                .reason = reason;
            closed_at = Some(at);
        }
        (status, reached) => {
            let mut at = answered;
            t.moved(
                EventKind::Acknowledged,
                receiving_supervisor,
                at,
                Filed,
                Acknowledged,
            );
            acknowledged_at = Some(at);
            let mut current = Acknowledged;
            if let (Reached::Assigned, Some(assignee)) = (reached, assignee) {
                at = t.after(at, 6 * HOUR);
                let others: Vec<usize> = world.officers[receiving]
                    .iter()
                    .copied()
                    .filter(|&o| o != assignee)
                    .collect();
                let reassigned = t.rng.chance(0.04) && !others.is_empty();
                if reassigned {
                    let first = t.rng.pick(&others).copied().unwrap_or(assignee);
                    t.moved(
                        EventKind::Assigned,
                        receiving_supervisor,
                        at,
                        Acknowledged,
                        InProgress,
                    )
                    .assignee_id = Some(world.user(first).user.id.clone());
                    at = t.after(at, 2 * DAY);
                    current = InProgress;
                }
                t.moved(
                    EventKind::Assigned,
                    receiving_supervisor,
                    at,
                    current,
                    InProgress,
                )
                .assignee_id = Some(world.user(assignee).user.id.clone());
                assigned_at = Some(at);
                current = InProgress;
                let cycles = t
                    .rng
                    .weighted(&[(0usize, 60), (1, 30), (2, 10)])
                    .unwrap_or_default();
                for _ in 0..cycles {
                    at = t.after(at, 3 * DAY);
                    let question = text::question(&mut t.rng);
                    t.moved(
                        EventKind::InformationRequested,
                        assignee,
                        at,
                        InProgress,
                        AwaitingInfo,
                    )
                    .reason = Some(question);
                    at = t.after(at, 2 * DAY);
                    let answer = text::answer(&mut t.rng);
                    t.moved(
                        EventKind::InformationProvided,
                        filer,
                        at,
                        AwaitingInfo,
                        InProgress,
                    )
                    .reason = Some(answer);
                }
                match status {
                    AwaitingInfo => {
                        at = t.after(at, 3 * DAY);
                        let question = text::question(&mut t.rng);
                        t.moved(
                            EventKind::InformationRequested,
                            assignee,
                            at,
                            InProgress,
                            AwaitingInfo,
                        )
                        .reason = Some(question);
                        current = AwaitingInfo;
                    }
                    Closed => {
                        let closings = if t.rng.chance(0.03) { 2 } else { 1 };
                        for closing in 0..closings {
                            if closing > 0 {
                                at = t.after(at, 5 * DAY);
                                let reason = text::reopen_reason(&mut t.rng);
                                t.moved(
                                    EventKind::Reopened,
                                    receiving_supervisor,
                                    at,
                                    Closed,
                                    InProgress,
                                )
                                .reason = Some(reason);
                            }
                            at = t.after(at, 8 * DAY);
                            let closer = if t.rng.chance(0.85) {
                                assignee
                            } else {
                                receiving_supervisor
                            };
                            let chosen = t
                                .rng
                                .weighted(&[
                                    (Resolution::Actioned, 55),
                                    (Resolution::NoAction, 25),
                                    (Resolution::ReferredElsewhere, 12),
                                    (Resolution::Duplicate, 8),
                                ])
                                .unwrap_or(Resolution::Actioned);
                            t.moved(EventKind::Closed, closer, at, InProgress, Closed)
                                .resolution = Some(chosen);
                            resolution = Some(chosen);
                        }
                        closed_at = Some(at);
                        current = Closed;
                    }
                    _ => {}
                }
            }
            if status == Withdrawn {
                at = t.after(at, 3 * DAY);
                let reason = text::withdraw_reason(&mut t.rng);
                t.moved(EventKind::Withdrawn, filer, at, current, Withdrawn)
                    .reason = reason;
                closed_at = Some(at);
            }
        }
    }

    // Notes from either side while the case was open; a shared one is a new version of the case.
    let notes = t
        .rng
        .weighted(&[(0usize, 30), (1, 35), (2, 22), (3, 13)])
        .unwrap_or_default();
    let open_until = closed_at.unwrap_or(t.now);
    for _ in 0..notes {
        let created = filed_at + ((open_until - filed_at) as f64 * t.rng.unit()) as i64;
        let mut author = *t
            .rng
            .pick(&[filer, originating_supervisor, receiving_supervisor, filer])
            .unwrap_or(&filer);
        if let (Some(assignee), Some(since)) = (assignee, assigned_at) {
            if created >= since && t.rng.chance(0.4) {
                author = assignee;
            }
        }
        let visibility = if t.rng.chance(0.3) {
            NoteVisibility::Internal
        } else {
            NoteVisibility::Shared
        };
        let author_user = &world.user(author).user;
        let note = Note {
            id: t.rng.uuid_v7(from_micros(created)).to_string().into(),
            case_id: t.case_id.clone().into(),
            author_id: author_user.id.clone(),
            author_agency_id: author_user.agency_id.clone(),
            visibility,
            body: text::note_body(&mut t.rng),
            markings: Markings::default(),
            created_at: from_micros(created),
        };
        let note_id = note.id.clone();
        let author_agency = note.author_agency_id.clone();
        t.notes.push(note);
        let event = t.event(EventKind::NoteAdded, Some(author), created);
        event.note_id = Some(note_id);
        if visibility == NoteVisibility::Internal {
            event.visible_to_agency_id = Some(author_agency);
        } else {
            t.version += 1;
            t.updated_at = t.updated_at.max(created);
        }
    }

    let originating_agency = &world.agencies[originating];
    let receiving_agency = &world.agencies[receiving];
    let (title, summary) = text::case_text(
        &mut t.rng,
        planned.category,
        &originating_agency.country,
        &receiving_agency.country,
    );
    let year = from_micros(filed_at).year();
    let case = Case {
        id: t.case_id.clone().into(),
        reference: format!(
            "{}-{}-{}-{year}-{:06}",
            originating_agency.country, receiving_agency.country, planned.category, planned.number
        ),
        channel_id: channel.channel.id.clone(),
        category: planned.category.into(),
        priority: planned.priority,
        title,
        summary,
        originating_agency_id: originating_agency.id.clone(),
        receiving_agency_id: receiving_agency.id.clone(),
        filed_by: world.user(filer).user.id.clone(),
        assignee_id: assignee
            .filter(|_| planned.reached == Reached::Assigned)
            .map(|a| world.user(a).user.id.clone()),
        status: planned.status,
        resolution,
        filed_at: from_micros(filed_at),
        updated_at: from_micros(t.updated_at),
        acknowledged_at: acknowledged_at.map(from_micros),
        closed_at: closed_at.map(from_micros),
        acknowledge_due_at: from_micros(due),
        markings: Markings::default(),
        kind: RequestKind::Request,
        decline_ground: None,
        preservation: None,
        legal_basis_id: None,
        items: Vec::new(),
        released_at: Some(from_micros(filed_at)),
        acknowledge_within: planned.priority.acknowledge_within(),
        due_soon_percent: liaison_server::model::DUE_SOON_PERCENT,
        // The seeded history is from before answer clocks.
        response: None,
        marks: Default::default(),
        version: t.version,
    };
    let request_id = t.rng.uuid_v4().to_string();
    batch.cases.push(NewCase {
        case,
        request_id,
        escalated_at: escalated.then(|| from_micros(escalated_at)),
    });
    batch.events.append(&mut t.events);
    batch.notes.append(&mut t.notes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::world::Staffing;

    fn world(now: Timestamp) -> World {
        World::generate(
            11,
            now - chrono::Duration::days(HISTORY_DAYS),
            Staffing {
                officers: 3,
                supervisors: 2,
                auditors: 1,
            },
        )
    }

    fn rows(seed: u64, count: u64, now: Timestamp) -> (Plan, CaseBatch) {
        let w = world(now);
        let plan = plan(&w, seed, now, count);
        let mut batch = CaseBatch::default();
        for (i, planned) in plan.cases.iter().enumerate() {
            generate(&w, seed, now, i as u64, planned, &mut batch);
        }
        (plan, batch)
    }

    fn now() -> Timestamp {
        liaison_server::clock::from_micros(1_780_000_000_000_000)
    }

    #[test]
    fn the_same_seed_makes_the_same_cases() {
        let (_, a) = rows(5, 200, now());
        let (_, b) = rows(5, 200, now());
        let (_, c) = rows(6, 200, now());
        let ids = |batch: &CaseBatch| {
            batch
                .cases
                .iter()
                .map(|c| (c.case.id.clone(), c.case.title.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.events.len(), b.events.len());
        assert_ne!(ids(&a), ids(&c));
    }

    #[test]
    fn every_timeline_follows_the_lifecycle() {
        let now = now();
        let (plan, batch) = rows(1, 3000, now);
        assert_eq!(plan.cases.len(), 3000);
        for new in &batch.cases {
            let case = &new.case;
            let mut events: Vec<&CaseEvent> = batch
                .events
                .iter()
                .filter(|e| e.case_id == case.id)
                .collect();
            events.sort_by_key(|e| (e.at, e.id.clone()));
            let moves: Vec<&&CaseEvent> = events
                .iter()
                .filter(|e| {
                    e.kind != EventKind::NoteAdded
                        && e.kind != EventKind::Escalated
                        && e.kind != EventKind::Filed
                })
                .collect();
            // Each move starts where the one before ended, and the last ends at the status.
            let mut status = CaseStatus::Filed;
            for m in &moves {
                assert_eq!(m.from_status, Some(status), "{case:?} {events:?}");
                status = m.to_status.unwrap_or(status);
            }
            assert_eq!(status, case.status, "{case:?}");
            let shared_notes = batch
                .notes
                .iter()
                .filter(|n| n.case_id == case.id && n.visibility == NoteVisibility::Shared)
                .count() as i64;
            assert_eq!(case.version, 1 + moves.len() as i64 + shared_notes);
            assert!(events.iter().all(|e| e.at >= case.filed_at && e.at <= now));
            assert_eq!(events.first().map(|e| e.kind), Some(EventKind::Filed));
            assert!(case.updated_at >= case.filed_at && case.updated_at <= now);
            assert_eq!(
                case.closed_at.is_some(),
                matches!(
                    case.status,
                    CaseStatus::Closed | CaseStatus::Declined | CaseStatus::Withdrawn
                )
            );
            assert_eq!(case.resolution.is_some(), case.status == CaseStatus::Closed);
            let escalations = events
                .iter()
                .filter(|e| e.kind == EventKind::Escalated)
                .count();
            assert_eq!(escalations, usize::from(new.escalated_at.is_some()));
            if case.status == CaseStatus::Filed && case.acknowledge_due_at < now {
                let late = now - case.acknowledge_due_at;
                assert!(new.escalated_at.is_some() || late <= chrono::Duration::minutes(1));
            }
            if matches!(
                case.status,
                CaseStatus::InProgress | CaseStatus::AwaitingInfo | CaseStatus::Closed
            ) {
                assert!(case.assignee_id.is_some());
            }
        }
    }

    #[test]
    fn references_count_up_per_channel_and_year() {
        let now = now();
        let (plan, batch) = rows(3, 2000, now);
        let mut seen = std::collections::HashSet::new();
        for new in &batch.cases {
            assert!(seen.insert((new.case.channel_id.clone(), new.case.reference.clone())));
        }
        let total: i64 = plan.counters.iter().map(|(_, _, last)| last).sum();
        assert_eq!(total, 2000);
        let mut filed: Vec<i64> = plan.cases.iter().map(|c| c.filed_at).collect();
        let sorted = {
            let mut s = filed.clone();
            s.sort();
            s
        };
        assert_eq!(filed, sorted);
        filed.dedup();
        assert!(filed.len() > 1990);
    }

    #[test]
    fn the_mix_is_realistic() {
        let (plan, _) = rows(9, 20_000, now());
        let share = |pred: &dyn Fn(&PlannedCase) -> bool| {
            plan.cases.iter().filter(|c| pred(c)).count() as f64 / plan.cases.len() as f64
        };
        let routine = share(&|c| c.priority == Priority::Routine);
        let urgent = share(&|c| c.priority == Priority::Urgent);
        assert!((0.65..0.75).contains(&routine), "{routine}");
        assert!((0.03..0.07).contains(&urgent), "{urgent}");
        let closed = share(&|c| c.status == CaseStatus::Closed);
        let open = share(&|c| {
            !matches!(
                c.status,
                CaseStatus::Closed | CaseStatus::Declined | CaseStatus::Withdrawn
            )
        });
        assert!(closed > 0.6, "{closed}");
        assert!((0.05..0.25).contains(&open), "{open}");
    }
}
