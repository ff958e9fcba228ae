//! TCP options: parse any layout, emit the Linux layout (LX-19).
use super::*;

/// Bytes the options take on the wire when emitted (a multiple of 4).
pub fn options_len(_o: &TcpOptions) -> usize {
    todo!("options_len")
}
