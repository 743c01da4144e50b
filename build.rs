//! The integration tests' PostgreSQL half runs only where a PostgreSQL is configured: without
//! `LIAISON_TEST_POSTGRES_URL` when the tests are built, those tests are marked ignored, so a run
//! that skipped them says so in its summary ("N ignored") instead of counting them as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(liaison_test_postgres)");
    println!("cargo:rerun-if-env-changed=LIAISON_TEST_POSTGRES_URL");
    if std::env::var("LIAISON_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=liaison_test_postgres");
    }
}
