//! Moves under four eyes: proposing a move a channel's rule puts under a second supervisor's
//! approval, listing what awaits approval, and deciding.

use liaison_proto as pb;
use serde_json::json;
use tonic_types::StatusExt;

use crate::connection::Ctl;
use crate::error::CliError;
use crate::json::{self, time};
use crate::names::friendly;
use crate::output::{Cell, Style, Table};

/// The rule a refusal names when the move needs a second supervisor, if it does.
pub fn four_eyes_rule(err: &CliError) -> Option<String> {
    let CliError::Status { status, .. } = err else {
        return None;
    };
    status
        .get_details_precondition_failure()?
        .violations
        .into_iter()
        .find(|v| v.r#type == "FOUR_EYES")
        .map(|v| v.subject)
}

/// Proposes the move the server refused to make alone, and says who must approve it.
pub async fn propose(
    ctl: &mut Ctl,
    rule: &str,
    request: pb::ProposeCaseMoveRequest,
) -> Result<(), CliError> {
    let m = ctl.call(request, rpc!(cases.propose_case_move)).await?;
    ctl.out.show(
        || json::case_move(&m),
        || {
            format!(
                "The channel's rule {rule} needs a second supervisor: the {} of {} is proposed as \
                 move {}. Another supervisor of your agency approves it with `liaisonctl case \
                 approve {}` before {}.",
                friendly::<pb::MoveAction>(m.action),
                m.case_reference,
                m.id,
                m.id,
                time(m.expires_at.as_ref())
                    .map(crate::views::absolute)
                    .unwrap_or_default()
            )
        },
    )
}

pub async fn list(
    ctl: &mut Ctl,
    view: pb::CaseMoveView,
    case_id: Option<String>,
    include_decided: bool,
) -> Result<(), CliError> {
    let moves = ctl
        .call(
            pb::ListCaseMovesRequest {
                view: view as i32,
                case_id: case_id.unwrap_or_default(),
                include_decided,
            },
            rpc!(cases.list_case_moves),
        )
        .await?
        .moves;
    ctl.out.show(
        || json!({ "moves": moves.iter().map(json::case_move).collect::<Vec<_>>() }),
        || {
            if moves.is_empty() {
                return match view {
                    pb::CaseMoveView::Unspecified | pb::CaseMoveView::AwaitingMyApproval => {
                        "Nothing awaits your approval.".into()
                    }
                    _ => "No moves.".into(),
                };
            }
            let mut table = Table::new(&[
                "CASE",
                "MOVE",
                "STATUS",
                "PROPOSED BY",
                "EXPIRES",
                "REASON",
                "ID",
            ]);
            for m in &moves {
                table.row(vec![
                    Cell::styled(m.case_reference.clone(), Some(Style::Bold)),
                    friendly::<pb::MoveAction>(m.action).into(),
                    friendly::<pb::MoveStatus>(m.status).into(),
                    m.requested_by.as_str().into(),
                    ctl.out.relative(time(m.expires_at.as_ref())).into(),
                    m.reason.as_str().into(),
                    m.id.as_str().into(),
                ]);
            }
            ctl.out.table(&table)
        },
    )
}

pub async fn decide(
    ctl: &mut Ctl,
    id: String,
    approve: bool,
    reason: Option<String>,
) -> Result<(), CliError> {
    let reason = reason.unwrap_or_default();
    let m = if approve {
        ctl.call(
            pb::ApproveCaseMoveRequest { id, reason },
            rpc!(cases.approve_case_move),
        )
        .await?
    } else {
        ctl.call(
            pb::RejectCaseMoveRequest { id, reason },
            rpc!(cases.reject_case_move),
        )
        .await?
    };
    ctl.out.show(
        || json::case_move(&m),
        || {
            let verb = if approve { "Approved" } else { "Rejected" };
            format!(
                "{verb} the {} of {} (move {}).",
                friendly::<pb::MoveAction>(m.action),
                m.case_reference,
                m.id
            )
        },
    )
}

/// Releases a PENDING_RELEASE referral: approves its RELEASE when someone else proposed it, or
/// proposes it again when none awaits a decision.
pub async fn release(ctl: &mut Ctl, case_id: String) -> Result<(), CliError> {
    let waiting = ctl
        .call(
            pb::ListCaseMovesRequest {
                view: pb::CaseMoveView::All as i32,
                case_id: case_id.clone(),
                include_decided: false,
            },
            rpc!(cases.list_case_moves),
        )
        .await?
        .moves
        .into_iter()
        .find(|m| m.action == pb::MoveAction::Release as i32);
    match waiting {
        Some(m) => decide(ctl, m.id, true, None).await,
        None => {
            let case = ctl
                .call(pb::GetCaseRequest { id: case_id }, rpc!(cases.get_case))
                .await?;
            propose(
                ctl,
                "FOUR_EYES_RELEASE",
                pb::ProposeCaseMoveRequest {
                    case_id: case.id,
                    etag: case.etag,
                    action: pb::MoveAction::Release as i32,
                    ..Default::default()
                },
            )
            .await
        }
    }
}
