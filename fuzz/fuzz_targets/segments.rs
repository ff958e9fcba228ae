//! Hostile-but-well-formed segments and user calls against every state.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzz::segments(data));
