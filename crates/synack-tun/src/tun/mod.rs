//! A Linux TUN device as a [`Device`]: the kernel on one side of a point-to-point link, the
//! synack stack on the other.
//!
//! [`TunDevice::open`] creates (or attaches to) the interface, gives the *kernel's* side of it
//! its addresses and MTU, and brings it up. Packets the kernel routes into the interface come
//! out of [`Device::recv`]; packets synack sends go in with [`Device::send`]. The stack itself
//! uses other addresses of the same prefixes (the kernel routes the prefix into the device).
//!
//! With [`TunConfig::offload`] the device is opened with `IFF_VNET_HDR` and `TUNSETOFFLOAD`
//! (`TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`): the kernel then hands us TCP super-packets of up to
//! 64 KiB with a `virtio_net_hdr` in front (and checksums left partial), which [`recv`] splits
//! into MTU-sized packets; on the way out, [`send`] coalesces consecutive segments of a flow into
//! super-packets with tun-rs's GRO table, so one `write(2)` carries up to 64 KiB. Either way the
//! stack sees and produces only ordinary MTU-sized IP packets.
//!
//! [`TunConfig::filter`] installs a test hook that sees every packet in both directions and may
//! drop it (to lose the first SYN, say, and watch retransmission recover it).
//!
//! [`recv`]: Device::recv
//! [`send`]: Device::send

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tun_rs::{AsyncDevice, DeviceBuilder, GROTable, VirtioNetHdr, VIRTIO_NET_HDR_LEN};

use crate::device::{Device, PacketBatch};

pub mod netns;
pub mod pcap;

/// Where `/dev/net/tun` lives (the clone device every TUN interface is made from).
const TUN_CLONE_DEVICE: &str = "/dev/net/tun";

/// The largest frame the kernel hands a `IFF_VNET_HDR` reader: a 64 KiB GSO super-packet
/// (`GSO_LEGACY_MAX_SIZE`) plus its virtio header.
const MAX_SUPER_PACKET: usize = VIRTIO_NET_HDR_LEN + 65_536;

// virtio_net_hdr constants (include/uapi/linux/virtio_net.h).
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// Which way a packet is going, for a [`PacketFilter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the kernel to the stack (read from the device).
    Rx,
    /// From the stack to the kernel (written to the device).
    Tx,
}

/// A test hook that sees every IP packet (after GSO splitting on the way in, before GRO
/// coalescing on the way out) and returns `false` to drop it.
pub type PacketFilter = Arc<dyn Fn(Direction, &[u8]) -> bool + Send + Sync>;

/// How to open a TUN device.
#[derive(Clone)]
pub struct TunConfig {
    name: String,
    addrs: Vec<(IpAddr, u8)>,
    mtu: u16,
    offload: bool,
    filter: Option<PacketFilter>,
}

impl fmt::Debug for TunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunConfig")
            .field("name", &self.name)
            .field("addrs", &self.addrs)
            .field("mtu", &self.mtu)
            .field("offload", &self.offload)
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

impl TunConfig {
    /// A device called `name` (at most 15 bytes, the kernel's IFNAMSIZ - 1), MTU 1500, no
    /// addresses, no offload.
    pub fn new(name: impl Into<String>) -> TunConfig {
        TunConfig {
            name: name.into(),
            addrs: Vec::new(),
            mtu: 1500,
            offload: false,
            filter: None,
        }
    }

    /// Give the kernel's side of the interface `addr/prefix` (at most one IPv4 address; any
    /// number of IPv6 ones). The kernel then routes the whole prefix into the device.
    pub fn addr(mut self, addr: IpAddr, prefix: u8) -> TunConfig {
        self.addrs.push((addr, prefix));
        self
    }

    /// The interface MTU (the largest IP packet either side sends; MUST-67's MSS follows).
    pub fn mtu(mut self, mtu: u16) -> TunConfig {
        self.mtu = mtu;
        self
    }

    /// Use `IFF_VNET_HDR` + `TUNSETOFFLOAD`: GSO super-packets in, GRO-coalesced writes out.
    pub fn offload(mut self, on: bool) -> TunConfig {
        self.offload = on;
        self
    }

    /// Install a packet filter (tests: drop a chosen packet).
    pub fn filter(mut self, filter: PacketFilter) -> TunConfig {
        self.filter = Some(filter);
        self
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What the device has done, for tests and the benchmark's "where the time goes".
#[derive(Debug, Default)]
pub struct TunStats {
    /// `read(2)`s that returned a packet.
    pub reads: AtomicU64,
    /// Reads that were GSO super-packets (offload only).
    pub super_packets_in: AtomicU64,
    /// Packets handed to the stack (after splitting).
    pub packets_in: AtomicU64,
    /// Packets the stack sent.
    pub packets_out: AtomicU64,
    /// `write(2)`s made without offload (one per packet).
    pub writes: AtomicU64,
    /// Batches handed to the GRO coalescer with offload (tun-rs does not say how many
    /// super-packets each became).
    pub write_batches: AtomicU64,
    /// Packets the filter dropped, both directions.
    pub filtered: AtomicU64,
}

impl TunStats {
    fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// One line for a log: every counter by name.
    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "reads {} (super-packets {}), packets in {}, packets out {}, writes {}, \
             GRO batches {}, filtered {}",
            g(&self.reads),
            g(&self.super_packets_in),
            g(&self.packets_in),
            g(&self.packets_out),
            g(&self.writes),
            g(&self.write_batches),
            g(&self.filtered)
        )
    }
}

/// An open TUN device (see the module docs). Dropping it removes a non-persistent interface.
pub struct TunDevice {
    dev: AsyncDevice,
    name: String,
    mtu: usize,
    offload: bool,
    filter: Option<PacketFilter>,
    /// Receive scratch: the raw frame (virtio header + super-packet) before splitting. Only
    /// locked inside a synchronous section, never across an await.
    rx: Mutex<RxScratch>,
    /// The GRO table for coalescing writes. Only the runtime's one sending task uses it, so the
    /// lock is never contended; it is async because a write may wait for the device.
    gro: tokio::sync::Mutex<GROTable>,
    stats: Arc<TunStats>,
}

struct RxScratch {
    frame: Vec<u8>,
    sizes: Vec<usize>,
}

impl fmt::Debug for TunDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunDevice")
            .field("name", &self.name)
            .field("mtu", &self.mtu)
            .field("offload", &self.offload)
            .finish()
    }
}

/// Turn the raw errors of opening a TUN device into ones that say what to do.
fn explain_open_error(name: &str, e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "creating TUN device {name} needs root or CAP_NET_ADMIN \
                 (run with sudo, or grant the binary cap_net_admin): {e}"
            ),
        ),
        Some(libc::ENOENT | libc::ENODEV) => io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{TUN_CLONE_DEVICE} is not usable ({e}): load the tun module \
                 (modprobe tun), or give the container the device (--device /dev/net/tun)"
            ),
        ),
        _ => io::Error::new(e.kind(), format!("opening TUN device {name}: {e}")),
    }
}

impl TunDevice {
    /// Create (or attach to) the interface described by `config`, set its addresses and MTU
    /// and bring it up. Must be called from within a tokio runtime (the descriptor is
    /// registered with its reactor). The interface is created in the network namespace of the
    /// *calling thread*: call this from a thread that has `setns()`ed into a namespace to put it
    /// there.
    ///
    /// Errors say what is missing: root / CAP_NET_ADMIN (`PermissionDenied`), `/dev/net/tun`
    /// (`NotFound`), or more than one IPv4 address (`InvalidInput`).
    pub fn open(config: &TunConfig) -> io::Result<TunDevice> {
        let name = &config.name;
        if !Path::new(TUN_CLONE_DEVICE).exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{TUN_CLONE_DEVICE} is missing: load the tun module (modprobe tun), or \
                     give the container the device (--device /dev/net/tun)"
                ),
            ));
        }
        if name.is_empty() || name.len() > 15 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TUN device name {name:?} must be 1 to 15 bytes long"),
            ));
        }
        let mut builder = DeviceBuilder::new()
            .name(name.clone())
            .mtu(config.mtu)
            .offload(config.offload);
        let mut v4 = 0;
        for &(addr, prefix) in &config.addrs {
            match addr {
                IpAddr::V4(a) => {
                    v4 += 1;
                    if prefix > 32 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("prefix /{prefix} is too long for IPv4 address {a}"),
                        ));
                    }
                    builder = builder.ipv4(a, prefix, None);
                }
                IpAddr::V6(a) => {
                    if prefix > 128 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("prefix /{prefix} is too long for IPv6 address {a}"),
                        ));
                    }
                    builder = builder.ipv6(a, prefix);
                }
            }
        }
        if v4 > 1 {
            // The ioctl interface (SIOCSIFADDR) holds one IPv4 address per interface; more
            // would need netlink, which this device does without (see Cargo.toml).
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a TUN device here takes at most one IPv4 address (any number of IPv6 ones)",
            ));
        }
        let sync = builder
            .build_sync()
            .map_err(|e| explain_open_error(name, e))?;
        if config.offload && !sync.tcp_gso() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the kernel refused TCP offload (TUNSETOFFLOAD) on {name}"),
            ));
        }
        let mtu = usize::from(sync.mtu().unwrap_or(config.mtu));
        for &(addr, _) in &config.addrs {
            if let IpAddr::V6(a) = addr {
                wait_not_tentative(a, Duration::from_secs(3));
            }
        }
        let dev = AsyncDevice::new(sync)?;
        Ok(TunDevice {
            dev,
            name: name.clone(),
            mtu,
            offload: config.offload,
            filter: config.filter.clone(),
            rx: Mutex::new(RxScratch {
                frame: vec![0; if config.offload { MAX_SUPER_PACKET } else { 0 }],
                sizes: Vec::new(),
            }),
            gro: tokio::sync::Mutex::new(GROTable::default()),
            stats: Arc::new(TunStats::default()),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether GSO/GRO offload is on.
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// The device's counters (shared: they stay readable after the device moves into a
    /// runtime).
    pub fn stats(&self) -> Arc<TunStats> {
        Arc::clone(&self.stats)
    }

    fn keep(&self, dir: Direction, packet: &[u8]) -> bool {
        match &self.filter {
            Some(f) if !f(dir, packet) => {
                TunStats::bump(&self.stats.filtered, 1);
                false
            }
            _ => true,
        }
    }

    /// Read every packet already waiting (up to the batch limit) without blocking. Returns
    /// the number of packets now in the batch's slots; `WouldBlock` ends the loop quietly.
    fn drain_ready(&self, batch: &mut PacketBatch) -> io::Result<usize> {
        let h = batch.headroom();
        let limit = self.max_batch();
        let mut rx = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        let RxScratch { frame, sizes } = &mut *rx;
        sizes.clear();
        let mut n = 0;
        while n < limit {
            if !self.offload {
                let slots = batch.slots_for_rx(n + 1, self.mtu);
                let got = match self.dev.try_recv(&mut slots[n][h..]) {
                    Ok(len) => len,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // Hand over what we have; a lasting error comes back on the next call.
                    Err(_) if n > 0 => break,
                    Err(e) => return Err(e),
                };
                TunStats::bump(&self.stats.reads, 1);
                if self.keep(Direction::Rx, &slots[n][h..h + got]) {
                    sizes.push(got);
                    n += 1;
                }
                continue;
            }
            let len = match self.dev.try_recv(frame) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) if n > 0 => break,
                Err(e) => return Err(e),
            };
            TunStats::bump(&self.stats.reads, 1);
            n = self.split_frame(&mut frame[..len], batch, sizes, n, h);
        }
        // Cut every filled slot to its packet; later slots keep their memory. (Asking for
        // slots at least as long as the longest packet leaves every packet whole.)
        let longest = sizes.iter().copied().max().unwrap_or(0).max(self.mtu);
        let slots = batch.slots_for_rx(n.max(1), longest);
        for (slot, &len) in slots.iter_mut().zip(sizes.iter()) {
            slot.truncate(h + len);
        }
        batch.set_len(n);
        Ok(n)
    }

    /// One frame read with a virtio header: split it (or copy it) into slots from `n` on,
    /// apply the filter, and return the new packet count. A malformed frame is dropped: the
    /// kernel never makes one, and TCP would recover anyway.
    fn split_frame(
        &self,
        frame: &mut [u8],
        batch: &mut PacketBatch,
        sizes: &mut Vec<usize>,
        mut n: usize,
        h: usize,
    ) -> usize {
        if frame.len() <= VIRTIO_NET_HDR_LEN {
            return n;
        }
        let Ok(mut hdr) = VirtioNetHdr::decode(&frame[..VIRTIO_NET_HDR_LEN]) else {
            return n;
        };
        let packet = &mut frame[VIRTIO_NET_HDR_LEN..];
        if hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE {
            if hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
                && !complete_partial_checksum(packet, hdr.csum_start, hdr.csum_offset)
            {
                return n;
            }
            let len = packet.len();
            let slots = batch.slots_for_rx(n + 1, self.mtu.max(len));
            slots[n][h..h + len].copy_from_slice(packet);
            if self.keep(Direction::Rx, &slots[n][h..h + len]) {
                sizes.push(len);
                n += 1;
            }
            return n;
        }
        // A TCP super-packet (TSO4/TSO6). The kernel's hdr_len may cover a whole segment on
        // the forwarding path, so take the TCP header length from the packet itself (as
        // wireguard-go and tun-rs do): csum_start is the IP header length.
        let cs = usize::from(hdr.csum_start);
        if packet.len() <= cs + 12 {
            return n;
        }
        let tcp_hdr_len = usize::from(packet[cs + 12] >> 4) * 4;
        if !(20..=60).contains(&tcp_hdr_len) || hdr.gso_size == 0 {
            return n;
        }
        let hdr_len = cs + tcp_hdr_len;
        if packet.len() < hdr_len {
            return n;
        }
        hdr.hdr_len = hdr_len as u16;
        hdr.gso_type &= !VIRTIO_NET_HDR_GSO_ECN;
        let payload = packet.len() - hdr_len;
        let gso = usize::from(hdr.gso_size);
        let count = payload.div_ceil(gso).max(1);
        let is_v6 = packet[0] >> 4 == 6;
        sizes.resize(n + count, 0);
        let slots = batch.slots_for_rx(n + count, self.mtu.max(hdr_len + gso));
        let made = match tun_rs::gso_split(
            packet,
            hdr,
            &mut slots[n..n + count],
            &mut sizes[n..n + count],
            h,
            is_v6,
        ) {
            Ok(made) => made,
            Err(_) => {
                sizes.truncate(n);
                return n;
            }
        };
        TunStats::bump(&self.stats.super_packets_in, 1);
        // Compact away whatever the filter drops, keeping order.
        let mut kept = n;
        for i in n..n + made {
            let len = sizes[i];
            if self.keep(Direction::Rx, &slots[i][h..h + len]) {
                slots.swap(kept, i);
                sizes[kept] = len;
                kept += 1;
            }
        }
        sizes.truncate(kept);
        kept
    }
}

/// Wait (bounded) until the kernel has finished bringing IPv6 address `addr` up. An address
/// added while the interface is down is *tentative* until the kernel's address-configuration
/// work runs after the link comes up (RFC 4862 §5.4; a NOARP link like TUN skips the probes
/// themselves, but not that step), and until then binding to it fails with EADDRNOTAVAIL and
/// it is never chosen as a source. The work is asynchronous, so on a busy machine an
/// application that uses the address right after `open` would race it.
///
/// Reads /proc/thread-self/net/if_inet6 (thread-self, not self: the calling thread may have
/// entered another network namespace than the process's main thread).
fn wait_not_tentative(addr: std::net::Ipv6Addr, limit: Duration) {
    const IFA_F_TENTATIVE: u32 = 0x40;
    let want: String = addr.octets().iter().map(|b| format!("{b:02x}")).collect();
    let deadline = std::time::Instant::now() + limit;
    loop {
        let Ok(table) = std::fs::read_to_string("/proc/thread-self/net/if_inet6") else {
            return;
        };
        let tentative = table.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() >= 5
                && cols[0] == want
                && u32::from_str_radix(cols[4], 16).is_ok_and(|f| f & IFA_F_TENTATIVE != 0)
        });
        if !tentative || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Finish a checksum the kernel left partial (`VIRTIO_NET_HDR_F_NEEDS_CSUM`, i.e.
/// CHECKSUM_PARTIAL): the field at `start + offset` holds the pseudo-header sum, and the
/// one's-complement sum from `start` to the end goes there (RFC 1071). Returns false when the
/// offsets do not fit the packet.
fn complete_partial_checksum(packet: &mut [u8], start: u16, offset: u16) -> bool {
    let start = usize::from(start);
    let at = start + usize::from(offset);
    if at + 2 > packet.len() {
        return false;
    }
    let initial = u16::from_be_bytes([packet[at], packet[at + 1]]);
    packet[at] = 0;
    packet[at + 1] = 0;
    let sum = !tun_rs::checksum(&packet[start..], u64::from(initial));
    packet[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    true
}

impl Device for TunDevice {
    fn mtu(&self) -> usize {
        self.mtu
    }

    fn headroom(&self) -> usize {
        if self.offload {
            VIRTIO_NET_HDR_LEN
        } else {
            0
        }
    }

    fn max_batch(&self) -> usize {
        // tun-rs's (and wireguard-go's) batch size: enough for two full 64 KiB super-packets.
        tun_rs::IDEAL_BATCH_SIZE
    }

    async fn recv(&self, batch: &mut PacketBatch) -> io::Result<()> {
        loop {
            self.dev.readable().await?;
            let n = self.drain_ready(batch)?;
            if n > 0 {
                TunStats::bump(&self.stats.packets_in, n as u64);
                return Ok(());
            }
            // Spurious readiness, or the filter took everything: wait again.
        }
    }

    async fn send(&self, batch: &mut PacketBatch) -> io::Result<()> {
        let h = batch.headroom();
        // The filter first, compacting the batch so the GRO table never sees a dropped packet.
        if self.filter.is_some() {
            let len = batch.len();
            let slots = batch.slots_mut();
            let mut kept = 0;
            for i in 0..len {
                if self.keep(Direction::Tx, &slots[i][h..]) {
                    slots.swap(kept, i);
                    kept += 1;
                }
            }
            batch.set_len(kept);
        }
        let count = batch.len();
        if count == 0 {
            return Ok(());
        }
        TunStats::bump(&self.stats.packets_out, count as u64);
        if self.offload {
            let mut gro = self.gro.lock().await;
            // Coalesces runs of in-order segments of one flow into super-packets and writes a
            // virtio header in front of each; packets it cannot merge go out as they are.
            let slots = batch.slots_mut();
            let written = self.dev.send_multiple(&mut gro, slots, h).await;
            TunStats::bump(&self.stats.write_batches, 1);
            written.map(|_| ())
        } else {
            let mut result = Ok(());
            for p in batch.iter() {
                // A TUN write injects the packet into the kernel's receive path; it never
                // waits for long, but be correct about readiness anyway.
                match self.dev.send(p).await {
                    Ok(_) => TunStats::bump(&self.stats.writes, 1),
                    Err(e) => result = Err(e),
                }
            }
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_say_what_is_missing() {
        let e = explain_open_error("syn0", io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("needs root or CAP_NET_ADMIN"), "{e}");
        let e = explain_open_error("syn0", io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let e = explain_open_error("syn0", io::Error::from_raw_os_error(libc::ENODEV));
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("/dev/net/tun"), "{e}");
    }

    #[test]
    fn config_errors_come_before_any_system_call() {
        let e = TunDevice::open(&TunConfig::new("a-name-longer-than-15")).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::NotFound
            ),
            "{e}"
        );
        let two_v4 = TunConfig::new("syn0")
            .addr("198.18.0.1".parse().unwrap(), 24)
            .addr("198.18.1.1".parse().unwrap(), 24);
        let e = TunDevice::open(&two_v4).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::NotFound
            ),
            "{e}"
        );
    }

    #[test]
    fn partial_checksum_is_completed() {
        // A TCP segment whose checksum field holds the pseudo-header sum, as the kernel leaves
        // it with CHECKSUM_PARTIAL; after completion the one's-complement sum over the
        // segment plus that pseudo-header sum is 0xffff (RFC 1071).
        let mut seg = vec![0u8; 24];
        seg[0..4].copy_from_slice(&[0x1f, 0x90, 0x00, 0x50]);
        seg[12] = 0x50;
        seg[13] = 0x10;
        seg[20..24].copy_from_slice(b"data");
        let pseudo: u16 = 0x1234;
        seg[16..18].copy_from_slice(&pseudo.to_be_bytes());
        assert!(complete_partial_checksum(&mut seg, 0, 16));
        let folded = tun_rs::checksum(&seg, u64::from(pseudo));
        assert_eq!(folded, 0xffff);
        assert!(!complete_partial_checksum(&mut seg, 20, 16));
    }
}
