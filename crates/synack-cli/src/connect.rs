//! `synack connect`: a client on a real network. synack owns `--addr` on a TUN device and
//! connects through it to a server of the kernel's (or anything the kernel routes to).
//! With `--bytes N` it sends N bytes, half-closes and reads the answer to the end, then prints
//! what it measured; without, it joins stdin and stdout to the connection, like netcat.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use synack_tun::TcpStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::realnet::{self, Prefixed};

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// TUN device to create (or attach to).
    #[arg(long, value_name = "NAME")]
    tun: String,
    /// synack's address and the link's prefix, e.g. 198.18.0.2/24 (repeat for IPv6). The
    /// kernel's side of the TUN gets the first other host address of the prefix.
    #[arg(long = "addr", value_name = "IP/PREFIX", value_parser = realnet::parse_prefixed, required = true)]
    addrs: Vec<Prefixed>,
    /// Where to connect, e.g. 198.18.0.1:5000 or [2001:db8::1]:5000.
    remote: SocketAddr,
    /// Send this many bytes, half-close and read the answer to its end (default: copy stdin
    /// to the connection and the connection to stdout).
    #[arg(long, value_name = "N")]
    bytes: Option<u64>,
    /// Open the device with IFF_VNET_HDR + TUNSETOFFLOAD (GSO in, GRO out).
    #[arg(long)]
    offload: bool,
    /// Write every packet through the device to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Give up connecting after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
}

pub fn connect(args: ConnectArgs) -> ExitCode {
    realnet::run_command("synack connect", run(args))
}

async fn run(args: ConnectArgs) -> std::io::Result<()> {
    let running = realnet::start(&args.tun, &args.addrs, args.offload, args.pcap.as_deref())?;
    let result = session(&running.net, &args).await;
    realnet::drain(&running.net, Duration::from_secs(3)).await;
    if args.bytes.is_some() {
        println!("{}", realnet::counters_line(&running.net));
    }
    running.finish();
    result
}

async fn session(net: &synack_tun::Net, args: &ConnectArgs) -> std::io::Result<()> {
    let start = Instant::now();
    let mut stream =
        TcpStream::connect_timeout(net, args.remote, Duration::from_secs(args.timeout)).await?;
    let quiet = args.bytes.is_none();
    let say = |s: String| {
        // In netcat mode stdout carries the data: talk on stderr.
        if quiet {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    };
    say(format!(
        "connected {} -> {} in {:.1} ms",
        stream.local_addr()?,
        args.remote,
        start.elapsed().as_secs_f64() * 1e3
    ));
    let Some(total) = args.bytes else {
        let (mut r, mut w) = stream.into_split();
        let up = async {
            tokio::io::copy(&mut tokio::io::stdin(), &mut w).await?;
            w.shutdown().await
        };
        let down = async {
            tokio::io::copy(&mut r, &mut tokio::io::stdout()).await?;
            tokio::io::stdout().flush().await
        };
        let (u, d) = tokio::join!(up, down);
        return u.and(d);
    };
    let t0 = Instant::now();
    let (mut r, mut w) = stream.split();
    let send = async {
        // A recognisable pattern: byte i is i mod 251 (a prime, so it never lines up with
        // segment sizes).
        let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let mut left = total;
        let mut offset = 0usize;
        while left > 0 {
            let n = left.min((chunk.len() - offset) as u64) as usize;
            w.write_all(&chunk[offset..offset + n]).await?;
            offset = (offset + n) % 251;
            left -= n as u64;
        }
        w.shutdown().await?;
        std::io::Result::Ok(t0.elapsed())
    };
    let recv = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0u64;
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return std::io::Result::Ok(got);
            }
            got += n as u64;
        }
    };
    let (sent_in, got) = tokio::join!(send, recv);
    let sent_in = sent_in?.as_secs_f64();
    let got = got?;
    let all = t0.elapsed().as_secs_f64();
    say(format!(
        "sent {total} bytes in {sent_in:.3} s ({:.1} Mbit/s), received {got} bytes, closed after {all:.3} s",
        realnet::mbps(total, sent_in)
    ));
    Ok(())
}
