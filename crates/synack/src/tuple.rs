//! A connection's 4-tuple in 12 (IPv4) or 36 (IPv6) bytes of addresses and ports.
//!
//! `SocketAddr` is 32 bytes because an IPv6 address carries a flow label and a scope id; a
//! TCB held a pair of them and the demultiplexing map held the pair again as its key (128
//! bytes per connection). TCP identifies a connection by addresses and ports only (RFC 9293
//! §3.3.2, MUST-42), so that is all this keeps. [`TupleHasher`] is the tables' keyed hash
//! of it.

use core::hash::Hasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Local and remote address and port of one connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tuple {
    V4 {
        local: [u8; 4],
        remote: [u8; 4],
        lport: u16,
        rport: u16,
    },
    V6 {
        local: [u8; 16],
        remote: [u8; 16],
        lport: u16,
        rport: u16,
    },
}

impl Tuple {
    /// The tuple of `local` and `remote`. Mixed families (which no caller builds) map the
    /// IPv4 side into IPv6 so the function stays total.
    pub fn new(local: SocketAddr, remote: SocketAddr) -> Tuple {
        let (lport, rport) = (local.port(), remote.port());
        match (local.ip(), remote.ip()) {
            (IpAddr::V4(l), IpAddr::V4(r)) => Tuple::V4 {
                local: l.octets(),
                remote: r.octets(),
                lport,
                rport,
            },
            (l, r) => Tuple::V6 {
                local: v6(l).octets(),
                remote: v6(r).octets(),
                lport,
                rport,
            },
        }
    }

    pub fn local(&self) -> SocketAddr {
        match *self {
            Tuple::V4 { local, lport, .. } => SocketAddr::new(Ipv4Addr::from(local).into(), lport),
            Tuple::V6 { local, lport, .. } => SocketAddr::new(Ipv6Addr::from(local).into(), lport),
        }
    }

    pub fn remote(&self) -> SocketAddr {
        match *self {
            Tuple::V4 { remote, rport, .. } => {
                SocketAddr::new(Ipv4Addr::from(remote).into(), rport)
            }
            Tuple::V6 { remote, rport, .. } => {
                SocketAddr::new(Ipv6Addr::from(remote).into(), rport)
            }
        }
    }

    pub fn local_port(&self) -> u16 {
        match *self {
            Tuple::V4 { lport, .. } | Tuple::V6 { lport, .. } => lport,
        }
    }

    pub fn remote_port(&self) -> u16 {
        match *self {
            Tuple::V4 { rport, .. } | Tuple::V6 { rport, .. } => rport,
        }
    }
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// The keyed hash of a 4-tuple for the connection and TIME-WAIT tables. Keyed (four
/// 64-bit keys derived from the stack's secret) so that a peer cannot aim its 4-tuples at
/// one bucket without knowing the secret, the reason connection tables are keyed; like
/// Linux's `inet_ehashfn` (jhash under a boot-time secret) it is a fast mixing function,
/// not a cryptographic one. It is two or three folded 64x64->128-bit multiplies, where
/// SipHash-1-3 through the `Hasher` trait was 12% of the churn benchmark's instructions.
#[derive(Clone)]
pub(crate) struct TupleHasher {
    k: [u64; 4],
}

/// Multiply to 128 bits and fold: every output bit depends on every input bit.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl TupleHasher {
    pub fn new(secret: [u8; 16]) -> Self {
        use siphasher::sip128::Hasher128;
        let derive = |domain: &[u8]| {
            let mut h = siphasher::sip128::SipHasher24::new_with_key(&secret);
            h.write(domain);
            let k = h.finish128();
            (k.h1, k.h2)
        };
        let (a, b) = derive(b"synack demux table key 0");
        let (c, d) = derive(b"synack demux table key 1");
        // An odd last key: the final multiply by it is then a bijection.
        TupleHasher {
            k: [a, b, c, d | 1],
        }
    }

    /// The listener table's hasher, keyed from the same secret.
    pub fn addr_hasher(&self) -> AddrHashBuilder {
        AddrHashBuilder {
            k: [self.k[1] ^ self.k[2], self.k[3]],
        }
    }

    /// The tables' hash of `t`: a keyed multiply-fold of the addresses and of the ports
    /// without their low 2 bits, with those low bits laid over it (see [`port_locality`]).
    #[inline]
    pub fn hash(&self, t: &Tuple) -> u64 {
        let k = &self.k;
        let (keyed, lport, rport) = match *t {
            Tuple::V4 {
                local,
                remote,
                lport,
                rport,
            } => {
                let a = u64::from(u32::from_ne_bytes(local)) << 32
                    | u64::from(u32::from_ne_bytes(remote));
                let p = u64::from(lport & !LOW) << 16 | u64::from(rport & !LOW);
                (
                    fold_mul(fold_mul(a ^ k[0], p ^ k[1]) ^ k[2], k[3]),
                    lport,
                    rport,
                )
            }
            Tuple::V6 {
                local,
                remote,
                lport,
                rport,
            } => {
                let (l, r) = (u128::from_ne_bytes(local), u128::from_ne_bytes(remote));
                let p = u64::from(lport & !LOW) << 16 | u64::from(rport & !LOW);
                let h = fold_mul(l as u64 ^ k[0], (l >> 64) as u64 ^ k[1])
                    ^ fold_mul(r as u64 ^ k[2], (r >> 64) as u64 ^ k[3]);
                (
                    fold_mul(fold_mul(h ^ k[1], p ^ k[2]) ^ k[0], k[3]),
                    lport,
                    rport,
                )
            }
        };
        port_locality(keyed, lport, rport)
    }
}

/// The low port bits [`TupleHasher::hash`] keeps out of the keyed part (2 bits: blocks of 4
/// ports).
const LOW: u16 = 3;

/// Lay the ports' low 2 bits over the keyed hash so that connections whose ports differ only
/// there land in one 16-bucket group. A client's successive ephemeral ports toward one
/// server, and so the successive SYNs a server sees from it, differ by one: three lookups of
/// a new tuple in four then read the cache line their predecessor's insert or removal just
/// touched, where a fully mixed hash sent every one to a random line of a table bigger than
/// the cache (perf, issue 3's churn with 100,000 idle connections: that miss was ~7% of the
/// time). Blocks of 16 ports kept more lines hot but, at hashbrown's 87.5% load, crowded
/// their groups into long probe runs (the TIME-WAIT index's false tag matches went from 0.19
/// to 0.7 per lookup; 0.35 with blocks of 4).
///
/// - bits 2-3 (inside a table's bucket index): `l ^ r`, l and r the two ports' low 2 bits.
///   With one port fixed, the 4 tuples of a block of the other sit 4 buckets apart in one
///   group. A peer choosing its ports crowds at most those 4 per keyed value, which it
///   cannot predict (the key), so no flooding of one bucket chain.
/// - the top 7 bits (hashbrown's control-byte tag) get `l ^ r` and `l << 2` folded in, and
///   bits 32-33 (the demux index's extra tag) `r`: `(l, r) -> (l ^ r) | (l << 2)` is
///   injective, so two tuples that differ only in their ports' low bits never share a tag.
#[inline]
fn port_locality(keyed: u64, lport: u16, rport: u16) -> u64 {
    let (l, r) = (u64::from(lport & LOW), u64::from(rport & LOW));
    let d = l ^ r;
    ((keyed & !(u64::from(LOW) << 2)) | d << 2) ^ (d << 57) ^ (l << 59) ^ (r << 32)
}

/// The listener table's hash of a local `SocketAddr`: the std `RandomState` (SipHash-1-3)
/// spent ~290 instructions on every SYN in issue 3's churn for a lookup among a handful of
/// entries. The keys are the application's own listen addresses; a peer can only look
/// them up, never insert, so it cannot crowd a bucket and a short keyed multiply-fold is
/// enough. Built from the demux key ([`TupleHasher::addr_hasher`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AddrHashBuilder {
    k: [u64; 2],
}

impl core::hash::BuildHasher for AddrHashBuilder {
    type Hasher = AddrHasher;
    #[inline]
    fn build_hasher(&self) -> AddrHasher {
        AddrHasher {
            h: self.k[0],
            k: self.k[1],
        }
    }
}

/// See [`AddrHashBuilder`]: each write is folded in with one 64x64->128 multiply.
pub(crate) struct AddrHasher {
    h: u64,
    k: u64,
}

impl Hasher for AddrHasher {
    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.h, self.k)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w) ^ (c.len() as u64) << 56);
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    #[inline]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.h = fold_mul(self.h ^ v, self.k);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index tables take bucket bits from the bottom of the hash and a 7-bit tag from
    /// the top: both must spread 4-tuples that differ only in a port or an address byte,
    /// and the hash must depend on the key.
    #[test]
    fn issue_3_tuple_hash_spreads_and_is_keyed() {
        let h = TupleHasher::new([1; 16]);
        let other = TupleHasher::new([2; 16]);
        for v6 in [false, true] {
            let mut low = [0u32; 1024];
            let mut top = [0u32; 128];
            let mut differs = 0;
            for i in 0..65_536u32 {
                let (l, r): (SocketAddr, SocketAddr) = if v6 {
                    (
                        format!("[2001:db8::1]:{}", 80 + (i >> 12)).parse().unwrap(),
                        format!("[2001:db8::{:x}]:{}", i & 0xff, 1024 + (i >> 8))
                            .parse()
                            .unwrap(),
                    )
                } else {
                    (
                        format!("198.18.0.1:{}", 80 + (i >> 12)).parse().unwrap(),
                        format!("198.18.1.{}:{}", i & 0xff, 1024 + (i >> 8))
                            .parse()
                            .unwrap(),
                    )
                };
                let t = Tuple::new(l, r);
                let x = h.hash(&t);
                low[(x & 1023) as usize] += 1;
                top[(x >> 57) as usize] += 1;
                differs += u32::from(x != other.hash(&t));
            }
            // 64 per low bucket and 512 per tag expected: allow a wide margin, far from
            // what a poor mix (all in a few buckets) gives.
            assert!(low.iter().all(|&n| (24..=110).contains(&n)), "{low:?}");
            assert!(top.iter().all(|&n| (380..=650).contains(&n)), "{top:?}");
            assert!(differs > 65_000);
        }
    }

    /// The listener table's hash: equal addresses hash alike, ports and address bytes
    /// spread over the low bits hashbrown takes buckets from, and the key matters.
    #[test]
    fn issue_3_listen_address_hash_spreads_and_is_keyed() {
        use core::hash::BuildHasher;
        let b = TupleHasher::new([7; 16]).addr_hasher();
        let other = TupleHasher::new([8; 16]).addr_hasher();
        for v6 in [false, true] {
            let mut low = [0u32; 256];
            let mut differs = 0;
            for i in 0..16_384u32 {
                let a: SocketAddr = if v6 {
                    format!("[2001:db8::{:x}]:{}", i >> 10, 1 + (i & 1023))
                } else {
                    format!("198.18.{}.{}:{}", i >> 12, (i >> 10) & 3, 1 + (i & 1023))
                }
                .parse()
                .unwrap();
                let x = b.hash_one(a);
                assert_eq!(x, b.hash_one(a));
                low[(x & 255) as usize] += 1;
                differs += u32::from(x != other.hash_one(a));
            }
            // 64 per bucket expected.
            assert!(low.iter().all(|&n| (24..=110).contains(&n)), "{low:?}");
            assert!(differs > 16_000);
        }
    }

    /// Ports that differ only in their low 2 bits (a client's successive ephemeral ports, or
    /// the source ports a server sees from it) hash into one 16-bucket group, 4 apart, with
    /// distinct control-byte tags and extra tags; any other port lands elsewhere. And no two
    /// tuples differing only in low port bits share a tag, whichever port varies.
    #[test]
    fn issue_3_neighbouring_ports_share_a_group_not_a_tag() {
        let h = TupleHasher::new([3; 16]);
        let tag = |x: u64| x >> 57;
        // The bucket index bits a table of up to 2^28 buckets uses, but for bits 2-3.
        let group = |x: u64| x & 0x0fff_fff3;
        for (local, remote) in [("198.18.0.1", "198.18.0.2"), ("2001:db8::1", "2001:db8::2")] {
            let sa = |ip: &str, port: u16| -> SocketAddr {
                if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                }
                .parse()
                .unwrap()
            };
            for base in (40_000u16..40_400).step_by(4) {
                // One port fixed (80), the other running through a block of 4, both ways.
                for client_side in [true, false] {
                    let hs: Vec<u64> = (base..base + 4)
                        .map(|p| {
                            let (l, r) = if client_side {
                                (sa(local, p), sa(remote, 80))
                            } else {
                                (sa(local, 80), sa(remote, p))
                            };
                            h.hash(&Tuple::new(l, r))
                        })
                        .collect();
                    let mut slots: Vec<u64> = hs.iter().map(|x| x & 0b1100).collect();
                    slots.sort();
                    assert_eq!(slots, [0, 4, 8, 12], "{hs:x?}");
                    assert!(hs.iter().all(|&x| group(x) == group(hs[0])), "{hs:x?}");
                    for i in 0..4 {
                        for j in i + 1..4 {
                            assert_ne!(tag(hs[i]), tag(hs[j]), "{hs:x?}");
                        }
                    }
                }
            }
            // Both ports varying in their low bits: 16 tuples, 16 tags.
            let tags: std::collections::HashSet<u64> = (0..16u16)
                .map(|i| {
                    let t = Tuple::new(sa(local, 8000 + (i & 3)), sa(remote, 9000 + (i >> 2)));
                    tag(h.hash(&t))
                })
                .collect();
            assert_eq!(tags.len(), 16);
        }
    }

    #[test]
    fn round_trips_and_is_small() {
        assert!(core::mem::size_of::<Tuple>() <= 40);
        let l: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let r: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let t = Tuple::new(l, r);
        assert_eq!((t.local(), t.remote()), (l, r));
        assert!(matches!(t, Tuple::V4 { .. }));
        assert_eq!((t.local_port(), t.remote_port()), (80, 4000));
        let l6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        let r6: SocketAddr = "[2001:db8::2]:4000".parse().unwrap();
        let t6 = Tuple::new(l6, r6);
        assert_eq!((t6.local(), t6.remote()), (l6, r6));
        assert!(matches!(t6, Tuple::V6 { .. }));
        assert_ne!(Tuple::new(r, l), t);
    }
}
