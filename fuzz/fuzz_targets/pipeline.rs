//! A pipeline resolved from arbitrary reply bytes split at arbitrary points.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| redpipe_core::fuzzing::pipeline(data));
