//! Errors returned by the user calls (RFC 9293 §3.10 names them; `io::ErrorKind` mapping
//! comes with the tokio layer).

use crate::event::CloseReason;
use core::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The handle names no connection or listener ("connection does not exist").
    InvalidHandle,
    /// Nothing to read or no room to write right now; an event will say when to retry.
    WouldBlock,
    /// The connection is closing: no more sends after CLOSE, or FIN already received.
    Closing,
    /// The connection has ended with this reason.
    Closed(CloseReason),
    /// The local address and port are in use ("connection already exists").
    AddrInUse,
    /// The address is not usable: broadcast, multicast or unspecified remote (MUST-46),
    /// or a local address the stack does not own.
    InvalidAddress,
    /// No local address of the remote's family to send from (MUST-44).
    NoRoute,
    /// No ephemeral port is free for this remote.
    NoPortsAvailable,
    /// The connection table is full (`Config::max_connections`).
    TooManyConnections,
    /// The call makes no sense in this state (e.g. a second shutdown).
    InvalidState,
    /// An argument is out of range (e.g. a buffer size of 0 or above 2^30).
    InvalidArgument,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidHandle => f.write_str("connection does not exist"),
            Error::WouldBlock => f.write_str("operation would block"),
            Error::Closing => f.write_str("connection closing"),
            Error::Closed(r) => write!(f, "connection closed ({r})"),
            Error::AddrInUse => f.write_str("connection already exists"),
            Error::InvalidAddress => f.write_str("invalid address"),
            Error::NoRoute => f.write_str("no local address for that destination"),
            Error::NoPortsAvailable => f.write_str("no ephemeral port available"),
            Error::TooManyConnections => f.write_str("connection table full"),
            Error::InvalidState => f.write_str("invalid in the current state"),
            Error::InvalidArgument => f.write_str("invalid argument"),
        }
    }
}

impl std::error::Error for Error {}
