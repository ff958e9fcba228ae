//! Initial sequence numbers per RFC 6528 (ISN-1, MUST-8, SHLD-1, MUST-9).
//!
//! RFC 9293 §3.4.1 (which absorbed RFC 6528): ISN = M + F(localip, localport, remoteip,
//! remoteport, secretkey), where M is a clock ticking every 4 µs (MUST-8; a 32-bit counter
//! at 250 kHz wraps in about 4.77 h) and F is a keyed pseudo-random function outsiders cannot
//! compute (MUST-9). F here is SipHash-2-4 keyed with the 128-bit `Config::secret` (ISN-1;
//! Linux also uses SipHash).
//!
//! The same key also derives, under a different domain-separation label so that no output
//! reveals another, the per-destination offset for ephemeral port choice (RFC 6056 §3.3.3,
//! "Algorithm 3: Simple Hash-Based Port Selection", ISN-2). The per-connection offset added
//! to the timestamp clock (RFC 7323 §5.4 / §7.1, TS-8) is the second word of the ISN's
//! 128-bit hash of the same 4-tuple (one hash per open, not two).
//!
//! SYN-cookie secrets are separate and rotate (RFC 4987 §3.6 asks that the cookie secret be
//! changed regularly; checklist SF-5): [`CookieSecrets`] holds the current secret and the one
//! before it, each derived by a one-way ratchet from its predecessor, so learning today's
//! cookie secret reveals neither the ISN key nor earlier cookie secrets.
//!
//! Every input is written to the hasher as explicit bytes (a family tag, the address octets,
//! the port big-endian), never through `Hash` impls, so values are stable across Rust
//! versions and platforms.

use crate::seq::SeqNum;
use crate::time::Instant;
use core::fmt;
use core::hash::Hasher;
use siphasher::sip::SipHasher24;
use std::net::{IpAddr, SocketAddr};

/// Domain-separation labels, one per derived quantity (each is written first). Inputs of
/// different domains differ in their first byte, which is all separation needs; the two
/// hashed on every open (ISN and timestamp offset, port offset) take one byte, not a string
/// (SipHash compresses 8 bytes a block: 13 more bytes were two or three more blocks a hash,
/// issue 3's churn profile). The cookie labels begin with `s`.
const DOMAIN_ISN: &[u8] = &[1];
const DOMAIN_PORT: &[u8] = &[2];
const DOMAIN_COOKIE: &[u8] = b"synack/syncookie/v1\0";
const DOMAIN_COOKIE_SEED: &[u8] = b"synack/syncookie-seed/v1\0";
const DOMAIN_COOKIE_RATCHET: &[u8] = b"synack/syncookie-ratchet/v1\0";
const DOMAIN_COOKIE_RESEED: &[u8] = b"synack/syncookie-reseed/v1\0";

/// Keyed generator of initial sequence numbers, ephemeral-port offsets and timestamp
/// offsets, plus the rotating SYN-cookie secrets. Cheap to clone. Keep one per stack and do
/// not change the ISN key while connections live (ISN-1); only the cookie secrets rotate.
#[derive(Clone)]
pub struct IsnGenerator {
    key: [u8; 16],
    cookie: CookieSecrets,
}

impl fmt::Debug for IsnGenerator {
    /// The key is secret (MUST-9): never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IsnGenerator { key: <secret> }")
    }
}

/// One SYN-cookie secret and the rotation epoch it was made for.
#[derive(Clone, Copy)]
struct CookieKey {
    epoch: u64,
    key: [u8; 16],
}

/// The SYN-cookie secrets in use: the current one and the one it replaced (RFC 4987 §3.6:
/// the secret is changed from time to time). Cookies minted under the previous secret keep
/// validating until the next rotation, so with rotations at least a cookie lifetime apart
/// (2 min, LX-9) no cookie that is young enough is lost to a rotation; one minted two
/// rotations ago can no longer validate whatever its age bits say.
#[derive(Clone)]
pub struct CookieSecrets {
    /// Seed of the first secret (derived from the stack secret under its own label).
    seed: [u8; 16],
    current: Option<CookieKey>,
    previous: Option<CookieKey>,
    rotations: u64,
}

impl fmt::Debug for CookieSecrets {
    /// Secret (MUST-9): print only the schedule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSecrets")
            .field("epoch", &self.current.map(|k| k.epoch))
            .field("previous_epoch", &self.previous.map(|k| k.epoch))
            .field("rotations", &self.rotations)
            .finish_non_exhaustive()
    }
}

fn sip128(key: &[u8; 16], domain: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    use siphasher::sip128::Hasher128;
    let mut h = siphasher::sip128::SipHasher24::new_with_key(key);
    h.write(domain);
    for p in parts {
        h.write(p);
    }
    h.finish128().as_bytes()
}

impl CookieSecrets {
    fn new(stack_secret: &[u8; 16]) -> Self {
        CookieSecrets {
            seed: sip128(stack_secret, DOMAIN_COOKIE_SEED, &[]),
            current: None,
            previous: None,
            rotations: 0,
        }
    }

    /// Move to `epoch` if it is later than the current one. The new secret is a one-way
    /// function of the old (a ratchet), so a secret leaked now does not expose the cookies
    /// of earlier epochs. When epochs were skipped no cookie can exist under the skipped
    /// secrets, so the previous slot is emptied rather than filled with one nobody used.
    /// Time running backwards never rotates back.
    pub fn advance_to(&mut self, epoch: u64) {
        match self.current {
            None => {
                self.current = Some(CookieKey {
                    epoch,
                    key: sip128(&self.seed, DOMAIN_COOKIE_RATCHET, &[&epoch.to_be_bytes()]),
                });
            }
            Some(cur) if epoch > cur.epoch => {
                let key = sip128(&cur.key, DOMAIN_COOKIE_RATCHET, &[&epoch.to_be_bytes()]);
                self.previous = (epoch == cur.epoch + 1).then_some(cur);
                self.current = Some(CookieKey { epoch, key });
                self.rotations += 1;
            }
            Some(_) => {}
        }
    }

    /// Rotate at once, mixing in `fresh` caller-supplied randomness (e.g. when a secret may
    /// have leaked). The secret being replaced stays as the previous one, like a scheduled
    /// rotation; a second call retires it.
    pub fn rotate_now(&mut self, fresh: [u8; 16]) {
        let cur = self.current.unwrap_or(CookieKey {
            epoch: 0,
            key: self.seed,
        });
        let key = sip128(&fresh, DOMAIN_COOKIE_RESEED, &[&cur.key]);
        self.previous = self.current;
        self.current = Some(CookieKey {
            epoch: cur.epoch,
            key,
        });
        self.rotations += 1;
    }

    /// Rotations so far (scheduled and explicit).
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// The secrets that may have minted a live cookie: current first.
    fn keys(&self) -> impl Iterator<Item = &[u8; 16]> {
        self.current
            .iter()
            .chain(self.previous.iter())
            .map(|k| &k.key)
    }
}

/// Keyed hash for SYN cookies (SF-5) under one cookie secret: `which` selects H1 (0) or H2
/// (1); `count` is the minute counter (0 for H1, which does not depend on time).
fn cookie_hash_with(
    key: &[u8; 16],
    which: u8,
    local: SocketAddr,
    remote: SocketAddr,
    count: u32,
) -> u32 {
    let mut b = Input::new(DOMAIN_COOKIE);
    b.push(&[which]);
    b.sock(local);
    b.sock(remote);
    b.push(&count.to_be_bytes());
    b.hash(key)
}

/// A hash input assembled in one buffer and written to SipHash at once: the byte stream
/// (and so every value) is the same as writing the pieces one by one, but one `write` of
/// ~40 bytes costs a fraction of eight small ones (the churn profile: ~5% of a connection's
/// instructions went to these hashes).
struct Input {
    buf: [u8; 96],
    len: usize,
}

impl Input {
    fn new(domain: &[u8]) -> Self {
        let mut b = Input {
            buf: [0; 96],
            len: 0,
        };
        b.push(domain);
        b
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// A family tag, then the address octets.
    fn ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => {
                self.push(&[4]);
                self.push(&a.octets());
            }
            IpAddr::V6(a) => {
                self.push(&[6]);
                self.push(&a.octets());
            }
        }
    }

    /// The address, then the port big-endian.
    fn sock(&mut self, s: SocketAddr) {
        self.ip(s.ip());
        self.push(&s.port().to_be_bytes());
    }

    fn hash(&self, key: &[u8; 16]) -> u32 {
        let mut h = SipHasher24::new_with_key(key);
        h.write(&self.buf[..self.len]);
        h.finish() as u32
    }

    /// Two 32-bit values from one SipHash-2-4-128: the low halves of its two words.
    fn hash128(&self, key: &[u8; 16]) -> (u32, u32) {
        let (h1, h2) = sip24_128(key, &self.buf[..self.len]);
        (h1 as u32, h2 as u32)
    }
}

/// SipHash-2-4 with 128-bit output (Aumasson and Bernstein, the reference `siphash.c` with
/// `cROUNDS = 2, dROUNDS = 4` and a 16-byte output) of `data` in one call: the same words as
/// `siphasher`'s `SipHasher24::finish128` (tested below), without its streaming buffer,
/// which for the ~15-byte inputs here cost more than the rounds (~160 instructions of each
/// connection's ~370 for this hash in issue 3's churn; two per lifecycle).
fn sip24_128(key: &[u8; 16], data: &[u8]) -> (u64, u64) {
    let mut blocks = data.chunks_exact(8);
    let mut v = sip24_init(key);
    for b in &mut blocks {
        sip24_compress(&mut v, le_word(b));
    }
    sip24_compress(
        &mut v,
        le_word(blocks.remainder()) | (data.len() as u64 & 0xff) << 56,
    );
    sip24_finish128(v)
}

/// Up to 8 bytes as a little-endian word, zero-padded (SipHash's message words).
#[inline(always)]
fn le_word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// SipHash's state for `key`, with the 128-bit output variant's tweak (`v1 ^= 0xee`).
#[inline(always)]
fn sip24_init(key: &[u8; 16]) -> [u64; 4] {
    let (k0, k1) = (le_word(&key[..8]), le_word(&key[8..]));
    [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d ^ 0xee,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ]
}

#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// One message word, two compression rounds.
#[inline(always)]
fn sip24_compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

/// The four finalization rounds of each of the two output words.
#[inline(always)]
fn sip24_finish128(mut v: [u64; 4]) -> (u64, u64) {
    v[2] ^= 0xee;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    let h1 = v[0] ^ v[1] ^ v[2] ^ v[3];
    v[1] ^= 0xdd;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    (h1, v[0] ^ v[1] ^ v[2] ^ v[3])
}

/// [`IsnGenerator::tuple_offsets`]'s hash of an IPv4 4-tuple, its two message words
/// built straight from the addresses and ports: the input is the 15 bytes `Input` lays
/// out (label, family tag, address, port big-endian, for each end), so the words, and the
/// hash, are the same (tested below), without assembling and zeroing a 96-byte buffer
/// (about a third of this hash's instructions, two per lifecycle in issue 3's churn).
#[inline(always)]
fn tuple_hash_v4(key: &[u8; 16], l: [u8; 4], lport: u16, r: [u8; 4], rport: u16) -> (u64, u64) {
    let [lp0, lp1] = lport.to_be_bytes();
    let [rp0, rp1] = rport.to_be_bytes();
    let m0 = u64::from_le_bytes([DOMAIN_ISN[0], 4, l[0], l[1], l[2], l[3], lp0, lp1]);
    // The last block: the remaining 7 bytes, then the input length (15) in the top byte.
    let m1 = u64::from_le_bytes([4, r[0], r[1], r[2], r[3], rp0, rp1, 15]);
    let mut v = sip24_init(key);
    sip24_compress(&mut v, m0);
    sip24_compress(&mut v, m1);
    sip24_finish128(v)
}

impl IsnGenerator {
    /// A generator keyed with `secret` (`Config::secret`: at least 128 random bits per
    /// process start, ISN-1).
    pub fn new(secret: [u8; 16]) -> Self {
        IsnGenerator {
            key: secret,
            cookie: CookieSecrets::new(&secret),
        }
    }

    /// The rotating SYN-cookie secrets (scheduled by `syncookie`, which passes the time in).
    pub fn cookie_secrets(&self) -> &CookieSecrets {
        &self.cookie
    }

    /// Mutable access, to rotate the cookie secrets (`advance_to`, `rotate_now`).
    pub fn cookie_secrets_mut(&mut self) -> &mut CookieSecrets {
        &mut self.cookie
    }

    /// H1/H2 of SF-5 under the current cookie secret (after `advance_to` for the time).
    pub fn cookie_hash(&self, which: u8, local: SocketAddr, remote: SocketAddr, count: u32) -> u32 {
        let key = self
            .cookie
            .keys()
            .next()
            .copied()
            .unwrap_or(self.cookie.seed);
        cookie_hash_with(&key, which, local, remote, count)
    }

    /// Run `f` with a hash function for each cookie secret still held (current, then
    /// previous) until it returns `Some`.
    pub fn with_cookie_hashes<T>(
        &self,
        mut f: impl FnMut(&dyn Fn(u8, SocketAddr, SocketAddr, u32) -> u32) -> Option<T>,
    ) -> Option<T> {
        for key in self.cookie.keys() {
            let h = |which, l, r, c| cookie_hash_with(key, which, l, r, c);
            if let Some(v) = f(&h) {
                return Some(v);
            }
        }
        None
    }

    /// F(local, remote, secret), the keyed, clock-free part of the ISN (SHLD-1, MUST-9),
    /// and the connection's timestamp offset (TS-8), from one SipHash-2-4-128 of the
    /// 4-tuple: the low 32 bits of the first output word and of the second. Both are keyed
    /// functions of the same 4-tuple, and the two words of a 128-bit PRF output are as
    /// unrelated as two outputs under separate labels, so neither reveals the other; one
    /// hash instead of two halves the cost of every open (issue 3's churn profile).
    fn tuple_offsets(&self, local: SocketAddr, remote: SocketAddr) -> (u32, u32) {
        if let (SocketAddr::V4(l), SocketAddr::V4(r)) = (local, remote) {
            let (h1, h2) = tuple_hash_v4(
                &self.key,
                l.ip().octets(),
                l.port(),
                r.ip().octets(),
                r.port(),
            );
            return (h1 as u32, h2 as u32);
        }
        let mut b = Input::new(DOMAIN_ISN);
        b.sock(local);
        b.sock(remote);
        b.hash128(&self.key)
    }

    /// The initial sequence number for a connection `local` <-> `remote` opened at `now`:
    /// F(4-tuple, secret) + M, with M = `now` in 4 µs ticks, modulo 2^32 (ISN-1, MUST-8,
    /// SHLD-1). For a fixed 4-tuple successive ISNs advance with the clock, 250 per
    /// millisecond, so a new incarnation starts above the old one's sequence space.
    pub fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> SeqNum {
        self.isn_and_ts_offset(now, local, remote).0
    }

    /// [`IsnGenerator::isn`] and [`IsnGenerator::ts_offset`] of one connection, for the
    /// price of one hash.
    pub fn isn_and_ts_offset(
        &self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> (SeqNum, u32) {
        let m = (now.as_micros() / 4) as u32; // the 4 µs clock, wrapping at 2^32 ticks
        let (f, ts) = self.tuple_offsets(local, remote);
        (SeqNum(f.wrapping_add(m)), ts)
    }

    /// RFC 6056 Algorithm 3 offset for choosing an ephemeral port toward `remote` from
    /// `local_ip` (ISN-2): F(local IP, remote IP, remote port, secret). The caller picks
    /// `min + (offset + counter) % range`, stepping the counter past ports in use, so that
    /// each destination sees its own unpredictable port sequence.
    pub fn port_offset(&self, local_ip: IpAddr, remote: SocketAddr) -> u32 {
        let mut b = Input::new(DOMAIN_PORT);
        b.ip(local_ip);
        b.sock(remote);
        b.hash(&self.key)
    }

    /// Random-looking per-connection offset to add to the timestamp clock (TS-8, RFC 7323
    /// §7.1), so TSval reveals neither uptime nor links connections together. Fixed for a
    /// 4-tuple, so every segment of a connection uses the same offset. The same value as
    /// [`IsnGenerator::isn_and_ts_offset`] gives (one hash yields both).
    pub fn ts_offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        self.tuple_offsets(local, remote).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn key(b: u8) -> [u8; 16] {
        let mut k = [0u8; 16];
        for (i, x) in k.iter_mut().enumerate() {
            *x = b.wrapping_mul(31).wrapping_add(i as u8);
        }
        k
    }

    /// The one-shot SipHash-2-4-128 gives the `siphasher` crate's words for every length
    /// up to a few blocks and any key.
    #[test]
    fn sip24_128_matches_the_siphasher_crate() {
        use siphasher::sip128::Hasher128;
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in 0..=40 {
            for _ in 0..8 {
                let mut k = [0u8; 16];
                k.iter_mut().for_each(|b| *b = next() as u8);
                let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let mut h = siphasher::sip128::SipHasher24::new_with_key(&k);
                core::hash::Hasher::write(&mut h, &data);
                let want = h.finish128();
                assert_eq!(sip24_128(&k, &data), (want.h1, want.h2), "len {len}");
            }
        }
    }

    /// The IPv4 shortcut of `tuple_offsets` hashes exactly the bytes `Input` lays out
    /// (label, then each end's family tag, address and big-endian port), so ISNs and
    /// timestamp offsets are what the general path gives, for any key and tuple.
    #[test]
    fn ipv4_tuple_words_hash_the_same_bytes_as_the_general_input() {
        let ends = [
            ("10.0.0.1:40000", "10.0.0.2:80"),
            ("198.18.0.1:32768", "198.18.0.2:5001"),
            ("255.254.253.252:65535", "1.2.3.4:1"),
            ("0.0.0.0:0", "127.0.0.1:256"),
        ];
        for k in 0..8u8 {
            let g = IsnGenerator::new(key(k));
            for (l, r) in ends {
                let (l, r) = (sa(l), sa(r));
                let mut b = Input::new(DOMAIN_ISN);
                b.sock(l);
                b.sock(r);
                assert_eq!(b.len, 15);
                assert_eq!(g.tuple_offsets(l, r), b.hash128(&g.key), "{l} {r}");
            }
        }
    }

    #[test]
    fn must_8_clock_advances_250_per_millisecond() {
        let g = IsnGenerator::new(key(1));
        let (l, r) = (sa("10.0.0.1:40000"), sa("10.0.0.2:80"));
        let t0 = Instant::from_secs(1_000);
        let base = g.isn(t0, l, r);
        for ms in [1u64, 2, 10, 1_000] {
            let later = g.isn(t0 + Duration::from_millis(ms), l, r);
            assert_eq!(later - base, (250 * ms) as u32, "after {ms} ms");
            assert!(later.gt(base));
        }
        // 4 µs granularity.
        assert_eq!(g.isn(t0 + Duration::from_micros(3), l, r), base);
        assert_eq!(g.isn(t0 + Duration::from_micros(4), l, r) - base, 1);
    }

    #[test]
    fn must_8_clock_wraps_modulo_2_32() {
        let g = IsnGenerator::new(key(2));
        let (l, r) = (sa("[2001:db8::1]:5000"), sa("[2001:db8::2]:443"));
        // 2^32 ticks of 4 µs later the clock component is back where it was.
        let t0 = Instant::from_secs(5);
        let t1 = Instant::from_micros(t0.as_micros() + 4 * (1u64 << 32));
        assert_eq!(g.isn(t0, l, r), g.isn(t1, l, r));
    }

    #[test]
    fn isn_1_deterministic_for_the_same_inputs() {
        let a = IsnGenerator::new(key(3));
        let b = IsnGenerator::new(key(3));
        let (l, r) = (sa("192.0.2.1:1234"), sa("198.51.100.2:22"));
        let t = Instant::from_millis(12_345);
        assert_eq!(a.isn(t, l, r), b.isn(t, l, r));
        assert_eq!(a.port_offset(l.ip(), r), b.port_offset(l.ip(), r));
        assert_eq!(a.ts_offset(l, r), b.ts_offset(l, r));
    }

    #[test]
    fn must_9_tuples_and_secrets_give_unrelated_values() {
        let g = IsnGenerator::new(key(4));
        let t = Instant::from_secs(1);
        let l = sa("10.0.0.1:40000");
        let remotes = [sa("10.0.0.2:80"), sa("10.0.0.2:81"), sa("10.0.0.3:80")];
        let isns: Vec<u32> = remotes.iter().map(|&r| g.isn(t, l, r).0).collect();
        // Neighbouring tuples give different ISNs whose differences are not the (tiny)
        // differences of the inputs: F is not a linear function of the tuple.
        assert_ne!(isns[0], isns[1]);
        assert_ne!(isns[0], isns[2]);
        assert_ne!(isns[1], isns[2]);
        assert!(isns[1].wrapping_sub(isns[0]) > 1 << 16 || isns[0].wrapping_sub(isns[1]) > 1 << 16);
        // Swapping ends gives another value (the function is ordered: local, remote).
        assert_ne!(g.isn(t, l, remotes[0]), g.isn(t, remotes[0], l));
        // IPv4 and its IPv4-mapped IPv6 form are distinct inputs.
        let mapped = SocketAddr::new(
            match l.ip() {
                IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
                ip => ip,
            },
            l.port(),
        );
        assert_ne!(g.isn(t, l, remotes[0]), g.isn(t, mapped, remotes[0]));
        // Another secret, another value.
        let g2 = IsnGenerator::new(key(5));
        assert_ne!(g.isn(t, l, remotes[0]), g2.isn(t, l, remotes[0]));
        assert_ne!(
            g.port_offset(l.ip(), remotes[0]),
            g2.port_offset(l.ip(), remotes[0])
        );
        assert_ne!(g.ts_offset(l, remotes[0]), g2.ts_offset(l, remotes[0]));
    }

    #[test]
    fn isn_1_values_spread_over_the_sequence_space() {
        // 256 source ports toward one server: every top-nibble bucket should be hit, which a
        // weak F (e.g. a sum of the tuple's fields) would fail.
        let g = IsnGenerator::new(key(6));
        let r = sa("198.19.0.9:443");
        let mut buckets = [0u32; 16];
        for p in 0..256u16 {
            let isn = g
                .isn(Instant::ZERO, sa(&format!("10.1.1.1:{}", 50_000 + p)), r)
                .0;
            buckets[(isn >> 28) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| n > 0), "{buckets:?}");
    }

    #[test]
    fn isn_2_port_offset_depends_on_destination_not_local_port() {
        let g = IsnGenerator::new(key(7));
        let local = sa("10.0.0.1:0").ip();
        let a = g.port_offset(local, sa("10.0.0.2:80"));
        assert_eq!(a, g.port_offset(local, sa("10.0.0.2:80")));
        assert_ne!(a, g.port_offset(local, sa("10.0.0.2:443")));
        assert_ne!(a, g.port_offset(local, sa("10.0.0.3:80")));
        assert_ne!(a, g.port_offset(sa("10.0.0.9:0").ip(), sa("10.0.0.2:80")));
    }

    #[test]
    fn ts_8_offset_per_connection_and_separate_from_isn() {
        let g = IsnGenerator::new(key(8));
        let (l, r) = (sa("10.0.0.1:40000"), sa("10.0.0.2:80"));
        let ts = g.ts_offset(l, r);
        assert_eq!(ts, g.ts_offset(l, r));
        assert_ne!(ts, g.ts_offset(sa("10.0.0.1:40001"), r));
        // Domain separation: the three outputs for the same inputs are unrelated.
        assert_ne!(ts, g.isn(Instant::ZERO, l, r).0);
        assert_ne!(g.isn(Instant::ZERO, l, r).0, g.port_offset(l.ip(), r));
    }

    #[test]
    fn ts_8_one_hash_gives_the_same_isn_and_offset_as_each_alone() {
        // Stack::insert_tcb takes both from one hash; Stack::unpack and send_cookie
        // recompute the offset alone: all must agree or TSvals would jump (PAWS, TS-8).
        let g = IsnGenerator::new(key(5));
        let (l, r) = (sa("10.0.0.1:40000"), sa("[2001:db8::2]:443"));
        for us in [0, 4, 123_456_789] {
            let now = Instant::ZERO + Duration::from_micros(us);
            assert_eq!(
                g.isn_and_ts_offset(now, l, r),
                (g.isn(now, l, r), g.ts_offset(l, r))
            );
        }
    }

    #[test]
    fn domains_differ_in_their_first_byte() {
        // Separation rests on it: no input of one domain can equal an input of another.
        let firsts = [DOMAIN_ISN, DOMAIN_PORT, DOMAIN_COOKIE].map(|d| d[0]);
        assert!(firsts[0] != firsts[1] && firsts[0] != firsts[2] && firsts[1] != firsts[2]);
    }

    #[test]
    fn must_9_debug_does_not_print_the_key() {
        let g = IsnGenerator::new([0xAB; 16]);
        let s = format!("{g:?}");
        assert!(
            !s.contains("171") && !s.to_lowercase().contains("ab,"),
            "{s}"
        );
    }

    #[test]
    fn isn_1_cookie_secret_rotation_leaves_the_isn_key_alone() {
        // ISN-1: the ISN secret must not change while connections live; only the cookie
        // secrets rotate (RFC 4987 §3.6).
        let mut g = IsnGenerator::new(key(9));
        let (l, r) = (sa("10.0.0.1:40000"), sa("10.0.0.2:80"));
        let t = Instant::from_secs(50);
        let before = (g.isn(t, l, r), g.ts_offset(l, r), g.port_offset(l.ip(), r));
        g.cookie_secrets_mut().advance_to(1);
        let h1 = g.cookie_hash(0, l, r, 0);
        g.cookie_secrets_mut().advance_to(2);
        let h2 = g.cookie_hash(0, l, r, 0);
        g.cookie_secrets_mut().rotate_now([1; 16]);
        let h3 = g.cookie_hash(0, l, r, 0);
        assert!(
            h1 != h2 && h2 != h3 && h1 != h3,
            "each rotation changes the secret"
        );
        assert_eq!(g.cookie_secrets().rotations(), 2);
        assert_eq!(
            before,
            (g.isn(t, l, r), g.ts_offset(l, r), g.port_offset(l.ip(), r))
        );
    }

    #[test]
    fn isn_1_cookie_secrets_ratchet_forward_only() {
        let mut a = IsnGenerator::new(key(10));
        let (l, r) = (sa("10.0.0.1:40000"), sa("10.0.0.2:80"));
        a.cookie_secrets_mut().advance_to(7);
        let at7 = a.cookie_hash(1, l, r, 3);
        // Time running backwards does not bring an old secret back.
        a.cookie_secrets_mut().advance_to(6);
        assert_eq!(a.cookie_hash(1, l, r, 3), at7);
        // Same secret, same history: same cookie secrets (the simulator is deterministic).
        let mut b = IsnGenerator::new(key(10));
        b.cookie_secrets_mut().advance_to(7);
        assert_eq!(b.cookie_hash(1, l, r, 3), at7);
        // Skipping epochs keeps no previous secret: none was ever used to mint.
        b.cookie_secrets_mut().advance_to(9);
        let mut held = 0;
        b.with_cookie_hashes(|_| {
            held += 1;
            None::<()>
        });
        assert_eq!(held, 1);
        a.cookie_secrets_mut().advance_to(8);
        let mut held = 0;
        a.with_cookie_hashes(|_| {
            held += 1;
            None::<()>
        });
        assert_eq!(held, 2, "current and previous");
    }
}
