//! synack: a sans-IO user-space TCP stack whose heart is the complete RFC 9293 connection
//! machine.
//!
//! No sockets, no threads, no clock: the caller passes packets in ([`Stack::handle_packet`]),
//! takes packets out ([`Stack::poll_transmit`]), and passes time in ([`Stack::handle_timeout`]
//! at [`Stack::poll_timeout`]). Requirement IDs in comments (MUST-10, LX-2, ...) refer to
//! `TCP-CHECKLIST.md`; the table of what is covered is `docs/conformance.md`.

pub mod cc;
pub mod config;
pub mod counters;
pub mod error;
pub mod event;
pub mod isn;
mod lazy_vec;
pub mod seq;
pub mod stack;
pub mod state;
pub mod syncookie;
pub mod tcb;
pub mod time;
mod tuple;
mod tw_table;
pub mod wire;

pub use cc::Algorithm;
pub use config::{Config, Ecn, KeepAlive, TwReuse};
pub use counters::{Counters, DropReason};
pub use error::Error;
pub use event::{Cause, CloseReason, ConnId, Event, ListenerId, SoftError, TimerKind};
pub use seq::SeqNum;
pub use stack::{ConnInfo, ListenerInfo, Stack};
pub use state::State;
pub use syncookie::SynCookies;
pub use time::{Duration, Instant};
pub use wire::Dscp;
