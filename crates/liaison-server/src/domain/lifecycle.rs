//! The case lifecycle as a pure function: which move is allowed from which status, and what it
//! changes. Authorization happened before (the move takes the [`CasePermit`], which holds the case
//! as it was read); this only knows the rules.
//!
//! FILED -> ACKNOWLEDGED | DECLINED; ACKNOWLEDGED -> IN_PROGRESS (assigned);
//! IN_PROGRESS <-> AWAITING_INFO; IN_PROGRESS | AWAITING_INFO -> CLOSED; CLOSED -> IN_PROGRESS
//! (reopen); anything not CLOSED, DECLINED or WITHDRAWN -> WITHDRAWN. PENDING_RELEASE -> FILED when
//! a second supervisor releases a referral filed under the channel's FOUR_EYES_RELEASE rule.

use crate::authz::{CaseAction, CasePermit};
use crate::domain::items;
use crate::error::{AppError, AppResult};
use crate::model::{
    Case, CaseStatus, EventKind, RefusalGround, RequestKind, Resolution, Timestamp, UserId,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    Acknowledge,
    Decline {
        reason: String,
        /// The Art. 6 ground, when stated.
        ground: Option<RefusalGround>,
    },
    Assign {
        assignee_id: UserId,
    },
    RequestInformation {
        question: String,
    },
    ProvideInformation {
        answer: String,
    },
    Close {
        resolution: Resolution,
    },
    Reopen {
        reason: String,
    },
    Withdraw {
        reason: Option<String>,
    },
    /// A second supervisor releases a PENDING_RELEASE referral: the acknowledgement clock starts.
    Release,
}

impl Move {
    pub fn action(&self) -> CaseAction {
        match self {
            Move::Acknowledge => CaseAction::Acknowledge,
            Move::Decline { .. } => CaseAction::Decline,
            Move::Assign { .. } => CaseAction::Assign,
            Move::RequestInformation { .. } => CaseAction::RequestInformation,
            Move::ProvideInformation { .. } => CaseAction::ProvideInformation,
            Move::Close { .. } => CaseAction::Close,
            Move::Reopen { .. } => CaseAction::Reopen,
            Move::Withdraw { .. } => CaseAction::Withdraw,
            Move::Release => CaseAction::Release,
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            Move::Acknowledge => "acknowledge",
            Move::Decline { .. } => "decline",
            Move::Assign { .. } => "assign",
            Move::RequestInformation { .. } => "request information on",
            Move::ProvideInformation { .. } => "provide information on",
            Move::Close { .. } => "close",
            Move::Reopen { .. } => "reopen",
            Move::Withdraw { .. } => "withdraw",
            Move::Release => "release",
        }
    }

    /// The reason, question or answer that goes into the timeline.
    pub fn reason(&self) -> Option<String> {
        match self {
            Move::Decline { reason, .. } | Move::Reopen { reason } => Some(reason.clone()),
            Move::RequestInformation { question } => Some(question.clone()),
            Move::ProvideInformation { answer } => Some(answer.clone()),
            Move::Withdraw { reason } => reason.clone(),
            Move::Acknowledge | Move::Assign { .. } | Move::Close { .. } | Move::Release => None,
        }
    }
}

/// The permitted case after `mv`, and the event it writes; `FailedPrecondition` when the status
/// forbids it.
pub fn apply(permit: &CasePermit, mv: &Move, now: Timestamp) -> AppResult<(Case, EventKind)> {
    if permit.action() != mv.action() {
        return Err(AppError::internal("permit does not match the move"));
    }
    let case = permit.case();
    use CaseStatus::*;
    let mut next = case.clone();
    let kind = match (mv, case.status) {
        (Move::Acknowledge, Filed) => {
            next.status = Acknowledged;
            next.acknowledged_at = Some(now);
            EventKind::Acknowledged
        }
        (Move::Decline { .. }, Filed) if case.kind == RequestKind::Spontaneous => {
            return Err(AppError::FailedPrecondition(
                "information given on the provider's own initiative asks for nothing, so there is \
                 nothing to decline: acknowledge it, then close it"
                    .into(),
            ))
        }
        (Move::Decline { ground, .. }, Filed) => {
            next.status = Declined;
            next.closed_at = Some(now);
            next.decline_ground = *ground;
            // A refusal on a stated ground is the answer.
            stop_clock(&mut next, now);
            EventKind::Declined
        }
        (Move::Assign { assignee_id }, Acknowledged | InProgress | AwaitingInfo) => {
            if case.assignee_id.as_ref() == Some(assignee_id) {
                return Err(AppError::FailedPrecondition(
                    "the case is already assigned to that officer".into(),
                ));
            }
            next.assignee_id = Some(assignee_id.clone());
            if case.status == Acknowledged {
                next.status = InProgress;
            }
            EventKind::Assigned
        }
        (Move::RequestInformation { .. }, InProgress) => {
            next.status = AwaitingInfo;
            // Waiting on the requester does not count against the one who owes the answer.
            if let Some(clock) = next.response.as_mut() {
                clock.pause(now);
            }
            EventKind::InformationRequested
        }
        (Move::ProvideInformation { .. }, AwaitingInfo) => {
            next.status = InProgress;
            if let Some(clock) = next.response.as_mut() {
                clock.resume(now);
            }
            EventKind::InformationProvided
        }
        (Move::Close { resolution }, InProgress | AwaitingInfo) => {
            items::check_all_answered(case)?;
            next.status = Closed;
            next.resolution = Some(*resolution);
            next.closed_at = Some(now);
            stop_clock(&mut next, now);
            EventKind::Closed
        }
        (Move::Reopen { .. }, Closed) => {
            next.status = InProgress;
            next.resolution = None;
            next.closed_at = None;
            EventKind::Reopened
        }
        (Move::Release, PendingRelease) => {
            next.status = Filed;
            next.released_at = Some(now);
            // The receiver's clocks run from when it can first see the referral.
            next.acknowledge_due_at = now + case.acknowledge_within;
            if let Some(clock) = next.response.as_mut() {
                clock.start(now);
            }
            EventKind::Released
        }
        (
            Move::Withdraw { .. },
            PendingRelease | Filed | Acknowledged | InProgress | AwaitingInfo,
        ) => {
            next.status = Withdrawn;
            next.closed_at = Some(now);
            stop_clock(&mut next, now);
            EventKind::Withdrawn
        }
        (mv, status) => {
            return Err(AppError::FailedPrecondition(format!(
                "cannot {} a case that is {status}",
                mv.verb()
            )))
        }
    };
    next.updated_at = now;
    next.version = case.version + 1;
    Ok((next, kind))
}

/// Stops the answer's clock, if the case runs one. A reopened case keeps the time of its first
/// answer: the deadline was met or missed then.
pub(crate) fn stop_clock(case: &mut Case, now: Timestamp) {
    if let Some(clock) = case.response.as_mut() {
        clock.stop(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{authorize, case_scope, Unchecked};
    use crate::model::fixtures::{self, principal};
    use crate::model::{Category, Priority, Role};

    fn case(status: CaseStatus) -> Case {
        Case {
            category: Category::Fraud.into(),
            priority: Priority::Urgent,
            reference: "r".into(),
            assignee_id: Some("worker".into()),
            status,
            version: 3,
            ..fixtures::case("IN", "CA", "filer")
        }
    }

    /// Applies `mv` as someone allowed to make it.
    fn try_move(status: CaseStatus, mv: Move) -> AppResult<Case> {
        let c = case(status);
        let (user, agency) = match mv.action() {
            CaseAction::ProvideInformation | CaseAction::Withdraw | CaseAction::Release => {
                ("os", "IN")
            }
            _ => ("rs", "CA"),
        };
        let p = principal(user, agency, &[Role::Supervisor]);
        let permit = authorize(&case_scope(&p)?, Unchecked::new(c), mv.action())?;
        apply(&permit, &mv, crate::clock::from_micros(1)).map(|(next, _)| next)
    }

    #[test]
    fn every_status_allows_only_its_moves() {
        use CaseStatus::*;
        let moves = [
            Move::Acknowledge,
            Move::Decline {
                reason: "r".into(),
                ground: Some(RefusalGround::NotAvailable),
            },
            Move::Assign {
                assignee_id: "someone".into(),
            },
            Move::RequestInformation {
                question: "q".into(),
            },
            Move::ProvideInformation { answer: "a".into() },
            Move::Close {
                resolution: Resolution::Actioned,
            },
            Move::Reopen { reason: "r".into() },
            Move::Withdraw { reason: None },
            Move::Release,
        ];
        let allowed: &[(CaseStatus, &[usize], &[CaseStatus])] = &[
            (PendingRelease, &[7, 8], &[Withdrawn, Filed]),
            (Filed, &[0, 1, 7], &[Acknowledged, Declined, Withdrawn]),
            (Acknowledged, &[2, 7], &[InProgress, Withdrawn]),
            (
                InProgress,
                &[2, 3, 5, 7],
                &[InProgress, AwaitingInfo, Closed, Withdrawn],
            ),
            (
                AwaitingInfo,
                &[2, 4, 5, 7],
                &[AwaitingInfo, InProgress, Closed, Withdrawn],
            ),
            (Closed, &[6], &[InProgress]),
            (Declined, &[], &[]),
            (Withdrawn, &[], &[]),
        ];
        for (from, ok_moves, to) in allowed {
            for (i, mv) in moves.iter().enumerate() {
                let result = try_move(*from, mv.clone());
                match ok_moves.iter().position(|m| *m == i) {
                    Some(pos) => {
                        let next = result.unwrap_or_else(|e| panic!("{from} {mv:?}: {e}"));
                        assert_eq!(next.status, to[pos], "{from} {mv:?}");
                        assert_eq!(next.version, 4);
                    }
                    // The receiving side does not see an unreleased referral at all.
                    None => assert!(
                        matches!(result, Err(AppError::FailedPrecondition(_)))
                            || (*from == PendingRelease
                                && matches!(result, Err(AppError::NotFound(_)))),
                        "{from} {mv:?} should be refused"
                    ),
                }
            }
        }
    }

    #[test]
    fn spontaneous_information_cannot_be_declined_and_a_decline_keeps_its_ground() {
        let p = principal("rs", "CA", &[Role::Supervisor]);
        let scope = case_scope(&p).unwrap_or_else(|e| panic!("{e}"));
        let mv = Move::Decline {
            reason: "no such subscriber".into(),
            ground: Some(RefusalGround::NotAvailable),
        };
        let spontaneous = Case {
            kind: RequestKind::Spontaneous,
            ..case(CaseStatus::Filed)
        };
        let permit = authorize(&scope, Unchecked::new(spontaneous), mv.action())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            apply(&permit, &mv, crate::clock::from_micros(5)),
            Err(AppError::FailedPrecondition(_))
        ));
        let permit = authorize(&scope, Unchecked::new(case(CaseStatus::Filed)), mv.action())
            .unwrap_or_else(|e| panic!("{e}"));
        let (declined, _) =
            apply(&permit, &mv, crate::clock::from_micros(5)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(declined.decline_ground, Some(RefusalGround::NotAvailable));
    }

    #[test]
    fn reopening_clears_the_resolution() {
        let mut closed = case(CaseStatus::Closed);
        closed.resolution = Some(Resolution::Duplicate);
        let p = principal("rs", "CA", &[Role::Supervisor]);
        let mv = Move::Reopen {
            reason: "new evidence".into(),
        };
        let scope = case_scope(&p).unwrap_or_else(|e| panic!("{e}"));
        let permit = authorize(&scope, Unchecked::new(closed), mv.action())
            .unwrap_or_else(|e| panic!("{e}"));
        let (next, kind) =
            apply(&permit, &mv, crate::clock::from_micros(5)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kind, EventKind::Reopened);
        assert_eq!(next.resolution, None);
        assert_eq!(next.closed_at, None);
    }
}
