//! The TCP header proper.
