//! `Stack::listen_any`: one listener for every destination (tun2socks-style proxies). Rules:
//! while it exists every packet is ours; a SYN no specific listener takes goes to it (after
//! the exact and wildcard listeners, MUST-42); the connection's local address is the SYN's
//! destination; at most one exists; connections it accepted outlive it.
//!
//! Two real stacks talk through a lossless, instantaneous wire pumped by hand.

use std::net::{IpAddr, SocketAddr};
use synack::wire;
use synack::{Config, ConnId, DropReason, Error, Event, Instant, ListenerId, Stack, State};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Pair {
    client: Stack,
    server: Stack,
    now: Instant,
    /// Every packet the server sent, for assertions on the wire.
    server_sent: Vec<Vec<u8>>,
}

impl Pair {
    /// A client owning 198.18.0.1 and 2001:db8::1; a server owning `server_addrs`.
    fn new(server_addrs: &[&str]) -> Pair {
        let mut client = Stack::new(Config::with_secret([1; 16]));
        client.add_address(ip("198.18.0.1"));
        client.add_address(ip("2001:db8::1"));
        let mut server = Stack::new(Config::with_secret([2; 16]));
        for a in server_addrs {
            server.add_address(ip(a));
        }
        Pair {
            client,
            server,
            now: Instant::from_millis(1),
            server_sent: Vec::new(),
        }
    }

    /// Move packets both ways until neither side has anything to send.
    fn pump(&mut self) {
        let mut buf = vec![0u8; 2048];
        loop {
            let mut moved = false;
            while let Some(n) = self.client.poll_transmit(self.now, &mut buf) {
                self.server.handle_packet(self.now, &buf[..n]);
                moved = true;
            }
            while let Some(n) = self.server.poll_transmit(self.now, &mut buf) {
                self.server_sent.push(buf[..n].to_vec());
                self.client.handle_packet(self.now, &buf[..n]);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    fn connect(&mut self, to: SocketAddr) -> ConnId {
        let c = self.client.connect(self.now, None, to).unwrap();
        self.pump();
        c
    }

    fn accept(&mut self, l: ListenerId) -> Option<ConnId> {
        self.server.accept(l)
    }

    fn server_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }
}

#[test]
fn listen_any_accepts_every_destination_and_reports_it_as_local() {
    // The server owns no address at all: a pure tun2socks endpoint.
    let mut p = Pair::new(&[]);
    let l = p.server.listen_any(16).unwrap();
    let dests = [
        "93.184.216.34:443",
        "198.18.7.9:80",
        "198.18.7.9:8080",
        "[2001:db8:1::42]:443",
        "[2001:db8:ffff::1]:22",
    ];
    for d in dests {
        let to = sa(d);
        let c = p.connect(to);
        assert_eq!(p.client.state(c), Some(State::Established), "{d}");
        let s = p.accept(l).expect("accepted");
        let info = p.server.status(s).unwrap();
        assert_eq!(
            info.local, to,
            "the original destination is the local address"
        );
        assert_eq!(info.remote, p.client.status(c).unwrap().local);
        assert_eq!(info.listener, Some(l));
        // Bytes flow both ways, answered from the original destination.
        assert_eq!(p.client.send(p.now, c, b"ping").unwrap(), 4);
        p.pump();
        let mut buf = [0u8; 16];
        assert_eq!(p.server.recv(p.now, s, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        assert_eq!(p.server.send(p.now, s, b"pong").unwrap(), 4);
        p.pump();
        assert_eq!(p.client.recv(p.now, c, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"pong");
    }
    // Every segment the server sent came from one of the original destinations.
    for pkt in &p.server_sent {
        let parsed = wire::parse(pkt).unwrap();
        let from = SocketAddr::new(parsed.src, parsed.tcp.src_port);
        assert!(dests.iter().any(|d| sa(d) == from), "sent from {from}");
    }
    assert!(p.accept(l).is_none());
}

#[test]
fn listen_any_yields_to_specific_listeners_must_42() {
    let mut p = Pair::new(&["198.18.0.2"]);
    let exact = p.server.listen(sa("198.18.0.2:80"), 16).unwrap();
    let wild = p.server.listen(sa("0.0.0.0:81"), 16).unwrap();
    let any = p.server.listen_any(16).unwrap();

    p.connect(sa("198.18.0.2:80"));
    assert!(p.accept(exact).is_some());
    assert!(p.accept(any).is_none());

    p.connect(sa("198.18.0.2:81"));
    assert!(p.accept(wild).is_some());
    assert!(p.accept(any).is_none());

    // An owned address on a port nobody listens on, and a foreign address on port 80.
    p.connect(sa("198.18.0.2:82"));
    let s = p.accept(any).unwrap();
    assert_eq!(p.server.status(s).unwrap().local, sa("198.18.0.2:82"));
    p.connect(sa("198.18.99.1:80"));
    let s = p.accept(any).unwrap();
    assert_eq!(p.server.status(s).unwrap().local, sa("198.18.99.1:80"));
    assert!(p.accept(exact).is_none());
    assert!(p
        .server_events()
        .contains(&Event::AcceptReady { listener: any }));
}

#[test]
fn only_one_any_listener_and_it_can_be_replaced() {
    let mut p = Pair::new(&[]);
    let l = p.server.listen_any(4).unwrap();
    assert_eq!(p.server.listen_any(4), Err(Error::AddrInUse));
    p.server.close_listener(p.now, l).unwrap();
    assert_eq!(p.server.close_listener(p.now, l), Err(Error::InvalidHandle));
    let l2 = p.server.listen_any(4).unwrap();
    p.connect(sa("203.0.113.5:25"));
    let s = p.accept(l2).unwrap();
    assert_eq!(p.server.status(s).unwrap().local, sa("203.0.113.5:25"));
}

#[test]
fn without_any_listener_foreign_destinations_are_dropped_silently() {
    let mut p = Pair::new(&["198.18.0.2"]);
    let c = p
        .client
        .connect(p.now, None, sa("198.18.50.50:80"))
        .unwrap();
    p.pump();
    assert!(
        p.server_sent.is_empty(),
        "no RST for a destination not ours"
    );
    assert_eq!(p.server.counters().dropped(DropReason::NotOurs), 1);
    assert_eq!(p.client.state(c), Some(State::SynSent));
}

#[test]
fn connections_outlive_their_any_listener() {
    let mut p = Pair::new(&[]);
    let l = p.server.listen_any(4).unwrap();
    let c = p.connect(sa("198.18.9.9:7"));
    let s = p.accept(l).unwrap();
    p.server.close_listener(p.now, l).unwrap();

    // The accepted connection still carries data in both directions.
    assert_eq!(p.client.send(p.now, c, b"still here").unwrap(), 10);
    p.pump();
    let mut buf = [0u8; 32];
    assert_eq!(p.server.recv(p.now, s, &mut buf).unwrap(), 10);
    assert_eq!(&buf[..10], b"still here");

    // A new connection to another foreign destination is no longer ours: dropped, no RST.
    let before = p.server_sent.len();
    let c2 = p.client.connect(p.now, None, sa("198.18.9.9:8")).unwrap();
    p.pump();
    assert_eq!(p.server_sent.len(), before);
    assert_eq!(p.client.state(c2), Some(State::SynSent));
    assert_eq!(p.server.counters().dropped(DropReason::NotOurs), 1);
}

#[test]
fn stray_ack_to_a_foreign_destination_is_reset_from_that_destination() {
    // With an any-listener a stray ACK reaches LISTEN processing, which answers it with a RST
    // (RFC 9293 §3.10.7.2, ST-3) sent from the address the ACK was sent to.
    let mut p = Pair::new(&[]);
    let _l = p.server.listen_any(4).unwrap();
    // Make a connection on the client, then forget the server side by using a second
    // server that has never seen it.
    let c = p.connect(sa("198.18.3.3:443"));
    assert_eq!(p.client.state(c), Some(State::Established));
    let mut fresh = Stack::new(Config::with_secret([3; 16]));
    fresh.listen_any(4).unwrap();
    std::mem::swap(&mut p.server, &mut fresh);
    p.server_sent.clear();
    p.client.send(p.now, c, b"x").unwrap();
    p.pump();
    assert_eq!(p.server_sent.len(), 1);
    let rst = wire::parse(&p.server_sent[0]).unwrap();
    assert!(rst.tcp.flags.rst());
    assert_eq!(
        SocketAddr::new(rst.src, rst.tcp.src_port),
        sa("198.18.3.3:443")
    );
    assert_eq!(p.client.state(c), Some(State::Closed));
}
