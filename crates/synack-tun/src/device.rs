//! The packet device the runtime drives: whole IP packets in and out, in batches.
//!
//! A [`Device`] moves *whole IP packets* (IPv4 or IPv6, no link-layer header) between the
//! stack and the outside world. The runtime owns two [`PacketBatch`]es, one for each
//! direction, and reuses them for the life of the device: after the first few batches no
//! packet costs an allocation.
//!
//! Design choices, and why:
//!
//! * **`&self` everywhere.** The runtime receives and sends from different tasks at the same
//!   time (a TUN device is one file descriptor read and written concurrently), so neither
//!   direction may need `&mut self`. Devices keep any per-direction state (a GRO table, a
//!   scratch buffer for GSO super-packets) behind their own lock or in the batch.
//! * **Batches.** Offloading devices read one GSO super-packet and split it into many MTU-sized
//!   packets, and coalesce many outgoing packets into one write (GRO); the batch is the unit
//!   both sides agree on.
//! * **Headroom.** Each packet slot is one `Vec<u8>` whose first [`Device::headroom`] bytes are
//!   reserved for the device (a Linux TUN device with `IFF_VNET_HDR` needs 10 bytes for the
//!   `virtio_net_hdr`); the IP packet follows. A device can thus hand the slots straight to a
//!   vectored/batched system call without copying.
//! * **Native `async fn`-style methods** returning `impl Future + Send`, so the runtime can
//!   `tokio::spawn` the tasks that await them; implementors may simply write `async fn`.

use std::future::Future;
use std::io;

/// A reusable batch of packets. Slot `i` is a `Vec<u8>` holding `headroom` reserved bytes
/// followed by one IP packet; slots past [`PacketBatch::len`] keep their capacity for reuse.
#[derive(Debug)]
pub struct PacketBatch {
    headroom: usize,
    slots: Vec<Vec<u8>>,
    len: usize,
    /// Per slot: the device vouches for the packet's TCP checksum (see
    /// [`PacketBatch::set_checksum_trusted`]). False for every slot after `clear`.
    trusted: Vec<bool>,
}

impl PacketBatch {
    /// An empty batch whose slots reserve `headroom` bytes in front of each packet.
    pub fn new(headroom: usize) -> PacketBatch {
        PacketBatch {
            headroom,
            slots: Vec::new(),
            len: 0,
            trusted: Vec::new(),
        }
    }

    /// Bytes reserved in front of every packet.
    pub fn headroom(&self) -> usize {
        self.headroom
    }

    /// Packets in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keep only the first `n` packets (slots keep their memory).
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// Empty the batch, keeping every slot's memory. Every slot's checksum is untrusted
    /// again.
    pub fn clear(&mut self) {
        self.len = 0;
        self.trusted.fill(false);
    }

    /// For devices: packet `i`'s TCP checksum is vouched for by the device (Linux's
    /// CHECKSUM_PARTIAL or CHECKSUM_UNNECESSARY: a TUN device with offload gets packets the
    /// local kernel made, their checksum left partial), so the runtime hands it to the stack
    /// with `Stack::handle_packet_trusted`, which does not check it. A packet that crossed a
    /// wire no one verified must not be marked.
    pub fn set_checksum_trusted(&mut self, i: usize, trusted: bool) {
        if self.trusted.len() <= i {
            self.trusted.resize(i + 1, false);
        }
        self.trusted[i] = trusted;
    }

    /// Whether packet `i`'s checksum is vouched for (see
    /// [`PacketBatch::set_checksum_trusted`]).
    pub fn checksum_trusted(&self, i: usize) -> bool {
        i < self.len && self.trusted.get(i).copied().unwrap_or(false)
    }

    /// The packets, in order, without headroom, each with whether its checksum is vouched
    /// for.
    pub fn iter_trusted(&self) -> impl Iterator<Item = (&[u8], bool)> + '_ {
        let h = self.headroom;
        self.slots[..self.len]
            .iter()
            .enumerate()
            .map(move |(i, s)| {
                (
                    s.get(h..).unwrap_or(&[]),
                    self.trusted.get(i).copied().unwrap_or(false),
                )
            })
    }

    /// Packet `i` without its headroom, or `None` past the end.
    pub fn packet(&self, i: usize) -> Option<&[u8]> {
        if i < self.len {
            self.slots[i].get(self.headroom..)
        } else {
            None
        }
    }

    /// The packets, in order, without headroom.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let h = self.headroom;
        self.slots[..self.len]
            .iter()
            .map(move |s| s.get(h..).unwrap_or(&[]))
    }

    /// Append a packet built in place: `fill` gets `max_len` writable bytes (after the
    /// headroom) and returns how many it wrote, or `None` to append nothing. Returns whether a
    /// packet was appended.
    pub fn push_with(
        &mut self,
        max_len: usize,
        fill: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> bool {
        let h = self.headroom;
        let slot = self.slot_for_next();
        slot.resize(h + max_len, 0);
        match fill(&mut slot[h..]) {
            Some(n) if n <= max_len => {
                slot.truncate(h + n);
                self.len += 1;
                true
            }
            _ => false,
        }
    }

    /// Append a copy of `packet`.
    pub fn push(&mut self, packet: &[u8]) {
        let h = self.headroom;
        let slot = self.slot_for_next();
        slot.clear();
        slot.resize(h, 0);
        slot.extend_from_slice(packet);
        self.len += 1;
    }

    /// For devices: the first `count` slots, each resized to `headroom + slot_len` bytes
    /// (growing only when a slot is new or too short), ready to be filled by a batched read.
    /// Afterwards the device truncates each filled slot to `headroom + packet length` and
    /// calls [`PacketBatch::set_len`].
    pub fn slots_for_rx(&mut self, count: usize, slot_len: usize) -> &mut [Vec<u8>] {
        while self.slots.len() < count {
            self.slots.push(Vec::new());
        }
        let want = self.headroom + slot_len;
        for s in &mut self.slots[..count] {
            s.resize(want, 0);
        }
        &mut self.slots[..count]
    }

    /// For devices: the filled slots (headroom included), e.g. to hand to a batched write
    /// that may rewrite or extend them (GRO coalescing). Whatever a device leaves in them is
    /// overwritten by the next use of the batch.
    pub fn slots_mut(&mut self) -> &mut [Vec<u8>] {
        &mut self.slots[..self.len]
    }

    /// For devices: declare the first `n` slots filled (clamped to the slots that exist).
    pub fn set_len(&mut self, n: usize) {
        self.len = n.min(self.slots.len());
    }

    fn slot_for_next(&mut self) -> &mut Vec<u8> {
        if let Some(t) = self.trusted.get_mut(self.len) {
            *t = false; // a packet appended is untrusted until its device says otherwise
        }
        if self.len == self.slots.len() {
            self.slots.push(Vec::new());
        }
        &mut self.slots[self.len]
    }
}

/// A source and sink of whole IP packets (see the module docs).
///
/// Both methods may be awaited concurrently from different tasks. Cancellation: the runtime
/// may drop a `recv` future before it completes (it selects on it); a device must then lose
/// nothing it has not yet written into the batch.
pub trait Device: Send + Sync + 'static {
    /// The link MTU: the largest IP packet the device sends (the stack's MSS follows from it,
    /// MUST-67). Received packets may be larger: an offloading device may hand over a whole
    /// TCP super-packet (GSO, up to 64 KiB) as one segment, which the stack accepts like any
    /// segment within its window (nothing in RFC 9293 bounds a received segment by the MSS
    /// we advertised; it only bounds what the peer should send).
    fn mtu(&self) -> usize;

    /// Bytes the device needs in front of every packet in a batch (10 for a TUN device with
    /// virtio-net headers). Read once when the runtime starts.
    fn headroom(&self) -> usize {
        0
    }

    /// Most packets the runtime should put in one batch (both directions).
    fn max_batch(&self) -> usize {
        64
    }

    /// Wait for at least one packet, then fill `batch` (which the runtime passes in empty,
    /// with the device's headroom) with up to [`Device::max_batch`] packets. A packet whose
    /// TCP checksum the device vouches for is marked ([`PacketBatch::set_checksum_trusted`];
    /// its checksum field may then hold only a partial sum): whoever drives the stack must
    /// hand it over with `Stack::handle_packet_trusted`, the others with `handle_packet`. An error ends the
    /// runtime's receive loop only if it is not `Interrupted`/`WouldBlock`.
    fn recv(&self, batch: &mut PacketBatch) -> impl Future<Output = io::Result<()>> + Send;

    /// Send every packet of `batch`. The device may modify the slots (write headers into the
    /// headroom, coalesce packets); the runtime clears the batch afterwards. Packets that cannot
    /// be sent may be dropped: TCP retransmits.
    fn send(&self, batch: &mut PacketBatch) -> impl Future<Output = io::Result<()>> + Send;
}

pub mod memory;

#[cfg(test)]
mod tests {
    use super::PacketBatch;

    /// A trusted mark belongs to one packet of one batch: it never carries over to the
    /// packet next put in that slot, whether the batch was cleared or the slot reused.
    #[test]
    fn checksum_trust_is_per_packet_and_forgotten() {
        let mut b = PacketBatch::new(10);
        b.push(&[0x45; 40]);
        b.push(&[0x45; 60]);
        b.set_checksum_trusted(1, true);
        assert_eq!(
            b.iter_trusted()
                .map(|(p, t)| (p.len(), t))
                .collect::<Vec<_>>(),
            vec![(40, false), (60, true)]
        );
        assert!(b.checksum_trusted(1) && !b.checksum_trusted(0) && !b.checksum_trusted(2));
        b.clear();
        b.push(&[0x45; 40]);
        b.push(&[0x45; 50]);
        assert!(!b.checksum_trusted(1), "cleared with the batch");
        b.set_checksum_trusted(1, true);
        b.truncate(1);
        b.push(&[0x45; 30]);
        assert!(
            !b.checksum_trusted(1),
            "a packet appended over a trusted slot is not"
        );
    }
}
