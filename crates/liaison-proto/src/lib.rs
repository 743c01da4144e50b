//! The `liaison.v1` contract: the generated protobuf types and gRPC stubs, and the encoded file
//! descriptor set the reflection service serves. Every client and the server depend on this crate;
//! it depends on nothing of the server.

#![allow(clippy::all, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

tonic::include_proto!("liaison.v1");

/// The encoded `FileDescriptorSet` of every `liaison.v1` file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("liaison_descriptor");
