//! Many connections at once, and the any-destination listener (tun2socks).
mod api_support;
use api_support::*;

use std::net::SocketAddr;
use synack_tun::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

#[tokio::test]
async fn a_thousand_concurrent_connections() {
    thousand().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_multi_thread() {
    thousand().await;
}

async fn thousand() {
    const N: usize = 1000;
    let p = pair();
    let listener = TcpListener::bind(&p.server, sa("198.18.0.2:80"))
        .await
        .unwrap();
    // Echo server: one task per accepted connection.
    let server = tokio::spawn(async move {
        let mut echoes = JoinSet::new();
        for _ in 0..N {
            let (mut s, peer) = listener.accept().await.unwrap();
            echoes.spawn(async move {
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
                s.shutdown().await.unwrap();
                peer
            });
        }
        let mut peers = Vec::new();
        while let Some(r) = echoes.join_next().await {
            peers.push(r.unwrap());
        }
        peers
    });
    // Every client opens its connection before any finishes: all 1,000 are open at once.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
    let mut clients = JoinSet::new();
    for i in 0..N {
        let net = p.client.clone();
        let barrier = barrier.clone();
        clients.spawn(async move {
            let mut c = TcpStream::connect(&net, sa("198.18.0.2:80")).await.unwrap();
            barrier.wait().await;
            let msg = pattern(i as u64 + 100, 1000 + i);
            c.write_all(&msg).await.unwrap();
            c.shutdown().await.unwrap();
            let mut back = Vec::new();
            c.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, msg, "connection {i}");
            c.local_addr().unwrap()
        });
    }
    let mut locals = Vec::new();
    while let Some(r) = clients.join_next().await {
        locals.push(r.unwrap());
    }
    let mut peers = server.await.unwrap();
    locals.sort();
    peers.sort();
    assert_eq!(locals.len(), N);
    locals.dedup();
    assert_eq!(locals.len(), N, "each connection had its own port");
    assert_eq!(
        locals, peers,
        "the server saw exactly the clients' addresses"
    );
    let c = p.server.counters();
    eprintln!(
        "1,000 connections: {} passive opens, {} SYN cookies sent, {} accept-queue overflows",
        c.passive_opens, c.syncookies_sent, c.listen_overflows
    );
}

#[tokio::test]
async fn listen_any_reports_the_original_destination() {
    let p = pair();
    let any = TcpListener::listen_any(&p.server).await.unwrap();
    assert!(any.local_addr().unwrap().ip().is_unspecified());
    // A specific listener on an owned address still takes its own connections.
    let own = TcpListener::bind(&p.server, sa("198.18.0.2:80"))
        .await
        .unwrap();

    let dests: Vec<SocketAddr> = [
        "198.18.5.5:80",
        "198.18.5.5:443",
        "198.19.200.1:8080",
        "198.18.0.2:81", // an owned address, but nobody listens on the port
        "[2001:db8:1::1]:443",
        "[2001:db8:ffff::7]:22",
    ]
    .iter()
    .map(|s| sa(s))
    .collect();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (mut s, peer) = any.accept().await.unwrap();
            let dest = s.local_addr().unwrap();
            // Answer with the destination the client dialled, as a proxy would use it.
            s.write_all(dest.to_string().as_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
            seen.push((dest, peer));
        }
        seen
    });
    for d in &dests {
        let mut c = TcpStream::connect(&p.client, *d).await.unwrap();
        assert_eq!(c.peer_addr().unwrap(), *d);
        let mut answer = String::new();
        c.read_to_string(&mut answer).await.unwrap();
        assert_eq!(answer, d.to_string());
    }
    let seen = server.await.unwrap();
    assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), dests);

    // The owned address and port goes to its own listener, not the any-listener.
    let c = TcpStream::connect(&p.client, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let (s, peer) = own.accept().await.unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    assert_eq!(s.local_addr().unwrap(), sa("198.18.0.2:80"));
}

#[tokio::test]
async fn dropping_the_any_listener_stops_taking_new_destinations() {
    let p = pair();
    let any = TcpListener::listen_any(&p.server).await.unwrap();
    let c = TcpStream::connect(&p.client, sa("198.18.77.1:25"))
        .await
        .unwrap();
    let (mut s, _) = any.accept().await.unwrap();
    drop(any);
    // The accepted connection lives on.
    let mut c = c;
    c.write_all(b"helo").await.unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"helo");
    // A new destination is nobody's now: the SYN is dropped (not ours), so connecting
    // would time out; check it stays unanswered for a while.
    let r = TcpStream::connect_timeout(
        &p.client,
        sa("198.18.77.1:26"),
        std::time::Duration::from_millis(300),
    )
    .await;
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
}
