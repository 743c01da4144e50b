//! How much a field may hold, named once. A leaf: requests are checked against these in `api` and
//! `validate`, and the audit log cuts what it records to them.

/// Display names, agency names and case titles, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// A case summary or a note, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// A reason, question or answer given with a lifecycle move, in characters.
pub const MAX_REASON_CHARS: usize = 2_000;
/// The short identifiers a client sends or echoes: usernames, etags, key ids, request ids (and, in
/// the audit log, any id a request named), in characters.
pub const MAX_ID_CHARS: usize = 64;
/// The shortest username, in characters.
pub const MIN_USERNAME_CHARS: usize = 3;
/// A SHA-256 digest written in hex.
pub const SHA256_HEX_CHARS: usize = 64;

/// How many numbered items a request may carry.
pub const MAX_REQUEST_ITEMS: usize = 50;
