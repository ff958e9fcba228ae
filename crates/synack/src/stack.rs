//! The stack: demultiplexes segments by 4-tuple (a hash map, O(1)), then to listeners; owns
//! every connection, listener and timer; exposes the sans-IO contract of DESIGN.md.
// API skeleton: bodies are being written.
#![allow(unused_variables)]

use crate::config::Config;
use crate::counters::Counters;
use crate::error::Error;
use crate::event::{ConnId, Event, ListenerId};
use crate::state::State;
use crate::time::{Duration, Instant};
use std::net::{IpAddr, SocketAddr};

/// What STATUS reports about one connection (RFC 9293 §3.10.6, UI-6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub id: ConnId,
    pub state: State,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Listener this connection came from (passive open), if any.
    pub listener: Option<ListenerId>,
    /// The application has closed its handle (orphan).
    pub orphan: bool,
    pub snd_una: u32,
    pub snd_nxt: u32,
    /// Peer's window, scaled.
    pub snd_wnd: u32,
    pub rcv_nxt: u32,
    pub rcv_wnd: u32,
    /// Bytes written by the application and not yet acknowledged.
    pub send_queued: usize,
    /// Bytes received and not yet read by the application.
    pub recv_queued: usize,
    /// Effective send MSS.
    pub mss: u16,
    pub rto: Duration,
    pub srtt: Option<Duration>,
}

/// A user-space TCP stack with no I/O of its own.
pub struct Stack {
    config: Config,
}

impl Stack {
    pub fn new(config: Config) -> Stack {
        Stack { config }
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// Own a local address: segments to it are ours, and connects may send from it.
    pub fn add_address(&mut self, addr: IpAddr) {
        todo!()
    }
    /// Passive OPEN: listen on `local` (an unspecified IP accepts any of our addresses,
    /// MUST-43) with an accept queue of `backlog` (capped by `Config::somaxconn`).
    pub fn listen(&mut self, local: SocketAddr, backlog: usize) -> Result<ListenerId, Error> {
        todo!()
    }
    /// Stop listening; half-open and unaccepted connections are reset.
    pub fn close_listener(&mut self, now: Instant, l: ListenerId) -> Result<(), Error> {
        todo!()
    }
    /// Take the next ESTABLISHED connection from the accept queue.
    pub fn accept(&mut self, l: ListenerId) -> Option<ConnId> {
        todo!()
    }
    /// Active OPEN to `remote`, from `local` (or a chosen address and ephemeral port).
    pub fn connect(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
    ) -> Result<ConnId, Error> {
        todo!()
    }
    /// SEND: queue bytes; returns how many fit in the send buffer.
    pub fn send(&mut self, now: Instant, c: ConnId, data: &[u8]) -> Result<usize, Error> {
        todo!()
    }
    /// RECEIVE: Ok(n > 0) bytes, Ok(0) end of stream (peer's FIN), Err(WouldBlock) nothing yet.
    pub fn recv(&mut self, now: Instant, c: ConnId, buf: &mut [u8]) -> Result<usize, Error> {
        todo!()
    }
    /// Half-close: no more sends; FIN after the queued data. Receiving continues.
    pub fn shutdown(&mut self, now: Instant, c: ConnId) -> Result<(), Error> {
        todo!()
    }
    /// CLOSE and release the handle: FIN after queued data (or RST if received data is
    /// unread, SHLD-3); the connection finishes on its own as an orphan.
    pub fn close(&mut self, now: Instant, c: ConnId) -> Result<(), Error> {
        todo!()
    }
    /// ABORT: RST where the state calls for one (UI-5), release everything.
    pub fn abort(&mut self, now: Instant, c: ConnId) -> Result<(), Error> {
        todo!()
    }
    /// Switch Nagle off (true) or on (MUST-17).
    pub fn set_nodelay(&mut self, c: ConnId, nodelay: bool) -> Result<(), Error> {
        todo!()
    }
    /// STATUS (UI-6).
    pub fn status(&self, c: ConnId) -> Option<ConnInfo> {
        todo!()
    }
    /// Current state of a connection.
    pub fn state(&self, c: ConnId) -> Option<State> {
        todo!()
    }
    /// Every connection, for an `ss`-like table.
    pub fn connections(&self) -> Vec<ConnInfo> {
        todo!()
    }
    /// An IP packet arrived.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        todo!()
    }
    /// Write the next IP packet to send into `buf` (at least MTU bytes); its length.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        todo!()
    }
    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
    /// Run the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        todo!()
    }
    /// Next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        todo!()
    }
    pub fn counters(&self) -> &Counters {
        todo!()
    }
}
