//! `liaisonctl` as people meet it: the real binary, run as a subprocess against a real server, each
//! user with a config directory of their own.

use std::process::Stdio;
use std::time::Duration;

use liaison_server::model::Role;
use liaison_server::pb;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout};

use crate::common::{Backend, World, PASSWORD};

crate::on_both_databases!(
    a_whole_case_in_tables,
    a_whole_case_in_json,
    the_session_is_private_and_refreshes_itself,
    errors_name_each_field_and_exit_by_status,
    a_retried_filing_files_once,
    lists_follow_pages_with_all,
    admins_auditors_and_the_directory,
    a_supervisor_watches_the_incoming_queue,
    a_watch_resumes_where_it_stopped,
    a_watch_outlives_its_access_token,
    a_watch_reconnects_after_the_connection_drops,
    markings_are_set_shown_and_changed_by_their_provider,
    an_admin_grants_itself_a_case_role_only_through_a_second_admin,
    a_preservation_request_from_filing_to_the_formal_request,
    a_legal_basis_is_agreed_then_cited,
    a_four_eyes_release_and_decline,
    a_request_is_answered_item_by_item,
    text_that_reads_as_something_else_is_shown_for_what_it_is,
    directory_look_ups_are_kept_a_few_minutes,
    deadlines_show_in_both_sides_hours,
);

/// What a run of liaisonctl did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "liaisonctl failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    fn failed(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }

    #[track_caller]
    fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stderr))
    }

    /// The value of a `Label  value` line of a key-value view.
    #[track_caller]
    fn field(&self, label: &str) -> String {
        self.stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix(label)
                    .filter(|rest| rest.starts_with("  "))
                    .map(|rest| rest.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {label} line in:\n{}", self.stdout))
    }
}

/// One user's liaisonctl: a config directory of their own, pointed at the test server.
struct Ctl {
    root: tempfile::TempDir,
    server: String,
}

impl Ctl {
    fn new(server: String) -> Ctl {
        Ctl {
            root: tempfile::tempdir().unwrap(),
            server,
        }
    }

    /// Signed in as `username` with the test password.
    async fn signed_in(w: &World, username: &str) -> Ctl {
        let ctl = Ctl::new(format!("http://{}", w.server.addr));
        ctl.login(username, PASSWORD).await.ok();
        ctl
    }

    /// The config directory; made by liaisonctl itself, inside a temporary directory.
    fn dir(&self) -> std::path::PathBuf {
        self.root.path().join("liaison")
    }

    fn session(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir().join("session.json")).unwrap())
            .unwrap()
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command =
            tokio::process::Command::new(crate::common::workspace_program("liaisonctl"));
        for variable in [
            "LIAISON_OUTPUT",
            "LIAISON_CA_CERT",
            "LIAISON_CLIENT_CERT",
            "LIAISON_CLIENT_KEY",
            "LIAISON_TLS_SERVER_NAME",
            "LIAISON_USERNAME",
            "LIAISON_PASSWORD",
            "LIAISON_NEW_PASSWORD",
            "XDG_CONFIG_HOME",
        ] {
            command.env_remove(variable);
        }
        command
            .args(args)
            .env("LIAISON_CONFIG_DIR", self.dir())
            .env("LIAISON_SERVER", &self.server)
            .env("HOME", self.root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn finish(command: &mut tokio::process::Command, stdin: Option<&str>) -> Run {
        if stdin.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn().unwrap();
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
            drop(pipe);
        }
        let output = child.wait_with_output().await.unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    async fn run(&self, args: &[&str]) -> Run {
        Ctl::finish(&mut self.command(args), None).await
    }

    async fn run_with_input(&self, args: &[&str], stdin: &str) -> Run {
        Ctl::finish(&mut self.command(args), Some(stdin)).await
    }

    async fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        for (name, value) in env {
            command.env(name, value);
        }
        Ctl::finish(&mut command, None).await
    }

    /// Runs with `--output json`, expecting success, and parses standard output.
    async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        self.run(&all).await.ok().json()
    }

    async fn login(&self, username: &str, password: &str) -> Run {
        self.run_with_env(
            &["login", "--username", username],
            &[("LIAISON_PASSWORD", password)],
        )
        .await
    }
}

/// How long a test waits for a watch to say something.
const PATIENCE: Duration = Duration::from_secs(20);

/// A `liaisonctl queue watch` running in the background.
struct Watching {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
    /// Standard error read so far.
    said: Vec<String>,
}

impl Ctl {
    /// Starts a watch and waits until it says it is watching: from then on no event is missed.
    async fn watch(&self, args: &[&str]) -> Watching {
        let mut child = self.command(args).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut watching = Watching {
            child,
            stdout,
            stderr,
            said: Vec::new(),
        };
        watching.says("watching").await;
        watching
    }
}

impl Watching {
    /// Reads standard error until a line contains `needle`.
    async fn says(&mut self, needle: &str) {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.stderr.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!("no {needle:?} in time; stderr so far:\n{:?}", self.said)
                })
                .unwrap();
            let Some(line) = line else {
                panic!("the watch ended before saying {needle:?}: {:?}", self.said);
            };
            let found = line.contains(needle);
            self.said.push(line);
            if found {
                return;
            }
        }
    }

    /// The next line of standard output.
    async fn line(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("no line in time; stderr so far:\n{:?}", self.said))
            .unwrap()
            .unwrap_or_else(|| panic!("the watch ended; stderr so far:\n{:?}", self.said))
    }

    /// The next line of standard output, as JSON.
    async fn json_line(&mut self) -> Value {
        let line = self.line().await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Ctrl-C.
    fn interrupt(&self) {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the watch to exit: what it printed after the lines already read, and all it said
    /// on standard error.
    async fn finish(mut self) -> Run {
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the watch exits")
            .unwrap();
        let mut stdout = String::new();
        self.stdout
            .into_inner()
            .read_to_string(&mut stdout)
            .await
            .unwrap();
        let mut rest = String::new();
        self.stderr
            .into_inner()
            .read_to_string(&mut rest)
            .await
            .unwrap();
        let mut stderr = self.said.join("\n");
        stderr.push('\n');
        stderr.push_str(&rest);
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}

/// Asserts an NDJSON line of a watch is `kind` of `case`, the case in `status` when it was
/// delivered (when that is certain).
#[track_caller]
fn assert_event(line: &Value, kind: &str, case: &pb::Case, status: Option<&str>) {
    assert_eq!(line["event"]["kind"], kind, "{line}");
    assert_eq!(line["event"]["case_id"], case.id.as_str(), "{line}");
    assert_eq!(line["case"]["id"], case.id.as_str(), "{line}");
    assert_eq!(line["case"]["reference"], case.reference.as_str(), "{line}");
    if let Some(status) = status {
        assert_eq!(line["case"]["status"], status, "{line}");
    }
    assert!(
        !line["resume_token"].as_str().unwrap_or_default().is_empty(),
        "{line}"
    );
}

const SUMMARY: &str =
    "Courier consignment of fentanyl precursors bound for Vancouver.\nWaybill to follow.\n";

fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
}

/// A title with a right-to-left override (it would read "Routine check gpj.exe") and a hidden
/// zero-width space: the tables and the case page show the characters by name, JSON keeps the text
/// as the other agency typed it.
async fn text_that_reads_as_something_else_is_shown_for_what_it_is(backend: Backend) {
    let w = World::new(backend).await;
    let title = "Routine check \u{202E}exe.jpg\u{202C} sum\u{200B}mary";
    let case = w
        .officer_in
        .cases()
        .file_referral(w.referral(title, pb::Priority::Routine))
        .await
        .unwrap()
        .into_inner();
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let shown = "Routine check <U+202E>exe.jpg<U+202C> sum<U+200B>mary";
    let queue = sup_ca.run(&["queue", "incoming"]).await.ok();
    assert!(queue.stdout.contains(shown), "{}", queue.stdout);
    let page = sup_ca.run(&["case", "show", &case.reference]).await.ok();
    assert_eq!(page.field("Title"), shown);
    for raw in ['\u{202E}', '\u{202C}', '\u{200B}'] {
        assert!(!queue.stdout.contains(raw) && !page.stdout.contains(raw));
    }
    let json = sup_ca.json(&["case", "show", &case.reference]).await;
    assert_eq!(json["title"], title);
    w.stop().await;
}

/// Tables name agencies by code; the codes are looked up once and kept a few minutes in the
/// session, so the audit log shows what the person did, not one ListAgencies a command.
async fn directory_look_ups_are_kept_a_few_minutes(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "Looked up once", pb::Priority::Routine)
        .await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    for _ in 0..3 {
        let page = sup_ca.run(&["case", "show", &case.reference]).await.ok();
        assert_eq!(page.field("From → to"), "IN-NCB → CA-RCMP");
        // People by name, not by id.
        assert!(
            page.field("Filed")
                .ends_with("by officer.in (officer.in, IN-NCB)"),
            "{}",
            page.stdout
        );
    }
    let queue = sup_ca.run(&["queue", "incoming"]).await.ok();
    assert!(queue.stdout.contains(&case.reference), "{}", queue.stdout);
    let look_ups = |entries: &[liaison_server::chain::AuditEntry]| {
        entries
            .iter()
            .filter(|e| {
                e.record.method.ends_with("DirectoryService/ListAgencies")
                    && e.record.actor_username.as_deref() == Some("sup.ca")
            })
            .count()
    };
    w.server.sealed().await;
    let tx = w.server.state.db.begin().await.unwrap();
    let entries = liaison_server::repo::audit::range(&tx, 1, 1_000_000)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(look_ups(&entries), 1);
    // Signing out forgets them with the session.
    sup_ca.run(&["logout"]).await.ok();
    assert!(!sup_ca.dir().join("directory.json").exists());
    w.stop().await;
}

async fn a_whole_case_in_tables(backend: Backend) {
    let w = World::new(backend).await;
    let officer_in = Ctl::signed_in(&w, "officer.in").await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let officer_ca = Ctl::signed_in(&w, "officer.ca").await;

    // Filed with the summary on standard input.
    let filed = officer_in
        .run_with_input(
            &[
                "case",
                "file",
                "--channel",
                &w.channel.id,
                "--category",
                "drugs",
                "--priority",
                "urgent",
                "--title",
                "Precursor shipment",
            ],
            SUMMARY,
        )
        .await
        .ok();
    assert!(
        filed.stdout.starts_with("Filed IN-CA-DRUGS-"),
        "{}",
        filed.stdout
    );
    let id = filed.field("ID");
    let reference = filed.field("Reference");
    assert_eq!(filed.field("Status"), "filed");
    assert_eq!(filed.field("From → to"), "IN-NCB → CA-RCMP");
    assert!(
        filed.field("Ack due").contains("(in 4 h)"),
        "{}",
        filed.stdout
    );
    assert!(filed.stdout.contains("Waybill to follow."));

    // The receiving supervisor sees it in the incoming queue, in aligned columns.
    let queue = sup_ca.run(&["queue", "incoming"]).await.ok();
    let lines: Vec<&str> = queue.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", queue.stdout);
    for (column, value) in [
        ("REFERENCE", reference.as_str()),
        ("STATUS", "filed"),
        ("PRIORITY", "urgent"),
        ("ASSIGNEE", "—"),
        ("TITLE", "Precursor shipment"),
    ] {
        // In characters: the dash of "no assignee" takes three bytes and one column.
        let at = |text: &str, needle: &str| text[..position(text, needle)].chars().count();
        assert_eq!(
            at(lines[0], column),
            at(lines[1], value),
            "{column} is not aligned:\n{}",
            queue.stdout
        );
    }
    assert!(lines[1].starts_with(&reference));

    let ack = sup_ca.run(&["case", "ack", &id]).await.ok();
    assert_eq!(
        ack.stdout.trim(),
        format!("Acknowledged {reference}: now acknowledged.")
    );
    let officer_ca_id = officer_ca.run(&["whoami"]).await.ok().field("User ID");
    assert_eq!(officer_ca_id, w.officer_ca.user_id);
    let assigned = sup_ca
        .run(&["case", "assign", &id, "--to", &officer_ca_id])
        .await
        .ok();
    assert!(
        assigned.stdout.contains("now in-progress"),
        "{}",
        assigned.stdout
    );
    let asked = officer_ca
        .run(&[
            "case",
            "request-info",
            &id,
            "--question",
            "Which courier company?",
        ])
        .await
        .ok();
    assert!(
        asked.stdout.contains("now awaiting-info"),
        "{}",
        asked.stdout
    );
    let answered = officer_in
        .run(&["case", "provide-info", &id, "--answer", "DHL, waybill 1234"])
        .await
        .ok();
    assert!(answered.stdout.contains("now in-progress"));
    officer_ca
        .run_with_input(
            &["case", "note", &id, "--shared"],
            "Consignment intercepted.\n",
        )
        .await
        .ok();
    officer_ca
        .run(&[
            "case",
            "note",
            &id,
            "--internal",
            "--text",
            "Informant is reliable.",
        ])
        .await
        .ok();
    let closed = officer_ca
        .run(&["case", "close", &id, "--resolution", "actioned"])
        .await
        .ok();
    assert!(closed.stdout.contains("now closed"));

    // Both sides read the timeline, oldest first.
    let timeline = officer_in.run(&["case", "timeline", &id]).await.ok();
    let mut last = 0;
    for event in [
        "filed ",
        "acknowledged ",
        "assigned ",
        "information-requested ",
        "information-provided ",
        "note-added ",
        "closed ",
    ] {
        let at = position(&timeline.stdout[last..], event) + last;
        last = at + event.len();
    }
    assert!(timeline.stdout.contains("Which courier company?"));
    assert!(timeline.stdout.contains("actioned"));
    assert!(
        timeline
            .stdout
            .contains("officer.in (officer.in, IN-NCB) (you)"),
        "{}",
        timeline.stdout
    );
    // The internal note is not theirs to see, nor its event.
    assert_eq!(timeline.stdout.matches("note-added").count(), 1);
    let notes = officer_in.run(&["case", "notes", &id]).await.ok();
    assert!(notes.stdout.contains("Consignment intercepted."));
    assert!(!notes.stdout.contains("Informant"));
    let own_notes = officer_ca.run(&["case", "notes", &id]).await.ok();
    assert!(own_notes.stdout.contains("Informant is reliable."));
    assert!(own_notes.stdout.contains("internal"));

    let shown = officer_in.run(&["case", "show", &id]).await.ok();
    assert_eq!(shown.field("Status"), "closed");
    assert!(shown.field("Closed").ends_with("actioned"));
    let mine = officer_ca
        .run(&["queue", "mine", "--status", "closed"])
        .await
        .ok();
    assert!(mine.stdout.contains(&reference));
    w.stop().await;
}

async fn markings_are_set_shown_and_changed_by_their_provider(backend: Backend) {
    let w = World::new(backend).await;
    let officer_in = Ctl::signed_in(&w, "officer.in").await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let auditor_ca = Ctl::signed_in(&w, "auditor.ca").await;

    let filed = officer_in
        .run(&[
            "case",
            "file",
            "--channel",
            &w.channel.id,
            "--category",
            "drugs",
            "--priority",
            "routine",
            "--title",
            "Marked H2",
            "--summary",
            "Waybill 1234.",
            "--handling",
            "h2",
            "--source",
            "B",
            "--accuracy",
            "2",
        ])
        .await
        .ok();
    let id = filed.field("ID");
    assert_eq!(
        filed.field("Handling"),
        "H2 — not to be disseminated without the provider's permission · graded B2"
    );
    // The receiver sees the code in the queue, in a column of its own.
    let queue = sup_ca.run(&["queue", "incoming"]).await.ok();
    let lines: Vec<&str> = queue.stdout.lines().collect();
    assert_eq!(
        position(lines[0], "H "),
        position(lines[1], "H2"),
        "{}",
        queue.stdout
    );
    // Only the provider changes it; a relaxation needs a reason.
    sup_ca
        .run(&["case", "mark", &id, "--handling", "H0", "--reason", "x"])
        .await
        .failed(4);
    let no_reason = officer_in
        .run(&["case", "mark", &id, "--handling", "H1"])
        .await
        .failed(6);
    assert!(no_reason.stderr.contains("reason"), "{}", no_reason.stderr);
    officer_in.run(&["case", "mark", &id]).await.failed(2);
    let relaxed = officer_in
        .run(&[
            "case",
            "mark",
            &id,
            "--handling",
            "H1",
            "--reason",
            "cleared for use in the investigation",
        ])
        .await
        .ok();
    assert!(relaxed.stdout.contains("H1 · B2"), "{}", relaxed.stdout);
    let timeline = sup_ca.run(&["case", "timeline", &id]).await.ok();
    assert!(
        timeline.stdout.contains("markings-changed"),
        "{}",
        timeline.stdout
    );
    assert!(
        timeline.stdout.contains("now H1 · B2: cleared for use"),
        "{}",
        timeline.stdout
    );
    // A note laxer than the case is refused, naming the field; a stricter one is shown marked.
    let laxer = sup_ca
        .run(&[
            "case",
            "note",
            &id,
            "--shared",
            "--text",
            "Noted.",
            "--handling",
            "H0",
        ])
        .await
        .failed(6);
    assert!(
        laxer.stderr.contains("markings.handling"),
        "{}",
        laxer.stderr
    );
    sup_ca
        .run(&[
            "case",
            "note",
            &id,
            "--shared",
            "--text",
            "The consignee is known to us.",
            "--handling",
            "H3",
            "--conditions",
            "Not for customs",
        ])
        .await
        .ok();
    let notes = officer_in.run(&["case", "notes", &id]).await.ok();
    assert!(
        notes
            .stdout
            .contains("H3 — restricted: Not for customs · graded X4"),
        "{}",
        notes.stdout
    );
    // The auditor asks who read H1 material or stricter.
    let json = auditor_ca
        .json(&["audit", "query", "--min-handling", "H1"])
        .await;
    let entries = json["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries
        .iter()
        .all(|e| ["HANDLING_H1", "HANDLING_H2", "HANDLING_H3"]
            .contains(&e["handling"].as_str().unwrap())));
    w.stop().await;
}

async fn an_admin_grants_itself_a_case_role_only_through_a_second_admin(backend: Backend) {
    let w = World::new(backend).await;
    w.server.user("IN-NCB", "admin2.in", &[Role::Admin]).await;
    let admin_in = Ctl::signed_in(&w, "admin.in").await;
    let admin2 = Ctl::signed_in(&w, "admin2.in").await;

    let alone = admin_in
        .run(&[
            "admin",
            "user",
            "roles",
            "admin.in",
            "--role",
            "admin,supervisor",
        ])
        .await
        .failed(7);
    assert!(alone.stderr.contains("second admin"), "{}", alone.stderr);
    assert!(alone.stderr.contains("--propose"), "{}", alone.stderr);
    let proposed = admin_in
        .json(&[
            "admin",
            "user",
            "roles",
            "admin.in",
            "--role",
            "admin,supervisor",
            "--propose",
            "--reason",
            "night desk",
        ])
        .await;
    assert_eq!(proposed["status"], "ROLE_CHANGE_STATUS_PENDING");
    let id = proposed["id"].as_str().unwrap().to_string();
    admin_in
        .run(&["admin", "role-change", "approve", &id])
        .await
        .failed(4);
    let waiting = admin2.run(&["admin", "role-change", "list"]).await.ok();
    assert!(waiting.stdout.contains(&id), "{}", waiting.stdout);
    assert!(waiting.stdout.contains("night desk"), "{}", waiting.stdout);
    let approved = admin2
        .run(&["admin", "role-change", "approve", &id])
        .await
        .ok();
    assert!(
        approved.stdout.contains("is approved"),
        "{}",
        approved.stdout
    );
    let users = admin2.json(&["admin", "user", "list"]).await;
    let roles = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "admin.in")
        .unwrap()["roles"]
        .clone();
    assert_eq!(roles, serde_json::json!(["ROLE_SUPERVISOR", "ROLE_ADMIN"]));
    w.stop().await;
}

async fn a_preservation_request_from_filing_to_the_formal_request(backend: Backend) {
    let w = World::new(backend).await;
    let officer_in = Ctl::signed_in(&w, "officer.in").await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let officer_ca = Ctl::signed_in(&w, "officer.ca").await;
    let file = |extra: &'static [&'static str]| {
        let mut args = vec![
            "case",
            "file",
            "--channel",
            w.channel.id.as_str(),
            "--category",
            "drugs",
            "--priority",
            "urgent",
            "--title",
            "Preserve the phone records",
            "--summary",
            "The number ordered the precursor shipment.",
            "--kind",
            "preservation",
            "--preserve-data",
            "Subscriber and traffic data of +1 604 555 0100, November 2026",
            "--preserve-offence",
            "Import of fentanyl precursors",
            "--preserve-necessity",
            "Traffic data is kept for 90 days only",
            "--preserve-formal-request",
            "An MLAT request follows within 30 days",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let args = file(&[]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let missing = officer_in.run(&refs).await.failed(6);
    assert!(
        missing.stderr.contains("preservation.custodian"),
        "{}",
        missing.stderr
    );
    let args = file(&["--preserve-custodian", "Telus Communications, Vancouver"]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let filed = officer_in.run(&refs).await.ok();
    let id = filed.field("ID");
    assert_eq!(filed.field("Kind"), "preservation");
    assert_eq!(filed.field("Preservation"), "requested, not yet confirmed");
    assert_eq!(filed.field("Held by"), "Telus Communications, Vancouver");

    sup_ca.run(&["case", "ack", &id]).await.ok();
    sup_ca
        .run(&["case", "assign", &id, "--to", "officer.ca"])
        .await
        .ok();
    officer_ca
        .run(&["case", "preserve", &id, "--until", "30d"])
        .await
        .failed(6);
    let kept = officer_ca
        .run(&["case", "preserve", &id, "--until", "90d"])
        .await
        .ok();
    assert!(kept.stdout.contains("preserved until"), "{}", kept.stdout);
    officer_ca
        .run(&[
            "case",
            "extend-preservation",
            &id,
            "--until",
            "120d",
            "--reason",
            "the formal request is delayed",
        ])
        .await
        .ok();
    officer_ca
        .run(&[
            "case",
            "supersede",
            &id,
            "--formal-request",
            "MLAT IN-CA/2026/17",
        ])
        .await
        .failed(4);
    officer_in
        .run(&[
            "case",
            "supersede",
            &id,
            "--formal-request",
            "MLAT IN-CA/2026/17",
        ])
        .await
        .ok();
    let shown = officer_ca.run(&["case", "show", &id]).await.ok();
    assert_eq!(
        shown.field("Preservation"),
        "superseded by MLAT IN-CA/2026/17"
    );
    let timeline = officer_in.run(&["case", "timeline", &id]).await.ok();
    for event in [
        "preservation-confirmed",
        "preservation-extended",
        "preservation-superseded",
    ] {
        assert!(timeline.stdout.contains(event), "{}", timeline.stdout);
    }
    assert!(
        timeline.stdout.contains("the formal request is delayed"),
        "{}",
        timeline.stdout
    );
    w.stop().await;
}

async fn a_whole_case_in_json(backend: Backend) {
    let w = World::new(backend).await;
    let officer_in = Ctl::signed_in(&w, "officer.in").await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let officer_ca = Ctl::signed_in(&w, "officer.ca").await;

    let case = officer_in
        .run_with_input(
            &[
                "-o",
                "json",
                "case",
                "file",
                "--channel",
                &w.channel.id,
                "--category",
                "drugs",
                "--priority",
                "urgent",
                "--title",
                "Precursor shipment",
            ],
            SUMMARY,
        )
        .await
        .ok()
        .json();
    let id = case["id"].as_str().unwrap().to_string();
    assert_eq!(case["status"], "CASE_STATUS_FILED");
    assert_eq!(case["category"], "CATEGORY_DRUGS");
    assert_eq!(case["priority"], "PRIORITY_URGENT");
    assert_eq!(case["summary"], SUMMARY.trim_end());
    assert_eq!(case["filed_by"], w.officer_in.user_id.as_str());
    assert_eq!(case["receiving_agency_id"], w.ca_rcmp.id.as_str());
    assert!(case["closed_at"].is_null());
    assert!(case["acknowledge_due_at"].as_str().unwrap().ends_with('Z'));

    let incoming = sup_ca
        .run(&["-o", "json", "queue", "incoming"])
        .await
        .ok()
        .json();
    assert_eq!(incoming["cases"].as_array().unwrap().len(), 1);
    assert_eq!(incoming["cases"][0]["id"], id.as_str());
    assert_eq!(incoming["next_page_token"], "");

    let acked = sup_ca.json(&["case", "ack", &id]).await;
    assert_eq!(acked["status"], "CASE_STATUS_ACKNOWLEDGED");
    let me = officer_ca.json(&["whoami"]).await;
    let officer_ca_id = me["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(me["agency"]["code"], "CA-RCMP");
    assert_eq!(me["user"]["roles"][0], "ROLE_OFFICER");
    let assigned = sup_ca
        .json(&["case", "assign", &id, "--to", &officer_ca_id])
        .await;
    assert_eq!(assigned["status"], "CASE_STATUS_IN_PROGRESS");
    assert_eq!(assigned["assignee_id"], officer_ca_id.as_str());
    let asked = officer_ca
        .json(&["case", "request-info", &id, "--question", "Which courier?"])
        .await;
    assert_eq!(asked["status"], "CASE_STATUS_AWAITING_INFO");
    let answered = officer_in
        .json(&["case", "provide-info", &id, "--answer", "DHL"])
        .await;
    assert_eq!(answered["status"], "CASE_STATUS_IN_PROGRESS");
    let note = officer_ca
        .json(&["case", "note", &id, "--shared", "--text", "Intercepted."])
        .await;
    assert_eq!(note["visibility"], "NOTE_VISIBILITY_SHARED");
    assert_eq!(note["body"], "Intercepted.");
    let closed = officer_ca
        .json(&["case", "close", &id, "--resolution", "no-action"])
        .await;
    assert_eq!(closed["status"], "CASE_STATUS_CLOSED");
    assert_eq!(closed["resolution"], "RESOLUTION_NO_ACTION");
    assert!(closed["closed_at"].is_string());

    let timeline = officer_in.json(&["case", "timeline", &id]).await;
    let kinds: Vec<&str> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "CASE_EVENT_KIND_FILED",
            "CASE_EVENT_KIND_ACKNOWLEDGED",
            "CASE_EVENT_KIND_ASSIGNED",
            "CASE_EVENT_KIND_INFORMATION_REQUESTED",
            "CASE_EVENT_KIND_INFORMATION_PROVIDED",
            "CASE_EVENT_KIND_NOTE_ADDED",
            "CASE_EVENT_KIND_CLOSED",
        ]
    );
    assert_eq!(timeline["events"][3]["reason"], "Which courier?");
    assert_eq!(timeline["events"][5]["note_id"], note["id"]);
    let notes = officer_in.json(&["case", "notes", &id]).await;
    assert_eq!(notes["notes"][0]["body"], "Intercepted.");
    let shown = officer_in.json(&["case", "show", &id]).await;
    assert_eq!(shown["etag"], closed["etag"]);

    // The other moves: reopen, decline, withdraw.
    let reopened = sup_ca
        .json(&["case", "reopen", &id, "--reason", "New evidence"])
        .await;
    assert_eq!(reopened["status"], "CASE_STATUS_IN_PROGRESS");
    let second = w
        .file(&w.officer_in, "Second referral", pb::Priority::Routine)
        .await;
    let declined = sup_ca
        .json(&[
            "case",
            "decline",
            &second.id,
            "--ground",
            "not-available",
            "--reason",
            "No record of that consignment",
        ])
        .await;
    assert_eq!(declined["status"], "CASE_STATUS_DECLINED");
    assert_eq!(declined["decline_ground"], "REFUSAL_GROUND_NOT_AVAILABLE");
    // Information given spontaneously is acknowledged, never declined; the queues filter by kind.
    let told = officer_in
        .json(&[
            "case",
            "file",
            "--channel",
            &w.channel.id,
            "--category",
            "drugs",
            "--priority",
            "routine",
            "--title",
            "For your information",
            "--summary",
            "A vessel of interest docks on Friday.",
            "--kind",
            "spontaneous",
        ])
        .await;
    assert_eq!(told["kind"], "REQUEST_KIND_SPONTANEOUS");
    let told_id = told["id"].as_str().unwrap();
    sup_ca
        .run(&[
            "case",
            "decline",
            told_id,
            "--ground",
            "minor-offence",
            "--reason",
            "x",
        ])
        .await
        .failed(7);
    let spontaneous = sup_ca
        .json(&["queue", "incoming", "--kind", "spontaneous"])
        .await;
    let listed: Vec<&str> = spontaneous["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [told_id]);
    let third = w
        .file(&w.officer_in, "Third referral", pb::Priority::Routine)
        .await;
    let withdrawn = officer_in
        .json(&["case", "withdraw", &third.id, "--etag", &third.etag])
        .await;
    assert_eq!(withdrawn["status"], "CASE_STATUS_WITHDRAWN");
    w.stop().await;
}

async fn the_session_is_private_and_refreshes_itself(backend: Backend) {
    let w = World::new(backend).await;
    let officer = Ctl::signed_in(&w, "officer.in").await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&officer.dir().join("session.json")), 0o600);
        assert_eq!(mode(&officer.dir()), 0o700);
    }
    let first = officer.session();
    assert_eq!(first["username"], "officer.in");
    assert_eq!(first["user_id"], w.officer_in.user_id.as_str());

    // The server's clock passes the access token's lifetime: the call is answered UNAUTHENTICATED,
    // the client refreshes and tries again, and the rotated refresh token is kept.
    w.server.clock.advance(chrono::Duration::minutes(16));
    officer.run(&["queue", "outgoing"]).await.ok();
    let second = officer.session();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);

    // An access token about to expire is refreshed before the call, by one process only even when
    // several start at once (a refresh token presented twice would end the session).
    let mut expiring = second.clone();
    expiring["access_expires_at"] =
        Value::from((chrono::Utc::now() + chrono::Duration::seconds(10)).to_rfc3339());
    std::fs::write(
        officer.dir().join("session.json"),
        serde_json::to_string(&expiring).unwrap(),
    )
    .unwrap();
    let (a, b, c, d) = tokio::join!(
        officer.run(&["whoami"]),
        officer.run(&["whoami"]),
        officer.run(&["queue", "all"]),
        officer.run(&["directory", "agencies"]),
    );
    for run in [a, b, c, d] {
        run.ok();
    }
    let third = officer.session();
    assert_ne!(third["refresh_token"], second["refresh_token"]);
    officer.run(&["whoami"]).await.ok();
    assert!(!officer.dir().join("session.lock").exists());

    // Signing out ends the session on the server and deletes the file.
    let refresh_token = officer.session()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    officer.run(&["logout"]).await.ok();
    assert!(!officer.dir().join("session.json").exists());
    let refreshed = w
        .server
        .anonymous()
        .auth()
        .refresh(pb::RefreshRequest { refresh_token })
        .await;
    assert_eq!(refreshed.unwrap_err().code(), tonic::Code::Unauthenticated);
    let out = officer.run(&["whoami"]).await.failed(3);
    assert!(out.stderr.contains("liaisonctl login"), "{}", out.stderr);

    // A session an admin revoked cannot be refreshed: exit 3, saying to sign in again.
    officer.login("officer.in", PASSWORD).await.ok();
    let admin = Ctl::signed_in(&w, "admin.in").await;
    let revoked = admin
        .run(&["admin", "user", "revoke-sessions", "officer.in"])
        .await
        .ok();
    // This one and the test kit's own sign-in.
    assert!(
        revoked.stdout.contains("Ended 2 session(s) of officer.in"),
        "{}",
        revoked.stdout
    );
    let out = officer.run(&["queue", "outgoing"]).await.failed(3);
    assert!(out.stderr.contains("session has ended"), "{}", out.stderr);
    w.stop().await;
}

async fn errors_name_each_field_and_exit_by_status(backend: Backend) {
    let w = World::new(backend).await;
    let officer = Ctl::signed_in(&w, "officer.in").await;
    let bad_filing = [
        "case",
        "file",
        "--channel",
        "not-a-channel",
        "--category",
        "drugs",
        "--priority",
        "routine",
        "--title",
        "",
    ];

    // INVALID_ARGUMENT: every bad field on a line of its own, exit 6.
    let out = officer.run_with_input(&bad_filing, "").await.failed(6);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(lines[0].contains("(INVALID_ARGUMENT)"), "{}", out.stderr);
    assert!(
        !lines[0].contains("channel_id"),
        "fields are listed once: {}",
        out.stderr
    );
    for field in ["channel_id", "title", "summary"] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("  {field}: "))),
            "no line for {field}:\n{}",
            out.stderr
        );
    }
    let mut json_args = vec!["--output", "json"];
    json_args.extend(bad_filing);
    let out = officer.run_with_input(&json_args, "").await.failed(6);
    assert!(out.stdout.is_empty());
    let error = out.error_json();
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(error["error"]["exit_code"], 6);
    let mut fields: Vec<&str> = error["error"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["channel_id", "summary", "title"]);

    // NOT_FOUND: 5, in both modes.
    let missing = uuid::Uuid::now_v7().to_string();
    officer.run(&["case", "show", &missing]).await.failed(5);
    let out = officer
        .run(&["-o", "json", "case", "ack", &missing])
        .await
        .failed(5);
    assert_eq!(out.error_json()["error"]["code"], "NOT_FOUND");

    // PERMISSION_DENIED: 4.
    officer.run(&["admin", "user", "list"]).await.failed(4);

    // Conflicts: a stale etag (ABORTED) and a move the lifecycle forbids (FAILED_PRECONDITION): 7.
    let case = w
        .file(&w.officer_in, "Stale etag", pb::Priority::Routine)
        .await;
    let sup = Ctl::signed_in(&w, "sup.ca").await;
    let out = sup
        .run(&["case", "ack", &case.id, "--etag", "0-stale"])
        .await
        .failed(7);
    assert!(out.stderr.contains("(ABORTED)"), "{}", out.stderr);
    sup.run(&["case", "ack", &case.id]).await.ok();
    let out = sup.run(&["case", "ack", &case.id]).await.failed(7);
    assert!(
        out.stderr.contains("(FAILED_PRECONDITION)"),
        "{}",
        out.stderr
    );

    // Not signed in: 3. Wrong password: 3.
    let nobody = Ctl::new(format!("http://{}", w.server.addr));
    nobody.run(&["queue", "incoming"]).await.failed(3);
    nobody
        .login("officer.in", "not the password at all")
        .await
        .failed(3);

    // Nobody listening: 8.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = Ctl::new(format!("http://127.0.0.1:{port}"));
    let out = unreachable.login("officer.in", PASSWORD).await.failed(8);
    assert!(out.stderr.contains("cannot reach"), "{}", out.stderr);

    // A category no channel of the agency has: refused by the server, naming the field, rather
    // than an empty queue; a value that cannot be a category at all: clap's usage error, 2.
    let out = officer
        .run(&["queue", "incoming", "--category", "weapons"])
        .await
        .failed(6);
    assert!(out.stderr.contains("category_code"), "{}", out.stderr);
    assert!(out.stderr.contains("WEAPONS"), "{}", out.stderr);
    let out = officer
        .run(&["queue", "incoming", "--category", "fire arms!"])
        .await
        .failed(2);
    assert!(out.stderr.contains("drugs, fraud, cyber"), "{}", out.stderr);
    w.stop().await;
}

async fn a_retried_filing_files_once(backend: Backend) {
    let w = World::new(backend).await;
    let officer = Ctl::signed_in(&w, "officer.in").await;
    // No --channel: the agency's only ACTIVE channel is used.
    let file = |title: &'static str, extra: Vec<String>| {
        let officer = &officer;
        async move {
            let mut args: Vec<String> = [
                "-o",
                "json",
                "case",
                "file",
                "--category",
                "fraud",
                "--priority",
                "priority",
                "--title",
                title,
            ]
            .into_iter()
            .map(str::to_string)
            .collect();
            args.extend(extra);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            officer
                .run_with_input(&refs, "Forged passports offered online.\n")
                .await
                .ok()
                .json()
        }
    };
    let first = file("Forged passports", vec![]).await;
    let again = file("Forged passports", vec![]).await;
    assert_eq!(first["id"], again["id"], "a retry files nothing new");
    assert_eq!(first["channel_id"], w.channel.id.as_str());
    let outgoing = officer
        .run(&["-o", "json", "queue", "outgoing"])
        .await
        .ok()
        .json();
    assert_eq!(outgoing["cases"].as_array().unwrap().len(), 1);

    // Different content, or a request id of one's own, is a new filing.
    let other = file("Forged visas", vec![]).await;
    assert_ne!(other["id"], first["id"]);
    let fresh = uuid::Uuid::new_v4().to_string();
    let deliberate = file("Forged passports", vec!["--request-id".into(), fresh]).await;
    assert_ne!(deliberate["id"], first["id"]);
    let outgoing = officer
        .run(&["-o", "json", "queue", "outgoing"])
        .await
        .ok()
        .json();
    assert_eq!(outgoing["cases"].as_array().unwrap().len(), 3);
    w.stop().await;
}

async fn lists_follow_pages_with_all(backend: Backend) {
    let w = World::new(backend).await;
    for i in 0..5 {
        w.file(&w.officer_in, &format!("Case {i}"), pb::Priority::Routine)
            .await;
    }
    let sup = Ctl::signed_in(&w, "sup.ca").await;
    let ids = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };

    let first = sup
        .run(&["-o", "json", "queue", "incoming", "--limit", "2"])
        .await
        .ok()
        .json();
    assert_eq!(ids(&first, "cases").len(), 2);
    let token = first["next_page_token"].as_str().unwrap().to_string();
    assert!(!token.is_empty());
    let next = sup
        .run(&[
            "-o",
            "json",
            "queue",
            "incoming",
            "--limit",
            "2",
            "--page-token",
            &token,
        ])
        .await
        .ok()
        .json();
    let next_ids = ids(&next, "cases");
    assert_eq!(next_ids.len(), 2);
    assert!(next_ids.iter().all(|id| !ids(&first, "cases").contains(id)));

    // --all follows the pages (of two here) to the end.
    let all = sup
        .run(&[
            "-o",
            "json",
            "queue",
            "incoming",
            "--all",
            "--page-size",
            "2",
        ])
        .await
        .ok()
        .json();
    let mut all_ids = ids(&all, "cases");
    assert_eq!(all_ids.len(), 5);
    assert_eq!(all["next_page_token"], "");
    all_ids.dedup();
    assert_eq!(all_ids.len(), 5);
    // --limit fetches across pages too.
    let three = sup
        .run(&[
            "-o",
            "json",
            "queue",
            "incoming",
            "--limit",
            "3",
            "--page-size",
            "2",
        ])
        .await
        .ok()
        .json();
    assert_eq!(ids(&three, "cases"), all_ids[..3]);

    // People are told how to see the rest.
    let table = sup.run(&["queue", "incoming", "--limit", "2"]).await.ok();
    assert_eq!(table.stdout.lines().count(), 3);
    assert!(
        table.stderr.contains("showing 2; more with --all"),
        "{}",
        table.stderr
    );

    // The same for timelines and the audit log.
    let case_id = &all_ids[0];
    let events = sup
        .run(&[
            "-o",
            "json",
            "case",
            "timeline",
            case_id,
            "--all",
            "--page-size",
            "1",
        ])
        .await
        .ok()
        .json();
    assert_eq!(events["events"].as_array().unwrap().len(), 1);
    let auditor = Ctl::signed_in(&w, "auditor.ca").await;
    let entries = auditor
        .run(&[
            "-o",
            "json",
            "audit",
            "query",
            "--all",
            "--page-size",
            "3",
            "--method",
            "CaseService/ListCases",
        ])
        .await
        .ok()
        .json();
    let sequences: Vec<i64> = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert!(sequences.len() >= 5, "{sequences:?}");
    assert!(
        sequences.windows(2).all(|p| p[0] > p[1]),
        "newest first: {sequences:?}"
    );
    w.stop().await;
}

async fn admins_auditors_and_the_directory(backend: Backend) {
    let w = World::new(backend).await;
    let admin = Ctl::signed_in(&w, "admin.in").await;
    let new_password = [("LIAISON_NEW_PASSWORD", "a temporary passphrase 1")];

    // Users: add, list, roles, rename, disable, enable.
    let added = admin
        .run_with_env(
            &[
                "-o",
                "json",
                "admin",
                "user",
                "add",
                "new.officer",
                "--role",
                "officer",
                "--display-name",
                "New Officer",
            ],
            &new_password,
        )
        .await
        .ok()
        .json();
    assert_eq!(added["roles"], serde_json::json!(["ROLE_OFFICER"]));
    let roles = admin
        .run(&[
            "-o",
            "json",
            "admin",
            "user",
            "roles",
            "new.officer",
            "--role",
            "officer,supervisor",
        ])
        .await
        .ok()
        .json();
    assert_eq!(
        roles["roles"],
        serde_json::json!(["ROLE_OFFICER", "ROLE_SUPERVISOR"])
    );
    admin
        .run(&["admin", "user", "rename", "new.officer", "Renamed Officer"])
        .await
        .ok();
    let disabled = admin
        .run(&["admin", "user", "disable", "new.officer"])
        .await
        .ok();
    assert_eq!(disabled.field("State"), "disabled");
    let list = admin.run(&["admin", "user", "list"]).await.ok();
    assert!(!list.stdout.contains("new.officer"));
    let list = admin
        .run(&["admin", "user", "list", "--include-disabled"])
        .await
        .ok();
    assert!(list.stdout.contains("Renamed Officer"), "{}", list.stdout);
    admin
        .run(&["admin", "user", "enable", added["id"].as_str().unwrap()])
        .await
        .ok();
    admin
        .run(&["admin", "user", "disable", "nobody.here"])
        .await
        .failed(5);

    // A reset password must be changed before anything else.
    admin
        .run_with_env(
            &["admin", "user", "reset-password", "new.officer"],
            &[("LIAISON_NEW_PASSWORD", "reset by the admin 22")],
        )
        .await
        .ok();
    let newcomer = Ctl::new(format!("http://{}", w.server.addr));
    let signed_in = newcomer
        .login("new.officer", "reset by the admin 22")
        .await
        .ok();
    assert!(
        signed_in.stdout.contains("password change"),
        "{}",
        signed_in.stdout
    );
    let out = newcomer.run(&["queue", "mine"]).await.failed(7);
    assert!(
        out.stderr.contains("liaisonctl password change"),
        "{}",
        out.stderr
    );
    newcomer
        .run_with_env(
            &["password", "change"],
            &[
                ("LIAISON_PASSWORD", "reset by the admin 22"),
                ("LIAISON_NEW_PASSWORD", "my very own passphrase"),
            ],
        )
        .await
        .ok();
    let me = newcomer.run(&["-o", "json", "whoami"]).await.ok().json();
    assert_eq!(me["user"]["display_name"], "Renamed Officer");
    assert_eq!(newcomer.session()["user_id"], me["user"]["id"]);
    newcomer.run(&["queue", "mine"]).await.ok();

    // Channels: suspend and resume the active one; propose one that the partner approves.
    let suspended = admin
        .run(&["admin", "channel", "suspend", &w.channel.id])
        .await
        .ok();
    assert_eq!(suspended.field("Status"), "suspended");
    let officer = Ctl::signed_in(&w, "officer.in").await;
    officer
        .run(&[
            "case",
            "file",
            "--category",
            "drugs",
            "--priority",
            "urgent",
            "--title",
            "Blocked",
            "--summary",
            "The channel is suspended.",
        ])
        .await
        .failed(2);
    officer
        .run(&[
            "case",
            "file",
            "--channel",
            &w.channel.id,
            "--category",
            "drugs",
            "--priority",
            "urgent",
            "--title",
            "Blocked",
            "--summary",
            "The channel is suspended.",
        ])
        .await
        .failed(7);
    let resumed = admin
        .run(&["admin", "channel", "resume", &w.channel.id])
        .await
        .ok();
    assert_eq!(resumed.field("Status"), "active");
    w.server.user("US-FBI", "admin.us", &[Role::Admin]).await;
    let admin_us = Ctl::signed_in(&w, "admin.us").await;
    let proposed = admin
        .run(&[
            "-o",
            "json",
            "admin",
            "channel",
            "propose",
            "--partner",
            "US-FBI",
            "--category",
            "cyber",
        ])
        .await
        .ok()
        .json();
    assert_eq!(proposed["status"], "CHANNEL_STATUS_PROPOSED");
    let channel_id = proposed["id"].as_str().unwrap();
    let approved = admin_us
        .run(&["-o", "json", "admin", "channel", "approve", channel_id])
        .await
        .ok()
        .json();
    assert_eq!(approved["status"], "CHANNEL_STATUS_ACTIVE");
    let channels = admin
        .run(&[
            "-o", "json", "admin", "channel", "list", "--status", "active",
        ])
        .await
        .ok()
        .json();
    assert_eq!(channels["channels"].as_array().unwrap().len(), 2);

    // The directory, for anyone signed in.
    let agencies = officer
        .run(&["-o", "json", "directory", "agencies"])
        .await
        .ok()
        .json();
    assert_eq!(agencies["agencies"].as_array().unwrap().len(), 3);
    let channel = officer
        .run(&["directory", "channel", &w.channel.id])
        .await
        .ok();
    assert_eq!(channel.field("Partner"), "CA-RCMP");
    let keys = officer
        .run(&["-o", "json", "directory", "keys"])
        .await
        .ok()
        .json();
    assert_eq!(keys["keys"][0]["kty"], "OKP");

    // The audit log: query, export, verify, and a kept checkpoint proven later.
    let auditor = Ctl::signed_in(&w, "auditor.in").await;
    let denied = auditor
        .run(&[
            "-o",
            "json",
            "audit",
            "query",
            "--outcome",
            "failed",
            "--method",
            "CaseService/FileReferral",
            "--since",
            "1h",
        ])
        .await
        .ok()
        .json();
    assert_eq!(denied["entries"][0]["actor_username"], "officer.in");
    assert_eq!(denied["entries"][0]["outcome"], "AUDIT_OUTCOME_FAILED");
    let export = auditor.dir().join("export.ndjson");
    auditor
        .run(&["audit", "export", "--out", export.to_str().unwrap()])
        .await
        .ok();
    let exported = std::fs::read_to_string(&export).unwrap();
    let sequences: Vec<i64> = exported
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["sequence"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(sequences.len() > 10);
    assert!(sequences.windows(2).all(|p| p[0] < p[1]), "oldest first");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&export).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let verified = auditor
        .run(&["-o", "json", "audit", "verify"])
        .await
        .ok()
        .json();
    assert_eq!(verified["ok"], true);
    liaison_server::audit::checkpoint_head(
        &w.server.state.db,
        &w.server.state.keys.current(),
        w.server.state.clock.now(),
    )
    .await
    .unwrap();
    let kept = auditor.dir().join("checkpoint.json");
    let checkpoint = auditor
        .run(&["audit", "checkpoint", "--out", kept.to_str().unwrap()])
        .await
        .ok();
    assert!(checkpoint.stdout.contains("Signature"));
    officer.run(&["queue", "outgoing"]).await.ok();
    let proven = auditor
        .run(&["audit", "verify", "--checkpoint", kept.to_str().unwrap()])
        .await
        .ok();
    assert!(proven.stdout.contains("intact"), "{}", proven.stdout);
    w.stop().await;
}

/// Mutual TLS: the certificates given at sign-in are remembered for the commands after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_mutual_tls() {
    use crate::common::TestServer;
    use crate::transport::{pki, write};

    let pki = pki();
    let files = tempfile::tempdir().unwrap();
    let file = |name: &str, contents: &str| write(files.path(), name, contents);
    let (cert, key, ca) = (
        file("server.pem", &pki.server_cert),
        file("server.key", &pki.server_key),
        file("ca.pem", &pki.ca),
    );
    let (client_cert, client_key) = (
        file("client.pem", &pki.client_cert),
        file("client.key", &pki.client_key),
    );
    let server = TestServer::start_with(
        &Backend::Sqlite,
        None,
        |config| {
            config.tls_cert = Some(cert);
            config.tls_key = Some(key);
            config.client_ca = Some(ca.clone());
        },
        None,
    )
    .await;
    liaison_server::ops::add_agency(&server.state, "IN-NCB", "Narcotics Control Bureau", "IN")
        .await
        .unwrap();
    let roles = [Role::Officer].into_iter().collect();
    liaison_server::ops::add_user(
        &server.state,
        "IN-NCB",
        "officer.in",
        "officer.in",
        roles,
        PASSWORD,
    )
    .await
    .unwrap();
    let url = format!("https://localhost:{}", server.addr.port());

    let ctl = Ctl::new(url.clone());
    let (ca, client_cert, client_key) = (
        ca.to_str().unwrap(),
        client_cert.to_str().unwrap(),
        client_key.to_str().unwrap(),
    );
    ctl.run_with_env(
        &[
            "login",
            "--username",
            "officer.in",
            "--ca-cert",
            ca,
            "--client-cert",
            client_cert,
            "--client-key",
            client_key,
        ],
        &[("LIAISON_PASSWORD", PASSWORD)],
    )
    .await
    .ok();
    let me = ctl.json(&["whoami"]).await;
    assert_eq!(me["user"]["username"], "officer.in");

    // Without a client certificate the server refuses the connection; plaintext gets nowhere.
    let anonymous = Ctl::new(url);
    let out = anonymous
        .run_with_env(
            &["login", "--username", "officer.in", "--ca-cert", ca],
            &[("LIAISON_PASSWORD", PASSWORD)],
        )
        .await
        .failed(8);
    assert!(out.stderr.contains("--client-cert"), "{}", out.stderr);
    let plaintext = Ctl::new(format!("http://localhost:{}", server.addr.port()));
    plaintext.login("officer.in", PASSWORD).await.failed(8);
    // TLS options need an https:// server.
    plaintext
        .run_with_env(
            &["login", "--username", "officer.in", "--ca-cert", ca],
            &[("LIAISON_PASSWORD", PASSWORD)],
        )
        .await
        .failed(2);
    server.stop().await;
}

#[tokio::test]
async fn completions_for_each_shell() {
    let ctl = Ctl::new("http://127.0.0.1:1".into());
    for (shell, expected) in [
        ("bash", "_liaisonctl()"),
        ("zsh", "#compdef liaisonctl"),
        ("fish", "complete -c liaisonctl"),
    ] {
        let out = ctl.run(&["completions", shell]).await.ok();
        assert!(out.stdout.contains(expected), "{shell}:\n{}", out.stdout);
        assert!(out.stdout.contains("request-info"), "{shell}");
        assert!(out.stdout.contains("in-progress"), "{shell}: value enums");
    }
}

async fn acknowledge(w: &World, case: &pb::Case) -> pb::Case {
    w.sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn a_supervisor_watches_the_incoming_queue(backend: Backend) {
    let w = World::new(backend).await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let mut everything = sup_ca
        .watch(&[
            "-o",
            "json",
            "queue",
            "watch",
            "incoming",
            "--max-events",
            "4",
        ])
        .await;
    let mut urgent_only = sup_ca
        .watch(&[
            "-o",
            "json",
            "queue",
            "watch",
            "incoming",
            "--priority",
            "urgent",
            "--max-events",
            "1",
        ])
        .await;

    let routine = w
        .file(&w.officer_in, "Routine matter", pb::Priority::Routine)
        .await;
    let urgent = w
        .file(&w.officer_in, "Precursor shipment", pb::Priority::Urgent)
        .await;
    let acked = acknowledge(&w, &routine).await;
    w.sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: acked.id.clone(),
            assignee_id: w.officer_ca.user_id.clone(),
            etag: acked.etag,
        })
        .await
        .unwrap();

    let mut lines = Vec::new();
    for _ in 0..4 {
        lines.push(everything.json_line().await);
    }
    // The case comes as it is at delivery, which may be after later changes: status not certain.
    assert_event(&lines[0], "CASE_EVENT_KIND_FILED", &routine, None);
    assert_eq!(lines[0]["event"]["to_status"], "CASE_STATUS_FILED");
    assert_eq!(lines[0]["event"]["actor_id"], w.officer_in.user_id.as_str());
    assert_event(
        &lines[1],
        "CASE_EVENT_KIND_FILED",
        &urgent,
        Some("CASE_STATUS_FILED"),
    );
    assert_eq!(lines[1]["case"]["priority"], "PRIORITY_URGENT");
    assert_event(&lines[2], "CASE_EVENT_KIND_ACKNOWLEDGED", &routine, None);
    assert_eq!(lines[2]["event"]["from_status"], "CASE_STATUS_FILED");
    assert_event(
        &lines[3],
        "CASE_EVENT_KIND_ASSIGNED",
        &routine,
        Some("CASE_STATUS_IN_PROGRESS"),
    );
    assert_eq!(
        lines[3]["event"]["assignee_id"],
        w.officer_ca.user_id.as_str()
    );
    assert_eq!(
        lines[3]["case"]["assignee_id"],
        w.officer_ca.user_id.as_str()
    );
    let tokens: std::collections::HashSet<&str> = lines
        .iter()
        .map(|l| l["resume_token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens.len(), 4, "each event has its own place");
    // After --max-events it exits 0, printing nothing more; in JSON mode standard error is NDJSON.
    let done = everything.finish().await.ok();
    assert_eq!(done.stdout, "");
    for line in done.stderr.lines().filter(|l| !l.is_empty()) {
        let notice: Value = serde_json::from_str(line).unwrap();
        assert_eq!(notice["watching"]["view"], "CASE_VIEW_INCOMING", "{line}");
    }

    // The filters are the listing's: only the urgent case.
    let line = urgent_only.json_line().await;
    assert_event(
        &line,
        "CASE_EVENT_KIND_FILED",
        &urgent,
        Some("CASE_STATUS_FILED"),
    );
    urgent_only.finish().await.ok();

    // Auditors may not watch cases: refused at once, exiting by status.
    let auditor = Ctl::signed_in(&w, "auditor.ca").await;
    auditor.run(&["queue", "watch", "all"]).await.failed(4);
    w.stop().await;
}

async fn a_watch_resumes_where_it_stopped(backend: Backend) {
    let w = World::new(backend).await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;

    // In a table, one aligned line per event; Ctrl-C ends it with exit 0 and says how to resume.
    let mut watching = sup_ca.watch(&["queue", "watch", "incoming"]).await;
    let first = w
        .file(&w.officer_in, "First referral", pb::Priority::Urgent)
        .await;
    let header = watching.line().await;
    let line = watching.line().await;
    for (column, value) in [
        ("REFERENCE", first.reference.as_str()),
        ("EVENT", "filed"),
        ("CHANGE", "→ filed"),
        ("BY", "officer.in (IN-NCB)"),
        ("CASE", "First referral"),
    ] {
        // In characters: the arrow takes three bytes and one column.
        let at = |text: &str, needle: &str| text[..position(text, needle)].chars().count();
        assert_eq!(
            at(&header, column),
            at(&line, value),
            "{column} is not aligned:\n{header}\n{line}"
        );
    }
    assert!(header.starts_with("TIME (UTC)"), "{header}");
    watching.interrupt();
    let stopped = watching.finish().await.ok();
    assert_eq!(stopped.stdout, "", "nothing after the event");
    let token = stopped
        .stderr
        .lines()
        .find_map(|l| l.split_once("--resume "))
        .map(|(_, token)| token.trim().to_string())
        .unwrap_or_else(|| panic!("no resume token in:\n{}", stopped.stderr));

    // While nobody watches, more happens; the resumed watch gets exactly that, then what follows.
    let second = w
        .file(&w.officer_in, "Second referral", pb::Priority::Routine)
        .await;
    acknowledge(&w, &first).await;
    let mut resumed = sup_ca
        .watch(&[
            "-o",
            "json",
            "queue",
            "watch",
            "incoming",
            "--resume",
            &token,
            "--max-events",
            "3",
        ])
        .await;
    let missed_filing = resumed.json_line().await;
    assert_event(
        &missed_filing,
        "CASE_EVENT_KIND_FILED",
        &second,
        Some("CASE_STATUS_FILED"),
    );
    let missed_ack = resumed.json_line().await;
    assert_event(
        &missed_ack,
        "CASE_EVENT_KIND_ACKNOWLEDGED",
        &first,
        Some("CASE_STATUS_ACKNOWLEDGED"),
    );
    let third = w
        .file(&w.officer_in, "Third referral", pb::Priority::Routine)
        .await;
    assert_event(
        &resumed.json_line().await,
        "CASE_EVENT_KIND_FILED",
        &third,
        Some("CASE_STATUS_FILED"),
    );
    resumed.finish().await.ok();

    // Any line's resume_token goes on just after that line.
    let from_line = missed_ack["resume_token"].as_str().unwrap();
    let run = sup_ca
        .run(&[
            "-o",
            "json",
            "queue",
            "watch",
            "incoming",
            "--resume",
            from_line,
            "--max-events",
            "1",
        ])
        .await
        .ok();
    let line: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_event(
        &line,
        "CASE_EVENT_KIND_FILED",
        &third,
        Some("CASE_STATUS_FILED"),
    );

    // A token that is not one exits 6, naming the flag's field.
    let run = sup_ca
        .run(&["queue", "watch", "incoming", "--resume", "forged"])
        .await
        .failed(6);
    assert!(run.stderr.contains("resume_token"), "{}", run.stderr);
    w.stop().await;
}

async fn a_watch_outlives_its_access_token(backend: Backend) {
    // A heartbeat every second: the server notices an expired token within a second.
    let w = World::with_config(backend, |config| config.watch_heartbeat_seconds = 1).await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let before = sup_ca.session();
    let mut watching = sup_ca
        .watch(&[
            "-o",
            "json",
            "queue",
            "watch",
            "incoming",
            "--max-events",
            "3",
        ])
        .await;
    let early = w
        .file(&w.officer_in, "Before expiry", pb::Priority::Routine)
        .await;
    assert_event(
        &watching.json_line().await,
        "CASE_EVENT_KIND_FILED",
        &early,
        Some("CASE_STATUS_FILED"),
    );

    // The server's clock passes the access token's lifetime. The stream re-authenticates before
    // every read, so what is filed now can only arrive on a stream opened with a fresh token.
    w.server.clock.advance(chrono::Duration::minutes(16));
    let officer = w.server.fresh(&w.officer_in).await;
    let late = w
        .file(&officer, "After expiry", pb::Priority::Routine)
        .await;
    let later = w.file(&officer, "Later", pb::Priority::Routine).await;
    assert_event(
        &watching.json_line().await,
        "CASE_EVENT_KIND_FILED",
        &late,
        Some("CASE_STATUS_FILED"),
    );
    assert_event(
        &watching.json_line().await,
        "CASE_EVENT_KIND_FILED",
        &later,
        Some("CASE_STATUS_FILED"),
    );
    let done = watching.finish().await.ok();
    assert_eq!(done.stdout, "");
    assert!(
        !done.stderr.contains("reconnecting"),
        "a refresh is routine, not a failure:\n{}",
        done.stderr
    );
    let after = sup_ca.session();
    assert_ne!(after["access_token"], before["access_token"]);
    assert_ne!(after["refresh_token"], before["refresh_token"]);
    w.stop().await;
}

async fn a_watch_reconnects_after_the_connection_drops(backend: Backend) {
    let w = World::new(backend).await;
    let proxy = crate::outage::Proxy::start(w.server.addr.to_string()).await;
    let sup_ca = Ctl::new(format!("http://{}", proxy.addr));
    sup_ca.login("sup.ca", PASSWORD).await.ok();
    let mut watching = sup_ca
        .watch(&[
            "-o",
            "json",
            "queue",
            "watch",
            "incoming",
            "--max-events",
            "3",
        ])
        .await;
    let before = w
        .file(&w.officer_in, "Before the cut", pb::Priority::Routine)
        .await;
    assert_event(
        &watching.json_line().await,
        "CASE_EVENT_KIND_FILED",
        &before,
        Some("CASE_STATUS_FILED"),
    );

    // The connection drops: the watch says it will try again, with a pause, and does.
    proxy.cut();
    let during = w
        .file(&w.officer_in, "During the cut", pb::Priority::Routine)
        .await;
    watching.says("reconnecting").await;
    proxy.restore();
    watching.says("watching").await;
    let after = w
        .file(&w.officer_in, "After the cut", pb::Priority::Routine)
        .await;
    assert_event(
        &watching.json_line().await,
        "CASE_EVENT_KIND_FILED",
        &during,
        Some("CASE_STATUS_FILED"),
    );
    assert_event(
        &watching.json_line().await,
        "CASE_EVENT_KIND_FILED",
        &after,
        Some("CASE_STATUS_FILED"),
    );
    let done = watching.finish().await.ok();
    assert_eq!(done.stdout, "");
    let notice: Value = serde_json::from_str(
        done.stderr
            .lines()
            .find(|l| l.contains("reconnecting"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(notice["reconnecting"]["error"]["exit_code"], 8, "{notice}");
    assert_eq!(notice["reconnecting"]["attempt"], 2, "{notice}");
    w.stop().await;
    proxy.accept.abort();
}

async fn a_legal_basis_is_agreed_then_cited(backend: Backend) {
    let w = World::new(backend).await;
    let admin_in = Ctl::signed_in(&w, "admin.in").await;
    let admin_ca = Ctl::signed_in(&w, "admin.ca").await;
    let officer_in = Ctl::signed_in(&w, "officer.in").await;
    let channel = w.channel.id.as_str();
    let proposed = admin_in
        .run(&[
            "admin",
            "channel",
            "term",
            "propose",
            channel,
            "--code",
            "CA-IN-MLAT",
            "--title",
            "Canada-India Mutual Legal Assistance Treaty",
            "--reference",
            "CTS 1998/13",
        ])
        .await
        .ok();
    assert_eq!(proposed.field("Status"), "proposed");
    assert!(
        proposed.field("Next").contains("term approve"),
        "{}",
        proposed.stdout
    );
    let id = proposed.field("ID");
    // The proposing side cannot agree its own proposal.
    admin_in
        .run(&["admin", "channel", "term", "approve", &id])
        .await
        .failed(4);
    let agreed = admin_ca
        .run(&[
            "admin",
            "channel",
            "term",
            "approve",
            &id,
            "--reason",
            "As signed",
        ])
        .await
        .ok();
    assert_eq!(agreed.field("Status"), "agreed");
    let listed = officer_in.run(&["directory", "terms", channel]).await.ok();
    assert!(listed.stdout.contains("CA-IN-MLAT"), "{}", listed.stdout);
    assert!(listed.stdout.contains("agreed"), "{}", listed.stdout);

    let file = |basis: Option<&'static str>| {
        let mut args = vec![
            "case",
            "file",
            "--channel",
            channel,
            "--category",
            "drugs",
            "--priority",
            "routine",
            "--title",
            "Subscriber of +1 604 555 0100",
            "--summary",
            "The number ordered the precursor shipment.",
        ];
        if let Some(basis) = basis {
            args.extend(["--basis", basis]);
        }
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let officer_in = &officer_in;
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            officer_in.run(&refs).await
        }
    };
    let refused = run(file(None)).await.failed(6);
    assert!(
        refused.stderr.contains("legal_basis_id"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("CA-IN-MLAT"), "{}", refused.stderr);
    let unknown = run(file(Some("POLICE-MOU"))).await.failed(5);
    assert!(
        unknown.stderr.contains("agreed: CA-IN-MLAT"),
        "{}",
        unknown.stderr
    );
    let filed = run(file(Some("ca-in-mlat"))).await.ok();
    assert_eq!(
        filed.field("Legal basis"),
        "CA-IN-MLAT — Canada-India Mutual Legal Assistance Treaty"
    );

    // Retired, it is listed only with --all, and the case still names it.
    let retired = admin_in
        .run(&[
            "admin",
            "channel",
            "term",
            "retire",
            &id,
            "--reason",
            "Superseded",
        ])
        .await
        .ok();
    assert_eq!(retired.field("Status"), "retired");
    let listed = officer_in.run(&["directory", "terms", channel]).await.ok();
    assert!(!listed.stdout.contains("CA-IN-MLAT"), "{}", listed.stdout);
    let all = officer_in
        .json(&["directory", "terms", channel, "--all"])
        .await;
    let mlat = all["terms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "CA-IN-MLAT")
        .unwrap();
    assert_eq!(mlat["status"], "TERM_STATUS_RETIRED");
    assert_eq!(mlat["retirement_reason"], "Superseded");
    let shown = officer_in
        .run(&["case", "show", &filed.field("Reference")])
        .await
        .ok();
    assert!(
        shown.field("Legal basis").starts_with("CA-IN-MLAT"),
        "{}",
        shown.stdout
    );
    w.stop().await;
}

async fn a_four_eyes_release_and_decline(backend: Backend) {
    let w = World::new(backend).await;
    w.server
        .user(
            "IN-NCB",
            "sup.in2",
            &[liaison_server::model::Role::Supervisor],
        )
        .await;
    w.server
        .user(
            "CA-RCMP",
            "sup.ca2",
            &[liaison_server::model::Role::Supervisor],
        )
        .await;
    let admin_in = Ctl::signed_in(&w, "admin.in").await;
    let admin_ca = Ctl::signed_in(&w, "admin.ca").await;
    let officer_in = Ctl::signed_in(&w, "officer.in").await;
    let sup_in = Ctl::signed_in(&w, "sup.in").await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let sup_ca2 = Ctl::signed_in(&w, "sup.ca2").await;
    let channel = w.channel.id.as_str();
    for rule in ["FOUR_EYES_RELEASE", "FOUR_EYES_DECLINE"] {
        let proposed = admin_in
            .run(&[
                "admin", "channel", "term", "propose", channel, "--kind", "rule", "--code", rule,
            ])
            .await
            .ok();
        admin_ca
            .run(&["admin", "channel", "term", "approve", &proposed.field("ID")])
            .await
            .ok();
    }
    let rules = officer_in.run(&["directory", "terms", channel]).await.ok();
    assert!(
        rules.stdout.contains("FOUR_EYES_DECLINE"),
        "{}",
        rules.stdout
    );

    let filed = officer_in
        .run(&[
            "case",
            "file",
            "--channel",
            channel,
            "--category",
            "drugs",
            "--priority",
            "urgent",
            "--title",
            "Held for release",
            "--summary",
            "Courier consignment of precursors.",
        ])
        .await
        .ok();
    assert!(
        filed.field("Status").starts_with("pending-release"),
        "{}",
        filed.stdout
    );
    let reference = filed.field("Reference");
    sup_ca.run(&["case", "show", &reference]).await.failed(5);
    let waiting = sup_in.run(&["queue", "approvals"]).await.ok();
    assert!(waiting.stdout.contains(&reference), "{}", waiting.stdout);
    assert!(waiting.stdout.contains("release"), "{}", waiting.stdout);
    // The filer cannot release it; a second supervisor does.
    let refused = officer_in
        .run(&["case", "release", &reference])
        .await
        .failed(4);
    assert!(
        refused
            .stderr
            .contains("the approver cannot be the requester"),
        "{}",
        refused.stderr
    );
    let released = sup_in.run(&["case", "release", &reference]).await.ok();
    assert!(
        released.stdout.contains("Approved the release"),
        "{}",
        released.stdout
    );
    let seen = sup_ca.run(&["case", "show", &reference]).await.ok();
    assert_eq!(seen.field("Status"), "filed");

    // A decline is proposed for a second supervisor, who approves it from the queue.
    let proposed = sup_ca
        .run(&[
            "case",
            "decline",
            &reference,
            "--ground",
            "not-available",
            "--reason",
            "No record of the consignee.",
        ])
        .await
        .ok();
    assert!(
        proposed.stdout.contains("FOUR_EYES_DECLINE"),
        "{}",
        proposed.stdout
    );
    assert!(
        proposed.stdout.contains("case approve"),
        "{}",
        proposed.stdout
    );
    assert_eq!(
        sup_ca
            .run(&["case", "show", &reference])
            .await
            .ok()
            .field("Status"),
        "filed"
    );
    let queue = sup_ca2.json(&["queue", "approvals"]).await;
    let moves = queue["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0]["action"], "MOVE_ACTION_DECLINE");
    assert_eq!(moves[0]["ground"], "REFUSAL_GROUND_NOT_AVAILABLE");
    let id = moves[0]["id"].as_str().unwrap().to_string();
    sup_ca.run(&["case", "approve", &id]).await.failed(4);
    sup_ca2.run(&["case", "approve", &id]).await.ok();
    let declined = officer_in.run(&["case", "show", &reference]).await.ok();
    assert_eq!(declined.field("Status"), "declined");
    let history = officer_in.json(&["case", "timeline", &reference]).await;
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "CASE_EVENT_KIND_FILED",
            "CASE_EVENT_KIND_MOVE_PROPOSED",
            "CASE_EVENT_KIND_MOVE_APPROVED",
            "CASE_EVENT_KIND_RELEASED",
            "CASE_EVENT_KIND_DECLINED",
        ],
        "India sees its own four eyes, and Canada's decline but not Canada's deliberation"
    );
    w.stop().await;
}

async fn a_request_is_answered_item_by_item(backend: Backend) {
    let w = World::new(backend).await;
    let officer_in = Ctl::signed_in(&w, "officer.in").await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let officer_ca = Ctl::signed_in(&w, "officer.ca").await;
    let filed = officer_in
        .run(&[
            "case",
            "file",
            "--channel",
            &w.channel.id,
            "--category",
            "drugs",
            "--priority",
            "priority",
            "--title",
            "Two things",
            "--summary",
            "The shipment of 12 November.",
            "--item",
            "Subscriber of +1 604 555 0100",
            "--item",
            "The consignee of waybill 1234",
        ])
        .await
        .ok();
    let items = filed.stdout.clone();
    assert!(
        items.contains("1. Subscriber of +1 604 555 0100 — unanswered"),
        "{items}"
    );
    assert!(
        items.contains("2. The consignee of waybill 1234 — unanswered"),
        "{items}"
    );
    let reference = filed.field("Reference");
    sup_ca.run(&["case", "ack", &reference]).await.ok();
    sup_ca
        .run(&["case", "assign", &reference, "--to", "officer.ca"])
        .await
        .ok();
    let early = officer_ca
        .run(&["case", "close", &reference, "--resolution", "actioned"])
        .await
        .failed(7);
    assert!(early.stderr.contains("items 1, 2"), "{}", early.stderr);
    let first = officer_ca
        .run(&[
            "case",
            "answer",
            &reference,
            "--item",
            "1",
            "--outcome",
            "answered",
            "--text",
            "A prepaid SIM bought in Surrey, BC.",
        ])
        .await
        .ok();
    assert!(
        first.stdout.contains("Still to answer: 2."),
        "{}",
        first.stdout
    );
    let second = officer_ca
        .run(&[
            "case",
            "answer",
            &reference,
            "--item",
            "2",
            "--outcome",
            "refused",
            "--ground",
            "not-available",
            "--text",
            "The waybill is not in the carrier's records.",
        ])
        .await
        .ok();
    assert!(second.stdout.contains("may close"), "{}", second.stdout);
    officer_ca
        .run(&["case", "close", &reference, "--resolution", "actioned"])
        .await
        .ok();
    let shown = officer_in.run(&["case", "show", &reference]).await.ok();
    assert!(
        shown
            .stdout
            .contains("2. The consignee of waybill 1234 — refused (not-available): The waybill"),
        "{}",
        shown.stdout
    );
    let timeline = officer_in.run(&["case", "timeline", &reference]).await.ok();
    assert!(
        timeline.stdout.contains("item 2: refused (not-available)"),
        "{}",
        timeline.stdout
    );
    assert!(
        timeline.stdout.contains("1 answered, 2 refused"),
        "{}",
        timeline.stdout
    );
    w.stop().await;
}

async fn deadlines_show_in_both_sides_hours(backend: Backend) {
    let w = World::new(backend).await;
    let admin_in = Ctl::signed_in(&w, "admin.in").await;
    let set = admin_in
        .run(&[
            "admin",
            "agency",
            "--time-zone",
            "Asia/Kolkata",
            "--holiday",
            "2027-01-26",
        ])
        .await
        .ok();
    assert!(set.stdout.contains("Asia/Kolkata"), "{}", set.stdout);
    let admin_ca = Ctl::signed_in(&w, "admin.ca").await;
    admin_ca
        .run(&["admin", "agency", "--time-zone", "America/Vancouver"])
        .await
        .ok();
    // A zone the tz database does not name is refused, naming the field.
    let refused = admin_ca
        .run(&["admin", "agency", "--time-zone", "Pacific Time"])
        .await
        .failed(6);
    assert!(refused.stderr.contains("time_zone"), "{}", refused.stderr);
    let agencies = admin_ca.json(&["directory", "agencies"]).await;
    let zones: Vec<&str> = agencies["agencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["time_zone"].as_str().unwrap())
        .collect();
    assert!(zones.contains(&"America/Vancouver") && zones.contains(&"Asia/Kolkata"));

    // Both sides read a due time in their own hours and the other side's.
    let case = w.file(&w.officer_in, "Urgent", pb::Priority::Urgent).await;
    let sup_ca = Ctl::signed_in(&w, "sup.ca").await;
    let shown = sup_ca.run(&["case", "show", &case.reference]).await.ok();
    for field in ["Ack due", "Answer"] {
        let due = shown.field(field);
        let (pst, ist) = (due.find("PST").unwrap(), due.find("IST").unwrap());
        assert!(pst < ist, "the reader's zone first: {due}");
    }
    let officer_in = Ctl::signed_in(&w, "officer.in").await;
    let theirs = officer_in
        .run(&["case", "show", &case.reference])
        .await
        .ok();
    let due = theirs.field("Ack due");
    assert!(due.find("IST").unwrap() < due.find("PST").unwrap(), "{due}");
    let json = officer_in.json(&["case", "show", &case.reference]).await;
    assert_eq!(json["time_zones"]["originating"], "Asia/Kolkata");
    assert_eq!(json["time_zones"]["receiving"], "America/Vancouver");

    // The figures, as a table, JSON and a CSV, at the checkpoint the answer names.
    w.server.sealed().await;
    let csv = sup_ca.dir().join("figures.csv");
    let table = sup_ca
        .run(&["stats", "--from", "1d", "--csv", csv.to_str().unwrap()])
        .await
        .ok();
    assert!(
        table.stdout.contains("computed at checkpoint"),
        "{}",
        table.stdout
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("category_code,kind,received,"),
        "{text}"
    );
    assert!(lines[1].starts_with("DRUGS,request,1,"), "{text}");
    let figures = sup_ca.json(&["stats", "--from", "1d"]).await;
    assert_eq!(figures["total"]["received"], 1);
    let seq = figures["checkpoint"]["sequence"]
        .as_i64()
        .unwrap()
        .to_string();
    let again = sup_ca
        .json(&["stats", "--from", "1d", "--at-checkpoint", &seq])
        .await;
    assert_eq!(again["checkpoint"], figures["checkpoint"]);
    w.stop().await;
}
