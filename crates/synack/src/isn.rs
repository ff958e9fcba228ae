//! Initial sequence numbers per RFC 6528 (ISN-1, MUST-8, SHLD-1, MUST-9).
// STUB: implemented by the wire work.
