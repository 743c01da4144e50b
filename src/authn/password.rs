//! Password hashing: argon2id with the OWASP minimum (m=19 MiB, t=2, p=1), off the async runtime and
//! bounded in how many run at once. Unknown usernames are verified against a dummy hash, so they
//! cost the same as wrong passwords.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

fn hash_now(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("password hashing failed: {e}")))
}

fn verify_now(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
    /// How many verifications ran, known user or not: what makes the cost visible to tests.
    verifications: Arc<std::sync::atomic::AtomicU64>,
}

impl Passwords {
    pub fn new(max_concurrent: usize) -> AppResult<Self> {
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: hash_now("liaison dummy password for unknown users")?.into(),
            verifications: Arc::default(),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::internal("password hasher closed"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::internal(format!("password task failed: {e}")))
    }

    /// How many password verifications have run (one per sign-in attempt, known user or not).
    pub fn verifications(&self) -> u64 {
        self.verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.blocking(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `hash`; with no hash (unknown user), spends the same time and
    /// answers false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let matches = self.blocking(move || verify_now(&password, &hash)).await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() -> AppResult<()> {
        let passwords = Passwords::new(2)?;
        let hash = passwords.hash("correct horse battery".into()).await?;
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            passwords
                .verify("correct horse battery".into(), Some(hash.clone()))
                .await?
        );
        assert!(
            !passwords
                .verify("wrong horse battery".into(), Some(hash))
                .await?
        );
        assert!(!passwords.verify("anything at all".into(), None).await?);
        Ok(())
    }
}
