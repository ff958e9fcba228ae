//! Deterministic simulator for synack.
