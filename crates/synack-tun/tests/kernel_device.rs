//! The TUN device on its own: the sans-IO stack driven by a small loop written here (not the
//! tokio runtime), against the Linux kernel in a network namespace. Checks that the device
//! carries packets both ways, with and without GSO/GRO offload, IPv4 and IPv6.
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use synack::{Config, Instant, Stack};
use synack_tun::device::{Device, PacketBatch};
use synack_tun::tun::TunDevice;

/// A minimal driver: the stack, the device, a clock and two batches.
struct Hand {
    stack: Stack,
    dev: TunDevice,
    epoch: std::time::Instant,
    rx: PacketBatch,
    tx: PacketBatch,
}

impl Hand {
    fn new(dev: TunDevice) -> Hand {
        let config = Config {
            mtu: dev.mtu() as u16,
            ..Config::default()
        };
        let mut stack = Stack::new(config);
        stack.add_address(SYNACK_V4.into());
        stack.add_address(SYNACK_V6.into());
        let h = dev.headroom();
        Hand {
            stack,
            dev,
            epoch: std::time::Instant::now(),
            rx: PacketBatch::new(h),
            tx: PacketBatch::new(h),
        }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    async fn flush(&mut self) {
        loop {
            let now = self.now();
            let mtu = self.dev.mtu();
            while self.tx.len() < self.dev.max_batch() {
                let stack = &mut self.stack;
                if !self.tx.push_with(mtu, |buf| stack.poll_transmit(now, buf)) {
                    break;
                }
            }
            if self.tx.is_empty() {
                return;
            }
            self.dev.send(&mut self.tx).await.expect("TUN write");
            self.tx.clear();
        }
    }

    /// Wait for packets or the next timer (at most 10 ms, so the caller's application logic
    /// runs often), feed them in and send what the stack wants to send.
    async fn turn(&mut self) {
        let wake = self
            .stack
            .poll_timeout()
            .map(|t| t.saturating_since(self.now()))
            .unwrap_or(Duration::from_millis(10))
            .min(Duration::from_millis(10));
        tokio::select! {
            r = self.dev.recv(&mut self.rx) => {
                r.expect("TUN read");
                let now = self.now();
                for (p, trusted) in self.rx.iter_trusted() {
                    // An offloading device leaves the kernel's checksums partial and says
                    // so: those packets go in on its word.
                    if trusted {
                        self.stack.handle_packet_trusted(now, p);
                    } else {
                        self.stack.handle_packet(now, p);
                    }
                }
                self.rx.clear();
            }
            _ = tokio::time::sleep(wake) => {}
        }
        let now = self.now();
        self.stack.handle_timeout(now);
        self.flush().await;
    }
}

/// No listener: the kernel's connect is refused (RST in answer to its SYN, RFC 9293 §3.10.7.1,
/// "If the state is CLOSED"), which shows the device's write path works too.
async fn refused(family: Family, offload: bool) {
    let mut lab = Lab::new(offload, None).expect("lab");
    let mut hand = Hand::new(lab.take_device());
    let target = SocketAddr::new(family.synack(), 7);
    let client = kernel(&lab.ns, move || {
        TcpStream::connect_timeout(&target, Duration::from_secs(5)).map(|_| ())
    });
    tokio::pin!(client);
    let result = loop {
        tokio::select! {
            r = &mut client => break r,
            _ = hand.turn() => {}
        }
    };
    let err = result.expect_err("connect must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(
        hand.stack.counters().out_rsts >= 1,
        "synack answered the SYN with RST"
    );
}

/// The kernel sends `len` bytes to synack, which hashes them and sends `len` bytes of its own
/// back; both sides check the other's hash. Enough data for GSO super-packets on the way in
/// and GRO coalescing on the way out when `offload` is on.
async fn both_ways(family: Family, offload: bool, len: usize) {
    let mut lab = Lab::new(offload, None).expect("lab");
    let mut hand = Hand::new(lab.take_device());
    let stats = hand.dev.stats();
    let local = SocketAddr::new(family.synack(), 5001);
    let listener = hand.stack.listen(local, 16).expect("listen");
    let up = pattern(1, len);
    let down = pattern(2, len);
    let (up2, down2) = (up.clone(), down.clone());
    let client = kernel(&lab.ns, move || -> std::io::Result<()> {
        let mut s = TcpStream::connect_timeout(&local, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let writer = {
            let mut w = s.try_clone()?;
            std::thread::spawn(move || -> std::io::Result<()> {
                w.write_all(&up2)?;
                w.shutdown(Shutdown::Write)
            })
        };
        let mut got = Vec::with_capacity(down2.len());
        s.read_to_end(&mut got)?;
        writer.join().expect("writer")?;
        assert_eq!(got.len(), down2.len(), "bytes from synack");
        assert!(got == down2, "synack's bytes arrived intact");
        Ok(())
    });
    tokio::pin!(client);
    let mut conn = None;
    let mut received = Fnv::default();
    let mut received_len = 0usize;
    let mut sent = 0usize;
    let mut closed = false;
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + TEST_TIMEOUT;
    // The kernel's thread ends once its bytes are in its send buffer and ours are read;
    // keep pumping until its bytes have all reached us too.
    let mut result = None;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "transfer timed out");
        if result.is_some() && received_len >= len {
            break;
        }
        if result.is_none() {
            tokio::select! {
                r = &mut client => result = Some(r),
                _ = hand.turn() => {}
            }
        } else {
            hand.turn().await;
        }
        let now = hand.now();
        while let Some(_e) = hand.stack.poll_event() {}
        if conn.is_none() {
            conn = hand.stack.accept(listener);
        }
        let Some(c) = conn else { continue };
        loop {
            match hand.stack.recv(now, c, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    received.update(&buf[..n]);
                    received_len += n;
                }
                Err(_) => break,
            }
        }
        while sent < down.len() {
            match hand.stack.send(now, c, &down[sent..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        if sent == down.len() && !closed {
            // Half-close: the kernel may still be sending. A full close() here would give
            // the handle up, and data arriving after it draws a RST (LX-18), as in Linux.
            hand.stack.shutdown(now, c).expect("shutdown");
            closed = true;
        }
        hand.flush().await;
    }
    result
        .expect("the kernel side finished")
        .expect("kernel side");
    assert_eq!(received_len, len, "bytes from the kernel");
    let mut want = Fnv::default();
    want.update(&up);
    assert_eq!(received, want, "the kernel's bytes arrived intact");
    if offload {
        // The kernel really did hand us GSO super-packets (TUN_F_TSO*), and we split them.
        let s = stats.summary();
        assert!(
            stats
                .super_packets_in
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0,
            "{s}"
        );
    }
}

#[tokio::test]
async fn kernel_device_refused_v4() {
    skip_unless_netns!();
    tokio::time::timeout(TEST_TIMEOUT, refused(Family::V4, false))
        .await
        .expect("in time");
}

#[tokio::test]
async fn kernel_device_refused_v6_offload() {
    skip_unless_netns!();
    tokio::time::timeout(TEST_TIMEOUT, refused(Family::V6, true))
        .await
        .expect("in time");
}

#[tokio::test]
async fn kernel_device_both_ways_v4() {
    skip_unless_netns!();
    tokio::time::timeout(TEST_TIMEOUT, both_ways(Family::V4, false, 4 << 20))
        .await
        .expect("in time");
}

#[tokio::test]
async fn kernel_device_both_ways_v4_offload() {
    skip_unless_netns!();
    tokio::time::timeout(TEST_TIMEOUT, both_ways(Family::V4, true, 4 << 20))
        .await
        .expect("in time");
}

#[tokio::test]
async fn kernel_device_both_ways_v6_offload() {
    skip_unless_netns!();
    tokio::time::timeout(TEST_TIMEOUT, both_ways(Family::V6, true, 4 << 20))
        .await
        .expect("in time");
}
