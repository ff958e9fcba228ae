//! Connect, accept, echo, half-close, errors: the tokio::net-shaped API over an in-memory
//! link, IPv4 (198.18.0.0/15) and IPv6 (2001:db8::/32).
mod api_support;
use api_support::*;

use std::io::ErrorKind;
use std::time::Duration;
use synack::State;
use synack_tun::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn connect_accept_echo(server_addr: &str, client_ip: &str) {
    let p = pair();
    let listener = TcpListener::bind(&p.server, sa(server_addr)).await.unwrap();
    assert_eq!(listener.local_addr().unwrap(), sa(server_addr));
    let server = tokio::spawn(async move {
        let (mut s, peer) = listener.accept().await.unwrap();
        assert_eq!(s.peer_addr().unwrap(), peer);
        assert_eq!(s.local_addr().unwrap(), listener.local_addr().unwrap());
        let mut buf = vec![0u8; 1024];
        let mut got = Vec::new();
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        s.shutdown().await.unwrap();
        (got, peer)
    });
    let mut c = TcpStream::connect(&p.client, sa(server_addr))
        .await
        .unwrap();
    assert_eq!(c.peer_addr().unwrap(), sa(server_addr));
    assert_eq!(c.local_addr().unwrap().ip(), ip(client_ip));
    assert!(c.local_addr().unwrap().port() >= 32768);
    assert_eq!(c.info().unwrap().state, State::Established);
    let msg = b"hello, synack over tokio";
    c.write_all(msg).await.unwrap();
    let mut back = vec![0u8; msg.len()];
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, msg);
    c.shutdown().await.unwrap();
    let mut rest = Vec::new();
    assert_eq!(c.read_to_end(&mut rest).await.unwrap(), 0);
    let (got, peer) = server.await.unwrap();
    assert_eq!(got, msg);
    assert_eq!(peer, c.local_addr().unwrap());
}

#[tokio::test]
async fn connect_accept_echo_v4() {
    connect_accept_echo("198.18.0.2:7", C4).await;
}

#[tokio::test]
async fn connect_accept_echo_v6() {
    connect_accept_echo("[2001:db8::2]:7", C6).await;
}

#[tokio::test]
async fn wildcard_bind_and_port_zero() {
    let p = pair();
    let l = TcpListener::bind(&p.server, sa("0.0.0.0:0")).await.unwrap();
    let port = l.local_addr().unwrap().port();
    assert!(port >= 32768, "ephemeral port {port}");
    let c = TcpStream::connect(&p.client, format!("{S4}:{port}").parse().unwrap())
        .await
        .unwrap();
    let (s, peer) = l.accept().await.unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    assert_eq!(s.local_addr().unwrap(), c.peer_addr().unwrap());
}

#[tokio::test]
async fn half_close_client_to_server_then_server_keeps_sending() {
    let p = pair();
    let (_l, mut c, mut s) = p.connected("198.18.0.2:80").await;
    // The client says everything and half-closes (FIN): the server reads to EOF...
    c.write_all(b"request").await.unwrap();
    c.shutdown().await.unwrap();
    let mut req = Vec::new();
    s.read_to_end(&mut req).await.unwrap();
    assert_eq!(req, b"request");
    assert_eq!(s.info().unwrap().state, State::CloseWait);
    // ...writing after shutdown is a broken pipe...
    assert_eq!(
        c.write(b"more").await.unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    // ...and the server still answers at length over the half-open direction (more than
    // the send buffer and window hold, so the writer runs in its own task).
    let answer = pattern(7, 300_000);
    let expected = answer.clone();
    let writer = tokio::spawn(async move {
        s.write_all(&answer).await.unwrap();
        s.shutdown().await.unwrap();
        s
    });
    let mut got = Vec::new();
    c.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, expected);
    // A read after EOF stays at EOF.
    assert_eq!(c.read(&mut [0u8; 8]).await.unwrap(), 0);
    writer.await.unwrap();
}

#[tokio::test]
async fn half_close_server_to_client_then_client_keeps_sending() {
    let p = pair();
    let (_l, mut c, mut s) = p.connected("[2001:db8::2]:80").await;
    s.write_all(b"banner").await.unwrap();
    s.shutdown().await.unwrap();
    let mut banner = Vec::new();
    c.read_to_end(&mut banner).await.unwrap();
    assert_eq!(banner, b"banner");
    assert_eq!(c.info().unwrap().state, State::CloseWait);
    let upload = pattern(8, 300_000);
    let expected = upload.clone();
    let writer = tokio::spawn(async move {
        c.write_all(&upload).await.unwrap();
        c.shutdown().await.unwrap();
        c
    });
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, expected);
    writer.await.unwrap();
    assert_eq!(
        s.write(b"x").await.unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
}

#[tokio::test]
async fn no_listener_is_connection_refused() {
    let p = pair();
    let e = TcpStream::connect(&p.client, sa("198.18.0.2:9"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    let e = TcpStream::connect(&p.client, sa("[2001:db8::2]:9"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    // The refused attempts left nothing behind.
    tokio::task::yield_now().await;
    assert_eq!(p.client.connection_count(), 0);
}

#[tokio::test]
async fn abort_resets_the_peer() {
    let p = pair();
    let (_l, mut c, mut s) = p.connected("198.18.0.2:80").await;
    c.write_all(b"partial").await.unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).await.unwrap();
    c.abort().unwrap();
    // The server, blocked in read, learns of the RST.
    let e = s.read(&mut buf).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    assert_eq!(
        s.write(b"x").await.unwrap_err().kind(),
        ErrorKind::ConnectionReset
    );
    // The aborting side reports its own abort.
    assert_eq!(
        c.read(&mut buf).await.unwrap_err().kind(),
        ErrorKind::ConnectionAborted
    );
    assert_eq!(
        c.write(b"x").await.unwrap_err().kind(),
        ErrorKind::ConnectionAborted
    );
}

#[tokio::test]
async fn linger_zero_drop_resets_the_peer() {
    let p = pair();
    let (_l, c, mut s) = p.connected("198.18.0.2:80").await;
    c.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(c.linger().unwrap(), Some(Duration::ZERO));
    assert_eq!(
        c.set_linger(Some(Duration::from_secs(1)))
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    drop(c);
    let e = s.read(&mut [0u8; 4]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn drop_with_unread_data_resets_lx_18() {
    let p = pair();
    let (_l, mut c, s) = p.connected("198.18.0.2:80").await;
    c.write_all(b"never read").await.unwrap();
    // Wait until the bytes sit unread at the server.
    while s.info().unwrap().recv_queued < 10 {
        tokio::task::yield_now().await;
    }
    drop(s);
    let e = c.read(&mut [0u8; 4]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn graceful_drop_gives_eof() {
    let p = pair();
    let (_l, mut c, mut s) = p.connected("198.18.0.2:80").await;
    s.write_all(b"bye").await.unwrap();
    drop(s);
    let mut got = Vec::new();
    c.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye");
}

#[tokio::test(start_paused = true)]
async fn silent_peer_times_out() {
    // Nobody answers 198.18.0.99: its packets reach the server stack, which does not own the
    // address and drops them silently.
    let p = pair();
    let start = tokio::time::Instant::now();
    let e = TcpStream::connect(&p.client, sa("198.18.0.99:80"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    // SYNs at 0, 1, 3, 7, 15, 31, 63 s; failure at 127 s (LX-1), on tokio's virtual clock.
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(127) && waited < Duration::from_secs(128),
        "{waited:?}"
    );
    assert_eq!(p.client_link.tx().sent, 7);
}

#[tokio::test(start_paused = true)]
async fn connect_timeout_gives_up_early_and_cleans_up() {
    let p = pair();
    let start = tokio::time::Instant::now();
    let e = TcpStream::connect_timeout(&p.client, sa("[2001:db8::99]:80"), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(
        p.client.connection_count(),
        0,
        "the half-made connection is gone"
    );
}

#[tokio::test]
async fn bind_errors() {
    let p = pair();
    let _l = TcpListener::bind(&p.server, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let e = TcpListener::bind(&p.server, sa("198.18.0.2:80"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    let e = TcpListener::bind(&p.server, sa("198.18.0.77:80"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrNotAvailable);
    let _any = TcpListener::listen_any(&p.server).await.unwrap();
    let e = TcpListener::listen_any(&p.server).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
}

#[tokio::test]
async fn connect_errors() {
    let p = pair();
    // Multicast and unspecified remotes are refused up front (MUST-46).
    let e = TcpStream::connect(&p.client, sa("224.0.0.1:80"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrNotAvailable);
    // A stack with only IPv4 addresses cannot reach IPv6 (MUST-44).
    let (a, _b) = synack_tun::device::memory::pair();
    let v4_only = synack_tun::Net::new(a, synack::Config::default(), [ip(C4)]).unwrap();
    let e = TcpStream::connect(&v4_only, sa("[2001:db8::2]:80"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NetworkUnreachable);
}

#[tokio::test]
async fn nodelay_round_trips() {
    let p = pair();
    let (_l, c, s) = p.connected("198.18.0.2:80").await;
    assert!(!c.nodelay().unwrap());
    c.set_nodelay(true).unwrap();
    assert!(c.nodelay().unwrap());
    s.set_nodelay(true).unwrap();
    assert!(s.nodelay().unwrap());
}

/// LX-11 through the tokio API: SO_RCVBUF / SO_SNDBUF-style setters pin the sizes (not
/// doubled), the getters report them, 0 is refused, and a transfer still works.
#[tokio::test]
async fn lx_11_buffer_size_setters_round_trip() {
    let p = pair();
    let (_l, mut c, mut s) = p.connected("198.18.0.2:80").await;
    // The defaults: 128 KiB each way (autotuning may grow them).
    assert_eq!(c.recv_buffer_size().unwrap(), 128 * 1024);
    assert_eq!(c.send_buffer_size().unwrap(), 128 * 1024);
    // The SYN,ACK already offered 65,160 bytes (45 segments of 1448, as Linux's): that
    // promise is kept (the right edge never moves left, SHLD-14), and the buffer comes down
    // to 16 KiB as it is used.
    s.set_recv_buffer_size(16 * 1024).unwrap();
    assert_eq!(s.recv_buffer_size().unwrap(), 65_160);
    c.set_send_buffer_size(8 * 1024).unwrap();
    assert_eq!(c.send_buffer_size().unwrap(), 8 * 1024);
    assert!(s.info().unwrap().recv_buffer_pinned);
    let e = c.set_recv_buffer_size(0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = c.set_send_buffer_size(0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // 200 KB through an 8 KiB send buffer into a 16 KiB receive buffer.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let sent = data.clone();
    let w = tokio::spawn(async move {
        c.write_all(&sent).await.unwrap();
        c.shutdown().await.unwrap();
        c
    });
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, data);
    let c = w.await.unwrap();
    assert_eq!(c.send_buffer_size().unwrap(), 8 * 1024);
    assert_eq!(s.recv_buffer_size().unwrap(), 16 * 1024);
}

/// MUST-48, SHLD-21, MAY-9 through the tokio API: IP_TOS on the listener reaches the
/// connections it accepts, a stream's own `set_tos` applies to what it sends next (its ECN
/// bits ignored, as on a Linux TCP socket), and each side sees the other's DSCP.
#[tokio::test]
async fn set_tos_marks_segments_and_the_peer_sees_it() {
    let p = pair();
    let l = TcpListener::bind(&p.server, sa("198.18.0.2:80"))
        .await
        .unwrap();
    l.set_tos(0xB8).unwrap(); // EF
    assert_eq!(l.tos().unwrap(), 0xB8);
    let mut c = TcpStream::connect(&p.client, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let (mut s, _) = l.accept().await.unwrap();
    assert_eq!(s.tos().unwrap(), 0xB8, "inherited from the listener");
    assert_eq!(c.tos().unwrap(), 0);
    c.set_tos(0x89).unwrap(); // AF41 with an ECN bit, which is not ours to set
    assert_eq!(c.tos().unwrap(), 0x88);
    assert_eq!(
        c.set_tos(0x100).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    c.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(s.peer_dscp(), synack::Dscp::new(34));
    s.write_all(b"pong").await.unwrap();
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(c.peer_dscp(), Some(synack::Dscp::EF));
}

#[tokio::test]
async fn net_outside_a_runtime_is_an_error() {
    let e = std::thread::spawn(|| {
        let (a, _b) = synack_tun::device::memory::pair();
        synack_tun::Net::new(a, synack::Config::default(), [ip(C4)]).unwrap_err()
    })
    .join()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::Other);
}

#[tokio::test]
async fn connecting_to_our_own_address_loops_back() {
    let p = pair();
    let l = TcpListener::bind(&p.client, sa("198.18.0.1:80"))
        .await
        .unwrap();
    let mut c = TcpStream::connect(&p.client, sa("198.18.0.1:80"))
        .await
        .unwrap();
    let (mut s, peer) = l.accept().await.unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    let data = pattern(9, 500_000);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        c.write_all(&data).await.unwrap();
        c.shutdown().await.unwrap();
        c
    });
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert!(got == expected);
    writer.await.unwrap();
    assert_eq!(p.client_link.tx().sent, 0, "nothing went out on the device");
}

#[tokio::test]
async fn connect_from_a_chosen_local_address() {
    let p = pair();
    let l = TcpListener::bind(&p.server, sa("[2001:db8::2]:80"))
        .await
        .unwrap();
    let c = TcpStream::connect_from(&p.client, sa("[2001:db8::1]:4000"), sa("[2001:db8::2]:80"))
        .await
        .unwrap();
    assert_eq!(c.local_addr().unwrap(), sa("[2001:db8::1]:4000"));
    let (_s, peer) = l.accept().await.unwrap();
    assert_eq!(peer, sa("[2001:db8::1]:4000"));
    // The same 4-tuple again is in use; an address we do not own is not available.
    let e = TcpStream::connect_from(&p.client, sa("[2001:db8::1]:4000"), sa("[2001:db8::2]:80"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
    let e = TcpStream::connect_from(&p.client, sa("198.18.0.50:0"), sa("198.18.0.2:80"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrNotAvailable);
}

#[tokio::test(start_paused = true)]
async fn closing_connections_finish_after_the_last_handle_is_dropped() {
    // Like a kernel after the process exits: the client drops its socket and its `Net`,
    // and the runtime stays until its orphaned connections are done. Here the server
    // closes 5 s later; the client's lingering runtime must still ACK that FIN (else the
    // server sits in LAST-ACK retransmitting it), then hold TIME-WAIT (MUST-13).
    let Pair {
        client,
        server,
        client_link,
        ..
    } = pair();
    let l = TcpListener::bind(&server, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let c = TcpStream::connect(&client, sa("198.18.0.2:80"))
        .await
        .unwrap();
    let (mut s, _) = l.accept().await.unwrap();
    drop(c);
    drop(client);
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf).await.unwrap(), 0, "the client's FIN");
    tokio::time::sleep(Duration::from_secs(5)).await;
    s.shutdown().await.unwrap();
    drop(s);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        server.connection_count(),
        0,
        "the server's FIN was ACKed: {:?}",
        server.connections()
    );
    assert_eq!(server.counters().retrans_segs, 0);
    // The client holds TIME-WAIT with nothing more to send.
    let sent = client_link.tx().sent;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(client_link.tx().sent, sent, "nothing more to say");
    // Still running (in TIME-WAIT): a SYN to a closed port there draws a RST...
    let probe = sa("198.18.0.1:9");
    let e = TcpStream::connect_timeout(&server, probe, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    // ...and once 2·MSL is over the runtime is gone: nothing answers.
    tokio::time::sleep(Duration::from_secs(40)).await;
    let e = TcpStream::connect_timeout(&server, probe, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}
