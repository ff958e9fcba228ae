//! Internet checksum (RFC 1071) with the TCP pseudo-header (RFC 9293 §3.1, EP-1).
//!
//! The checksum is the bitwise NOT of the 16-bit one's-complement sum of the data taken as
//! big-endian 16-bit words, an odd final byte padded on the right with a zero byte (the pad
//! is never sent). Because 2^16 ≡ 1 (mod 2^16 − 1), the sum can be accumulated in wider words
//! and folded down at the end (RFC 1071 §2 (B), "deferred carries"): [`sum`] adds the data as
//! big-endian 32-bit words into a `u64`, which cannot overflow for any input shorter than
//! 2^32 words, and [`fold`] reduces it to 16 bits with end-around carry.
//!
//! Partial sums of several pieces may be added together (`sum(a) + sum(b)`) as long as every
//! piece but the last has an even length, so that the 16-bit alignment is kept. The
//! pseudo-headers (12 and 40 bytes) and TCP headers (a multiple of 4) always are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of TCP, as it appears in the pseudo-header.
const PROTO_TCP: u8 = 6;

/// Unfolded one's-complement sum of `data` (RFC 1071). Reduce it with [`fold`].
///
/// The bytes are taken as big-endian 16-bit words; an odd final byte is padded with zero.
/// The result is only meaningful modulo 2^16 − 1, which is all [`fold`] looks at.
pub fn sum(data: &[u8]) -> u64 {
    if data.len() < 128 {
        // Headers and small segments: the lanes' setup and folding cost more than they
        // save (the churn profile, whose segments are all headers and 64-byte payloads).
        return sum_be(data);
    }
    // The bulk of the data: 32 bytes per step into four independent accumulators, loaded
    // in the machine's little-endian order (no byte swaps). RFC 1071 §2 (B): the
    // one's-complement sum is byte-order independent, so the little-endian sum, folded and
    // byte-swapped, is congruent to the big-endian one. Each u64 word `hi·2^32 + lo` is
    // congruent to `hi + lo`, and a lane grows by < 2^33 per step, so no lane overflows for
    // any input under 2^32 bytes. Independent lanes let the additions run in parallel: the
    // bulk profile had the checksum at ~23%, bound by one serial add chain.
    let mut lanes = [0u64; 4];
    let mut blocks = data.chunks_exact(32);
    for b in &mut blocks {
        for (lane, w) in lanes.iter_mut().zip(b.chunks_exact(8)) {
            let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            *lane += (w >> 32) + (w & 0xFFFF_FFFF);
        }
    }
    let wide = lanes.iter().fold(0u64, |a, &l| a + fold(l) as u64);
    u64::from(fold(wide).swap_bytes()) + sum_be(blocks.remainder())
}

/// [`sum`] of a short piece, as big-endian words, eight bytes at a time.
fn sum_be(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    // Eight bytes at a time, as two big-endian 32-bit words: each u32 word `hi·2^16 + lo`
    // is congruent to `hi + lo` modulo 2^16 − 1, so adding whole words is the same sum.
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (w >> 32) + (w & 0xFFFF_FFFF);
    }
    let mut rest = chunks.remainder();
    if rest.len() >= 4 {
        acc += u64::from(u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]));
        rest = &rest[4..];
    }
    if rest.len() >= 2 {
        acc += u64::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let [last] = rest {
        // Odd length: the final byte is the high half of a word whose low half is zero.
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Fold an unfolded sum into a 16-bit one's-complement sum (end-around carry). The result
/// is the sum itself, not yet complemented; the checksum is `!fold(..)`.
pub fn fold(mut acc: u64) -> u16 {
    // Each step keeps the value congruent modulo 2^16 − 1 and strictly shrinks it until it
    // fits in 16 bits; four steps suffice for any u64, the loop is for clarity.
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// The RFC 1071 checksum of `data`: the complement of its folded sum. Over an IPv4 header
/// with its checksum field zeroed this is the value to store; over a header with a correct
/// checksum in place it is 0.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// Sum of the IPv4 TCP pseudo-header (RFC 9293 §3.1, EP-1): source, destination, a zero
/// byte, protocol 6 and the 16-bit TCP length (header plus data, no IP header).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, tcp_len: u16) -> u64 {
    u64::from(u32::from(src))
        + u64::from(u32::from(dst))
        + u64::from(PROTO_TCP)
        + u64::from(tcp_len)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1, EP-1): source, destination, the 32-bit
/// upper-layer packet length, three zero bytes and next header 6 (even when extension
/// headers came in between: the pseudo-header names the upper-layer protocol).
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, tcp_len: u32) -> u64 {
    sum(&src.octets()) + sum(&dst.octets()) + u64::from(tcp_len) + u64::from(PROTO_TCP)
}

/// Sum of the pseudo-header for a TCP segment of `tcp_len` bytes between `src` and `dst`.
///
/// The two addresses should be of one family. If they are not, both are taken as IPv6
/// (an IPv4 address as `::ffff:a.b.c.d`), so the function never panics; no real packet
/// can be built that way and `emit` refuses to.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, tcp_len: usize) -> u64 {
    match (src, dst) {
        // An IPv4 TCP segment is at most 65535 − 20 bytes; truncation only happens for
        // lengths no IPv4 packet can carry.
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_header_v4(s, d, tcp_len as u16),
        _ => pseudo_header_v6(&to_v6(src), &to_v6(dst), tcp_len as u32),
    }
}

fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The TCP checksum of `segment` (header and data) between `src` and `dst` (EP-1, MUST-2).
///
/// With the segment's checksum field (bytes 16..18) zeroed this is the value to store there;
/// over a received segment with its checksum in place it is 0 exactly when the checksum is
/// correct (see [`verify_tcp`]).
pub fn tcp_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> u16 {
    !fold(pseudo_header(src, dst, segment.len()) + sum(segment))
}

/// Whether a received TCP segment's checksum is correct (MUST-3).
///
/// The one's-complement sum over pseudo-header and segment, checksum included, must be
/// 0xFFFF. Both encodings of a zero checksum (0x0000 and 0xFFFF) are accepted, as
/// one's-complement arithmetic makes them equal.
pub fn verify_tcp(src: IpAddr, dst: IpAddr, segment: &[u8]) -> bool {
    tcp_checksum(src, dst, segment) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook algorithm, 16 bits at a time with a fold after every add, written
    /// independently of the fast path above.
    fn naive_sum16(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = data[i] as u32;
            let lo = if i + 1 < data.len() {
                data[i + 1] as u32
            } else {
                0
            };
            s += (hi << 8) | lo;
            if s > 0xFFFF {
                s = (s & 0xFFFF) + 1;
            }
            i += 2;
        }
        s as u16
    }

    #[test]
    fn ep_1_rfc_1071_worked_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (after end-around carries).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
        // The same through every path the fast loop has (8, 4, 2-byte pieces).
        assert_eq!(fold(sum(&data[..4]) + sum(&data[4..])), 0xddf2);
        assert_eq!(fold(sum(&data[..2]) + sum(&data[2..])), 0xddf2);
    }

    #[test]
    fn ep_1_odd_length_pads_with_zero() {
        assert_eq!(fold(sum(&[0xab])), 0xab00);
        assert_eq!(fold(sum(&[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
        // 15 bytes: the 8-, 4-, 2- and 1-byte tails all at once.
        let d: Vec<u8> = (1..=15).collect();
        assert_eq!(fold(sum(&d)), naive_sum16(&d));
        assert_eq!(sum(&[]), 0);
    }

    #[test]
    fn ep_1_known_ipv4_header_checksum() {
        // A widely used example IPv4 header; its checksum field holds b861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn ep_1_checksum_ipv4_pseudo_header() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(192, 168, 7, 200);
        let mut ph = Vec::new();
        ph.extend_from_slice(&src.octets());
        ph.extend_from_slice(&dst.octets());
        ph.extend_from_slice(&[0, 6]);
        ph.extend_from_slice(&1234u16.to_be_bytes());
        assert_eq!(ph.len(), 12);
        assert_eq!(fold(pseudo_header_v4(src, dst, 1234)), naive_sum16(&ph));
    }

    #[test]
    fn ep_1_checksum_ipv6_pseudo_header() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "fe80::abcd:ef01:2345:6789".parse().unwrap();
        let mut ph = Vec::new();
        ph.extend_from_slice(&src.octets());
        ph.extend_from_slice(&dst.octets());
        ph.extend_from_slice(&70_000u32.to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 6]);
        assert_eq!(ph.len(), 40);
        assert_eq!(fold(pseudo_header_v6(&src, &dst, 70_000)), naive_sum16(&ph));
    }

    #[test]
    fn ep_1_tcp_checksum_verifies_and_detects() {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let dst = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let mut seg = [0u8; 21];
        seg[0] = 0x30;
        seg[12] = 0x50;
        seg[20] = 0x7f;
        let c = tcp_checksum(src, dst, &seg);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        assert!(verify_tcp(src, dst, &seg));
        seg[20] ^= 1;
        assert!(!verify_tcp(src, dst, &seg));
        // Mixed families do not panic.
        let _ = tcp_checksum(src, IpAddr::V6(Ipv6Addr::LOCALHOST), &seg);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn ep_1_fast_sum_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..1500)) {
            prop_assert_eq!(fold(sum(&data)), naive_sum16(&data));
        }

        #[test]
        fn ep_1_sums_of_even_pieces_add(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            cut in 0usize..100,
        ) {
            let cut = (cut * 2).min(data.len() & !1);
            prop_assert_eq!(fold(sum(&data[..cut]) + sum(&data[cut..])), naive_sum16(&data));
        }

        #[test]
        fn ep_1_checksum_in_place_sums_to_zero(
            mut data in proptest::collection::vec(any::<u8>(), 2..200),
        ) {
            data[0] = 0;
            data[1] = 0;
            let c = checksum(&data);
            data[..2].copy_from_slice(&c.to_be_bytes());
            prop_assert_eq!(checksum(&data), 0);
        }
    }
}
