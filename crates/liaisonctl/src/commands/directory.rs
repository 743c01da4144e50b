//! `liaisonctl directory ...`: agencies, channels and the token keys; channel views shared with
//! `admin channel`.

use liaison_proto as pb;
use serde_json::json;

use crate::cli::{CaseRoleArg, DirectoryCommand};
use crate::connection::Ctl;
use crate::error::CliError;
use crate::json::{self, time};
use crate::names::{friendly, ChannelStatusArg};
use crate::output::{Cell, Style, Table};
use crate::views::when;

pub async fn run(ctl: &mut Ctl, command: DirectoryCommand) -> Result<(), CliError> {
    match command {
        DirectoryCommand::Agencies => {
            let agencies = ctl
                .call(pb::ListAgenciesRequest {}, rpc!(directory.list_agencies))
                .await?
                .agencies;
            ctl.out.show(
                || json!({ "agencies": agencies.iter().map(json::agency).collect::<Vec<_>>() }),
                || {
                    let mut table = Table::new(&["CODE", "COUNTRY", "ZONE", "NAME", "ID"]);
                    for a in &agencies {
                        table.row(vec![
                            a.code.as_str().into(),
                            a.country.as_str().into(),
                            a.time_zone.as_str().into(),
                            a.name.as_str().into(),
                            a.id.as_str().into(),
                        ]);
                    }
                    ctl.out.table(&table)
                },
            )
        }
        DirectoryCommand::Colleagues { role } => {
            let role = match role {
                Some(CaseRoleArg::Officer) => pb::Role::Officer as i32,
                Some(CaseRoleArg::Supervisor) => pb::Role::Supervisor as i32,
                None => 0,
            };
            let people = ctl
                .call(
                    pb::ListColleaguesRequest { role },
                    rpc!(directory.list_colleagues),
                )
                .await?
                .colleagues;
            ctl.out.show(
                || json!({ "colleagues": people.iter().map(json::colleague).collect::<Vec<_>>() }),
                || {
                    if people.is_empty() {
                        return "No one.".into();
                    }
                    let mut table = Table::new(&["USERNAME", "NAME", "ROLES", "ID"]);
                    for p in &people {
                        let roles: Vec<String> =
                            p.roles.iter().map(|r| friendly::<pb::Role>(*r)).collect();
                        table.row(vec![
                            p.username.as_str().into(),
                            p.display_name.as_str().into(),
                            roles.join(", ").into(),
                            p.id.as_str().into(),
                        ]);
                    }
                    ctl.out.table(&table)
                },
            )
        }
        DirectoryCommand::Terms { channel, all } => {
            let terms = ctl
                .call(
                    pb::ListChannelTermsRequest {
                        channel_id: channel,
                        kind: 0,
                        include_inactive: all,
                    },
                    rpc!(directory.list_channel_terms),
                )
                .await?
                .terms;
            ctl.out.show(
                || json!({ "terms": terms.iter().map(json::channel_term).collect::<Vec<_>>() }),
                || {
                    if terms.is_empty() {
                        return if all {
                            "The channel's register is empty.".into()
                        } else {
                            "The channel has agreed no terms.".into()
                        };
                    }
                    let mut table =
                        Table::new(&["CODE", "KIND", "STATUS", "TITLE", "REFERENCE", "ID"]);
                    for t in &terms {
                        table.row(vec![
                            Cell::styled(t.code.clone(), Some(Style::Bold)),
                            friendly::<pb::TermKind>(t.kind).into(),
                            Cell::styled(
                                friendly::<pb::TermStatus>(t.status),
                                term_style(t.status),
                            ),
                            t.title.as_str().into(),
                            t.reference.as_str().into(),
                            t.id.as_str().into(),
                        ]);
                    }
                    ctl.out.table(&table)
                },
            )
        }
        DirectoryCommand::Channels { status } => list_channels(ctl, status).await,
        DirectoryCommand::Channel { id } => {
            let channel = ctl
                .call(pb::GetChannelRequest { id }, rpc!(directory.get_channel))
                .await?;
            show_channel(ctl, &channel)
        }
        DirectoryCommand::Keys => {
            let channel = ctl.public_channel().await?;
            let keys = ctl
                .call_public(
                    channel,
                    pb::GetPublicKeysRequest {},
                    rpc!(auth.get_public_keys),
                )
                .await?
                .keys;
            ctl.out.show(
                || json!({ "keys": keys.iter().map(json::jwk).collect::<Vec<_>>() }),
                || {
                    let mut table = Table::new(&["KID", "KTY", "CRV", "ALG", "USE", "X"]);
                    for k in &keys {
                        table.row(vec![
                            k.kid.as_str().into(),
                            k.kty.as_str().into(),
                            k.crv.as_str().into(),
                            k.alg.as_str().into(),
                            k.r#use.as_str().into(),
                            k.x.as_str().into(),
                        ]);
                    }
                    ctl.out.table(&table)
                },
            )
        }
    }
}

pub async fn list_channels(
    ctl: &mut Ctl,
    status: Option<ChannelStatusArg>,
) -> Result<(), CliError> {
    let channels = ctl
        .call(
            pb::ListChannelsRequest {
                status: status.map(|s| s.code()).unwrap_or_default(),
            },
            rpc!(directory.list_channels),
        )
        .await?
        .channels;
    ctl.out.show(
        || json!({ "channels": channels.iter().map(json::channel).collect::<Vec<_>>() }),
        || {
            if channels.is_empty() {
                return "No channels.".into();
            }
            let mut table = Table::new(&[
                "ID",
                "STATUS",
                "PROPOSED BY",
                "PARTNER",
                "CATEGORIES",
                "UPDATED",
            ]);
            for c in &channels {
                table.row(vec![
                    c.id.as_str().into(),
                    Cell::styled(
                        friendly::<pb::ChannelStatus>(c.status),
                        channel_style(c.status),
                    ),
                    code(&c.proposing_agency).into(),
                    code(&c.partner_agency).into(),
                    categories(c).into(),
                    ctl.out.relative(time(c.updated_at.as_ref())).into(),
                ]);
            }
            ctl.out.table(&table)
        },
    )
}

fn code(agency: &Option<pb::Agency>) -> String {
    agency.as_ref().map(|a| a.code.clone()).unwrap_or_default()
}

fn categories(c: &pb::Channel) -> String {
    if c.category_codes.is_empty() {
        return c
            .categories
            .iter()
            .map(|v| friendly::<pb::Category>(*v))
            .collect::<Vec<_>>()
            .join(",");
    }
    c.category_codes
        .iter()
        .map(|code| code.to_ascii_lowercase().replace('_', "-"))
        .collect::<Vec<_>>()
        .join(",")
}

fn channel_style(status: i32) -> Option<Style> {
    match pb::ChannelStatus::try_from(status) {
        Ok(pb::ChannelStatus::Active) => Some(Style::Green),
        Ok(pb::ChannelStatus::Proposed) => Some(Style::Yellow),
        Ok(pb::ChannelStatus::Suspended) => Some(Style::Red),
        _ => None,
    }
}

fn term_style(status: i32) -> Option<Style> {
    match pb::TermStatus::try_from(status) {
        Ok(pb::TermStatus::Agreed) => Some(Style::Green),
        Ok(pb::TermStatus::Proposed) => Some(Style::Yellow),
        Ok(pb::TermStatus::Rejected | pb::TermStatus::Withdrawn | pb::TermStatus::Retired) => {
            Some(Style::Dim)
        }
        _ => None,
    }
}

/// One term, after a decision on it: what it is and where it stands now.
pub fn show_term(ctl: &Ctl, t: &pb::ChannelTerm) -> Result<(), CliError> {
    ctl.out.show(
        || json::channel_term(t),
        || {
            let mut fields = vec![
                ("Code", ctl.out.paint(&t.code, Style::Bold)),
                ("Kind", friendly::<pb::TermKind>(t.kind)),
                (
                    "Status",
                    ctl.out.paint(
                        &friendly::<pb::TermStatus>(t.status),
                        term_style(t.status).unwrap_or(Style::Bold),
                    ),
                ),
                ("Title", t.title.clone()),
            ];
            for (label, value) in [("Reference", &t.reference), ("Notes", &t.notes)] {
                if !value.is_empty() {
                    fields.push((label, value.clone()));
                }
            }
            fields.push(("Proposed", when(&ctl.out, time(t.proposed_at.as_ref()))));
            if !t.decided_by.is_empty() {
                fields.push(("Decided", when(&ctl.out, time(t.decided_at.as_ref()))));
            }
            if !t.decision_reason.is_empty() {
                fields.push(("Decision reason", t.decision_reason.clone()));
            }
            if !t.retired_by.is_empty() {
                fields.push(("Retired", when(&ctl.out, time(t.retired_at.as_ref()))));
                fields.push(("Retired because", t.retirement_reason.clone()));
            }
            if t.status == pb::TermStatus::Proposed as i32 {
                fields.push((
                    "Next",
                    format!(
                        "the other agency's admin approves it with `liaisonctl admin channel term approve {}`",
                        t.id
                    ),
                ));
            }
            fields.push(("ID", t.id.clone()));
            ctl.out.fields(&fields)
        },
    )
}

pub fn show_channel(ctl: &Ctl, c: &pb::Channel) -> Result<(), CliError> {
    ctl.out.show(
        || json::channel(c),
        || {
            let mut fields = vec![
                ("ID", c.id.clone()),
                (
                    "Status",
                    ctl.out.paint(
                        &friendly::<pb::ChannelStatus>(c.status),
                        channel_style(c.status).unwrap_or(Style::Bold),
                    ),
                ),
                ("Proposed by", code(&c.proposing_agency)),
                ("Partner", code(&c.partner_agency)),
                ("Categories", categories(c)),
                ("Created", when(&ctl.out, time(c.created_at.as_ref()))),
                ("Updated", when(&ctl.out, time(c.updated_at.as_ref()))),
            ];
            if !c.suspended_by_agency_id.is_empty() {
                let by = [&c.proposing_agency, &c.partner_agency]
                    .into_iter()
                    .flatten()
                    .find(|a| a.id == c.suspended_by_agency_id)
                    .map_or(c.suspended_by_agency_id.clone(), |a| a.code.clone());
                fields.push(("Suspended by", by));
            }
            fields.push(("Etag", c.etag.clone()));
            ctl.out.fields(&fields)
        },
    )
}
