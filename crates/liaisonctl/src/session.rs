//! The signed-in session: the tokens, who they belong to and the server they work on, kept in the
//! user's config directory in a file only they can read (0600, in a 0700 directory).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::CliError;

const SESSION_FILE: &str = "session.json";
/// Directory look-ups kept a few minutes (see [`DirectoryCache`]).
const DIRECTORY_FILE: &str = "directory.json";
/// How long a directory look-up is reused.
pub const DIRECTORY_LIFE: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
const LOCK_FILE: &str = "session.lock";
/// Refresh when the access token has less than this left, so a call does not race its expiry.
const REFRESH_MARGIN_SECONDS: i64 = 60;
/// A lock older than this was left by a process that died.
const STALE_LOCK: Duration = Duration::from_secs(30);
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The config directory: `$LIAISON_CONFIG_DIR`, else `$XDG_CONFIG_HOME/liaison`, else
/// `$HOME/.config/liaison`.
pub fn config_dir() -> Result<PathBuf, CliError> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("LIAISON_CONFIG_DIR") {
        return Ok(dir);
    }
    // The XDG spec says relative values are to be ignored.
    if let Some(xdg) = var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()) {
        return Ok(xdg.join("liaison"));
    }
    if let Some(home) = var("HOME") {
        return Ok(home.join(".config").join("liaison"));
    }
    Err(CliError::Other(
        "no config directory: set LIAISON_CONFIG_DIR or HOME".into(),
    ))
}

/// Directory look-ups kept for [`DIRECTORY_LIFE`], for the user and server that made them: the
/// agency codes tables show instead of ids. Without it every `case show` or `queue` would ask the
/// server for the agencies again, and each ask is an entry in the audit log that the person never
/// knowingly made.
#[derive(Debug, Serialize, Deserialize)]
struct DirectoryCache {
    server: String,
    user_id: String,
    fetched_at: DateTime<Utc>,
    agencies: std::collections::BTreeMap<String, String>,
    /// Their time zones by id (a cache from before zones has none, and is looked up again).
    zones: std::collections::BTreeMap<String, String>,
}

/// Certificate files for TLS, remembered from sign-in so later commands need not repeat them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    #[serde(default)]
    pub tls: TlsFiles,
    pub username: String,
    pub user_id: String,
    pub agency_id: String,
    pub agency_code: String,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    #[serde(default)]
    pub must_change_password: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

impl Session {
    /// The access token is expired or about to expire.
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        self.access_expires_at - now < chrono::Duration::seconds(REFRESH_MARGIN_SECONDS)
    }

    /// The session is over however it is used.
    pub fn ended(&self, now: DateTime<Utc>) -> bool {
        self.refresh_expires_at <= now
    }

    /// Takes the tokens a sign-in, refresh or password change returned.
    pub fn take_tokens(&mut self, tokens: &liaison_proto::LoginResponse) {
        self.access_token = tokens.access_token.clone();
        self.refresh_token = tokens.refresh_token.clone();
        self.access_expires_at = crate::json::time(tokens.expires_at.as_ref()).unwrap_or_default();
        self.refresh_expires_at =
            crate::json::time(tokens.refresh_expires_at.as_ref()).unwrap_or_default();
        self.must_change_password = tokens.must_change_password;
    }
}

/// The session file in a config directory.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(SESSION_FILE)
    }

    pub fn load(&self) -> Result<Option<Session>, CliError> {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(CliError::Other(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            CliError::NotSignedIn(format!(
                "{} is not a session this liaisonctl understands ({e}): sign in again with `liaisonctl login`",
                path.display()
            ))
        })
    }

    /// Writes the session: to a new file made with mode 0600 from the start, then renamed over the
    /// old one, so the tokens are never readable by others and never half-written.
    pub fn save(&self, session: &Session) -> Result<(), CliError> {
        let text = serde_json::to_vec_pretty(session)
            .map_err(|e| CliError::Other(format!("encoding the session: {e}")))?;
        self.write(SESSION_FILE, &text)
    }

    /// Writes `name` in the config directory whole or not at all, readable by its owner alone.
    fn write(&self, name: &str, text: &[u8]) -> Result<(), CliError> {
        self.ensure_dir()?;
        let target = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            // A file left by an earlier process with the same id would make create_new fail.
            match std::fs::remove_file(&tmp) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let mut file = private_file(&tmp)?;
            file.write_all(text)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&tmp, &target)
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CliError::Other(format!("cannot write {}: {e}", target.display()))
        })
    }

    /// The agency codes by id that `session`'s user looked up on its server less than
    /// [`DIRECTORY_LIFE`] before `now`.
    pub fn cached_agencies(
        &self,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Option<(
        std::collections::BTreeMap<String, String>,
        std::collections::BTreeMap<String, String>,
    )> {
        let text = std::fs::read(self.dir.join(DIRECTORY_FILE)).ok()?;
        let cache: DirectoryCache = serde_json::from_slice(&text).ok()?;
        let fresh = now - cache.fetched_at;
        (cache.server == session.server
            && cache.user_id == session.user_id
            && fresh >= chrono::TimeDelta::zero()
            && fresh < DIRECTORY_LIFE)
            .then_some((cache.agencies, cache.zones))
    }

    /// Keeps the agency codes `session`'s user just looked up. A cache that cannot be written is
    /// only a look-up more next time.
    pub fn cache_agencies(
        &self,
        session: &Session,
        now: DateTime<Utc>,
        agencies: std::collections::BTreeMap<String, String>,
        zones: std::collections::BTreeMap<String, String>,
    ) {
        let cache = DirectoryCache {
            server: session.server.clone(),
            user_id: session.user_id.clone(),
            fetched_at: now,
            agencies,
            zones,
        };
        if let Ok(text) = serde_json::to_vec(&cache) {
            let _ = self.write(DIRECTORY_FILE, &text);
        }
    }

    /// Removes the session (and what it looked up); false when there was none.
    pub fn delete(&self) -> Result<bool, CliError> {
        let _ = std::fs::remove_file(self.dir.join(DIRECTORY_FILE));
        match std::fs::remove_file(self.path()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(CliError::Other(format!(
                "cannot remove {}: {e}",
                self.path().display()
            ))),
        }
    }

    /// Holds off other liaisonctl processes while this one refreshes: a refresh token works once,
    /// and presenting it twice ends the session, so two processes must not both use it.
    pub async fn lock(&self) -> Result<Lock, CliError> {
        self.ensure_dir()?;
        let path = self.dir.join(LOCK_FILE);
        let started = std::time::Instant::now();
        loop {
            match private_file(&path) {
                Ok(_) => return Ok(Lock { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > STALE_LOCK);
                    if stale {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        return Err(CliError::Other(format!(
                            "another liaisonctl holds {} (remove it if no liaisonctl is running)",
                            path.display()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    return Err(CliError::Other(format!(
                        "cannot create {}: {e}",
                        path.display()
                    )))
                }
            }
        }
    }

    fn ensure_dir(&self) -> Result<(), CliError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.dir)
            .map_err(|e| CliError::Other(format!("cannot create {}: {e}", self.dir.display())))
    }
}

/// A new file only its owner may read or write (mode 0600 from creation on unix).
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Removes the lock file when dropped.
pub struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: DateTime<Utc>) -> Session {
        Session {
            server: "http://127.0.0.1:50051".into(),
            tls: TlsFiles::default(),
            username: "officer.in".into(),
            user_id: "u".into(),
            agency_id: "a".into(),
            agency_code: "IN-NCB".into(),
            access_token: "secret-access".into(),
            access_expires_at: now + chrono::Duration::minutes(15),
            refresh_token: "secret-refresh".into(),
            refresh_expires_at: now + chrono::Duration::days(7),
            must_change_password: false,
        }
    }

    #[test]
    fn refreshes_a_minute_before_expiry() {
        let now = Utc::now();
        let s = session(now);
        assert!(!s.needs_refresh(now));
        assert!(!s.needs_refresh(now + chrono::Duration::minutes(13)));
        assert!(s.needs_refresh(now + chrono::Duration::seconds(14 * 60 + 30)));
        assert!(s.needs_refresh(now + chrono::Duration::minutes(20)));
        assert!(!s.ended(now));
        assert!(s.ended(now + chrono::Duration::days(7)));
    }

    #[test]
    fn debug_hides_the_tokens() {
        let text = format!("{:?}", session(Utc::now()));
        assert!(!text.contains("secret"), "{text}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn saved_private_and_locked_once() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path().join("liaison"));
        store.save(&session(Utc::now())).unwrap();
        store.save(&session(Utc::now())).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store.path()), 0o600);
        assert_eq!(mode(&root.path().join("liaison")), 0o700);
        assert_eq!(store.load().unwrap().unwrap().username, "officer.in");

        let lock = store.lock().await.unwrap();
        assert!(private_file(&root.path().join("liaison").join(LOCK_FILE)).is_err());
        drop(lock);
        let _again = store.lock().await.unwrap();

        assert!(store.delete().unwrap());
        assert!(!store.delete().unwrap());
        assert!(store.load().unwrap().is_none());
    }
}
