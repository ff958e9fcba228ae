//! One-line explanations for the rows of a ladder diagram: what a segment, a state change
//! or an application call means, in the words of the classic handshake explanations.

use crate::record::{DropReason, Fate};
use crate::time_util::short;
use synack::{Cause, State, TimerKind};

/// What the ladder knows about a segment when it explains it.
pub struct SegmentFacts<'a> {
    pub sender: &'a str,
    pub receiver: &'a str,
    pub flags: synack::wire::TcpFlags,
    pub payload_len: usize,
    /// Same sequence number, flags and length as an earlier segment in this direction.
    pub retransmission: bool,
    /// A pure ACK or data segment acknowledging the peer's SYN for the first time.
    pub acks_syn: bool,
    /// Acknowledges the peer's FIN.
    pub acks_fin: bool,
    /// Advertises a zero window.
    pub zero_window: bool,
    /// The injection label, for packets from no host.
    pub injected: Option<&'a str>,
}

/// What a segment is for.
pub fn segment(f: &SegmentFacts<'_>) -> String {
    let (s, r) = (f.sender, f.receiver);
    let fl = f.flags;
    if let Some(label) = f.injected {
        let what = if label.is_empty() { "a segment" } else { label };
        return format!("{what} from nowhere reaches {r}");
    }
    if fl.rst() {
        return format!("{s} resets: RST tells {r} to drop the connection");
    }
    if fl.syn() && !fl.ack() {
        return if f.retransmission {
            format!("{s} resends its SYN: no answer yet (timeout doubles)")
        } else {
            format!("{s} asks to open: SYN carries its initial sequence number")
        };
    }
    if fl.syn() {
        return if f.retransmission {
            format!("{s} resends its SYN,ACK: the handshake is not complete")
        } else {
            format!("{s} acks {r}'s SYN (ISN+1) and sends its own ISN")
        };
    }
    if fl.fin() {
        let data = if f.payload_len > 0 {
            format!("{} bytes and ", f.payload_len)
        } else {
            String::new()
        };
        return if f.retransmission {
            format!("{s} resends {data}its FIN: no ACK for it yet")
        } else if f.acks_fin {
            format!("{s} acks {r}'s FIN and sends {data}its own FIN")
        } else {
            format!("{s} has no more to send: {data}FIN (takes one seq number)")
        };
    }
    if f.payload_len > 0 {
        return if f.retransmission {
            format!("{s} retransmits {} bytes", f.payload_len)
        } else if f.acks_syn {
            format!(
                "{s} sends {} bytes on the third handshake segment",
                f.payload_len
            )
        } else {
            format!("{s} sends {} bytes", f.payload_len)
        };
    }
    if f.acks_syn {
        return format!("third handshake segment: {s} acks {r}'s SYN (ISN+1)");
    }
    if f.acks_fin {
        return format!("{s} acks {r}'s FIN (FIN seq + 1)");
    }
    if f.zero_window {
        return format!("{s} acks, but its window is zero: {r} must wait");
    }
    format!("{s} acknowledges what it received")
}

/// What happened to a copy of a segment on the way, or `None` for a plain delivery.
pub fn fate(receiver: &str, f: &Fate) -> Option<String> {
    match f {
        Fate::Dropped(DropReason::Loss) => Some("lost on the way".to_string()),
        Fate::Dropped(DropReason::Fault) => Some("the network drops it".to_string()),
        Fate::Dropped(DropReason::Mtu) => Some("too big for the path MTU: dropped".to_string()),
        Fate::Dropped(DropReason::QueueFull) => Some("router queue full: dropped".to_string()),
        Fate::Dropped(DropReason::NoRoute) => Some("no host has that address".to_string()),
        Fate::InFlight { .. } => Some("still in flight when the run ended".to_string()),
        Fate::Delivered {
            copy,
            corrupted,
            held,
            rejected,
            ..
        } => {
            let mut parts = Vec::new();
            if *copy > 0 {
                parts.push("the network duplicates it".to_string());
            }
            if !held.is_zero() {
                parts.push(format!("the network holds it for {}", short(*held)));
            }
            if *corrupted {
                parts.push("a bit flips on the way".to_string());
            }
            if let Some(r) = rejected {
                parts.push(rejection(receiver, r));
            }
            (!parts.is_empty()).then(|| parts.join("; "))
        }
    }
}

/// Why a receiver dropped a segment, from the names of the drop counters that rose.
pub fn rejection(receiver: &str, why: &str) -> String {
    match why {
        "no socket" => format!("{receiver} has no connection for it"),
        "out of window" => {
            format!("{receiver} finds it old or out of window: it answers with an ACK")
        }
        "bad TCP checksum" => format!("{receiver}'s checksum check catches it: discarded"),
        _ => format!("{receiver} discards it: {why}"),
    }
}

/// What a state change means for host `h`.
pub fn state(h: &str, from: State, to: State, cause: Cause) -> String {
    use State::*;
    match (from, to, cause) {
        (Closed, SynSent, _) => format!("{h} sent its SYN and waits for the answer"),
        (Listen, SynReceived, _) => format!("{h} got a SYN: a half-open (SYN queue) entry"),
        (SynSent, SynReceived, _) => format!("the SYNs crossed: {h} is opening simultaneously"),
        (SynSent, Established, _) => format!("{h} got the SYN,ACK: its side is open"),
        (SynReceived, Established, _) => {
            format!("{h} got the ACK of its SYN: connection established")
        }
        (SynReceived, Listen, _) => format!("{h} drops the half-open entry, back to LISTEN"),
        (Established, FinWait1, _) => format!("{h} closed its sending side: FIN sent"),
        (Established, CloseWait, _) => {
            format!("{h} got a FIN: the peer is done, {h} may still send")
        }
        (FinWait1, FinWait2, _) => format!("{h}'s FIN is acked: now waits for the peer's FIN"),
        (FinWait1, Closing, _) => format!("the FINs crossed: {h} waits for the ACK of its FIN"),
        (FinWait1, TimeWait, _) => format!("{h} got FIN and ACK together: TIME_WAIT"),
        (FinWait2, TimeWait, _) | (Closing, TimeWait, _) => {
            format!("{h} waits 2MSL in case its last ACK is lost")
        }
        (CloseWait, LastAck, _) => format!("{h} is done too: FIN sent, waits for its ACK"),
        (LastAck, Closed, Cause::RecvAck) => format!("{h}'s FIN is acked: connection gone"),
        (TimeWait, Closed, Cause::Timer(TimerKind::TimeWait)) => {
            format!("2MSL is over: {h} forgets the connection")
        }
        (FinWait2, Closed, Cause::Timer(TimerKind::FinWait2)) => {
            format!("the peer never sent FIN: {h} gives up (FIN-WAIT-2 timeout)")
        }
        (SynSent, Closed, Cause::RetriesExhausted) => {
            "no SYN,ACK after all retries: connect() fails (timed out)".to_string()
        }
        (SynReceived, Closed, Cause::RetriesExhausted) => {
            format!("no ACK after all SYN,ACK retries: {h} drops the request")
        }
        (_, Closed, Cause::RetriesExhausted) => {
            format!("retransmissions ran out: {h} gives up")
        }
        (SynSent, Closed, Cause::RecvRst) => "RST to its SYN: connection refused".to_string(),
        (_, Closed, Cause::RecvRst) => format!("{h} accepts the RST: connection reset"),
        (_, Closed, Cause::Abort) => format!("{h} aborted: RST sent, state discarded"),
        (_, Closed, Cause::Close) => format!("{h} closed before the connection was set up"),
        _ => format!("{h}: {} -> {} ({cause})", from, to),
    }
}

/// What an application call (as the script notes it) means.
pub fn app(h: &str, text: &str) -> String {
    if let Some(rest) = text.strip_prefix("listen(:") {
        let port = rest.trim_end_matches(')');
        return format!("{h} listens on port {port} (LISTEN)");
    }
    if text.starts_with("connect(") {
        return format!("{h} calls connect(): active open");
    }
    if text.starts_with("accept()") {
        return format!("{h} takes the connection from the accept queue");
    }
    if let Some(rest) = text.strip_prefix("send(") {
        return format!("{h} writes {}", rest.trim_end_matches(')'));
    }
    if text == "recv() = EOF" {
        return format!("{h} reads end of stream: the peer's FIN");
    }
    if let Some(rest) = text.strip_prefix("recv() = ") {
        return format!("{h} reads {rest}");
    }
    match text {
        "shutdown()" => format!("{h} shuts down writing; it can still receive"),
        "close()" => format!("{h} closes: it will send no more"),
        "abort()" => format!("{h} aborts the connection"),
        _ => {
            if let Some(e) = text.strip_prefix("error: ") {
                format!("{h}'s application is told: {e}")
            } else if let Some(r) = text.strip_prefix("closed: ") {
                format!("{h}'s application learns the connection ended: {r}")
            } else {
                String::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synack::wire::TcpFlags;

    fn facts(flags: TcpFlags) -> SegmentFacts<'static> {
        SegmentFacts {
            sender: "A",
            receiver: "B",
            flags,
            payload_len: 0,
            retransmission: false,
            acks_syn: false,
            acks_fin: false,
            zero_window: false,
            injected: None,
        }
    }

    #[test]
    fn handshake_words() {
        assert!(segment(&facts(TcpFlags::SYN)).contains("initial sequence number"));
        let mut f = facts(TcpFlags::SYN);
        f.retransmission = true;
        assert!(segment(&f).contains("resends its SYN"));
        assert!(segment(&facts(TcpFlags::SYN | TcpFlags::ACK)).contains("own ISN"));
        let mut f = facts(TcpFlags::ACK);
        f.acks_syn = true;
        assert!(segment(&f).starts_with("third handshake segment"));
        f.payload_len = 5;
        assert!(segment(&f).contains("5 bytes on the third"));
    }

    #[test]
    fn state_words() {
        assert_eq!(
            state(
                "A",
                State::TimeWait,
                State::Closed,
                Cause::Timer(TimerKind::TimeWait)
            ),
            "2MSL is over: A forgets the connection"
        );
        assert!(
            state("B", State::Listen, State::SynReceived, Cause::RecvSyn).contains("half-open")
        );
        assert_eq!(
            state("B", State::Established, State::Listen, Cause::RecvRst),
            "B: ESTABLISHED -> LISTEN (rcv RST)"
        );
    }

    #[test]
    fn fate_words() {
        assert_eq!(
            fate("B", &Fate::Dropped(DropReason::Loss)).as_deref(),
            Some("lost on the way")
        );
        let f = Fate::Delivered {
            at: synack::Instant::ZERO,
            copy: 0,
            corrupted: true,
            held: synack::Duration::ZERO,
            rejected: Some("bad TCP checksum".into()),
        };
        assert_eq!(
            fate("B", &f).as_deref(),
            Some("a bit flips on the way; B's checksum check catches it: discarded")
        );
    }
}
