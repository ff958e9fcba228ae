//! An in-memory link joining two runtimes in one process, for tests and examples without
//! root: [`pair`] returns its two ends. Optional seeded random loss
//! ([`LinkConfig::loss`]) makes lossy runs reproducible. Each direction is a bounded FIFO
//! (tail drop when full, like a router queue); buffers are pooled, so a warmed-up link
//! allocates nothing per packet.

use super::{Device, PacketBatch};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// How a [`pair`] behaves.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// MTU of both ends; larger packets are dropped (and counted).
    pub mtu: usize,
    /// Probability that a packet is lost, in each direction (0.0 to 1.0).
    pub loss: f64,
    /// Seed of the loss decisions (each direction derives its own stream from it).
    pub seed: u64,
    /// Packets each direction holds before it drops new ones.
    pub queue_limit: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            mtu: 1500,
            loss: 0.0,
            seed: 1,
            queue_limit: 16_384,
        }
    }
}

/// What one direction of the link did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets handed to the link.
    pub sent: u64,
    /// Packets delivered to the far end.
    pub delivered: u64,
    /// Packets lost on purpose ([`LinkConfig::loss`]).
    pub lost: u64,
    /// Packets dropped because the queue was full or they exceeded the MTU.
    pub dropped: u64,
}

struct Queue {
    packets: VecDeque<Vec<u8>>,
    /// Spent buffers, reused for the next packets.
    pool: Vec<Vec<u8>>,
    rng: u64,
}

/// One direction of the link.
struct Wire {
    queue: Mutex<Queue>,
    ready: Notify,
    sent: AtomicU64,
    delivered: AtomicU64,
    lost: AtomicU64,
    dropped: AtomicU64,
}

impl Wire {
    fn new(seed: u64) -> Wire {
        Wire {
            queue: Mutex::new(Queue {
                packets: VecDeque::new(),
                pool: Vec::new(),
                // xorshift64* must not start at zero.
                rng: seed | 1,
            }),
            ready: Notify::new(),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    fn stats(&self) -> LinkStats {
        LinkStats {
            sent: self.sent.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// One end of an in-memory link.
pub struct MemoryDevice {
    config: LinkConfig,
    tx: Arc<Wire>,
    rx: Arc<Wire>,
}

/// Two connected ends with the default [`LinkConfig`] (MTU 1500, no loss).
pub fn pair() -> (MemoryDevice, MemoryDevice) {
    pair_with(LinkConfig::default())
}

/// Two connected ends behaving as `config` says.
pub fn pair_with(config: LinkConfig) -> (MemoryDevice, MemoryDevice) {
    let a_to_b = Arc::new(Wire::new(splitmix(config.seed)));
    let b_to_a = Arc::new(Wire::new(splitmix(config.seed ^ 0x9e37_79b9_7f4a_7c15)));
    (
        MemoryDevice {
            config: config.clone(),
            tx: a_to_b.clone(),
            rx: b_to_a.clone(),
        },
        MemoryDevice {
            config,
            tx: b_to_a,
            rx: a_to_b,
        },
    )
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl MemoryDevice {
    /// What this end's outgoing direction did.
    pub fn tx_stats(&self) -> LinkStats {
        self.tx.stats()
    }

    /// What this end's incoming direction did.
    pub fn rx_stats(&self) -> LinkStats {
        self.rx.stats()
    }

    /// A handle to read both directions' statistics after the device has been moved into a
    /// [`crate::Net`].
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle {
            tx: self.tx.clone(),
            rx: self.rx.clone(),
        }
    }
}

/// Reads a [`MemoryDevice`]'s statistics from outside its runtime.
#[derive(Clone)]
pub struct StatsHandle {
    tx: Arc<Wire>,
    rx: Arc<Wire>,
}

impl StatsHandle {
    pub fn tx(&self) -> LinkStats {
        self.tx.stats()
    }
    pub fn rx(&self) -> LinkStats {
        self.rx.stats()
    }
}

impl Device for MemoryDevice {
    fn mtu(&self) -> usize {
        self.config.mtu
    }

    async fn recv(&self, batch: &mut PacketBatch) -> io::Result<()> {
        let max = self.max_batch();
        loop {
            {
                let mut q = self.rx.queue.lock().unwrap_or_else(|e| e.into_inner());
                let mut n = 0u64;
                while batch.len() < max {
                    let Some(p) = q.packets.pop_front() else {
                        break;
                    };
                    batch.push(&p);
                    q.pool.push(p);
                    n += 1;
                }
                if n > 0 {
                    self.rx.delivered.fetch_add(n, Ordering::Relaxed);
                    if !q.packets.is_empty() {
                        // Leave the wake-up for the rest in place for the next call.
                        self.rx.ready.notify_one();
                    }
                    return Ok(());
                }
            }
            // notify_one stores a permit when nobody waits, so a packet queued between the
            // check above and this await is not missed.
            self.rx.ready.notified().await;
        }
    }

    async fn send(&self, batch: &mut PacketBatch) -> io::Result<()> {
        let mut q = self.tx.queue.lock().unwrap_or_else(|e| e.into_inner());
        let mut queued = false;
        for p in batch.iter() {
            self.tx.sent.fetch_add(1, Ordering::Relaxed);
            if self.config.loss > 0.0 {
                // xorshift64*: cheap, seeded, reproducible.
                let mut x = q.rng;
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                q.rng = x;
                let r = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
                if r < self.config.loss {
                    self.tx.lost.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            if p.len() > self.config.mtu || q.packets.len() >= self.config.queue_limit {
                self.tx.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut buf = q.pool.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(p);
            q.packets.push_back(buf);
            queued = true;
        }
        drop(q);
        if queued {
            self.tx.ready.notify_one();
        }
        Ok(())
    }
}
