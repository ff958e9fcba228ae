//! The demo scenarios (TCP-CHECKLIST.md §8 and the classic handshake explanations), shared by
//! `synack demo` and the tests: each builds a world of two hosts, A (client, 198.18.0.1) and
//! B (server, 198.18.0.2), joined by a 10 ms link, with scripts and faults.

use crate::app::{Script, Step};
use crate::fault::{Fault, Match};
use crate::link::LinkConfig;
use crate::packet::RawPacket;
use crate::peer::{Peer, PeerCtx};
use crate::world::{RunOutcome, World};
use synack::wire::TcpFlags;
use synack::{CloseReason, Duration, Instant};

/// A's address.
pub const A_ADDR: &str = "198.18.0.1";
/// B's address.
pub const B_ADDR: &str = "198.18.0.2";
/// The port A connects from in every scenario (so ladders are stable and readable).
pub const A_PORT: u16 = 40000;
/// The port B listens on.
pub const B_PORT: u16 = 80;
/// B's listening socket.
pub const B_SERVICE: &str = "198.18.0.2:80";

/// One demo scenario.
pub struct Scenario {
    /// Command-line name (`lost-syn`).
    pub name: &'static str,
    /// One line for `--list`.
    pub title: &'static str,
    /// A few lines telling the story before the ladder.
    pub story: &'static str,
    /// Checklist items it illustrates.
    pub refs: &'static str,
    /// Virtual-time limit of the run.
    pub limit: Instant,
    build: fn(u64) -> World,
}

impl Scenario {
    /// The world, ready to run.
    pub fn build(&self, seed: u64) -> World {
        (self.build)(seed)
    }
    /// Build and run to the end (idle, or the limit).
    pub fn run(&self, seed: u64) -> (World, RunOutcome) {
        let mut w = self.build(seed);
        let o = w.run_until_idle(self.limit);
        (w, o)
    }
}

/// Every scenario, in the order `--list` shows them.
pub fn all() -> &'static [Scenario] {
    SCENARIOS
}

/// A scenario by name (`handshake` is another name for `normal`).
pub fn find(name: &str) -> Option<&'static Scenario> {
    let name = if name == "handshake" { "normal" } else { name };
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Two hosts, A and B, joined by a perfect 10 ms link each way.
pub fn two_hosts(seed: u64) -> World {
    let mut w = World::new(seed);
    w.add_host("A", &[A_ADDR]);
    w.add_host("B", &[B_ADDR]);
    w.set_default_link(LinkConfig::with_delay(Duration::from_millis(10)));
    w
}

/// A connects from port 40000 to B's port 80.
pub fn connect() -> Step {
    Step::connect_from(A_PORT, B_SERVICE)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn script(steps: Vec<Step>) -> Script {
    Script::new(steps)
}

/// B: accept one connection, read until EOF, wait a little (so the ACK of A's FIN and B's
/// own FIN travel separately: the classic four-way close), close.
fn server_until_eof() -> Script {
    script(vec![
        Step::listen(B_PORT),
        Step::Accept,
        Step::RecvUntilEof,
        Step::Sleep(ms(200)),
        Step::Close,
        Step::WaitClosed,
    ])
}

fn normal(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvExactly(5),
            Step::send(b"world"),
            Step::RecvUntilEof,
            Step::Sleep(ms(200)),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.set_app(
        "A",
        script(vec![
            connect(),
            Step::WaitConnected,
            Step::send(b"hello"),
            Step::RecvExactly(5),
            Step::Sleep(ms(100)),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w
}

fn data_on_third_segment(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvExactly(5),
            Step::send(b"world"),
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    // A writes before the handshake completes: the data waits in the send buffer and may
    // ride on the third segment together with the ACK of B's SYN.
    w.set_app(
        "A",
        script(vec![
            connect(),
            Step::send(b"hello"),
            Step::WaitConnected,
            Step::RecvExactly(5),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w
}

fn short_client() -> Script {
    script(vec![
        connect(),
        Step::WaitConnected,
        Step::send(b"hello"),
        Step::Close,
        Step::WaitClosed,
    ])
}

fn lost_syn(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app("B", server_until_eof());
    w.set_app("A", short_client());
    w.add_fault(Fault::drop_nth("A", "B", Match::Syn, 1));
    w
}

fn syn_timeout(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app("B", server_until_eof());
    w.set_app(
        "A",
        script(vec![connect(), Step::ExpectClosed(CloseReason::TimedOut)]),
    );
    w.add_fault(Fault::drop_all("A", "B", Match::Syn));
    w
}

fn lost_syn_ack(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app("B", server_until_eof());
    w.set_app("A", short_client());
    w.add_fault(Fault::drop_nth("B", "A", Match::SynAck, 1));
    w
}

fn lost_third_ack(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app("B", server_until_eof());
    // A stays quiet for 2 s after connecting, so only B's SYN,ACK retransmission repairs
    // the lost ACK (data from A would complete the handshake too).
    w.set_app(
        "A",
        script(vec![
            connect(),
            Step::WaitConnected,
            Step::Sleep(Duration::from_secs(2)),
            Step::send(b"hello"),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.add_fault(Fault::drop_nth("A", "B", Match::PureAck, 1));
    w
}

fn stale_syn(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvUntilEof,
            Step::Sleep(ms(200)),
            Step::Close,
            Step::WaitClosed,
            // Ready for another connection: only a real one would be accepted.
            Step::Accept,
        ]),
    );
    w.set_app("A", short_client());
    // A's first SYN lingers in the network for 90 s; A retransmits after 1 s, the
    // connection runs and closes, A's TIME-WAIT ends at about 61 s, and then the old SYN
    // reaches B.
    w.add_fault(Fault::delay_nth(
        "A",
        "B",
        Match::Syn,
        1,
        Duration::from_secs(90),
    ));
    w
}

fn lost_last_ack(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvUntilEof,
            Step::At(Instant::from_secs(1)),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.set_app("A", short_client());
    // B closes at 1 s: the first pure ACK A sends after that acknowledges B's FIN.
    w.add_fault(
        Fault::drop_all("A", "B", Match::PureAck)
            .between(Some(Instant::from_secs(1)), None)
            .nth(1),
    );
    w
}

fn fin_wait_2(seed: u64) -> World {
    let mut w = two_hosts(seed);
    // B reads A's EOF but never closes; at 90 s it writes again.
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvUntilEof,
            Step::At(Instant::from_secs(90)),
            Step::send(b"late"),
            Step::ExpectClosed(CloseReason::Reset),
        ]),
    );
    // A closes (and so releases its handle): an orphan in FIN-WAIT-2 is reaped after 60 s.
    w.set_app(
        "A",
        script(vec![connect(), Step::WaitConnected, Step::Close]),
    );
    w
}

fn simultaneous_open(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "A",
        script(vec![
            Step::connect_from(A_PORT, "198.18.0.2:40001"),
            Step::WaitConnected,
            Step::send(b"hi B"),
            Step::RecvExactly(4),
            Step::At(Instant::from_secs(1)),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.set_app(
        "B",
        script(vec![
            Step::connect_from(40001, "198.18.0.1:40000"),
            Step::WaitConnected,
            Step::send(b"hi A"),
            Step::RecvExactly(4),
            Step::RecvUntilEof,
            Step::Sleep(ms(200)),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w
}

fn simultaneous_close(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::At(Instant::from_secs(1)),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.set_app(
        "A",
        script(vec![
            connect(),
            Step::WaitConnected,
            Step::At(Instant::from_secs(1)),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w
}

fn half_close(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "A",
        script(vec![
            connect(),
            Step::WaitConnected,
            Step::send(b"GET"),
            Step::Shutdown,
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvUntilEof,
            Step::send(b"part 1"),
            Step::Sleep(Duration::from_secs(1)),
            Step::send(b"part 2"),
            Step::Sleep(Duration::from_secs(1)),
            Step::send(b"part 3"),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w
}

fn reset(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvExactly(5),
            Step::ExpectClosed(CloseReason::Reset),
        ]),
    );
    w.set_app(
        "A",
        script(vec![
            // Nobody listens on port 81: B's stack answers the SYN with RST.
            Step::connect_from(A_PORT, "198.18.0.2:81"),
            Step::ExpectClosed(CloseReason::Refused),
            Step::At(Instant::from_secs(1)),
            Step::connect_from(A_PORT + 1, B_SERVICE),
            Step::WaitConnected,
            Step::send(b"hello"),
            Step::Sleep(ms(500)),
            Step::Abort,
        ]),
    );
    w
}

fn half_open_reboot(seed: u64) -> World {
    let mut w = two_hosts(seed);
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::At(Instant::from_secs(10)),
            Step::send(b"are you there?"),
            Step::ExpectClosed(CloseReason::Reset),
        ]),
    );
    w.set_app("A", script(vec![connect(), Step::WaitConnected]));
    w.at(Instant::from_secs(5), |w| w.reboot("A", crate::app::Idle));
    w
}

/// M: sends `n` SYNs to B's port 80, 1 ms apart, from spoofed addresses it owns (so the
/// SYN,ACKs land somewhere), and never answers anything.
struct Flooder {
    n: u32,
    sent: u32,
}

impl Peer for Flooder {
    fn on_start(&mut self, ctx: &mut PeerCtx<'_>) {
        self.on_wake(ctx);
    }
    fn on_packet(&mut self, _: &mut PeerCtx<'_>, _: &[u8]) {}
    fn on_wake(&mut self, ctx: &mut PeerCtx<'_>) {
        let i = self.sent;
        let src = format!("198.19.0.{}:{}", 1 + i, 1024 + i);
        ctx.send_raw(
            RawPacket::new(src.parse().expect("addr"), B_SERVICE.parse().expect("addr"))
                .flags(TcpFlags::SYN)
                .seq(0x1000_0000u32.wrapping_mul(i + 1))
                .mss(1460),
        );
        self.sent += 1;
        if self.sent < self.n {
            ctx.wake_at(ctx.now + ms(1));
        }
    }
}

/// Bytes A sends in `lost-segment`: six full segments, all in the initial window.
pub const LOST_SEGMENT_BYTES: usize = 6 * 1460;

fn lost_segment(seed: u64) -> World {
    let mut w = two_hosts(seed);
    let data: Vec<u8> = (0..LOST_SEGMENT_BYTES).map(|i| (i % 241) as u8).collect();
    w.set_app("A", script(Step::send_and_close(connect(), data)));
    w.set_app("B", script(Step::sink(B_PORT)));
    // The fifth data segment is lost: only the sixth (and the FIN) arrive after it.
    w.add_fault(Fault::drop_nth("A", "B", Match::Data, 5));
    w
}

/// Spoofed SYNs in the `syn-flood` scenario.
/// Bytes A sends in `zero-window`; B's receive buffer holds two segments of them.
pub const ZERO_WINDOW_BYTES: usize = 8 * 1460;

fn zero_window(seed: u64) -> World {
    let mut w = World::new(seed);
    w.add_host("A", &[A_ADDR]);
    // A fixed two-segment buffer (no autotuning, LX-11), so the window closes and the
    // picture shows it: unscaled windows, as before autotuning chose shift 7.
    let b = synack::Config::default().fixed_buffers(2 * 1460);
    w.add_host_with("B", &[B_ADDR], b);
    w.set_default_link(LinkConfig::with_delay(Duration::from_millis(10)));
    let data: Vec<u8> = (0..ZERO_WINDOW_BYTES).map(|i| (i % 251) as u8).collect();
    w.set_app("A", script(Step::send_and_close(connect(), data)));
    // B accepts but does not read for 10 minutes: far longer than R2 would allow for
    // unanswered retransmissions. Then it reads everything.
    w.set_app(
        "B",
        script(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::At(Instant::from_secs(600)),
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    // The window update B sends when it reads is lost: only A's next probe recovers it.
    w.add_fault(
        Fault::drop_all("B", "A", Match::PureAck)
            .between(Some(Instant::from_secs(600)), None)
            .nth(1),
    );
    w
}

pub const FLOOD_SYNS: u32 = 12;

fn syn_flood(seed: u64) -> World {
    let mut w = World::new(seed);
    w.add_host("A", &[A_ADDR]);
    let b = synack::Config {
        max_syn_backlog: 8,
        ..synack::Config::default()
    };
    w.add_host_with("B", &[B_ADDR], b);
    let spoofed: Vec<String> = (0..FLOOD_SYNS)
        .map(|i| format!("198.19.0.{}", 1 + i))
        .collect();
    let refs: Vec<&str> = spoofed.iter().map(String::as_str).collect();
    w.add_peer(
        "M",
        &refs,
        Flooder {
            n: FLOOD_SYNS,
            sent: 0,
        },
    );
    w.set_default_link(LinkConfig::with_delay(ms(10)));
    w.set_app(
        "B",
        script(vec![
            Step::Listen {
                port: B_PORT,
                backlog: 8,
            },
            Step::Accept,
            Step::RecvUntilEof,
            Step::Close,
        ]),
    );
    w.set_app(
        "A",
        script(vec![
            Step::At(Instant::from_millis(100)),
            connect(),
            Step::WaitConnected,
            Step::send(b"hello"),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w
}

static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "normal",
        title: "the life of a connection: handshake, data, four-way close, TIME-WAIT",
        story: "A opens a connection to B's port 80 with the three-way handshake, each side \
                sends five bytes, and A closes first. B acknowledges A's FIN, closes its own \
                side a moment later, and A waits 2MSL (60 s) in TIME-WAIT before forgetting \
                the connection.",
        refs: "ST-2, EP-19, MUST-13, LX-7",
        limit: Instant::from_secs(300),
        build: normal,
    },
    Scenario {
        name: "data-on-third-segment",
        title: "A writes before the handshake ends: data may ride on the third segment",
        story: "A calls send() right after connect(), before the SYN,ACK has arrived. The \
                bytes wait in A's send buffer; when the SYN,ACK comes, they can leave with the \
                ACK that completes the handshake. B enters ESTABLISHED on that ACK and delivers \
                the data from the same segment.",
        refs: "S-5, ST-6",
        limit: Instant::from_secs(300),
        build: data_on_third_segment,
    },
    Scenario {
        name: "lost-syn",
        title: "the first SYN is lost; A retransmits it after 1 s",
        story: "The network drops A's first SYN. B never hears of it; A's retransmission timer \
                (initially 1 s) fires and the SYN goes again, with the same ISN. The handshake \
                then completes, one second late.",
        refs: "S-2, MUST-22, LX-1, LX-3",
        limit: Instant::from_secs(300),
        build: lost_syn,
    },
    Scenario {
        name: "syn-timeout",
        title: "every SYN is lost: retries at 1, 3, 7, 15, 31, 63 s, connect fails at 127 s",
        story: "Nothing gets through to B. A resends its SYN with exponential backoff (gaps of \
                1, 2, 4, 8, 16, 32 s) and, after six retries and a last 64 s wait, tells the \
                application that connect() timed out, like Linux with tcp_syn_retries = 6.",
        refs: "S-2, LX-1, MUST-23 (decision 3)",
        limit: Instant::from_secs(300),
        build: syn_timeout,
    },
    Scenario {
        name: "lost-syn-ack",
        title: "B's SYN,ACK is lost; both sides retransmit",
        story: "A's SYN reaches B, which answers SYN,ACK and keeps a half-open entry in \
                SYN_RCVD. The SYN,ACK is lost. After 1 s both timers fire: A resends its SYN \
                (which B answers with a SYN,ACK for the same entry, not a new one) and B \
                resends its SYN,ACK.",
        refs: "S-3, LX-2",
        limit: Instant::from_secs(300),
        build: lost_syn_ack,
    },
    Scenario {
        name: "lost-third-ack",
        title: "the third handshake segment is lost: A is ESTABLISHED, B still in SYN_RCVD",
        story: "A receives the SYN,ACK, enters ESTABLISHED and sends the final ACK, which the \
                network drops. B stays in SYN_RCVD; its application cannot accept the \
                connection yet. B's SYN,ACK retransmission makes A repeat the ACK, and only \
                then is B established.",
        refs: "S-4",
        limit: Instant::from_secs(300),
        build: lost_third_ack,
    },
    Scenario {
        name: "stale-syn",
        title: "an old duplicate SYN arrives after the connection is gone: why three-way",
        story: "A's first SYN lingers in the network. A retransmits it, the connection runs \
                and closes normally. 90 s later the stale SYN reaches B, which answers with a \
                SYN,ACK as for any new request. A has no such connection and answers RST, so \
                B drops the half-open entry and goes back to LISTEN: no bogus connection is \
                opened, which a two-way handshake could not prevent.",
        refs: "S-1, RST-1, MUST-11",
        limit: Instant::from_secs(300),
        build: stale_syn,
    },
    Scenario {
        name: "lost-last-ack",
        title: "A's last ACK of the close is lost: TIME-WAIT earns its keep",
        story: "A closes first and reaches TIME_WAIT when B's FIN arrives; the ACK it sends \
                for that FIN is lost. B, in LAST_ACK, resends its FIN after its retransmission \
                timeout. A is still in TIME_WAIT, so it can answer with the ACK again (and \
                restart its 2MSL timer) instead of a RST.",
        refs: "S-7, MUST-13, EP-19",
        limit: Instant::from_secs(300),
        build: lost_last_ack,
    },
    Scenario {
        name: "fin-wait-2",
        title: "the peer never closes: an orphaned FIN_WAIT_2 is reaped after 60 s",
        story: "A closes and B acknowledges, but B's application never closes its side. A's \
                application has released the socket, so A does not wait forever: after the \
                FIN-WAIT-2 timeout (60 s) it forgets the connection. When B finally writes at \
                90 s, A has nothing to match it and answers RST.",
        refs: "S-8, LX-6",
        limit: Instant::from_secs(300),
        build: fin_wait_2,
    },
    Scenario {
        name: "simultaneous-open",
        title: "both sides connect to each other at once: the SYNs cross",
        story: "A (port 40000) and B (port 40001) each call connect() to the other at the same \
                moment. Each receives a SYN while in SYN_SENT, moves to SYN_RCVD and answers \
                with SYN,ACK carrying its own ISN; each ACK then completes one connection.",
        refs: "S-10, MUST-10",
        limit: Instant::from_secs(300),
        build: simultaneous_open,
    },
    Scenario {
        name: "simultaneous-close",
        title: "both sides close at once: the FINs cross, both pass through CLOSING",
        story: "A and B call close() at the same instant. Each gets the other's FIN while in \
                FIN_WAIT_1, moves to CLOSING, and enters TIME_WAIT when its own FIN is \
                acknowledged; both wait 2MSL.",
        refs: "S-9",
        limit: Instant::from_secs(300),
        build: simultaneous_close,
    },
    Scenario {
        name: "half-close",
        title: "A shuts down writing but keeps reading what B still has to say",
        story: "A sends its request and calls shutdown(): its FIN says 'I am done talking', \
                not 'go away'. A sits in FIN_WAIT_2 while B, in CLOSE_WAIT, reads the EOF and \
                keeps sending its answer in three parts before closing.",
        refs: "S-12",
        limit: Instant::from_secs(300),
        build: half_close,
    },
    Scenario {
        name: "reset",
        title: "RST: a refused connect, then an aborted connection",
        story: "A first connects to port 81, where nothing listens: B's stack answers the SYN \
                with RST and connect() fails with 'refused'. A then connects to port 80, sends \
                five bytes and aborts: its RST makes B drop the connection at once, and B's \
                application learns it was reset.",
        refs: "S-11, RST-1, RST-5",
        limit: Instant::from_secs(300),
        build: reset,
    },
    Scenario {
        name: "half-open",
        title: "A reboots and forgets the connection; B's data meets a RST",
        story: "A and B are connected. At 5 s A crashes and reboots, losing all TCP state. At \
                10 s B sends data; A has no connection for it and answers RST, and B, \
                accepting the RST, aborts its half-open connection.",
        refs: "S-13 (a), ST-7",
        limit: Instant::from_secs(300),
        build: half_open_reboot,
    },
    Scenario {
        name: "zero-window",
        title: "the reader stops: the window closes, A probes for 10 minutes, a lost update",
        story: "B accepts but does not read; its receive buffer holds two segments, so its \
                window falls to zero. A keeps the rest of its data and probes the window, \
                first after one RTO and then backing off to one probe every 120 s. B answers \
                every probe, so A never gives up, however long this lasts. At 600 s B reads; \
                its window update is lost, and A's next probe brings the open window back.",
        refs: "S-14, MUST-35..37, SHLD-29, SHLD-30",
        limit: Instant::from_secs(1200),
        build: zero_window,
    },
    Scenario {
        name: "lost-segment",
        title: "one data segment is lost near the tail: SACK says which, RACK says when",
        story: "A writes 8760 bytes (six full segments, the last 72 bytes with the FIN) and \
                closes; the fifth segment is lost. B acknowledges the first four; the sixth \
                and the FIN arrive above the hole and each draws a duplicate ACK whose SACK \
                block names what B holds. Two duplicate ACKs are short of the three that \
                classic fast retransmit waits for, but RACK (RFC 8985) reasons with time: a \
                segment sent after the fifth has arrived, so once that segment's round-trip \
                time plus a quarter of the minimum RTT has passed since the fifth left, the \
                fifth is lost. A resends it 5 ms after the SACKs reach it, not after a \
                retransmission timeout, and the close completes.",
        refs: "RK-1, RK-2, SK-2, SK-9",
        limit: Instant::from_secs(300),
        build: lost_segment,
    },
    Scenario {
        name: "syn-flood",
        title: "12 spoofed SYNs against a half-open queue of 8, then a real client",
        story: "M sends twelve SYNs from spoofed addresses to B's listener, whose half-open \
                queue holds eight, and never completes a handshake. B's SYN,ACKs go \
                unanswered and B keeps retransmitting them. When A connects a moment later, \
                whether it gets in at once depends on B's defence (SYN cookies, eviction of \
                old entries); without one it waits for a slot to free up.",
        refs: "S-6, SF-2, SF-4",
        limit: Instant::from_secs(300),
        build: syn_flood,
    },
];
