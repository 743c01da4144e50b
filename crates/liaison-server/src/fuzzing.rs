//! Entry points for the fuzz targets in `fuzz/` (cargo fuzz, nightly) and for the property test that
//! drives the same code with arbitrary bytes on stable. Each takes untrusted bytes and must never
//! panic, whatever they are.

use prost::Message;

use crate::domain::audit_log::AuditFilter;
use crate::domain::cases::{CaseListing, NewReferral};
use crate::domain::paging;
use crate::domain::users::NewUser;
use crate::pb;
use crate::repo::cases::CaseCursor;

/// Decodes bytes as a page token for a fixed query, then checks a token of our own round-trips.
pub fn page_token(data: &[u8]) {
    let secret = [7u8; 32];
    let binding = paging::binding(&["fuzz", "query"]);
    let token = String::from_utf8_lossy(data);
    let _ = paging::decode::<CaseCursor>(&secret, &binding, &token);
    let _ = paging::decode::<i64>(&secret, &binding, &token);
    let cursor = CaseCursor {
        key: data.len() as i64,
        id: token.chars().take(40).collect(),
    };
    if let Ok(ours) = paging::encode(&secret, &binding, &cursor) {
        let _ = paging::decode::<CaseCursor>(&secret, &binding, &ours);
    }
}

/// Decodes bytes as one of the validated request messages (the first byte picks which) and runs
/// its validation.
pub fn request(data: &[u8]) {
    let Some((kind, body)) = data.split_first() else {
        return;
    };
    match kind % 5 {
        0 => {
            if let Ok(m) = pb::FileReferralRequest::decode(body) {
                let _ = NewReferral::try_from(&m);
            }
        }
        1 => {
            if let Ok(m) = pb::ListCasesRequest::decode(body) {
                let _ = CaseListing::try_from(&m);
            }
        }
        2 => {
            if let Ok(m) = pb::QueryAuditLogRequest::decode(body) {
                let _ = AuditFilter::try_from(&m);
            }
        }
        3 => {
            if let Ok(m) = pb::CreateUserRequest::decode(body) {
                let _ = NewUser::try_from(&m);
            }
        }
        _ => {
            if let Ok(m) = pb::ExportAuditLogRequest::decode(body) {
                let _ = AuditFilter::try_from(&m);
            }
        }
    }
}
