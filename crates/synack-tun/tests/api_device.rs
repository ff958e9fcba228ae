//! The Device contract as the runtime uses it: batches, device failure, MTU checks, and the
//! runtime's tasks ending with the last handle.
mod api_support;
use api_support::*;

use std::io::{self, ErrorKind};
use std::sync::Arc;
use synack::Config;
use synack_tun::device::{memory, Device, PacketBatch};
use synack_tun::{Net, TcpListener, TcpStream};

#[test]
fn packet_batch_keeps_headroom_and_reuses_slots() {
    let mut b = PacketBatch::new(10);
    assert!(b.is_empty());
    b.push(b"abc");
    assert!(b.push_with(100, |buf| {
        assert_eq!(buf.len(), 100);
        buf[..2].copy_from_slice(b"de");
        Some(2)
    }));
    // A fill that produces nothing, or claims more than it was given, appends nothing.
    assert!(!b.push_with(100, |_| None));
    assert!(!b.push_with(4, |_| Some(5)));
    assert_eq!(b.len(), 2);
    assert_eq!(b.packet(0), Some(&b"abc"[..]));
    assert_eq!(b.packet(1), Some(&b"de"[..]));
    assert_eq!(b.packet(2), None);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![&b"abc"[..], &b"de"[..]]);
    // Devices see the headroom in front of each packet.
    assert_eq!(b.slots_mut()[0].len(), 13);
    assert_eq!(b.headroom(), 10);
    b.clear();
    assert!(b.is_empty());
    // A batched read: slots sized for the MTU, then trimmed to what arrived.
    let slots = b.slots_for_rx(3, 1500);
    assert_eq!(slots.len(), 3);
    assert!(slots.iter().all(|s| s.len() == 1510));
    slots[0][10..13].copy_from_slice(b"xyz");
    slots[0].truncate(13);
    slots[1].truncate(10);
    b.set_len(2);
    assert_eq!(b.packet(0), Some(&b"xyz"[..]));
    assert_eq!(b.packet(1), Some(&b""[..]));
    // set_len cannot claim slots that do not exist.
    b.set_len(99);
    assert_eq!(b.len(), 3);
}

/// A memory device whose receive side fails for good when `fail` is notified.
struct Failing {
    inner: memory::MemoryDevice,
    fail: Arc<tokio::sync::Notify>,
}

impl Device for Failing {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
    async fn recv(&self, batch: &mut PacketBatch) -> io::Result<()> {
        tokio::select! {
            r = self.inner.recv(batch) => r,
            _ = self.fail.notified() => Err(io::Error::new(ErrorKind::BrokenPipe, "unplugged")),
        }
    }
    async fn send(&self, batch: &mut PacketBatch) -> io::Result<()> {
        self.inner.send(batch).await
    }
}

#[tokio::test]
async fn device_failure_reaches_every_waiting_call() {
    let (a, b) = memory::pair();
    let fail = Arc::new(tokio::sync::Notify::new());
    let dev = Failing {
        inner: b,
        fail: fail.clone(),
    };
    let client = Net::new(a, Config::default(), [ip(C4)]).unwrap();
    let server = Net::new(dev, Config::default(), [ip(S4)]).unwrap();
    let l = TcpListener::bind(&server, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let _c = TcpStream::connect(&client, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let (s, _) = l.accept().await.unwrap();
    let reader = tokio::spawn(async move {
        let mut s = s;
        tokio::io::AsyncReadExt::read(&mut s, &mut [0u8; 8]).await
    });
    let acceptor = tokio::spawn(async move { l.accept().await.map(|_| ()) });
    tokio::task::yield_now().await;
    fail.notify_one();
    assert_eq!(
        reader.await.unwrap().unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    assert_eq!(
        acceptor.await.unwrap().unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    let e = TcpStream::connect(&server, sa("198.18.0.1:80"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
}

#[tokio::test]
async fn tiny_mtu_is_rejected() {
    let (a, _b) = memory::pair_with(memory::LinkConfig {
        mtu: 500,
        ..Default::default()
    });
    let e = Net::new(a, Config::default(), [ip(C4)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn runtime_tasks_end_with_the_last_handle() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let p = pair();
    assert_eq!(
        metrics.num_alive_tasks(),
        before + 4,
        "rx and tx tasks of two stacks"
    );
    let l = TcpListener::bind(&p.server, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let c = TcpStream::connect(&p.client, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let Pair { client, server, .. } = p;
    // Sockets keep a stack running after its Net is dropped.
    drop(client);
    drop(server);
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(metrics.num_alive_tasks(), before + 4);
    drop(c);
    drop(l);
    for _ in 0..100 {
        if metrics.num_alive_tasks() == before {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(metrics.num_alive_tasks(), before);
}

#[tokio::test]
async fn several_tasks_can_wait_on_one_listener() {
    let p = pair();
    let l = Arc::new(
        TcpListener::bind(&p.server, sa("198.18.0.2:80"))
            .await
            .unwrap(),
    );
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let l = l.clone();
        waiters.push(tokio::spawn(async move { l.accept().await.unwrap().1 }));
    }
    tokio::task::yield_now().await;
    let mut locals = Vec::new();
    let mut conns = Vec::new();
    for _ in 0..3 {
        let c = TcpStream::connect(&p.client, sa("198.18.0.2:80"))
            .await
            .unwrap();
        locals.push(c.local_addr().unwrap());
        conns.push(c);
    }
    let mut peers = Vec::new();
    for w in waiters {
        peers.push(w.await.unwrap());
    }
    locals.sort();
    peers.sort();
    assert_eq!(locals, peers);
}

#[test]
fn stream_hash_is_chunking_independent_and_order_sensitive() {
    let data = pattern(42, 10_001);
    let whole = Fnv::of(&data);
    for chunk in [1, 3, 7, 8, 9, 1000] {
        let mut h = Fnv::new();
        data.chunks(chunk).for_each(|c| h.update(c));
        assert_eq!(h.finish(), whole, "chunks of {chunk}");
    }
    let mut swapped = data.clone();
    swapped.swap(100, 5000);
    assert_ne!(Fnv::of(&swapped), whole);
    assert_ne!(Fnv::of(&data[..10_000]), whole);
}
