//! `liaisond keys`: the token-signing keys in the key directory.

use clap::Subcommand;
use liaison_server::config::Config;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key. Running servers sign with it within 30 s; tokens signed with older
    /// keys keep working until they expire, then those keys retire.
    Rotate,
    /// List the keys: id, when made, and when they retire.
    List,
}

pub fn run(config: &Config, command: KeysCommand) -> Result<(), String> {
    let dir = config.key_directory();
    let now = chrono::Utc::now();
    if let KeysCommand::Rotate = command {
        let kid = liaison_server::authn::jwt::add_key(&dir, now).map_err(|e| e.to_string())?;
        println!("added signing key {kid} in {}", dir.display());
    }
    let keys = liaison_server::authn::jwt::load_keys(&dir).map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Err(format!(
            "no keys in {} yet: start the server or run `keys rotate`",
            dir.display()
        ));
    }
    let set = liaison_server::authn::jwt::TokenKeys::with_keys(
        keys,
        config.token_issuer.clone(),
        config.token_audience.clone(),
        config.token_ttl(),
    )
    .map_err(|e| e.to_string())?;
    for key in set.all_keys() {
        let state = match key.retires {
            None => "signing".to_string(),
            Some(at) if at > now => format!("verifying until {}", at.to_rfc3339()),
            Some(at) => format!(
                "retired at {} (still checks old checkpoints)",
                at.to_rfc3339()
            ),
        };
        println!("{}\t{}\t{state}", key.kid, key.created.to_rfc3339());
    }
    Ok(())
}
