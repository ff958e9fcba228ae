//! synack against smoltcp 0.14 in one process: a synack `Stack` and a smoltcp `Interface`
//! (IP medium) on an in-memory link with one virtual clock. Each test opens a connection
//! (synack as client or as server), moves 16 MiB each way at the same time and checks both
//! streams by length and FNV-1a hash, then closes from the side the test names and waits
//! until both ends are CLOSED (TIME-WAIT included: 60 s on synack, 10 s on smoltcp, on the
//! virtual clock). The `under_5pct_loss` tests do the same on a link that drops 5% of the
//! packets each way (seeded, so every run is the same run). Further: smoltcp with TCP
//! timestamps (both ways), one-way transfers under loss (pure ACKs come back), and one
//! scripted loss each way (fast retransmit on the other stack's duplicate ACKs).
//!
//! Every test also checks synack's counters: no smoltcp packet rejected as malformed, no
//! RST either way, no connection aborted.
//!
//! The client is always side A (198.18.0.1), the server side B (198.18.0.2), port 80.

use synack_bench::{
    Endpoint, Fnv, Link, Recv, Side, Sim, SmolEnd, SmolHost, Stream, SynackEnd, SynackHost,
    SMOL_INTEROP_BUFFER,
};

const MIB: u64 = 1024 * 1024;
const EACH_WAY: u64 = 16 * MIB;
const PORT: u16 = 80;
const SMOL_CLIENT_PORT: u16 = 49_152;
/// Give up after this much virtual time (TIME-WAIT is 60 s; loss adds RTO backoffs).
const VIRTUAL_DEADLINE_US: u64 = 3_600 * 1_000_000;
const ROUND_LIMIT: u64 = 20_000_000;

thread_local! {
    /// The virtual clock in ms, for smoltcp's timestamp generator (a plain `fn() -> u32`).
    static VIRTUAL_MS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// smoltcp's TSval: the virtual clock in ms (the tests run one conversation per thread).
fn smol_tsval() -> u32 {
    VIRTUAL_MS.with(|c| c.get())
}

/// One application: writes its stream, reads the peer's, closes when its role says so.
struct App {
    total: u64,
    out: Stream,
    sent: u64,
    tx_hash: Fnv,
    received: u64,
    rx_hash: Fnv,
    eof: bool,
    /// This side closes first: shutdown once everything is written, release at EOF.
    closer: bool,
    shut: bool,
    released: bool,
    buf: Vec<u8>,
}

impl App {
    fn new(seed: u64, total: u64, closer: bool) -> App {
        App {
            total,
            out: Stream::new(seed),
            sent: 0,
            tx_hash: Fnv::default(),
            received: 0,
            rx_hash: Fnv::default(),
            eof: false,
            closer,
            shut: false,
            released: false,
            buf: vec![0; 64 * 1024],
        }
    }

    fn step<E: Endpoint>(&mut self, e: &mut E, now: u64) {
        e.poll_app(now);
        while self.sent < self.total {
            let want = (self.total - self.sent).min(64 * 1024) as usize;
            let chunk = self.out.peek(want);
            let n = e.send(now, chunk);
            if n == 0 {
                break;
            }
            self.tx_hash.update(&chunk[..n]);
            self.out.consume(n);
            self.sent += n as u64;
        }
        while !self.eof {
            match e.recv(now, &mut self.buf) {
                Recv::Data(n) => {
                    self.rx_hash.update(&self.buf[..n]);
                    self.received += n as u64;
                }
                Recv::Nothing => break,
                Recv::Eof => self.eof = true,
            }
        }
        let all_sent = self.sent == self.total;
        if self.closer {
            if all_sent && !self.shut {
                e.shutdown(now);
                self.shut = true;
            }
            if self.shut && self.eof && !self.released {
                e.release(now);
                self.released = true;
            }
        } else if all_sent && self.eof && !self.shut {
            e.shutdown(now);
            e.release(now);
            self.shut = true;
            self.released = true;
        }
    }

    fn done(&self) -> bool {
        self.sent == self.total && self.eof && self.released
    }
}

struct Outcome {
    virtual_secs: f64,
    /// Virtual time when every byte had been read (before the close).
    data_done_secs: f64,
    rounds: u64,
    packets: u64,
    dropped: u64,
    /// The synack end's counters at the end.
    counters: synack::Counters,
    /// The last packets on the link (see `Link::trace`).
    trace: Vec<String>,
}

/// What the synack end of a conversation is.
trait SynackSide {
    fn synack_counters(&self) -> Option<synack::Counters>;
}
impl SynackSide for SynackEnd {
    fn synack_counters(&self) -> Option<synack::Counters> {
        Some(self.host.stack.counters().clone())
    }
}
impl SynackSide for SmolEnd {
    fn synack_counters(&self) -> Option<synack::Counters> {
        None
    }
}

/// Run one conversation: `a` is the client, `b` the server; `closer` closes first.
fn converse<A: Endpoint + SynackSide, B: Endpoint + SynackSide>(
    mut a: A,
    mut b: B,
    closer: Side,
    loss: f64,
    seed: u64,
) -> Outcome {
    converse_sized(&mut a, &mut b, closer, loss, seed, (EACH_WAY, EACH_WAY))
}

/// `converse` with `sizes` = (bytes A sends, bytes B sends).
fn converse_sized<A: Endpoint + SynackSide, B: Endpoint + SynackSide>(
    a: &mut A,
    b: &mut B,
    closer: Side,
    loss: f64,
    seed: u64,
    sizes: (u64, u64),
) -> Outcome {
    let link = if loss > 0.0 {
        Link::with_loss(loss, seed)
    } else {
        Link::new()
    };
    converse_on(link, a, b, closer, seed, sizes)
}

/// `converse_sized` on a link the caller prepared (scripted losses).
fn converse_on<A: Endpoint + SynackSide, B: Endpoint + SynackSide>(
    link: Link,
    a: &mut A,
    b: &mut B,
    closer: Side,
    seed: u64,
    sizes: (u64, u64),
) -> Outcome {
    link.enable_trace();
    let mut sim = Sim::new(link);
    let mut app_a = App::new(seed ^ 0xA, sizes.0, closer == Side::A);
    let mut app_b = App::new(seed ^ 0xB, sizes.1, closer == Side::B);
    let mut established = (false, false);
    let mut data_done_us = 0u64;
    let fail = |why: &str, sim: &Sim, a: &A, b: &B, app_a: &App, app_b: &App| -> ! {
        panic!(
            "{why} at {} µs (round {}):\n  A: {}\n     sent {} received {} eof {}\n  B: {}\n     sent {} received {} eof {}\n  last packets:\n    {}",
            sim.now,
            sim.rounds,
            a.describe(),
            app_a.sent,
            app_a.received,
            app_a.eof,
            b.describe(),
            app_b.sent,
            app_b.received,
            app_b.eof,
            sim.link.trace().join("\n    ")
        )
    };
    loop {
        VIRTUAL_MS.with(|c| c.set((sim.now / 1000) as u32));
        sim.round(
            a,
            b,
            |a, now| app_a.step(a, now),
            |b, now| app_b.step(b, now),
        );
        established.0 |= a.is_established();
        established.1 |= b.is_established();
        if data_done_us == 0 && app_a.received == sizes.1 && app_b.received == sizes.0 {
            data_done_us = sim.now;
        }
        if app_a.done() && app_b.done() && a.is_closed() && b.is_closed() {
            break;
        }
        if !sim.advance(a, b) {
            fail(
                "stuck: nothing in flight, no timer pending",
                &sim,
                a,
                b,
                &app_a,
                &app_b,
            );
        }
        if sim.now > VIRTUAL_DEADLINE_US || sim.rounds > ROUND_LIMIT {
            fail("did not finish in time", &sim, a, b, &app_a, &app_b);
        }
    }
    assert!(established.0 && established.1, "handshake never completed");
    assert_eq!(app_b.received, sizes.0, "A->B length");
    assert_eq!(app_a.received, sizes.1, "B->A length");
    assert_eq!(app_b.rx_hash, app_a.tx_hash, "A->B stream hash");
    assert_eq!(app_a.rx_hash, app_b.tx_hash, "B->A stream hash");
    assert!(sim.link.is_empty());
    let st = sim.link.stats();
    Outcome {
        data_done_secs: data_done_us as f64 / 1e6,
        virtual_secs: sim.now as f64 / 1e6,
        rounds: sim.rounds,
        packets: st[0].packets + st[1].packets,
        dropped: st[0].dropped + st[1].dropped,
        counters: a
            .synack_counters()
            .or_else(|| b.synack_counters())
            .expect("one end is synack"),
        trace: sim.link.trace(),
    }
}

fn synack(side: Side) -> SynackHost {
    SynackHost::new(side, SynackHost::config(side, 1500))
}

fn smol(side: Side) -> SmolHost {
    SmolHost::new(side, 1500, 0)
}

/// smoltcp's options: by default it offers no timestamps; `Ts::On` gives it a TSval clock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ts {
    Off,
    On,
}

fn smol_options(e: &mut SmolEnd, ts: Ts) {
    if ts == Ts::On {
        e.host.tcp(e.handle).set_tsval_generator(Some(smol_tsval));
    }
}

fn synack_client_smoltcp_server(closer: Side, loss: f64, seed: u64) -> Outcome {
    synack_client_smoltcp_server_ts(closer, loss, seed, Ts::Off)
}

fn smoltcp_client_synack_server(closer: Side, loss: f64, seed: u64) -> Outcome {
    smoltcp_client_synack_server_ts(closer, loss, seed, Ts::Off)
}

fn synack_client_smoltcp_server_ts(closer: Side, loss: f64, seed: u64, ts: Ts) -> Outcome {
    let mut b = SmolEnd::server(smol(Side::B), PORT, SMOL_INTEROP_BUFFER);
    smol_options(&mut b, ts);
    let a = SynackEnd::client(synack(Side::A), 0, PORT);
    let out = converse(a, b, closer, loss, seed);
    check_synack_counters(&out);
    report("synack client, smoltcp server", closer, loss, &out);
    out
}

fn smoltcp_client_synack_server_ts(closer: Side, loss: f64, seed: u64, ts: Ts) -> Outcome {
    let b = SynackEnd::server(synack(Side::B), PORT);
    let mut host = smol(Side::A);
    // The socket must know about timestamps before its SYN is built: open it by hand.
    let handle = host.add_tcp(SMOL_INTEROP_BUFFER, SMOL_INTEROP_BUFFER);
    let mut a = SmolEnd::from_socket(host, handle);
    smol_options(&mut a, ts);
    a.host.connect(handle, SMOL_CLIENT_PORT, PORT);
    let out = converse(a, b, closer, loss, seed);
    check_synack_counters(&out);
    report("smoltcp client, synack server", closer, loss, &out);
    out
}

/// Every packet smoltcp sent parsed and was accepted by synack's input checks, and no
/// connection was reset.
fn check_synack_counters(o: &Outcome) {
    let c = &o.counters;
    assert_eq!(
        c.in_errs, 0,
        "synack rejected smoltcp packets as malformed:\n{c}"
    );
    assert_eq!(c.in_rsts, 0, "RST received by synack:\n{c}");
    assert_eq!(c.out_rsts, 0, "RST sent by synack:\n{c}");
    assert_eq!(c.estab_resets, 0, "{c}");
    assert_eq!(c.abort_on_timeout, 0, "{c}");
}

fn report(what: &str, closer: Side, loss: f64, o: &Outcome) {
    let c = &o.counters;
    println!(
        "{what}, {:?} closes, loss {:.0}%: {:.3} virtual s, {} rounds, {} packets delivered, {} dropped; \
         synack: {} segments sent, {} retransmitted, {} retransmission timeouts",
        closer,
        loss * 100.0,
        o.virtual_secs,
        o.rounds,
        o.packets,
        o.dropped,
        c.out_segs,
        c.retrans_segs,
        c.timeouts,
    );
}

// ----- lossless ----------------------------------------------------------------------------

#[test]
fn interop_synack_client_smoltcp_server_16mib_each_way() {
    let o = synack_client_smoltcp_server(Side::A, 0.0, 1);
    assert_eq!(o.dropped, 0);
    // smoltcp 0.14 offers no timestamps unless given a clock: none on the wire.
    assert!(
        !o.trace.iter().any(|l| l.contains(" ts=")),
        "{:#?}",
        o.trace
    );
}

#[test]
fn interop_smoltcp_client_synack_server_16mib_each_way() {
    let o = smoltcp_client_synack_server(Side::A, 0.0, 2);
    assert_eq!(o.dropped, 0);
}

#[test]
fn interop_close_initiated_by_smoltcp_server_synack_client() {
    synack_client_smoltcp_server(Side::B, 0.0, 3);
}

#[test]
fn interop_close_initiated_by_synack_server_smoltcp_client() {
    smoltcp_client_synack_server(Side::B, 0.0, 4);
}

// ----- 5% loss each way ----------------------------------------------------------------------

#[test]
fn interop_under_5pct_loss_synack_client_smoltcp_server_synack_closes() {
    let o = synack_client_smoltcp_server(Side::A, 0.05, 11);
    assert!(o.dropped > 0);
}

#[test]
fn interop_under_5pct_loss_smoltcp_client_synack_server_smoltcp_closes() {
    let o = smoltcp_client_synack_server(Side::A, 0.05, 12);
    assert!(o.dropped > 0);
}

#[test]
fn interop_under_5pct_loss_synack_client_smoltcp_server_smoltcp_closes() {
    let o = synack_client_smoltcp_server(Side::B, 0.05, 13);
    assert!(o.dropped > 0);
}

#[test]
fn interop_under_5pct_loss_smoltcp_client_synack_server_synack_closes() {
    let o = smoltcp_client_synack_server(Side::B, 0.05, 14);
    assert!(o.dropped > 0);
}

// ----- smoltcp with timestamps (RFC 7323 TSopt both ways: synack's PAWS and RTT paths) -----

/// Both directions' last segments carried timestamps (the option was negotiated).
fn assert_timestamps_both_ways(o: &Outcome) {
    for dir in ["A->B", "B->A"] {
        assert!(
            o.trace
                .iter()
                .any(|l| l.starts_with(dir) && l.contains(" ts=")),
            "no timestamps {dir}: {:#?}",
            o.trace
        );
    }
}

#[test]
fn interop_timestamps_synack_client_smoltcp_server_under_5pct_loss() {
    let o = synack_client_smoltcp_server_ts(Side::A, 0.05, 21, Ts::On);
    assert_timestamps_both_ways(&o);
    assert!(o.dropped > 0);
    assert_eq!(o.counters.dropped(synack::DropReason::Paws), 0);
    assert_eq!(o.counters.dropped(synack::DropReason::MissingTimestamp), 0);
}

#[test]
fn interop_timestamps_smoltcp_client_synack_server_16mib_each_way() {
    let o = smoltcp_client_synack_server_ts(Side::B, 0.0, 22, Ts::On);
    assert_timestamps_both_ways(&o);
    assert_eq!(o.counters.dropped(synack::DropReason::Paws), 0);
    assert_eq!(o.counters.dropped(synack::DropReason::MissingTimestamp), 0);
}

// ----- one way: pure ACKs come back, so duplicate ACKs (fast retransmit) can work ------------

#[test]
fn interop_one_way_16mib_synack_to_smoltcp_under_5pct_loss() {
    let mut a = SynackEnd::client(synack(Side::A), 0, PORT);
    let mut b = SmolEnd::server(smol(Side::B), PORT, SMOL_INTEROP_BUFFER);
    let o = converse_sized(&mut a, &mut b, Side::A, 0.05, 31, (EACH_WAY, 0));
    check_synack_counters(&o);
    report("one way synack -> smoltcp", Side::A, 0.05, &o);
    assert!(o.dropped > 0);
}

#[test]
fn interop_one_way_16mib_smoltcp_to_synack_under_5pct_loss() {
    let mut a = SmolEnd::client(smol(Side::A), SMOL_CLIENT_PORT, PORT, SMOL_INTEROP_BUFFER);
    let mut b = SynackEnd::server(synack(Side::B), PORT);
    let o = converse_sized(&mut a, &mut b, Side::A, 0.05, 32, (EACH_WAY, 0));
    check_synack_counters(&o);
    report("one way smoltcp -> synack", Side::A, 0.05, &o);
    assert!(o.dropped > 0);
}

// ----- one segment lost: recovered by fast retransmit (3 duplicate ACKs), not by the RTO -----

const ONE_MIB: u64 = MIB;

#[test]
fn interop_single_loss_synack_sender_fast_retransmits_on_smoltcp_dupacks() {
    let mut a = SynackEnd::client(synack(Side::A), 0, PORT);
    let mut b = SmolEnd::server(smol(Side::B), PORT, SMOL_INTEROP_BUFFER);
    let link = Link::new();
    link.drop_nth(synack_bench::link::A_TO_B, 40); // a full-sized data segment
    let o = converse_on(link, &mut a, &mut b, Side::A, 41, (ONE_MIB, 0));
    check_synack_counters(&o);
    report("single loss, synack -> smoltcp", Side::A, 0.0, &o);
    assert_eq!(o.dropped, 1);
    assert_eq!(o.counters.retrans_segs, 1, "{}", o.counters);
    assert_eq!(o.counters.timeouts, 0, "{}", o.counters);
}

/// Reproduction: smoltcp sends 1 MiB to synack; the 40th segment A->B is lost. The driver
/// (like smoltcp's own `Interface::poll`) hands synack every packet that arrived, then calls
/// `poll_transmit`. synack then emits ONE ACK per batch (ack = the hole, one SACK block),
/// not one duplicate ACK per out-of-order segment (RFC 5681 §4.2 SHOULD): in the first
/// round it acknowledges up to the hole, in the second it sends the only duplicate ACK;
/// smoltcp (which does not use SACK) has then filled its window, never sees 3 duplicates,
/// and recovers only at its RTO (1 s). When the driver calls `poll_transmit` after every
/// `handle_packet`, synack sends 5 duplicate ACKs, smoltcp fast-retransmits and the
/// transfer ends at 80 ms.
#[test]
fn interop_single_loss_smoltcp_sender_fast_retransmits_on_synack_dupacks() {
    let mut a = SmolEnd::client(smol(Side::A), SMOL_CLIENT_PORT, PORT, SMOL_INTEROP_BUFFER);
    let mut b = SynackEnd::server(synack(Side::B), PORT);
    let link = Link::new();
    link.drop_nth(synack_bench::link::A_TO_B, 40);
    let o = converse_on(link, &mut a, &mut b, Side::A, 42, (ONE_MIB, 0));
    check_synack_counters(&o);
    report("single loss, smoltcp -> synack", Side::A, 0.0, &o);
    assert_eq!(o.dropped, 1);
    // smoltcp's RTO is at least 1 s: finishing far sooner means its fast retransmit fired
    // on synack's duplicate ACKs.
    assert!(
        o.data_done_secs < 0.2,
        "took {} virtual s",
        o.data_done_secs
    );
}
