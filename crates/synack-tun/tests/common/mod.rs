//! Shared by the kernel interop tests (`tests/kernel_*.rs`): a network namespace holding a TUN
//! device whose kernel side has 198.18.0.1/24 and 2001:db8::1/64, with synack at .2 / ::2.
//! Every address comes from the benchmarking ranges (198.18.0.0/15, RFC 2544) and the
//! documentation prefix (2001:db8::/32, RFC 3849): no packet can leave the namespace for a real
//! network, and nothing touches the host's own namespace.
//!
//! When the machine cannot run them (not root, no /dev/net/tun, no `ip`), each test prints
//! `skipped: <why>` and passes.
#![allow(dead_code)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use synack_tun::tun::netns::{self, Netns};
use synack_tun::tun::{Direction, PacketFilter, TunConfig, TunDevice};

/// The kernel's side of the TUN link.
pub const KERNEL_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// synack's side.
pub const SYNACK_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const KERNEL_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const SYNACK_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
/// The interface name inside the namespace (the namespace makes it unique).
pub const TUN_NAME: &str = "synack0";

/// Every test runs under this bound: a hang fails instead of stalling the suite.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(45);

/// The two address families, to run each test for both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn kernel(self) -> IpAddr {
        match self {
            Family::V4 => KERNEL_V4.into(),
            Family::V6 => KERNEL_V6.into(),
        }
    }
    pub fn synack(self) -> IpAddr {
        match self {
            Family::V4 => SYNACK_V4.into(),
            Family::V6 => SYNACK_V6.into(),
        }
    }
}

/// Return early from a test (printing why) when namespaces cannot be used here.
#[macro_export]
macro_rules! skip_unless_netns {
    () => {
        if let Some(why) = synack_tun::tun::netns::unavailable() {
            println!("skipped: {why}");
            return;
        }
    };
}

/// A namespace with a TUN device in it (kernel side configured and up).
pub struct Lab {
    /// Declared first so it is dropped first: the device goes before the namespace.
    pub dev: Option<TunDevice>,
    pub ns: Netns,
}

impl Lab {
    /// Must be called from within a tokio runtime (the device registers with its reactor).
    pub fn new(offload: bool, filter: Option<PacketFilter>) -> io::Result<Lab> {
        let ns = Netns::create()?;
        let mut config = TunConfig::new(TUN_NAME)
            .addr(KERNEL_V4.into(), 24)
            .addr(KERNEL_V6.into(), 64)
            .offload(offload);
        if let Some(f) = filter {
            config = config.filter(f);
        }
        let handle = tokio::runtime::Handle::current();
        let dev = ns.run(move || {
            let _rt = handle.enter();
            TunDevice::open(&config)
        })??;
        Ok(Lab { dev: Some(dev), ns })
    }

    /// Take the device (to hand it to the runtime).
    pub fn take_device(&mut self) -> TunDevice {
        self.dev.take().expect("device already taken")
    }

    /// `ss ARGS` inside the namespace.
    pub fn ss(&self, args: &[&str]) -> String {
        self.ns.exec("ss", args).expect("ss runs in the namespace")
    }
}

/// A filter that drops the first packet matching `pred` going `dir`, and lets everything
/// else through; the flag says whether it has dropped it yet.
pub fn drop_first(
    dir: Direction,
    pred: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
) -> (PacketFilter, Arc<AtomicBool>) {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let filter: PacketFilter = Arc::new(move |d, p| {
        if d == dir && pred(p) && !flag.swap(true, Ordering::SeqCst) {
            return false;
        }
        true
    });
    (filter, dropped)
}

/// The TCP flags byte of an IPv4 or IPv6 packet (no IPv6 extension headers: neither stack
/// sends any), or `None` for anything else.
pub fn tcp_flags(p: &[u8]) -> Option<u8> {
    let tcp = tcp_header(p)?;
    tcp.get(13).copied()
}

/// The TCP header (and payload) of a packet.
pub fn tcp_header(p: &[u8]) -> Option<&[u8]> {
    match p.first()? >> 4 {
        4 if p.len() >= 20 && p[9] == 6 => p.get(usize::from(p[0] & 0x0f) * 4..),
        6 if p.len() >= 40 && p[6] == 6 => p.get(40..),
        _ => None,
    }
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const RST: u8 = 0x04;

pub fn is_syn(p: &[u8]) -> bool {
    tcp_flags(p).is_some_and(|f| f & (SYN | ACK) == SYN)
}

pub fn is_syn_ack(p: &[u8]) -> bool {
    tcp_flags(p).is_some_and(|f| f & (SYN | ACK) == SYN | ACK)
}

/// Run `f` (blocking kernel-socket code) on a thread inside the namespace; the returned
/// future resolves with its result.
pub fn kernel<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = T> {
    let handle = ns.spawn(f);
    async move {
        tokio::task::spawn_blocking(move || {
            handle
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
                .expect("the thread entered the namespace")
        })
        .await
        .expect("join")
    }
}

/// Bytes `0..len` of a deterministic pseudo-random stream (xorshift), so both ends can
/// check what arrived without keeping a copy.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&bytes[..take]);
    }
    out
}

/// FNV-1a, 64 bits: a streaming hash to compare 64 MiB without keeping it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Parse `ss -tan` output into (state, local, peer) rows.
pub fn ss_rows(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() >= 5).then(|| {
                (
                    cols[0].to_string(),
                    cols[3].to_string(),
                    cols[4].to_string(),
                )
            })
        })
        .collect()
}

/// `ss` prints IPv6 sockets as `[addr]:port`.
pub fn ss_addr(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// Wait (polling every 10 ms, at most `limit`) until `cond` holds.
pub async fn until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Re-export for tests that only need the availability check.
pub fn unavailable() -> Option<String> {
    netns::unavailable()
}
