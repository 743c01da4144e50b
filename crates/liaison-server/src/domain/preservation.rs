//! Expedited preservation requests as a pure function (Budapest Convention Art. 29): the
//! receiving side confirms it keeps the data until a date at least 60 days after the request, may
//! extend that, and the requesting side supersedes it with the formal request; an unanswered one
//! lapses on its date. Authorization happened before (the permit holds the case); this only knows the rules.
//!
//! REQUESTED -> PRESERVED -> EXTENDED (again and again) -> SUPERSEDED | LAPSED; REQUESTED or
//! PRESERVED may be SUPERSEDED at once.

use crate::authz::{CaseAction, CasePermit};
use crate::error::{AppError, AppResult};
use crate::model::{Case, CaseStatus, EventKind, PreservationStatus, Timestamp, MIN_PRESERVATION};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreservationMove {
    /// The receiving side keeps the data until `until`.
    Confirm { until: Timestamp },
    /// The receiving side keeps it longer.
    Extend {
        until: Timestamp,
        reason: Option<String>,
    },
    /// The requesting side's formal request now covers the data.
    Supersede { formal_request: String },
}

impl PreservationMove {
    pub fn action(&self) -> CaseAction {
        match self {
            PreservationMove::Confirm { .. } | PreservationMove::Extend { .. } => {
                CaseAction::Preserve
            }
            PreservationMove::Supersede { .. } => CaseAction::Supersede,
        }
    }

    /// What goes into the timeline beside the event: the reason, or the formal request.
    pub fn reason(&self) -> Option<String> {
        match self {
            PreservationMove::Confirm { .. } => None,
            PreservationMove::Extend { reason, .. } => reason.clone(),
            PreservationMove::Supersede { formal_request } => Some(formal_request.clone()),
        }
    }

    /// Until when the move keeps the data, for the event.
    pub fn until(&self) -> Option<Timestamp> {
        match self {
            PreservationMove::Confirm { until } | PreservationMove::Extend { until, .. } => {
                Some(*until)
            }
            PreservationMove::Supersede { .. } => None,
        }
    }
}

/// The permitted case after `mv`, and the event it writes.
pub fn apply(
    permit: &CasePermit,
    mv: &PreservationMove,
    now: Timestamp,
) -> AppResult<(Case, EventKind)> {
    if permit.action() != mv.action() {
        return Err(AppError::internal("permit does not match the move"));
    }
    let case = permit.case();
    let Some(preservation) = &case.preservation else {
        return Err(AppError::FailedPrecondition(format!(
            "the case is a {}, not a preservation request",
            case.kind
        )));
    };
    use PreservationStatus::*;
    let receiving_may_act = matches!(
        case.status,
        CaseStatus::Acknowledged | CaseStatus::InProgress | CaseStatus::AwaitingInfo
    );
    let mut next = case.clone();
    let kept = next
        .preservation
        .as_mut()
        .ok_or_else(|| AppError::internal("preservation vanished"))?;
    let kind = match (mv, preservation.status) {
        (PreservationMove::Confirm { .. } | PreservationMove::Extend { .. }, _)
            if case.status == CaseStatus::Filed =>
        {
            return Err(AppError::FailedPrecondition(
                "acknowledge the request first, then confirm the preservation".into(),
            ))
        }
        (PreservationMove::Confirm { .. } | PreservationMove::Extend { .. }, _)
            if !receiving_may_act =>
        {
            return Err(AppError::FailedPrecondition(format!(
                "the case is {}; a preservation is confirmed or extended only on an open case",
                case.status
            )))
        }
        (PreservationMove::Confirm { until }, Requested) => {
            // Counted from the request, which the receiving side has had since its release.
            if *until < case.released_at.unwrap_or(case.filed_at) + MIN_PRESERVATION {
                return Err(AppError::invalid(
                    "preserved_until",
                    "must be at least 60 days after the request was filed (Budapest Convention \
                     Art. 29(7))",
                ));
            }
            kept.status = Preserved;
            kept.preserved_until = Some(*until);
            // The confirmation is the answer a preservation request is owed.
            crate::domain::lifecycle::stop_clock(&mut next, now);
            EventKind::PreservationConfirmed
        }
        (PreservationMove::Extend { until, .. }, Preserved | Extended) => {
            if preservation
                .preserved_until
                .is_some_and(|current| *until <= current)
            {
                return Err(AppError::invalid(
                    "preserved_until",
                    "must be later than the date the data is kept until now",
                ));
            }
            kept.status = Extended;
            kept.preserved_until = Some(*until);
            EventKind::PreservationExtended
        }
        (PreservationMove::Supersede { .. }, _)
            if matches!(case.status, CaseStatus::Declined | CaseStatus::Withdrawn) =>
        {
            return Err(AppError::FailedPrecondition(format!(
                "the case is {}; there is no preservation to supersede",
                case.status
            )))
        }
        (PreservationMove::Supersede { formal_request }, Requested | Preserved | Extended) => {
            kept.status = Superseded;
            kept.superseded_by = Some(formal_request.clone());
            EventKind::PreservationSuperseded
        }
        (mv, status) => {
            let verb = match mv {
                PreservationMove::Confirm { .. } => "confirm",
                PreservationMove::Extend { .. } => "extend",
                PreservationMove::Supersede { .. } => "supersede",
            };
            return Err(AppError::FailedPrecondition(format!(
                "cannot {verb} a preservation that is {status}"
            )));
        }
    };
    next.updated_at = now;
    next.version = case.version + 1;
    Ok((next, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{authorize, case_scope, Unchecked};
    use crate::model::fixtures::{self, principal};
    use crate::model::{Preservation, PreservationOrder, RequestKind, Role};

    fn day(n: i64) -> Timestamp {
        crate::clock::from_micros(0) + chrono::Duration::days(n)
    }

    fn preservation_case(status: CaseStatus, kept: PreservationStatus) -> Case {
        Case {
            kind: RequestKind::Preservation,
            status,
            assignee_id: Some("worker".into()),
            preservation: Some(Preservation {
                order: PreservationOrder::default(),
                status: kept,
                preserved_until: (kept != PreservationStatus::Requested).then(|| day(61)),
                superseded_by: None,
            }),
            ..fixtures::case("IN", "CA", "filer")
        }
    }

    fn try_move(case: Case, mv: PreservationMove) -> AppResult<Case> {
        let (user, agency) = match mv.action() {
            CaseAction::Supersede => ("filer", "IN"),
            _ => ("rs", "CA"),
        };
        let roles: &[Role] = if user == "filer" {
            &[Role::Officer]
        } else {
            &[Role::Supervisor]
        };
        let p = principal(user, agency, roles);
        let permit = authorize(&case_scope(&p)?, Unchecked::new(case), mv.action())?;
        apply(&permit, &mv, day(0)).map(|(next, _)| next)
    }

    #[test]
    fn a_preservation_is_kept_at_least_sixty_days() {
        use PreservationStatus::*;
        let open = || preservation_case(CaseStatus::InProgress, Requested);
        let short = try_move(open(), PreservationMove::Confirm { until: day(59) });
        assert!(
            matches!(short, Err(AppError::InvalidArgument(v)) if v[0].field == "preserved_until")
        );
        let kept = try_move(open(), PreservationMove::Confirm { until: day(60) })
            .unwrap_or_else(|e| panic!("{e}"));
        let p = kept
            .preservation
            .unwrap_or_else(|| panic!("no preservation"));
        assert_eq!(p.status, Preserved);
        assert_eq!(p.preserved_until, Some(day(60)));
        // Not before the request is acknowledged.
        let filed = preservation_case(CaseStatus::Filed, Requested);
        assert!(matches!(
            try_move(filed, PreservationMove::Confirm { until: day(90) }),
            Err(AppError::FailedPrecondition(_))
        ));
    }

    #[test]
    fn each_status_allows_only_its_moves() {
        use PreservationStatus::*;
        let extend = || PreservationMove::Extend {
            until: day(120),
            reason: None,
        };
        let supersede = || PreservationMove::Supersede {
            formal_request: "MLAT 2026/17".into(),
        };
        let case = |kept| preservation_case(CaseStatus::InProgress, kept);
        assert!(try_move(case(Requested), extend()).is_err());
        assert_eq!(
            try_move(case(Preserved), extend())
                .map(|c| c.preservation.map(|p| p.status))
                .ok(),
            Some(Some(Extended))
        );
        assert!(try_move(case(Extended), extend()).is_ok());
        let shorter = PreservationMove::Extend {
            until: day(30),
            reason: None,
        };
        assert!(matches!(
            try_move(case(Preserved), shorter),
            Err(AppError::InvalidArgument(_))
        ));
        for kept in [Requested, Preserved, Extended] {
            let next = try_move(case(kept), supersede()).unwrap_or_else(|e| panic!("{e}"));
            let p = next
                .preservation
                .unwrap_or_else(|| panic!("no preservation"));
            assert_eq!(p.status, Superseded);
            assert_eq!(p.superseded_by.as_deref(), Some("MLAT 2026/17"));
        }
        for done in [Superseded, Lapsed] {
            assert!(try_move(case(done), supersede()).is_err());
            assert!(try_move(case(done), extend()).is_err());
        }
        // Not a preservation request at all.
        let plain = Case {
            status: CaseStatus::InProgress,
            assignee_id: Some("worker".into()),
            ..fixtures::case("IN", "CA", "filer")
        };
        assert!(matches!(
            try_move(plain, PreservationMove::Confirm { until: day(90) }),
            Err(AppError::FailedPrecondition(_))
        ));
    }
}
