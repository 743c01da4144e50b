//! Authorization: who may do what to which case, in one place. Deny by default.
//!
//! Case content is for officers and supervisors only. A supervisor sees every case their agency
//! filed or received; an officer sees the cases they filed or are assigned. A case the caller may
//! not see is answered exactly like a missing one. The checks return a [`Permit`], which the
//! lifecycle requires, so a change cannot be made without passing them.

use crate::error::{AppError, AppResult};
use crate::model::Principal;
use crate::model::{Case, Role};

pub const CASE_NOT_FOUND: AppError = AppError::NotFound("case not found");

/// The cases a principal may see, for scoping queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseScope {
    pub agency_id: String,
    pub user_id: String,
    /// True for supervisors: every case of the agency. False: only cases filed by or assigned to
    /// the user.
    pub whole_agency: bool,
}

/// What a caller may do to a case they can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAction {
    Read,
    AddNote,
    Acknowledge,
    Decline,
    Assign,
    RequestInformation,
    ProvideInformation,
    Close,
    Reopen,
    Withdraw,
}

/// Proof that the principal passed the check for `action` on the case with `case_id`.
#[derive(Debug)]
pub struct Permit {
    case_id: String,
    action: CaseAction,
}

impl Permit {
    pub fn case_id(&self) -> &str {
        &self.case_id
    }

    pub fn action(&self) -> CaseAction {
        self.action
    }
}

/// Refuses a caller whose password an admin reset, until they change it (only ChangePassword is
/// open to them).
pub fn require_settled_password(principal: &Principal) -> AppResult<()> {
    if principal.must_change_password {
        return Err(AppError::FailedPrecondition(
            "your password was reset: change it with AuthService/ChangePassword first".into(),
        ));
    }
    Ok(())
}

pub fn require_role(principal: &Principal, role: Role) -> AppResult<()> {
    if principal.has(role) {
        Ok(())
    } else {
        Err(AppError::PermissionDenied(format!(
            "this call requires the {role} role"
        )))
    }
}

/// The scope of case content the principal may read; refused for roles without case access.
pub fn case_scope(principal: &Principal) -> AppResult<CaseScope> {
    if !(principal.has(Role::Officer) || principal.has(Role::Supervisor)) {
        return Err(AppError::PermissionDenied(
            "case content requires the OFFICER or SUPERVISOR role".into(),
        ));
    }
    Ok(CaseScope {
        agency_id: principal.agency_id.clone(),
        user_id: principal.user_id.clone(),
        whole_agency: principal.has(Role::Supervisor),
    })
}

fn can_see(p: &Principal, case: &Case) -> bool {
    let supervisor = p.has(Role::Supervisor)
        && (case.originating_agency_id == p.agency_id || case.receiving_agency_id == p.agency_id);
    let officer = p.has(Role::Officer)
        && (case.filed_by == p.user_id || case.assignee_id.as_deref() == Some(&p.user_id));
    supervisor || officer
}

fn allows(p: &Principal, case: &Case, action: CaseAction) -> bool {
    let receiving_supervisor = p.has(Role::Supervisor) && case.receiving_agency_id == p.agency_id;
    let originating_supervisor =
        p.has(Role::Supervisor) && case.originating_agency_id == p.agency_id;
    let assignee = p.has(Role::Officer) && case.assignee_id.as_deref() == Some(&p.user_id);
    let filer = p.has(Role::Officer) && case.filed_by == p.user_id;
    match action {
        CaseAction::Read | CaseAction::AddNote => true,
        CaseAction::Acknowledge | CaseAction::Decline | CaseAction::Assign | CaseAction::Reopen => {
            receiving_supervisor
        }
        CaseAction::RequestInformation | CaseAction::Close => assignee || receiving_supervisor,
        CaseAction::ProvideInformation | CaseAction::Withdraw => filer || originating_supervisor,
    }
}

fn who_may(action: CaseAction) -> &'static str {
    match action {
        CaseAction::Read | CaseAction::AddNote => "whoever may see the case",
        CaseAction::Acknowledge => {
            "only a supervisor of the receiving agency may acknowledge a case"
        }
        CaseAction::Decline => "only a supervisor of the receiving agency may decline a case",
        CaseAction::Assign => "only a supervisor of the receiving agency may assign a case",
        CaseAction::Reopen => "only a supervisor of the receiving agency may reopen a case",
        CaseAction::RequestInformation => {
            "only the assignee or a receiving supervisor may request information"
        }
        CaseAction::Close => "only the assignee or a receiving supervisor may close a case",
        CaseAction::ProvideInformation => {
            "only the filer or an originating supervisor may provide information"
        }
        CaseAction::Withdraw => "only the filer or an originating supervisor may withdraw a case",
    }
}

/// Checks that `principal` may do `action` to `case`: `NotFound` when they may not see it at all,
/// `PermissionDenied` when they see it but the action is not theirs.
pub fn authorize(principal: &Principal, case: &Case, action: CaseAction) -> AppResult<Permit> {
    case_scope(principal)?;
    if !can_see(principal, case) {
        return Err(CASE_NOT_FOUND);
    }
    if !allows(principal, case, action) {
        return Err(AppError::PermissionDenied(who_may(action).to_string()));
    }
    Ok(Permit {
        case_id: case.id.clone(),
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CaseStatus, Category, Priority, Roles};

    fn principal(user: &str, agency: &str, roles: &[Role]) -> Principal {
        Principal {
            user_id: user.into(),
            username: user.into(),
            agency_id: agency.into(),
            roles: roles.iter().copied().collect::<Roles>(),
            session_id: "s".into(),
            must_change_password: false,
        }
    }

    fn case() -> Case {
        let t = crate::clock::from_micros(0);
        Case {
            id: "c".into(),
            reference: "IN-CA-DRUGS-2026-000001".into(),
            channel_id: "ch".into(),
            category: Category::Drugs,
            priority: Priority::Routine,
            title: "t".into(),
            summary: "s".into(),
            originating_agency_id: "IN".into(),
            receiving_agency_id: "CA".into(),
            filed_by: "filer".into(),
            assignee_id: Some("worker".into()),
            status: CaseStatus::InProgress,
            resolution: None,
            filed_at: t,
            updated_at: t,
            acknowledged_at: None,
            closed_at: None,
            acknowledge_due_at: t,
            version: 1,
        }
    }

    fn code(p: &Principal, action: CaseAction) -> tonic::Code {
        match authorize(p, &case(), action) {
            Ok(_) => tonic::Code::Ok,
            Err(e) => e.code(),
        }
    }

    #[test]
    fn the_role_table_holds() {
        use tonic::Code::{NotFound, Ok, PermissionDenied};
        let filer = principal("filer", "IN", &[Role::Officer]);
        let worker = principal("worker", "CA", &[Role::Officer]);
        let other_officer = principal("other", "CA", &[Role::Officer]);
        let recv_sup = principal("rs", "CA", &[Role::Supervisor]);
        let orig_sup = principal("os", "IN", &[Role::Supervisor]);
        let stranger_sup = principal("xs", "US", &[Role::Supervisor]);
        let admin = principal("ad", "CA", &[Role::Admin, Role::Auditor]);

        assert_eq!(code(&filer, CaseAction::Read), Ok);
        assert_eq!(code(&filer, CaseAction::Withdraw), Ok);
        assert_eq!(code(&filer, CaseAction::ProvideInformation), Ok);
        assert_eq!(code(&filer, CaseAction::Close), PermissionDenied);
        assert_eq!(code(&worker, CaseAction::Close), Ok);
        assert_eq!(code(&worker, CaseAction::RequestInformation), Ok);
        assert_eq!(code(&worker, CaseAction::Acknowledge), PermissionDenied);
        assert_eq!(code(&worker, CaseAction::Withdraw), PermissionDenied);
        assert_eq!(code(&other_officer, CaseAction::Read), NotFound);
        assert_eq!(code(&recv_sup, CaseAction::Acknowledge), Ok);
        assert_eq!(code(&recv_sup, CaseAction::Assign), Ok);
        assert_eq!(code(&recv_sup, CaseAction::Reopen), Ok);
        assert_eq!(code(&recv_sup, CaseAction::Withdraw), PermissionDenied);
        assert_eq!(code(&orig_sup, CaseAction::Withdraw), Ok);
        assert_eq!(code(&orig_sup, CaseAction::Acknowledge), PermissionDenied);
        assert_eq!(code(&stranger_sup, CaseAction::Read), NotFound);
        assert_eq!(code(&admin, CaseAction::Read), PermissionDenied);
    }
}
