//! `liaison-bench` as a program: a short run against the bare echo server, which needs no
//! database, answers figures that add up. (Seeding is tested in the workspace's integration tests,
//! tests/it/seed.rs, which run this same binary; `.ci/run` runs every workload against liaisond.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn a_short_echo_run_reports_calls_per_method_and_no_errors() {
    let output = Command::new(env!("CARGO_BIN_EXE_liaison-bench"))
        .args([
            "run",
            "--workload",
            "read",
            "--echo",
            "--seconds",
            "0.3",
            "--warmup",
            "0",
            "--concurrency",
            "2",
            "--cases",
            "10",
            "--audit-entries",
            "10",
            "--json",
        ])
        .output()
        .expect("liaison-bench runs");
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["workload"], "read");
    let methods = report["methods"].as_object().unwrap();
    assert!(methods.contains_key("GetCase") && methods.contains_key("ListCases"));
    let mut total = 0.0;
    for (method, figures) in methods {
        assert!(figures["ok"].as_u64().unwrap() > 0, "{method} made no call");
        assert_eq!(
            figures["failed"], 0,
            "{method} failed: {}",
            figures["errors"]
        );
        assert!(figures["p50_ms"].as_f64().unwrap() <= figures["p99_ms"].as_f64().unwrap());
        total += figures["calls_per_second"].as_f64().unwrap();
    }
    let overall = report["calls_per_second"].as_f64().unwrap();
    assert!(
        (overall - total).abs() <= overall * 0.01,
        "{overall} != {total}"
    );
}
