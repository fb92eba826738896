//! A subscribed connection's input (messages, confirmations, pongs, pushes), read in two parts.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| redpipe_core::fuzzing::subscribed(data));
