//! `synack serve`: a server on a real network. synack owns `--addr` on a TUN device, the
//! kernel gets the other end of the link, and anything on this machine can connect to
//! synack's address: `curl http://198.18.0.2/` after
//! `sudo synack serve --tun syn0 --addr 198.18.0.2/24 --port 80 http`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;
use synack_tun::{TcpListener, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::realnet::{self, Prefixed};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Service {
    /// Send back every byte (RFC 862), then close after the client's FIN.
    Echo,
    /// Read and drop everything (RFC 863), then close after the client's FIN.
    Discard,
    /// Answer each connection's request with one small HTTP/1.1 page, then close.
    Http,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// TUN device to create (or attach to).
    #[arg(long, value_name = "NAME")]
    tun: String,
    /// synack's address and the link's prefix, e.g. 198.18.0.2/24 (repeat for IPv6). The
    /// kernel's side of the TUN gets the first other host address of the prefix.
    #[arg(long = "addr", value_name = "IP/PREFIX", value_parser = realnet::parse_prefixed, required = true)]
    addrs: Vec<Prefixed>,
    /// Port to listen on (on every --addr).
    #[arg(long)]
    port: u16,
    /// What to do with each connection.
    #[arg(value_enum, default_value_t = Service::Echo)]
    service: Service,
    /// Open the device with IFF_VNET_HDR + TUNSETOFFLOAD (GSO in, GRO out).
    #[arg(long)]
    offload: bool,
    /// Write every packet through the device to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Exit after this many connections have been served (default: run until Ctrl-C).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

pub fn serve(args: ServeArgs) -> ExitCode {
    realnet::run_command("synack serve", run(args))
}

async fn run(args: ServeArgs) -> std::io::Result<()> {
    let running = realnet::start(&args.tun, &args.addrs, args.offload, args.pcap.as_deref())?;
    let net = running.net.clone();
    // One listener per family: an unspecified address takes all of the stack's addresses of
    // that family (MUST-43).
    let mut listeners = Vec::new();
    for any in [
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    ] {
        if args.addrs.iter().any(|a| a.ip.is_ipv4() == any.is_ipv4()) {
            listeners.push(TcpListener::bind(&net, SocketAddr::new(any, args.port)).await?);
        }
    }
    for a in &args.addrs {
        println!(
            "listening on {} ({:?})",
            SocketAddr::new(a.ip, args.port),
            args.service
        );
    }
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    for l in listeners {
        let conn_tx = conn_tx.clone();
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok(c) => {
                        if conn_tx.send(c).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        eprintln!("accept: {e}");
                        return;
                    }
                }
            }
        });
    }
    let mut finished = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if args.count.is_some_and(|n| finished >= n) {
            break;
        }
        tokio::select! {
            Some((stream, peer)) = conn_rx.recv() => {
                let done = done_tx.clone();
                let service = args.service;
                tokio::spawn(async move {
                    handle(stream, peer, service).await;
                    let _ = done.send(());
                });
            }
            Some(()) = done_rx.recv() => finished += 1,
            _ = &mut ctrl_c => {
                println!();
                break;
            }
        }
    }
    realnet::drain(&net, std::time::Duration::from_secs(3)).await;
    println!("{}", realnet::counters_line(&net));
    println!("device: {}", running.stats.summary());
    running.finish();
    Ok(())
}

async fn handle(mut stream: TcpStream, peer: SocketAddr, service: Service) {
    let local = stream.local_addr().ok();
    let start = Instant::now();
    println!(
        "{peer} -> {} connected",
        local.map(|l| l.to_string()).unwrap_or_default()
    );
    let result = match service {
        Service::Echo => echo(&mut stream).await,
        Service::Discard => discard(&mut stream).await,
        Service::Http => http(&mut stream, peer).await,
    };
    let secs = start.elapsed().as_secs_f64();
    match result {
        Ok((read, written)) => println!(
            "{peer} closed after {secs:.3} s: read {read} bytes, wrote {written} ({:.1} Mbit/s in)",
            realnet::mbps(read, secs)
        ),
        Err(e) => println!("{peer} failed after {secs:.3} s: {e}"),
    }
}

async fn echo(s: &mut TcpStream) -> std::io::Result<(u64, u64)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).await?;
        total += n as u64;
    }
    s.shutdown().await?;
    Ok((total, total))
}

async fn discard(s: &mut TcpStream) -> std::io::Result<(u64, u64)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    s.shutdown().await?;
    Ok((total, 0))
}

/// Read the request head (to the blank line, at most 16 KiB), answer, close.
async fn http(s: &mut TcpStream, peer: SocketAddr) -> std::io::Result<(u64, u64)> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let request_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let body = format!(
        "Hello from synack, a user-space TCP stack.\nYou are {peer}; you asked: {request_line}\n"
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nServer: synack\r\n\r\n{body}",
        body.len()
    );
    s.write_all(response.as_bytes()).await?;
    s.shutdown().await?;
    // Let the client close: read to its FIN so our close is a clean one.
    let mut rest = 0u64;
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => rest += n as u64,
        }
    }
    Ok((head.len() as u64 + rest, response.len() as u64))
}
