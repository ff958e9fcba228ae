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
//! 64 KiB with a `virtio_net_hdr` in front (and checksums left partial). [`recv`] completes the
//! checksum and hands each to the stack whole, as one segment (or, with
//! [`TunConfig::whole_super_packets`] off, splits it into MTU-sized packets). On the way out,
//! [`send`] coalesces each run of consecutive in-order segments of a flow into one
//! super-packet and writes it with one `writev(2)` (headers rewritten, payloads gathered where
//! they lie, checksum left partial for the kernel), so one write carries up to 64 KiB. The
//! stack itself only ever produces ordinary MTU-sized packets.
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

use std::io::IoSlice;

use tun_rs::{
    AsyncDevice, DeviceBuilder, VirtioNetHdr, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_LEN,
};

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
/// The kernel verified the checksum (the packet's skb was CHECKSUM_UNNECESSARY).
const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;
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

/// A test hook that sees every IP packet (on the way in as the stack gets it: a whole
/// super-packet with offload, unless [`TunConfig::whole_super_packets`] is off; on the way out
/// before coalescing) and returns `false` to drop it.
pub type PacketFilter = Arc<dyn Fn(Direction, &[u8]) -> bool + Send + Sync>;

/// How to open a TUN device.
#[derive(Clone)]
pub struct TunConfig {
    name: String,
    addrs: Vec<(IpAddr, u8)>,
    mtu: u16,
    offload: bool,
    whole_super_packets: bool,
    filter: Option<PacketFilter>,
}

impl fmt::Debug for TunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunConfig")
            .field("name", &self.name)
            .field("addrs", &self.addrs)
            .field("mtu", &self.mtu)
            .field("offload", &self.offload)
            .field("whole_super_packets", &self.whole_super_packets)
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
            whole_super_packets: true,
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

    /// With offload, whether a TCP super-packet the kernel hands over goes to the stack whole,
    /// as one segment of up to 64 KiB (the default: one pass through the stack instead of
    /// ~45, and no copy into MTU-sized packets; the checksum is completed once over it), or
    /// split into MTU-sized segments first, each with its own checksum (`false`). The kernel
    /// only builds super-packets within the window and the MSS it was given, so either way
    /// the stack sees the same byte stream.
    pub fn whole_super_packets(mut self, on: bool) -> TunConfig {
        self.whole_super_packets = on;
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
    /// `write(2)`/`writev(2)`s made (without offload one per packet; with offload one per
    /// coalesced super-packet or lone packet).
    pub writes: AtomicU64,
    /// Writes that carried a coalesced super-packet of two or more segments (offload only).
    pub super_packets_out: AtomicU64,
    /// Batches handed to the coalescer with offload.
    pub write_batches: AtomicU64,
    /// Packets the filter dropped, both directions.
    pub filtered: AtomicU64,
    /// Packets handed to the stack with their TCP checksum vouched for by the kernel, not
    /// checked again (offload, no filter; see `PacketBatch::set_checksum_trusted`).
    pub checksum_trusted_in: AtomicU64,
}

impl TunStats {
    fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// One line for a log: every counter by name.
    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "reads {} (super-packets {}), packets in {}, packets out {}, writes {} \
             (super-packets {}), GRO batches {}, filtered {}, checksum trusted {}",
            g(&self.reads),
            g(&self.super_packets_in),
            g(&self.packets_in),
            g(&self.packets_out),
            g(&self.writes),
            g(&self.super_packets_out),
            g(&self.write_batches),
            g(&self.filtered),
            g(&self.checksum_trusted_in)
        )
    }
}

/// An open TUN device (see the module docs). Dropping it removes a non-persistent interface.
pub struct TunDevice {
    dev: AsyncDevice,
    name: String,
    mtu: usize,
    offload: bool,
    /// With offload: hand a received TCP super-packet to the stack whole (one segment of up
    /// to 64 KiB) instead of splitting it into MTU-sized ones.
    whole_super_packets: bool,
    filter: Option<PacketFilter>,
    /// Receive scratch: the raw frame (virtio header + super-packet) before splitting. Only
    /// locked inside a synchronous section, never across an await.
    rx: Mutex<RxScratch>,
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
            whole_super_packets: config.whole_super_packets,
            filter: config.filter.clone(),
            rx: Mutex::new(RxScratch {
                frame: vec![0; if config.offload { MAX_SUPER_PACKET } else { 0 }],
                sizes: Vec::new(),
            }),
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
            if sizes.iter().sum::<usize>() >= MAX_BATCH_BYTES {
                break;
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
        if self.offload {
            // Every slot below n holds its packet from h on, possibly followed by stale bytes
            // (a later split may have lengthened it): cut each to its packet. Truncating never
            // writes, so nothing is zeroed here.
            batch.set_len(n);
            for (slot, &len) in batch.slots_mut().iter_mut().zip(sizes.iter()) {
                slot.truncate(h + len);
            }
            return Ok(n);
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

    /// Append `packet` (complete, and its checksum valid or, with `trusted`, vouched for by
    /// the kernel) as the batch's packet `n` unless the filter drops it; returns the new
    /// packet count. Offload path: the batch's length follows `n`.
    fn push_whole(
        &self,
        packet: &[u8],
        batch: &mut PacketBatch,
        sizes: &mut Vec<usize>,
        n: usize,
        trusted: bool,
    ) -> usize {
        if !self.keep(Direction::Rx, packet) {
            return n;
        }
        // `push` appends at the batch's length and copies only the packet (no zeroing).
        batch.set_len(n);
        batch.push(packet);
        if trusted {
            batch.set_checksum_trusted(n, true);
            TunStats::bump(&self.stats.checksum_trusted_in, 1);
        }
        sizes.push(packet.len());
        n + 1
    }

    /// One frame read with a virtio header: split it (or copy it) into slots from `n` on,
    /// apply the filter, and return the new packet count. A malformed frame is dropped: the
    /// kernel never makes one, and TCP would recover anyway.
    fn split_frame(
        &self,
        frame: &mut [u8],
        batch: &mut PacketBatch,
        sizes: &mut Vec<usize>,
        n: usize,
        h: usize,
    ) -> usize {
        if frame.len() <= VIRTIO_NET_HDR_LEN {
            return n;
        }
        let Ok(mut hdr) = VirtioNetHdr::decode(&frame[..VIRTIO_NET_HDR_LEN]) else {
            return n;
        };
        let packet = &mut frame[VIRTIO_NET_HDR_LEN..];
        // The kernel vouches for the TCP checksum of what it hands us: one it left partial
        // (NEEDS_CSUM, a packet it made) or one it verified (DATA_VALID). The stack then
        // skips MUST-3's pass over the payload (`Stack::handle_packet_trusted`), as Linux
        // does for such packets, and a partial one is not completed here either: two passes
        // over every byte saved. With a filter installed (a capture, a test's fault
        // injection) the checksum is completed first, so that what the filter sees, and a
        // capture records, is the packet as it would cross a wire.
        let vouched = hdr.flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID) != 0;
        let trust = vouched && self.filter.is_none();
        if hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE {
            if !trust
                && hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
                && !complete_partial_checksum(packet, hdr.csum_start, hdr.csum_offset)
            {
                return n;
            }
            return self.push_whole(packet, batch, sizes, n, trust);
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
        if self.whole_super_packets
            && hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
            && ip_length_matches(packet)
            && (trust || complete_partial_checksum(packet, hdr.csum_start, hdr.csum_offset))
        {
            TunStats::bump(&self.stats.super_packets_in, 1);
            return self.push_whole(packet, batch, sizes, n, trust);
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
        batch.set_len(kept);
        kept
    }
}

impl TunDevice {
    /// Write `batch` (offload on) with runs of consecutive in-order segments of one flow
    /// coalesced into GSO super-packets: one `writev(2)` per run, gathering a rewritten copy of
    /// the first segment's headers (behind a `virtio_net_hdr` saying TSO, checksum partial) and
    /// the payloads where they lie, so no payload is copied. A lone packet goes out as it is
    /// behind an all-zero header. The kernel receives a super-packet as its own GRO would
    /// have built it.
    async fn send_coalesced(&self, batch: &mut PacketBatch) -> io::Result<()> {
        let h = batch.headroom();
        let slots = batch.slots_mut();
        let mut result = Ok(());
        let mut i = 0;
        while i < slots.len() {
            let run = coalescible_run(slots, i, h);
            let written = if run.segments < 2 {
                let slot = &mut slots[i];
                slot[h - VIRTIO_NET_HDR_LEN..h].fill(0);
                self.dev.send(&slot[h - VIRTIO_NET_HDR_LEN..]).await
            } else {
                let first = &slots[i][h..];
                let mut head = [0u8; VIRTIO_NET_HDR_LEN + 120];
                let head_len = super_packet_head(first, &run, &mut head);
                let mut iov = Vec::with_capacity(run.segments + 1);
                iov.push(IoSlice::new(&head[..head_len]));
                for slot in &slots[i..i + run.segments] {
                    iov.push(IoSlice::new(&slot[h + run.headers..]));
                }
                TunStats::bump(&self.stats.super_packets_out, 1);
                self.dev.send_vectored(&iov).await
            };
            match written {
                Ok(_) => TunStats::bump(&self.stats.writes, 1),
                Err(e) => result = Err(e),
            }
            i += run.segments.max(1);
        }
        result
    }
}

/// Most segments coalesced into one super-packet (the kernel's `MAX_SKB_FRAGS`-style bound
/// is far above; this keeps the `iovec` array small).
const MAX_COALESCE: usize = 64;

const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;

/// A run of packets that can go out as one super-packet.
#[derive(Debug, Default, PartialEq, Eq)]
struct Run {
    /// Packets in the run (0 or 1: send the packet alone).
    segments: usize,
    /// IP + TCP header length (the same in every packet of the run).
    headers: usize,
    /// IP header length.
    iph: usize,
    /// Payload of the first segment (every segment but the last has exactly this much).
    mss: usize,
    /// Length of the whole super-packet (IP headers included).
    total: usize,
    /// The last segment has PSH.
    psh: bool,
}

/// A data segment that may take part in coalescing: (IP header length, TCP header length,
/// sequence number, payload length, flags).
fn tcp_data_segment(p: &[u8]) -> Option<(usize, usize, u32, usize, u8)> {
    let iph = match p.first()? >> 4 {
        4 => {
            if p.len() < 20 {
                return None;
            }
            let ihl = usize::from(p[0] & 0x0f) * 4;
            // TCP, not a fragment (MF clear, offset 0), total length = packet length.
            if ihl < 20
                || p[9] != 6
                || p[6] & 0x3f != 0
                || p[7] != 0
                || usize::from(u16::from_be_bytes([p[2], p[3]])) != p.len()
            {
                return None;
            }
            ihl
        }
        6 => {
            // TCP right after the fixed header (no extension headers).
            if p.len() < 40
                || p[6] != 6
                || usize::from(u16::from_be_bytes([p[4], p[5]])) + 40 != p.len()
            {
                return None;
            }
            40
        }
        _ => return None,
    };
    if p.len() < iph + 20 {
        return None;
    }
    let tcph = usize::from(p[iph + 12] >> 4) * 4;
    if tcph < 20 || p.len() <= iph + tcph {
        return None;
    }
    let flags = p[iph + 13];
    if flags != TCP_ACK && flags != TCP_ACK | TCP_PSH {
        return None;
    }
    let seq = u32::from_be_bytes([p[iph + 4], p[iph + 5], p[iph + 6], p[iph + 7]]);
    Some((iph, tcph, seq, p.len() - iph - tcph, flags))
}

/// Whether `b` carries the same IP and TCP header fields as `a` (everything but the IP
/// length, ID and checksum, and the TCP sequence number, flags and checksum), as the kernel's
/// own GRO requires (same ACK, window and options).
fn same_flow_headers(a: &[u8], b: &[u8], iph: usize, tcph: usize) -> bool {
    let ip_same = if iph == 40 {
        a[..4] == b[..4] && a[6..40] == b[6..40]
    } else {
        a[..2] == b[..2] && a[6..10] == b[6..10] && a[12..iph] == b[12..iph]
    };
    let (ta, tb) = (&a[iph..iph + tcph], &b[iph..iph + tcph]);
    ip_same
        && ta[..4] == tb[..4]
        && ta[8..13] == tb[8..13]
        && ta[14..16] == tb[14..16]
        && ta[18..] == tb[18..]
}

/// The longest run of packets from `start` that coalesces into one super-packet: the same
/// flow and headers, consecutive sequence numbers, equal payloads (the last may be shorter),
/// PSH only on the last, at most 64 KiB in all.
fn coalescible_run(slots: &[Vec<u8>], start: usize, h: usize) -> Run {
    let first = &slots[start][h..];
    let Some((iph, tcph, seq, mss, flags)) = tcp_data_segment(first) else {
        return Run::default();
    };
    let mut run = Run {
        segments: 1,
        headers: iph + tcph,
        iph,
        mss,
        total: first.len(),
        psh: flags & TCP_PSH != 0,
    };
    let mut next_seq = seq.wrapping_add(mss as u32);
    let mut last_len = mss;
    for slot in &slots[start + 1..] {
        if run.psh || last_len != mss || run.segments == MAX_COALESCE {
            break;
        }
        let p = &slot[h..];
        let Some((i2, t2, s2, len, f2)) = tcp_data_segment(p) else {
            break;
        };
        if i2 != iph
            || t2 != tcph
            || s2 != next_seq
            || len > mss
            || run.total + len > 65_535
            || !same_flow_headers(first, p, iph, tcph)
        {
            break;
        }
        run.segments += 1;
        run.total += len;
        run.psh = f2 & TCP_PSH != 0;
        next_seq = next_seq.wrapping_add(len as u32);
        last_len = len;
    }
    run
}

/// Write the head of a super-packet into `out`: the `virtio_net_hdr` (TSO, checksum partial
/// from the TCP header on), then `first`'s IP and TCP headers with the lengths of the whole
/// run, a fresh IPv4 header checksum, PSH if the run's last segment had it, and the
/// pseudo-header sum in the TCP checksum field (what CHECKSUM_PARTIAL expects). Returns the
/// bytes written.
fn super_packet_head(first: &[u8], run: &Run, out: &mut [u8]) -> usize {
    let v6 = run.iph == 40;
    let hdr = VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: if v6 {
            VIRTIO_NET_HDR_GSO_TCPV6
        } else {
            VIRTIO_NET_HDR_GSO_TCPV4
        },
        hdr_len: run.headers as u16,
        gso_size: run.mss as u16,
        csum_start: run.iph as u16,
        csum_offset: 16,
    };
    // Encoding into a 10-byte slice cannot fail.
    let _ = hdr.encode(&mut out[..VIRTIO_NET_HDR_LEN]);
    let head = &mut out[VIRTIO_NET_HDR_LEN..VIRTIO_NET_HDR_LEN + run.headers];
    head.copy_from_slice(&first[..run.headers]);
    let tcp_len = run.total - run.iph;
    let pseudo = if v6 {
        head[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        tun_rs::checksum_no_fold(&head[8..40], 6 + tcp_len as u64)
    } else {
        head[2..4].copy_from_slice(&(run.total as u16).to_be_bytes());
        head[10..12].fill(0);
        let ip_sum = !tun_rs::checksum(&head[..run.iph], 0);
        head[10..12].copy_from_slice(&ip_sum.to_be_bytes());
        tun_rs::checksum_no_fold(&head[12..20], 6 + tcp_len as u64)
    };
    let tcp = &mut head[run.iph..];
    if run.psh {
        tcp[13] |= TCP_PSH;
    }
    let folded = tun_rs::checksum(&[], pseudo);
    tcp[16..18].copy_from_slice(&folded.to_be_bytes());
    VIRTIO_NET_HDR_LEN + run.headers
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

/// Bytes of received packets after which one `recv` stops reading (with offload a batch
/// slot may hold a whole 64 KiB super-packet).
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Whether the IP header's length field says the packet's real length (IPv4 total length,
/// IPv6 payload length with no extension header before TCP).
fn ip_length_matches(p: &[u8]) -> bool {
    match p.first().map(|b| b >> 4) {
        Some(4) => p.len() >= 20 && usize::from(u16::from_be_bytes([p[2], p[3]])) == p.len(),
        Some(6) => {
            p.len() >= 40
                && p[6] == 6
                && usize::from(u16::from_be_bytes([p[4], p[5]])) + 40 == p.len()
        }
        _ => false,
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
            TunStats::bump(&self.stats.write_batches, 1);
            self.send_coalesced(batch).await
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

    /// An IPv4 TCP segment behind `h` bytes of headroom: ACK (+PSH), `seq`, `payload` bytes.
    fn segment(h: usize, seq: u32, payload: usize, psh: bool) -> Vec<u8> {
        let total = 20 + 32 + payload;
        let mut p = vec![0u8; h + total];
        let ip = &mut p[h..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[198, 18, 0, 2]);
        ip[16..20].copy_from_slice(&[198, 18, 0, 1]);
        let tcp = &mut ip[20..];
        tcp[0..4].copy_from_slice(&[0x14, 0x51, 0x9c, 0x40]);
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&7u32.to_be_bytes());
        tcp[12] = 8 << 4;
        tcp[13] = if psh { TCP_ACK | TCP_PSH } else { TCP_ACK };
        tcp[14..16].copy_from_slice(&1024u16.to_be_bytes());
        tcp[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3]);
        p
    }

    #[test]
    fn consecutive_segments_coalesce_into_one_super_packet() {
        let h = VIRTIO_NET_HDR_LEN;
        let slots = vec![
            segment(h, 1000, 100, false),
            segment(h, 1100, 100, false),
            segment(h, 1200, 40, true),
            segment(h, 1240, 100, false),
        ];
        let run = coalescible_run(&slots, 0, h);
        // PSH ends the run; the segment after it starts a new one.
        assert_eq!(run.segments, 3);
        assert_eq!((run.iph, run.headers, run.mss), (20, 52, 100));
        assert_eq!(run.total, 52 + 240);
        assert!(run.psh);
        let mut head = [0u8; VIRTIO_NET_HDR_LEN + 120];
        let n = super_packet_head(&slots[0][h..], &run, &mut head);
        assert_eq!(n, h + 52);
        let hdr = VirtioNetHdr::decode(&head[..h]).unwrap();
        assert_eq!(hdr.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
        assert_eq!((hdr.gso_size, hdr.hdr_len, hdr.csum_start), (100, 52, 20));
        let ip = &head[h..n];
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 292);
        assert_eq!(
            tun_rs::checksum(&ip[..20], 0),
            0xffff,
            "IPv4 header checksum"
        );
        assert_eq!(ip[20 + 13], TCP_ACK | TCP_PSH);
        // The TCP checksum field holds the folded pseudo-header sum over the whole segment.
        let pseudo = tun_rs::checksum(&ip[12..20], 6 + 272);
        assert_eq!(u16::from_be_bytes([ip[36], ip[37]]), pseudo);

        // A sequence gap, a different ACK, or a longer segment after a shorter one: no run.
        let gap = vec![segment(h, 1000, 100, false), segment(h, 1101, 100, false)];
        assert_eq!(coalescible_run(&gap, 0, h).segments, 1);
        let mut other_ack = segment(h, 1100, 100, false);
        other_ack[h + 20 + 11] = 8;
        let acks = vec![segment(h, 1000, 100, false), other_ack];
        assert_eq!(coalescible_run(&acks, 0, h).segments, 1);
        let grow = vec![
            segment(h, 1000, 100, false),
            segment(h, 1100, 50, false),
            segment(h, 1150, 100, false),
        ];
        assert_eq!(coalescible_run(&grow, 0, h).segments, 2);
        // A pure ACK (no payload) is never coalesced.
        assert_eq!(
            coalescible_run(&[segment(h, 1, 0, false)], 0, h).segments,
            0
        );
    }

    #[test]
    fn ip_length_must_match_for_a_whole_super_packet() {
        let p = segment(0, 1, 100, false);
        assert!(ip_length_matches(&p));
        assert!(!ip_length_matches(&p[..p.len() - 1]));
        let mut v6 = vec![0u8; 40 + 20];
        v6[0] = 0x60;
        v6[4..6].copy_from_slice(&20u16.to_be_bytes());
        v6[6] = 6;
        assert!(ip_length_matches(&v6));
        v6[6] = 0; // a hop-by-hop header before TCP: split instead
        assert!(!ip_length_matches(&v6));
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
