//! Structured events the stack reports to its user: connections becoming usable, readable,
//! writable or closed (with a reason, MUST-12), and every state transition with its cause.
//!
//! Events are queued in a bounded FIFO (`Config::event_queue_limit`); if the user never polls,
//! the oldest are discarded and counted (`Counters::events_dropped`) rather than growing memory.

use crate::state::State;
use core::fmt;

/// Handle of a connection. Generational: a handle to a connection that is gone never aliases
/// a newer connection in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl ConnId {
    /// A handle made from its parts, for tools that build records by hand (ladder tests,
    /// trace replays). A made-up handle names no connection of any stack until one is
    /// created with the same index and generation.
    pub fn from_raw(index: u32, generation: u32) -> ConnId {
        ConnId { index, generation }
    }

    /// A stable small number for display (`#3`).
    pub fn index(self) -> u32 {
        self.index
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)
    }
}

/// Handle of a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(pub(crate) u32);

impl fmt::Display for ListenerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// Why a connection ended, as the application learns it (MUST-12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// Both FINs exchanged and acknowledged (or our side finished TIME-WAIT).
    Normal,
    /// The peer reset an established connection (sockets: ECONNRESET).
    Reset,
    /// The peer refused the connection: RST in answer to our SYN (sockets: ECONNREFUSED).
    Refused,
    /// Retransmissions ran out (SYN retries, R2, user timeout) (sockets: ETIMEDOUT).
    TimedOut,
    /// The application aborted it (RST sent where the state calls for one).
    Aborted,
    /// An ICMP error ended the attempt (administratively prohibited during the handshake,
    /// SHLD-26), or a connect timed out after the network said the destination is
    /// unreachable (sockets: EHOSTUNREACH).
    Unreachable,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Normal => "normal",
            CloseReason::Reset => "reset",
            CloseReason::Refused => "refused",
            CloseReason::TimedOut => "timed out",
            CloseReason::Aborted => "aborted",
            CloseReason::Unreachable => "unreachable",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which timer fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// Retransmission (SYN, SYN-ACK, data or FIN).
    Retransmit = 0,
    /// Zero-window probe.
    Persist = 1,
    /// Delayed ACK.
    DelayedAck = 2,
    /// 2*MSL in TIME-WAIT (MUST-13).
    TimeWait = 3,
    /// Orphaned FIN-WAIT-2 (LX-6).
    FinWait2 = 4,
    /// User timeout (R2 / TCP_USER_TIMEOUT, UI-8).
    UserTimeout = 5,
    /// Keep-alive: idle time, then probe interval (MUST-24..29).
    KeepAlive = 6,
}

/// What caused a state transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The application called connect (active OPEN).
    Connect,
    /// The application called shutdown or close (CLOSE).
    Close,
    /// The application aborted (ABORT).
    Abort,
    /// A SYN arrived.
    RecvSyn,
    /// A SYN,ACK arrived.
    RecvSynAck,
    /// An ACK arrived (acknowledging our SYN or FIN).
    RecvAck,
    /// A FIN arrived.
    RecvFin,
    /// A RST arrived.
    RecvRst,
    /// A timer fired.
    Timer(TimerKind),
    /// Retransmissions ran out (R2, SYN retries).
    RetriesExhausted,
    /// TIME-WAIT skipped: the table is at `Config::max_time_wait`.
    TimeWaitFull,
    /// An ICMP error arrived (SHLD-26).
    RecvIcmp,
    /// `connect` took the 4-tuple over from TIME-WAIT (LX-12, tcp_tw_reuse).
    Reused,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Cause::Connect => "connect",
            Cause::Close => "close",
            Cause::Abort => "abort",
            Cause::RecvSyn => "rcv SYN",
            Cause::RecvSynAck => "rcv SYN,ACK",
            Cause::RecvAck => "rcv ACK",
            Cause::RecvFin => "rcv FIN",
            Cause::RecvRst => "rcv RST",
            Cause::Timer(TimerKind::Retransmit) => "retransmit timer",
            Cause::Timer(TimerKind::Persist) => "persist timer",
            Cause::Timer(TimerKind::DelayedAck) => "delayed-ACK timer",
            Cause::Timer(TimerKind::TimeWait) => "2MSL timer",
            Cause::Timer(TimerKind::FinWait2) => "FIN-WAIT-2 timer",
            Cause::Timer(TimerKind::UserTimeout) => "user timeout",
            Cause::Timer(TimerKind::KeepAlive) => "keep-alive timer",
            Cause::RetriesExhausted => "retries exhausted",
            Cause::TimeWaitFull => "TIME-WAIT table full",
            Cause::RecvIcmp => "rcv ICMP error",
            Cause::Reused => "TIME-WAIT reused by connect",
        };
        f.write_str(s)
    }
}

/// An event for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A connection changed state. Passive connections are born with `from: Listen`.
    StateChanged {
        conn: ConnId,
        from: State,
        to: State,
        cause: Cause,
    },
    /// An active open reached ESTABLISHED.
    Connected { conn: ConnId },
    /// A listener has an ESTABLISHED connection waiting in its accept queue.
    AcceptReady { listener: ListenerId },
    /// Data (or end of stream) can be read. Edge-triggered, like epoll's `EPOLLET`: queued
    /// when data or the FIN arrives, but not again before the application calls recv (or
    /// `recv_with`) on the connection, whatever that call returns. An application that
    /// reads until `WouldBlock` (or end of stream) after each `Readable` never misses data.
    Readable { conn: ConnId },
    /// Send buffer space became available.
    Writable { conn: ConnId },
    /// The connection is over for the application; `recv`/`send` now report the reason.
    Closed { conn: ConnId, reason: CloseReason },
    /// Urgent data appeared, or the urgent pointer advanced (MUST-32). The bytes arrive
    /// inline; `Stack::urgent_pending` says how many of the unread bytes are urgent (MUST-33).
    Urgent { conn: ConnId },
    /// A soft error: delivery is in trouble but the connection lives on (MUST-47, SHLD-9).
    SoftError { conn: ConnId, error: SoftError },
}

/// Asynchronous soft errors reported to the application (MUST-47).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SoftError {
    /// A segment reached R1 retransmissions (MUST-20a, SHLD-10); the path may be broken.
    ExcessiveRetransmission,
    /// An ICMP error about this connection that does not end it (MUST-56, SHLD-25).
    Icmp(crate::wire::icmp::IcmpError),
}

/// The bounded event FIFO (see module docs).
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    queue: std::collections::VecDeque<Event>,
    limit: usize,
    pub(crate) dropped: u64,
}

impl EventQueue {
    pub(crate) fn new(limit: usize) -> Self {
        EventQueue {
            queue: Default::default(),
            limit: limit.max(1),
            dropped: 0,
        }
    }
    pub(crate) fn push(&mut self, e: Event) {
        if self.queue.len() >= self.limit {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(e);
    }
    /// Inlined with `Stack::poll_event`, into the application's loop.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Event> {
        let e = self.queue.pop_front();
        if self.queue.is_empty() {
            // Back to the start of the ring (`clear` on an empty deque only resets its
            // head): an application that drains the queue every round then keeps writing
            // the same few cache lines. Left to wander, the write position walks the whole
            // capacity a burst once grew it to (a listen backlog's worth of events), and
            // every push in issue 3's churn missed the cache (perf: a fifth of `set_state`).
            self.queue.clear();
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(i: u32) -> Event {
        Event::Readable {
            conn: ConnId::from_raw(i, 0),
        }
    }

    /// Where the next pushed event lands in the ring's buffer.
    fn write_position(q: &mut EventQueue) -> *const Event {
        q.push(readable(u32::MAX));
        let p: *const Event = q.queue.as_slices().0.as_ptr();
        q.pop();
        p
    }

    #[test]
    fn a_drained_queue_writes_from_the_start_of_its_buffer_again() {
        let mut q = EventQueue::new(1000);
        // A burst grows the ring; draining it must not leave the write position behind
        // the burst, or a steady push-pop loop walks (and misses on) the whole capacity.
        for i in 0..300 {
            q.push(readable(i));
        }
        for i in 0..300 {
            assert_eq!(q.pop(), Some(readable(i)));
        }
        let after_burst = write_position(&mut q);
        for round in 0..50 {
            q.push(readable(round));
            q.push(readable(round + 1));
            assert_eq!(q.pop(), Some(readable(round)));
            assert_eq!(q.pop(), Some(readable(round + 1)));
            assert_eq!(q.pop(), None);
            assert_eq!(write_position(&mut q), after_burst, "round {round}");
        }
        assert!(q.queue.capacity() >= 300, "the burst grew the ring");
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let mut q = EventQueue::new(2);
        for i in 0..5 {
            q.push(readable(i));
        }
        assert_eq!(q.dropped, 3);
        assert_eq!(q.pop(), Some(readable(3)));
        assert_eq!(q.pop(), Some(readable(4)));
        assert_eq!(q.pop(), None);
    }
}
