#![no_main]
//! Fuzz target: see `kinko_core::parsers::statements`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kinko_core::parsers::statements(data));
