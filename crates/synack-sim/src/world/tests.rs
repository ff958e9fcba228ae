//! Tests of the event loop, links, faults and injections with raw peers (no TCP stack).

use super::*;
use crate::fault::{Fault, Injection, Match};
use crate::packet::{RawPacket, Summary};
use crate::peer::{Peer, PeerCtx, Responder, Sink};
use synack::wire::TcpFlags;
use synack::Duration;

const P: &str = "198.18.1.1:1000";
const Q: &str = "198.18.1.2:80";

fn seg(flags: TcpFlags, seq: u32) -> RawPacket {
    RawPacket::new(P.parse().unwrap(), Q.parse().unwrap())
        .flags(flags)
        .seq(seq)
}

/// Sends `n` segments, one every `every` (a SYN first, then ACKs with 10 bytes).
struct Sender {
    n: u32,
    sent: u32,
    every: Duration,
}

impl Sender {
    fn send_one(&mut self, ctx: &mut PeerCtx<'_>) {
        let p = if self.sent == 0 {
            seg(TcpFlags::SYN, 0)
        } else {
            seg(TcpFlags::ACK, self.sent).payload(&[b'x'; 10])
        };
        ctx.send_raw(p);
        self.sent += 1;
        if self.sent < self.n {
            ctx.wake_at(ctx.now + self.every);
        }
    }
}

impl Peer for Sender {
    fn on_start(&mut self, ctx: &mut PeerCtx<'_>) {
        self.send_one(ctx);
    }
    fn on_packet(&mut self, _: &mut PeerCtx<'_>, _: &[u8]) {}
    fn on_wake(&mut self, ctx: &mut PeerCtx<'_>) {
        self.send_one(ctx);
    }
}

/// Answers a SYN with SYN,ACK and anything else with a pure ACK.
fn answerer() -> Responder<impl FnMut(Instant, &Summary) -> Vec<RawPacket>> {
    Responder(|_now, s: &Summary| {
        let back = RawPacket::new(s.dst, s.src);
        if s.is_syn() {
            vec![back
                .flags(TcpFlags::SYN | TcpFlags::ACK)
                .seq(5000)
                .ack(s.seq + 1)]
        } else {
            vec![back
                .flags(TcpFlags::ACK)
                .seq(5001)
                .ack(s.seq + s.payload_len as u32)]
        }
    })
}

fn world(seed: u64, n: u32, link: LinkConfig) -> World {
    let mut w = World::new(seed);
    w.add_peer(
        "P",
        &["198.18.1.1"],
        Sender {
            n,
            sent: 0,
            every: Duration::from_millis(1),
        },
    );
    w.add_peer("Q", &["198.18.1.2"], answerer());
    w.set_default_link(link);
    w
}

#[test]
fn request_and_answer_follow_link_delay() {
    let mut w = world(1, 1, LinkConfig::with_delay(Duration::from_millis(25)));
    assert_eq!(w.run_until_idle(Instant::from_secs(10)), RunOutcome::Idle);
    let r = w.record();
    let pq = r.segments("P", "Q");
    let qp = r.segments("Q", "P");
    assert_eq!((pq.len(), qp.len()), (1, 1));
    assert!(pq[0].s().is_syn());
    assert_eq!(pq[0].sent, Instant::ZERO);
    assert!(
        matches!(pq[0].fates[..], [Fate::Delivered { at, .. }] if at == Instant::from_millis(25))
    );
    assert!(qp[0].s().is_syn_ack());
    assert_eq!(qp[0].s().ack, 1);
    assert_eq!(qp[0].sent, Instant::from_millis(25));
    assert_eq!(w.now(), Instant::from_millis(50));
    assert_eq!(
        r.times("Q", "P", Match::SynAck),
        vec![Instant::from_millis(25)]
    );
}

#[test]
fn run_until_sets_the_clock_and_stops_on_time() {
    let mut w = world(1, 10, LinkConfig::with_delay(Duration::from_millis(10)));
    w.run_until(Instant::from_micros(4_500));
    assert_eq!(w.now(), Instant::from_micros(4_500));
    // Sent at 0..=4 ms; none has arrived yet (10 ms link).
    assert_eq!(w.record().segments("P", "Q").len(), 5);
    assert!(w.record().segments("Q", "P").is_empty());
    assert_eq!(
        w.run_until_idle(Instant::from_millis(12)),
        RunOutcome::Limit
    );
    assert_eq!(w.run_until_idle(Instant::from_secs(1)), RunOutcome::Idle);
    assert_eq!(w.record().segments("Q", "P").len(), 10);
}

#[test]
fn faults_drop_hold_duplicate_and_corrupt() {
    let mut w = world(3, 4, LinkConfig::default());
    w.add_fault(Fault::drop_nth("P", "Q", Match::Syn, 1));
    w.add_fault(Fault::delay_nth(
        "P",
        "Q",
        Match::Data,
        1,
        Duration::from_secs(90),
    ));
    w.add_fault(Fault::duplicate_nth("P", "Q", Match::Data, 2));
    w.add_fault(Fault::corrupt_nth("P", "Q", Match::Data, 3));
    w.run_until_idle(Instant::from_secs(100));
    let r = w.record();
    let pq = r.segments("P", "Q");
    assert_eq!(pq[0].fates, vec![Fate::Dropped(DropReason::Fault)]);
    assert!(matches!(
        pq[1].fates[..],
        [Fate::Delivered { at, held, .. }] if held == Duration::from_secs(90)
            && at == Instant::from_millis(1 + 10 + 90_000)
    ));
    assert_eq!(pq[2].fates.len(), 2);
    assert!(pq[2].fates.iter().all(Fate::is_delivered));
    assert!(matches!(
        pq[3].fates[..],
        [Fate::Delivered {
            corrupted: true,
            ..
        }]
    ));
    // Q answered the two good copies of #2, the held #1, and whatever the corrupted #3
    // still looked like (the raw answerer does not check checksums).
    assert_eq!(r.segments("Q", "P").len(), 4);
    // The corrupted copy really differs from what was sent.
    let arrived = r
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Arrived { packet: 3, .. }))
        .count();
    assert_eq!(arrived, 1);
    // The held copy arrives last, and the ladder draws it twice (sent, then late).
    let lad = crate::ladder::render(r, &Default::default());
    assert!(lad.contains("(held 90s)"), "{lad}");
    assert!(lad.contains("~~~~~ ACK sent at 0.001s"), "{lad}");
}

fn trace(seed: u64) -> String {
    let link = LinkConfig::with_delay(Duration::from_millis(10))
        .loss(0.2)
        .duplicate(0.1)
        .jitter(Duration::from_millis(3))
        .reorder(0.1, Duration::from_millis(20))
        .corrupt(0.05);
    let mut w = world(seed, 300, link);
    w.run_until_idle(Instant::from_secs(10));
    w.record().trace()
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let a = trace(42);
    assert_eq!(a, trace(42));
    assert_ne!(a, trace(43));
    assert!(a.contains("[lost]") && a.contains("[dup]") && a.contains("corrupted"));
}

#[test]
fn links_are_configured_per_direction() {
    let mut w = world(1, 50, LinkConfig::default());
    w.set_link("P", "Q", LinkConfig::default().loss(1.0));
    w.set_link("Q", "P", LinkConfig::with_delay(Duration::from_millis(1)));
    w.run_until_idle(Instant::from_secs(10));
    let r = w.record();
    assert!(r.segments("P", "Q").iter().all(|p| p.lost()));
    assert!(r.segments("Q", "P").is_empty());
}

#[test]
fn mtu_no_route_injection_and_scheduled_actions() {
    let mut w = World::new(1);
    w.add_peer("P", &["198.18.1.1"], Sink);
    w.add_peer("Q", &["198.18.1.2"], answerer());
    w.set_link("Q", "P", LinkConfig::default().mtu(39));
    // Q answers the injected SYN with a 40-byte SYN,ACK; the link Q->P allows 39.
    w.inject(Injection::new(
        Instant::from_secs(1),
        "Q",
        seg(TcpFlags::SYN, 9).build(),
    ));
    // A SYN from an address nobody owns: the answer has no route.
    let mut stray = seg(TcpFlags::SYN, 1);
    stray.src = "10.9.9.9:80".parse().unwrap();
    w.at(Instant::from_secs(2), move |w| {
        w.inject(Injection::new(Instant::ZERO, "Q", stray.build()).label("odd"))
    });
    w.run_until_idle(Instant::from_secs(10));
    let r = w.record();
    assert_eq!(r.packets.len(), 4, "{}", r.trace());
    assert_eq!(r.packets[0].from, None);
    assert_eq!(r.packets[0].sent, Instant::from_secs(1));
    assert_eq!(r.packets[1].fates, vec![Fate::Dropped(DropReason::Mtu)]);
    assert_eq!(r.packets[2].label.as_deref(), Some("odd"));
    assert_eq!(r.packets[2].sent, Instant::from_secs(2));
    assert_eq!(r.packets[3].fates, vec![Fate::Dropped(DropReason::NoRoute)]);
    assert_eq!(r.packets[3].to, None);
    let lad = crate::ladder::render(r, &Default::default());
    assert!(lad.contains("(odd)"), "{lad}");
}

#[test]
fn bandwidth_queue_spaces_arrivals() {
    // 1,000 bytes/s, 10 packets of 50 bytes sent 1 ms apart: they leave 50 ms apart.
    let mut w = world(1, 10, LinkConfig::default().bandwidth(1_000, None));
    w.run_until_idle(Instant::from_secs(10));
    let arrivals: Vec<Instant> = w
        .record()
        .segments("P", "Q")
        .iter()
        .map(|p| match p.fates[0] {
            Fate::Delivered { at, .. } => at,
            _ => panic!("not delivered"),
        })
        .collect();
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(50),
            "{arrivals:?}"
        );
    }
}
