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

pub fn synack(p: BulkParams) -> BulkRun {
    let config = |side| synack::Config {
        send_buffer: p.buffer,
        recv_buffer: p.buffer,
        ..SynackHost::config(side, p.mtu)
    };
    let b = SynackEnd::server(
        SynackHost::new(synack_bench::Side::B, config(synack_bench::Side::B)),
        PORT,
    );
    let a = SynackEnd::client(
        SynackHost::new(synack_bench::Side::A, config(synack_bench::Side::A)),
        0,
        PORT,
    );
    run(a, b, p)
}

pub fn smoltcp(p: BulkParams) -> BulkRun {
    let mtu = p.mtu as usize;
    let b = SmolEnd::server(SmolHost::new(synack_bench::Side::B, mtu, 0), PORT, p.buffer);
    let a = SmolEnd::client(
        SmolHost::new(synack_bench::Side::A, mtu, 0),
        49_152,
        PORT,
        p.buffer,
    );
    run(a, b, p)
}

fn run<A: Endpoint, B: Endpoint>(mut a: A, mut b: B, p: BulkParams) -> BulkRun {
    let mut sim = Sim::new(Link::new());
    sim.link.reserve(1024, p.mtu as usize);
    let pattern: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut rbuf = vec![0u8; 64 * 1024];
    let (mut sent, mut got) = (0u64, 0u64);
    // In place: slices whose first or last byte is not the pattern's at its stream offset.
    let mut mismatches = 0u64;
    let total = p.total;
    let t0 = WallClock::now();
    while got < total {
        sim.round(
            &mut a,
            &mut b,
            |a, now| {
                a.poll_app(now);
                while sent < total {
                    let off = (sent % pattern.len() as u64) as usize;
                    let end = pattern.len().min(off + (total - sent) as usize);
                    let n = if p.in_place {
                        a.send_in_place(now, &pattern[off..end])
                    } else {
                        a.send(now, &pattern[off..end])
                    };
                    if n == 0 {
                        break;
                    }
                    sent += n as u64;
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
                        let first = pattern[(got % len) as usize];
                        let last = pattern[((got + s.len() as u64 - 1) % len) as usize];
                        mismatches += u64::from(s[0] != first || s[s.len() - 1] != last);
                        std::hint::black_box(s);
                        got += s.len() as u64;
                    };
                    while let Recv::Data(_) = b.recv_in_place(now, &mut look) {}
                } else {
                    while let Recv::Data(n) = b.recv(now, &mut rbuf) {
                        got += n as u64;
                    }
                }
            },
        );
        if got >= total {
            break;
        }
        if !sim.advance(&mut a, &mut b) {
            panic!(
                "bulk stuck at {} of {total} bytes:\n  {}\n  {}",
                got,
                a.describe(),
                b.describe()
            );
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    std::hint::black_box(&rbuf);
    assert_eq!(
        mismatches, 0,
        "in-place bulk: bytes differ from what was sent"
    );
    let st = sim.link.stats();
    BulkRun {
        gbits: total as f64 * 8.0 / secs / 1e9,
        secs,
        packets: st[0].packets + st[1].packets,
        rounds: sim.rounds,
        timer_jumps: sim.timer_jumps,
        virtual_secs: sim.now as f64 / 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bulk mode runs to the end on both stacks; in place, the bytes each slice
    /// starts and ends with are the pattern's (`run` asserts it).
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
                assert!(synack(p).packets > 0);
                assert!(smoltcp(p).packets > 0);
            }
        }
    }
}
