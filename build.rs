//! Compiles the protos in pure Rust (protox), so no system `protoc` is needed.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/liaison/v1/types.proto",
        "proto/liaison/v1/auth.proto",
        "proto/liaison/v1/directory.proto",
        "proto/liaison/v1/admin.proto",
        "proto/liaison/v1/case.proto",
        "proto/liaison/v1/audit.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let fds = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Served by the reflection service.
    std::fs::write(out.join("liaison_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
