//! Every tunable of the stack, with Linux's defaults where RFC 9293 leaves room
//! (checklist "Decisions taken" and section 7, LX-*). Each default is a knob.

use crate::time::Duration;

/// When a connection uses ECN (RFC 3168 §6.1.1; Linux's tcp_ecn sysctl).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ecn {
    /// Never: no ECN-setup SYN, and a peer's is answered with a plain SYN,ACK (tcp_ecn = 0).
    Off,
    /// Accept a peer's ECN-setup SYN; ask for nothing on our own (tcp_ecn = 2, Linux's
    /// default).
    #[default]
    Passive,
    /// Ask on our SYNs too (tcp_ecn = 1).
    On,
}

/// When `connect` may take over a 4-tuple that is in TIME-WAIT (LX-12; Linux's tcp_tw_reuse
/// sysctl). Only ever with timestamps on in the old connection and after
/// [`Config::tw_reuse_delay`]: the new connection then starts its sequence numbers above
/// the old ones and inherits TS.Recent, so PAWS (RFC 7323 §5) and RFC 6191's reasoning keep
/// old duplicates out. A SYN arriving at a listener is never affected (TW-3 decides that).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TwReuse {
    /// Never: a tuple in TIME-WAIT stays unusable for 2·MSL (tcp_tw_reuse = 0).
    Off,
    /// Only for loopback traffic (tcp_tw_reuse = 2, Linux's default). A user-space stack
    /// has no `lo` device, so "loopback" is read from the addresses, as Linux reads them
    /// when the socket is not bound to `lo`: either end is a loopback address (127.0.0.0/8,
    /// ::1, or ::ffff:127.0.0.0/104), or both ends are the same address (a connection to
    /// ourselves).
    #[default]
    Loopback,
    /// For every destination (tcp_tw_reuse = 1).
    On,
}

/// Stack configuration. `Config::default()` behaves like a Linux 6.x host.
#[derive(Clone, Debug)]
pub struct Config {
    /// 128-bit secret keying ISNs (RFC 6528, ISN-1) and ephemeral-port choice (ISN-2).
    /// Give a random one per process start; the simulator passes a seeded one.
    pub secret: [u8; 16],
    /// Link MTU; the advertised MSS is MTU-40 (IPv4) or MTU-60 (IPv6) (MUST-67).
    pub mtu: u16,
    /// IPv4 TTL / IPv6 hop limit of segments we send (MUST-49, default 64).
    pub hop_limit: u8,
    /// DSCP of every new connection's segments until the application sets its own
    /// (`Stack::set_dscp`, `Stack::set_listener_dscp`; MUST-48). Linux: 0 (best effort).
    pub dscp: crate::wire::Dscp,
    /// SYN retransmissions before connect fails (LX-1: 6, failing at 127 s; decision 3).
    pub syn_retries: u32,
    /// SYN,ACK retransmissions before the half-open entry is dropped (LX-2: 5, ~63 s).
    pub synack_retries: u32,
    /// Retransmissions after which the application is warned (R1, SHLD-10, LX-5
    /// tcp_retries1 = 3): an `Event::SoftError` (MUST-20a, SHLD-9).
    pub retries1: u32,
    /// Report soft errors to the application (SHLD-20: it may switch them off).
    pub soft_errors: bool,
    /// Data/FIN retransmissions before the connection is aborted (R2, LX-5 tcp_retries2 = 15).
    pub retries2: u32,
    /// Retransmissions for orphaned connections (LX-5 tcp_orphan_retries, 0 read as 8).
    pub orphan_retries: u32,
    /// RTO before the first RTT sample (RFC 6298 §2.1, RTO-1).
    pub rto_initial: Duration,
    /// RTO after SYN retransmissions, once data starts (RFC 6298 §5.7, RTO-12, LX-3).
    pub rto_fallback: Duration,
    /// RTO floor, applied to the variance term like Linux (decision 2, LX-4).
    pub rto_min: Duration,
    /// RTO ceiling (RTO-5, LX-4).
    pub rto_max: Duration,
    /// TIME-WAIT length, 2*MSL (decision 1, MUST-13, LX-7).
    pub time_wait: Duration,
    /// FIN-WAIT-2 timeout for connections the application has closed (LX-6). A half-closed
    /// connection the application still holds waits indefinitely.
    pub fin_wait_2_timeout: Duration,
    /// Abort a connection whose data stays unacknowledged this long (UI-8, MUST-21,
    /// TCP_USER_TIMEOUT). `None`: the retry counts decide.
    pub user_timeout: Option<Duration>,
    /// Keep-alive for new connections (RFC 9293 §3.8.4; Linux SO_KEEPALIVE): `None`, off,
    /// by default (MUST-25). `Stack::set_keepalive` switches it per connection (MUST-24).
    pub keepalive: Option<KeepAlive>,
    /// Whether `connect` may take over a 4-tuple in TIME-WAIT (LX-12, Linux tcp_tw_reuse:
    /// loopback only by default).
    pub tw_reuse: TwReuse,
    /// How long after the old connection's last timestamp (TS.Recent) its TIME-WAIT tuple
    /// may be reused (LX-12, Linux tcp_tw_reuse_delay = 1000 ms): at least one tick of the
    /// slowest timestamp clock RFC 7323 §5.4 allows (1 Hz), so that the peer's next TSval is
    /// above every one of the old connection.
    pub tw_reuse_delay: Duration,
    /// Ignore RST in TIME-WAIT (RFC 1337 F1, TW-2; decision 4).
    pub rfc1337: bool,
    /// Most connections in TIME-WAIT at once (Linux tcp_max_tw_buckets); beyond it a
    /// closing connection skips TIME-WAIT and the overflow is counted (LX-7).
    pub max_time_wait: usize,
    /// Least time between two replies to invalid segments on one connection: challenge ACKs
    /// and answers to out-of-window pure ACKs (BI-6, LX-15 tcp_invalid_ratelimit = 500 ms).
    pub invalid_ratelimit: Duration,
    /// Answer a third ACK that finds the accept queue full with RST instead of dropping it
    /// (Linux tcp_abort_on_overflow, default off, LX-8).
    pub abort_on_overflow: bool,
    /// Per-listener half-open queue bound (LX-8 tcp_max_syn_backlog).
    pub max_syn_backlog: usize,
    /// When SYN cookies answer SYNs (LX-9 tcp_syncookies = 1: when the queue is full).
    pub syncookies: crate::syncookie::SynCookies,
    /// Cap on any listener's accept backlog (LX-8 somaxconn).
    pub somaxconn: usize,
    /// Initial receive buffer per connection, bytes (bounds the advertised window). Linux
    /// tcp_rmem[1] = 131072 (LX-11). With `moderate_rcvbuf` it is only the start: the
    /// buffer then grows with what the application reads per round trip, up to
    /// `recv_buffer_max`. `Stack::set_recv_buffer` pins one connection's (SO_RCVBUF).
    pub recv_buffer: usize,
    /// Most the receive buffer grows to by autotuning: Linux tcp_rmem[2] = 6 MiB (LX-11).
    /// With `moderate_rcvbuf` on, our window-scale shift is chosen to cover it (WS-3,
    /// LX-19: 7 for 6 MiB, as Linux), so that the window can follow the buffer.
    pub recv_buffer_max: usize,
    /// Receive-buffer autotuning, Linux tcp_moderate_rcvbuf = 1 (LX-11; "dynamic
    /// right-sizing"): once per receiver-side RTT the buffer is raised to about twice what
    /// the application read in that RTT, capped at `recv_buffer_max`. Off: every buffer
    /// stays at `recv_buffer` and the window scale covers `recv_buffer` only.
    pub moderate_rcvbuf: bool,
    /// Initial send buffer per connection, bytes. Linux's tcp_wmem[1] is 16 KiB, grown at
    /// once to about 2·IW; we start at 128 KiB, above that, as before autotuning (LX-11).
    /// `Stack::set_send_buffer` pins one connection's (SO_SNDBUF).
    pub send_buffer: usize,
    /// Most the send buffer grows to with the congestion window (about 2·cwnd, Linux
    /// tcp_sndbuf_expand): Linux tcp_wmem[2] = 4 MiB (LX-11). Linux has no switch for
    /// send-side growth; set this to `send_buffer` (or less) to keep send buffers fixed.
    pub send_buffer_max: usize,
    /// Negotiate window scaling (RFC 7323, LX-14).
    pub window_scaling: bool,
    /// Negotiate timestamps (RFC 7323, LX-14).
    pub timestamps: bool,
    /// Negotiate SACK (RFC 2018, LX-14): we then report out-of-order data in SACK blocks.
    pub sack: bool,
    /// Explicit Congestion Notification (RFC 3168, SHLD-8): whether to ask for it on our
    /// SYNs and whether to accept a peer's request. Linux's default (tcp_ecn = 2, LX-14)
    /// accepts but does not ask.
    pub ecn: Ecn,
    /// Nagle's algorithm on new connections (SHLD-7).
    pub nagle: bool,
    /// Delayed-ACK timeout (LX-10 TCP_DELACK_MIN 40 ms).
    pub delayed_ack: Duration,
    /// Quick ACKs at connection start before delayed ACKs begin (LX-10 TCP_MAX_QUICKACKS).
    pub quick_acks: u32,
    /// Initial congestion window in segments (decision 5, CC-2).
    pub initial_cwnd: u32,
    /// Congestion control (decision 6: CUBIC by default, NewReno available).
    pub congestion_control: crate::cc::Algorithm,
    /// RFC 3042 limited transmit: a new segment on each of the first two duplicate ACKs (CC-8).
    pub limited_transmit: bool,
    /// Tail loss probes (RFC 8985 §7, RK-3; Linux tcp_early_retrans = 3): a probe after
    /// 2·SRTT of silence instead of waiting for the RTO. Needs SACK. On, as in Linux.
    pub tail_loss_probe: bool,
    /// RACK time-based loss detection (RFC 8985 §6, RK-1; Linux tcp_recovery = 1, decision
    /// 6): with SACK, a segment is lost once a later-sent one has been delivered and an RTT
    /// plus a reordering window has passed; DupThresh counting is then only a fallback
    /// (RK-5). Off: RFC 6675's IsLost alone, like tcp_recovery = 0.
    pub rack: bool,
    /// HyStart++ (RFC 9406, CUB-5): leave the initial slow start when the round-trip time
    /// rises, before the bottleneck queue overflows (Linux tcp_cubic's hystart = 1 does the
    /// same job with the older HyStart). For CUBIC and NewReno alike.
    pub hystart: bool,
    /// Undo a congestion-window reduction that proves spurious (SK-12): when D-SACKs show
    /// every retransmission of a loss episode unnecessary (RFC 3708), or timestamps show
    /// the original arrived (RFC 3522 Eifel), cwnd and ssthresh go back to what they were,
    /// as Linux always does (it has no switch for this). On; off only to measure what it
    /// is worth.
    pub undo: bool,
    /// Most events kept for the application before the oldest are discarded.
    pub event_queue_limit: usize,
    /// Most connections (TCBs, half-open included) the stack holds at once. At most 2^27
    /// (134,217,728) take effect: the demultiplexing index numbers slots in 27 bits.
    pub max_connections: usize,
    /// Ephemeral port range (LX-18: 32768-60999).
    pub ephemeral_ports: (u16, u16),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            secret: [0; 16],
            mtu: 1500,
            hop_limit: 64,
            dscp: crate::wire::Dscp::DEFAULT,
            syn_retries: 6,
            synack_retries: 5,
            retries1: 3,
            soft_errors: true,
            retries2: 15,
            orphan_retries: 8,
            rto_initial: Duration::from_secs(1),
            rto_fallback: Duration::from_secs(3),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(120),
            time_wait: Duration::from_secs(60),
            fin_wait_2_timeout: Duration::from_secs(60),
            user_timeout: None,
            keepalive: None,
            tw_reuse: TwReuse::Loopback,
            tw_reuse_delay: Duration::from_millis(1000),
            rfc1337: true,
            max_time_wait: 262_144,
            invalid_ratelimit: Duration::from_millis(500),
            abort_on_overflow: false,
            max_syn_backlog: 128,
            syncookies: crate::syncookie::SynCookies::WhenFull,
            somaxconn: 4096,
            recv_buffer: 128 * 1024,
            recv_buffer_max: 6 * 1024 * 1024,
            moderate_rcvbuf: true,
            send_buffer: 128 * 1024,
            send_buffer_max: 4 * 1024 * 1024,
            window_scaling: true,
            timestamps: true,
            sack: true,
            ecn: Ecn::Passive,
            nagle: true,
            delayed_ack: Duration::from_millis(40),
            quick_acks: 16,
            initial_cwnd: 10,
            congestion_control: crate::cc::Algorithm::Cubic,
            limited_transmit: true,
            tail_loss_probe: true,
            rack: true,
            hystart: true,
            undo: true,
            event_queue_limit: 65_536,
            max_connections: 1 << 20,
            ephemeral_ports: (32768, 60999),
        }
    }
}

impl Config {
    /// A default configuration keyed with `secret`.
    pub fn with_secret(secret: [u8; 16]) -> Self {
        Config {
            secret,
            ..Config::default()
        }
    }

    /// Fixed buffers of `bytes` each way: autotuning off on both sides (Linux:
    /// tcp_moderate_rcvbuf = 0 and tcp_wmem[2] = tcp_wmem[1]), the window scale chosen
    /// from `bytes`. What a like-for-like comparison with a fixed-buffer stack needs.
    pub fn fixed_buffers(mut self, bytes: usize) -> Self {
        self.recv_buffer = bytes;
        self.recv_buffer_max = bytes;
        self.moderate_rcvbuf = false;
        self.send_buffer = bytes;
        self.send_buffer_max = bytes;
        self
    }

    /// The most bytes a receive buffer may hold under this configuration without the
    /// application pinning it: `recv_buffer_max` with autotuning, else `recv_buffer`.
    pub fn recv_buffer_limit(&self) -> usize {
        if self.moderate_rcvbuf {
            self.recv_buffer.max(self.recv_buffer_max)
        } else {
            self.recv_buffer
        }
    }

    /// The most bytes a send buffer may hold without the application pinning it.
    pub fn send_buffer_limit(&self) -> usize {
        self.send_buffer.max(self.send_buffer_max)
    }
}

/// Keep-alive timing (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6; Linux TCP_KEEPIDLE,
/// TCP_KEEPINTVL, TCP_KEEPCNT). Kept at one-second resolution, as Linux does; values are
/// clamped to Linux's ranges (1..=32767 s, 1..=127 probes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// Idle time before the first probe (MUST-27, MUST-28: >= 2 h by default).
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is declared dead (MUST-29: several).
    pub probes: u32,
}

impl Default for KeepAlive {
    /// Linux: tcp_keepalive_time 7200 s, tcp_keepalive_intvl 75 s, tcp_keepalive_probes 9
    /// (KA-2, LX-13).
    fn default() -> Self {
        KeepAlive {
            idle: Duration::from_secs(7200),
            interval: Duration::from_secs(75),
            probes: 9,
        }
    }
}
