//! `liaisonctl stats`: the work plan's figures for a channel, as a table, JSON or CSV.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use liaison_proto as pb;
use serde_json::{json, Value};

use crate::connection::Ctl;
use crate::error::CliError;
use crate::json::{timestamp, ts};
use crate::names::{friendly, proto_name};
use crate::output::{Output, Table};

/// Which referrals, and at which checkpoint.
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    pub at_checkpoint: Option<i64>,
}

pub async fn run(
    ctl: &mut Ctl,
    channel: Option<String>,
    period: Period,
    csv: Option<PathBuf>,
) -> Result<(), CliError> {
    let Period {
        from,
        to,
        at_checkpoint,
    } = period;
    let channel_id = match channel {
        Some(id) => id,
        None => super::cases::only_active_channel(ctl).await?,
    };
    let stats = ctl
        .call(
            pb::GetChannelStatsRequest {
                channel_id,
                period_start: Some(timestamp(from)),
                period_end: Some(timestamp(to.unwrap_or_else(Utc::now))),
                checkpoint_seq: at_checkpoint.unwrap_or_default(),
            },
            rpc!(stats.get_channel_stats),
        )
        .await?;
    if let Some(path) = &csv {
        std::fs::write(path, to_csv(&stats))
            .map_err(|e| CliError::Other(format!("cannot write {}: {e}", path.display())))?;
    }
    ctl.out
        .show(|| to_json(&stats), || to_table(&ctl.out, &stats))
}

/// Seconds, or nothing.
fn seconds(d: Option<&prost_types::Duration>) -> Option<i64> {
    d.map(|d| d.seconds)
}

/// A span in a table: "3 h 05 min", "2 d 4 h"; "—" for none.
fn span(d: Option<&prost_types::Duration>) -> String {
    let Some(d) = d else {
        return "—".into();
    };
    let minutes = d.seconds / 60;
    match (minutes / 1440, minutes / 60 % 24, minutes % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m:02} min"),
        (days, h, _) => format!("{days} d {h} h"),
    }
}

fn label(r: &pb::StatsRow) -> (String, String) {
    if r.category_code.is_empty() {
        ("all".into(), "all".into())
    } else {
        (
            r.category_code.to_ascii_lowercase().replace('_', "-"),
            friendly::<pb::RequestKind>(r.kind),
        )
    }
}

fn rows(stats: &pb::ChannelStats) -> impl Iterator<Item = &pb::StatsRow> {
    stats.rows.iter().chain(stats.total.as_ref())
}

fn row_json(r: &pb::StatsRow) -> Value {
    json!({
        "category_code": r.category_code,
        "kind": proto_name::<pb::RequestKind>(r.kind),
        "received": r.received,
        "acknowledged": r.acknowledged,
        "answered": r.answered,
        "declined": r.declined,
        "withdrawn": r.withdrawn,
        "declined_by_ground": r.declined_by_ground.iter().map(|g| json!({
            "ground": proto_name::<pb::RefusalGround>(g.ground),
            "count": g.count,
        })).collect::<Vec<_>>(),
        "acknowledge_median_seconds": seconds(r.acknowledge_median.as_ref()),
        "acknowledge_p90_seconds": seconds(r.acknowledge_p90.as_ref()),
        "answer_median_seconds": seconds(r.answer_median.as_ref()),
        "answer_p90_seconds": seconds(r.answer_p90.as_ref()),
        "acknowledge_met": r.acknowledge_met,
        "acknowledge_breached": r.acknowledge_breached,
        "answer_met": r.answer_met,
        "answer_breached": r.answer_breached,
        "extensions_by_reason": r.extensions_by_reason.iter().map(|e| json!({
            "reason": proto_name::<pb::ExtensionReason>(e.reason),
            "count": e.count,
        })).collect::<Vec<_>>(),
    })
}

fn to_json(stats: &pb::ChannelStats) -> Value {
    json!({
        "channel_id": stats.channel_id,
        "period_start": ts(stats.period_start.as_ref()),
        "period_end": ts(stats.period_end.as_ref()),
        "checkpoint": {
            "sequence": stats.checkpoint_seq,
            "hash": stats.checkpoint_hash,
            "time": ts(stats.checkpoint_time.as_ref()),
        },
        "rows": stats.rows.iter().map(row_json).collect::<Vec<_>>(),
        "total": stats.total.as_ref().map(row_json),
    })
}

fn to_table(out: &Output, stats: &pb::ChannelStats) -> String {
    let mut table = Table::new(&[
        "CATEGORY",
        "KIND",
        "RECEIVED",
        "ACK",
        "ANSWERED",
        "DECLINED",
        "WITHDRAWN",
        "ACK MEDIAN",
        "ACK P90",
        "ANSWER MEDIAN",
        "ANSWER P90",
        "ACK MET/LATE",
        "ANSWER MET/LATE",
        "EXTENSIONS",
    ]);
    for r in rows(stats) {
        let (category, kind) = label(r);
        let extensions: i64 = r.extensions_by_reason.iter().map(|e| e.count).sum();
        table.row(vec![
            category.into(),
            kind.into(),
            r.received.to_string().into(),
            r.acknowledged.to_string().into(),
            r.answered.to_string().into(),
            r.declined.to_string().into(),
            r.withdrawn.to_string().into(),
            span(r.acknowledge_median.as_ref()).into(),
            span(r.acknowledge_p90.as_ref()).into(),
            span(r.answer_median.as_ref()).into(),
            span(r.answer_p90.as_ref()).into(),
            format!("{}/{}", r.acknowledge_met, r.acknowledge_breached).into(),
            format!("{}/{}", r.answer_met, r.answer_breached).into(),
            extensions.to_string().into(),
        ]);
    }
    let checkpoint = if stats.checkpoint_seq == 0 {
        "no signed checkpoint yet: nothing counts".to_string()
    } else {
        format!(
            "computed at checkpoint {} ({}…, {}): the other side gets the same figures from it",
            stats.checkpoint_seq,
            stats
                .checkpoint_hash
                .get(..16)
                .unwrap_or(&stats.checkpoint_hash),
            ts(stats.checkpoint_time.as_ref())
                .as_str()
                .unwrap_or_default()
        )
    };
    format!("{}{checkpoint}", out.table(&table))
}

/// One line a row, with a header; the durations in seconds, the refusals by ground in columns.
fn to_csv(stats: &pb::ChannelStats) -> String {
    let grounds: Vec<i32> = (1..=8).collect();
    let reasons: Vec<i32> = (1..=4).collect();
    let mut header = vec![
        "category_code",
        "kind",
        "received",
        "acknowledged",
        "answered",
        "declined",
        "withdrawn",
        "acknowledge_median_seconds",
        "acknowledge_p90_seconds",
        "answer_median_seconds",
        "answer_p90_seconds",
        "acknowledge_met",
        "acknowledge_breached",
        "answer_met",
        "answer_breached",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    header.extend(grounds.iter().map(|g| {
        format!(
            "declined_{}",
            friendly::<pb::RefusalGround>(*g).replace('-', "_")
        )
    }));
    header.extend(reasons.iter().map(|r| {
        format!(
            "extended_{}",
            friendly::<pb::ExtensionReason>(*r).replace('-', "_")
        )
    }));
    let mut out = header.join(",");
    out.push('\n');
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows(stats) {
        let mut cells = vec![
            r.category_code.clone(),
            if r.category_code.is_empty() {
                String::new()
            } else {
                friendly::<pb::RequestKind>(r.kind)
            },
            r.received.to_string(),
            r.acknowledged.to_string(),
            r.answered.to_string(),
            r.declined.to_string(),
            r.withdrawn.to_string(),
            opt(seconds(r.acknowledge_median.as_ref())),
            opt(seconds(r.acknowledge_p90.as_ref())),
            opt(seconds(r.answer_median.as_ref())),
            opt(seconds(r.answer_p90.as_ref())),
            r.acknowledge_met.to_string(),
            r.acknowledge_breached.to_string(),
            r.answer_met.to_string(),
            r.answer_breached.to_string(),
        ];
        cells.extend(grounds.iter().map(|g| {
            r.declined_by_ground
                .iter()
                .find(|c| c.ground == *g)
                .map_or(0, |c| c.count)
                .to_string()
        }));
        cells.extend(reasons.iter().map(|reason| {
            r.extensions_by_reason
                .iter()
                .find(|c| c.reason == *reason)
                .map_or(0, |c| c.count)
                .to_string()
        }));
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}
