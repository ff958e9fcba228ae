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

use core::mem::MaybeUninit;
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
        return sum_short(data);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = avx512::sum(data).or_else(|| avx2::sum(data)) {
        return s;
    }
    sum_lanes(data)
}

/// Copies `src` into the front of `dst` and returns [`sum`] of the bytes copied, in one pass
/// over the data. The sender copies each payload byte from its send ring into the packet
/// and must checksum it (MUST-2); doing both in one pass reads the ring once instead of
/// reading the packet again (the bulk profile had the copy and the sum as separate passes).
///
/// Panics if `dst` is shorter than `src`.
pub fn copy_and_sum(dst: &mut [u8], src: &[u8]) -> u64 {
    let dst = &mut dst[..src.len()];
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and `copy_and_sum_uninit` only
    // writes initialised bytes (copies of `src`), so `dst` stays initialised throughout.
    let uninit = unsafe {
        core::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<MaybeUninit<u8>>(), dst.len())
    };
    copy_and_sum_uninit(uninit, src)
}

/// [`copy_and_sum`] into memory that may not be initialised yet (a ring's spare capacity):
/// on return the first `src.len()` slots of `dst` hold `src`. The receiver copies each
/// payload byte from the packet into its receive ring and must verify the checksum over it
/// (MUST-3); summing while copying reads the packet once instead of twice.
///
/// Panics if `dst` is shorter than `src`.
pub fn copy_and_sum_uninit(dst: &mut [MaybeUninit<u8>], src: &[u8]) -> u64 {
    let dst = &mut dst[..src.len()];
    if src.len() >= 128 {
        #[cfg(target_arch = "x86_64")]
        if let Some(s) = avx512::copy_and_sum(dst, src).or_else(|| avx2::copy_and_sum(dst, src)) {
            return s;
        }
    }
    // SAFETY: `dst` is exactly `src.len()` writable slots (sliced above) and cannot overlap
    // `src`, which is borrowed immutably while `dst` is borrowed mutably.
    unsafe {
        core::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), src.len())
    };
    sum(src)
}

/// [`sum`] without SIMD instructions: 32 bytes per step into four independent u64 lanes.
fn sum_lanes(data: &[u8]) -> u64 {
    // Loaded in the machine's little-endian order (no byte swaps). RFC 1071 §2 (B): the
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

/// The sum with AVX2, 32 bytes per instruction, when the CPU has it (checked at run time:
/// the crate is built for baseline x86-64, which stops at SSE2).
///
/// Each 32-byte block is taken as sixteen little-endian 16-bit words `u`. `vpmaddwd` adds
/// adjacent *signed* 16-bit words into 32-bit lanes, so each word first has its top bit
/// flipped, which makes it the signed value `u − 32768` exactly; the true sum is then the
/// lanes' sum plus 32768 per word, a constant. RFC 1071 §2 (B) makes the little-endian sum,
/// folded and byte-swapped, the big-endian one (as in [`sum_lanes`]). This halved the
/// checksum's cost against the u64 lanes (3 vector operations per 32 bytes).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{fold, sum_be};
    use core::arch::x86_64::*;
    use core::mem::MaybeUninit;

    /// Blocks summed into one set of i32 lanes before they are widened: each step moves a
    /// lane by at most 2^16 in magnitude, so 2^14 steps stay far below 2^31.
    const BLOCKS_PER_PASS: usize = 1 << 14;

    /// [`super::sum`] of `data`, or None without AVX2.
    pub(super) fn sum(data: &[u8]) -> Option<u64> {
        if !std::is_x86_feature_detected!("avx2") {
            return None;
        }
        // SAFETY: the CPU has AVX2 (checked just above), the only requirement of a
        // `target_feature(enable = "avx2")` function.
        Some(unsafe { sum_avx2(data) })
    }

    /// [`super::copy_and_sum_uninit`] (`dst.len() == src.len()`), or None without AVX2.
    pub(super) fn copy_and_sum(dst: &mut [MaybeUninit<u8>], src: &[u8]) -> Option<u64> {
        if !std::is_x86_feature_detected!("avx2") {
            return None;
        }
        // SAFETY: as in `sum`.
        Some(unsafe { copy_and_sum_avx2(src, dst) })
    }

    /// `vpmaddwd` of a block with its words' top bits flipped: eight i32 lanes, each the
    /// sum of two words minus 2 · 32768.
    #[target_feature(enable = "avx2")]
    fn pair_sums(v: __m256i) -> __m256i {
        _mm256_madd_epi16(
            _mm256_xor_si256(v, _mm256_set1_epi16(i16::MIN)),
            _mm256_set1_epi16(1),
        )
    }

    /// The sum of the eight i32 lanes.
    #[target_feature(enable = "avx2")]
    fn lanes_total(acc: __m256i) -> i64 {
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` is 32 writable bytes; storeu has no alignment needs.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc) };
        lanes.iter().map(|&l| i64::from(l)).sum()
    }

    /// The exact little-endian word sum of `blocks` 32-byte blocks from the lanes' total
    /// (32768 added back for each of their 16 words), folded and byte-swapped, plus the sum
    /// of the tail that follows them.
    fn finish(total: i64, blocks: usize, tail: &[u8]) -> u64 {
        let le = (total + 32768 * 16 * blocks as i64) as u64;
        u64::from(fold(le).swap_bytes()) + sum_be(tail)
    }

    #[target_feature(enable = "avx2")]
    fn sum_avx2(src: &[u8]) -> u64 {
        let whole = src.len() / 32 * 32;
        let mut total: i64 = 0;
        for pass in src[..whole].chunks(BLOCKS_PER_PASS * 32) {
            let mut acc = _mm256_setzero_si256();
            for b in pass.chunks_exact(32) {
                // SAFETY: `b` is exactly 32 readable bytes; loadu has no alignment needs.
                let v = unsafe { _mm256_loadu_si256(b.as_ptr().cast()) };
                acc = _mm256_add_epi32(acc, pair_sums(v));
            }
            total += lanes_total(acc);
        }
        finish(total, whole / 32, &src[whole..])
    }

    /// Copies `src` into `dst` (same length) and sums it. 64 bytes per step with two
    /// accumulators: one 32-byte block per step was bound by its single add chain (38 against
    /// 57 GB/s on 1460-byte payloads, measured on the bench machine).
    ///
    /// `dst` may be uninitialised: it is only written (whole copies of `src`), never read.
    #[target_feature(enable = "avx2")]
    fn copy_and_sum_avx2(src: &[u8], dst: &mut [MaybeUninit<u8>]) -> u64 {
        assert_eq!(src.len(), dst.len());
        let whole = src.len() / 32 * 32;
        let mut total: i64 = 0;
        let passes = src[..whole].chunks(BLOCKS_PER_PASS * 32);
        for (s, d) in passes.zip(dst[..whole].chunks_mut(BLOCKS_PER_PASS * 32)) {
            let (mut a0, mut a1) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            let mut s64 = s.chunks_exact(64);
            let mut d64 = d.chunks_exact_mut(64);
            for (b, o) in (&mut s64).zip(&mut d64) {
                let (b0, b1) = b.split_at(32);
                let (o0, o1) = o.split_at_mut(32);
                // SAFETY: each of b0, b1, o0, o1 is exactly 32 bytes (readable or writable
                // and borrowed mutably; storing into uninitialised slots is allowed);
                // loadu/storeu have no alignment needs.
                unsafe {
                    let v0 = _mm256_loadu_si256(b0.as_ptr().cast());
                    let v1 = _mm256_loadu_si256(b1.as_ptr().cast());
                    _mm256_storeu_si256(o0.as_mut_ptr().cast(), v0);
                    _mm256_storeu_si256(o1.as_mut_ptr().cast(), v1);
                    a0 = _mm256_add_epi32(a0, pair_sums(v0));
                    a1 = _mm256_add_epi32(a1, pair_sums(v1));
                }
            }
            // A pass is whole 32-byte blocks, so at most one is left over.
            let (b, o) = (s64.remainder(), d64.into_remainder());
            if b.len() == 32 {
                // SAFETY: `b` and `o` are exactly 32 bytes, as above.
                unsafe {
                    let v = _mm256_loadu_si256(b.as_ptr().cast());
                    _mm256_storeu_si256(o.as_mut_ptr().cast(), v);
                    a0 = _mm256_add_epi32(a0, pair_sums(v));
                }
            }
            total += lanes_total(_mm256_add_epi32(a0, a1));
        }
        let tail = &src[whole..];
        // SAFETY: `dst[whole..]` has `tail.len()` writable slots (equal lengths, asserted
        // above); the two are distinct borrows, so they cannot overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(
                tail.as_ptr(),
                dst[whole..].as_mut_ptr().cast::<u8>(),
                tail.len(),
            )
        };
        finish(total, whole / 32, tail)
    }
}

/// The sum and the copy-and-sum with AVX-512 (F and BW), 64 bytes per instruction, when the
/// CPU has them (checked at run time, as for AVX2).
///
/// The same arithmetic as [`avx2`] on registers twice as wide: each 64-byte block is 32
/// little-endian words with their top bits flipped, `vpmaddwd` adds pairs into sixteen i32
/// lanes, and the constant 32768 per word is added back at the end. The ragged end (under
/// 64 bytes) is one masked load and store: masked-off bytes read as zero, which is RFC 1071's
/// pad for an odd final byte and adds nothing otherwise, and masked-off bytes are neither
/// read (no fault past the end) nor written. On the bench machine, with the data in L1, it
/// ran the fused copy-and-sum of a 1460-byte payload at 1.3-1.8x the AVX2 version's rate
/// (which was a third of plain memcpy's). In the bulk benchmark it gains nothing: there the
/// copies wait on the L2 cache.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::fold;
    use core::arch::x86_64::*;
    use core::mem::MaybeUninit;

    /// 128-byte steps taken before the lanes are widened. A step moves each lane of each of
    /// the two accumulators by at most 2^16 in magnitude, and the two are added before they
    /// are widened: 2 · (2^13 + 1) such moves stay below 2^31.
    const STEPS_PER_PASS: usize = 1 << 13;

    /// Shorter pieces go to AVX2: from 128 to 255 bytes the AVX-512 version ran at 0.74-0.82x
    /// of it (measured interleaved on the bench machine), from 256 bytes up at 1.2-1.8x, and
    /// level with it at 64 KiB, where both wait on the L2 cache like memcpy.
    const MIN_LEN: usize = 256;

    fn available(len: usize) -> bool {
        len >= MIN_LEN
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
    }

    /// [`super::sum`] of `data`, or None without AVX-512 F and BW or under [`MIN_LEN`].
    pub(super) fn sum(data: &[u8]) -> Option<u64> {
        if !available(data.len()) {
            return None;
        }
        // SAFETY: the CPU has AVX-512 F and BW (checked just above), the only requirement
        // of a `target_feature(enable = "avx512f,avx512bw")` function. No destination.
        Some(unsafe { copy_and_sum_avx512(data, None) })
    }

    /// [`super::copy_and_sum_uninit`] (`dst.len() == src.len()`), or None without AVX-512
    /// or under [`MIN_LEN`].
    pub(super) fn copy_and_sum(dst: &mut [MaybeUninit<u8>], src: &[u8]) -> Option<u64> {
        if !available(src.len()) {
            return None;
        }
        assert_eq!(src.len(), dst.len());
        // SAFETY: as in `sum`; `dst` is `src.len()` writable slots (asserted just above).
        Some(unsafe { copy_and_sum_avx512(src, Some(dst)) })
    }

    /// `vpmaddwd` of a block with its words' top bits flipped: sixteen i32 lanes, each the
    /// sum of two words minus 2 · 32768.
    #[target_feature(enable = "avx512f,avx512bw")]
    fn pair_sums(v: __m512i) -> __m512i {
        _mm512_madd_epi16(
            _mm512_xor_si512(v, _mm512_set1_epi16(i16::MIN)),
            _mm512_set1_epi16(1),
        )
    }

    /// The sum of the sixteen i32 lanes, widened (their total can exceed i32).
    #[target_feature(enable = "avx512f,avx512bw")]
    fn lanes_total(acc: __m512i) -> i64 {
        let lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc));
        let hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(acc));
        _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi))
    }

    /// Sums `src` and, when `dst` is given (same length), copies it there. One function for
    /// both so that the sum-only path is the copying one minus its stores.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F and BW; `dst`, if any, must be `src.len()` slots.
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn copy_and_sum_avx512(src: &[u8], dst: Option<&mut [MaybeUninit<u8>]>) -> u64 {
        let len = src.len();
        let s = src.as_ptr();
        let d = dst.map(|d| d.as_mut_ptr().cast::<u8>());
        let (mut total, mut at) = (0i64, 0usize);
        // Two independent accumulators (one add chain per block bounded the AVX2 version),
        // widened into `total` every STEPS_PER_PASS steps and once at the end: a 1460-byte
        // payload pays for one widening, not one per loop (measured: the widening and the
        // ragged end's own accumulator were a third of the time at that size).
        let (mut a0, mut a1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        let mut steps_left = STEPS_PER_PASS;
        while len - at >= 128 {
            if steps_left == 0 {
                total += lanes_total(_mm512_add_epi32(a0, a1));
                (a0, a1) = (_mm512_setzero_si512(), _mm512_setzero_si512());
                steps_left = STEPS_PER_PASS;
            }
            steps_left -= 1;
            // SAFETY: `at + 128 <= len`: 128 readable bytes of `src` and, with a
            // destination, 128 writable slots of `dst`; loadu/storeu need no alignment.
            unsafe {
                let v0 = _mm512_loadu_si512(s.add(at).cast());
                let v1 = _mm512_loadu_si512(s.add(at + 64).cast());
                if let Some(d) = d {
                    _mm512_storeu_si512(d.add(at).cast(), v0);
                    _mm512_storeu_si512(d.add(at + 64).cast(), v1);
                }
                a0 = _mm512_add_epi32(a0, pair_sums(v0));
                a1 = _mm512_add_epi32(a1, pair_sums(v1));
            }
            at += 128;
        }
        // The last 0..128 bytes: a whole block into `a0` if there is one, then what is left
        // (under 64 bytes) masked into `a1`; each accumulator takes at most one step more
        // than a pass allows, still far from overflow.
        if len - at >= 64 {
            // SAFETY: `at + 64 <= len`, as above.
            unsafe {
                let v = _mm512_loadu_si512(s.add(at).cast());
                if let Some(d) = d {
                    _mm512_storeu_si512(d.add(at).cast(), v);
                }
                a0 = _mm512_add_epi32(a0, pair_sums(v));
            }
            at += 64;
        }
        if at < len {
            // `len - at` is under 64 here, so the shift is in range.
            let mask: __mmask64 = (1u64 << (len - at)) - 1;
            // SAFETY: the mask selects bytes `at..len` only, all within `src` (and `dst`);
            // masked-off bytes are not accessed and cannot fault.
            unsafe {
                let v = _mm512_maskz_loadu_epi8(mask, s.add(at).cast());
                if let Some(d) = d {
                    _mm512_mask_storeu_epi8(d.add(at).cast(), mask, v);
                }
                a1 = _mm512_add_epi32(a1, pair_sums(v));
            }
        }
        total += lanes_total(_mm512_add_epi32(a0, a1));
        let blocks = len.div_ceil(64);
        // Add back 32768 for each of the 32 words of every block (zero pads included: a pad
        // word is 0 flipped to -32768, and adding 32768 back makes it count as 0), then fold
        // the little-endian sum and swap it to the big-endian one (RFC 1071 §2 (B)).
        let le = (total + 32768 * 32 * blocks as i64) as u64;
        u64::from(fold(le).swap_bytes())
    }
}

/// [`sum`] of a short piece (headers, small segments): eight bytes a step as one
/// little-endian word added with end-around carry, about half the instructions of
/// [`sum_be`]'s two byte-swapped halves a step (issue 3's churn verifies and writes only
/// such pieces). RFC 1071 §2: the one's-complement sum is the same modulo 2^16 − 1 whatever
/// the word width (2^64 ≡ 2^32 ≡ 1), and byte-order independent, so the little-endian sum,
/// folded and byte-swapped, is congruent to the big-endian one. A nonzero piece gives a
/// nonzero sum (end-around carry never yields 0 from nonzero terms), as `sum_be` does, so
/// folded results match the textbook algorithm exactly, "negative zero" included.
fn sum_short(data: &[u8]) -> u64 {
    let add = |acc: u64, w: u64| {
        let (s, carry) = acc.overflowing_add(w);
        s + u64::from(carry) // s <= 2^64 - 2 when it carried
    };
    let mut acc = 0u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        acc = add(acc, u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    // The last 0..=7 bytes as one zero-padded little-endian word; every piece starts at an
    // even offset, so an odd final byte lands in the low byte of a 16-bit lane, which is
    // the high byte of its big-endian word, as RFC 1071's zero pad wants.
    let mut rest = chunks.remainder();
    let (mut w, mut shift) = (0u64, 0);
    if rest.len() >= 4 {
        w = u64::from(u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]));
        shift = 32;
        rest = &rest[4..];
    }
    if rest.len() >= 2 {
        w |= u64::from(u16::from_le_bytes([rest[0], rest[1]])) << shift;
        shift += 16;
        rest = &rest[2..];
    }
    if let [last] = rest {
        w |= u64::from(*last) << shift;
    }
    u64::from(fold(add(acc, w)).swap_bytes())
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
#[inline]
pub fn fold(acc: u64) -> u16 {
    // A fixed sequence of end-around-carry steps, no loop: every packet folds two or three
    // sums (IP header, TCP segment), and the loop's data-dependent branch cost more than the
    // steps (issue 3's churn). Each step keeps the value congruent modulo 2^16 − 1 (2^32
    // and 2^16 are both ≡ 1) and maps a nonzero value to a nonzero one, so the result is the
    // one end-around carry gives, 0 only for 0 (see `fold_loop` in the tests). Bounds:
    // < 2^33 after the first step, < 2^18 after the second, <= 0x1_0002 after the third,
    // <= 0xFFFF after the fourth.
    let acc = (acc >> 32) + (acc & 0xFFFF_FFFF);
    let acc = (acc >> 16) + (acc & 0xFFFF);
    let acc = (acc >> 16) + (acc & 0xFFFF);
    let acc = (acc >> 16) + (acc & 0xFFFF);
    debug_assert!(acc <= 0xFFFF);
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

    /// End-around carry as RFC 1071 §4.1 writes it: fold while anything is above 16 bits.
    fn fold_loop(mut acc: u64) -> u16 {
        while acc > 0xFFFF {
            acc = (acc & 0xFFFF) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn ep_1_short_sum_matches_naive_at_every_length_and_with_every_carry() {
        // All ones carries out of every word; a ramp and a single high byte check lane
        // order and the odd final byte.
        for len in 0..=130 {
            let ones = vec![0xFFu8; len];
            let ramp: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut last = vec![0u8; len];
            if let Some(b) = last.last_mut() {
                *b = 0x80;
            }
            for data in [&ones, &ramp, &last] {
                assert_eq!(fold(sum_short(data)), naive_sum16(data), "len {len}");
                assert_eq!(fold(sum_short(data)), fold(sum_be(data)), "len {len}");
            }
        }
    }

    #[test]
    fn fold_matches_the_loop_at_the_edges() {
        let edges = [
            0,
            1,
            0xFFFE,
            0xFFFF,
            0x1_0000,
            0x1_0001,
            0x1_FFFE,
            0x1_FFFF,
            0xFFFF_FFFF,
            0x1_0000_0000,
            0xFFFF_0000_FFFF,
            0xFFFF_FFFF_FFFF,
            u64::MAX - 1,
            u64::MAX,
            0x8000_0000_0000_0000,
            0x0001_0001_0001_0001,
        ];
        for v in edges {
            assert_eq!(fold(v), fold_loop(v), "{v:#x}");
        }
        // Every multiple of 0xFFFF but 0 is the one's-complement "negative zero".
        for k in [1u64, 2, 0x1_0001, 0xFFFF_FFFF, u64::MAX / 0xFFFF] {
            assert_eq!(fold(0xFFFF * k), 0xFFFF);
        }
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

    #[test]
    fn copy_and_sum_equals_copy_then_sum() {
        // Every length 0..=2000 (both sides of the 128-byte cut-over and of 32-byte blocks)
        // at odd and even alignments of source and destination.
        let src: Vec<u8> = (0..2100u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut dst = vec![0u8; 2100];
        for len in 0..=2000 {
            for (so, d_off) in [(0, 0), (1, 0), (0, 3), (3, 1), (7, 5)] {
                let s = &src[so..so + len];
                dst.fill(0xA5);
                let got = copy_and_sum(&mut dst[d_off..], s);
                assert_eq!(&dst[d_off..d_off + len], s, "copy, len {len}");
                assert_eq!(dst[d_off + len], 0xA5, "nothing written past the end");
                assert_eq!(fold(got), fold(sum(s)), "sum, len {len}");
                assert_eq!(fold(got), naive_sum16(s), "naive, len {len}");
            }
        }
    }

    /// Every implementation this CPU can run, each against the textbook sum, at every length
    /// 0..=1100 (both sides of the 64- and 128-byte steps and of the masked ragged end) and
    /// odd and even alignments; the dispatching functions above only reach the widest one.
    #[test]
    fn ep_1_each_simd_implementation_matches_naive() {
        use core::mem::MaybeUninit;
        type Sum = fn(&[u8]) -> Option<u64>;
        type CopySum = fn(&mut [MaybeUninit<u8>], &[u8]) -> Option<u64>;
        let mut impls: Vec<(&str, Sum, CopySum)> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            impls.push(("avx2", avx2::sum, avx2::copy_and_sum));
            impls.push(("avx512", avx512::sum, avx512::copy_and_sum));
        }
        let src: Vec<u8> = (0..1200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        let ones = vec![0xFFu8; 1200];
        let mut ran = 0;
        for (name, sum_fn, copy_fn) in impls {
            for len in 0..=1100 {
                for (data, so, d_off) in [(&src, 0, 0), (&src, 1, 3), (&ones, 0, 1), (&ones, 5, 0)]
                {
                    let s = &data[so..so + len];
                    let Some(got) = sum_fn(s) else { continue };
                    assert_eq!(fold(got), naive_sum16(s), "{name} sum, len {len}");
                    let mut out = vec![MaybeUninit::new(0xA5u8); len + 8];
                    let got = copy_fn(&mut out[d_off..d_off + len], s).expect("same CPU");
                    assert_eq!(fold(got), naive_sum16(s), "{name} copy_and_sum, len {len}");
                    // SAFETY: every slot was initialised (0xA5, or a copy of `s`).
                    let out: Vec<u8> = out.iter().map(|b| unsafe { b.assume_init() }).collect();
                    assert_eq!(&out[d_off..d_off + len], s, "{name} copy, len {len}");
                    assert!(out[..d_off].iter().all(|&b| b == 0xA5), "{name}: before");
                    assert!(
                        out[d_off + len..].iter().all(|&b| b == 0xA5),
                        "{name}: after"
                    );
                    ran += 1;
                }
            }
        }
        // Say so when the CPU had neither (the portable path is tested on its own).
        if ran == 0 {
            eprintln!("no SIMD checksum on this CPU: only the portable sum was tested");
        }
    }

    #[test]
    fn ep_1_lanes_and_simd_agree_across_pass_boundaries() {
        // Longer than one AVX2 pass (2^14 blocks = 512 KiB) and one AVX-512 pass (2^13 steps
        // of 128 bytes = 1 MiB), with all-0xFF words (the
        // largest lane steps) and a ragged tail.
        let mut data = vec![0xFFu8; (1 << 21) + 32 * 3 + 7];
        assert_eq!(fold(sum(&data)), fold(sum_lanes(&data)));
        assert_eq!(fold(sum(&data)), naive_sum16(&data));
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i * 7 + i / 3) as u8;
        }
        assert_eq!(fold(sum(&data)), naive_sum16(&data));
        let mut out = vec![0u8; data.len()];
        assert_eq!(fold(copy_and_sum(&mut out, &data)), naive_sum16(&data));
        assert_eq!(out, data);
    }

    #[test]
    fn copy_and_sum_uninit_fills_spare_capacity() {
        // Into a Vec's spare capacity (never initialised), every length around the SIMD
        // cut-over and block sizes; the slots past the copy are left alone.
        let src: Vec<u8> = (0..700u32).map(|i| (i * 73 + 5) as u8).collect();
        for len in (0..=700)
            .step_by(7)
            .chain([31, 32, 33, 127, 128, 129, 255, 256, 257])
        {
            let mut v: Vec<u8> = Vec::with_capacity(len + 8);
            let s = copy_and_sum_uninit(&mut v.spare_capacity_mut()[..len], &src[..len]);
            // SAFETY: copy_and_sum_uninit initialised the first `len` slots, within capacity.
            unsafe { v.set_len(len) };
            assert_eq!(v, &src[..len]);
            assert_eq!(fold(s), naive_sum16(&src[..len]), "len {len}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn ep_1_short_sum_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            prop_assert_eq!(fold(sum_short(&data)), naive_sum16(&data));
        }

        #[test]
        fn fold_matches_the_loop(v in any::<u64>(), shift in 0u32..64) {
            // Values of every magnitude, not only near 2^64.
            let v = v >> shift;
            prop_assert_eq!(fold(v), fold_loop(v));
        }

        #[test]
        fn ep_1_portable_lanes_match_naive(data in proptest::collection::vec(any::<u8>(), 0..1500)) {
            prop_assert_eq!(fold(sum_lanes(&data)), naive_sum16(&data));
        }

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
