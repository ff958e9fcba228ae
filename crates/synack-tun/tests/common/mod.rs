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

/// A [`Lab`] with a synack [`Net`](synack_tun::Net) running on its device, owning
/// 198.18.0.2 and 2001:db8::2.
pub struct Rig {
    pub net: synack_tun::Net,
    pub stats: Arc<synack_tun::tun::TunStats>,
    pub lab: Lab,
}

impl Rig {
    /// Must be called from within a tokio runtime.
    pub fn new(offload: bool, filter: Option<PacketFilter>) -> Rig {
        Rig::with_config(offload, filter, synack::Config::default())
    }

    /// [`Rig::new`] with this configuration for synack.
    pub fn with_config(offload: bool, filter: Option<PacketFilter>, config: synack::Config) -> Rig {
        let mut lab = Lab::new(offload, filter).expect("namespace with a TUN device");
        let dev = lab.take_device();
        let stats = dev.stats();
        let net = synack_tun::Net::new(
            dev,
            config,
            [IpAddr::from(SYNACK_V4), IpAddr::from(SYNACK_V6)],
        )
        .expect("runtime starts");
        Rig { net, stats, lab }
    }

    pub fn ns(&self) -> &Netns {
        &self.lab.ns
    }

    /// `ss ARGS` inside the namespace.
    pub fn ss(&self, args: &[&str]) -> String {
        self.lab.ss(args)
    }

    /// synack's connection (by 4-tuple, seen from synack) if the stack still holds it.
    pub fn conn(&self, local: SocketAddr, remote: SocketAddr) -> Option<synack::ConnInfo> {
        self.net
            .connections()
            .into_iter()
            .find(|c| c.local == local && c.remote == remote)
    }
}

/// An endless deterministic byte stream (xorshift64), to send and check large transfers
/// without keeping them in memory.
#[derive(Clone)]
pub struct Pattern(u64);

impl Pattern {
    pub fn new(seed: u64) -> Pattern {
        Pattern(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Fill `buf` with the next bytes (a multiple of 8 keeps the stream aligned; other sizes
    /// are fine as long as both ends cut it the same way, which `hash_of` does).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
    }

    /// The FNV hash of the first `len` bytes of the stream from `seed` (len a multiple of
    /// 64 KiB).
    pub fn hash_of(seed: u64, len: usize) -> Fnv {
        let mut p = Pattern::new(seed);
        let mut h = Fnv::default();
        let mut buf = vec![0u8; CHUNK];
        let mut left = len;
        while left > 0 {
            let n = left.min(CHUNK);
            p.fill(&mut buf[..n]);
            h.update(&buf[..n]);
            left -= n;
        }
        h
    }
}

/// Write and read in chunks of this size.
pub const CHUNK: usize = 64 * 1024;

/// Write `len` bytes of `Pattern::new(seed)` to a blocking writer.
pub fn write_pattern(w: &mut impl std::io::Write, seed: u64, len: usize) -> io::Result<()> {
    let mut p = Pattern::new(seed);
    let mut buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK);
        p.fill(&mut buf[..n]);
        w.write_all(&buf[..n])?;
        left -= n;
    }
    Ok(())
}

/// Read a blocking reader to its end: (bytes, hash).
pub fn read_hash(r: &mut impl std::io::Read) -> io::Result<(usize, Fnv)> {
    let mut buf = vec![0u8; CHUNK];
    let mut h = Fnv::default();
    let mut total = 0;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((total, h));
        }
        h.update(&buf[..n]);
        total += n;
    }
}

/// The same two for tokio streams.
pub async fn write_pattern_async(
    w: &mut (impl tokio::io::AsyncWrite + Unpin),
    seed: u64,
    len: usize,
) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut p = Pattern::new(seed);
    let mut buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK);
        p.fill(&mut buf[..n]);
        w.write_all(&buf[..n]).await?;
        left -= n;
    }
    Ok(())
}

pub async fn read_hash_async(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
) -> io::Result<(usize, Fnv)> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; CHUNK];
    let mut h = Fnv::default();
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok((total, h));
        }
        h.update(&buf[..n]);
        total += n;
    }
}

/// Set SO_LINGER {on, 0} on a kernel socket, so close() sends RST (LX-18).
pub fn set_linger_zero(s: &std::net::TcpStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raise this process's open-file limit to its hard limit (1,000 kernel sockets).
pub fn raise_fd_limit() {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}
