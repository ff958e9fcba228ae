//! Golden ladders: every demo scenario, rendered as `synack demo` draws it (no colour), is
//! compared with `tests/golden/<name>.txt`. Run with `UPDATE_GOLDEN=1` to rewrite the files
//! after an intended change, and review the diff. Also checks that runs are deterministic.

use synack_sim::ladder::{render, LadderOptions};
use synack_sim::scenarios;

fn demo_options() -> LadderOptions {
    LadderOptions {
        payload: true,
        explain: true,
        ..LadderOptions::default()
    }
}

fn ladder(name: &str, seed: u64) -> String {
    let s = scenarios::find(name).unwrap();
    let (w, _) = s.run(seed);
    render(w.record(), &demo_options())
}

#[test]
fn golden_ladders() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for s in scenarios::all() {
        let got = ladder(s.name, 1);
        let path = dir.join(format!("{}.txt", s.name));
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            stale.push(format!(
                "{}: first difference at line {}:\n  got:  {}\n  want: {}",
                s.name,
                line + 1,
                got.lines().nth(line).unwrap_or("<end>"),
                want.lines().nth(line).unwrap_or("<end>")
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "ladders differ from tests/golden (UPDATE_GOLDEN=1 to accept):\n{}",
        stale.join("\n")
    );
}

#[test]
fn same_seed_same_run() {
    for s in scenarios::all() {
        let (a, _) = s.run(7);
        let (b, _) = s.run(7);
        assert_eq!(a.record().trace(), b.record().trace(), "{}", s.name);
    }
    // Another seed changes the ISNs (absolute numbers) but not the story.
    let (a, _) = scenarios::find("normal").unwrap().run(1);
    let (b, _) = scenarios::find("normal").unwrap().run(2);
    assert_ne!(a.record().trace(), b.record().trace());
    assert_eq!(a.record().state_path("A"), b.record().state_path("A"));
    assert_eq!(ladder("normal", 1), ladder("normal", 2));
}
