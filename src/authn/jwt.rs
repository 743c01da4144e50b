//! Access tokens: EdDSA (Ed25519) JWTs with a `kid`, `typ` `at+jwt`, and `iss`, `aud`, `sub`, `exp`,
//! `nbf` all required. The algorithm is pinned; the key is looked up by `kid` in our own map only.
//! Expiry is checked against the injected clock, not the system's.

use std::collections::HashMap;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::model::Timestamp;
use crate::error::{AppError, AppResult};

const TOKEN_TYPE: &str = "at+jwt";
const LEEWAY_SECONDS: i64 = 5;

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

pub struct TokenKeys {
    kid: String,
    signing: SigningKey,
    verifying: HashMap<String, ed25519_dalek::VerifyingKey>,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    issuer: String,
    audience: String,
    ttl: chrono::Duration,
    /// A secret derived from the signing key, for MACs on page tokens.
    page_token_secret: [u8; 32],
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Reads the PKCS#8 PEM key at `path`, or generates one there (mode 0600) when the file is absent.
pub fn load_or_generate_key(path: &Path) -> AppResult<SigningKey> {
    match std::fs::read_to_string(path) {
        Ok(pem) => SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            AppError::internal(format!(
                "signing key {} is not an Ed25519 PKCS#8 PEM: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed)
                .map_err(|e| AppError::internal(format!("no randomness for a signing key: {e}")))?;
            let key = SigningKey::from_bytes(&seed);
            let pem = key
                .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                .map_err(|e| AppError::internal(format!("cannot encode signing key: {e}")))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    AppError::internal(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            write_private(path, pem.as_bytes())?;
            tracing::info!(path = %path.display(), "generated a new token-signing key");
            // Read back what is there: a concurrent start may have written its key first.
            load_or_generate_key(path)
        }
        Err(e) => Err(AppError::internal(format!(
            "cannot read signing key {}: {e}",
            path.display()
        ))),
    }
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
    pub fn new(
        key: &SigningKey,
        issuer: String,
        audience: String,
        ttl: std::time::Duration,
    ) -> AppResult<Self> {
        let public = key.verifying_key().to_bytes();
        let kid = hex::encode(&Sha256::digest(public)[..8]);
        let der = key
            .to_pkcs8_der()
            .map_err(|e| AppError::internal(format!("cannot encode signing key: {e}")))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let decoding = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(public))
            .map_err(|e| AppError::internal(format!("cannot build verifying key: {e}")))?;
        let mut secret = Sha256::new();
        secret.update(b"liaison page-token secret v1\0");
        secret.update(key.to_bytes());
        Ok(TokenKeys {
            signing: key.clone(),
            verifying: HashMap::from([(kid.clone(), key.verifying_key())]),
            kid: kid.clone(),
            encoding,
            decoding: HashMap::from([(kid, decoding)]),
            issuer,
            audience,
            ttl: chrono::Duration::from_std(ttl)
                .map_err(|e| AppError::internal(format!("token lifetime out of range: {e}")))?,
            page_token_secret: secret.finalize().into(),
        })
    }

    /// The id of the key new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        &self.kid
    }

    /// Signs `message` with the current key: the key id and the signature, hex.
    pub fn sign(&self, message: &[u8]) -> (String, String) {
        use ed25519_dalek::Signer;
        (
            self.kid.clone(),
            hex::encode(self.signing.sign(message).to_bytes()),
        )
    }

    /// Whether `signature` (hex) is a valid signature of `message` by the key `kid`.
    pub fn verify_signature(&self, kid: &str, message: &[u8], signature: &str) -> bool {
        let Some(key) = self.verifying.get(kid) else {
            return false;
        };
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify_strict(message, &signature).is_ok()
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
        header.kid = Some(self.kid.clone());
        header.typ = Some(TOKEN_TYPE.to_string());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| AppError::internal(format!("cannot sign token: {e}")))?;
        Ok((token, expires_at))
    }

    /// The claims of a valid access token; `Unauthenticated` for anything else.
    pub fn verify(&self, token: &str, now: Timestamp) -> AppResult<Claims> {
        const INVALID: AppError = AppError::Unauthenticated("invalid or expired access token");
        let header = jsonwebtoken::decode_header(token).map_err(|_| INVALID)?;
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(INVALID);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or(INVALID)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        // Time is checked below against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|_| INVALID)?
            .claims;
        let now = now.timestamp();
        if claims.nbf > now + LEEWAY_SECONDS || claims.exp <= now - LEEWAY_SECONDS {
            return Err(INVALID);
        }
        Ok(claims)
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
