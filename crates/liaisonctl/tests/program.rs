//! `liaisonctl` as a program, before any server is involved: what a newcomer meets first. (The
//! commands against a real server are tested in the workspace's integration tests, tests/it/cli.rs,
//! which run this same binary.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn liaisonctl(config_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liaisonctl"))
        .args(args)
        .env_clear()
        .env("LIAISON_CONFIG_DIR", config_dir)
        .env("HOME", config_dir)
        .output()
        .expect("liaisonctl runs")
}

#[test]
fn a_command_before_signing_in_says_how_to_sign_in_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let output = liaisonctl(dir.path(), &["queue", "incoming"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("liaisonctl login"), "{stderr}");
}

#[test]
fn a_usage_error_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = liaisonctl(dir.path(), &["case", "no-such-command"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn completions_cover_every_command_group() {
    let dir = tempfile::tempdir().unwrap();
    let output = liaisonctl(dir.path(), &["completions", "bash"]);
    assert!(output.status.success(), "{output:?}");
    let script = String::from_utf8(output.stdout).unwrap();
    for group in ["login", "case", "queue", "audit", "admin", "password"] {
        assert!(script.contains(group), "no {group} in the completions");
    }
}
