//! The `synack` command: `synack demo` plays TCP connection scenarios in the deterministic
//! simulator and prints them as ladder diagrams with a one-line explanation per step.

use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use synack_sim::ladder::{self, LadderOptions};
use synack_sim::scenarios::{self, Scenario};
use synack_sim::RunOutcome;

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
    pcap: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => demo(args),
    }
}

fn demo(args: DemoArgs) -> ExitCode {
    if args.list {
        let width = scenarios::all()
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0);
        for s in scenarios::all() {
            println!("  {:width$}  {}", s.name, s.title);
        }
        return ExitCode::SUCCESS;
    }
    let name = args.scenario.as_deref().unwrap_or("normal");
    let Some(scenario) = scenarios::find(name) else {
        eprintln!("synack demo: no scenario named {name:?}; `synack demo --list` names them");
        return ExitCode::from(2);
    };
    let colour = !args.no_color
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let (world, outcome) = scenario.run(args.seed);
    let opts = LadderOptions {
        colour,
        relative: !args.absolute,
        window: args.verbose,
        options: args.verbose,
        payload: true,
        app: true,
        explain: !args.no_explain,
        ..LadderOptions::default()
    };
    let mut out = String::new();
    heading(&mut out, scenario, args.seed, colour);
    out.push_str(&ladder::render(world.record(), &opts));
    if outcome == RunOutcome::Limit {
        out.push_str(&format!(
            "\n(the run stopped at its {} limit with work still pending)\n",
            scenario.limit
        ));
    }
    for h in world.hosts() {
        for (t, e) in &h.log.errors {
            out.push_str(&format!("\n{}'s application at {t}: {e}", h.name));
        }
    }
    out.push('\n');
    for h in world.hosts().iter().filter(|h| !h.is_peer()) {
        out.push_str(&format!(
            "\n{} ({}): {}",
            h.name,
            h.addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            h.stack().counters()
        ));
    }
    if let Some(path) = &args.pcap {
        let written = std::fs::File::create(path).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            synack_sim::pcap::write(world.record(), synack_sim::pcap::Tap::Wire, &mut w)?;
            w.flush()
        });
        if let Err(e) = written {
            eprintln!("synack demo: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`synack demo | head`) is not an error worth a panic.
    let _ = stdout.write_all(out.as_bytes());
    ExitCode::SUCCESS
}

fn heading(out: &mut String, s: &Scenario, seed: u64, colour: bool) {
    let title = format!("{}: {}", s.name, s.title);
    if colour {
        out.push_str(&format!("\x1b[1m{title}\x1b[0m\n"));
    } else {
        out.push_str(&format!("{title}\n"));
    }
    for line in wrap(s.story, 92) {
        out.push_str(&format!("  {line}\n"));
    }
    out.push_str(&format!("  (checklist {}; seed {seed})\n\n", s.refs));
}

/// Greedy word wrap.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
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
        let Command::Demo(a) = cli.command;
        assert_eq!(a.scenario.as_deref(), Some("lost-syn"));
        assert_eq!(a.seed, 7);
        assert!(a.no_color && !a.list);
        let cli = Cli::try_parse_from(["synack", "demo", "--list"]).unwrap();
        let Command::Demo(a) = cli.command;
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

    #[test]
    fn wraps_words() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
    }
}
