//! `synack sim`: a bulk-transfer experiment on the simulator. N connections at once over a
//! link with the faults asked for, to the end on the virtual clock; then the summary
//! (goodput against capacity, every byte checked, retransmissions, fast retransmits, timeouts, what
//! the link did, time in each state) and the `ss`-like table; `--svg` for the sequence and
//! cwnd plot, `--json` for the summary as JSON. Same arguments and seed, same output.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration as WallDuration, Instant as WallInstant};
use synack::{Algorithm, Duration};
use synack_sim::experiment::{self, rate, thousands, ExperimentConfig, Progress};
use synack_sim::i18n::Lang;
use synack_sim::{plot, report, LinkConfig};

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Connections opened at the same time.
    #[arg(long, short = 'n', default_value_t = 4)]
    pub conns: usize,
    /// Bytes per connection and direction (k, M, G = 1000s; KiB, MiB, GiB = 1024s).
    #[arg(long, default_value = "1M", value_parser = parse_bytes)]
    pub bytes: u64,
    /// The server sends as many bytes back at the same time (default: client to server only).
    #[arg(long)]
    pub both_ways: bool,
    /// One-way delay of each direction (`10ms`, `0.2s`; a bare number is milliseconds).
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    pub delay: Duration,
    /// Extra random delay per packet, up to this much (may reorder).
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub jitter: Duration,
    /// Packet loss per direction (`1%` or `0.01`).
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub loss: f64,
    /// Packets delivered twice.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub duplicate: f64,
    /// Packets held back by up to --reorder-delay, arriving after later ones.
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub reorder: f64,
    /// How late a reordered packet may be.
    #[arg(long, default_value = "30ms", value_parser = parse_duration)]
    pub reorder_delay: Duration,
    /// Packets delivered with one bit flipped (the receiver's checksum catches them).
    #[arg(long, default_value = "0", value_parser = parse_probability)]
    pub corrupt: f64,
    /// Bandwidth of each direction in bits per second (`10M`, `500k`; `0` for unlimited).
    #[arg(long, default_value = "10M", value_parser = parse_rate)]
    pub bandwidth: u64,
    /// Packets the bottleneck queue holds (more are dropped at its tail).
    #[arg(long, default_value_t = 100)]
    pub queue: usize,
    /// ECN (RFC 3168): both hosts ask for it, and the bottleneck queue marks ECN-Capable
    /// packets Congestion Experienced once this many packets wait (instead of dropping
    /// them later at its tail).
    #[arg(long, value_name = "PACKETS")]
    pub ecn_mark: Option<usize>,
    /// Largest packet the link carries, in bytes.
    #[arg(long)]
    pub mtu: Option<usize>,
    /// Congestion control of both hosts.
    #[arg(long, value_enum, default_value_t = CcArg::Cubic)]
    pub cc: CcArg,
    /// Seed: ISNs and every random choice of the link derive from it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop at this virtual time in seconds, finished or not.
    #[arg(long, default_value = "600", value_parser = parse_duration_secs)]
    pub limit: Duration,
    /// Draw sequence numbers and cwnd over time into this SVG file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Print the summary as JSON instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CcArg {
    Cubic,
    Newreno,
}

/// `1M`, `1.5MB`, `64KiB`, `1000`.
fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let v: f64 = n.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("unknown unit in {s:?} (k, M, G, KiB, MiB, GiB)")),
    };
    let bytes = (v * mult).round();
    // Sequence numbers are 32 bits: the plot and the retransmission count measure offsets
    // from the ISN, so keep a stream under 4 GiB.
    if !(0.0..4e9).contains(&bytes) {
        return Err(format!("{s:?}: keep it under 4G"));
    }
    Ok(bytes as u64)
}

/// `10M` (bits per second), `500k`, `1G`, `0` = unlimited; returns bytes per second.
fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .trim_end_matches("bit/s")
        .trim_end_matches("bps")
        .trim_end_matches("bit");
    let (n, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('m') => (&t[..t.len() - 1], 1e6),
        Some('g') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = n.parse().map_err(|_| format!("not a rate: {s:?}"))?;
    if !(0.0..=1e12).contains(&v) {
        return Err(format!("out of range: {s:?}"));
    }
    Ok((v * mult / 8.0).round() as u64)
}

/// `1%` or `0.01`.
fn parse_probability(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("not a probability: {s:?}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s:?} is not between 0 and 1 (or 0% and 100%)"))
    }
}

fn duration_with_default_unit(s: &str, bare: f64) -> Result<Duration, String> {
    let t = s.trim();
    let (n, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, bare)
    };
    let v: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = v * mult;
    if !(0.0..=1e6).contains(&secs) {
        return Err(format!("out of range: {s:?}"));
    }
    Ok(Duration::from_micros((secs * 1e6).round() as u64))
}

/// `10ms`, `0.2s`, `500us`; a bare number is milliseconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    duration_with_default_unit(s, 1e-3)
}

/// Like `parse_duration`, but a bare number is seconds.
fn parse_duration_secs(s: &str) -> Result<Duration, String> {
    duration_with_default_unit(s, 1.0)
}

impl SimArgs {
    pub fn config(&self) -> ExperimentConfig {
        let mut link = LinkConfig::with_delay(self.delay)
            .jitter(self.jitter)
            .loss(self.loss)
            .duplicate(self.duplicate)
            .reorder(self.reorder, self.reorder_delay)
            .corrupt(self.corrupt);
        if self.bandwidth > 0 {
            link = link.bandwidth(self.bandwidth, Some(self.queue));
        }
        link.ecn_threshold = self.ecn_mark;
        link.mtu = self.mtu;
        ExperimentConfig {
            conns: self.conns,
            bytes: self.bytes,
            both_ways: self.both_ways,
            link,
            cc: match self.cc {
                CcArg::Cubic => Algorithm::Cubic,
                CcArg::Newreno => Algorithm::NewReno,
            },
            ecn: self.ecn_mark.is_some(),
            seed: self.seed,
            limit: self.limit,
        }
    }
}

/// What goes to stderr while the run goes on.
enum Meter {
    Quiet,
    /// A bar redrawn in place, at most ten times a second of wall time.
    Bar {
        last: Option<WallInstant>,
    },
    /// A line at every further tenth of the bytes delivered (the same lines every run).
    Lines {
        tenths: u64,
    },
}

impl Meter {
    fn show(&mut self, p: &Progress) {
        let frac = if p.expected == 0 {
            1.0
        } else {
            p.delivered as f64 / p.expected as f64
        };
        match self {
            Meter::Quiet => {}
            Meter::Bar { last } => {
                let now = WallInstant::now();
                if last.is_some_and(|l| now - l < WallDuration::from_millis(100)) {
                    return;
                }
                *last = Some(now);
                const CELLS: usize = 30;
                let full = (frac * CELLS as f64) as usize;
                let phase = if p.flows_done == p.flows {
                    "closing"
                } else {
                    "sending"
                };
                eprint!(
                    "\r\x1b[2K  [{}{}] {:>3.0}%  {} of {} bytes  virtual {}  {}/{} streams done, {phase}",
                    "#".repeat(full.min(CELLS)),
                    "-".repeat(CELLS - full.min(CELLS)),
                    frac * 100.0,
                    thousands(p.delivered),
                    thousands(p.expected),
                    p.now,
                    p.flows_done,
                    p.flows
                );
            }
            Meter::Lines { tenths } => {
                let now_tenths = (frac * 10.0).floor() as u64;
                if now_tenths > *tenths {
                    *tenths = now_tenths;
                    eprintln!(
                        "synack sim: {:>3}% delivered at virtual {} ({}/{} streams done)",
                        now_tenths * 10,
                        p.now,
                        p.flows_done,
                        p.flows
                    );
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Meter::Bar { last: Some(_) } = self {
            eprint!("\r\x1b[2K");
        }
    }
}

pub fn run(args: SimArgs) -> ExitCode {
    if args.conns == 0 {
        eprintln!("synack sim: --conns must be at least 1");
        return ExitCode::from(2);
    }
    let cfg = args.config();
    let mut meter = if args.quiet {
        Meter::Quiet
    } else if std::io::stderr().is_terminal() {
        Meter::Bar { last: None }
    } else {
        Meter::Lines { tenths: 0 }
    };
    let exp = experiment::run(&cfg, |p| meter.show(p));
    meter.finish();
    let s = &exp.summary;
    if let Some(path) = &args.svg {
        let title = format!(
            "synack sim: {} x {} bytes {}, {}, {}, seed {}",
            s.conns,
            thousands(s.bytes),
            if s.both_ways { "each way" } else { "one way" },
            s.cc,
            cfg.link
                .bandwidth
                .map_or("unlimited".to_string(), |b| rate(b as f64)),
            s.seed
        );
        let picture = plot::render(&exp.series, &title);
        if let Err(e) = std::fs::write(path, picture) {
            eprintln!("synack sim: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let out = if args.json {
        s.json().pretty()
    } else {
        format!(
            "{}\nSockets at the end (ss):\n{}",
            s.text(),
            report::ss_table(&exp.world, Lang::En)
        )
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`synack sim | head`) is not worth a panic.
    let _ = stdout.write_all(out.as_bytes());
    if s.all_intact() {
        ExitCode::SUCCESS
    } else {
        // Scripts can tell a run that did not deliver everything (a time limit hit, a
        // connection that failed) from one that did.
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_rates_probabilities_durations() {
        assert_eq!(parse_bytes("1M"), Ok(1_000_000));
        assert_eq!(parse_bytes("64KiB"), Ok(65_536));
        assert_eq!(parse_bytes("1.5mb"), Ok(1_500_000));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("5G").is_err() && parse_bytes("lots").is_err());
        assert_eq!(parse_rate("10M"), Ok(1_250_000));
        assert_eq!(parse_rate("500kbit/s"), Ok(62_500));
        assert_eq!(parse_rate("0"), Ok(0));
        assert_eq!(parse_probability("1%"), Ok(0.01));
        assert_eq!(parse_probability("0.25"), Ok(0.25));
        assert!(parse_probability("2").is_err());
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("0.2s"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration_secs("30"), Ok(Duration::from_secs(30)));
    }
}
