//! The work plan's figures: computed from the case events both sides see, at a signed checkpoint,
//! for supervisors and analysts of either agency.

use chrono::Duration;
use liaison_server::clock::Clock;
use liaison_server::model::Role;
use liaison_server::pb;
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::common::{assert_code, Backend, Client, World};
use crate::on_both_databases;

on_both_databases!(figures_follow_the_events_both_sides_see);

fn ts(t: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

async fn stats(
    who: &Client,
    channel_id: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<pb::ChannelStats, tonic::Status> {
    at(who, channel_id, from, to, 0).await
}

async fn at(
    who: &Client,
    channel_id: &str,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    checkpoint_seq: i64,
) -> Result<pb::ChannelStats, tonic::Status> {
    who.stats()
        .get_channel_stats(pb::GetChannelStatsRequest {
            channel_id: channel_id.into(),
            period_start: ts(from),
            period_end: ts(to),
            checkpoint_seq,
        })
        .await
        .map(|r| r.into_inner())
}

fn hours(d: &Option<prost_types::Duration>) -> f64 {
    d.as_ref().expect("duration").seconds as f64 / 3600.0
}

/// The Canadian supervisor, signed in again (the clock moves past tokens' lives).
async fn sup(w: &World) -> Client {
    w.server.fresh(&w.sup_ca).await
}

async fn figures_follow_the_events_both_sides_see(backend: Backend) {
    let w = World::new(backend).await;
    let analyst = w
        .server
        .user("IN-NCB", "analyst.in", &[Role::Analyst])
        .await;
    let start = w.server.clock.now();

    // A: an urgent request acknowledged in an hour, paused three hours, extended, answered at 7 h.
    let a = w.file(&w.officer_in, "A", pb::Priority::Urgent).await;
    // B: a routine request declined at 2 h; C: information acknowledged at 30 min and closed;
    // D: an urgent request withdrawn at 1 h; E: an urgent request nobody acknowledges.
    let b = w.file(&w.officer_in, "B", pb::Priority::Routine).await;
    let mut spontaneous = w.referral("C", pb::Priority::Routine);
    spontaneous.kind = pb::RequestKind::Spontaneous as i32;
    let c = w
        .officer_in
        .cases()
        .file_referral(spontaneous)
        .await
        .unwrap()
        .into_inner();
    let d = w.file(&w.officer_in, "D", pb::Priority::Urgent).await;
    let e = w.file(&w.officer_in, "E", pb::Priority::Urgent).await;

    w.server.clock.advance(Duration::minutes(30));
    let c = sup(&w)
        .await
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: c.id,
            etag: c.etag,
        })
        .await
        .unwrap()
        .into_inner();
    let s = sup(&w).await;
    let c = s
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: c.id,
            assignee_id: w.officer_ca.user_id.clone(),
            etag: c.etag,
        })
        .await
        .unwrap()
        .into_inner();
    s.cases()
        .close_case(pb::CloseCaseRequest {
            id: c.id,
            resolution: pb::Resolution::Actioned as i32,
            etag: c.etag,
        })
        .await
        .unwrap();
    w.server.clock.advance(Duration::minutes(30));
    let s = sup(&w).await;
    let a = s
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: a.id,
            etag: a.etag,
        })
        .await
        .unwrap()
        .into_inner();
    let a = s
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: a.id,
            assignee_id: w.officer_ca.user_id.clone(),
            etag: a.etag,
        })
        .await
        .unwrap()
        .into_inner();
    w.server
        .fresh(&w.officer_in)
        .await
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: d.id,
            etag: d.etag,
            reason: String::new(),
        })
        .await
        .unwrap();
    w.server.clock.advance(Duration::hours(1));
    let s = sup(&w).await;
    s.cases()
        .decline_case(pb::DeclineCaseRequest {
            id: b.id,
            etag: b.etag,
            reason: "No record".into(),
            ground: pb::RefusalGround::NotAvailable as i32,
        })
        .await
        .unwrap();
    let a = s
        .cases()
        .request_information(pb::RequestInformationRequest {
            id: a.id,
            etag: a.etag,
            question: "Which courier?".into(),
        })
        .await
        .unwrap()
        .into_inner();
    w.server.clock.advance(Duration::hours(3));
    let a = w
        .server
        .fresh(&w.officer_in)
        .await
        .cases()
        .provide_information(pb::ProvideInformationRequest {
            id: a.id,
            etag: a.etag,
            answer: "DHL".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let due = a.response.as_ref().unwrap().due_at.unwrap().seconds;
    let s = sup(&w).await;
    let a = s
        .cases()
        .extend_deadline(pb::ExtendDeadlineRequest {
            id: a.id,
            etag: a.etag,
            due_at: Some(prost_types::Timestamp {
                seconds: due + 3600,
                nanos: 0,
            }),
            reason: pb::ExtensionReason::Volume as i32,
            text: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    // E's acknowledgement is late at 4 h.
    liaison_server::domain::cases::escalate_overdue(&w.server.state)
        .await
        .unwrap();
    w.server.clock.advance(Duration::hours(2));
    sup(&w)
        .await
        .cases()
        .close_case(pb::CloseCaseRequest {
            id: a.id,
            resolution: pb::Resolution::Actioned as i32,
            etag: a.etag,
        })
        .await
        .unwrap();
    // E's answer is late at 8 h; a case filed after the period does not count.
    w.server.clock.advance(Duration::hours(2));
    liaison_server::domain::deadlines::raise_alarms(&w.server.state)
        .await
        .unwrap();
    let end = w.server.clock.now();
    let officer_in = w.server.fresh(&w.officer_in).await;
    w.file(&officer_in, "later", pb::Priority::Urgent).await;
    w.server.sealed().await;

    let analyst = w.server.fresh(&analyst).await;
    let figures = stats(&analyst, &w.channel.id, start, end)
        .await
        .expect("an analyst reads the figures");
    assert!(figures.checkpoint_seq > 0 && !figures.checkpoint_hash.is_empty());
    let total = figures.total.clone().unwrap();
    assert_eq!(
        (
            total.received,
            total.acknowledged,
            total.answered,
            total.declined,
            total.withdrawn
        ),
        (5, 2, 1, 1, 1),
        "{total:#?}"
    );
    assert_eq!(
        total.declined_by_ground,
        vec![pb::GroundCount {
            ground: pb::RefusalGround::NotAvailable as i32,
            count: 1
        }]
    );
    // Acknowledged in 30 min (C) and 1 h (A): nearest-rank median 30 min, p90 1 h.
    assert_eq!(hours(&total.acknowledge_median), 0.5);
    assert_eq!(hours(&total.acknowledge_p90), 1.0);
    // A: 7 h from receipt to the answer, 3 of them awaiting information.
    assert_eq!(hours(&total.answer_median), 4.0);
    assert_eq!((total.acknowledge_met, total.acknowledge_breached), (2, 1));
    // A answered in time and B refused in time; E late.
    assert_eq!((total.answer_met, total.answer_breached), (2, 1));
    assert_eq!(
        total.extensions_by_reason,
        vec![pb::ExtensionCount {
            reason: pb::ExtensionReason::Volume as i32,
            count: 1
        }]
    );
    let kinds: Vec<(String, i32, i64)> = figures
        .rows
        .iter()
        .map(|r| (r.category_code.clone(), r.kind, r.received))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("DRUGS".into(), pb::RequestKind::Request as i32, 4),
            ("DRUGS".into(), pb::RequestKind::Spontaneous as i32, 1),
        ]
    );

    // Counted apart from the service, from the events sealed up to the checkpoint: the same.
    let db = w.server.raw_db().await;
    let count = |sql: String| {
        let db = &db;
        async move {
            let row = db
                .query_one(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    let of_period = format!(
        "FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.channel_id = '{}' \
         AND c.released_at >= {} AND c.released_at < {} AND e.seq <= {} \
         AND e.visible_to_agency_id IS NULL",
        w.channel.id,
        start.timestamp_micros(),
        end.timestamp_micros(),
        figures.checkpoint_seq
    );
    for (kind, figure) in [
        (pb::CaseEventKind::Filed, total.received),
        (pb::CaseEventKind::Acknowledged, total.acknowledged),
        (pb::CaseEventKind::Declined, total.declined),
        (pb::CaseEventKind::Withdrawn, total.withdrawn),
        (pb::CaseEventKind::Escalated, total.acknowledge_breached),
        (pb::CaseEventKind::Breached, 1),
    ] {
        let counted = count(format!(
            "SELECT CAST(COUNT(*) AS BIGINT) {of_period} AND e.kind = {}",
            kind as i32
        ))
        .await;
        assert_eq!(counted, figure, "{kind:?}");
    }

    // The other side reads the same figures; an officer reads none, an agency off the channel
    // learns nothing of it, and an analyst reads no case.
    // The other side, at the checkpoint the answer named, gets the same answer.
    let canada = at(
        &sup(&w).await,
        &w.channel.id,
        start,
        end,
        figures.checkpoint_seq,
    )
    .await
    .unwrap();
    assert_eq!(canada, figures);
    let refused = at(
        &analyst,
        &w.channel.id,
        start,
        end,
        figures.checkpoint_seq + 1_000_000,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("checkpoint_seq"));
    let officer = w.server.fresh(&w.officer_in).await;
    assert_eq!(
        stats(&officer, &w.channel.id, start, end)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let outsider = w.server.fresh(&w.sup_us).await;
    assert_eq!(
        stats(&outsider, &w.channel.id, start, end)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_code(
        analyst
            .cases()
            .get_case(pb::GetCaseRequest { id: e.id.clone() })
            .await,
        Code::PermissionDenied,
    );
    // An empty or reversed period, or one over a year, names the field.
    for (from, to) in [
        (end, end),
        (end, start),
        (start, start + Duration::days(400)),
    ] {
        let refused = stats(&analyst, &w.channel.id, from, to).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(
            refused.message().contains("period_end"),
            "{}",
            refused.message()
        );
    }
    w.stop().await;
}
