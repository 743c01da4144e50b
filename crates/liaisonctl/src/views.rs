//! Cases, timelines and notes as people read them in a terminal.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use liaison_proto as pb;

use crate::json::time;
use crate::names::friendly;
use crate::output::{clean, clean_block, truncate, Cell, Output, Style, Table};

/// The agencies as tables name them (codes by id) and the time zones they keep (by id).
#[derive(Debug, Clone, Default)]
pub struct Agencies {
    pub codes: HashMap<String, String>,
    pub zones: HashMap<String, String>,
}

/// Who a table speaks to, to mark "you", to name agencies and to show times in their hours.
pub struct Viewer<'a> {
    pub user_id: &'a str,
    pub agency_id: &'a str,
    pub agencies: &'a Agencies,
}

impl Viewer<'_> {
    fn agency(&self, id: &str) -> String {
        self.agencies
            .codes
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn zone(&self, agency_id: &str) -> Option<chrono_tz::Tz> {
        self.agencies.zones.get(agency_id)?.parse().ok()
    }

    /// The time zones of a case's reader and of its other side, by IANA name.
    pub fn zones_of(&self, c: &pb::Case) -> (Option<chrono_tz::Tz>, Option<chrono_tz::Tz>) {
        let other = if c.originating_agency_id == self.agency_id {
            &c.receiving_agency_id
        } else {
            &c.originating_agency_id
        };
        (self.zone(self.agency_id), self.zone(other))
    }

    /// A time in the reader's zone and, where it differs, the other side's:
    /// "2026-12-03 14:00 IST · 00:30 PST" (with the other side's date when it is another day).
    pub fn both_zones(&self, c: &pb::Case, t: DateTime<Utc>) -> String {
        match self.zones_of(c) {
            (None, None) => absolute(t),
            (mine, other) => {
                let mine = mine.unwrap_or(chrono_tz::UTC);
                let here = t.with_timezone(&mine);
                let mut text = here.format("%Y-%m-%d %H:%M %Z").to_string();
                if let Some(other) = other.filter(|o| *o != mine) {
                    let there = t.with_timezone(&other);
                    let format = if there.date_naive() == here.date_naive() {
                        "%H:%M %Z"
                    } else {
                        "%H:%M %Z (%b %-d)"
                    };
                    text.push_str(&format!(" · {}", there.format(format)));
                }
                text
            }
        }
    }

    /// "Asha Rao (officer.in, IN-NCB)", marked when it is the viewer; the id when the server did
    /// not name the person.
    fn person(&self, person: Option<&pb::Person>, user_id: &str) -> String {
        if user_id.is_empty() {
            return "—".to_string();
        }
        let name = person.map_or_else(|| user_id.to_string(), person_name);
        if user_id == self.user_id {
            format!("{name} (you)")
        } else {
            name
        }
    }
}

/// "Asha Rao (officer.in, IN-NCB)".
pub fn person_name(p: &pb::Person) -> String {
    format!(
        "{} ({}, {})",
        clean(&p.display_name),
        clean(&p.username),
        clean(&p.agency_code)
    )
}

pub fn status_style(status: i32) -> Option<Style> {
    match pb::CaseStatus::try_from(status) {
        Ok(pb::CaseStatus::Filed | pb::CaseStatus::AwaitingInfo) => Some(Style::Yellow),
        Ok(pb::CaseStatus::Acknowledged | pb::CaseStatus::InProgress) => Some(Style::Cyan),
        Ok(pb::CaseStatus::Closed) => Some(Style::Green),
        Ok(pb::CaseStatus::Declined | pb::CaseStatus::Withdrawn) => Some(Style::Dim),
        _ => None,
    }
}

pub fn priority_style(priority: i32) -> Option<Style> {
    match pb::Priority::try_from(priority) {
        Ok(pb::Priority::Urgent) => Some(Style::Red),
        Ok(pb::Priority::Priority) => Some(Style::Yellow),
        _ => None,
    }
}

/// "2026-03-04 10:15 UTC".
pub fn absolute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "2026-03-04 10:15 UTC (3 min ago)"; empty when absent.
pub fn when(out: &Output, t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => format!("{} ({})", absolute(t), out.relative(Some(t))),
        None => String::new(),
    }
}

/// The deadline a case runs against now: the acknowledgement's while FILED, else the answer's
/// while its clock runs.
fn running_deadline(c: &pb::Case) -> Option<(&'static str, DateTime<Utc>)> {
    if c.status == pb::CaseStatus::Filed as i32 {
        return time(c.acknowledge_due_at.as_ref()).map(|at| ("ack", at));
    }
    let clock = c.response.as_ref()?;
    if clock.stopped_at.is_some() || clock.paused_since.is_some() {
        return None;
    }
    time(clock.due_at.as_ref()).map(|at| ("answer", at))
}

/// A case's running deadline in a queue's column: "ack in 3 h", "answer overdue 2 h", or
/// "answer paused" while the case awaits information.
fn due(out: &Output, c: &pb::Case) -> (String, Option<Style>) {
    let paused = c
        .response
        .as_ref()
        .is_some_and(|r| r.stopped_at.is_none() && r.paused_since.is_some());
    if paused {
        return ("answer paused".into(), None);
    }
    let Some((what, at)) = running_deadline(c) else {
        return (String::new(), None);
    };
    if at <= out.now {
        let late = out.relative(Some(at)).replace(" ago", "");
        (format!("{what} overdue {late}"), Some(Style::Red))
    } else {
        let soon = at - out.now <= chrono::Duration::hours(2);
        (
            format!("{what} {}", out.relative(Some(at))),
            soon.then_some(Style::Yellow),
        )
    }
}

/// Where the answer's clock stands, in a line: "due 2026-12-03 09:00 UTC (in 5 h) · 3 h 10 min
/// elapsed · paused 1 h", "answered 2026-12-03 08:12 UTC, in time", "paused while awaiting
/// information".
pub fn answer_line(out: &Output, viewer: Option<&Viewer<'_>>, c: &pb::Case) -> String {
    let Some(r) = &c.response else {
        return "no answer owed".into();
    };
    let absolute = |t: DateTime<Utc>| match viewer {
        Some(v) => v.both_zones(c, t),
        None => absolute(t),
    };
    let span = |d: Option<&prost_types::Duration>| {
        let minutes = d.map_or(0, |d| d.seconds / 60).max(0);
        match (minutes / 1440, minutes / 60 % 24, minutes % 60) {
            (0, 0, m) => format!("{m} min"),
            (0, h, m) => format!("{h} h {m:02} min"),
            (d, h, _) => format!("{d} d {h} h"),
        }
    };
    let due = time(r.due_at.as_ref());
    let mut line = match (
        due,
        time(r.stopped_at.as_ref()),
        time(r.paused_since.as_ref()),
    ) {
        (None, _, _) => "starts when the referral is released".to_string(),
        (Some(due), Some(stopped), _) => format!(
            "stopped {} ({}), due {}",
            absolute(stopped),
            if r.breached { "late" } else { "in time" },
            absolute(due)
        ),
        (Some(due), None, Some(since)) => format!(
            "paused since {} while awaiting information (due {} before the pause)",
            absolute(since),
            absolute(due)
        ),
        (Some(due), None, None) if r.breached => {
            let late = out.relative(Some(due)).replace(" ago", "");
            format!("due {} (overdue {late})", absolute(due))
        }
        (Some(due), None, None) => format!("due {} ({})", absolute(due), out.relative(Some(due))),
    };
    if due.is_some() {
        line.push_str(&format!(" · {} elapsed", span(r.elapsed.as_ref())));
        if r.paused.as_ref().is_some_and(|p| p.seconds > 0) {
            line.push_str(&format!(" · paused {}", span(r.paused.as_ref())));
        }
        if !r.extensions.is_empty() {
            line.push_str(&format!(" · extended {}×", r.extensions.len()));
        }
    }
    line
}

/// A case's extensions, one a line: "judicial-authorisation-pending: to 2026-12-10 09:00 UTC
/// (from 2026-12-03 09:00 UTC): the court sits on Monday".
fn extensions_text(r: &pb::ResponseClock) -> String {
    r.extensions
        .iter()
        .map(|e| {
            let text = if e.text.is_empty() {
                String::new()
            } else {
                format!(": {}", clean(&e.text))
            };
            format!(
                "{}: to {} (from {}){text}",
                friendly::<pb::ExtensionReason>(e.reason),
                time(e.to_due_at.as_ref()).map(absolute).unwrap_or_default(),
                time(e.from_due_at.as_ref())
                    .map(absolute)
                    .unwrap_or_default(),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A handling code as people say it: "H2"; "?" when absent or unknown to this client.
fn handling_code(handling: i32) -> String {
    friendly::<pb::Handling>(handling).to_ascii_uppercase()
}

/// The grading as the 4x4 system writes it: "B2" (source letter, accuracy number).
fn grading(m: &pb::Markings) -> String {
    let source = friendly::<pb::SourceReliability>(m.source_reliability).to_ascii_uppercase();
    let accuracy = match pb::InformationAccuracy::try_from(m.information_accuracy) {
        Ok(pb::InformationAccuracy::KnownTrue) => "1",
        Ok(pb::InformationAccuracy::KnownToSource) => "2",
        Ok(pb::InformationAccuracy::Corroborated) => "3",
        Ok(pb::InformationAccuracy::CannotBeJudged) => "4",
        _ => "?",
    };
    format!("{source}{accuracy}")
}

/// Markings in a few characters: "H2 · B2".
pub fn markings_short(m: Option<&pb::Markings>) -> String {
    match m {
        Some(m) => format!("{} · {}", handling_code(m.handling), grading(m)),
        None => "unmarked".into(),
    }
}

/// What the handling code binds the reader to, in a line.
fn handling_meaning(m: &pb::Markings) -> String {
    match pb::Handling::try_from(m.handling) {
        Ok(pb::Handling::H0) => "no restriction beyond the law".into(),
        Ok(pb::Handling::H1) => {
            "not for use as evidence in judicial proceedings without the provider's permission"
                .into()
        }
        Ok(pb::Handling::H2) => "not to be disseminated without the provider's permission".into(),
        Ok(pb::Handling::H3) => format!("restricted: {}", clean(&m.handling_conditions)),
        _ => "unknown handling code".into(),
    }
}

fn handling_style(handling: i32) -> Option<Style> {
    match pb::Handling::try_from(handling) {
        Ok(pb::Handling::H0) => None,
        Ok(pb::Handling::H1) => Some(Style::Yellow),
        _ => Some(Style::Red),
    }
}

/// The banner over a case or note: the handling code and what it binds the reader to, and the
/// grading.
pub fn markings_banner(out: &Output, m: Option<&pb::Markings>) -> String {
    let Some(m) = m else {
        return String::new();
    };
    let text = format!(
        "{} — {} · graded {}",
        handling_code(m.handling),
        handling_meaning(m),
        grading(m)
    );
    out.paint(&text, handling_style(m.handling).unwrap_or(Style::Bold))
}

/// Where a preservation stands, in a line: "preserved until 2027-02-01 00:00 UTC (in 62 d)".
pub fn preservation_line(out: &Output, p: Option<&pb::Preservation>) -> String {
    let Some(p) = p else {
        return String::new();
    };
    let until = time(p.preserved_until.as_ref())
        .map(|t| format!("{} ({})", absolute(t), out.relative(Some(t))))
        .unwrap_or_default();
    match pb::PreservationStatus::try_from(p.status) {
        Ok(pb::PreservationStatus::Requested) => "requested, not yet confirmed".into(),
        Ok(pb::PreservationStatus::Preserved) => format!("preserved until {until}"),
        Ok(pb::PreservationStatus::Extended) => format!("extended, preserved until {until}"),
        Ok(pb::PreservationStatus::Superseded) => {
            format!("superseded by {}", clean(&p.superseded_by))
        }
        Ok(pb::PreservationStatus::Lapsed) => format!("lapsed: was preserved until {until}"),
        _ => friendly::<pb::PreservationStatus>(p.status),
    }
}

pub fn case_table(out: &Output, cases: &[pb::Case]) -> String {
    if cases.is_empty() {
        return "No cases.".into();
    }
    // Cases by reference and people by username: ids are in `-o json`.
    let mut table = Table::new(&[
        "REFERENCE",
        "H",
        "STATUS",
        "PRIORITY",
        "CATEGORY",
        "FILED",
        "DUE",
        "ASSIGNEE",
        "TITLE",
    ]);
    for c in cases {
        let (due, due_style) = due(out, c);
        table.row(vec![
            c.reference.as_str().into(),
            Cell::styled(
                c.markings
                    .as_ref()
                    .map_or(String::new(), |m| handling_code(m.handling)),
                c.markings.as_ref().and_then(|m| handling_style(m.handling)),
            ),
            Cell::styled(friendly::<pb::CaseStatus>(c.status), status_style(c.status)),
            Cell::styled(
                friendly::<pb::Priority>(c.priority),
                priority_style(c.priority),
            ),
            category_name(c).into(),
            out.relative(time(c.filed_at.as_ref())).into(),
            Cell::styled(due, due_style),
            match &c.assignee {
                Some(p) => p.username.as_str().into(),
                None if c.assignee_id.is_empty() => "—".into(),
                None => c.assignee_id.as_str().into(),
            },
            truncate(&c.title, 60).into(),
        ]);
    }
    out.table(&table)
}

/// `basis` names the legal basis the case cites (its code and title), when it cites one.
pub fn case_fields(out: &Output, viewer: &Viewer<'_>, c: &pb::Case, basis: Option<&str>) -> String {
    let mut status = out.paint(&friendly::<pb::CaseStatus>(c.status), Style::Bold);
    if c.overdue {
        status.push_str(&format!(" {}", out.paint("(overdue)", Style::Red)));
    }
    let mut fields = vec![
        ("Handling", markings_banner(out, c.markings.as_ref())),
        ("Reference", c.reference.clone()),
        ("Title", clean(&c.title)),
        ("Status", status),
        ("Kind", friendly::<pb::RequestKind>(c.kind)),
        ("Priority", friendly::<pb::Priority>(c.priority)),
        ("Category", category_name(c)),
    ];
    if let Some(basis) = basis {
        fields.push(("Legal basis", clean(basis)));
    }
    fields.extend([
        (
            "From → to",
            format!(
                "{} → {}",
                viewer.agency(&c.originating_agency_id),
                viewer.agency(&c.receiving_agency_id)
            ),
        ),
        (
            "Filed",
            format!(
                "{} by {}",
                when(out, time(c.filed_at.as_ref())),
                viewer.person(c.filer.as_ref(), &c.filed_by)
            ),
        ),
    ]);
    if let Some(("ack", at)) = running_deadline(c) {
        let (due, _) = due(out, c);
        let due = due.trim_start_matches("ack ");
        fields.push(("Ack due", format!("{} ({due})", viewer.both_zones(c, at))));
    }
    if let Some(at) = time(c.acknowledged_at.as_ref()) {
        fields.push(("Acknowledged", when(out, Some(at))));
    }
    if let Some(r) = &c.response {
        let style = if r.breached { Style::Red } else { Style::Bold };
        fields.push((
            "Answer",
            out.paint(&answer_line(out, Some(viewer), c), style),
        ));
        if !r.extensions.is_empty() {
            fields.push(("Extensions", extensions_text(r)));
        }
    }
    fields.push((
        "Assignee",
        if c.assignee_id.is_empty() {
            "unassigned".into()
        } else {
            viewer.person(c.assignee.as_ref(), &c.assignee_id)
        },
    ));
    if let Some(p) = &c.preservation {
        let style = match pb::PreservationStatus::try_from(p.status) {
            Ok(pb::PreservationStatus::Requested | pb::PreservationStatus::Lapsed) => Style::Red,
            _ => Style::Bold,
        };
        fields.push((
            "Preservation",
            out.paint(&preservation_line(out, Some(p)), style),
        ));
        if let Some(order) = &p.order {
            fields.push(("Data", clean(&order.data)));
            fields.push(("Held by", clean(&order.custodian)));
            fields.push(("Offence", clean(&order.offence)));
            fields.push(("Why", clean(&order.necessity)));
            fields.push(("Formal request", clean(&order.formal_request)));
        }
    }
    if !c.items.is_empty() {
        fields.push(("Items", items_text(c)));
    }
    if c.decline_ground != 0 {
        fields.push((
            "Declined on",
            friendly::<pb::RefusalGround>(c.decline_ground),
        ));
    }
    if let Some(at) = time(c.closed_at.as_ref()) {
        fields.push((
            "Closed",
            format!(
                "{} — {}",
                when(out, Some(at)),
                friendly::<pb::Resolution>(c.resolution)
            ),
        ));
    }
    fields.push(("Updated", when(out, time(c.updated_at.as_ref()))));
    fields.push(("Channel", c.channel_id.clone()));
    fields.push(("ID", c.id.clone()));
    fields.push(("Etag", c.etag.clone()));
    fields.push(("Summary", clean_block(&c.summary)));
    out.fields(&fields)
}

/// A case's category as people say it: `drugs`, `organised-crime`.
fn category_name(c: &pb::Case) -> String {
    if c.category_code.is_empty() {
        friendly::<pb::Category>(c.category)
    } else {
        c.category_code.to_ascii_lowercase().replace('_', "-")
    }
}

/// A request's items, one a line: "2. waybill 1234 — refused (not-available): reasons".
fn items_text(c: &pb::Case) -> String {
    c.items
        .iter()
        .map(|i| {
            let outcome = match (i.outcome, i.ground) {
                (0, _) => "unanswered".to_string(),
                (outcome, 0) => friendly::<pb::ItemOutcome>(outcome),
                (outcome, ground) => format!(
                    "{} ({})",
                    friendly::<pb::ItemOutcome>(outcome),
                    friendly::<pb::RefusalGround>(ground)
                ),
            };
            let answer = if i.answer.is_empty() {
                String::new()
            } else {
                format!(": {}", clean(&i.answer))
            };
            format!("{}. {} — {outcome}{answer}", i.number, clean(&i.text))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Who made an event, by name, marked when it was the viewer; the service for its own.
fn actor(viewer: &Viewer<'_>, e: &pb::CaseEvent) -> String {
    if e.actor_id.is_empty() {
        "liaisond".to_string()
    } else if e.actor.is_none() {
        // Not named by the server: the agency, at least.
        let agency = viewer.agency(&e.actor_agency_id);
        if e.actor_id == viewer.user_id {
            format!("{agency} (you)")
        } else {
            agency
        }
    } else {
        viewer.person(e.actor.as_ref(), &e.actor_id)
    }
}

/// Who made an event, in a live queue's narrow column: "officer.in (IN-NCB)".
fn actor_short(viewer: &Viewer<'_>, e: &pb::CaseEvent) -> String {
    match &e.actor {
        Some(p) => {
            let mine = if e.actor_id == viewer.user_id {
                " (you)"
            } else {
                ""
            };
            format!("{} ({}){mine}", clean(&p.username), clean(&p.agency_code))
        }
        None => actor(viewer, e),
    }
}

/// "filed → acknowledged"; empty when the status stayed.
fn change(e: &pb::CaseEvent) -> String {
    let (from, to) = (
        friendly::<pb::CaseStatus>(e.from_status),
        friendly::<pb::CaseStatus>(e.to_status),
    );
    if from == to {
        String::new()
    } else {
        format!("{from} → {to}").trim().to_string()
    }
}

/// What an event says beyond its kind: the assignee, the resolution, the note, or the reason.
fn detail(viewer: &Viewer<'_>, e: &pb::CaseEvent) -> String {
    match pb::CaseEventKind::try_from(e.kind) {
        Ok(pb::CaseEventKind::Assigned) => {
            format!("to {}", viewer.person(e.assignee.as_ref(), &e.assignee_id))
        }
        Ok(pb::CaseEventKind::Closed) if !e.reason.is_empty() => {
            format!("{}; {}", friendly::<pb::Resolution>(e.resolution), e.reason)
        }
        Ok(pb::CaseEventKind::Closed) => friendly::<pb::Resolution>(e.resolution),
        Ok(pb::CaseEventKind::ItemAnswered) => {
            // The reason is "OUTCOME: the answer".
            let (outcome, text) = e.reason.split_once(": ").unwrap_or((&e.reason, ""));
            let outcome = outcome.to_ascii_lowercase().replace('_', "-");
            let ground = match e.ground {
                0 => String::new(),
                g => format!(" ({})", friendly::<pb::RefusalGround>(g)),
            };
            format!("item {}: {outcome}{ground}: {}", e.item_number, clean(text))
        }
        Ok(pb::CaseEventKind::NoteAdded) => format!("note {}", e.note_id),
        Ok(
            pb::CaseEventKind::PreservationConfirmed
            | pb::CaseEventKind::PreservationExtended
            | pb::CaseEventKind::PreservationLapsed,
        ) => {
            let until = time(e.preserved_until.as_ref())
                .map(absolute)
                .unwrap_or_default();
            if e.reason.is_empty() {
                format!("until {until}")
            } else {
                format!("until {until}: {}", e.reason)
            }
        }
        Ok(pb::CaseEventKind::DueSoon | pb::CaseEventKind::Breached) => {
            let clock = match pb::DeadlineClock::try_from(e.clock) {
                Ok(pb::DeadlineClock::Acknowledge) => "acknowledgement",
                _ => "answer",
            };
            format!("{clock}: {}", e.reason)
        }
        Ok(pb::CaseEventKind::DeadlineExtended) => {
            let to = time(e.due_at.as_ref()).map(absolute).unwrap_or_default();
            let why = if e.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", clean(&e.reason))
            };
            format!(
                "answer due {to} ({}){why}",
                friendly::<pb::ExtensionReason>(e.extension_reason)
            )
        }
        Ok(pb::CaseEventKind::InformationRequested)
            if e.clock == pb::DeadlineClock::Response as i32 =>
        {
            format!("{} (the answer's clock paused)", e.reason)
        }
        Ok(pb::CaseEventKind::InformationProvided)
            if e.clock == pb::DeadlineClock::Response as i32 =>
        {
            let due = time(e.due_at.as_ref()).map(absolute).unwrap_or_default();
            format!("{} (the answer's clock runs again: due {due})", e.reason)
        }
        Ok(pb::CaseEventKind::Declined) if e.ground != 0 => {
            format!("{}: {}", friendly::<pb::RefusalGround>(e.ground), e.reason)
        }
        Ok(pb::CaseEventKind::MarkingsChanged) => {
            let what = if e.note_id.is_empty() {
                String::new()
            } else {
                format!("note {} ", e.note_id)
            };
            let why = if e.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", e.reason)
            };
            format!("{what}now {}{why}", markings_short(e.markings.as_ref()))
        }
        _ => e.reason.clone(),
    }
}

pub fn timeline_table(out: &Output, viewer: &Viewer<'_>, events: &[pb::CaseEvent]) -> String {
    if events.is_empty() {
        return "No events.".into();
    }
    let mut table = Table::new(&["TIME", "EVENT", "BY", "CHANGE", "DETAIL"]);
    for e in events {
        table.row(vec![
            out.relative(time(e.time.as_ref())).into(),
            Cell::styled(friendly::<pb::CaseEventKind>(e.kind), Some(Style::Bold)),
            actor(viewer, e).into(),
            Cell::styled(change(e), status_style(e.to_status)),
            truncate(&detail(viewer, e), 80).into(),
        ]);
    }
    out.table(&table)
}

/// A live queue's columns. Lines are printed as events arrive, so the widths are fixed: wide
/// enough for every event kind and status change, and for the usual references and agency codes.
const WATCH_COLUMNS: [(&str, usize); 6] = [
    ("TIME (UTC)", 19),
    ("REFERENCE", 24),
    ("EVENT", 21),
    ("CHANGE", 27),
    ("BY", 28),
    ("CASE", 0),
];

fn watch_widths() -> [usize; 6] {
    WATCH_COLUMNS.map(|(_, width)| width)
}

/// The header of a live queue.
pub fn watch_header(out: &Output) -> String {
    let cells: Vec<Cell> = WATCH_COLUMNS
        .iter()
        .map(|(name, _)| Cell::styled(*name, Some(Style::Bold)))
        .collect();
    out.row(&watch_widths(), &cells)
}

/// One event of a live queue on one line: when, which case, what happened, who did it, and the
/// case's title followed by the event's detail.
pub fn watch_line(
    out: &Output,
    viewer: &Viewer<'_>,
    e: &pb::CaseEvent,
    c: Option<&pb::Case>,
) -> String {
    let at = time(e.time.as_ref())
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let (reference, title) = match c {
        Some(c) => (c.reference.clone(), truncate(&c.title, 60)),
        None => (e.case_id.clone(), String::new()),
    };
    let detail = truncate(&detail(viewer, e), 60);
    let case = if detail.is_empty() {
        title
    } else {
        format!("{title} {}", out.paint(&format!("— {detail}"), Style::Dim))
    };
    let cells = [
        Cell::from(at),
        Cell::from(reference),
        Cell::styled(friendly::<pb::CaseEventKind>(e.kind), Some(Style::Bold)),
        Cell::styled(change(e), status_style(e.to_status)),
        Cell::from(actor_short(viewer, e)),
        // Already cleaned, and painted: not to be cleaned again.
        Cell {
            text: case,
            style: None,
        },
    ];
    out.row(&watch_widths(), &cells)
}

pub fn notes_text(out: &Output, viewer: &Viewer<'_>, notes: &[pb::Note]) -> String {
    if notes.is_empty() {
        return "No notes.".into();
    }
    let mut text = String::new();
    for n in notes {
        let visibility = friendly::<pb::NoteVisibility>(n.visibility);
        let visibility = if n.visibility == pb::NoteVisibility::Internal as i32 {
            out.paint(&visibility, Style::Yellow)
        } else {
            visibility
        };
        let author = match &n.author {
            Some(_) => viewer.person(n.author.as_ref(), &n.author_id),
            None if n.author_id == viewer.user_id => {
                format!("{} (you)", viewer.agency(&n.author_agency_id))
            }
            None => format!("{} {}", viewer.agency(&n.author_agency_id), n.author_id),
        };
        text.push_str(&format!(
            "{} · {visibility} · {author} · {}\n",
            out.paint(&when(out, time(n.created_at.as_ref())), Style::Bold),
            markings_banner(out, n.markings.as_ref())
        ));
        text.push_str(&format!("  note {}\n", n.id));
        for line in clean_block(&n.body).lines() {
            text.push_str(&format!("  {line}\n"));
        }
        text.push('\n');
    }
    text.trim_end().to_string()
}
