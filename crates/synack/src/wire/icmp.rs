//! ICMP and ICMPv6 error messages about our TCP segments (RFC 9293 §3.9.2.2, RFC 1122
//! §4.2.3.9, RFC 5927, RFC 1191, RFC 8201).
//!
//! An error message quotes the start of the packet that provoked it: the IP header and at
//! least 8 bytes of TCP, enough for the ports and the sequence number. [`parse`] checks the
//! message (length, checksum), classifies it, and names the connection it is about; the
//! stack then checks the quoted sequence number against what is in flight (MUST-54) before
//! acting. It never panics and never allocates.
use super::checksum;
use super::ip::{ip_layer, IpPayload};
use crate::seq::SeqNum;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_ICMPV6: u8 = 58;
const ICMP_HEADER_LEN: usize = 8;
/// Bytes of the quoted TCP header we need: ports and sequence number (RFC 792, RFC 4443).
const QUOTED_TCP_LEN: usize = 8;

/// What went wrong, as far as TCP cares. [`IcmpError::is_hard`] says which errors may end a
/// connection that is still being set up (SHLD-26); all others are soft (MUST-56).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpError {
    /// IPv4 Destination Unreachable code 0; ICMPv6 code 0 (no route). Soft.
    NetUnreachable,
    /// IPv4 code 1; ICMPv6 code 3 (address unreachable). Soft.
    HostUnreachable,
    /// IPv4 code 2. Hard.
    ProtocolUnreachable,
    /// IPv4 code 3; ICMPv6 code 4. Hard: nothing listens there.
    PortUnreachable,
    /// Communication administratively prohibited: IPv4 codes 9, 10 and 13; ICMPv6 codes 1,
    /// 5 (source address failed policy) and 6 (reject route). Hard.
    Prohibited,
    /// IPv4 code 5 (source route failed). Soft.
    SourceRouteFailed,
    /// Other Destination Unreachable codes (unknown network or host, isolated host, type of
    /// service, precedence; ICMPv6 beyond scope). Soft.
    OtherUnreachable,
    /// Time Exceeded (TTL or reassembly). Soft.
    TimeExceeded,
    /// Parameter Problem. Soft.
    ParameterProblem,
}

impl IcmpError {
    /// Hard errors: RFC 1122 §4.2.3.9 names protocol and port unreachable (code 4 goes to
    /// path MTU discovery instead); "administratively prohibited" is as final (RFC 1812
    /// §5.2.7.1 asks routers to send it for filtered traffic).
    pub fn is_hard(self) -> bool {
        matches!(
            self,
            IcmpError::ProtocolUnreachable | IcmpError::PortUnreachable | IcmpError::Prohibited
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IcmpError::NetUnreachable => "network unreachable",
            IcmpError::HostUnreachable => "host unreachable",
            IcmpError::ProtocolUnreachable => "protocol unreachable",
            IcmpError::PortUnreachable => "port unreachable",
            IcmpError::Prohibited => "administratively prohibited",
            IcmpError::SourceRouteFailed => "source route failed",
            IcmpError::OtherUnreachable => "destination unreachable",
            IcmpError::TimeExceeded => "time exceeded",
            IcmpError::ParameterProblem => "parameter problem",
        }
    }
}

/// The kind of an ICMP message about one of our segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpKind {
    /// IPv4 Source Quench: discarded (MUST-55, RFC 6633).
    SourceQuench,
    /// IPv4 "fragmentation needed and DF set" (RFC 1191) or ICMPv6 Packet Too Big
    /// (RFC 8201): the path carries packets of at most `mtu` bytes.
    PacketTooBig { mtu: u32 },
    /// An error to report or act on.
    Error(IcmpError),
}

/// An ICMP error message about a TCP segment one of our addresses sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpMessage {
    /// Who sent the ICMP message (a router, or the peer).
    pub from: IpAddr,
    /// Where it was sent (should be one of our addresses).
    pub to: IpAddr,
    pub kind: IcmpKind,
    /// The quoted segment's source: our end of the connection.
    pub local: SocketAddr,
    /// The quoted segment's destination: the peer's end.
    pub remote: SocketAddr,
    /// The quoted segment's sequence number (RFC 5927 §4.1).
    pub seq: SeqNum,
}

/// Why an ICMP message was dropped unread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpDrop {
    /// Shorter than its header plus the quoted IP header and 8 bytes of TCP.
    Truncated,
    /// The ICMP checksum is wrong.
    Checksum,
}

/// Parse an IP packet as an ICMP or ICMPv6 error about a TCP segment.
///
/// `Ok(None)`: not ICMP, or an ICMP message that is not an error about TCP (echo,
/// neighbour discovery, an error about UDP...). `Err`: a damaged message.
pub fn parse(bytes: &[u8]) -> Result<Option<IcmpMessage>, IcmpDrop> {
    let Ok(ip) = ip_layer(bytes) else {
        return Ok(None);
    };
    match (ip.src, ip.proto) {
        (IpAddr::V4(_), PROTO_ICMP) => parse_v4(&ip),
        (IpAddr::V6(_), PROTO_ICMPV6) => parse_v6(&ip),
        _ => Ok(None),
    }
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// ICMP for IPv4 (RFC 792, RFC 1191, RFC 1812 §5.2.7.1).
fn parse_v4(ip: &IpPayload<'_>) -> Result<Option<IcmpMessage>, IcmpDrop> {
    let msg = ip.payload;
    if msg.len() < ICMP_HEADER_LEN {
        return Err(IcmpDrop::Truncated);
    }
    let (typ, code) = (msg[0], msg[1]);
    let kind = match typ {
        3 => match code {
            0 => IcmpKind::Error(IcmpError::NetUnreachable),
            1 => IcmpKind::Error(IcmpError::HostUnreachable),
            2 => IcmpKind::Error(IcmpError::ProtocolUnreachable),
            3 => IcmpKind::Error(IcmpError::PortUnreachable),
            // The next-hop MTU is in the low half of the second word (RFC 1191 §4); 0
            // from an old router is resolved below from the quoted length.
            4 => IcmpKind::PacketTooBig {
                mtu: u32::from(be16(msg, 6)),
            },
            5 => IcmpKind::Error(IcmpError::SourceRouteFailed),
            9 | 10 | 13 => IcmpKind::Error(IcmpError::Prohibited),
            _ => IcmpKind::Error(IcmpError::OtherUnreachable),
        },
        4 => IcmpKind::SourceQuench,
        11 => IcmpKind::Error(IcmpError::TimeExceeded),
        12 => IcmpKind::Error(IcmpError::ParameterProblem),
        _ => return Ok(None), // queries and replies: not ours to read
    };
    if checksum::checksum(msg) != 0 {
        return Err(IcmpDrop::Checksum);
    }
    let quoted = &msg[ICMP_HEADER_LEN..];
    if quoted.len() < 20 || quoted[0] >> 4 != 4 {
        return Err(IcmpDrop::Truncated);
    }
    let ihl = usize::from(quoted[0] & 0x0F) * 4;
    if ihl < 20 || quoted.len() < ihl + QUOTED_TCP_LEN {
        return Err(IcmpDrop::Truncated);
    }
    if quoted[9] != PROTO_TCP {
        return Ok(None);
    }
    let kind = match kind {
        IcmpKind::PacketTooBig { mtu: 0 } => IcmpKind::PacketTooBig {
            mtu: plateau_below(u32::from(be16(quoted, 2))),
        },
        k => k,
    };
    let src = Ipv4Addr::from(be32(quoted, 12));
    let dst = Ipv4Addr::from(be32(quoted, 16));
    Ok(Some(message(
        ip,
        kind,
        IpAddr::V4(src),
        IpAddr::V4(dst),
        &quoted[ihl..],
    )))
}

/// ICMPv6 (RFC 4443, RFC 8201).
fn parse_v6(ip: &IpPayload<'_>) -> Result<Option<IcmpMessage>, IcmpDrop> {
    let msg = ip.payload;
    if msg.len() < ICMP_HEADER_LEN {
        return Err(IcmpDrop::Truncated);
    }
    let (typ, code) = (msg[0], msg[1]);
    let kind = match typ {
        1 => IcmpKind::Error(match code {
            0 => IcmpError::NetUnreachable,
            1 | 5 | 6 => IcmpError::Prohibited,
            3 => IcmpError::HostUnreachable,
            4 => IcmpError::PortUnreachable,
            _ => IcmpError::OtherUnreachable,
        }),
        2 => IcmpKind::PacketTooBig { mtu: be32(msg, 4) },
        3 => IcmpKind::Error(IcmpError::TimeExceeded),
        4 => IcmpKind::Error(IcmpError::ParameterProblem),
        _ => return Ok(None), // informational messages (128..255) and unknown errors
    };
    // The ICMPv6 checksum covers a pseudo-header with next header 58 (RFC 4443 §2.3).
    let pseudo = match (ip.src, ip.dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => icmpv6_pseudo_header(&s, &d, msg.len()),
        _ => return Ok(None),
    };
    if !checksum::fold(pseudo + checksum::sum(msg)) != 0 {
        return Err(IcmpDrop::Checksum);
    }
    let quoted = &msg[ICMP_HEADER_LEN..];
    if quoted.len() < 40 || quoted[0] >> 4 != 6 {
        return Err(IcmpDrop::Truncated);
    }
    // Walk the quoted extension headers as far as the quote goes.
    let mut next = quoted[6];
    let mut at = 40;
    loop {
        match next {
            PROTO_TCP => break,
            0 | 43 | 60 => {
                let ext = quoted.get(at..at + 2).ok_or(IcmpDrop::Truncated)?;
                next = ext[0];
                at += (usize::from(ext[1]) + 1) * 8;
            }
            44 => {
                // Fragment header: 8 bytes; only the first fragment holds the TCP header.
                let ext = quoted.get(at..at + 4).ok_or(IcmpDrop::Truncated)?;
                if be16(ext, 2) & 0xFFF8 != 0 {
                    return Ok(None);
                }
                next = ext[0];
                at += 8;
            }
            _ => return Ok(None),
        }
    }
    let tcp = quoted.get(at..).unwrap_or(&[]);
    if tcp.len() < QUOTED_TCP_LEN {
        return Err(IcmpDrop::Truncated);
    }
    let mut s = [0u8; 16];
    s.copy_from_slice(&quoted[8..24]);
    let mut d = [0u8; 16];
    d.copy_from_slice(&quoted[24..40]);
    Ok(Some(message(
        ip,
        kind,
        IpAddr::V6(Ipv6Addr::from(s)),
        IpAddr::V6(Ipv6Addr::from(d)),
        tcp,
    )))
}

/// Sum of the ICMPv6 pseudo-header (RFC 4443 §2.3: the IPv6 one of RFC 8200 §8.1 with next
/// header 58).
fn icmpv6_pseudo_header(src: &Ipv6Addr, dst: &Ipv6Addr, len: usize) -> u64 {
    checksum::sum(&src.octets())
        + checksum::sum(&dst.octets())
        + len as u64
        + u64::from(PROTO_ICMPV6)
}

fn message(
    ip: &IpPayload<'_>,
    kind: IcmpKind,
    qsrc: IpAddr,
    qdst: IpAddr,
    tcp: &[u8],
) -> IcmpMessage {
    IcmpMessage {
        from: ip.src,
        to: ip.dst,
        kind,
        local: SocketAddr::new(qsrc, be16(tcp, 0)),
        remote: SocketAddr::new(qdst, be16(tcp, 2)),
        seq: SeqNum(be32(tcp, 4)),
    }
}

/// RFC 1191 §7: a router that does not report the next-hop MTU makes the sender guess the
/// next plateau below the size of the packet that failed.
fn plateau_below(total_len: u32) -> u32 {
    const PLATEAUS: [u32; 10] = [32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];
    PLATEAUS
        .iter()
        .copied()
        .find(|&p| p < total_len)
        .unwrap_or(68)
}

/// Build an ICMP or ICMPv6 error quoting `quoted` (the start of an IP packet we sent).
/// For tests and the simulator: routers and peers answer with these.
pub fn emit_error(
    from: IpAddr,
    to: IpAddr,
    typ: u8,
    code: u8,
    word: u32,
    quoted: &[u8],
) -> Option<Vec<u8>> {
    let mut msg = Vec::with_capacity(ICMP_HEADER_LEN + quoted.len());
    msg.extend_from_slice(&[typ, code, 0, 0]);
    msg.extend_from_slice(&word.to_be_bytes());
    msg.extend_from_slice(quoted);
    let mut out = Vec::with_capacity(40 + msg.len());
    match (from, to) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let c = checksum::checksum(&msg);
            msg[2..4].copy_from_slice(&c.to_be_bytes());
            let total = u16::try_from(20 + msg.len()).ok()?;
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[8] = 64;
            h[9] = PROTO_ICMP;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let hc = checksum::checksum(&h);
            h[10..12].copy_from_slice(&hc.to_be_bytes());
            out.extend_from_slice(&h);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u16::try_from(msg.len()).ok()?;
            let pseudo = icmpv6_pseudo_header(&s, &d, msg.len());
            let c = !checksum::fold(pseudo + checksum::sum(&msg));
            msg[2..4].copy_from_slice(&c.to_be_bytes());
            let mut h = [0u8; 40];
            h[0] = 0x60;
            h[4..6].copy_from_slice(&len.to_be_bytes());
            h[6] = PROTO_ICMPV6;
            h[7] = 64;
            h[8..24].copy_from_slice(&s.octets());
            h[24..40].copy_from_slice(&d.octets());
            out.extend_from_slice(&h);
        }
        _ => return None,
    }
    out.extend_from_slice(&msg);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of a TCP/IPv4 segment from 198.18.0.1:40000 to 198.18.0.2:80, seq 1000.
    fn quoted_v4(total_len: u16) -> Vec<u8> {
        let mut q = vec![0u8; 28];
        q[0] = 0x45;
        q[2..4].copy_from_slice(&total_len.to_be_bytes());
        q[9] = PROTO_TCP;
        q[12..16].copy_from_slice(&[198, 18, 0, 1]);
        q[16..20].copy_from_slice(&[198, 18, 0, 2]);
        q[20..22].copy_from_slice(&40000u16.to_be_bytes());
        q[22..24].copy_from_slice(&80u16.to_be_bytes());
        q[24..28].copy_from_slice(&1000u32.to_be_bytes());
        q
    }

    fn quoted_v6() -> Vec<u8> {
        let mut q = vec![0u8; 48];
        q[0] = 0x60;
        q[6] = PROTO_TCP;
        q[8..24].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        q[24..40].copy_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        q[40..42].copy_from_slice(&40000u16.to_be_bytes());
        q[42..44].copy_from_slice(&80u16.to_be_bytes());
        q[44..48].copy_from_slice(&1000u32.to_be_bytes());
        q
    }

    fn v4(typ: u8, code: u8, word: u32, quoted: &[u8]) -> Vec<u8> {
        let router: IpAddr = "198.18.0.254".parse().unwrap();
        let us: IpAddr = "198.18.0.1".parse().unwrap();
        emit_error(router, us, typ, code, word, quoted).unwrap()
    }

    fn v6(typ: u8, code: u8, word: u32, quoted: &[u8]) -> Vec<u8> {
        let router: IpAddr = "2001:db8::fe".parse().unwrap();
        let us: IpAddr = "2001:db8::1".parse().unwrap();
        emit_error(router, us, typ, code, word, quoted).unwrap()
    }

    fn kind(p: &[u8]) -> IcmpKind {
        parse(p).unwrap().unwrap().kind
    }

    #[test]
    fn must_54_v4_error_names_the_connection_and_quoted_seq() {
        let m = parse(&v4(3, 3, 0, &quoted_v4(60))).unwrap().unwrap();
        assert_eq!(m.local, "198.18.0.1:40000".parse().unwrap());
        assert_eq!(m.remote, "198.18.0.2:80".parse().unwrap());
        assert_eq!(m.seq, SeqNum(1000));
        assert_eq!(m.from, "198.18.0.254".parse::<IpAddr>().unwrap());
        assert_eq!(m.kind, IcmpKind::Error(IcmpError::PortUnreachable));
    }

    #[test]
    fn must_54_v6_error_names_the_connection_and_quoted_seq() {
        let m = parse(&v6(1, 4, 0, &quoted_v6())).unwrap().unwrap();
        assert_eq!(m.local, "[2001:db8::1]:40000".parse().unwrap());
        assert_eq!(m.remote, "[2001:db8::2]:80".parse().unwrap());
        assert_eq!(m.seq, SeqNum(1000));
        assert_eq!(m.kind, IcmpKind::Error(IcmpError::PortUnreachable));
    }

    #[test]
    fn must_56_soft_and_shld_26_hard_classification() {
        let q = quoted_v4(60);
        for code in [0, 1, 5] {
            let IcmpKind::Error(e) = kind(&v4(3, code, 0, &q)) else {
                panic!("code {code}")
            };
            assert!(!e.is_hard(), "v4 unreachable code {code} is soft");
        }
        for code in [2, 3] {
            let IcmpKind::Error(e) = kind(&v4(3, code, 0, &q)) else {
                panic!("code {code}")
            };
            assert!(e.is_hard(), "v4 unreachable code {code} is hard");
        }
        for (typ, code) in [(11, 0), (11, 1), (12, 0)] {
            let IcmpKind::Error(e) = kind(&v4(typ, code, 0, &q)) else {
                panic!()
            };
            assert!(!e.is_hard());
        }
        let q6 = quoted_v6();
        for (typ, code) in [(1, 0), (1, 3), (3, 0), (3, 1), (4, 0), (4, 1), (4, 2)] {
            let IcmpKind::Error(e) = kind(&v6(typ, code, 0, &q6)) else {
                panic!()
            };
            assert!(!e.is_hard(), "ICMPv6 {typ}/{code} is soft");
        }
        let IcmpKind::Error(e) = kind(&v6(1, 4, 0, &q6)) else {
            panic!()
        };
        assert!(e.is_hard());
    }

    #[test]
    fn must_55_source_quench_is_recognised() {
        assert_eq!(kind(&v4(4, 0, 0, &quoted_v4(60))), IcmpKind::SourceQuench);
    }

    #[test]
    fn pm_1_packet_too_big_carries_the_mtu() {
        assert_eq!(
            kind(&v4(3, 4, 1400, &quoted_v4(1500))),
            IcmpKind::PacketTooBig { mtu: 1400 }
        );
        assert_eq!(
            kind(&v6(2, 0, 1280, &quoted_v6())),
            IcmpKind::PacketTooBig { mtu: 1280 }
        );
        // RFC 1191 §7: no MTU given -> the plateau below the failed packet's length.
        assert_eq!(
            kind(&v4(3, 4, 0, &quoted_v4(1500))),
            IcmpKind::PacketTooBig { mtu: 1492 }
        );
    }

    #[test]
    fn damaged_messages_are_dropped_with_a_reason() {
        let mut p = v4(3, 3, 0, &quoted_v4(60));
        let last = p.len() - 1;
        p[last] ^= 1;
        assert_eq!(parse(&p), Err(IcmpDrop::Checksum));
        let mut p6 = v6(1, 4, 0, &quoted_v6());
        let last = p6.len() - 1;
        p6[last] ^= 1;
        assert_eq!(parse(&p6), Err(IcmpDrop::Checksum));
        // A quote too short to hold ports and sequence number.
        let short = v4(3, 3, 0, &quoted_v4(60)[..24]);
        assert_eq!(parse(&short), Err(IcmpDrop::Truncated));
        // Every truncation of a valid message is either rejected or not ICMP at all; none
        // panics.
        let full = v6(1, 4, 0, &quoted_v6());
        for n in 0..full.len() {
            let _ = parse(&full[..n]);
        }
    }

    #[test]
    fn non_errors_and_other_protocols_are_not_ours() {
        // Echo request.
        assert_eq!(parse(&v4(8, 0, 0, &quoted_v4(60))), Ok(None));
        // ICMPv6 neighbour solicitation.
        assert_eq!(parse(&v6(135, 0, 0, &quoted_v6())), Ok(None));
        // An error about a UDP datagram.
        let mut q = quoted_v4(60);
        q[9] = 17;
        assert_eq!(parse(&v4(3, 3, 0, &q)), Ok(None));
    }
}
