//! The service's identifiers, one type per kind of record, so that a user's id cannot be passed
//! where a case's is expected (or an agency's compared with a user's). Each wraps the id's text
//! (a UUID, or whatever an older row holds) and converts to and from it only on the way in and out:
//! in `repo` (rows) and `api` (messages). A leaf: it knows nothing of the records themselves.
//! An id reads as its text (`Deref<Target = str>`), so it goes into queries and logs as it is; two
//! ids of different kinds never compare, and a field or parameter of one kind takes no other.

use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new id: a UUIDv7, ordered by creation time.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name(text.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        /// Reads as its text wherever text is wanted (a query parameter, a log field); the type
        /// still keeps ids of different kinds apart.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An agency of either country.
    AgencyId
);
id_type!(
    /// A user of an agency.
    UserId
);
id_type!(
    /// An agreed liaison channel between two agencies.
    ChannelId
);
id_type!(
    /// A term of a channel's register (a legal basis).
    TermId
);
id_type!(
    /// A referral case.
    CaseId
);
id_type!(
    /// A case move proposed for a second supervisor's approval.
    MoveId
);
id_type!(
    /// A note on a case.
    NoteId
);
id_type!(
    /// An event of a case's timeline.
    EventId
);
id_type!(
    /// A signed-in session (what an access token's `sid` names).
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_text_on_the_wire_and_in_json() {
        let id = CaseId::from("0193a8f0-0000-7000-8000-000000000001");
        assert_eq!(id.to_string(), "0193a8f0-0000-7000-8000-000000000001");
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"0193a8f0-0000-7000-8000-000000000001\""
        );
        assert_eq!(id, "0193a8f0-0000-7000-8000-000000000001");
        assert!(CaseId::generate() < CaseId::generate() || cfg!(miri));
    }
}
