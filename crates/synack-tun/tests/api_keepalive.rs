//! Keep-alive through the tokio API (MUST-24..29): switched on per stream, probes answered
//! by a live peer keep the connection up, on tokio's virtual clock.

mod api_support;
use api_support::*;
use std::time::Duration;
use synack::KeepAlive;
use synack_tun::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(start_paused = true)]
async fn must_24_keepalive_probes_an_idle_stream_and_a_live_peer_answers() {
    let p = pair();
    let listener = TcpListener::bind(&p.server, sa("198.18.0.2:7"))
        .await
        .unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await.unwrap();
        s.write_all(&buf[..n]).await.unwrap();
        s
    });
    let mut c = TcpStream::connect(&p.client, sa("198.18.0.2:7"))
        .await
        .unwrap();
    assert_eq!(c.keepalive(), None, "off by default (MUST-25)");
    let ka = KeepAlive {
        idle: Duration::from_secs(30),
        interval: Duration::from_secs(5),
        probes: 3,
    };
    c.set_keepalive(Some(ka)).unwrap();
    assert_eq!(c.keepalive(), Some(ka));
    // 300 s of silence: a probe every 30 s, each answered by the peer's stack.
    tokio::time::sleep(Duration::from_secs(300)).await;
    let probes = p.client.counters().keepalive_probes;
    assert!((9..=10).contains(&probes), "{probes} probes in 300 s");
    assert_eq!(p.client.counters().keepalive_timeouts, 0);
    // Still alive: an echo goes through.
    c.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    drop(server.await.unwrap());
}
