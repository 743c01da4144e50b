//! `liaisonctl case ...`: filing, the lifecycle moves, notes and the timeline.

use liaison_proto as pb;
use uuid::Uuid;

use super::{agency_codes, fetch_pages, is_uuid, moves, not_found, read_text, Page};
use crate::cli::{CaseCommand, CaseTarget, MarkingArgs, Paging, PreservationArgs};
use crate::connection::Ctl;
use crate::error::CliError;
use crate::json::{self, time, timestamp};
use crate::names::{friendly, AccuracyArg, HandlingArg, KindArg, PriorityArg, SourceArg};
use crate::views::{self, Viewer};

/// The namespace of the request ids derived from a filing's content.
const FILING_NAMESPACE: Uuid = Uuid::from_u128(0x6c69_6169_736f_6e63_746c_2d66_696c_6531);

/// The request id of a filing: a UUIDv5 of who files what where (the request's content, its own
/// `request_id` aside), each part length-prefixed so no two different filings share a name. The
/// same command run again gets the same id, and the server answers it with the case the first run
/// filed.
pub fn derive_request_id(user_id: &str, filing: &pb::FileReferralRequest) -> Uuid {
    let mut parts = vec![
        user_id.to_string(),
        filing.channel_id.clone(),
        filing.category.to_string(),
        filing.priority.to_string(),
        filing.title.clone(),
        filing.summary.clone(),
    ];
    // Kinds and markings were added later: a plain request keeps the id it always had.
    if filing.kind != pb::RequestKind::Request as i32 && filing.kind != 0 {
        parts.push(format!("kind {}", filing.kind));
    }
    if let Some(p) = &filing.preservation {
        parts.extend([
            p.data.clone(),
            p.custodian.clone(),
            p.offence.clone(),
            p.necessity.clone(),
            p.formal_request.clone(),
        ]);
    }
    if !filing.legal_basis_id.is_empty() {
        parts.push(format!("basis {}", filing.legal_basis_id));
    }
    // A category beyond the first three has no number: its code names it.
    if filing.category == 0 {
        parts.push(format!("category {}", filing.category_code));
    }
    for item in &filing.items {
        parts.push(format!("item {item}"));
    }
    if let Some(m) = &filing.markings {
        parts.extend([
            m.handling.to_string(),
            m.handling_conditions.clone(),
            m.source_reliability.to_string(),
            m.information_accuracy.to_string(),
        ]);
    }
    let mut name = Vec::new();
    for part in &parts {
        name.extend_from_slice(&(part.len() as u64).to_be_bytes());
        name.extend_from_slice(part.as_bytes());
    }
    Uuid::new_v5(&FILING_NAMESPACE, &name)
}

impl PreservationArgs {
    /// The order, for a filing of kind PRESERVATION; none for the other kinds (and any detail
    /// given for them is a usage error).
    fn to_request(&self, kind: KindArg) -> Result<Option<pb::PreservationOrder>, CliError> {
        let given = [
            &self.preserve_data,
            &self.preserve_custodian,
            &self.preserve_offence,
            &self.preserve_necessity,
            &self.preserve_formal_request,
        ];
        if kind != KindArg::Preservation {
            if given.iter().any(|g| g.is_some()) {
                return Err(CliError::Usage(
                    "the --preserve-* details are for --kind preservation".into(),
                ));
            }
            return Ok(None);
        }
        // Left out, a detail is sent empty and the server names each one missing.
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        Ok(Some(pb::PreservationOrder {
            data: text(&self.preserve_data),
            custodian: text(&self.preserve_custodian),
            offence: text(&self.preserve_offence),
            necessity: text(&self.preserve_necessity),
            formal_request: text(&self.preserve_formal_request),
        }))
    }
}

impl MarkingArgs {
    /// The markings given, each code left out unspecified (the server's default); `None` when
    /// none was given.
    fn to_request(&self) -> Option<pb::Markings> {
        let given = self.handling.is_some()
            || self.conditions.is_some()
            || self.source.is_some()
            || self.accuracy.is_some();
        given.then(|| pb::Markings {
            handling: self.handling.map_or(0, HandlingArg::code),
            handling_conditions: self.conditions.clone().unwrap_or_default(),
            source_reliability: self.source.map_or(0, SourceArg::code),
            information_accuracy: self.accuracy.map_or(0, AccuracyArg::code),
        })
    }

    /// `current` with the codes given changed: complete markings for a change. A handling code
    /// other than H3 drops the conditions.
    fn onto(&self, current: Option<&pb::Markings>) -> Result<pb::Markings, CliError> {
        if self.to_request().is_none() {
            return Err(CliError::Usage(
                "say what to change: --handling, --conditions, --source or --accuracy".into(),
            ));
        }
        let mut m = current.cloned().unwrap_or_default();
        if let Some(handling) = self.handling {
            m.handling = handling.code();
            if handling != HandlingArg::H3 {
                m.handling_conditions.clear();
            }
        }
        if let Some(conditions) = &self.conditions {
            m.handling_conditions = conditions.clone();
        }
        if let Some(source) = self.source {
            m.source_reliability = source.code();
        }
        if let Some(accuracy) = self.accuracy {
            m.information_accuracy = accuracy.code();
        }
        Ok(m)
    }
}

pub async fn run(ctl: &mut Ctl, command: CaseCommand) -> Result<(), CliError> {
    match command {
        CaseCommand::File {
            channel,
            category,
            priority,
            title,
            summary,
            summary_file,
            request_id,
            kind,
            preservation,
            markings,
            basis,
            items,
        } => {
            file(
                ctl,
                Filing {
                    basis,
                    items,
                    channel,
                    category,
                    priority,
                    title,
                    summary,
                    summary_file,
                    request_id,
                    kind,
                    preservation: preservation.to_request(kind)?,
                    markings: markings.to_request(),
                },
            )
            .await
        }
        CaseCommand::Preserve { case, until } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::ConfirmPreservationRequest {
                        id,
                        etag,
                        preserved_until: Some(timestamp(until)),
                    },
                    rpc!(cases.confirm_preservation),
                )
                .await?;
            preserved(ctl, "Preserving the data of", &case)
        }
        CaseCommand::ExtendPreservation {
            case,
            until,
            reason,
        } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::ExtendPreservationRequest {
                        id,
                        etag,
                        preserved_until: Some(timestamp(until)),
                        reason: reason.unwrap_or_default(),
                    },
                    rpc!(cases.extend_preservation),
                )
                .await?;
            preserved(ctl, "Extended the preservation of", &case)
        }
        CaseCommand::ExtendDeadline {
            case,
            to,
            reason,
            text,
        } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::ExtendDeadlineRequest {
                        id,
                        etag,
                        due_at: Some(timestamp(to)),
                        reason: reason.code(),
                        text: text.unwrap_or_default(),
                    },
                    rpc!(cases.extend_deadline),
                )
                .await?;
            ctl.out.show(
                || json::case(&case),
                || {
                    format!(
                        "Extended the answer's deadline of {}: {}.",
                        case.reference,
                        views::answer_line(&ctl.out, None, &case)
                    )
                },
            )
        }
        CaseCommand::Supersede {
            case,
            formal_request,
        } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::SupersedePreservationRequest {
                        id,
                        etag,
                        formal_request,
                    },
                    rpc!(cases.supersede_preservation),
                )
                .await?;
            preserved(ctl, "Superseded the preservation of", &case)
        }
        CaseCommand::Mark {
            case,
            markings,
            reason,
        } => {
            let current = ctl
                .call(
                    pb::GetCaseRequest {
                        id: case.id.clone(),
                    },
                    rpc!(cases.get_case),
                )
                .await?;
            let etag = case.etag.unwrap_or(current.etag.clone());
            let markings = markings.onto(current.markings.as_ref())?;
            let request = pb::UpdateCaseMarkingsRequest {
                id: case.id.clone(),
                etag: etag.clone(),
                markings: Some(markings.clone()),
                reason: reason.clone().unwrap_or_default(),
            };
            let case = match ctl.call(request, rpc!(cases.update_case_markings)).await {
                Ok(case) => case,
                Err(err) => {
                    return match moves::four_eyes_rule(&err) {
                        Some(rule) => {
                            let proposal = pb::ProposeCaseMoveRequest {
                                case_id: case.id,
                                etag,
                                action: pb::MoveAction::RelaxMarking as i32,
                                reason: reason.unwrap_or_default(),
                                ground: 0,
                                markings: Some(markings),
                                note_id: String::new(),
                            };
                            moves::propose(ctl, &rule, proposal).await
                        }
                        None => Err(err),
                    }
                }
            };
            ctl.out.show(
                || json::case(&case),
                || {
                    format!(
                        "Marked {}: {}.",
                        case.reference,
                        views::markings_short(case.markings.as_ref())
                    )
                },
            )
        }
        CaseCommand::MarkNote {
            case,
            note,
            markings,
            reason,
        } => {
            let current = find_note(ctl, &case, &note).await?;
            let markings = markings.onto(current.markings.as_ref())?;
            let request = pb::UpdateNoteMarkingsRequest {
                case_id: case.clone(),
                note_id: current.id.clone(),
                markings: Some(markings.clone()),
                reason: reason.clone().unwrap_or_default(),
            };
            let note = match ctl.call(request, rpc!(cases.update_note_markings)).await {
                Ok(note) => note,
                Err(err) => {
                    let Some(rule) = moves::four_eyes_rule(&err) else {
                        return Err(err);
                    };
                    // The relaxation is proposed, on the case as it is now.
                    let case = ctl
                        .call(pb::GetCaseRequest { id: case }, rpc!(cases.get_case))
                        .await?;
                    let proposal = pb::ProposeCaseMoveRequest {
                        case_id: case.id,
                        etag: case.etag,
                        action: pb::MoveAction::RelaxNoteMarking as i32,
                        reason: reason.unwrap_or_default(),
                        ground: 0,
                        markings: Some(markings),
                        note_id: current.id,
                    };
                    return moves::propose(ctl, &rule, proposal).await;
                }
            };
            ctl.out.show(
                || json::note(&note),
                || {
                    format!(
                        "Marked note {}: {}.",
                        note.id,
                        views::markings_short(note.markings.as_ref())
                    )
                },
            )
        }
        CaseCommand::Show { id } => {
            let case = ctl
                .call(pb::GetCaseRequest { id }, rpc!(cases.get_case))
                .await?;
            show_case(ctl, &case).await
        }
        CaseCommand::Ack(target) => {
            let (id, etag) = etag(ctl, target).await?;
            let case = ctl
                .call(
                    pb::AcknowledgeCaseRequest { id, etag },
                    rpc!(cases.acknowledge_case),
                )
                .await?;
            moved(ctl, "Acknowledged", &case)
        }
        CaseCommand::Answer {
            case,
            number,
            outcome,
            ground,
            text,
        } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::AnswerRequestItemRequest {
                        case_id: id,
                        etag,
                        number,
                        outcome: outcome.code(),
                        answer: text,
                        ground: ground.map(|g| g.code()).unwrap_or_default(),
                    },
                    rpc!(cases.answer_request_item),
                )
                .await?;
            let open = case
                .items
                .iter()
                .filter(|i| i.outcome == 0)
                .map(|i| i.number.to_string())
                .collect::<Vec<_>>();
            ctl.out.show(
                || json::case(&case),
                || {
                    format!(
                        "Item {number} of {}: {}. {}",
                        case.reference,
                        friendly::<pb::ItemOutcome>(outcome.code()),
                        if open.is_empty() {
                            "Every item has its answer: the case may close.".to_string()
                        } else {
                            format!("Still to answer: {}.", open.join(", "))
                        }
                    )
                },
            )
        }
        CaseCommand::Decline {
            case,
            ground,
            reason,
        } => {
            let (id, etag) = etag(ctl, case).await?;
            let request = pb::DeclineCaseRequest {
                id: id.clone(),
                etag: etag.clone(),
                reason: reason.clone(),
                ground: ground.code(),
            };
            match ctl.call(request, rpc!(cases.decline_case)).await {
                Ok(case) => moved(ctl, "Declined", &case),
                Err(err) => match moves::four_eyes_rule(&err) {
                    Some(rule) => {
                        let proposal = pb::ProposeCaseMoveRequest {
                            case_id: id,
                            etag,
                            action: pb::MoveAction::Decline as i32,
                            reason,
                            ground: ground.code(),
                            markings: None,
                            note_id: String::new(),
                        };
                        moves::propose(ctl, &rule, proposal).await
                    }
                    None => Err(err),
                },
            }
        }
        CaseCommand::Assign { case, to } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::AssignCaseRequest {
                        id,
                        assignee_id: to,
                        etag,
                    },
                    rpc!(cases.assign_case),
                )
                .await?;
            moved(ctl, "Assigned", &case)
        }
        CaseCommand::RequestInfo { case, question } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::RequestInformationRequest { id, etag, question },
                    rpc!(cases.request_information),
                )
                .await?;
            moved(ctl, "Asked for information on", &case)
        }
        CaseCommand::ProvideInfo { case, answer } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::ProvideInformationRequest { id, etag, answer },
                    rpc!(cases.provide_information),
                )
                .await?;
            moved(ctl, "Answered", &case)
        }
        CaseCommand::Close { case, resolution } => {
            let (id, etag) = etag(ctl, case).await?;
            let request = pb::CloseCaseRequest {
                id: id.clone(),
                resolution: resolution.code(),
                etag: etag.clone(),
            };
            match ctl.call(request, rpc!(cases.close_case)).await {
                Ok(case) => moved(ctl, "Closed", &case),
                Err(err) => match moves::four_eyes_rule(&err) {
                    Some(rule) => {
                        let proposal = pb::ProposeCaseMoveRequest {
                            case_id: id,
                            etag,
                            action: pb::MoveAction::CloseNoAction as i32,
                            ..Default::default()
                        };
                        moves::propose(ctl, &rule, proposal).await
                    }
                    None => Err(err),
                },
            }
        }
        CaseCommand::Reopen { case, reason } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::ReopenCaseRequest { id, etag, reason },
                    rpc!(cases.reopen_case),
                )
                .await?;
            moved(ctl, "Reopened", &case)
        }
        CaseCommand::Withdraw { case, reason } => {
            let (id, etag) = etag(ctl, case).await?;
            let case = ctl
                .call(
                    pb::WithdrawCaseRequest {
                        id,
                        etag,
                        reason: reason.unwrap_or_default(),
                    },
                    rpc!(cases.withdraw_case),
                )
                .await?;
            moved(ctl, "Withdrew", &case)
        }
        CaseCommand::Note {
            id,
            shared,
            internal: _,
            body,
            markings,
        } => {
            let text = read_text(body.text, body.file.as_deref(), "note")?;
            let visibility = if shared {
                pb::NoteVisibility::Shared
            } else {
                pb::NoteVisibility::Internal
            };
            let note = ctl
                .call(
                    pb::AddNoteRequest {
                        case_id: id,
                        body: text,
                        visibility: visibility as i32,
                        markings: markings.to_request(),
                    },
                    rpc!(cases.add_note),
                )
                .await?;
            ctl.out.show(
                || json::note(&note),
                || {
                    let who = if note.visibility == pb::NoteVisibility::Internal as i32 {
                        "only your agency"
                    } else {
                        "both agencies"
                    };
                    format!(
                        "Added note {} to case {}; {who} can read it, marked {}.",
                        note.id,
                        note.case_id,
                        views::markings_short(note.markings.as_ref())
                    )
                },
            )
        }
        CaseCommand::Notes { id, paging } => notes(ctl, id, &paging).await,
        CaseCommand::Release { id } => moves::release(ctl, id).await,
        CaseCommand::Approve { id, reason } => moves::decide(ctl, id, true, reason).await,
        CaseCommand::Reject { id, reason } => moves::decide(ctl, id, false, reason).await,
        CaseCommand::Timeline { id, paging } => timeline(ctl, id, &paging).await,
    }
}

struct Filing {
    channel: Option<String>,
    category: String,
    priority: PriorityArg,
    title: String,
    summary: Option<String>,
    summary_file: Option<std::path::PathBuf>,
    request_id: Option<String>,
    kind: KindArg,
    preservation: Option<pb::PreservationOrder>,
    markings: Option<pb::Markings>,
    basis: Option<String>,
    items: Vec<String>,
}

async fn file(ctl: &mut Ctl, f: Filing) -> Result<(), CliError> {
    let summary = read_text(f.summary, f.summary_file.as_deref(), "summary")?;
    let channel_id = match f.channel {
        Some(channel) => channel,
        None => only_active_channel(ctl).await?,
    };
    let legal_basis_id = match f.basis {
        Some(basis) => legal_basis_id(ctl, &channel_id, &basis).await?,
        None => String::new(),
    };
    let user_id = my_user_id(ctl).await?;
    let mut filing = pb::FileReferralRequest {
        legal_basis_id,
        request_id: String::new(),
        channel_id,
        category: known_category(&f.category),
        category_code: f.category.clone(),
        priority: f.priority.code(),
        title: f.title,
        summary,
        markings: f.markings,
        kind: f.kind.code(),
        preservation: f.preservation,
        items: f.items,
    };
    filing.request_id = match f.request_id {
        Some(id) => id,
        None => derive_request_id(&user_id, &filing).to_string(),
    };
    let case = ctl.call(filing, rpc!(cases.file_referral)).await?;
    // A filing older than this command is an earlier run's, answered again.
    let earlier = time(case.filed_at.as_ref())
        .is_some_and(|at| at < ctl.out.now - chrono::Duration::seconds(60));
    if earlier && !ctl.out.json_mode() {
        ctl.out.note(&format!(
            "This referral was filed already, {}: the same command returns the same case. To file \
             another with identical content, pass a new --request-id.",
            ctl.out.relative(time(case.filed_at.as_ref()))
        ));
    }
    if ctl.out.json_mode() {
        return ctl.out.json(&json::case(&case));
    }
    let heading = if earlier { "Already filed" } else { "Filed" };
    ctl.out.print(&format!(
        "{heading} {}.",
        ctl.out.paint(&case.reference, crate::output::Style::Bold)
    ))?;
    show_case(ctl, &case).await
}

/// The founding category's number for a code, or 0 for the others.
fn known_category(code: &str) -> i32 {
    pb::Category::from_str_name(&format!("CATEGORY_{code}")).map_or(0, |c| c as i32)
}

/// A legal basis agreed on the channel, named by its code (CA-IN-MLAT) or id.
async fn legal_basis_id(ctl: &mut Ctl, channel_id: &str, basis: &str) -> Result<String, CliError> {
    if is_uuid(basis) {
        return Ok(basis.to_string());
    }
    let agreed = ctl
        .call(
            pb::ListChannelTermsRequest {
                channel_id: channel_id.to_string(),
                kind: pb::TermKind::LegalBasis as i32,
                include_inactive: false,
            },
            rpc!(directory.list_channel_terms),
        )
        .await?
        .terms;
    if let Some(term) = agreed.iter().find(|t| t.code.eq_ignore_ascii_case(basis)) {
        return Ok(term.id.clone());
    }
    let codes: Vec<&str> = agreed.iter().map(|t| t.code.as_str()).collect();
    Err(not_found(if codes.is_empty() {
        format!("the channel has agreed no legal basis, so none is called {basis}")
    } else {
        format!(
            "the channel has agreed no legal basis called {basis}; agreed: {}",
            codes.join(", ")
        )
    }))
}

/// The signed-in user's id, asked of the server when the session does not have it yet.
async fn my_user_id(ctl: &mut Ctl) -> Result<String, CliError> {
    let known = ctl.session()?.user_id.clone();
    if !known.is_empty() {
        return Ok(known);
    }
    let me = ctl.call(pb::WhoAmIRequest {}, rpc!(auth.who_am_i)).await?;
    Ok(me.user.map(|u| u.id).unwrap_or_default())
}

pub async fn only_active_channel(ctl: &mut Ctl) -> Result<String, CliError> {
    let channels = ctl
        .call(
            pb::ListChannelsRequest {
                status: pb::ChannelStatus::Active as i32,
            },
            rpc!(directory.list_channels),
        )
        .await?
        .channels;
    match channels.as_slice() {
        [only] => Ok(only.id.clone()),
        [] => Err(CliError::Usage(
            "your agency has no ACTIVE channel to file on".into(),
        )),
        many => {
            let choices: Vec<String> = many
                .iter()
                .map(|c| {
                    let partner = |a: &Option<pb::Agency>| {
                        a.as_ref().map(|a| a.code.clone()).unwrap_or_default()
                    };
                    format!(
                        "  {}  {} ↔ {}",
                        c.id,
                        partner(&c.proposing_agency),
                        partner(&c.partner_agency)
                    )
                })
                .collect();
            Err(CliError::Usage(format!(
                "your agency has {} ACTIVE channels: choose one with --channel\n{}",
                many.len(),
                choices.join("\n")
            )))
        }
    }
}

/// A note of the case, as ListNotes shows it to the caller (with the markings in force).
async fn find_note(ctl: &mut Ctl, case_id: &str, note_id: &str) -> Result<pb::Note, CliError> {
    let mut page_token = String::new();
    loop {
        let page = ctl
            .call(
                pb::ListNotesRequest {
                    case_id: case_id.to_string(),
                    page_size: 500,
                    page_token,
                },
                rpc!(cases.list_notes),
            )
            .await?;
        if let Some(note) = page.notes.into_iter().find(|n| n.id == note_id) {
            return Ok(note);
        }
        if page.next_page_token.is_empty() {
            let status = tonic::Status::not_found(format!(
                "case {case_id} has no note {note_id} that you may read"
            ));
            return Err(CliError::Status {
                status: Box::new(status),
                hint: Some(format!("`liaisonctl case notes {case_id}` lists them")),
            });
        }
        page_token = page.next_page_token;
    }
}

/// The case's id and the etag to change it with: the one given, else the current one.
async fn etag(ctl: &mut Ctl, target: CaseTarget) -> Result<(String, String), CliError> {
    if let Some(etag) = target.etag {
        return Ok((target.id, etag));
    }
    let case = ctl
        .call(
            pb::GetCaseRequest {
                id: target.id.clone(),
            },
            rpc!(cases.get_case),
        )
        .await?;
    Ok((target.id, case.etag))
}

fn preserved(ctl: &Ctl, verb: &str, case: &pb::Case) -> Result<(), CliError> {
    ctl.out.show(
        || json::case(case),
        || {
            format!(
                "{verb} {}: {}.",
                case.reference,
                views::preservation_line(&ctl.out, case.preservation.as_ref())
            )
        },
    )
}

fn moved(ctl: &Ctl, verb: &str, case: &pb::Case) -> Result<(), CliError> {
    ctl.out.show(
        || json::case(case),
        || {
            format!(
                "{verb} {}: now {}.",
                case.reference,
                ctl.out.paint(
                    &friendly::<pb::CaseStatus>(case.status),
                    views::status_style(case.status).unwrap_or(crate::output::Style::Bold)
                )
            )
        },
    )
}

async fn show_case(ctl: &mut Ctl, case: &pb::Case) -> Result<(), CliError> {
    if ctl.out.json_mode() {
        // Times are UTC; the two sides' zones say how each reads them.
        let agencies = super::agency_directory(ctl).await;
        let zone = |id: &str| agencies.zones.get(id).cloned().unwrap_or_default();
        let mut value = json::case(case);
        value["time_zones"] = serde_json::json!({
            "originating": zone(&case.originating_agency_id),
            "receiving": zone(&case.receiving_agency_id),
        });
        return ctl.out.json(&value);
    }
    let agencies = agency_codes(ctl).await;
    let session = ctl.session()?;
    let (user_id, agency_id) = (session.user_id.clone(), session.agency_id.clone());
    let viewer = Viewer {
        user_id: &user_id,
        agency_id: &agency_id,
        agencies: &agencies,
    };
    let basis = legal_basis_label(ctl, case).await;
    ctl.out.print(&views::case_fields(
        &ctl.out,
        &viewer,
        case,
        basis.as_deref(),
    ))
}

/// "CODE — title" of the legal basis a case cites, retired or not; its id when the register
/// cannot be read.
async fn legal_basis_label(ctl: &mut Ctl, case: &pb::Case) -> Option<String> {
    if case.legal_basis_id.is_empty() {
        return None;
    }
    let terms = ctl
        .call(
            pb::ListChannelTermsRequest {
                channel_id: case.channel_id.clone(),
                kind: pb::TermKind::LegalBasis as i32,
                include_inactive: true,
            },
            rpc!(directory.list_channel_terms),
        )
        .await
        .map(|r| r.terms)
        .unwrap_or_default();
    Some(
        terms
            .iter()
            .find(|t| t.id == case.legal_basis_id)
            .map_or(case.legal_basis_id.clone(), |t| {
                format!("{} — {}", t.code, t.title)
            }),
    )
}

async fn notes(ctl: &mut Ctl, case_id: String, paging: &Paging) -> Result<(), CliError> {
    let page: Page<pb::Note> = fetch_pages(
        ctl,
        pb::ListNotesRequest {
            case_id,
            ..Default::default()
        },
        paging,
        rpc!(cases.list_notes),
    )
    .await?;
    if ctl.out.json_mode() {
        return ctl.out.json(&page.to_json("notes", json::note));
    }
    let agencies = agency_codes(ctl).await;
    let session = ctl.session()?;
    let (user_id, agency_id) = (session.user_id.clone(), session.agency_id.clone());
    let viewer = Viewer {
        user_id: &user_id,
        agency_id: &agency_id,
        agencies: &agencies,
    };
    ctl.out
        .print(&views::notes_text(&ctl.out, &viewer, &page.items))?;
    page.note_more(ctl);
    Ok(())
}

async fn timeline(ctl: &mut Ctl, case_id: String, paging: &Paging) -> Result<(), CliError> {
    let page: Page<pb::CaseEvent> = fetch_pages(
        ctl,
        pb::ListCaseEventsRequest {
            case_id,
            ..Default::default()
        },
        paging,
        rpc!(cases.list_case_events),
    )
    .await?;
    if ctl.out.json_mode() {
        return ctl.out.json(&page.to_json("events", json::event));
    }
    let agencies = agency_codes(ctl).await;
    let session = ctl.session()?;
    let (user_id, agency_id) = (session.user_id.clone(), session.agency_id.clone());
    let viewer = Viewer {
        user_id: &user_id,
        agency_id: &agency_id,
        agencies: &agencies,
    };
    ctl.out
        .print(&views::timeline_table(&ctl.out, &viewer, &page.items))?;
    page.note_more(ctl);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_filing_gets_the_same_request_id() {
        let filing = |title: &str, summary: &str| pb::FileReferralRequest {
            channel_id: "channel".into(),
            category: pb::Category::Drugs as i32,
            priority: PriorityArg::Urgent.code(),
            title: title.into(),
            summary: summary.into(),
            ..Default::default()
        };
        let id = |user: &str, title: &str, summary: &str| {
            derive_request_id(user, &filing(title, summary))
        };
        assert_eq!(id("u1", "t", "s"), id("u1", "t", "s"));
        assert_eq!(id("u1", "t", "s").get_version_num(), 5);
        assert_ne!(id("u1", "t", "s"), id("u2", "t", "s"));
        assert_ne!(id("u1", "t", "s"), id("u1", "t", "s2"));
        // Length prefixes: moving text between fields changes the id.
        assert_ne!(id("u1", "ab", "c"), id("u1", "a", "bc"));
        let routine = pb::FileReferralRequest {
            priority: PriorityArg::Routine.code(),
            ..filing("t", "s")
        };
        assert_ne!(derive_request_id("u1", &routine), id("u1", "t", "s"));
        // A plain request keeps the id it had before kinds and markings: stated REQUEST or not.
        let stated = pb::FileReferralRequest {
            kind: KindArg::Request.code(),
            ..filing("t", "s")
        };
        assert_eq!(derive_request_id("u1", &stated), id("u1", "t", "s"));
        let spontaneous = pb::FileReferralRequest {
            kind: KindArg::Spontaneous.code(),
            ..filing("t", "s")
        };
        assert_ne!(derive_request_id("u1", &spontaneous), id("u1", "t", "s"));
        let marked = pb::FileReferralRequest {
            markings: Some(pb::Markings {
                handling: pb::Handling::H2 as i32,
                ..Default::default()
            }),
            ..filing("t", "s")
        };
        assert_ne!(derive_request_id("u1", &marked), id("u1", "t", "s"));
    }
}
