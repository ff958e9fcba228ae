//! Scripted faults: "drop the first SYN,ACK from B to A", "hold this SYN for 90 s", and
//! packets injected from nowhere (stale SYNs, spoofed RSTs).

use crate::packet::Summary;
use synack::wire::TcpFlags;
use synack::{Duration, Instant};

/// Which packets a fault looks at, by their TCP flags and payload.
#[derive(Clone, Copy, Debug)]
pub enum Match {
    /// Every packet, readable or not.
    Any,
    /// SYN without ACK (the first handshake segment).
    Syn,
    /// SYN with ACK (the second handshake segment).
    SynAck,
    /// ACK with nothing else: no SYN, FIN, RST, no payload.
    PureAck,
    /// Any segment carrying FIN.
    Fin,
    /// Any segment carrying RST.
    Rst,
    /// Any segment with payload.
    Data,
    /// All of `set` present and none of `clear`.
    Flags { set: TcpFlags, clear: TcpFlags },
    /// Anything a function decides.
    Custom(fn(&Summary) -> bool),
}

impl Match {
    pub fn matches(&self, s: Option<&Summary>) -> bool {
        let Some(s) = s else {
            return matches!(self, Match::Any);
        };
        match self {
            Match::Any => true,
            Match::Syn => s.is_syn(),
            Match::SynAck => s.is_syn_ack(),
            Match::PureAck => s.is_pure_ack(),
            Match::Fin => s.flags.fin(),
            Match::Rst => s.flags.rst(),
            Match::Data => s.payload_len > 0,
            Match::Flags { set, clear } => s.flags.contains(*set) && !s.flags.intersects(*clear),
            Match::Custom(f) => f(s),
        }
    }
}

/// Which of the matching packets a fault acts on (counting from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occurrence {
    /// Only the n-th matching packet.
    Nth(u32),
    /// The first n matching packets.
    FirstN(u32),
    /// The n-th matching packet and every one after it.
    From(u32),
    /// Every matching packet.
    All,
}

impl Occurrence {
    fn hits(self, count: u32) -> bool {
        match self {
            Occurrence::Nth(n) => count == n,
            Occurrence::FirstN(n) => count <= n,
            Occurrence::From(n) => count >= n,
            Occurrence::All => true,
        }
    }
}

/// What happens to a packet a fault acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// It never arrives.
    Drop,
    /// It arrives this much later than the link would deliver it.
    Delay(Duration),
    /// It arrives twice.
    Duplicate,
    /// One random bit is flipped on the way.
    Corrupt,
}

/// A scripted fault: direction, flag predicate, occurrence, action (and optional time window).
#[derive(Clone, Debug)]
pub struct Fault {
    /// Sending host's name, or any.
    pub from: Option<String>,
    /// Receiving host's name, or any.
    pub to: Option<String>,
    pub matcher: Match,
    pub occurrence: Occurrence,
    pub action: Action,
    /// Only packets sent at or after this time are considered.
    pub after: Option<Instant>,
    /// Only packets sent before this time are considered.
    pub before: Option<Instant>,
    /// How many packets matched so far.
    pub seen: u32,
    /// How many packets the action was applied to.
    pub applied: u32,
}

impl Fault {
    /// A fault on packets from `from` to `to` matching `m`: by default it drops all of them.
    pub fn new(from: &str, to: &str, m: Match) -> Fault {
        Fault {
            from: Some(from.to_string()),
            to: Some(to.to_string()),
            matcher: m,
            occurrence: Occurrence::All,
            action: Action::Drop,
            after: None,
            before: None,
            seen: 0,
            applied: 0,
        }
    }
    /// Act on the n-th matching packet only (1-based).
    pub fn nth(mut self, n: u32) -> Self {
        self.occurrence = Occurrence::Nth(n);
        self
    }
    pub fn occurrence(mut self, o: Occurrence) -> Self {
        self.occurrence = o;
        self
    }
    pub fn action(mut self, a: Action) -> Self {
        self.action = a;
        self
    }
    /// Only consider packets sent in `[after, before)`.
    pub fn between(mut self, after: Option<Instant>, before: Option<Instant>) -> Self {
        self.after = after;
        self.before = before;
        self
    }
    /// Any direction.
    pub fn any_direction(mut self) -> Self {
        self.from = None;
        self.to = None;
        self
    }

    /// Drop the n-th packet from `from` to `to` that matches `m`.
    pub fn drop_nth(from: &str, to: &str, m: Match, n: u32) -> Fault {
        Fault::new(from, to, m).nth(n)
    }
    /// Drop every packet from `from` to `to` that matches `m`.
    pub fn drop_all(from: &str, to: &str, m: Match) -> Fault {
        Fault::new(from, to, m)
    }
    /// Hold the n-th matching packet for `d` beyond its normal delay.
    pub fn delay_nth(from: &str, to: &str, m: Match, n: u32, d: Duration) -> Fault {
        Fault::new(from, to, m).nth(n).action(Action::Delay(d))
    }
    /// Deliver the n-th matching packet twice.
    pub fn duplicate_nth(from: &str, to: &str, m: Match, n: u32) -> Fault {
        Fault::new(from, to, m).nth(n).action(Action::Duplicate)
    }
    /// Flip a bit of the n-th matching packet.
    pub fn corrupt_nth(from: &str, to: &str, m: Match, n: u32) -> Fault {
        Fault::new(from, to, m).nth(n).action(Action::Corrupt)
    }

    /// Count the packet if it matches; true if the action applies to it.
    pub fn check(
        &mut self,
        from: Option<&str>,
        to: &str,
        now: Instant,
        s: Option<&Summary>,
    ) -> bool {
        if self.from.as_deref().is_some_and(|f| Some(f) != from)
            || self.to.as_deref().is_some_and(|t| t != to)
            || self.after.is_some_and(|a| now < a)
            || self.before.is_some_and(|b| now >= b)
            || !self.matcher.matches(s)
        {
            return false;
        }
        self.seen += 1;
        let hit = self.occurrence.hits(self.seen);
        self.applied += hit as u32;
        hit
    }
}

/// What the faults decided for one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub drop: bool,
    pub delay: Duration,
    pub duplicate: bool,
    pub corrupt: bool,
}

/// Run a packet past every fault (each counts it); the actions of all that apply combine.
pub fn judge(
    faults: &mut [Fault],
    from: Option<&str>,
    to: &str,
    now: Instant,
    s: Option<&Summary>,
) -> Verdict {
    let mut v = Verdict::default();
    for f in faults.iter_mut() {
        if f.check(from, to, now, s) {
            match f.action {
                Action::Drop => v.drop = true,
                Action::Delay(d) => v.delay += d,
                Action::Duplicate => v.duplicate = true,
                Action::Corrupt => v.corrupt = true,
            }
        }
    }
    v
}

/// A packet from no host, put straight into a host at a given time (stale SYN, spoofed RST).
/// It does not pass through links or faults.
#[derive(Clone, Debug)]
pub struct Injection {
    pub at: Instant,
    /// Receiving host's name.
    pub to: String,
    pub bytes: Vec<u8>,
    /// A few words for the ladder ("stale SYN", "spoofed RST").
    pub label: Option<String>,
}

impl Injection {
    pub fn new(at: Instant, to: &str, bytes: Vec<u8>) -> Injection {
        Injection {
            at,
            to: to.to_string(),
            bytes,
            label: None,
        }
    }
    pub fn label(mut self, l: &str) -> Self {
        self.label = Some(l.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{summarize, RawPacket};

    fn seg(flags: TcpFlags, payload: &[u8]) -> Summary {
        let p = RawPacket::new(
            "10.0.0.1:1000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        )
        .flags(flags)
        .payload(payload)
        .build();
        summarize(&p).unwrap()
    }

    #[test]
    fn flag_predicates() {
        let syn = seg(TcpFlags::SYN, b"");
        let synack = seg(TcpFlags::SYN | TcpFlags::ACK, b"");
        let ack = seg(TcpFlags::ACK, b"");
        let data = seg(TcpFlags::ACK | TcpFlags::PSH, b"x");
        let fin = seg(TcpFlags::ACK | TcpFlags::FIN, b"");
        let rst = seg(TcpFlags::RST, b"");
        let all = [&syn, &synack, &ack, &data, &fin, &rst];
        let which = |m: Match| {
            all.iter()
                .map(|s| m.matches(Some(s)) as u8)
                .collect::<Vec<_>>()
        };
        assert_eq!(which(Match::Syn), [1, 0, 0, 0, 0, 0]);
        assert_eq!(which(Match::SynAck), [0, 1, 0, 0, 0, 0]);
        assert_eq!(which(Match::PureAck), [0, 0, 1, 0, 0, 0]);
        assert_eq!(which(Match::Data), [0, 0, 0, 1, 0, 0]);
        assert_eq!(which(Match::Fin), [0, 0, 0, 0, 1, 0]);
        assert_eq!(which(Match::Rst), [0, 0, 0, 0, 0, 1]);
        assert_eq!(which(Match::Any), [1, 1, 1, 1, 1, 1]);
        assert_eq!(
            which(Match::Flags {
                set: TcpFlags::ACK,
                clear: TcpFlags::SYN
            }),
            [0, 0, 1, 1, 1, 0]
        );
        assert_eq!(which(Match::Custom(|s| s.flags.psh())), [0, 0, 0, 1, 0, 0]);
        assert!(Match::Any.matches(None));
        assert!(!Match::Syn.matches(None));
    }

    #[test]
    fn nth_counts_only_matching_packets_in_that_direction() {
        let syn = seg(TcpFlags::SYN, b"");
        let ack = seg(TcpFlags::ACK, b"");
        let mut f = Fault::drop_nth("A", "B", Match::Syn, 2);
        let t = Instant::ZERO;
        assert!(!f.check(Some("A"), "B", t, Some(&syn))); // 1st SYN
        assert!(!f.check(Some("A"), "B", t, Some(&ack))); // not a SYN
        assert!(!f.check(Some("B"), "A", t, Some(&syn))); // wrong direction
        assert!(f.check(Some("A"), "B", t, Some(&syn))); // 2nd SYN
        assert!(!f.check(Some("A"), "B", t, Some(&syn))); // 3rd
        assert_eq!((f.seen, f.applied), (3, 1));
    }

    #[test]
    fn occurrences_and_time_window() {
        let syn = seg(TcpFlags::SYN, b"");
        let mut first2 = Fault::new("A", "B", Match::Syn).occurrence(Occurrence::FirstN(2));
        let mut from3 = Fault::new("A", "B", Match::Syn).occurrence(Occurrence::From(3));
        let hits = |f: &mut Fault| {
            (0..5)
                .map(|_| f.check(Some("A"), "B", Instant::ZERO, Some(&syn)) as u8)
                .collect::<Vec<_>>()
        };
        assert_eq!(hits(&mut first2), [1, 1, 0, 0, 0]);
        assert_eq!(hits(&mut from3), [0, 0, 1, 1, 1]);
        let mut late = Fault::drop_all("A", "B", Match::Any)
            .between(Some(Instant::from_secs(1)), Some(Instant::from_secs(2)));
        assert!(!late.check(Some("A"), "B", Instant::from_millis(999), Some(&syn)));
        assert!(late.check(Some("A"), "B", Instant::from_secs(1), Some(&syn)));
        assert!(!late.check(Some("A"), "B", Instant::from_secs(2), Some(&syn)));
    }

    #[test]
    fn actions_combine() {
        let syn = seg(TcpFlags::SYN, b"");
        let mut faults = vec![
            Fault::delay_nth("A", "B", Match::Syn, 1, Duration::from_secs(90)),
            Fault::duplicate_nth("A", "B", Match::Syn, 1),
            Fault::corrupt_nth("A", "B", Match::Syn, 2),
        ];
        let v = judge(&mut faults, Some("A"), "B", Instant::ZERO, Some(&syn));
        assert_eq!(
            v,
            Verdict {
                drop: false,
                delay: Duration::from_secs(90),
                duplicate: true,
                corrupt: false
            }
        );
        let v = judge(&mut faults, Some("A"), "B", Instant::ZERO, Some(&syn));
        assert!(v.corrupt && !v.duplicate && v.delay == Duration::ZERO);
    }
}
