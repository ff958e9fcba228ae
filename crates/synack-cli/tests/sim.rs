//! `synack sim` end to end: the summary tables and the `ss` table with the listener, the same
//! output for the same seed, progress lines on a non-terminal stderr (none with --quiet),
//! `--json`, `--svg`, the exit status of a run stopped by its time limit, bad arguments.

use std::process::{Command, Output};

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("run synack")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

const SMALL: [&str; 8] = [
    "sim", "-n", "2", "--bytes", "100k", "--loss", "1%", "--seed=3",
];

#[test]
fn sim_summary_is_deterministic_and_complete() {
    let mut args = SMALL.to_vec();
    args.push("--quiet");
    let a = synack(&args);
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(a.stderr.is_empty(), "--quiet: {}", text(&a.stderr));
    let out = text(&a.stdout);
    assert_eq!(out, text(&synack(&args).stdout));
    for needle in [
        "2 connections x 100,000 bytes one way (client -> server), cubic, seed 3",
        "link, each direction: delay 10ms, 10 Mbit/s bandwidth, queue 100 packets, loss 1%",
        "capacity 9.65 Mbit/s of payload per direction",
        "segments retransmitted",
        "fast retransmits (loss recoveries entered)",
        "retransmission timeouts",
        "Time in each state",
        "Sockets at the end (ss):",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    let total = out
        .lines()
        .find(|l| l.trim_start().starts_with("total"))
        .unwrap();
    assert!(
        total
            .split_whitespace()
            .take(6)
            .eq(["total", "up", "200,000", "200,000", "2/2", "intact"]),
        "{total}"
    );
    // Both connections' rows, each intact.
    assert_eq!(out.matches(" up ").count(), 3, "{out}");
    assert_eq!(out.matches("intact").count(), 3, "{out}");
    // After the run only the server's listener is left, as `ss -ltn` shows it.
    let listen = out.lines().find(|l| l.contains("LISTEN")).expect(&out);
    assert!(
        listen.split_whitespace().take(5).eq([
            "LISTEN",
            "0",
            "128",
            "198.18.0.2:5001",
            "0.0.0.0:*"
        ]),
        "{listen}"
    );
    let tw = out.lines().find(|l| l.contains("TIME_WAIT")).unwrap();
    assert!(tw.contains("client") && tw.contains("60.000s"), "{tw}");
}

#[test]
fn sim_progress_lines_when_stderr_is_not_a_terminal() {
    let o = synack(&SMALL);
    assert!(o.status.success());
    let err = text(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() >= 2, "{err}");
    assert!(lines.iter().all(|l| l.starts_with("synack sim: ")), "{err}");
    assert!(
        lines.last().unwrap().contains("100% delivered") && err.contains("(2/2 streams done)"),
        "{err}"
    );
    // No terminal: no carriage returns or escape sequences.
    assert!(!err.contains('\r') && !err.contains('\x1b'));
}

#[test]
fn sim_json_and_svg() {
    let dir = std::env::temp_dir().join(format!("synack-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("plot.svg");
    let mut args = SMALL.to_vec();
    args.extend(["--json", "-q", "--both-ways", "--cc", "newreno", "--svg"]);
    args.push(svg.to_str().unwrap());
    let o = synack(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["seed"], 3);
    assert_eq!(v["congestion_control"], "newreno");
    assert_eq!(v["both_ways"], true);
    assert_eq!(v["all_intact"], true);
    let totals = v["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 2);
    let cap = v["capacity_bytes_per_sec"].as_u64().unwrap();
    for t in totals {
        assert_eq!(t["delivered"], 200_000);
        assert!(t["goodput_bytes_per_sec"].as_u64().unwrap() <= cap);
        assert!(t["utilisation"].as_f64().unwrap() <= 1.0);
    }
    for c in v["connections"].as_array().unwrap() {
        for f in c["flows"].as_array().unwrap() {
            assert_eq!(f["sent_fnv1a"], f["read_fnv1a"]);
        }
    }
    let picture = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&picture).expect("well-formed SVG");
    // Both directions of both connections are drawn.
    let series = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("series"))
        .count();
    assert_eq!(series, 4);
    assert!(picture.contains("class=\"cwnd\"") && picture.contains("class=\"acked\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sim_stopped_by_its_limit_fails_and_bad_arguments_are_refused() {
    let o = synack(&[
        "sim",
        "-n",
        "1",
        "--bytes",
        "1M",
        "--bandwidth",
        "1M",
        "--limit",
        "0.5",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.contains("STOPPED at the time limit, 0.500s"), "{out}");
    assert!(
        out.contains("MISSING") && out.contains("0/1 intact"),
        "{out}"
    );
    let o = synack(&["sim", "--loss", "2"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("not between 0 and 1"));
    let o = synack(&["sim", "--cc", "bbr"]);
    assert!(!o.status.success() && text(&o.stderr).contains("newreno"));
}
