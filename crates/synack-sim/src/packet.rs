//! The simulator's own small IPv4/IPv6 + TCP codec: builds raw packets for injection and
//! hand-made tests, and summarises any packet for the record and the ladder.
//!
//! It is deliberately independent of `synack::wire`: the simulator must not trust the code
//! under test for its own view of the wire, and a second implementation cross-checks the
//! first (every packet a stack sends is checked here, see [`Summary::checksum_ok`]).

use std::net::{IpAddr, SocketAddr};
use synack::wire::TcpFlags;

/// The TCP options of a packet, as far as a ladder diagram cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionSummary {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks `[left, right)`.
    pub sack: Vec<(u32, u32)>,
    /// The option bytes did not parse cleanly (bad length).
    pub malformed: bool,
}

impl OptionSummary {
    /// `mss=1460,sackOK,TS,ws=7` (empty when no options).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = self.mss {
            parts.push(format!("mss={m}"));
        }
        if self.sack_permitted {
            parts.push("sackOK".to_string());
        }
        if self.timestamps.is_some() {
            parts.push("TS".to_string());
        }
        if let Some(w) = self.window_scale {
            parts.push(format!("ws={w}"));
        }
        for (l, r) in &self.sack {
            parts.push(format!("sack={l}-{r}"));
        }
        if self.malformed {
            parts.push("bad-options".to_string());
        }
        parts.join(",")
    }
}

/// One IP packet carrying TCP, summarised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The raw 16-bit window field (unscaled).
    pub window: u16,
    pub urgent: u16,
    pub options: OptionSummary,
    /// Offset of the TCP payload inside the packet bytes.
    pub payload_offset: usize,
    pub payload_len: usize,
    /// IPv4 TTL or IPv6 hop limit.
    pub hop_limit: u8,
    /// Both the IPv4 header checksum (if any) and the TCP checksum verify.
    pub checksum_ok: bool,
}

impl Summary {
    /// SEG.LEN: payload plus one each for SYN and FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload_len as u32 + self.flags.syn() as u32 + self.flags.fin() as u32
    }
    /// SYN without ACK.
    pub fn is_syn(&self) -> bool {
        self.flags.syn() && !self.flags.ack() && !self.flags.rst()
    }
    /// SYN with ACK.
    pub fn is_syn_ack(&self) -> bool {
        self.flags.syn() && self.flags.ack() && !self.flags.rst()
    }
    /// ACK only: no SYN, FIN, RST and no payload.
    pub fn is_pure_ack(&self) -> bool {
        self.flags.ack()
            && !self
                .flags
                .intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
            && self.payload_len == 0
    }
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u32) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// RFC 1071 checksum of `data` (the ones' complement of the ones' complement sum).
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold(sum16(data, 0))
}

fn pseudo_header_sum(src: IpAddr, dst: IpAddr, tcp_len: usize) -> u32 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum16(&s.octets(), acc);
            acc = sum16(&d.octets(), acc);
            acc += 6;
            acc += tcp_len as u32;
        }
        _ => {
            acc = sum16(&ip_octets(src), acc);
            acc = sum16(&ip_octets(dst), acc);
            acc += (tcp_len as u32) >> 16;
            acc += (tcp_len as u32) & 0xffff;
            acc += 6;
        }
    }
    acc
}

fn ip_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// TCP checksum over pseudo-header + segment (with the checksum field as stored).
fn tcp_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> u16 {
    !fold(sum16(segment, pseudo_header_sum(src, dst, segment.len())))
}

/// The destination address of an IP packet, read without any other checking (for routing).
pub fn destination(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.first()? >> 4 {
        4 if bytes.len() >= 20 => Some(IpAddr::from(<[u8; 4]>::try_from(&bytes[16..20]).ok()?)),
        6 if bytes.len() >= 40 => Some(IpAddr::from(<[u8; 16]>::try_from(&bytes[24..40]).ok()?)),
        _ => None,
    }
}

/// The source address of an IP packet, read without any other checking.
pub fn source(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.first()? >> 4 {
        4 if bytes.len() >= 20 => Some(IpAddr::from(<[u8; 4]>::try_from(&bytes[12..16]).ok()?)),
        6 if bytes.len() >= 40 => Some(IpAddr::from(<[u8; 16]>::try_from(&bytes[8..24]).ok()?)),
        _ => None,
    }
}

/// The ECN field (RFC 3168 §5) of an IP packet: the low two bits of the IPv4 TOS or IPv6
/// Traffic Class byte; 0 (Not-ECT) for anything too short to have one.
pub fn ecn_field(p: &[u8]) -> u8 {
    match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 => p[1] & 0b11,
        Some(6) if p.len() >= 40 => (p[1] >> 4) & 0b11,
        _ => 0,
    }
}

/// Mark a packet Congestion Experienced, as a router's queue would: ECN field 0b11, and
/// the IPv4 header checksum updated with this codec's own sum (the TCP checksum does not
/// cover the field; IPv6 has no header checksum).
pub fn mark_ce(p: &mut [u8]) {
    match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 => {
            p[1] |= 0b11;
            let ihl = usize::from(p[0] & 0x0F) * 4;
            p[10] = 0;
            p[11] = 0;
            let sum = internet_checksum(&p[..ihl.min(p.len())]);
            p[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        Some(6) if p.len() >= 40 => p[1] |= 0b11 << 4,
        _ => {}
    }
}

/// The byte range a random bit flip may hit so that some checksum must catch it: the whole
/// IPv4 packet (its header has a checksum); for IPv6 the addresses and the TCP segment
/// (the pseudo-header covers the addresses; version, traffic class, flow label and hop limit
/// are covered by nothing).
pub fn corruptible_range(bytes: &[u8]) -> std::ops::Range<usize> {
    match bytes.first().map(|b| b >> 4) {
        Some(6) if bytes.len() > 8 => 8..bytes.len(),
        _ => 0..bytes.len(),
    }
}

/// Summarise an IP packet carrying TCP; `None` if it is not one we can read.
pub fn summarize(bytes: &[u8]) -> Option<Summary> {
    let version = bytes.first()? >> 4;
    let (src, dst, hop_limit, tcp_start, tcp_end, mut checksum_ok) = match version {
        4 => {
            if bytes.len() < 20 {
                return None;
            }
            let ihl = (bytes[0] & 0x0f) as usize * 4;
            let total = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
            if ihl < 20 || total < ihl || total > bytes.len() || bytes[9] != 6 {
                return None;
            }
            let src = IpAddr::from(<[u8; 4]>::try_from(&bytes[12..16]).ok()?);
            let dst = IpAddr::from(<[u8; 4]>::try_from(&bytes[16..20]).ok()?);
            let ok = internet_checksum(&bytes[..ihl]) == 0;
            (src, dst, bytes[8], ihl, total, ok)
        }
        6 => {
            if bytes.len() < 40 || bytes[6] != 6 {
                return None;
            }
            let plen = u16::from_be_bytes([bytes[4], bytes[5]]) as usize;
            if 40 + plen > bytes.len() {
                return None;
            }
            let src = IpAddr::from(<[u8; 16]>::try_from(&bytes[8..24]).ok()?);
            let dst = IpAddr::from(<[u8; 16]>::try_from(&bytes[24..40]).ok()?);
            (src, dst, bytes[7], 40, 40 + plen, true)
        }
        _ => return None,
    };
    let seg = &bytes[tcp_start..tcp_end];
    if seg.len() < 20 {
        return None;
    }
    let data_offset = (seg[12] >> 4) as usize * 4;
    if data_offset < 20 || data_offset > seg.len() {
        return None;
    }
    checksum_ok &= tcp_checksum(src, dst, seg) == 0;
    let options = parse_options(&seg[20..data_offset]);
    Some(Summary {
        src: SocketAddr::new(src, u16::from_be_bytes([seg[0], seg[1]])),
        dst: SocketAddr::new(dst, u16::from_be_bytes([seg[2], seg[3]])),
        seq: u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]),
        ack: u32::from_be_bytes([seg[8], seg[9], seg[10], seg[11]]),
        flags: TcpFlags(seg[13]),
        window: u16::from_be_bytes([seg[14], seg[15]]),
        urgent: u16::from_be_bytes([seg[18], seg[19]]),
        options,
        payload_offset: tcp_start + data_offset,
        payload_len: seg.len() - data_offset,
        hop_limit,
        checksum_ok,
    })
}

fn parse_options(mut o: &[u8]) -> OptionSummary {
    let mut s = OptionSummary::default();
    while let Some(&kind) = o.first() {
        match kind {
            0 => break,
            1 => {
                o = &o[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = o.get(1) else {
            s.malformed = true;
            break;
        };
        let len = len as usize;
        if len < 2 || len > o.len() {
            s.malformed = true;
            break;
        }
        let body = &o[2..len];
        match (kind, body.len()) {
            (2, 2) => s.mss = Some(u16::from_be_bytes([body[0], body[1]])),
            (3, 1) => s.window_scale = Some(body[0]),
            (4, 0) => s.sack_permitted = true,
            (5, n) if n % 8 == 0 => {
                for b in body.chunks_exact(8) {
                    s.sack.push((
                        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                        u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                    ));
                }
            }
            (8, 8) => {
                s.timestamps = Some((
                    u32::from_be_bytes([body[0], body[1], body[2], body[3]]),
                    u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
                ))
            }
            _ => {}
        }
        o = &o[len..];
    }
    s
}

/// Builder of raw IP + TCP packets with correct checksums: stale SYNs from nowhere, spoofed
/// RSTs, hand-made test input.
///
/// ```
/// use synack::wire::TcpFlags;
/// use synack_sim::packet::RawPacket;
/// let syn = RawPacket::new("198.18.0.9:5555".parse().unwrap(), "198.18.0.2:80".parse().unwrap())
///     .flags(TcpFlags::SYN)
///     .seq(1000)
///     .mss(1460)
///     .build();
/// let s = synack_sim::packet::summarize(&syn).unwrap();
/// assert!(s.is_syn() && s.checksum_ok && s.seq == 1000);
/// ```
#[derive(Clone, Debug)]
pub struct RawPacket {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub hop_limit: u8,
    pub options: OptionSummary,
    pub payload: Vec<u8>,
}

impl RawPacket {
    /// A bare segment from `src` to `dst` (no flags, window 65535, hop limit 64).
    pub fn new(src: SocketAddr, dst: SocketAddr) -> RawPacket {
        RawPacket {
            src,
            dst,
            seq: 0,
            ack: 0,
            flags: TcpFlags::NONE,
            window: 65535,
            urgent: 0,
            hop_limit: 64,
            options: OptionSummary::default(),
            payload: Vec::new(),
        }
    }
    pub fn flags(mut self, f: TcpFlags) -> Self {
        self.flags = f;
        self
    }
    pub fn seq(mut self, s: u32) -> Self {
        self.seq = s;
        self
    }
    pub fn ack(mut self, a: u32) -> Self {
        self.ack = a;
        self
    }
    pub fn window(mut self, w: u16) -> Self {
        self.window = w;
        self
    }
    pub fn mss(mut self, m: u16) -> Self {
        self.options.mss = Some(m);
        self
    }
    pub fn window_scale(mut self, ws: u8) -> Self {
        self.options.window_scale = Some(ws);
        self
    }
    pub fn sack_permitted(mut self) -> Self {
        self.options.sack_permitted = true;
        self
    }
    pub fn timestamps(mut self, tsval: u32, tsecr: u32) -> Self {
        self.options.timestamps = Some((tsval, tsecr));
        self
    }
    pub fn payload(mut self, p: &[u8]) -> Self {
        self.payload = p.to_vec();
        self
    }
    pub fn hop_limit(mut self, h: u8) -> Self {
        self.hop_limit = h;
        self
    }

    fn option_bytes(&self) -> Vec<u8> {
        let o = &self.options;
        let mut b = Vec::new();
        if let Some(m) = o.mss {
            b.extend_from_slice(&[2, 4]);
            b.extend_from_slice(&m.to_be_bytes());
        }
        if o.sack_permitted && o.timestamps.is_some() {
            b.extend_from_slice(&[4, 2]);
        } else if o.sack_permitted {
            b.extend_from_slice(&[1, 1, 4, 2]);
        }
        if let Some((v, e)) = o.timestamps {
            if !o.sack_permitted {
                b.extend_from_slice(&[1, 1]);
            }
            b.extend_from_slice(&[8, 10]);
            b.extend_from_slice(&v.to_be_bytes());
            b.extend_from_slice(&e.to_be_bytes());
        }
        if let Some(ws) = o.window_scale {
            b.extend_from_slice(&[1, 3, 3, ws]);
        }
        if !o.sack.is_empty() {
            b.extend_from_slice(&[1, 1, 5, 2 + 8 * o.sack.len().min(4) as u8]);
            for (l, r) in o.sack.iter().take(4) {
                b.extend_from_slice(&l.to_be_bytes());
                b.extend_from_slice(&r.to_be_bytes());
            }
        }
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b.truncate(40);
        b
    }

    /// The header as `synack::wire` describes it.
    pub fn to_wire_header(&self) -> synack::wire::TcpHeader {
        use synack::wire::{SackBlock, TcpHeader, TcpOptions, Timestamps};
        let o = &self.options;
        let mut options = TcpOptions {
            mss: o.mss,
            window_scale: o.window_scale,
            sack_permitted: o.sack_permitted,
            timestamps: o
                .timestamps
                .map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            ..TcpOptions::default()
        };
        for (l, r) in &o.sack {
            options.push_sack(SackBlock {
                left: synack::SeqNum(*l),
                right: synack::SeqNum(*r),
            });
        }
        TcpHeader {
            src_port: self.src.port(),
            dst_port: self.dst.port(),
            seq: synack::SeqNum(self.seq),
            ack: synack::SeqNum(self.ack),
            flags: self.flags,
            window: self.window,
            urgent: self.urgent,
            options,
        }
    }

    /// The same packet written by the core's encoder, `synack::wire::emit` (its option layout
    /// is Linux's, LX-19). `None` if the encoder refuses it.
    pub fn emit_with_core(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 60 + 60 + self.payload.len()];
        let n = synack::wire::emit(
            self.src.ip(),
            self.dst.ip(),
            self.hop_limit,
            &self.to_wire_header(),
            &self.payload,
            &mut buf,
        )?;
        buf.truncate(n);
        Some(buf)
    }

    /// The IP packet bytes, written by the simulator's own encoder. Panics if source and
    /// destination families differ.
    pub fn build(&self) -> Vec<u8> {
        let opts = self.option_bytes();
        let tcp_len = 20 + opts.len() + self.payload.len();
        let mut seg = Vec::with_capacity(tcp_len);
        seg.extend_from_slice(&self.src.port().to_be_bytes());
        seg.extend_from_slice(&self.dst.port().to_be_bytes());
        seg.extend_from_slice(&self.seq.to_be_bytes());
        seg.extend_from_slice(&self.ack.to_be_bytes());
        seg.push((((20 + opts.len()) / 4) as u8) << 4);
        seg.push(self.flags.0);
        seg.extend_from_slice(&self.window.to_be_bytes());
        seg.extend_from_slice(&[0, 0]);
        seg.extend_from_slice(&self.urgent.to_be_bytes());
        seg.extend_from_slice(&opts);
        seg.extend_from_slice(&self.payload);
        let ck = tcp_checksum(self.src.ip(), self.dst.ip(), &seg);
        seg[16..18].copy_from_slice(&ck.to_be_bytes());

        let mut out = Vec::with_capacity(40 + tcp_len);
        match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = (20 + tcp_len) as u16;
                out.extend_from_slice(&[0x45, 0]);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&[0, 0, 0x40, 0, self.hop_limit, 6, 0, 0]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
                let ck = internet_checksum(&out);
                out[10..12].copy_from_slice(&ck.to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                out.extend_from_slice(&[0x60, 0, 0, 0]);
                out.extend_from_slice(&(tcp_len as u16).to_be_bytes());
                out.extend_from_slice(&[6, self.hop_limit]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
            }
            _ => panic!("RawPacket: source and destination are of different IP families"),
        }
        out.extend_from_slice(&seg);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_round_trip_with_options() {
        let p = RawPacket::new(sa("198.18.0.1:40000"), sa("198.18.0.2:80"))
            .flags(TcpFlags::SYN)
            .seq(0xdead_beef)
            .window(64240)
            .mss(1460)
            .sack_permitted()
            .timestamps(7, 0)
            .window_scale(7)
            .build();
        // 20 IP + 20 TCP + 20 options (the Linux SYN layout).
        assert_eq!(p.len(), 60);
        let s = summarize(&p).unwrap();
        assert!(s.checksum_ok);
        assert!(s.is_syn() && !s.is_syn_ack() && !s.is_pure_ack());
        assert_eq!(s.seq, 0xdead_beef);
        assert_eq!(s.window, 64240);
        assert_eq!(s.options.mss, Some(1460));
        assert_eq!(s.options.window_scale, Some(7));
        assert!(s.options.sack_permitted);
        assert_eq!(s.options.timestamps, Some((7, 0)));
        assert_eq!(s.options.describe(), "mss=1460,sackOK,TS,ws=7");
        assert_eq!(s.seg_len(), 1);
        assert_eq!(destination(&p), Some("198.18.0.2".parse().unwrap()));
        assert_eq!(source(&p), Some("198.18.0.1".parse().unwrap()));
    }

    #[test]
    fn ipv6_round_trip_with_payload() {
        let p = RawPacket::new(sa("[2001:db8::1]:1234"), sa("[2001:db8::2]:80"))
            .flags(TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN)
            .seq(1)
            .ack(2)
            .payload(b"hello")
            .build();
        let s = summarize(&p).unwrap();
        assert!(s.checksum_ok);
        assert_eq!(s.payload_len, 5);
        assert_eq!(&p[s.payload_offset..], b"hello");
        assert_eq!(s.seg_len(), 6);
        assert_eq!(s.dst, sa("[2001:db8::2]:80"));
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        for p in [
            RawPacket::new(sa("198.18.1.1:1"), sa("198.18.1.2:2"))
                .flags(TcpFlags::ACK)
                .payload(b"abc")
                .build(),
            RawPacket::new(sa("[::1]:1"), sa("[::2]:2"))
                .flags(TcpFlags::ACK)
                .payload(b"abc")
                .build(),
        ] {
            for byte in corruptible_range(&p) {
                for bit in 0..8 {
                    let mut q = p.clone();
                    q[byte] ^= 1 << bit;
                    if let Some(s) = summarize(&q) {
                        assert!(
                            !s.checksum_ok,
                            "flip of byte {byte} bit {bit} went unnoticed"
                        );
                    }
                }
            }
        }
    }

    /// The simulator's codec and `synack::wire` agree: each parses what the other writes to
    /// the same fields.
    #[test]
    fn agrees_with_the_core_codec() {
        let cases = [
            RawPacket::new(sa("198.18.0.1:40000"), sa("198.18.0.2:80"))
                .flags(TcpFlags::SYN)
                .seq(7)
                .window(64240)
                .mss(1460)
                .sack_permitted()
                .timestamps(100, 0)
                .window_scale(7),
            RawPacket::new(sa("198.18.0.2:80"), sa("198.18.0.1:40000"))
                .flags(TcpFlags::SYN | TcpFlags::ACK)
                .seq(9)
                .ack(8)
                .mss(1440)
                .window_scale(2),
            RawPacket::new(sa("[2001:db8::1]:1"), sa("[2001:db8::2]:2"))
                .flags(TcpFlags::ACK | TcpFlags::PSH)
                .seq(u32::MAX)
                .ack(3)
                .timestamps(1, 2)
                .payload(b"payload bytes"),
            RawPacket::new(sa("198.18.1.1:1"), sa("198.18.1.2:2"))
                .flags(TcpFlags::RST)
                .seq(5),
        ];
        for p in cases {
            let ours = p.build();
            let core = p.emit_with_core().expect("core encoder");
            for bytes in [&ours, &core] {
                let s = summarize(bytes).unwrap();
                let c = synack::wire::parse(bytes).expect("core parser");
                assert!(s.checksum_ok);
                assert_eq!((s.src, s.dst), (p.src, p.dst));
                assert_eq!(
                    (c.tcp.seq.0, c.tcp.ack.0, c.tcp.flags),
                    (p.seq, p.ack, p.flags)
                );
                assert_eq!(
                    (s.seq, s.ack, s.flags, s.window),
                    (p.seq, p.ack, p.flags, p.window)
                );
                assert_eq!(c.payload, &p.payload[..]);
                assert_eq!(&bytes[s.payload_offset..], &p.payload[..]);
                assert_eq!(c.tcp.options.mss, p.options.mss);
                assert_eq!(s.options.mss, p.options.mss);
                assert_eq!(c.tcp.options.window_scale, p.options.window_scale);
                assert_eq!(c.tcp.options.sack_permitted, p.options.sack_permitted);
                assert_eq!(
                    c.tcp.options.timestamps.map(|t| (t.tsval, t.tsecr)),
                    p.options.timestamps
                );
                assert_eq!(s.options.timestamps, p.options.timestamps);
            }
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        for len in 0..80 {
            let v: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = summarize(&v);
            let _ = destination(&v);
            let mut w = v.clone();
            if !w.is_empty() {
                w[0] = 0x45;
            }
            let _ = summarize(&w);
        }
    }
}
