//! The numbered items of a request, as pure functions: each is answered, partly answered or
//! refused on a listed ground, and the case closes only when every item has its answer.

use crate::error::{AppError, AppResult};
use crate::model::{Case, CaseStatus, ItemAnswer, ItemOutcome, RefusalGround, RequestItem};

/// An answer to one item, as the receiving side gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub number: i32,
    pub outcome: ItemOutcome,
    pub text: String,
    pub ground: Option<RefusalGround>,
}

/// The items of a new request, numbered from 1 in the order given.
pub fn numbered(texts: Vec<String>) -> Vec<RequestItem> {
    texts
        .into_iter()
        .zip(1..)
        .map(|(text, number)| RequestItem {
            number,
            text,
            answer: None,
        })
        .collect()
}

/// The numbers of the items still without an answer.
pub fn unanswered(case: &Case) -> Vec<i32> {
    case.items
        .iter()
        .filter(|i| i.answer.is_none())
        .map(|i| i.number)
        .collect()
}

/// Refuses to close a case while an item has no answer.
pub fn check_all_answered(case: &Case) -> AppResult<()> {
    let open = unanswered(case);
    if open.is_empty() {
        return Ok(());
    }
    let numbers: Vec<String> = open.iter().map(i32::to_string).collect();
    Err(AppError::FailedPrecondition(format!(
        "item{} {} of the request {} no answer: answer, partly answer or refuse each \
         (AnswerRequestItem) before closing",
        if open.len() == 1 { "" } else { "s" },
        numbers.join(", "),
        if open.len() == 1 { "has" } else { "have" },
    )))
}

/// The case with item `number` answered. The case must be acknowledged and open.
pub fn answer(case: &Case, number: i32, answer: ItemAnswer) -> AppResult<Case> {
    use CaseStatus::*;
    if !matches!(case.status, Acknowledged | InProgress | AwaitingInfo) {
        return Err(AppError::FailedPrecondition(format!(
            "a case that is {} takes no answers: items are answered once it is acknowledged and \
             until it closes",
            case.status
        )));
    }
    if case.items.is_empty() {
        return Err(AppError::FailedPrecondition(
            "the request has no numbered items: close it with its resolution".into(),
        ));
    }
    let mut next = case.clone();
    let count = next.items.len();
    let item = next
        .items
        .iter_mut()
        .find(|i| i.number == number)
        .ok_or_else(|| {
            AppError::invalid(
                "number",
                format!("names no item: the request has items 1 to {count}"),
            )
        })?;
    if item.answer.as_ref().is_some_and(|given| {
        given.outcome == answer.outcome
            && given.text == answer.text
            && given.ground == answer.ground
    }) {
        return Err(AppError::FailedPrecondition(format!(
            "item {number} already has this answer"
        )));
    }
    item.answer = Some(answer);
    next.updated_at = item.answer.as_ref().map_or(next.updated_at, |a| a.at);
    next.version = case.version + 1;
    Ok(next)
}

/// What the outcomes come to, for the CLOSED event: "items: 1 answered, 2 refused (NOT_AVAILABLE)".
pub fn summary(case: &Case) -> Option<String> {
    if case.items.is_empty() {
        return None;
    }
    let parts: Vec<String> = case
        .items
        .iter()
        .map(|i| match &i.answer {
            None => format!("{} unanswered", i.number),
            Some(a) => match (a.outcome, a.ground) {
                (ItemOutcome::Refused, Some(ground)) => format!("{} refused ({ground})", i.number),
                (outcome, _) => format!(
                    "{} {}",
                    i.number,
                    outcome.as_str().to_ascii_lowercase().replace('_', " ")
                ),
            },
        })
        .collect();
    Some(format!("items: {}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures;

    fn request(status: CaseStatus) -> Case {
        Case {
            status,
            items: numbered(vec![
                "subscriber of +1 604 555 0100".into(),
                "waybill 1234".into(),
            ]),
            ..fixtures::case("IN", "CA", "filer")
        }
    }

    fn given(outcome: ItemOutcome, ground: Option<RefusalGround>) -> ItemAnswer {
        ItemAnswer {
            outcome,
            text: "done".into(),
            ground,
            by: "worker".into(),
            at: crate::clock::from_micros(9),
        }
    }

    #[test]
    fn items_are_numbered_in_order_and_each_must_be_answered() {
        let case = request(CaseStatus::InProgress);
        assert_eq!(
            case.items.iter().map(|i| i.number).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(check_all_answered(&case).is_err());
        let case = answer(
            &case,
            2,
            given(ItemOutcome::Refused, Some(RefusalGround::NotAvailable)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unanswered(&case), [1]);
        let err = check_all_answered(&case).unwrap_err();
        assert!(
            err.to_string()
                .contains("item 1 of the request has no answer"),
            "{err}"
        );
        let case =
            answer(&case, 1, given(ItemOutcome::Answered, None)).unwrap_or_else(|e| panic!("{e}"));
        assert!(check_all_answered(&case).is_ok());
        assert_eq!(
            summary(&case).as_deref(),
            Some("items: 1 answered, 2 refused (NOT_AVAILABLE)")
        );
        assert_eq!(case.version, request(CaseStatus::InProgress).version + 2);
    }

    #[test]
    fn answers_need_an_open_acknowledged_case_and_a_real_item() {
        for status in [CaseStatus::Filed, CaseStatus::Closed, CaseStatus::Declined] {
            assert!(matches!(
                answer(&request(status), 1, given(ItemOutcome::Answered, None)),
                Err(AppError::FailedPrecondition(_))
            ));
        }
        assert!(matches!(
            answer(&request(CaseStatus::InProgress), 3, given(ItemOutcome::Answered, None)),
            Err(AppError::InvalidArgument(v)) if v[0].field == "number"
        ));
        let once = answer(
            &request(CaseStatus::InProgress),
            1,
            given(ItemOutcome::Answered, None),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            answer(&once, 1, given(ItemOutcome::Answered, None)),
            Err(AppError::FailedPrecondition(_))
        ));
        assert!(answer(&once, 1, given(ItemOutcome::PartlyAnswered, None)).is_ok());
        // A case without items has nothing to answer, and closes as before.
        let plain = Case {
            status: CaseStatus::InProgress,
            ..fixtures::case("IN", "CA", "filer")
        };
        assert!(check_all_answered(&plain).is_ok());
        assert!(summary(&plain).is_none());
    }
}
