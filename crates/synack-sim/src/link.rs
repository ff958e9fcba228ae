//! Faulty one-way links: delay, jitter, loss, duplication, reordering, corruption, MTU and an
//! optional bandwidth limit with a finite queue. Every random choice comes from the seeded
//! RNG the world hands in, so a run is a pure function of its seed.

use crate::record::DropReason;
use crate::time_util::micros;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use synack::{Duration, Instant};

/// How one direction of a link behaves. `LinkConfig::default()` is a perfect 10 ms link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per packet (may reorder packets).
    pub jitter: Duration,
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a packet is delivered twice (the copy gets its own jitter).
    pub duplicate: f64,
    /// Probability that a packet is held back by an extra delay from `[0, reorder_delay]`.
    pub reorder: f64,
    pub reorder_delay: Duration,
    /// Probability that one random bit of a delivered copy is flipped.
    pub corrupt: f64,
    /// Packets longer than this many bytes are dropped.
    pub mtu: Option<usize>,
    /// Bytes per second; packets are serialized one after another through a FIFO.
    pub bandwidth: Option<u64>,
    /// With a bandwidth: most packets waiting in the FIFO; more are tail-dropped.
    pub queue_limit: Option<usize>,
    /// With a bandwidth: an ECN-Capable packet (ECT) that finds at least this many packets
    /// waiting is marked Congestion Experienced instead of waiting its turn unmarked (a
    /// step-threshold AQM, as DCTCP's K; RFC 3168 §5). Not-ECT packets are never marked.
    pub ecn_threshold: Option<usize>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            corrupt: 0.0,
            mtu: None,
            bandwidth: None,
            queue_limit: None,
            ecn_threshold: None,
        }
    }
}

impl LinkConfig {
    /// A perfect link with this one-way delay.
    pub fn with_delay(delay: Duration) -> Self {
        LinkConfig {
            delay,
            ..LinkConfig::default()
        }
    }
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }
    pub fn jitter(mut self, j: Duration) -> Self {
        self.jitter = j;
        self
    }
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }
    pub fn reorder(mut self, p: f64, extra: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = extra;
        self
    }
    pub fn corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }
    pub fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = Some(mtu);
        self
    }
    /// Mark ECT packets CE once `packets` wait in the bandwidth FIFO (see `ecn_threshold`).
    pub fn ecn_mark_at(mut self, packets: usize) -> Self {
        self.ecn_threshold = Some(packets);
        self
    }
    pub fn bandwidth(mut self, bytes_per_sec: u64, queue_limit: Option<usize>) -> Self {
        self.bandwidth = Some(bytes_per_sec);
        self.queue_limit = queue_limit;
        self
    }
}

/// One copy of a packet the link will deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copy {
    pub arrival: Instant,
    /// Flip this bit (index into the packet's bits) before delivery.
    pub flip_bit: Option<usize>,
    /// 0 for the original, 1 for the duplicate.
    pub index: u8,
    /// The queue marked it Congestion Experienced (`LinkConfig::ecn_threshold`).
    pub ce: bool,
}

/// A link direction: its configuration, its own RNG stream and its FIFO.
#[derive(Clone, Debug)]
pub struct Link {
    pub config: LinkConfig,
    rng: ChaCha8Rng,
    /// Departure times of packets still in the serialization FIFO.
    queue: std::collections::VecDeque<Instant>,
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    p > 0.0 && rng.random_bool(p.min(1.0))
}

fn up_to(rng: &mut ChaCha8Rng, d: Duration) -> Duration {
    let us = micros(d);
    if us == 0 {
        Duration::ZERO
    } else {
        Duration::from_micros(rng.random_range(0..=us))
    }
}

impl Link {
    pub fn new(config: LinkConfig, rng: ChaCha8Rng) -> Link {
        Link {
            config,
            rng,
            queue: Default::default(),
        }
    }

    /// The link's random stream (scripted corruption draws its bit from it).
    pub(crate) fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Send a packet of `len` bytes at `now`. `corruptible` is the byte range a bit flip may
    /// hit; `ect` says the packet is ECN-Capable. Returns the copies to deliver, or why the
    /// packet never arrives.
    pub fn transmit(
        &mut self,
        now: Instant,
        len: usize,
        corruptible: std::ops::Range<usize>,
        ect: bool,
    ) -> Result<Vec<Copy>, DropReason> {
        let c = &self.config;
        if let Some(mtu) = c.mtu {
            if len > mtu {
                return Err(DropReason::Mtu);
            }
        }
        if chance(&mut self.rng, c.loss) {
            return Err(DropReason::Loss);
        }
        let mut depart = now;
        let mut ce = false;
        if let Some(bw) = c.bandwidth.filter(|b| *b > 0) {
            while self.queue.front().is_some_and(|t| *t <= now) {
                self.queue.pop_front();
            }
            if let Some(limit) = c.queue_limit {
                if self.queue.len() >= limit {
                    return Err(DropReason::QueueFull);
                }
            }
            ce = ect && c.ecn_threshold.is_some_and(|k| self.queue.len() >= k);
            let start = self.queue.back().copied().unwrap_or(now).max(now);
            let ser = Duration::from_micros((len as u64 * 1_000_000).div_ceil(bw));
            depart = start + ser;
            self.queue.push_back(depart);
        }
        let copies = 1 + chance(&mut self.rng, c.duplicate) as u8;
        let mut out = Vec::with_capacity(copies as usize);
        for index in 0..copies {
            let c = &self.config;
            let mut arrival = depart + c.delay + up_to(&mut self.rng, c.jitter);
            if chance(&mut self.rng, c.reorder) {
                arrival += up_to(&mut self.rng, c.reorder_delay);
            }
            let flip_bit = if chance(&mut self.rng, c.corrupt) && !corruptible.is_empty() {
                Some(
                    self.rng
                        .random_range(corruptible.start * 8..corruptible.end * 8),
                )
            } else {
                None
            };
            out.push(Copy {
                arrival,
                flip_bit,
                index,
                ce,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn link(c: LinkConfig, seed: u64) -> Link {
        Link::new(c, ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn perfect_link_delivers_after_delay() {
        let mut l = link(LinkConfig::default(), 1);
        let out = l
            .transmit(Instant::from_secs(1), 100, 0..100, false)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].arrival, Instant::from_millis(1010));
        assert_eq!(out[0].flip_bit, None);
    }

    #[test]
    fn mtu_drops_big_packets() {
        let mut l = link(LinkConfig::default().mtu(1500), 1);
        assert!(l.transmit(Instant::ZERO, 1500, 0..1500, false).is_ok());
        assert_eq!(
            l.transmit(Instant::ZERO, 1501, 0..1501, false),
            Err(DropReason::Mtu)
        );
    }

    #[test]
    fn loss_rate_is_roughly_right_and_deterministic() {
        let run = |seed| {
            let mut l = link(LinkConfig::default().loss(0.3), seed);
            (0..10_000)
                .map(|_| l.transmit(Instant::ZERO, 60, 0..60, false).is_err())
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let lost = a.iter().filter(|x| **x).count();
        assert!((2_700..3_300).contains(&lost), "lost {lost}");
    }

    #[test]
    fn duplication_jitter_reorder_corruption() {
        let cfg = LinkConfig::default()
            .duplicate(0.5)
            .jitter(Duration::from_millis(5))
            .reorder(0.2, Duration::from_millis(100))
            .corrupt(0.5);
        let mut l = link(cfg, 3);
        let (mut dups, mut flips, mut late) = (0, 0, 0);
        for _ in 0..2_000 {
            for c in l.transmit(Instant::ZERO, 60, 20..60, false).unwrap() {
                dups += c.index as usize;
                assert!(c.arrival >= Instant::from_millis(10));
                assert!(c.arrival <= Instant::from_millis(115));
                if c.arrival > Instant::from_millis(15) {
                    late += 1;
                }
                if let Some(b) = c.flip_bit {
                    assert!((160..480).contains(&b));
                    flips += 1;
                }
            }
        }
        assert!((800..1_200).contains(&dups), "dups {dups}");
        assert!(flips > 1_000, "flips {flips}");
        assert!(late > 300, "late {late}");
    }

    #[test]
    fn ecn_marks_ect_packets_past_the_threshold_only() {
        let cfg = LinkConfig::with_delay(Duration::ZERO)
            .bandwidth(1000, Some(10))
            .ecn_mark_at(2);
        let mut l = Link::new(cfg, ChaCha8Rng::seed_from_u64(1));
        let t = Instant::ZERO;
        let marks: Vec<(bool, bool)> = [true, true, true, false, true]
            .iter()
            .map(|&ect| (ect, l.transmit(t, 100, 0..100, ect).unwrap()[0].ce))
            .collect();
        // Two packets wait before the third: it and the fifth are marked, the fourth is
        // Not-ECT and passes unmarked.
        assert_eq!(
            marks,
            [
                (true, false),
                (true, false),
                (true, true),
                (false, false),
                (true, true)
            ]
        );
    }

    #[test]
    fn bandwidth_serializes_and_queue_overflows() {
        // 1,000 bytes/s: a 100-byte packet takes 100 ms on the wire.
        let mut l = link(LinkConfig::default().bandwidth(1_000, Some(2)), 1);
        let t = |ms| Instant::from_millis(ms);
        let a = l.transmit(t(0), 100, 0..100, false).unwrap();
        let b = l.transmit(t(0), 100, 0..100, false).unwrap();
        assert_eq!(a[0].arrival, t(110));
        assert_eq!(b[0].arrival, t(210));
        assert_eq!(
            l.transmit(t(0), 100, 0..100, false),
            Err(DropReason::QueueFull)
        );
        // Once the first has left, there is room again.
        let c = l.transmit(t(100), 100, 0..100, false).unwrap();
        assert_eq!(c[0].arrival, t(310));
    }
}
