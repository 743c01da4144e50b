//! `liaisonctl queue ...`: the case queues, listed or followed live.

mod watch;

use liaison_proto as pb;

use super::{fetch_pages, Page};
use crate::cli::{QueueArgs, QueueCommand, QueueFilters};
use crate::connection::Ctl;
use crate::error::CliError;
use crate::json;
use crate::views;

pub async fn run(ctl: &mut Ctl, command: QueueCommand) -> Result<(), CliError> {
    let (view, args) = match command {
        QueueCommand::Incoming(args) => (pb::CaseView::Incoming, args),
        QueueCommand::Outgoing(args) => (pb::CaseView::Outgoing, args),
        QueueCommand::Mine(args) => (pb::CaseView::AssignedToMe, args),
        QueueCommand::All(args) => (pb::CaseView::All, args),
        QueueCommand::Watch(args) => return watch::watch(ctl, args).await,
        QueueCommand::Approvals {
            mine,
            all,
            case_id,
            decided,
        } => {
            let view = if mine {
                pb::CaseMoveView::ProposedByMe
            } else if all {
                pb::CaseMoveView::All
            } else {
                pb::CaseMoveView::AwaitingMyApproval
            };
            return super::moves::list(ctl, view, case_id, decided).await;
        }
    };
    list(ctl, view, args).await
}

/// The listing request for a view and its filters.
pub fn request(view: pb::CaseView, filters: &QueueFilters) -> pb::ListCasesRequest {
    pb::ListCasesRequest {
        view: view as i32,
        statuses: filters.status.iter().map(|s| s.code()).collect(),
        category_code: filters.category.clone().unwrap_or_default(),
        priority: filters.priority.map(|p| p.code()).unwrap_or_default(),
        channel_id: filters.channel.clone().unwrap_or_default(),
        assignee_id: filters.assignee.clone().unwrap_or_default(),
        overdue_only: filters.overdue,
        due_within: filters.due_within.map(|d| prost_types::Duration {
            seconds: d.num_seconds(),
            nanos: 0,
        }),
        breached_only: filters.breached,
        kinds: filters.kind.iter().map(|k| k.code()).collect(),
        ..Default::default()
    }
}

async fn list(ctl: &mut Ctl, view: pb::CaseView, args: QueueArgs) -> Result<(), CliError> {
    let mut request = request(view, &args.filters);
    request.order = args.order.code();
    let page: Page<pb::Case> =
        fetch_pages(ctl, request, &args.paging, rpc!(cases.list_cases)).await?;
    ctl.out.show(
        || page.to_json("cases", json::case),
        || views::case_table(&ctl.out, &page.items),
    )?;
    page.note_more(ctl);
    Ok(())
}
