#![no_main]
//! The page-token decoder, on arbitrary bytes.

libfuzzer_sys::fuzz_target!(|data: &[u8]| liaison_server::fuzzing::page_token(data));
