//! synack against the Linux kernel over TUN: 1,000 concurrent connections, and handshakes
//! that recover from a lost SYN or SYN,ACK by retransmission (LX-1, LX-2, LX-3: the first
//! retransmission comes after the 1 s initial RTO on both sides).
#![cfg(target_os = "linux")]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use synack::State;
use synack_tun::tun::Direction;
use synack_tun::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNS: usize = 1000;

/// 1,000 kernel clients connect at once to a synack echo server, each sends its number and
/// reads it back; only when all 1,000 have their echo (so all are open at the same time)
/// does synack's table get counted, and then they all close.
async fn thousand(family: Family) {
    raise_fd_limit();
    let rig = Rig::new(false, None);
    let addr = SocketAddr::new(family.synack(), 7100);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let server = tokio::spawn(async move {
        let mut served = 0usize;
        let mut tasks = Vec::new();
        while served < CONNS {
            let (mut s, _) = listener.accept().await.expect("accept");
            served += 1;
            tasks.push(tokio::spawn(async move {
                let mut id = [0u8; 8];
                s.read_exact(&mut id).await?;
                s.write_all(&id).await?;
                // Then wait for the client's FIN and close in turn.
                let mut rest = Vec::new();
                s.read_to_end(&mut rest).await?;
                std::io::Result::Ok(rest.len())
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().expect("echo task"), 0);
        }
    });
    let (all_up_tx, all_up_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let clients = kernel(rig.ns(), move || -> std::io::Result<usize> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CONNS));
            let mut tasks = Vec::new();
            for i in 0..CONNS as u64 {
                let barrier = barrier.clone();
                tasks.push(tokio::spawn(async move {
                    // Sockets made on this thread live in the namespace.
                    let mut s = tokio::net::TcpStream::connect(addr).await?;
                    s.write_all(&i.to_be_bytes()).await?;
                    let mut back = [0u8; 8];
                    s.read_exact(&mut back).await?;
                    let ok = u64::from_be_bytes(back) == i;
                    let leader = barrier.wait().await.is_leader();
                    std::io::Result::Ok((s, ok, leader))
                }));
            }
            let mut streams = Vec::new();
            let mut good = 0;
            for t in tasks {
                let (s, ok, _leader) = t.await.expect("client task")?;
                good += usize::from(ok);
                streams.push(s);
            }
            let _ = all_up_tx.send(());
            let _ = release_rx.await;
            drop(streams);
            Ok(good)
        })
    });
    let counter = async {
        all_up_rx.await.expect("the clients report");
        let established = rig
            .net
            .connections()
            .iter()
            .filter(|c| c.local == addr && c.state == State::Established)
            .count();
        let _ = release_tx.send(());
        established
    };
    let (good, established) = tokio::join!(clients, counter);
    assert_eq!(
        good.expect("kernel clients"),
        CONNS,
        "every echo came back right"
    );
    assert_eq!(established, CONNS, "synack held all of them at once");
    server.await.unwrap();
    let c = rig.net.counters();
    assert_eq!(c.passive_opens, CONNS as u64);
    assert_eq!(c.estab_resets, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_thousand_connections_v4() {
    skip_unless_netns!();
    tokio::time::timeout(TEST_TIMEOUT, thousand(Family::V4))
        .await
        .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_thousand_connections_v6() {
    skip_unless_netns!();
    tokio::time::timeout(TEST_TIMEOUT, thousand(Family::V6))
        .await
        .expect("in time");
}

// ----- a lost handshake segment ------------------------------------------------------------

/// Kernel client, synack server; the filter drops one handshake segment once. The
/// handshake must still complete, no sooner than the 1 s initial RTO (LX-3).
async fn lossy_handshake_kernel_client(family: Family, dir: Direction, syn_ack: bool) {
    let (filter, dropped) = drop_first(
        dir,
        move |p| if syn_ack { is_syn_ack(p) } else { is_syn(p) },
    );
    let rig = Rig::new(false, Some(filter));
    let addr = SocketAddr::new(family.synack(), 7200);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let start = Instant::now();
    let client = kernel(rig.ns(), move || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))
    });
    let (client, accepted) = tokio::join!(client, listener.accept());
    let elapsed = start.elapsed();
    let client = client.expect("the kernel's connect succeeds");
    let (stream, peer) = accepted.expect("synack accepts");
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(stream.info().unwrap().state, State::Established);
    assert!(dropped.load(Ordering::SeqCst), "the segment was dropped");
    assert!(
        elapsed >= Duration::from_millis(900),
        "recovered by a retransmission: {elapsed:?}"
    );
    let c = rig.net.counters();
    assert_eq!(c.passive_opens, 1, "one connection, however many SYNs");
    if syn_ack {
        // Our SYN,ACK was lost: one more went out, answering the kernel's retransmitted SYN
        // from the same half-open entry or from our own SYN,ACK timer (LX-2), whichever
        // came first.
        assert_eq!(c.synack_retrans, 1, "{c:?}");
    } else {
        // The first SYN never reached us: the kernel's retransmission made the only entry.
        assert_eq!(c.synack_retrans, 0, "{c:?}");
    }
}

/// synack client, kernel server; as above.
async fn lossy_handshake_synack_client(family: Family, dir: Direction, syn_ack: bool) {
    let (filter, dropped) = drop_first(
        dir,
        move |p| if syn_ack { is_syn_ack(p) } else { is_syn(p) },
    );
    let rig = Rig::new(false, Some(filter));
    let to = SocketAddr::new(family.kernel(), 7201);
    let listener = kernel(rig.ns(), move || std::net::TcpListener::bind(to))
        .await
        .expect("kernel bind");
    let accept = tokio::task::spawn_blocking(move || listener.accept());
    let start = Instant::now();
    let stream = TcpStream::connect(&rig.net, to)
        .await
        .expect("synack connects");
    let elapsed = start.elapsed();
    let (_k, peer) = accept.await.unwrap().expect("the kernel accepts");
    assert_eq!(peer, stream.local_addr().unwrap());
    assert!(dropped.load(Ordering::SeqCst), "the segment was dropped");
    assert!(
        elapsed >= Duration::from_millis(900),
        "recovered by a retransmission: {elapsed:?}"
    );
    let c = rig.net.counters();
    if !syn_ack {
        // Our SYN was lost: only our retransmission (RFC 6298 §5.7 / LX-1) can recover.
        assert_eq!(c.syn_retrans, 1, "one SYN retransmission");
    }
    assert_eq!(c.active_opens, 1);
}

#[tokio::test]
async fn kernel_first_syn_dropped_kernel_client_v4() {
    skip_unless_netns!();
    tokio::time::timeout(
        TEST_TIMEOUT,
        lossy_handshake_kernel_client(Family::V4, Direction::Rx, false),
    )
    .await
    .expect("in time");
}

#[tokio::test]
async fn kernel_first_syn_ack_dropped_kernel_client_v6() {
    skip_unless_netns!();
    tokio::time::timeout(
        TEST_TIMEOUT,
        lossy_handshake_kernel_client(Family::V6, Direction::Tx, true),
    )
    .await
    .expect("in time");
}

#[tokio::test]
async fn kernel_first_syn_ack_dropped_kernel_client_v4() {
    skip_unless_netns!();
    tokio::time::timeout(
        TEST_TIMEOUT,
        lossy_handshake_kernel_client(Family::V4, Direction::Tx, true),
    )
    .await
    .expect("in time");
}

#[tokio::test]
async fn kernel_first_syn_dropped_synack_client_v6() {
    skip_unless_netns!();
    tokio::time::timeout(
        TEST_TIMEOUT,
        lossy_handshake_synack_client(Family::V6, Direction::Tx, false),
    )
    .await
    .expect("in time");
}

#[tokio::test]
async fn kernel_first_syn_dropped_synack_client_v4() {
    skip_unless_netns!();
    tokio::time::timeout(
        TEST_TIMEOUT,
        lossy_handshake_synack_client(Family::V4, Direction::Tx, false),
    )
    .await
    .expect("in time");
}

#[tokio::test]
async fn kernel_first_syn_ack_dropped_synack_client_v4() {
    skip_unless_netns!();
    tokio::time::timeout(
        TEST_TIMEOUT,
        lossy_handshake_synack_client(Family::V4, Direction::Rx, true),
    )
    .await
    .expect("in time");
}

#[tokio::test]
async fn kernel_first_syn_ack_dropped_synack_client_v6() {
    skip_unless_netns!();
    tokio::time::timeout(
        TEST_TIMEOUT,
        lossy_handshake_synack_client(Family::V6, Direction::Rx, true),
    )
    .await
    .expect("in time");
}

#[tokio::test]
async fn kernel_first_syn_dropped_kernel_client_v6() {
    skip_unless_netns!();
    tokio::time::timeout(
        TEST_TIMEOUT,
        lossy_handshake_kernel_client(Family::V6, Direction::Rx, false),
    )
    .await
    .expect("in time");
}
