//! Password hashing: argon2id with the OWASP minimum (m=19 MiB, t=2, p=1), off the async runtime on
//! a few threads of its own, so it never takes more than their share of the cores. Unknown usernames are verified against a dummy hash, so they
//! cost the same as wrong passwords.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{AppError, AppResult};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// The working memory of one hash: `params.block_count()` blocks of 1 KiB (19 MiB by default), in
/// an allocation larger than glibc's largest mmap threshold (32 MiB), so it is always a mapping of
/// its own and goes back to the system when dropped. A smaller one is kept by malloc and never
/// returned: resident memory grew by 19 MiB with each of the first sign-ins. Only the blocks
/// used are ever touched.
fn working_memory(params: &Params) -> Vec<Block> {
    const UNMAPPED_ON_FREE: usize = 33 * 1024;
    let mut blocks = Vec::with_capacity(params.block_count().max(UNMAPPED_ON_FREE));
    blocks.resize(params.block_count(), Block::default());
    blocks
}

/// The raw hash of `password` with `salt` under `hasher`, `len` bytes long.
fn raw_hash(
    hasher: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    len: usize,
) -> Result<Vec<u8>, argon2::Error> {
    let mut out = vec![0u8; len];
    hasher.hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        working_memory(params),
    )?;
    Ok(out)
}

fn hash_now(password: &str) -> AppResult<String> {
    let failed =
        |e: &dyn std::fmt::Display| AppError::internal(format!("password hashing failed: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let params = Params::DEFAULT;
    let raw = raw_hash(
        &argon2(),
        &params,
        password,
        salt_raw,
        Params::DEFAULT_OUTPUT_LEN,
    )
    .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&raw).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `hash`, under the parameters `hash` names; the
/// comparison takes constant time.
fn verify_now(password: &str, hash: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(hash).ok()?;
        let params = Params::try_from(&parsed).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let expected = parsed.hash?;
        let mut salt_bytes = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_bytes).ok()?;
        let hasher = Argon2::new(algorithm, version, params.clone());
        let raw = raw_hash(&hasher, &params, password, salt, expected.len()).ok()?;
        Some(Output::new(&raw).ok()? == expected)
    };
    check().unwrap_or(false)
}

/// A hashing thread: runs jobs until every `Passwords` is gone.
fn hash_jobs(queue: &std::sync::Mutex<std::sync::mpsc::Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Work for the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// Hashes waiting for a thread, at most; beyond, sign-ins are refused as busy.
const QUEUED_HASHES: usize = 1024;

#[derive(Clone)]
pub struct Passwords {
    jobs: std::sync::mpsc::SyncSender<Job>,
    dummy_hash: Arc<str>,
    /// How many verifications ran, known user or not: what makes the cost visible to tests.
    verifications: Arc<std::sync::atomic::AtomicU64>,
}

impl Passwords {
    /// Hashes on `threads` threads of their own. A hash takes 19 MiB for a few milliseconds; on
    /// a few long-lived threads, that memory is reused rather than left behind in the malloc arena
    /// of whichever blocking thread ran it, and the other calls keep the remaining cores.
    pub fn new(threads: usize) -> AppResult<Self> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(QUEUED_HASHES);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    // Other calls come first: a sign-in burst takes the CPU they leave.
                    if let Err(e) = thread_priority::set_current_thread_priority(
                        thread_priority::ThreadPriority::Min,
                    ) {
                        tracing::warn!(error = ?e, "could not lower the hashing thread's priority");
                    }
                    hash_jobs(&queue)
                })
                .map_err(|e| AppError::internal(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Passwords {
            jobs,
            dummy_hash: hash_now("liaison dummy password for unknown users")?.into(),
            verifications: Arc::default(),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => AppError::Busy,
            std::sync::mpsc::TrySendError::Disconnected(_) => {
                AppError::internal("the hashing threads are gone")
            }
        })?;
        result
            .await
            .map_err(|_| AppError::internal("a hashing thread failed"))
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

    #[test]
    fn hashes_made_the_standard_way_still_verify() {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::generate(&mut OsRng);
        // Stored by earlier versions, and with other parameters than today's.
        let standard = argon2()
            .hash_password(b"an old password", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now("an old password", &standard));
        assert!(!verify_now("an old passwore", &standard));
        let lighter = Params::new(8 * 1024, 3, 1, Some(32)).unwrap();
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, lighter)
            .hash_password(b"another", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now("another", &other));
        assert!(!verify_now(
            "another",
            "$argon2id$v=19$m=19456,t=2,p=1$bm90YmFzZTY0"
        ));
        // And ours is the standard PHC string.
        let ours = hash_now("a new password").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2::password_hash::PasswordVerifier::verify_password(
            &argon2(),
            b"a new password",
            &parsed
        )
        .is_ok());
    }

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
