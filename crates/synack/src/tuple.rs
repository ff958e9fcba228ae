//! A connection's 4-tuple in 12 (IPv4) or 36 (IPv6) bytes of addresses and ports.
//!
//! `SocketAddr` is 32 bytes because an IPv6 address carries a flow label and a scope id; a
//! TCB held a pair of them and the demultiplexing map held the pair again as its key (128
//! bytes per connection). TCP identifies a connection by addresses and ports only (RFC 9293
//! §3.3.2, MUST-42), so that is all this keeps. It also hashes in one or three writes
//! rather than a dozen, which the churn profile showed (the map's hashing was ~10% of it).

use core::hash::{Hash, Hasher};
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

impl Hash for Tuple {
    /// Few, wide writes: the keyed hasher's cost is per write as much as per byte. The two
    /// families cannot collide as equal keys (they are never equal), so no tag is hashed.
    fn hash<H: Hasher>(&self, state: &mut H) {
        match *self {
            Tuple::V4 {
                local,
                remote,
                lport,
                rport,
            } => {
                let a = u64::from(u32::from_ne_bytes(local)) << 32
                    | u64::from(u32::from_ne_bytes(remote));
                let p = u32::from(lport) << 16 | u32::from(rport);
                state.write_u128(u128::from(a) << 32 | u128::from(p));
            }
            Tuple::V6 {
                local,
                remote,
                lport,
                rport,
            } => {
                state.write_u128(u128::from_ne_bytes(local));
                state.write_u128(u128::from_ne_bytes(remote));
                state.write_u32(u32::from(lport) << 16 | u32::from(rport));
            }
        }
    }
}

/// The keyed hash of a 4-tuple for the connection and TIME-WAIT tables: SipHash-1-3 under a
/// key derived from the stack's secret, so a peer cannot aim its 4-tuples at one bucket
/// (the reason hash tables of connections are keyed; Linux does the same with its
/// `inet_ehashfn` secret).
#[derive(Clone)]
pub(crate) struct TupleHasher {
    key: [u8; 16],
}

impl TupleHasher {
    pub fn new(secret: [u8; 16]) -> Self {
        let mut h = siphasher::sip128::SipHasher24::new_with_key(&secret);
        h.write(b"synack demux table key");
        TupleHasher {
            key: siphasher::sip128::Hasher128::finish128(&h).as_bytes(),
        }
    }

    pub fn hash(&self, t: &Tuple) -> u64 {
        let mut h = siphasher::sip::SipHasher13::new_with_key(&self.key);
        t.hash(&mut h);
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
