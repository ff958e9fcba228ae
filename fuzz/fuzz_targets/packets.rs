//! Arbitrary bytes as IP packets into a stack holding connections in every state.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzz::packets(data));
