//! Arbitrary bytes through the reply reader.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| redpipe_core::fuzzing::decode(data));
