//! The fuzz targets on stable Rust, as `.ci/run` runs them: every input of the committed,
//! minimized corpus (`corpus/`, found by cargo-fuzz runs of `/fuzz`), then a bounded number
//! of seeded random inputs. A panic here is an invariant the stack broke; the input that
//! broke it is printed so it can be added to the corpus.

use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// SplitMix64: seeded, so a failure replays with the same seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % max;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn run(target: fn(&[u8]), name: &str, data: &[u8]) {
    if std::panic::catch_unwind(|| target(data)).is_err() {
        panic!("{name}: failing input {data:02x?}");
    }
}

/// MUST-7 / MUST-64: any option bytes at any offset, any lengths, are survived.
#[test]
fn must_7_fuzz_packets_corpus_and_random() {
    let files = corpus("packets");
    assert!(!files.is_empty());
    for (name, data) in &files {
        run(synack_fuzz::packets, name, data);
    }
    let mut rng = Rng(0x5eed_0001);
    for i in 0..400 {
        let data = rng.bytes(2048);
        run(synack_fuzz::packets, &format!("random #{i}"), &data);
    }
}

/// SF-2: whatever arrives, the half-open and accept queues, the connection table and
/// TIME-WAIT stay within their configured bounds, and every state change follows the diagram.
#[test]
fn sf_2_fuzz_segments_corpus_and_random() {
    let files = corpus("segments");
    assert!(!files.is_empty());
    for (name, data) in &files {
        run(synack_fuzz::segments, name, data);
    }
    let mut rng = Rng(0x5eed_0002);
    for i in 0..400 {
        let data = rng.bytes(1024);
        run(synack_fuzz::segments, &format!("random #{i}"), &data);
    }
}

/// The fixture really holds a connection in every state it claims to build, and the
/// transition table accepts the RFC 9293 §3.3.2 diagram's edges and rejects others.
#[test]
fn fixture_reaches_every_state_by_real_exchanges() {
    use synack::State::*;
    let mut f = synack_fuzz::Fixture::new(3);
    f.check().unwrap();
    let states = f.server_states();
    for s in [
        SynSent,
        SynReceived,
        Established,
        FinWait1,
        FinWait2,
        CloseWait,
        Closing,
        LastAck,
        TimeWait,
    ] {
        assert!(states.contains(&s), "missing {s}: have {states:?}");
    }
    assert!(f.server.counters().curr_time_wait >= 2);
    use synack_fuzz::fixture::legal_transition as ok;
    assert!(ok(Listen, SynReceived) && ok(FinWait1, Closing) && ok(TimeWait, Closed));
    assert!(!ok(Established, SynSent) && !ok(TimeWait, Established) && !ok(Closed, Closed));
}
