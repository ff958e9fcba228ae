//! The TCP header proper.
//!
//! RFC 9293 §3.1 layout: ports (4 B), sequence (4 B), acknowledgment (4 B), data offset and
//! reserved bits (1 B), control bits (1 B), window (2 B), checksum (2 B), urgent pointer
//! (2 B), then options up to the data offset, then data.
use super::options::{parse_options, parse_timestamps_only, timestamps_only_bytes, write_options};
use super::*;

/// Payloads shorter than this are always verified in `parse_segment`: summing a few hundred
/// bytes that are already in cache costs less than finding the connection early.
pub(super) const DEFER_MIN: usize = 256;

/// Parse one TCP segment (header, options and data) that travelled from `src` to `dst`.
///
/// Checks, in order: at least 20 bytes (`Truncated`); data offset 5..=15 and within the
/// segment (EP-3, `TcpDataOffset`); the checksum over pseudo-header, header and data
/// (MUST-3, `TcpChecksum`); the options (MUST-7, `TcpOptionLength`). The reserved bits are
/// ignored (EP-2); all eight control bits, CWR and ECE included, are kept in `flags`.
///
/// With `defer`, a plain data segment (ACK, optionally PSH, and at least [`DEFER_MIN`]
/// payload bytes) comes back with the payload not yet summed (`Csum::Pending`): the
/// receiver sums it while copying it into its receive ring. The errors are the same as
/// without `defer` (a bad checksum still wins over bad options). With `trust` the device
/// vouched for the checksum (see `Stack::handle_packet_trusted`): it is not looked at.
#[inline] // one caller (parse_ip_tcp); left to itself LLVM sometimes outlined it, at a cost
pub(crate) fn parse_segment(
    src: IpAddr,
    dst: IpAddr,
    seg: &[u8],
    defer: bool,
    trust: bool,
) -> Result<(TcpHeader, &[u8], Csum), ParseError> {
    if seg.len() < TCP_HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    // Data offset: the top four bits of byte 12, in 32-bit words (EP-3). The low four bits
    // are reserved and ignored on receipt (EP-2).
    let header_len = usize::from(seg[12] >> 4) * 4;
    if header_len < TCP_HEADER_LEN || header_len > seg.len() {
        return Err(ParseError::TcpDataOffset);
    }
    let flags = TcpFlags(seg[13]);
    let payload = &seg[header_len..];
    let plain = flags == TcpFlags::ACK || flags == TcpFlags::ACK | TcpFlags::PSH;
    let csum = if trust {
        // MUST-3 was the device's (offload): the field may hold only the pseudo-header sum.
        Csum::Verified
    } else if defer && plain && payload.len() >= DEFER_MIN {
        // The header is a whole number of 32-bit words, so the payload's sum can be added
        // to this one later (RFC 1071 §2 (B)).
        let pseudo = match (src, dst) {
            // IPv4, inline: `checksum::pseudo_header` took both addresses through memory,
            // a call per segment. An IPv4 segment's length fits 16 bits (`ip_v4`).
            (IpAddr::V4(s), IpAddr::V4(d)) => checksum::pseudo_header_v4(s, d, seg.len() as u16),
            _ => checksum::pseudo_header(src, dst, seg.len()),
        };
        Csum::Pending(pseudo + sum_header(&seg[..header_len]))
    } else if checksum::verify_tcp(src, dst, seg) {
        // MUST-3: verify before believing anything else in the segment.
        Csum::Verified
    } else {
        return Err(ParseError::TcpChecksum);
    };
    let be16 = |i: usize| u16::from_be_bytes([seg[i], seg[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([seg[i], seg[i + 1], seg[i + 2], seg[i + 3]]);
    let opt_bytes = &seg[TCP_HEADER_LEN..header_len];
    let options = match parse_timestamps_only(opt_bytes) {
        // Built here, in place: `parse_options`' answer came back through memory and was
        // read with wide loads after narrow stores, a store-forwarding stall per segment.
        Some(ts) => TcpOptions {
            timestamps: Some(ts),
            ..TcpOptions::default()
        },
        None => parse_options_checked(opt_bytes, csum, payload)?,
    };
    let header = TcpHeader {
        src_port: be16(0),
        dst_port: be16(2),
        seq: SeqNum(be32(4)),
        ack: SeqNum(be32(8)),
        flags,
        // MUST-1: an unsigned 16-bit quantity; 0xFFFF is 65535.
        window: be16(14),
        urgent: be16(18),
        options,
    };
    Ok((header, payload, csum))
}

/// [`checksum::sum`] of a TCP header. The 32-byte header of nearly every established
/// segment (timestamps only) is summed as eight big-endian 32-bit words, each congruent to
/// the sum of its 16-bit halves modulo 2^16 - 1 (RFC 1071 §2 (B)): a fixed length the
/// compiler unrolls, where the general sum is a call that loops on the length.
#[inline(always)]
fn sum_header(h: &[u8]) -> u64 {
    match h.first_chunk::<32>() {
        Some(w) if h.len() == 32 => (0..8)
            .map(|i| {
                let j = 4 * i;
                u64::from(u32::from_be_bytes([w[j], w[j + 1], w[j + 2], w[j + 3]]))
            })
            .sum(),
        _ => checksum::sum(h),
    }
}

/// `parse_options` for a layout other than timestamps alone, the error cases as
/// `parse_segment` reports them. Out of line: SYNs, SACK blocks and the like.
#[inline(never)]
fn parse_options_checked(
    opt_bytes: &[u8],
    csum: Csum,
    payload: &[u8],
) -> Result<TcpOptions, ParseError> {
    match parse_options(opt_bytes) {
        Ok(o) => Ok(o),
        Err(e) => {
            // Counted as a bad checksum if the checksum is bad, as without deferral.
            if let Csum::Pending(partial) = csum {
                if !Csum::sum_ok(partial + checksum::sum(payload)) {
                    return Err(ParseError::TcpChecksum);
                }
            }
            Err(e)
        }
    }
}

/// Bytes the TCP segment for `tcp` and `payload_len` bytes of payload takes.
pub(crate) fn segment_len(tcp: &TcpHeader, payload_len: usize) -> usize {
    TCP_HEADER_LEN + options_len(&tcp.options) + payload_len
}

/// Write the TCP segment (header, LX-19 options, payload, checksum) into `out`, which the
/// caller sized to exactly [`segment_len`] bytes (`emit_parts`, which computed the length
/// once for both layers). `pseudo` is the pseudo-header's sum without the TCP length
/// ([`checksum::pseudo_header`] of length 0), from the IP layer that already holds the
/// addresses. The payload comes as two pieces (`first` then `second`) so that a sender can
/// copy straight from a ring buffer that wraps, with no intermediate copy. Inlined into
/// `emit_parts` (its only caller): a call of its own saved and restored registers around
/// every segment sent.
#[inline(always)]
pub(crate) fn write_segment(pseudo: u64, tcp: &TcpHeader, payload: (&[u8], &[u8]), out: &mut [u8]) {
    // Timestamps alone (or no option) is the layout of nearly every established segment:
    // written and summed from the values; the general writer and a read-back sum only for
    // the others.
    match PlainHeader::of(tcp) {
        Some(p) => write_plain_segment(pseudo, &p, payload, out),
        None => write_segment_general(pseudo, tcp, payload, out),
    }
}

/// Bytes of the TCP header [`write_plain_segment`] writes: 20, and 12 more with
/// Timestamps (`NOP, NOP, TS`, LX-19).
#[inline(always)]
pub(crate) fn plain_header_len(tcp: &PlainHeader) -> usize {
    if tcp.timestamps.is_some() {
        TCP_HEADER_LEN + 12
    } else {
        TCP_HEADER_LEN
    }
}

/// [`write_segment`] for a header whose only option is Timestamps, or none; `out` is
/// exactly [`plain_header_len`] plus the payload bytes. The header is assembled as a value
/// and stored once its checksum is known (no field is written twice), and summed from the
/// field values, not read back: the read came right after the narrow stores and stalled on
/// store forwarding (the hottest spot of `checksum::sum` in the bulk profile).
#[inline(always)]
pub(crate) fn write_plain_segment(
    pseudo: u64,
    tcp: &PlainHeader,
    (first, second): (&[u8], &[u8]),
    out: &mut [u8],
) {
    let len = out.len();
    let (head, data) = out.split_at_mut(plain_header_len(tcp));
    let (fixed, opts) = head.split_at_mut(TCP_HEADER_LEN);
    let payload_sum = copy_payload(data, first, second);
    let mut h = [0u8; TCP_HEADER_LEN];
    h[0..2].copy_from_slice(&tcp.src_port.to_be_bytes());
    h[2..4].copy_from_slice(&tcp.dst_port.to_be_bytes());
    h[4..8].copy_from_slice(&tcp.seq.0.to_be_bytes());
    h[8..12].copy_from_slice(&tcp.ack.0.to_be_bytes());
    // Data offset in words (reserved bits sent as zero, EP-2), then the control bits.
    let offset = (plain_header_len(tcp) as u64 / 4) << 12 | u64::from(tcp.flags.0);
    h[12..14].copy_from_slice(&(offset as u16).to_be_bytes());
    h[14..16].copy_from_slice(&tcp.window.to_be_bytes());
    // h[16..18], the checksum, stays zero until it is known.
    h[18..20].copy_from_slice(&tcp.urgent.to_be_bytes());
    // MUST-2, over the pseudo-header, the header with its checksum field zero, and the
    // payload. 32-bit fields are added as whole words, congruent to their two halves
    // (RFC 1071 §2 (B)).
    let mut sum = pseudo
        + payload_sum
        + len as u64
        + u64::from(tcp.src_port)
        + u64::from(tcp.dst_port)
        + u64::from(tcp.seq.0)
        + u64::from(tcp.ack.0)
        + offset
        + u64::from(tcp.window)
        + u64::from(tcp.urgent);
    // The two parts are stored with fixed sizes: one copy of the variable-length header
    // was a memcpy call per segment.
    if let (Some(ts), Ok(o)) = (tcp.timestamps, <&mut [u8; 12]>::try_from(opts)) {
        *o = timestamps_only_bytes(ts);
        // Words 0x0101 and 0x080A, then the two 32-bit values.
        sum += 0x0101 + 0x080A + u64::from(ts.tsval) + u64::from(ts.tsecr);
    }
    h[16..18].copy_from_slice(&(!checksum::fold(sum)).to_be_bytes());
    fixed.copy_from_slice(&h);
}

/// Copy the payload (`first` then `second`) into `data`, which is exactly as long, and
/// return its sum. The header is a whole number of 32-bit words, so the first piece starts
/// on a 16-bit boundary; if it has an odd length, the second piece's words straddle the
/// boundary: its bytes take the other halves of the words, which is its sum byte-swapped
/// (RFC 1071 §2 (B)). The payload is summed as it is copied in (one pass over it).
#[inline(always)]
fn copy_payload(data: &mut [u8], first: &[u8], second: &[u8]) -> u64 {
    let (a, b) = data.split_at_mut(first.len());
    // Pure ACKs, SYNs and FINs (most of a short connection's segments) have no payload.
    let mut sum = if first.is_empty() {
        0
    } else {
        checksum::copy_and_sum(a, first)
    };
    if !second.is_empty() {
        // Only when the ring wrapped: most segments come in one piece.
        let second_sum = checksum::copy_and_sum(b, second);
        sum += if first.len() % 2 == 1 {
            u64::from(checksum::fold(second_sum).swap_bytes())
        } else {
            second_sum
        };
    }
    sum
}

/// [`write_segment`] for any options (SYNs, SACK blocks): the general option writer, and
/// the options summed from their bytes. Out of line: rare, and its frame would otherwise
/// be paid by every plain segment.
#[inline(never)]
fn write_segment_general(
    pseudo: u64,
    tcp: &TcpHeader,
    (first, second): (&[u8], &[u8]),
    out: &mut [u8],
) {
    let len = out.len();
    let header_len = len - first.len() - second.len();
    let (head, data) = out.split_at_mut(header_len);
    let (fixed, opts) = head.split_at_mut(TCP_HEADER_LEN);
    let written = write_options(&tcp.options, opts);
    debug_assert_eq!(written, Some(opts.len()));
    // The fixed header (RFC 9293 §3.1 layout, big-endian fields), assembled as a value and
    // stored once its checksum is known: no field is written twice.
    let mut h = [0u8; TCP_HEADER_LEN];
    h[0..2].copy_from_slice(&tcp.src_port.to_be_bytes());
    h[2..4].copy_from_slice(&tcp.dst_port.to_be_bytes());
    h[4..8].copy_from_slice(&tcp.seq.0.to_be_bytes());
    h[8..12].copy_from_slice(&tcp.ack.0.to_be_bytes());
    // Data offset in words; reserved bits sent as zero (EP-2). options_len <= 40 keeps the
    // offset within 15.
    h[12] = ((header_len / 4) as u8) << 4;
    h[13] = tcp.flags.0;
    h[14..16].copy_from_slice(&tcp.window.to_be_bytes());
    // h[16..18], the checksum, stays zero until it is known.
    h[18..20].copy_from_slice(&tcp.urgent.to_be_bytes());
    // MUST-2: every segment sent carries a correct checksum, computed with the field zeroed.
    let sum = copy_payload(data, first, second)
        + pseudo
        + len as u64
        + u64::from(tcp.src_port)
        + u64::from(tcp.dst_port)
        + u64::from(tcp.seq.0)
        + u64::from(tcp.ack.0)
        + ((header_len as u64 / 4) << 12 | u64::from(tcp.flags.0))
        + u64::from(tcp.window)
        + u64::from(tcp.urgent)
        + checksum::sum(opts);
    let sum = !checksum::fold(sum);
    h[16..18].copy_from_slice(&sum.to_be_bytes());
    fixed.copy_from_slice(&h);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The unrolled header sum is the general one, modulo 2^16 - 1 (all `fold` reads),
        /// for the 32-byte headers it unrolls and any other length it hands on.
        #[test]
        fn sum_header_is_the_general_sum(h in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(checksum::fold(sum_header(&h)), checksum::fold(checksum::sum(&h)));
            let mut w = [0u8; 32];
            for (d, s) in w.iter_mut().zip(h.iter().cycle()) {
                *d = *s;
            }
            prop_assert_eq!(checksum::fold(sum_header(&w)), checksum::fold(checksum::sum(&w)));
        }

        /// The plain writer (fields summed as values) writes the bytes of the general one
        /// (options written by the LX-19 writer and summed from their bytes), for any
        /// fields, with and without timestamps, and payloads in one or two pieces of any
        /// lengths (odd ones make the second piece straddle 16-bit words).
        #[test]
        fn plain_segment_is_the_general_segment(
            ports in any::<(u16, u16)>(),
            seq_ack in any::<(u32, u32)>(),
            flags in any::<u8>(),
            window in any::<u16>(),
            urgent in any::<u16>(),
            ts in proptest::option::of(any::<(u32, u32)>()),
            pseudo in 0u64..(1 << 40),
            payload in proptest::collection::vec(any::<u8>(), 0..700),
            split in any::<proptest::sample::Index>(),
        ) {
            let plain = PlainHeader {
                src_port: ports.0,
                dst_port: ports.1,
                seq: SeqNum(seq_ack.0),
                ack: SeqNum(seq_ack.1),
                flags: TcpFlags(flags),
                window,
                urgent,
                timestamps: ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            };
            let full = plain.to_header();
            prop_assert_eq!(PlainHeader::of(&full), Some(plain));
            let cut = split.index(payload.len() + 1);
            let parts = (&payload[..cut], &payload[cut..]);
            let len = segment_len(&full, payload.len());
            prop_assert_eq!(len, plain_header_len(&plain) + payload.len());
            let (mut a, mut b) = (vec![0u8; len], vec![0xA5u8; len]);
            write_plain_segment(pseudo, &plain, parts, &mut a);
            write_segment_general(pseudo, &full, parts, &mut b);
            prop_assert_eq!(&a, &b);
            let mut c = vec![0x5Au8; len];
            write_segment(pseudo, &full, parts, &mut c);
            prop_assert_eq!(&a, &c);
        }
    }
}
