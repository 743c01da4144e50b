//! `liaisond` as an operator meets it: the setup commands, serving with no configuration at all, and
//! a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use liaison_server::pb;

use crate::common::PASSWORD;

fn liaisond(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_liaisond"));
    command
        .current_dir(data_dir)
        .env_remove("LIAISON_DATABASE_URL")
        .env_remove("LIAISON_PASSWORD")
        .env("LIAISON_LOG_FORMAT", "json");
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_then_serve_on_sqlite_with_no_setup() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| liaisond(dir.path()).args(args).output().unwrap();

    let added = run(&[
        "agency",
        "add",
        "--code",
        "IN-NCB",
        "--name",
        "Narcotics Control Bureau",
        "--country",
        "IN",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(String::from_utf8_lossy(&added.stdout).contains("IN-NCB"));

    let bad = run(&[
        "agency",
        "add",
        "--code",
        "in ncb",
        "--name",
        "x",
        "--country",
        "India",
    ]);
    assert!(!bad.status.success());
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(
        message.contains("code:") && message.contains("country:"),
        "{message}"
    );

    // The password comes from LIAISON_PASSWORD ...
    let user = liaisond(dir.path())
        .args([
            "user",
            "add",
            "--agency",
            "IN-NCB",
            "--username",
            "admin.in",
            "--role",
            "ADMIN",
        ])
        .env("LIAISON_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        user.status.success(),
        "{}",
        String::from_utf8_lossy(&user.stderr)
    );
    // ... or from standard input, and is checked like any other.
    let mut child = liaisond(dir.path())
        .args([
            "user",
            "add",
            "--agency",
            "IN-NCB",
            "--username",
            "short.pw",
            "--role",
            "OFFICER",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"too short\n")
        .unwrap();
    let short = child.wait_with_output().unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("password"));

    // Serve: a data directory and a port are all it needs.
    let mut server = liaisond(dir.path())
        .env("LIAISON_LISTEN", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited before serving").unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        if json["fields"]["message"] == "liaisond serving" {
            break json["fields"]["addr"].as_str().unwrap().to_string();
        }
    };
    let logs = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let login = pb::auth_service_client::AuthServiceClient::new(channel)
        .login(pb::LoginRequest {
            username: "admin.in".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!login.access_token.is_empty());

    // The health subcommand the container images use.
    let health = liaisond(dir.path())
        .args(["health", "--address", &addr])
        .output()
        .unwrap();
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&health.stdout).trim(), "SERVING");

    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = server.wait().unwrap();
    assert!(exit.success(), "liaisond exited with {exit:?}");
    // A server that stops signs the chain's head first: nothing it wrote is left unsigned.
    {
        use sea_orm::ConnectionTrait;
        let url = format!(
            "sqlite://{}?mode=ro",
            dir.path().join("data/liaison.db").display()
        );
        let db = sea_orm::Database::connect(url).await.unwrap();
        let one = |sql: &'static str| {
            let db = &db;
            async move {
                db.query_one(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<i64>(0)
                .unwrap()
            }
        };
        let head = one("SELECT MAX(seq) FROM audit_entries").await;
        let signed = one("SELECT MAX(seq) FROM audit_checkpoints").await;
        assert!(head > 0);
        assert_eq!(signed, head, "the head is signed when the server stops");
        db.close().await.unwrap();
    }

    let down = liaisond(dir.path())
        .args(["health", "--address", &addr])
        .output()
        .unwrap();
    assert!(!down.status.success(), "a stopped server is not healthy");

    let logs = logs.join().unwrap().join("\n");
    assert!(
        logs.contains("liaison.v1.AuthService/Login"),
        "one line per call: {logs}"
    );
    assert!(!logs.contains(PASSWORD), "a password reached the logs");
    assert!(
        !logs.contains(&login.access_token),
        "a token reached the logs"
    );
    assert!(dir.path().join("data/liaison.db").exists());
    let keys: Vec<_> = std::fs::read_dir(dir.path().join("data/keys"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = std::fs::metadata(&keys[0]).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            key.permissions().mode() & 0o777,
            0o600,
            "the signing key is private"
        );
    }
    assert!(key.len() > 0);
    // The database holds case content: the data directory and the database's files are private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: std::path::PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path().join("data")), 0o700, "the data directory");
        for file in ["liaison.db", "liaison.db-wal", "liaison.db-shm"] {
            let path = dir.path().join("data").join(file);
            if file == "liaison.db" || path.exists() {
                assert_eq!(mode(path), 0o600, "{file}");
            }
        }
    }
}

/// A first start on an empty database says what to do next instead of serving silently; a
/// weak password is refused with the reason; a database SQLite cannot open is named with the
/// cause.
#[test]
fn a_first_start_says_what_to_do_and_problems_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = liaisond(dir.path())
        .env("LIAISON_LISTEN", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    loop {
        let line = lines.next().expect("server exited before serving").unwrap();
        if line.contains("liaisond serving") {
            break;
        }
        said.push(line);
    }
    let said = said.join("\n");
    for step in [
        "no user yet",
        "liaisond agency add --code IN-NCB",
        "liaisond user add --agency IN-NCB --username admin.in --role ADMIN",
        "liaisonctl login --server http://127.0.0.1:",
    ] {
        assert!(said.contains(step), "{step:?} is not in\n{said}");
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let run = |args: &[&str], password: &str| {
        liaisond(dir.path())
            .args(args)
            .env("LIAISON_PASSWORD", password)
            .output()
            .unwrap()
    };
    let added = run(
        &[
            "agency",
            "add",
            "--code",
            "IN-NCB",
            "--name",
            "NCB",
            "--country",
            "IN",
        ],
        "",
    );
    assert!(added.status.success());
    let user = [
        "user",
        "add",
        "--agency",
        "IN-NCB",
        "--username",
        "admin.in",
        "--role",
        "ADMIN",
    ];
    let weak = run(&user, "Password1234!");
    assert!(!weak.status.success());
    let message = String::from_utf8_lossy(&weak.stderr);
    assert!(
        message.contains("password") && message.contains("too easy to guess"),
        "{message}"
    );
    assert!(run(&user, PASSWORD).status.success());

    // A path SQLite cannot open as a database (here a directory): the message names it.
    let not_a_file = dir.path().join("elsewhere.db");
    std::fs::create_dir(&not_a_file).unwrap();
    let opened = liaisond(dir.path())
        .arg("migrate")
        .env(
            "LIAISON_DATABASE_URL",
            format!("sqlite://{}", not_a_file.display()),
        )
        .output()
        .unwrap();
    assert!(!opened.status.success());
    let message = String::from_utf8_lossy(&opened.stderr);
    assert!(
        message.contains("cannot open the SQLite database")
            && message.contains(&not_a_file.display().to_string()),
        "{message}"
    );
}
