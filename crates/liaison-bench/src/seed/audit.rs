//! Audit records of the calls people made over the seeded history: reads and moves on the cases of
//! the plan by the people who could make them, queue listings, sign-ins, auditors' queries; mostly
//! allowed, some refused or failed, with times rising evenly to now.

use super::cases::{PlannedCase, HISTORY_DAYS};
use super::rng::Rng;
use super::world::World;
use liaison_server::chain::AuditRecord;
use liaison_server::clock::{from_micros, to_micros};
use liaison_server::model::{Handling, Outcome, Roles, Timestamp};

const AUDIT_STREAM: u64 = 4;

/// gRPC status codes as the log records them.
const OK: i32 = 0;
const INVALID_ARGUMENT: i32 = 3;
const NOT_FOUND: i32 = 5;
const PERMISSION_DENIED: i32 = 7;
const RESOURCE_EXHAUSTED: i32 = 8;
const FAILED_PRECONDITION: i32 = 9;
const ABORTED: i32 = 10;
const UNAUTHENTICATED: i32 = 16;

/// What a call was, for choosing its actor and its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A read of one case by someone who may see it.
    CaseRead(&'static str),
    /// A lifecycle move, made by the side the lifecycle names.
    CaseMove(&'static str, Mover),
    AddNote,
    FileReferral,
    /// A stream delivering a case event to a supervisor.
    WatchDelivery,
    /// A call by an officer or supervisor about no case in particular.
    Worker(&'static str),
    Login,
    /// A call about the caller's own session.
    Session(&'static str),
    /// A call anyone signed in may make.
    Anyone(&'static str),
    Auditor(&'static str),
    Admin(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mover {
    ReceivingSupervisor,
    Assignee,
    Filer,
}

/// Calls per ten thousand.
const KINDS: &[(Kind, u32)] = &[
    (Kind::CaseRead("CaseService/GetCase"), 2600),
    (Kind::CaseRead("CaseService/ListCaseEvents"), 600),
    (Kind::CaseRead("CaseService/ListNotes"), 400),
    (
        Kind::CaseMove("CaseService/AcknowledgeCase", Mover::ReceivingSupervisor),
        200,
    ),
    (
        Kind::CaseMove("CaseService/AssignCase", Mover::ReceivingSupervisor),
        200,
    ),
    (
        Kind::CaseMove("CaseService/DeclineCase", Mover::ReceivingSupervisor),
        30,
    ),
    (
        Kind::CaseMove("CaseService/ReopenCase", Mover::ReceivingSupervisor),
        10,
    ),
    (
        Kind::CaseMove("CaseService/RequestInformation", Mover::Assignee),
        80,
    ),
    (
        Kind::CaseMove("CaseService/CloseCase", Mover::Assignee),
        160,
    ),
    (
        Kind::CaseMove("CaseService/ProvideInformation", Mover::Filer),
        60,
    ),
    (Kind::CaseMove("CaseService/WithdrawCase", Mover::Filer), 20),
    (Kind::AddNote, 400),
    (Kind::FileReferral, 300),
    (Kind::WatchDelivery, 200),
    (Kind::Worker("CaseService/ListCases"), 1800),
    (Kind::Worker("CaseService/WatchCases"), 100),
    (Kind::Login, 1100),
    (Kind::Session("AuthService/Refresh"), 700),
    (Kind::Session("AuthService/Logout"), 100),
    (Kind::Anyone("AuthService/WhoAmI"), 300),
    (Kind::Anyone("DirectoryService/ListAgencies"), 100),
    (Kind::Anyone("DirectoryService/ListChannels"), 100),
    (Kind::Auditor("AuditService/QueryAuditLog"), 300),
    (Kind::Auditor("AuditService/ExportAuditLog"), 30),
    (Kind::Auditor("AuditService/VerifyAuditChain"), 20),
    (Kind::Auditor("AuditService/GetCheckpoint"), 30),
    (Kind::Admin("AdminService/ListUsers"), 50),
    (Kind::Admin("AdminService/UpdateUser"), 10),
];

/// Makes the records of entries `0..count`, the last one at `now`.
pub struct AuditRecords<'a> {
    world: &'a World,
    cases: &'a [PlannedCase],
    seed: u64,
    start: i64,
    span: i64,
    count: u64,
    /// How many of the newest cases a call picks from: about a month's worth.
    window: usize,
    case_workers: Vec<usize>,
}

impl<'a> AuditRecords<'a> {
    pub fn new(
        world: &'a World,
        cases: &'a [PlannedCase],
        seed: u64,
        now: Timestamp,
        count: u64,
    ) -> Self {
        let now = to_micros(now);
        let span = HISTORY_DAYS * 24 * 3600 * 1_000_000;
        AuditRecords {
            world,
            cases,
            seed,
            start: now - span,
            span,
            count,
            window: (cases.len() * 30 / HISTORY_DAYS as usize).max(1),
            case_workers: world.case_workers(),
        }
    }

    /// When entry `index` was made: evenly spread, jittered, never earlier than the one before,
    /// and the last exactly now.
    fn time(&self, index: u64, rng: &mut Rng) -> i64 {
        if index + 1 >= self.count {
            return self.start + self.span;
        }
        let slot = i128::from(index) * 1_000_000 + rng.below(1_000_000) as i128;
        let offset = slot * i128::from(self.span) / (i128::from(self.count) * 1_000_000);
        self.start + i64::try_from(offset).unwrap_or_default()
    }

    /// A case filed before `at`, most likely a recent one.
    fn case_before(&self, at: i64, rng: &mut Rng) -> Option<&'a PlannedCase> {
        let filed = self.cases.partition_point(|c| c.filed_at <= at);
        if filed == 0 {
            return None;
        }
        let reach = filed.min(self.window) as f64;
        let back = (reach * rng.unit() * rng.unit()) as usize;
        self.cases.get(filed - 1 - back)
    }

    pub fn record(&self, index: u64) -> AuditRecord {
        let mut rng = Rng::for_item(self.seed, AUDIT_STREAM, index);
        let at = self.time(index, &mut rng);
        let kind = rng.weighted(KINDS).unwrap_or(Kind::Login);
        let mut call = Draft::new(from_micros(at), &mut rng);
        let needs_case = matches!(
            kind,
            Kind::CaseRead(_)
                | Kind::CaseMove(..)
                | Kind::AddNote
                | Kind::FileReferral
                | Kind::WatchDelivery
        );
        let case = if needs_case {
            if kind == Kind::FileReferral {
                let filed = self.cases.partition_point(|c| c.filed_at <= at);
                filed.checked_sub(1).and_then(|i| self.cases.get(i))
            } else {
                self.case_before(at, &mut rng)
            }
        } else {
            None
        };
        match (kind, case) {
            (Kind::CaseRead(method), Some(case)) => {
                self.case_read(&mut call, &mut rng, method, case)
            }
            (Kind::CaseMove(method, mover), Some(case)) => {
                self.case_move(&mut call, &mut rng, method, mover, case)
            }
            (Kind::AddNote, Some(case)) => self.add_note(&mut call, &mut rng, case),
            (Kind::FileReferral, Some(case)) => {
                call.method("CaseService/FileReferral");
                call.actor(self.world, case.filer as usize);
                call.case(self.world, case);
                if rng.chance(0.03) {
                    call.fails(INVALID_ARGUMENT);
                }
            }
            (Kind::WatchDelivery, Some(case)) => {
                let (_, receiving) = case.parties(self.world);
                let supervisor = rng
                    .pick(&self.world.supervisors[receiving])
                    .copied()
                    .unwrap_or_default();
                call.method("CaseService/WatchCases");
                call.actor(self.world, supervisor);
                call.case(self.world, case);
                call.record.event = Some(liaison_server::domain::call::WATCH_DELIVERY.to_string());
            }
            (Kind::Login, _) => self.login(&mut call, &mut rng),
            (Kind::Session(method), _) => {
                let user = rng.below(self.world.users.len());
                call.method(method);
                call.actor(self.world, user);
                call.target("session", rng.uuid_v7(call.record.at).to_string());
                if method == "AuthService/Refresh" && rng.chance(0.002) {
                    call.record.event = Some("refresh-token-reuse".to_string());
                    call.denied(UNAUTHENTICATED);
                }
            }
            (Kind::Anyone(method), _) => {
                let user = rng.below(self.world.users.len());
                call.method(method);
                call.actor(self.world, user);
            }
            (Kind::Auditor(method), _) => {
                let auditors: Vec<usize> = self.world.auditors.iter().flatten().copied().collect();
                match rng.pick(&auditors) {
                    Some(&auditor) => {
                        call.method(method);
                        call.actor(self.world, auditor);
                        if rng.chance(0.01) {
                            call.fails(INVALID_ARGUMENT);
                        }
                    }
                    None => self.worker_call(&mut call, &mut rng, "CaseService/ListCases"),
                }
            }
            (Kind::Admin(method), _) => {
                let admin = rng.pick(&self.world.admins).copied().unwrap_or_default();
                call.method(method);
                call.actor(self.world, admin);
                if method == "AdminService/UpdateUser" {
                    let agency = self.world.user(admin).agency;
                    let users: Vec<usize> = self
                        .world
                        .users
                        .iter()
                        .enumerate()
                        .filter(|(_, u)| u.agency == agency)
                        .map(|(i, _)| i)
                        .collect();
                    let user = rng.pick(&users).copied().unwrap_or(admin);
                    call.target("user", self.world.user(user).user.id.to_string());
                }
            }
            (Kind::Worker(method), _) => self.worker_call(&mut call, &mut rng, method),
            // A call about a case before any case was filed: a queue listing instead.
            (_, None) => self.worker_call(&mut call, &mut rng, "CaseService/ListCases"),
        }
        call.record
    }

    fn worker_call(&self, call: &mut Draft, rng: &mut Rng, method: &'static str) {
        let user = rng.pick(&self.case_workers).copied().unwrap_or_default();
        call.method(method);
        call.actor(self.world, user);
        if rng.chance(0.01) {
            call.fails(INVALID_ARGUMENT);
        }
    }

    /// Someone who may see the case; now and then someone who may not, and is told it does not
    /// exist, or an auditor, who may not read case content at all.
    fn case_read(&self, call: &mut Draft, rng: &mut Rng, method: &'static str, case: &PlannedCase) {
        let (originating, receiving) = case.parties(self.world);
        call.method(method);
        call.case(self.world, case);
        let roll = rng.unit();
        if roll < 0.03 {
            let outsider = self.outsider(rng, case);
            call.actor(self.world, outsider);
            call.denied(NOT_FOUND);
        } else if roll < 0.04 {
            let auditors = &self.world.auditors[originating];
            match rng.pick(auditors) {
                Some(&auditor) => {
                    call.actor(self.world, auditor);
                    call.denied(PERMISSION_DENIED);
                }
                None => call.actor(self.world, case.filer as usize),
            }
        } else {
            let reader = self.participant(rng, case, originating, receiving);
            call.actor(self.world, reader);
        }
    }

    fn case_move(
        &self,
        call: &mut Draft,
        rng: &mut Rng,
        method: &'static str,
        mover: Mover,
        case: &PlannedCase,
    ) {
        let (_, receiving) = case.parties(self.world);
        let receiving_supervisor = rng
            .pick(&self.world.supervisors[receiving])
            .copied()
            .unwrap_or_default();
        let actor = match mover {
            Mover::ReceivingSupervisor => receiving_supervisor,
            Mover::Assignee => case
                .assignee
                .map(|a| a as usize)
                .unwrap_or(receiving_supervisor),
            Mover::Filer => case.filer as usize,
        };
        call.method(method);
        call.case(self.world, case);
        let roll = rng.unit();
        if roll < 0.02 {
            // The filer trying a move only the receiving side may make.
            call.actor(self.world, case.filer as usize);
            call.denied(PERMISSION_DENIED);
        } else {
            call.actor(self.world, actor);
            if roll < 0.08 {
                call.fails(ABORTED);
            } else if roll < 0.10 {
                call.fails(FAILED_PRECONDITION);
            }
        }
    }

    fn add_note(&self, call: &mut Draft, rng: &mut Rng, case: &PlannedCase) {
        let (originating, receiving) = case.parties(self.world);
        let author = self.participant(rng, case, originating, receiving);
        call.method("CaseService/AddNote");
        call.actor(self.world, author);
        if rng.chance(0.3) {
            // An internal note: only the author's agency's auditors see the entry.
            let agency = self.world.agencies[self.world.user(author).agency]
                .id
                .clone();
            call.case_within(case, agency.into());
        } else {
            call.case(self.world, case);
        }
        if rng.chance(0.01) {
            call.fails(INVALID_ARGUMENT);
        }
    }

    fn login(&self, call: &mut Draft, rng: &mut Rng) {
        let user = rng.below(self.world.users.len());
        call.method("AuthService/Login");
        let roll = rng.unit();
        if roll < 0.02 {
            // A mistyped username: nobody to name but the attempt.
            let typed = self.world.user(user).user.username.replacen('.', "", 1);
            call.attempted(self.world, user, typed);
            call.denied(UNAUTHENTICATED);
            return;
        }
        call.actor(self.world, user);
        call.target("user", self.world.user(user).user.id.to_string());
        if roll < 0.09 {
            call.denied(UNAUTHENTICATED);
        } else if roll < 0.095 {
            call.denied(RESOURCE_EXHAUSTED);
        }
    }

    /// Someone entitled to see the case: its filer, its assignee, or a supervisor of either side.
    fn participant(
        &self,
        rng: &mut Rng,
        case: &PlannedCase,
        originating: usize,
        receiving: usize,
    ) -> usize {
        let supervisor = |rng: &mut Rng, agency: usize| {
            rng.pick(&self.world.supervisors[agency])
                .copied()
                .unwrap_or(case.filer as usize)
        };
        match rng.below(20) {
            0..=6 => case.filer as usize,
            7..=11 => match case.assignee {
                Some(a) => a as usize,
                None => supervisor(rng, receiving),
            },
            12..=16 => supervisor(rng, receiving),
            _ => supervisor(rng, originating),
        }
    }

    /// An officer of either party who neither filed nor works the case.
    fn outsider(&self, rng: &mut Rng, case: &PlannedCase) -> usize {
        let (originating, receiving) = case.parties(self.world);
        let agency = if rng.chance(0.5) {
            originating
        } else {
            receiving
        };
        let candidates: Vec<usize> = self.world.officers[agency]
            .iter()
            .copied()
            .filter(|&o| o != case.filer as usize && Some(o as u32) != case.assignee)
            .collect();
        rng.pick(&candidates)
            .copied()
            .unwrap_or(case.filer as usize)
    }
}

/// A record being filled in.
struct Draft {
    record: AuditRecord,
    /// The caller's source port; the host is the user's workstation.
    port: usize,
}

impl Draft {
    fn new(at: Timestamp, rng: &mut Rng) -> Draft {
        Draft {
            port: 30_000 + rng.below(30_000),
            record: AuditRecord {
                at,
                actor_id: None,
                actor_username: None,
                actor_agency_id: None,
                actor_roles: Roles::empty(),
                method: String::new(),
                target_type: None,
                target_id: None,
                case_id: None,
                case_originating_agency_id: None,
                case_receiving_agency_id: None,
                outcome: Outcome::Allowed,
                status_code: OK,
                request_id: rng.uuid_v7(at).to_string(),
                peer: None,
                event: None,
                refusals: None,
                handling: None,
            },
        }
    }

    fn method(&mut self, method: &str) {
        self.record.method = format!("liaison.v1.{method}");
    }

    fn actor(&mut self, world: &World, user: usize) {
        let seeded = world.user(user);
        let r = &mut self.record;
        r.actor_id = Some(seeded.user.id.to_string());
        r.actor_username = Some(seeded.user.username.clone());
        r.actor_agency_id = Some(seeded.user.agency_id.to_string());
        r.actor_roles = [seeded.role].into_iter().collect::<Roles>();
        r.peer = Some(format!("{}:{}", seeded.host, self.port));
    }

    /// A sign-in attempt for a username nobody has, typed at `user`'s workstation.
    fn attempted(&mut self, world: &World, user: usize, username: String) {
        let seeded = world.user(user);
        self.record.actor_username = Some(username);
        self.record.peer = Some(format!("{}:{}", seeded.host, self.port));
    }

    fn target(&mut self, target_type: &str, id: String) {
        self.record.target_type = Some(target_type.to_string());
        self.record.target_id = Some(id);
    }

    fn case(&mut self, world: &World, case: &PlannedCase) {
        let (originating, receiving) = case.parties(world);
        let id = case.id.to_string();
        self.target("case", id.clone());
        self.record.case_id = Some(id);
        self.record.case_originating_agency_id = Some(world.agencies[originating].id.to_string());
        self.record.case_receiving_agency_id = Some(world.agencies[receiving].id.to_string());
        // Seeded cases carry the default markings.
        self.record.handling = Some(Handling::H0);
    }

    /// The case, visible in the audit log to `agency` only.
    fn case_within(&mut self, case: &PlannedCase, agency: String) {
        let id = case.id.to_string();
        self.target("case", id.clone());
        self.record.case_id = Some(id);
        self.record.handling = Some(Handling::H0);
        self.record.case_originating_agency_id = Some(agency.clone());
        self.record.case_receiving_agency_id = Some(agency);
    }

    fn denied(&mut self, code: i32) {
        self.record.outcome = Outcome::Denied;
        self.record.status_code = code;
    }

    fn fails(&mut self, code: i32) {
        self.record.outcome = Outcome::Failed;
        self.record.status_code = code;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::cases::plan;
    use crate::seed::world::Staffing;
    use liaison_server::model::Role;

    fn now() -> Timestamp {
        liaison_server::clock::from_micros(1_780_000_000_000_000)
    }

    fn roles_of(role: Role) -> i32 {
        [role].into_iter().collect::<Roles>().bits()
    }

    fn world() -> World {
        World::generate(
            2,
            now() - chrono::Duration::days(HISTORY_DAYS),
            Staffing {
                officers: 4,
                supervisors: 2,
                auditors: 1,
            },
        )
    }

    #[test]
    fn records_rise_to_now_and_mostly_succeed() {
        let w = world();
        let plan = plan(&w, 2, now(), 500);
        let records = AuditRecords::new(&w, &plan.cases, 2, now(), 5000);
        let all: Vec<AuditRecord> = (0..5000).map(|i| records.record(i)).collect();
        assert!(all.windows(2).all(|p| p[0].at <= p[1].at));
        assert_eq!(all.last().map(|r| r.at), Some(now()));
        assert!(all[0].at >= now() - chrono::Duration::days(HISTORY_DAYS));
        let allowed = all.iter().filter(|r| r.outcome == Outcome::Allowed).count();
        assert!((4300..4900).contains(&allowed), "{allowed}");
        let about_cases = all.iter().filter(|r| r.case_id.is_some()).count();
        assert!(about_cases > 1500, "{about_cases}");
        // A case is never read before it was filed.
        for r in &all {
            if let Some(id) = &r.case_id {
                let case = plan
                    .cases
                    .iter()
                    .find(|c| &c.id.to_string() == id)
                    .map(|c| c.filed_at);
                assert!(case.is_some_and(|filed| filed <= to_micros(r.at)));
            }
        }
        assert!(all
            .iter()
            .any(|r| r.actor_roles.bits() == roles_of(Role::Auditor)
                && r.method == "liaison.v1.AuditService/QueryAuditLog"));
        let again: Vec<AuditRecord> = (0..50).map(|i| records.record(i)).collect();
        assert_eq!(&all[..50], &again[..]);
    }
}
