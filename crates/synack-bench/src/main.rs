//! `synack-bench`: synack and smoltcp 0.14 side by side, in one process, single thread, on
//! the same in-memory link and virtual clock. Prints one table with each figure for both
//! stacks and the ratio synack/smoltcp (median of the repetitions); progress goes to stderr.
//!
//!     cargo run --release -p synack-bench -- all
//!
//! See `--help` for the knobs (sizes, repetitions, idle levels, time caps).

mod alloc_count;
mod bulk;
mod churn;
#[cfg(target_os = "linux")]
mod tun_bench;

use alloc_count::{live, SIDE_A, SIDE_B};
use churn::{Churn, ChurnRun, SmolChurn, SynackChurn, SMOL_SMALL_BUF};
use clap::{Parser, ValueEnum};
use std::time::Duration as WallDuration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum What {
    /// Everything: bulk, churn (with the idle levels and their memory), TIME-WAIT memory.
    All,
    /// Bulk throughput at MSS 1460 and at MTU 65535, copying and through the in-place APIs.
    Bulk,
    /// Churn with 0 idle connections and at each idle level (gives the idle memory too).
    Churn,
    /// Memory only: bytes per idle connection at each idle level, per TIME-WAIT entry.
    Mem,
    /// Against the Linux kernel over a real TUN device in a network namespace (root):
    /// --bytes each way, synack with and without offload, and smoltcp. Not part of `all`.
    Tun,
}

/// synack vs smoltcp 0.14: bulk throughput, connection churn, memory per connection.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[arg(value_enum, default_value = "all")]
    what: What,
    /// Bulk transfer size (suffix K, M or G: powers of 1024).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    bytes: u64,
    /// Bulk send and receive buffer of each end, both stacks (synack: the fixed bound of its
    /// on-demand buffers, autotuning off; smoltcp: its fixed socket buffers).
    #[arg(long, default_value = "128K", value_parser = parse_size)]
    buffer: u64,
    /// Repetitions of each bulk and 0-idle churn figure, and of synack's interleaved
    /// idle-versus-0-idle churn comparison (the median is reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Churn lifecycles per repetition.
    #[arg(long, default_value_t = 100_000)]
    cycles: u64,
    /// Idle ESTABLISHED connection counts for churn-with-idle and memory, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    idle: Vec<usize>,
    /// Repetitions of each churn-with-idle figure.
    #[arg(long, default_value_t = 3)]
    idle_reps: usize,
    /// Wall-clock cap per churn repetition, seconds: a repetition stops early (and says how
    /// many cycles it ran) once past it. smoltcp with many idle sockets needs it.
    #[arg(long, default_value_t = 10.0)]
    cap: f64,
    /// Virtual time per churn cycle, µs (synack's TIME-WAIT entries live 60 s of it).
    #[arg(long, default_value_t = 2_500)]
    gap_us: u64,
    /// TIME-WAIT entries created for the per-entry memory figure.
    #[arg(long, default_value_t = 10_000)]
    time_wait: usize,
    /// Churn, idle and TIME-WAIT buffers for both stacks. Default: each stack's own choice,
    /// synack's default config (send and receive buffers of 128 KiB allocated on first use,
    /// autotuned up to 4 / 6 MiB) and smoltcp sockets with 64 B rx + 64 B tx buffers. Given,
    /// synack's are fixed at that size (autotuning off), as smoltcp's are.
    #[arg(long, value_parser = parse_size)]
    churn_buffer: Option<u64>,
    /// Extra 0-idle churn rows with both stacks given the same buffers, for each of these
    /// sizes (`--equal-buffers` with no value: none).
    #[arg(long, value_delimiter = ',', value_parser = parse_size, default_value = "64,128K", num_args = 0..)]
    equal_buffers: Vec<u64>,
    /// Repetitions of each `tun` figure (the median is reported).
    #[arg(long, default_value_t = 1)]
    tun_reps: usize,
    /// Only the `tun` cases whose name contains this (names: `k2s-off`, `k2s-on`, `s2k-off`,
    /// `s2k-on`: direction, offload), e.g. for profiling one of them.
    #[arg(long)]
    tun_only: Option<String>,
    /// Leave smoltcp out of the `tun` run.
    #[arg(long)]
    tun_no_smoltcp: bool,
    /// Leave smoltcp out of bulk and churn (its columns show `-`): for profiling synack
    /// alone, e.g. under callgrind.
    #[arg(long)]
    synack_only: bool,
    /// synack's tokio runtimes in the `tun` run: worker-thread counts, 0 = current-thread
    /// (one row set for each).
    #[arg(long, value_delimiter = ',', default_value = "2")]
    tun_workers: Vec<usize>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|e| format!("{s}: {e}"))
}

fn human_size(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

fn human_count(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// The median of the values that are numbers; NaN if none is (the ratios of a
/// `--synack-only` run, whose smoltcp figures are NaN: sorting them with
/// `partial_cmp(..).unwrap()` panicked).
fn median(v: &mut [f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One line of the table.
struct Row {
    figure: String,
    synack: f64,
    smoltcp: f64,
    unit: &'static str,
    note: String,
}

fn fmt_value(v: f64, unit: &str) -> String {
    if v.is_nan() {
        return "-".into();
    }
    match unit {
        "Gbit/s" => format!("{v:.2}"),
        "cycles/s" => {
            if v >= 100.0 {
                format!("{:.0}", v)
            } else {
                format!("{v:.1}")
            }
        }
        _ => format!("{v:.0}"),
    }
}

fn machine() -> (String, String) {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    (format!("nproc {nproc}"), cpu)
}

/// UTC date and time now, `YYYY-MM-DD HH:MM UTC` (no dependency for it).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("[synack-bench] {}", msg.as_ref());
}

// ----- bulk ------------------------------------------------------------------------------

fn run_bulk(args: &Args, rows: &mut Vec<Row>) {
    // The copying rows first (the application copies into and out of each stack's
    // buffers), then the same transfers through both stacks' in-place APIs.
    for (mtu, in_place) in [
        (1500u16, false),
        (65535, false),
        (1500, true),
        (65535, true),
    ] {
        let p = bulk::BulkParams {
            total: args.bytes,
            mtu,
            buffer: args.buffer as usize,
            in_place,
        };
        let api = if in_place { " in-place" } else { "" };
        let (mut s, mut m) = (Vec::new(), Vec::new());
        let mut notes = String::new();
        let mut ratios = Vec::new();
        for rep in 0..args.reps {
            // Both stacks' transfers interleaved in slices (bulk::pair), so that both see
            // the same phases of the machine.
            let (rs, rm) = if args.synack_only {
                (bulk::synack(p), bulk::BulkRun::none())
            } else {
                bulk::pair(p)
            };
            progress(format!(
                "bulk MTU {mtu}{api} rep {}/{}: synack  {:6.2} Gbit/s ({:.2} s, {} packets, {} rounds, {} timer waits, {:.3} virtual s)",
                rep + 1,
                args.reps,
                rs.gbits,
                rs.secs,
                rs.packets,
                rs.rounds,
                rs.timer_jumps,
                rs.virtual_secs
            ));
            progress(format!(
                "bulk MTU {mtu}{api} rep {}/{}: smoltcp {:6.2} Gbit/s ({:.2} s, {} packets, {} rounds, {} timer waits, {:.3} virtual s)",
                rep + 1,
                args.reps,
                rm.gbits,
                rm.secs,
                rm.packets,
                rm.rounds,
                rm.timer_jumps,
                rm.virtual_secs
            ));
            if rep == 0 {
                notes = format!(
                    "packets/GiB: synack {:.0}, smoltcp {:.0}",
                    rs.packets as f64 * (1u64 << 30) as f64 / args.bytes as f64,
                    rm.packets as f64 * (1u64 << 30) as f64 / args.bytes as f64
                );
            }
            s.push(rs.gbits);
            m.push(rm.gbits);
            ratios.push(rs.gbits / rm.gbits);
        }
        if !args.synack_only {
            let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            notes.push_str(&format!(
                "; ratio per rep (interleaved): {}",
                each.join(" ")
            ));
        }
        let mut label = if mtu == 1500 {
            format!("bulk {}, MSS 1460", human_size(args.bytes))
        } else {
            format!("bulk {}, MTU 65535", human_size(args.bytes))
        };
        if in_place {
            label.push_str(", in-place API (both stacks)");
        }
        rows.push(Row {
            figure: label,
            synack: median(&mut s),
            smoltcp: median(&mut m),
            unit: "Gbit/s",
            note: notes,
        });
    }
}

// ----- over a real TUN device --------------------------------------------------------------

#[cfg(target_os = "linux")]
fn run_tun(args: &Args, rows: &mut Vec<Row>) {
    use tun_bench::Dir;
    if let Some(why) = synack_tun::tun::netns::unavailable() {
        progress(format!("tun: cannot run here: {why}"));
        std::process::exit(2);
    }
    for (dir, what) in [
        (Dir::KernelToServer, "kernel client -> server"),
        (Dir::ServerToKernel, "server -> kernel client"),
    ] {
        for offload in [false, true] {
            let case = format!(
                "{}-{}",
                if dir == Dir::KernelToServer {
                    "k2s"
                } else {
                    "s2k"
                },
                if offload { "on" } else { "off" }
            );
            if args.tun_only.as_deref().is_some_and(|o| !case.contains(o)) {
                continue;
            }
            let workers = &args.tun_workers;
            let mut s = vec![Vec::new(); workers.len()];
            let mut m = Vec::new();
            // Repetitions alternate: each runtime in turn, then smoltcp.
            for _ in 0..args.tun_reps.max(1) {
                for (k, &w) in workers.iter().enumerate() {
                    let r =
                        tun_bench::synack(dir, args.bytes, offload, w).expect("synack over TUN");
                    progress(format!(
                        "tun {what}, offload {}, {}: synack {:6.2} Gbit/s ({:.2} s); device: {}",
                        if offload { "on" } else { "off" },
                        runtime_name(w),
                        r.gbits,
                        r.secs,
                        r.device
                    ));
                    s[k].push(r.gbits);
                }
                if !args.tun_no_smoltcp {
                    let r = tun_bench::smoltcp(dir, args.bytes, args.buffer as usize)
                        .expect("smoltcp over TUN");
                    progress(format!(
                        "tun {what}: smoltcp {:6.2} Gbit/s ({:.2} s)",
                        r.gbits, r.secs
                    ));
                    m.push(r.gbits);
                }
            }
            let smol = median(&mut m);
            for (k, &w) in workers.iter().enumerate() {
                rows.push(Row {
                    figure: format!(
                        "TUN {what}, {}{}, {}",
                        human_size(args.bytes),
                        if offload { ", offload" } else { "" },
                        runtime_name(w)
                    ),
                    synack: median(&mut s[k]),
                    smoltcp: smol,
                    unit: "Gbit/s",
                    note: if offload {
                        "synack with GSO/GRO offload; smoltcp without (it has none)".into()
                    } else {
                        "both without offload".into()
                    },
                });
            }
        }
    }
}

/// How a `tun` row names synack's runtime.
#[cfg(target_os = "linux")]
fn runtime_name(workers: usize) -> String {
    match workers {
        0 => "current-thread rt".into(),
        1 => "1 worker".into(),
        n => format!("{n} workers"),
    }
}

#[cfg(not(target_os = "linux"))]
fn run_tun(_args: &Args, _rows: &mut Vec<Row>) {
    progress("tun: Linux only");
    std::process::exit(2);
}

fn print_tun_notes(args: &Args) {
    println!();
    println!("How: a network namespace made for the run, a TUN device in it whose kernel side is");
    println!("198.18.0.1/24; the server at 198.18.0.2 is synack (tokio runtime as the row says,");
    println!("default config) or smoltcp 0.14 (one thread polling a non-blocking TUN descriptor,");
    println!(
        "{} socket buffers). A kernel client (std::net, its own thread) sends {} to the server, or",
        human_size(args.buffer),
        human_size(args.bytes)
    );
    println!(
        "reads as much from it; figure = bytes x 8 / time from connect to the end (the server's"
    );
    println!("FIN). offload: IFF_VNET_HDR + TUNSETOFFLOAD, GSO super-packets split on read, GRO");
    println!(
        "coalescing on write; smoltcp has no offload (its offload-row figure is measured in that"
    );
    println!("row's own repetitions, without offload). Repetitions alternate synack and smoltcp.");
    println!("The machine's other load shows in these figures: compare rows of one run.");
}

// ----- churn and idle memory -------------------------------------------------------------

struct ChurnFigure {
    rate: f64,
    cycles_per_rep: Vec<u64>,
    packets_per_cycle: f64,
    timer_waits: u64,
    bytes_per_idle: Option<(f64, f64)>,
    time_wait_now: usize,
    rates: Vec<f64>,
    packets: u64,
}

fn synack_churn(args: &Args, idle: usize, buffer: Option<u64>) -> SynackChurn {
    SynackChurn::new(args.gap_us, idle, buffer.map(|b| b as usize))
}

fn smol_churn(args: &Args, idle: usize, buffer: Option<u64>) -> SmolChurn {
    SmolChurn::new(
        args.gap_us,
        idle,
        buffer.map_or(SMOL_SMALL_BUF, |b| b as usize),
    )
}

/// Set up `idle` idle connections on `h`; heap bytes per connection (client, server).
fn setup_idle<C: Churn>(name: &str, h: &mut C, idle: usize) -> Option<(f64, f64)> {
    if idle == 0 {
        return None;
    }
    let (a0, b0) = (live(SIDE_A), live(SIDE_B));
    let t = std::time::Instant::now();
    h.add_idle(idle);
    let (a1, b1) = (live(SIDE_A), live(SIDE_B));
    let per = (
        (a1 - a0) as f64 / idle as f64,
        (b1 - b0) as f64 / idle as f64,
    );
    progress(format!(
        "{name}: {} idle connections set up in {:.1} s; heap per connection: client {:.0} B, server {:.0} B",
        idle,
        t.elapsed().as_secs_f64(),
        per.0,
        per.1
    ));
    Some(per)
}

fn new_figure(bytes_per_idle: Option<(f64, f64)>) -> ChurnFigure {
    ChurnFigure {
        rate: f64::NAN,
        cycles_per_rep: Vec::new(),
        packets_per_cycle: 0.0,
        timer_waits: 0,
        bytes_per_idle,
        time_wait_now: 0,
        rates: Vec::new(),
        packets: 0,
    }
}

/// Warm-up (not counted): fills caches, allocator free lists, the first TIME-WAITs.
fn warm_up<C: Churn>(name: &str, h: &mut C, idle: usize, args: &Args) {
    let cap = WallDuration::from_secs_f64(args.cap);
    // Long enough for synack's TIME-WAIT table to reach its steady size, where a record
    // expires for each one added: a harness timed before that holds fewer records and
    // expires none, which flattered the 0-idle reference of `idle_ratio` (warmed 5,000
    // cycles, against 24,000 to fill 60 s of TIME-WAIT at 2,500 µs per cycle) next to the
    // idle harness, long since steady.
    let steady = time_wait_fill_cycles(args) + IDLE_RATIO_SLICE;
    let warm = h.run((args.cycles / 20).clamp(1, 5_000).max(steady), cap / 4);
    progress(format!(
        "{name}, {} idle: warm-up {} cycles ({:.0}/s)",
        human_count(idle),
        warm.cycles,
        warm.rate()
    ));
}

/// Cycles of virtual time that one TIME-WAIT (synack's default 2·MSL) lasts in churn.
fn time_wait_fill_cycles(args: &Args) -> u64 {
    let tw = synack::Config::default().time_wait.as_micros();
    u64::try_from(tw / u128::from(args.gap_us.max(1))).unwrap_or(u64::MAX)
}

/// One timed repetition, recorded into `fig`.
fn churn_rep<C: Churn>(
    name: &str,
    h: &mut C,
    idle: usize,
    (rep, reps): (usize, usize),
    args: &Args,
    fig: &mut ChurnFigure,
) {
    let r = h.run(args.cycles, WallDuration::from_secs_f64(args.cap));
    record_rep(name, h, idle, (rep, reps), args, fig, r);
}

/// One repetition of both stacks with no idle connections, interleaved: each runs
/// `IDLE_RATIO_SLICE` cycles in turn (ABBA order), `args.cycles` in all, and each one's
/// slices are summed into its repetition. Whole repetitions one after the other saw
/// different phases of this machine (the 0-idle ratio moved between 0.69x and 0.81x in one
/// session); slices this short see the same ones, as in [`idle_ratio`].
fn churn_rep_pair<S: Churn, M: Churn>(
    names: (&str, &str),
    (s, m): (&mut S, &mut M),
    (rep, reps): (usize, usize),
    args: &Args,
    (fs, fm): (&mut ChurnFigure, &mut ChurnFigure),
) {
    let (rs, rm) = interleave(s, m, args);
    record_rep(names.0, s, 0, (rep, reps), args, fs, rs);
    record_rep(names.1, m, 0, (rep, reps), args, fm, rm);
}

/// `args.cycles` cycles of each of `a` and `b`, taking turns in `IDLE_RATIO_SLICE`-cycle
/// slices in ABBA order (so a steady drift of the machine's speed cancels); each one's
/// slices summed.
fn interleave<A: Churn, B: Churn>(a: &mut A, b: &mut B, args: &Args) -> (ChurnRun, ChurnRun) {
    let cap = WallDuration::from_secs_f64(args.cap);
    let (mut ra, mut rb) = (ChurnRun::default(), ChurnRun::default());
    let total = args.cycles.max(1);
    for slice in 0..total.div_ceil(IDLE_RATIO_SLICE) {
        let n = IDLE_RATIO_SLICE.min(total - slice * IDLE_RATIO_SLICE);
        if matches!(slice % 4, 0 | 3) {
            ra.add(a.run(n, cap));
            rb.add(b.run(n, cap));
        } else {
            rb.add(b.run(n, cap));
            ra.add(a.run(n, cap));
        }
    }
    (ra, rb)
}

/// Report repetition `r` of `h` and record it into `fig`.
fn record_rep<C: Churn>(
    name: &str,
    h: &C,
    idle: usize,
    (rep, reps): (usize, usize),
    args: &Args,
    fig: &mut ChurnFigure,
    r: ChurnRun,
) {
    progress(format!(
        "{name}, {} idle, rep {}/{reps}: {:.0} cycles/s ({} cycles in {:.2} s{}, {:.1} packets and {:.1} rounds per cycle, {} timer waits, {} TIME-WAIT held)",
        human_count(idle),
        rep + 1,
        r.rate(),
        r.cycles,
        r.secs,
        if r.cycles < args.cycles { ", capped" } else { "" },
        r.packets as f64 / r.cycles as f64,
        r.rounds as f64 / r.cycles as f64,
        r.timer_jumps,
        h.time_wait_count()
    ));
    fig.rates.push(r.rate());
    fig.cycles_per_rep.push(r.cycles);
    fig.timer_waits += r.timer_jumps;
    fig.packets += r.packets;
    let cycles: u64 = fig.cycles_per_rep.iter().sum();
    fig.rate = median(&mut fig.rates.clone());
    fig.packets_per_cycle = fig.packets as f64 / cycles.max(1) as f64;
    fig.time_wait_now = h.time_wait_count();
}

/// synack and smoltcp with `idle` idle connections each: set-up (and its memory), then
/// churn repetitions of the two stacks, interleaved in slices with no idle connections
/// ([`churn_rep_pair`]), else one after the other, so that the machine's drift and noise
/// fall on both alike. synack's harness is handed back (for [`idle_ratio`]).
#[allow(clippy::too_many_arguments)]
fn churn_pair<S: Churn, M: Churn>(
    names: (&str, &str),
    mut s: S,
    mut m: Option<M>,
    idle: usize,
    reps: usize,
    args: &Args,
    do_churn: bool,
) -> (ChurnFigure, ChurnFigure, S) {
    let mut fs = new_figure(setup_idle(names.0, &mut s, idle));
    let mut fm = new_figure(m.as_mut().and_then(|m| setup_idle(names.1, m, idle)));
    if do_churn {
        warm_up(names.0, &mut s, idle, args);
        if let Some(m) = m.as_mut() {
            warm_up(names.1, m, idle, args);
        }
        for rep in 0..reps {
            match m.as_mut() {
                // With idle connections smoltcp runs hundreds of times slower (capped
                // repetitions), and the ratio is far beyond what the machine's phases move.
                Some(m) if idle == 0 => {
                    churn_rep_pair(names, (&mut s, m), (rep, reps), args, (&mut fs, &mut fm))
                }
                m => {
                    churn_rep(names.0, &mut s, idle, (rep, reps), args, &mut fs);
                    if let Some(m) = m {
                        churn_rep(names.1, m, idle, (rep, reps), args, &mut fm);
                    }
                }
            }
        }
    }
    (fs, fm, s)
}

/// Cycles per slice of [`idle_ratio`]: tens of milliseconds, far shorter than the
/// seconds-long phases in which this kind of shared machine changes speed.
const IDLE_RATIO_SLICE: u64 = 2_000;

/// synack's churn rate with `idle` idle connections (the warmed harness `with_idle`)
/// divided by its rate with none, measured interleaved: a fresh 0-idle synack harness and
/// `with_idle` take turns running `IDLE_RATIO_SLICE` cycles each (in ABBA order, so a
/// steady drift cancels), `args.cycles` each in all, and each one's time is summed. Whole
/// repetitions taken tens of seconds apart (the table's rows) can differ 2.5x on these
/// machines through no fault of either figure; slices this short see the same machine.
/// The comparison runs `args.reps` times; the median is returned with every repetition's
/// ratio (one comparison moved by a few percent from run to run, as much as the margin of
/// issue 3's 0.9x target).
#[inline(never)] // a profiling boundary: `valgrind --tool=callgrind --dump-before=synack_bench::idle_ratio`
fn idle_ratio(args: &Args, with_idle: &mut SynackChurn, idle: usize) -> (f64, Vec<f64>) {
    let mut zero = synack_churn(args, 0, args.churn_buffer);
    warm_up("synack (0-idle reference)", &mut zero, 0, args);
    let reps = args.reps.max(1);
    let mut ratios = Vec::with_capacity(reps);
    for rep in 1..=reps {
        let started = std::time::Instant::now();
        let (z, w) = interleave(&mut zero, with_idle, args);
        let (rz, rw) = (z.rate(), w.rate());
        progress(format!(
            "synack, {} idle vs 0 idle, rep {rep}/{reps}, interleaved in {}-cycle slices ({:.1} s): {:.0} vs {:.0} cycles/s = {:.3}x",
            human_count(idle),
            IDLE_RATIO_SLICE,
            started.elapsed().as_secs_f64(),
            rw,
            rz,
            rw / rz
        ));
        ratios.push(rw / rz);
    }
    (median(&mut ratios.clone()), ratios)
}

fn run_churn(args: &Args, rows: &mut Vec<Row>, mem_rows: &mut Vec<Row>, do_churn: bool) {
    let mut levels = vec![0usize];
    levels.extend(args.idle.iter().copied().filter(|&n| n > 0));
    if !do_churn {
        levels.retain(|&n| n > 0);
    }
    let mut synack_zero = f64::NAN;
    for &idle in &levels {
        let reps = if idle == 0 { args.reps } else { args.idle_reps };
        progress(format!(
            "churn/memory with {} idle connections",
            human_count(idle)
        ));
        let (s, m, mut s_harness) = churn_pair(
            ("synack", "smoltcp"),
            synack_churn(args, idle, args.churn_buffer),
            (!args.synack_only).then(|| smol_churn(args, idle, args.churn_buffer)),
            idle,
            reps,
            args,
            do_churn,
        );
        if do_churn {
            if idle == 0 {
                synack_zero = s.rate;
            }
            let capped = |f: &ChurnFigure| {
                f.cycles_per_rep
                    .iter()
                    .any(|&c| c < args.cycles)
                    .then(|| format!("{} cycles/rep (capped)", f.cycles_per_rep[0]))
            };
            let mut note = format!(
                "packets/cycle {:.1} vs {:.1}",
                s.packets_per_cycle, m.packets_per_cycle
            );
            if idle == 0 {
                note += &format!("; synack TIME-WAIT held {}", s.time_wait_now);
            } else {
                let (interleaved, each) = idle_ratio(args, &mut s_harness, idle);
                let each: Vec<String> = each.iter().map(|r| format!("{r:.3}")).collect();
                note += &format!(
                    "; synack {interleaved:.3}x its 0-idle rate (interleaved, median of {})",
                    each.join(" ")
                );
                if !synack_zero.is_nan() {
                    note += &format!(", {:.2}x from whole reps", s.rate / synack_zero);
                }
            }
            if let Some(c) = capped(&m) {
                note += &format!("; smoltcp {c}");
            }
            if let Some(c) = capped(&s) {
                note += &format!("; synack {c}");
            }
            if s.timer_waits + m.timer_waits > 0 {
                note += &format!("; timer waits {} vs {}", s.timer_waits, m.timer_waits);
            }
            rows.push(Row {
                figure: format!("churn, {} idle", human_count(idle)),
                synack: s.rate,
                smoltcp: m.rate,
                unit: "cycles/s",
                note,
            });
        }
        if let Some(sb) = s.bytes_per_idle {
            let mb = m.bytes_per_idle.unwrap_or((f64::NAN, f64::NAN));
            for (i, side) in ["client", "server"].iter().enumerate() {
                let (sv, mv) = if i == 0 { (sb.0, mb.0) } else { (sb.1, mb.1) };
                mem_rows.push(Row {
                    figure: format!("bytes/idle conn, {side}, {} conns", human_count(idle)),
                    synack: sv,
                    smoltcp: mv,
                    unit: "bytes",
                    note: if i == 0 {
                        format!(
                            "smoltcp: socket with {} rx + tx buffers",
                            smol_buffer_text(args)
                        )
                    } else {
                        String::new()
                    },
                });
            }
        }
    }
}

fn smol_buffer_text(args: &Args) -> String {
    human_size(args.churn_buffer.unwrap_or(SMOL_SMALL_BUF as u64))
}

/// 0-idle churn with both stacks given the same buffers.
fn run_churn_equal(args: &Args, rows: &mut Vec<Row>) {
    for &buf in &args.equal_buffers {
        progress(format!(
            "churn, 0 idle, both stacks with {} buffers",
            human_size(buf)
        ));
        let name_s = format!("synack ({} buffers)", human_size(buf));
        let name_m = format!("smoltcp ({} buffers)", human_size(buf));
        let (s, m, _) = churn_pair(
            (&name_s, &name_m),
            synack_churn(args, 0, Some(buf)),
            (!args.synack_only).then(|| smol_churn(args, 0, Some(buf))),
            0,
            args.reps,
            args,
            true,
        );
        rows.push(Row {
            figure: format!("churn, 0 idle, both {} buffers", human_size(buf)),
            synack: s.rate,
            smoltcp: m.rate,
            unit: "cycles/s",
            note: format!(
                "packets/cycle {:.1} vs {:.1}",
                s.packets_per_cycle, m.packets_per_cycle
            ),
        });
    }
}

fn run_time_wait(args: &Args, mem_rows: &mut Vec<Row>) {
    let n = args.time_wait;
    progress(format!("memory per TIME-WAIT entry ({n} entries)"));
    fn one<C: Churn>(name: &str, mut h: C, n: usize) -> (f64, f64) {
        let (a0, b0) = (live(SIDE_A), live(SIDE_B));
        h.make_time_wait(n);
        assert_eq!(h.time_wait_count(), n, "{name}: TIME-WAIT entries");
        let (a1, b1) = (live(SIDE_A), live(SIDE_B));
        let per = ((a1 - a0) as f64 / n as f64, (b1 - b0) as f64 / n as f64);
        progress(format!(
            "{name}: {n} TIME-WAIT entries: client heap {:.0} B each; server residual {:.0} B per closed connection",
            per.0, per.1
        ));
        per
    }
    let s = one("synack", synack_churn(args, n, args.churn_buffer), n);
    let m = if args.synack_only {
        (f64::NAN, f64::NAN)
    } else {
        one("smoltcp", smol_churn(args, n, args.churn_buffer), n)
    };
    mem_rows.push(Row {
        figure: format!("bytes/TIME-WAIT entry, {} entries", human_count(n)),
        synack: s.0,
        smoltcp: m.0,
        unit: "bytes",
        note: format!(
            "smoltcp: the socket kept in TIME-WAIT ({} rx + tx buffers); server residual/conn {:.0} vs {:.0}",
            smol_buffer_text(args),
            s.1,
            m.1
        ),
    });
}

fn print_table(args: &Args, rows: &[Row], started: &str) {
    let (nproc, cpu) = machine();
    println!();
    println!(
        "synack vs smoltcp 0.14 — same process, single thread, in-memory link (IPv4), checksums on"
    );
    println!("date: {started}   machine: {cpu}, {nproc}");
    println!(
        "command: synack-bench {} (bulk {} x{} reps, buffers {}; churn {} cycles x{} reps, idle reps {}, cap {} s/rep; gap {} µs/cycle)",
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        human_size(args.bytes),
        args.reps,
        human_size(args.buffer),
        args.cycles,
        args.reps,
        args.idle_reps,
        args.cap,
        args.gap_us
    );
    println!();
    let w = rows
        .iter()
        .map(|r| r.figure.len())
        .max()
        .unwrap_or(10)
        .max(10);
    println!(
        "| {:<w$} | {:>10} | {:>10} | {:>14} | {:<8} | notes",
        "figure", "synack", "smoltcp", "synack/smoltcp", "unit"
    );
    println!(
        "|-{}-|-{}:|-{}:|-{}:|-{}-|------",
        "-".repeat(w),
        "-".repeat(9),
        "-".repeat(9),
        "-".repeat(13),
        "-".repeat(8)
    );
    for r in rows.iter() {
        let ratio = r.synack / r.smoltcp;
        println!(
            "| {:<w$} | {:>10} | {:>10} | {:>14} | {:<8} | {}",
            r.figure,
            fmt_value(r.synack, r.unit),
            fmt_value(r.smoltcp, r.unit),
            if ratio.is_finite() {
                format!("{ratio:.2}x")
            } else {
                "-".into()
            },
            r.unit,
            r.note
        );
    }
}

fn print_notes(args: &Args) {
    if args.what == What::Tun {
        print_tun_notes(args);
        return;
    }
    let smol_storage = std::mem::size_of::<smoltcp::iface::SocketStorage>();
    println!();
    println!(
        "How: both stacks in this process, one thread, one in-memory link (two packet queues and a"
    );
    println!(
        "buffer pool, no delay); each round every host takes its packets, its application runs, it"
    );
    println!(
        "sends; the virtual clock moves 10 µs per round while packets are in flight, else jumps to"
    );
    println!(
        "the next timer. IPv4 198.18.0.1 <-> 198.18.0.2, checksums computed and verified by both."
    );
    println!(
        "- bulk: A sends {} to B on one connection; figure = bytes x 8 / wall time of the whole loop",
        human_size(args.bytes)
    );
    println!(
        "  (handshake included, close not). Buffers {} each end for both stacks. synack: default",
        human_size(args.buffer)
    );
    println!(
        "  config (Nagle, delayed ACK, window scaling, timestamps, SACK). smoltcp: defaults (no"
    );
    println!("  timestamps, no congestion control compiled in, 10 ms ACK delay, Nagle).");
    println!(
        "  \"in-place API\" rows: the same transfer through each stack's zero-copy calls (synack"
    );
    println!(
        "  send_with/recv_with, smoltcp tcp::Socket::send/recv closures): the sender writes the"
    );
    println!(
        "  pattern straight into the send buffer, the receiver reads each slice in place (no copy"
    );
    println!("  out; the first and last byte of each slice are checked).");
    println!("- churn: per cycle allocate, connect, 64 B request, 64 B response, client close, server close,");
    println!(
        "  free; {} µs of virtual time per cycle. synack keeps every client TIME-WAIT for 60 s (about",
        args.gap_us
    );
    println!("  60 s / gap entries held); smoltcp frees the client socket on reaching TIME-WAIT (it has no");
    println!("  TIME-WAIT record but the socket) and uses a new listening socket per connection.");
    match args.churn_buffer {
        None => println!(
            "  Buffers: synack default config (send/receive buffers of 128 KiB, autotuned up to 4/6 MiB,\n  allocated on first use, freed when empty); smoltcp sockets with {SMOL_SMALL_BUF} B rx + {SMOL_SMALL_BUF} B tx. The \"both N\"\n  rows give both stacks the same fixed N-byte buffers (synack's autotuning off)."
        ),
        Some(b) => println!(
            "  Buffers: {} for both stacks, fixed (synack's autotuning off).",
            human_size(b)
        ),
    }
    println!(
        "  Idle connections (to other server ports) are set up first and not timed; a repetition"
    );
    println!(
        "  stops early after {} s of wall time (the row then says how many cycles ran).",
        args.cap
    );
    println!(
        "- timing: each repetition interleaves the two stacks (bulk: 1/16 of the bytes in turn;"
    );
    println!("  0-idle churn: 2,000-cycle slices), ABBA, each timed over its own slices, so both see the");
    println!("  same phases of the machine; with idle connections smoltcp's repetitions follow synack's,");
    println!("  and synack's ratio to its own 0-idle rate is the median of --reps interleaved comparisons.");
    println!("  Warm-ups run until synack's TIME-WAIT table is at its steady size. glibc malloc's mmap and");
    println!("  trim thresholds are fixed for the run (neither stack's frees move the other's allocations).");
    println!(
        "- memory: a counting global allocator attributes live heap bytes to the side whose code"
    );
    println!("  runs (client A, server B); figure = heap growth / connections, after the link has drained.");
    println!("  It includes the amortized growth of each stack's tables (hash map, slot vectors) at this N.");
    println!(
        "  smoltcp: one SocketStorage is {smol_storage} B inline in the SocketSet's Vec, plus its buffers."
    );
}

/// Fix glibc malloc's thresholds for the whole run. By default they move with what was
/// freed before (a freed mmapped chunk raises the mmap threshold; the trim threshold
/// follows it), so one stack's frees decide whether the other's next large buffer comes
/// from the heap or from fresh pages (mmap, or the heap grown again after a trim), each a
/// page fault per 4 KiB: interleaved with synack, smoltcp's churn with two 128 KiB buffers
/// per socket fell from 47k to 8k cycles/s. With the thresholds fixed, no figure depends
/// on the order the stacks run in.
fn fix_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() {
    let args = Args::parse();
    fix_malloc_thresholds();
    let t_start = std::time::Instant::now();
    let started = utc_now();
    let (nproc, cpu) = machine();
    progress(format!("{cpu}, {nproc}, {started}"));
    if cfg!(debug_assertions) {
        progress("WARNING: debug build; run with --release for meaningful figures");
    }
    let mut rows = Vec::new();
    let mut mem_rows = Vec::new();
    if args.what == What::Tun {
        run_tun(&args, &mut rows);
    }
    if matches!(args.what, What::All | What::Bulk) {
        run_bulk(&args, &mut rows);
    }
    if matches!(args.what, What::All | What::Churn) {
        run_churn(&args, &mut rows, &mut mem_rows, true);
        run_churn_equal(&args, &mut rows);
    }
    if args.what == What::Mem {
        run_churn(&args, &mut rows, &mut mem_rows, false);
    }
    if matches!(args.what, What::All | What::Mem) {
        run_time_wait(&args, &mut mem_rows);
    }
    rows.extend(mem_rows);
    print_table(&args, &rows, &started);
    print_notes(&args);
    println!(
        "(whole run: {:.0} s of wall time)",
        t_start.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod median_tests {
    use super::median;

    #[test]
    fn median_skips_nan_and_is_nan_only_when_nothing_is_left() {
        assert_eq!(median(&mut [3.0, f64::NAN, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut [f64::NAN, f64::NAN]).is_nan());
        assert!(median(&mut []).is_nan());
    }
}
