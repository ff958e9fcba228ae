//! The wire: IPv4, IPv6 and TCP headers and options, checksums; parse and emit.
//!
//! `parse` turns the bytes of one IP packet into a [`Packet`] (or a [`ParseError`] naming why
//! it was dropped, which the stack counts: checklist EP-3, MUST-3, MUST-7). `emit` writes one
//! IP packet, with the options laid out the way Linux lays them out (LX-19) so captures and
//! packet-exact tests read like the kernel's.

pub mod checksum;
pub mod icmp;
mod ip;
mod options;
mod tcp;

use crate::seq::SeqNum;
use core::fmt;
use std::net::IpAddr;

pub(crate) use ip::parse_deferred;
pub use ip::{emit, emit_parts, emit_plain_parts, parse, Dscp, IpOut};
pub use options::options_len;

/// Fixed TCP header length without options.
pub const TCP_HEADER_LEN: usize = 20;
/// IPv4 header length (we never send IPv4 options).
pub const IPV4_HEADER_LEN: usize = 20;
/// IPv6 fixed header length (we never send extension headers).
pub const IPV6_HEADER_LEN: usize = 40;
/// Most TCP option bytes a header can carry (data offset 15 words).
pub const MAX_OPTIONS_LEN: usize = 40;
/// Most SACK blocks one segment can carry (4 without timestamps, 3 with).
pub const MAX_SACK_BLOCKS: usize = 4;

/// The TCP control bits, as one byte. Flag combinations are plain bit unions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    pub const NONE: TcpFlags = TcpFlags(0);

    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
    pub fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
    pub fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    pub fn psh(self) -> bool {
        self.contains(Self::PSH)
    }
    pub fn urg(self) -> bool {
        self.contains(Self::URG)
    }
    pub fn ece(self) -> bool {
        self.contains(Self::ECE)
    }
    pub fn cwr(self) -> bool {
        self.contains(Self::CWR)
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for TcpFlags {
    /// `SYN,ACK`, `FIN,PSH,ACK`, `RST`: the order tcpdump and the ladder diagrams use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(TcpFlags, &str); 8] = [
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::CWR, "CWR"),
        ];
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The Timestamps option (RFC 7323 §3.2, kind 8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timestamps {
    pub tsval: u32,
    pub tsecr: u32,
}

/// One SACK block: `[left, right)` (RFC 2018 §3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SackBlock {
    pub left: SeqNum,
    pub right: SeqNum,
}

/// The TCP options synack understands. Unknown options are skipped by length when parsing
/// (MUST-6) and never emitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2); only on SYN segments (MUST-65).
    pub mss: Option<u16>,
    /// Window scale shift (kind 3), as received (the caller clamps to 14, WS-3).
    pub window_scale: Option<u8>,
    /// SACK-permitted (kind 4).
    pub sack_permitted: bool,
    /// Timestamps (kind 8).
    pub timestamps: Option<Timestamps>,
    /// SACK blocks (kind 5); only the first `sack_count` entries are meaningful.
    pub sack_blocks: [SackBlock; MAX_SACK_BLOCKS],
    pub sack_count: u8,
}

impl TcpOptions {
    /// The timestamps when they are the only option: the layout of nearly every established
    /// segment (NOP, NOP, TS), which the writer and the checksum take a short path for.
    pub(crate) fn timestamps_only(&self) -> Option<Timestamps> {
        match (
            self.mss,
            self.sack_permitted,
            self.window_scale,
            self.sack_count,
        ) {
            (None, false, None, 0) => self.timestamps,
            _ => None,
        }
    }

    /// The SACK blocks present.
    pub fn sacks(&self) -> &[SackBlock] {
        &self.sack_blocks[..self.sack_count as usize]
    }
    /// Append a SACK block; false if the option is full.
    pub fn push_sack(&mut self, block: SackBlock) -> bool {
        if (self.sack_count as usize) < MAX_SACK_BLOCKS {
            self.sack_blocks[self.sack_count as usize] = block;
            self.sack_count += 1;
            true
        } else {
            false
        }
    }
}

/// A TCP header as parsed or to be emitted. The checksum and data offset are derived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpHeader {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    /// The raw 16-bit window field; unsigned (MUST-1), scaling is the connection's business.
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
}

/// A header to emit whose only option is Timestamps, if any: the segments of an
/// established connection that carry no SACK block (nearly all of them). Built by the
/// connection field by field and written from its values (`emit_plain_parts`): the full
/// [`TcpHeader`], with its SACK block array and the other options, was zeroed, moved and
/// read back for every data segment sent (callgrind, bulk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainHeader {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    /// The one option: laid out `NOP, NOP, Timestamps` (LX-19).
    pub timestamps: Option<Timestamps>,
}

impl PlainHeader {
    /// The header with these fields and options.
    pub fn to_header(self) -> TcpHeader {
        TcpHeader {
            src_port: self.src_port,
            dst_port: self.dst_port,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urgent: self.urgent,
            options: TcpOptions {
                timestamps: self.timestamps,
                ..TcpOptions::default()
            },
        }
    }

    /// `h` as a plain header, if its options are at most Timestamps.
    pub fn of(h: &TcpHeader) -> Option<PlainHeader> {
        let o = &h.options;
        let plain =
            o.mss.is_none() && o.window_scale.is_none() && !o.sack_permitted && o.sack_count == 0;
        plain.then_some(PlainHeader {
            src_port: h.src_port,
            dst_port: h.dst_port,
            seq: h.seq,
            ack: h.ack,
            flags: h.flags,
            window: h.window,
            urgent: h.urgent,
            timestamps: o.timestamps,
        })
    }
}

/// One parsed IP packet carrying TCP. The payload borrows from the input bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub hop_limit: u8,
    /// IPv4 TOS or IPv6 Traffic Class byte: DSCP in the top six bits, ECN in the low two.
    pub traffic_class: u8,
    pub tcp: TcpHeader,
    pub payload: &'a [u8],
    /// How far the TCP checksum has been checked: always `Verified` from [`parse`].
    pub(crate) csum: Csum,
}

/// How much of a received segment's checksum (MUST-3) has been checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Csum {
    /// All of it, and it is right.
    Verified,
    /// All but the payload: this is the unfolded sum of the pseudo-header and the TCP header
    /// (checksum field included). The payload's sum must be added and checked before
    /// anything acts on the packet.
    Pending(u64),
    /// All of it, right, and the payload has also been copied into the receive ring of its
    /// connection at RCV.NXT, not yet committed (see `RecvBuf::stage`).
    Staged,
}

impl Csum {
    /// Whether the full unfolded sum over pseudo-header, header (with its checksum) and
    /// payload checks out: its one's-complement fold is all ones (RFC 1071 §1), i.e. the
    /// checksum over it is zero, as in `checksum::verify_tcp`.
    pub(crate) fn sum_ok(total: u64) -> bool {
        !checksum::fold(total) == 0
    }
}

impl Packet<'_> {
    /// Whether the payload's checksum is still to be checked (see [`Csum::Pending`]).
    pub(crate) fn checksum_pending(&self) -> bool {
        matches!(self.csum, Csum::Pending(_))
    }

    /// Complete MUST-3 for a packet from [`parse_deferred`] with a separate pass over the
    /// payload. True when the checksum is right (the packet is then `Verified`).
    pub(crate) fn verify_pending(&mut self) -> bool {
        match self.csum {
            Csum::Pending(partial) => {
                let ok = Csum::sum_ok(partial + checksum::sum(self.payload));
                if ok {
                    self.csum = Csum::Verified;
                }
                ok
            }
            Csum::Verified | Csum::Staged => true,
        }
    }

    /// SEG.LEN: payload bytes plus one each for SYN and FIN (EP-4).
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + self.tcp.flags.syn() as u32 + self.tcp.flags.fin() as u32
    }
}

/// Why an input packet was dropped before it reached TCP. Each reason has its own counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseError {
    /// Shorter than the headers it claims to carry.
    Truncated,
    /// IP version is neither 4 nor 6.
    IpVersion,
    /// IPv4 IHL below 5 or past the packet.
    IpHeaderLength,
    /// IP total/payload length disagrees with the bytes received.
    IpTotalLength,
    /// IPv4 header checksum mismatch.
    IpChecksum,
    /// A fragment (we do not reassemble IP fragments).
    Fragment,
    /// The IP payload is not TCP (or an IPv6 extension header we cannot walk).
    NotTcp,
    /// TCP data offset < 5 or past the segment (EP-3).
    TcpDataOffset,
    /// A TCP option with length 0 or 1, or running past the header (MUST-7).
    TcpOptionLength,
    /// TCP checksum mismatch (MUST-3).
    TcpChecksum,
}

impl ParseError {
    pub const ALL: [ParseError; 10] = [
        ParseError::Truncated,
        ParseError::IpVersion,
        ParseError::IpHeaderLength,
        ParseError::IpTotalLength,
        ParseError::IpChecksum,
        ParseError::Fragment,
        ParseError::NotTcp,
        ParseError::TcpDataOffset,
        ParseError::TcpOptionLength,
        ParseError::TcpChecksum,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ParseError::Truncated => "truncated",
            ParseError::IpVersion => "bad IP version",
            ParseError::IpHeaderLength => "bad IPv4 header length",
            ParseError::IpTotalLength => "bad IP length",
            ParseError::IpChecksum => "bad IPv4 header checksum",
            ParseError::Fragment => "IP fragment",
            ParseError::NotTcp => "not TCP",
            ParseError::TcpDataOffset => "bad TCP data offset",
            ParseError::TcpOptionLength => "bad TCP option length",
            ParseError::TcpChecksum => "bad TCP checksum",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Length of the IP + TCP headers `emit` will write for these addresses and options.
pub fn headers_len(dst: IpAddr, options: &TcpOptions) -> usize {
    let ip = match dst {
        IpAddr::V4(_) => IPV4_HEADER_LEN,
        IpAddr::V6(_) => IPV6_HEADER_LEN,
    };
    ip + TCP_HEADER_LEN + options_len(options)
}
