//! Page tokens: opaque, MAC-signed, and bound to the caller and the exact query they were issued
//! for, so a token cannot be forged or replayed against another query to widen what a caller sees.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

type HmacSha256 = Hmac<Sha256>;

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 500;
const MAX_TOKEN_CHARS: usize = 1024;

#[derive(Serialize, Deserialize)]
struct Payload<C> {
    /// Hash of the caller and query the token belongs to.
    q: String,
    c: C,
}

/// A digest of everything a page token is bound to.
pub fn binding(parts: &[&str]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    hex::encode(&digest.finalize()[..16])
}

fn mac(secret: &[u8; 32], payload: &[u8]) -> AppResult<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret).map_err(AppError::internal)?;
    mac.update(payload);
    Ok(mac)
}

pub fn encode<C: Serialize>(secret: &[u8; 32], binding: &str, cursor: &C) -> AppResult<String> {
    let payload = serde_json::to_vec(&Payload {
        q: binding.to_string(),
        c: cursor,
    })
    .map_err(AppError::internal)?;
    let tag = mac(secret, &payload)?.finalize().into_bytes();
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

pub fn decode<C: DeserializeOwned>(secret: &[u8; 32], binding: &str, token: &str) -> AppResult<C> {
    let invalid = || AppError::invalid("page_token", "is not a page token issued for this query");
    if token.len() > MAX_TOKEN_CHARS {
        return Err(invalid());
    }
    let (payload, tag) = token.split_once('.').ok_or_else(invalid)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
    mac(secret, &payload)?
        .verify_slice(&tag)
        .map_err(|_| invalid())?;
    let payload: Payload<C> = serde_json::from_slice(&payload).map_err(|_| invalid())?;
    if payload.q != binding {
        return Err(invalid());
    }
    Ok(payload.c)
}

/// Cuts `items` (fetched with one extra to learn whether more follow) to `page_size`, and makes
/// the next page's token from the last item kept; `None` on the last page.
pub fn page<T, C: Serialize>(
    secret: &[u8; 32],
    binding: &str,
    mut items: Vec<T>,
    page_size: u64,
    cursor_of: impl Fn(&T) -> C,
) -> AppResult<(Vec<T>, Option<String>)> {
    if items.len() as u64 <= page_size {
        return Ok((items, None));
    }
    items.truncate(page_size as usize);
    let next = match items.last() {
        Some(last) => Some(encode(secret, binding, &cursor_of(last))?),
        None => None,
    };
    Ok((items, next))
}

/// The page size asked for, defaulted and checked.
pub fn page_size(requested: i32) -> AppResult<u64> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 || n as u64 > MAX_PAGE_SIZE => Err(AppError::invalid(
            "page_size",
            format!("must be between 1 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"),
        )),
        n => Ok(n as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [3; 32];

    #[test]
    fn tokens_round_trip_for_their_own_query_only() -> AppResult<()> {
        let token = encode(&SECRET, &binding(&["alice", "INCOMING"]), &42i64)?;
        assert_eq!(
            decode::<i64>(&SECRET, &binding(&["alice", "INCOMING"]), &token)?,
            42
        );
        assert!(decode::<i64>(&SECRET, &binding(&["bob", "INCOMING"]), &token).is_err());
        assert!(decode::<i64>(&SECRET, &binding(&["alice", "OUTGOING"]), &token).is_err());
        Ok(())
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() -> AppResult<()> {
        let q = binding(&["alice"]);
        let token = encode(&SECRET, &q, &42i64)?;
        let (_, tag) = token.split_once('.').unwrap_or_default();
        let forged_payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"q":"{q}","c":1}}"#));
        assert!(decode::<i64>(&SECRET, &q, &format!("{forged_payload}.{tag}")).is_err());
        assert!(decode::<i64>(&[4; 32], &q, &token).is_err());
        for garbage in ["", ".", "abc", "a.b.c", "%%%.%%%"] {
            assert!(decode::<i64>(&SECRET, &q, garbage).is_err());
        }
        Ok(())
    }

    #[test]
    fn a_page_keeps_its_size_and_points_past_its_last_item() -> AppResult<()> {
        let q = binding(&["alice"]);
        let (items, next) = page(&SECRET, &q, vec![1i64, 2, 3], 2, |n| *n)?;
        assert_eq!(items, [1, 2]);
        assert_eq!(decode::<i64>(&SECRET, &q, &next.unwrap_or_default())?, 2);
        let (items, next) = page(&SECRET, &q, vec![1i64, 2], 2, |n| *n)?;
        assert_eq!((items, next), (vec![1, 2], None));
        Ok(())
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(0).ok(), Some(50));
        assert_eq!(page_size(500).ok(), Some(500));
        assert!(page_size(501).is_err());
        assert!(page_size(-1).is_err());
    }
}
