//! The `synack` command: `synack demo` plays TCP connection scenarios in the deterministic
//! simulator and prints them as ladder diagrams with a one-line explanation per step, in
//! English or Chinese; it also draws them as SVG or a self-contained HTML page, writes pcap
//! files and emits the event trace as JSON.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use synack::Instant;
use synack_sim::i18n::{self, Lang, Word};
use synack_sim::ladder::{self, LadderOptions};
use synack_sim::scenarios::{self, Scenario};
use synack_sim::{html, json, report, svg, RunOutcome, World};

#[cfg(target_os = "linux")]
mod connect;
#[cfg(target_os = "linux")]
mod realnet;
#[cfg(target_os = "linux")]
mod serve;
mod sim;

#[derive(Parser)]
#[command(
    name = "synack",
    version,
    about = "A user-space TCP stack, and a way to watch it work"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Play a connection scenario in the simulator and draw it as a ladder diagram.
    Demo(DemoArgs),
    /// Run a bulk-transfer experiment (connections, bytes, a faulty link) and summarize it.
    Sim(sim::SimArgs),
    /// Serve on a real network: synack on a TUN device (Linux, root or CAP_NET_ADMIN).
    #[cfg(target_os = "linux")]
    Serve(serve::ServeArgs),
    /// Connect over a real network: synack on a TUN device (Linux, root or CAP_NET_ADMIN).
    #[cfg(target_os = "linux")]
    Connect(connect::ConnectArgs),
}

#[derive(clap::Args)]
struct DemoArgs {
    /// Scenario to play (default: normal). See --list.
    scenario: Option<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Seed of the simulation (ISNs and any random link behaviour derive from it).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No ANSI colours (they are on only when stdout is a terminal anyway).
    #[arg(long, alias = "no-colour")]
    no_color: bool,
    /// Absolute sequence numbers instead of numbers relative to each side's ISN.
    #[arg(long)]
    absolute: bool,
    /// Show windows and TCP options on every segment.
    #[arg(long, short)]
    verbose: bool,
    /// Leave out the explanations.
    #[arg(long)]
    no_explain: bool,
    /// Also write the packets to this pcap file (open it in Wireshark).
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Also draw the ladder as an SVG picture in this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Also write a self-contained HTML page (story, picture, counters) to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Print the event trace as JSON instead of the ladder.
    #[arg(long)]
    json: bool,
    /// Language of the explanations and stories (state names stay as netstat writes them).
    #[arg(long, value_enum, default_value_t = LangArg::En)]
    lang: LangArg,
    /// Stop the simulation at this virtual time in seconds (e.g. 30 or 1.5), to see what is
    /// still open in the connection table.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    until: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LangArg {
    /// English
    En,
    /// Chinese (中文)
    Zh,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::En => Lang::En,
            LangArg::Zh => Lang::Zh,
        }
    }
}

/// `30`, `1.5`, `61s`: seconds of virtual time, to the microsecond.
fn parse_seconds(s: &str) -> Result<Instant, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("not a number of seconds: {s:?}"))?;
    if !(0.0..=1e9).contains(&v) {
        return Err(format!("out of range: {s:?}"));
    }
    Ok(Instant::from_micros((v * 1e6).round() as u64))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo(args),
        Command::Sim(args) => sim::run(args),
        #[cfg(target_os = "linux")]
        Command::Serve(args) => serve::serve(args),
        #[cfg(target_os = "linux")]
        Command::Connect(args) => connect::connect(args),
    }
}

fn demo(args: DemoArgs) -> ExitCode {
    let lang = Lang::from(args.lang);
    if args.list {
        let width = scenarios::all()
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for s in scenarios::all() {
            out.push_str(&format!("  {:width$}  {}\n", s.name, i18n::title(s, lang)));
        }
        print_out(&out);
        return ExitCode::SUCCESS;
    }
    let name = args.scenario.as_deref().unwrap_or("normal");
    let Some(scenario) = scenarios::find(name) else {
        eprintln!("synack demo: no scenario named {name:?}; `synack demo --list` names them");
        return ExitCode::from(2);
    };
    let colour = !args.no_color
        && !args.json
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut world = scenario.build(args.seed);
    let outcome = match args.until {
        // Stop the clock right there, busy or not.
        Some(u) if u < scenario.limit => {
            world.run_until(u);
            if world.next_time().is_some() {
                RunOutcome::Limit
            } else {
                RunOutcome::Idle
            }
        }
        _ => world.run_until_idle(scenario.limit),
    };
    let opts = LadderOptions {
        colour,
        relative: !args.absolute,
        window: args.verbose,
        options: args.verbose,
        payload: true,
        app: true,
        explain: !args.no_explain,
        lang,
        ..LadderOptions::default()
    };
    // Files first: a file that cannot be written is an error, whatever is printed.
    let plain = LadderOptions {
        colour: false,
        ..opts.clone()
    };
    let title = format!("{}: {}", scenario.name, i18n::title(scenario, lang));
    let mut files: Vec<(&Path, Vec<u8>)> = Vec::new();
    if let Some(path) = &args.pcap {
        let mut bytes = Vec::new();
        // Writing into memory cannot fail.
        let _ = synack_sim::pcap::write(world.record(), synack_sim::pcap::Tap::Wire, &mut bytes);
        files.push((path, bytes));
    }
    if let Some(path) = &args.svg {
        let picture = svg::render(world.record(), &plain, Some(&title));
        files.push((path, picture.into_bytes()));
    }
    if let Some(path) = &args.html {
        let page = html::Page {
            scenario: Some(scenario),
            seed: args.seed,
            outcome,
            options: &plain,
        };
        files.push((path, html::render(&world, &page).into_bytes()));
    }
    for (path, bytes) in files {
        if let Err(e) = write_file(path, &bytes) {
            eprintln!("synack demo: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if args.json {
        let meta = json::Meta {
            scenario: Some(scenario),
            seed: args.seed,
            outcome,
        };
        print_out(&json::render(&world, &meta, &plain));
        return ExitCode::SUCCESS;
    }
    let mut out = String::new();
    heading(&mut out, scenario, args.seed, colour, lang);
    out.push_str(&ladder::render(world.record(), &opts));
    out.push_str(&ending(&world, scenario, outcome, args.until, lang));
    print_out(&out);
    ExitCode::SUCCESS
}

/// What follows the ladder: why the run stopped early, application errors, the counters and
/// the connection table.
fn ending(
    world: &World,
    scenario: &Scenario,
    outcome: RunOutcome,
    until: Option<Instant>,
    lang: Lang,
) -> String {
    let mut out = String::new();
    if outcome == RunOutcome::Limit {
        let stopped_early = until.is_some_and(|u| u < scenario.limit);
        out.push_str(&match (lang, stopped_early) {
            (Lang::En, false) => format!(
                "\n(the run stopped at its {} limit with work still pending)\n",
                scenario.limit
            ),
            (Lang::En, true) => format!("\n(stopped at {} as --until asked)\n", world.now()),
            (Lang::Zh, false) => format!(
                "\n（运行到达时间上限 {} 时仍有未完成的工作）\n",
                scenario.limit
            ),
            (Lang::Zh, true) => format!("\n（按 --until 的要求停在 {}）\n", world.now()),
        });
    }
    for h in world.hosts() {
        for (t, e) in &h.log.errors {
            out.push_str(&match lang {
                Lang::En => format!("\n{}'s application at {t}: {e}", h.name),
                Lang::Zh => format!("\n{} 的应用程序在 {t} 出错：{e}", h.name),
            });
        }
    }
    out.push('\n');
    for (host, counters) in report::counters_text(world) {
        out.push_str(&format!("\n{host}: {counters}"));
    }
    out.push_str(&format!(
        "\n{}{}\n{}",
        i18n::word(Word::Connections, lang),
        lang.pick(":", "："),
        report::ss_table(world, lang)
    ));
    out
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let f = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::new(f);
    w.write_all(bytes)?;
    w.flush()
}

fn print_out(s: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`synack demo | head`) is not an error worth a panic.
    let _ = stdout.write_all(s.as_bytes());
}

fn heading(out: &mut String, s: &Scenario, seed: u64, colour: bool, lang: Lang) {
    let title = format!("{}: {}", s.name, i18n::title(s, lang));
    if colour {
        out.push_str(&format!("\x1b[1m{title}\x1b[0m\n"));
    } else {
        out.push_str(&format!("{title}\n"));
    }
    for line in i18n::wrap(i18n::story(s, lang), 92) {
        out.push_str(&format!("  {line}\n"));
    }
    out.push_str(&match lang {
        Lang::En => format!("  (checklist {}; seed {seed})\n\n", s.refs),
        Lang::Zh => format!("  （对应检查项 {}；随机种子 {seed}）\n\n", s.refs),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_demo_arguments() {
        let cli = Cli::try_parse_from(["synack", "demo", "lost-syn", "--seed", "7", "--no-color"])
            .unwrap();
        let Command::Demo(a) = cli.command else {
            panic!("not demo")
        };
        assert_eq!(a.scenario.as_deref(), Some("lost-syn"));
        assert_eq!(a.seed, 7);
        assert!(a.no_color && !a.list);
        let cli = Cli::try_parse_from(["synack", "demo", "--list"]).unwrap();
        let Command::Demo(a) = cli.command else {
            panic!("not demo")
        };
        assert!(a.list && a.scenario.is_none());
    }

    #[test]
    fn every_required_scenario_exists() {
        for name in [
            "normal",
            "handshake",
            "data-on-third-segment",
            "lost-syn",
            "lost-syn-ack",
            "lost-third-ack",
            "stale-syn",
            "lost-last-ack",
            "fin-wait-2",
            "simultaneous-open",
            "simultaneous-close",
            "half-close",
            "reset",
        ] {
            assert!(scenarios::find(name).is_some(), "{name}");
        }
    }
}
