//! The integration tests' PostgreSQL half runs only where a PostgreSQL is configured: without
//! `LIAISON_TEST_POSTGRES_URL` when the tests are built, those tests are marked ignored, so a run
//! that skipped them says so in its summary ("N ignored") instead of counting them as passed. The
//! README walk-through's test, which drives a real grpcurl, is built to run the same way when
//! `LIAISON_TEST_GRPCURL` is set (`.ci/run` installs the tools and sets it).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(liaison_test_postgres)");
    println!("cargo::rustc-check-cfg=cfg(liaison_test_grpcurl)");
    println!("cargo:rerun-if-env-changed=LIAISON_TEST_POSTGRES_URL");
    println!("cargo:rerun-if-env-changed=LIAISON_TEST_GRPCURL");
    if std::env::var("LIAISON_TEST_GRPCURL").is_ok_and(|v| !v.is_empty() && v != "0") {
        println!("cargo:rustc-cfg=liaison_test_grpcurl");
    }
    if std::env::var("LIAISON_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=liaison_test_postgres");
    }
}
