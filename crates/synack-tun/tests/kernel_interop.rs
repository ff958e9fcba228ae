//! synack against the Linux kernel's TCP over a TUN device in a network namespace, both
//! roles (kernel client -> synack server, synack client -> kernel server), IPv4 and IPv6:
//! handshake, 64 MiB each way, half-close, close from either side (who ends in TIME-WAIT),
//! resets (SO_LINGER 0, abort), refusal, and the options negotiated (LX-14, LX-19).
#![cfg(target_os = "linux")]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use common::*;
use synack::State;
use synack_tun::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes each way in the bulk tests.
const BULK: usize = 64 << 20;

/// A kernel listener on `port` of the kernel's address of `family`, made inside the namespace.
async fn kernel_listener(rig: &Rig, family: Family, port: u16) -> std::net::TcpListener {
    let addr = SocketAddr::new(family.kernel(), port);
    match kernel(rig.ns(), move || std::net::TcpListener::bind(addr)).await {
        Ok(l) => l,
        Err(e) => panic!(
            "kernel bind {addr}: {e}\n{}\n{}",
            rig.ns().ip(&["addr"]).unwrap_or_default(),
            rig.ns()
                .exec("cat", &["/proc/net/if_inet6"])
                .unwrap_or_default()
        ),
    }
}

/// A kernel connect to synack from inside the namespace.
async fn kernel_connect(rig: &Rig, to: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    kernel(rig.ns(), move || {
        std::net::TcpStream::connect_timeout(&to, Duration::from_secs(10))
    })
    .await
}

async fn run(f: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("the test finished in time")
}

// ----- handshake ---------------------------------------------------------------------------

async fn handshake_kernel_client(family: Family) {
    let rig = Rig::new(false, None);
    let addr = SocketAddr::new(family.synack(), 8080);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let (kernel_side, accepted) = tokio::join!(kernel_connect(&rig, addr), listener.accept());
    let kernel_side = kernel_side.expect("the kernel connects");
    let (stream, peer) = accepted.expect("synack accepts");
    assert_eq!(peer, kernel_side.local_addr().unwrap());
    assert_eq!(kernel_side.peer_addr().unwrap(), addr);
    assert_eq!(stream.local_addr().unwrap(), addr);
    assert_eq!(peer.ip(), family.kernel());
    assert_eq!(stream.info().unwrap().state, State::Established);
    let row = rig.ss(&["-tan"]);
    assert!(
        ss_rows(&row).iter().any(|(st, local, remote)| st == "ESTAB"
            && *local == ss_addr(peer)
            && *remote == ss_addr(addr)),
        "kernel shows the connection established:\n{row}"
    );
}

async fn handshake_synack_client(family: Family) {
    let rig = Rig::new(false, None);
    let listener = kernel_listener(&rig, family, 9090).await;
    let to = SocketAddr::new(family.kernel(), 9090);
    let accept = tokio::task::spawn_blocking(move || listener.accept());
    let stream = TcpStream::connect(&rig.net, to)
        .await
        .expect("synack connects");
    let (kernel_side, kernel_peer) = accept.await.unwrap().expect("the kernel accepts");
    assert_eq!(kernel_peer, stream.local_addr().unwrap());
    assert_eq!(stream.local_addr().unwrap().ip(), family.synack());
    assert_eq!(stream.peer_addr().unwrap(), to);
    assert_eq!(kernel_side.local_addr().unwrap(), to);
    assert_eq!(stream.info().unwrap().state, State::Established);
}

#[tokio::test]
async fn kernel_handshake_kernel_client_v4() {
    skip_unless_netns!();
    run(handshake_kernel_client(Family::V4)).await;
}

#[tokio::test]
async fn kernel_handshake_kernel_client_v6() {
    skip_unless_netns!();
    run(handshake_kernel_client(Family::V6)).await;
}

#[tokio::test]
async fn kernel_handshake_synack_client_v4() {
    skip_unless_netns!();
    run(handshake_synack_client(Family::V4)).await;
}

#[tokio::test]
async fn kernel_handshake_synack_client_v6() {
    skip_unless_netns!();
    run(handshake_synack_client(Family::V6)).await;
}

// ----- 64 MiB each way ---------------------------------------------------------------------

/// Both directions at once on one connection: the kernel writes BULK bytes of pattern 1 and
/// half-closes; synack writes BULK bytes of pattern 2 and half-closes; each side hashes what
/// it read to the FIN.
async fn synack_side_bulk(stream: TcpStream) -> (usize, Fnv) {
    let (mut r, mut w) = stream.into_split();
    let writer = tokio::spawn(async move {
        write_pattern_async(&mut w, 2, BULK)
            .await
            .expect("synack writes");
        w.shutdown().await.expect("synack half-closes");
        w
    });
    let got = read_hash_async(&mut r).await.expect("synack reads");
    let _w = writer.await.unwrap();
    got
}

fn kernel_side_bulk(s: std::net::TcpStream) -> std::io::Result<(usize, Fnv)> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = s.try_clone()?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        write_pattern(&mut w, 1, BULK)?;
        w.shutdown(Shutdown::Write)
    });
    let got = read_hash(&mut &s)?;
    writer.join().expect("kernel writer")?;
    Ok(got)
}

async fn bulk_kernel_client(family: Family, offload: bool) {
    let rig = Rig::new(offload, None);
    let addr = SocketAddr::new(family.synack(), 5001);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let client = kernel(rig.ns(), move || {
        let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        kernel_side_bulk(s)
    });
    let server = async {
        let (stream, _) = listener.accept().await.expect("accept");
        synack_side_bulk(stream).await
    };
    let (kernel_got, synack_got) = tokio::join!(client, server);
    let kernel_got = kernel_got.expect("kernel side");
    assert_eq!(
        synack_got,
        (BULK, Pattern::hash_of(1, BULK)),
        "kernel -> synack"
    );
    assert_eq!(
        kernel_got,
        (BULK, Pattern::hash_of(2, BULK)),
        "synack -> kernel"
    );
    if offload {
        assert!(
            rig.stats
                .super_packets_in
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0,
            "GSO super-packets were split: {}",
            rig.stats.summary()
        );
        // The kernel's packets came with their checksums left partial, and the stack took
        // them on the kernel's word (MUST-3 delegated; the hash above shows nothing was lost).
        assert!(
            rig.stats
                .checksum_trusted_in
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0,
            "{}",
            rig.stats.summary()
        );
    }
}

async fn bulk_synack_client(family: Family, offload: bool) {
    let rig = Rig::new(offload, None);
    let listener = kernel_listener(&rig, family, 5002).await;
    let server = tokio::task::spawn_blocking(move || {
        let (s, _) = listener.accept()?;
        kernel_side_bulk(s)
    });
    let stream = TcpStream::connect(&rig.net, SocketAddr::new(family.kernel(), 5002))
        .await
        .expect("connect");
    let synack_got = synack_side_bulk(stream).await;
    let kernel_got = server.await.unwrap().expect("kernel side");
    assert_eq!(
        synack_got,
        (BULK, Pattern::hash_of(1, BULK)),
        "kernel -> synack"
    );
    assert_eq!(
        kernel_got,
        (BULK, Pattern::hash_of(2, BULK)),
        "synack -> kernel"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_bulk_64mib_kernel_client_v4() {
    skip_unless_netns!();
    run(bulk_kernel_client(Family::V4, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_bulk_64mib_kernel_client_v6_offload() {
    skip_unless_netns!();
    run(bulk_kernel_client(Family::V6, true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_bulk_64mib_synack_client_v4_offload() {
    skip_unless_netns!();
    run(bulk_synack_client(Family::V4, true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_bulk_64mib_synack_client_v6() {
    skip_unless_netns!();
    run(bulk_synack_client(Family::V6, false)).await;
}

// ----- half-close --------------------------------------------------------------------------

/// The kernel half-closes (shutdown(SHUT_WR)): synack reads to EOF, sits in CLOSE-WAIT, and
/// may still send; the kernel reads that after its own FIN (RFC 9293 §3.6, half-close).
async fn half_close_by_kernel(family: Family) {
    let rig = Rig::new(false, None);
    let addr = SocketAddr::new(family.synack(), 7001);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let client = kernel(rig.ns(), move || -> std::io::Result<Vec<u8>> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.write_all(b"request")?;
        s.shutdown(Shutdown::Write)?;
        let mut got = Vec::new();
        s.read_to_end(&mut got)?;
        Ok(got)
    });
    let server = async {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.expect("read to the FIN");
        assert_eq!(got, b"request");
        assert_eq!(stream.info().unwrap().state, State::CloseWait);
        stream.write_all(b"answer after your FIN").await.unwrap();
        stream.shutdown().await.unwrap();
        stream
    };
    let (client, _stream) = tokio::join!(client, server);
    assert_eq!(client.expect("kernel side"), b"answer after your FIN");
}

/// synack half-closes: the kernel reads to EOF and may still send; synack (in FIN-WAIT-2,
/// which an application-held socket keeps indefinitely, LX-6) reads it to the kernel's FIN.
async fn half_close_by_synack(family: Family) {
    let rig = Rig::new(false, None);
    let listener = kernel_listener(&rig, family, 7002).await;
    let server = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut got = Vec::new();
        s.read_to_end(&mut got)?;
        s.write_all(b"answer after your FIN")?;
        s.shutdown(Shutdown::Write)?;
        Ok(got)
    });
    let mut stream = TcpStream::connect(&rig.net, SocketAddr::new(family.kernel(), 7002))
        .await
        .unwrap();
    stream.write_all(b"request").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.expect("read to the FIN");
    assert_eq!(got, b"answer after your FIN");
    assert_eq!(server.await.unwrap().expect("kernel side"), b"request");
    // Both FINs are acknowledged: synack, which sent the first, waits in TIME-WAIT.
    assert!(
        until(Duration::from_secs(5), || stream
            .info()
            .is_some_and(|i| i.state == State::TimeWait))
        .await,
        "{:?}",
        stream.info()
    );
}

#[tokio::test]
async fn kernel_half_close_by_kernel_v4() {
    skip_unless_netns!();
    run(half_close_by_kernel(Family::V4)).await;
}

#[tokio::test]
async fn kernel_half_close_by_kernel_v6() {
    skip_unless_netns!();
    run(half_close_by_kernel(Family::V6)).await;
}

#[tokio::test]
async fn kernel_half_close_by_synack_v4() {
    skip_unless_netns!();
    run(half_close_by_synack(Family::V4)).await;
}

#[tokio::test]
async fn kernel_half_close_by_synack_v6() {
    skip_unless_netns!();
    run(half_close_by_synack(Family::V6)).await;
}

// ----- close from either side: who ends in TIME-WAIT ----------------------------------------

/// The kernel closes first: it goes FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT (shown by `ss`),
/// synack goes CLOSE-WAIT -> LAST-ACK -> CLOSED and forgets the connection.
async fn kernel_closes_first(family: Family) {
    let rig = Rig::new(false, None);
    let addr = SocketAddr::new(family.synack(), 7003);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let (kernel_side, accepted) = tokio::join!(kernel_connect(&rig, addr), listener.accept());
    let kernel_side = kernel_side.unwrap();
    let (mut stream, peer) = accepted.unwrap();
    drop(kernel_side); // close(): FIN
    let mut buf = [0u8; 16];
    assert_eq!(
        stream.read(&mut buf).await.unwrap(),
        0,
        "EOF at the kernel's FIN"
    );
    drop(stream); // close(): our FIN from CLOSE-WAIT
    let tw = |out: &str| {
        ss_rows(out)
            .iter()
            .any(|(st, l, r)| st == "TIME-WAIT" && *l == ss_addr(peer) && *r == ss_addr(addr))
    };
    let mut out = String::new();
    let seen = until(Duration::from_secs(10), || {
        out = rig.ss(&["-tan"]);
        tw(&out)
    })
    .await;
    assert!(seen, "the kernel's socket is in TIME-WAIT:\n{out}");
    assert!(
        until(Duration::from_secs(5), || rig.conn(addr, peer).is_none()).await,
        "synack forgot the connection after LAST-ACK: {:?}",
        rig.conn(addr, peer)
    );
    assert_eq!(rig.net.counters().curr_time_wait, 0);
}

/// Wait (10 s at most) until synack's connection `local` -> `to` is in TIME-WAIT.
async fn until_time_wait(rig: &Rig, local: SocketAddr, to: SocketAddr) {
    assert!(
        until(Duration::from_secs(10), || rig
            .conn(local, to)
            .is_some_and(|c| c.state == State::TimeWait))
        .await,
        "synack's connection is in TIME-WAIT: {:?}",
        rig.conn(local, to)
    );
}

/// synack closes first: synack goes FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT (its connection
/// table and counters show it, LX-7); the kernel passes through CLOSE-WAIT and LAST-ACK and
/// keeps no TIME-WAIT socket.
async fn synack_closes_first(family: Family) {
    let rig = Rig::new(false, None);
    let listener = kernel_listener(&rig, family, 7004).await;
    let to = SocketAddr::new(family.kernel(), 7004);
    let server = tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut got = Vec::new();
        s.read_to_end(&mut got)?;
        Ok(got.len()) // drop: close() from CLOSE-WAIT
    });
    let mut stream = TcpStream::connect(&rig.net, to).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream.write_all(b"bye").await.unwrap();
    drop(stream); // close(): FIN
    assert_eq!(server.await.unwrap().unwrap(), 3);
    until_time_wait(&rig, local, to).await;
    assert_eq!(rig.net.counters().curr_time_wait, 1);
    let out = rig.ss(&["-tan"]);
    assert!(
        !ss_rows(&out).iter().any(|(st, _, _)| st == "TIME-WAIT"),
        "the kernel keeps no TIME-WAIT socket:\n{out}"
    );
}

#[tokio::test]
async fn kernel_close_kernel_first_v4() {
    skip_unless_netns!();
    run(kernel_closes_first(Family::V4)).await;
}

#[tokio::test]
async fn kernel_close_kernel_first_v6() {
    skip_unless_netns!();
    run(kernel_closes_first(Family::V6)).await;
}

#[tokio::test]
async fn kernel_close_synack_first_v4() {
    skip_unless_netns!();
    run(synack_closes_first(Family::V4)).await;
}

#[tokio::test]
async fn kernel_close_synack_first_v6() {
    skip_unless_netns!();
    run(synack_closes_first(Family::V6)).await;
}

// ----- TIME-WAIT reuse (LX-12) ---------------------------------------------------------------

/// synack closes first and holds the TIME-WAIT; 1.5 s later it connects again from the same
/// port to the same kernel listener. With `TwReuse::Loopback` (the default; the rig's
/// addresses are not loopback) that fails with `AddrInUse` as before; with `TwReuse::On`
/// synack takes its own TIME-WAIT over (timestamps are on, the last one is older than 1 s),
/// the kernel, which closed second and keeps no TIME-WAIT, accepts the SYN, and the second
/// conversation runs.
async fn tw_reuse_reconnect(family: Family, mode: synack::TwReuse) {
    let config = synack::Config {
        tw_reuse: mode,
        ..synack::Config::default()
    };
    let rig = Rig::with_config(false, None, config);
    let listener = kernel_listener(&rig, family, 7010).await;
    let to = SocketAddr::new(family.kernel(), 7010);
    let rounds = if mode == synack::TwReuse::On { 2 } else { 1 };
    let server = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<Vec<u8>>> {
        let mut got = Vec::new();
        for _ in 0..rounds {
            let (mut s, _) = listener.accept()?;
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf)?;
            s.write_all(b"ok")?;
            got.push(buf); // drop: close() from CLOSE-WAIT
        }
        Ok(got)
    });
    // Send `msg`, half-close, read the kernel's "ok" to its end, close (synack first).
    async fn talk(mut stream: TcpStream, msg: &[u8]) {
        stream.write_all(msg).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"ok");
    }
    let stream = TcpStream::connect(&rig.net, to).await.unwrap();
    let local = stream.local_addr().unwrap();
    talk(stream, b"first").await;
    until_time_wait(&rig, local, to).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let again = TcpStream::connect_from(&rig.net, local, to).await;
    if mode != synack::TwReuse::On {
        let e = again.expect_err("the TIME-WAIT tuple is not taken over");
        assert_eq!(e.kind(), ErrorKind::AddrInUse);
        assert_eq!(rig.net.counters().time_wait_reused, 0);
        assert_eq!(server.await.unwrap().unwrap(), [b"first".to_vec()]);
        return;
    }
    let again = again.expect("TIME-WAIT taken over");
    assert_eq!(again.local_addr().unwrap(), local);
    talk(again, b"second").await;
    let got = server.await.unwrap().unwrap();
    assert_eq!(got, [b"first".to_vec(), b"second".to_vec()]);
    assert_eq!(rig.net.counters().time_wait_reused, 1);
}

#[tokio::test]
async fn kernel_lx_12_tw_reuse_on_reconnects_through_time_wait_v4() {
    skip_unless_netns!();
    run(tw_reuse_reconnect(Family::V4, synack::TwReuse::On)).await;
}

#[tokio::test]
async fn kernel_lx_12_tw_reuse_on_reconnects_through_time_wait_v6() {
    skip_unless_netns!();
    run(tw_reuse_reconnect(Family::V6, synack::TwReuse::On)).await;
}

#[tokio::test]
async fn kernel_lx_12_tw_reuse_loopback_refuses_other_addresses_v4() {
    skip_unless_netns!();
    run(tw_reuse_reconnect(Family::V4, synack::TwReuse::Loopback)).await;
}

// ----- resets ------------------------------------------------------------------------------

/// The kernel closes with SO_LINGER {on, 0}: it sends RST (LX-18), and synack's next read
/// fails with ConnectionReset (MUST-12: the application learns why).
async fn kernel_linger_zero(family: Family) {
    let rig = Rig::new(false, None);
    let addr = SocketAddr::new(family.synack(), 7005);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let (kernel_side, accepted) = tokio::join!(kernel_connect(&rig, addr), listener.accept());
    let mut kernel_side = kernel_side.unwrap();
    let (mut stream, _) = accepted.unwrap();
    kernel_side.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    stream.read_exact(&mut one).await.unwrap();
    set_linger_zero(&kernel_side).unwrap();
    drop(kernel_side);
    let mut buf = [0u8; 16];
    let err = stream.read(&mut buf).await.expect_err("the read fails");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert_eq!(rig.net.counters().estab_resets, 1);
}

/// synack aborts: it sends RST, and the kernel's blocked read fails with ECONNRESET.
async fn synack_abort(family: Family) {
    let rig = Rig::new(false, None);
    let addr = SocketAddr::new(family.synack(), 7006);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let client = kernel(rig.ns(), move || -> std::io::Result<usize> {
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.write_all(b"x")?;
        let mut buf = [0u8; 16];
        s.read(&mut buf)
    });
    let server = async {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut one = [0u8; 1];
        stream.read_exact(&mut one).await.unwrap();
        stream.abort().unwrap();
        let err = stream.write_all(b"y").await.expect_err("aborted");
        assert_eq!(err.kind(), ErrorKind::ConnectionAborted, "{err}");
    };
    let (client, ()) = tokio::join!(client, server);
    let err = client.expect_err("the kernel's read fails");
    assert_eq!(err.raw_os_error(), Some(libc::ECONNRESET), "{err}");
    assert!(rig.net.counters().out_rsts >= 1);
}

#[tokio::test]
async fn kernel_linger_zero_resets_synack_v4() {
    skip_unless_netns!();
    run(kernel_linger_zero(Family::V4)).await;
}

#[tokio::test]
async fn kernel_linger_zero_resets_synack_v6() {
    skip_unless_netns!();
    run(kernel_linger_zero(Family::V6)).await;
}

#[tokio::test]
async fn kernel_synack_abort_resets_kernel_v4() {
    skip_unless_netns!();
    run(synack_abort(Family::V4)).await;
}

#[tokio::test]
async fn kernel_synack_abort_resets_kernel_v6() {
    skip_unless_netns!();
    run(synack_abort(Family::V6)).await;
}

// ----- refusal -----------------------------------------------------------------------------

/// No listener: each side answers the other's SYN with RST, and connect fails with
/// ECONNREFUSED / ConnectionRefused (RFC 9293 §3.10.7.1; MUST-12 reason).
async fn refused(family: Family) {
    let rig = Rig::new(false, None);
    let err = kernel_connect(&rig, SocketAddr::new(family.synack(), 7007))
        .await
        .expect_err("nothing listens on synack's side");
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED), "{err}");
    let err = TcpStream::connect(&rig.net, SocketAddr::new(family.kernel(), 7008))
        .await
        .expect_err("nothing listens on the kernel's side");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[tokio::test]
async fn kernel_refused_v4() {
    skip_unless_netns!();
    run(refused(Family::V4)).await;
}

#[tokio::test]
async fn kernel_refused_v6() {
    skip_unless_netns!();
    run(refused(Family::V6)).await;
}

// ----- options -----------------------------------------------------------------------------

/// `wscale:S,R` from `ss -tin` (S: the shift the peer, synack, advertised; R: the kernel's).
fn ss_wscale(out: &str) -> Option<(u8, u8)> {
    out.split_whitespace().find_map(|w| {
        let v = w.strip_prefix("wscale:")?;
        let (a, b) = v.split_once(',')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}

/// The kernel's own record of what was negotiated (TCP_INFO): tcpi_options (bit 0
/// timestamps, bit 1 SACK, bit 2 window scaling) and tcpi_snd_wscale / tcpi_rcv_wscale.
fn tcp_info_options(s: &std::net::TcpStream) -> (u8, u8, u8) {
    use std::os::fd::AsRawFd;
    let mut info = [0u8; 104];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: a valid socket and a buffer of `len` bytes; the kernel writes at most `len`.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    (info[5], info[6] & 0x0f, info[6] >> 4)
}

/// Window scaling, timestamps and SACK are negotiated with the kernel in both roles
/// (LX-14 defaults on; RFC 7323 §2.2, §3.2; RFC 2018 §2): `ss -tin` in the namespace shows
/// `wscale:S,R` for the connection, and the kernel's TCP_INFO has the timestamp, SACK and
/// window-scale bits. (The `ts` and `sack` words of `ss -tin` are not used: iproute2 6.1's
/// ss on this 6.18 kernel omits them even between two kernel sockets, while TCP_INFO, the
/// data ss reads, has the bits set.)
async fn options_negotiated(family: Family, kernel_is_client: bool) {
    let rig = Rig::new(false, None);
    let (kernel_sock, _synack_sock) = if kernel_is_client {
        let addr = SocketAddr::new(family.synack(), 7009);
        let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
        let (k, s) = tokio::join!(kernel_connect(&rig, addr), listener.accept());
        (k.unwrap(), s.unwrap().0)
    } else {
        let listener = kernel_listener(&rig, family, 7010).await;
        let to = SocketAddr::new(family.kernel(), 7010);
        let accept = tokio::task::spawn_blocking(move || listener.accept());
        let s = TcpStream::connect(&rig.net, to).await.unwrap();
        let (k, _) = accept.await.unwrap().unwrap();
        (k, s)
    };
    // The kernel's only established socket in the namespace is this connection's end.
    let out = rig.ss(&["-tin", "state", "established"]);
    assert!(
        out.contains(&ss_addr(kernel_sock.local_addr().unwrap())),
        "{out}"
    );
    let (snd, rcv) = ss_wscale(&out).unwrap_or_else(|| panic!("window scaling negotiated:\n{out}"));
    let (options, info_snd, info_rcv) = tcp_info_options(&kernel_sock);
    assert_eq!((snd, rcv), (info_snd, info_rcv), "ss and TCP_INFO agree");
    assert!(snd <= 14 && rcv > 0 && rcv <= 14, "{out}");
    // LX-11 / LX-19: synack's shift covers its 6 MiB autotuning maximum, as the kernel's
    // covers tcp_rmem[2]: 7 on both sides with defaults.
    assert_eq!(snd, 7, "synack offers wscale 7:\n{out}");
    assert_eq!(options & 0b100, 0b100, "window scaling on: {options:#b}");
    assert_eq!(options & 0b001, 0b001, "timestamps on: {options:#b}");
    assert_eq!(options & 0b010, 0b010, "SACK on: {options:#b}");
    assert!(
        out.contains("mss:1448") || out.contains("mss:1428"),
        "MSS less the 12-byte timestamp option (1460/1440 - 12):\n{out}"
    );
}

#[tokio::test]
async fn kernel_options_kernel_client_v4() {
    skip_unless_netns!();
    run(options_negotiated(Family::V4, true)).await;
}

#[tokio::test]
async fn kernel_options_kernel_client_v6() {
    skip_unless_netns!();
    run(options_negotiated(Family::V6, true)).await;
}

#[tokio::test]
async fn kernel_options_synack_client_v4() {
    skip_unless_netns!();
    run(options_negotiated(Family::V4, false)).await;
}

#[tokio::test]
async fn kernel_options_synack_client_v6() {
    skip_unless_netns!();
    run(options_negotiated(Family::V6, false)).await;
}

/// LX-19: our SYN and SYN,ACK offer the windows the kernel's own do, so that a capture of
/// either reads alike. Both handshakes run through a filter that records every SYN's flags
/// and window field as it crosses the device; then the kernel's SYN is compared with ours,
/// and its SYN,ACK with ours.
async fn syn_windows_match_the_kernel(family: Family) {
    use std::sync::{Arc, Mutex};
    use synack_tun::tun::{Direction, PacketFilter};
    let seen: Arc<Mutex<Vec<(Direction, u8, u16)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let filter: PacketFilter = Arc::new(move |d, p| {
        if let Some(tcp) = tcp_header(p) {
            if tcp[13] & 0x02 != 0 {
                let window = u16::from_be_bytes([tcp[14], tcp[15]]);
                log.lock().unwrap().push((d, tcp[13] & 0x12, window));
            }
        }
        true
    });
    let rig = Rig::new(false, Some(filter));
    // The kernel connects to us: its SYN, our SYN,ACK.
    let addr = SocketAddr::new(family.synack(), 7011);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    let (k, s) = tokio::join!(kernel_connect(&rig, addr), listener.accept());
    let (_k1, _s1) = (k.unwrap(), s.unwrap());
    // We connect to the kernel: our SYN, its SYN,ACK.
    let kl = kernel_listener(&rig, family, 7012).await;
    let accept = tokio::task::spawn_blocking(move || kl.accept());
    let _s2 = TcpStream::connect(&rig.net, SocketAddr::new(family.kernel(), 7012))
        .await
        .unwrap();
    let _k2 = accept.await.unwrap().unwrap();
    let seen = seen.lock().unwrap().clone();
    let find = |d: Direction, flags: u8| {
        seen.iter()
            .find(|(sd, sf, _)| *sd == d && *sf == flags)
            .map(|s| s.2)
            .unwrap_or_else(|| panic!("no {flags:#x} segment {d:?}: {seen:?}"))
    };
    let (syn, synack) = (0x02, 0x12);
    let kernel_syn = find(Direction::Rx, syn);
    let our_syn = find(Direction::Tx, syn);
    let kernel_synack = find(Direction::Rx, synack);
    let our_synack = find(Direction::Tx, synack);
    eprintln!(
        "{family:?} SYN windows: kernel {kernel_syn}, synack {our_syn}; \
         SYN,ACK windows: kernel {kernel_synack}, synack {our_synack}"
    );
    assert_eq!(our_syn, kernel_syn, "SYN window: {seen:?}");
    assert_eq!(our_synack, kernel_synack, "SYN,ACK window: {seen:?}");
}

#[tokio::test]
async fn lx_19_syn_windows_match_the_kernel_v4() {
    skip_unless_netns!();
    run(syn_windows_match_the_kernel(Family::V4)).await;
}

#[tokio::test]
async fn lx_19_syn_windows_match_the_kernel_v6() {
    skip_unless_netns!();
    run(syn_windows_match_the_kernel(Family::V6)).await;
}

// ----- DSCP --------------------------------------------------------------------------------

/// Set the kernel socket's IP_TOS (IPv4) or IPV6_TCLASS (IPv6).
fn set_kernel_tos(s: &std::net::TcpStream, family: Family, tos: libc::c_int) {
    use std::os::fd::AsRawFd;
    let (level, name) = match family {
        Family::V4 => (libc::IPPROTO_IP, libc::IP_TOS),
        Family::V6 => (libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
    };
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&tos as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "IP_TOS: {}", std::io::Error::last_os_error());
}

/// MAY-9 and MUST-48 against Linux: a kernel client that marks its segments AF41 (IP_TOS /
/// IPV6_TCLASS 0x88) is seen as AF41 by synack, whose listener marks EF; the kernel takes
/// EF-marked segments as any others (the echo comes back whole).
async fn dscp_both_ways(family: Family) {
    let rig = Rig::new(false, None);
    let addr = SocketAddr::new(family.synack(), 7011);
    let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
    listener.set_tos(0xB8).unwrap();
    let (k, s) = tokio::join!(kernel_connect(&rig, addr), listener.accept());
    let mut k = k.expect("the kernel connects");
    let (mut s, _) = s.expect("synack accepts");
    assert_eq!(s.tos().unwrap(), 0xB8);
    set_kernel_tos(&k, family, 0x88);
    let echoed = tokio::task::spawn_blocking(move || {
        k.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        k.read_exact(&mut buf).unwrap();
        buf
    });
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    assert_eq!(s.peer_dscp(), synack::Dscp::new(34), "the kernel's AF41");
    s.write_all(b"pong").await.unwrap();
    assert_eq!(&echoed.await.unwrap(), b"pong");
}

#[tokio::test]
async fn kernel_dscp_must_48_may_9_v4() {
    skip_unless_netns!();
    run(dscp_both_ways(Family::V4)).await;
}

#[tokio::test]
async fn kernel_dscp_must_48_may_9_v6() {
    skip_unless_netns!();
    run(dscp_both_ways(Family::V6)).await;
}

// ----- ECN ---------------------------------------------------------------------------------

/// TCPI_OPT_ECN in tcp_info's tcpi_options: the kernel's record that ECN was negotiated.
const TCPI_OPT_ECN: u8 = 8;

/// RFC 3168 against Linux, both roles (SHLD-8, LX-14): a kernel client told to ask
/// (net.ipv4.tcp_ecn = 1 in its namespace) gets ECN from synack's default (which, like
/// Linux's tcp_ecn = 2, accepts), and a synack client configured to ask (`Ecn::On`) gets it
/// from the kernel's default; the kernel's TCP_INFO says ECN both times, and data flows.
async fn ecn_negotiated(family: Family, kernel_is_client: bool) {
    let config = synack::Config {
        ecn: synack::Ecn::On,
        ..synack::Config::default()
    };
    let rig = Rig::with_config(false, None, config);
    let (mut kernel_sock, mut synack_sock) = if kernel_is_client {
        rig.ns()
            .exec("sh", &["-c", "echo 1 > /proc/sys/net/ipv4/tcp_ecn"])
            .expect("tcp_ecn = 1 in the namespace");
        let addr = SocketAddr::new(family.synack(), 7012);
        let listener = TcpListener::bind(&rig.net, addr).await.unwrap();
        let (k, s) = tokio::join!(kernel_connect(&rig, addr), listener.accept());
        (k.unwrap(), s.unwrap().0)
    } else {
        let listener = kernel_listener(&rig, family, 7013).await;
        let accept = tokio::task::spawn_blocking(move || listener.accept());
        let to = SocketAddr::new(family.kernel(), 7013);
        let s = TcpStream::connect(&rig.net, to)
            .await
            .expect("synack connects");
        (accept.await.unwrap().expect("the kernel accepts").0, s)
    };
    let (opts, _, _) = tcp_info_options(&kernel_sock);
    assert_ne!(
        opts & TCPI_OPT_ECN,
        0,
        "the kernel negotiated ECN: {opts:#x}"
    );
    synack_sock.write_all(b"ping").await.unwrap();
    let echoed = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 4];
        kernel_sock.read_exact(&mut buf).unwrap();
        kernel_sock.write_all(&buf).unwrap();
        buf
    });
    let mut buf = [0u8; 4];
    synack_sock.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    assert_eq!(&echoed.await.unwrap(), b"ping");
}

#[tokio::test]
async fn kernel_ecn_shld_8_kernel_client_v4() {
    skip_unless_netns!();
    run(ecn_negotiated(Family::V4, true)).await;
}

#[tokio::test]
async fn kernel_ecn_shld_8_synack_client_v6() {
    skip_unless_netns!();
    run(ecn_negotiated(Family::V6, false)).await;
}
