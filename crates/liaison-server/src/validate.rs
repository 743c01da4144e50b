//! Input rules shared by the gRPC handlers and the operator commands. A [`Violations`] collects
//! every bad field of a request, so the caller hears about all of them at once.

use crate::authn::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::error::{AppError, AppResult, FieldViolation};
use crate::limits::{MAX_ID_CHARS, MIN_USERNAME_CHARS};

#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Violations::default()
    }

    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Keeps `result`'s value, or records its error against `field` (and returns a default that
    /// [`Violations::finish`] will never let through).
    pub fn check<T: Default>(&mut self, field: &str, result: Result<T, String>) -> T {
        match result {
            Ok(v) => v,
            Err(description) => {
                self.add(field, description);
                T::default()
            }
        }
    }

    /// How many violations were recorded so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::InvalidArgument(self.0))
        }
    }
}

/// One field checked on its own.
pub fn field<T>(name: &str, result: Result<T, String>) -> AppResult<T> {
    result.map_err(|description| AppError::invalid(name, description))
}

/// A value [`Violations::finish`] has already vouched for.
pub fn checked<T>(value: Option<T>) -> AppResult<T> {
    value.ok_or_else(|| AppError::internal("a validated field is missing"))
}

/// Text of `min..=max` characters with no control characters (tabs and newlines only when
/// `multiline`).
pub fn text(value: &str, min: usize, max: usize, multiline: bool) -> Result<String, String> {
    let chars = value.chars().count();
    if value.trim().is_empty() && min > 0 {
        return Err("must not be empty".into());
    }
    if chars < min || chars > max {
        return Err(format!("must be {min} to {max} characters (got {chars})"));
    }
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if !value.chars().all(allowed) {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_string())
}

/// A UUID, returned in its canonical lower-case hyphenated form.
pub fn uuid(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("must be set".into());
    }
    uuid::Uuid::parse_str(value)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| "must be a UUID".into())
}

/// A user as people name them: their id (a UUID) or their username.
pub fn user_key(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("must be set".into());
    }
    if let Ok(id) = uuid::Uuid::parse_str(value) {
        return Ok(id.hyphenated().to_string());
    }
    username(&value.trim().to_ascii_lowercase())
        .map_err(|_| "must be a user id (a UUID) or a username".to_string())
}

/// A case as people name it: its id (a UUID) or its reference (`IN-CA-DRUGS-2026-000042`, in any
/// letter case), as officers read it to each other on the phone.
pub fn case_key(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("must be set".into());
    }
    if let Ok(id) = uuid::Uuid::parse_str(value) {
        return Ok(id.hyphenated().to_string());
    }
    let reference = value.trim().to_ascii_uppercase();
    if is_case_reference(&reference) {
        Ok(reference)
    } else {
        Err("must be a case id (a UUID) or a case reference such as IN-CA-DRUGS-2026-000042".into())
    }
}

/// Whether `value` has the shape of a case reference: two country codes, a category, a year and
/// a number of at least six digits, joined by hyphens, upper case.
pub fn is_case_reference(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let letters = |s: &str, len: Option<usize>| {
        !s.is_empty()
            && len.is_none_or(|n| s.len() == n)
            && s.bytes().all(|b| b.is_ascii_uppercase())
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    value.len() <= 64
        && parts.len() == 5
        && letters(parts[0], Some(2))
        && letters(parts[1], Some(2))
        && !parts[2].is_empty()
        && parts[2]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_')
        && parts[3].len() == 4
        && digits(parts[3])
        && parts[4].len() >= 6
        && digits(parts[4])
}

/// Like [`uuid`], but empty means "not given".
pub fn optional_uuid(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        Ok(None)
    } else {
        uuid(value).map(Some)
    }
}

pub fn username(value: &str) -> Result<String, String> {
    let ok_chars = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !(MIN_USERNAME_CHARS..=MAX_ID_CHARS).contains(&value.len()) || !ok_chars {
        return Err(format!(
            "must be {MIN_USERNAME_CHARS} to {MAX_ID_CHARS} characters of a-z, 0-9, '.', '_' and '-'"
        ));
    }
    Ok(value.to_string())
}

/// The fewest guesses (as a power of ten) a new password must need, by zxcvbn's estimate.
const MIN_PASSWORD_GUESSES_LOG10: f64 = 10.0;

/// A password as counted: NFKC-normalised (so a character typed two ways counts once), with runs
/// of white space as one space and none at either end (so padding does not count).
fn normalised_password(value: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    value
        .nfkc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new password, as OWASP ASVS 5.0 §6.2 asks: at least 12 characters after normalisation, up
/// to 256 (any character, spaces included, and no rules of composition), and not a commonly used
/// or breached password or one made of the account's own names. The check runs offline against
/// the 30,000 most common passwords zxcvbn ships (with words, names, keyboard walks, repeats,
/// dates and substitutions): a password it would find in fewer than 10^10 guesses (its top
/// score) is refused, which a passphrase of three or four words passes. `context` holds the
/// account's words (username, display name). The password is stored (hashed) as given.
pub fn password(value: &str, context: &[&str]) -> Result<String, String> {
    if value.chars().count() > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    let counted = normalised_password(value);
    if counted.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "must be at least {MIN_PASSWORD_CHARS} characters, not counting repeated or surrounding \
             spaces; a few words make a password easy to remember and hard to guess"
        ));
    }
    let mut words: Vec<&str> = vec!["liaison", "liaisonctl", "liaisond"];
    words.extend(
        context
            .iter()
            .flat_map(|w| w.split(['.', '_', '-', ' ', '@'])),
    );
    words.retain(|w| w.chars().count() >= 3);
    if zxcvbn::zxcvbn(&counted, &words).guesses_log10() < MIN_PASSWORD_GUESSES_LOG10 {
        return Err(
            "is too easy to guess: it is, or is built from, a commonly used or breached password, \
             a keyboard pattern, a repeat or the account's own names; add uncommon words"
                .into(),
        );
    }
    Ok(value.to_string())
}

pub fn agency_code(value: &str) -> Result<String, String> {
    let ok_chars = value
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
    if !(2..=32).contains(&value.len())
        || !ok_chars
        || value.starts_with('-')
        || value.ends_with('-')
    {
        return Err("must be 2 to 32 characters of A-Z, 0-9 and '-' (like IN-NCB)".into());
    }
    Ok(value.to_string())
}

/// The code of a term of a channel's register: what people cite (CA-IN-MLAT, BUDAPEST_29).
pub fn term_code(value: &str) -> Result<String, String> {
    let ok_chars = value
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !(2..=32).contains(&value.len()) || !ok_chars || !first_ok {
        return Err(
            "must be 2 to 32 characters of A-Z, 0-9, '_' and '-', beginning with a letter or a \
             digit (like CA-IN-MLAT)"
                .into(),
        );
    }
    Ok(value.to_string())
}

pub fn country(value: &str) -> Result<String, String> {
    if value.len() == 2 && value.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(value.to_string())
    } else {
        Err("must be an ISO 3166-1 alpha-2 code in upper case (like IN or CA)".into())
    }
}

/// An IANA time zone, as the tz database names it (Asia/Kolkata, America/Vancouver, UTC).
pub fn time_zone(value: &str) -> Result<String, String> {
    value
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            "must be an IANA time zone, such as Asia/Kolkata, America/Vancouver or UTC".into()
        })
}

/// The most holidays an agency lists.
pub const MAX_HOLIDAYS: usize = 400;

/// Dates as YYYY-MM-DD, in order, each once.
pub fn holidays(values: &[String]) -> Result<Vec<chrono::NaiveDate>, String> {
    if values.len() > MAX_HOLIDAYS {
        return Err(format!("must be at most {MAX_HOLIDAYS} dates"));
    }
    let mut dates = values
        .iter()
        .map(|v| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| format!("{v:?} is not a date: use YYYY-MM-DD (like 2026-12-25)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    dates.sort();
    dates.dedup();
    Ok(dates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(time_zone("Asia/Kolkata").unwrap(), "Asia/Kolkata");
        assert_eq!(time_zone("UTC").unwrap(), "UTC");
        assert!(time_zone("IST").is_err());
        assert!(time_zone("Mars/Olympus").is_err());
        assert!(time_zone("").is_err());
        let days = holidays(&[
            "2026-12-25".into(),
            "2026-01-26".into(),
            "2026-12-25".into(),
        ]);
        assert_eq!(days.unwrap().len(), 2);
        assert!(holidays(&["25/12/2026".into()]).is_err());
    }

    #[test]
    fn a_case_is_named_by_its_id_or_its_reference() {
        let id = "0190f3a2-7c1e-7d3a-9b1a-3c5e7a9b1c2d";
        assert_eq!(case_key(id).unwrap(), id);
        assert_eq!(
            case_key(&id.to_uppercase()).unwrap(),
            id,
            "ids are stored lower case"
        );
        assert_eq!(
            case_key("in-ca-drugs-2026-000042").unwrap(),
            "IN-CA-DRUGS-2026-000042"
        );
        assert!(case_key("IN-CA-ORGANISED_CRIME-2026-000001").is_ok());
        for bad in [
            "",
            "nope",
            "IN-CA-DRUGS-2026-42",
            "IN-CAN-DRUGS-2026-000042",
            "IN-CA-DRUGS-26-000042",
            "IN-CA--2026-000042",
        ] {
            assert!(case_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_bounds_count_characters_not_bytes() {
        assert!(text("é", 1, 1, false).is_ok());
        assert!(text("", 1, 10, false).is_err());
        assert!(text("   ", 1, 10, false).is_err());
        assert!(text("abc", 1, 2, false).is_err());
        assert!(text("a\nb", 1, 10, false).is_err());
        assert!(text("a\nb", 1, 10, true).is_ok());
        assert!(text("a\u{0}b", 1, 10, true).is_err());
    }

    #[test]
    fn identifiers_follow_their_shapes() {
        assert!(username("priya.sharma").is_ok());
        assert!(username("Priya").is_err());
        assert!(username("ab").is_err());
        assert!(agency_code("IN-NCB").is_ok());
        assert!(agency_code("in-ncb").is_err());
        assert!(agency_code("-IN").is_err());
        assert!(term_code("CA-IN-MLAT").is_ok());
        assert!(term_code("BUDAPEST_29").is_ok());
        assert!(term_code("mlat").is_err());
        assert!(term_code("-MLAT").is_err());
        assert!(term_code("M").is_err());
        assert!(term_code(&"M".repeat(33)).is_err());
        assert!(country("CA").is_ok());
        assert!(country("CAN").is_err());
        assert_eq!(
            uuid("0191D3F0-0000-7000-8000-000000000001").ok().as_deref(),
            Some("0191d3f0-0000-7000-8000-000000000001")
        );
        assert!(uuid("nope").is_err());
    }

    #[test]
    fn passwords_follow_asvs() {
        let refused = |p: &str, context: &[&str]| password(p, context).expect_err(p);
        assert!(refused("short", &[]).contains("at least 12"));
        // Padding and repeated spaces do not count; the twelve spaces the old rule let in.
        assert!(refused("            ", &[]).contains("at least 12"));
        assert!(refused("  ab    cd  ", &[]).contains("at least 12"));
        // Common, breached, patterned or the account's own.
        for weak in [
            "password1234",
            "Password1234!",
            "Summer2026!!",
            "qwertyuiopasdf",
            "aaaaaaaaaaaaaaaa",
            "trustno1trustno1",
        ] {
            assert!(refused(weak, &[]).contains("too easy to guess"), "{weak}");
        }
        assert!(password("rajeshkumar2026", &[]).is_ok());
        assert!(
            refused("rajeshkumar2026", &["rajesh.kumar", "Rajesh Kumar"])
                .contains("too easy to guess")
        );
        // No composition rules: lower-case words and spaces are a good password; any character
        // is allowed, up to 256 of them.
        assert!(password("correct horse battery staple", &[]).is_ok());
        assert!(password("झील के किनारे सुबह की धूप", &[]).is_ok());
        assert!(password(&"plum kettle ".repeat(21), &[]).is_ok());
        assert!(refused(&"x".repeat(257), &[]).contains("at most 256"));
        // Stored as given: normalisation is only for counting.
        assert_eq!(
            password("  correct horse battery staple ", &[]).unwrap(),
            "  correct horse battery staple "
        );
    }

    #[test]
    fn violations_collect_every_field() {
        let mut v = Violations::new();
        v.check("a", text("", 1, 2, false));
        v.check("b", uuid("x"));
        match v.finish() {
            Err(AppError::InvalidArgument(list)) => assert_eq!(list.len(), 2),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }
}
