//! Shared by the api_* tests: two stacks joined by an in-memory link, and data helpers.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use synack::Config;
use synack_tun::device::memory::{self, LinkConfig, StatsHandle};
use synack_tun::{Net, TcpListener, TcpStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const C4: &str = "198.18.0.1";
pub const S4: &str = "198.18.0.2";
pub const C6: &str = "2001:db8::1";
pub const S6: &str = "2001:db8::2";

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub struct Pair {
    pub client: Net,
    pub server: Net,
    pub client_link: StatsHandle,
    pub server_link: StatsHandle,
}

impl Pair {
    /// A listener of the server's on `addr`, a client stream connected to it, and the
    /// server's stream accepted from it.
    pub async fn connected(&self, addr: &str) -> (TcpListener, TcpStream, TcpStream) {
        let l = TcpListener::bind(&self.server, sa(addr)).await.unwrap();
        let c = TcpStream::connect(&self.client, sa(addr)).await.unwrap();
        let (s, peer) = l.accept().await.unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        (l, c, s)
    }
}

/// Client owns 198.18.0.1 and 2001:db8::1, server 198.18.0.2 and 2001:db8::2.
pub fn pair() -> Pair {
    pair_with(LinkConfig::default(), Config::default())
}

pub fn pair_with(link: LinkConfig, config: Config) -> Pair {
    let (a, b) = memory::pair_with(link);
    let (client_link, server_link) = (a.stats_handle(), b.stats_handle());
    let client = Net::new(a, config.clone(), [ip(C4), ip(C6)]).unwrap();
    let server = Net::new(b, config, [ip(S4), ip(S6)]).unwrap();
    Pair {
        client,
        server,
        client_link,
        server_link,
    }
}

/// `len` reproducible pseudo-random bytes.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A streaming 64-bit hash, 8 bytes per step (FNV-style multiply-xor over words, with a
/// final mix): order-sensitive, so a corrupted, lost or reordered stream shows, and fast
/// enough not to dominate a 16 MiB test.
#[derive(Clone)]
pub struct Fnv {
    h: u64,
    pending: [u8; 8],
    npending: usize,
    len: u64,
}

impl Fnv {
    pub fn new() -> Fnv {
        Fnv {
            h: 0xcbf2_9ce4_8422_2325,
            pending: [0; 8],
            npending: 0,
            len: 0,
        }
    }

    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w)
            .wrapping_mul(0x0000_0100_0000_01b3)
            .rotate_left(29);
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.npending > 0 {
            let take = (8 - self.npending).min(data.len());
            self.pending[self.npending..self.npending + take].copy_from_slice(&data[..take]);
            self.npending += take;
            data = &data[take..];
            if self.npending < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.pending));
            self.npending = 0;
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().unwrap()));
        }
        let rest = words.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.npending = rest.len();
    }

    pub fn finish(&self) -> u64 {
        let mut h = self.h;
        for &b in &self.pending[..self.npending] {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        (h ^ self.len).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    pub fn of(data: &[u8]) -> u64 {
        let mut h = Fnv::new();
        h.update(data);
        h.finish()
    }
}

/// Write all of `data` in chunks of `chunk`, then half-close.
pub async fn send_all<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8], chunk: usize) {
    for c in data.chunks(chunk) {
        w.write_all(c).await.unwrap();
    }
    w.shutdown().await.unwrap();
}

/// Read to the peer's FIN; (length, FNV hash) of what arrived.
pub async fn recv_hash<R: AsyncRead + Unpin>(r: &mut R) -> (usize, u64) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut h = Fnv::new();
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).await.unwrap();
        if n == 0 {
            return (total, h.finish());
        }
        h.update(&buf[..n]);
        total += n;
    }
}
