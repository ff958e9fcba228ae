//! Internet checksum (RFC 1071) with the TCP pseudo-header (RFC 9293 §3.1, EP-1).
// STUB: implemented by the wire work.
