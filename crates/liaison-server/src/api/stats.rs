//! `liaison.v1.StatsService`.

use tonic::{Request, Response, Status};

use super::{convert, Api};
use crate::domain::stats::{self, Figures, Period, Row, MAX_PERIOD};
use crate::model::ChannelId;
use crate::pb::{self, stats_service_server::StatsService};
use crate::validate::{self, checked, Violations};

fn row(r: Row) -> pb::StatsRow {
    let quantile = |times: &[chrono::Duration], q| Row::quantile(times, q).map(convert::duration);
    pb::StatsRow {
        category_code: r.category.map(|c| c.to_string()).unwrap_or_default(),
        kind: r.kind.map_or(0, |k| k.code().into()),
        received: r.received,
        acknowledged: r.acknowledged,
        answered: r.answered,
        declined: r.declined,
        withdrawn: r.withdrawn,
        declined_by_ground: r
            .declined_by_ground
            .into_iter()
            .map(|(ground, count)| pb::GroundCount {
                ground: ground.into(),
                count,
            })
            .collect(),
        acknowledge_median: quantile(&r.acknowledge_times, 0.5),
        acknowledge_p90: quantile(&r.acknowledge_times, 0.9),
        answer_median: quantile(&r.answer_times, 0.5),
        answer_p90: quantile(&r.answer_times, 0.9),
        acknowledge_met: r.acknowledge_met,
        acknowledge_breached: r.acknowledge_breached,
        answer_met: r.answer_met,
        answer_breached: r.answer_breached,
        extensions_by_reason: r
            .extensions_by_reason
            .into_iter()
            .map(|(reason, count)| pb::ExtensionCount {
                reason: reason.into(),
                count,
            })
            .collect(),
    }
}

fn figures(f: Figures) -> pb::ChannelStats {
    let checkpoint = f.checkpoint.as_ref();
    pb::ChannelStats {
        channel_id: f.channel_id.into(),
        period_start: Some(convert::timestamp(f.period.start)),
        period_end: Some(convert::timestamp(f.period.end)),
        checkpoint_seq: checkpoint.map_or(0, |c| c.seq),
        checkpoint_hash: checkpoint.map(|c| c.hash.clone()).unwrap_or_default(),
        checkpoint_time: checkpoint.map(|c| convert::timestamp(c.at)),
        rows: f.rows.into_iter().map(row).collect(),
        total: Some(row(f.total)),
    }
}

#[tonic::async_trait]
impl StatsService for Api {
    #[tracing::instrument(skip_all)]
    async fn get_channel_stats(
        &self,
        request: Request<pb::GetChannelStatsRequest>,
    ) -> Result<Response<pb::ChannelStats>, Status> {
        let started = self.begin(request, "StatsService/GetChannelStats").await;
        let result = async {
            let reader = &started.stats_reader()?;
            let m = &started.message;
            started.call.concerns("channel", &m.channel_id);
            let mut v = Violations::new();
            let channel_id = v.check("channel_id", validate::uuid(&m.channel_id));
            for (field, t) in [
                ("period_start", &m.period_start),
                ("period_end", &m.period_end),
            ] {
                if t.is_none() {
                    v.add(field, "must be set");
                }
            }
            let start = convert::from_timestamp(&mut v, "period_start", m.period_start);
            let end = convert::from_timestamp(&mut v, "period_end", m.period_end);
            if let (Some(start), Some(end)) = (start, end) {
                if end <= start {
                    v.add(
                        "period_end",
                        "must be after period_start: the period is empty or reversed",
                    );
                } else if end - start > MAX_PERIOD {
                    v.add("period_end", "must be at most 366 days after period_start");
                }
            }
            if m.checkpoint_seq < 0 {
                v.add("checkpoint_seq", "must not be negative");
            }
            v.finish()?;
            let period = Period {
                start: checked(start)?,
                end: checked(end)?,
            };
            let answer = stats::channel_stats(
                &self.state,
                &started.call,
                reader,
                &ChannelId::from(channel_id.as_str()),
                period,
                (m.checkpoint_seq > 0).then_some(m.checkpoint_seq),
            )
            .await?;
            Ok(figures(answer))
        }
        .await;
        self.finish(started, result).await
    }
}
