//! The rules of markings, pure: what a provider may set on a case or a note, and which changes
//! relax them. Who the provider is, authorization decides (see [`crate::authz::CaseAction::Mark`]
//! and [`crate::authz::may_mark_note`]); this only knows the codes.

use crate::error::{AppError, AppResult};
use crate::model::{Handling, InformationAccuracy, Markings, SourceReliability};

/// Markings as a request states them: each code may be left unspecified, to take the default of
/// what is marked (H0 and X4 for a case; the case's handling and X4 for a note).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkingsRequest {
    pub handling: Option<Handling>,
    /// Checked to be present exactly when `handling` is H3.
    pub handling_conditions: Option<String>,
    pub source_reliability: Option<SourceReliability>,
    pub information_accuracy: Option<InformationAccuracy>,
}

impl MarkingsRequest {
    /// The markings meant, with what was left unspecified taken from `defaults`.
    pub fn or(self, defaults: &Markings) -> Markings {
        let (handling, handling_conditions) = match self.handling {
            Some(handling) => (handling, self.handling_conditions),
            None => (defaults.handling, defaults.handling_conditions.clone()),
        };
        Markings {
            handling,
            handling_conditions,
            source_reliability: self
                .source_reliability
                .unwrap_or(defaults.source_reliability),
            information_accuracy: self
                .information_accuracy
                .unwrap_or(defaults.information_accuracy),
        }
    }
}

/// What a new note carries when its author leaves a code unspecified: its case's handling, and
/// no judgement of source or accuracy.
pub fn note_defaults(case: &Markings) -> Markings {
    Markings {
        handling: case.handling,
        handling_conditions: case.handling_conditions.clone(),
        ..Markings::default()
    }
}

/// A note may be marked as strict as its case or stricter, never laxer.
pub fn check_note_under_case(note: &Markings, case: &Markings) -> AppResult<()> {
    if note.handling < case.handling {
        return Err(AppError::invalid(
            "markings.handling",
            format!(
                "{} is laxer than the case's {}: a note may be marked as strict as its case or \
                 stricter, never laxer",
                note.handling, case.handling
            ),
        ));
    }
    Ok(())
}

/// Checks a change of markings from `old` to `new`: it must change something, and a relaxation
/// must say why. Answers whether it relaxes.
pub fn check_change(old: &Markings, new: &Markings, reason: Option<&str>) -> AppResult<bool> {
    if old == new {
        return Err(AppError::FailedPrecondition(
            "the markings are already these; nothing to change".into(),
        ));
    }
    let relaxes = new.is_laxer_than(old);
    if relaxes && reason.is_none() {
        return Err(AppError::invalid(
            "reason",
            format!(
                "is required to relax the handling from {} to {}",
                old.handling, new.handling
            ),
        ));
    }
    Ok(relaxes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(handling: Handling, conditions: Option<&str>) -> Markings {
        Markings {
            handling,
            handling_conditions: conditions.map(str::to_string),
            ..Markings::default()
        }
    }

    #[test]
    fn a_note_may_be_stricter_than_its_case_never_laxer() {
        let case = marked(Handling::H2, None);
        assert!(check_note_under_case(&marked(Handling::H2, None), &case).is_ok());
        assert!(check_note_under_case(&marked(Handling::H3, Some("x")), &case).is_ok());
        let laxer = check_note_under_case(&marked(Handling::H1, None), &case);
        assert!(
            matches!(laxer, Err(AppError::InvalidArgument(v)) if v[0].field == "markings.handling")
        );
    }

    #[test]
    fn unspecified_codes_take_the_defaults_of_what_is_marked() {
        let case = marked(Handling::H3, Some("only for the Vancouver task force"));
        let note = MarkingsRequest {
            source_reliability: Some(SourceReliability::B),
            ..MarkingsRequest::default()
        }
        .or(&note_defaults(&case));
        assert_eq!(note.handling, Handling::H3);
        assert_eq!(note.handling_conditions, case.handling_conditions);
        assert_eq!(note.source_reliability, SourceReliability::B);
        assert_eq!(
            note.information_accuracy,
            InformationAccuracy::CannotBeJudged
        );
        assert_eq!(
            MarkingsRequest::default().or(&Markings::default()),
            Markings::default()
        );
    }

    #[test]
    fn relaxing_needs_a_reason_and_tightening_does_not() {
        let h2 = marked(Handling::H2, None);
        let h1 = marked(Handling::H1, None);
        assert_eq!(check_change(&h1, &h2, None).ok(), Some(false));
        assert!(matches!(
            check_change(&h2, &h1, None),
            Err(AppError::InvalidArgument(_))
        ));
        assert_eq!(
            check_change(&h2, &h1, Some("cleared for court")).ok(),
            Some(true)
        );
        // Other H3 conditions cannot be ranked: the service treats the change as a relaxation.
        let a = marked(Handling::H3, Some("a"));
        let b = marked(Handling::H3, Some("b"));
        assert!(matches!(
            check_change(&a, &b, None),
            Err(AppError::InvalidArgument(_))
        ));
        assert!(matches!(
            check_change(&h2, &h2, None),
            Err(AppError::FailedPrecondition(_))
        ));
        // Grading alone is neither: it needs no reason.
        let graded = Markings {
            source_reliability: SourceReliability::A,
            ..h2.clone()
        };
        assert_eq!(check_change(&h2, &graded, None).ok(), Some(false));
    }

    #[test]
    fn a_stricter_case_holds_over_its_laxer_notes() {
        let note = marked(Handling::H1, None);
        let case = marked(Handling::H3, Some("c"));
        assert_eq!(note.in_force_under(&case).handling, Handling::H3);
        assert_eq!(
            note.in_force_under(&case).handling_conditions.as_deref(),
            Some("c")
        );
        assert_eq!(note.in_force_under(&marked(Handling::H0, None)), note);
    }
}
