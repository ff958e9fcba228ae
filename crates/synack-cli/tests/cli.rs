//! The `synack` binary end to end: `demo --list`, the default demo, a named scenario, a pcap
//! file, and the error for an unknown scenario.

use std::process::Command;

fn synack(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run synack");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn list_names_every_scenario() {
    let (ok, out, _) = synack(&["demo", "--list"]);
    assert!(ok);
    for name in [
        "normal",
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
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} missing from:\n{out}"
        );
    }
}

#[test]
fn default_demo_is_the_life_of_a_connection() {
    let (ok, out, err) = synack(&["demo"]);
    assert!(ok, "{err}");
    // Not a terminal: no colour codes.
    assert!(!out.contains('\x1b'));
    for needle in [
        "normal: the life of a connection",
        "CLOSED -> SYN_SENT",
        "LISTEN -> SYN_RCVD",
        "SYN_SENT -> ESTABLISHED",
        "SYN_RCVD -> ESTABLISHED",
        "ESTABLISHED -> FIN_WAIT_1",
        "ESTABLISHED -> CLOSE_WAIT",
        "FIN_WAIT_1 -> FIN_WAIT_2",
        "CLOSE_WAIT -> LAST_ACK",
        "FIN_WAIT_2 -> TIME_WAIT",
        "LAST_ACK -> CLOSED",
        "TIME_WAIT -> CLOSED",
        "2MSL is over",
        "active connection openings",
        "passive connection openings",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    // TIME-WAIT ends 60 s after it began.
    let tw = out
        .lines()
        .find(|l| l.contains("FIN_WAIT_2 -> TIME_WAIT"))
        .unwrap();
    let end = out
        .lines()
        .find(|l| l.contains("TIME_WAIT -> CLOSED"))
        .unwrap();
    let t = |l: &str| -> f64 {
        l.split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('s')
            .parse()
            .unwrap()
    };
    assert!((t(end) - t(tw) - 60.0).abs() < 1e-9, "{tw}\n{end}");
}

#[test]
fn named_scenario_seed_and_pcap() {
    let dir = std::env::temp_dir().join(format!("synack-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("lost-syn.pcap");
    let (ok, out, err) = synack(&[
        "demo",
        "lost-syn",
        "--seed",
        "3",
        "--no-color",
        "--absolute",
        "--verbose",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("seed 3"));
    assert!(out.contains("the network drops it"));
    assert!(out.contains("mss=1460"));
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    assert!(bytes.len() > 24 + 5 * 56);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_scenario_is_an_error() {
    let (ok, _, err) = synack(&["demo", "no-such-thing"]);
    assert!(!ok);
    assert!(err.contains("--list"), "{err}");
}
