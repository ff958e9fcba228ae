//! The `synack` binary end to end: `demo --list`, the default demo, a named scenario, a pcap
//! file, SVG and HTML files, the JSON trace, Chinese explanations, the `ss` table (and
//! `--until`), and the error for an unknown scenario.

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

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("synack-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn svg_and_html_files() {
    let dir = temp_dir("pictures");
    let (svg, html) = (dir.join("lost-syn-ack.svg"), dir.join("lost-syn-ack.html"));
    let (ok, out, err) = synack(&[
        "demo",
        "lost-syn-ack",
        "--svg",
        svg.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // The ladder still goes to stdout.
    assert!(out.contains("LISTEN -> SYN_RCVD"));
    let picture = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&picture).unwrap();
    let arrows = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("seg"))
        .count();
    // SYN, lost SYN,ACK, SYN, two SYN,ACKs, ACK, FIN, ACK; ACK, FIN; ACK.
    assert_eq!(arrows, 11);
    assert!(picture.contains("lost-syn-ack: B&#39;s SYN,ACK is lost"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Connections at the end (ss)"));
    assert!(!page.contains("src=") && !page.contains("href="));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_trace_on_stdout() {
    let (ok, out, err) = synack(&["demo", "lost-syn", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is JSON");
    let segs = v["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 8);
    assert_eq!(segs[0]["flags"], "SYN");
    assert_eq!(segs[0]["fate"], "dropped");
    assert_eq!(segs[1]["time_us"], 1_000_000);
    assert_eq!(v["scenario"], "lost-syn");
    // No ladder, no counters text: only the JSON.
    assert!(!out.contains("Tcp:"));
}

#[test]
fn chinese_explanations() {
    let (ok, out, err) = synack(&["demo", "lost-syn-ack", "--lang", "zh"]);
    assert!(ok, "{err}");
    for needle in [
        "B 的 SYN,ACK 丢了",
        "半连接队列",
        "LISTEN -> SYN_RCVD",
        "第三次握手：A 确认 B 的 SYN",
        "2MSL 结束：A 彻底忘掉这个连接",
        "结束时的连接（ss）",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
    let (_, again, _) = synack(&["demo", "lost-syn-ack", "--lang", "zh"]);
    assert_eq!(out, again);
    let (ok, list, _) = synack(&["demo", "--list", "--lang", "zh"]);
    assert!(ok && list.contains("为什么要三次握手"));
    let (ok, _, err) = synack(&["demo", "--lang", "fr"]);
    assert!(!ok && err.contains("zh"), "{err}");
}

#[test]
fn ss_table_after_the_run_and_until() {
    // At the end of the normal life every connection is gone; B's listener stays (LISTEN,
    // nothing waiting to be accepted, backlog 128)...
    let (ok, out, _) = synack(&["demo"]);
    assert!(ok);
    let tail = &out[out.find("Connections at the end (ss):").expect(&out)..];
    assert_eq!(tail.matches("no connections left").count(), 1, "{tail}");
    let listen = tail.lines().find(|l| l.contains("LISTEN")).expect(tail);
    assert!(
        listen.split_whitespace().eq([
            "LISTEN",
            "0",
            "128",
            "0.0.0.0:80",
            "0.0.0.0:*",
            "-",
            "-",
            "-",
            "-"
        ]),
        "{listen}"
    );
    // ...but 30 s in, A still sits in TIME_WAIT.
    let (ok, out, _) = synack(&["demo", "--until", "30"]);
    assert!(ok);
    assert!(
        out.contains("(stopped at 30.000s as --until asked)"),
        "{out}"
    );
    assert!(!out.contains("TIME_WAIT -> CLOSED"));
    let tail = &out[out.find("Connections at the end (ss):").unwrap()..];
    assert!(tail.contains("State") && tail.contains("Recv-Q") && tail.contains("cwnd"));
    let row = tail.lines().find(|l| l.contains("TIME_WAIT")).expect(tail);
    assert!(
        row.contains("198.18.0.1:40000") && row.contains("198.18.0.2:80"),
        "{row}"
    );
}
