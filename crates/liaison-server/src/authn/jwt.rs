//! Access tokens: EdDSA (Ed25519) JWTs with a `kid`, `typ` `at+jwt`, and `iss`, `aud`, `sub`, `exp`,
//! `nbf` all required. The algorithm is pinned; the key is looked up by `kid` in our own set only.
//! Expiry is checked against the injected clock, not the system's.
//!
//! The keys live in a key directory, one PKCS#8 PEM file per key, named by the microsecond it was
//! made. The newest signs; an older key still verifies tokens until every token it signed has
//! expired (the next key's age plus the token lifetime), then it retires. Every key, retired or not,
//! still verifies the audit checkpoints it signed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::from_micros;
use crate::error::{AppError, AppResult};
use crate::model::Timestamp;

const TOKEN_TYPE: &str = "at+jwt";
const LEEWAY_SECONDS: i64 = 5;
/// How long a replica may take to pick up a new key (its reload period): an old key keeps
/// verifying this much longer, for tokens signed by replicas that had not reloaded yet.
pub const KEY_PICKUP_SECONDS: i64 = 30;
const INVALID: AppError = AppError::Unauthenticated("invalid or expired access token");

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// The session the token belongs to: revoking it ends the token at once.
    pub sid: String,
}

/// One key of the set.
struct KeyEntry {
    kid: String,
    created: Timestamp,
    signing: SigningKey,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// HMAC-SHA256 keyed for audit entry MACs (a key derived from the signing key), ready to clone.
    entry_mac: Hmac<Sha256>,
}

/// A public key as JWKS publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kid: String,
    /// Base64url of the raw Ed25519 public key.
    pub x: String,
    pub created: Timestamp,
    /// When it stops verifying tokens; `None` while it is the signing key.
    pub retires: Option<Timestamp>,
}

/// The signing and verifying keys at one moment, oldest first; the last one signs.
pub struct TokenKeys {
    entries: Vec<KeyEntry>,
    issuer: String,
    audience: String,
    ttl: chrono::Duration,
    /// A secret derived from the oldest key (stable across rotations), for MACs on page tokens.
    page_token_secret: [u8; 32],
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.entries.iter().map(|e| e.kid.as_str()).collect();
        f.debug_struct("TokenKeys")
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

fn kid_of(key: &SigningKey) -> String {
    hex::encode(&Sha256::digest(key.verifying_key().to_bytes())[..8])
}

fn entry(created: Timestamp, key: SigningKey) -> AppResult<KeyEntry> {
    let public = key.verifying_key().to_bytes();
    let der = key
        .to_pkcs8_der()
        .map_err(|e| AppError::internal(format!("cannot encode signing key: {e}")))?;
    Ok(KeyEntry {
        kid: kid_of(&key),
        created,
        encoding: EncodingKey::from_ed_der(der.as_bytes()),
        decoding: DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(public))
            .map_err(|e| AppError::internal(format!("cannot build verifying key: {e}")))?,
        entry_mac: entry_mac_key(&key)?,
        signing: key,
    })
}

/// The audit entry MAC key of a signing key: derived, so it lives (and rotates) with the signing
/// keys in the key directory and never in the database.
fn entry_mac_key(key: &SigningKey) -> AppResult<Hmac<Sha256>> {
    let derived = Sha256::new()
        .chain_update(b"liaison audit-entry mac v1\0")
        .chain_update(key.to_bytes())
        .finalize();
    <Hmac<Sha256> as Mac>::new_from_slice(&derived).map_err(AppError::internal)
}

fn generate_key() -> AppResult<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| AppError::internal(format!("no randomness for a signing key: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Every key in `dir`, oldest first, with the time it was made (from its file name).
pub fn load_keys(dir: &Path) -> AppResult<Vec<(Timestamp, SigningKey)>> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(AppError::internal(format!(
                "cannot read {}: {e}",
                dir.display()
            )))
        }
    };
    let mut keys = Vec::new();
    for file in listing {
        let path = file
            .map_err(|e| AppError::internal(format!("cannot read {}: {e}", dir.display())))?
            .path();
        let Some(micros) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".pem"))
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| AppError::internal(format!("cannot read {}: {e}", path.display())))?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            AppError::internal(format!(
                "{} is not an Ed25519 PKCS#8 PEM: {e}",
                path.display()
            ))
        })?;
        keys.push((from_micros(micros), key));
    }
    keys.sort_by_key(|(created, _)| *created);
    Ok(keys)
}

/// Adds a new signing key to `dir` (mode 0600); it signs from the next reload on. Its id.
pub fn add_key(dir: &Path, now: Timestamp) -> AppResult<String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::internal(format!("cannot create {}: {e}", dir.display())))?;
    let key = generate_key()?;
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| AppError::internal(format!("cannot encode signing key: {e}")))?;
    write_private(
        &dir.join(format!("{:020}.pem", now.timestamp_micros())),
        pem.as_bytes(),
    )?;
    Ok(kid_of(&key))
}

/// Writes a new private file at `path` without ever exposing a partial one: the bytes go to a
/// temporary file (mode 0600) that is then linked into place. When another process won the race,
/// its key is the one that counts.
fn write_private(path: &Path, bytes: &[u8]) -> AppResult<()> {
    use std::io::Write;
    let fail = |what: &str, e: std::io::Error| {
        AppError::internal(format!("cannot {what} {}: {e}", path.display()))
    };
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .map_err(|e| fail("create a temporary file beside", e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| fail("write", e))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(fail("create", e)),
    }
}

impl TokenKeys {
    /// A set of one key.
    pub fn new(
        key: &SigningKey,
        issuer: String,
        audience: String,
        ttl: std::time::Duration,
    ) -> AppResult<Self> {
        TokenKeys::with_keys(vec![(from_micros(0), key.clone())], issuer, audience, ttl)
    }

    /// A set of keys, oldest first; the last one signs.
    pub fn with_keys(
        keys: Vec<(Timestamp, SigningKey)>,
        issuer: String,
        audience: String,
        ttl: std::time::Duration,
    ) -> AppResult<Self> {
        let entries = keys
            .into_iter()
            .map(|(created, key)| entry(created, key))
            .collect::<AppResult<Vec<_>>>()?;
        let oldest = entries
            .first()
            .ok_or_else(|| AppError::internal("no signing key"))?;
        let mut secret = Sha256::new();
        secret.update(b"liaison page-token secret v1\0");
        secret.update(oldest.signing.to_bytes());
        Ok(TokenKeys {
            page_token_secret: secret.finalize().into(),
            entries,
            issuer,
            audience,
            ttl: chrono::Duration::from_std(ttl)
                .map_err(|e| AppError::internal(format!("token lifetime out of range: {e}")))?,
        })
    }

    fn active(&self) -> &KeyEntry {
        // `with_keys` refuses an empty set.
        &self.entries[self.entries.len() - 1]
    }

    /// When the key at `index` stops verifying tokens: once every token it signed has expired.
    fn retires(&self, index: usize) -> Option<Timestamp> {
        self.entries
            .get(index + 1)
            .map(|next| next.created + self.ttl + chrono::Duration::seconds(LEEWAY_SECONDS))
    }

    /// The id of the key new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        &self.active().kid
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.entries.iter().any(|e| e.kid == kid)
    }

    /// The public keys that still verify tokens at `now`, for JWKS.
    pub fn public_keys(&self, now: Timestamp) -> Vec<Jwk> {
        (0..self.entries.len())
            .filter(|i| self.retires(*i).is_none_or(|at| now < at))
            .map(|i| self.describe(i))
            .collect()
    }

    /// Every key, retired ones too.
    pub fn all_keys(&self) -> Vec<Jwk> {
        (0..self.entries.len()).map(|i| self.describe(i)).collect()
    }

    fn describe(&self, i: usize) -> Jwk {
        let e = &self.entries[i];
        Jwk {
            kid: e.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(e.signing.verifying_key().to_bytes()),
            created: e.created,
            retires: self.retires(i),
        }
    }

    /// Signs `message` with the current key: the key id and the signature, hex.
    pub fn sign(&self, message: &[u8]) -> (String, String) {
        use ed25519_dalek::Signer;
        let active = self.active();
        (
            active.kid.clone(),
            hex::encode(active.signing.sign(message).to_bytes()),
        )
    }

    /// Whether `signature` (hex) is a valid signature of `message` by the key `kid`, retired or not.
    pub fn verify_signature(&self, kid: &str, message: &[u8], signature: &str) -> bool {
        let Some(entry) = self.entries.iter().find(|e| e.kid == kid) else {
            return false;
        };
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        entry
            .signing
            .verifying_key()
            .verify_strict(message, &signature)
            .is_ok()
    }

    pub fn page_token_secret(&self) -> &[u8; 32] {
        &self.page_token_secret
    }

    /// A new access token for `user_id` in session `session_id`, and when it expires.
    pub fn issue(
        &self,
        user_id: &str,
        session_id: &str,
        now: Timestamp,
    ) -> AppResult<(String, Timestamp)> {
        let active = self.active();
        let expires_at = now + self.ttl;
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            exp: expires_at.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: uuid::Uuid::now_v7().to_string(),
            sid: session_id.to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(active.kid.clone());
        header.typ = Some(TOKEN_TYPE.to_string());
        let token = jsonwebtoken::encode(&header, &claims, &active.encoding)
            .map_err(|e| AppError::internal(format!("cannot sign token: {e}")))?;
        Ok((token, expires_at))
    }

    /// The `kid` a token names, if it has a readable header.
    pub fn kid_of_token(token: &str) -> Option<String> {
        jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid)
    }

    /// The claims of a valid access token; `Unauthenticated` for anything else.
    pub fn verify(&self, token: &str, now: Timestamp) -> AppResult<Claims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| INVALID)?;
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(INVALID);
        }
        let kid = header.kid.ok_or(INVALID)?;
        let index = self
            .entries
            .iter()
            .position(|e| e.kid == kid)
            .ok_or(INVALID)?;
        if self.retires(index).is_some_and(|at| now >= at) {
            return Err(INVALID);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        // Time is checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let claims =
            jsonwebtoken::decode::<Claims>(token, &self.entries[index].decoding, &validation)
                .map_err(|_| INVALID)?
                .claims;
        let now = now.timestamp();
        if claims.nbf > now + LEEWAY_SECONDS || claims.exp <= now - LEEWAY_SECONDS {
            return Err(INVALID);
        }
        Ok(claims)
    }
}

impl crate::chain::Signer for TokenKeys {
    fn sign(&self, message: &[u8]) -> (String, String) {
        TokenKeys::sign(self, message)
    }

    fn verify_signature(&self, kid: &str, message: &[u8], signature: &str) -> bool {
        TokenKeys::verify_signature(self, kid, message, signature)
    }

    fn entry_mac(&self, hash: &str) -> String {
        let active = self.active();
        let tag = active
            .entry_mac
            .clone()
            .chain_update(hash.as_bytes())
            .finalize();
        format!("{}:{}", active.kid, hex::encode(tag.into_bytes()))
    }

    fn entry_mac_is_valid(&self, hash: &str, mac: &str) -> bool {
        let Some((kid, tag)) = mac.split_once(':') else {
            return false;
        };
        let Some(entry) = self.entries.iter().find(|e| e.kid == kid) else {
            return false;
        };
        let Ok(tag) = hex::decode(tag) else {
            return false;
        };
        entry
            .entry_mac
            .clone()
            .chain_update(hash.as_bytes())
            .verify_slice(&tag)
            .is_ok()
    }
}

/// The key directory, loaded, and reloaded when it changes: on a timer, and at once when a token
/// names a key this process has not seen (another replica rotated).
pub struct Keyring {
    dir: PathBuf,
    issuer: String,
    audience: String,
    ttl: std::time::Duration,
    current: RwLock<Arc<TokenKeys>>,
    last_forced_reload: Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Opens the key directory, making the first key when there is none.
    pub fn open(
        dir: PathBuf,
        issuer: String,
        audience: String,
        ttl: std::time::Duration,
        now: Timestamp,
    ) -> AppResult<Keyring> {
        if load_keys(&dir)?.is_empty() {
            add_key(&dir, now)?;
            tracing::info!(dir = %dir.display(), "generated the first token-signing key");
        }
        let keys = TokenKeys::with_keys(load_keys(&dir)?, issuer.clone(), audience.clone(), ttl)?;
        Ok(Keyring {
            dir,
            issuer,
            audience,
            ttl,
            current: RwLock::new(Arc::new(keys)),
            last_forced_reload: Mutex::new(None),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The keys as last loaded.
    pub fn current(&self) -> Arc<TokenKeys> {
        match self.current.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the key directory again.
    pub fn reload(&self) -> AppResult<()> {
        let keys = TokenKeys::with_keys(
            load_keys(&self.dir)?,
            self.issuer.clone(),
            self.audience.clone(),
            self.ttl,
        )?;
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
        Ok(())
    }

    /// Verifies an access token; a token from a key this process has not loaded yet triggers one
    /// reload (at most one a second, so garbage cannot make it read the disk in a loop).
    pub fn verify(&self, token: &str, now: Timestamp) -> AppResult<Claims> {
        let keys = self.current();
        let unknown = TokenKeys::kid_of_token(token).is_some_and(|kid| !keys.has_kid(&kid));
        if unknown && self.may_force_reload() {
            if let Err(e) = self.reload() {
                tracing::warn!(error = %e, "could not reload the signing keys");
            }
            return self.current().verify(token, now);
        }
        keys.verify(token, now)
    }

    fn may_force_reload(&self) -> bool {
        let Ok(mut last) = self.last_forced_reload.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < std::time::Duration::from_secs(1)) {
            return false;
        }
        *last = Some(now);
        true
    }

    pub fn issue(
        &self,
        user_id: &str,
        session_id: &str,
        now: Timestamp,
    ) -> AppResult<(String, Timestamp)> {
        self.current().issue(user_id, session_id, now)
    }

    pub fn page_token_secret(&self) -> [u8; 32] {
        *self.current().page_token_secret()
    }

    pub fn current_kid(&self) -> String {
        self.current().current_kid().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        TokenKeys::new(
            &key,
            "liaison".into(),
            "liaison".into(),
            std::time::Duration::from_secs(900),
        )
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn now() -> Timestamp {
        crate::clock::from_micros(1_800_000_000_000_000)
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() -> AppResult<()> {
        let keys = keys();
        let (token, expires) = keys.issue("user-1", "s", now())?;
        assert_eq!(keys.verify(&token, now())?.sub, "user-1");
        assert!(keys
            .verify(&token, expires + chrono::Duration::seconds(10))
            .is_err());
        assert!(
            keys.verify(&token, now() - chrono::Duration::seconds(60))
                .is_err(),
            "nbf"
        );
        Ok(())
    }

    #[test]
    fn tokens_of_another_key_or_issuer_are_refused() -> AppResult<()> {
        let other = TokenKeys::new(
            &SigningKey::from_bytes(&[8u8; 32]),
            "liaison".into(),
            "liaison".into(),
            std::time::Duration::from_secs(900),
        )?;
        let (token, _) = other.issue("user-1", "s", now())?;
        assert!(keys().verify(&token, now()).is_err());

        let other_issuer = TokenKeys::new(
            &SigningKey::from_bytes(&[7u8; 32]),
            "someone-else".into(),
            "liaison".into(),
            std::time::Duration::from_secs(900),
        )?;
        let (token, _) = other_issuer.issue("user-1", "s", now())?;
        assert!(keys().verify(&token, now()).is_err());
        Ok(())
    }

    #[test]
    fn an_old_key_verifies_until_its_tokens_expired_then_retires() -> AppResult<()> {
        let ttl = std::time::Duration::from_secs(900);
        let old = SigningKey::from_bytes(&[1u8; 32]);
        let new = SigningKey::from_bytes(&[2u8; 32]);
        let before = TokenKeys::with_keys(
            vec![(now(), old.clone())],
            "liaison".into(),
            "liaison".into(),
            ttl,
        )?;
        let (old_token, _) = before.issue("u", "s", now())?;
        let rotated_at = now() + chrono::Duration::minutes(1);
        let after = TokenKeys::with_keys(
            vec![(now(), old), (rotated_at, new)],
            "liaison".into(),
            "liaison".into(),
            ttl,
        )?;
        assert_ne!(after.current_kid(), before.current_kid());
        let (new_token, _) = after.issue("u", "s", rotated_at)?;
        assert!(after.verify(&new_token, rotated_at).is_ok());
        assert!(after
            .verify(&old_token, rotated_at + chrono::Duration::minutes(10))
            .is_ok());
        assert_eq!(after.public_keys(rotated_at).len(), 2);
        let retired = rotated_at + chrono::Duration::minutes(16);
        assert_eq!(after.public_keys(retired).len(), 1);
        // Signatures of the retired key (audit checkpoints) still verify.
        let (kid, signature) = before.sign(b"checkpoint");
        assert!(after.verify_signature(&kid, b"checkpoint", &signature));
        // The page-token secret does not change with a rotation.
        assert_eq!(before.page_token_secret(), after.page_token_secret());
        Ok(())
    }

    #[test]
    fn unsigned_and_tampered_tokens_are_refused() -> AppResult<()> {
        let keys = keys();
        let (token, _) = keys.issue("user-1", "s", now())?;
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        assert!(keys
            .verify(&format!("{none_header}.{}.", parts[1]), now())
            .is_err());
        let forged_claims = URL_SAFE_NO_PAD.encode(
            format!(r#"{{"iss":"liaison","aud":"liaison","sub":"admin","exp":{},"nbf":0,"iat":0,"jti":"x","sid":"s"}}"#, i64::MAX / 2),
        );
        assert!(keys
            .verify(&format!("{}.{forged_claims}.{}", parts[0], parts[2]), now())
            .is_err());
        Ok(())
    }
}
