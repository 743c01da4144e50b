#![no_main]
//! Request decoding and validation, on arbitrary bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| liaison_server::fuzzing::request(data));
