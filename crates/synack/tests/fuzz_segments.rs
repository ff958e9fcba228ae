//! Stack-level fuzzing on stable tooling (issue 4, item 6, as a regression run): random
//! segments — any flag combination, sequence and acknowledgment numbers near the connection's
//! or anywhere, options including SACK blocks and timestamps, payloads, other ports — thrown at
//! a stack holding a listener and a connection in each state. After every segment the
//! invariants must hold: no panic, a bounded number of connections, legal states, and
//! sequence-space bookkeeping that stays ordered.

mod harness;
use harness::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Seg {
    flags: u8,
    seq_near: bool,
    seq_off: i32,
    ack_near: bool,
    ack_off: i32,
    window: u16,
    len: usize,
    other_port: bool,
    ts: Option<(u32, u32)>,
    sack: Vec<(i32, i32)>,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_ok: bool,
    advance_ms: u64,
}

fn seg() -> impl Strategy<Value = Seg> {
    (
        (
            any::<u8>(),
            any::<bool>(),
            -70_000i32..70_000,
            any::<bool>(),
            -70_000i32..70_000,
        ),
        (
            any::<u16>(),
            prop_oneof![Just(0usize), 1usize..100, 1000usize..2000],
        ),
        (
            any::<bool>(),
            prop::option::of((any::<u32>(), any::<u32>())),
        ),
        prop::collection::vec((-70_000i32..70_000, -70_000i32..70_000), 0..4),
        (
            prop::option::of(any::<u16>()),
            prop::option::of(any::<u8>()),
            any::<bool>(),
        ),
        0u64..3000,
    )
        .prop_map(
            |(
                (flags, seq_near, seq_off, ack_near, ack_off),
                (window, len),
                (other_port, ts),
                sack,
                (mss, wscale, sack_ok),
                advance_ms,
            )| Seg {
                flags,
                seq_near,
                seq_off,
                ack_near,
                ack_off,
                window,
                len,
                other_port,
                ts,
                sack,
                mss,
                wscale,
                sack_ok,
                advance_ms,
            },
        )
}

const STATES: [State; 8] = [
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::CloseWait,
    State::Closing,
    State::LastAck,
    State::TimeWait,
    State::SynReceived,
];

fn check_invariants(t: &Tcp) {
    assert!(
        t.stack.connection_count() <= 64,
        "connections grew without bound"
    );
    for c in t.stack.connections() {
        let una = SeqNum(c.snd_una);
        let nxt = SeqNum(c.snd_nxt);
        assert!(
            una.le(nxt),
            "SND.UNA {} beyond SND.NXT {}",
            c.snd_una,
            c.snd_nxt
        );
        assert!(
            c.recv_queued <= c.recv_buffer && c.recv_buffer <= Tcp::config().recv_buffer_limit(),
            "receive buffer overflow"
        );
        assert!(
            c.send_queued <= c.send_buffer && c.send_buffer <= Tcp::config().send_buffer_limit(),
            "send buffer overflow"
        );
        assert!(c.cwnd >= 1, "cwnd collapsed to zero");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_random_segments_keep_invariants(
        state_idx in 0usize..STATES.len(),
        segs in prop::collection::vec(seg(), 1..25),
    ) {
        let mut t = Tcp::v4();
        let state = STATES[state_idx];
        let (iss, irs) = if state == State::SynReceived {
            t.listen();
            t.inject(SYN).seq(5000u32).mss(1460);
            let iss = t.expect(SYN | ACK).seq_any();
            (iss, SeqNum(5000))
        } else {
            t.establish_in(state);
            (t.iss, t.peer_isn)
        };
        // Some data queued both ways so every code path has something to chew on.
        let _ = t.send(&[7u8; 3000]);
        let mut now = t.now;
        for s in &segs {
            now += dms(s.advance_ms);
            let seq = if s.seq_near { irs + 1 + s.seq_off as u32 } else { SeqNum(s.seq_off as u32 ^ 0x8000_0000) };
            let ack = if s.ack_near { iss + 1 + s.ack_off as u32 } else { SeqNum(s.ack_off as u32 ^ 0x4000_0000) };
            let mut opts = TcpOptions {
                mss: s.mss,
                window_scale: s.wscale,
                sack_permitted: s.sack_ok,
                timestamps: s.ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
                ..TcpOptions::default()
            };
            for &(l, r) in &s.sack {
                opts.push_sack(SackBlock { left: iss + 1 + l as u32, right: iss + 1 + r as u32 });
            }
            let mut inj = t
                .inject(TcpFlags(s.flags))
                .seq(seq)
                .ack(ack)
                .win(s.window)
                .options(opts)
                .len(s.len)
                .at(now);
            if s.other_port {
                inj = inj.src_port(40123);
            }
            drop(inj);
            t.take_sent();
            check_invariants(&t);
        }
        // Time runs on: every timer fires without panicking, and the stack drains.
        t.run_until(now + dsecs(4000));
        t.take_sent();
        check_invariants(&t);
        let _ = t.recv(1 << 20);
    }
}
