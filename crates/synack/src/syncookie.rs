//! SYN cookies (RFC 4987 §3.6, checklist SF-4..SF-7), with Linux's encoding.
//!
//! When a listener's half-open queue is full (Linux `tcp_syncookies = 1`; `Config::syncookies`
//! can say always or never), the SYN,ACK is sent without keeping any state: everything needed
//! to rebuild the connection lives in our ISN, and the options in our TSval.
//!
//! ISN = H1(tuple) + peer ISN + (minute << 24) + ((H2(tuple, minute) + mss index) mod 2^24)
//! (SF-5). A cookie is valid for two minute ticks. When the SYN carried timestamps, the low 6
//! bits of our TSval hold the window scale (bits 0-3, 0xF = none), SACK-permitted (bit 4) and
//! ECN (bit 5, unused here) (SF-6); the peer echoes them back in TSecr.
//!
//! Secret rotation (RFC 4987 §3.6: change the secret regularly so a recovered secret is
//! useful only for a while). Like Linux the MAC covers the coarse minute counter, and on top
//! of that the secret itself rotates every [`ROTATION_TICKS`] minute ticks, driven only by the
//! time passed in. The current and the previous secret are kept: since a rotation period is
//! no shorter than the cookie lifetime, every cookie younger than two ticks was minted under
//! one of the two, and a cookie from two rotations ago finds its secret gone.

use crate::isn::IsnGenerator;
use crate::seq::SeqNum;
use crate::time::Instant;
use std::net::SocketAddr;

/// When cookies are used (Linux `net.ipv4.tcp_syncookies`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynCookies {
    /// Never: a full half-open queue drops SYNs (0).
    Never,
    /// Only when the half-open queue is full (1, the default).
    WhenFull,
    /// For every SYN: no half-open state at all (2).
    Always,
}

/// MSS values a cookie can carry; the peer's MSS is rounded down to one of them (SF-5).
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// A cookie older than this many minute ticks is rejected (LX-9: at most 2 min).
const MAX_AGE: u32 = 2;
/// Minute ticks between scheduled secret rotations. Must be at least `MAX_AGE`, or a cookie
/// could lose its secret while still young enough to be accepted.
pub const ROTATION_TICKS: u64 = MAX_AGE as u64;
const _: () = assert!(ROTATION_TICKS >= MAX_AGE as u64);
const TS_OPT_BITS: u32 = 6;
const TS_OPT_MASK: u32 = (1 << TS_OPT_BITS) - 1;
const WS_NONE: u32 = 0xF;
const SACK_BIT: u32 = 1 << 4;
/// SF-6: bit 5, the ECN-setup SYN was accepted (RFC 3168).
const ECN_BIT: u32 = 1 << 5;

fn minute(now: Instant) -> u32 {
    (now.as_micros() / 60_000_000) as u32
}

/// The rotation epoch of `now`: the secret in force then.
pub fn epoch(now: Instant) -> u64 {
    now.as_micros() / 60_000_000 / ROTATION_TICKS
}

/// Index of the largest table MSS not above `mss`.
pub fn mss_index(mss: u16) -> usize {
    MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0)
}

/// Our ISN for a stateless SYN,ACK (SF-5).
pub fn make(
    isn: &mut IsnGenerator,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    peer_isn: SeqNum,
    mss_idx: usize,
) -> SeqNum {
    isn.cookie_secrets_mut().advance_to(epoch(now));
    let count = minute(now);
    let h1 = isn.cookie_hash(0, local, remote, 0);
    let h2 = isn.cookie_hash(1, local, remote, count);
    let low = (h2.wrapping_add(mss_idx as u32)) & 0x00FF_FFFF;
    SeqNum(
        h1.wrapping_add(peer_isn.0)
            .wrapping_add(count << 24)
            .wrapping_add(low),
    )
}

/// Check the cookie in `cookie` (= SEG.ACK - 1) against the peer's ISN (= SEG.SEQ - 1);
/// the MSS index it carries, if valid under the current or previous secret and at most two
/// minutes old.
pub fn check(
    isn: &mut IsnGenerator,
    now: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    peer_isn: SeqNum,
    cookie: SeqNum,
) -> Option<usize> {
    isn.cookie_secrets_mut().advance_to(epoch(now));
    let count = minute(now);
    isn.with_cookie_hashes(|hash| {
        let h1 = hash(0, local, remote, 0);
        let v = cookie.0.wrapping_sub(h1).wrapping_sub(peer_isn.0);
        // The minute counter is carried in the top 8 bits; its age modulo 256.
        let age = count.wrapping_sub(v >> 24) & 0xFF;
        if age >= MAX_AGE {
            return None;
        }
        let made = count.wrapping_sub(age);
        let h2 = hash(1, local, remote, made);
        let low = v.wrapping_sub(made << 24).wrapping_sub(h2) & 0x00FF_FFFF;
        ((low as usize) < MSS_TABLE.len()).then_some(low as usize)
    })
}

/// Our SYN,ACK TSval with the options folded into its low bits (SF-6); never ahead of `ts`.
pub fn encode_ts(ts: u32, wscale: Option<u8>, sack: bool, ecn: bool) -> u32 {
    let bits = wscale.map_or(WS_NONE, |w| w.min(14) as u32)
        | if sack { SACK_BIT } else { 0 }
        | if ecn { ECN_BIT } else { 0 };
    let v = (ts & !TS_OPT_MASK) | bits;
    if v > ts {
        v.wrapping_sub(TS_OPT_MASK + 1)
    } else {
        v
    }
}

/// The options folded into an echoed TSecr: (window scale, SACK-permitted, ECN).
pub fn decode_ts(tsecr: u32) -> (Option<u8>, bool, bool) {
    let ws = tsecr & 0xF;
    (
        (ws != WS_NONE).then_some(ws as u8),
        tsecr & SACK_BIT != 0,
        tsecr & ECN_BIT != 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (SocketAddr, SocketAddr) {
        (
            "198.18.0.2:80".parse().unwrap(),
            "198.18.0.1:40000".parse().unwrap(),
        )
    }

    #[test]
    fn sf_5_cookie_round_trip_and_mss_rounded_down() {
        let mut g = IsnGenerator::new([7; 16]);
        let (l, r) = addrs();
        let t0 = Instant::from_secs(1000);
        for (mss, want) in [
            (1460, 1460),
            (1400, 1300),
            (9000, 1460),
            (600, 536),
            (100, 536),
        ] {
            let idx = mss_index(mss);
            assert_eq!(MSS_TABLE[idx], want);
            let c = make(&mut g, t0, l, r, SeqNum(12345), idx);
            assert_eq!(check(&mut g, t0, l, r, SeqNum(12345), c), Some(idx));
        }
    }

    #[test]
    fn sf_5_cookie_expires_after_two_minutes_and_forgeries_fail() {
        let mut g = IsnGenerator::new([7; 16]);
        let (l, r) = addrs();
        let t0 = Instant::from_secs(6000);
        let c = make(&mut g, t0, l, r, SeqNum(1), 3);
        assert_eq!(
            check(&mut g, Instant::from_secs(6059), l, r, SeqNum(1), c),
            Some(3)
        );
        assert_eq!(
            check(&mut g, Instant::from_secs(6119), l, r, SeqNum(1), c),
            Some(3)
        );
        assert_eq!(
            check(&mut g, Instant::from_secs(6121), l, r, SeqNum(1), c),
            None
        );
        // Another peer ISN (beyond the MSS-index slack), another tuple, another key, or a
        // guessed value: rejected.
        assert_eq!(check(&mut g, t0, l, r, SeqNum(1001), c), None);
        let other: SocketAddr = "198.18.0.9:40000".parse().unwrap();
        assert_eq!(check(&mut g, t0, l, other, SeqNum(1), c), None);
        assert_eq!(
            check(&mut IsnGenerator::new([8; 16]), t0, l, r, SeqNum(1), c),
            None
        );
        let forged = (0..10_000u32)
            .filter(|i| {
                check(
                    &mut g,
                    t0,
                    l,
                    r,
                    SeqNum(1),
                    SeqNum(i.wrapping_mul(2_654_435_761)),
                )
                .is_some()
            })
            .count();
        assert!(forged <= 2, "{forged} of 10000 random cookies validated");
    }

    #[test]
    fn sf_6_options_ride_in_the_timestamp() {
        for (ws, sack, ecn) in [
            (Some(7), true, false),
            (None, false, true),
            (Some(0), false, false),
            (Some(14), true, true),
        ] {
            let ts = encode_ts(1_000_000, ws, sack, ecn);
            assert!(ts <= 1_000_000 && 1_000_000 - ts < 128);
            assert_eq!(decode_ts(ts), (ws, sack, ecn));
        }
    }

    /// Mint at `t`, check at `later` on the same generator.
    fn mint_then_check(g: &mut IsnGenerator, t: Instant, later: Instant) -> Option<usize> {
        let (l, r) = addrs();
        let c = make(g, t, l, r, SeqNum(77), 2);
        check(g, later, l, r, SeqNum(77), c)
    }

    #[test]
    fn sf_5_rotation_cookie_minted_just_before_a_rotation_validates_after_it() {
        let mut g = IsnGenerator::new([9; 16]);
        // Rotation epochs are 120 s long: 6000 s starts epoch 50, 6120 s epoch 51.
        let before = Instant::from_secs(6119);
        let after = Instant::from_secs(6121);
        assert_eq!(epoch(before) + 1, epoch(after));
        let r0 = g.cookie_secrets().rotations();
        assert_eq!(mint_then_check(&mut g, before, after), Some(2));
        assert_eq!(g.cookie_secrets().rotations(), r0 + 1, "the secret rotated");
        // Up to the 2-minute age: minted at the last second of epoch 50 (minute 101),
        // accepted through minute 102, i.e. until 6179 s.
        let mut g = IsnGenerator::new([9; 16]);
        assert_eq!(
            mint_then_check(&mut g, before, Instant::from_secs(6179)),
            Some(2)
        );
        let mut g = IsnGenerator::new([9; 16]);
        assert_eq!(
            mint_then_check(&mut g, before, Instant::from_secs(6180)),
            None
        );
        // A fresh cookie under the new secret works too, and the old one still does.
        let (l, r) = addrs();
        let old = make(&mut IsnGenerator::new([9; 16]), before, l, r, SeqNum(5), 1);
        let mut g = IsnGenerator::new([9; 16]);
        assert_eq!(
            make(&mut g, before, l, r, SeqNum(5), 1),
            old,
            "deterministic"
        );
        let new = make(&mut g, after, l, r, SeqNum(5), 1);
        assert_eq!(check(&mut g, after, l, r, SeqNum(5), new), Some(1));
        assert_eq!(check(&mut g, after, l, r, SeqNum(5), old), Some(1));
    }

    #[test]
    fn sf_5_rotation_cookie_from_two_rotations_ago_fails() {
        // Scheduled: minted in epoch 51 (just before its end), checked in epoch 53.
        let mut g = IsnGenerator::new([10; 16]);
        let t = Instant::from_secs(6239);
        assert_eq!(
            mint_then_check(&mut g, t, Instant::from_secs(6241)),
            Some(2)
        );
        let mut g = IsnGenerator::new([10; 16]);
        assert_eq!(mint_then_check(&mut g, t, Instant::from_secs(6361)), None);
        // 256 minutes later the 8-bit minute field reads "age 0" again: the secret, not
        // only the age, must reject it.
        let mut g = IsnGenerator::new([10; 16]);
        let wrapped = Instant::from_secs(6239 + 256 * 60);
        assert_eq!(mint_then_check(&mut g, t, wrapped), None);

        // Explicit rotations (e.g. after a suspected leak), no time passing at all: one
        // rotation keeps a fresh cookie valid through the previous secret, two retire it.
        let (l, r) = addrs();
        let now = Instant::from_secs(7000);
        let mut g = IsnGenerator::new([10; 16]);
        let c = make(&mut g, now, l, r, SeqNum(3), 0);
        g.cookie_secrets_mut().rotate_now([0x55; 16]);
        assert_eq!(check(&mut g, now, l, r, SeqNum(3), c), Some(0));
        let c2 = make(&mut g, now, l, r, SeqNum(3), 0);
        assert_ne!(c, c2, "a new secret mints another cookie");
        g.cookie_secrets_mut().rotate_now([0x66; 16]);
        assert_eq!(check(&mut g, now, l, r, SeqNum(3), c), None);
        assert_eq!(check(&mut g, now, l, r, SeqNum(3), c2), Some(0));
    }

    #[test]
    fn sf_5_rotation_forged_cookies_fail_under_both_secrets() {
        let (l, r) = addrs();
        let mut g = IsnGenerator::new([11; 16]);
        let t = Instant::from_secs(6119);
        let good = make(&mut g, t, l, r, SeqNum(1), 3);
        let after = Instant::from_secs(6121);
        // Two secrets are tried now: the forgery rate may at most double (each try accepts
        // about 4 low values in 2^24 for 2 of 256 minute values).
        let forged = (0..20_000u32)
            .filter(|i| {
                let guess = SeqNum(i.wrapping_mul(2_654_435_761) ^ 0x5bd1_e995);
                guess != good && check(&mut g, after, l, r, SeqNum(1), guess).is_some()
            })
            .count();
        assert_eq!(forged, 0, "{forged} of 20000 guesses validated");
        // Bit flips of a real cookie, another peer ISN, another tuple: rejected.
        for bit in 0..32 {
            let flipped = SeqNum(good.0 ^ (1 << bit));
            let ok = check(&mut g, after, l, r, SeqNum(1), flipped);
            // Flipping one of the two lowest bits may land on another valid MSS index.
            assert!(ok.is_none() || bit < 2, "bit {bit}: {ok:?}");
        }
        let other: SocketAddr = "198.18.0.9:40000".parse().unwrap();
        assert_eq!(check(&mut g, after, l, other, SeqNum(1), good), None);
        assert_eq!(check(&mut g, after, l, r, SeqNum(1), good), Some(3));
        // A generator with another stack secret rotates along its own chain.
        let mut h = IsnGenerator::new([12; 16]);
        assert_eq!(check(&mut h, after, l, r, SeqNum(1), good), None);
        // The secrets never show in Debug output (MUST-9).
        let s = format!("{:?}", g.cookie_secrets());
        assert!(s.contains("rotations") && !s.contains("key"), "{s}");
    }
}
