//! Compiles the protos in pure Rust (protox), so no system `protoc` is needed.

use std::path::PathBuf;

use prost::Message;

/// The contract lives at the top of the workspace, beside the crates that use it.
const PROTO_ROOT: &str = "../../proto";

const FILES: [&str; 7] = [
    "liaison/v1/types.proto",
    "liaison/v1/auth.proto",
    "liaison/v1/directory.proto",
    "liaison/v1/admin.proto",
    "liaison/v1/case.proto",
    "liaison/v1/audit.proto",
    "liaison/v1/stats.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = FILES.map(|file| format!("{PROTO_ROOT}/{file}"));
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    let fds = protox::compile(&files, [PROTO_ROOT])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Served by the reflection service.
    std::fs::write(out.join("liaison_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
