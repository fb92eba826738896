//! The answer of a shared connection carrying a fenced subscription and a pipeline, read in
//! two parts.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| redpipe_core::fuzzing::shared(data));
