//! `synack-bench tun`: bulk throughput against the Linux kernel over a real TUN device, in a
//! network namespace the run makes for itself (198.18.0.0/24 only). A kernel client sends N
//! bytes to a server on the far side of the TUN, and a kernel client reads N bytes from it;
//! the server is synack (tokio runtime, `synack_tun::Net`), with and without GSO/GRO
//! offload, and smoltcp 0.14 on the same kind of device (no offload: it has none), polled on
//! one thread the way its examples do.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream as KernelStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smoltcp::iface::{Config as SmolConfig, Interface, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use synack_tun::tun::netns::Netns;
use synack_tun::tun::{TunConfig, TunDevice};
use synack_tun::{Net, TcpListener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KERNEL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PORT: u16 = 5201;
const TUN: &str = "bench0";
const CHUNK: usize = 256 * 1024;

/// Which way the bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// The kernel client writes, the server reads.
    KernelToServer,
    /// The server writes, the kernel client reads.
    ServerToKernel,
}

/// One measured transfer.
pub struct TunResult {
    pub gbits: f64,
    pub secs: f64,
    /// The TUN device's counters (synack only).
    pub device: String,
}

/// The kernel's side of one transfer, on a thread inside the namespace: connect, then write
/// `total` bytes and half-close, or read to EOF. Returns the seconds from the first byte
/// written (or the connect) to the end, and the bytes read.
fn kernel_client(
    ns: &Netns,
    dir: Dir,
    total: u64,
) -> std::thread::JoinHandle<std::io::Result<(f64, u64)>> {
    let to = SocketAddr::new(IpAddr::V4(SERVER), PORT);
    let h = ns.spawn(move || -> std::io::Result<(f64, u64)> {
        // The server may still be starting: retry refused connects for a few seconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut s = loop {
            match KernelStream::connect_timeout(&to, Duration::from_secs(5)) {
                Ok(s) => break s,
                Err(e)
                    if Instant::now() < deadline
                        && e.kind() == std::io::ErrorKind::ConnectionRefused =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let t = Instant::now();
        match dir {
            Dir::KernelToServer => {
                let buf = vec![0x5au8; CHUNK];
                let mut left = total;
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    s.write_all(&buf[..n])?;
                    left -= n as u64;
                }
                s.shutdown(Shutdown::Write)?;
                // Wait for the server's FIN: it has read everything by then.
                let mut rest = Vec::new();
                s.read_to_end(&mut rest)?;
                Ok((t.elapsed().as_secs_f64(), rest.len() as u64))
            }
            Dir::ServerToKernel => {
                let mut buf = vec![0u8; CHUNK];
                let mut got = 0u64;
                loop {
                    let n = s.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    got += n as u64;
                }
                Ok((t.elapsed().as_secs_f64(), got))
            }
        }
    });
    h.join_handle_flatten()
}

trait Flatten<T> {
    fn join_handle_flatten(self) -> std::thread::JoinHandle<std::io::Result<T>>;
}

impl<T: Send + 'static> Flatten<T>
    for std::thread::JoinHandle<std::io::Result<std::io::Result<T>>>
{
    fn join_handle_flatten(self) -> std::thread::JoinHandle<std::io::Result<T>> {
        std::thread::spawn(move || self.join().expect("kernel client thread")?)
    }
}

/// synack as the server over a TUN device, `offload` on or off, on a tokio runtime with
/// `workers` worker threads (0: a current-thread runtime, everything on the thread that
/// runs the benchmark).
pub fn synack(dir: Dir, total: u64, offload: bool, workers: usize) -> std::io::Result<TunResult> {
    let ns = Netns::create()?;
    let rt = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    };
    let handle = rt.handle().clone();
    let config = TunConfig::new(TUN)
        .addr(IpAddr::V4(KERNEL), 24)
        .offload(offload);
    let dev = ns.run(move || {
        let _g = handle.enter();
        TunDevice::open(&config)
    })??;
    let stats = dev.stats();
    // The server runs as a spawned task, as a server's connection handlers would (on a
    // multi-thread runtime, `block_on`'s own future would run on this thread, outside the
    // workers, and every wake-up of it would cross threads).
    let server = async move {
        let net = Net::new(dev, synack::Config::default(), [IpAddr::V4(SERVER)])?;
        let listener = TcpListener::bind(&net, SocketAddr::new(IpAddr::V4(SERVER), PORT)).await?;
        let client = kernel_client(&ns, dir, total);
        let (mut s, _) = listener.accept().await?;
        match dir {
            Dir::KernelToServer => {
                let mut buf = vec![0u8; CHUNK];
                let mut got = 0u64;
                loop {
                    let n = s.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    got += n as u64;
                }
                assert_eq!(got, total, "synack read everything");
                s.shutdown().await?;
            }
            Dir::ServerToKernel => {
                let buf = vec![0xa5u8; CHUNK];
                let mut left = total;
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    s.write_all(&buf[..n]).await?;
                    left -= n as u64;
                }
                s.shutdown().await?;
            }
        }
        let (secs, got) = tokio::task::spawn_blocking(move || client.join().expect("client"))
            .await
            .expect("join")?;
        if dir == Dir::ServerToKernel {
            assert_eq!(got, total, "the kernel read everything");
        }
        drop(s);
        std::io::Result::Ok(secs)
    };
    let result = rt.block_on(async { tokio::spawn(server).await.expect("server task") });
    drop(rt);
    let secs = result?;
    Ok(TunResult {
        gbits: total as f64 * 8.0 / secs / 1e9,
        secs,
        device: stats.summary(),
    })
}

// ----- smoltcp on a TUN device -----------------------------------------------------------

/// A smoltcp device over a non-blocking TUN descriptor: one `read(2)` per received packet,
/// one `write(2)` per sent packet (what smoltcp's own TunTapInterface does).
struct SmolTun {
    dev: tun_rs::SyncDevice,
    mtu: usize,
    rx: Vec<u8>,
}

struct SmolRx(Vec<u8>);
struct SmolTx<'a>(&'a tun_rs::SyncDevice);

impl phy::RxToken for SmolRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for SmolTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        // A TUN write hands the packet to the kernel's receive path; a failure is a lost
        // packet, which TCP recovers.
        let _ = self.0.send(&buf);
        r
    }
}

impl phy::Device for SmolTun {
    type RxToken<'a> = SmolRx;
    type TxToken<'a> = SmolTx<'a>;

    fn receive(&mut self, _t: smoltcp::time::Instant) -> Option<(SmolRx, SmolTx<'_>)> {
        match self.dev.recv(&mut self.rx) {
            Ok(n) => Some((SmolRx(self.rx[..n].to_vec()), SmolTx(&self.dev))),
            Err(_) => None,
        }
    }

    fn transmit(&mut self, _t: smoltcp::time::Instant) -> Option<SmolTx<'_>> {
        Some(SmolTx(&self.dev))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

fn set_nonblocking(fd: i32) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Wait until `fd` is readable or `timeout` passes.
fn wait_readable(fd: i32, timeout: Duration) {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    unsafe {
        libc::poll(&mut p, 1, ms);
    }
}

/// smoltcp as the server, `buffer`-byte socket buffers.
pub fn smoltcp(dir: Dir, total: u64, buffer: usize) -> std::io::Result<TunResult> {
    let ns = Netns::create()?;
    let dev = ns.run(|| {
        tun_rs::DeviceBuilder::new()
            .name(TUN)
            .ipv4(KERNEL, 24, None)
            .mtu(1500)
            .build_sync()
    })??;
    set_nonblocking(dev.as_raw_fd())?;
    let fd = dev.as_raw_fd();
    let mut device = SmolTun {
        dev,
        mtu: 1500,
        rx: vec![0u8; 65536],
    };
    let epoch = Instant::now();
    let now = || smoltcp::time::Instant::from_micros(epoch.elapsed().as_micros() as i64);
    let mut config = SmolConfig::new(HardwareAddress::Ip);
    config.random_seed = 0x7e57;
    let mut iface = Interface::new(config, &mut device, now());
    iface.update_ip_addrs(|a| {
        let o = SERVER.octets();
        a.push(IpCidr::new(IpAddress::v4(o[0], o[1], o[2], o[3]), 24))
            .expect("one address");
    });
    let mut sockets = SocketSet::new(Vec::new());
    let mut sock = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; buffer]),
        tcp::SocketBuffer::new(vec![0u8; buffer]),
    );
    sock.listen(PORT).expect("listen");
    let h = sockets.add(sock);
    let client = kernel_client(&ns, dir, total);
    let done = Arc::new(AtomicBool::new(false));
    let moved = Arc::new(AtomicU64::new(0));
    let mut sink = vec![0u8; CHUNK];
    let source = vec![0xa5u8; CHUNK];
    let mut sent = 0u64;
    let mut closed = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
        iface.poll(now(), &mut device, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(h);
        let mut progressed = false;
        match dir {
            Dir::KernelToServer => {
                while s.can_recv() {
                    match s.recv_slice(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            moved.fetch_add(n as u64, Ordering::Relaxed);
                            progressed = true;
                        }
                    }
                }
                if !s.may_recv() && s.state() == tcp::State::CloseWait && !closed {
                    s.close();
                    closed = true;
                }
            }
            Dir::ServerToKernel => {
                while s.can_send() && sent < total {
                    let n = (total - sent).min(CHUNK as u64) as usize;
                    match s.send_slice(&source[..n]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            sent += k as u64;
                            progressed = true;
                        }
                    }
                }
                if sent == total && !closed {
                    s.close();
                    closed = true;
                }
            }
        }
        if closed
            && matches!(
                s.state(),
                tcp::State::Closed | tcp::State::TimeWait | tcp::State::FinWait2
            )
        {
            done.store(true, Ordering::Relaxed);
        }
        if progressed {
            iface.poll(now(), &mut device, &mut sockets);
            continue;
        }
        let wait = iface
            .poll_delay(now(), &sockets)
            .map(|d| Duration::from_micros(d.total_micros()))
            .unwrap_or(Duration::from_millis(5))
            .min(Duration::from_millis(5));
        wait_readable(fd, wait);
    }
    // Keep answering until the kernel has its last ACK/FIN.
    let (secs, got) = loop {
        if client.is_finished() {
            break client.join().expect("client")?;
        }
        iface.poll(now(), &mut device, &mut sockets);
        wait_readable(fd, Duration::from_millis(1));
    };
    match dir {
        Dir::KernelToServer => assert_eq!(
            moved.load(Ordering::Relaxed),
            total,
            "smoltcp read everything"
        ),
        Dir::ServerToKernel => assert_eq!(got, total, "the kernel read everything"),
    }
    Ok(TunResult {
        gbits: total as f64 * 8.0 / secs / 1e9,
        secs,
        device: String::new(),
    })
}
