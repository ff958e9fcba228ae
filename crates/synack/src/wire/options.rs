//! TCP options: parse any layout, emit the Linux layout (LX-19).
//!
//! Parsing (RFC 9293 §3.1–3.2) accepts options at any byte offset (MUST-64) and on any
//! segment (MUST-5: whether an option is meaningful on this segment, e.g. MSS only on a SYN,
//! is the connection's business, not the parser's). EOL ends the list (MUST-69), NOP is
//! skipped, an option we do not implement is skipped by its length (MUST-6), and an illegal
//! length (0, 1, or running past the header) rejects the segment (MUST-7) — the loop always
//! advances by at least one byte and never reads past the slice.
//!
//! Emission uses exactly the order and padding Linux's `tcp_options_write` produces
//! (LX-19), so captures and packet-exact tests read like the kernel's. Every option emitted
//! has a length byte except NOP (MUST-68), and the result is always a multiple of 4 bytes, so
//! no EOL or trailing pad is ever needed (MUST-69 holds trivially).
use super::*;

/// Option kinds (IANA "TCP Option Kind Numbers").
pub(crate) const KIND_EOL: u8 = 0;
pub(crate) const KIND_NOP: u8 = 1;
pub(crate) const KIND_MSS: u8 = 2;
pub(crate) const KIND_WS: u8 = 3;
pub(crate) const KIND_SACK_PERMITTED: u8 = 4;
pub(crate) const KIND_SACK: u8 = 5;
pub(crate) const KIND_TIMESTAMPS: u8 = 8;

/// Option lengths (kind and length bytes included).
const LEN_MSS: usize = 4; // MUST-4
const LEN_WS: usize = 3; // WS-1, RFC 7323 §2.2
const LEN_SACK_PERMITTED: usize = 2; // SK-1, RFC 2018 §2
const LEN_TIMESTAMPS: usize = 10; // TS-1, RFC 7323 §3.2
const LEN_SACK_BASE: usize = 2; // RFC 2018 §3: 2 + 8 per block
const LEN_SACK_BLOCK: usize = 8;

/// How many SACK blocks `emit` writes for these options: as many of `o.sacks()` as fit in
/// the 40 option bytes after everything that comes before them (3 with timestamps, 4
/// without; 2 on a SYN carrying every other option).
fn emitted_sack_blocks(o: &TcpOptions) -> usize {
    let want = (o.sack_count as usize).min(MAX_SACK_BLOCKS);
    if want == 0 {
        return 0;
    }
    let room = MAX_OPTIONS_LEN - fixed_len(o);
    // `NOP, NOP, kind, len` then 8 bytes per block.
    let fit = room.saturating_sub(4) / LEN_SACK_BLOCK;
    want.min(fit)
}

/// Bytes of everything but the SACK blocks, in the LX-19 layout.
fn fixed_len(o: &TcpOptions) -> usize {
    let mut n = 0;
    if o.mss.is_some() {
        n += 4; // MSS
    }
    if o.timestamps.is_some() {
        n += 12; // SACKOK, TS   or   NOP, NOP, TS
    } else if o.sack_permitted {
        n += 4; // NOP, NOP, SACKOK
    }
    if o.window_scale.is_some() {
        n += 4; // NOP, WS
    }
    n
}

/// Bytes the options take on the wire when emitted (a multiple of 4).
pub fn options_len(o: &TcpOptions) -> usize {
    let blocks = emitted_sack_blocks(o);
    let sack = if blocks > 0 {
        4 + LEN_SACK_BLOCK * blocks
    } else {
        0
    };
    fixed_len(o) + sack
}

/// Write the options in the Linux layout (LX-19) into the start of `out`, which must hold at
/// least [`options_len`] bytes; returns the number written (always `options_len(o)`).
///
/// Order, each part present only if its field is set:
/// `MSS` · `SACKOK, TS` or `NOP, NOP, TS` · `NOP, NOP, SACKOK` (SACK-permitted without
/// timestamps) · `NOP, WS` · `NOP, NOP, SACK(blocks)`.
pub(crate) fn write_options(o: &TcpOptions, out: &mut [u8]) -> Option<usize> {
    if let Some(ts) = o.timestamps_only() {
        // Timestamps alone, the options of nearly every established segment: the same
        // bytes as the general path below, without its per-field bookkeeping.
        out.get_mut(..12)?
            .copy_from_slice(&timestamps_only_bytes(ts));
        return Some(12);
    }
    write_options_general(o, out)
}

/// The bytes of the timestamps-only layout (LX-19: NOP, NOP, kind 8, length 10, TSval,
/// TSecr), built in a register-sized array so that the caller stores them at once.
#[inline]
pub(crate) fn timestamps_only_bytes(ts: Timestamps) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&[KIND_NOP, KIND_NOP, KIND_TIMESTAMPS, LEN_TIMESTAMPS as u8]);
    b[4..8].copy_from_slice(&ts.tsval.to_be_bytes());
    b[8..12].copy_from_slice(&ts.tsecr.to_be_bytes());
    b
}

/// [`write_options`] for any layout but timestamps alone (SYNs, SACK blocks). Out of line:
/// its frame would otherwise be paid by every timestamps-only segment too.
#[inline(never)]
fn write_options_general(o: &TcpOptions, out: &mut [u8]) -> Option<usize> {
    let len = options_len(o);
    let out = out.get_mut(..len)?;
    let mut w = Writer { buf: out, at: 0 };
    if let Some(mss) = o.mss {
        w.put(&[KIND_MSS, LEN_MSS as u8]);
        w.put(&mss.to_be_bytes());
    }
    if let Some(ts) = o.timestamps {
        if o.sack_permitted {
            w.put(&[KIND_SACK_PERMITTED, LEN_SACK_PERMITTED as u8]);
        } else {
            w.put(&[KIND_NOP, KIND_NOP]);
        }
        w.put(&[KIND_TIMESTAMPS, LEN_TIMESTAMPS as u8]);
        w.put(&ts.tsval.to_be_bytes());
        w.put(&ts.tsecr.to_be_bytes());
    } else if o.sack_permitted {
        w.put(&[
            KIND_NOP,
            KIND_NOP,
            KIND_SACK_PERMITTED,
            LEN_SACK_PERMITTED as u8,
        ]);
    }
    if let Some(shift) = o.window_scale {
        w.put(&[KIND_NOP, KIND_WS, LEN_WS as u8, shift]);
    }
    let blocks = emitted_sack_blocks(o);
    if blocks > 0 {
        let opt_len = (LEN_SACK_BASE + LEN_SACK_BLOCK * blocks) as u8;
        w.put(&[KIND_NOP, KIND_NOP, KIND_SACK, opt_len]);
        for b in &o.sack_blocks[..blocks] {
            w.put(&b.left.0.to_be_bytes());
            w.put(&b.right.0.to_be_bytes());
        }
    }
    debug_assert_eq!(w.at, len);
    Some(w.at)
}

/// A cursor over a buffer already checked to be long enough.
struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Parse the option bytes of one TCP header (everything between the fixed 20 bytes and the
/// data offset).
///
/// A known option with the wrong length for its kind (MSS of length 3, SACK whose length is
/// not 2 + 8n with n >= 1, ...) is ignored but skipped by its length, as Linux does. When an
/// option appears twice the later one wins (also as Linux). SACK blocks beyond
/// [`MAX_SACK_BLOCKS`] are ignored (they cannot fit in 40 bytes anyway).
pub(crate) fn parse_options(bytes: &[u8]) -> Result<TcpOptions, ParseError> {
    if let Some(ts) = parse_timestamps_only(bytes) {
        return Ok(TcpOptions {
            timestamps: Some(ts),
            ..TcpOptions::default()
        });
    }
    // The SYN and SYN,ACK layout of Linux and of our own writer (LX-19): MSS, SACK-permitted,
    // Timestamps, NOP, Window scale; 20 bytes. Two of these start every connection, and the
    // walk over five options was a sizeable part of parsing in connection churn.
    if let Some(b) = bytes.first_chunk::<20>() {
        if bytes.len() == 20
            && b[..2] == [KIND_MSS, LEN_MSS as u8]
            && b[4..8]
                == [
                    KIND_SACK_PERMITTED,
                    LEN_SACK_PERMITTED as u8,
                    KIND_TIMESTAMPS,
                    LEN_TIMESTAMPS as u8,
                ]
            && b[16..19] == [KIND_NOP, KIND_WS, LEN_WS as u8]
        {
            return Ok(TcpOptions {
                mss: Some(be16(&b[2..])),
                sack_permitted: true,
                timestamps: Some(Timestamps {
                    tsval: be32(&b[8..]),
                    tsecr: be32(&b[12..]),
                }),
                window_scale: Some(b[19]),
                ..TcpOptions::default()
            });
        }
    }
    parse_options_walk(bytes)
}

/// Fast path for the layout nearly every segment of an established connection carries:
/// NOP, NOP, Timestamps (LX-19), and nothing else. The general walk gives the same result
/// for these bytes; skipping it saves most of the per-segment option parsing in bulk.
/// `tcp::parse_segment` asks this first, inline, so that the options of a bulk segment are
/// built in place rather than returned through memory by [`parse_options`].
#[inline(always)]
pub(crate) fn parse_timestamps_only(bytes: &[u8]) -> Option<Timestamps> {
    let b = bytes.first_chunk::<12>()?;
    (bytes.len() == 12 && b[..4] == [KIND_NOP, KIND_NOP, KIND_TIMESTAMPS, LEN_TIMESTAMPS as u8])
        .then(|| Timestamps {
            tsval: be32(&b[4..]),
            tsecr: be32(&b[8..]),
        })
}

/// [`parse_options`] for any layout: one option at a time.
fn parse_options_walk(mut bytes: &[u8]) -> Result<TcpOptions, ParseError> {
    let mut o = TcpOptions::default();
    // Each iteration consumes at least one byte, so the loop ends (MUST-7).
    while let Some((&kind, rest)) = bytes.split_first() {
        match kind {
            KIND_EOL => break, // MUST-69: nothing after EOL is an option.
            KIND_NOP => {
                bytes = rest;
                continue;
            }
            _ => {}
        }
        // Every other kind has a length byte (MUST-68 on the sender's side; MUST-6).
        let len = match rest.first() {
            Some(&l) => l as usize,
            None => return Err(ParseError::TcpOptionLength), // kind byte is the last one
        };
        if len < 2 || len > bytes.len() {
            return Err(ParseError::TcpOptionLength); // MUST-7
        }
        let (opt, tail) = bytes.split_at(len);
        let data = &opt[2..];
        match (kind, len) {
            (KIND_MSS, LEN_MSS) => o.mss = Some(be16(data)),
            (KIND_WS, LEN_WS) => o.window_scale = Some(data[0]),
            (KIND_SACK_PERMITTED, LEN_SACK_PERMITTED) => o.sack_permitted = true,
            (KIND_TIMESTAMPS, LEN_TIMESTAMPS) => {
                o.timestamps = Some(Timestamps {
                    tsval: be32(data),
                    tsecr: be32(&data[4..]),
                })
            }
            // 2 + 8n with n >= 1 (RFC 2018 §3). Spelled without `%` because clippy would ask
            // for `is_multiple_of`, which needs Rust 1.87 (the workspace's rust-version is 1.80).
            (KIND_SACK, _)
                if len > LEN_SACK_BASE
                    && data.len() / LEN_SACK_BLOCK * LEN_SACK_BLOCK == data.len() =>
            {
                o.sack_blocks = [SackBlock::default(); MAX_SACK_BLOCKS];
                o.sack_count = 0;
                for b in data.chunks_exact(LEN_SACK_BLOCK).take(MAX_SACK_BLOCKS) {
                    o.push_sack(SackBlock {
                        left: SeqNum(be32(b)),
                        right: SeqNum(be32(&b[4..])),
                    });
                }
            }
            // Unknown kinds (MUST-6) and known kinds with a wrong length: skip by length.
            _ => {}
        }
        bytes = tail;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_fast_path_matches_the_walk() {
        let mut o = full();
        for (mss, ws, tsval, tsecr) in [(1460, 7, 1, 0), (0, 0, u32::MAX, 5), (65535, 14, 9, 9)] {
            o.mss = Some(mss);
            o.window_scale = Some(ws);
            o.timestamps = Some(Timestamps { tsval, tsecr });
            let b = emit_vec(&o);
            assert_eq!(b.len(), 20);
            assert_eq!(parse_options(&b), parse_options_walk(&b));
            assert_eq!(parse_options(&b), Ok(o));
        }
        // Near misses (a byte changed in each fixed position, or a trailing byte) go the
        // general way and parse (or fail) as before.
        let b = emit_vec(&full());
        for i in [0, 1, 4, 5, 6, 7, 16, 17, 18] {
            for v in [0, 1, 2, 3, 9, 255] {
                let mut c = b.clone();
                c[i] = v;
                assert_eq!(parse_options(&c), parse_options_walk(&c), "byte {i} = {v}");
            }
        }
        let mut c = b.clone();
        c.push(KIND_EOL);
        assert_eq!(parse_options(&c), parse_options_walk(&c));
    }

    #[test]
    fn timestamps_fast_path_matches_the_walk() {
        for (tsval, tsecr) in [(0, 0), (1, u32::MAX), (0x0102_0304, 0xA0B0_C0D0)] {
            let mut b = vec![KIND_NOP, KIND_NOP, KIND_TIMESTAMPS, LEN_TIMESTAMPS as u8];
            b.extend_from_slice(&u32::to_be_bytes(tsval));
            b.extend_from_slice(&u32::to_be_bytes(tsecr));
            let fast = parse_options(&b).unwrap();
            assert_eq!(fast, parse_options_walk(&b).unwrap());
            assert_eq!(fast.timestamps, Some(Timestamps { tsval, tsecr }));
            // What our own emitter writes for a data segment takes the fast path.
            let mut out = [0u8; 40];
            let n = write_options(&fast, &mut out).unwrap();
            assert_eq!(&out[..n], &b[..]);
        }
        // Near misses go the general way and still parse (or fail) as before.
        let mut b = vec![KIND_NOP, KIND_NOP, KIND_TIMESTAMPS, LEN_TIMESTAMPS as u8];
        b.extend_from_slice(&[0; 8]);
        b.push(KIND_EOL);
        assert_eq!(parse_options(&b), parse_options_walk(&b));
        b[3] = 9;
        b.truncate(12);
        assert_eq!(parse_options(&b), parse_options_walk(&b));
    }

    fn full() -> TcpOptions {
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some(Timestamps {
                tsval: 0x01020304,
                tsecr: 0,
            }),
            ..TcpOptions::default()
        }
    }

    fn emit_vec(o: &TcpOptions) -> Vec<u8> {
        let mut buf = [0xEEu8; 60];
        let n = write_options(o, &mut buf).unwrap();
        assert_eq!(n, options_len(o));
        assert_eq!(n % 4, 0);
        buf[..n].to_vec()
    }

    fn sack(l: u32, r: u32) -> SackBlock {
        SackBlock {
            left: SeqNum(l),
            right: SeqNum(r),
        }
    }

    #[test]
    fn lx_19_syn_option_layout_with_timestamps() {
        // MSS, SACKOK, TS, NOP, WS: 20 bytes, as Linux sends its SYN.
        let bytes = emit_vec(&full());
        assert_eq!(
            bytes,
            [
                2, 4, 0x05, 0xb4, // MSS 1460
                4, 2, // SACK-permitted
                8, 10, 1, 2, 3, 4, 0, 0, 0, 0, // TS
                1, // NOP
                3, 3, 7, // WS 7
            ]
        );
        assert_eq!(parse_options(&bytes), Ok(full()));
    }

    #[test]
    fn lx_19_synack_layout_without_timestamps() {
        let o = TcpOptions {
            timestamps: None,
            ..full()
        };
        let bytes = emit_vec(&o);
        assert_eq!(bytes, [2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
        assert_eq!(parse_options(&bytes), Ok(o));
    }

    #[test]
    fn lx_19_syn_layout_without_sack_or_timestamps() {
        let o = TcpOptions {
            timestamps: None,
            sack_permitted: false,
            ..full()
        };
        let bytes = emit_vec(&o);
        assert_eq!(bytes, [2, 4, 0x05, 0xb4, 1, 3, 3, 7]);
        assert_eq!(parse_options(&bytes), Ok(o));
    }

    #[test]
    fn lx_19_timestamps_without_sack_permitted() {
        let o = TcpOptions {
            sack_permitted: false,
            ..full()
        };
        let bytes = emit_vec(&o);
        assert_eq!(
            bytes,
            [2, 4, 0x05, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]
        );
    }

    #[test]
    fn lx_19_data_segment_timestamps_only() {
        let o = TcpOptions {
            timestamps: Some(Timestamps {
                tsval: 0xAABBCCDD,
                tsecr: 0x11223344,
            }),
            ..TcpOptions::default()
        };
        let bytes = emit_vec(&o);
        assert_eq!(
            bytes,
            [1, 1, 8, 10, 0xAA, 0xBB, 0xCC, 0xDD, 0x11, 0x22, 0x33, 0x44]
        );
        assert_eq!(parse_options(&bytes), Ok(o));
    }

    #[test]
    fn lx_19_sack_blocks_after_timestamps_three_fit() {
        let mut o = TcpOptions {
            timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
            ..TcpOptions::default()
        };
        for i in 0..4 {
            assert!(o.push_sack(sack(100 * i + 10, 100 * i + 20)));
        }
        assert!(!o.push_sack(sack(0, 1)));
        let bytes = emit_vec(&o);
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[..12], &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(&bytes[12..16], &[1, 1, 5, 26]);
        assert_eq!(&bytes[16..24], &[0, 0, 0, 10, 0, 0, 0, 20]);
        assert_eq!(&bytes[32..40], &[0, 0, 0, 210, 0, 0, 0, 220]);
        let back = parse_options(&bytes).unwrap();
        assert_eq!(back.sacks(), &o.sacks()[..3]);
    }

    #[test]
    fn lx_19_sack_blocks_without_timestamps_four_fit() {
        let mut o = TcpOptions::default();
        for i in 0..4 {
            o.push_sack(sack(i, i + 1));
        }
        let bytes = emit_vec(&o);
        assert_eq!(bytes.len(), 36);
        assert_eq!(&bytes[..4], &[1, 1, 5, 34]);
        assert_eq!(parse_options(&bytes), Ok(o));
    }

    #[test]
    fn lx_19_sack_permitted_alone() {
        let o = TcpOptions {
            sack_permitted: true,
            ..TcpOptions::default()
        };
        assert_eq!(emit_vec(&o), [1, 1, 4, 2]);
        assert_eq!(options_len(&TcpOptions::default()), 0);
    }

    #[test]
    fn lx_19_everything_leaves_room_for_two_sack_blocks() {
        let mut o = full();
        for i in 0..4 {
            o.push_sack(sack(i, i + 1));
        }
        let bytes = emit_vec(&o);
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[20..24], &[1, 1, 5, 18]);
        assert_eq!(parse_options(&bytes).unwrap().sacks(), &o.sacks()[..2]);
    }

    #[test]
    fn lx_19_out_of_range_sack_count_does_not_panic() {
        let o = TcpOptions {
            sack_count: 200,
            ..TcpOptions::default()
        };
        assert_eq!(emit_vec(&o).len(), 36);
    }

    #[test]
    fn must_4_mss_and_eol_and_nop() {
        let o = parse_options(&[1, 2, 4, 0x02, 0x18, 0, 2, 4, 0, 1]).unwrap();
        assert_eq!(o.mss, Some(536)); // the MSS after EOL is not read
    }

    #[test]
    fn must_69_eol_stops_parsing() {
        // Garbage (an illegal length) after EOL is never looked at.
        let o = parse_options(&[3, 3, 2, 0, 9, 0, 0, 0]).unwrap();
        assert_eq!(o.window_scale, Some(2));
        assert_eq!(parse_options(&[0, 9, 1]), Ok(TcpOptions::default()));
    }

    #[test]
    fn must_64_unaligned_options() {
        // WS at offset 0 (3 bytes) leaves MSS at offset 3, TS at 7, SACKOK at 17.
        let bytes = [
            3, 3, 9, // WS
            2, 4, 0x05, 0xa0, // MSS 1440
            8, 10, 0, 0, 0, 5, 0, 0, 0, 6, // TS
            4, 2, // SACKOK
            5, 10, 0, 0, 0, 1, 0, 0, 0, 2, // SACK, one block
            0, // EOL
        ];
        let o = parse_options(&bytes).unwrap();
        assert_eq!(o.window_scale, Some(9));
        assert_eq!(o.mss, Some(1440));
        assert_eq!(o.timestamps, Some(Timestamps { tsval: 5, tsecr: 6 }));
        assert!(o.sack_permitted);
        assert_eq!(o.sacks(), &[sack(1, 2)]);
    }

    #[test]
    fn must_6_unknown_option_skipped() {
        // Kind 30 (MPTCP) of length 6, kind 99 of length 2, then MSS.
        let bytes = [30, 6, 1, 2, 3, 4, 99, 2, 2, 4, 0x05, 0xb4];
        assert_eq!(parse_options(&bytes).unwrap().mss, Some(1460));
    }

    #[test]
    fn must_7_option_length_zero_is_dropped() {
        assert_eq!(
            parse_options(&[30, 0, 0, 0]),
            Err(ParseError::TcpOptionLength)
        );
        assert_eq!(
            parse_options(&[1, 1, 2, 0]),
            Err(ParseError::TcpOptionLength)
        );
    }

    #[test]
    fn must_7_option_length_one_is_dropped() {
        assert_eq!(
            parse_options(&[30, 1, 0, 0]),
            Err(ParseError::TcpOptionLength)
        );
        assert_eq!(
            parse_options(&[8, 1, 0, 0]),
            Err(ParseError::TcpOptionLength)
        );
    }

    #[test]
    fn must_7_option_length_past_end_is_dropped() {
        assert_eq!(
            parse_options(&[1, 1, 8, 10, 0, 0, 0, 0]),
            Err(ParseError::TcpOptionLength)
        );
        assert_eq!(
            parse_options(&[1, 1, 1, 30]),
            Err(ParseError::TcpOptionLength)
        );
        // A kind byte with no room for its length byte.
        assert_eq!(
            parse_options(&[1, 1, 1, 2]),
            Err(ParseError::TcpOptionLength)
        );
    }

    #[test]
    fn must_7_known_option_with_wrong_length_is_ignored() {
        // MSS of length 3, WS of length 4, SACKOK of length 3, TS of length 8, SACK of
        // length 9 (not 2 + 8n) and SACK of length 2 (no blocks): all skipped by length.
        let bytes = [
            2, 3, 5, // MSS len 3
            3, 4, 1, 1, // WS len 4
            4, 3, 0, // SACKOK len 3
            8, 8, 0, 0, 0, 1, 0, 0, // TS len 8
            5, 9, 0, 0, 0, 1, 0, 0, 0, // SACK len 9
            5, 2, // SACK len 2
            2, 4, 0, 100, // then a good MSS
        ];
        let o = parse_options(&bytes).unwrap();
        assert_eq!(
            o,
            TcpOptions {
                mss: Some(100),
                ..TcpOptions::default()
            }
        );
    }

    #[test]
    fn duplicate_option_later_wins() {
        let o = parse_options(&[2, 4, 0, 1, 2, 4, 0, 2, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]).unwrap();
        assert_eq!(o.mss, Some(2));
        let o2 =
            parse_options(&[5, 10, 0, 0, 0, 7, 0, 0, 0, 8, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]).unwrap();
        assert_eq!(o2.sacks(), &[sack(1, 2)]);
    }

    #[test]
    fn must_68_every_emitted_option_has_a_length_byte() {
        let mut o = full();
        o.push_sack(sack(5, 9));
        let bytes = emit_vec(&o);
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                KIND_NOP => i += 1,
                KIND_EOL => panic!("no EOL expected in the LX-19 layout"),
                _ => {
                    assert!(bytes[i + 1] >= 2);
                    i += bytes[i + 1] as usize;
                }
            }
        }
        assert_eq!(i, bytes.len());
    }

    #[test]
    fn write_options_refuses_a_short_buffer() {
        assert_eq!(write_options(&full(), &mut [0u8; 19]), None);
    }
}
