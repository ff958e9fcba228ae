//! IPv4 / IPv6 framing of TCP segments.
//!
//! `parse` accepts one IP packet as received (trailing bytes beyond the IP length, such as
//! Ethernet padding, are ignored), checks the IP layer and hands the TCP segment to
//! `tcp::parse_segment`. It never panics and never allocates. `emit` writes an IPv4 header
//! without options (DF set, ID 0) or a bare IPv6 header, then the TCP segment.
use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol / IPv6 next-header numbers we look at.
const PROTO_HOP_BY_HOP: u8 = 0;
const PROTO_TCP: u8 = 6;
const PROTO_ROUTING: u8 = 43;
const PROTO_FRAGMENT: u8 = 44;
const PROTO_DEST_OPTIONS: u8 = 60;

/// IPv4 flags/fragment-offset field: More Fragments, Don't Fragment, offset mask.
const IPV4_MF: u16 = 0x2000;
const IPV4_DF: u16 = 0x4000;
const IPV4_OFFSET_MASK: u16 = 0x1FFF;

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn v4_at(b: &[u8], i: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3])
}

fn v6_at(b: &[u8], i: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[i..i + 16]);
    Ipv6Addr::from(o)
}

/// The IP layer of a packet, checked: addresses, hop limit, the upper-layer protocol and
/// its bytes (after IPv4 options or IPv6 extension headers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpPayload<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub hop_limit: u8,
    /// IPv4 TOS / IPv6 Traffic Class byte: DSCP in the top six bits, ECN in the low two.
    pub traffic_class: u8,
    pub proto: u8,
    pub payload: &'a [u8],
}

/// Check the IP layer of one packet (either version) and find its upper-layer payload.
pub(crate) fn ip_layer(bytes: &[u8]) -> Result<IpPayload<'_>, ParseError> {
    let first = *bytes.first().ok_or(ParseError::Truncated)?;
    match first >> 4 {
        4 => ip_v4(bytes),
        6 => ip_v6(bytes),
        _ => Err(ParseError::IpVersion),
    }
}

/// Parse one IP packet carrying TCP.
pub fn parse(bytes: &[u8]) -> Result<Packet<'_>, ParseError> {
    parse_ip_tcp(bytes, false, false)
}

/// [`parse`], except that the payload of a plain data segment may be left unsummed
/// (`Csum::Pending`): the caller must complete MUST-3 before acting on the packet, either
/// with [`Packet::verify_pending`] or by summing the payload as it copies it.
///
/// Inlined, with `parse_ip_tcp`, into `Stack::handle_packet`, its one caller: every packet
/// received comes through here, and the parsed packet is then used in place rather than
/// returned through memory.
///
/// With `trust` the TCP checksum is not checked at all: the device vouched for it
/// (`Stack::handle_packet_trusted`). The IPv4 header checksum is still checked: a device
/// that offloads TCP's fills it in.
#[inline(always)]
pub(crate) fn parse_deferred(bytes: &[u8], trust: bool) -> Result<Packet<'_>, ParseError> {
    parse_ip_tcp(bytes, true, trust)
}

#[inline(always)]
fn parse_ip_tcp(bytes: &[u8], defer: bool, trust: bool) -> Result<Packet<'_>, ParseError> {
    // IPv4 is checked inline, not through `ip_layer`: its answer went through memory as a
    // `Result`, and reading it back with wide loads right after the narrow stores that
    // wrote it stalled on store forwarding (perf: the hottest instructions of this
    // function in bulk). The checks are the same (`ip_v4`).
    let ip = match bytes.first().map(|b| b >> 4) {
        Some(4) => ip_v4(bytes)?,
        _ => ip_layer(bytes)?,
    };
    if ip.proto != PROTO_TCP {
        return Err(ParseError::NotTcp);
    }
    let (tcp, payload, csum) = tcp::parse_segment(ip.src, ip.dst, ip.payload, defer, trust)?;
    Ok(Packet {
        src: ip.src,
        dst: ip.dst,
        hop_limit: ip.hop_limit,
        traffic_class: ip.traffic_class,
        tcp,
        payload,
        csum,
    })
}

/// [`checksum::sum`] of an IPv4 header without options (nearly every one received), as
/// five big-endian 32-bit words: each is congruent to the sum of its two 16-bit halves
/// modulo 2^16 - 1 (RFC 1071 §2 (B)). A fixed length the compiler unrolls; the general sum
/// loops and branches on the length, per packet.
fn sum_v4_header(h: &[u8; IPV4_HEADER_LEN]) -> u64 {
    let w = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    w(0) + w(4) + w(8) + w(12) + w(16)
}

/// IPv4 (RFC 791). Inlined into `parse_ip_tcp`, which every received packet runs.
#[inline(always)]
fn ip_v4(bytes: &[u8]) -> Result<IpPayload<'_>, ParseError> {
    if bytes.len() < IPV4_HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    let ihl = usize::from(bytes[0] & 0x0F) * 4;
    if ihl < IPV4_HEADER_LEN {
        return Err(ParseError::IpHeaderLength);
    }
    let total = usize::from(be16(bytes, 2));
    if total < IPV4_HEADER_LEN || total > bytes.len() {
        return Err(ParseError::IpTotalLength);
    }
    if ihl > total {
        return Err(ParseError::IpHeaderLength);
    }
    // Bytes past the total length (link-layer padding) are not part of the packet.
    let packet = &bytes[..total];
    // Over a header with a correct checksum in place the folded sum is all ones (RFC 1071).
    let header_sum = match packet.first_chunk::<IPV4_HEADER_LEN>() {
        Some(h) if ihl == IPV4_HEADER_LEN => sum_v4_header(h),
        _ => checksum::sum(&packet[..ihl]),
    };
    if checksum::fold(header_sum) != 0xFFFF {
        return Err(ParseError::IpChecksum);
    }
    let frag = be16(packet, 6);
    if frag & IPV4_MF != 0 || frag & IPV4_OFFSET_MASK != 0 {
        return Err(ParseError::Fragment);
    }
    // IPv4 options (bytes 20..ihl) are skipped unread (MUST-50).
    Ok(IpPayload {
        src: IpAddr::V4(v4_at(packet, 12)),
        dst: IpAddr::V4(v4_at(packet, 16)),
        hop_limit: packet[8],
        traffic_class: packet[1],
        proto: packet[9],
        payload: &packet[ihl..],
    })
}

/// IPv6 (RFC 8200). Hop-by-hop, routing and destination-options extension headers are
/// walked by their length; a fragment header means a fragment; anything else is the
/// upper-layer protocol.
fn ip_v6(bytes: &[u8]) -> Result<IpPayload<'_>, ParseError> {
    if bytes.len() < IPV6_HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    let end = IPV6_HEADER_LEN + usize::from(be16(bytes, 4));
    if end > bytes.len() {
        return Err(ParseError::IpTotalLength);
    }
    let packet = &bytes[..end];
    let mut next = packet[6];
    let mut at = IPV6_HEADER_LEN;
    // Each extension header is at least 8 bytes, so this ends within 8 K iterations even
    // for a maximal packet of nothing but empty extension headers.
    loop {
        match next {
            PROTO_HOP_BY_HOP | PROTO_ROUTING | PROTO_DEST_OPTIONS => {
                // Next header, then the length in 8-octet units not counting the first 8.
                let ext = packet.get(at..at + 2).ok_or(ParseError::Truncated)?;
                let len = (usize::from(ext[1]) + 1) * 8;
                if at + len > end {
                    return Err(ParseError::Truncated);
                }
                next = ext[0];
                at += len;
            }
            PROTO_FRAGMENT => return Err(ParseError::Fragment),
            _ => break,
        }
    }
    // The pseudo-header length is the upper layer's own length (RFC 8200 §8.1): the
    // extension headers are not counted.
    Ok(IpPayload {
        src: IpAddr::V6(v6_at(packet, 8)),
        dst: IpAddr::V6(v6_at(packet, 24)),
        hop_limit: packet[7],
        // Version (4 bits), Traffic Class (8), Flow Label (20).
        traffic_class: (packet[0] << 4) | (packet[1] >> 4),
        proto: next,
        payload: &packet[at..],
    })
}

/// Write one IP packet into `buf`; returns its length, or None if `buf` is too small or the
/// address families differ. Its TOS / Traffic Class byte is 0 ([`emit_parts`] sets it).
pub fn emit(
    src: IpAddr,
    dst: IpAddr,
    hop_limit: u8,
    tcp: &TcpHeader,
    payload: &[u8],
    buf: &mut [u8],
) -> Option<usize> {
    let ip = IpOut {
        hop_limit,
        traffic_class: 0,
    };
    emit_parts(src, dst, ip, tcp, (payload, &[]), buf)
}

/// The IP header fields a sender chooses, besides the addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpOut {
    /// IPv4 TTL / IPv6 hop limit (MUST-49).
    pub hop_limit: u8,
    /// IPv4 TOS / IPv6 Traffic Class byte: the connection's DSCP in the top six bits
    /// (MUST-48, SHLD-22), ECN bits 0 (no ECN, SHLD-8).
    pub traffic_class: u8,
}

/// A Differentiated Services Code Point (RFC 2474): the top six bits of the IPv4 TOS /
/// IPv6 Traffic Class byte, which the application chooses for its connection's segments
/// (RFC 9293 §3.9.1.9, MUST-48). The low two bits of that byte are ECN's (RFC 3168), never
/// the application's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dscp(u8);

impl Dscp {
    /// Best effort (CS0), every connection's DSCP unless the application says otherwise.
    pub const DEFAULT: Dscp = Dscp(0);
    /// Expedited Forwarding (RFC 3246), for interactive traffic such as voice.
    pub const EF: Dscp = Dscp(46);

    /// The code point `value`, None above 63 (it has six bits).
    pub const fn new(value: u8) -> Option<Dscp> {
        if value < 64 {
            Some(Dscp(value))
        } else {
            None
        }
    }

    /// The code point, 0..=63.
    pub const fn value(self) -> u8 {
        self.0
    }

    /// The code point of a TOS / Traffic Class byte (its ECN bits dropped).
    pub const fn from_traffic_class(byte: u8) -> Dscp {
        Dscp(byte >> 2)
    }

    /// The TOS / Traffic Class byte carrying this code point, ECN bits 0.
    pub const fn traffic_class(self) -> u8 {
        self.0 << 2
    }
}

/// [`emit`] with the payload in two pieces, written one after the other: a send ring that
/// wraps is copied straight into the packet (one copy per byte on the way out).
/// Inlined into the stack's transmit loop, which sends every data segment through here:
/// the call passed both addresses through memory and cost a frame per segment.
#[inline(always)]
pub fn emit_parts(
    src: IpAddr,
    dst: IpAddr,
    ip: IpOut,
    tcp: &TcpHeader,
    payload: (&[u8], &[u8]),
    buf: &mut [u8],
) -> Option<usize> {
    let seg_len = tcp::segment_len(tcp, payload.0.len() + payload.1.len());
    emit_ip(
        src,
        dst,
        ip,
        seg_len,
        buf,
        #[inline(always)]
        |pseudo, seg| tcp::write_segment(pseudo, tcp, payload, seg),
    )
}

/// [`emit_parts`] for a header whose only option is Timestamps (or none): the same bytes,
/// written from the fields without a [`TcpHeader`] to build and read back. The stack's
/// transmit loop sends every segment of an established connection that carries no SACK
/// block through here.
#[inline(always)]
pub fn emit_plain_parts(
    src: IpAddr,
    dst: IpAddr,
    ip: IpOut,
    tcp: &PlainHeader,
    payload: (&[u8], &[u8]),
    buf: &mut [u8],
) -> Option<usize> {
    let seg_len = tcp::plain_header_len(tcp) + payload.0.len() + payload.1.len();
    emit_ip(
        src,
        dst,
        ip,
        seg_len,
        buf,
        #[inline(always)]
        |pseudo, seg| tcp::write_plain_segment(pseudo, tcp, payload, seg),
    )
}

/// The IP layer of `emit_parts` and `emit_plain_parts`: the header for a TCP segment of
/// `seg_len` bytes, which `write_tcp` writes into the slice it is given, starting from the
/// pseudo-header's sum without the TCP length.
#[inline(always)]
fn emit_ip(
    src: IpAddr,
    dst: IpAddr,
    ip: IpOut,
    seg_len: usize,
    buf: &mut [u8],
    write_tcp: impl FnOnce(u64, &mut [u8]),
) -> Option<usize> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = IPV4_HEADER_LEN + seg_len;
            let total16 = u16::try_from(total).ok()?;
            let out = buf.get_mut(..total)?;
            let (h, seg) = out.split_at_mut(IPV4_HEADER_LEN);
            let (s32, d32) = (u32::from(s), u32::from(d));
            write_tcp(checksum::pseudo_header_v4(s, d, 0), seg);
            // The header checksum from the field values, not by reading the header back:
            // that read came right after the narrow stores that wrote it and stalled on
            // store forwarding. Words: version/IHL/DSCP, total length, identification (0),
            // flags/fragment offset, TTL/protocol, checksum (0), then the addresses.
            let IpOut {
                hop_limit,
                traffic_class,
            } = ip;
            let sum = (0x4500 | u64::from(traffic_class))
                + u64::from(total16)
                + u64::from(IPV4_DF)
                + (u64::from(hop_limit) << 8 | u64::from(PROTO_TCP))
                + u64::from(s32)
                + u64::from(d32);
            // The header as a value, stored once its checksum is known.
            let mut v = [0u8; IPV4_HEADER_LEN];
            v[0] = 0x45; // version 4, IHL 5: we never send IP options
            v[1] = traffic_class; // DSCP / ECN
            v[2..4].copy_from_slice(&total16.to_be_bytes());
            // v[4..6], identification: 0, as DF is set.
            v[6..8].copy_from_slice(&IPV4_DF.to_be_bytes());
            v[8] = hop_limit; // MUST-49: the caller's TTL
            v[9] = PROTO_TCP;
            v[10..12].copy_from_slice(&(!checksum::fold(sum)).to_be_bytes());
            v[12..16].copy_from_slice(&s32.to_be_bytes());
            v[16..20].copy_from_slice(&d32.to_be_bytes());
            h.copy_from_slice(&v);
            Some(total)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let payload_len = u16::try_from(seg_len).ok()?;
            let total = IPV6_HEADER_LEN + seg_len;
            let out = buf.get_mut(..total)?;
            let (h, seg) = out.split_at_mut(IPV6_HEADER_LEN);
            write_tcp(checksum::pseudo_header_v6(&s, &d, 0), seg);
            // Version 6, the traffic class, flow label 0.
            let tc = ip.traffic_class;
            h[0..4].copy_from_slice(&[0x60 | tc >> 4, tc << 4, 0, 0]);
            h[4..6].copy_from_slice(&payload_len.to_be_bytes());
            h[6] = PROTO_TCP;
            h[7] = ip.hop_limit;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            Some(total)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    const A6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    const B6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0xabcd, 2));

    fn header() -> TcpHeader {
        TcpHeader {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(0x1234_5678),
            ack: SeqNum(0x9abc_def0),
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 502,
            urgent: 0,
            options: TcpOptions {
                timestamps: Some(Timestamps {
                    tsval: 1000,
                    tsecr: 2000,
                }),
                ..TcpOptions::default()
            },
        }
    }

    fn emit_vec(src: IpAddr, dst: IpAddr, tcp: &TcpHeader, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 65_600];
        let n = emit(src, dst, 64, tcp, payload, &mut buf).expect("emit");
        assert_eq!(n, headers_len(dst, &tcp.options) + payload.len());
        buf.truncate(n);
        buf
    }

    /// Recompute the TCP checksum of a hand-modified segment.
    fn fix_tcp_checksum(src: IpAddr, dst: IpAddr, seg: &mut [u8]) {
        seg[16] = 0;
        seg[17] = 0;
        let c = checksum::tcp_checksum(src, dst, seg);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
    }

    /// Recompute the IPv4 header checksum of a hand-modified packet.
    fn fix_ip_checksum(p: &mut [u8]) {
        let ihl = usize::from(p[0] & 0xF) * 4;
        p[10] = 0;
        p[11] = 0;
        let c = checksum::checksum(&p[..ihl]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }

    /// A valid IPv4 packet whose TCP options area holds `opts` verbatim (padded with zeros to
    /// a multiple of 4, at most 40 bytes), for driving the option parser past the checksum.
    fn raw_v4_with_options(opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let opt_len = opts.len().div_ceil(4) * 4;
        assert!(opt_len <= MAX_OPTIONS_LEN);
        let mut p = emit_vec(A4, B4, &TcpHeader::default(), &[]);
        p.extend_from_slice(opts);
        p.resize(IPV4_HEADER_LEN + TCP_HEADER_LEN + opt_len, 0);
        p.extend_from_slice(payload);
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[IPV4_HEADER_LEN + 12] = (((TCP_HEADER_LEN + opt_len) / 4) as u8) << 4;
        fix_ip_checksum(&mut p);
        fix_tcp_checksum(A4, B4, &mut p[IPV4_HEADER_LEN..]);
        p
    }

    /// `parse_deferred` followed by `verify_pending`, as the stack uses them.
    fn parse_then_verify(p: &[u8]) -> Result<Packet<'_>, ParseError> {
        let mut pkt = parse_deferred(p, false)?;
        if !pkt.verify_pending() {
            return Err(ParseError::TcpChecksum);
        }
        Ok(pkt)
    }

    #[test]
    fn must_3_deferred_payload_checksum() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        for (s, d) in [(A4, B4), (A6, B6)] {
            let p = emit_vec(s, d, &header(), &data);
            let mut pkt = parse_deferred(&p, false).unwrap();
            assert!(pkt.checksum_pending(), "a plain data segment is deferred");
            assert_eq!((pkt.tcp, pkt.payload), (header(), &data[..]));
            assert!(pkt.verify_pending());
            assert_eq!(pkt, parse(&p).unwrap());
            // A flipped payload bit is caught by the completion, and by `parse` at once.
            let mut q = p.clone();
            let n = q.len();
            q[n - 333] ^= 0x10;
            assert!(parse_deferred(&q, false).unwrap().checksum_pending());
            assert!(!parse_deferred(&q, false).unwrap().verify_pending());
            assert_eq!(parse(&q), Err(ParseError::TcpChecksum));
            // Not deferred: other flags, or a short payload.
            for h in [
                TcpHeader {
                    flags: TcpFlags::ACK | TcpFlags::FIN,
                    ..header()
                },
                TcpHeader {
                    flags: TcpFlags::ACK | TcpFlags::URG,
                    ..header()
                },
                TcpHeader {
                    flags: TcpFlags::PSH,
                    ..header()
                },
            ] {
                let p = emit_vec(s, d, &h, &data);
                assert_eq!(parse_deferred(&p, false).unwrap().csum, Csum::Verified);
            }
            let p = emit_vec(s, d, &header(), &data[..tcp::DEFER_MIN - 1]);
            assert_eq!(parse_deferred(&p, false).unwrap().csum, Csum::Verified);
        }
    }

    #[test]
    fn must_3_deferred_bad_checksum_wins_over_bad_options() {
        // As in `parse`: a segment with a bad checksum is counted as such even when its
        // options are malformed too.
        let mut h = raw_v4_with_options(&[99, 1, 1, 1], &[0x33; 600]);
        h[IPV4_HEADER_LEN + 13] = TcpFlags::ACK.0;
        fix_tcp_checksum(A4, B4, &mut h[IPV4_HEADER_LEN..]);
        assert_eq!(parse_then_verify(&h), Err(ParseError::TcpOptionLength));
        let n = h.len();
        h[n - 1] ^= 1;
        assert_eq!(parse(&h), Err(ParseError::TcpChecksum));
        assert_eq!(parse_then_verify(&h), Err(ParseError::TcpChecksum));
    }

    #[test]
    fn emit_v4_header_fields() {
        let p = emit_vec(A4, B4, &header(), b"hello");
        assert_eq!(p.len(), 20 + 32 + 5);
        assert_eq!(p[0], 0x45);
        assert_eq!(p[1], 0);
        assert_eq!(be16(&p, 2), 57);
        assert_eq!(&p[4..8], &[0, 0, 0x40, 0]); // ID 0, DF, offset 0
        assert_eq!(p[8], 64);
        assert_eq!(p[9], 6);
        assert_eq!(checksum::checksum(&p[..20]), 0);
        assert_eq!(&p[12..16], &[192, 0, 2, 1]);
        assert_eq!(&p[16..20], &[198, 51, 100, 7]);
        // TCP: data offset 8 words, reserved bits zero (EP-2), flags byte.
        assert_eq!(p[32], 0x80);
        assert_eq!(p[33], 0x18);
        assert!(checksum::verify_tcp(A4, B4, &p[20..]));
    }

    #[test]
    fn emit_v4_header_checksum_for_any_fields() {
        // The header checksum is computed from the field values; check it over the bytes.
        let addrs = [
            (A4, B4),
            (
                IpAddr::V4(Ipv4Addr::new(255, 255, 255, 254)),
                IpAddr::V4(Ipv4Addr::new(0, 0, 0, 1)),
            ),
        ];
        for (s, d) in addrs {
            for hop in [0u8, 1, 64, 255] {
                for len in [0usize, 1, 1460, 65_000] {
                    let payload = vec![0xEEu8; len];
                    let mut buf = vec![0u8; 65_600];
                    let n = emit(s, d, hop, &header(), &payload, &mut buf).unwrap();
                    assert_eq!(checksum::checksum(&buf[..20]), 0, "hop {hop} len {len}");
                    assert!(parse(&buf[..n]).is_ok());
                }
            }
        }
    }

    #[test]
    fn must_2_checksum_with_extreme_fields_and_every_option() {
        let mut options = TcpOptions {
            mss: Some(0xFFFF),
            window_scale: Some(14),
            sack_permitted: true,
            timestamps: Some(Timestamps {
                tsval: u32::MAX,
                tsecr: 0x8000_0001,
            }),
            ..TcpOptions::default()
        };
        let max = TcpHeader {
            src_port: 0xFFFF,
            dst_port: 0xFFFF,
            seq: SeqNum(u32::MAX),
            ack: SeqNum(0xFFFF_0001),
            flags: TcpFlags(0xFF),
            window: 0xFFFF,
            urgent: 0xFFFF,
            options,
        };
        options = TcpOptions::default();
        options.push_sack(SackBlock {
            left: SeqNum(u32::MAX),
            right: SeqNum(7),
        });
        options.push_sack(SackBlock {
            left: SeqNum(0x1234_5678),
            right: SeqNum(0x9ABC_DEF0),
        });
        let sack = TcpHeader { options, ..max };
        for h in [max, sack, TcpHeader::default()] {
            for (s, d) in [(A4, B4), (A6, B6)] {
                for len in [0usize, 1, 2, 33, 1460] {
                    let p = emit_vec(s, d, &h, &vec![0xFF; len]);
                    let ip = if s.is_ipv4() { 20 } else { 40 };
                    assert!(checksum::verify_tcp(s, d, &p[ip..]), "{h:?} len {len}");
                }
            }
        }
    }

    #[test]
    fn emit_v6_header_fields() {
        let p = emit_vec(A6, B6, &header(), b"hi");
        assert_eq!(p.len(), 40 + 32 + 2);
        assert_eq!(&p[0..4], &[0x60, 0, 0, 0]);
        assert_eq!(be16(&p, 4), 34);
        assert_eq!(p[6], 6);
        assert_eq!(p[7], 64);
        assert!(checksum::verify_tcp(A6, B6, &p[40..]));
    }

    #[test]
    fn must_2_emitted_checksum_is_correct_and_parses_back() {
        for (s, d) in [(A4, B4), (A6, B6)] {
            let p = emit_vec(s, d, &header(), b"payload");
            let pkt = parse(&p).unwrap();
            assert_eq!(pkt.src, s);
            assert_eq!(pkt.dst, d);
            assert_eq!(pkt.hop_limit, 64);
            assert_eq!(pkt.tcp, header());
            assert_eq!(pkt.payload, b"payload");
        }
    }

    #[test]
    fn emit_refuses_mixed_families_and_short_buffers() {
        let mut buf = [0u8; 200];
        assert_eq!(emit(A4, B6, 64, &header(), &[], &mut buf), None);
        assert_eq!(emit(A6, B4, 64, &header(), &[], &mut buf), None);
        assert_eq!(emit(A4, B4, 64, &header(), &[], &mut buf[..51]), None);
        assert_eq!(emit(A4, B4, 64, &header(), &[], &mut buf[..52]), Some(52));
        assert_eq!(emit(A6, B6, 64, &header(), &[], &mut buf[..71]), None);
        assert_eq!(emit(A6, B6, 64, &header(), &[], &mut buf[..72]), Some(72));
        // Too large for the IP length fields.
        let big = vec![0u8; 65_536];
        let mut out = vec![0u8; 70_000];
        assert_eq!(
            emit(A4, B4, 64, &header(), &big[..65_535 - 52 + 1], &mut out),
            None
        );
        assert!(emit(A4, B4, 64, &header(), &big[..65_535 - 52], &mut out).is_some());
        assert_eq!(
            emit(A6, B6, 64, &header(), &big[..65_535 - 32 + 1], &mut out),
            None
        );
        assert!(emit(A6, B6, 64, &header(), &big[..65_535 - 32], &mut out).is_some());
    }

    #[test]
    fn must_1_window_ffff_reads_as_65535() {
        let h = TcpHeader {
            window: 0xFFFF,
            ..header()
        };
        let p = emit_vec(A4, B4, &h, &[]);
        assert_eq!(&p[20 + 14..20 + 16], &[0xFF, 0xFF]);
        let w = parse(&p).unwrap().tcp.window;
        assert_eq!(w, 65_535);
        assert_eq!(u32::from(w), 65_535u32);
    }

    #[test]
    fn must_2_two_piece_payload_matches_one_piece_at_every_split() {
        // A send ring that wraps hands the payload over in two pieces, split anywhere (odd
        // splits included); the packet must be byte-for-byte the one-piece packet.
        let payload: Vec<u8> = (0..1500u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for len in [0usize, 1, 2, 3, 127, 128, 129, 300, 1460, 1500] {
            let p = &payload[..len];
            for (s, d) in [(A4, B4), (A6, B6)] {
                let whole = emit_vec(s, d, &header(), p);
                for cut in (0..=len).filter(|c| c % 13 == 0 || *c < 4 || len - c < 4) {
                    let mut buf = vec![0u8; 2000];
                    let ip = IpOut {
                        hop_limit: 64,
                        traffic_class: 0,
                    };
                    let n = emit_parts(s, d, ip, &header(), (&p[..cut], &p[cut..]), &mut buf)
                        .expect("emit_parts");
                    assert_eq!(&buf[..n], &whole[..], "len {len} cut {cut}");
                }
            }
        }
    }

    /// MUST-48 on the wire: the DSCP goes in the top six bits of the IPv4 TOS byte (RFC
    /// 2474, the header checksum covering it) or of the IPv6 Traffic Class, which straddles
    /// the version and flow-label nibbles (RFC 8200 §3); ECN's two bits stay 0. Parsing
    /// reads the byte back (MAY-9). Checked for every code point, both families.
    #[test]
    fn must_48_dscp_in_the_traffic_class_byte() {
        assert_eq!(Dscp::new(64), None);
        for v in 0..64u8 {
            let dscp = Dscp::new(v).expect("six bits");
            let ip = IpOut {
                hop_limit: 64,
                traffic_class: dscp.traffic_class(),
            };
            for (s, d) in [(A4, B4), (A6, B6)] {
                let mut buf = vec![0u8; 200];
                let n = emit_parts(s, d, ip, &header(), (b"abc", b""), &mut buf).expect("fits");
                let p = &buf[..n];
                let byte = if s.is_ipv4() {
                    assert_eq!(checksum::fold(checksum::sum(&p[..20])), 0xFFFF, "IPv4 sum");
                    p[1]
                } else {
                    assert_eq!(p[0] >> 4, 6, "version nibble intact");
                    assert_eq!((p[1] & 0x0F, p[2], p[3]), (0, 0, 0), "flow label 0");
                    (p[0] << 4) | (p[1] >> 4)
                };
                assert_eq!(byte, v << 2, "DSCP {v}, ECN 0");
                let parsed = parse(p).expect("parses");
                assert_eq!(Dscp::from_traffic_class(parsed.traffic_class), dscp);
                assert_eq!(parsed.payload, b"abc");
            }
        }
    }

    #[test]
    fn must_3_bad_tcp_checksum_is_dropped() {
        for (s, d, ip) in [(A4, B4, 20), (A6, B6, 40)] {
            let mut p = emit_vec(s, d, &header(), b"data");
            let last = p.len() - 1;
            p[last] ^= 0x40;
            assert_eq!(parse(&p), Err(ParseError::TcpChecksum));
            p[last] ^= 0x40;
            p[ip + 16] ^= 1;
            assert_eq!(parse(&p), Err(ParseError::TcpChecksum));
        }
    }

    #[test]
    fn ep_2_reserved_bits_ignored() {
        let mut p = emit_vec(A4, B4, &header(), &[]);
        p[20 + 12] |= 0x0F;
        fix_tcp_checksum(A4, B4, &mut p[20..]);
        assert_eq!(parse(&p).unwrap().tcp, header());
    }

    #[test]
    fn ep_2_cwr_and_ece_are_kept_as_flags() {
        let h = TcpHeader {
            flags: TcpFlags(0xFF),
            ..header()
        };
        let p = emit_vec(A6, B6, &h, &[]);
        assert_eq!(parse(&p).unwrap().tcp.flags, TcpFlags(0xFF));
    }

    #[test]
    fn ep_3_data_offset_4_is_dropped() {
        let mut p = emit_vec(A4, B4, &TcpHeader::default(), &[0; 8]);
        p[20 + 12] = 4 << 4;
        fix_tcp_checksum(A4, B4, &mut p[20..]);
        assert_eq!(parse(&p), Err(ParseError::TcpDataOffset));
        p[20 + 12] = 0;
        fix_tcp_checksum(A4, B4, &mut p[20..]);
        assert_eq!(parse(&p), Err(ParseError::TcpDataOffset));
    }

    #[test]
    fn ep_3_data_offset_past_segment_end_is_dropped() {
        // Offset 15 (60 bytes) on a 20 + 16 byte segment, and offset 15 on exactly 60 bytes.
        let mut p = emit_vec(A4, B4, &TcpHeader::default(), &[1; 16]);
        p[20 + 12] = 15 << 4;
        fix_tcp_checksum(A4, B4, &mut p[20..]);
        assert_eq!(parse(&p), Err(ParseError::TcpDataOffset));
        // Offset 6 on a bare 20-byte header also runs past.
        let mut q = emit_vec(A6, B6, &TcpHeader::default(), &[]);
        q[40 + 12] = 6 << 4;
        fix_tcp_checksum(A6, B6, &mut q[40..]);
        assert_eq!(parse(&q), Err(ParseError::TcpDataOffset));
        // ... while a 60-byte header that fits is fine (40 NOPs).
        let ok = raw_v4_with_options(&[1; 40], b"x");
        let pkt = parse(&ok).unwrap();
        assert_eq!(pkt.payload, b"x");
        assert_eq!(pkt.tcp.options, TcpOptions::default());
    }

    #[test]
    fn must_5_options_parsed_on_any_segment() {
        // MSS and WS on a plain ACK are returned; whether to use them is not the parser's call.
        let p = raw_v4_with_options(&[2, 4, 1, 0, 3, 3, 5], &[]);
        let o = parse(&p).unwrap().tcp.options;
        assert_eq!((o.mss, o.window_scale), (Some(256), Some(5)));
    }

    #[test]
    fn must_7_option_length_zero_is_dropped() {
        let p = raw_v4_with_options(&[1, 1, 99, 0], &[]);
        assert_eq!(parse(&p), Err(ParseError::TcpOptionLength));
    }

    #[test]
    fn must_7_option_length_one_is_dropped() {
        let p = raw_v4_with_options(&[99, 1, 1, 1], b"abc");
        assert_eq!(parse(&p), Err(ParseError::TcpOptionLength));
    }

    #[test]
    fn must_7_option_running_past_header_is_dropped() {
        // TS claims 10 bytes with only 8 left in the header, although payload follows: the
        // option must not reach into the data.
        let p = raw_v4_with_options(&[1, 1, 1, 1, 8, 10, 0, 0], &[0; 10]);
        assert_eq!(parse(&p), Err(ParseError::TcpOptionLength));
    }

    #[test]
    fn must_64_unaligned_options_in_a_packet() {
        let p = raw_v4_with_options(
            &[1, 3, 3, 14, 2, 4, 0x05, 0xb4, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0],
            &[],
        );
        let o = parse(&p).unwrap().tcp.options;
        assert_eq!(o.window_scale, Some(14));
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.timestamps, Some(Timestamps { tsval: 9, tsecr: 0 }));
    }

    #[test]
    fn must_6_unknown_option_skipped_in_a_packet() {
        let p = raw_v4_with_options(&[34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 4, 2], b"z");
        let pkt = parse(&p).unwrap();
        assert!(pkt.tcp.options.sack_permitted);
        assert_eq!(pkt.payload, b"z");
    }

    #[test]
    fn must_50_ipv4_options_skipped() {
        let p = emit_vec(A4, B4, &header(), b"data");
        // Insert 8 bytes of IP options (Record Route-like, then NOP, EOL) after the header.
        let mut q = p[..20].to_vec();
        q.extend_from_slice(&[7, 7, 4, 0, 0, 0, 0, 1]);
        q.extend_from_slice(&p[20..]);
        q[0] = 0x47;
        let total = q.len() as u16;
        q[2..4].copy_from_slice(&total.to_be_bytes());
        fix_ip_checksum(&mut q);
        let pkt = parse(&q).unwrap();
        assert_eq!(pkt.tcp, header());
        assert_eq!(pkt.payload, b"data");
        assert_eq!(pkt.src, A4);
    }

    /// The unrolled sum of an option-less IPv4 header is the general sum.
    #[test]
    fn v4_header_sum_matches_the_general_sum() {
        let mut h = [0u8; IPV4_HEADER_LEN];
        for seed in 0..200u32 {
            for (i, b) in h.iter_mut().enumerate() {
                *b = (seed.wrapping_mul(2_654_435_761) >> (i % 24)) as u8
                    ^ (i as u8).wrapping_mul(37);
            }
            if seed % 7 == 0 {
                h = [0xFF; IPV4_HEADER_LEN];
            }
            assert_eq!(
                checksum::fold(sum_v4_header(&h)),
                checksum::fold(checksum::sum(&h))
            );
        }
    }

    #[test]
    fn ipv4_bad_header_length() {
        let mut p = emit_vec(A4, B4, &header(), &[]);
        p[0] = 0x44;
        assert_eq!(parse(&p), Err(ParseError::IpHeaderLength));
        // IHL 15 (60 bytes) on a packet whose total length is 52.
        p[0] = 0x4F;
        assert_eq!(parse(&p), Err(ParseError::IpHeaderLength));
    }

    #[test]
    fn ipv4_total_length_and_trailing_padding() {
        let p = emit_vec(A4, B4, &header(), b"abc");
        // Ethernet-style padding after the packet is ignored.
        let mut padded = p.clone();
        padded.extend_from_slice(&[0xEE; 9]);
        let pkt = parse(&padded).unwrap();
        assert_eq!(pkt.payload, b"abc");
        // A total length beyond the bytes received is refused.
        let mut long = p.clone();
        let bad = (p.len() + 1) as u16;
        long[2..4].copy_from_slice(&bad.to_be_bytes());
        fix_ip_checksum(&mut long);
        assert_eq!(parse(&long), Err(ParseError::IpTotalLength));
        let mut short = p.clone();
        short[2..4].copy_from_slice(&19u16.to_be_bytes());
        fix_ip_checksum(&mut short);
        assert_eq!(parse(&short), Err(ParseError::IpTotalLength));
    }

    #[test]
    fn ipv4_bad_header_checksum() {
        let mut p = emit_vec(A4, B4, &header(), &[]);
        p[8] = 63; // TTL changed without fixing the checksum
        assert_eq!(parse(&p), Err(ParseError::IpChecksum));
    }

    #[test]
    fn ipv4_fragment_is_dropped() {
        let p = emit_vec(A4, B4, &header(), b"frag");
        for flags in [0x2000u16, 0x0001, 0x2001, 0x4000 | 0x0100] {
            let mut q = p.clone();
            q[6..8].copy_from_slice(&flags.to_be_bytes());
            fix_ip_checksum(&mut q);
            assert_eq!(parse(&q), Err(ParseError::Fragment), "flags {flags:#x}");
        }
        // DF alone and the reserved bit are not fragments.
        let mut q = p.clone();
        q[6..8].copy_from_slice(&0x8000u16.to_be_bytes());
        fix_ip_checksum(&mut q);
        assert!(parse(&q).is_ok());
    }

    #[test]
    fn ipv4_not_tcp() {
        let mut p = emit_vec(A4, B4, &header(), &[]);
        p[9] = 17;
        fix_ip_checksum(&mut p);
        assert_eq!(parse(&p), Err(ParseError::NotTcp));
    }

    #[test]
    fn ip_version_and_empty() {
        assert_eq!(parse(&[]), Err(ParseError::Truncated));
        assert_eq!(parse(&[0x55; 60]), Err(ParseError::IpVersion));
        assert_eq!(parse(&[0x45; 19]), Err(ParseError::Truncated));
        assert_eq!(parse(&[0x60; 39]), Err(ParseError::Truncated));
    }

    /// Insert one IPv6 extension header of `kind` with `len8` extra 8-octet units in front of
    /// the TCP segment of `p`.
    fn insert_ext(p: &[u8], kind: u8, len8: u8) -> Vec<u8> {
        let mut q = p[..40].to_vec();
        let next = q[6];
        q[6] = kind;
        let mut ext = vec![0u8; (usize::from(len8) + 1) * 8];
        ext[0] = next;
        ext[1] = len8;
        if ext.len() > 2 {
            // Pad options: one PadN covering the rest (type 1, length n).
            ext[2] = 1;
            ext[3] = (ext.len() - 4) as u8;
        }
        q.extend_from_slice(&ext);
        q.extend_from_slice(&p[40..]);
        let pl = (q.len() - 40) as u16;
        q[4..6].copy_from_slice(&pl.to_be_bytes());
        q
    }

    #[test]
    fn ipv6_with_hop_by_hop_extension_header() {
        let p = emit_vec(A6, B6, &header(), b"v6 data");
        let q = insert_ext(&p, 0, 0);
        assert_eq!(q.len(), p.len() + 8);
        let pkt = parse(&q).unwrap();
        assert_eq!(pkt.tcp, header());
        assert_eq!(pkt.payload, b"v6 data");
        assert_eq!(pkt.src, A6);
        assert_eq!(pkt.dst, B6);
    }

    #[test]
    fn ipv6_with_a_chain_of_extension_headers() {
        let p = emit_vec(A6, B6, &header(), b"chain");
        // Built inside out: hop-by-hop, then routing, then destination options, then TCP.
        let q = insert_ext(&insert_ext(&insert_ext(&p, 60, 2), 43, 1), 0, 0);
        assert_eq!(q.len(), p.len() + 8 + 16 + 24);
        let pkt = parse(&q).unwrap();
        assert_eq!(pkt.payload, b"chain");
    }

    #[test]
    fn ipv6_fragment_header_and_other_protocols() {
        let p = emit_vec(A6, B6, &header(), b"x");
        assert_eq!(parse(&insert_ext(&p, 44, 0)), Err(ParseError::Fragment));
        assert_eq!(
            parse(&insert_ext(&insert_ext(&p, 44, 0), 60, 0)),
            Err(ParseError::Fragment)
        );
        let mut q = p.clone();
        q[6] = 17;
        assert_eq!(parse(&q), Err(ParseError::NotTcp));
        q[6] = 59; // no next header
        assert_eq!(parse(&q), Err(ParseError::NotTcp));
    }

    #[test]
    fn ipv6_extension_header_running_past_the_payload() {
        let p = emit_vec(A6, B6, &header(), &[]);
        let mut q = insert_ext(&p, 0, 0);
        q[41] = 200; // claims 1608 bytes
        assert_eq!(parse(&q), Err(ParseError::Truncated));
    }

    #[test]
    fn ipv6_payload_length_checked_and_padding_ignored() {
        let p = emit_vec(A6, B6, &header(), b"abc");
        let mut long = p.clone();
        let bad = (p.len() - 40 + 1) as u16;
        long[4..6].copy_from_slice(&bad.to_be_bytes());
        assert_eq!(parse(&long), Err(ParseError::IpTotalLength));
        let mut padded = p.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(parse(&padded).unwrap().payload, b"abc");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut o = header().options;
        o.push_sack(SackBlock {
            left: SeqNum(5),
            right: SeqNum(9),
        });
        let h = TcpHeader {
            options: o,
            ..header()
        };
        for (s, d) in [(A4, B4), (A6, B6)] {
            let p = emit_vec(s, d, &h, b"some payload bytes");
            assert!(parse(&p).is_ok());
            for n in 0..p.len() {
                assert!(parse(&p[..n]).is_err(), "prefix {n} of {}", p.len());
            }
        }
        // Also with an IPv6 extension header in front.
        let q = insert_ext(&emit_vec(A6, B6, &h, b"xyz"), 0, 1);
        for n in 0..q.len() {
            assert!(parse(&q[..n]).is_err());
        }
    }

    #[test]
    fn every_flipped_bit_is_caught_or_changes_the_packet() {
        let mut o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some(Timestamps {
                tsval: 77,
                tsecr: 88,
            }),
            ..TcpOptions::default()
        };
        o.push_sack(SackBlock {
            left: SeqNum(1),
            right: SeqNum(2),
        });
        let h = TcpHeader {
            options: o,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            ..header()
        };
        for (s, d) in [(A4, B4), (A6, B6)] {
            let p = emit_vec(s, d, &h, b"flip me");
            let orig = parse(&p).unwrap();
            let mut q = p.clone();
            for byte in 0..p.len() {
                for bit in 0..8 {
                    q[byte] ^= 1 << bit;
                    match parse(&q) {
                        Err(_) => {}
                        Ok(pkt) => {
                            // Only IPv6's traffic class and flow label are not covered by a
                            // checksum and not reported; everything else must show.
                            let ignored = s.is_ipv6() && byte < 4 && !(byte == 0 && bit >= 4);
                            assert!(
                                pkt != orig || ignored,
                                "flip of byte {byte} bit {bit} went unnoticed"
                            );
                            // IPv4 is covered end to end by its two checksums.
                            assert!(s.is_ipv6(), "IPv4 flip of byte {byte} bit {bit} accepted");
                        }
                    }
                    q[byte] ^= 1 << bit;
                }
            }
        }
    }

    // ---- property tests ----

    fn arb_options() -> impl Strategy<Value = TcpOptions> {
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            proptest::option::of((any::<u32>(), any::<u32>())),
            proptest::collection::vec((any::<u32>(), any::<u32>()), 0..=MAX_SACK_BLOCKS),
        )
            .prop_map(|(mss, window_scale, sack_permitted, ts, sacks)| {
                let mut o = TcpOptions {
                    mss,
                    window_scale,
                    sack_permitted,
                    timestamps: ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
                    ..TcpOptions::default()
                };
                for (l, r) in sacks {
                    o.push_sack(SackBlock {
                        left: SeqNum(l),
                        right: SeqNum(r),
                    });
                }
                o
            })
    }

    fn arb_header() -> impl Strategy<Value = TcpHeader> {
        (
            any::<(u16, u16, u32, u32)>(),
            any::<(u8, u16, u16)>(),
            arb_options(),
        )
            .prop_map(
                |((sp, dp, seq, ack), (flags, window, urgent), options)| TcpHeader {
                    src_port: sp,
                    dst_port: dp,
                    seq: SeqNum(seq),
                    ack: SeqNum(ack),
                    flags: TcpFlags(flags),
                    window,
                    urgent,
                    options,
                },
            )
    }

    fn arb_addrs() -> impl Strategy<Value = (IpAddr, IpAddr)> {
        prop_oneof![
            any::<([u8; 4], [u8; 4])>().prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
            any::<([u8; 16], [u8; 16])>().prop_map(|(a, b)| (IpAddr::from(a), IpAddr::from(b))),
        ]
    }

    /// What the options read back as: SACK blocks beyond what fits in 40 bytes are dropped.
    /// Written independently of `options_len` (LX-19 sizes).
    fn expected_after_round_trip(o: &TcpOptions) -> TcpOptions {
        let fixed = 4 * o.mss.is_some() as usize
            + if o.timestamps.is_some() {
                12
            } else {
                4 * o.sack_permitted as usize
            }
            + 4 * o.window_scale.is_some() as usize;
        let fit = (40 - fixed - 4) / 8;
        let mut e = *o;
        e.sack_count = e.sack_count.min(fit as u8);
        for b in &mut e.sack_blocks[e.sack_count as usize..] {
            *b = SackBlock::default();
        }
        e
    }

    // About 10,000 cases in all across this module; they run in well under a second at the
    // test profile's opt-level.
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn must_2_emit_parse_round_trip(
            (src, dst) in arb_addrs(),
            hop in any::<u8>(),
            h in arb_header(),
            payload in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut buf = [0u8; 400];
            let n = emit(src, dst, hop, &h, &payload, &mut buf).unwrap();
            prop_assert_eq!(n, headers_len(dst, &h.options) + payload.len());
            prop_assert_eq!(options_len(&h.options) % 4, 0);
            prop_assert!(options_len(&h.options) <= MAX_OPTIONS_LEN);
            let pkt = parse(&buf[..n]).unwrap();
            prop_assert_eq!(pkt.src, src);
            prop_assert_eq!(pkt.dst, dst);
            prop_assert_eq!(pkt.hop_limit, hop);
            let expected = TcpHeader { options: expected_after_round_trip(&h.options), ..h };
            prop_assert_eq!(pkt.tcp, expected);
            prop_assert_eq!(pkt.payload, &payload[..]);
            // Too small a buffer by one byte is refused, not overrun.
            prop_assert_eq!(emit(src, dst, hop, &h, &payload, &mut buf[..n - 1]), None);
        }

        /// Deferring the payload's checksum changes no verdict: every single-bit flip of a
        /// data segment gets the same answer from `parse` and from `parse_deferred` plus
        /// `verify_pending`.
        #[test]
        fn must_3_deferral_gives_the_same_verdicts(
            (src, dst) in arb_addrs(),
            h in arb_header(),
            plain in any::<bool>(),
            payload in proptest::collection::vec(any::<u8>(), 250..700),
            flip in any::<(usize, u8)>(),
        ) {
            let h = if plain { TcpHeader { flags: TcpFlags::ACK, ..h } } else { h };
            let mut buf = [0u8; 1200];
            let n = emit(src, dst, 64, &h, &payload, &mut buf).unwrap();
            let p = &mut buf[..n];
            prop_assert_eq!(parse(p), parse_then_verify(p));
            p[flip.0 % n] ^= 1 << (flip.1 % 8);
            prop_assert_eq!(parse(p), parse_then_verify(p));
        }

        #[test]
        fn must_7_arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..120),
            version in prop_oneof![Just(0x45u8), Just(0x60), Just(0x4F), any::<u8>()],
        ) {
            let mut b = bytes;
            if let Some(first) = b.first_mut() {
                *first = version;
            }
            let _ = parse(&b);
        }

        #[test]
        fn must_7_arbitrary_options_never_panic(
            opts in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5), Just(8),
                            0u8..12, any::<u8>()],
                0..=40),
            payload in proptest::collection::vec(any::<u8>(), 0..8),
        ) {
            // Checksums are fixed up so the option parser is really reached.
            let p = raw_v4_with_options(&opts, &payload);
            match parse(&p) {
                Ok(pkt) => {
                    prop_assert_eq!(pkt.payload, &payload[..]);
                    prop_assert!(pkt.tcp.options.sack_count as usize <= MAX_SACK_BLOCKS);
                }
                Err(e) => prop_assert_eq!(e, ParseError::TcpOptionLength),
            }
        }

        #[test]
        fn random_corruption_of_valid_packets_never_panics(
            (src, dst) in arb_addrs(),
            h in arb_header(),
            payload in proptest::collection::vec(any::<u8>(), 0..40),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
        ) {
            let mut buf = [0u8; 200];
            let n = emit(src, dst, 64, &h, &payload, &mut buf).unwrap();
            let p = &mut buf[..n];
            for (at, v) in edits {
                p[at % n] = v;
            }
            let _ = parse(p);
            let _ = parse(&p[..cut % (n + 1)]);
        }
    }
}
