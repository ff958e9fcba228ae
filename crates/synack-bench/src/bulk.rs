//! Bulk: one connection, A sends `total` bytes to B, as fast as the single-threaded
//! simulation loop can move them. The figure is wall-clock Gbit/s of the whole loop (both
//! stacks, the link, the application copies in and out), from `connect` to the last byte
//! read. The handshake is inside the timed region (it is a few rounds out of tens of
//! thousands); the close is not.
//!
//! With `in_place` both applications use their stack's in-place API instead: the sender
//! writes the same pattern bytes straight into the send buffer (its one copy of the data),
//! the receiver looks at the bytes where they lie in the receive buffer without copying them
//! out, checking the first and last byte of each slice against the pattern (the same O(1)
//! work per call for both stacks).
//!
//! [`pair`] runs the two stacks' transfers interleaved rather than one after the other: each
//! moves a slice of the bytes in turn (ABBA order), and each one's figure is its bytes over
//! the sum of its own slices' wall time. This machine's speed drifts by up to 2.5x from one
//! few-second phase to the next, and whole transfers run back to back gave ratios that
//! swung with the phase (MTU 65535: 1.28x to 1.73x in one session); slices of a few
//! milliseconds see the same phases.

use std::time::Instant as WallClock;
use synack_bench::{Endpoint, Link, Recv, Sim, SmolEnd, SmolHost, SynackEnd, SynackHost};

pub struct BulkRun {
    pub gbits: f64,
    pub secs: f64,
    pub packets: u64,
    pub rounds: u64,
    pub timer_jumps: u64,
    pub virtual_secs: f64,
}

impl BulkRun {
    /// The run that was not made (`--synack-only`): NaN rate, no packets.
    pub fn none() -> BulkRun {
        BulkRun {
            gbits: f64::NAN,
            secs: f64::NAN,
            packets: 0,
            rounds: 0,
            timer_jumps: 0,
            virtual_secs: f64::NAN,
        }
    }
}

#[derive(Clone, Copy)]
pub struct BulkParams {
    pub total: u64,
    pub mtu: u16,
    /// Send and receive buffer of each end, bytes (synack: the bound of its on-demand
    /// buffers; smoltcp: the fixed socket buffers).
    pub buffer: usize,
    /// Use the in-place send and receive calls (see the module comment).
    pub in_place: bool,
}

const PORT: u16 = 5001;

/// Slices per transfer in [`pair`].
const SLICES: u64 = 16;

/// synack's and smoltcp's transfers of `p`, interleaved in slices (see the module comment).
pub fn pair(p: BulkParams) -> (BulkRun, BulkRun) {
    let (mut s, mut m) = (synack_flow(p), smoltcp_flow(p));
    let slice = p.total.div_ceil(SLICES).max(1);
    let mut k = 0;
    while s.got < p.total || m.got < p.total {
        let target = ((k + 1) * slice).min(p.total);
        if k % 2 == 0 {
            s.run_to(target);
            m.run_to(target);
        } else {
            m.run_to(target);
            s.run_to(target);
        }
        k += 1;
    }
    (s.finish(), m.finish())
}

pub fn synack(p: BulkParams) -> BulkRun {
    let mut f = synack_flow(p);
    f.run_to(p.total);
    f.finish()
}

fn synack_flow(p: BulkParams) -> Flow<SynackEnd, SynackEnd> {
    // Both stacks get the same fixed buffers: synack's autotuning (LX-11) off, so the
    // comparison with smoltcp's fixed-size sockets stays like for like.
    let config = |side| SynackHost::config(side, p.mtu).fixed_buffers(p.buffer);
    let b = SynackEnd::server(
        SynackHost::new(synack_bench::Side::B, config(synack_bench::Side::B)),
        PORT,
    );
    let a = SynackEnd::client(
        SynackHost::new(synack_bench::Side::A, config(synack_bench::Side::A)),
        0,
        PORT,
    );
    Flow::new(a, b, p)
}

fn smoltcp_flow(p: BulkParams) -> Flow<SmolEnd, SmolEnd> {
    let mtu = p.mtu as usize;
    let b = SmolEnd::server(SmolHost::new(synack_bench::Side::B, mtu, 0), PORT, p.buffer);
    let a = SmolEnd::client(
        SmolHost::new(synack_bench::Side::A, mtu, 0),
        49_152,
        PORT,
        p.buffer,
    );
    Flow::new(a, b, p)
}

/// One transfer, resumable: [`Flow::run_to`] moves it on until the receiver has a given
/// number of bytes, and adds the wall time it took to the flow's own total.
struct Flow<A, B> {
    a: A,
    b: B,
    sim: Sim,
    p: BulkParams,
    pattern: Vec<u8>,
    rbuf: Vec<u8>,
    sent: u64,
    got: u64,
    /// In place: slices whose first or last byte is not the pattern's at its stream offset.
    mismatches: u64,
    secs: f64,
}

impl<A: Endpoint, B: Endpoint> Flow<A, B> {
    fn new(a: A, b: B, p: BulkParams) -> Self {
        let sim = Sim::new(Link::new());
        sim.link.reserve(1024, p.mtu as usize);
        Flow {
            a,
            b,
            sim,
            p,
            pattern: (0..64 * 1024u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect(),
            rbuf: vec![0u8; 64 * 1024],
            sent: 0,
            got: 0,
            mismatches: 0,
            secs: 0.0,
        }
    }

    /// Run rounds until the receiver has read `target` bytes (or all of them). The sender
    /// keeps its buffer full all along, up to the whole transfer, as in one uninterrupted
    /// run: a slice boundary only decides when the clock is read.
    fn run_to(&mut self, target: u64) {
        let Flow {
            a,
            b,
            sim,
            p,
            pattern,
            rbuf,
            sent,
            got,
            mismatches,
            secs,
        } = self;
        let total = p.total;
        let target = target.min(total);
        if *got >= target {
            return; // a round can carry a flow past the next slice's end
        }
        let t0 = WallClock::now();
        // The same rounds and clock steps as one uninterrupted run: a slice ends after the
        // clock step that follows its last round.
        loop {
            sim.round(
                a,
                b,
                |a, now| {
                    a.poll_app(now);
                    while *sent < total {
                        let off = (*sent % pattern.len() as u64) as usize;
                        let end = pattern.len().min(off + (total - *sent) as usize);
                        let n = if p.in_place {
                            a.send_in_place(now, &pattern[off..end])
                        } else {
                            a.send(now, &pattern[off..end])
                        };
                        if n == 0 {
                            break;
                        }
                        *sent += n as u64;
                    }
                },
                |b, now| {
                    b.poll_app(now);
                    if p.in_place {
                        let mut look = |s: &[u8]| {
                            if s.is_empty() {
                                return; // smoltcp's closure runs on an empty buffer too
                            }
                            let len = pattern.len() as u64;
                            let first = pattern[(*got % len) as usize];
                            let last = pattern[((*got + s.len() as u64 - 1) % len) as usize];
                            *mismatches += u64::from(s[0] != first || s[s.len() - 1] != last);
                            std::hint::black_box(s);
                            *got += s.len() as u64;
                        };
                        while let Recv::Data(_) = b.recv_in_place(now, &mut look) {}
                    } else {
                        while let Recv::Data(n) = b.recv(now, rbuf) {
                            *got += n as u64;
                        }
                    }
                },
            );
            if *got >= total {
                break;
            }
            if !sim.advance(a, b) {
                panic!(
                    "bulk stuck at {} of {total} bytes:\n  {}\n  {}",
                    got,
                    a.describe(),
                    b.describe()
                );
            }
            if *got >= target {
                break;
            }
        }
        *secs += t0.elapsed().as_secs_f64();
    }

    fn finish(self) -> BulkRun {
        std::hint::black_box(&self.rbuf);
        assert_eq!(self.got, self.p.total, "bulk: the transfer did not finish");
        assert_eq!(
            self.mismatches, 0,
            "in-place bulk: bytes differ from what was sent"
        );
        let st = self.sim.link.stats();
        BulkRun {
            gbits: self.p.total as f64 * 8.0 / self.secs / 1e9,
            secs: self.secs,
            packets: st[0].packets + st[1].packets,
            rounds: self.sim.rounds,
            timer_jumps: self.sim.timer_jumps,
            virtual_secs: self.sim.now as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bulk mode runs to the end on both stacks; in place, the bytes each slice
    /// starts and ends with are the pattern's (`Flow::finish` asserts it); interleaved runs
    /// move the same packets as uninterrupted ones.
    #[test]
    fn bulk_runs_copying_and_in_place_on_both_stacks() {
        for mtu in [1500, 65535] {
            for in_place in [false, true] {
                let p = BulkParams {
                    total: 3 << 20,
                    mtu,
                    buffer: 128 << 10,
                    in_place,
                };
                let alone = synack(p);
                let (s, m) = pair(p);
                assert!(s.packets > 0 && m.packets > 0 && s.secs > 0.0 && m.secs > 0.0);
                // Slicing only decides when the clock is read: the same packets and rounds
                // as the uninterrupted run.
                assert_eq!((s.packets, s.rounds), (alone.packets, alone.rounds));
            }
        }
    }
}
