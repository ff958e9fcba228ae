//! Counters in the spirit of `netstat -s` (Linux's /proc/net/snmp and netstat MIB names in
//! the comments), plus every input drop by reason. Bad packets are never silent: each one
//! lands in exactly one drop counter.

use crate::wire::ParseError;
use core::fmt;

/// Why an input segment was dropped after parsing (parse failures have their own reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Destination is not one of our addresses, or is broadcast/multicast (MUST-57).
    NotOurs,
    /// Source address is broadcast, multicast or unspecified (MUST-63).
    BadSource,
    /// No connection and no listener: answered with RST unless it was a RST (RST-1).
    NoSocket,
    /// Failed the RFC 9293 §3.4 acceptability test (EP-11); answered with an ACK.
    OutOfWindow,
    /// ACK field unacceptable for the state (SYN-SENT, SYN-RECEIVED, beyond SND.NXT).
    BadAck,
    /// A RST that did not validate (RST-4), or an in-window RST not at RCV.NXT (BI-3).
    BadRst,
    /// A segment without ACK in a synchronized state (EP-16) or otherwise meaningless.
    NoAck,
    /// The half-open queue of a listener is full.
    SynQueueFull,
    /// The accept queue of a listener is full (Linux ListenOverflows).
    AcceptQueueFull,
    /// The connection table is full (`Config::max_connections`).
    TableFull,
    /// Timestamps were negotiated but the segment carries none (TS-4).
    MissingTimestamp,
    /// PAWS rejected an old timestamp (PAWS-1).
    Paws,
    /// Out-of-order data beyond what the reassembly queue holds.
    OooQueueFull,
    /// A segment that the state ignores (e.g. FIN in SYN-SENT, data after FIN).
    Ignored,
}

impl DropReason {
    pub const ALL: [DropReason; 14] = [
        DropReason::NotOurs,
        DropReason::BadSource,
        DropReason::NoSocket,
        DropReason::OutOfWindow,
        DropReason::BadAck,
        DropReason::BadRst,
        DropReason::NoAck,
        DropReason::SynQueueFull,
        DropReason::AcceptQueueFull,
        DropReason::TableFull,
        DropReason::MissingTimestamp,
        DropReason::Paws,
        DropReason::OooQueueFull,
        DropReason::Ignored,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NotOurs => "not addressed to us",
            DropReason::BadSource => "invalid source address",
            DropReason::NoSocket => "no socket",
            DropReason::OutOfWindow => "out of window",
            DropReason::BadAck => "unacceptable ACK",
            DropReason::BadRst => "invalid RST",
            DropReason::NoAck => "ACK bit off",
            DropReason::SynQueueFull => "SYN queue full",
            DropReason::AcceptQueueFull => "accept queue full",
            DropReason::TableFull => "connection table full",
            DropReason::MissingTimestamp => "timestamp missing",
            DropReason::Paws => "PAWS",
            DropReason::OooQueueFull => "reassembly queue full",
            DropReason::Ignored => "ignored in state",
        }
    }
}

/// Stack-wide counters. All monotonically increasing except `curr_estab`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Tcp ActiveOpens: transitions CLOSED -> SYN-SENT.
    pub active_opens: u64,
    /// Tcp PassiveOpens: transitions LISTEN -> SYN-RECEIVED.
    pub passive_opens: u64,
    /// Tcp AttemptFails: SYN-SENT/SYN-RECEIVED -> CLOSED, plus SYN-RECEIVED -> LISTEN.
    pub attempt_fails: u64,
    /// Tcp EstabResets: ESTABLISHED/CLOSE-WAIT -> CLOSED by RST.
    pub estab_resets: u64,
    /// Tcp CurrEstab: connections now in ESTABLISHED or CLOSE-WAIT.
    pub curr_estab: u64,
    /// Tcp InSegs: segments received (after parsing succeeded).
    pub in_segs: u64,
    /// Tcp OutSegs: segments sent, retransmissions excluded.
    pub out_segs: u64,
    /// Tcp RetransSegs.
    pub retrans_segs: u64,
    /// Tcp InErrs: segments dropped as malformed (checksum, lengths, options).
    pub in_errs: u64,
    /// Tcp OutRsts: RSTs sent.
    pub out_rsts: u64,
    /// TcpExt: RSTs received and acted on or dropped.
    pub in_rsts: u64,
    /// TcpExt TCPTimeouts: retransmission-timer expiries.
    pub timeouts: u64,
    /// SYN retransmissions.
    pub syn_retrans: u64,
    /// SYN,ACK retransmissions (TcpExt TCPSynRetrans counts both in Linux).
    pub synack_retrans: u64,
    /// Half-open entries dropped after the SYN,ACK retries ran out.
    pub synack_timeouts: u64,
    /// TcpExt TW: connections that finished TIME-WAIT.
    pub time_wait_expired: u64,
    /// Connections now in TIME-WAIT (a gauge).
    pub curr_time_wait: u64,
    /// TcpExt TWRecycled: TIME-WAIT 4-tuples taken over by `connect` (LX-12, tcp_tw_reuse).
    pub time_wait_reused: u64,
    /// TcpExt TCPTimeWaitOverflow: closings that skipped TIME-WAIT because the table was full.
    pub time_wait_overflow: u64,
    /// TcpExt TCPAbortOnTimeout: aborts after retries or user timeout.
    pub abort_on_timeout: u64,
    /// TcpExt TCPAbortOnData/Close: RSTs sent because data was unread at close (SHLD-3).
    pub abort_on_close: u64,
    /// TcpExt TCPAbortOnLinger-ish: orphaned FIN-WAIT-2 connections reaped (LX-6).
    pub fin_wait_2_timeouts: u64,
    /// TcpExt TCPChallengeACK (sent).
    pub challenge_acks: u64,
    /// TcpExt SyncookiesSent: stateless SYN,ACKs.
    pub syncookies_sent: u64,
    /// TcpExt SyncookiesRecv: connections rebuilt from a valid cookie.
    pub syncookies_recv: u64,
    /// TcpExt SyncookiesFailed: ACKs to a listener whose cookie did not validate.
    pub syncookies_failed: u64,
    /// TcpExt ListenOverflows: third ACKs dropped because the accept queue was full.
    pub listen_overflows: u64,
    /// TcpExt ListenDrops: SYNs or ACKs a listener dropped for any reason.
    pub listen_drops: u64,
    /// TcpExt TCPDelayedACKs: delayed ACKs sent when their timer fired.
    pub delayed_acks: u64,
    /// Events discarded because the application did not poll them.
    pub events_dropped: u64,
    /// TcpExt TCPLossProbes: tail loss probes sent (RK-3).
    pub tail_loss_probes: u64,
    /// TcpExt TCPLossProbeRecovery: losses repaired by a tail loss probe (RK-4).
    pub tlp_recoveries: u64,
    /// TcpExt TCPDSACKRecv: ACKs carrying a D-SACK block (SK-12).
    pub dsacks_received: u64,
    /// TcpExt TCPSACKReorder: ACKs showing a segment delivered out of order, not lost (RK-2).
    pub reordering_detected: u64,
    /// TcpExt TCPLostRetransmit: retransmissions RACK found lost again (RK-1).
    pub lost_retransmits: u64,
    /// RACK reordering timer expiries (RFC 8985 §6.3).
    pub reorder_timeouts: u64,
    /// TcpExt TCPFullUndo: fast recoveries found spurious as they ended (every
    /// retransmission D-SACKed, or timestamps showing the original arrived), their cwnd
    /// reduction undone (SK-12).
    pub full_undos: u64,
    /// TcpExt TCPDSACKUndo: cwnd reductions undone when D-SACKs showed every retransmission
    /// of the episode unnecessary, after or during its recovery (SK-12, RFC 3708).
    pub dsack_undos: u64,
    /// TcpExt TCPLossUndo: retransmission timeouts found spurious (timestamps, RFC 3522, or
    /// D-SACKs), their cwnd reduction undone (SK-12).
    pub loss_undos: u64,
    /// TcpExt TCPHystartDelayDetect: HyStart++ saw the RTT rise and slowed slow start (CSS).
    pub hystart_delay_detect: u64,
    /// Initial slow starts HyStart++ ended without a loss (TcpExt TCPHystartDelayCwnd-like).
    pub hystart_exits: u64,
    /// TcpExt TCPKeepAlive: keep-alive probes sent.
    pub keepalive_probes: u64,
    /// Connections ended because keep-alive probes went unanswered.
    pub keepalive_timeouts: u64,
    /// Icmp InErrors-like: ICMP errors about TCP segments of ours that were read.
    pub icmp_in_errors: u64,
    /// ICMP messages dropped as damaged (checksum, truncated quote).
    pub icmp_bad: u64,
    /// ICMP errors about no connection we have (or one being set up by cookie).
    pub icmp_no_socket: u64,
    /// TcpExt OutOfWindowIcmps: the quoted sequence number is not in flight (RFC 5927).
    pub out_of_window_icmps: u64,
    /// Source Quench messages discarded (MUST-55).
    pub icmp_source_quench: u64,
    /// Path MTU reductions from Packet Too Big / fragmentation needed (PM-1).
    pub pmtu_reductions: u64,
    /// Segments received marked Congestion Experienced on ECN connections (RFC 3168).
    pub ecn_ce_received: u64,
    /// Congestion-window reductions in answer to an ECN-Echo (RFC 3168 §6.1.2).
    pub ecn_reductions: u64,
    /// Input packets dropped by the wire parser, by reason.
    pub parse_drops: [u64; ParseError::ALL.len()],
    /// Input segments dropped by TCP, by reason.
    pub drops: [u64; DropReason::ALL.len()],
}

impl Counters {
    pub fn count_parse_drop(&mut self, e: ParseError) {
        self.in_errs += 1;
        self.parse_drops[ParseError::ALL.iter().position(|x| *x == e).unwrap_or(0)] += 1;
    }
    pub fn count_drop(&mut self, d: DropReason) {
        self.drops[DropReason::ALL.iter().position(|x| *x == d).unwrap_or(0)] += 1;
    }
    /// Drops of one reason.
    pub fn dropped(&self, d: DropReason) -> u64 {
        self.drops[DropReason::ALL.iter().position(|x| *x == d).unwrap_or(0)]
    }
    /// Parse drops of one reason.
    pub fn parse_dropped(&self, e: ParseError) -> u64 {
        self.parse_drops[ParseError::ALL.iter().position(|x| *x == e).unwrap_or(0)]
    }
}

impl fmt::Display for Counters {
    /// A `netstat -s`-like summary; zero lines are omitted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: [(u64, &str); 50] = [
            (self.active_opens, "active connection openings"),
            (self.passive_opens, "passive connection openings"),
            (self.attempt_fails, "failed connection attempts"),
            (self.estab_resets, "connection resets received"),
            (self.curr_estab, "connections established"),
            (self.in_segs, "segments received"),
            (self.out_segs, "segments sent out"),
            (self.retrans_segs, "segments retransmitted"),
            (self.in_errs, "bad segments received"),
            (self.out_rsts, "resets sent"),
            (self.in_rsts, "resets received"),
            (self.timeouts, "retransmission timeouts"),
            (self.syn_retrans, "SYN retransmits"),
            (self.synack_retrans, "SYN,ACK retransmits"),
            (self.synack_timeouts, "half-open requests timed out"),
            (self.time_wait_expired, "TCP sockets finished time wait"),
            (
                self.time_wait_reused,
                "time wait sockets recycled by time stamp",
            ),
            (
                self.time_wait_overflow,
                "times the TIME-WAIT table overflowed",
            ),
            (self.abort_on_timeout, "connections aborted due to timeout"),
            (
                self.abort_on_close,
                "connections reset due to unread data at close",
            ),
            (
                self.fin_wait_2_timeouts,
                "orphaned FIN-WAIT-2 connections reaped",
            ),
            (self.challenge_acks, "challenge ACKs sent"),
            (self.syncookies_sent, "SYN cookies sent"),
            (self.syncookies_recv, "SYN cookies received"),
            (self.syncookies_failed, "invalid SYN cookies received"),
            (
                self.listen_overflows,
                "times the listen queue of a socket overflowed",
            ),
            (self.listen_drops, "SYNs to LISTEN sockets dropped"),
            (self.delayed_acks, "delayed acks sent"),
            (self.events_dropped, "events discarded (not polled)"),
            (self.tail_loss_probes, "tail loss probes sent"),
            (self.tlp_recoveries, "losses repaired by a tail loss probe"),
            (self.dsacks_received, "D-SACKs received"),
            (self.reordering_detected, "acks showing reordering"),
            (self.lost_retransmits, "retransmissions lost again (RACK)"),
            (self.reorder_timeouts, "RACK reordering timeouts"),
            (
                self.full_undos,
                "congestion windows fully recovered without slow start",
            ),
            (
                self.dsack_undos,
                "congestion windows recovered without slow start by DSACK",
            ),
            (
                self.loss_undos,
                "congestion windows recovered without slow start after partial ack",
            ),
            (self.hystart_delay_detect, "HyStart++ RTT rises detected"),
            (self.hystart_exits, "slow starts ended by HyStart++"),
            (self.ecn_ce_received, "segments received with ECN CE"),
            (
                self.ecn_reductions,
                "congestion windows reduced on ECN-Echo",
            ),
            (self.keepalive_probes, "keepalive probes sent"),
            (
                self.keepalive_timeouts,
                "connections aborted due to keepalive timeout",
            ),
            (self.icmp_in_errors, "ICMP errors received about TCP"),
            (self.icmp_bad, "ICMP messages dropped as damaged"),
            (self.icmp_no_socket, "ICMP errors for no connection"),
            (
                self.out_of_window_icmps,
                "ICMP packets dropped because they were out-of-window",
            ),
            (self.icmp_source_quench, "ICMP source quenches ignored"),
            (self.pmtu_reductions, "path MTU reductions"),
        ];
        writeln!(f, "Tcp:")?;
        for (v, what) in lines {
            if v != 0 {
                writeln!(f, "    {v} {what}")?;
            }
        }
        for (i, e) in ParseError::ALL.iter().enumerate() {
            if self.parse_drops[i] != 0 {
                writeln!(f, "    {} dropped: {}", self.parse_drops[i], e)?;
            }
        }
        for (i, d) in DropReason::ALL.iter().enumerate() {
            if self.drops[i] != 0 {
                writeln!(f, "    {} dropped: {}", self.drops[i], d.as_str())?;
            }
        }
        Ok(())
    }
}
