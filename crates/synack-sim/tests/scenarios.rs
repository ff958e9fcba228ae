//! The scenarios of TCP-CHECKLIST.md §8 (S-1..S-13), each run with our stack on both ends in
//! the simulator: the states on both sides, the segments (flags, seq, ack) and the virtual
//! times are asserted exactly.

mod common;

use common::*;
use synack::wire::TcpFlags;
use synack::{Cause, CloseReason, Config, Duration, Event, Instant, State, TimerKind};
#[allow(unused_imports)]
use synack_sim::scenarios::A_PORT;
use synack_sim::scenarios::{self, connect, two_hosts, B_PORT, B_SERVICE};
use synack_sim::{Fault, Injection, LinkConfig, Match, RawPacket, RunOutcome, Script, Step, World};

use State::*;

fn run(w: &mut World, limit: Instant) {
    assert_eq!(
        w.run_until_idle(limit),
        RunOutcome::Idle,
        "run did not finish by {limit}{}",
        show(w)
    );
}

fn play(name: &str) -> World {
    let s = scenarios::find(name).unwrap();
    let mut w = s.build(1);
    run(&mut w, s.limit);
    w
}

fn no_app_errors(w: &World) {
    for h in w.hosts() {
        assert!(
            h.log.errors.is_empty(),
            "{}'s application: {:?}{}",
            h.name,
            h.log.errors,
            show(w)
        );
    }
}

/// (time, flags, seq, ack, payload length) of every segment from `from` to `to`.
fn segs(w: &World, from: &str, to: &str) -> Vec<(Instant, String, u32, u32, usize)> {
    w.record()
        .segments(from, to)
        .iter()
        .map(|p| {
            let s = p.s();
            (p.sent, s.flags.to_string(), s.seq, s.ack, s.payload_len)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// S-1: an old duplicate SYN meets a listener.

#[test]
fn s_1_stale_syn() {
    // Variant 1: the peer no longer has the connection (CLOSED): it answers RST-1 style.
    let w = play("stale-syn");
    no_app_errors(&w);
    let r = w.record();
    let a_syns = r.matching("A", "B", Match::Syn);
    assert_eq!(a_syns.len(), 2, "{}", show(&w));
    let z = a_syns[0].s().seq;
    assert_eq!(a_syns[1].s().seq, z, "the retransmitted SYN keeps the ISS");
    // The first SYN was held for 90 s and arrived at 90.010 s.
    assert_eq!(a_syns[0].fates[0].held(), Duration::from_secs(90));
    // The connection itself ran and A's TIME-WAIT ended at about 61 s.
    assert_eq!(
        path(&w, "A"),
        vec![
            Closed,
            SynSent,
            Established,
            FinWait1,
            FinWait2,
            TimeWait,
            Closed
        ]
    );
    let a_gone = r.entered_all("A", Closed)[0];
    assert!(a_gone < secs(90));
    // B answers the stale SYN: a new half-open entry and a SYN,ACK acking Z+1.
    let b_conns = r.conns_of("B");
    assert_eq!(b_conns.len(), 2, "{}", show(&w));
    let stale = b_conns[1];
    assert_eq!(
        r.conn_state_path("B", stale),
        vec![Listen, SynReceived, Listen],
        "{}",
        show(&w)
    );
    let t = r.transitions("B");
    let born = t.iter().find(|x| x.1 == stale).unwrap().0;
    assert_eq!(born, ms(90_010));
    let synacks = r.matching("B", "A", Match::SynAck);
    let late = synacks.last().unwrap();
    assert_eq!(late.sent, ms(90_010));
    assert_eq!(late.s().ack, z.wrapping_add(1));
    // A has no connection: RST with seq = SEG.ACK (RST-1), no ACK bit.
    let rsts = r.matching("A", "B", Match::Rst);
    assert_eq!(rsts.len(), 1, "{}", show(&w));
    assert_eq!(rsts[0].sent, ms(90_020));
    assert_eq!(rsts[0].s().seq, z.wrapping_add(1));
    assert!(!rsts[0].s().flags.ack());
    // B goes back to LISTEN, telling the application nothing, accepting nothing.
    let back = t.iter().find(|x| x.1 == stale && x.3 == Listen).unwrap();
    assert_eq!((back.0, back.4), (ms(90_030), Cause::RecvRst));
    let late_events: Vec<_> = r
        .events("B")
        .into_iter()
        .filter(|(at, _)| *at >= secs(90))
        .collect();
    assert!(late_events.is_empty(), "{late_events:?}");
    assert_eq!(w.app_log("B").conns.len(), 1);
    assert_eq!(w.app_log("B").received(0), b"hello");
    assert!(r.sent_by("B").iter().all(|p| !p.s().flags.rst()));

    // Variant 2: the peer is in SYN-SENT with a different ISS. A stale SYN (seq Z) on the
    // same 4-tuple reaches B first; A's real SYN is held 100 ms. B's SYN,ACK acks Z+1, which
    // A in SYN-SENT cannot accept: A answers RST(seq Z+1) and stays in SYN-SENT; B returns to
    // LISTEN; then A's real SYN opens the one real connection.
    let mut w = two_hosts(2);
    w.set_app("B", Script::new(Step::sink(B_PORT)));
    w.set_app(
        "A",
        Script::new(vec![
            connect(),
            Step::WaitConnected,
            Step::send(b"real"),
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.add_fault(Fault::delay_nth("A", "B", Match::Syn, 1, dms(100)));
    let z = 0x5eed_0001u32;
    let stale = RawPacket::new(
        "198.18.0.1:40000".parse().unwrap(),
        B_SERVICE.parse().unwrap(),
    )
    .flags(TcpFlags::SYN)
    .seq(z)
    .mss(1460)
    .payload(b"stale data")
    .build();
    w.inject(Injection::new(Instant::ZERO, "B", stale).label("stale SYN"));
    run(&mut w, secs(300));
    no_app_errors(&w);
    let r = w.record();
    let y = r.matching("A", "B", Match::Syn)[0].s().seq;
    assert_ne!(y, z);
    // The stale SYN carried 10 bytes, which B took (ST-6): its SYN,ACK acks Z+11.
    let b_to_a = segs(&w, "B", "A");
    assert_eq!(b_to_a[0].1, "SYN,ACK");
    assert_eq!((b_to_a[0].0, b_to_a[0].3), (ms(0), z.wrapping_add(11)));
    let rst = r.matching("A", "B", Match::Rst);
    assert_eq!(rst.len(), 1, "{}", show(&w));
    assert_eq!((rst[0].sent, rst[0].s().seq), (ms(10), z.wrapping_add(11)));
    assert_eq!(
        path(&w, "A"),
        vec![
            Closed,
            SynSent,
            Established,
            FinWait1,
            FinWait2,
            TimeWait,
            Closed
        ],
        "A must stay in SYN-SENT through the bogus SYN,ACK{}",
        show(&w)
    );
    let b_conns = r.conns_of("B");
    assert_eq!(b_conns.len(), 2);
    assert_eq!(
        r.conn_state_path("B", b_conns[0]),
        vec![Listen, SynReceived, Listen]
    );
    assert_eq!(r.entered("B", Established), Some(ms(130)));
    assert_eq!(w.app_log("B").conns.len(), 1);
    assert_eq!(
        w.app_log("B").received(0),
        b"real",
        "no stale data delivered"
    );
}

// ---------------------------------------------------------------------------------------
// S-2: lost SYNs.

#[test]
fn s_2_lost_syn() {
    // One SYN lost: the retransmission 1 s later (same ISS) opens the connection.
    let w = play("lost-syn");
    no_app_errors(&w);
    let r = w.record();
    let syns = r.matching("A", "B", Match::Syn);
    assert_eq!(r.times("A", "B", Match::Syn), vec![ms(0), ms(1000)]);
    assert_eq!(syns[0].s().seq, syns[1].s().seq);
    assert_eq!(r.entered("A", Established), Some(ms(1020)));
    assert_eq!(r.entered("B", SynReceived), Some(ms(1010)));
    assert_eq!(w.app_log("B").received(0), b"hello");

    // Karn and RTO-12: no RTT sample from the retransmitted SYN's handshake, and data
    // starts with the 3 s fallback RTO. (Timestamps off: with them an echo is unambiguous.)
    let mut w2 = World::new(1);
    // Tail loss probes off: without an SRTT their PTO is 1 s (RFC 8985 §7.2, as Linux), so
    // a probe would repair the loss before the RTO this part is about.
    let no_ts = Config {
        timestamps: false,
        tail_loss_probe: false,
        ..Config::default()
    };
    w2.add_host_with("A", &["198.18.0.1"], no_ts.clone());
    w2.add_host_with("B", &["198.18.0.2"], no_ts);
    w2.set_default_link(LinkConfig::with_delay(dms(10)));
    w2.set_app(
        "B",
        Script::new(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvExactly(4),
        ]),
    );
    w2.set_app(
        "A",
        Script::new(vec![connect(), Step::WaitConnected, Step::send(b"data")]),
    );
    w2.add_fault(Fault::drop_nth("A", "B", Match::Syn, 1));
    w2.add_fault(Fault::drop_nth("A", "B", Match::Data, 1));
    w2.run_until(ms(1_030));
    let info = w2.stack("A").connections().pop().expect("A's connection");
    assert_eq!(info.state, Established);
    assert_eq!(info.srtt, None, "Karn: no sample from a retransmitted SYN");
    run(&mut w2, secs(30));
    // The data sent at 1.020 s is lost; its retransmission comes one RTO later: 3 s.
    assert_eq!(
        w2.record().times("A", "B", Match::Data),
        vec![ms(1_020), ms(4_020)],
        "RTO-12: data after a retransmitted SYN starts with the 3 s fallback RTO{}",
        show(&w2)
    );

    // Every SYN lost: retries at 1, 3, 7, 15, 31, 63 s; connect fails at 127 s.
    let w = play("syn-timeout");
    no_app_errors(&w);
    let r = w.record();
    assert_eq!(
        r.times("A", "B", Match::Syn),
        [0, 1, 3, 7, 15, 31, 63].map(secs).to_vec()
    );
    let t = r.transitions("A");
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[1].0, t[1].2, t[1].3, t[1].4),
        (secs(127), SynSent, Closed, Cause::RetriesExhausted)
    );
    assert_eq!(
        r.close_reasons("A"),
        vec![(secs(127), CloseReason::TimedOut)]
    );
    assert_eq!(w.counters("A").syn_retrans, 6);

    // A RST fails it at once with "refused".
    let w = play("reset");
    let r = w.record();
    assert_eq!(r.close_reasons("A")[0], (ms(20), CloseReason::Refused));
    let rst = &segs(&w, "B", "A")[0];
    let syn = &segs(&w, "A", "B")[0];
    assert_eq!(rst.1, "RST,ACK");
    assert_eq!((rst.2, rst.3), (0, syn.2.wrapping_add(1)));
}

// ---------------------------------------------------------------------------------------
// S-3: lost SYN,ACKs.

const C_ADDR: &str = "198.18.0.3";
const C_SOCK: &str = "198.18.0.3:5555";
const Z: u32 = 0x1234_5678;

/// What the raw client received: (time, segment).
type Received = std::rc::Rc<std::cell::RefCell<Vec<(Instant, synack_sim::Summary)>>>;

fn raw_client_world(steps: Vec<RawStep>) -> (World, Received) {
    let mut w = two_hosts(7);
    w.set_app(
        "B",
        Script::new(vec![Step::listen(B_PORT), Step::Accept, Step::RecvUntilEof]),
    );
    let c = RawClient::new(C_SOCK, B_SERVICE, steps);
    let got = c.got.clone();
    w.add_peer("C", &[C_ADDR], c);
    (w, got)
}

#[test]
fn s_3_lost_syn_ack() {
    // A client that sends one SYN and never answers: B's SYN,ACKs go out at 0, 1, 3, 7, 15,
    // 31 s (the raw client's SYN at 0.5 s is a retransmission: it draws a SYN,ACK for the
    // same entry, not a new one) and the request leaves the queue at 63 s, with no RST.
    let syn = |t| {
        RawStep::At(
            t,
            RawSeg {
                mss: Some(1460),
                ..seg(TcpFlags::SYN, SeqFrom::Abs(Z), SeqFrom::Abs(0))
            },
        )
    };
    let (mut w, got) = raw_client_world(vec![
        syn(ms(0)),
        syn(ms(500)),
        // A late ACK of B's SYN after the entry is gone meets RST (no cookies asked for).
        RawStep::At(
            secs(70),
            seg(TcpFlags::ACK, SeqFrom::Abs(Z + 1), SeqFrom::PeerIsn(1)),
        ),
    ]);
    run(&mut w, secs(300));
    let r = w.record();
    let b_syn_acks = r.matching("B", "C", Match::SynAck);
    let times: Vec<Instant> = b_syn_acks.iter().map(|p| p.sent).collect();
    // SYN arrives at 10 ms; the retransmitted SYN at 510 ms.
    assert_eq!(
        times,
        vec![
            ms(10),
            ms(510),
            ms(1_010),
            ms(3_010),
            ms(7_010),
            ms(15_010),
            ms(31_010)
        ],
        "{}",
        show(&w)
    );
    let isn = b_syn_acks[0].s().seq;
    assert!(b_syn_acks
        .iter()
        .all(|p| p.s().seq == isn && p.s().ack == Z + 1));
    assert_eq!(w.counters("B").passive_opens, 1, "one queue entry only");
    let t = r.transitions("B");
    assert_eq!(t.len(), 2, "{}", show(&w));
    assert_eq!((t[0].0, t[0].2, t[0].3), (ms(10), Listen, SynReceived));
    assert_eq!(
        t[1].0,
        ms(63_010),
        "the entry is dropped 63 s after it was made"
    );
    assert!(matches!(t[1].3, Listen | Closed));
    // No RST when the entry is dropped; the late ACK at 70 s draws RST(seq = SEG.ACK).
    let rsts = r.matching("B", "C", Match::Rst);
    assert_eq!(rsts.len(), 1, "{}", show(&w));
    assert_eq!(rsts[0].sent, ms(70_010));
    assert_eq!(rsts[0].s().seq, isn.wrapping_add(1));
    assert_eq!(w.counters("B").synack_timeouts, 1);
    assert!(w.app_log("B").conns.is_empty());
    assert!(got.borrow().len() >= 8);

    // Between two stacks: the first SYN,ACK lost; the connection still opens.
    let w = play("lost-syn-ack");
    no_app_errors(&w);
    assert_eq!(
        path(&w, "B"),
        vec![Listen, SynReceived, Established, CloseWait, LastAck, Closed]
    );
    assert_eq!(w.counters("B").passive_opens, 1);
    assert_eq!(w.app_log("B").received(0), b"hello");
}

// ---------------------------------------------------------------------------------------
// S-4: the final ACK of the handshake is lost.

#[test]
fn s_4_lost_third_ack() {
    let w = play("lost-third-ack");
    no_app_errors(&w);
    let r = w.record();
    assert_eq!(r.entered("A", Established), Some(ms(20)));
    // B stays in SYN-RECEIVED and resends its SYN,ACK after 1 s; A answers with a bare ACK.
    assert_eq!(
        r.times("B", "A", Match::SynAck),
        vec![ms(10), ms(1_010)],
        "{}",
        show(&w)
    );
    let a_acks = r.matching("A", "B", Match::PureAck);
    assert_eq!(a_acks[0].sent, ms(20));
    assert!(a_acks[0].lost());
    assert_eq!(a_acks[1].sent, ms(1_020));
    assert_eq!(
        a_acks[1].s().ack,
        r.matching("B", "A", Match::SynAck)[0].s().seq + 1
    );
    assert_eq!(r.entered("B", Established), Some(ms(1_030)));
    // B's application sees the connection only once it is ESTABLISHED.
    let accept_ready = r
        .events("B")
        .into_iter()
        .find(|(_, e)| matches!(e, Event::AcceptReady { .. }))
        .map(|x| x.0);
    assert_eq!(accept_ready, Some(ms(1_030)));
    let accepted = r
        .app_log("B")
        .into_iter()
        .find(|x| x.1 == "accept()")
        .unwrap();
    assert_eq!(accepted.0, ms(1_030));

    // Variant: A's first data segment (acking B's ISN+1) arrives instead: B enters
    // ESTABLISHED at the ACK step and takes the data from the same segment.
    let mut w = two_hosts(1);
    w.set_app(
        "B",
        Script::new(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvExactly(4),
        ]),
    );
    w.set_app(
        "A",
        Script::new(vec![connect(), Step::WaitConnected, Step::send(b"data")]),
    );
    w.add_fault(Fault::drop_nth("A", "B", Match::PureAck, 1));
    run(&mut w, secs(300));
    no_app_errors(&w);
    let r = w.record();
    let data = r.matching("A", "B", Match::Data);
    assert_eq!(data[0].sent, ms(20));
    assert_eq!(r.entered("B", Established), Some(ms(30)), "{}", show(&w));
    assert_eq!(w.app_log("B").received(0), b"data");
    assert_eq!(
        r.times("B", "A", Match::SynAck),
        vec![ms(10)],
        "no SYN,ACK resent"
    );
}

// ---------------------------------------------------------------------------------------
// S-5: data on the third segment, and on the SYN.

#[test]
fn s_5_data_on_third_segment() {
    let w = play("data-on-third-segment");
    no_app_errors(&w);
    let r = w.record();
    let a = segs(&w, "A", "B");
    let isn_a = a[0].2;
    let isn_b = segs(&w, "B", "A")[0].2;
    // SYN, then straight away ACK + payload: no separate bare ACK.
    assert_eq!(a[0].1, "SYN");
    assert_eq!(
        (a[1].0, a[1].1.as_str(), a[1].2, a[1].3, a[1].4),
        (ms(20), "PSH,ACK", isn_a + 1, isn_b + 1, 5),
        "{}",
        show(&w)
    );
    assert_eq!(r.entered("B", Established), Some(ms(30)));
    assert_eq!(w.app_log("B").received(0), b"hello");
    // B acknowledges the data (ack = ISN+1+5) in its next segment.
    let b = segs(&w, "B", "A");
    assert_eq!((b[1].0, b[1].3), (ms(30), isn_a + 6));

    // Variant: data on a plain (non-TFO) SYN. B buffers it, delivers it after
    // establishment, and acknowledges it in sequence. The raw client's third segment is a
    // bare ACK that assumes its SYN's data was taken.
    let mut syn = seg(TcpFlags::SYN, SeqFrom::Abs(Z), SeqFrom::Abs(0));
    syn.payload = b"early".to_vec();
    syn.mss = Some(1460);
    let (mut w, got) = raw_client_world(vec![
        RawStep::At(ms(0), syn),
        RawStep::At(
            ms(25),
            seg(TcpFlags::ACK, SeqFrom::Abs(Z + 6), SeqFrom::PeerIsn(1)),
        ),
        RawStep::At(
            ms(40),
            seg(
                TcpFlags::FIN | TcpFlags::ACK,
                SeqFrom::Abs(Z + 6),
                SeqFrom::PeerIsn(1),
            ),
        ),
    ]);
    run(&mut w, secs(300));
    let r = w.record();
    assert_eq!(r.entered("B", Established), Some(ms(35)), "{}", show(&w));
    assert_eq!(w.app_log("B").received(0), b"early", "{}", show(&w));
    let acked_data = got
        .borrow()
        .iter()
        .any(|(_, s)| s.flags.ack() && s.ack == Z + 6);
    assert!(
        acked_data,
        "B never acknowledged the SYN's data{}",
        show(&w)
    );
}

// ---------------------------------------------------------------------------------------
// S-6: SYN flood.

#[test]
fn s_6_syn_flood() {
    // 12 spoofed SYNs against a half-open queue of 8 (scenario `syn-flood`), a real client
    // at 0.1 s. Memory stays bounded and the client still gets in promptly (SYN cookies or
    // eviction of old half-open entries, SF-1/SF-4), well before the spoofed entries time
    // out at 63 s.
    let s = scenarios::find("syn-flood").unwrap();
    let mut w = s.build(1);
    w.run_until(ms(50));
    assert!(
        w.stack("B").connection_count() <= 8,
        "half-open entries beyond the bound: {}",
        w.stack("B").connection_count()
    );
    run(&mut w, s.limit);
    let r = w.record();
    assert!(
        w.counters("B").listen_drops + w.counters("B").dropped(synack::DropReason::SynQueueFull)
            > 0
            || r.sent_by("B").len() > 8,
        "{}",
        show(&w)
    );
    let est = r.entered("A", Established).expect("A never connected");
    assert!(
        est <= secs(2),
        "S-6: the real client got in only at {est} (its SYNs were dropped while the queue \
         was full of spoofed entries: no SYN cookies or eviction)"
    );
}

#[test]
fn s_6_forged_ack_and_accept_queue_overflow() {
    // A forged ACK to a listener (no half-open entry, no valid cookie) is answered with RST
    // and opens nothing.
    let (mut w, got) = raw_client_world(vec![RawStep::At(
        ms(0),
        seg(TcpFlags::ACK, SeqFrom::Abs(Z), SeqFrom::Abs(0xdead_beef)),
    )]);
    run(&mut w, secs(10));
    assert_eq!(w.stack("B").connection_count(), 0);
    let got = got.borrow();
    assert_eq!(got.len(), 1, "{}", show(&w));
    assert!(got[0].1.flags.rst() && got[0].1.seq == 0xdead_beef);

    // Accept queue of 1, nobody accepting: the second completed handshake's third ACK is
    // dropped (ListenOverflows), like Linux with tcp_abort_on_overflow = 0.
    let mut w = two_hosts(1);
    w.add_host("C", &[C_ADDR]);
    w.set_app(
        "B",
        Script::new(vec![Step::Listen {
            port: B_PORT,
            backlog: 0,
        }]),
    );
    w.set_app("A", Script::new(vec![connect(), Step::WaitConnected]));
    w.set_app(
        "C",
        Script::new(vec![
            Step::sleep_ms(100),
            Step::connect_from(5555, B_SERVICE),
            Step::WaitConnected,
        ]),
    );
    w.run_until(secs(5));
    assert!(w.counters("B").listen_overflows >= 1, "{}", show(&w));
    let b_est = w
        .stack("B")
        .connections()
        .iter()
        .filter(|c| c.state == Established)
        .count();
    assert_eq!(b_est, 1, "{}", show(&w));
}

// ---------------------------------------------------------------------------------------
// S-7: the last ACK of the close is lost.

#[test]
fn s_7_lost_last_ack() {
    let w = play("lost-last-ack");
    no_app_errors(&w);
    let r = w.record();
    assert_eq!(r.entered("A", TimeWait), Some(ms(1_010)));
    let acks = r.matching("A", "B", Match::PureAck);
    let last = acks.iter().rev().take(2).collect::<Vec<_>>();
    assert!(last[1].lost(), "{}", show(&w));
    assert_eq!(last[1].sent, ms(1_010));
    // B resends its FIN after its RTO; A, still in TIME-WAIT, ACKs again.
    let b_fins = r.matching("B", "A", Match::Fin);
    assert_eq!(b_fins.len(), 2);
    assert_eq!(b_fins[0].s().seq, b_fins[1].s().seq);
    let refin = b_fins[1].sent;
    assert!(
        refin > ms(1_010) && refin < ms(2_100),
        "FIN resent at {refin}"
    );
    assert_eq!(last[0].sent, refin + dms(10));
    assert_eq!(last[0].s().ack, b_fins[0].s().seq + 1);
    // B closes cleanly; A's 2MSL restarts from the second ACK.
    let bt = r.transitions("B");
    let b_last = bt.last().unwrap();
    assert_eq!(
        (b_last.0, b_last.2, b_last.3, b_last.4),
        (refin + dms(20), LastAck, Closed, Cause::RecvAck)
    );
    let at = r.transitions("A");
    let a_last = at.last().unwrap();
    assert_eq!(
        (a_last.0, a_last.3, a_last.4),
        (
            refin + dms(10) + Duration::from_secs(60),
            Closed,
            Cause::Timer(TimerKind::TimeWait)
        )
    );
    assert!(r.sent_by("A").iter().all(|p| !p.s().flags.rst()));

    // Control run: TIME-WAIT off. A forgets the connection at once and answers B's resent
    // FIN with RST; B's application (holding its half-closed socket) sees the error.
    let mut w = World::new(1);
    w.add_host_with(
        "A",
        &["198.18.0.1"],
        Config {
            time_wait: Duration::ZERO,
            ..Config::default()
        },
    );
    w.add_host("B", &["198.18.0.2"]);
    w.set_default_link(LinkConfig::with_delay(dms(10)));
    w.set_app(
        "B",
        Script::new(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvUntilEof,
            Step::At(secs(1)),
            Step::Shutdown,
            Step::ExpectClosed(CloseReason::Reset),
        ]),
    );
    w.set_app(
        "A",
        Script::new(vec![
            connect(),
            Step::WaitConnected,
            Step::send(b"hello"),
            Step::Close,
        ]),
    );
    w.add_fault(
        Fault::drop_all("A", "B", Match::PureAck)
            .between(Some(secs(1)), None)
            .nth(1),
    );
    run(&mut w, secs(300));
    no_app_errors(&w);
    let r = w.record();
    assert_eq!(r.matching("A", "B", Match::Rst).len(), 1, "{}", show(&w));
    assert_eq!(r.close_reasons("B").last().unwrap().1, CloseReason::Reset);
}

// ---------------------------------------------------------------------------------------
// S-8: FIN-WAIT-2 with a peer that never closes.

#[test]
fn s_8_fin_wait_2() {
    // Orphaned: reaped after 60 s; B's later data gets RST.
    let w = play("fin-wait-2");
    no_app_errors(&w);
    let r = w.record();
    assert_eq!(r.entered("A", FinWait2), Some(ms(40)));
    let t = r.transitions("A");
    let last = t.last().unwrap();
    assert_eq!(
        (last.0, last.2, last.3, last.4),
        (
            ms(60_040),
            FinWait2,
            Closed,
            Cause::Timer(TimerKind::FinWait2)
        ),
        "{}",
        show(&w)
    );
    let data = r.matching("B", "A", Match::Data);
    assert_eq!(data[0].sent, secs(90));
    let rst = r.matching("A", "B", Match::Rst);
    assert_eq!(rst.len(), 1);
    assert_eq!((rst[0].sent, rst[0].s().seq), (ms(90_010), data[0].s().ack));
    assert_eq!(r.close_reasons("B"), vec![(ms(90_020), CloseReason::Reset)]);
    assert_eq!(w.counters("A").fin_wait_2_timeouts, 1);

    // Holding the socket (shutdown of writes only): A stays in FIN-WAIT-2 indefinitely and
    // keeps receiving.
    let mut w = two_hosts(1);
    w.set_app(
        "B",
        Script::new(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvUntilEof,
            Step::At(secs(90)),
            Step::send(b"still "),
            Step::At(secs(1_000)),
            Step::send(b"here"),
        ]),
    );
    w.set_app(
        "A",
        Script::new(vec![
            connect(),
            Step::WaitConnected,
            Step::Shutdown,
            Step::RecvExactly(10),
        ]),
    );
    run(&mut w, secs(2_000));
    no_app_errors(&w);
    assert_eq!(w.app_log("A").received(0), b"still here");
    assert_eq!(w.record().state_path("A").last(), Some(&FinWait2));
    let c = w.stack("A").connections();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].state, FinWait2);
    assert!(w.record().matching("A", "B", Match::Rst).is_empty());
}

// ---------------------------------------------------------------------------------------
// S-9: simultaneous close.

#[test]
fn s_9_simultaneous_close() {
    let w = play("simultaneous-close");
    no_app_errors(&w);
    let r = w.record();
    for (h, first) in [("A", Closed), ("B", Listen)] {
        assert_eq!(
            path(&w, h),
            vec![
                first,
                if h == "A" { SynSent } else { SynReceived },
                Established,
                FinWait1,
                Closing,
                TimeWait,
                Closed
            ],
            "{h}{}",
            show(&w)
        );
        assert_eq!(r.entered(h, FinWait1), Some(ms(1_000)));
        assert_eq!(r.entered(h, Closing), Some(ms(1_010)));
        assert_eq!(r.entered(h, TimeWait), Some(ms(1_020)));
        assert_eq!(r.entered_all(h, Closed).last(), Some(&ms(61_020)));
    }
    // Each FIN is acknowledged by a bare ACK with ack = FIN seq + 1.
    for (from, to) in [("A", "B"), ("B", "A")] {
        let fin = &r.matching(from, to, Match::Fin)[0];
        let ack = r.matching(to, from, Match::PureAck);
        assert!(ack
            .iter()
            .any(|p| p.s().ack == fin.s().seq + 1 && p.sent == ms(1_010)));
    }

    // Variant: the FIN arrives together with the ACK of our FIN: FIN-WAIT-1 -> TIME-WAIT.
    // B's bare ACK of A's FIN is dropped, so B's FIN,ACK (which also acks A's FIN) is the
    // first news A gets.
    let mut w = two_hosts(1);
    w.set_app("B", Script::new(Step::sink(B_PORT)));
    w.set_app(
        "A",
        Script::new(vec![
            connect(),
            Step::WaitConnected,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    w.add_fault(
        Fault::drop_all("B", "A", Match::PureAck)
            .between(Some(ms(25)), None)
            .nth(1),
    );
    run(&mut w, secs(300));
    no_app_errors(&w);
    // A leaves FIN-WAIT-1 and enters TIME-WAIT on that one segment, never through CLOSING.
    // (RFC 9293 §3.10.7.4 moves to FIN-WAIT-2 at the ACK step and on at the FIN step, as
    // Linux does; a transient FIN-WAIT-2 at the same instant is allowed.)
    let b_finack = w.record().matching("B", "A", Match::Fin)[0].sent;
    let arrival = b_finack + dms(10);
    let t = w.record().transitions("A");
    let left_fw1 = t.iter().find(|x| x.2 == FinWait1).unwrap();
    assert_eq!(left_fw1.0, arrival, "{}", show(&w));
    assert_eq!(w.record().entered("A", TimeWait), Some(arrival));
    assert!(!path(&w, "A").contains(&Closing));
    let p = path(&w, "A");
    assert!(
        p == [Closed, SynSent, Established, FinWait1, TimeWait, Closed]
            || p == [
                Closed,
                SynSent,
                Established,
                FinWait1,
                FinWait2,
                TimeWait,
                Closed
            ],
        "{p:?}"
    );
}

// ---------------------------------------------------------------------------------------
// S-10: simultaneous open, and self-connect.

#[test]
fn s_10_simultaneous_open() {
    let w = play("simultaneous-open");
    no_app_errors(&w);
    let r = w.record();
    for (h, peer) in [("A", "B"), ("B", "A")] {
        assert_eq!(r.conns_of(h).len(), 1, "exactly one connection on {h}");
        assert_eq!(
            path(&w, h)[..4],
            [Closed, SynSent, SynReceived, Established],
            "{}",
            show(&w)
        );
        assert_eq!(r.entered(h, SynReceived), Some(ms(10)));
        assert_eq!(r.entered(h, Established), Some(ms(20)));
        let own = segs(&w, h, peer);
        let theirs = segs(&w, peer, h);
        assert_eq!((own[0].0, own[0].1.as_str()), (ms(0), "SYN"));
        // SYN,ACK: the same ISS, acking the peer's ISS + 1.
        assert_eq!(
            (own[1].0, own[1].1.as_str(), own[1].2, own[1].3),
            (ms(10), "SYN,ACK", own[0].2, theirs[0].2 + 1)
        );
    }
    assert_eq!(w.app_log("A").received(0), b"hi A");
    assert_eq!(w.app_log("B").received(0), b"hi B");

    // Self-connect: a port connecting to itself on the same host opens one connection.
    let mut w = World::new(1);
    w.add_host("A", &["198.18.0.1"]);
    w.set_app(
        "A",
        Script::new(vec![
            Step::connect_from(5000, "198.18.0.1:5000"),
            Step::WaitConnected,
            Step::send(b"echo"),
            Step::RecvExactly(4),
        ]),
    );
    run(&mut w, secs(300));
    no_app_errors(&w);
    assert_eq!(w.app_log("A").received(0), b"echo", "{}", show(&w));
    assert_eq!(w.stack("A").connection_count(), 1);

    // The ephemeral port choice avoids the self-connect: connecting to our own address on
    // ports in the ephemeral range never picks the destination port as the source.
    let mut w = World::new(1);
    w.add_host("A", &["198.18.0.1"]);
    w.set_app(
        "A",
        synack_sim::FnApp(|ctx: &mut synack_sim::AppCtx<'_>| {
            if ctx.stack.connection_count() == 0 {
                let (lo, hi) = ctx.stack.config().ephemeral_ports;
                let step = ((hi - lo) / 200).max(1);
                let mut port = lo;
                while port <= hi {
                    let remote = std::net::SocketAddr::new(ctx.addrs[0], port);
                    let c = ctx.stack.connect(ctx.now, None, remote).unwrap();
                    let local = ctx.stack.status(c).unwrap().local;
                    assert_ne!(local.port(), port, "ephemeral port equals the destination");
                    port = match port.checked_add(step) {
                        Some(p) => p,
                        None => break,
                    };
                }
            }
        }),
    );
    w.run_until(ms(1));
}

// ---------------------------------------------------------------------------------------
// S-11: RST in each state (RST-5, BI-1..3). Spoofed RSTs are injected with sequence numbers
// taken from the victim's own view of the connection (STATUS).

/// The one connection a host has (panics otherwise).
fn conn_info(w: &World, h: &str) -> synack::ConnInfo {
    let mut c = w.stack(h).connections();
    assert_eq!(
        c.len(),
        1,
        "{h} should have one connection: {c:?}{}",
        show(w)
    );
    c.pop().unwrap()
}

/// Inject a RST (with ACK `ack` if given) into `victim`'s connection, from its peer's
/// endpoint, now.
fn inject_rst(w: &mut World, victim: &str, seq: u32, ack: Option<u32>) {
    let info = conn_info(w, victim);
    let mut p = RawPacket::new(info.remote, info.local)
        .flags(TcpFlags::RST)
        .seq(seq);
    if let Some(a) = ack {
        p = p.flags(TcpFlags::RST | TcpFlags::ACK).ack(a);
    }
    let now = w.now();
    w.inject(Injection::new(now, victim, p.build()).label("spoofed RST"));
}

/// Packets `h` sent in `[from, to)`.
fn sent_between(w: &World, h: &str, from: Instant, to: Instant) -> Vec<synack_sim::Summary> {
    w.record()
        .sent_by(h)
        .iter()
        .filter(|p| p.sent >= from && p.sent < to)
        .map(|p| p.s().clone())
        .collect()
}

/// A connected to B; A's script ends with `a_tail`, B's with `b_tail`.
fn pair(a_tail: Vec<Step>, b_tail: Vec<Step>) -> World {
    let mut w = two_hosts(1);
    let mut b = vec![Step::listen(B_PORT), Step::Accept];
    b.extend(b_tail);
    let mut a = vec![connect(), Step::WaitConnected];
    a.extend(a_tail);
    w.set_app("B", Script::new(b));
    w.set_app("A", Script::new(a));
    w
}

#[test]
fn s_11_rst_in_listen_and_syn_sent() {
    // LISTEN: a RST is ignored (no answer), and the listener still works.
    let mut w = two_hosts(1);
    w.set_app(
        "B",
        Script::new(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::RecvExactly(2),
        ]),
    );
    w.set_app(
        "A",
        Script::new(vec![
            Step::At(secs(1)),
            connect(),
            Step::WaitConnected,
            Step::send(b"ok"),
        ]),
    );
    let rst = RawPacket::new("198.18.0.9:7".parse().unwrap(), B_SERVICE.parse().unwrap())
        .flags(TcpFlags::RST)
        .seq(1)
        .build();
    w.inject(Injection::new(ms(100), "B", rst));
    run(&mut w, secs(300));
    no_app_errors(&w);
    assert!(
        sent_between(&w, "B", ms(100), secs(1)).is_empty(),
        "{}",
        show(&w)
    );
    assert_eq!(w.app_log("B").received(0), b"ok");

    // SYN-SENT: a RST whose ACK does not acknowledge our SYN is dropped; one that does
    // closes the attempt with "refused". Neither is answered.
    let mut w = two_hosts(1);
    w.add_peer("C", &[C_ADDR], synack_sim::peer::Sink);
    w.set_app(
        "A",
        Script::new(vec![
            Step::connect_from(A_PORT, "198.18.0.3:80"),
            Step::ExpectClosed(CloseReason::Refused),
        ]),
    );
    w.run_until(ms(100));
    let iss = conn_info(&w, "A").snd_una;
    inject_rst(&mut w, "A", 0, Some(iss.wrapping_add(2)));
    w.run_until(ms(200));
    assert_eq!(conn_info(&w, "A").state, SynSent, "{}", show(&w));
    inject_rst(&mut w, "A", 0, None);
    w.run_until(ms(300));
    assert_eq!(
        conn_info(&w, "A").state,
        SynSent,
        "RST without ACK in SYN-SENT"
    );
    inject_rst(&mut w, "A", 0, Some(iss.wrapping_add(1)));
    run(&mut w, secs(300));
    no_app_errors(&w);
    let r = w.record();
    assert_eq!(r.close_reasons("A"), vec![(ms(300), CloseReason::Refused)]);
    assert!(r.sent_by("A").iter().all(|p| !p.s().flags.rst()));
}

#[test]
fn s_11_rst_in_syn_received() {
    // Passive SYN-RECEIVED: an in-window RST sends the entry back to LISTEN; nobody is told.
    let syn = RawSeg {
        mss: Some(1460),
        ..seg(TcpFlags::SYN, SeqFrom::Abs(Z), SeqFrom::Abs(0))
    };
    let (mut w, _) = raw_client_world(vec![
        RawStep::At(ms(0), syn),
        RawStep::At(
            ms(100),
            seg(TcpFlags::RST, SeqFrom::Abs(Z + 1), SeqFrom::Abs(0)),
        ),
    ]);
    run(&mut w, secs(300));
    let r = w.record();
    let t = r.transitions("B");
    assert_eq!(t.len(), 2, "{}", show(&w));
    assert_eq!(
        (t[1].0, t[1].2, t[1].3, t[1].4),
        (ms(110), SynReceived, Listen, Cause::RecvRst)
    );
    assert!(r
        .events("B")
        .iter()
        .all(|(_, e)| !matches!(e, Event::Closed { .. } | Event::AcceptReady { .. })));
    assert!(r.sent_by("B").iter().all(|p| !p.s().flags.rst()));
    assert_eq!(
        r.times("B", "C", Match::SynAck),
        vec![ms(10)],
        "no SYN,ACK after the RST"
    );

    // Active SYN-RECEIVED (simultaneous open): RST means "refused".
    let mut w = two_hosts(1);
    let w_isn = 0x0bad_cafe_u32;
    let c = RawClient::new(
        "198.18.0.3:80",
        "198.18.0.1:40000",
        vec![
            RawStep::At(
                ms(5),
                RawSeg {
                    mss: Some(1460),
                    ..seg(TcpFlags::SYN, SeqFrom::Abs(w_isn), SeqFrom::Abs(0))
                },
            ),
            RawStep::At(
                ms(30),
                seg(TcpFlags::RST, SeqFrom::Abs(w_isn + 1), SeqFrom::Abs(0)),
            ),
        ],
    );
    w.add_peer("C", &[C_ADDR], c);
    w.set_app(
        "A",
        Script::new(vec![
            Step::connect_from(A_PORT, "198.18.0.3:80"),
            Step::ExpectClosed(CloseReason::Refused),
        ]),
    );
    run(&mut w, secs(300));
    no_app_errors(&w);
    assert_eq!(
        path(&w, "A"),
        vec![Closed, SynSent, SynReceived, Closed],
        "{}",
        show(&w)
    );
    assert_eq!(
        w.record().close_reasons("A"),
        vec![(ms(40), CloseReason::Refused)]
    );
    assert!(w.record().sent_by("A").iter().all(|p| !p.s().flags.rst()));
}

/// In a synchronized state: out-of-window RST dropped silently, in-window but not RCV.NXT
/// draws a challenge ACK, RCV.NXT resets (and the application is told).
fn rst_triple(mut w: World, victim: &str, state: State, tell_app: bool) {
    let t0 = w.now();
    let info = conn_info(&w, victim);
    assert_eq!(info.state, state, "{}", show(&w));
    // Out of window: silently dropped.
    inject_rst(
        &mut w,
        victim,
        info.rcv_nxt.wrapping_add(info.rcv_wnd).wrapping_add(1_000),
        None,
    );
    w.run_for(dms(1));
    assert_eq!(conn_info(&w, victim).state, state, "{}", show(&w));
    assert!(
        sent_between(&w, victim, t0, w.now()).is_empty(),
        "answered an out-of-window RST{}",
        show(&w)
    );
    // In window, not RCV.NXT: challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><ACK>.
    let t1 = w.now();
    inject_rst(&mut w, victim, info.rcv_nxt.wrapping_add(1), None);
    w.run_for(dms(1));
    assert_eq!(conn_info(&w, victim).state, state);
    let out = sent_between(&w, victim, t1, w.now());
    assert_eq!(out.len(), 1, "one challenge ACK expected{}", show(&w));
    let now_info = conn_info(&w, victim);
    assert!(out[0].is_pure_ack(), "{:?}", out[0]);
    assert_eq!(
        (out[0].seq, out[0].ack),
        (now_info.snd_nxt, now_info.rcv_nxt)
    );
    // At RCV.NXT: reset.
    let t2 = w.now();
    inject_rst(&mut w, victim, now_info.rcv_nxt, None);
    w.run_for(dms(1));
    let st = w.stack(victim).connections();
    assert!(st.is_empty() || st[0].state == Closed, "{st:?}{}", show(&w));
    let tr = w.record().transitions(victim);
    let last = tr.last().unwrap();
    assert_eq!(
        (last.0, last.2, last.3, last.4),
        (t2, state, Closed, Cause::RecvRst)
    );
    if tell_app {
        assert_eq!(
            w.record().close_reasons(victim).last().map(|x| x.1),
            Some(CloseReason::Reset)
        );
    }
    // No RST ever answered a RST.
    assert!(sent_between(&w, victim, t0, w.now())
        .iter()
        .all(|s| !s.flags.rst()));
}

#[test]
fn s_11_rst_in_synchronized_states() {
    // ESTABLISHED.
    let mut w = pair(vec![Step::ExpectClosed(CloseReason::Reset)], vec![]);
    w.run_until(secs(1));
    rst_triple(w, "A", Established, true);

    // FIN-WAIT-1: A half-closes; everything from B is lost from then on.
    let mut w = pair(
        vec![
            Step::At(secs(1)),
            Step::Shutdown,
            Step::ExpectClosed(CloseReason::Reset),
        ],
        vec![],
    );
    w.add_fault(Fault::drop_all("B", "A", Match::Any).between(Some(secs(1)), None));
    w.run_until(ms(1_100));
    rst_triple(w, "A", FinWait1, true);

    // FIN-WAIT-2: A half-closes; B acks and never closes.
    let mut w = pair(
        vec![
            Step::At(secs(1)),
            Step::Shutdown,
            Step::ExpectClosed(CloseReason::Reset),
        ],
        vec![Step::RecvUntilEof],
    );
    w.run_until(secs(2));
    rst_triple(w, "A", FinWait2, true);

    // CLOSE-WAIT: B has read A's FIN and keeps its side open.
    let mut w = pair(
        vec![Step::At(secs(1)), Step::Shutdown],
        vec![Step::RecvUntilEof, Step::ExpectClosed(CloseReason::Reset)],
    );
    w.run_until(secs(2));
    rst_triple(w, "B", CloseWait, true);
}

#[test]
fn s_11_rst_in_closing_last_ack_time_wait() {
    // CLOSING: both close at 1 s and both bare ACKs of the FINs are lost.
    let mut w = pair(
        vec![Step::At(secs(1)), Step::Close],
        vec![Step::At(secs(1)), Step::Close],
    );
    w.add_fault(Fault::drop_all("A", "B", Match::PureAck).between(Some(secs(1)), None));
    w.add_fault(Fault::drop_all("B", "A", Match::PureAck).between(Some(secs(1)), None));
    w.run_until(ms(1_050));
    let info = conn_info(&w, "A");
    assert_eq!(info.state, Closing, "{}", show(&w));
    inject_rst(&mut w, "A", info.rcv_nxt, None);
    w.run_for(dms(1));
    assert!(
        w.stack("A").connections().iter().all(|c| c.state == Closed),
        "{}",
        show(&w)
    );
    assert_eq!(w.record().transitions("A").last().unwrap().3, Closed);

    // LAST-ACK: A closes, B closes; A's last ACK and everything after it is lost.
    let mut w = pair(
        vec![Step::At(secs(1)), Step::Close],
        vec![Step::RecvUntilEof, Step::At(secs(2)), Step::Close],
    );
    w.add_fault(Fault::drop_all("A", "B", Match::Any).between(Some(secs(2)), None));
    w.run_until(ms(2_050));
    let info = conn_info(&w, "B");
    assert_eq!(info.state, LastAck, "{}", show(&w));
    inject_rst(&mut w, "B", info.rcv_nxt, None);
    w.run_for(dms(1));
    assert!(
        w.stack("B").connections().iter().all(|c| c.state == Closed),
        "{}",
        show(&w)
    );
    let last = *w.record().transitions("B").last().unwrap();
    assert_eq!((last.2, last.3, last.4), (LastAck, Closed, Cause::RecvRst));

    // TIME-WAIT with RFC 1337 protection (the default, TW-2): the RST is ignored.
    let tw = |rfc1337: bool| {
        let mut w = World::new(1);
        w.add_host_with(
            "A",
            &["198.18.0.1"],
            Config {
                rfc1337,
                ..Config::default()
            },
        );
        w.add_host("B", &["198.18.0.2"]);
        w.set_default_link(LinkConfig::with_delay(dms(10)));
        w.set_app(
            "B",
            Script::new(vec![
                Step::listen(B_PORT),
                Step::Accept,
                Step::RecvUntilEof,
                Step::Close,
            ]),
        );
        w.set_app(
            "A",
            Script::new(vec![
                connect(),
                Step::WaitConnected,
                Step::At(secs(1)),
                Step::Close,
            ]),
        );
        w.run_until(secs(2));
        let info = conn_info(&w, "A");
        assert_eq!(info.state, TimeWait, "{}", show(&w));
        inject_rst(&mut w, "A", info.rcv_nxt, None);
        w.run_for(dms(1));
        w
    };
    let w = tw(true);
    assert_eq!(
        conn_info(&w, "A").state,
        TimeWait,
        "RFC 1337: RST ignored in TIME-WAIT"
    );
    assert!(sent_between(&w, "A", secs(2), w.now())
        .iter()
        .all(|s| !s.flags.rst()));
    let w = tw(false);
    assert!(
        w.stack("A").connections().iter().all(|c| c.state == Closed),
        "{}",
        show(&w)
    );
}

// ---------------------------------------------------------------------------------------
// S-12: half-close.

#[test]
fn s_12_half_close() {
    let w = play("half-close");
    no_app_errors(&w);
    let r = w.record();
    assert_eq!(
        path(&w, "A"),
        vec![
            Closed,
            SynSent,
            Established,
            FinWait1,
            FinWait2,
            TimeWait,
            Closed
        ]
    );
    assert_eq!(
        path(&w, "B"),
        vec![Listen, SynReceived, Established, CloseWait, LastAck, Closed]
    );
    assert_eq!(w.app_log("A").received(0), b"part 1part 2part 3");
    assert_eq!(w.app_log("B").received(0), b"GET");
    assert_eq!(r.entered("A", FinWait2), Some(ms(40)));
    assert_eq!(r.entered("A", TimeWait), Some(ms(2_040)));

    // A long answer: B sends 40 x 8 KiB over 40 s while A, in FIN-WAIT-2, reads it all,
    // ACKing and opening its window as it goes.
    let chunk: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    let mut b = vec![Step::listen(B_PORT), Step::Accept, Step::RecvUntilEof];
    for _ in 0..40 {
        b.push(Step::Send(chunk.clone()));
        b.push(Step::Sleep(Duration::from_secs(1)));
    }
    b.extend([Step::Close, Step::WaitClosed]);
    let mut w = two_hosts(1);
    w.set_app("B", Script::new(b));
    w.set_app(
        "A",
        Script::new(vec![
            connect(),
            Step::WaitConnected,
            Step::send(b"GET"),
            Step::Shutdown,
            Step::RecvUntilEof,
            Step::Close,
            Step::WaitClosed,
        ]),
    );
    run(&mut w, secs(600));
    no_app_errors(&w);
    let got = w.app_log("A").received(0);
    assert_eq!(got.len(), 40 * 8192);
    assert!(got.chunks(8192).all(|c| c == &chunk[..]));
    assert_eq!(w.record().entered("A", FinWait2), Some(ms(40)));
    assert!(w.record().entered("A", TimeWait).unwrap() > secs(40));

    // Closing with unread data: RST instead of FIN (SHLD-3); A, holding its socket, is told.
    let mut w = pair(
        vec![
            Step::send(b"unread"),
            Step::ExpectClosed(CloseReason::Reset),
        ],
        vec![Step::At(secs(1)), Step::Close],
    );
    run(&mut w, secs(300));
    no_app_errors(&w);
    let r = w.record();
    assert!(r.matching("B", "A", Match::Fin).is_empty(), "{}", show(&w));
    let rst = r.matching("B", "A", Match::Rst);
    assert_eq!(rst.len(), 1, "{}", show(&w));
    assert_eq!(rst[0].sent, secs(1));
    assert_eq!(w.counters("B").abort_on_close, 1);
}

// ---------------------------------------------------------------------------------------
// S-13: half-open connection after a reboot.

#[test]
fn s_13_half_open_after_reboot() {
    // (a) B sends data to the rebooted A: A answers RST(seq = SEG.ACK); B aborts.
    let w = play("half-open");
    no_app_errors(&w);
    let r = w.record();
    let data = &r.matching("B", "A", Match::Data)[0];
    assert_eq!(data.sent, secs(10));
    let rst = r.matching("A", "B", Match::Rst);
    assert_eq!(rst.len(), 1);
    assert_eq!((rst[0].sent, rst[0].s().seq), (ms(10_010), data.s().ack));
    assert!(!rst[0].s().flags.ack());
    let last = *r.transitions("B").last().unwrap();
    assert_eq!(
        (last.0, last.2, last.3, last.4),
        (ms(10_020), Established, Closed, Cause::RecvRst)
    );
    assert_eq!(r.close_reasons("B"), vec![(ms(10_020), CloseReason::Reset)]);

    // (b) A reconnects on the same 4-tuple: B answers the SYN with a challenge ACK; A in
    // SYN-SENT answers that with RST(seq = its ACK = B's RCV.NXT); B resets; A's resent SYN
    // then opens a new connection.
    let mut w = two_hosts(1);
    w.set_app(
        "B",
        Script::new(vec![
            Step::listen(B_PORT),
            Step::Accept,
            Step::ExpectClosed(CloseReason::Reset),
            Step::Accept,
            Step::RecvExactly(5),
        ]),
    );
    w.set_app("A", Script::new(vec![connect(), Step::WaitConnected]));
    w.at(secs(5), |w| {
        w.reboot(
            "A",
            Script::new(vec![connect(), Step::WaitConnected, Step::send(b"again")]),
        )
    });
    run(&mut w, secs(300));
    no_app_errors(&w);
    let r = w.record();
    let b_rcv_nxt = r.matching("A", "B", Match::PureAck)[0].s().seq;
    let syns = r.matching("A", "B", Match::Syn);
    assert_eq!(syns[1].sent, secs(5));
    let challenge = r
        .segments("B", "A")
        .into_iter()
        .find(|p| p.sent == ms(5_010))
        .expect("B answers the SYN");
    assert!(challenge.s().is_pure_ack(), "{}", show(&w));
    assert_eq!(
        challenge.s().ack,
        b_rcv_nxt,
        "challenge ACK carries RCV.NXT"
    );
    let rst = r.matching("A", "B", Match::Rst);
    assert_eq!(rst.len(), 1, "{}", show(&w));
    assert_eq!((rst[0].sent, rst[0].s().seq), (ms(5_020), b_rcv_nxt));
    let b_first = r.conns_of("B")[0];
    assert_eq!(
        r.conn_state_path("B", b_first),
        vec![Listen, SynReceived, Established, Closed]
    );
    let reset = r
        .transitions("B")
        .into_iter()
        .find(|x| x.3 == Closed)
        .unwrap();
    assert_eq!((reset.0, reset.4), (ms(5_030), Cause::RecvRst));
    // A's SYN retransmission at 6 s succeeds.
    assert_eq!(syns.len(), 3, "{}", show(&w));
    assert_eq!(syns[2].sent, secs(6));
    assert_eq!(syns[2].s().seq, syns[1].s().seq);
    assert_eq!(r.entered_all("B", Established).last(), Some(&ms(6_030)));
    assert_eq!(w.app_log("B").received(1), b"again");
}

// ---------------------------------------------------------------------------------------
// S-14: zero window.

#[test]
fn s_14_zero_window() {
    let w = play("zero-window");
    no_app_errors(&w);
    let r = w.record();
    // B's window fell to zero while A still had data.
    let zero = r
        .segments("B", "A")
        .iter()
        .find(|p| p.s().window == 0 && p.s().flags.ack())
        .map(|p| p.sent)
        .expect("B never advertised a zero window");
    // A's probes: pure segments at SND.UNA - 1 while the window is zero (Linux style).
    let probes: Vec<Instant> = r
        .segments("A", "B")
        .iter()
        .filter(|p| p.sent > zero && p.sent < secs(600) && p.s().payload_len == 0)
        .map(|p| p.sent)
        .collect();
    assert!(probes.len() >= 8, "{probes:?}{}", show(&w));
    // SHLD-29: the first probe comes one RTO (>= 200 ms) after the window closed.
    let first_gap = probes[0] - zero;
    assert!(
        first_gap >= dms(200) && first_gap <= secs(2) - Instant::ZERO,
        "first probe after {first_gap:?}"
    );
    // SHLD-30: the interval doubles, capped at 120 s (RTO max).
    let gaps: Vec<Duration> = probes.windows(2).map(|p| p[1] - p[0]).collect();
    for pair in gaps.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            b == Duration::from_secs(120) || (b >= a * 2 - dms(2) && b <= a * 2 + dms(2)),
            "probe gaps {gaps:?}"
        );
    }
    assert_eq!(*gaps.last().unwrap(), Duration::from_secs(120), "{gaps:?}");
    // MUST-37: far beyond what R2 allows for unanswered retransmissions, A is still there.
    assert_eq!(w.app_log("A").close_reason(0), Some(CloseReason::Normal));
    // The window update at 600 s was lost; the next probe recovered the open window, and
    // every byte arrived, once, in order.
    let update = r
        .segments("B", "A")
        .iter()
        .find(|p| p.sent >= secs(600))
        .map(|p| (p.lost(), p.s().window > 0))
        .unwrap();
    assert_eq!(update, (true, true), "the first update after 600 s is lost");
    let resumed = r
        .segments("A", "B")
        .iter()
        .find(|p| p.sent > secs(600) && p.s().payload_len > 0)
        .map(|p| p.sent)
        .unwrap();
    assert!(resumed <= secs(600 + 121), "A resumed at {resumed}");
    let want: Vec<u8> = (0..scenarios::ZERO_WINDOW_BYTES)
        .map(|i| (i % 251) as u8)
        .collect();
    assert_eq!(w.app_log("B").received(0), &want[..]);
}

// ---------------------------------------------------------------------------------------
// RK-1: the `lost-segment` demo. One segment near the tail is lost; RACK's reordering timer
// repairs it a quarter of the minimum RTT after the SACKs arrive, with no RTO.

#[test]
fn rk_1_lost_segment_demo_repairs_the_tail_loss_by_time() {
    let w = play("lost-segment");
    no_app_errors(&w);
    assert_eq!(
        w.app_log("B").received(0).len(),
        scenarios::LOST_SEGMENT_BYTES,
        "every byte delivered"
    );
    let a_data: Vec<_> = segs(&w, "A", "B").into_iter().filter(|s| s.4 > 0).collect();
    // Six full segments (and the FIN's 72 bytes) at 20 ms, then one retransmission.
    assert_eq!(a_data.len(), 8, "{a_data:?}");
    let lost = &a_data[4];
    let again = &a_data[7];
    assert_eq!((again.2, again.4), (lost.2, lost.4), "the fifth goes again");
    // B's first duplicate ACK with a SACK block left at 30 ms and reached A at 40 ms; the
    // minimum RTT is 20 ms, so RACK waits 20 / 4 = 5 ms more.
    let first_sack = w
        .record()
        .segments("B", "A")
        .iter()
        .find(|p| !p.s().options.sack.is_empty())
        .map(|p| p.sent)
        .expect("B sent SACK blocks");
    assert_eq!(first_sack, ms(30));
    assert_eq!(again.0, ms(45), "{}", show(&w));
    let c = w.counters("A");
    assert_eq!((c.reorder_timeouts, c.timeouts, c.retrans_segs), (1, 0, 1));
}
