//! Bytes that arrive between two pipelines, read in two parts, through the check before sending.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| redpipe_core::fuzzing::between(data));
