//! What `synack serve` and `synack connect` share: turning `--addr IP/PREFIX` into the two
//! ends of a TUN link, opening the device (with an optional pcap capture) and starting a
//! stack on it.

use std::fs::File;
use std::io::{self, BufWriter};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use synack_tun::tun::pcap::{self, PcapWriter};
use synack_tun::tun::{TunConfig, TunDevice, TunStats};
use synack_tun::Net;

/// Run a command's body on a two-worker tokio runtime; errors are printed after `name`.
pub fn run_command(
    name: &str,
    body: impl std::future::Future<Output = io::Result<()>>,
) -> ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .and_then(|rt| rt.block_on(body));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An address with its prefix length, as `--addr 198.18.0.2/24` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefixed {
    pub ip: IpAddr,
    pub prefix: u8,
}

/// Parse `IP/PREFIX` (the prefix is required: it says which addresses the link carries).
pub fn parse_prefixed(s: &str) -> Result<Prefixed, String> {
    let (ip, prefix) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected IP/PREFIX, e.g. 198.18.0.2/24"))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("{ip:?} is not an IP address"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(format!("/{prefix} is too long for {ip}"));
    }
    Ok(Prefixed { ip, prefix })
}

/// The kernel's end of the link for synack's address `a`: the first host address of the
/// prefix, or the second when synack has the first. Needs room for two hosts (IPv4 /30 or
/// shorter; IPv6 /126 or shorter).
pub fn kernel_side(a: Prefixed) -> Result<IpAddr, String> {
    match a.ip {
        IpAddr::V4(ip) => {
            if a.prefix > 30 {
                return Err(format!(
                    "{ip}/{}: the prefix leaves no room for the kernel's end of the link (use /30 or shorter)",
                    a.prefix
                ));
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(a.prefix)).unwrap_or(0);
            let net = u32::from(ip) & mask;
            let first = net + 1;
            let pick = if first == u32::from(ip) {
                net + 2
            } else {
                first
            };
            Ok(IpAddr::V4(Ipv4Addr::from(pick)))
        }
        IpAddr::V6(ip) => {
            if a.prefix > 126 {
                return Err(format!(
                    "{ip}/{}: the prefix leaves no room for the kernel's end of the link (use /126 or shorter)",
                    a.prefix
                ));
            }
            let mask = u128::MAX
                .checked_shl(128 - u32::from(a.prefix))
                .unwrap_or(0);
            let net = u128::from(ip) & mask;
            let first = net + 1;
            let pick = if first == u128::from(ip) {
                net + 2
            } else {
                first
            };
            Ok(IpAddr::V6(Ipv6Addr::from(pick)))
        }
    }
}

/// A running stack on a TUN device, and what it needs at exit.
pub struct Running {
    pub net: Net,
    pub stats: Arc<TunStats>,
    capture: Option<Arc<Mutex<PcapWriter<BufWriter<File>>>>>,
}

impl Running {
    /// Finish the capture file (the device may outlive this call, so flush explicitly).
    pub fn finish(&self) {
        if let Some(c) = &self.capture {
            if let Ok(mut w) = c.lock() {
                let _ = w.flush();
            }
        }
    }
}

/// Open TUN device `name` with the kernel's end of each of `addrs`, and start a stack that owns
/// `addrs`. Prints what it set up. Must run inside a tokio runtime.
pub fn start(
    name: &str,
    addrs: &[Prefixed],
    offload: bool,
    pcap_file: Option<&Path>,
) -> io::Result<Running> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    if addrs.is_empty() {
        return Err(invalid("give at least one --addr IP/PREFIX".into()));
    }
    let mut config = TunConfig::new(name).offload(offload);
    let mut kernel_ends = Vec::new();
    for &a in addrs {
        let k = kernel_side(a).map_err(invalid)?;
        config = config.addr(k, a.prefix);
        kernel_ends.push(format!("{k}/{}", a.prefix));
    }
    let capture = match pcap_file {
        Some(path) => {
            let file = File::create(path).map_err(|e| {
                io::Error::new(e.kind(), format!("creating {}: {e}", path.display()))
            })?;
            let w = Arc::new(Mutex::new(PcapWriter::new(BufWriter::new(file))?));
            config = config.filter(pcap::capture(Arc::clone(&w), None));
            Some(w)
        }
        None => None,
    };
    let dev = TunDevice::open(&config)?;
    let stats = dev.stats();
    println!(
        "{name}: kernel side {}, synack {}{}",
        kernel_ends.join(" "),
        addrs
            .iter()
            .map(|a| a.ip.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        if offload { " (GSO/GRO offload on)" } else { "" }
    );
    let net = Net::new(
        dev,
        synack::Config::default(),
        addrs.iter().map(|a| a.ip).collect::<Vec<_>>(),
    )?;
    Ok(Running {
        net,
        stats,
        capture,
    })
}

/// Before exiting, give the stack up to `limit` to finish what the application already
/// handed it: a write or shutdown returns once the bytes are queued, not sent, so exiting at
/// once would lose the last data, the FIN and the final ACKs. Done when every connection has
/// had its FIN acknowledged (FIN-WAIT-2, TIME-WAIT) or is gone.
pub async fn drain(net: &Net, limit: std::time::Duration) {
    use synack::State;
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        let busy = net
            .connections()
            .iter()
            .any(|c| !matches!(c.state, State::TimeWait | State::FinWait2 | State::Closed));
        if !busy {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// One line of the counters that matter after a run.
pub fn counters_line(net: &Net) -> String {
    let c = net.counters();
    format!(
        "segments in {} out {}, retransmitted {}, resets in {} out {}, active opens {}, passive opens {}",
        c.in_segs, c.out_segs, c.retrans_segs, c.in_rsts, c.out_rsts, c.active_opens, c.passive_opens
    )
}

/// Megabits per second, for the summaries.
pub fn mbps(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 * 8.0 / secs / 1e6
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_end_of_the_link() {
        let p = |s: &str| parse_prefixed(s).unwrap();
        assert_eq!(
            kernel_side(p("198.18.0.2/24")).unwrap().to_string(),
            "198.18.0.1"
        );
        assert_eq!(
            kernel_side(p("198.18.0.1/24")).unwrap().to_string(),
            "198.18.0.2"
        );
        assert_eq!(
            kernel_side(p("198.18.7.9/16")).unwrap().to_string(),
            "198.18.0.1"
        );
        assert_eq!(
            kernel_side(p("2001:db8::2/64")).unwrap().to_string(),
            "2001:db8::1"
        );
        assert_eq!(
            kernel_side(p("2001:db8::1/64")).unwrap().to_string(),
            "2001:db8::2"
        );
        assert!(kernel_side(p("198.18.0.1/31")).is_err());
        assert!(parse_prefixed("198.18.0.1").is_err());
        assert!(parse_prefixed("198.18.0.1/33").is_err());
    }
}
