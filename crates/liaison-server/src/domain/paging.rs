//! Page tokens (and WatchCases resume tokens): sealed with an AEAD, so a caller can neither read nor
//! forge them, and bound to the caller and the exact query they were issued for (the binding is
//! the AEAD's associated data), so a token cannot be replayed against another query to widen what
//! a caller sees. A position in the case events or the audit log reveals nothing to its holder.
//!
//! A token is `v2.` + base64url(a random 192-bit nonce, then XChaCha20-Poly1305 over the cursor's
//! JSON). Tokens of the first format (readable JSON with an HMAC) are still accepted, so a client
//! holding one across the upgrade goes on where it was; no new one is issued.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload as Sealed};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

type HmacSha256 = Hmac<Sha256>;

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 500;
const MAX_TOKEN_CHARS: usize = 1024;

/// What a token of the first format carried, readable.
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
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).map_err(AppError::internal)?;
    mac.update(payload);
    Ok(mac)
}

/// The prefix of the sealed format.
const SEALED: &str = "v2.";
const NONCE_BYTES: usize = 24;

fn cipher(secret: &[u8; 32]) -> XChaCha20Poly1305 {
    // Its own key, derived from the secret: the legacy HMAC never shares a key with the AEAD.
    let key: [u8; 32] = Sha256::new()
        .chain_update(b"liaison page-token aead v2\0")
        .chain_update(secret)
        .finalize()
        .into();
    XChaCha20Poly1305::new(&key.into())
}

pub fn encode<C: Serialize>(secret: &[u8; 32], binding: &str, cursor: &C) -> AppResult<String> {
    let plaintext = serde_json::to_vec(cursor).map_err(AppError::internal)?;
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::getrandom(&mut nonce).map_err(AppError::internal)?;
    let sealed = cipher(secret)
        .encrypt(
            &XNonce::from(nonce),
            Sealed {
                msg: &plaintext,
                aad: binding.as_bytes(),
            },
        )
        .map_err(|_| AppError::internal("could not seal a page token"))?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    Ok(format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

pub fn decode<C: DeserializeOwned>(secret: &[u8; 32], binding: &str, token: &str) -> AppResult<C> {
    let invalid = || AppError::invalid("page_token", "is not a page token issued for this query");
    if token.len() > MAX_TOKEN_CHARS {
        return Err(invalid());
    }
    let Some(sealed) = token.strip_prefix(SEALED) else {
        return decode_signed(secret, binding, token).ok_or_else(invalid);
    };
    let bytes = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| invalid())?;
    if bytes.len() < NONCE_BYTES {
        return Err(invalid());
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| invalid())?;
    let plaintext = cipher(secret)
        .decrypt(
            &XNonce::from(nonce),
            Sealed {
                msg: ciphertext,
                aad: binding.as_bytes(),
            },
        )
        .map_err(|_| invalid())?;
    serde_json::from_slice(&plaintext).map_err(|_| invalid())
}

/// A token of the first, signed-only format: its cursor if the MAC and the binding check.
fn decode_signed<C: DeserializeOwned>(secret: &[u8; 32], binding: &str, token: &str) -> Option<C> {
    let (payload, tag) = token.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(secret, &payload).ok()?.verify_slice(&tag).ok()?;
    let payload: Payload<C> = serde_json::from_slice(&payload).ok()?;
    (payload.q == binding).then_some(payload.c)
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
    fn tokens_are_opaque_and_never_the_same_twice() -> AppResult<()> {
        #[derive(Serialize)]
        struct Position {
            seq: i64,
            id: &'static str,
        }
        let q = binding(&["alice"]);
        let at = Position {
            seq: 987_654_321,
            id: "internal-note-event",
        };
        let first = encode(&SECRET, &q, &at)?;
        let second = encode(&SECRET, &q, &at)?;
        assert_ne!(first, second, "a fresh nonce every time");
        for token in [&first, &second] {
            let bytes = URL_SAFE_NO_PAD
                .decode(token.trim_start_matches(SEALED))
                .map_err(AppError::internal)?;
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("987654321") && !text.contains("internal-note"));
            assert!(!token.contains("987654321") && !token.contains(&q));
        }
        Ok(())
    }

    #[test]
    fn a_sealed_token_changed_anywhere_is_refused() -> AppResult<()> {
        let q = binding(&["alice"]);
        let token = encode(&SECRET, &q, &42i64)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim_start_matches(SEALED))
            .map_err(AppError::internal)?;
        for at in [0, NONCE_BYTES, bytes.len() - 1] {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            let changed = format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(changed));
            assert!(decode::<i64>(&SECRET, &q, &changed).is_err(), "byte {at}");
        }
        assert!(decode::<i64>(
            &SECRET,
            &q,
            &format!("{SEALED}{}", URL_SAFE_NO_PAD.encode([1u8; 8]))
        )
        .is_err());
        Ok(())
    }

    #[test]
    fn tokens_of_the_signed_format_still_work_for_their_query() -> AppResult<()> {
        let q = binding(&["alice"]);
        let payload = serde_json::to_vec(&Payload {
            q: q.clone(),
            c: 42i64,
        })
        .map_err(AppError::internal)?;
        let tag = mac(&SECRET, &payload)?.finalize().into_bytes();
        let legacy = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        );
        assert_eq!(decode::<i64>(&SECRET, &q, &legacy)?, 42);
        assert!(decode::<i64>(&SECRET, &binding(&["bob"]), &legacy).is_err());
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
