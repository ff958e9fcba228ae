//! IPv4 / IPv6 framing of TCP segments.
use super::*;

/// Parse one IP packet carrying TCP.
pub fn parse(_bytes: &[u8]) -> Result<Packet<'_>, ParseError> {
    todo!("wire::parse")
}

/// Write one IP packet into `buf`; returns its length, or None if `buf` is too small or the
/// address families differ.
pub fn emit(
    _src: IpAddr,
    _dst: IpAddr,
    _hop_limit: u8,
    _tcp: &TcpHeader,
    _payload: &[u8],
    _buf: &mut [u8],
) -> Option<usize> {
    todo!("wire::emit")
}
