//! The two kinds of host on the link: a synack [`Stack`] and a smoltcp [`Interface`] with its
//! [`SocketSet`] and a small in-memory [`Device`]. Both are driven the same way, once per
//! round: `ingress` (every packet waiting for this host, then due timers), the application,
//! then `egress` (every packet the host wants to send).

use crate::link::{Link, Packet, A_TO_B, B_TO_A};
use smoltcp::iface::{Config as SmolConfig, Interface, PollIngressSingleResult, PollResult};
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::net::{IpAddr, Ipv4Addr};
use synack::{Config, Instant, Stack};

/// Which end of the link a host sits on. A is 198.18.0.1, B is 198.18.0.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn ip(self) -> Ipv4Addr {
        match self {
            Side::A => Ipv4Addr::new(198, 18, 0, 1),
            Side::B => Ipv4Addr::new(198, 18, 0, 2),
        }
    }
    /// Direction of the packets this host receives.
    pub fn rx(self) -> usize {
        match self {
            Side::A => B_TO_A,
            Side::B => A_TO_B,
        }
    }
    /// Direction of the packets this host sends.
    pub fn tx(self) -> usize {
        match self {
            Side::A => A_TO_B,
            Side::B => B_TO_A,
        }
    }
    pub fn peer(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// A host on the link, driven by [`crate::Sim`]. Times are virtual microseconds.
pub trait Host {
    /// Take every packet waiting for this host, then run due timers.
    fn ingress(&mut self, now: u64, link: &Link);
    /// Put every packet this host wants to send on the link.
    fn egress(&mut self, now: u64, link: &Link);
    /// When this host next needs to run on its own (a timer), if ever.
    fn next_timeout(&mut self, now: u64) -> Option<u64>;
}

// ----- synack ----------------------------------------------------------------------------

/// A synack stack on one side of the link.
pub struct SynackHost {
    pub stack: Stack,
    pub side: Side,
    mtu: usize,
    /// The buffer the next packet goes into, kept between calls: a new one is taken from
    /// the link only after a packet filled the last, so a poll that finds nothing to send
    /// costs no buffer, as smoltcp's `TxToken` takes one only when it sends.
    tx_buf: Option<Vec<u8>>,
}

impl SynackHost {
    /// A stack owning `side`'s address, configured by `config` (its `mtu` sizes the
    /// transmit buffers).
    pub fn new(side: Side, config: Config) -> SynackHost {
        let mtu = config.mtu as usize;
        let mut stack = Stack::new(config);
        stack.add_address(IpAddr::V4(side.ip()));
        SynackHost {
            stack,
            side,
            mtu,
            tx_buf: None,
        }
    }

    /// A default configuration (Linux-like) keyed for this side, with `mtu`.
    pub fn config(side: Side, mtu: u16) -> Config {
        let mut secret = [0x5a; 16];
        secret[0] = side as u8;
        Config {
            mtu,
            ..Config::with_secret(secret)
        }
    }
}

impl Host for SynackHost {
    fn ingress(&mut self, now: u64, link: &Link) {
        let t = Instant::from_micros(now);
        while let Some(Packet { buf, len }) = link.pop(self.side.rx()) {
            self.stack.handle_packet(t, &buf[..len]);
            link.recycle(buf);
        }
        if self.stack.poll_timeout().is_some_and(|d| d <= t) {
            self.stack.handle_timeout(t);
        }
    }

    fn egress(&mut self, now: u64, link: &Link) {
        let t = Instant::from_micros(now);
        loop {
            let mut buf = match self.tx_buf.take() {
                Some(b) => b,
                None => link.take_buf(self.mtu),
            };
            match self.stack.poll_transmit(t, &mut buf) {
                Some(n) => link.push(self.side.tx(), buf, n),
                None => {
                    self.tx_buf = Some(buf);
                    return;
                }
            }
        }
    }

    fn next_timeout(&mut self, _now: u64) -> Option<u64> {
        self.stack.poll_timeout().map(Instant::as_micros)
    }
}

// ----- smoltcp ---------------------------------------------------------------------------

/// smoltcp's clock from ours (both count microseconds).
pub fn smol_instant(now: u64) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(now as i64)
}

/// A smoltcp device (IP medium) over one side of the [`Link`].
pub struct LinkDevice<'l> {
    link: &'l Link,
    side: Side,
    mtu: usize,
}

impl<'l> LinkDevice<'l> {
    pub fn new(link: &'l Link, side: Side, mtu: usize) -> Self {
        LinkDevice { link, side, mtu }
    }
}

pub struct RxToken<'l> {
    pkt: Packet,
    link: &'l Link,
}

pub struct TxToken<'l> {
    link: &'l Link,
    dir: usize,
}

impl smoltcp::phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = f(&self.pkt.buf[..self.pkt.len]);
        self.link.recycle(self.pkt.buf);
        r
    }
}

impl smoltcp::phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = self.link.take_buf(len);
        let r = f(&mut buf[..len]);
        self.link.push(self.dir, buf, len);
        r
    }
}

impl Device for LinkDevice<'_> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a>
    where
        Self: 'a;

    fn receive(
        &mut self,
        _timestamp: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let pkt = self.link.pop(self.side.rx())?;
        Some((
            RxToken {
                pkt,
                link: self.link,
            },
            TxToken {
                link: self.link,
                dir: self.side.tx(),
            },
        ))
    }

    fn transmit(&mut self, _timestamp: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        Some(TxToken {
            link: self.link,
            dir: self.side.tx(),
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // Checksums: the default, `Checksum::Both` for IPv4 and TCP (computed and verified).
        caps
    }
}

/// A smoltcp interface, its sockets, on one side of the link.
pub struct SmolHost {
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    pub side: Side,
    pub mtu: usize,
}

impl SmolHost {
    /// An interface owning `side`'s address (/24, so the peer is on-link), IP medium, `mtu`.
    pub fn new(side: Side, mtu: usize, now: u64) -> SmolHost {
        let scratch = Link::new();
        let mut dev = LinkDevice::new(&scratch, side, mtu);
        let mut config = SmolConfig::new(HardwareAddress::Ip);
        config.random_seed = 0x5eed_0000 + side as u64;
        let mut iface = Interface::new(config, &mut dev, smol_instant(now));
        let o = side.ip().octets();
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::v4(o[0], o[1], o[2], o[3]), 24))
                .expect("one address fits");
        });
        SmolHost {
            iface,
            sockets: SocketSet::new(Vec::new()),
            side,
            mtu,
        }
    }

    /// A new TCP socket with `rx`/`tx`-byte buffers, added to the set.
    pub fn add_tcp(&mut self, rx: usize, tx: usize) -> SocketHandle {
        let s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; rx]),
            tcp::SocketBuffer::new(vec![0u8; tx]),
        );
        self.sockets.add(s)
    }

    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// Connect socket `h` from `local_port` to the peer side's `port`.
    pub fn connect(&mut self, h: SocketHandle, local_port: u16, port: u16) {
        let o = self.side.peer().ip().octets();
        let remote = (IpAddress::v4(o[0], o[1], o[2], o[3]), port);
        let s = self.sockets.get_mut::<tcp::Socket>(h);
        s.connect(self.iface.context(), remote, local_port)
            .expect("smoltcp connect");
    }
}

impl Host for SmolHost {
    fn ingress(&mut self, now: u64, link: &Link) {
        let mut dev = LinkDevice::new(link, self.side, self.mtu);
        let t = smol_instant(now);
        while self
            .iface
            .poll_ingress_single(t, &mut dev, &mut self.sockets)
            != PollIngressSingleResult::None
        {}
    }

    fn egress(&mut self, now: u64, link: &Link) {
        // What `Interface::poll` does after ingress: egress passes until one sends nothing.
        // smoltcp runs its socket timers during these passes.
        let mut dev = LinkDevice::new(link, self.side, self.mtu);
        let t = smol_instant(now);
        while self.iface.poll_egress(t, &mut dev, &mut self.sockets) != PollResult::None {}
    }

    fn next_timeout(&mut self, now: u64) -> Option<u64> {
        self.iface
            .poll_at(smol_instant(now), &self.sockets)
            .map(|t| t.total_micros().max(0) as u64)
    }
}
