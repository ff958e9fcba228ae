//! One connection's state machine (the TCB of RFC 9293 §3.3.1) and its parts.

pub mod recv_buf;
pub mod rtt;
pub mod send_buf;
