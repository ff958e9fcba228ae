//! One-line explanations for the rows of a ladder diagram: what a segment, a state change
//! or an application call means, in the words of the classic handshake explanations.

use crate::i18n::Lang;
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
    /// A pure ACK of the peer's FIN, acknowledged before: the peer resent it.
    pub acks_fin_again: bool,
    /// A pure ACK whose sequence number the peer has acknowledged already: a window probe.
    pub probe: bool,
    /// Advertises a zero window.
    pub zero_window: bool,
    /// The injection label, for packets from no host.
    pub injected: Option<&'a str>,
}

/// What a segment is for.
pub fn segment(f: &SegmentFacts<'_>, lang: Lang) -> String {
    match lang {
        Lang::En => segment_en(f),
        Lang::Zh => segment_zh(f),
    }
}

fn segment_en(f: &SegmentFacts<'_>) -> String {
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
    if f.acks_fin_again {
        return format!("{s} acks {r}'s resent FIN again (FIN seq + 1)");
    }
    if f.probe {
        return format!("{s} probes the window: an old sequence number makes {r} answer");
    }
    if f.zero_window {
        return format!("{s} acks, but its window is zero: {r} must wait");
    }
    format!("{s} acknowledges what it received")
}

/// A segment the network held back reaches its receiver at last.
pub fn late_arrival(what: &str, receiver: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("the held {what} finally arrives at {receiver}"),
        Lang::Zh => format!("滞留的 {what} 终于到达 {receiver}"),
    }
}

/// What happened to a copy of a segment on the way, or `None` for a plain delivery.
pub fn fate(receiver: &str, f: &Fate, lang: Lang) -> Option<String> {
    fate_parts(receiver, f, lang, true)
}

/// Like [`fate`] without the receiver's rejection: what the network did to the copy (the
/// picture tells the rejection where the copy arrives).
pub fn on_the_way(f: &Fate, lang: Lang) -> Option<String> {
    fate_parts("", f, lang, false)
}

fn fate_parts(receiver: &str, f: &Fate, lang: Lang, rejected_too: bool) -> Option<String> {
    let l = |en: &str, zh: &str| lang.pick(en, zh).to_string();
    match f {
        Fate::Dropped(DropReason::Loss) => Some(l("lost on the way", "途中丢失")),
        Fate::Dropped(DropReason::Fault) => Some(l("the network drops it", "被网络丢弃")),
        Fate::Dropped(DropReason::Mtu) => Some(l(
            "too big for the path MTU: dropped",
            "超过路径 MTU：被丢弃",
        )),
        Fate::Dropped(DropReason::QueueFull) => {
            Some(l("router queue full: dropped", "路由器队列已满：被丢弃"))
        }
        Fate::Dropped(DropReason::NoRoute) => {
            Some(l("no host has that address", "没有哪台主机拥有这个地址"))
        }
        Fate::InFlight { .. } => Some(l(
            "still in flight when the run ended",
            "运行结束时它还在路上",
        )),
        Fate::Delivered {
            copy,
            corrupted,
            held,
            rejected,
            ..
        } => {
            let mut parts = Vec::new();
            if *copy > 0 {
                parts.push(l("the network duplicates it", "网络复制出了这一份"));
            }
            if !held.is_zero() {
                parts.push(match lang {
                    Lang::En => format!("the network holds it for {}", short(*held)),
                    Lang::Zh => format!("它在网络中滞留了 {}", short(*held)),
                });
            }
            if *corrupted {
                parts.push(l("a bit flips on the way", "途中有一个比特被翻转"));
            }
            if let Some(r) = rejected.as_ref().filter(|_| rejected_too) {
                parts.push(rejection(receiver, r, lang));
            }
            (!parts.is_empty()).then(|| parts.join(lang.pick("; ", "；")))
        }
    }
}

/// Why a receiver dropped a segment, from the names of the drop counters that rose.
pub fn rejection(receiver: &str, why: &str, lang: Lang) -> String {
    let r = receiver;
    match (lang, why) {
        (Lang::En, "no socket") => format!("{r} has no connection for it"),
        (Lang::En, "out of window") => {
            format!("{r} finds it old or out of window: it answers with an ACK")
        }
        (Lang::En, "bad TCP checksum") => format!("{r}'s checksum check catches it: discarded"),
        (Lang::En, _) => format!("{r} discards it: {why}"),
        (Lang::Zh, "no socket") => format!("{r} 没有与它对应的连接"),
        (Lang::Zh, "out of window") => {
            format!("{r} 认为它是旧报文或落在窗口之外：回一个 ACK")
        }
        (Lang::Zh, "bad TCP checksum") => format!("{r} 的校验和检查发现了错误：丢弃"),
        (Lang::Zh, _) => {
            let reasons: Vec<&str> = why.split(", ").map(drop_reason_zh).collect();
            format!("{r} 丢弃它：{}", reasons.join("、"))
        }
    }
}

/// The Chinese of a drop counter's name (`DropReason::as_str`, `ParseError::as_str`).
fn drop_reason_zh(why: &str) -> &str {
    match why {
        "not addressed to us" => "不是发给本机的",
        "invalid source address" => "源地址无效",
        "no socket" => "没有对应的连接",
        "out of window" => "落在窗口之外",
        "unacceptable ACK" => "ACK 号不可接受",
        "invalid RST" => "RST 无效",
        "ACK bit off" => "没有置 ACK 位",
        "SYN queue full" => "半连接队列已满",
        "accept queue full" => "全连接队列已满",
        "connection table full" => "连接表已满",
        "timestamp missing" => "缺少时间戳",
        "PAWS" => "PAWS 判定为旧报文",
        "reassembly queue full" => "乱序重组队列已满",
        "ignored in state" => "当前状态下不处理",
        "truncated" => "报文被截断",
        "bad TCP checksum" => "TCP 校验和错误",
        "bad IPv4 header checksum" => "IPv4 首部校验和错误",
        other => other,
    }
}

/// What a state change means for host `h`.
pub fn state(h: &str, from: State, to: State, cause: Cause, lang: Lang) -> String {
    match lang {
        Lang::En => state_en(h, from, to, cause),
        Lang::Zh => state_zh(h, from, to, cause),
    }
}

fn state_en(h: &str, from: State, to: State, cause: Cause) -> String {
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
        (TimeWait, Closed, Cause::Reused) => {
            format!("{h} connects again on this 4-tuple: TIME-WAIT is taken over (tcp_tw_reuse)")
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
pub fn app(h: &str, text: &str, lang: Lang) -> String {
    match lang {
        Lang::En => app_en(h, text),
        Lang::Zh => app_zh(h, text),
    }
}

fn app_en(h: &str, text: &str) -> String {
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

fn segment_zh(f: &SegmentFacts<'_>) -> String {
    let (s, r) = (f.sender, f.receiver);
    let fl = f.flags;
    if let Some(label) = f.injected {
        return if label.is_empty() {
            format!("一个不属于任何主机的报文段到达 {r}")
        } else {
            format!("{label}（凭空注入）到达 {r}")
        };
    }
    if fl.rst() {
        return format!("{s} 发出 RST：要求 {r} 丢弃这个连接");
    }
    if fl.syn() && !fl.ack() {
        return if f.retransmission {
            format!("{s} 重传 SYN：还没有收到回应（超时时间翻倍）")
        } else {
            format!("{s} 请求建立连接：SYN 携带它的初始序列号（ISN）")
        };
    }
    if fl.syn() {
        return if f.retransmission {
            format!("{s} 重传 SYN,ACK：握手还没有完成")
        } else {
            format!("{s} 确认 {r} 的 SYN（ack = ISN+1），同时发出自己的 ISN")
        };
    }
    let n = f.payload_len;
    if fl.fin() {
        let data = if n > 0 {
            format!("{n} 字节数据和 ")
        } else {
            String::new()
        };
        return if f.retransmission {
            format!("{s} 重传 {data}FIN：还没有收到对它的确认")
        } else if f.acks_fin {
            format!("{s} 确认 {r} 的 FIN，同时发出 {data}自己的 FIN")
        } else {
            format!("{s} 不再发送数据：发出 {data}FIN（FIN 占一个序列号）")
        };
    }
    if n > 0 {
        return if f.retransmission {
            format!("{s} 重传 {n} 字节数据")
        } else if f.acks_syn {
            format!("{s} 在第三次握手的报文段上捎带 {n} 字节数据")
        } else {
            format!("{s} 发送 {n} 字节数据")
        };
    }
    if f.acks_syn {
        return format!("第三次握手：{s} 确认 {r} 的 SYN（ISN+1）");
    }
    if f.acks_fin {
        return format!("{s} 确认 {r} 的 FIN（FIN 的序列号 + 1）");
    }
    if f.acks_fin_again {
        return format!("{s} 再次确认 {r} 重传的 FIN（FIN 的序列号 + 1）");
    }
    if f.probe {
        return format!("{s} 探测窗口：用一个旧的序列号促使 {r} 回复");
    }
    if f.zero_window {
        return format!("{s} 发出确认，但窗口为零：{r} 只能等待");
    }
    format!("{s} 确认已经收到的内容")
}

fn state_zh(h: &str, from: State, to: State, cause: Cause) -> String {
    use State::*;
    match (from, to, cause) {
        (Closed, SynSent, _) => format!("{h} 已发出 SYN，等待对方回应"),
        (Listen, SynReceived, _) => format!("{h} 收到 SYN：半连接队列（SYN 队列）里多了一项"),
        (SynSent, SynReceived, _) => format!("两个 SYN 交叉而过：{h} 进入同时打开"),
        (SynSent, Established, _) => format!("{h} 收到 SYN,ACK：它这一端的连接已建立"),
        (SynReceived, Established, _) => {
            format!("{h} 收到对自己 SYN 的确认：连接建立")
        }
        (SynReceived, Listen, _) => format!("{h} 丢弃这个半连接，回到 LISTEN"),
        (Established, FinWait1, _) => format!("{h} 关闭了自己的发送方向：已发出 FIN"),
        (Established, CloseWait, _) => {
            format!("{h} 收到 FIN：对方不再发送，{h} 仍然可以发送")
        }
        (FinWait1, FinWait2, _) => format!("{h} 的 FIN 已被确认：现在等待对方的 FIN"),
        (FinWait1, Closing, _) => format!("两个 FIN 交叉而过：{h} 等待对自己 FIN 的确认"),
        (FinWait1, TimeWait, _) => format!("{h} 同时收到 FIN 和 ACK：直接进入 TIME_WAIT"),
        (FinWait2, TimeWait, _) | (Closing, TimeWait, _) => {
            format!("{h} 等待 2MSL，以防自己最后的 ACK 丢失")
        }
        (CloseWait, LastAck, _) => format!("{h} 也说完了：发出 FIN，等待对它的确认"),
        (LastAck, Closed, Cause::RecvAck) => format!("{h} 的 FIN 已被确认：连接结束"),
        (TimeWait, Closed, Cause::Timer(TimerKind::TimeWait)) => {
            format!("2MSL 结束：{h} 彻底忘掉这个连接")
        }
        (FinWait2, Closed, Cause::Timer(TimerKind::FinWait2)) => {
            format!("对方始终没有发 FIN：{h} 不再等待（FIN-WAIT-2 超时）")
        }
        (TimeWait, Closed, Cause::Reused) => {
            format!("{h} 在同一个四元组上再次 connect：接管 TIME-WAIT（tcp_tw_reuse）")
        }
        (SynSent, Closed, Cause::RetriesExhausted) => {
            "重试全部用完仍没有 SYN,ACK：connect() 失败（超时）".to_string()
        }
        (SynReceived, Closed, Cause::RetriesExhausted) => {
            format!("SYN,ACK 重试全部用完仍没有 ACK：{h} 丢弃这个连接请求")
        }
        (_, Closed, Cause::RetriesExhausted) => format!("重传次数用完：{h} 放弃这个连接"),
        (SynSent, Closed, Cause::RecvRst) => "SYN 换来了 RST：连接被拒绝".to_string(),
        (_, Closed, Cause::RecvRst) => format!("{h} 接受 RST：连接被重置"),
        (_, Closed, Cause::Abort) => format!("{h} 中止连接：发出 RST，丢弃连接状态"),
        (_, Closed, Cause::Close) => format!("{h} 在连接建立之前就关闭了"),
        _ => format!("{h}：{from} -> {to}（{}）", cause_zh(cause)),
    }
}

/// The Chinese of a state change's cause.
pub fn cause_zh(c: Cause) -> String {
    match c {
        Cause::Connect => "connect()".to_string(),
        Cause::Close => "close()".to_string(),
        Cause::Abort => "abort()".to_string(),
        Cause::RecvSyn => "收到 SYN".to_string(),
        Cause::RecvSynAck => "收到 SYN,ACK".to_string(),
        Cause::RecvAck => "收到 ACK".to_string(),
        Cause::RecvFin => "收到 FIN".to_string(),
        Cause::RecvRst => "收到 RST".to_string(),
        Cause::Timer(TimerKind::Retransmit) => "重传定时器".to_string(),
        Cause::Timer(TimerKind::Persist) => "坚持定时器".to_string(),
        Cause::Timer(TimerKind::DelayedAck) => "延迟确认定时器".to_string(),
        Cause::Timer(TimerKind::TimeWait) => "2MSL 定时器".to_string(),
        Cause::Timer(TimerKind::FinWait2) => "FIN-WAIT-2 定时器".to_string(),
        Cause::Timer(TimerKind::UserTimeout) => "用户超时".to_string(),
        Cause::Timer(TimerKind::KeepAlive) => "保活定时器".to_string(),
        Cause::RetriesExhausted => "重试用完".to_string(),
        Cause::TimeWaitFull => "TIME-WAIT 表已满".to_string(),
        Cause::RecvIcmp => "收到 ICMP 差错报文".to_string(),
        Cause::Reused => "connect() 复用了 TIME-WAIT".to_string(),
    }
}

/// `5 bytes` -> `5 字节`; anything else unchanged.
fn bytes_zh(s: &str) -> String {
    match s.strip_suffix(" bytes") {
        Some(n) => format!("{n} 字节"),
        None => s.to_string(),
    }
}

fn close_reason_zh(r: &str) -> &str {
    match r {
        "normal" => "正常关闭",
        "reset" => "连接被重置",
        "refused" => "连接被拒绝",
        "timed out" => "连接超时",
        "aborted" => "连接已中止",
        "unreachable" => "目的不可达",
        other => other,
    }
}

fn app_zh(h: &str, text: &str) -> String {
    if let Some(rest) = text.strip_prefix("listen(:") {
        let port = rest.trim_end_matches(')');
        return format!("{h} 在 {port} 端口上监听（LISTEN）");
    }
    if text.starts_with("connect(") {
        return format!("{h} 调用 connect()：主动打开");
    }
    if text.starts_with("accept()") {
        return format!("{h} 从全连接队列（accept 队列）取出这个连接");
    }
    if let Some(rest) = text.strip_prefix("send(") {
        return format!("{h} 写入 {}", bytes_zh(rest.trim_end_matches(')')));
    }
    if text == "recv() = EOF" {
        return format!("{h} 读到流的结尾：对方的 FIN");
    }
    if let Some(rest) = text.strip_prefix("recv() = ") {
        return format!("{h} 读到 {}", bytes_zh(rest));
    }
    match text {
        "shutdown()" => format!("{h} 关闭写方向（shutdown）；它仍然可以接收"),
        "close()" => format!("{h} 调用 close()：它不再发送数据"),
        "abort()" => format!("{h} 中止这个连接"),
        "close listener" => format!("{h} 关闭监听套接字"),
        _ => {
            if let Some(e) = text.strip_prefix("error: ") {
                format!("{h} 的应用程序得知出错：{e}")
            } else if let Some(r) = text.strip_prefix("closed: ") {
                format!("{h} 的应用程序得知连接已结束：{}", close_reason_zh(r))
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
            acks_fin_again: false,
            probe: false,
            zero_window: false,
            injected: None,
        }
    }

    #[test]
    fn handshake_words() {
        assert!(segment(&facts(TcpFlags::SYN), Lang::En).contains("initial sequence number"));
        let mut f = facts(TcpFlags::SYN);
        f.retransmission = true;
        assert!(segment(&f, Lang::En).contains("resends its SYN"));
        assert!(segment(&facts(TcpFlags::SYN | TcpFlags::ACK), Lang::En).contains("own ISN"));
        let mut f = facts(TcpFlags::ACK);
        f.acks_syn = true;
        assert!(segment(&f, Lang::En).starts_with("third handshake segment"));
        f.payload_len = 5;
        assert!(segment(&f, Lang::En).contains("5 bytes on the third"));
    }

    #[test]
    fn state_words() {
        assert_eq!(
            state(
                "A",
                State::TimeWait,
                State::Closed,
                Cause::Timer(TimerKind::TimeWait),
                Lang::En
            ),
            "2MSL is over: A forgets the connection"
        );
        assert!(state(
            "B",
            State::Listen,
            State::SynReceived,
            Cause::RecvSyn,
            Lang::En
        )
        .contains("half-open"));
        assert_eq!(
            state(
                "B",
                State::Established,
                State::Listen,
                Cause::RecvRst,
                Lang::En
            ),
            "B: ESTABLISHED -> LISTEN (rcv RST)"
        );
    }

    #[test]
    fn fate_words() {
        assert_eq!(
            fate("B", &Fate::Dropped(DropReason::Loss), Lang::En).as_deref(),
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
            fate("B", &f, Lang::En).as_deref(),
            Some("a bit flips on the way; B's checksum check catches it: discarded")
        );
    }

    #[test]
    fn chinese_words() {
        let mut f = facts(TcpFlags::ACK);
        f.acks_syn = true;
        assert_eq!(
            segment(&f, Lang::Zh),
            "第三次握手：A 确认 B 的 SYN（ISN+1）"
        );
        assert_eq!(
            state(
                "A",
                State::FinWait2,
                State::TimeWait,
                Cause::RecvFin,
                Lang::Zh
            ),
            "A 等待 2MSL，以防自己最后的 ACK 丢失"
        );
        assert_eq!(app("B", "recv() = 5 bytes", Lang::Zh), "B 读到 5 字节");
        assert_eq!(
            rejection("A", "out of window", Lang::Zh),
            "A 认为它是旧报文或落在窗口之外：回一个 ACK"
        );
        assert_eq!(
            rejection("A", "PAWS, ignored in state", Lang::Zh),
            "A 丢弃它：PAWS 判定为旧报文、当前状态下不处理"
        );
        // State names stay as netstat writes them.
        assert!(state(
            "B",
            State::Established,
            State::Listen,
            Cause::RecvRst,
            Lang::Zh
        )
        .contains("ESTABLISHED -> LISTEN"));
    }

    #[test]
    fn probes_and_repeated_fin_acks() {
        let mut f = facts(TcpFlags::ACK);
        f.probe = true;
        assert!(segment(&f, Lang::En).starts_with("A probes the window"));
        assert!(segment(&f, Lang::Zh).starts_with("A 探测窗口"));
        let mut f = facts(TcpFlags::ACK);
        f.acks_fin_again = true;
        assert_eq!(
            segment(&f, Lang::En),
            "A acks B's resent FIN again (FIN seq + 1)"
        );
    }

    #[test]
    fn on_the_way_leaves_the_rejection_to_the_receiver() {
        let f = Fate::Delivered {
            at: synack::Instant::ZERO,
            copy: 1,
            corrupted: false,
            held: synack::Duration::ZERO,
            rejected: Some("out of window".into()),
        };
        assert_eq!(
            on_the_way(&f, Lang::En).as_deref(),
            Some("the network duplicates it")
        );
        assert_eq!(
            on_the_way(&f, Lang::Zh).as_deref(),
            Some("网络复制出了这一份")
        );
    }
}
